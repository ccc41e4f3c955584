/* What client_golang's process collector reports about the running process (process_*), read
 * from /proc/self and getrlimit: the agent's and the server's /metrics both serve it. */
#include "base/base.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

double odin_open_fds_listed(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        return 0;
    }
    double n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - 1; /* the directory stream itself */
}

/* Since Linux 6.2 stat() of /proc/<pid>/fd reports the number of open descriptors as its size:
 * one syscall instead of listing the directory, whose cost grows with the descriptors kept open
 * (the agent keeps about 130 for its reads). Older kernels report 0 and the listing is used. */
double odin_open_fds(void)
{
    struct stat st;
    if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0) {
        return (double)st.st_size;
    }
    return odin_open_fds_listed();
}

/* client_golang prints an unlimited rlimit as the uint64 maximum. */
static double rlimit_value(int resource)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0) {
        return -1;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1.8446744073709552e19 : (double)rl.rlim_cur;
}

void odin_process_stats_get(odin_process_stats *out, odin_str statm)
{
    out->cpu_seconds = odin_cpu_seconds();
    out->open_fds = odin_open_fds();
    out->max_fds = rlimit_value(RLIMIT_NOFILE);
    out->vmax_bytes = rlimit_value(RLIMIT_AS);
    out->rss_bytes = out->vsize_bytes = -1;
    odin_strbuf own;
    odin_strbuf_init(&own, 0);
    if (statm.p == NULL) {
        odin_err err = {0};
        if (odin_read_file("/proc/self/statm", &own, 4096, &err) == 0) {
            statm = (odin_str){own.p, own.len};
        }
    }
    odin_str pages_total = odin_str_field(&statm);
    odin_str pages_rss = odin_str_field(&statm);
    uint64_t vt = 0, rs = 0;
    double page = (double)sysconf(_SC_PAGESIZE);
    if (odin_parse_u64(pages_total, &vt) == 0 && odin_parse_u64(pages_rss, &rs) == 0) {
        out->rss_bytes = (double)rs * page;
        out->vsize_bytes = (double)vt * page;
    }
    odin_strbuf_fini(&own);
}

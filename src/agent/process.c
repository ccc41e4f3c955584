/* process_* metrics about the agent itself, under client_golang's names and help, read from
 * /proc/self (the real one: these describe this process, not the --path.procfs tree). */
#include "agent/core.h"

#include <dirent.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const agent_desc d_cpu = {"process_cpu_seconds_total",
                                 "Total user and system CPU time spent in seconds.",
                                 EXPFMT_COUNTER, {NULL}};
static const agent_desc d_max_fds = {"process_max_fds", "Maximum number of open file descriptors.",
                                     EXPFMT_GAUGE, {NULL}};
static const agent_desc d_open_fds = {"process_open_fds", "Number of open file descriptors.",
                                      EXPFMT_GAUGE, {NULL}};
static const agent_desc d_rss = {"process_resident_memory_bytes", "Resident memory size in bytes.",
                                 EXPFMT_GAUGE, {NULL}};
static const agent_desc d_start = {"process_start_time_seconds",
                                   "Start time of the process since unix epoch in seconds.",
                                   EXPFMT_GAUGE, {NULL}};
static const agent_desc d_vsize = {"process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                   EXPFMT_GAUGE, {NULL}};
static const agent_desc d_vmax = {"process_virtual_memory_max_bytes",
                                  "Maximum amount of virtual memory available in bytes.",
                                  EXPFMT_GAUGE, {NULL}};

static const agent_desc d_net_rx = {"process_network_receive_bytes_total",
                                    "Number of bytes received by the process over the network.",
                                    EXPFMT_COUNTER, {NULL}};
static const agent_desc d_net_tx = {"process_network_transmit_bytes_total",
                                    "Number of bytes sent by the process over the network.",
                                    EXPFMT_COUNTER, {NULL}};

/* client_golang takes these from the IpExt InOctets/OutOctets of the process's network namespace
 * (/proc/self/net/netstat): a header line of names, then a line of values. Read under the name
 * /proc/net/netstat (a link to self/net), which the netstat collector reads with the default
 * --path.procfs: one path, so the scrape reads the file once (io.c). */
static void network_bytes(agent_scrape *sc)
{
    odin_str text;
    odin_err err = {0};
    if (agent_read(sc, "/proc/net/netstat", &text, &err) < 0) {
        return;
    }
    while (text.len) {
        odin_str names = odin_str_cut(&text, '\n');
        odin_str values = odin_str_cut(&text, '\n');
        if (!odin_str_has_prefix(names, "IpExt:")) {
            continue;
        }
        odin_str_field(&names);
        odin_str_field(&values);
        for (;;) {
            odin_str n = odin_str_field(&names), v = odin_str_field(&values);
            if (n.len == 0 || v.len == 0) {
                return;
            }
            double d;
            if (odin_parse_double(v, &d) < 0) {
                continue;
            }
            if (odin_str_eq_c(n, "InOctets")) {
                agent_emit(sc, &d_net_rx, d, NULL);
            } else if (odin_str_eq_c(n, "OutOctets")) {
                agent_emit(sc, &d_net_tx, d, NULL);
            }
        }
    }
}

double agent_process_open_fds_listed(void)
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
 * one syscall instead of listing the directory, whose cost grows with the descriptors the agent
 * keeps open for its reads (about 130 here). Older kernels report 0 and the listing is used. */
double agent_process_open_fds(void)
{
    struct stat st;
    if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0) {
        return (double)st.st_size;
    }
    return agent_process_open_fds_listed();
}

void agent_process_collect(agent_scrape *sc, double start_time_s)
{
    agent_emit(sc, &d_cpu, odin_cpu_seconds(), NULL);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        agent_emit(sc, &d_max_fds, rl.rlim_cur == RLIM_INFINITY ? 1.8446744073709552e19
                                                                 : (double)rl.rlim_cur,
                   NULL);
    }
    agent_emit(sc, &d_open_fds, agent_process_open_fds(), NULL);
    odin_str statm;
    odin_err err = {0};
    if (agent_read(sc, "/proc/self/statm", &statm, &err) == 0) {
        odin_str pages_total = odin_str_field(&statm);
        odin_str pages_rss = odin_str_field(&statm);
        uint64_t vt = 0, rs = 0;
        double page = (double)sysconf(_SC_PAGESIZE);
        if (odin_parse_u64(pages_total, &vt) == 0 && odin_parse_u64(pages_rss, &rs) == 0) {
            agent_emit(sc, &d_rss, (double)rs * page, NULL);
            agent_emit(sc, &d_vsize, (double)vt * page, NULL);
        }
    }
    network_bytes(sc);
    agent_emit(sc, &d_start, start_time_s, NULL);
    if (getrlimit(RLIMIT_AS, &rl) == 0) {
        agent_emit(sc, &d_vmax, rl.rlim_cur == RLIM_INFINITY ? 1.8446744073709552e19
                                                              : (double)rl.rlim_cur,
                   NULL);
    }
}

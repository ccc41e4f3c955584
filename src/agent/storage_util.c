/* Helpers shared by the storage collectors: procfs-library-style sysfs reads, a one-level glob
 * and Go's string cleanups for label values. See storage_util.h for the contracts. */
#include "agent/storage_util.h"

#include <ctype.h>
#include <fnmatch.h>
#include <string.h>

/* matches procfs' util.SysReadFile, which reads at most this much in one read(2) */
enum { SYS_READ_MAX = 128 };

int storage_sys_read(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    int rc = agent_read(sc, path, out, err);
    if (rc < 0) {
        return rc;
    }
    if (out->len > SYS_READ_MAX) {
        out->len = SYS_READ_MAX;
    }
    *out = odin_str_trim(*out);
    return 0;
}

int storage_read_uint(agent_scrape *sc, const char *path, uint64_t *out, odin_err *err)
{
    odin_str s;
    int rc = agent_read(sc, path, &s, err);
    if (rc < 0) {
        return rc;
    }
    if (odin_parse_u64(odin_str_trim(s), out) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: not an unsigned integer: \"%.64s\"", path,
                            odin_str_trim(s).p);
    }
    return 0;
}

size_t storage_glob(agent_scrape *sc, const char *dir, const char *pattern, const char ***names)
{
    const char **all;
    size_t n;
    odin_err ignored = {0};
    *names = NULL;
    if (agent_list_dir(sc, dir, &all, &n, &ignored) < 0) {
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* Go's Match does not let '*' cross '/', and names have none; a leading dot is not
         * special in Go, so no FNM_PERIOD. */
        if (fnmatch(pattern, all[i], 0) == 0) {
            all[k++] = all[i];
        }
    }
    *names = all;
    return k;
}

const char *storage_errno_text(agent_scrape *sc, int errnum)
{
    char buf[128];
    const char *t = strerror_r(errnum, buf, sizeof(buf));
    char *s = odin_arena_strdup(agent_scrape_arena(sc), t);
    if (!s) {
        odin_oom();
    }
    if (s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z')) {
        s[0] = (char)tolower((unsigned char)s[0]);
    }
    return s;
}

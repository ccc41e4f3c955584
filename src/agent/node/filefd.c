/* filefd: node_filefd_allocated and node_filefd_maximum from <procfs>/sys/fs/file-nr. */
#include "agent/proc_util.h"

static int filefd_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char *path = agent_path(sc, AGENT_PROC, "sys/fs/file-nr");
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    odin_str *parts;
    size_t n = proc_split(sc, odin_str_trim(text), '\t', &parts);
    if (n < 3) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: unexpected number of file stats", path);
    }
    /* The second column (free handles) is always 0 since Linux 2.6 and is not exported. */
    static const struct {
        size_t col;
        const char *name;
        const char *help;
    } out[] = {
        {0, "node_filefd_allocated", "File descriptor statistics: allocated."},
        {2, "node_filefd_maximum", "File descriptor statistics: maximum."},
    };
    double v[2];
    for (size_t i = 0; i < 2; i++) {
        odin_str s = parts[out[i].col];
        if (proc_parse_float(s, &v[i]) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: invalid value \"%.*s\"", path,
                                (int)(s.len > 64 ? 64 : s.len), s.p);
        }
    }
    for (size_t i = 0; i < 2; i++) {
        agent_emit_dyn(sc, out[i].name, out[i].help, EXPFMT_GAUGE, v[i], 0, NULL, NULL);
    }
    return 0;
}

const agent_collector_def agent_collector_filefd = {
    .name = "filefd",
    .default_on = true,
    .collect = filefd_collect,
};

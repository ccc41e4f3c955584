/* vmstat: node_vmstat_<field> (untyped) for the <procfs>/vmstat lines whose name matches
 * --collector.vmstat.fields. */
#include "agent/proc_util.h"

static const agent_flag_def vmstat_flags[] = {
    {"collector.vmstat.fields", "^(oom_kill|pgpg|pswp|pg.*fault).*",
     "Regexp of fields to return for vmstat collector.", false, false},
    {NULL, NULL, NULL, false, false},
};

static int vmstat_init(agent *ag, void **state, odin_err *err)
{
    agent_regex *re = agent_regex_new(agent_flag(ag, "collector.vmstat.fields"), false, err);
    if (!re) {
        odin_err_prefix(err, "collector.vmstat.fields: ");
        return -ODIN_ERR_INVALID;
    }
    *state = re;
    return 0;
}

static void vmstat_fini(void *state)
{
    agent_regex_free(state);
}

static int vmstat_collect(agent_scrape *sc, void *state, odin_err *err)
{
    agent_regex *re = state;
    const char *path = agent_path(sc, AGENT_PROC, "vmstat");
    odin_str text, line;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    odin_arena *a = agent_scrape_arena(sc);
    for (int ln = 1; proc_next_line(&text, &line); ln++) {
        odin_str *f;
        size_t n = proc_fields(sc, line, &f);
        double v;
        if (n < 2) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: malformed line", path, ln);
        }
        if (proc_parse_float(f[1], &v) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: invalid value \"%.*s\"", path, ln,
                                (int)(f[1].len > 64 ? 64 : f[1].len), f[1].p);
        }
        if (!agent_regex_match(re, f[0].p, f[0].len)) {
            continue;
        }
        int nl = (int)f[0].len;
        const char *name = odin_arena_printf(a, "node_vmstat_%.*s", nl, f[0].p);
        const char *help = odin_arena_printf(a, "/proc/vmstat information field %.*s.", nl, f[0].p);
        agent_emit_dyn(sc, name, help, EXPFMT_UNTYPED, v, 0, NULL, NULL);
    }
    return 0;
}

const agent_collector_def agent_collector_vmstat = {
    .name = "vmstat",
    .default_on = true,
    .flags = vmstat_flags,
    .init = vmstat_init,
    .collect = vmstat_collect,
    .fini = vmstat_fini,
};

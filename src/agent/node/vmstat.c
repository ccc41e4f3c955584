/* vmstat: node_vmstat_<field> (untyped) for the <procfs>/vmstat lines whose name matches
 * --collector.vmstat.fields. */
#include "agent/proc_util.h"

#include <stdlib.h>

static const agent_flag_def vmstat_flags[] = {
    {"collector.vmstat.fields", "^(oom_kill|pgpg|pswp|pg.*fault).*",
     "Regexp of fields to return for vmstat collector.", false, false},
    {NULL, NULL, NULL, false, false},
};

typedef struct {
    agent_regex *re;
    agent_desc_cache descs; /* field name -> its descriptor, or NULL name: not exported */
} vmstat_state;

static int vmstat_init(agent *ag, void **state, odin_err *err)
{
    agent_regex *re = agent_regex_new(agent_flag(ag, "collector.vmstat.fields"), false, err);
    if (!re) {
        odin_err_prefix(err, "collector.vmstat.fields: ");
        return -ODIN_ERR_INVALID;
    }
    vmstat_state *st = odin_calloc(1, sizeof(*st));
    st->re = re;
    agent_desc_cache_init(&st->descs);
    *state = st;
    return 0;
}

static void vmstat_fini(void *state)
{
    vmstat_state *st = state;
    if (st) {
        agent_regex_free(st->re);
        agent_desc_cache_fini(&st->descs);
        free(st);
    }
}

/* The descriptor of field `key`, made on its first sight (NULL name: filtered out). */
static const agent_desc *field_desc(agent_scrape *sc, vmstat_state *st, odin_str key)
{
    const agent_desc *d = agent_desc_cache_get(&st->descs, key.p, key.len);
    if (d) {
        return d;
    }
    if (!agent_regex_match(st->re, key.p, key.len)) {
        return agent_desc_cache_add(&st->descs, key.p, key.len, NULL, NULL, EXPFMT_UNTYPED);
    }
    odin_arena *a = agent_scrape_arena(sc);
    int nl = (int)key.len;
    const char *name = odin_arena_printf(a, "node_vmstat_%.*s", nl, key.p);
    const char *help = odin_arena_printf(a, "/proc/vmstat information field %.*s.", nl, key.p);
    return agent_desc_cache_add(&st->descs, key.p, key.len, name, help, EXPFMT_UNTYPED);
}

static int vmstat_collect(agent_scrape *sc, void *state, odin_err *err)
{
    vmstat_state *st = state;
    agent_desc_cache_begin(&st->descs);
    const char *path = agent_path(sc, AGENT_PROC, "vmstat");
    odin_str text, line;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
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
        const agent_desc *d = field_desc(sc, st, f[0]);
        if (d->name) {
            agent_emit(sc, d, v, NULL);
        }
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

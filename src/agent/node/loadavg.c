/* loadavg: node_load1, node_load5, node_load15 from <procfs>/loadavg. */
#include "agent/agent_int.h"

static const agent_desc d_load[3] = {
    {"node_load1", "1m load average.", EXPFMT_GAUGE, {NULL}},
    {"node_load5", "5m load average.", EXPFMT_GAUGE, {NULL}},
    {"node_load15", "15m load average.", EXPFMT_GAUGE, {NULL}},
};

static int loadavg_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char *path = agent_path(sc, AGENT_PROC, "loadavg");
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    for (int i = 0; i < 3; i++) {
        double v;
        odin_str f = odin_str_field(&text);
        if (odin_parse_double(f, &v) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: field %d: not a number", path, i + 1);
        }
        agent_emit(sc, &d_load[i], v, NULL);
    }
    return 0;
}

const agent_collector_def agent_collector_loadavg = {
    .name = "loadavg",
    .default_on = true,
    .collect = loadavg_collect,
};

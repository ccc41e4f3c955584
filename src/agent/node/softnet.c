/* softnet: per-cpu packet processing statistics from <procfs>/net/softnet_stat (hex columns). */
#include "agent/agent_int.h"

static const agent_desc d_processed = {
    "node_softnet_processed_total", "Number of processed packets", EXPFMT_COUNTER, {"cpu", NULL}};
static const agent_desc d_dropped = {
    "node_softnet_dropped_total", "Number of dropped packets", EXPFMT_COUNTER, {"cpu", NULL}};
static const agent_desc d_squeezed = {"node_softnet_times_squeezed_total",
                                      "Number of times processing packets ran out of quota",
                                      EXPFMT_COUNTER,
                                      {"cpu", NULL}};
static const agent_desc d_collision = {
    "node_softnet_cpu_collision_total",
    "Number of collision occur while obtaining device lock while transmitting",
    EXPFMT_COUNTER,
    {"cpu", NULL}};
static const agent_desc d_rps = {"node_softnet_received_rps_total",
                                 "Number of times cpu woken up received_rps",
                                 EXPFMT_COUNTER,
                                 {"cpu", NULL}};
static const agent_desc d_flow = {"node_softnet_flow_limit_count_total",
                                  "Number of times flow limit has been reached",
                                  EXPFMT_COUNTER,
                                  {"cpu", NULL}};
static const agent_desc d_backlog = {
    "node_softnet_backlog_len", "Softnet backlog status", EXPFMT_GAUGE, {"cpu", NULL}};

enum { MAX_COLS = 13 };

static int softnet_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char *path = agent_path(sc, AGENT_PROC, "net/softnet_stat");
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    uint64_t index = 0;
    while (text.len) {
        odin_str line = odin_str_cut(&text, '\n');
        uint64_t col[MAX_COLS] = {0};
        size_t width = 0;
        for (odin_str f = odin_str_field(&line); f.len; f = odin_str_field(&line)) {
            if (width < MAX_COLS &&
                (odin_parse_hex_u64(f, &col[width]) < 0 || col[width] > UINT32_MAX)) {
                return odin_err_set(err, ODIN_ERR_PARSE, "%s: column %zu: bad hex \"%.*s\"", path,
                                    width + 1, (int)(f.len > 64 ? 64 : f.len), f.p);
            }
            width++;
        }
        if (width < 9) {
            return odin_err_set(err, ODIN_ERR_PARSE,
                                "%s: detected %zu columns, but expected at least 9", path, width);
        }
        uint64_t cpu = width >= 13 ? col[12] : index;
        uint64_t backlog = width >= 13 ? col[11] : 0;
        const char *v[] = {agent_fmt_i64(sc, (int64_t)cpu)};
        agent_emit(sc, &d_processed, (double)col[0], v);
        agent_emit(sc, &d_dropped, (double)col[1], v);
        agent_emit(sc, &d_squeezed, (double)col[2], v);
        agent_emit(sc, &d_collision, (double)col[8], v);
        agent_emit(sc, &d_rps, (double)(width >= 10 ? col[9] : 0), v);
        agent_emit(sc, &d_flow, (double)(width >= 11 ? col[10] : 0), v);
        agent_emit(sc, &d_backlog, (double)backlog, v);
        index++;
    }
    return 0;
}

const agent_collector_def agent_collector_softnet = {
    .name = "softnet",
    .default_on = true,
    .collect = softnet_collect,
};

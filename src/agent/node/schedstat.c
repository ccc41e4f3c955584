/* schedstat: per-cpu scheduler statistics from <procfs>/schedstat (time running, time waiting,
 * timeslices). */
#include "agent/agent_int.h"

#include <string.h>

static const agent_desc d_running = {"node_schedstat_running_seconds_total",
                                     "Number of seconds CPU spent running a process.",
                                     EXPFMT_COUNTER,
                                     {"cpu", NULL}};
static const agent_desc d_waiting = {"node_schedstat_waiting_seconds_total",
                                     "Number of seconds spent by processing waiting for this CPU.",
                                     EXPFMT_COUNTER,
                                     {"cpu", NULL}};
static const agent_desc d_slices = {"node_schedstat_timeslices_total",
                                    "Number of timeslices executed by CPU.",
                                    EXPFMT_COUNTER,
                                    {"cpu", NULL}};

static size_t digits(const char *p, const char *end)
{
    size_t n = 0;
    while (p + n < end && p[n] >= '0' && p[n] <= '9') {
        n++;
    }
    return n;
}

/* Matches procfs' unanchored `cpu(\d+) (\d+) x9` at p: the cpu number and fields 7..9. */
static bool match_cpu(const char *p, const char *end, odin_str *cpu, odin_str f[9])
{
    if (end - p < 3 || memcmp(p, "cpu", 3) != 0) {
        return false;
    }
    p += 3;
    size_t n = digits(p, end);
    if (n == 0) {
        return false;
    }
    *cpu = (odin_str){p, n};
    p += n;
    for (int i = 0; i < 9; i++) {
        if (p >= end || *p != ' ') {
            return false;
        }
        p++;
        n = digits(p, end);
        if (n == 0) {
            return false;
        }
        f[i] = (odin_str){p, n};
        p += n;
    }
    return true;
}

static int schedstat_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char *path = agent_path(sc, AGENT_PROC, "schedstat");
    odin_str text;
    odin_err rerr = {0};
    int rc = agent_read(sc, path, &text, &rerr);
    if (rc == -ODIN_ERR_NOTFOUND) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "%s: schedstat file does not exist", path);
    }
    if (rc < 0) {
        return odin_err_set(err, -rc, "%s", rerr.msg);
    }
    while (text.len) {
        odin_str line = odin_str_cut(&text, '\n');
        const char *end = line.p + line.len;
        for (const char *p = line.p; p < end; p++) {
            odin_str cpu, f[9];
            if (!match_cpu(p, end, &cpu, f)) {
                continue;
            }
            uint64_t run, wait, slices;
            if (odin_parse_u64(f[6], &run) == 0 && odin_parse_u64(f[7], &wait) == 0 &&
                odin_parse_u64(f[8], &slices) == 0) {
                const char *v[] = {agent_strdup(sc, cpu)};
                agent_emit(sc, &d_running, (double)run / 1e9, v);
                agent_emit(sc, &d_waiting, (double)wait / 1e9, v);
                agent_emit(sc, &d_slices, (double)slices, v);
            }
            break;
        }
    }
    return 0;
}

const agent_collector_def agent_collector_schedstat = {
    .name = "schedstat",
    .default_on = true,
    .collect = schedstat_collect,
};

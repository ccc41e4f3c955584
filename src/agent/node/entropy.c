/* entropy: node_entropy_available_bits and node_entropy_pool_size_bits from
 * <procfs>/sys/kernel/random/{entropy_avail,poolsize}. */
#include "agent/proc_util.h"

static const agent_desc d_avail = {
    "node_entropy_available_bits", "Bits of available entropy.", EXPFMT_GAUGE, {NULL}};
static const agent_desc d_pool = {
    "node_entropy_pool_size_bits", "Bits of entropy pool.", EXPFMT_GAUGE, {NULL}};

static int entropy_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    /* procfs' KernelRandom also reads urandom_min_reseed_secs and the wakeup thresholds, which
     * nobody exports; only a hard read error of theirs could change the outcome (these sysctls
     * are world-readable), which is not worth two sysctl reads per scrape. Otherwise as procfs:
     * a missing file is skipped, any other failure fails the collector. */
    static const char *const files[] = {"entropy_avail", "poolsize"};
    uint64_t v[2];
    bool have[2] = {0};
    for (size_t i = 0; i < 2; i++) {
        const char *path = agent_path(sc, AGENT_PROC, "sys/kernel/random/%s", files[i]);
        odin_err e = {0};
        int rc = proc_read_uint(sc, path, &v[i], &e);
        if (rc == -ODIN_ERR_NOTFOUND) {
            continue;
        }
        if (rc < 0) {
            return odin_err_set(err, e.code, "failed to get kernel random stats: %s", e.msg);
        }
        have[i] = true;
    }
    if (!have[0]) {
        return odin_err_set(err, ODIN_ERR_NOTFOUND, "%s: couldn't get entropy_avail",
                            agent_path(sc, AGENT_PROC, "sys/kernel/random/entropy_avail"));
    }
    agent_emit(sc, &d_avail, (double)v[0], NULL);
    if (!have[1]) {
        return odin_err_set(err, ODIN_ERR_NOTFOUND, "%s: couldn't get entropy poolsize",
                            agent_path(sc, AGENT_PROC, "sys/kernel/random/poolsize"));
    }
    agent_emit(sc, &d_pool, (double)v[1], NULL);
    return 0;
}

const agent_collector_def agent_collector_entropy = {
    .name = "entropy",
    .default_on = true,
    .collect = entropy_collect,
};

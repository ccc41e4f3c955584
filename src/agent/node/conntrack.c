/* conntrack: node_nf_conntrack_entries{,_limit} from
 * <procfs>/sys/net/netfilter/nf_conntrack_{count,max} and node_nf_conntrack_stat_* summed over the
 * per-CPU rows of <procfs>/net/stat/nf_conntrack. */
#include "agent/proc_util.h"

static const agent_desc d_entries = {
    "node_nf_conntrack_entries",
    "Number of currently allocated flow entries for connection tracking.",
    EXPFMT_GAUGE,
    {NULL}};
static const agent_desc d_limit = {"node_nf_conntrack_entries_limit",
                                   "Maximum size of connection tracking table.",
                                   EXPFMT_GAUGE,
                                   {NULL}};

/* Exported statistics: the column of a per-CPU row and the metric. search_restart (column 16)
 * is missing before Linux 2.6.35 and then counts as 0. */
static const struct {
    size_t col;
    agent_desc d;
} stats[] = {
    {2,
     {"node_nf_conntrack_stat_found",
      "Number of searched entries which were successful.",
      EXPFMT_GAUGE,
      {NULL}}},
    {4,
     {"node_nf_conntrack_stat_invalid",
      "Number of packets seen which can not be tracked.",
      EXPFMT_GAUGE,
      {NULL}}},
    {5,
     {"node_nf_conntrack_stat_ignore",
      "Number of packets seen which are already connected to a conntrack entry.",
      EXPFMT_GAUGE,
      {NULL}}},
    {8,
     {"node_nf_conntrack_stat_insert",
      "Number of entries inserted into the list.",
      EXPFMT_GAUGE,
      {NULL}}},
    {9,
     {"node_nf_conntrack_stat_insert_failed",
      "Number of entries for which list insertion was attempted but failed.",
      EXPFMT_GAUGE,
      {NULL}}},
    {10,
     {"node_nf_conntrack_stat_drop",
      "Number of packets dropped due to conntrack failure.",
      EXPFMT_GAUGE,
      {NULL}}},
    {11,
     {"node_nf_conntrack_stat_early_drop",
      "Number of dropped conntrack entries to make room for new ones, if maximum table size "
      "was reached.",
      EXPFMT_GAUGE,
      {NULL}}},
    {16,
     {"node_nf_conntrack_stat_search_restart",
      "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
      EXPFMT_GAUGE,
      {NULL}}},
};

#define NSTATS ODIN_ARRAY_LEN(stats)

/* A missing source means the conntrack module is not loaded: no data, as upstream. */
static int ct_fail(int rc, odin_err *err)
{
    if (rc == -ODIN_ERR_NOTFOUND) {
        err->code = ODIN_ERR_UNAVAILABLE;
        odin_err_prefix(err, "conntrack probably not loaded: ");
        return -ODIN_ERR_UNAVAILABLE;
    }
    odin_err_prefix(err, "failed to retrieve conntrack stats: ");
    return rc;
}

static int conntrack_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    uint64_t v;
    int rc = proc_read_uint(sc, agent_path(sc, AGENT_PROC, "sys/net/netfilter/nf_conntrack_count"),
                            &v, err);
    if (rc < 0) {
        return ct_fail(rc, err);
    }
    agent_emit(sc, &d_entries, (double)v, NULL);
    rc = proc_read_uint(sc, agent_path(sc, AGENT_PROC, "sys/net/netfilter/nf_conntrack_max"), &v,
                        err);
    if (rc < 0) {
        return ct_fail(rc, err);
    }
    agent_emit(sc, &d_limit, (double)v, NULL);

    const char *path = agent_path(sc, AGENT_PROC, "net/stat/nf_conntrack");
    odin_str text, line;
    rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return ct_fail(rc, err);
    }
    uint64_t sum[NSTATS] = {0};
    proc_next_line(&text, &line); /* header */
    for (int ln = 2; proc_next_line(&text, &line); ln++) {
        odin_str *f;
        size_t n = proc_fields(sc, line, &f);
        uint64_t col[17] = {0};
        if (n < 16 || n > 17) {
            for (size_t i = 0; i < n; i++) {
                if (proc_parse_uint(f[i], 16, &v) < 0) {
                    goto bad_value;
                }
            }
            odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: invalid number of fields: %zu", path, ln, n);
            return ct_fail(-ODIN_ERR_PARSE, err);
        }
        for (size_t i = 0; i < n; i++) {
            if (proc_parse_uint(f[i], 16, &col[i]) < 0) {
                goto bad_value;
            }
        }
        for (size_t i = 0; i < NSTATS; i++) {
            sum[i] += col[stats[i].col];
        }
        continue;
    bad_value:
        odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: invalid hex value", path, ln);
        return ct_fail(-ODIN_ERR_PARSE, err);
    }
    for (size_t i = 0; i < NSTATS; i++) {
        agent_emit(sc, &stats[i].d, (double)sum[i], NULL);
    }
    return 0;
}

const agent_collector_def agent_collector_conntrack = {
    .name = "conntrack",
    .default_on = true,
    .collect = conntrack_collect,
};

/* The server's own /metrics: the families Prometheus 2.42 exposes about itself (process_*,
 * prometheus_build_info, prometheus_config_*, prometheus_ready, prometheus_tsdb_*,
 * prometheus_target_*, prometheus_sd_*) under the same names, types, help texts and labels, for
 * every quantity Odin has, so dashboards and alerts written for Prometheus' self-monitoring (its
 * mixin's among them) work against Odin. Families are written in name order, as client_golang
 * gathers them. */
#include "expfmt/expfmt.h"
#include "server/server_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    odin_arena *a;
    expfmt_family *v;
    size_t n, cap;
} family_list;

static expfmt_family *family(family_list *l, const char *name, expfmt_type type, const char *help)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = odin_realloc(l->v, l->cap * sizeof(*l->v));
    }
    expfmt_family *f = &l->v[l->n++];
    *f = (expfmt_family){
        .name = odin_str_c(name), .help = odin_str_c(help), .has_help = true, .type = type};
    return f;
}

/* Appends a sample; labels (sorted by name) and extra are copied into the arena. */
static void add_sample(family_list *l, expfmt_family *f, const char *suffix, const odin_label *ls,
                       size_t nls, odin_label extra, double v)
{
    expfmt_sample *s = odin_arena_alloc(l->a, (f->len + 1) * sizeof(*s));
    odin_label *lv = odin_arena_alloc(l->a, (nls ? nls : 1) * sizeof(*lv));
    if (s == NULL || lv == NULL) {
        odin_oom();
    }
    if (f->len) {
        memcpy(s, f->samples, f->len * sizeof(*s));
    }
    if (nls) {
        memcpy(lv, ls, nls * sizeof(*lv));
    }
    s[f->len] = (expfmt_sample){.labels = {lv, nls}, .extra = extra, .suffix = suffix, .value = v};
    f->samples = s;
    f->len++;
}

static void one(family_list *l, const char *name, expfmt_type type, const char *help, double v)
{
    add_sample(l, family(l, name, type, help), "", NULL, 0, (odin_label){0}, v);
}

/* A family of one sample without labels. */
typedef struct {
    const char *name;
    expfmt_type type;
    const char *help;
    double value;
} simple_metric;

static void ones(family_list *l, const simple_metric *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        one(l, m[i].name, m[i].type, m[i].help, m[i].value);
    }
}

/* A summary family: one sample per quantile, then _sum and _count. */
static void summary(family_list *l, expfmt_family *f, const odin_label *ls, size_t nls,
                    const char *const *qnames, const double *q, size_t nq, double sum,
                    uint64_t count)
{
    for (size_t i = 0; i < nq; i++) {
        add_sample(l, f, "", ls, nls, (odin_label){ODIN_STR("quantile"), odin_str_c(qnames[i])},
                   q[i]);
    }
    add_sample(l, f, "_sum", ls, nls, (odin_label){0}, sum);
    add_sample(l, f, "_count", ls, nls, (odin_label){0}, (double)count);
}

static void process_families(family_list *l, const server_self *in)
{
    odin_process_stats ps;
    odin_process_stats_get(&ps, (odin_str){NULL, 0});
    one(l, "process_cpu_seconds_total", EXPFMT_COUNTER,
        "Total user and system CPU time spent in seconds.", ps.cpu_seconds);
    if (ps.max_fds >= 0) {
        one(l, "process_max_fds", EXPFMT_GAUGE, "Maximum number of open file descriptors.",
            ps.max_fds);
    }
    one(l, "process_open_fds", EXPFMT_GAUGE, "Number of open file descriptors.", ps.open_fds);
    if (ps.rss_bytes >= 0) {
        one(l, "process_resident_memory_bytes", EXPFMT_GAUGE, "Resident memory size in bytes.",
            ps.rss_bytes);
        one(l, "process_virtual_memory_bytes", EXPFMT_GAUGE, "Virtual memory size in bytes.",
            ps.vsize_bytes);
    }
    one(l, "process_start_time_seconds", EXPFMT_GAUGE,
        "Start time of the process since unix epoch in seconds.", in->start_time_s);
    if (ps.vmax_bytes >= 0) {
        one(l, "process_virtual_memory_max_bytes", EXPFMT_GAUGE,
            "Maximum amount of virtual memory available in bytes.", ps.vmax_bytes);
    }
}

static const char *goarch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "386";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "";
#endif
}

static void server_families(family_list *l, const server_self *in)
{
    /* Odin's version; goversion stays empty: no Go toolchain built it */
    const odin_label build[] = {
        {ODIN_STR("branch"), ODIN_STR("")},    {ODIN_STR("goarch"), odin_str_c(goarch())},
        {ODIN_STR("goos"), ODIN_STR("linux")}, {ODIN_STR("goversion"), ODIN_STR("")},
        {ODIN_STR("revision"), ODIN_STR("")},  {ODIN_STR("version"), ODIN_STR(ODIN_VERSION)},
    };
    add_sample(l,
               family(l, "prometheus_build_info", EXPFMT_GAUGE,
                      "A metric with a constant '1' value labeled by version, revision, branch, "
                      "goversion from which prometheus was built, and the goos and goarch for the "
                      "build."),
               "", build, ODIN_ARRAY_LEN(build), (odin_label){0}, 1);
    one(l, "prometheus_config_last_reload_success_timestamp_seconds", EXPFMT_GAUGE,
        "Timestamp of the last successful configuration reload.", in->reload_ok_time_s);
    one(l, "prometheus_config_last_reload_successful", EXPFMT_GAUGE,
        "Whether the last configuration reload attempt was successful.", in->reload_ok ? 1 : 0);
    one(l, "prometheus_ready", EXPFMT_GAUGE,
        "Whether Prometheus startup was fully completed and the server is ready for normal "
        "operation.",
        in->ready ? 1 : 0);
}

/* Prometheus' *_seconds variants of the millisecond gauges: whole seconds (ms / 1000). */
static double ms_to_s(int64_t ms)
{
    return (double)(ms / 1000);
}

static void tsdb_families(family_list *l, const tsdb_stats *st)
{
    /* an empty head reports the sentinels Prometheus reports (math.MinInt64 / MaxInt64) */
    const simple_metric m[] = {
        {"prometheus_tsdb_blocks_loaded", EXPFMT_GAUGE, "Number of currently loaded data blocks",
         (double)st->blocks},
        {"prometheus_tsdb_checkpoint_creations_failed_total", EXPFMT_COUNTER,
         "Total number of checkpoint creations that failed.",
         (double)st->checkpoint_creations_failed},
        {"prometheus_tsdb_checkpoint_creations_total", EXPFMT_COUNTER,
         "Total number of checkpoint creations attempted.", (double)st->checkpoint_creations},
        {"prometheus_tsdb_checkpoint_deletions_total", EXPFMT_COUNTER,
         "Total number of checkpoint deletions attempted.", (double)st->checkpoint_deletions},
        {"prometheus_tsdb_compactions_failed_total", EXPFMT_COUNTER,
         "Total number of compactions that failed for the partition.",
         (double)st->compactions_failed},
        {"prometheus_tsdb_compactions_total", EXPFMT_COUNTER,
         "Total number of compactions that were executed for the partition.",
         (double)st->compactions},
        {"prometheus_tsdb_head_chunks", EXPFMT_GAUGE, "Total number of chunks in the head block.",
         (double)st->head_chunks},
        {"prometheus_tsdb_head_chunks_created_total", EXPFMT_COUNTER,
         "Total number of chunks created in the head", (double)st->head_chunks_created},
        {"prometheus_tsdb_head_chunks_removed_total", EXPFMT_COUNTER,
         "Total number of chunks removed in the head", (double)st->head_chunks_removed},
        {"prometheus_tsdb_head_max_time", EXPFMT_GAUGE,
         "Maximum timestamp of the head block. The unit is decided by the library consumer.",
         (double)st->head_max_t},
        {"prometheus_tsdb_head_max_time_seconds", EXPFMT_GAUGE,
         "Maximum timestamp of the head block.", ms_to_s(st->head_max_t)},
        {"prometheus_tsdb_head_min_time", EXPFMT_GAUGE,
         "Minimum time bound of the head block. The unit is decided by the library consumer.",
         (double)st->head_min_t},
        {"prometheus_tsdb_head_min_time_seconds", EXPFMT_GAUGE,
         "Minimum time bound of the head block.", ms_to_s(st->head_min_t)},
        {"prometheus_tsdb_head_series", EXPFMT_GAUGE, "Total number of series in the head block.",
         (double)st->head_series},
        {"prometheus_tsdb_head_series_created_total", EXPFMT_COUNTER,
         "Total number of series created in the head", (double)st->head_series_created},
        {"prometheus_tsdb_head_series_removed_total", EXPFMT_COUNTER,
         "Total number of series removed in the head", (double)st->head_series_removed},
        {"prometheus_tsdb_head_truncations_total", EXPFMT_COUNTER,
         "Total number of head truncations attempted.", (double)st->head_truncations},
        {"prometheus_tsdb_lowest_timestamp", EXPFMT_GAUGE,
         "Lowest timestamp value stored in the database. The unit is decided by the library "
         "consumer.",
         (double)st->lowest_timestamp},
        {"prometheus_tsdb_lowest_timestamp_seconds", EXPFMT_GAUGE,
         "Lowest timestamp value stored in the database.", ms_to_s(st->lowest_timestamp)},
        {"prometheus_tsdb_retention_limit_bytes", EXPFMT_GAUGE,
         "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled",
         (double)st->retention_bytes},
        {"prometheus_tsdb_size_retentions_total", EXPFMT_COUNTER,
         "The number of times that blocks were deleted because the maximum number of bytes was "
         "exceeded.",
         (double)st->size_retentions},
        {"prometheus_tsdb_storage_blocks_bytes", EXPFMT_GAUGE,
         "The number of bytes that are currently used for local storage by all blocks.",
         (double)st->storage_bytes},
        {"prometheus_tsdb_time_retentions_total", EXPFMT_COUNTER,
         "The number of times that blocks were deleted because the maximum time limit was "
         "exceeded.",
         (double)st->time_retentions},
        {"prometheus_tsdb_wal_corruptions_total", EXPFMT_COUNTER,
         "Total number of WAL corruptions.", (double)st->wal_corruptions},
        {"prometheus_tsdb_wal_storage_size_bytes", EXPFMT_GAUGE, "Size of the write log directory.",
         (double)st->wal_bytes},
        {"prometheus_tsdb_wal_truncations_total", EXPFMT_COUNTER,
         "Total number of write log truncations attempted.", (double)st->wal_truncations},
    };
    ones(l, m, ODIN_ARRAY_LEN(m));
    /* by sample type, as Prometheus 2.42 counts them: Odin stores no native histograms */
    const simple_metric typed[] = {
        {"prometheus_tsdb_head_samples_appended_total", EXPFMT_COUNTER,
         "Total number of appended samples.", (double)st->samples_appended},
        {"prometheus_tsdb_out_of_bound_samples_total", EXPFMT_COUNTER,
         "Total number of out of bound samples ingestion failed attempts with out of order "
         "support disabled.",
         (double)st->out_of_bounds_samples},
        {"prometheus_tsdb_out_of_order_samples_total", EXPFMT_COUNTER,
         "Total number of out of order samples ingestion failed attempts due to out of order "
         "being disabled.",
         (double)st->out_of_order_samples},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(typed); i++) {
        expfmt_family *f = family(l, typed[i].name, typed[i].type, typed[i].help);
        const odin_label fl[] = {{ODIN_STR("type"), ODIN_STR("float")}};
        const odin_label hl[] = {{ODIN_STR("type"), ODIN_STR("histogram")}};
        add_sample(l, f, "", fl, 1, (odin_label){0}, typed[i].value);
        add_sample(l, f, "", hl, 1, (odin_label){0}, 0);
    }
    static const char *const fsync_q[] = {"0.5", "0.9", "0.99"};
    summary(l,
            family(l, "prometheus_tsdb_wal_fsync_duration_seconds", EXPFMT_SUMMARY,
                   "Duration of write log fsync."),
            NULL, 0, fsync_q, st->wal_fsync_quantiles, 3, st->wal_fsync_seconds, st->wal_fsyncs);
}

static void scrape_families(family_list *l, const scrape_stats *st)
{
    expfmt_family *f = family(l, "prometheus_sd_discovered_targets", EXPFMT_GAUGE,
                              "Current number of discovered targets.");
    for (size_t i = 0; i < st->npools; i++) {
        const odin_label ls[] = {{ODIN_STR("config"), odin_str_c(st->pools[i].job)},
                                 {ODIN_STR("name"), ODIN_STR("scrape")}};
        add_sample(l, f, "", ls, 2, (odin_label){0}, (double)st->pools[i].discovered);
    }
    f = family(l, "prometheus_target_interval_length_seconds", EXPFMT_SUMMARY,
               "Actual intervals between scrapes.");
    static const char *const iv_q[] = {"0.01", "0.05", "0.5", "0.9", "0.99"};
    for (size_t i = 0; i < st->nintervals; i++) {
        const scrape_interval_stats *s = &st->intervals[i];
        const odin_label ls[] = {{ODIN_STR("interval"), odin_str_c(s->interval)}};
        summary(l, f, ls, 1, iv_q, s->quantiles, 5, s->sum_s, s->count);
    }
    expfmt_family *syncs = family(l, "prometheus_target_scrape_pool_sync_total", EXPFMT_COUNTER,
                                  "Total number of syncs that were executed on a scrape pool.");
    expfmt_family *targets = family(l, "prometheus_target_scrape_pool_targets", EXPFMT_GAUGE,
                                    "Current number of targets in this scrape pool.");
    for (size_t i = 0; i < st->npools; i++) {
        const odin_label ls[] = {{ODIN_STR("scrape_job"), odin_str_c(st->pools[i].job)}};
        add_sample(l, syncs, "", ls, 1, (odin_label){0}, (double)st->pools[i].syncs);
        add_sample(l, targets, "", ls, 1, (odin_label){0}, (double)st->pools[i].targets);
    }
    const simple_metric m[] = {
        {"prometheus_target_scrape_pool_exceeded_label_limits_total", EXPFMT_COUNTER,
         "Total number of times scrape pools hit the label limits, during sync or config reload.",
         (double)st->exceeded_label_limits},
        {"prometheus_target_scrape_pool_exceeded_target_limit_total", EXPFMT_COUNTER,
         "Total number of times scrape pools hit the target limit, during sync or config reload.",
         (double)st->exceeded_target_limit},
        {"prometheus_target_scrape_pools_total", EXPFMT_COUNTER,
         "Total number of scrape pool creation attempts.", (double)st->pools_created},
        {"prometheus_target_scrapes_exceeded_body_size_limit_total", EXPFMT_COUNTER,
         "Total number of scrapes that hit the body size limit",
         (double)st->exceeded_body_size_limit},
        {"prometheus_target_scrapes_exceeded_sample_limit_total", EXPFMT_COUNTER,
         "Total number of scrapes that hit the sample limit and were rejected.",
         (double)st->exceeded_sample_limit},
        {"prometheus_target_scrapes_sample_duplicate_timestamp_total", EXPFMT_COUNTER,
         "Total number of samples rejected due to duplicate timestamps but different values.",
         (double)st->sample_duplicate_timestamp},
        {"prometheus_target_scrapes_sample_out_of_bounds_total", EXPFMT_COUNTER,
         "Total number of samples rejected due to timestamp falling outside of the time bounds.",
         (double)st->sample_out_of_bounds},
        {"prometheus_target_scrapes_sample_out_of_order_total", EXPFMT_COUNTER,
         "Total number of samples rejected due to not being out of the expected order.",
         (double)st->sample_out_of_order},
    };
    ones(l, m, ODIN_ARRAY_LEN(m));
}

static int family_cmp(const void *a, const void *b)
{
    return odin_str_cmp(((const expfmt_family *)a)->name, ((const expfmt_family *)b)->name);
}

void server_self_metrics(odin_strbuf *out, const server_self *in)
{
    odin_arena a;
    odin_arena_init(&a, 0);
    family_list l = {.a = &a};
    process_families(&l, in);
    server_families(&l, in);
    tsdb_families(&l, &in->tsdb);
    scrape_families(&l, &in->scrape);
    qsort(l.v, l.n, sizeof(*l.v), family_cmp);
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].len > 0) { /* client_golang leaves out a vector without children */
            expfmt_sort_samples(&l.v[i]);
            expfmt_write_family(out, &l.v[i]);
        }
    }
    free(l.v);
    odin_arena_fini(&a);
}

/* Scraping: the Prometheus configuration file (prometheus.yml), relabeling, and the scrape manager
 * that runs one loop per target, appends samples to the tsdb and reports target health.
 *
 * Threads: a scrape_config is immutable once loaded and shared read-only. The manager runs its loops
 * on its own thread(s); scrape_manager_targets() may be called from any thread (it copies under the
 * manager's lock). Ownership: scrape_config_load returns a config freed by scrape_config_free; the
 * manager borrows the config it is given until the next scrape_manager_apply or its free. */
#ifndef ODIN_SCRAPE_SCRAPE_H
#define ODIN_SCRAPE_SCRAPE_H

#include "base/base.h"
#include "discovery/discovery.h"
#include "http/http.h"
#include "tsdb/tsdb.h"

/* ---- Relabeling (relabel.c) -------------------------------------------------------------------- */

typedef enum {
    RELABEL_REPLACE, RELABEL_KEEP, RELABEL_DROP, RELABEL_KEEPEQUAL, RELABEL_DROPEQUAL,
    RELABEL_HASHMOD, RELABEL_LABELMAP, RELABEL_LABELDROP, RELABEL_LABELKEEP,
    RELABEL_LOWERCASE, RELABEL_UPPERCASE,
} relabel_action;

typedef struct scrape_regex scrape_regex; /* anchored PCRE2, compiled at load */

typedef struct {
    char **source_labels;   /* default none */
    size_t nsource_labels;
    char *separator;        /* default ";" */
    char *regex_text;       /* default "(.*)" */
    scrape_regex *regex;
    uint64_t modulus;
    char *target_label;
    char *replacement;      /* default "$1" */
    relabel_action action;  /* default replace */
    bool legacy_validation; /* label names: false = UTF-8 (Prometheus 3 default), true = legacy */
} relabel_config;

/* Applies the rules in order to a label set. Input labels are sorted; the result is sorted, its
 * array lives in the arena and its strings point into `in`, the rules or the arena, so it is valid
 * while all three are. Returns false when the set is dropped (keep/drop, or empty result, or the
 * arena's cap was reached). Rules must have passed relabel_config_finish. Thread-safe. */
bool relabel_process(const relabel_config *rules, size_t n, odin_labels in, odin_arena *a,
                     odin_labels *out);
/* Validates one rule with Prometheus' rules and messages, fills the defaults of NULL fields
 * (separator ";", regex "(.*)", replacement "$1") and compiles the regex if not yet compiled.
 * Used by the config loader and by tests; strings are heap-owned, freed by relabel_config_fini. */
int relabel_config_finish(relabel_config *rc, odin_err *err);
void relabel_config_fini(relabel_config *rc);

/* ---- Configuration (config.c) ----------------------------------------------------------------- */

typedef struct {
    char *job_name;
    int64_t scrape_interval_ms;     /* default: global */
    int64_t scrape_timeout_ms;      /* default: global, capped at interval */
    char *metrics_path;             /* default /metrics */
    char *scheme;                   /* default http */
    odin_label *params;             /* url params, repeated names allowed */
    size_t nparams;
    bool honor_labels;              /* default false */
    bool honor_timestamps;          /* default true */
    bool track_timestamps_staleness;
    bool enable_compression;        /* default true */
    http_client_config http;        /* tls_config, basic_auth, authorization, bearer_token... */
    discovery_config sd;            /* static_configs, file_sd_configs, kubernetes_sd_configs */
    relabel_config *relabel;
    size_t nrelabel;
    relabel_config *metric_relabel;
    size_t nmetric_relabel;
    uint64_t sample_limit, label_limit, label_name_length_limit, label_value_length_limit,
        target_limit, body_size_limit; /* 0 = none; default: global */
    size_t line;                    /* where the job starts in the file, for messages */
    /* Prometheus 3 settings, accepted and kept for the scrape loop: */
    char **scrape_protocols;        /* Accept order; default OpenMetricsText1.0.0,
                                     * OpenMetricsText0.0.1, PrometheusText1.0.0,
                                     * PrometheusText0.0.4 (or global) */
    size_t nscrape_protocols;
    char *fallback_scrape_protocol; /* NULL = none */
    uint64_t keep_dropped_targets;  /* default: global */
    char *metric_name_validation_scheme; /* "utf8" (default) or "legacy" */
    char *metric_name_escaping_scheme;   /* "allow-utf-8", "underscores", "dots", "values" */
    char *scrape_failure_log_file;  /* default: global */
    bool scrape_native_histograms, always_scrape_classic_histograms,
        convert_classic_histograms_to_nhcb, extra_scrape_metrics;
    uint64_t native_histogram_bucket_limit;
    double native_histogram_min_bucket_factor;
} scrape_job;

typedef struct {
    char *url;
    char *name;
    int64_t remote_timeout_ms;      /* default 30s */
    odin_label *headers;
    size_t nheaders;
    relabel_config *write_relabel;
    size_t nwrite_relabel;
    http_client_config http;
    /* queue_config (defaults 10000, 50, 1, 2000, 5s, 30ms, 5s) */
    int capacity, max_shards, min_shards, max_samples_per_send;
    int64_t batch_send_deadline_ms, min_backoff_ms, max_backoff_ms;
    bool retry_on_http_429;
    int64_t sample_age_limit_ms;    /* 0 = none */
    /* metadata_config (defaults true, 1m, 2000) */
    bool metadata_send;
    int64_t metadata_send_interval_ms;
    int metadata_max_samples_per_send;
    bool send_exemplars, send_native_histograms, round_robin_dns;
    char *protobuf_message;         /* default "prometheus.WriteRequest" */
} scrape_remote_write;

typedef struct {
    discovery_config sd;
    char *scheme, *path_prefix, *api_version; /* defaults http, "", v2 */
    int64_t timeout_ms;                        /* default 10s */
    relabel_config *relabel;
    size_t nrelabel;
    http_client_config http;
    relabel_config *alert_relabel;             /* per-alertmanager alert_relabel_configs */
    size_t nalert_relabel;
} scrape_alertmanager;

typedef struct scrape_config {
    /* global */
    int64_t scrape_interval_ms;     /* default 1m */
    int64_t scrape_timeout_ms;      /* default 10s */
    int64_t evaluation_interval_ms; /* default 1m */
    odin_label *external_labels;
    size_t nexternal_labels;
    char *query_log_file;
    /* alerting */
    scrape_alertmanager *alertmanagers;
    size_t nalertmanagers;
    relabel_config *alert_relabel;
    size_t nalert_relabel;
    char **rule_files;              /* globs, relative to the config file's directory */
    size_t nrule_files;
    scrape_job *jobs;
    size_t njobs;
    scrape_remote_write *remote_write;
    size_t nremote_write;
    char *text;                     /* the file as loaded, for /api/v1/status/config */
    char *path;
    /* more of global: */
    int64_t rule_query_offset_ms;
    char *scrape_failure_log_file;
    char **scrape_protocols;        /* NULL: per-job default */
    size_t nscrape_protocols;
    char *metric_name_validation_scheme; /* "utf8" (default) or "legacy" */
    /* storage */
    int64_t out_of_order_time_window_ms; /* storage.tsdb.out_of_order_time_window, default 0 */
    int64_t retention_time_ms;      /* storage.tsdb.retention.time, 0 = flag's value */
    uint64_t retention_size_bytes;  /* storage.tsdb.retention.size, 0 = flag's value */
    uint64_t max_exemplars;         /* storage.exemplars.max_exemplars, default 100000 */
} scrape_config;

/* Loads and validates prometheus.yml (Prometheus 2.x/3.x schema). Unknown keys, wrong types and
 * invalid values are ODIN_ERR_INVALID/PARSE with "file:line:col: field.path: reason"; secrets are
 * never quoted. Relative file_sd globs, TLS files and password/credentials/bearer token files are
 * joined to the directory of `path` at load, as Prometheus does (scrape_config_parse, which has no
 * file, keeps them as written); rule_files stay as written: join them with that directory when
 * opening them. remote_read, oauth2, sigv4
 * and other settings Odin cannot honour are refused with "not supported by Odin". */
scrape_config *scrape_config_load(const char *path, odin_err *err);
scrape_config *scrape_config_parse(const char *text, size_t len, const char *name, odin_err *err);
void scrape_config_free(scrape_config *c);

/* `odin check config FILE...`: promtool's output ("Checking F", "  SUCCESS: N rule files found"
 * or "  FAILED: msg") on stdout; returns 0 when every file is valid, else 1 (check.c). */
int scrape_check_config_main(int argc, char **argv);

/* ---- Manager (manager.c, loop.c) ---------------------------------------------------------------- */

typedef struct scrape_manager scrape_manager;

/* Health of one target as /api/v1/targets shows it. Strings are copies owned by the snapshot. */
typedef struct {
    char *job;              /* scrapePool */
    char *scrape_url;
    char *global_url;
    odin_labels discovered; /* before relabeling */
    odin_labels labels;     /* after relabeling; empty when dropped */
    bool dropped;
    const char *health;     /* "up", "down", "unknown" */
    char *last_error;
    int64_t last_scrape_ms;
    double last_duration_s;
    int64_t interval_ms, timeout_ms;
} scrape_target_info;

typedef struct {
    scrape_target_info *v;
    size_t len;
    odin_arena arena;
} scrape_targets_snapshot;

/* One metric family's metadata as one active target last exposed it. */
typedef struct {
    odin_labels target; /* the target's labels (after relabeling, without __ labels) */
    const char *metric; /* family name as written in the HELP/TYPE/UNIT line */
    const char *type;   /* Prometheus' spelling: counter, gauge, histogram, summary, unknown, ... */
    const char *help;   /* "" when none */
    const char *unit;   /* "" when none */
} scrape_metadata;

scrape_manager *scrape_manager_new(tsdb *db);
/* --scrape.adjust-timestamps (default on) and --scrape.timestamp-tolerance (default 2ms):
 * whether a scrape that starts at most min(interval/100, tolerance) after its tick gets the
 * tick's time, so timestamps stay exactly an interval apart. Call before any manager starts. */
void scrape_set_timestamp_alignment(bool adjust, int64_t tolerance_ms);
/* Starts or updates jobs from the config (targets kept across reloads keep their state). */
int scrape_manager_apply(scrape_manager *m, const scrape_config *c, odin_err *err);
void scrape_manager_targets(scrape_manager *m, scrape_targets_snapshot *out);
void scrape_targets_snapshot_fini(scrape_targets_snapshot *s);
/* Every (active target, metric family) metadata entry, target by target in pool order. The array
 * and every string come from `a` (the caller's, e.g. a request arena). Any thread; copies under
 * the manager's lock. -ODIN_ERR_LIMIT with err when `a` is full. */
int scrape_manager_metadata(scrape_manager *m, odin_arena *a, scrape_metadata **out, size_t *n,
                            odin_err *err);
/* What the manager's prometheus_target_* and prometheus_sd_* self-metrics show. */
typedef struct {
    const char *job;
    uint64_t targets;    /* prometheus_target_scrape_pool_targets */
    uint64_t syncs;      /* prometheus_target_scrape_pool_sync_total */
    uint64_t discovered; /* prometheus_sd_discovered_targets */
} scrape_pool_stats;

typedef struct {
    const char *interval; /* Go's Duration.String of the scrape interval: "15s", "1m0s" */
    double quantiles[5];  /* 0.01, 0.05, 0.5, 0.9, 0.99 over 10 minutes; NaN when none */
    double sum_s;
    uint64_t count;
} scrape_interval_stats;

typedef struct {
    uint64_t exceeded_sample_limit; /* prometheus_target_scrapes_exceeded_sample_limit_total */
    uint64_t exceeded_body_size_limit;
    uint64_t sample_out_of_order; /* prometheus_target_scrapes_sample_out_of_order_total */
    uint64_t sample_duplicate_timestamp;
    uint64_t sample_out_of_bounds;
    uint64_t exceeded_label_limits; /* prometheus_target_scrape_pool_exceeded_label_limits_total */
    uint64_t exceeded_target_limit; /* ..._exceeded_target_limit_total */
    uint64_t pools_created;         /* prometheus_target_scrape_pools_total */
    scrape_pool_stats *pools;       /* in pool (configuration) order */
    size_t npools;
    scrape_interval_stats *intervals; /* prometheus_target_interval_length_seconds */
    size_t nintervals;
} scrape_stats;

/* Fills out; the arrays and strings come from `a`. Any thread. */
void scrape_manager_stats(scrape_manager *m, odin_arena *a, scrape_stats *out);

/* Stops every loop and frees the manager. Like Prometheus, no stale markers are written on
 * shutdown, so a restart continues the series without a gap. */
void scrape_manager_free(scrape_manager *m);

#endif

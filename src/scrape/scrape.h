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
} relabel_config;

/* Applies the rules in order to a label set. Input labels are sorted; the result is sorted and
 * lives in the arena. Returns false when the set is dropped (keep/drop, or empty result). */
bool relabel_process(const relabel_config *rules, size_t n, odin_labels in, odin_arena *a,
                     odin_labels *out);
/* Parses/validates one rule (used by the config loader and by tests). */
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
        target_limit, body_size_limit; /* 0 = none */
    size_t line;                    /* where the job starts in the file, for messages */
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
    /* queue_config */
    int capacity, max_shards, min_shards, max_samples_per_send;
    int64_t batch_send_deadline_ms, min_backoff_ms, max_backoff_ms;
} scrape_remote_write;

typedef struct {
    discovery_config sd;
    char *scheme, *path_prefix, *api_version; /* defaults http, "", v2 */
    int64_t timeout_ms;                        /* default 10s */
    relabel_config *relabel;
    size_t nrelabel;
    http_client_config http;
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
} scrape_config;

/* Loads and validates prometheus.yml (Prometheus 2.x/3.x schema). Unknown keys, wrong types and
 * invalid values are ODIN_ERR_INVALID/PARSE with "file:line:col: field.path: reason". */
scrape_config *scrape_config_load(const char *path, odin_err *err);
scrape_config *scrape_config_parse(const char *text, size_t len, const char *name, odin_err *err);
void scrape_config_free(scrape_config *c);

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

scrape_manager *scrape_manager_new(tsdb *db);
/* Starts or updates jobs from the config (targets kept across reloads keep their state). */
int scrape_manager_apply(scrape_manager *m, const scrape_config *c, odin_err *err);
void scrape_manager_targets(scrape_manager *m, scrape_targets_snapshot *out);
void scrape_targets_snapshot_fini(scrape_targets_snapshot *s);
/* Stops every loop and frees the manager. Like Prometheus, no stale markers are written on
 * shutdown, so a restart continues the series without a gap. */
void scrape_manager_free(scrape_manager *m);

#endif

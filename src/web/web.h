/* The Prometheus HTTP API v1 of `odin server`: query, metadata, targets, rules, status, admin and
 * lifecycle endpoints with Prometheus' JSON shapes, error envelope and status codes, registered on
 * an http_server. It answers from the tsdb and the PromQL engine; scrape, rules, lifecycle and
 * admin facts come from providers the server plugs in (absent providers give empty answers).
 *
 * Threads: handlers run on the HTTP server's worker threads, so every provider callback may be
 * called from several threads at once and must be thread-safe. The web_api's options are fixed at
 * web_api_new; web_api_set_ready and web_api_set_config may be called from any thread (an atomic
 * and an internal mutex; no callback runs under that mutex).
 *
 * Ownership: web_api_new copies every string and array of its options; web_api_free frees them.
 * Callbacks fill structs whose memory comes from the per-request arena they are given; web reads
 * it during the request and never keeps it. */
#ifndef ODIN_WEB_WEB_H
#define ODIN_WEB_WEB_H

#include "base/base.h"
#include "tsdb/tsdb.h"

typedef struct http_server http_server;
typedef struct promql_engine promql_engine;
typedef struct web_api web_api;

/* ---- Scrape provider: /api/v1/targets, /targets/metadata, /metadata, /scrape_pools ----------- */

typedef enum { WEB_HEALTH_UNKNOWN, WEB_HEALTH_UP, WEB_HEALTH_DOWN } web_target_health;

typedef struct {
    odin_labels discovered_labels; /* before relabelling, sorted */
    odin_labels labels;            /* after relabelling, sorted */
    const char *scrape_pool;
    const char *scrape_url;
    const char *global_url;        /* NULL: same as scrape_url */
    const char *last_error;        /* NULL or "" when the last scrape succeeded */
    int64_t last_scrape_ms;        /* 0 = not scraped yet */
    double last_scrape_duration_s;
    web_target_health health;
    int64_t scrape_interval_ms;
    int64_t scrape_timeout_ms;
} web_target;

typedef struct {
    odin_labels discovered_labels;
    const char *scrape_pool;
} web_dropped_target;

typedef struct {
    const web_target *active;
    size_t nactive;
    const web_dropped_target *dropped;
    size_t ndropped;
    /* Every configured scrape pool, sorted, with its number of dropped targets (Prometheus keeps
     * the count even when it keeps no dropped target). */
    const char *const *pools;
    const size_t *dropped_counts;
    size_t npools;
} web_targets;

/* One metric family's metadata as scraped from one target. */
typedef struct {
    odin_labels target; /* the target's labels */
    const char *metric;
    const char *type;   /* "counter", "gauge", "histogram", "summary", "unknown", ... */
    const char *help;
    const char *unit;
} web_metadata;

typedef struct {
    void *ctx;
    /* Fills *out with every target, allocating from `a`. 0, or a negative code with err. */
    int (*targets)(void *ctx, odin_arena *a, web_targets *out, odin_err *err);
    /* Every (target, metric family) metadata entry of the active targets. */
    int (*metadata)(void *ctx, odin_arena *a, const web_metadata **out, size_t *n, odin_err *err);
} web_scrape_provider;

/* ---- Rules provider: /api/v1/rules, /alerts, /alertmanagers ----------------------------------- */

typedef struct {
    odin_labels labels;
    odin_labels annotations;
    const char *state;            /* "pending" or "firing" */
    int64_t active_at_ms;
    int64_t keep_firing_since_ms; /* 0 = not keeping it firing */
    double value;
} web_alert;

typedef enum { WEB_RULE_RECORDING, WEB_RULE_ALERTING } web_rule_type;

typedef struct {
    web_rule_type type;
    const char *name;
    const char *query;
    odin_labels labels;
    const char *health;           /* "ok", "err" or "unknown" */
    const char *last_error;       /* NULL or "" when none */
    double evaluation_time_s;
    int64_t last_evaluation_ms;   /* 0 = never */
    /* Alerting rules only. */
    odin_labels annotations;
    const char *state;            /* "inactive", "pending" or "firing" */
    int64_t duration_ms;          /* `for` */
    int64_t keep_firing_for_ms;
    const web_alert *alerts;
    size_t nalerts;
} web_rule;

typedef struct {
    const char *name;
    const char *file;
    const web_rule *rules;
    size_t nrules;
    int64_t interval_ms;
    int64_t limit;
    double evaluation_time_s;
    int64_t last_evaluation_ms;
} web_rule_group;

typedef struct {
    void *ctx;
    int (*groups)(void *ctx, odin_arena *a, const web_rule_group **out, size_t *n, odin_err *err);
    /* Alertmanager URLs in use and dropped by relabelling; NULL callback = none. */
    int (*alertmanagers)(void *ctx, odin_arena *a, const char *const **active, size_t *nactive,
                         const char *const **dropped, size_t *ndropped, odin_err *err);
} web_rules_provider;

/* ---- Lifecycle (/-/reload, /-/quit) and admin (/api/v1/admin/tsdb/...) ------------------------ */

typedef struct {
    void *ctx;
    /* Reloads the configuration and returns when done; the message of a failure is shown as
     * "failed to reload config: <msg>" with status 500. */
    int (*reload)(void *ctx, odin_err *err);
    /* Asks the server to shut down; must return at once (the answer is sent before it stops). */
    void (*quit)(void *ctx);
} web_lifecycle_provider;

typedef struct {
    void *ctx;
    /* Writes a snapshot under <data dir>/snapshots/ and returns its directory name (from a). */
    int (*snapshot)(void *ctx, bool skip_head, odin_arena *a, const char **name, odin_err *err);
    int (*delete_series)(void *ctx, const tsdb_matcher *ms, size_t n, int64_t mint, int64_t maxt,
                         odin_err *err);
    int (*clean_tombstones)(void *ctx, odin_err *err);
} web_admin_provider;

/* ---- The API ---------------------------------------------------------------------------------- */

typedef struct {
    tsdb *db;                      /* required; borrowed, must outlive the web_api */
    promql_engine *engine;         /* NULL: query endpoints answer "unavailable" */
    bool enable_admin_api;         /* --web.enable-admin-api */
    bool enable_lifecycle;         /* --web.enable-lifecycle */
    const char *version;           /* buildinfo's version; NULL = ODIN_VERSION */
    const char *storage_retention; /* runtimeinfo's storageRetention, e.g. "15d"; NULL = "" */
    /* /api/v1/status/flags: every flag and its value, copied. */
    const char *const *flag_names;
    const char *const *flag_values;
    size_t nflags;
    int64_t lookback_delta_ms;     /* /federate's window (--query.lookback-delta); 0 = 5m */
    web_scrape_provider scrape;    /* zero callbacks = no targets, no metadata */
    web_rules_provider rules;      /* zero = no rules, no alerts */
    web_lifecycle_provider lifecycle;
    web_admin_provider admin;
} web_opts;

/* Builds the API (not yet serving). NULL with err when opts lack the tsdb. */
web_api *web_api_new(const web_opts *opts, odin_err *err);
/* Registers every route on srv; call once, before the server gets requests. The web_api must
 * outlive the server (stop the server first, then web_api_free). */
void web_api_register(web_api *api, http_server *srv);
/* NULL is fine. */
void web_api_free(web_api *api);

/* While not ready, /-/ready and every /api/v1 endpoint answer 503 "Service Unavailable" (as
 * Prometheus during WAL replay). A new web_api is ready. */
void web_api_set_ready(web_api *api, bool ready);
/* The loaded configuration as YAML (copied) for /api/v1/status/config, and whether the last
 * reload succeeded, at t_ms (runtimeinfo's reloadConfigSuccess, lastConfigTime). */
void web_api_set_config(web_api *api, const char *yaml, bool reload_ok, int64_t t_ms);
/* The configuration's global external_labels (copied; sorted by name), which /federate adds to
 * every series that lacks them. Any thread. */
void web_api_set_external_labels(web_api *api, odin_labels ls);

#endif

/* `odin server`: loads prometheus.yml, opens the tsdb, and serves scraping, PromQL and the
 * Prometheus HTTP API until a signal stops it. SIGHUP and /-/reload reload the configuration. */
#include "http/http.h"
#include "promql/promql.h"
#include "scrape/scrape.h"
#include "server/server_int.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The running server. Built by server_run, which owns every part; `cfg` changes on reload under
 * `cfg_lock` (readers: the status handlers through web, which get a copy). */
typedef struct {
    server_flags flags;
    const char *config_path;
    const char *embedded_config; /* `odin up`: used instead of reading config_path */
    tsdb *db;
    promql_engine *engine;
    scrape_manager *scrape;
    web_api *web;
    http_server *http;
    pthread_mutex_t cfg_lock;
    scrape_config *cfg;
    double start_time_s;
    int64_t lookback_delta_ms; /* --query.lookback-delta, for /federate */
} server;

static int load_config(server *s, scrape_config **out, odin_err *err)
{
    if (s->embedded_config) {
        *out = scrape_config_parse(s->embedded_config, strlen(s->embedded_config),
                                   "embedded config", err);
    } else {
        *out = scrape_config_load(s->config_path, err);
    }
    return *out ? 0 : -ODIN_ERR_INVALID;
}

/* Applies a freshly loaded configuration; the old one is freed only after the scrape manager has
 * moved to the new one, since it borrows it. */
static int server_reload(void *ctx, odin_err *err)
{
    server *s = ctx;
    scrape_config *c;
    if (load_config(s, &c, err) < 0) {
        web_api_set_config(s->web, s->cfg ? s->cfg->text : "", false, odin_now_ms());
        return -ODIN_ERR_INVALID;
    }
    if (scrape_manager_apply(s->scrape, c, err) < 0) {
        scrape_config_free(c);
        return -ODIN_ERR_INVALID;
    }
    pthread_mutex_lock(&s->cfg_lock);
    scrape_config *old = s->cfg;
    s->cfg = c;
    pthread_mutex_unlock(&s->cfg_lock);
    web_api_set_config(s->web, c->text ? c->text : "", true, odin_now_ms());
    web_api_set_external_labels(s->web, (odin_labels){c->external_labels, c->nexternal_labels});
    scrape_config_free(old);
    odin_log(ODIN_LOG_INFO, "server", "completed loading of configuration file", "filename",
             s->embedded_config ? "embedded" : s->config_path, NULL);
    return 0;
}

static void server_quit(void *ctx)
{
    (void)ctx;
    kill(getpid(), SIGTERM);
}

/* ---- scrape provider: /api/v1/targets from the manager's snapshot ---- */

static int provide_targets(void *ctx, odin_arena *a, web_targets *out, odin_err *err)
{
    (void)err;
    server *s = ctx;
    scrape_targets_snapshot snap;
    scrape_manager_targets(s->scrape, &snap);
    size_t nact = 0, ndrop = 0;
    for (size_t i = 0; i < snap.len; i++) {
        if (snap.v[i].dropped) {
            ndrop++;
        } else {
            nact++;
        }
    }
    web_target *act = odin_arena_zalloc(a, (nact + 1) * sizeof(*act));
    web_dropped_target *drop = odin_arena_zalloc(a, (ndrop + 1) * sizeof(*drop));
    const char **pools = odin_arena_zalloc(a, (snap.len + 1) * sizeof(*pools));
    size_t *counts = odin_arena_zalloc(a, (snap.len + 1) * sizeof(*counts));
    if (!act || !drop || !pools || !counts) {
        scrape_targets_snapshot_fini(&snap);
        return odin_err_set(err, ODIN_ERR_LIMIT, "too many targets for one answer");
    }
    size_t ia = 0, id = 0, np = 0;
    for (size_t i = 0; i < snap.len; i++) {
        const scrape_target_info *t = &snap.v[i];
        /* copy what web reads after the snapshot is gone */
        odin_labels disc = t->discovered, lab = t->labels;
        odin_label *dv = odin_arena_alloc(a, (disc.len + 1) * sizeof(*dv));
        odin_label *lv = odin_arena_alloc(a, (lab.len + 1) * sizeof(*lv));
        for (size_t k = 0; k < disc.len; k++) {
            dv[k].name = odin_str_c(odin_arena_strndup(a, disc.v[k].name.p, disc.v[k].name.len));
            dv[k].value =
                odin_str_c(odin_arena_strndup(a, disc.v[k].value.p, disc.v[k].value.len));
        }
        for (size_t k = 0; k < lab.len; k++) {
            lv[k].name = odin_str_c(odin_arena_strndup(a, lab.v[k].name.p, lab.v[k].name.len));
            lv[k].value = odin_str_c(odin_arena_strndup(a, lab.v[k].value.p, lab.v[k].value.len));
        }
        const char *job = odin_arena_strdup(a, t->job ? t->job : "");
        size_t p = 0;
        while (p < np && strcmp(pools[p], job) != 0) {
            p++;
        }
        if (p == np) {
            pools[np++] = job;
        }
        if (t->dropped) {
            counts[p]++;
            drop[id++] = (web_dropped_target){{dv, disc.len}, job};
            continue;
        }
        web_target_health h = strcmp(t->health, "up") == 0     ? WEB_HEALTH_UP
                              : strcmp(t->health, "down") == 0 ? WEB_HEALTH_DOWN
                                                               : WEB_HEALTH_UNKNOWN;
        act[ia++] = (web_target){
            .discovered_labels = {dv, disc.len},
            .labels = {lv, lab.len},
            .scrape_pool = job,
            .scrape_url = odin_arena_strdup(a, t->scrape_url ? t->scrape_url : ""),
            .global_url = t->global_url ? odin_arena_strdup(a, t->global_url) : NULL,
            .last_error = odin_arena_strdup(a, t->last_error ? t->last_error : ""),
            .last_scrape_ms = t->last_scrape_ms,
            .last_scrape_duration_s = t->last_duration_s,
            .health = h,
            .scrape_interval_ms = t->interval_ms,
            .scrape_timeout_ms = t->timeout_ms,
        };
    }
    scrape_targets_snapshot_fini(&snap);
    *out = (web_targets){act, ia, drop, id, pools, counts, np};
    return 0;
}

/* ---- scrape provider: /api/v1/metadata and /api/v1/targets/metadata ---- */

static int provide_metadata(void *ctx, odin_arena *a, const web_metadata **out, size_t *n,
                            odin_err *err)
{
    server *s = ctx;
    scrape_metadata *md = NULL;
    size_t len = 0;
    if (s->scrape && scrape_manager_metadata(s->scrape, a, &md, &len, err) < 0) {
        return -ODIN_ERR_LIMIT;
    }
    web_metadata *v = odin_arena_alloc(a, (len + 1) * sizeof(*v));
    if (!v) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "too much metadata for one answer");
    }
    for (size_t i = 0; i < len; i++) {
        v[i] = (web_metadata){md[i].target, md[i].metric, md[i].type, md[i].help, md[i].unit};
    }
    *out = v;
    *n = len;
    return 0;
}

/* ---- /metrics: the server's own metrics under Prometheus' names ---- */

/* One family line set per Prometheus name, so dashboards and alerts written for Prometheus'
 * self-metrics (prometheus_tsdb_*, process_*) work against Odin. */
typedef struct {
    const char *name;
    const char *type;
    const char *help;
    double value;
} self_metric;

static void handle_metrics(void *ctx, http_request *req, http_response *resp)
{
    (void)req;
    server *s = ctx;
    tsdb_stats st;
    tsdb_get_stats(s->db, &st);
    const self_metric m[] = {
        {"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
         odin_cpu_seconds()},
        {"process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.", s->start_time_s},
        {"prometheus_tsdb_blocks_loaded", "gauge", "Number of currently loaded data blocks",
         (double)st.blocks},
        {"prometheus_tsdb_checkpoint_creations_failed_total", "counter",
         "Total number of checkpoint creations that failed.",
         (double)st.checkpoint_creations_failed},
        {"prometheus_tsdb_checkpoint_creations_total", "counter",
         "Total number of checkpoint creations attempted.", (double)st.checkpoint_creations},
        {"prometheus_tsdb_checkpoint_deletions_total", "counter",
         "Total number of checkpoint deletions attempted.", (double)st.checkpoint_deletions},
        {"prometheus_tsdb_compactions_failed_total", "counter",
         "Total number of compactions that failed for the partition.",
         (double)st.compactions_failed},
        {"prometheus_tsdb_compactions_total", "counter",
         "Total number of compactions that were executed for the partition.",
         (double)st.compactions},
        {"prometheus_tsdb_head_chunks", "gauge", "Total number of chunks in the head block.",
         (double)st.head_chunks},
        {"prometheus_tsdb_head_chunks_created_total", "counter",
         "Total number of chunks created in the head", (double)st.head_chunks_created},
        {"prometheus_tsdb_head_chunks_removed_total", "counter",
         "Total number of chunks removed in the head", (double)st.head_chunks_removed},
        {"prometheus_tsdb_head_max_time", "gauge", "Maximum timestamp of the head block.",
         st.head_max_t == INT64_MIN ? (double)INT64_MIN : (double)st.head_max_t},
        {"prometheus_tsdb_head_min_time", "gauge", "Minimum time bound of the head block.",
         st.head_min_t == INT64_MAX ? (double)INT64_MAX : (double)st.head_min_t},
        {"prometheus_tsdb_head_samples_appended_total", "counter",
         "Total number of appended samples.", (double)st.samples_appended},
        {"prometheus_tsdb_head_series", "gauge", "Total number of series in the head block.",
         (double)st.head_series},
        {"prometheus_tsdb_head_series_created_total", "counter",
         "Total number of series created in the head", (double)st.head_series_created},
        {"prometheus_tsdb_head_series_removed_total", "counter",
         "Total number of series removed in the head", (double)st.head_series_removed},
        {"prometheus_tsdb_head_truncations_total", "counter",
         "Total number of head truncations attempted.", (double)st.head_truncations},
        {"prometheus_tsdb_lowest_timestamp", "gauge",
         "Lowest timestamp value stored in the database. The unit is decided by the library "
         "consumer.",
         (double)st.lowest_timestamp},
        {"prometheus_tsdb_out_of_bound_samples_total", "counter",
         "Total number of out of bound samples ingestion failed attempts with out of order "
         "support disabled.",
         (double)st.out_of_bounds_samples},
        {"prometheus_tsdb_out_of_order_samples_total", "counter",
         "Total number of out of order samples ingestion failed attempts due to out of order "
         "being disabled.",
         (double)st.out_of_order_samples},
        {"prometheus_tsdb_retention_limit_bytes", "gauge",
         "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled",
         (double)st.retention_bytes},
        {"prometheus_tsdb_storage_blocks_bytes", "gauge",
         "The number of bytes that are currently used for local storage by all blocks.",
         (double)st.storage_bytes},
        {"prometheus_tsdb_wal_corruptions_total", "counter", "Total number of WAL corruptions.",
         (double)st.wal_corruptions},
        {"prometheus_tsdb_wal_fsync_duration_seconds_count", "counter", "Number of WAL fsyncs.",
         (double)st.wal_fsyncs},
        {"prometheus_tsdb_wal_storage_size_bytes", "gauge", "Size of the write log directory.",
         (double)st.wal_bytes},
        {"prometheus_tsdb_wal_truncations_total", "counter",
         "Total number of write log truncations attempted.", (double)st.wal_truncations},
    };
    odin_strbuf *b = &resp->body;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(m); i++) {
        odin_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s ", m[i].name, m[i].help, m[i].name,
                           m[i].type, m[i].name);
        odin_strbuf_put_double(b, m[i].value);
        odin_strbuf_putc(b, '\n');
    }
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- admin provider: the /api/v1/admin/tsdb/ calls, behind --web.enable-admin-api ---- */

static int admin_snapshot(void *ctx, bool skip_head, odin_arena *a, const char **name,
                          odin_err *err)
{
    server *s = ctx;
    odin_strbuf out;
    odin_strbuf_init(&out, 0);
    int rc = tsdb_snapshot(s->db, !skip_head, &out, err);
    if (rc == 0) {
        *name = odin_arena_strndup(a, out.p ? out.p : "", out.len);
    }
    odin_strbuf_fini(&out);
    return rc;
}

static int admin_delete(void *ctx, const tsdb_matcher *ms, size_t n, int64_t mint, int64_t maxt,
                        odin_err *err)
{
    server *s = ctx;
    return tsdb_delete_series(s->db, ms, n, mint, maxt, err);
}

static int admin_clean(void *ctx, odin_err *err)
{
    server *s = ctx;
    return tsdb_clean_tombstones(s->db, err);
}

/* ---- startup ---- */

static int parse_duration_flag(const server_flags *f, const char *name, int64_t *out,
                               odin_err *err)
{
    const char *v = server_flag(f, name);
    if (!v || !*v) {
        *out = 0;
        return 0;
    }
    if (odin_parse_duration_ms(odin_str_c(v), out) < 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "--%s: invalid duration \"%.64s\"", name, v);
    }
    return 0;
}

static int open_storage(server *s, odin_err *err)
{
    tsdb_opts o = {.dir = server_flag(&s->flags, "storage.tsdb.path"),
                   .external_labels = {s->cfg->external_labels, s->cfg->nexternal_labels}};
    int64_t v;
    if (parse_duration_flag(&s->flags, "storage.tsdb.retention.time", &o.retention_ms, err) < 0 ||
        parse_duration_flag(&s->flags, "storage.tsdb.min-block-duration", &o.block_range_ms,
                            err) < 0 ||
        parse_duration_flag(&s->flags, "storage.tsdb.max-block-duration", &o.max_block_range_ms,
                            err) < 0 ||
        parse_duration_flag(&s->flags, "storage.tsdb.wal-fsync-interval", &v, err) < 0) {
        return -ODIN_ERR_INVALID;
    }
    o.wal_fsync_ms = v;
    if (o.retention_ms == 0 &&
        parse_duration_flag(&s->flags, "storage.tsdb.retention", &o.retention_ms, err) < 0) {
        return -ODIN_ERR_INVALID;
    }
    const char *enc = server_flag(&s->flags, "storage.tsdb.chunk-encoding");
    if (enc && *enc && strcmp(enc, "xor") != 0 && strcmp(enc, "odin") != 0) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "--storage.tsdb.chunk-encoding: \"%.64s\" is neither xor nor odin", enc);
    }
    o.odin_chunks = enc && strcmp(enc, "odin") == 0;
    const char *size = server_flag(&s->flags, "storage.tsdb.retention.size");
    if (server_parse_bytes(size, &o.retention_bytes) < 0) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "--storage.tsdb.retention.size: invalid size \"%.64s\"", size);
    }
    s->db = tsdb_open(&o, err);
    return s->db ? 0 : -ODIN_ERR_IO;
}

static int start_query(server *s, odin_err *err)
{
    promql_engine_opts qo = {0};
    int64_t ms;
    if (parse_duration_flag(&s->flags, "query.lookback-delta", &qo.lookback_delta_ms, err) < 0 ||
        parse_duration_flag(&s->flags, "query.timeout", &qo.timeout_ms, err) < 0) {
        return -ODIN_ERR_INVALID;
    }
    (void)ms;
    uint64_t n;
    if (odin_parse_u64(odin_str_c(server_flag(&s->flags, "query.max-samples")), &n) < 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "--query.max-samples: not a number");
    }
    qo.max_samples = n;
    if (odin_parse_u64(odin_str_c(server_flag(&s->flags, "query.max-concurrency")), &n) < 0 ||
        n > 10000) {
        return odin_err_set(err, ODIN_ERR_INVALID, "--query.max-concurrency: not a number");
    }
    qo.max_concurrency = (int)n;
    s->lookback_delta_ms = qo.lookback_delta_ms;
    s->engine = promql_engine_new(&qo);
    return 0;
}

static int start_web(server *s, odin_err *err)
{
    const server_flag_def *defs = server_flag_defs();
    web_opts wo = {
        .db = s->db,
        .engine = s->engine,
        .enable_admin_api = server_flag_bool(&s->flags, "web.enable-admin-api"),
        .enable_lifecycle = server_flag_bool(&s->flags, "web.enable-lifecycle"),
        .storage_retention = server_flag(&s->flags, "storage.tsdb.retention.time"),
        .lookback_delta_ms = s->lookback_delta_ms,
        .nflags = s->flags.n,
        .flag_values = s->flags.values,
        .scrape = {.ctx = s, .targets = provide_targets, .metadata = provide_metadata},
        .lifecycle = {.ctx = s, .reload = server_reload, .quit = server_quit},
        .admin = {.ctx = s,
                  .snapshot = admin_snapshot,
                  .delete_series = admin_delete,
                  .clean_tombstones = admin_clean},
    };
    const char **names = odin_calloc(s->flags.n + 1, sizeof(*names));
    for (size_t i = 0; i < s->flags.n; i++) {
        names[i] = defs[i].name;
    }
    wo.flag_names = names;
    s->web = web_api_new(&wo, err);
    free(names);
    if (!s->web) {
        return -ODIN_ERR_INVALID;
    }
    /* as Prometheus: 503 "Service Unavailable" until the first configuration is applied */
    web_api_set_ready(s->web, false);
    http_server_opts ho = {.listen_address = server_flag(&s->flags, "web.listen-address"),
                           .threads = 4,
                           .web_config_file = server_flag(&s->flags, "web.config.file"),
                           .gated = true};
    s->http = http_server_start(&ho, err);
    if (!s->http) {
        return -ODIN_ERR_IO;
    }
    http_server_route(s->http, "GET", "/metrics", handle_metrics, s);
    web_api_register(s->web, s->http);
    http_server_open(s->http);
    return 0;
}

static void server_free(server *s)
{
    http_server_stop(s->http);
    scrape_manager_free(s->scrape);
    web_api_free(s->web);
    promql_engine_free(s->engine);
    tsdb_close(s->db);
    scrape_config_free(s->cfg);
    pthread_mutex_destroy(&s->cfg_lock);
    server_flags_fini(&s->flags);
}

static int server_run(server *s)
{
    odin_err err = {0};
    int rc = 1;
    if (odin_log_set_level(server_flag(&s->flags, "log.level")) < 0) {
        fprintf(stderr, "odin: error: --log.level: unknown level\n");
        return 2;
    }
    s->config_path = server_flag(&s->flags, "config.file");
    s->start_time_s = odin_now_s();
    pthread_mutex_init(&s->cfg_lock, NULL);
    if (load_config(s, &s->cfg, &err) < 0) {
        odin_log(ODIN_LOG_ERROR, "server", "error loading config", "file", s->config_path, "err",
                 err.msg, NULL);
        goto out;
    }
    odin_log(ODIN_LOG_INFO, "server", "starting Odin server", "version", ODIN_VERSION, NULL);
    if (open_storage(s, &err) < 0 || start_query(s, &err) < 0) {
        odin_log(ODIN_LOG_ERROR, "server", "cannot start", "err", err.msg, NULL);
        goto out;
    }
    int64_t tolerance_ms;
    if (parse_duration_flag(&s->flags, "scrape.timestamp-tolerance", &tolerance_ms, &err) < 0) {
        odin_log(ODIN_LOG_ERROR, "server", "cannot start", "err", err.msg, NULL);
        goto out;
    }
    scrape_set_timestamp_alignment(server_flag_bool(&s->flags, "scrape.adjust-timestamps"),
                                   tolerance_ms);
    /* before the web server: its handlers (targets, metadata, reload) use the manager at once */
    s->scrape = scrape_manager_new(s->db);
    if (start_web(s, &err) < 0) {
        odin_log(ODIN_LOG_ERROR, "server", "cannot start", "err", err.msg, NULL);
        goto out;
    }
    web_api_set_config(s->web, s->cfg->text ? s->cfg->text : "", true, odin_now_ms());
    web_api_set_external_labels(s->web,
                                (odin_labels){s->cfg->external_labels, s->cfg->nexternal_labels});
    if (scrape_manager_apply(s->scrape, s->cfg, &err) < 0) {
        odin_log(ODIN_LOG_ERROR, "server", "cannot start scraping", "err", err.msg, NULL);
        goto out;
    }
    web_api_set_ready(s->web, true);
    odin_log(ODIN_LOG_INFO, "server", "server is ready to receive web requests", "address",
             server_flag(&s->flags, "web.listen-address"), NULL);
    for (;;) {
        int sig = http_signals_wait(true);
        if (sig != SIGHUP) {
            odin_log(ODIN_LOG_INFO, "server", "received signal, exiting gracefully", "signal",
                     sig == SIGTERM ? "terminated" : "interrupt", NULL);
            break;
        }
        odin_err rerr = {0};
        if (server_reload(s, &rerr) < 0) {
            odin_log(ODIN_LOG_ERROR, "server", "error reloading config", "err", rerr.msg, NULL);
        }
    }
    rc = 0;
out:
    server_free(s);
    return rc;
}

static int parse_or_usage(server *s, int argc, char **argv, const char *role)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            odin_strbuf u;
            odin_strbuf_init(&u, 0);
            server_flags_usage(&u, role);
            fwrite(u.p, 1, u.len, stdout);
            odin_strbuf_fini(&u);
            return 0;
        }
    }
    odin_err err = {0};
    if (server_flags_parse(&s->flags, argc, argv, &err) < 0) {
        fprintf(stderr, "odin %s: error: %s, try --help\n", role, err.msg);
        server_flags_fini(&s->flags);
        return 2;
    }
    return -1;
}

/* Runs with a configuration given as text (`odin up`); signals are already blocked. */
int server_up_run(const char *config_text, int argc, char **argv)
{
    server s;
    memset(&s, 0, sizeof(s));
    int rc = parse_or_usage(&s, argc, argv, "up");
    if (rc >= 0) {
        return rc;
    }
    s.embedded_config = config_text;
    return server_run(&s);
}

int server_main(int argc, char **argv)
{
    http_signals_block();
    server s;
    memset(&s, 0, sizeof(s));
    int rc = parse_or_usage(&s, argc, argv, "server");
    if (rc >= 0) {
        return rc;
    }
    return server_run(&s);
}

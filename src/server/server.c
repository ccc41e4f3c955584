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
#include <stdatomic.h>
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
    /* for /metrics: prometheus_ready and prometheus_config_last_reload_* */
    _Atomic bool ready, reload_ok;
    _Atomic int64_t reload_ok_ms;
} server;

/* The outcome of a configuration (re)load, for /metrics and the status page. */
static void note_config(server *s, bool ok, const char *yaml)
{
    int64_t now = odin_now_ms();
    atomic_store(&s->reload_ok, ok);
    if (ok) {
        atomic_store(&s->reload_ok_ms, now);
    }
    web_api_set_config(s->web, yaml ? yaml : "", ok, now);
}

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
        note_config(s, false, s->cfg ? s->cfg->text : "");
        return -ODIN_ERR_INVALID;
    }
    if (scrape_manager_apply(s->scrape, c, err) < 0) {
        scrape_config_free(c);
        note_config(s, false, s->cfg ? s->cfg->text : "");
        return -ODIN_ERR_INVALID;
    }
    pthread_mutex_lock(&s->cfg_lock);
    scrape_config *old = s->cfg;
    s->cfg = c;
    pthread_mutex_unlock(&s->cfg_lock);
    note_config(s, true, c->text);
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

static void handle_metrics(void *ctx, http_request *req, http_response *resp)
{
    (void)req;
    server *s = ctx;
    server_self in = {
        .start_time_s = s->start_time_s,
        .ready = atomic_load(&s->ready),
        .reload_ok = atomic_load(&s->reload_ok),
        .reload_ok_time_s = (double)atomic_load(&s->reload_ok_ms) / 1000.0,
    };
    tsdb_get_stats(s->db, &in.tsdb);
    odin_arena a;
    odin_arena_init(&a, 0);
    scrape_manager_stats(s->scrape, &a, &in.scrape);
    server_self_metrics(&resp->body, &in);
    odin_arena_fini(&a);
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
    o.wal_compression = server_flag_bool(&s->flags, "storage.tsdb.wal-compression");
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
    note_config(s, true, s->cfg->text);
    web_api_set_external_labels(s->web,
                                (odin_labels){s->cfg->external_labels, s->cfg->nexternal_labels});
    if (scrape_manager_apply(s->scrape, s->cfg, &err) < 0) {
        odin_log(ODIN_LOG_ERROR, "server", "cannot start scraping", "err", err.msg, NULL);
        goto out;
    }
    web_api_set_ready(s->web, true);
    atomic_store(&s->ready, true);
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

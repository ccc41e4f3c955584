/* The agent role: builds collectors from flags, runs them on each scrape, serves /metrics. */
#include "agent/core.h"
#include "http/http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

static const agent_desc d_duration = {"node_scrape_collector_duration_seconds",
                                      "node_exporter: Duration of a collector scrape.",
                                      EXPFMT_GAUGE,
                                      {"collector", NULL}};
static const agent_desc d_success = {"node_scrape_collector_success",
                                     "node_exporter: Whether a collector succeeded.",
                                     EXPFMT_GAUGE,
                                     {"collector", NULL}};
/* Kept under node_exporter's name so dashboards that show the exporter version keep working. */
static const agent_desc d_build = {
    "node_exporter_build_info",
    "A metric with a constant '1' value labeled by version, revision, branch, goversion from which "
    "node_exporter was built, and the goos and goarch for the build.",
    EXPFMT_GAUGE,
    {"branch", "goarch", "goos", "goversion", "revision", "tags", "version", NULL}};
static const agent_desc d_req_total = {"promhttp_metric_handler_requests_total",
                                       "Total number of scrapes by HTTP status code.",
                                       EXPFMT_COUNTER,
                                       {"code", NULL}};
static const agent_desc d_req_inflight = {"promhttp_metric_handler_requests_in_flight",
                                          "Current number of scrapes being served.",
                                          EXPFMT_GAUGE,
                                          {NULL}};
static const agent_desc d_errors = {
    "promhttp_metric_handler_errors_total",
    "Total number of internal errors encountered by the promhttp metric handler.",
    EXPFMT_COUNTER,
    {"cause", NULL}};

typedef struct agent_http {
    agent *ag;
    _Atomic unsigned long served;
    _Atomic int inflight;
    /* The last page's length: the next one is made in a buffer of about that size from the start
     * instead of growing it by doubling (eight reallocations and copies for a 54 KB page). */
    _Atomic size_t last_len;
} agent_http;

static size_t count_collectors(void)
{
    size_t n = 0;
    while (agent_collectors[n]) {
        n++;
    }
    return n;
}

/* Go's GOARCH for the build info, from uname's machine; written into out (at least 65 bytes). */
static void goarch(char *out, size_t cap)
{
    struct utsname u;
    const char *m = uname(&u) != 0 ? "unknown" : u.machine;
    if (strcmp(m, "x86_64") == 0) {
        m = "amd64";
    } else if (strcmp(m, "aarch64") == 0) {
        m = "arm64";
    }
    size_t n = strnlen(m, cap - 1);
    memcpy(out, m, n);
    out[n] = '\0';
}

agent *agent_new(int argc, char **argv, odin_err *err)
{
    agent *ag = odin_calloc(1, sizeof(*ag));
    ag->ncollectors = count_collectors();
    ag->collectors = odin_calloc(ag->ncollectors + 1, sizeof(*ag->collectors));
    for (size_t i = 0; i < ag->ncollectors; i++) {
        ag->collectors[i].def = agent_collectors[i];
    }
    pthread_mutex_init(&ag->lock, NULL);
    agent_scrape_init(&ag->scrape, ag);
    ag->start_time_s = odin_now_s();
    goarch(ag->goarch, sizeof(ag->goarch));
    if (agent_flags_parse(ag, argc, argv, err) < 0) {
        agent_free(ag);
        return NULL;
    }
    ag->procfs = agent_flag(ag, "path.procfs");
    ag->sysfs = agent_flag(ag, "path.sysfs");
    ag->rootfs = agent_flag(ag, "path.rootfs");
    ag->udev = agent_flag(ag, "path.udev.data");
    ag->sysfs_live = agent_path_is(ag->sysfs, "/sys");
    for (size_t i = 0; i < ag->ncollectors; i++) {
        agent_collector *c = &ag->collectors[i];
        if (!c->enabled || !c->def->init) {
            continue;
        }
        if (c->def->init(ag, &c->state, err) < 0) {
            odin_err_prefix(err, "collector %s: ", c->def->name);
            c->enabled = false;
            agent_free(ag);
            return NULL;
        }
    }
    return ag;
}

void agent_free(agent *ag)
{
    if (!ag) {
        return;
    }
    agent_stop(ag);
    for (size_t i = 0; i < ag->ncollectors; i++) {
        agent_collector *c = &ag->collectors[i];
        if (c->state && c->def->fini) {
            c->def->fini(c->state);
        }
    }
    agent_scrape_fini(&ag->scrape);
    pthread_mutex_destroy(&ag->lock);
    agent_flags_free(ag);
    free(ag->collectors);
    free(ag);
}

bool agent_collector_enabled(const agent *ag, const char *name)
{
    for (size_t i = 0; i < ag->ncollectors; i++) {
        if (strcmp(ag->collectors[i].def->name, name) == 0) {
            return ag->collectors[i].enabled;
        }
    }
    return false;
}

static void run_collector(agent_scrape *sc, agent_collector *c)
{
    odin_err err = {0};
    int64_t t0 = odin_mono_ns();
    int rc = c->def->collect(sc, c->state, &err);
    double dur = (double)(odin_mono_ns() - t0) / 1e9;
    const char *name[] = {c->def->name};
    agent_emit(sc, &d_duration, dur, name);
    agent_emit(sc, &d_success, rc < 0 ? 0 : 1, name);
    if (rc < 0) {
        odin_log(rc == -ODIN_ERR_UNAVAILABLE ? ODIN_LOG_DEBUG : ODIN_LOG_ERROR, "agent",
                 "collector failed", "name", c->def->name, "duration_seconds",
                 agent_fmt_double(sc, dur), "err", err.msg, NULL);
    }
}

static void scrape_locked(agent *ag, agent_http *h, odin_strbuf *out)
{
    agent_scrape *sc = &ag->scrape;
    agent_scrape_begin(sc);
    for (size_t i = 0; i < ag->ncollectors; i++) {
        if (ag->collectors[i].enabled) {
            run_collector(sc, &ag->collectors[i]);
        }
    }
    const char *build[] = {"", ag->goarch, "linux", "odin", "", "", ODIN_VERSION};
    agent_emit(sc, &d_build, 1, build);
    if (!agent_flag_bool(ag, "web.disable-exporter-metrics")) {
        agent_process_collect(sc, ag->start_time_s);
        unsigned long served = h ? atomic_load(&h->served) : 0;
        static const char *const codes[] = {"200", "500", "503"};
        for (size_t i = 0; i < 3; i++) {
            agent_emit(sc, &d_req_total, i == 0 ? (double)served : 0, &codes[i]);
        }
        agent_emit(sc, &d_req_inflight, h ? atomic_load(&h->inflight) : 1, NULL);
        static const char *const causes[] = {"encoding", "gathering"};
        for (size_t i = 0; i < 2; i++) {
            agent_emit(sc, &d_errors, 0, &causes[i]);
        }
    }
    agent_scrape_render(sc, out);
}

static void agent_scrape_served(agent *ag, agent_http *h, odin_strbuf *out)
{
    pthread_mutex_lock(&ag->lock);
    scrape_locked(ag, h, out);
    /* Once more after the first served scrape: the set-up's code (flag parsing, pcre2_compile
     * and its tables, the collectors' init) is not needed again, and what a scrape runs comes
     * back once. Only in `odin agent`'s own process: `odin up`'s other roles load and unload
     * libraries, and a range unmapped and reused between reading smaps and madvise would lose
     * its data. */
    if (ag->own_process && ag->scrape.generation == 1) {
        agent_drop_unused_file_pages();
    }
    pthread_mutex_unlock(&ag->lock);
}

void agent_scrape_text(agent *ag, odin_strbuf *out)
{
    agent_scrape_served(ag, NULL, out);
}

static void handle_metrics(void *ctx, http_request *req, http_response *resp)
{
    (void)req;
    agent_http *h = ctx;
    atomic_fetch_add(&h->inflight, 1);
    size_t hint = atomic_load(&h->last_len);
    if (hint > 0) {
        odin_strbuf_reserve(&resp->body, hint + hint / 16);
    }
    agent_scrape_served(h->ag, h, &resp->body);
    atomic_store(&h->last_len, resp->body.len);
    atomic_fetch_sub(&h->inflight, 1);
    /* promhttp counts a request after it is served; the first scrape reports 0 */
    atomic_fetch_add(&h->served, 1);
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void handle_landing(void *ctx, http_request *req, http_response *resp)
{
    agent_http *h = ctx;
    if (strcmp(http_request_path(req), "/") != 0) {
        resp->status = 404;
        odin_strbuf_puts(&resp->body, "404 page not found\n");
        return;
    }
    const char *path = agent_flag(h->ag, "web.telemetry-path");
    resp->content_type = "text/html; charset=utf-8";
    odin_strbuf_printf(&resp->body,
                       "<!DOCTYPE html>\n<html><head><title>Odin agent</title></head><body>\n"
                       "<h1>Odin agent</h1>\n<p>Host metrics under node_exporter's names.</p>\n"
                       "<ul><li><a href=\"%s\">Metrics</a></li></ul>\n<p>Version %s</p>\n"
                       "</body></html>\n",
                       path, ODIN_VERSION);
}

int agent_start(agent *ag, odin_err *err)
{
    agent_http *h = odin_calloc(1, sizeof(*h));
    h->ag = ag;
    /* The small built-in backend: libmicrohttpd would map GnuTLS (2.3 MiB) for TLS never served. */
    http_server_opts opts = {.listen_address = agent_flag(ag, "web.listen-address"),
                             .backend = HTTP_BACKEND_SMALL,
                             .web_config_file = agent_flag(ag, "web.config.file"),
                             .gated = true};
    http_server *srv = http_server_start(&opts, err);
    if (!srv) {
        free(h);
        return -ODIN_ERR_IO;
    }
    http_server_route(srv, "GET", agent_flag(ag, "web.telemetry-path"), handle_metrics, h);
    http_server_route(srv, "GET", "/*", handle_landing, h);
    http_server_open(srv);
    ag->http = srv;
    ag->served = h;
    odin_strbuf port;
    odin_strbuf_init(&port, 32);
    odin_strbuf_put_i64(&port, http_server_port(srv));
    odin_log(ODIN_LOG_INFO, "agent", "listening", "address", opts.listen_address, "port", port.p,
             NULL);
    odin_strbuf_fini(&port);
    return 0;
}

void agent_stop(agent *ag)
{
    if (ag->http) {
        http_server_stop(ag->http);
        ag->http = NULL;
    }
    free(ag->served);
    ag->served = NULL;
}

int agent_main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            odin_strbuf u;
            odin_strbuf_init(&u, 0);
            agent_flags_usage(&u);
            fwrite(u.p, 1, u.len, stdout);
            odin_strbuf_fini(&u);
            return 0;
        }
    }
    http_signals_block();
    odin_err err = {0};
    agent *ag = agent_new(argc, argv, &err);
    if (!ag) {
        fprintf(stderr, "odin agent: error: %s\n", err.msg);
        return 2;
    }
    if (odin_log_set_level(agent_flag(ag, "log.level")) < 0) {
        fprintf(stderr, "odin agent: error: --log.level: unknown level \"%s\"\n",
                agent_flag(ag, "log.level"));
        agent_free(ag);
        return 2;
    }
    for (size_t i = 0; i < ag->ncollectors; i++) {
        if (ag->collectors[i].enabled) {
            odin_log(ODIN_LOG_INFO, "agent", "enabled collector", "collector",
                     ag->collectors[i].def->name, NULL);
        }
    }
    /* after the collectors' set-up (which loads what they need), before the server's threads */
    ag->own_process = true;
    /* libdeflate (gzip answers, http/gzip.c) too, so that its unused pages are dropped with the
     * others: a library opened later keeps every page the kernel maps around its faults */
    (void)odin_gzipper_preload();
    agent_drop_unused_file_pages();
    if (agent_start(ag, &err) < 0) {
        odin_log(ODIN_LOG_ERROR, "agent", "cannot listen", "err", err.msg, NULL);
        agent_free(ag);
        return 1;
    }
    int sig = http_signals_wait(false);
    odin_log(ODIN_LOG_INFO, "agent", "shutting down", "signal", sig == 15 ? "SIGTERM" : "SIGINT",
             NULL);
    agent_free(ag);
    return 0;
}

/* The web_api object, route registration, the error table and JSON envelopes, the shared
 * parameter helpers, and the management endpoints (/-/healthy, /-/ready, /-/reload, /-/quit). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "web/web_int.h"

#define JSON_TYPE "application/json"
/* Caps the number of match[] values one request may carry. */
#define MAX_MATCH_PARAMS 256

/* ---- Errors ----------------------------------------------------------------------------------- */

/* The one table from errorType to its name and HTTP status. Matches Prometheus' api.go
 * (getDefaultErrorCode): canceled is 499 and unavailable falls to its default of 500. */
static const struct {
    const char *name;
    int status;
} err_types[] = {
    [WEB_ERR_BAD_DATA] = {"bad_data", 400},  [WEB_ERR_EXECUTION] = {"execution", 422},
    [WEB_ERR_CANCELED] = {"canceled", 499},  [WEB_ERR_TIMEOUT] = {"timeout", 503},
    [WEB_ERR_INTERNAL] = {"internal", 500},  [WEB_ERR_NOT_FOUND] = {"not_found", 404},
    [WEB_ERR_UNAVAILABLE] = {"unavailable", 500},
};

web_err_type web_err_type_of(int code)
{
    switch (code < 0 ? -code : code) {
    case ODIN_ERR_PARSE:
    case ODIN_ERR_INVALID:
        return WEB_ERR_BAD_DATA;
    case ODIN_ERR_LIMIT:
    case ODIN_ERR_CONFLICT:
        return WEB_ERR_EXECUTION;
    case ODIN_ERR_NOTFOUND:
        return WEB_ERR_NOT_FOUND;
    case ODIN_ERR_TIMEOUT:
        return WEB_ERR_TIMEOUT;
    case ODIN_ERR_CANCELED:
        return WEB_ERR_CANCELED;
    case ODIN_ERR_UNAVAILABLE:
        return WEB_ERR_UNAVAILABLE;
    default:
        return WEB_ERR_INTERNAL; /* IO, CORRUPT, INTERNAL */
    }
}

void web_respond_error(http_response *resp, web_err_type type, const char *msg)
{
    odin_strbuf_reset(&resp->body);
    resp->status = err_types[type].status;
    resp->content_type = JSON_TYPE;
    odin_strbuf_puts(&resp->body, "{\"status\":\"error\",\"errorType\":\"");
    odin_strbuf_puts(&resp->body, err_types[type].name);
    odin_strbuf_puts(&resp->body, "\",\"error\":");
    web_json_put_string(&resp->body, msg, strlen(msg));
    odin_strbuf_putc(&resp->body, '}');
}

void web_respond_begin(http_response *resp, web_json *j)
{
    resp->status = 200;
    resp->content_type = JSON_TYPE;
    odin_strbuf_puts(&resp->body, "{\"status\":\"success\",\"data\":");
    web_json_init(j, &resp->body);
}

void web_respond_end(http_response *resp, web_json *j, const char *const *warnings,
                     size_t nwarnings)
{
    (void)j;
    if (nwarnings > 0) {
        odin_strbuf_puts(&resp->body, ",\"warnings\":[");
        for (size_t i = 0; i < nwarnings; i++) {
            if (i > 0) {
                odin_strbuf_putc(&resp->body, ',');
            }
            web_json_put_string(&resp->body, warnings[i], strlen(warnings[i]));
        }
        odin_strbuf_putc(&resp->body, ']');
    }
    odin_strbuf_putc(&resp->body, '}');
    if (!odin_strbuf_ok(&resp->body)) {
        resp->body.overflow = false;
        web_respond_error(resp, WEB_ERR_INTERNAL, "response too large");
    }
}

/* ---- Shared parameters ------------------------------------------------------------------------ */

bool web_time_param(http_request *req, http_response *resp, const char *name, int64_t def,
                    int64_t *out)
{
    const char *v = http_request_param(req, name);
    if (v == NULL || v[0] == '\0') {
        *out = def;
        return true;
    }
    odin_err err;
    odin_err_clear(&err);
    if (web_parse_time(odin_str_c(v), out, &err) == 0) {
        return true;
    }
    odin_err_prefix(&err, "invalid parameter \"%s\": invalid time value for '%s': ", name, name);
    web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
    return false;
}

bool web_match_params(http_request *req, http_response *resp, bool prefix_param,
                      web_matcher_set **sets, size_t *nsets)
{
    const char *vals[MAX_MATCH_PARAMS + 1];
    size_t n = http_request_params(req, "match[]", vals, ODIN_ARRAY_LEN(vals));
    *sets = NULL;
    *nsets = 0;
    if (n > MAX_MATCH_PARAMS) {
        web_respond_error(resp, WEB_ERR_BAD_DATA, "too many match[] parameters");
        return false;
    }
    if (n == 0) {
        return true;
    }
    odin_arena *a = http_request_arena(req);
    web_matcher_set *out = odin_arena_zalloc(a, n * sizeof *out);
    if (out == NULL) {
        web_respond_error(resp, WEB_ERR_INTERNAL, "request memory limit reached");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        odin_err err;
        odin_err_clear(&err);
        if (web_parse_selector(odin_str_c(vals[i]), a, &out[i].ms, &out[i].n, &err) < 0) {
            if (prefix_param) {
                odin_err_prefix(&err, "invalid parameter \"match[]\": ");
            }
            web_respond_error(resp, web_err_type_of(err.code), err.msg);
            return false;
        }
    }
    *sets = out;
    *nsets = n;
    return true;
}

bool web_limit_param(http_request *req, http_response *resp, size_t *out)
{
    const char *v = http_request_param(req, "limit");
    *out = 0;
    if (v == NULL || v[0] == '\0') {
        return true;
    }
    int64_t n;
    if (odin_parse_i64(odin_str_c(v), &n) < 0) {
        odin_strbuf q;
        odin_strbuf_init(&q, 512);
        web_put_quoted(&q, odin_str_c(v));
        odin_err err;
        odin_err_clear(&err);
        odin_err_set(&err, ODIN_ERR_PARSE,
                     "invalid parameter \"limit\": strconv.Atoi: parsing %s: invalid syntax", q.p);
        odin_strbuf_fini(&q);
        web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
        return false;
    }
    if (n < 0) {
        web_respond_error(resp, WEB_ERR_BAD_DATA,
                          "invalid parameter \"limit\": limit must be non-negative");
        return false;
    }
    *out = (size_t)n;
    return true;
}

/* ---- Routes ----------------------------------------------------------------------------------- */

static void route_entry(void *ctx, http_request *req, http_response *resp)
{
    const web_route_ctx *rc = ctx;
    if (rc->needs_ready && !atomic_load(&rc->api->ready)) {
        /* Matches Prometheus' testReady: plain text, not the JSON envelope. */
        resp->status = 503;
        http_response_header(resp, "X-Prometheus-Stopping", "false");
        odin_strbuf_puts(&resp->body, "Service Unavailable");
        return;
    }
    rc->fn(rc->api, req, resp);
}

void web_route(web_api *api, http_server *srv, const char *method, const char *path, web_fn fn,
               bool needs_ready)
{
    ODIN_ASSERT(api->nroutes < WEB_MAX_ROUTES);
    web_route_ctx *rc = &api->routes[api->nroutes++];
    *rc = (web_route_ctx){.api = api, .fn = fn, .needs_ready = needs_ready};
    http_server_route(srv, method, path, route_entry, rc);
}

void web_route_get_post(web_api *api, http_server *srv, const char *path, web_fn fn)
{
    web_route(api, srv, "GET", path, fn, true);
    web_route(api, srv, "POST", path, fn, true);
}

/* ---- Management endpoints --------------------------------------------------------------------- */

static void text(http_response *resp, int status, const char *body)
{
    resp->status = status;
    odin_strbuf_puts(&resp->body, body);
}

static void handle_healthy(web_api *api, http_request *req, http_response *resp)
{
    (void)api, (void)req;
    text(resp, 200, "Prometheus Server is Healthy.\n");
}

static void handle_ready(web_api *api, http_request *req, http_response *resp)
{
    (void)api, (void)req;
    text(resp, 200, "Prometheus Server is Ready.\n");
}

static void handle_lifecycle_off(web_api *api, http_request *req, http_response *resp)
{
    (void)api, (void)req;
    text(resp, 403, "Lifecycle API is not enabled.");
}

static void handle_post_only(web_api *api, http_request *req, http_response *resp)
{
    (void)api, (void)req;
    text(resp, 405, "Only POST or PUT requests allowed");
}

static void handle_reload(web_api *api, http_request *req, http_response *resp)
{
    (void)req;
    if (api->lifecycle.reload == NULL) {
        text(resp, 500, "failed to reload config: reloading is not supported by this server\n");
        return;
    }
    odin_err err;
    odin_err_clear(&err);
    if (api->lifecycle.reload(api->lifecycle.ctx, &err) < 0) {
        resp->status = 500;
        odin_strbuf_printf(&resp->body, "failed to reload config: %s\n", err.msg);
    }
}

static void handle_quit(web_api *api, http_request *req, http_response *resp)
{
    (void)req;
    if (atomic_exchange(&api->quitting, true)) {
        text(resp, 200, "Termination already in progress.");
        return;
    }
    text(resp, 200, "Requesting termination... Goodbye!");
    if (api->lifecycle.quit != NULL) {
        api->lifecycle.quit(api->lifecycle.ctx);
    }
}

static void register_management(web_api *api, http_server *srv)
{
    web_route(api, srv, "GET", "/-/healthy", handle_healthy, false);
    web_route(api, srv, "GET", "/-/ready", handle_ready, true);
    web_fn reload = api->enable_lifecycle ? handle_reload : handle_lifecycle_off;
    web_fn quit = api->enable_lifecycle ? handle_quit : handle_lifecycle_off;
    web_route(api, srv, "POST", "/-/reload", reload, false);
    web_route(api, srv, "PUT", "/-/reload", reload, false);
    web_route(api, srv, "GET", "/-/reload", handle_post_only, false);
    web_route(api, srv, "POST", "/-/quit", quit, false);
    web_route(api, srv, "PUT", "/-/quit", quit, false);
    web_route(api, srv, "GET", "/-/quit", handle_post_only, false);
}

/* ---- Lifecycle of the web_api ----------------------------------------------------------------- */

static int flag_order(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void copy_flags(web_api *api, const web_opts *opts)
{
    api->nflags = opts->nflags;
    api->flag_names = odin_calloc(opts->nflags + 1, sizeof(char *));
    api->flag_values = odin_calloc(opts->nflags + 1, sizeof(char *));
    /* Sorted together: each name is followed by its value in one allocation. */
    for (size_t i = 0; i < opts->nflags; i++) {
        const char *n = opts->flag_names[i] ? opts->flag_names[i] : "";
        const char *v = opts->flag_values[i] ? opts->flag_values[i] : "";
        size_t nl = strlen(n);
        size_t vl = strlen(v);
        char *p = odin_malloc(nl + vl + 2);
        memcpy(p, n, nl + 1);
        memcpy(p + nl + 1, v, vl + 1);
        api->flag_names[i] = p;
    }
    qsort(api->flag_names, api->nflags, sizeof(char *), flag_order);
    for (size_t i = 0; i < api->nflags; i++) {
        api->flag_values[i] = api->flag_names[i] + strlen(api->flag_names[i]) + 1;
    }
}

web_api *web_api_new(const web_opts *opts, odin_err *err)
{
    if (opts == NULL || opts->db == NULL) {
        odin_err_set(err, ODIN_ERR_INVALID, "web: a tsdb is required");
        return NULL;
    }
    web_api *api = odin_calloc(1, sizeof *api);
    api->db = opts->db;
    api->engine = opts->engine;
    api->enable_admin = opts->enable_admin_api;
    api->enable_lifecycle = opts->enable_lifecycle;
    api->version = odin_strdup(opts->version ? opts->version : ODIN_VERSION);
    api->storage_retention = odin_strdup(opts->storage_retention ? opts->storage_retention : "");
    char buf[PATH_MAX];
    api->cwd = odin_strdup(getcwd(buf, sizeof buf) != NULL ? buf : "<error retrieving current working directory>");
    api->hostname = odin_strdup(gethostname(buf, 256) == 0 ? buf : "");
    api->start_ms = odin_now_ms();
    copy_flags(api, opts);
    api->scrape = opts->scrape;
    api->rules = opts->rules;
    api->lifecycle = opts->lifecycle;
    api->admin = opts->admin;
    atomic_init(&api->ready, true);
    atomic_init(&api->quitting, false);
    pthread_mutex_init(&api->lock, NULL);
    api->lookback_delta_ms = opts->lookback_delta_ms > 0 ? opts->lookback_delta_ms : 5 * 60 * 1000;
    api->config_yaml = odin_strdup("");
    api->reload_ok = true;
    api->last_config_ms = api->start_ms;
    return api;
}

void web_api_register(web_api *api, http_server *srv)
{
    register_management(api, srv);
    web_register_query(api, srv);
    web_register_series(api, srv);
    web_register_targets(api, srv);
    web_register_status(api, srv);
    web_register_federate(api, srv);
}

void web_api_free(web_api *api)
{
    if (api == NULL) {
        return;
    }
    for (size_t i = 0; i < api->nflags; i++) {
        free(api->flag_names[i]);
    }
    free(api->flag_names);
    free(api->flag_values);
    free(api->version);
    free(api->storage_retention);
    free(api->cwd);
    free(api->hostname);
    free(api->config_yaml);
    free(api->external.v);
    free(api->external_storage);
    pthread_mutex_destroy(&api->lock);
    free(api);
}

void web_api_set_ready(web_api *api, bool ready)
{
    atomic_store(&api->ready, ready);
}

void web_api_set_config(web_api *api, const char *yaml, bool reload_ok, int64_t t_ms)
{
    char *copy = odin_strdup(yaml != NULL ? yaml : "");
    pthread_mutex_lock(&api->lock);
    char *old = api->config_yaml;
    api->config_yaml = copy;
    api->reload_ok = reload_ok;
    api->last_config_ms = t_ms;
    pthread_mutex_unlock(&api->lock);
    free(old);
}

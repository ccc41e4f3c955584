/* What both server backends do with a request once its head and body are in: the accessors
 * handlers call, routing to a handler, parameters, and the reply (status, headers, body gzipped
 * when the client accepts it). The backends only move bytes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/server_int.h"

static const char FORM_TYPE[] = "application/x-www-form-urlencoded";

const char *http_request_method(const http_request *req)
{
    return req->method;
}

const char *http_request_path(const http_request *req)
{
    return req->path;
}

const char *http_request_param(const http_request *req, const char *name)
{
    for (size_t i = 0; i < req->params.len; i++) {
        if (strcmp(req->params.v[i].name, name) == 0) {
            return req->params.v[i].value;
        }
    }
    return NULL;
}

size_t http_request_params(const http_request *req, const char *name, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < req->params.len && n < max; i++) {
        if (strcmp(req->params.v[i].name, name) == 0) {
            out[n++] = req->params.v[i].value;
        }
    }
    return n;
}

const char *http_request_header(const http_request *req, const char *name)
{
    return req->header(req, name);
}

const char *http_request_body(const http_request *req, size_t *len)
{
    if (len != NULL) {
        *len = req->body.len;
    }
    return req->body.len > 0 ? req->body.p : "";
}

odin_arena *http_request_arena(http_request *req)
{
    return &req->arena;
}

void http_response_header(http_response *resp, const char *name, const char *value)
{
    if (resp->nheaders >= ODIN_ARRAY_LEN(resp->header_names)) {
        odin_log(ODIN_LOG_WARN, "http", "response header dropped: at most 8 extra headers",
                 "header", name, NULL);
        return;
    }
    resp->header_names[resp->nheaders] = name;
    resp->header_values[resp->nheaders] = value;
    resp->nheaders++;
}

/* ---- Request lifecycle ----------------------------------------------------------------------- */

void http_request_init(http_request *req, http_server *s)
{
    *req = (http_request){.srv = s};
    odin_arena_init(&req->arena, HTTP_REQUEST_ARENA_CAP_BYTES);
    odin_strbuf_init(&req->body, s->max_body_bytes);
}

void http_request_clear(http_request *req)
{
    /* Runs the handler's arena cleanups now, on the worker, as http.h promises. */
    odin_arena_reset(&req->arena);
    odin_strbuf_reset(&req->body);
    req->conn = NULL;
    req->method = NULL;
    req->path = NULL;
    req->too_large = false;
    req->params_full = false;
    req->params = (http_params){0};
    req->nextra = 0;
}

void http_request_fini(http_request *req)
{
    odin_arena_fini(&req->arena);
    odin_strbuf_fini(&req->body);
    http_gzip_stream_free(req->gzip);
    req->gzip = NULL;
}

/* ---- Replies --------------------------------------------------------------------------------- */

void http_response_init(http_response *resp)
{
    *resp = (http_response){.status = 200};
    odin_strbuf_init(&resp->body, 0);
}

static void reply_header(http_reply *r, const char *name, const char *value)
{
    if (r->nheaders < HTTP_REPLY_MAX_HEADERS) {
        r->names[r->nheaders] = name;
        r->values[r->nheaders] = value;
        r->nheaders++;
    }
}

/* Whether a header name or value could split the response (CR, LF or NUL inside). */
static bool header_safe(const char *name, const char *value)
{
    return name != NULL && value != NULL && name[0] != '\0' &&
           strpbrk(name, "\r\n: \t") == NULL && strpbrk(value, "\r\n") == NULL;
}

/* Turns the handler's response into a reply, compressing the body when the client accepts gzip.
 * The body's memory passes to the reply. */
static void build_reply(http_request *req, http_response *resp, http_reply *reply)
{
    if (!odin_strbuf_ok(&resp->body)) {
        odin_log(ODIN_LOG_ERROR, "http", "response body over its cap", "path", req->path, NULL);
        odin_strbuf_fini(&resp->body);
        http_response_init(resp);
        resp->status = 500;
        odin_strbuf_puts(&resp->body, "500 response too large\n");
    }
    *reply = (http_reply){.status = resp->status};
    if (reply->status < 100 || reply->status > 999) {
        reply->status = 500;
    }
    size_t len = 0;
    char *body = odin_strbuf_take(&resp->body, &len);
    odin_strbuf_fini(&resp->body);
    bool eligible = !resp->no_gzip && len > HTTP_GZIP_MIN_BYTES;
    bool gzipped = false;
    if (eligible && http_accepts_gzip(http_request_header(req, "Accept-Encoding"))) {
        size_t zlen = 0;
        char *z = http_gzip_kept(&req->gzip, body, len, &zlen);
        if (z != NULL && zlen < len) {
            free(body);
            body = z;
            len = zlen;
            gzipped = true;
        } else {
            free(z);
        }
    }
    if (len == 0) {
        free(body);
        body = NULL;
    }
    reply->body = body;
    reply->len = len;
    reply_header(reply, "Content-Type",
                 resp->content_type ? resp->content_type : "text/plain; charset=utf-8");
    if (eligible) {
        reply_header(reply, "Vary", "Accept-Encoding");
    }
    if (gzipped) {
        reply_header(reply, "Content-Encoding", "gzip");
    }
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (header_safe(resp->header_names[i], resp->header_values[i])) {
            reply_header(reply, resp->header_names[i], resp->header_values[i]);
        } else {
            odin_log(ODIN_LOG_WARN, "http", "invalid response header dropped", "header",
                     resp->header_names[i] ? resp->header_names[i] : "", NULL);
        }
    }
    for (size_t i = 0; i < req->nextra; i++) {
        reply_header(reply, req->extra_names[i], req->extra_values[i]);
    }
}

void http_reply_text(http_request *req, int status, const char *text, const char *allow,
                     http_reply *reply)
{
    http_response resp;
    http_response_init(&resp);
    resp.status = status;
    odin_strbuf_puts(&resp.body, text);
    if (allow != NULL) {
        http_response_header(&resp, "Allow", allow);
    }
    build_reply(req, &resp, reply);
}

static bool is_form(const char *content_type)
{
    size_t n = sizeof FORM_TYPE - 1;
    if (content_type == NULL || strncasecmp(content_type, FORM_TYPE, n) != 0) {
        return false;
    }
    char c = content_type[n];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

void http_dispatch(http_request *req, const char *query, size_t query_len, http_reply *reply)
{
    if (atomic_load(&req->srv->gated)) {
        http_server_wait_open(req->srv);
    }
    if (req->srv->web != NULL && !http_web_admit(req->srv->web, req, reply)) {
        return;
    }
    if (req->too_large) {
        http_reply_text(req, 413, "413 request body too large\n", NULL, reply);
        return;
    }
    bool path_matched = false;
    const http_route *rt = http_route_find(req->srv, req->method, req->path, &path_matched);
    if (rt == NULL && path_matched) {
        http_reply_text(req, 405, "405 method not allowed\n", http_route_allowed(req), reply);
        return;
    }
    if (rt == NULL) {
        http_reply_text(req, 404, "404 page not found\n", NULL, reply);
        return;
    }
    if (is_form(http_request_header(req, "Content-Type"))) {
        odin_err err = {0};
        odin_str text = {req->body.p, req->body.len};
        if (http_form_parse(text, &req->arena, &req->params, &err) < 0) {
            http_reply_text(req, 413, "413 request too large\n", NULL, reply);
            return;
        }
    }
    if (query != NULL) {
        odin_err err = {0};
        odin_str text = {query, query_len};
        req->params_full = http_form_parse(text, &req->arena, &req->params, &err) < 0;
    } else if (req->collect_query != NULL) {
        req->collect_query(req);
    }
    if (req->params_full) {
        http_reply_text(req, 413, "413 request too large\n", NULL, reply);
        return;
    }
    http_response resp;
    http_response_init(&resp);
    rt->fn(rt->ctx, req, &resp);
    build_reply(req, &resp, reply);
}

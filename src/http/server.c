/* The HTTP server on libmicrohttpd: binding the listen address, routing by method and path,
 * collecting query and form parameters and the body, and sending responses (gzip when allowed).
 * Compression itself is in gzip.c; signal handling in signals.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "http/http_int.h"

enum {
    DEFAULT_TIMEOUT_S = 30,
    /* Bodies at or under this size go out as they are: gzip's 18-byte frame and the CPU cost buy
     * nothing on them. */
    GZIP_MIN_BYTES = 256,
    /* Idle request states kept for reuse, each with its warm arena. */
    REQUEST_POOL_MAX = 16,
    /* A pooled request keeps a body buffer up to this size; bigger ones go back to malloc. */
    BODY_KEEP_BYTES = 64 * 1024,
    /* A declared Content-Length sizes the body buffer up to this much before the bytes arrive. */
    BODY_RESERVE_BYTES = 1024 * 1024,
};
#define DEFAULT_MAX_BODY_BYTES ((size_t)16 << 20)
/* Caps what one handler may allocate from its request arena; query answers are built in the
 * response strbuf, so the arena only holds parameters and scratch data. */
#define REQUEST_ARENA_CAP_BYTES ((size_t)256 << 20)
/* libmicrohttpd reads the request line and headers into this much per-connection memory (its
 * default is 32 KiB); long PromQL in a GET query string needs more. */
#define CONNECTION_MEMORY_BYTES ((size_t)128 << 10)

static const char FORM_TYPE[] = "application/x-www-form-urlencoded";

typedef struct {
    char *method;   /* NULL: any method */
    char *path;     /* without the trailing '*' of a prefix route */
    size_t path_len;
    bool prefix;
    http_handler_fn fn;
    void *ctx;
} http_route;

/* Per-request state, handed to libmicrohttpd as the request's closure. Used by one worker
 * thread at a time; pooled in its server between requests. */
struct http_request {
    http_server *srv;
    struct MHD_Connection *conn;
    const char *method;  /* libmicrohttpd's copy, valid until the request completes */
    const char *path;
    odin_strbuf body;    /* capped at the server's max_body_bytes */
    bool too_large;
    bool params_full;    /* the arena could not take another query pair */
    http_params params;  /* form body pairs first, then query pairs (Go's r.Form order) */
    odin_arena arena;
    http_request *next_free;
};

/* Owned by whoever called http_server_start; freed by http_server_stop. */
struct http_server {
    /* Fixed once started. */
    struct MHD_Daemon *daemon;
    char *address;
    int port;
    int timeout_s;
    size_t max_body_bytes;
    /* Written by http_server_route before serving starts, then only read (http.h). */
    http_route *routes;
    size_t nroutes;
    size_t routes_cap;
    /* Set once by http_server_stop; read by workers to close keep-alive connections. */
    atomic_bool stopping;
    /* mu guards everything below it. */
    pthread_mutex_t mu;
    pthread_cond_t idle;  /* signalled when inflight drops to zero */
    size_t inflight;
    http_request *free_reqs;
    size_t nfree;
};

/* ---- Form decoding --------------------------------------------------------------------------- */

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

size_t http_url_decode(char *p, size_t len)
{
    size_t w = 0;
    for (size_t r = 0; r < len; r++) {
        char c = p[r];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && r + 2 < len) {
            int hi = hex_val(p[r + 1]);
            int lo = hex_val(p[r + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (char)(hi * 16 + lo);
                r += 2;
            }
        }
        p[w++] = c;
    }
    return w;
}

int http_params_push(http_params *ps, odin_arena *a, const char *name, const char *value)
{
    if (ps->len == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        http_param *v = odin_arena_alloc(a, cap * sizeof *v);
        if (v == NULL) {
            return -ODIN_ERR_LIMIT;
        }
        if (ps->len > 0) {
            memcpy(v, ps->v, ps->len * sizeof *v);
        }
        ps->v = v;
        ps->cap = cap;
    }
    ps->v[ps->len++] = (http_param){name, value};
    return 0;
}

/* Copies s into the arena, decoded and NUL-terminated; NULL when the arena is full. */
static char *decode_dup(odin_arena *a, odin_str s)
{
    char *out = odin_arena_strndup(a, s.p, s.len);
    if (out == NULL) {
        return NULL;
    }
    out[http_url_decode(out, s.len)] = '\0';
    return out;
}

int http_form_parse(odin_str text, odin_arena *a, http_params *ps, odin_err *err)
{
    while (text.len > 0) {
        odin_str pair = odin_str_cut(&text, '&');
        if (pair.len == 0) {
            continue;
        }
        odin_str name = odin_str_cut(&pair, '=');
        char *n = decode_dup(a, name);
        char *v = n ? decode_dup(a, pair) : NULL;
        if (v == NULL || http_params_push(ps, a, n, v) < 0) {
            return odin_err_set(err, ODIN_ERR_LIMIT, "form body: request arena cap reached");
        }
    }
    return 0;
}

/* ---- Request accessors ----------------------------------------------------------------------- */

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
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
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

/* ---- Request pool ---------------------------------------------------------------------------- */

static http_request *request_acquire(http_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->inflight++;
    http_request *req = s->free_reqs;
    if (req != NULL) {
        s->free_reqs = req->next_free;
        s->nfree--;
    }
    pthread_mutex_unlock(&s->mu);
    if (req == NULL) {
        req = odin_calloc(1, sizeof *req);
        req->srv = s;
        odin_arena_init(&req->arena, REQUEST_ARENA_CAP_BYTES);
        odin_strbuf_init(&req->body, s->max_body_bytes);
    }
    return req;
}

static void request_free(http_request *req)
{
    odin_arena_fini(&req->arena);
    odin_strbuf_fini(&req->body);
    free(req);
}

static void request_release(http_server *s, http_request *req)
{
    /* Runs the handler's arena cleanups now, on the worker, as http.h promises. */
    odin_arena_reset(&req->arena);
    if (req->body.alloc > BODY_KEEP_BYTES) {
        odin_strbuf_fini(&req->body);
        odin_strbuf_init(&req->body, s->max_body_bytes);
    } else {
        odin_strbuf_reset(&req->body);
    }
    req->conn = NULL;
    req->method = NULL;
    req->path = NULL;
    req->too_large = false;
    req->params_full = false;
    req->params = (http_params){0};

    bool keep = false;
    pthread_mutex_lock(&s->mu);
    if (s->nfree < REQUEST_POOL_MAX) {
        req->next_free = s->free_reqs;
        s->free_reqs = req;
        s->nfree++;
        keep = true;
    }
    s->inflight--;
    if (s->inflight == 0) {
        pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->mu);
    if (!keep) {
        request_free(req);
    }
}

/* ---- Responses ------------------------------------------------------------------------------- */

static void response_init(http_response *resp)
{
    *resp = (http_response){.status = 200};
    odin_strbuf_init(&resp->body, 0);
}

static bool add_header(struct MHD_Response *r, const char *name, const char *value)
{
    if (MHD_add_response_header(r, name, value) == MHD_YES) {
        return true;
    }
    odin_log(ODIN_LOG_WARN, "http", "invalid response header dropped", "header", name, NULL);
    return false;
}

/* Turns the handler's response into libmicrohttpd's, compressing the body when the client
 * accepts gzip. The body's memory passes to libmicrohttpd, which frees it after sending. */
static struct MHD_Response *build_response(http_request *req, http_response *resp)
{
    size_t len = 0;
    char *body = odin_strbuf_take(&resp->body, &len);
    bool eligible = !resp->no_gzip && len > GZIP_MIN_BYTES;
    bool gzipped = false;
    if (eligible && http_accepts_gzip(http_request_header(req, "Accept-Encoding"))) {
        size_t zlen = 0;
        char *z = http_gzip(body, len, &zlen);
        if (z != NULL && zlen < len) {
            free(body);
            body = z;
            len = zlen;
            gzipped = true;
        } else {
            free(z);
        }
    }
    struct MHD_Response *r;
    if (len == 0) {
        free(body);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    }
    if (r == NULL) {
        if (len > 0) {
            free(body);
        }
        return NULL;
    }
    add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
               resp->content_type ? resp->content_type : "text/plain; charset=utf-8");
    if (eligible) {
        add_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    }
    if (gzipped) {
        add_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    }
    for (size_t i = 0; i < resp->nheaders; i++) {
        add_header(r, resp->header_names[i], resp->header_values[i]);
    }
    /* While stopping, keep-alive clients are told to go, so the wait for requests in flight
     * is not held up by their next request. */
    if (atomic_load(&req->srv->stopping)) {
        add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    return r;
}

/* Sends resp and frees its body. */
static enum MHD_Result send_response(http_request *req, http_response *resp)
{
    if (!odin_strbuf_ok(&resp->body)) {
        odin_log(ODIN_LOG_ERROR, "http", "response body over its cap", "path", req->path, NULL);
        odin_strbuf_fini(&resp->body);
        response_init(resp);
        resp->status = 500;
        odin_strbuf_puts(&resp->body, "500 response too large\n");
    }
    int status = resp->status;
    if (status < 100 || status > 999) {
        status = 500;
    }
    struct MHD_Response *r = build_response(req, resp);
    odin_strbuf_fini(&resp->body);
    if (r == NULL) {
        return MHD_NO;
    }
    enum MHD_Result rc = MHD_queue_response(req->conn, (unsigned int)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_text(http_request *req, int status, const char *text,
                                 const char *allow)
{
    http_response resp;
    response_init(&resp);
    resp.status = status;
    odin_strbuf_puts(&resp.body, text);
    if (allow != NULL) {
        http_response_header(&resp, "Allow", allow);
    }
    return send_response(req, &resp);
}

/* ---- Routing --------------------------------------------------------------------------------- */

void http_server_route(http_server *s, const char *method, const char *path, http_handler_fn fn,
                       void *ctx)
{
    if (s->nroutes == s->routes_cap) {
        s->routes_cap = s->routes_cap ? s->routes_cap * 2 : 16;
        s->routes = odin_realloc(s->routes, s->routes_cap * sizeof *s->routes);
    }
    size_t len = strlen(path);
    bool prefix = len > 0 && path[len - 1] == '*';
    if (prefix) {
        len--;
    }
    s->routes[s->nroutes++] = (http_route){
        .method = method ? odin_strdup(method) : NULL,
        .path = odin_strndup(path, len),
        .path_len = len,
        .prefix = prefix,
        .fn = fn,
        .ctx = ctx,
    };
}

/* How well a route's path matches: 0 for no match, else longer is better, and an exact route
 * beats a prefix route of the same length. */
static size_t route_score(const http_route *rt, const char *path, size_t path_len)
{
    if (rt->prefix) {
        if (path_len < rt->path_len || memcmp(path, rt->path, rt->path_len) != 0) {
            return 0;
        }
        return rt->path_len * 2 + 1;
    }
    if (path_len != rt->path_len || memcmp(path, rt->path, path_len) != 0) {
        return 0;
    }
    return rt->path_len * 2 + 2;
}

/* A GET route also answers HEAD; libmicrohttpd leaves the body out. */
static bool route_method_ok(const http_route *rt, const char *method)
{
    if (rt->method == NULL || strcmp(rt->method, method) == 0) {
        return true;
    }
    return strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0;
}

/* The best route for method and path; NULL when none, with *path_matched telling 404 from 405. */
static const http_route *route_find(const http_server *s, const char *method, const char *path,
                                    bool *path_matched)
{
    size_t path_len = strlen(path);
    const http_route *best = NULL;
    size_t best_score = 0;
    *path_matched = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        size_t score = route_score(&s->routes[i], path, path_len);
        if (score == 0) {
            continue;
        }
        *path_matched = true;
        if (score > best_score && route_method_ok(&s->routes[i], method)) {
            best = &s->routes[i];
            best_score = score;
        }
    }
    return best;
}

/* "GET, POST" for a 405's Allow header: the methods of every route whose path matches. */
static const char *allowed_methods(http_request *req)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 4096);
    size_t path_len = strlen(req->path);
    const http_server *s = req->srv;
    for (size_t i = 0; i < s->nroutes; i++) {
        const http_route *rt = &s->routes[i];
        if (rt->method == NULL || route_score(rt, req->path, path_len) == 0) {
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            const http_route *o = &s->routes[j];
            dup = o->method && strcmp(o->method, rt->method) == 0 &&
                  route_score(o, req->path, path_len) > 0;
        }
        if (!dup) {
            if (b.len > 0) {
                odin_strbuf_puts(&b, ", ");
            }
            odin_strbuf_puts(&b, rt->method);
        }
    }
    const char *out = odin_arena_strdup(&req->arena, b.len > 0 ? b.p : "");
    odin_strbuf_fini(&b);
    return out;
}

/* ---- libmicrohttpd callbacks ----------------------------------------------------------------- */

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    http_request *req = cls;
    if (http_params_push(&req->params, &req->arena, key, value ? value : "") < 0) {
        req->params_full = true;
        return MHD_NO;
    }
    return MHD_YES;
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

/* Runs once the whole request is in: parameters, route, handler, response. */
static enum MHD_Result dispatch(http_request *req)
{
    if (req->too_large) {
        return send_text(req, 413, "413 request body too large\n", NULL);
    }
    bool path_matched = false;
    const http_route *rt = route_find(req->srv, req->method, req->path, &path_matched);
    if (rt == NULL && path_matched) {
        return send_text(req, 405, "405 method not allowed\n", allowed_methods(req));
    }
    if (rt == NULL) {
        return send_text(req, 404, "404 page not found\n", NULL);
    }
    if (is_form(http_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        odin_err err = {0};
        odin_str text = {req->body.p, req->body.len};
        if (http_form_parse(text, &req->arena, &req->params, &err) < 0) {
            return send_text(req, 413, "413 request too large\n", NULL);
        }
    }
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, req);
    if (req->params_full) {
        return send_text(req, 413, "413 request too large\n", NULL);
    }
    http_response resp;
    response_init(&resp);
    rt->fn(rt->ctx, req, &resp);
    return send_response(req, &resp);
}

/* Checks a declared Content-Length against the cap before any byte of the body is read, and
 * sizes the body buffer for it. False when the body would be too large. */
static bool content_length_fits(http_request *req)
{
    const char *cl = http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    if (cl == NULL || odin_parse_u64(odin_str_c(cl), &n) < 0) {
        return true; /* libmicrohttpd itself rejects a malformed Content-Length */
    }
    if (n > req->srv->max_body_bytes) {
        return false;
    }
    /* Sized up front only to a point: a client may declare a large body and never send it. */
    if (n > 0) {
        uint64_t want = n < BODY_RESERVE_BYTES ? n : BODY_RESERVE_BYTES;
        (void)odin_strbuf_reserve(&req->body, (size_t)want);
    }
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    http_server *s = cls;
    http_request *req = *req_cls;
    if (req == NULL) {
        /* Headers are in; the body, if any, follows in later calls. */
        req = request_acquire(s);
        req->conn = conn;
        req->method = method;
        req->path = url;
        *req_cls = req;
        if (!content_length_fits(req)) {
            /* Answered before reading the body: libmicrohttpd then discards it and closes. */
            req->too_large = true;
            return dispatch(req);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!req->too_large) {
            odin_strbuf_put(&req->body, upload_data, *upload_data_size);
            req->too_large = !odin_strbuf_ok(&req->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    http_server *s = cls;
    http_request *req = *req_cls;
    if (req != NULL) {
        *req_cls = NULL;
        request_release(s, req);
    }
}

static void ODIN_PRINTF(2, 0) on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!odin_log_enabled(ODIN_LOG_DEBUG)) {
        return;
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 1024);
    odin_strbuf_vprintf(&b, fmt, ap);
    while (b.len > 0 && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == '\r')) {
        b.p[--b.len] = '\0';
    }
    odin_log(ODIN_LOG_DEBUG, "http", "libmicrohttpd message", "detail", b.p ? b.p : "", NULL);
    odin_strbuf_fini(&b);
}

/* ---- Listening ------------------------------------------------------------------------------- */

/* Splits "host:port", ":port" or "[v6]:port" (Go's net.SplitHostPort rules) into a host copied
 * into `host` (empty for all interfaces) and a port. */
static int split_host_port(const char *addr, char *host, size_t host_cap, uint16_t *port,
                           odin_err *err)
{
    const char *colon;
    const char *h = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL) {
            return odin_err_set(err, ODIN_ERR_INVALID, "listen address \"%.64s\": missing ']'",
                                addr);
        }
        if (end[1] != ':') {
            return odin_err_set(err, ODIN_ERR_INVALID, "listen address \"%.64s\": missing port",
                                addr);
        }
        h = addr + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            return odin_err_set(err, ODIN_ERR_INVALID, "listen address \"%.64s\": missing port",
                                addr);
        }
        hlen = (size_t)(colon - addr);
        if (memchr(addr, ':', hlen) != NULL) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "listen address \"%.64s\": too many colons (use [v6]:port)", addr);
        }
    }
    if (hlen >= host_cap) {
        return odin_err_set(err, ODIN_ERR_INVALID, "listen address \"%.64s\": host too long", addr);
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    uint64_t p = 0;
    if (odin_parse_u64(odin_str_c(colon + 1), &p) < 0 || p > 65535) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "listen address \"%.64s\": port must be a number from 0 to 65535",
                            addr);
    }
    *port = (uint16_t)p;
    return 0;
}

/* Socket bound and listening on sa, or -errno. */
static int bind_listen(const struct sockaddr *sa, socklen_t salen, bool dual_stack)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    /* As Go does: a restarted server can bind while old connections sit in TIME_WAIT. */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6) {
        int v6only = dual_stack ? 0 : 1;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (bind(fd, sa, salen) < 0 || listen(fd, SOMAXCONN) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Listening socket for "host:port"; an empty or unspecified host means every interface, IPv6 and
 * IPv4 on one socket where the kernel allows it. Returns the fd or a negative code with err
 * naming addr. */
static int listen_open(const char *addr, odin_err *err)
{
    if (addr == NULL || addr[0] == '\0') {
        return odin_err_set(err, ODIN_ERR_INVALID, "listen address is empty");
    }
    char host[256];
    uint16_t port = 0;
    int rc = split_host_port(addr, host, sizeof host, &port, err);
    if (rc < 0) {
        return rc;
    }
    /* Matches Go's net.Listen("tcp"), which Prometheus and node_exporter use: an empty host or
     * a literal unspecified address listens on every interface of both families. */
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
                                   .sin6_addr = IN6ADDR_ANY_INIT};
        int fd = bind_listen((struct sockaddr *)&sa6, sizeof sa6, true);
        if (fd == -EAFNOSUPPORT) {
            /* IPv6 disabled in this kernel or namespace. */
            struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons(port),
                                      .sin_addr.s_addr = htonl(INADDR_ANY)};
            fd = bind_listen((struct sockaddr *)&sa4, sizeof sa4, false);
        }
        if (fd < 0) {
            return odin_err_errno(err, -fd, "listen tcp %.64s", addr);
        }
        return fd;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "listen tcp %.64s: %s", addr,
                            gai == EAI_SYSTEM ? "lookup failed" : gai_strerror(gai));
    }
    int fd = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(port);
        } else if (ai->ai_family == AF_INET6) {
            ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(port);
        } else {
            continue;
        }
        fd = bind_listen(ai->ai_addr, ai->ai_addrlen, false);
    }
    freeaddrinfo(res);
    if (fd < 0) {
        return odin_err_errno(err, -fd, "listen tcp %.64s", addr);
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return -1;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* ---- Lifecycle ------------------------------------------------------------------------------- */

static void server_free(http_server *s)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i].method);
        free(s->routes[i].path);
    }
    free(s->routes);
    while (s->free_reqs != NULL) {
        http_request *req = s->free_reqs;
        s->free_reqs = req->next_free;
        request_free(req);
    }
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s->address);
    free(s);
}

http_server *http_server_start(const http_server_opts *opts, odin_err *err)
{
    int fd = listen_open(opts->listen_address, err);
    if (fd < 0) {
        return NULL;
    }
    http_server *s = odin_calloc(1, sizeof *s);
    s->address = odin_strdup(opts->listen_address);
    s->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : DEFAULT_TIMEOUT_S;
    s->max_body_bytes = opts->max_body_bytes > 0 ? opts->max_body_bytes : DEFAULT_MAX_BODY_BYTES;
    s->port = bound_port(fd);
    atomic_init(&s->stopping, false);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->idle, &ca);
    pthread_condattr_destroy(&ca);

    struct MHD_OptionItem ops[8];
    size_t n = 0;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_s, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                       (intptr_t)CONNECTION_MEMORY_BYTES, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s};
    if (opts->threads > 1) {
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, opts->threads, NULL};
    }
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* ITC makes MHD_quiesce_daemon possible, which the graceful stop needs. */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                         MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, ops,
                                 MHD_OPTION_END);
    if (s->daemon == NULL) {
        /* Not closing fd: libmicrohttpd closes a given listen socket on most of its failure
         * paths, and a double close could hit another thread's descriptor. */
        odin_err_set(err, ODIN_ERR_INTERNAL, "listen tcp %.64s: libmicrohttpd failed to start",
                     opts->listen_address);
        server_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info != NULL && info->port != 0) {
        s->port = info->port;
    }
    return s;
}

int http_server_port(const http_server *s)
{
    return s->port;
}

/* Waits until no request is in flight or the deadline passes. */
static void wait_idle(http_server *s, int64_t deadline_ns)
{
    pthread_mutex_lock(&s->mu);
    while (s->inflight > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        if (now_ns >= deadline_ns) {
            break;
        }
        struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000),
                                 .tv_nsec = (long)(deadline_ns % 1000000000)};
        pthread_cond_timedwait(&s->idle, &s->mu, &until);
    }
    size_t left = s->inflight;
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        odin_log(ODIN_LOG_WARN, "http", "stopping with requests still in flight", "address",
                 s->address, NULL);
    }
}

void http_server_stop(http_server *s)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->stopping, true);
    /* Stop accepting first: the socket closes now, so clients see a refusal, not a hang. */
    MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
    if (lfd != MHD_INVALID_SOCKET) {
        close(lfd);
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t start_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    /* A request in flight gets as long as an idle connection would before being cut. */
    wait_idle(s, start_ns + (int64_t)s->timeout_s * 1000000000);
    /* Closes the remaining (idle keep-alive) connections; their requests complete first. */
    MHD_stop_daemon(s->daemon);
    server_free(s);
}

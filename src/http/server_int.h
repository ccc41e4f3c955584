/* Private to src/http/: what the two server backends (server_mhd.c on libmicrohttpd,
 * server_small.c for the agent) share: the server and request layouts, the router, the listen
 * socket, and turning a handler's response into status, headers and body. */
#ifndef ODIN_HTTP_SERVER_INT_H
#define ODIN_HTTP_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"
#include "http/http_int.h"

enum {
    HTTP_DEFAULT_TIMEOUT_S = 30,
    /* Bodies at or under this size go out as they are: gzip's 18-byte frame and the CPU cost buy
     * nothing on them. */
    HTTP_GZIP_MIN_BYTES = 256,
    /* Headers a prepared reply can carry: the handler's 8 plus Content-Type, Vary,
     * Content-Encoding and Allow. */
    HTTP_REPLY_MAX_HEADERS = 18,
    /* Headers a web config may add (webconfig.c's list), plus WWW-Authenticate. */
    HTTP_WEB_MAX_HEADERS = 5,
};
#define HTTP_DEFAULT_MAX_BODY_BYTES ((size_t)16 << 20)
/* Caps what one handler may allocate from its request arena; query answers are built in the
 * response strbuf, so the arena only holds parameters and scratch data. */
#define HTTP_REQUEST_ARENA_CAP_BYTES ((size_t)256 << 20)

typedef struct {
    char *method;   /* NULL: any method */
    char *path;     /* without the trailing '*' of a prefix route */
    size_t path_len;
    bool prefix;
    http_handler_fn fn;
    void *ctx;
} http_route;

/* Per-request state. Used by one thread at a time. The backend fills method, path, params and
 * body, and supplies the header lookup. */
struct http_request {
    http_server *srv;
    const char *method;  /* NUL-terminated, valid until the request completes */
    const char *path;    /* decoded, without the query string */
    /* Header by case-insensitive name, the backend's; NULL when absent. */
    const char *(*header)(const http_request *req, const char *name);
    void *conn;          /* the backend's connection, for header() */
    /* Appends the query parameters to params (setting params_full when the arena is full); NULL
     * when the backend passes the raw query string to http_dispatch instead. */
    void (*collect_query)(http_request *req);
    odin_strbuf body;    /* capped at the server's max_body_bytes */
    bool too_large;
    bool params_full;    /* the arena could not take another query pair */
    http_params params;  /* form body pairs first, then query pairs (Go's r.Form order) */
    odin_arena arena;
    http_request *next_free;
    /* Headers the web config puts on this request's answer (strings static or in the arena). */
    const char *extra_names[HTTP_WEB_MAX_HEADERS + 1];
    const char *extra_values[HTTP_WEB_MAX_HEADERS + 1];
    size_t nextra;
    /* The deflate state replies from this request object reuse (gzip.c); NULL until first used. */
    http_gzip_stream *gzip;
};

typedef struct http_mhd http_mhd;
typedef struct http_small http_small;
typedef struct http_web http_web;

/* Owned by whoever called http_server_start; freed by http_server_stop. */
struct http_server {
    /* Fixed once started. */
    http_backend backend;
    char *address;
    int port;
    int timeout_s;
    size_t max_body_bytes;
    http_mhd *mhd;     /* set for HTTP_BACKEND_MHD */
    http_small *small; /* set for HTTP_BACKEND_SMALL */
    http_web *web;     /* --web.config.file, or NULL */
    /* Written by http_server_route before serving starts, then only read (http.h). */
    http_route *routes;
    size_t nroutes;
    size_t routes_cap;
    /* Set once by http_server_stop; read by workers to close keep-alive connections. */
    atomic_bool stopping;
    /* While set, http_dispatch waits on gate_cv (http_server_open or _stop clear it). */
    atomic_bool gated;
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
};

/* ---- Routing (router.c) ---------------------------------------------------------------------- */

/* The best route for method and path; NULL when none, with *path_matched telling 404 from 405. */
const http_route *http_route_find(const http_server *s, const char *method, const char *path,
                                  bool *path_matched);
/* "GET, POST" for a 405's Allow header, in the request's arena. */
const char *http_route_allowed(http_request *req);

/* ---- Listening (listen.c) -------------------------------------------------------------------- */

/* Listening, non-blocking socket for "host:port", ":port" or "[v6]:port"; an empty or unspecified
 * host means every interface of both families. The fd, or a negative code with err naming addr. */
int http_listen_open(const char *addr, odin_err *err);
/* The port fd is bound to; -1 on error. */
int http_bound_port(int fd);

/* ---- Requests and replies (request.c) -------------------------------------------------------- */

void http_request_init(http_request *req, http_server *s);
/* Clears per-request state for reuse; runs the arena's cleanups. */
void http_request_clear(http_request *req);
void http_request_fini(http_request *req);

/* A response ready for the wire. body is malloc'd (or NULL when len is 0); the header strings are
 * static, the handler's, or in the request arena. */
typedef struct {
    int status;
    char *body;
    size_t len;
    const char *names[HTTP_REPLY_MAX_HEADERS];
    const char *values[HTTP_REPLY_MAX_HEADERS];
    size_t nheaders;
} http_reply;

void http_response_init(http_response *resp);
/* Runs routing, parameter collection and the handler for a request whose head and body are in;
 * query is the raw query string (without '?'), or NULL when req->collect_query supplies them.
 * Fills reply; the caller frees reply->body. */
void http_dispatch(http_request *req, const char *query, size_t query_len, http_reply *reply);
/* Blocks while the server is gated (http_server_opts.gated). */
void http_server_wait_open(http_server *s);
/* A plain-text answer (404, 413, ...) with an optional Allow header. */
void http_reply_text(http_request *req, int status, const char *text, const char *allow,
                     http_reply *reply);

/* ---- Web config file (webconfig.c, webauth.c) ------------------------------------------------ */

typedef struct {
    char *name;
    char *hash; /* bcrypt */
} http_web_user;

/* What a web config file says. Heap-owned; http_web_settings_fini frees it. */
typedef struct {
    http_web_user *users;
    size_t nusers;
    char *header_values[HTTP_WEB_MAX_HEADERS]; /* by http_web_header_name index; NULL: unset */
    int64_t rate_interval_ms;                  /* 0: no rate limit */
    int rate_burst;
    bool tls;
    char *tls_cert, *tls_key; /* PEM */
    char *tls_priorities;     /* GnuTLS priority string for the allowed versions */
} http_web_settings;

/* Reads and checks the file; errors name "file:line:col". out is empty on failure. */
int http_web_settings_load(const char *path, http_web_settings *out, odin_err *err);
/* The same over text already read; path names it in messages and anchors relative file paths.
 * read_files false skips reading the certificate and key (the fuzz target). */
int http_web_settings_parse(const char *text, size_t len, const char *path, bool read_files,
                            http_web_settings *out, odin_err *err);
void http_web_settings_fini(http_web_settings *s);
/* The name of configurable header i (< HTTP_WEB_MAX_HEADERS). */
const char *http_web_header_name(size_t i);

/* The file as the server applies it, re-read when it changes. NULL with err on a bad file. */
http_web *http_web_new(const char *path, odin_err *err);
void http_web_free(http_web *w);
/* The settings read at start (the TLS material in them is what the listener uses). */
const http_web_settings *http_web_start_settings(const http_web *w);
/* Applies rate limit, headers and basic auth to a request; false when reply holds the refusal
 * (500, 429 or 401). Any thread. */
bool http_web_admit(http_web *w, http_request *req, http_reply *reply);

/* ---- Backends -------------------------------------------------------------------------------- */

/* Each takes over fd (the listening socket) on success and on failure. */
int http_mhd_start(http_server *s, int fd, int threads, odin_err *err);
void http_mhd_stop(http_server *s);
int http_small_start(http_server *s, int fd, int threads, odin_err *err);
void http_small_stop(http_server *s);

#endif

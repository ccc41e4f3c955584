/* The HTTP server every role serves through: libmicrohttpd (loaded on first use) or, for the
 * agent, a small built-in HTTP/1.1 server underneath; a router by method and path prefix, gzip
 * when the client accepts it, connection timeouts, and a stop that lets requests in flight finish.
 * Handlers run on the server's worker threads (one by default); what a handler touches must be safe
 * from those threads. */
#ifndef ODIN_HTTP_HTTP_H
#define ODIN_HTTP_HTTP_H

#include "base/base.h"

typedef struct http_server http_server;
typedef struct http_request http_request;

/* The response a handler fills. Body memory belongs to the response (the strbuf) and is freed by
 * the server after sending. */
typedef struct {
    int status;                 /* default 200 */
    const char *content_type;   /* static string; default "text/plain; charset=utf-8" */
    odin_strbuf body;
    bool no_gzip;               /* already-compressed or tiny bodies */
    /* Extra headers: up to 8 name/value pairs of static or arena strings. */
    const char *header_names[8];
    const char *header_values[8];
    size_t nheaders;
} http_response;

typedef void (*http_handler_fn)(void *ctx, http_request *req, http_response *resp);

/* Request accessors: valid only during the handler call. */
const char *http_request_method(const http_request *req);
const char *http_request_path(const http_request *req);
/* Query-string or form-body (application/x-www-form-urlencoded) parameter, first value; NULL if
 * absent. The form body is read before the handler runs, up to the server's body cap. */
const char *http_request_param(const http_request *req, const char *name);
/* All values of a repeated parameter (match[]=...): fills up to max, returns the count. */
size_t http_request_params(const http_request *req, const char *name, const char **out, size_t max);
const char *http_request_header(const http_request *req, const char *name);
const char *http_request_body(const http_request *req, size_t *len);
/* Per-request arena, reset after the response is sent. */
odin_arena *http_request_arena(http_request *req);

void http_response_header(http_response *resp, const char *name, const char *value);

/* What serves the connections. Both give the same routing, parameters, headers, gzip, timeouts
 * and graceful stop. */
typedef enum {
    /* libmicrohttpd, opened with dlopen when the first server starts: request bodies up to
     * max_body_bytes, long request lines (128 KiB of head). */
    HTTP_BACKEND_MHD = 0,
    /* Built in (server_small.c), for the agent: GET/HEAD-sized requests (16 KiB of head, bodies
     * up to 64 KiB), at most 64 connections, no libraries to map. */
    HTTP_BACKEND_SMALL,
} http_backend;

typedef struct {
    const char *listen_address; /* "host:port", ":port" or "[v6]:port" */
    int threads;                /* worker threads, 0 = 1 */
    int timeout_s;              /* idle connection timeout, 0 = 30 */
    size_t max_body_bytes;      /* request body cap, 0 = 16 MiB (SMALL: never above 64 KiB) */
    http_backend backend;
    /* Prometheus' web config file (--web.config.file): TLS, basic auth, headers, rate limit;
     * NULL or "" for none. With TLS the MHD backend serves, whatever `backend` says. */
    const char *web_config_file;
    /* Requests wait (in the backend's worker) until http_server_open, so routes can be added
     * after the socket is bound without a request seeing a half-built route table. */
    bool gated;
} http_server_opts;

/* Reads and checks a web config file as http_server_start would (promtool check web-config);
 * *tls tells whether it turns TLS on. 0, or an error naming file:line:col. */
int http_web_config_check(const char *path, bool *tls, odin_err *err);
/* Binds and starts serving. NULL with err naming the address (or the library that could not be
 * loaded) on failure. */
http_server *http_server_start(const http_server_opts *opts, odin_err *err);
/* Routes: exact path, or a prefix when `path` ends in '*'. method NULL matches any method.
 * Register before the first request arrives (routes are not locked). Unmatched paths get 404. */
void http_server_route(http_server *s, const char *method, const char *path, http_handler_fn fn,
                       void *ctx);
/* Lets requests through a gated server (http_server_opts.gated); call once routes are added. */
void http_server_open(http_server *s);
/* The port actually bound (useful with port 0). */
int http_server_port(const http_server *s);
/* Stops accepting, waits for requests in flight, frees everything. NULL is fine. */
void http_server_stop(http_server *s);

/* Blocks until SIGTERM or SIGINT (or SIGHUP when want_hup) arrives; returns the signal number.
 * Call http_signals_block() first thing in main, before any thread starts, so only the waiter
 * receives them. */
void http_signals_block(void);
int http_signals_wait(bool want_hup);

/* ---- Client settings (client.c) -------------------------------------------------------------- */

/* Prometheus' HTTP client configuration (tls_config, basic_auth, authorization,
 * bearer_token[_file], proxy_url, follow_redirects), shared by scraping, discovery, alerting and
 * remote write. Strings are owned (heap) and freed by http_client_config_fini. */
typedef struct {
    char *ca_file, *cert_file, *key_file, *server_name;
    bool insecure_skip_verify;
    char *min_version;              /* "TLS12", "TLS13" */
    char *max_version;              /* NULL = library's newest */
    char *ca, *cert, *key;          /* inline PEM, exclusive with the _file forms; key is secret */
} http_tls_config;

typedef struct {
    http_tls_config tls;
    bool has_basic_auth;
    char *basic_username, *basic_password, *basic_password_file;
    bool has_authorization;         /* also set for bearer_token / bearer_token_file */
    char *auth_type;                /* default "Bearer" */
    char *auth_credentials, *auth_credentials_file;
    char *proxy_url;
    bool follow_redirects;          /* default true */
    bool enable_http2;              /* default true (remote write: false) */
    char *basic_username_file;      /* exclusive with basic_username */
    char *no_proxy;                 /* comma-separated hosts that bypass proxy_url */
    bool proxy_from_environment;    /* HTTP(S)_PROXY / NO_PROXY from the environment */
} http_client_config;

void http_client_config_fini(http_client_config *c);

#endif

/* The libmicrohttpd backend: feeds libmicrohttpd's request callbacks into the shared dispatch
 * (request.c) and hands the reply back as an MHD response. libmicrohttpd itself is opened on
 * first use (src/base/dl_mhd.c). */
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/server_int.h"

enum {
    /* Idle request states kept for reuse, each with its warm arena. */
    REQUEST_POOL_MAX = 16,
    /* A pooled request keeps a body buffer up to this size; bigger ones go back to malloc. */
    BODY_KEEP_BYTES = 64 * 1024,
    /* A declared Content-Length sizes the body buffer up to this much before the bytes arrive. */
    BODY_RESERVE_BYTES = 1024 * 1024,
};
/* libmicrohttpd reads the request line and headers into this much per-connection memory. At
 * most 32 KiB it takes the memory from malloc; above that it maps fresh pages for every connection,
 * faults them in when it clears them and unmaps them at close, which was ~14% of a small range
 * query's server time for a client without keep-alive. Longer PromQL goes in a POST body (Grafana
 * posts by default), which this limit does not bound. */
#define CONNECTION_MEMORY_BYTES ((size_t)32 << 10)

/* The backend's part of an http_server. */
struct http_mhd {
    struct MHD_Daemon *daemon; /* fixed once started */
    /* mu guards everything below it. */
    pthread_mutex_t mu;
    pthread_cond_t idle;  /* signalled when inflight drops to zero */
    size_t inflight;
    http_request *free_reqs;
    size_t nfree;
};

/* ---- Request pool ---------------------------------------------------------------------------- */

static const char *mhd_header(const http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

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

static void mhd_collect_query(http_request *req)
{
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, req);
}

static http_request *request_acquire(http_server *s)
{
    http_mhd *m = s->mhd;
    pthread_mutex_lock(&m->mu);
    m->inflight++;
    http_request *req = m->free_reqs;
    if (req != NULL) {
        m->free_reqs = req->next_free;
        m->nfree--;
    }
    pthread_mutex_unlock(&m->mu);
    if (req == NULL) {
        req = odin_calloc(1, sizeof *req);
        http_request_init(req, s);
        req->header = mhd_header;
        req->collect_query = mhd_collect_query;
    }
    return req;
}

static void request_free(http_request *req)
{
    http_request_fini(req);
    free(req);
}

static void request_release(http_server *s, http_request *req)
{
    http_mhd *m = s->mhd;
    if (req->body.alloc > BODY_KEEP_BYTES) {
        odin_strbuf_fini(&req->body);
        odin_strbuf_init(&req->body, s->max_body_bytes);
    }
    http_request_clear(req);

    bool keep = false;
    pthread_mutex_lock(&m->mu);
    if (m->nfree < REQUEST_POOL_MAX) {
        req->next_free = m->free_reqs;
        m->free_reqs = req;
        m->nfree++;
        keep = true;
    }
    m->inflight--;
    if (m->inflight == 0) {
        pthread_cond_broadcast(&m->idle);
    }
    pthread_mutex_unlock(&m->mu);
    if (!keep) {
        request_free(req);
    }
}

/* ---- Responses ------------------------------------------------------------------------------- */

static void add_header(struct MHD_Response *r, const char *name, const char *value)
{
    if (MHD_add_response_header(r, name, value) != MHD_YES) {
        odin_log(ODIN_LOG_WARN, "http", "invalid response header dropped", "header", name, NULL);
    }
}

/* Queues the reply on the connection; its body's memory passes to libmicrohttpd, which frees it
 * after sending. */
static enum MHD_Result send_reply(http_request *req, http_reply *reply)
{
    struct MHD_Response *r;
    if (reply->len == 0) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer_with_free_callback(reply->len, reply->body, free);
    }
    if (r == NULL) {
        free(reply->body);
        return MHD_NO;
    }
    for (size_t i = 0; i < reply->nheaders; i++) {
        add_header(r, reply->names[i], reply->values[i]);
    }
    /* While stopping, keep-alive clients are told to go, so the wait for requests in flight
     * is not held up by their next request. */
    if (atomic_load(&req->srv->stopping)) {
        add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result rc = MHD_queue_response(req->conn, (unsigned int)reply->status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result dispatch(http_request *req)
{
    http_reply reply;
    http_dispatch(req, NULL, 0, &reply);
    return send_reply(req, &reply);
}

/* ---- libmicrohttpd callbacks ----------------------------------------------------------------- */

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

/* ---- Lifecycle ------------------------------------------------------------------------------- */

static void mhd_free(http_mhd *m)
{
    while (m->free_reqs != NULL) {
        http_request *req = m->free_reqs;
        m->free_reqs = req->next_free;
        request_free(req);
    }
    pthread_cond_destroy(&m->idle);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int http_mhd_start(http_server *s, int fd, int threads, odin_err *err)
{
    char why[256];
    if (odin_mhd_load(why, sizeof why) < 0) {
        close(fd);
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "listen tcp %.64s: %s", s->address, why);
    }
    http_mhd *m = odin_calloc(1, sizeof *m);
    s->mhd = m;
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->idle, &ca);
    pthread_condattr_destroy(&ca);

    struct MHD_OptionItem ops[12];
    size_t n = 0;
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_s, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                       (intptr_t)CONNECTION_MEMORY_BYTES, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s};
    if (threads > 1) {
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
    }
    const http_web_settings *tls = s->web ? http_web_start_settings(s->web) : NULL;
    if (tls != NULL && tls->tls) {
        /* The strings stay with the server's web config for the daemon's life. */
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, tls->tls_cert};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, tls->tls_key};
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, tls->tls_priorities};
    }
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* ITC makes MHD_quiesce_daemon possible, which the graceful stop needs. poll, not epoll
     * (which MHD_USE_AUTO picks on Linux): with epoll, MHD_quiesce_daemon and the polling
     * thread both take the listen socket out of the epoll set, unsynchronized, and the loser's
     * ENOENT is an MHD_PANIC that aborts the process (an open libmicrohttpd defect, seen here
     * in 0.9.75 as "Failed to remove listen FD from epoll set" while stopping a server under
     * scrapes). With poll, quiescing only signals the threads. An API server's few connections
     * cost poll nothing that epoll would save. */
    unsigned int flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (tls != NULL && tls->tls) {
        flags |= MHD_USE_TLS;
    }
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, ops,
                                 MHD_OPTION_END);
    if (m->daemon == NULL) {
        /* Not closing fd: libmicrohttpd closes a given listen socket on most of its failure
         * paths, and a double close could hit another thread's descriptor. */
        s->mhd = NULL;
        mhd_free(m);
        return odin_err_set(err, ODIN_ERR_INTERNAL,
                            "listen tcp %.64s: libmicrohttpd failed to start", s->address);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info != NULL && info->port != 0) {
        s->port = info->port;
    }
    return 0;
}

/* Waits until no request is in flight or the deadline passes. */
static void wait_idle(http_server *s, int64_t deadline_ns)
{
    http_mhd *m = s->mhd;
    pthread_mutex_lock(&m->mu);
    while (m->inflight > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        if (now_ns >= deadline_ns) {
            break;
        }
        struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000),
                                 .tv_nsec = (long)(deadline_ns % 1000000000)};
        pthread_cond_timedwait(&m->idle, &m->mu, &until);
    }
    size_t left = m->inflight;
    pthread_mutex_unlock(&m->mu);
    if (left > 0) {
        odin_log(ODIN_LOG_WARN, "http", "stopping with requests still in flight", "address",
                 s->address, NULL);
    }
}

void http_mhd_stop(http_server *s)
{
    http_mhd *m = s->mhd;
    /* Stop accepting first: the socket closes now, so clients see a refusal, not a hang. */
    MHD_socket lfd = MHD_quiesce_daemon(m->daemon);
    if (lfd != MHD_INVALID_SOCKET) {
        close(lfd);
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t start_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    /* A request in flight gets as long as an idle connection would before being cut. */
    wait_idle(s, start_ns + (int64_t)s->timeout_s * 1000000000);
    /* Closes the remaining (idle keep-alive) connections; their requests complete first. */
    MHD_stop_daemon(m->daemon);
    mhd_free(m);
}

/* The small server backend, for `odin agent`: HTTP/1.1 over non-blocking sockets and poll(2),
 * keep-alive and pipelining, bounded heads and bodies, idle timeouts and a graceful stop. Each of
 * opts.threads loops accepts from the shared listen socket and owns its connections; handlers
 * run on the loop's thread, so a slow client costs a buffer, never a thread. Requests are parsed
 * by parse.c; routing, parameters and replies are request.c's, shared with the MHD backend. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http/server_int.h"

enum {
    /* Connections over all loops; one more is answered 503 and closed. */
    SMALL_MAX_CONNS = 64,
    /* Request line plus header fields; longer is answered 431. */
    SMALL_HEAD_MAX_BYTES = 16 * 1024,
    /* Request bodies the agent accepts at most (it needs none); longer is answered 413. */
    SMALL_BODY_MAX_BYTES = 64 * 1024,
    /* First size of a connection's input buffer; it doubles up to head plus body cap. */
    SMALL_IN_FIRST_BYTES = 2048,
    SMALL_MAX_THREADS = 16,
};

/* One client connection; owned by one loop. */
typedef struct {
    int fd;
    char *in;            /* bytes read and not yet consumed */
    size_t in_len;
    size_t in_cap;
    /* The response being sent: the head built here, then the handler's body as it is (no copy);
     * out_off counts bytes sent of both together. out is NULL when nothing is pending. */
    char *out;
    size_t out_len;
    char *out_body;
    size_t out_body_len;
    size_t out_off;
    bool close_after;    /* close once out is sent */
    int64_t deadline_ns; /* monotonic: idle or stalled past this is closed */
    int64_t timeout_ns;  /* the server's timeout_s */
    http_head head;      /* the request being served, slices of in */
} small_conn;

typedef struct {
    http_server *srv;
    pthread_t thread;
    int wake_fd;         /* eventfd: http_small_stop wakes the loop */
    small_conn *conns;   /* SMALL_MAX_CONNS slots, fd -1 when free */
    size_t nconns;
    http_request req;    /* reused by every request of this loop */
} small_loop;

/* The backend's part of an http_server. */
struct http_small {
    int listen_fd;       /* fixed once started; shut down by stop, closed after the join */
    size_t nloops;
    small_loop loops[SMALL_MAX_THREADS];
    atomic_int nconns;   /* connections open over all loops */
};

static int64_t now_ns(void)
{
    return odin_mono_ns();
}

/* ---- Headers for handlers -------------------------------------------------------------------- */

/* Copies the value into the request arena so it is NUL-terminated; the first field wins. */
static const char *small_header(const http_request *req, const char *name)
{
    const small_conn *c = req->conn;
    if (c == NULL) {
        return NULL;
    }
    size_t nlen = strlen(name);
    for (size_t i = 0; i < c->head.nfields; i++) {
        const http_head_field *f = &c->head.fields[i];
        if (f->name.len == nlen && strncasecmp(f->name.p, name, nlen) == 0) {
            http_request *r = (http_request *)req; /* the arena is the request's scratch */
            return odin_arena_strndup(&r->arena, f->value.p, f->value.len);
        }
    }
    return NULL;
}

/* ---- Writing --------------------------------------------------------------------------------- */

/* Pushes the idle deadline out. Only progress does: a response byte sent or a request served,
 * never bytes of a request still incomplete, so a client trickling a head byte by byte is
 * closed timeout_s after its last answer instead of holding one of the 64 slots forever. */
static void conn_touch(small_conn *c)
{
    c->deadline_ns = now_ns() + c->timeout_ns;
}

static void conn_out_free(small_conn *c)
{
    free(c->out);
    free(c->out_body);
    c->out = NULL;
    c->out_len = 0;
    c->out_body = NULL;
    c->out_body_len = 0;
    c->out_off = 0;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

/* Serializes reply's head into c->out and hands its body to c->out_body; the body is left out
 * (and freed) for HEAD. */
static void conn_put_reply(small_conn *c, http_reply *reply, bool head_only, bool keep_alive_10)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b, "HTTP/1.1 %d %s\r\n", reply->status, reason(reply->status));
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t dlen = strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    odin_strbuf_puts(&b, "Date: ");
    odin_strbuf_put(&b, date, dlen);
    odin_strbuf_puts(&b, "\r\n");
    for (size_t i = 0; i < reply->nheaders; i++) {
        odin_strbuf_printf(&b, "%s: %s\r\n", reply->names[i], reply->values[i]);
    }
    odin_strbuf_printf(&b, "Content-Length: %zu\r\n", reply->len);
    if (c->close_after) {
        odin_strbuf_puts(&b, "Connection: close\r\n");
    } else if (keep_alive_10) {
        odin_strbuf_puts(&b, "Connection: keep-alive\r\n");
    }
    odin_strbuf_puts(&b, "\r\n");
    conn_out_free(c);
    c->out = odin_strbuf_take(&b, &c->out_len);
    odin_strbuf_fini(&b);
    if (head_only || reply->len == 0) {
        free(reply->body);
    } else {
        c->out_body = reply->body;
        c->out_body_len = reply->len;
    }
    reply->body = NULL;
}

/* Sends what it can of the head and body in one sendmsg (gather write). 0 when all of it is out
 * or the socket is full; -1 on an error. */
static int conn_flush(small_conn *c)
{
    size_t total = c->out_len + c->out_body_len;
    while (c->out_off < total) {
        struct iovec iov[2];
        int n_iov = 0;
        if (c->out_off < c->out_len) {
            iov[n_iov++] = (struct iovec){c->out + c->out_off, c->out_len - c->out_off};
            if (c->out_body_len > 0) {
                iov[n_iov++] = (struct iovec){c->out_body, c->out_body_len};
            }
        } else {
            size_t off = c->out_off - c->out_len;
            iov[n_iov++] = (struct iovec){c->out_body + off, c->out_body_len - off};
        }
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            conn_touch(c);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    conn_out_free(c);
    return 0;
}

static bool conn_sending(const small_conn *c)
{
    return c->out != NULL;
}

/* ---- Serving --------------------------------------------------------------------------------- */

/* An error answer before closing: the request could not be parsed or is over a limit. */
static void conn_fail(small_loop *l, small_conn *c, int status)
{
    static const struct {
        int status;
        const char *text;
    } texts[] = {
        {400, "400 bad request\n"},
        {413, "413 request body too large\n"},
        {431, "431 request header fields too large\n"},
        {501, "501 transfer encodings are not supported\n"},
        {505, "505 HTTP version not supported\n"},
    };
    const char *text = "400 bad request\n";
    for (size_t i = 0; i < ODIN_ARRAY_LEN(texts); i++) {
        if (texts[i].status == status) {
            text = texts[i].text;
        }
    }
    http_request *req = &l->req;
    req->conn = NULL;
    req->method = "";
    req->path = "";
    http_reply reply;
    http_reply_text(req, status, text, NULL, &reply);
    c->close_after = true;
    c->in_len = 0; /* nothing after a broken request can be trusted */
    conn_put_reply(c, &reply, false, false);
    http_request_clear(req);
}

/* Runs the complete request at the start of c->in (head of head_len bytes, then its body). */
static void conn_serve(small_loop *l, small_conn *c, size_t head_len)
{
    http_request *req = &l->req;
    http_head *h = &c->head;
    size_t body_len = h->has_length ? (size_t)h->content_length : 0;
    req->conn = c;
    req->method = odin_arena_strndup(&req->arena, h->method.p, h->method.len);
    const char *q = memchr(h->target.p, '?', h->target.len);
    size_t plen = q != NULL ? (size_t)(q - h->target.p) : h->target.len;
    char *path = odin_arena_strndup(&req->arena, h->target.p, plen);
    if (req->method == NULL || path == NULL) {
        conn_fail(l, c, 431);
        return;
    }
    path[http_path_decode(path, plen)] = '\0';
    req->path = path;
    if (body_len > 0) {
        odin_strbuf_put(&req->body, c->in + head_len, body_len);
        req->too_large = !odin_strbuf_ok(&req->body);
    }
    bool head_only = strcmp(req->method, "HEAD") == 0;
    bool keep_alive_10 = h->minor == 0 && h->keep_alive;
    c->close_after = !h->keep_alive || atomic_load(&l->srv->stopping);
    http_reply reply;
    if (q != NULL) {
        http_dispatch(req, q + 1, h->target.len - plen - 1, &reply);
    } else {
        http_dispatch(req, "", 0, &reply);
    }
    /* The stop may have begun while the handler ran. */
    c->close_after = c->close_after || atomic_load(&l->srv->stopping);
    conn_put_reply(c, &reply, head_only, keep_alive_10);
    conn_touch(c);
    http_request_clear(req);
    size_t used = head_len + body_len;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
}

/* Serves every complete request buffered on c, one response at a time: returns when c->in holds
 * no complete request, a response waits to be sent, or c is to be closed. */
static void conn_process(small_loop *l, small_conn *c)
{
    size_t body_cap = l->srv->max_body_bytes < SMALL_BODY_MAX_BYTES ? l->srv->max_body_bytes
                                                                     : SMALL_BODY_MAX_BYTES;
    while (!conn_sending(c) && !c->close_after && c->in_len > 0) {
        long rc = http_head_parse(c->in, c->in_len, SMALL_HEAD_MAX_BYTES, &c->head);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            conn_fail(l, c, (int)-rc);
            return;
        }
        size_t head_len = (size_t)rc;
        if (c->head.has_length && c->head.content_length > body_cap) {
            conn_fail(l, c, 413);
            return;
        }
        size_t body_len = c->head.has_length ? (size_t)c->head.content_length : 0;
        if (c->in_len - head_len < body_len) {
            return; /* the body is still arriving; the buffer can hold it (see conn_read) */
        }
        conn_serve(l, c, head_len);
        if (conn_flush(c) < 0) {
            c->close_after = true;
            conn_out_free(c);
            return;
        }
    }
}

/* Reads what the socket has into c->in: 1, 0 when the peer has closed its side, -1 on an error. */
static int conn_read(small_conn *c)
{
    size_t max = SMALL_HEAD_MAX_BYTES + SMALL_BODY_MAX_BYTES;
    for (;;) {
        if (c->in_len == c->in_cap) {
            if (c->in_cap >= max) {
                return 1; /* full: the parser answers 431 or the body is complete */
            }
            size_t cap = c->in_cap ? c->in_cap * 2 : SMALL_IN_FIRST_BYTES;
            c->in_cap = cap < max ? cap : max;
            c->in = odin_realloc(c->in, c->in_cap);
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0) {
            return 0;
        }
        return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
    }
}

static void conn_close(small_loop *l, small_conn *c)
{
    close(c->fd);
    free(c->in);
    conn_out_free(c);
    *c = (small_conn){.fd = -1};
    l->nconns--;
    atomic_fetch_sub(&l->srv->small->nconns, 1);
}

/* Accepts what is pending on the listen socket. */
static void loop_accept(small_loop *l)
{
    http_small *sm = l->srv->small;
    for (;;) {
        int fd = accept4(sm->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN, or an error the next poll sees again */
        }
        if (atomic_fetch_add(&sm->nconns, 1) >= SMALL_MAX_CONNS || l->nconns == SMALL_MAX_CONNS) {
            atomic_fetch_sub(&sm->nconns, 1);
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 20\r\n"
                                       "Connection: close\r\n\r\n503 too many clients";
            (void)send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
            close(fd);
            continue;
        }
        for (size_t i = 0; i < SMALL_MAX_CONNS; i++) {
            if (l->conns[i].fd < 0) {
                l->conns[i] = (small_conn){
                    .fd = fd,
                    .timeout_ns = (int64_t)l->srv->timeout_s * 1000000000,
                };
                conn_touch(&l->conns[i]);
                l->nconns++;
                break;
            }
        }
    }
}

/* The loop: poll the wake fd, the listen socket (until the stop) and every connection. */
static void *loop_run(void *arg)
{
    small_loop *l = arg;
    http_server *s = l->srv;
    struct pollfd pfd[SMALL_MAX_CONNS + 2];
    size_t slot[SMALL_MAX_CONNS + 2];
    int64_t timeout_ns = (int64_t)s->timeout_s * 1000000000;
    for (;;) {
        bool stopping = atomic_load(&s->stopping);
        size_t n = 0;
        pfd[n++] = (struct pollfd){.fd = l->wake_fd, .events = POLLIN};
        if (!stopping) {
            pfd[n++] = (struct pollfd){.fd = s->small->listen_fd, .events = POLLIN};
        }
        size_t first_conn = n;
        int64_t now = now_ns();
        int64_t next = now + timeout_ns;
        for (size_t i = 0; i < SMALL_MAX_CONNS; i++) {
            small_conn *c = &l->conns[i];
            if (c->fd < 0) {
                continue;
            }
            /* While stopping, only connections with a response to finish are kept. */
            if (now >= c->deadline_ns || (stopping && !conn_sending(c))) {
                conn_close(l, c);
                continue;
            }
            if (c->deadline_ns < next) {
                next = c->deadline_ns;
            }
            slot[n] = i;
            pfd[n++] = (struct pollfd){.fd = c->fd,
                                       .events = conn_sending(c) ? POLLOUT : POLLIN};
        }
        if (stopping && l->nconns == 0) {
            return NULL;
        }
        /* Capped so that a huge timeout_s cannot overflow poll's int. */
        int64_t wait_ns = next - now < 60 * (int64_t)1000000000 ? next - now
                                                                : 60 * (int64_t)1000000000;
        int wait_ms = (int)(wait_ns / 1000000) + 1;
        int ready = poll(pfd, n, wait_ms);
        if (ready < 0) {
            continue; /* EINTR; the masks keep signals off these threads */
        }
        if (pfd[0].revents != 0) {
            uint64_t v;
            (void)read(l->wake_fd, &v, sizeof v);
        }
        if (!stopping && (pfd[1].revents & POLLIN)) {
            loop_accept(l);
        }
        for (size_t k = first_conn; k < n; k++) {
            small_conn *c = &l->conns[slot[k]];
            if (pfd[k].revents == 0 || c->fd != pfd[k].fd) {
                continue;
            }
            bool ok = true;
            if (conn_sending(c)) {
                ok = conn_flush(c) == 0;
            } else {
                int rd = conn_read(c);
                if (rd == 0) {
                    /* The client sent all it will: answer what is buffered, then close. */
                    conn_process(l, c);
                    c->close_after = true;
                    ok = conn_sending(c);
                } else {
                    ok = rd > 0;
                }
            }
            if (ok && !conn_sending(c)) {
                if (c->close_after) {
                    ok = false;
                } else {
                    conn_process(l, c);
                    ok = !(c->close_after && !conn_sending(c));
                }
            }
            if (!ok) {
                conn_close(l, c);
            }
        }
    }
}

/* ---- Lifecycle ------------------------------------------------------------------------------- */

static void loop_fini(small_loop *l)
{
    for (size_t i = 0; l->conns != NULL && i < SMALL_MAX_CONNS; i++) {
        if (l->conns[i].fd >= 0) {
            conn_close(l, &l->conns[i]);
        }
    }
    free(l->conns);
    if (l->wake_fd >= 0) {
        close(l->wake_fd);
    }
    http_request_fini(&l->req);
}

static void small_free(http_small *sm)
{
    for (size_t i = 0; i < sm->nloops; i++) {
        loop_fini(&sm->loops[i]);
    }
    close(sm->listen_fd);
    free(sm);
}

int http_small_start(http_server *s, int fd, int threads, odin_err *err)
{
    http_small *sm = odin_calloc(1, sizeof *sm);
    sm->listen_fd = fd;
    atomic_init(&sm->nconns, 0);
    s->small = sm;
    size_t want = threads < 1                   ? 1
                  : threads > SMALL_MAX_THREADS ? SMALL_MAX_THREADS
                                                : (size_t)threads;
    for (size_t i = 0; i < want; i++) {
        small_loop *l = &sm->loops[i];
        *l = (small_loop){.srv = s, .wake_fd = -1};
        http_request_init(&l->req, s);
        l->req.header = small_header;
        l->conns = odin_calloc(SMALL_MAX_CONNS, sizeof *l->conns);
        for (size_t k = 0; k < SMALL_MAX_CONNS; k++) {
            l->conns[k].fd = -1;
        }
        sm->nloops = i + 1;
        l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int rc = l->wake_fd < 0 ? errno : pthread_create(&l->thread, NULL, loop_run, l);
        if (rc != 0) {
            /* Loops already running see the stop and end. */
            atomic_store(&s->stopping, true);
            for (size_t k = 0; k < i; k++) {
                uint64_t one = 1;
                (void)write(sm->loops[k].wake_fd, &one, sizeof one);
                pthread_join(sm->loops[k].thread, NULL);
            }
            small_free(sm);
            s->small = NULL;
            return odin_err_errno(err, rc, "listen tcp %.64s: starting the server thread",
                                  s->address);
        }
    }
    return 0;
}

void http_small_stop(http_server *s)
{
    http_small *sm = s->small;
    /* Refuses new connections now (Linux resets the queue of a listen socket shut down); the
     * socket itself is closed after the loops, which poll it, have ended. */
    (void)shutdown(sm->listen_fd, SHUT_RDWR);
    for (size_t i = 0; i < sm->nloops; i++) {
        uint64_t one = 1;
        (void)write(sm->loops[i].wake_fd, &one, sizeof one);
    }
    for (size_t i = 0; i < sm->nloops; i++) {
        pthread_join(sm->loops[i].thread, NULL);
    }
    small_free(sm);
}

/* The plain-HTTP scrape client: one keep-alive HTTP/1.1 connection per loop to a target named by
 * an IP address (or localhost), driven by the worker's poll next to libcurl's transfers. libcurl
 * costs ~45 us of CPU and ~28 allocations per transfer plus a copy of every body byte; this
 * client sends one prebuilt request, receives into a buffer the loop keeps and hands the body to
 * the parser where it landed. It only takes what it does the same way libcurl would (see
 * scrape_fast_configure): https, proxies, authentication and other host names stay with libcurl,
 * and a redirect (or a content encoding other than gzip) hands the loop back to libcurl for good.
 * Runs on the loop's worker thread only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "scrape/loop_int.h"

/* Room offered to each recv: at least this, and as much as the last answer was long, so an
 * answer that is all there when the worker wakes is taken with one recv (loopback queues a
 * whole write before the reader wakes). */
enum { RECV_CHUNK = 64 * 1024 };
/* A response head larger than this is refused (Go's default MaxResponseHeaderBytes is 1 MiB). */
enum { MAX_HEAD_BYTES = 1024 * 1024 };

enum { FAST_IDLE, FAST_CONNECTING, FAST_SENDING, FAST_READING };

/* Chunked framing states (scrape_fast_dechunk). */
enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

void scrape_fast_init(scrape_fast *f)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    odin_strbuf_init(&f->req, 0);
    odin_strbuf_init(&f->raw, 0);
}

static void fast_close(scrape_fast *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    f->reused = false;
}

void scrape_fast_fini(scrape_fast *f)
{
    fast_close(f);
    odin_strbuf_fini(&f->req);
    odin_strbuf_fini(&f->raw);
    if (f->z != NULL) {
        inflateEnd(f->z);
        free(f->z);
    }
}

/* ---- Configuration ------------------------------------------------------------------------- */

/* Splits an http:// URL into a numeric address and the request target. False for anything the
 * client leaves to libcurl: other schemes, user info, host names but localhost, odd bytes.
 * localhost is the loopback address without a lookup, as libcurl and RFC 6761 have it: *local
 * is set and the address is 127.0.0.1 (fast_connect tries ::1 after it). */
static bool parse_url(const char *url, struct sockaddr_storage *ss, socklen_t *sl, odin_str *host,
                      odin_str *target, bool *local)
{
    *local = false;
    if (strncmp(url, "http://", 7) != 0) {
        return false;
    }
    const char *h = url + 7;
    size_t n = strcspn(h, "/?#");
    for (const char *p = url; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            return false; /* libcurl would percent-encode these */
        }
    }
    if (n == 0 || memchr(h, '@', n) != NULL) {
        return false;
    }
    char addr[64];
    const char *port = NULL;
    size_t alen;
    bool v6 = h[0] == '[';
    if (v6) {
        const char *rb = memchr(h, ']', n);
        if (rb == NULL) {
            return false;
        }
        alen = (size_t)(rb - h - 1);
        if (alen >= sizeof addr) {
            return false;
        }
        memcpy(addr, h + 1, alen);
        if (rb + 1 < h + n) {
            if (rb[1] != ':') {
                return false;
            }
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(h, ':', n);
        alen = colon != NULL ? (size_t)(colon - h) : n;
        if (alen >= sizeof addr) {
            return false;
        }
        memcpy(addr, h, alen);
        port = colon != NULL ? colon + 1 : NULL;
    }
    addr[alen] = '\0';
    long portno = 80;
    if (port != NULL) {
        size_t plen = (size_t)(h + n - port);
        if (plen == 0 || plen > 5 || strspn(port, "0123456789") < plen) {
            return false;
        }
        portno = 0;
        for (size_t i = 0; i < plen; i++) {
            portno = portno * 10 + (port[i] - '0');
        }
        if (portno < 1 || portno > 65535) {
            return false;
        }
    }
    memset(ss, 0, sizeof *ss);
    if (v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, addr, &a6->sin6_addr) != 1) {
            return false;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)portno);
        *sl = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        *local = strcasecmp(addr, "localhost") == 0;
        if (*local) {
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        } else if (inet_pton(AF_INET, addr, &a4->sin_addr) != 1) {
            return false; /* a host name: libcurl resolves it without blocking the worker */
        }
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)portno);
        *sl = sizeof *a4;
    }
    /* Host as libcurl sends it: the default port left out. */
    size_t hlen = port != NULL && portno == 80 ? (size_t)(port - 1 - h) : n;
    *host = (odin_str){h, hlen};
    const char *t = h + n;
    size_t tlen = strcspn(t, "#"); /* the fragment is not sent */
    *target = (odin_str){t, tlen};
    return true;
}

bool scrape_fast_configure(scrape_loop *l, const scrape_job *job, const char *accept)
{
    scrape_fast *f = &l->fast;
    const http_client_config *h = &job->http;
    fast_close(f); /* a new configuration starts a new connection, as a new Go client would */
    f->usable = false;
    odin_str host, target;
    if (f->redirected || h->has_basic_auth || h->has_authorization || h->proxy_url != NULL ||
        h->proxy_from_environment ||
        !parse_url(l->url, &f->addr, &f->addrlen, &host, &target, &f->localhost)) {
        return false;
    }
    odin_strbuf *r = &f->req;
    odin_strbuf_reset(r);
    odin_strbuf_puts(r, "GET ");
    if (target.len == 0 || target.p[0] != '/') {
        odin_strbuf_putc(r, '/');
    }
    odin_strbuf_putstr(r, target);
    odin_strbuf_puts(r, " HTTP/1.1\r\nHost: ");
    odin_strbuf_putstr(r, host);
    odin_strbuf_puts(r, "\r\nUser-Agent: ");
    odin_strbuf_puts(r, scrape_user_agent);
    odin_strbuf_puts(r, "\r\n");
    odin_strbuf_puts(r, accept);
    odin_strbuf_puts(r, job->enable_compression ? "\r\nAccept-Encoding: gzip\r\n"
                                                : "\r\nAccept-Encoding: identity\r\n");
    odin_strbuf_printf(r, "X-Prometheus-Scrape-Timeout-Seconds: %g\r\n\r\n",
                       (double)l->timeout_ms / 1000.0);
    f->follow_redirects = h->follow_redirects;
    f->usable = odin_strbuf_ok(r);
    return f->usable;
}

/* ---- Response parsing ---------------------------------------------------------------------- */

static bool header_is(const char *p, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && p[k] == ':' && strncasecmp(p, name, k) == 0;
}

static odin_str header_value(const char *p, size_t n, size_t name_len)
{
    return odin_str_trim((odin_str){p + name_len + 1, n - name_len - 1});
}

static bool token_has(odin_str v, const char *tok)
{
    /* comma-separated tokens, case-insensitive (Connection: keep-alive, close) */
    size_t k = strlen(tok);
    size_t i = 0;
    while (i < v.len) {
        size_t j = i;
        while (j < v.len && v.p[j] != ',') {
            j++;
        }
        odin_str t = odin_str_trim((odin_str){v.p + i, j - i});
        if (t.len == k && strncasecmp(t.p, tok, k) == 0) {
            return true;
        }
        i = j + 1;
    }
    return false;
}

int scrape_fast_parse_head(scrape_fast *f, const char *p, size_t n, odin_arena *a)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < n; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
            end = p + i + 4;
            break;
        }
    }
    if (end == NULL) {
        return n > MAX_HEAD_BYTES ? -1 : 0;
    }
    /* status line: HTTP/1.x NNN reason */
    if (end - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
        p[11] > '9' || (p[12] != ' ' && p[12] != '\r')) {
        return -1;
    }
    f->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    f->close_after = p[7] == '0'; /* HTTP/1.0: closed unless it says keep-alive */
    f->clen = -1;
    f->chunked = false;
    f->gzip = false;
    f->content_type = NULL;
    const char *line = memchr(p, '\n', (size_t)(end - p)) + 1;
    while (line < end - 2) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = (size_t)(nl - line);
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
        if (len == 0 || line[0] == ' ' || line[0] == '\t' || memchr(line, ':', len) == NULL) {
            return -1; /* obsolete line folding or a line without a colon */
        }
        if (header_is(line, len, "content-length")) {
            odin_str v = header_value(line, len, 14);
            int64_t cl = 0;
            if (v.len == 0 || v.len > 18) {
                return -1;
            }
            for (size_t i = 0; i < v.len; i++) {
                if (v.p[i] < '0' || v.p[i] > '9') {
                    return -1;
                }
                cl = cl * 10 + (v.p[i] - '0');
            }
            if (f->clen >= 0 && f->clen != cl) {
                return -1; /* conflicting lengths: refused, as Go refuses them */
            }
            f->clen = cl;
        } else if (header_is(line, len, "transfer-encoding")) {
            odin_str v = header_value(line, len, 17);
            if (v.len != 7 || strncasecmp(v.p, "chunked", 7) != 0) {
                return -1; /* Go's client accepts only chunked */
            }
            f->chunked = true;
        } else if (header_is(line, len, "content-encoding")) {
            odin_str v = header_value(line, len, 16);
            if (v.len == 4 && strncasecmp(v.p, "gzip", 4) == 0) {
                f->gzip = true;
            } else if (!(v.len == 8 && strncasecmp(v.p, "identity", 8) == 0) && v.len != 0) {
                return -2; /* an encoding we did not ask for: libcurl's business */
            }
        } else if (header_is(line, len, "content-type")) {
            odin_str v = header_value(line, len, 12);
            f->content_type = odin_arena_strndup(a, v.p, v.len);
        } else if (header_is(line, len, "connection")) {
            odin_str v = header_value(line, len, 10);
            if (token_has(v, "close")) {
                f->close_after = true;
            } else if (token_has(v, "keep-alive")) {
                f->close_after = false;
            }
        }
        line = nl + 1;
    }
    if (f->chunked) {
        f->clen = -1; /* chunked framing wins over a length (RFC 9112 6.3) */
    }
    return (int)(end - p);
}

/* One CRLF-terminated line at raw[*at]; false when it is not all in yet. */
static bool take_line(const odin_strbuf *raw, size_t *at, odin_str *out)
{
    const char *p = raw->p + *at;
    const char *nl = memchr(p, '\n', raw->len - *at);
    if (nl == NULL) {
        return false;
    }
    size_t len = (size_t)(nl - p);
    *out = (odin_str){p, len > 0 && p[len - 1] == '\r' ? len - 1 : len};
    *at += len + 1;
    return true;
}

int scrape_fast_dechunk(scrape_fast *f)
{
    odin_strbuf *raw = &f->raw;
    for (;;) {
        switch (f->ch_state) {
        case CH_SIZE: {
            size_t at = f->ch_in;
            odin_str line;
            if (!take_line(raw, &at, &line)) {
                return raw->len - f->ch_in > 1024 ? -1 : 0;
            }
            size_t sz = 0, i = 0;
            for (; i < line.len && i < 16; i++) {
                char c = line.p[i];
                int d = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
                if (d < 0) {
                    break;
                }
                sz = sz * 16 + (size_t)d;
            }
            if (i == 0 || (i < line.len && line.p[i] != ';' && line.p[i] != ' ' &&
                           line.p[i] != '\t')) {
                return -1;
            }
            f->ch_in = at;
            f->ch_left = sz;
            f->ch_state = sz == 0 ? CH_TRAILER : CH_DATA;
            break;
        }
        case CH_DATA: {
            size_t have = raw->len - f->ch_in;
            size_t n = have < f->ch_left ? have : f->ch_left;
            if (n == 0) {
                return 0;
            }
            /* body_end <= ch_in always: the framing removed so far is the gap */
            memmove(raw->p + f->body_end, raw->p + f->ch_in, n);
            f->body_end += n;
            f->ch_in += n;
            f->ch_left -= n;
            if (f->ch_left > 0) {
                return 0;
            }
            f->ch_state = CH_DATA_END;
            break;
        }
        case CH_DATA_END: {
            size_t at = f->ch_in;
            odin_str line;
            if (!take_line(raw, &at, &line)) {
                return raw->len - f->ch_in >= 2 ? -1 : 0;
            }
            if (line.len != 0) {
                return -1;
            }
            f->ch_in = at;
            f->ch_state = CH_SIZE;
            break;
        }
        case CH_TRAILER: {
            size_t at = f->ch_in;
            odin_str line;
            if (!take_line(raw, &at, &line)) {
                return raw->len - f->ch_in > MAX_HEAD_BYTES ? -1 : 0;
            }
            f->ch_in = at;
            if (line.len == 0) {
                f->ch_state = CH_DONE;
                return raw->len > f->ch_in ? -1 : 1; /* bytes after the response: not reusable */
            }
            break;
        }
        default:
            return 1;
        }
    }
}

/* ---- The transfer -------------------------------------------------------------------------- */

static const char *fail(scrape_loop *l, const char *detail)
{
    return odin_arena_printf(&l->arena, "Get \"%s\": %s", l->url, detail);
}

/* An errno as Go words it (its table is lowercase: "connection refused"). */
static const char *errno_text(int e, odin_arena *a)
{
    switch (e) {
    case ECONNREFUSED:
        return "connection refused";
    case ECONNRESET:
        return "connection reset by peer";
    case ETIMEDOUT:
        return "connection timed out";
    case EHOSTUNREACH:
        return "no route to host";
    case ENETUNREACH:
        return "network is unreachable";
    case EPIPE:
        return "broken pipe";
    default: {
        odin_err err;
        odin_err_clear(&err);
        odin_err_errno(&err, e, "x");
        char *t = odin_arena_strdup(a, err.msg + 3); /* past "x: " */
        if (t[0] >= 'A' && t[0] <= 'Z') {
            t[0] = (char)(t[0] - 'A' + 'a');
        }
        return t;
    }
    }
}

static const char *errno_fail(scrape_loop *l, const char *op, int e)
{
    scrape_fast *f = &l->fast;
    char ip[INET6_ADDRSTRLEN] = "";
    const struct sockaddr_storage *ss = &f->addr;
    uint16_t port;
    bool v6 = ss->ss_family == AF_INET6;
    if (v6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof ip);
        port = ntohs(a6->sin6_port);
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof ip);
        port = ntohs(a4->sin_port);
    }
    const char *addr = odin_arena_printf(&l->arena, v6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)port);
    const char *what = errno_text(e, &l->arena);
    /* Go's wording: "dial tcp 127.0.0.1:9100: connect: connection refused" */
    if (strcmp(op, "connect") == 0) {
        return fail(l, odin_arena_printf(&l->arena, "dial tcp %s: connect: %s", addr, what));
    }
    return fail(l, odin_arena_printf(&l->arena, "%s tcp %s: %s", op, addr, what));
}

/* localhost's addresses in turn: 127.0.0.1 first, then ::1 (Debian's /etc/hosts order, and
 * what Go's dialer and libcurl fall back to when the first is refused). */
static void set_loopback(scrape_fast *f, bool v6)
{
    uint16_t port = ((const struct sockaddr_in *)&f->addr)->sin_port; /* same offset in both */
    memset(&f->addr, 0, sizeof f->addr);
    if (v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&f->addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = port;
        a6->sin6_addr = in6addr_loopback;
        f->addrlen = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&f->addr;
        a4->sin_family = AF_INET;
        a4->sin_port = port;
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f->addrlen = sizeof *a4;
    }
}

static int connect_once(scrape_loop *l, const char **err)
{
    scrape_fast *f = &l->fast;
    int fd = socket(f->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno_fail(l, "connect", errno);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    f->fd = fd;
    f->reused = false;
    if (connect(fd, (const struct sockaddr *)&f->addr, f->addrlen) == 0) {
        f->state = FAST_SENDING;
        return 0;
    }
    if (errno == EINPROGRESS) {
        f->state = FAST_CONNECTING;
        return 0;
    }
    *err = errno_fail(l, "connect", errno);
    fast_close(f);
    return -1;
}

/* localhost after 127.0.0.1 refused with `first`: ::1 on a new socket. The error a failure
 * reports stays the first address's, as Go's dialer reports it (kept in first_err). */
static int connect_loopback_v6(scrape_loop *l, const char *first)
{
    scrape_fast *f = &l->fast;
    f->first_err = first;
    set_loopback(f, true);
    const char *err6 = NULL;
    return connect_once(l, &err6);
}

/* A new connection; for localhost, ::1 when 127.0.0.1 refuses at once (a refusal that comes
 * later is handled in scrape_fast_step). On failure *err is the first address's error. */
static int fast_connect(scrape_loop *l, const char **err)
{
    scrape_fast *f = &l->fast;
    if (!f->localhost) {
        return connect_once(l, err);
    }
    set_loopback(f, false);
    f->first_err = NULL;
    if (connect_once(l, err) == 0) {
        return 0;
    }
    return connect_loopback_v6(l, *err);
}

static void begin_request(scrape_fast *f)
{
    f->req_off = 0;
    odin_strbuf_reset(&f->raw);
    f->head_len = 0;
    f->body_end = 0;
    f->ch_state = CH_SIZE;
    f->got_bytes = false;
}

int scrape_fast_start(scrape_loop *l, int64_t now_ns, scrape_fetch *out)
{
    scrape_fast *f = &l->fast;
    memset(out, 0, sizeof *out);
    f->deadline_ns = now_ns + l->timeout_ms * 1000000;
    f->retried = false;
    scrape_worker_take_buffer(l->worker, &f->raw);
    begin_request(f);
    if (f->fd < 0) {
        const char *err = NULL;
        if (fast_connect(l, &err) < 0) {
            out->err = err;
            f->state = FAST_IDLE;
            return 1;
        }
    } else {
        f->state = FAST_SENDING;
    }
    /* an idle connection (or one that connected at once) takes the request right away */
    return f->state == FAST_SENDING ? scrape_fast_step(l, POLLOUT, now_ns, out) : 0;
}

short scrape_fast_events(const scrape_loop *l)
{
    const scrape_fast *f = &l->fast;
    return f->state == FAST_READING ? POLLIN : POLLOUT;
}

/* The body is complete in raw: checks its size, inflates it if needed, fills out. */
static void finish_body(scrape_loop *l, scrape_fetch *out)
{
    scrape_fast *f = &l->fast;
    const char *body = f->raw.p + f->head_len;
    size_t len = f->body_end - f->head_len;
    if (f->gzip) {
        if (f->z == NULL) {
            f->z = odin_calloc(1, sizeof(z_stream));
            if (inflateInit2(f->z, 16 + MAX_WBITS) != Z_OK) {
                odin_oom();
            }
        } else {
            inflateReset(f->z);
        }
        z_stream *z = f->z;
        scrape_worker_take_buffer(l->worker, &l->body);
        odin_strbuf_reset(&l->body);
        z->next_in = (Bytef *)(uintptr_t)body;
        z->avail_in = (uInt)len;
        int zr = Z_OK;
        while (zr == Z_OK) {
            char *w = odin_strbuf_reserve(&l->body, RECV_CHUNK);
            if (w == NULL) {
                out->err = fail(l, "body too large to decompress");
                return;
            }
            z->next_out = (Bytef *)w;
            z->avail_out = RECV_CHUNK;
            zr = inflate(z, Z_NO_FLUSH);
            odin_strbuf_advance(&l->body, RECV_CHUNK - z->avail_out);
            if (l->body_limit > 0 && l->body.len > l->body_limit) {
                out->err = scrape_err_body_limit;
                return;
            }
            if (zr == Z_BUF_ERROR && z->avail_in == 0) {
                break;
            }
        }
        if (zr != Z_STREAM_END) {
            out->err = fail(l, zr == Z_BUF_ERROR ? "unexpected EOF" : "gzip: invalid header");
            return;
        }
        body = l->body.p;
        len = l->body.len;
    } else if (l->body_limit > 0 && len > l->body_limit) {
        out->err = scrape_err_body_limit;
        return;
    }
    if (f->status != 200) {
        const char *t = scrape_http_status_text(f->status);
        out->err = odin_arena_printf(&l->arena, "server returned HTTP status %d%s%s", f->status,
                                     t[0] != '\0' ? " " : "", t);
        return;
    }
    f->raw.p[f->body_end] = '\0'; /* where chunk framing was, or the strbuf's own NUL */
    out->ok = true;
    out->body = body;
    out->len = len;
    out->content_type = f->content_type;
}

/* Ends the transfer: the connection stays for the next scrape only after a clean response. */
static int done(scrape_loop *l, scrape_fetch *out, bool keep)
{
    scrape_fast *f = &l->fast;
    f->state = FAST_IDLE;
    f->last_total = f->raw.len;
    if (!keep || f->close_after) {
        fast_close(f);
    } else {
        f->reused = true;
    }
    if (!out->ok && out->err == NULL) {
        out->err = fail(l, "unexpected EOF");
    }
    return 1;
}

/* A reused connection the target had closed while idle fails before any byte of the answer:
 * the request is sent again on a new connection, once, as Go's transport retries it. */
static int retry_or_fail(scrape_loop *l, scrape_fetch *out, const char *err)
{
    scrape_fast *f = &l->fast;
    if (f->reused && !f->got_bytes && !f->retried) {
        f->retried = true;
        fast_close(f);
        begin_request(f);
        const char *cerr = NULL;
        if (fast_connect(l, &cerr) == 0) {
            return 0;
        }
        err = cerr;
    }
    out->err = err;
    return done(l, out, false);
}

/* An answer this client does not handle: libcurl makes the scrape again, and every later one
 * of this loop. */
static int hand_to_curl(scrape_fast *f)
{
    f->redirected = true;
    fast_close(f);
    f->state = FAST_IDLE;
    f->usable = false;
    return -1;
}

/* Head and body from what is in raw; 1 when the response is complete (out filled). */
static int on_bytes(scrape_loop *l, scrape_fetch *out, bool eof)
{
    scrape_fast *f = &l->fast;
    while (f->head_len == 0) {
        int h = scrape_fast_parse_head(f, f->raw.p, f->raw.len, &l->arena);
        if (h == -2) {
            return hand_to_curl(f); /* a content encoding libcurl may decode */
        }
        if (h < 0) {
            out->err = fail(l, "malformed HTTP response");
            return done(l, out, false);
        }
        if (h == 0) {
            if (eof) {
                out->err = fail(l, f->raw.len == 0 ? "EOF" : "unexpected EOF");
                return done(l, out, false);
            }
            return 0;
        }
        if (f->status >= 100 && f->status < 200) {
            if (f->status == 101) {
                out->err = fail(l, "unexpected protocol switch");
                return done(l, out, false);
            }
            /* 100 Continue, 103 Early Hints...: skipped, the answer follows (as Go and libcurl) */
            memmove(f->raw.p, f->raw.p + h, f->raw.len - (size_t)h);
            f->raw.len -= (size_t)h;
            continue;
        }
        if (f->status >= 300 && f->status < 400 && f->follow_redirects) {
            return hand_to_curl(f); /* libcurl follows it */
        }
        f->head_len = (size_t)h;
        f->body_end = f->head_len;
        f->ch_in = f->head_len;
        if (f->status != 200) {
            /* the error needs no body; like Go, the connection is closed rather than drained */
            finish_body(l, out);
            return done(l, out, false);
        }
        if (f->clen >= 0 && l->body_limit > 0 && !f->gzip && (uint64_t)f->clen > l->body_limit) {
            out->err = scrape_err_body_limit;
            return done(l, out, false);
        }
    }
    /* still encoded bytes past the limit with room for gzip's overhead: over it however they
     * decode, so an endless answer stops here instead of at the timeout */
    if (l->body_limit > 0 && f->raw.len - f->head_len > l->body_limit + 65536) {
        out->err = scrape_err_body_limit;
        return done(l, out, false);
    }
    if (f->chunked) {
        int r = scrape_fast_dechunk(f);
        if (r < 0) {
            out->err = fail(l, "malformed chunked encoding");
            return done(l, out, false);
        }
        if (r == 0) {
            if (!f->gzip && l->body_limit > 0 && f->body_end - f->head_len > l->body_limit) {
                out->err = scrape_err_body_limit;
                return done(l, out, false);
            }
            if (eof) {
                out->err = fail(l, "unexpected EOF");
                return done(l, out, false);
            }
            /* drop the framing between body_end and ch_in so raw does not keep it */
            size_t tail = f->raw.len - f->ch_in;
            memmove(f->raw.p + f->body_end, f->raw.p + f->ch_in, tail);
            f->raw.len = f->body_end + tail;
            f->ch_in = f->body_end;
            return 0;
        }
        finish_body(l, out);
        return done(l, out, true);
    }
    if (f->clen >= 0) {
        size_t want = f->head_len + (size_t)f->clen;
        if (f->raw.len < want) {
            if (eof) {
                out->err = fail(l, "unexpected EOF");
                return done(l, out, false);
            }
            return 0;
        }
        f->body_end = want;
        bool clean = f->raw.len == want;
        finish_body(l, out);
        return done(l, out, clean);
    }
    /* neither length nor chunks: the body runs to the end of the connection */
    f->body_end = f->raw.len;
    if (!f->gzip && l->body_limit > 0 && f->body_end - f->head_len > l->body_limit) {
        out->err = scrape_err_body_limit;
        return done(l, out, false);
    }
    if (!eof) {
        return 0;
    }
    finish_body(l, out);
    return done(l, out, false);
}

int scrape_fast_step(scrape_loop *l, short revents, int64_t now_ns, scrape_fetch *out)
{
    scrape_fast *f = &l->fast;
    memset(out, 0, sizeof *out);
    if (f->state == FAST_CONNECTING) {
        /* libcurl's poll reports only POLLIN/POLLOUT of extra descriptors, not POLLERR: a failed
         * connect is read from SO_ERROR on every wake-up while connecting */
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e != 0 && f->localhost && f->addr.ss_family == AF_INET) {
            /* 127.0.0.1 refused: ::1 next */
            const char *first = errno_fail(l, "connect", e);
            fast_close(f);
            if (connect_loopback_v6(l, first) < 0) {
                out->err = f->first_err;
                return done(l, out, false);
            }
            if (f->state == FAST_CONNECTING) {
                return 0; /* the caller polls the new socket */
            }
        } else if (e != 0) {
            const char *err = errno_fail(l, "connect", e);
            out->err = f->localhost && f->first_err != NULL ? f->first_err : err;
            return done(l, out, false);
        }
        if (revents & POLLOUT) {
            f->state = FAST_SENDING;
        }
    }
    if (f->state == FAST_SENDING) {
        while (f->req_off < f->req.len) {
            ssize_t w = send(f->fd, f->req.p + f->req_off, f->req.len - f->req_off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    break;
                }
                if (errno == EINTR) {
                    continue;
                }
                int r = retry_or_fail(l, out, errno_fail(l, "write", errno));
                return r;
            }
            f->req_off += (size_t)w;
        }
        if (f->req_off == f->req.len) {
            f->state = FAST_READING;
        }
    } else if (f->state == FAST_READING && (revents & POLLIN)) {
        /* read what is there: at most two chunks per wake-up, then back to the poll */
        for (int i = 0; i < 2; i++) {
            size_t room = RECV_CHUNK;
            if (f->last_total + 1024 > f->raw.len + room) {
                room = f->last_total + 1024 - f->raw.len;
            }
            char *w = odin_strbuf_reserve(&f->raw, room);
            if (w == NULL) {
                out->err = scrape_err_body_limit;
                return done(l, out, false);
            }
            ssize_t n = recv(f->fd, w, room, 0);
            if (n < 0) {
                if (errno == EINTR) {
                    i--;
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    break;
                }
                return retry_or_fail(l, out, errno_fail(l, "read", errno));
            }
            if (n == 0) {
                if (!f->got_bytes) {
                    return retry_or_fail(l, out, fail(l, "EOF"));
                }
                int r = on_bytes(l, out, true);
                return r != 0 ? r : done(l, out, false);
            }
            f->got_bytes = true;
            odin_strbuf_advance(&f->raw, (size_t)n);
            int r = on_bytes(l, out, false);
            if (r != 0) {
                return r;
            }
            if ((size_t)n < room) {
                break; /* drained: the next recv would only say EAGAIN */
            }
        }
    }
    if (f->state != FAST_IDLE && now_ns >= f->deadline_ns) {
        out->err = fail(l, "context deadline exceeded");
        return done(l, out, false);
    }
    return 0;
}

void scrape_fast_abort(scrape_loop *l)
{
    scrape_fast *f = &l->fast;
    if (f->state != FAST_IDLE) {
        fast_close(f);
        f->state = FAST_IDLE;
    }
}

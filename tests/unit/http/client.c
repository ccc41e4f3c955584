/* A minimal HTTP/1.1 client for the http unit tests: plain sockets, Content-Length or chunked
 * bodies, reads with a timeout so a broken server fails a test instead of hanging it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "http_test.h"

int test_connect(int port, bool v6)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc;
    if (v6) {
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                                  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    }
    if (rc < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

bool test_write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t n = send(fd, c, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        c += n;
        len -= (size_t)n;
    }
    return true;
}

/* Parses "HTTP/1.1 200 OK" and returns the offset after the blank line, or 0. */
static size_t parse_head(const char *p, size_t len, test_resp *out)
{
    const char *end = memmem(p, len, "\r\n\r\n", 4);
    if (end == NULL || len < 12 || memcmp(p, "HTTP/1.", 7) != 0) {
        return 0;
    }
    size_t hlen = (size_t)(end - p) + 4;
    out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    out->head = odin_strndup(p, hlen);
    return hlen;
}

static bool dechunk(const char *p, size_t len, odin_strbuf *out)
{
    size_t i = 0;
    for (;;) {
        const char *eol = memmem(p + i, len - i, "\r\n", 2);
        if (eol == NULL) {
            return false;
        }
        uint64_t n = 0;
        odin_str hex = {p + i, (size_t)(eol - (p + i))};
        hex = odin_str_cut(&hex, ';');
        if (odin_parse_hex_u64(odin_str_trim(hex), &n) < 0) {
            return false;
        }
        i = (size_t)(eol - p) + 2;
        if (n == 0) {
            return true;
        }
        if (n > len - i) {
            return false;
        }
        odin_strbuf_put(out, p + i, n);
        i += n + 2;
        if (i > len) {
            return false;
        }
    }
}

static bool parse_resp(const char *p, size_t len, test_resp *out)
{
    *out = (test_resp){0};
    size_t off = parse_head(p, len, out);
    if (off == 0) {
        return false;
    }
    char te[64];
    odin_strbuf body;
    odin_strbuf_init(&body, 0);
    bool ok = true;
    if (test_header(out, "Transfer-Encoding", te, sizeof te) && strcasecmp(te, "chunked") == 0) {
        ok = dechunk(p + off, len - off, &body);
    } else {
        odin_strbuf_put(&body, p + off, len - off);
    }
    out->body = odin_strbuf_take(&body, &out->body_len);
    return ok;
}

bool test_read_resp(int fd, test_resp *out)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (;;) {
        char *w = odin_strbuf_reserve(&b, 65536);
        ssize_t n = recv(fd, w, 65536, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            /* A reset after the full answer (the server closed with unread input) still
             * leaves the answer readable. */
            break;
        }
        odin_strbuf_advance(&b, (size_t)n);
    }
    bool ok = b.len > 0 && parse_resp(b.p, b.len, out);
    odin_strbuf_fini(&b);
    return ok;
}

bool test_read_one(int fd, test_resp *out)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    bool ok = false;
    for (;;) {
        char *w = odin_strbuf_reserve(&b, 4096);
        ssize_t n = recv(fd, w, 4096, 0);
        if (n <= 0) {
            break;
        }
        odin_strbuf_advance(&b, (size_t)n);
        const char *end = memmem(b.p, b.len, "\r\n\r\n", 4);
        if (end == NULL) {
            continue;
        }
        test_resp tmp = {0};
        size_t hlen = parse_head(b.p, b.len, &tmp);
        char cl[32];
        uint64_t want = 0;
        if (test_header(&tmp, "Content-Length", cl, sizeof cl)) {
            odin_parse_u64(odin_str_c(cl), &want);
        }
        test_resp_free(&tmp);
        if (b.len - hlen >= want) {
            ok = parse_resp(b.p, hlen + want, out);
            break;
        }
    }
    odin_strbuf_fini(&b);
    return ok;
}

bool test_roundtrip(int port, const char *req, size_t len, test_resp *out)
{
    int fd = test_connect(port, false);
    if (fd < 0) {
        return false;
    }
    bool ok = test_write_all(fd, req, len) && test_read_resp(fd, out);
    close(fd);
    return ok;
}

bool test_get(int port, const char *method, const char *path, const char *extra, test_resp *out)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s\r\n", method,
                       path, extra ? extra : "");
    bool ok = test_roundtrip(port, b.p, b.len, out);
    odin_strbuf_fini(&b);
    return ok;
}

bool test_post(int port, const char *path, const char *content_type, const char *body, size_t len,
               test_resp *out)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b,
                       "POST %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                       "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                       path, content_type, len);
    odin_strbuf_put(&b, body, len);
    bool ok = test_roundtrip(port, b.p, b.len, out);
    odin_strbuf_fini(&b);
    return ok;
}

const char *test_header(const test_resp *r, const char *name, char *buf, size_t cap)
{
    if (r->head == NULL) {
        return NULL;
    }
    size_t nlen = strlen(name);
    const char *line = strstr(r->head, "\r\n");
    while (line != NULL) {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        if (eol == NULL || eol == line) {
            return NULL;
        }
        size_t llen = (size_t)(eol - line);
        if (llen > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            odin_str v = odin_str_trim((odin_str){line + nlen + 1, llen - nlen - 1});
            if (v.len >= cap) {
                return NULL;
            }
            memcpy(buf, v.p, v.len);
            buf[v.len] = '\0';
            return buf;
        }
        line = eol;
    }
    return NULL;
}

void test_resp_free(test_resp *r)
{
    free(r->head);
    free(r->body);
    *r = (test_resp){0};
}

bool test_gunzip(const char *p, size_t len, char **out, size_t *out_len)
{
    z_stream zs = {0};
    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        return false;
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)len;
    int rc = Z_OK;
    while (rc == Z_OK) {
        char *w = odin_strbuf_reserve(&b, 65536);
        zs.next_out = (Bytef *)w;
        zs.avail_out = 65536;
        rc = inflate(&zs, Z_NO_FLUSH);
        odin_strbuf_advance(&b, 65536 - zs.avail_out);
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || zs.avail_in != 0) {
        odin_strbuf_fini(&b);
        return false;
    }
    *out = odin_strbuf_take(&b, out_len);
    return true;
}

/* A minimal HTTP/1.1 client for the web tests: one request per connection, the answer read until
 * the server closes, Content-Length or chunked bodies, a receive timeout so a hung server fails
 * the test instead of blocking it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "web_test.h"

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

const char *wt_header(const wt_resp *r, const char *name, char *buf, size_t cap)
{
    size_t nlen = strlen(name);
    const char *line = r->head != NULL ? strstr(r->head, "\r\n") : NULL;
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

static bool dechunk(const char *p, size_t len, odin_strbuf *out)
{
    size_t i = 0;
    while (i < len) {
        const char *eol = memmem(p + i, len - i, "\r\n", 2);
        if (eol == NULL) {
            return false;
        }
        odin_str hex = {p + i, (size_t)(eol - (p + i))};
        hex = odin_str_cut(&hex, ';');
        uint64_t n;
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
    }
    return false;
}

static bool parse(const char *p, size_t len, wt_resp *out)
{
    const char *end = memmem(p, len, "\r\n\r\n", 4);
    if (end == NULL || len < 12 || memcmp(p, "HTTP/1.", 7) != 0) {
        return false;
    }
    size_t hlen = (size_t)(end - p) + 4;
    out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    out->head = odin_strndup(p, hlen);
    odin_strbuf body;
    odin_strbuf_init(&body, 0);
    char te[32];
    bool ok = true;
    if (wt_header(out, "Transfer-Encoding", te, sizeof te) && strcasecmp(te, "chunked") == 0) {
        ok = dechunk(p + hlen, len - hlen, &body);
    } else {
        odin_strbuf_put(&body, p + hlen, len - hlen);
    }
    odin_strbuf_putc(&body, '\0');
    size_t blen;
    out->body = odin_strbuf_take(&body, &blen);
    return ok;
}

bool wt_request(int port, const char *method, const char *path, const char *form, wt_resp *out)
{
    *out = (wt_resp){0};
    int fd = dial(port);
    if (fd < 0) {
        return false;
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n", method, path);
    if (form != NULL) {
        odin_strbuf_printf(&b,
                           "Content-Type: application/x-www-form-urlencoded\r\n"
                           "Content-Length: %zu\r\n",
                           strlen(form));
    }
    odin_strbuf_puts(&b, "\r\n");
    if (form != NULL) {
        odin_strbuf_puts(&b, form);
    }
    bool ok = send_all(fd, b.p, b.len);
    odin_strbuf_reset(&b);
    while (ok) {
        char *w = odin_strbuf_reserve(&b, 65536);
        ssize_t n = recv(fd, w, 65536, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        odin_strbuf_advance(&b, (size_t)n);
    }
    close(fd);
    ok = ok && b.p != NULL && b.len > 0 && parse(b.p, b.len, out);
    odin_strbuf_fini(&b);
    return ok;
}

void wt_resp_free(wt_resp *r)
{
    free(r->head);
    free(r->body);
    *r = (wt_resp){0};
}

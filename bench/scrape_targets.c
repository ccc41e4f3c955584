/* A fast synthetic scrape target for bench/scrape_bench.py: serves N loopback ports, each with
 * node_exporter-like exposition text (HELP/TYPE per family, 1-3 labels per series) whose values
 * change on every scrape (counters grow, gauges wander). Label text is rendered once; a scrape
 * only writes the values, so the server costs far less than the scrapers it feeds.
 * Usage: bench_scrape_targets --targets N --series S --ports-file FILE
 * Writes the ports it listens on (one a line) to FILE once all are bound; runs until killed. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base.h"
#include "scrape_corpus.h"

enum { MAX_TARGETS = 4096, REQ_MAX = 8192 };

typedef struct {
    int fd;
    unsigned target; /* listener: the target it serves; connection: same */
    bool listener;
    char req[REQ_MAX];
    size_t req_len;
    odin_strbuf out;
    size_t out_off;
    uint64_t iter;
} conn;

static catalog cat;
static uint64_t scrapes[MAX_TARGETS];

static int listen_on(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
        return -1;
    }
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

static void conn_close(int ep, conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    odin_strbuf_fini(&c->out);
    free(c);
}

/* Writes what is pending; false when the connection is gone. */
static bool conn_flush(int ep, conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t w = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return true;
        }
        if (w <= 0) {
            return false;
        }
        c->out_off += (size_t)w;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return true;
}

/* Answers every complete request in the buffer (HTTP/1.1 keep-alive, GET only). */
static bool conn_serve(int ep, conn *c, odin_strbuf *body)
{
    for (;;) {
        char *end = memmem(c->req, c->req_len, "\r\n\r\n", 4);
        if (end == NULL) {
            return c->req_len < REQ_MAX;
        }
        size_t used = (size_t)(end + 4 - c->req);
        render(&cat, c->target, scrapes[c->target]++, body);
        if (c->out_off == c->out.len) {
            odin_strbuf_reset(&c->out);
            c->out_off = 0;
        }
        odin_strbuf_printf(&c->out,
                           "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
                           "charset=utf-8\r\nContent-Length: %zu\r\n\r\n",
                           body->len);
        odin_strbuf_put(&c->out, body->p, body->len);
        memmove(c->req, c->req + used, c->req_len - used);
        c->req_len -= used;
        if (!conn_flush(ep, c)) {
            return false;
        }
    }
}

static bool parse_count(const char *s, uint64_t max, uint64_t *out)
{
    return odin_parse_u64(odin_str_c(s), out) == 0 && *out > 0 && *out <= max;
}

int main(int argc, char **argv)
{
    uint64_t ntargets = 0, nseries = 0;
    const char *ports_file = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--targets") == 0 && parse_count(argv[i + 1], MAX_TARGETS, &ntargets)) {
            continue;
        }
        if (strcmp(argv[i], "--series") == 0 && parse_count(argv[i + 1], 10000000, &nseries)) {
            continue;
        }
        if (strcmp(argv[i], "--ports-file") == 0) {
            ports_file = argv[i + 1];
            continue;
        }
        ntargets = 0;
        break;
    }
    if (ntargets == 0 || nseries == 0 || ports_file == NULL) {
        odin_log(ODIN_LOG_ERROR, "bench", "usage: --targets N --series S --ports-file FILE", NULL);
        return 2;
    }
    build_catalog(&cat, (size_t)nseries);
    int ep = epoll_create1(0);
    odin_strbuf ports;
    odin_strbuf_init(&ports, 0);
    for (unsigned t = 0; t < ntargets; t++) {
        conn *l = odin_calloc(1, sizeof *l);
        l->fd = listen_on();
        if (l->fd < 0) {
            odin_log(ODIN_LOG_ERROR, "bench", "cannot listen", NULL);
            return 1;
        }
        l->listener = true;
        l->target = t;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
        epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev);
        odin_strbuf_printf(&ports, "%d\n", port_of(l->fd));
    }
    FILE *f = fopen(ports_file, "w");
    if (f == NULL || fwrite(ports.p, 1, ports.len, f) != ports.len || fclose(f) != 0) {
        odin_log(ODIN_LOG_ERROR, "bench", "cannot write the ports file", "file", ports_file, NULL);
        return 1;
    }
    odin_strbuf body;
    odin_strbuf_init(&body, 0);
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c->listener) {
                int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK);
                if (fd < 0) {
                    continue;
                }
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conn *nc = odin_calloc(1, sizeof *nc);
                nc->fd = fd;
                nc->target = c->target;
                odin_strbuf_init(&nc->out, 0);
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && !conn_flush(ep, c)) {
                conn_close(ep, c);
                continue;
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                continue;
            }
            ssize_t r = read(c->fd, c->req + c->req_len, REQ_MAX - c->req_len);
            if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
                conn_close(ep, c);
                continue;
            }
            c->req_len += r > 0 ? (size_t)r : 0;
            if (!conn_serve(ep, c, &body)) {
                conn_close(ep, c);
            }
        }
    }
}

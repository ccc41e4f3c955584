/* The plain-HTTP scrape client (src/scrape/loop_fast.c): response heads and chunk framing on
 * their own, then whole scrapes against a scripted raw TCP target: chunked gzip answers over one
 * kept connection with the request headers checked, a target closing its idle connection, an
 * answer running to EOF, a redirect handed to libcurl, 1xx answers before the real one, a
 * target that never answers, and a malformed head. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "scrape/loop_int.h"
#include "scrape_test.h"
#include "tsdb/tsdb.h"

/* ---- Heads and chunks ---------------------------------------------------------------------- */

static int head(scrape_fast *f, const char *text, odin_arena *a)
{
    return scrape_fast_parse_head(f, text, strlen(text), a);
}

/* Whether some loop of m has a libcurl easy handle, and some worker a multi handle (both made
 * only for scrapes libcurl makes). The multi handle is the worker's own; it is read here between
 * scrapes, when the worker is not making one. */
static bool any_easy_handle(scrape_manager *m, bool *any_multi)
{
    bool any = false;
    *any_multi = false;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nworkers; i++) {
        for (scrape_loop *l = m->workers[i].loops; l != NULL; l = l->next) {
            any |= l->easy != NULL;
        }
        *any_multi |= m->workers[i].multi != NULL;
    }
    pthread_mutex_unlock(&m->lock);
    return any;
}

static void test_parse_head(void **state)
{
    (void)state;
    odin_arena a;
    odin_arena_init(&a, 0);
    scrape_fast f;
    scrape_fast_init(&f);
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                     "content-length: 12\r\nContent-Encoding: gzip\r\n\r\nbody";
    assert_int_equal(head(&f, ok, &a), (int)strlen(ok) - 4);
    assert_int_equal(f.status, 200);
    assert_int_equal(f.clen, 12);
    assert_true(f.gzip);
    assert_false(f.chunked);
    assert_false(f.close_after);
    assert_string_equal(f.content_type, "text/plain; version=0.0.4");
    /* incomplete: more bytes needed */
    assert_int_equal(head(&f, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", &a), 0);
    /* chunked wins over a length; Connection tokens */
    assert_true(head(&f, "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n"
                         "Content-Length: 5\r\nConnection: foo, Close\r\n\r\n",
                     &a) > 0);
    assert_int_equal(f.status, 404);
    assert_true(f.chunked);
    assert_int_equal(f.clen, -1);
    assert_true(f.close_after);
    assert_null(f.content_type);
    /* HTTP/1.0 closes unless it says keep-alive */
    assert_true(head(&f, "HTTP/1.0 200 OK\r\n\r\n", &a) > 0);
    assert_true(f.close_after);
    assert_true(head(&f, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", &a) > 0);
    assert_false(f.close_after);
    /* malformed */
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(bad); i++) {
        assert_int_equal(head(&f, bad[i], &a), -1);
    }
    /* an encoding we did not ask for is left to libcurl */
    assert_int_equal(head(&f, "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n", &a), -2);
    scrape_fast_fini(&f);
    odin_arena_fini(&a);
}

/* Feeds text to the chunk decoder `step` bytes at a time, as recv would hand it over. */
static int dechunk_in_steps(scrape_fast *f, const char *text, size_t step)
{
    odin_strbuf_reset(&f->raw);
    f->ch_state = 0;
    f->ch_in = 0;
    f->body_end = 0;
    f->ch_left = 0;
    size_t n = strlen(text);
    int r = 0;
    for (size_t at = 0; at < n && r == 0; at += step) {
        odin_strbuf_put(&f->raw, text + at, at + step <= n ? step : n - at);
        r = scrape_fast_dechunk(f);
    }
    return r;
}

static void test_dechunk(void **state)
{
    (void)state;
    scrape_fast f;
    scrape_fast_init(&f);
    const char *body = "5\r\nhello\r\n7;ext=1\r\n, world\r\n1\r\n\n\r\n0\r\nTrailer: x\r\n\r\n";
    for (size_t step = 1; step <= strlen(body); step++) {
        assert_int_equal(dechunk_in_steps(&f, body, step), 1);
        assert_int_equal(f.body_end, 13);
        assert_memory_equal(f.raw.p, "hello, world\n", 13);
    }
    assert_int_equal(dechunk_in_steps(&f, "A\r\n0123456789\r\n0\r\n\r\n", 4), 1);
    assert_int_equal(f.body_end, 10);
    /* incomplete */
    assert_int_equal(dechunk_in_steps(&f, "5\r\nhel", 2), 0);
    /* malformed: no size, data longer than its size, bytes after the end */
    assert_int_equal(dechunk_in_steps(&f, "x\r\nabc\r\n", 3), -1);
    assert_int_equal(dechunk_in_steps(&f, "2\r\nabc\r\n0\r\n\r\n", 3), -1);
    assert_int_equal(dechunk_in_steps(&f, "0\r\n\r\nextra", 64), -1);
    scrape_fast_fini(&f);
}

/* ---- A scripted raw target ----------------------------------------------------------------- */

typedef enum {
    ANSWER_KEEP,       /* the response, then wait for the next request on the connection */
    ANSWER_THEN_CLOSE, /* the response, then close (without saying so) */
    ANSWER_NEVER,      /* read the request, answer nothing */
    ANSWER_REDIRECT,   /* 302 to /moved for /metrics; the response for any other path */
} answer_mode;

typedef struct {
    int lfd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    answer_mode mode;
    odin_strbuf response;
    int accepts, requests;
    int moved; /* requests for /moved (ANSWER_REDIRECT's target) */
    char last_request[1024];
    int stop_pipe[2];
} raw_target;

static bool read_request(int fd, char *buf, size_t cap, int stop)
{
    size_t n = 0;
    for (;;) {
        struct pollfd p[2] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 || p[1].revents != 0) {
            return false;
        }
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0) {
            return false;
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL) {
            return true;
        }
        if (n == cap - 1) {
            return false;
        }
    }
}

static void *raw_serve(void *arg)
{
    raw_target *t = arg;
    for (;;) {
        struct pollfd p[2] = {{t->lfd, POLLIN, 0}, {t->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 || p[1].revents != 0) {
            return NULL;
        }
        int fd = accept(t->lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        pthread_mutex_lock(&t->lock);
        t->accepts++;
        pthread_mutex_unlock(&t->lock);
        char req[1024];
        while (read_request(fd, req, sizeof req, t->stop_pipe[0])) {
            pthread_mutex_lock(&t->lock);
            t->requests++;
            snprintf(t->last_request, sizeof t->last_request, "%s", req);
            t->moved += strncmp(req, "GET /moved ", 11) == 0;
            answer_mode mode = t->mode;
            char *resp = odin_strndup(t->response.p, t->response.len);
            size_t len = t->response.len;
            pthread_mutex_unlock(&t->lock);
            if (mode == ANSWER_REDIRECT && strncmp(req, "GET /metrics ", 13) == 0) {
                free(resp);
                resp = odin_strdup("HTTP/1.1 302 Found\r\nLocation: /moved\r\n"
                                   "Content-Length: 0\r\n\r\n");
                len = strlen(resp);
            }
            bool sent = mode == ANSWER_NEVER || send(fd, resp, len, MSG_NOSIGNAL) == (ssize_t)len;
            free(resp);
            if (!sent || mode == ANSWER_THEN_CLOSE) {
                break;
            }
        }
        close(fd);
    }
}

/* A listening socket on the loopback address of `family` (::1 alone for AF_INET6); its port. */
static int loopback_listener(int family, int *port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t al;
    if (family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_addr = in6addr_loopback;
        al = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        al = sizeof *a4;
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, al), 0);
    assert_int_equal(listen(fd, 16), 0);
    getsockname(fd, (struct sockaddr *)&ss, &al);
    /* the port sits at the same offset in both address structs */
    *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void raw_start_on(raw_target *t, answer_mode mode, const char *response, size_t len,
                         int family)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->mode = mode;
    odin_strbuf_init(&t->response, 0);
    odin_strbuf_put(&t->response, response, len);
    t->lfd = loopback_listener(family, &t->port);
    assert_int_equal(pipe(t->stop_pipe), 0);
    assert_int_equal(pthread_create(&t->thread, NULL, raw_serve, t), 0);
}

static void raw_stop(raw_target *t)
{
    assert_int_equal(write(t->stop_pipe[1], "x", 1), 1);
    pthread_join(t->thread, NULL);
    close(t->lfd);
    close(t->stop_pipe[0]);
    close(t->stop_pipe[1]);
    odin_strbuf_fini(&t->response);
    pthread_mutex_destroy(&t->lock);
}

typedef struct {
    raw_target tgt;
    tsdb *db;
    scrape_manager *m;
    scrape_config *cfg;
    char addr[64];
} raw_env;

/* The target listening on `family`'s loopback address, scraped as host:port. */
static void raw_env_start_at(raw_env *e, answer_mode mode, const char *response, size_t len,
                             uint64_t body_size_limit, const char *host, int family)
{
    memset(e, 0, sizeof *e);
    raw_start_on(&e->tgt, mode, response, len, family);
    snprintf(e->addr, sizeof e->addr, "%s:%d", host, e->tgt.port);
    e->db = test_db_open();
    e->m = scrape_manager_new(e->db);
    const char *t[] = {e->addr};
    e->cfg = test_config_new("test", t, 1);
    e->cfg->jobs[0].body_size_limit = body_size_limit;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(scrape_manager_apply(e->m, e->cfg, &err), 0);
}

static void raw_env_start_limited(raw_env *e, answer_mode mode, const char *response, size_t len,
                                  uint64_t body_size_limit)
{
    raw_env_start_at(e, mode, response, len, body_size_limit, "127.0.0.1", AF_INET);
}

static void raw_env_start(raw_env *e, answer_mode mode, const char *response, size_t len)
{
    raw_env_start_limited(e, mode, response, len, 0);
}

static void raw_env_stop(raw_env *e)
{
    scrape_manager_free(e->m);
    tsdb_close(e->db);
    test_config_free(e->cfg);
    raw_stop(&e->tgt);
}

typedef struct {
    raw_env *e;
    const char *name, *label, *value;
    double want;
    int min_requests;
    const char *error; /* NULL: wants health "up" and no error */
} scrape_cond;

static bool scraped(void *arg)
{
    scrape_cond *c = arg;
    pthread_mutex_lock(&c->e->tgt.lock);
    int requests = c->e->tgt.requests;
    pthread_mutex_unlock(&c->e->tgt.lock);
    if (requests < c->min_requests) {
        return false;
    }
    if (c->name != NULL) {
        test_series s;
        /* the last line's series: every line before it was read too */
        test_query(c->e->db, c->name, c->label, c->value, &s);
        if (s.nsamples == 0 || s.last != c->want) {
            return false;
        }
    }
    scrape_targets_snapshot snap;
    scrape_manager_targets(c->e->m, &snap);
    bool ok = false;
    for (size_t i = 0; i < snap.len; i++) {
        const scrape_target_info *t = &snap.v[i];
        if (t->dropped || strcmp(t->job, "test") != 0) {
            continue;
        }
        ok = c->error == NULL ? strcmp(t->health, "up") == 0 && t->last_error[0] == '\0'
                              : strstr(t->last_error, c->error) != NULL;
    }
    scrape_targets_snapshot_fini(&snap);
    return ok;
}

static bool wait_scraped(raw_env *e, const char *name, double want, int min_requests,
                         const char *error)
{
    scrape_cond c = {e, name, NULL, NULL, want, min_requests, error};
    if (name != NULL && strcmp(name, "fast_metric") == 0) {
        c.label = "idx";
        c.value = "49";
    }
    return test_wait(scraped, &c);
}

static void gzip_text(const char *text, odin_strbuf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    unsigned char buf[4096];
    z.next_in = (Bytef *)(uintptr_t)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = buf;
    z.avail_out = sizeof buf;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    odin_strbuf_put(out, buf, sizeof buf - z.avail_out);
    deflateEnd(&z);
}

static void test_chunked_gzip_one_connection(void **state)
{
    (void)state;
    odin_strbuf text, gz, resp;
    odin_strbuf_init(&text, 0);
    odin_strbuf_init(&gz, 0);
    odin_strbuf_init(&resp, 0);
    for (int i = 0; i < 50; i++) {
        odin_strbuf_printf(&text, "fast_metric{idx=\"%d\"} %d\n", i, i);
    }
    gzip_text(text.p, &gz);
    odin_strbuf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                            "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t at = 0; at < gz.len; at += 7) {
        size_t n = gz.len - at < 7 ? gz.len - at : 7;
        odin_strbuf_printf(&resp, "%zx\r\n", n);
        odin_strbuf_put(&resp, gz.p + at, n);
        odin_strbuf_puts(&resp, "\r\n");
    }
    odin_strbuf_puts(&resp, "0\r\n\r\n");
    raw_env e;
    raw_env_start(&e, ANSWER_KEEP, resp.p, resp.len);
    assert_true(wait_scraped(&e, "fast_metric", 49, 4, NULL));
    pthread_mutex_lock(&e.tgt.lock);
    assert_int_equal(e.tgt.accepts, 1); /* every scrape on the one kept connection */
    const char *r = e.tgt.last_request;
    char host[80];
    snprintf(host, sizeof host, "\r\nHost: %s\r\n", e.addr);
    assert_true(strncmp(r, "GET /metrics HTTP/1.1\r\n", 23) == 0);
    assert_non_null(strstr(r, host));
    assert_non_null(strstr(r, "\r\nUser-Agent: Prometheus/2.42.0"));
    assert_non_null(strstr(r, "\r\nAccept: application/openmetrics-text;version=1.0.0,"));
    assert_non_null(strstr(r, "\r\nAccept-Encoding: gzip\r\n"));
    assert_non_null(strstr(r, "\r\nX-Prometheus-Scrape-Timeout-Seconds: 0.1\r\n"));
    pthread_mutex_unlock(&e.tgt.lock);
    bool multi;
    assert_false(any_easy_handle(e.m, &multi)); /* plain HTTP: libcurl was never needed */
    assert_false(multi);
    raw_env_stop(&e);
    odin_strbuf_fini(&text);
    odin_strbuf_fini(&gz);
    odin_strbuf_fini(&resp);
}

static void test_idle_close_is_retried(void **state)
{
    (void)state;
    /* the target closes every connection after answering without saying so: each next
     * scrape's request meets a closed connection and is sent again on a new one */
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nclosing_one 1\n";
    raw_env e;
    raw_env_start(&e, ANSWER_THEN_CLOSE, resp, sizeof resp - 1);
    assert_true(wait_scraped(&e, "closing_one", 1, 5, NULL));
    test_series s;
    test_query(e.db, "up", NULL, NULL, &s);
    assert_true(s.nsamples >= 4);
    assert_int_equal(s.last, 1);
    raw_env_stop(&e);
}

static void test_body_to_eof_and_connection_close(void **state)
{
    (void)state;
    const char resp[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\neof_metric 5\n";
    raw_env e;
    raw_env_start(&e, ANSWER_THEN_CLOSE, resp, sizeof resp - 1);
    assert_true(wait_scraped(&e, "eof_metric", 5, 3, NULL));
    pthread_mutex_lock(&e.tgt.lock);
    assert_true(e.tgt.accepts >= 3); /* one connection per scrape */
    pthread_mutex_unlock(&e.tgt.lock);
    raw_env_stop(&e);
}

static void test_redirect_goes_to_libcurl(void **state)
{
    (void)state;
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nmoved_thing 7\n";
    raw_env e;
    raw_env_start(&e, ANSWER_REDIRECT, resp, sizeof resp - 1);
    assert_true(wait_scraped(&e, "moved_thing", 7, 4, NULL));
    bool multi;
    assert_true(any_easy_handle(e.m, &multi));
    assert_true(multi);
    /* the sample came from /moved (not last_request: the next scrape's GET /metrics may be in) */
    pthread_mutex_lock(&e.tgt.lock);
    assert_true(e.tgt.moved >= 1);
    pthread_mutex_unlock(&e.tgt.lock);
    raw_env_stop(&e);
}

/* localhost is the loopback address, 127.0.0.1 first and ::1 when that is refused (as Go's
 * dialer and libcurl go), taken by the plain-HTTP client without libcurl. */
static void test_localhost_without_libcurl(void **state)
{
    (void)state;
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nlocalhost 3\n";
    int families[] = {AF_INET, AF_INET6};
    for (size_t i = 0; i < 2; i++) {
        raw_env e;
        raw_env_start_at(&e, ANSWER_KEEP, resp, sizeof resp - 1, 0, "LocalHost", families[i]);
        assert_true(wait_scraped(&e, "localhost", 3, 3, NULL));
        pthread_mutex_lock(&e.tgt.lock);
        assert_int_equal(e.tgt.accepts, 1); /* kept alive, on whichever address answered */
        char host[80];
        snprintf(host, sizeof host, "\r\nHost: LocalHost:%d\r\n", e.tgt.port);
        assert_non_null(strstr(e.tgt.last_request, host));
        pthread_mutex_unlock(&e.tgt.lock);
        bool multi;
        assert_false(any_easy_handle(e.m, &multi));
        assert_false(multi);
        raw_env_stop(&e);
    }

    /* nothing listens on either address: Go's error, for the first address */
    int port;
    close(loopback_listener(AF_INET, &port));
    raw_env e;
    memset(&e, 0, sizeof e);
    pthread_mutex_init(&e.tgt.lock, NULL);
    snprintf(e.addr, sizeof e.addr, "localhost:%d", port);
    e.db = test_db_open();
    e.m = scrape_manager_new(e.db);
    const char *t[] = {e.addr};
    e.cfg = test_config_new("test", t, 1);
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(scrape_manager_apply(e.m, e.cfg, &err), 0);
    char want[96];
    snprintf(want, sizeof want, "dial tcp 127.0.0.1:%d: connect: connection refused", port);
    assert_true(wait_scraped(&e, NULL, 0, 0, want));
    scrape_manager_free(e.m);
    tsdb_close(e.db);
    test_config_free(e.cfg);
    pthread_mutex_destroy(&e.tgt.lock);
}

/* Fails the test with what the target and the loop saw, for a wait that timed out. */
static void fail_with_state(raw_env *e, const char *what)
{
    pthread_mutex_lock(&e->tgt.lock);
    int requests = e->tgt.requests, accepts = e->tgt.accepts;
    pthread_mutex_unlock(&e->tgt.lock);
    scrape_targets_snapshot snap;
    scrape_manager_targets(e->m, &snap);
    const char *health = snap.len > 0 ? snap.v[0].health : "none";
    char last_error[256];
    snprintf(last_error, sizeof last_error, "%s", snap.len > 0 ? snap.v[0].last_error : "");
    scrape_targets_snapshot_fini(&snap);
    fail_msg("%s: %d requests on %d connections, health %s, last error \"%s\"", what, requests,
             accepts, health, last_error);
}

static void test_informational_answers_skipped(void **state)
{
    (void)state;
    const char resp[] = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
                        "HTTP/1.1 100 Continue\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhinted_one 4\n";
    raw_env e;
    raw_env_start(&e, ANSWER_KEEP, resp, sizeof resp - 1);
    if (!wait_scraped(&e, "hinted_one", 4, 3, NULL)) {
        fail_with_state(&e, "no good scrape after 1xx answers");
    }
    raw_env_stop(&e);
}

static void test_timeout_and_malformed(void **state)
{
    (void)state;
    raw_env e;
    raw_env_start(&e, ANSWER_NEVER, "", 0);
    char want[128];
    snprintf(want, sizeof want, "Get \"http://%s/metrics\": context deadline exceeded", e.addr);
    assert_true(wait_scraped(&e, NULL, 0, 2, want));
    raw_env_stop(&e);

    const char bad[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde";
    raw_env_start(&e, ANSWER_KEEP, bad, sizeof bad - 1);
    assert_true(wait_scraped(&e, NULL, 0, 2, "malformed HTTP response"));
    raw_env_stop(&e);
}

/* A gzip answer is limited by its decoded size; one whose encoded bytes alone pass the limit
 * (by more than gzip's overhead) is refused before it is all in. */
static void test_gzip_body_limit(void **state)
{
    (void)state;
    enum { GARBAGE = 200000 };
    odin_strbuf resp;
    odin_strbuf_init(&resp, 0);
    odin_strbuf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                              "Content-Length: %d\r\n\r\n", GARBAGE);
    for (int i = 0; i < GARBAGE; i++) {
        odin_strbuf_putc(&resp, (char)('a' + i % 26));
    }
    raw_env e;
    raw_env_start_limited(&e, ANSWER_KEEP, resp.p, resp.len, 1000);
    assert_true(wait_scraped(&e, NULL, 0, 2, "body size limit exceeded"));
    raw_env_stop(&e);
    /* within the limit once decoded */
    odin_strbuf gz;
    odin_strbuf_init(&gz, 0);
    gzip_text("limited_one 3\n", &gz);
    odin_strbuf_reset(&resp);
    odin_strbuf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                              "Content-Length: %zu\r\n\r\n", gz.len);
    odin_strbuf_put(&resp, gz.p, gz.len);
    raw_env_start_limited(&e, ANSWER_KEEP, resp.p, resp.len, 14);
    assert_true(wait_scraped(&e, "limited_one", 3, 2, NULL));
    raw_env_stop(&e);
    raw_env_start_limited(&e, ANSWER_KEEP, resp.p, resp.len, 13);
    assert_true(wait_scraped(&e, NULL, 0, 2, "body size limit exceeded"));
    raw_env_stop(&e);
    odin_strbuf_fini(&gz);
    odin_strbuf_fini(&resp);
}

int scrape_fast_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_head),
        cmocka_unit_test(test_dechunk),
        cmocka_unit_test(test_chunked_gzip_one_connection),
        cmocka_unit_test(test_idle_close_is_retried),
        cmocka_unit_test(test_body_to_eof_and_connection_close),
        cmocka_unit_test(test_redirect_goes_to_libcurl),
        cmocka_unit_test(test_localhost_without_libcurl),
        cmocka_unit_test(test_informational_answers_skipped),
        cmocka_unit_test(test_timeout_and_malformed),
        cmocka_unit_test(test_gzip_body_limit),
    };
    return cmocka_run_group_tests_name("scrape_fast", tests, NULL, NULL);
}

/* Tests for src/http/server.c: a real server on a loopback port and real requests over a socket:
 * routing, 404/405, query and form parameters, headers, gzip, body limits, listen addresses,
 * thread pools and the graceful stop. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"
#include "http/http_int.h"
#include "http_test.h"

/* The backend the groups below run against; main runs them once per backend. */
static http_backend backend;

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Deterministic, compressible text of exactly n bytes. */
static void make_big(odin_strbuf *b, size_t n)
{
    size_t start = b->len;
    for (uint64_t i = 0; b->len - start < n; i++) {
        odin_strbuf_puts(b, "series_");
        odin_strbuf_put_u64(b, i * 7919 % 1000);
        odin_strbuf_puts(b, "{job=\"node\"} 1\n");
    }
    b->len = start + n;
    b->p[b->len] = '\0';
}

/* ---- Handlers -------------------------------------------------------------------------------- */

static void h_text(void *ctx, http_request *req, http_response *resp)
{
    (void)req;
    odin_strbuf_puts(&resp->body, ctx);
}

/* "<ctx> <method> <path>" so routing tests see which route answered. */
static void h_route(void *ctx, http_request *req, http_response *resp)
{
    odin_strbuf_printf(&resp->body, "%s %s %s", (const char *)ctx, http_request_method(req),
                       http_request_path(req));
}

static void h_params(void *ctx, http_request *req, http_response *resp)
{
    (void)ctx;
    static const char *const names[] = {"a",  "match[]", "q",   "empty",
                                        "sp", "pct",     "bad", "missing"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(names); i++) {
        const char *vals[16];
        size_t n = http_request_params(req, names[i], vals, 16);
        const char *first = http_request_param(req, names[i]);
        if (n == 0) {
            odin_strbuf_printf(&resp->body, "%s:absent%s\n", names[i], first ? "!" : "");
            continue;
        }
        odin_strbuf_printf(&resp->body, "%s=", names[i]);
        for (size_t j = 0; j < n; j++) {
            odin_strbuf_printf(&resp->body, "%s%s", j ? "|" : "", vals[j]);
        }
        odin_strbuf_puts(&resp->body, first == vals[0] ? "\n" : " (first differs)\n");
    }
    const char *one[1];
    odin_strbuf_printf(&resp->body, "max1=%zu\n", http_request_params(req, "a", one, 1));
}

static void h_echo(void *ctx, http_request *req, http_response *resp)
{
    (void)ctx;
    size_t len = 0;
    const char *body = http_request_body(req, &len);
    odin_strbuf_put(&resp->body, body, len);
    resp->content_type = "application/octet-stream";
    http_response_header(resp, "X-Body-Len",
                         odin_arena_printf(http_request_arena(req), "%zu", len));
}

static void h_big(void *ctx, http_request *req, http_response *resp)
{
    (void)ctx;
    uint64_t n = 0;
    const char *p = http_request_param(req, "n");
    if (p == NULL || odin_parse_u64(odin_str_c(p), &n) < 0) {
        resp->status = 400;
        return;
    }
    make_big(&resp->body, (size_t)n);
    resp->no_gzip = http_request_param(req, "nogzip") != NULL;
}

static void h_status(void *ctx, http_request *req, http_response *resp)
{
    (void)ctx;
    (void)req;
    resp->status = 201;
    resp->content_type = "application/json";
    odin_strbuf_puts(&resp->body, "{\"ok\":true}");
    for (int i = 0; i < 9; i++) {
        static const char *const names[] = {"X-H0", "X-H1", "X-H2", "X-H3", "X-H4",
                                            "X-H5", "X-H6", "X-H7", "X-H8"};
        http_response_header(resp, names[i], "v");
    }
}

static void h_header(void *ctx, http_request *req, http_response *resp)
{
    (void)ctx;
    const char *v = http_request_header(req, "x-test");
    odin_strbuf_puts(&resp->body, v ? v : "(none)");
}

static void h_overflow(void *ctx, http_request *req, http_response *resp)
{
    (void)ctx;
    (void)req;
    resp->body.cap_bytes = 8;
    odin_strbuf_puts(&resp->body, "far more than eight bytes");
}

static atomic_int arena_cleanups;

static void count_cleanup(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void h_arena(void *ctx, http_request *req, http_response *resp)
{
    (void)ctx;
    odin_arena *a = http_request_arena(req);
    char *s = odin_arena_strdup(a, "from the arena");
    odin_arena_on_reset(a, count_cleanup, &arena_cleanups);
    odin_strbuf_puts(&resp->body, s);
}

/* A handler that blocks until the test opens its gate. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered;
    bool open;
} gate;

static void h_slow(void *ctx, http_request *req, http_response *resp)
{
    (void)req;
    gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    odin_strbuf_puts(&resp->body, "done\n");
}

/* ---- Fixture --------------------------------------------------------------------------------- */

static http_server *start_on(const char *addr, int threads, size_t max_body)
{
    odin_err err = {0};
    http_server_opts o = {.listen_address = addr, .threads = threads, .timeout_s = 10,
                          .max_body_bytes = max_body, .backend = backend};
    http_server *s = http_server_start(&o, &err);
    if (s == NULL) {
        fail_msg("start %s: %s", addr, err.msg);
    }
    return s;
}

static void add_routes(http_server *s)
{
    http_server_route(s, "GET", "/hello", h_text, "hello\n");
    http_server_route(s, NULL, "/params", h_params, NULL);
    http_server_route(s, "POST", "/echo", h_echo, NULL);
    http_server_route(s, "GET", "/big", h_big, NULL);
    http_server_route(s, "GET", "/status", h_status, NULL);
    http_server_route(s, "GET", "/header", h_header, NULL);
    http_server_route(s, "GET", "/overflow", h_overflow, NULL);
    http_server_route(s, "GET", "/arena", h_arena, NULL);
    http_server_route(s, NULL, "/api/*", h_route, "api*");
    http_server_route(s, "GET", "/api/v1/query", h_route, "query");
    http_server_route(s, "POST", "/api/v1/query", h_route, "query-post");
    http_server_route(s, NULL, "/api/v1/*", h_route, "v1*");
    http_server_route(s, "GET", "/only", h_route, "only-get");
    http_server_route(s, "PUT", "/only", h_route, "only-put");
    http_server_route(s, "GET", "/only", h_route, "only-get-again");
}

static int setup(void **state)
{
    http_server *s = start_on("127.0.0.1:0", 0, 0);
    add_routes(s);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    http_server_stop(*state);
    return 0;
}

static int port_of(void **state)
{
    return http_server_port(*state);
}

/* ---- Routing --------------------------------------------------------------------------------- */

typedef struct {
    const char *method;
    const char *path;
    int status;
    const char *body;
    const char *allow;
} route_case;

static void test_routing(void **state)
{
    static const route_case cases[] = {
        {"GET", "/hello", 200, "hello\n", NULL},
        {"HEAD", "/hello", 200, "", NULL},
        {"GET", "/api/v1/query", 200, "query GET /api/v1/query", NULL},
        {"POST", "/api/v1/query", 200, "query-post POST /api/v1/query", NULL},
        {"DELETE", "/api/v1/query", 200, "v1* DELETE /api/v1/query", NULL},
        {"GET", "/api/v1/labels", 200, "v1* GET /api/v1/labels", NULL},
        {"GET", "/api/v1/", 200, "v1* GET /api/v1/", NULL},
        {"GET", "/api/v2/x", 200, "api* GET /api/v2/x", NULL},
        {"GET", "/api", 404, "404 page not found\n", NULL},
        {"GET", "/nope", 404, "404 page not found\n", NULL},
        {"GET", "/hello/more", 404, "404 page not found\n", NULL},
        {"POST", "/hello", 405, "405 method not allowed\n", "GET"},
        {"DELETE", "/only", 405, "405 method not allowed\n", "GET, PUT"},
        {"PUT", "/only", 200, "only-put PUT /only", NULL},
        {"GET", "/only", 200, "only-get GET /only", NULL},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        const route_case *c = &cases[i];
        test_resp r;
        if (!test_get(port_of(state), c->method, c->path, NULL, &r)) {
            fail_msg("%s %s: no valid response", c->method, c->path);
        }
        if (r.status != c->status || strcmp(r.body, c->body) != 0) {
            fail_msg("%s %s: got %d \"%s\", want %d \"%s\"", c->method, c->path, r.status, r.body,
                     c->status, c->body);
        }
        char allow[64];
        const char *got = test_header(&r, "Allow", allow, sizeof allow);
        if (c->allow != NULL && (got == NULL || strcmp(got, c->allow) != 0)) {
            fail_msg("%s %s: Allow %s, want %s", c->method, c->path, got ? got : "(none)",
                     c->allow);
        }
        test_resp_free(&r);
    }
}

static void test_response_fields(void **state)
{
    test_resp r;
    assert_true(test_get(port_of(state), "GET", "/status", NULL, &r));
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "{\"ok\":true}");
    char buf[64];
    assert_string_equal(test_header(&r, "Content-Type", buf, sizeof buf), "application/json");
    assert_string_equal(test_header(&r, "X-H7", buf, sizeof buf), "v");
    assert_null(test_header(&r, "X-H8", buf, sizeof buf)); /* only 8 extra headers */
    test_resp_free(&r);

    assert_true(test_get(port_of(state), "GET", "/hello", NULL, &r));
    assert_string_equal(test_header(&r, "Content-Type", buf, sizeof buf),
                        "text/plain; charset=utf-8");
    test_resp_free(&r);

    assert_true(test_get(port_of(state), "GET", "/header", "X-Test: hi there\r\n", &r));
    assert_string_equal(r.body, "hi there");
    test_resp_free(&r);

    assert_true(test_get(port_of(state), "GET", "/overflow", NULL, &r));
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "500 response too large\n");
    test_resp_free(&r);
}

/* ---- Parameters ------------------------------------------------------------------------------ */

static const char PARAMS_WANT[] = "a=1|2|q1\n"
                                  "match[]=up|x=1 y\n"
                                  "q=a+b\n"
                                  "empty=\n"
                                  "sp=hello world\n"
                                  "pct=100%\n"
                                  "bad=%zz%4\n"
                                  "missing:absent\n"
                                  "max1=1\n";

static const char PARAMS_TEXT[] = "a=1&a=2&match%5B%5D=up&match[]=x%3D1+y&q=a%2Bb&empty&&"
                                  "sp=hello+world&pct=100%25&bad=%zz%4";

static void test_query_params(void **state)
{
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    /* The query's own "a" pairs come first here: only the query string carries them. */
    odin_strbuf_printf(&path, "/params?%s&a=q1", PARAMS_TEXT);
    test_resp r;
    assert_true(test_get(port_of(state), "GET", path.p, NULL, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, PARAMS_WANT);
    test_resp_free(&r);
    odin_strbuf_fini(&path);
}

static void test_form_params(void **state)
{
    test_resp r;
    /* Body pairs come before query pairs, as in Go's r.Form (Prometheus' FormValue). */
    assert_true(test_post(port_of(state), "/params?a=q1",
                          "application/x-www-form-urlencoded; charset=UTF-8", PARAMS_TEXT,
                          sizeof PARAMS_TEXT - 1, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, PARAMS_WANT);
    test_resp_free(&r);

    /* Not a form: the body is left alone. */
    assert_true(test_post(port_of(state), "/params?a=q1", "text/plain", "a=zzz", 5, &r));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "a=q1\n"));
    test_resp_free(&r);
}

typedef struct {
    const char *in;
    const char *names;  /* "n=v;" per pair */
} form_case;

static void test_form_parse_table(void **state)
{
    (void)state;
    static const form_case cases[] = {
        {"", ""},
        {"a", "a=;"},
        {"a=", "a=;"},
        {"=v", "=v;"},
        {"a=1&b=2", "a=1;b=2;"},
        {"&&a=1&", "a=1;"},
        {"a=%41%42c", "a=ABc;"},
        {"a=%4", "a=%4;"},
        {"a=%", "a=%;"},
        {"a=%g1", "a=%g1;"},
        {"a+b=c+d", "a b=c d;"},
        {"x=%2B%26%3D", "x=+&=;"},
        {"k=a=b", "k=a=b;"},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        odin_arena a;
        odin_arena_init(&a, 0);
        http_params ps = {0};
        odin_err err = {0};
        if (http_form_parse(odin_str_c(cases[i].in), &a, &ps, &err) < 0) {
            fail_msg("case \"%s\": %s", cases[i].in, err.msg);
        }
        odin_strbuf got;
        odin_strbuf_init(&got, 0);
        for (size_t j = 0; j < ps.len; j++) {
            odin_strbuf_printf(&got, "%s=%s;", ps.v[j].name, ps.v[j].value);
        }
        if (strcmp(got.len ? got.p : "", cases[i].names) != 0) {
            fail_msg("case \"%s\": got \"%s\", want \"%s\"", cases[i].in, got.p, cases[i].names);
        }
        odin_strbuf_fini(&got);
        odin_arena_fini(&a);
    }
}

static void test_form_parse_limit(void **state)
{
    (void)state;
    odin_arena a;
    odin_arena_init(&a, 4096);
    http_params ps = {0};
    odin_err err = {0};
    odin_strbuf in;
    odin_strbuf_init(&in, 0);
    for (int i = 0; i < 2000; i++) {
        odin_strbuf_puts(&in, "name=value&");
    }
    assert_int_equal(http_form_parse((odin_str){in.p, in.len}, &a, &ps, &err), -ODIN_ERR_LIMIT);
    assert_int_equal(err.code, ODIN_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "form body"));
    odin_strbuf_fini(&in);
    odin_arena_fini(&a);
}

/* ---- Bodies and gzip ------------------------------------------------------------------------- */

static void test_gzip_negotiation(void **state)
{
    odin_strbuf want;
    odin_strbuf_init(&want, 0);
    make_big(&want, 10000);
    char buf[64];
    test_resp r;

    assert_true(test_get(port_of(state), "GET", "/big?n=10000", "Accept-Encoding: gzip\r\n", &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(test_header(&r, "Content-Encoding", buf, sizeof buf), "gzip");
    assert_string_equal(test_header(&r, "Vary", buf, sizeof buf), "Accept-Encoding");
    assert_true(r.body_len < 10000);
    char *plain = NULL;
    size_t plain_len = 0;
    assert_true(test_gunzip(r.body, r.body_len, &plain, &plain_len));
    assert_int_equal(plain_len, 10000);
    assert_memory_equal(plain, want.p, 10000);
    free(plain);
    test_resp_free(&r);

    static const char *const no_gzip[] = {NULL, "Accept-Encoding: gzip;q=0\r\n",
                                          "Accept-Encoding: br, deflate\r\n"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(no_gzip); i++) {
        assert_true(test_get(port_of(state), "GET", "/big?n=10000", no_gzip[i], &r));
        assert_null(test_header(&r, "Content-Encoding", buf, sizeof buf));
        assert_string_equal(test_header(&r, "Vary", buf, sizeof buf), "Accept-Encoding");
        assert_int_equal(r.body_len, 10000);
        assert_memory_equal(r.body, want.p, 10000);
        test_resp_free(&r);
    }

    /* Small bodies and no_gzip responses go out as they are. */
    assert_true(test_get(port_of(state), "GET", "/hello", "Accept-Encoding: gzip\r\n", &r));
    assert_null(test_header(&r, "Content-Encoding", buf, sizeof buf));
    assert_string_equal(r.body, "hello\n");
    test_resp_free(&r);
    assert_true(test_get(port_of(state), "GET", "/big?n=10000&nogzip=1",
                         "Accept-Encoding: gzip\r\n", &r));
    assert_null(test_header(&r, "Content-Encoding", buf, sizeof buf));
    assert_int_equal(r.body_len, 10000);
    test_resp_free(&r);
    odin_strbuf_fini(&want);
}

static void test_large_bodies(void **state)
{
    if (backend == HTTP_BACKEND_SMALL) {
        skip(); /* its bodies stop at 64 KiB: small_test.c checks the 413 */
    }
    /* 4 MiB in with every byte value, echoed back; 8 MB out, gzipped. */
    size_t n = (size_t)4 << 20;
    char *in = odin_malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245 + 12345;
        in[i] = (char)(x >> 16);
    }
    test_resp r;
    assert_true(test_post(port_of(state), "/echo", "application/octet-stream", in, n, &r));
    assert_int_equal(r.status, 200);
    char buf[64];
    assert_string_equal(test_header(&r, "X-Body-Len", buf, sizeof buf), "4194304");
    assert_int_equal(r.body_len, n);
    assert_memory_equal(r.body, in, n);
    test_resp_free(&r);
    free(in);

    odin_strbuf want;
    odin_strbuf_init(&want, 0);
    make_big(&want, 8000000);
    assert_true(test_get(port_of(state), "GET", "/big?n=8000000", "Accept-Encoding: gzip\r\n", &r));
    assert_int_equal(r.status, 200);
    char *plain = NULL;
    size_t plain_len = 0;
    assert_true(test_gunzip(r.body, r.body_len, &plain, &plain_len));
    assert_int_equal(plain_len, want.len);
    assert_memory_equal(plain, want.p, want.len);
    free(plain);
    test_resp_free(&r);
    odin_strbuf_fini(&want);
}

static void test_body_limit(void **state)
{
    (void)state;
    http_server *s = start_on("127.0.0.1:0", 0, 1024);
    http_server_route(s, "POST", "/echo", h_echo, NULL);
    int port = http_server_port(s);
    char body[2048];
    memset(body, 'x', sizeof body);
    test_resp r;

    /* Exactly at the cap is fine. */
    assert_true(test_post(port, "/echo", "text/plain", body, 1024, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 1024);
    test_resp_free(&r);

    /* A declared length over the cap is refused before the body is read. */
    static const char declared[] = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\n\r\n";
    assert_true(test_roundtrip(port, declared, sizeof declared - 1, &r));
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body, "413 request body too large\n");
    test_resp_free(&r);

    /* A chunked body has no declared length: it is cut off when it crosses the cap. The small
     * backend (bodies are not its business) refuses transfer codings outright. */
    odin_strbuf req;
    odin_strbuf_init(&req, 0);
    odin_strbuf_puts(&req, "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 2; i++) {
        odin_strbuf_puts(&req, "400\r\n");
        odin_strbuf_put(&req, body, 1024);
        odin_strbuf_puts(&req, "\r\n");
    }
    odin_strbuf_puts(&req, "0\r\n\r\n");
    assert_true(test_roundtrip(port, req.p, req.len, &r));
    assert_int_equal(r.status, backend == HTTP_BACKEND_SMALL ? 501 : 413);
    test_resp_free(&r);
    odin_strbuf_fini(&req);
    http_server_stop(s);
}

static void test_arena_reset_after_response(void **state)
{
    atomic_store(&arena_cleanups, 0);
    test_resp r;
    assert_true(test_get(port_of(state), "GET", "/arena", NULL, &r));
    assert_string_equal(r.body, "from the arena");
    test_resp_free(&r);
    /* The cleanup runs when the request completes, which can trail the client's read. */
    for (int i = 0; i < 500 && atomic_load(&arena_cleanups) == 0; i++) {
        sleep_ms(10);
    }
    assert_int_equal(atomic_load(&arena_cleanups), 1);
}

/* ---- Listen addresses ------------------------------------------------------------------------ */

typedef struct {
    const char *addr;
    int code;
    const char *fragment;
} addr_case;

static void test_bad_addresses(void **state)
{
    (void)state;
    static const addr_case cases[] = {
        {"", ODIN_ERR_INVALID, "listen address is empty"},
        {"nonsense", ODIN_ERR_INVALID, "\"nonsense\": missing port"},
        {"127.0.0.1:99999", ODIN_ERR_INVALID, "\"127.0.0.1:99999\": port must be"},
        {"127.0.0.1:", ODIN_ERR_INVALID, "port must be"},
        {"127.0.0.1:http", ODIN_ERR_INVALID, "port must be"},
        {"::1:80", ODIN_ERR_INVALID, "too many colons"},
        {"[::1", ODIN_ERR_INVALID, "missing ']'"},
        {"[::1]", ODIN_ERR_INVALID, "\"[::1]\": missing port"},
        {"192.0.2.1:0", ODIN_ERR_IO, "listen tcp 192.0.2.1:0: "},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        odin_err err = {0};
        http_server_opts o = {.listen_address = cases[i].addr, .backend = backend};
        http_server *s = http_server_start(&o, &err);
        if (s != NULL) {
            http_server_stop(s);
            fail_msg("\"%s\": started, want an error", cases[i].addr);
        }
        if (err.code != cases[i].code || strstr(err.msg, cases[i].fragment) == NULL) {
            fail_msg("\"%s\": got %d \"%s\", want %d containing \"%s\"", cases[i].addr, err.code,
                     err.msg, cases[i].code, cases[i].fragment);
        }
    }
}

static void test_address_in_use(void **state)
{
    (void)state;
    http_server *a = start_on("127.0.0.1:0", 0, 0);
    odin_strbuf addr;
    odin_strbuf_init(&addr, 0);
    odin_strbuf_printf(&addr, "127.0.0.1:%d", http_server_port(a));
    odin_err err = {0};
    http_server_opts o = {.listen_address = addr.p, .backend = backend};
    assert_null(http_server_start(&o, &err));
    assert_int_equal(err.code, ODIN_ERR_IO);
    assert_non_null(strstr(err.msg, addr.p));
    assert_non_null(strstr(err.msg, "in use"));
    odin_strbuf_fini(&addr);
    http_server_stop(a);
}

static void expect_hello(int port, bool v6)
{
    int fd = test_connect(port, v6);
    assert_true(fd >= 0);
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    test_resp r;
    assert_true(test_write_all(fd, req, sizeof req - 1));
    assert_true(test_read_resp(fd, &r));
    close(fd);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello\n");
    test_resp_free(&r);
}

static bool have_ipv6_loopback(void)
{
    int fd = test_connect(1, true); /* port 1: refused if ::1 exists, unreachable if not */
    bool ok = fd >= 0 || errno == ECONNREFUSED;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void test_good_addresses(void **state)
{
    (void)state;
    static const char *const addrs[] = {":0", "localhost:0", "0.0.0.0:0", "[::]:0"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(addrs); i++) {
        http_server *s = start_on(addrs[i], 0, 0);
        http_server_route(s, "GET", "/hello", h_text, "hello\n");
        assert_true(http_server_port(s) > 0);
        expect_hello(http_server_port(s), false);
        if (i != 1 && have_ipv6_loopback()) {
            /* Wildcard hosts are dual-stack, as in Go. */
            expect_hello(http_server_port(s), true);
        }
        http_server_stop(s);
    }
    if (!have_ipv6_loopback()) {
        return;
    }
    http_server *s = start_on("[::1]:0", 0, 0);
    http_server_route(s, "GET", "/hello", h_text, "hello\n");
    expect_hello(http_server_port(s), true);
    http_server_stop(s);
}

/* ---- Threads and stopping -------------------------------------------------------------------- */

typedef struct {
    int port;
    int ok;
} hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *h = p;
    for (int i = 0; i < 25; i++) {
        test_resp r;
        if (test_get(h->port, "GET", "/hello", NULL, &r) && r.status == 200 &&
            strcmp(r.body, "hello\n") == 0) {
            h->ok++;
        }
        test_resp_free(&r);
    }
    return NULL;
}

static void test_thread_pool(void **state)
{
    (void)state;
    http_server *s = start_on("127.0.0.1:0", 4, 0);
    http_server_route(s, "GET", "/hello", h_text, "hello\n");
    pthread_t t[8];
    hammer_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (hammer_arg){.port = http_server_port(s)};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += args[i].ok;
    }
    assert_int_equal(total, 200);
    http_server_stop(s);
}

typedef struct {
    int port;
    test_resp resp;
    bool ok;
} client_arg;

static void *slow_client(void *p)
{
    client_arg *c = p;
    c->ok = test_get(c->port, "GET", "/slow", NULL, &c->resp);
    return NULL;
}

static atomic_bool stop_returned;

static void *stopper(void *p)
{
    http_server_stop(p);
    atomic_store(&stop_returned, true);
    return NULL;
}

static void graceful_stop(int threads)
{
    gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    http_server *s = start_on("127.0.0.1:0", threads, 0);
    http_server_route(s, "GET", "/slow", h_slow, &g);
    int port = http_server_port(s);
    client_arg c = {.port = port};
    pthread_t ct, st;
    assert_int_equal(pthread_create(&ct, NULL, slow_client, &c), 0);
    pthread_mutex_lock(&g.mu);
    while (!g.entered) {
        pthread_cond_wait(&g.cv, &g.mu);
    }
    pthread_mutex_unlock(&g.mu);

    atomic_store(&stop_returned, false);
    assert_int_equal(pthread_create(&st, NULL, stopper, s), 0);
    /* New connections are refused once the stop begins... */
    bool refused = false;
    for (int i = 0; i < 500 && !refused; i++) {
        int fd = test_connect(port, false);
        if (fd < 0) {
            refused = errno == ECONNREFUSED;
        } else {
            close(fd);
            sleep_ms(10);
        }
    }
    assert_true(refused);
    /* ...while the request in flight holds the stop until it is answered. */
    sleep_ms(50);
    assert_false(atomic_load(&stop_returned));
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(ct, NULL);
    pthread_join(st, NULL);
    assert_true(atomic_load(&stop_returned));
    assert_true(c.ok);
    assert_int_equal(c.resp.status, 200);
    assert_string_equal(c.resp.body, "done\n");
    test_resp_free(&c.resp);
}

static atomic_bool late_done;

static void *late_client(void *p)
{
    client_arg *c = p;
    c->ok = test_get(c->port, "GET", "/late", NULL, &c->resp);
    atomic_store(&late_done, true);
    return NULL;
}

/* A gated server holds a request that arrives before its routes are added, then answers it with
 * the route added meanwhile (not a 404 from a half-built table). */
static void test_gated_start(void **state)
{
    (void)state;
    odin_err err = {0};
    http_server_opts o = {.listen_address = "127.0.0.1:0", .timeout_s = 10, .backend = backend,
                          .gated = true};
    http_server *s = http_server_start(&o, &err);
    assert_non_null(s);
    client_arg c = {.port = http_server_port(s)};
    atomic_store(&late_done, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, late_client, &c), 0);
    sleep_ms(100);
    assert_false(atomic_load(&late_done));
    http_server_route(s, "GET", "/late", h_text, "late\n");
    http_server_open(s);
    pthread_join(t, NULL);
    assert_true(c.ok);
    assert_int_equal(c.resp.status, 200);
    assert_string_equal(c.resp.body, "late\n");
    test_resp_free(&c.resp);
    http_server_stop(s);
}

static void test_graceful_stop(void **state)
{
    (void)state;
    graceful_stop(0);
}

static void test_graceful_stop_thread_pool(void **state)
{
    (void)state;
    graceful_stop(4);
}

static void test_stop_with_idle_keepalive(void **state)
{
    (void)state;
    http_server *s = start_on("127.0.0.1:0", 0, 0);
    http_server_route(s, "GET", "/hello", h_text, "hello\n");
    int fd = test_connect(http_server_port(s), false);
    assert_true(fd >= 0);
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
    test_resp r;
    for (int i = 0; i < 2; i++) {
        assert_true(test_write_all(fd, req, sizeof req - 1));
        assert_true(test_read_one(fd, &r));
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "hello\n");
        test_resp_free(&r);
    }
    /* The idle connection does not hold the stop; it is closed under the client. */
    http_server_stop(s);
    char c;
    assert_true(recv(fd, &c, 1, 0) <= 0);
    close(fd);
}

static void test_stop_null(void **state)
{
    (void)state;
    http_server_stop(NULL);
}

int http_server_tests(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_response_fields),
        cmocka_unit_test(test_query_params),
        cmocka_unit_test(test_form_params),
        cmocka_unit_test(test_gzip_negotiation),
        cmocka_unit_test(test_large_bodies),
        cmocka_unit_test(test_arena_reset_after_response),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_form_parse_table),
        cmocka_unit_test(test_form_parse_limit),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_address_in_use),
        cmocka_unit_test(test_good_addresses),
        cmocka_unit_test(test_thread_pool),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_gated_start),
        cmocka_unit_test(test_graceful_stop_thread_pool),
        cmocka_unit_test(test_stop_with_idle_keepalive),
        cmocka_unit_test(test_stop_null),
    };
    backend = HTTP_BACKEND_MHD;
    int failed = cmocka_run_group_tests_name("http_server_routes_mhd", shared, setup, teardown);
    failed += cmocka_run_group_tests_name("http_server_lifecycle_mhd", own, NULL, NULL);
    backend = HTTP_BACKEND_SMALL;
    failed += cmocka_run_group_tests_name("http_server_routes_small", shared, setup, teardown);
    failed += cmocka_run_group_tests_name("http_server_lifecycle_small", own, NULL, NULL);
    return failed;
}

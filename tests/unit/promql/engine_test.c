/* Tests for the PromQL engine (src/promql/engine*.c, functions*.c, value.c, test_runner*.c):
 * float formatting, instant and range queries over an in-memory tsdb with Prometheus 3.x
 * semantics, error codes and messages, the sample limit, and a small .test script. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "promql/promql.h"

int promql_engine_tests(void);

typedef struct {
    double v;
    const char *want;
} fmt_case;

static void test_format_value(void **state)
{
    (void)state;
    static const fmt_case cases[] = {
        {0.1 + 0.2, "0.30000000000000004"}, {123456789012.0, "123456789012"},
        {1e-7, "1e-07"}, {1e21, "1e+21"}, {0.000001, "0.000001"}, {-0.5, "-0.5"},
        {1e20, "100000000000000000000"}, {0, "0"}, {1.0 / 0.0, "+Inf"}, {-1.0 / 0.0, "-Inf"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[400];
        promql_format_value(cases[i].v, buf);
        if (strcmp(buf, cases[i].want) != 0) {
            fail_msg("case %zu: got %s want %s", i, buf, cases[i].want);
        }
    }
}

/* Series a{i="0"} and a{i="1"} (values i*10 + step) and c_total (0, 60, 120, ...) every 60s. */
static tsdb *make_db(void)
{
    tsdb_opts o = {.dir = NULL};
    odin_err err;
    odin_err_clear(&err);
    tsdb *db = tsdb_open(&o, &err);
    assert_non_null(db);
    tsdb_appender *app = tsdb_appender_new(db);
    odin_label la0[] = {{ODIN_STR("__name__"), ODIN_STR("a")}, {ODIN_STR("i"), ODIN_STR("0")}};
    odin_label la1[] = {{ODIN_STR("__name__"), ODIN_STR("a")}, {ODIN_STR("i"), ODIN_STR("1")}};
    odin_label lc[] = {{ODIN_STR("__name__"), ODIN_STR("c_total")}};
    uint64_t r0 = 0, r1 = 0, rc = 0;
    for (int k = 0; k <= 10; k++) {
        int64_t t = (int64_t)k * 60000;
        assert_int_equal(tsdb_append(app, &r0, (odin_labels){la0, 2}, t, k, &err), 0);
        assert_int_equal(tsdb_append(app, &r1, (odin_labels){la1, 2}, t, 10 + k, &err), 0);
        assert_int_equal(tsdb_append(app, &rc, (odin_labels){lc, 1}, t, 60.0 * k, &err), 0);
    }
    assert_int_equal(tsdb_appender_commit(app, &err), 0);
    return db;
}

typedef struct {
    const char *name;
    const char *query;
    int64_t t;
    size_t nseries;  /* expected vector size (or 0 for a scalar when scalar_ok) */
    double first;    /* value of the first series (or the scalar) */
    bool scalar;
} instant_case;

static void test_instant_queries(void **state)
{
    (void)state;
    static const instant_case cases[] = {
        {"selector", "a", 120000, 2, 2, false},
        {"lookback is left-open", "c_total", 600000 + 300000, 0, 0, false},
        {"lookback inside", "c_total", 600000 + 299000, 1, 600, false},
        {"rate", "rate(c_total[5m])", 600000, 1, 1, false},
        {"sum", "sum(a)", 60000, 1, 12, false},
        {"sum by", "sum by (i) (a)", 60000, 2, 1, false},
        {"vector op vector", "a{i=\"1\"} - on() a{i=\"0\"}", 60000, 1, 10, false},
        {"scalar", "1 + 2 * 3", 0, 0, 7, true},
        {"topk", "topk(1, a)", 60000, 1, 11, false},
        {"subquery", "max_over_time(a{i=\"0\"}[5m:1m])", 600000, 1, 10, false},
        {"offset and @", "a{i=\"0\"} offset 1m @ 300", 0, 1, 4, false},
    };
    tsdb *db = make_db();
    promql_engine *eng = promql_engine_new(NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const instant_case *c = &cases[i];
        odin_err err;
        odin_err_clear(&err);
        promql_result *r = promql_query_instant(eng, db, c->query, strlen(c->query), c->t, &err);
        if (!r) {
            fail_msg("%s: %s", c->name, err.msg);
        }
        if (c->scalar) {
            assert_int_equal(r->type, PROMQL_TYPE_SCALAR);
            if (r->scalar != c->first) {
                fail_msg("%s: got %g", c->name, r->scalar);
            }
        } else {
            if (r->type != PROMQL_TYPE_VECTOR || r->nseries != c->nseries) {
                fail_msg("%s: type %d, %zu series", c->name, (int)r->type, r->nseries);
            }
            if (c->nseries && r->series[0].v[0] != c->first) {
                fail_msg("%s: got %g want %g", c->name, r->series[0].v[0], c->first);
            }
        }
        promql_result_free(r);
    }
    promql_engine_free(eng);
    tsdb_close(db);
}

typedef struct {
    const char *name;
    const char *query;
    int code;
    const char *msg; /* prefix */
    uint64_t max_samples;
} err_case;

static void test_errors(void **state)
{
    (void)state;
    static const err_case cases[] = {
        {"many-to-many", "a + on() a", ODIN_ERR_INTERNAL, "found duplicate series for the match group {}", 0},
        {"one-to-one", "a + on() a{i=\"0\"}", ODIN_ERR_INTERNAL, "multiple matches for labels", 0},
        {"parse", "sum(", ODIN_ERR_PARSE, "1:", 0},
        {"limit", "a[10m]", ODIN_ERR_LIMIT, "query processing would load too many samples", 5},
    };
    tsdb *db = make_db();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const err_case *c = &cases[i];
        promql_engine_opts o = {.max_samples = c->max_samples};
        promql_engine *eng = promql_engine_new(&o);
        odin_err err;
        odin_err_clear(&err);
        promql_result *r = promql_query_instant(eng, db, c->query, strlen(c->query), 600000, &err);
        if (r || err.code != c->code || strncmp(err.msg, c->msg, strlen(c->msg)) != 0) {
            fail_msg("%s: code %d msg %s", c->name, err.code, err.msg);
        }
        promql_engine_free(eng);
    }
    tsdb_close(db);
}

static void test_range_query(void **state)
{
    (void)state;
    tsdb *db = make_db();
    promql_engine *eng = promql_engine_new(NULL);
    odin_err err;
    odin_err_clear(&err);
    promql_result *r = promql_query_range(eng, db, "a", 1, 0, 120000, 60000, &err);
    assert_non_null(r);
    assert_int_equal(r->type, PROMQL_TYPE_MATRIX);
    assert_int_equal(r->nseries, 2);
    assert_int_equal(r->series[0].n, 3);
    assert_true(r->series[1].v[2] == 12);
    promql_result_free(r);
    r = promql_query_range(eng, db, "time()", 6, 0, 120000, 60000, &err);
    assert_non_null(r);
    assert_int_equal(r->nseries, 1);
    assert_true(r->series[0].v[2] == 120);
    promql_result_free(r);
    assert_null(promql_query_range(eng, db, "a[1m]", 5, 0, 60000, 60000, &err));
    promql_engine_free(eng);
    tsdb_close(db);
}

/* x{g,k} and y{g,v} every 60 s with random gaps in x; y's two v per g take turns (never at the
 * same step), so a left series meets different right series from step to step. */
static tsdb *make_binop_db(void)
{
    tsdb_opts o = {.dir = NULL};
    odin_err err;
    odin_err_clear(&err);
    tsdb *db = tsdb_open(&o, &err);
    assert_non_null(db);
    tsdb_appender *app = tsdb_appender_new(db);
    uint64_t seed = 0x2545f4914f6cdd1dULL;
    static const char *const digits[] = {"0", "1", "2", "3"};
    static const char *const vs[] = {"a", "b"};
    uint64_t xref[4][3] = {{0}}, yref[4][2] = {{0}};
    for (int k = 0; k <= 40; k++) {
        int64_t t = (int64_t)k * 60000;
        for (int g = 0; g < 4; g++) {
            for (int i = 0; i < 3; i++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                if ((seed >> 60) < 3) {
                    continue; /* a gap: the left side misses steps now and then */
                }
                odin_label l[] = {{ODIN_STR("__name__"), ODIN_STR("x")},
                                  {ODIN_STR("g"), odin_str_c(digits[g])},
                                  {ODIN_STR("k"), odin_str_c(digits[i])}};
                double v = (double)((seed >> 33) % 1000) / 8.0;
                assert_int_equal(tsdb_append(app, &xref[g][i], (odin_labels){l, 3}, t, v, &err),
                                 0);
            }
            /* v="a" for 4 minutes, then after more than the 5 m lookback v="b" for 4: the two
             * never match at the same step */
            int phase = k % 18;
            if (!(phase <= 3 || (phase >= 9 && phase <= 12))) {
                continue;
            }
            int turn = phase >= 9;
            odin_label l[] = {{ODIN_STR("__name__"), ODIN_STR("y")},
                              {ODIN_STR("g"), odin_str_c(digits[g])},
                              {ODIN_STR("v"), odin_str_c(vs[turn])}};
            double v = 1 + g + k % 5;
            assert_int_equal(tsdb_append(app, &yref[g][turn], (odin_labels){l, 3}, t, v, &err), 0);
        }
    }
    assert_int_equal(tsdb_appender_commit(app, &err), 0);
    return db;
}

/* Range queries of binary operators match instant queries at every step: the range path
 * remembers each left series' last partner across steps, an instant query has one step. */
static void test_binop_range_matches_instant(void **state)
{
    (void)state;
    static const char *const queries[] = {
        "x * on(g) group_left(v) y",
        "x - ignoring(k, v) group_left y",
        "y / on(g) group_right(v) x",
        "x > bool on(g) group_left y",
        "x < on(g) group_left(v) y",
        "x + x",
        "x / (x * 2)",
        "y + on(g) group_right x",
    };
    tsdb *db = make_binop_db();
    promql_engine *eng = promql_engine_new(NULL);
    const int64_t start = 0, end = 40 * 60000, step = 30000;
    for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
        const char *qs = queries[q];
        odin_err err;
        odin_err_clear(&err);
        promql_result *rr = promql_query_range(eng, db, qs, strlen(qs), start, end, step, &err);
        if (!rr) {
            fail_msg("%s: %s", qs, err.msg);
        }
        for (int64_t t = start; t <= end; t += step) {
            promql_result *ri = promql_query_instant(eng, db, qs, strlen(qs), t, &err);
            if (!ri) {
                fail_msg("%s at %lld: %s", qs, (long long)t, err.msg);
            }
            size_t at_t = 0;
            for (size_t i = 0; i < rr->nseries; i++) {
                const promql_series *s = &rr->series[i];
                for (size_t k = 0; k < s->n; k++) {
                    if (s->t[k] != t) {
                        continue;
                    }
                    at_t++;
                    size_t j = 0;
                    while (j < ri->nseries && odin_labels_cmp(ri->series[j].labels, s->labels)) {
                        j++;
                    }
                    if (j == ri->nseries || memcmp(&ri->series[j].v[0], &s->v[k], 8) != 0) {
                        fail_msg("%s at %lld: range series %zu differs from instant", qs,
                                 (long long)t, i);
                    }
                }
            }
            if (at_t != ri->nseries) {
                fail_msg("%s at %lld: %zu range points, %zu instant series", qs, (long long)t,
                         at_t, ri->nseries);
            }
            promql_result_free(ri);
        }
        promql_result_free(rr);
    }
    promql_engine_free(eng);
    tsdb_close(db);
}

static void test_script(void **state)
{
    (void)state;
    char path[] = "/tmp/odin_promqltest_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char script[] = "load 1m\n"
                                 "  m{a=\"x\"} 0+10x10 _ stale\n"
                                 "\n"
                                 "eval instant at 10m m\n"
                                 "  m{a=\"x\"} 100\n"
                                 "\n"
                                 "eval range from 0 to 2m step 1m m * 2\n"
                                 "  {a=\"x\"} 0 20 40\n"
                                 "\n"
                                 "eval instant at 12m m\n"
                                 "\n"
                                 "eval instant at 1m m\n"
                                 "  m{a=\"x\"} 11\n";
    assert_int_equal(write(fd, script, sizeof(script) - 1), (ssize_t)(sizeof(script) - 1));
    close(fd);
    odin_strbuf out;
    odin_strbuf_init(&out, 0);
    int passed = 0, failed = 0;
    promql_test_run_file(path, &out, &passed, &failed);
    unlink(path);
    if (passed != 3 || failed != 1 || !strstr(out.p, ":12: FAIL")) {
        fail_msg("passed %d failed %d: %s", passed, failed, out.p);
    }
    odin_strbuf_fini(&out);
}

int promql_engine_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_value),
        cmocka_unit_test(test_instant_queries),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_range_query),
        cmocka_unit_test(test_binop_range_matches_instant),
        cmocka_unit_test(test_script),
    };
    return cmocka_run_group_tests_name("promql_engine", tests, NULL, NULL);
}

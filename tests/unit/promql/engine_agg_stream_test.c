/* Tests for src/promql/engine_agg_stream.c: every streamed aggregation must give what the general
 * path gives. `op(sel)` streams; a reference with the same input in the same order goes through the
 * general path (an operator materialises it). Random series (created in shuffled order, so the
 * querier's unsorted order differs from label order) with gaps, stale markers, NaN, infinities,
 * signed zeros and huge values; instant and range queries; labels, order, bits and warnings
 * compared.
 * The reference is `op(-(-sel))` (same values and order; only __name__ is marked for dropping) or,
 * for `by (__name__)` at one instant, `op(sel and sel)` (`and` may reorder series across steps). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "promql/promql.h"

int promql_agg_stream_tests(void);

static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static double rnd_value(void)
{
    switch (rnd() % 40) {
    case 0:
        return NAN;
    case 1:
        return INFINITY;
    case 2:
        return -INFINITY;
    case 3:
        return -0.0;
    case 4:
        return 0.0;
    case 5:
        return 1e308;
    default:
        return (double)(rnd() % 2000000) / 1000.0 - 1000.0;
    }
}

enum { NSERIES = 60, NSTEPS = 50, STEP_MS = 15000 };

/* Two metrics (m, n) over the same label sets {a, b, id}, appended in a shuffled series order. */
static tsdb *make_random_db(void)
{
    tsdb_opts o = {.dir = NULL};
    odin_err err;
    odin_err_clear(&err);
    tsdb *db = tsdb_open(&o, &err);
    assert_non_null(db);
    int order[2 * NSERIES];
    for (int i = 0; i < 2 * NSERIES; i++) {
        order[i] = i;
    }
    for (int i = 2 * NSERIES - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    tsdb_appender *app = tsdb_appender_new(db);
    for (int k = 0; k < 2 * NSERIES; k++) {
        int s = order[k] % NSERIES;
        char a[8], b[8], id[8];
        snprintf(a, sizeof(a), "%d", s % 3);
        snprintf(b, sizeof(b), "%d", s % 4);
        snprintf(id, sizeof(id), "%02d", s);
        odin_label ls[] = {{ODIN_STR("__name__"), odin_str_c(order[k] < NSERIES ? "m" : "n")},
                           {ODIN_STR("a"), odin_str_c(a)},
                           {ODIN_STR("b"), odin_str_c(b)},
                           {ODIN_STR("id"), odin_str_c(id)}};
        uint64_t ref = 0;
        for (int i = 0; i < NSTEPS; i++) {
            if (rnd() % 5 == 0) {
                continue; /* gaps: some steps see no sample within the lookback */
            }
            int64_t t = (int64_t)i * STEP_MS + (int64_t)(rnd() % 1000);
            double v = rnd() % 25 == 0 ? tsdb_stale_nan() : rnd_value();
            assert_int_equal(tsdb_append(app, &ref, (odin_labels){ls, 4}, t, v, &err), 0);
        }
    }
    assert_int_equal(tsdb_appender_commit(app, &err), 0);
    return db;
}

static bool same_double(double x, double y)
{
    if (isnan(x) || isnan(y)) {
        return isnan(x) && isnan(y);
    }
    return memcmp(&x, &y, sizeof(x)) == 0; /* bit-equal, so -0 differs from 0 */
}

static void expect_same(const char *q, const promql_result *got, const promql_result *want)
{
    if (got->nwarnings != want->nwarnings) {
        fail_msg("%s: %zu/%zu warnings", q, got->nwarnings, want->nwarnings);
    }
    for (size_t i = 0; i < got->nwarnings; i++) {
        /* the texts differ in the position suffix " (line:col)" only */
        const char *g = got->warnings[i], *w = want->warnings[i];
        const char *gp = strrchr(g, '('), *wp = strrchr(w, '(');
        size_t gl = gp ? (size_t)(gp - g) : strlen(g), wl = wp ? (size_t)(wp - w) : strlen(w);
        if (gl != wl || memcmp(g, w, gl) != 0) {
            fail_msg("%s: warning %zu: %s vs %s", q, i, g, w);
        }
    }
    if (got->type != want->type || got->nseries != want->nseries) {
        fail_msg("%s: type %d/%d, %zu/%zu series", q, got->type, want->type, got->nseries,
                 want->nseries);
    }
    for (size_t i = 0; i < got->nseries; i++) {
        const promql_series *g = &got->series[i], *w = &want->series[i];
        if (odin_labels_cmp(g->labels, w->labels) != 0 || g->n != w->n) {
            fail_msg("%s: series %zu differs (labels or %zu/%zu points)", q, i, g->n, w->n);
        }
        for (size_t k = 0; k < g->n; k++) {
            if (g->t[k] != w->t[k] || !same_double(g->v[k], w->v[k])) {
                fail_msg("%s: series %zu point %zu: %lld %.17g vs %lld %.17g", q, i, k,
                         (long long)g->t[k], g->v[k], (long long)w->t[k], w->v[k]);
            }
        }
    }
}

static void compare_query(promql_engine *eng, tsdb *db, const char *op, const char *grouping,
                          const char *sel, bool range, int64_t t)
{
    char fast[256], slow[384];
    snprintf(fast, sizeof(fast), "%s %s (%s)", op, grouping, sel);
    /* -(-x) marks __name__ for dropping, which only `by (__name__)` over series that keep their
     * name can see */
    bool keeps_name = !strchr(sel, '(') || strstr(sel, "last_over_time");
    if (keeps_name && strstr(grouping, "by (__name__)")) {
        snprintf(slow, sizeof(slow), "%s %s (%s and %s)", op, grouping, sel, sel);
    } else {
        snprintf(slow, sizeof(slow), "%s %s (-(-%s))", op, grouping, sel);
    }
    odin_err e1, e2;
    odin_err_clear(&e1);
    odin_err_clear(&e2);
    promql_result *a, *b;
    if (range) {
        a = promql_query_range(eng, db, fast, strlen(fast), 0, NSTEPS * STEP_MS, STEP_MS, &e1);
        b = promql_query_range(eng, db, slow, strlen(slow), 0, NSTEPS * STEP_MS, STEP_MS, &e2);
    } else {
        a = promql_query_instant(eng, db, fast, strlen(fast), t, &e1);
        b = promql_query_instant(eng, db, slow, strlen(slow), t, &e2);
    }
    if (!a && !b && e1.code == e2.code && strcmp(e1.msg, e2.msg) == 0) {
        return; /* the same error both ways (a duplicate label set once __name__ is dropped) */
    }
    if (!a || !b) {
        fail_msg("%s: %s / %s", fast, a ? "ok" : e1.msg, b ? "ok" : e2.msg);
    }
    expect_same(fast, a, b);
    promql_result_free(a);
    promql_result_free(b);
}

static void test_stream_matches_general(void **state)
{
    (void)state;
    static const char *const ops[] = {"sum", "avg",   "count",  "min",
                                      "max", "group", "stddev", "stdvar"};
    static const char *const groupings[] = {
        "",           "by (a)",        "by (a, b)", "without (id)",
        "without ()", "by (__name__)", "by (nope)", "without (a, __name__)",
        "by (id, a)"};
    static const char *const sels[] = {
        "m", "{__name__=~\"m|n\"}", "m{a=\"1\"}", "m offset 1m", "n @ 300", "m{a=\"9\"}"};
    tsdb *db = make_random_db();
    promql_engine *eng = promql_engine_new(NULL);
    for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
        for (size_t g = 0; g < sizeof(groupings) / sizeof(groupings[0]); g++) {
            for (size_t s = 0; s < sizeof(sels) / sizeof(sels[0]); s++) {
                if (!strstr(groupings[g], "by (__name__)")) {
                    compare_query(eng, db, ops[o], groupings[g], sels[s], true, 0);
                }
                for (int64_t t = 0; t <= NSTEPS * STEP_MS; t += 7 * STEP_MS + 1234) {
                    compare_query(eng, db, ops[o], groupings[g], sels[s], false, t);
                }
            }
        }
    }
    promql_engine_free(eng);
    tsdb_close(db);
}

/* Aggregations over range functions of matrix selectors (rate and the *_over_time family). */
static void test_stream_range_functions(void **state)
{
    (void)state;
    static const char *const ops[] = {"sum", "avg",   "count",  "min",
                                      "max", "group", "stddev", "stdvar"};
    static const char *const groupings[] = {"", "by (a)", "without (id)", "by (__name__)"};
    static const char *const fns[] = {"rate(%s)",
                                      "irate(%s)",
                                      "increase(%s)",
                                      "delta(%s)",
                                      "avg_over_time(%s)",
                                      "sum_over_time(%s)",
                                      "max_over_time(%s)",
                                      "last_over_time(%s)",
                                      "count_over_time(%s)",
                                      "quantile_over_time(0.3, %s)",
                                      "predict_linear(%s, 60)",
                                      "changes(%s)",
                                      "absent_over_time(%s)"};
    static const char *const sels[] = {"m[2m]", "{__name__=~\"m|n\"}[90s] offset 1m",
                                       "n{b=\"2\"}[5m] @ 400"};
    tsdb *db = make_random_db();
    promql_engine *eng = promql_engine_new(NULL);
    for (size_t f = 0; f < sizeof(fns) / sizeof(fns[0]); f++) {
        for (size_t s = 0; s < sizeof(sels) / sizeof(sels[0]); s++) {
            char inner[160];
            snprintf(inner, sizeof(inner), fns[f], sels[s]);
            for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
                for (size_t g = 0; g < sizeof(groupings) / sizeof(groupings[0]); g++) {
                    if (!strstr(groupings[g], "by (__name__)") || !strstr(inner, "last_over")) {
                        compare_query(eng, db, ops[o], groupings[g], inner, true, 0);
                    }
                    for (int64_t t = 0; t <= NSTEPS * STEP_MS; t += 11 * STEP_MS + 999) {
                        compare_query(eng, db, ops[o], groupings[g], inner, false, t);
                    }
                }
            }
        }
    }
    promql_engine_free(eng);
    tsdb_close(db);
}

int promql_agg_stream_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_matches_general),
        cmocka_unit_test(test_stream_range_functions),
    };
    return cmocka_run_group_tests_name("promql_agg_stream", tests, NULL, NULL);
}

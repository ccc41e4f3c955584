/* Unit tests for the database as a whole: head cut into blocks, queries across blocks and head,
 * restart from blocks plus WAL, out-of-bounds samples, and time retention. */
#include <cmocka.h>

#include "tsdb/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tsdb_db_tests(void);

enum { STEP_MS = 15000 };

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/odin-db-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return odin_strdup(d);
}

static tsdb *open_db(const char *dir, int64_t retention_ms)
{
    tsdb_opts o = {.dir = dir, .retention_ms = retention_ms, .wal_fsync_ms = 0};
    odin_err err = {0};
    tsdb *db = tsdb_open(&o, &err);
    if (!db) {
        fail_msg("open: %s", err.msg);
    }
    return db;
}

static void append_range(tsdb *db, int64_t from, int64_t to)
{
    odin_label ls[2] = {{ODIN_STR("__name__"), ODIN_STR("m")}, {ODIN_STR("job"), ODIN_STR("j")}};
    odin_label ls2[2] = {{ODIN_STR("__name__"), ODIN_STR("m")}, {ODIN_STR("job"), ODIN_STR("k")}};
    uint64_t r1 = 0, r2 = 0;
    odin_err err = {0};
    for (int64_t t = from; t < to; t += STEP_MS) {
        tsdb_appender *a = tsdb_appender_new(db);
        assert_int_equal(tsdb_append(a, &r1, (odin_labels){ls, 2}, t, (double)(t / STEP_MS), &err),
                         0);
        assert_int_equal(tsdb_append(a, &r2, (odin_labels){ls2, 2}, t, 1.5, &err), 0);
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
}

/* Counts samples of job="j" in [mint, maxt] and checks each value and that times are strictly
 * increasing (no sample twice from block and head). */
static size_t count_samples(tsdb *db, int64_t mint, int64_t maxt, size_t *nseries)
{
    odin_err err = {0};
    tsdb_matcher m;
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("m"),
                                       &err), 0);
    tsdb_querier *q = tsdb_querier_open(db, mint, maxt);
    tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
    assert_non_null(s);
    size_t n = 0;
    *nseries = 0;
    while (tsdb_series_next(s)) {
        (*nseries)++;
        odin_labels ls = tsdb_series_labels(s);
        bool j = odin_str_eq_c(*odin_labels_get(ls, "job"), "j");
        tsdb_iter it;
        tsdb_series_iter(s, &it);
        int64_t t, prev = INT64_MIN;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            assert_true(t > prev);
            assert_true(t >= mint && t <= maxt);
            prev = t;
            if (j) {
                assert_true(v == (double)(t / STEP_MS));
                n++;
            }
        }
    }
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
    return n;
}

static void test_compact_query_restart(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir, 0);
    const int64_t hours5 = 5 * 3600 * 1000LL;
    append_range(db, 0, hours5);
    odin_err err = {0};
    assert_int_equal(tsdb_compact(db, &err), 0);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_true(st.blocks >= 1);
    assert_true(st.head_min_t >= 2 * 3600 * 1000LL);
    size_t ns;
    size_t want = (size_t)(hours5 / STEP_MS);
    assert_int_equal(count_samples(db, 0, hours5, &ns), want);
    assert_int_equal(ns, 2);
    /* a window that straddles block and head */
    assert_int_equal(count_samples(db, 3600 * 1000LL, 3 * 3600 * 1000LL, &ns),
                     (size_t)(2 * 3600 * 1000LL / STEP_MS) + 1);
    /* samples inside a persisted block are out of bounds now */
    odin_label ls[1] = {{ODIN_STR("__name__"), ODIN_STR("m")}};
    tsdb_appender *a = tsdb_appender_new(db);
    assert_int_equal(tsdb_append(a, NULL, (odin_labels){ls, 1}, 1000, 1, &err),
                     -ODIN_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "out of bounds"));
    tsdb_appender_rollback(a);
    tsdb_close(db);

    db = open_db(dir, 0);
    assert_int_equal(count_samples(db, 0, hours5, &ns), want);
    tsdb_get_stats(db, &st);
    assert_true(st.blocks >= 1);
    /* appending continues where it stopped */
    append_range(db, hours5, hours5 + 3600 * 1000LL);
    assert_int_equal(count_samples(db, 0, hours5 + 3600 * 1000LL, &ns),
                     want + (size_t)(3600 * 1000LL / STEP_MS));
    tsdb_close(db);
    odin_remove_tree(dir);
    free(dir);
}

static void test_time_retention(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir, 4 * 3600 * 1000LL);
    const int64_t h = 3600 * 1000LL;
    append_range(db, 0, 12 * h);
    odin_err err = {0};
    assert_int_equal(tsdb_compact(db, &err), 0);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    /* blocks end at 2h..10h; the newest ends at 10h: ends at or before 6h are gone */
    size_t ns;
    size_t n = count_samples(db, 0, 12 * h, &ns);
    assert_true(n < (size_t)(12 * h / STEP_MS));
    assert_int_equal(count_samples(db, 0, 6 * h - 1, &ns), 0);
    assert_true(count_samples(db, 6 * h, 12 * h, &ns) > 0);
    tsdb_close(db);
    odin_remove_tree(dir);
    free(dir);
}

int tsdb_db_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_query_restart),
        cmocka_unit_test(test_time_retention),
    };
    return cmocka_run_group_tests_name("tsdb_db", tests, NULL, NULL);
}

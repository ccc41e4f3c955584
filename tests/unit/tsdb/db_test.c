/* Unit tests for the database as a whole: head cut into blocks, queries across blocks and head,
 * restart from blocks plus WAL, out-of-bounds samples, and time retention. */
#include <cmocka.h>

#include "tsdb/db_int.h"
#include "tsdb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tsdb_db_tests(void);

enum { STEP_MS = 15000 };

static char *temp_dir(void)
{
    return tsdb_test_dir("db");
}

static tsdb *open_db(const char *dir, int64_t retention_ms)
{
    return tsdb_test_open(
        &(tsdb_opts){.dir = dir, .retention_ms = retention_ms, .wal_fsync_ms = 0});
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

/* Counts the samples of {__name__=name} in [mint, maxt] (of the series with job="job" only, when
 * job is given), checks each value is its time divided by step and that times are strictly
 * increasing (no sample twice from block and head); *nseries is how many series came back. */
static size_t count_named(tsdb *db, const char *name, const char *job, int64_t step, int64_t mint,
                          int64_t maxt, size_t *nseries)
{
    odin_err err = {0};
    tsdb_matcher m;
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"),
                                       (odin_str){name, strlen(name)}, &err), 0);
    tsdb_querier *q = tsdb_querier_open(db, mint, maxt);
    tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
    assert_non_null(s);
    size_t n = 0;
    *nseries = 0;
    while (tsdb_series_next(s)) {
        (*nseries)++;
        const odin_str *jl = odin_labels_get(tsdb_series_labels(s), "job");
        bool counted = job == NULL || (jl != NULL && odin_str_eq_c(*jl, job));
        tsdb_iter it;
        tsdb_series_iter(s, &it);
        int64_t t, prev = INT64_MIN;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            assert_true(t > prev);
            assert_true(t >= mint && t <= maxt);
            prev = t;
            if (counted) {
                assert_true(v == (double)(t / step));
                n++;
            }
        }
    }
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
    return n;
}

static size_t count_samples(tsdb *db, int64_t mint, int64_t maxt, size_t *nseries)
{
    return count_named(db, "m", "j", STEP_MS, mint, maxt, nseries);
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

/* Samples of {__name__="c"} in [mint, maxt] (each value is its time in seconds). */
static size_t count_second_samples(tsdb *db, int64_t mint, int64_t maxt, size_t *nseries)
{
    return count_named(db, "c", NULL, 1000, mint, maxt, nseries);
}

/* Samples at 1 s in [from, to) kept by the filter below, for the expected counts. */
static bool second_kept(int64_t t, int64_t del_min, int64_t del_max)
{
    return t < del_min || t > del_max;
}

static size_t expect_seconds(int64_t from, int64_t to, int64_t mint, int64_t maxt,
                             int64_t del_min, int64_t del_max)
{
    size_t n = 0;
    for (int64_t t = from; t < to; t += 1000) {
        n += t >= mint && t <= maxt && second_kept(t, del_min, del_max);
    }
    return n;
}

/* A series' cut head chunks are a chain through the chunk files (each record links to the one
 * before): at a 1 s scrape the head holds dozens of them. Every window, including ones that fall
 * between two samples or end inside a chunk, returns exactly its samples; a delete in the middle rewrites part of the chain, and appends, cuts, queries and
 * a restart go on across it. */
static void test_head_chunk_chain(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir, 0);
    odin_label ls[1] = {{ODIN_STR("__name__"), ODIN_STR("c")}};
    uint64_t ref = 0;
    odin_err err = {0};
    const int64_t end = 100 * 60 * 1000LL; /* 100 minutes: 6000 samples, ~50 chunks */
    for (int64_t t = 0; t < end; t += 1000) {
        tsdb_appender *a = tsdb_appender_new(db);
        assert_int_equal(tsdb_append(a, &ref, (odin_labels){ls, 1}, t, (double)(t / 1000), &err),
                         0);
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    /* Prometheus' chunk sizing at 1 s (~117 samples a chunk) makes 50 cut chunks and the open
     * one of 6000 samples; prometheus_tsdb_head_chunks counts the open one too */
    assert_int_equal(st.head_chunks, 51);
    assert_int_equal(st.head_chunks_created, 51);
    assert_int_equal(st.head_chunks_removed, 0);
    size_t ns;
    const int64_t none = INT64_MAX;
    uint64_t x = 7;
    for (int i = 0; i < 200; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t a = (int64_t)((x >> 20) % (uint64_t)(end + 5000)) - 2000;
        int64_t b = a + (int64_t)((x >> 40) % (i % 2 ? 3000000 : 4000));
        size_t want = expect_seconds(0, end, a, b, none, none);
        assert_int_equal(count_second_samples(db, a, b, &ns), want);
        if (want > 0) {
            assert_int_equal(ns, 1);
        }
    }
    /* between two samples: nothing (the series itself may come back, its chunk spans the window,
     * as Prometheus selects by chunk ranges) */
    assert_int_equal(count_second_samples(db, 3600 * 1000LL + 1, 3600 * 1000LL + 999, &ns), 0);
    /* after the last sample: no series */
    assert_int_equal(count_second_samples(db, end, end + 60000, &ns), 0);
    assert_int_equal(ns, 0);

    const int64_t del_min = 30 * 60 * 1000LL + 500, del_max = 41 * 60 * 1000LL;
    tsdb_matcher m;
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("c"),
                                       &err), 0);
    assert_int_equal(tsdb_delete_series(db, &m, 1, del_min, del_max, &err), 0);
    tsdb_matcher_fini(&m);
    const int64_t end2 = end + 20 * 60 * 1000LL;
    for (int64_t t = end; t < end2; t += 1000) {
        tsdb_appender *a = tsdb_appender_new(db);
        assert_int_equal(tsdb_append(a, &ref, (odin_labels){ls, 1}, t, (double)(t / 1000), &err),
                         0);
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
    for (int i = 0; i < 100; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t a = (int64_t)((x >> 20) % (uint64_t)end2);
        int64_t b = a + (int64_t)((x >> 40) % 4000000);
        assert_int_equal(count_second_samples(db, a, b, &ns),
                         expect_seconds(0, end2, a, b, del_min, del_max));
    }
    assert_int_equal(count_second_samples(db, 0, end2, &ns),
                     expect_seconds(0, end2, 0, end2, del_min, del_max));
    tsdb_close(db);

    db = open_db(dir, 0);
    assert_int_equal(count_second_samples(db, 0, end2, &ns),
                     expect_seconds(0, end2, 0, end2, del_min, del_max));
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
    /* prometheus_tsdb_time_retentions_total: once per pass that deleted blocks */
    assert_true(st.time_retentions >= 1);
    assert_int_equal(st.size_retentions, 0);
    uint64_t passes = st.time_retentions;
    assert_int_equal(tsdb_compact(db, &err), 0); /* nothing new to delete */
    tsdb_get_stats(db, &st);
    assert_int_equal(st.time_retentions, passes);
    tsdb_close(db);
    odin_remove_tree(dir);
    free(dir);
}

/* Size retention: blocks go oldest first until the blocks and the WAL fit the limit, whole
 * blocks only, and the newest data stays; each deleting pass counts once. */
static void test_size_retention(void **state)
{
    (void)state;
    const int64_t h = 3600 * 1000LL;
    /* the size of every block the same data makes without a limit */
    char *dir = temp_dir();
    tsdb *db = open_db(dir, 0);
    append_range(db, 0, 12 * h);
    odin_err err = {0};
    assert_int_equal(tsdb_compact(db, &err), 0);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    uint64_t all_blocks = st.storage_bytes, nblocks = st.blocks;
    uint64_t limit = st.wal_bytes + all_blocks / 2; /* Prometheus counts the WAL in */
    assert_true(nblocks >= 3);
    tsdb_close(db);
    odin_remove_tree(dir);
    free(dir);

    dir = temp_dir();
    tsdb_opts o = {.dir = dir, .retention_bytes = limit, .wal_fsync_ms = 0};
    db = tsdb_open(&o, &err);
    assert_non_null(db);
    append_range(db, 0, 12 * h);
    assert_int_equal(tsdb_compact(db, &err), 0);
    tsdb_get_stats(db, &st);
    assert_true(st.blocks < nblocks && st.blocks >= 1);
    assert_true(st.storage_bytes + st.wal_bytes <= limit);
    assert_true(st.size_retentions >= 1);
    assert_int_equal(st.time_retentions, 0);
    /* what is left is the newest: the last hours are all there, the first are gone */
    size_t ns;
    assert_int_equal(count_samples(db, 0, h, &ns), 0);
    assert_int_equal(count_samples(db, 10 * h, 12 * h - 1, &ns), (size_t)(2 * h / STEP_MS));
    tsdb_close(db);
    odin_remove_tree(dir);
    free(dir);
}

/* With chunk files the head cuts chunks where Prometheus' head does (about 120 samples, by its
 * end-time estimate), whatever the interval: 3 h at 15 s are 6 chunks, at 60 s 2 (one per 2 h
 * range), as Prometheus 2.42 counts them. Only a head in memory also cuts at 15 minutes. */
static void test_chunk_cut_points(void **state)
{
    (void)state;
    static const struct {
        int64_t step_ms;
        bool on_disk;
        uint64_t chunks;
    } cases[] = {
        {15000, true, 6},
        {60000, true, 2},
        {15000, false, 12}, /* 60 samples a chunk: the 15-minute cut */
    };
    for (size_t c = 0; c < ODIN_ARRAY_LEN(cases); c++) {
        char *dir = cases[c].on_disk ? temp_dir() : NULL;
        tsdb_opts o = {.dir = dir, .wal_fsync_ms = 0};
        odin_err err = {0};
        tsdb *db = tsdb_open(&o, &err);
        assert_non_null(db);
        odin_label ls[1] = {{ODIN_STR("__name__"), ODIN_STR("c")}};
        uint64_t ref = 0;
        for (int64_t t = 0; t < 3 * 3600 * 1000LL; t += cases[c].step_ms) {
            tsdb_appender *a = tsdb_appender_new(db);
            assert_int_equal(tsdb_append(a, &ref, (odin_labels){ls, 1}, t, 1, &err), 0);
            assert_int_equal(tsdb_appender_commit(a, &err), 0);
        }
        tsdb_stats st;
        tsdb_get_stats(db, &st);
        if (st.head_chunks != cases[c].chunks) {
            fail_msg("case %zu: %llu chunks, want %llu", c, (unsigned long long)st.head_chunks,
                     (unsigned long long)cases[c].chunks);
        }
        tsdb_close(db);
        if (dir) {
            odin_remove_tree(dir);
            free(dir);
        }
    }
}

int tsdb_db_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_query_restart), cmocka_unit_test(test_time_retention),
        cmocka_unit_test(test_size_retention),        cmocka_unit_test(test_chunk_cut_points),
        cmocka_unit_test(test_head_chunk_chain),
    };
    return cmocka_run_group_tests_name("tsdb_db", tests, NULL, NULL);
}

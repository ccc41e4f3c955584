/* Unit tests for split open chunks (HEAD_SPLIT_SAMPLES, head.c): in a head with chunk files the
 * open chunk's bytes, joined from its parts and buffer, are at every sample the bytes one
 * unsplit writer makes of the same samples, and so is the chunk cut from them; what reads the
 * open chunk (queries, deletes, snapshots of the head, the WAL replay after a restart) sees every
 * sample once; a split chunk's buffer holds only the samples since its last split. */
#include <cmocka.h>

#include "tsdb/db_int.h"
#include "tsdb/head.h"
#include "tsdb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tsdb_head_split_tests(void);

static uint64_t next_rand(uint64_t *x)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 11;
}

/* The value of sample i of series kind k: a counter with varied steps, random doubles (64-bit
 * XOR windows), a gauge that is mostly constant, and a mix with stale markers. */
static double value_of(int k, int64_t i, uint64_t *x)
{
    uint64_t r = next_rand(x);
    switch (k) {
    case 0:
        return (double)(i * 1000 + (int64_t)(r % 977));
    case 1:
        return (double)r / 7.0;
    case 2:
        return r % 50 == 0 ? (double)(r % 7) : 3.0;
    default: {
        if (r % 23 == 0) {
            double stale;
            uint64_t bits = TSDB_STALE_NAN_BITS;
            memcpy(&stale, &bits, 8);
            return stale;
        }
        return (double)(r % 100000) / 100.0;
    }
    }
}

static char *temp_dir(void)
{
    return tsdb_test_dir("head-split");
}

/* Appends (t, v) to s and to the plain writer ref; when the append cut a chunk, that chunk is the
 * writer's chunk so far, byte for byte, and ref starts over: 1 then, else 0. */
static uint32_t append_beside(head *h, head_series *s, xor_chunk *ref, int64_t t, double v)
{
    int k = 0;
    uint32_t before = s->nchunks;
    assert_int_equal(head_series_append(h, s, t, v, &k), 0);
    uint32_t cut = s->nchunks != before;
    if (cut) {
        head_chunk c = head_chunk_at(s->last);
        assert_int_equal(head_chunk_len(&c), ref->len);
        assert_memory_equal(c.b, ref->b, ref->len);
        xor_chunk_fini(ref);
        xor_chunk_init(ref);
    }
    xor_chunk_append(ref, t, v);
    return cut;
}

/* Appends samples a second apart (a few milliseconds late at random, so every delta-of-delta
 * width occurs) to a head with chunk files, and keeps a plain XOR writer fed the same samples:
 * after every append the open chunk's joined bytes equal the writer's, and every chunk cut equals
 * what the writer held when it was cut. */
static void split_matches_writer(int kind)
{
    char *dir = temp_dir();
    head h;
    head_init(&h, 2 * 3600 * 1000LL);
    odin_err err = {0};
    assert_int_equal(head_open_chunk_files(&h, dir, &err), 0);
    odin_label ls[2] = {{ODIN_STR("__name__"), ODIN_STR("m")}, {ODIN_STR("k"), ODIN_STR("v")}};
    bool created;
    head_series *s = head_get_or_create(&h, (odin_labels){ls, 2}, &created);
    assert_non_null(s);
    xor_chunk ref;
    xor_chunk_init(&ref);
    uint64_t x = 17 + (uint64_t)kind;
    uint32_t cuts = 0, splits_seen = 0;
    uint8_t buf[4096];
    int64_t t = 1700000000000LL;
    for (int64_t i = 0; i < 1500; i++) {
        t += 1000 + (int64_t)(next_rand(&x) % 8 == 0 ? next_rand(&x) % 40 : 0);
        double v = value_of(kind, i, &x);
        cuts += append_beside(&h, s, &ref, t, v);
        head_open_view ov = head_open_bytes(s);
        assert_int_equal(head_open_view_len(&ov), ref.len);
        assert_true(ov.np >= 1 && ov.np <= HEAD_OPEN_PIECES);
        head_open_view_copy(&ov, buf);
        assert_memory_equal(buf, ref.b, ref.len);
        /* split from HEAD_SPLIT_SAMPLES samples on; the buffer holds the part since the last */
        assert_true(s->open_split == (s->open.n > HEAD_SPLIT_SAMPLES));
        if (s->open_split) {
            splits_seen++;
            assert_int_equal(ov.np, 1 + (s->open.n - 1) / HEAD_SPLIT_SAMPLES);
            if (s->open.n > 2 * HEAD_SPLIT_SAMPLES) { /* at most a third of the samples */
                assert_true(s->open.len < HEAD_SPLIT_HEADER + ref.len / 2);
            }
        }
    }
    assert_true(cuts >= 10);
    assert_true(splits_seen > 500);
    xor_chunk_fini(&ref);
    head_fini(&h);
    assert_int_equal(odin_remove_tree(dir), 0);
    free(dir);
}

static void test_split_bytes_counter(void **state)
{
    (void)state;
    split_matches_writer(0);
}

static void test_split_bytes_random(void **state)
{
    (void)state;
    split_matches_writer(1);
}

static void test_split_bytes_constant(void **state)
{
    (void)state;
    split_matches_writer(2);
}

static void test_split_bytes_stale(void **state)
{
    (void)state;
    split_matches_writer(3);
}

/* An in-memory head (no chunk files) never splits: parts need a file to go to. Its chunks are
 * cut from the open buffer as it is, so each cut chunk, count included (appends leave the count
 * to readers), is the plain writer's chunk byte for byte. */
static void test_no_split_in_memory(void **state)
{
    (void)state;
    head h;
    head_init(&h, 2 * 3600 * 1000LL);
    odin_label ls[1] = {{ODIN_STR("__name__"), ODIN_STR("m")}};
    bool created;
    head_series *s = head_get_or_create(&h, (odin_labels){ls, 1}, &created);
    xor_chunk ref;
    xor_chunk_init(&ref);
    uint64_t x = 5;
    uint32_t cuts = 0;
    for (int64_t i = 0; i < 1000; i++) {
        int64_t t = i * 15000;
        double v = value_of(0, i, &x);
        cuts += append_beside(&h, s, &ref, t, v);
        assert_false(s->open_split);
    }
    assert_true(cuts >= 5);
    xor_chunk_fini(&ref);
    head_fini(&h);
}

enum { PODS = 40 };
static const char *const POD_NAMES[PODS] = {"p00", "p01", "p02", "p03", "p04", "p05", "p06", "p07",
                                            "p08", "p09", "p10", "p11", "p12", "p13", "p14", "p15",
                                            "p16", "p17", "p18", "p19", "p20", "p21", "p22", "p23",
                                            "p24", "p25", "p26", "p27", "p28", "p29", "p30", "p31",
                                            "p32", "p33", "p34", "p35", "p36", "p37", "p38", "p39"};

static double pod_value(int pod, int64_t step)
{
    return (double)(pod * 100000 + step * (pod + 1));
}

/* Steps [from, to) of every pod, one commit a step, a second apart. */
static void append_steps(tsdb *db, int64_t from, int64_t to)
{
    odin_err err = {0};
    for (int64_t st = from; st < to; st++) {
        tsdb_appender *a = tsdb_appender_new(db);
        for (int p = 0; p < PODS; p++) {
            odin_label ls[2] = {{ODIN_STR("__name__"), ODIN_STR("m")},
                                {ODIN_STR("pod"), odin_str_c(POD_NAMES[p])}};
            assert_int_equal(
                tsdb_append(a, NULL, (odin_labels){ls, 2}, st * 1000, pod_value(p, st), &err), 0);
        }
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
}

/* Every pod has exactly the steps of [0, to) less those in [del_from, del_to), with their values,
 * in a query of [mint, maxt] over the whole database. */
static void check_steps(tsdb *db, int64_t mint, int64_t maxt, int64_t to, int64_t del_from,
                        int64_t del_to)
{
    odin_err err = {0};
    tsdb_matcher m;
    assert_int_equal(
        tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("m"), &err), 0);
    tsdb_querier *q = tsdb_querier_open(db, mint, maxt);
    tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
    assert_non_null(s);
    int pod = 0;
    while (tsdb_series_next(s)) {
        tsdb_iter it;
        tsdb_series_iter(s, &it);
        int64_t t, want = mint / 1000;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            if (want == del_from) {
                want = del_to;
            }
            assert_int_equal(t, want * 1000);
            assert_true(v == pod_value(pod, want));
            want++;
        }
        if (want == del_from) {
            want = del_to;
        }
        assert_int_equal(want, maxt / 1000 + 1 < to ? maxt / 1000 + 1 : to);
        pod++;
    }
    assert_int_equal(pod, PODS);
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
}

static tsdb *open_db(const char *dir)
{
    return tsdb_test_open(&(tsdb_opts){.dir = dir, .wal_fsync_ms = 1000});
}

/* The head's first series (every pod's chunks are alike). */
static head_series *first_series(tsdb *db)
{
    head_series *hs = NULL;
    for (size_t i = 0; i < db->head.nseries && hs == NULL; i++) {
        hs = head_slot_locked(&db->head, i);
    }
    assert_non_null(hs);
    return hs;
}

/* Deletes [mint, maxt] from every pod. */
static void delete_steps(tsdb *db, int64_t mint, int64_t maxt)
{
    odin_err err = {0};
    tsdb_matcher m;
    assert_int_equal(
        tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("m"), &err), 0);
    assert_int_equal(tsdb_delete_series(db, &m, 1, mint, maxt, &err), 0);
    tsdb_matcher_fini(&m);
}

/* Queries see every sample of split open chunks once, over all of the chunk and from inside
 * its parts; a restart rebuilds them from the WAL; a deletion inside a split open chunk drops
 * just its samples; a snapshot with the head holds them all. */
static void test_split_readers(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir);
    /* 75 steps: the open chunks hold 75 samples in three pieces */
    append_steps(db, 0, 75);
    head_series *hs = first_series(db);
    assert_true(hs->open_split);
    check_steps(db, 0, 74000, 75, -1, -1);
    check_steps(db, 40000, 74000, 75, -1, -1); /* from inside the second part */
    check_steps(db, 0, 20000, 75, -1, -1);     /* inside the first */
    tsdb_close(db);

    db = open_db(dir);
    check_steps(db, 0, 74000, 75, -1, -1);
    append_steps(db, 75, 100);
    check_steps(db, 0, 99000, 100, -1, -1);

    /* delete steps 35..49 (within the second and third parts) of every pod */
    delete_steps(db, 35000, 49000);
    check_steps(db, 0, 99000, 100, 35, 50);
    append_steps(db, 100, 130);
    check_steps(db, 0, 129000, 130, 35, 50);

    odin_err err = {0};
    odin_strbuf name;
    odin_strbuf_init(&name, 0);
    assert_int_equal(tsdb_snapshot(db, true, &name, &err), 0);
    tsdb_close(db);
    odin_strbuf snap;
    odin_strbuf_init(&snap, 0);
    odin_strbuf_printf(&snap, "%s/snapshots/%s", dir, name.p);
    db = open_db(snap.p);
    check_steps(db, 0, 129000, 130, 35, 50);
    tsdb_close(db);
    db = open_db(dir);
    check_steps(db, 0, 129000, 130, 35, 50);
    tsdb_close(db);
    odin_strbuf_fini(&snap);
    odin_strbuf_fini(&name);
    assert_int_equal(odin_remove_tree(dir), 0);
    free(dir);
}

/* A deletion of an open chunk's tail cuts what is left of it: its stream would otherwise go on
 * from a sample that is gone (the series keeps its last time, so appends still follow that). The
 * samples after it are all there, before and after a restart, and so are the earlier ones. */
static void test_delete_open_tail(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir);
    append_steps(db, 0, 60);
    head_series *hs = first_series(db);
    assert_true(hs->has_open);
    assert_int_equal(hs->nchunks, 0);
    delete_steps(db, 50000, 59000);
    assert_false(hs->has_open);
    assert_int_equal(hs->nchunks, 1);
    assert_int_equal(atomic_load(&hs->last_t), 59000);
    check_steps(db, 0, 59000, 60, 50, 60);
    append_steps(db, 60, 100);
    check_steps(db, 0, 99000, 100, 50, 60);
    check_steps(db, 61000, 99000, 100, -1, -1);
    tsdb_close(db);
    db = open_db(dir);
    check_steps(db, 0, 99000, 100, 50, 60);
    append_steps(db, 100, 110);
    check_steps(db, 0, 109000, 110, 50, 60);
    tsdb_close(db);
    assert_int_equal(odin_remove_tree(dir), 0);
    free(dir);
}

/* A deletion inside an open chunk that was never split rewrites it from its own buffer, whose
 * sample count appends leave to readers: the samples around the hole stay, appends go on after
 * them, and a restart (WAL replay with the tombstone) sees the same. */
static void test_delete_in_unsplit_open(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir);
    append_steps(db, 0, 20);
    head_series *hs = first_series(db);
    assert_true(hs->has_open);
    assert_false(hs->open_split);
    delete_steps(db, 5000, 9000);
    assert_true(hs->has_open);
    assert_int_equal(hs->open.n, 15);
    check_steps(db, 0, 19000, 20, 5, 10);
    append_steps(db, 20, 70);
    check_steps(db, 0, 69000, 70, 5, 10);
    tsdb_close(db);
    db = open_db(dir);
    check_steps(db, 0, 69000, 70, 5, 10);
    tsdb_close(db);
    assert_int_equal(odin_remove_tree(dir), 0);
    free(dir);
}

int tsdb_head_split_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_bytes_counter),  cmocka_unit_test(test_split_bytes_random),
        cmocka_unit_test(test_split_bytes_constant), cmocka_unit_test(test_split_bytes_stale),
        cmocka_unit_test(test_no_split_in_memory),   cmocka_unit_test(test_split_readers),
        cmocka_unit_test(test_delete_open_tail),     cmocka_unit_test(test_delete_in_unsplit_open),
    };
    return cmocka_run_group_tests_name("tsdb_head_split", tests, NULL, NULL);
}

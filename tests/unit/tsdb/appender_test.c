/* Unit tests for the appender's hints: refs that tsdb_appender_prefetch remembered (the right
 * series for each ref, also when two refs share a slot, when the entry was overwritten, and when
 * head GC removed the series in between), tsdb_appender_reserve, and the first chunk of a new
 * series sized from the head's cut chunks, and appenders reused from the pool. */
#include <cmocka.h>

#include "tsdb/db_int.h"
#include "tsdb_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tsdb_appender_tests(void);

enum { STEP_MS = 15000 };
static const int64_t HOUR = 3600 * 1000LL;

static odin_labels pod_labels(odin_label ls[2], const char *name)
{
    ls[0] = (odin_label){ODIN_STR("__name__"), ODIN_STR("m")};
    ls[1] = (odin_label){ODIN_STR("pod"), odin_str_c(name)};
    return (odin_labels){ls, 2};
}

static tsdb *open_db(const char *dir)
{
    return tsdb_test_open(&(tsdb_opts){.dir = dir, .wal_fsync_ms = 0});
}

/* Samples of pod `name` in [mint, maxt]; their values summed into *sum when not NULL. */
static size_t pod_samples(tsdb *db, const char *name, int64_t mint, int64_t maxt, double *sum)
{
    odin_err err = {0};
    tsdb_matcher m;
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("pod"), odin_str_c(name), &err),
                     0);
    tsdb_querier *q = tsdb_querier_open(db, mint, maxt);
    tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
    assert_non_null(s);
    size_t n = 0;
    double total = 0;
    while (tsdb_series_next(s)) {
        tsdb_iter it;
        tsdb_series_iter(s, &it);
        int64_t t;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            n++;
            total += v;
        }
    }
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
    if (sum) {
        *sum = total;
    }
    return n;
}

enum { NPODS = 40 }; /* more than the appender remembers, so entries are overwritten */

/* Makes pods p0..p<NPODS-1> with one sample at t = 0 each; refs[i] is pod i's ref. */
static void make_pods(tsdb *db, uint64_t refs[NPODS])
{
    odin_err err = {0};
    tsdb_appender *a = tsdb_appender_new(db);
    for (int i = 0; i < NPODS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        odin_label ls[2];
        refs[i] = 0;
        assert_int_equal(tsdb_append(a, &refs[i], pod_labels(ls, name), 0, i, &err), 0);
    }
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
}

/* Prefetching a few lines ahead, as the scrape loop does, and in odd patterns (refs sharing a
 * slot, a prefetch never followed by its append, refs that are unknown or 0): every sample lands
 * in the series of its own ref, the value tells. */
static void test_prefetched_refs(void **state)
{
    (void)state;
    tsdb *db = open_db(NULL);
    odin_err err = {0};
    uint64_t refs[NPODS];
    make_pods(db, refs);
    odin_label ls[2];
    tsdb_appender *a = tsdb_appender_new(db);
    tsdb_appender_prefetch(a, 0);
    tsdb_appender_prefetch(a, refs[NPODS - 1] + 1000); /* never handed out */
    for (int i = 0; i < 4 && i < NPODS; i++) {
        tsdb_appender_prefetch(a, refs[i]);
    }
    for (int i = 0; i < NPODS; i++) {
        if (i + 4 < NPODS) {
            tsdb_appender_prefetch(a, refs[i + 4]);
        }
        /* and one that shares the slot of the ref appended next, 16 refs on */
        tsdb_appender_prefetch(a, refs[(i + 16) % NPODS]);
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        uint64_t r = refs[i];
        assert_int_equal(tsdb_append(a, &r, pod_labels(ls, name), STEP_MS, 1000 + i, &err), 0);
        assert_int_equal(r, refs[i]);
    }
    /* pods 0..9 once more, their prefetches long overwritten */
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        assert_int_equal(
            tsdb_append(a, &refs[i], pod_labels(ls, name), 2 * STEP_MS, 2000 + i, &err), 0);
    }
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
    for (int i = 0; i < NPODS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        double sum;
        size_t n = pod_samples(db, name, 0, HOUR, &sum);
        assert_int_equal(n, i < 10 ? 3 : 2);
        assert_true(sum == (double)i + 1000 + i + (i < 10 ? 2000 + i : 0));
    }
    tsdb_close(db);
}

/* A series the appender prefetched is removed by head GC before the append that uses what the
 * prefetch found: the sample still lands, in the series made again at commit, and in the WAL. */
static void test_prefetched_series_removed(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/odin-appender-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    tsdb *db = open_db(dir);
    odin_err err = {0};
    odin_label ls[2];
    uint64_t ref = 0, keep = 0;
    tsdb_appender *a = tsdb_appender_new(db);
    assert_int_equal(tsdb_append(a, &ref, pod_labels(ls, "quiet"), 0, 1, &err), 0);
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
    for (int64_t t = 0; t < 5 * HOUR; t += STEP_MS) { /* keeps the head going */
        a = tsdb_appender_new(db);
        assert_int_equal(tsdb_append(a, &keep, pod_labels(ls, "busy"), t, 1, &err), 0);
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
    a = tsdb_appender_new(db);
    tsdb_appender_prefetch(a, ref);
    assert_int_equal(tsdb_compact(db, &err), 0); /* cuts [0, 2h): "quiet" has nothing left */
    assert_null(head_by_ref(&db->head, ref));
    uint64_t r = ref;
    assert_int_equal(tsdb_append(a, &r, pod_labels(ls, "quiet"), 5 * HOUR, 7, &err), 0);
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
    double sum;
    assert_int_equal(pod_samples(db, "quiet", 5 * HOUR, 6 * HOUR, &sum), 1);
    assert_true(sum == 7);
    tsdb_close(db);
    db = open_db(dir);
    assert_int_equal(pod_samples(db, "quiet", 5 * HOUR, 6 * HOUR, &sum), 1);
    assert_true(sum == 7);
    assert_int_equal(pod_samples(db, "quiet", 0, 6 * HOUR, NULL), 2); /* block and head */
    tsdb_close(db);
    odin_remove_tree(dir);
}

/* Finished appenders are pooled with their buffers: a reused one carries nothing of its last
 * transaction (samples, created series, prefetched refs), more appenders than the pool holds
 * can be open at once, and what they commit reaches the WAL under the right refs. */
static void test_pooled_appenders(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/odin-appender-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    tsdb *db = open_db(dir);
    odin_err err = {0};
    odin_label ls[2];
    uint64_t rx = 0;
    tsdb_appender *a = tsdb_appender_new(db);
    assert_int_equal(tsdb_append(a, &rx, pod_labels(ls, "rolled"), 0, 1, &err), 0);
    tsdb_appender_prefetch(a, rx);
    tsdb_appender_rollback(a);
    a = tsdb_appender_new(db); /* the pooled one */
    uint64_t ry = 0;
    assert_int_equal(tsdb_append(a, &ry, pod_labels(ls, "kept"), 0, 2, &err), 0);
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
    assert_int_equal(pod_samples(db, "rolled", 0, HOUR, NULL), 0);
    assert_int_equal(pod_samples(db, "kept", 0, HOUR, NULL), 1);
    /* twelve open at once (the pool keeps eight), one with a reservation it will not keep */
    enum { OPEN = 12 };
    tsdb_appender *v[OPEN];
    char name[OPEN][16];
    for (int i = 0; i < OPEN; i++) {
        v[i] = tsdb_appender_new(db);
        snprintf(name[i], sizeof name[i], "open%d", i);
        if (i == 3) {
            tsdb_appender_reserve(v[i], 100000);
        }
        for (int64_t t = STEP_MS; t <= 3 * STEP_MS; t += STEP_MS) {
            assert_int_equal(tsdb_append(v[i], NULL, pod_labels(ls, name[i]), t, (double)i, &err),
                             0);
        }
    }
    for (int i = 0; i < OPEN; i++) {
        assert_int_equal(tsdb_appender_commit(v[i], &err), 0);
    }
    for (int round = 0; round < 3; round++) { /* reused appenders, again and again */
        a = tsdb_appender_new(db);
        assert_int_equal(tsdb_append(a, &ry, pod_labels(ls, "kept"), (round + 1) * STEP_MS,
                                     3, &err),
                         0);
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
    tsdb_close(db);
    db = open_db(dir); /* from the WAL */
    double sum;
    for (int i = 0; i < OPEN; i++) {
        assert_int_equal(pod_samples(db, name[i], 0, HOUR, &sum), 3);
        assert_true(sum == 3.0 * i);
    }
    assert_int_equal(pod_samples(db, "kept", 0, HOUR, &sum), 4);
    assert_true(sum == 11);
    assert_int_equal(pod_samples(db, "rolled", 0, HOUR, NULL), 0);
    tsdb_close(db);
    odin_remove_tree(dir);
}

/* Reserving ahead, too little, nothing or an impossible amount changes no result. */
static void test_reserve(void **state)
{
    (void)state;
    tsdb *db = open_db(NULL);
    odin_err err = {0};
    odin_label ls[2];
    size_t hints[] = {0, 1, 3000, 5000, SIZE_MAX};
    for (size_t h = 0; h < sizeof(hints) / sizeof(hints[0]); h++) {
        tsdb_appender *a = tsdb_appender_new(db);
        tsdb_appender_reserve(a, hints[h]);
        tsdb_appender_reserve(a, 10); /* smaller than before: ignored */
        for (int i = 0; i < 4000; i++) {
            char name[16];
            snprintf(name, sizeof(name), "p%d", i);
            assert_int_equal(
                tsdb_append(a, NULL, pod_labels(ls, name), (int64_t)h * STEP_MS, 1, &err), 0);
        }
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
    tsdb_appender_rollback(NULL);
    tsdb_appender *a = tsdb_appender_new(db);
    tsdb_appender_reserve(a, 100);
    tsdb_appender_rollback(a); /* nothing appended: nothing leaks */
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_int_equal(st.samples_appended, 5 * 4000);
    assert_int_equal(pod_samples(db, "p3999", 0, HOUR, NULL), 5);
    tsdb_close(db);
}

/* A series with more labels than the head keeps (HEAD_MAX_LABELS) is refused with a clear error,
 * and the appender goes on with the next one. */
static void test_too_many_labels(void **state)
{
    (void)state;
    tsdb *db = open_db(NULL);
    odin_err err = {0};
    size_t n = (size_t)HEAD_MAX_LABELS + 1;
    odin_label *ls = odin_calloc(n, sizeof(*ls));
    char *names = odin_malloc(n * 8);
    ls[0] = (odin_label){ODIN_STR("__name__"), ODIN_STR("m")};
    for (size_t i = 1; i < n; i++) {
        snprintf(names + i * 8, 8, "l%06zu", i);
        ls[i] = (odin_label){{names + i * 8, 7}, ODIN_STR("v")};
    }
    tsdb_appender *a = tsdb_appender_new(db);
    assert_int_equal(tsdb_append(a, NULL, (odin_labels){ls, n}, 0, 1, &err), -ODIN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "labels, more than 65535"));
    odin_label ok[2];
    assert_int_equal(tsdb_append(a, NULL, pod_labels(ok, "p"), 0, 1, &err), 0);
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
    assert_int_equal(pod_samples(db, "p", 0, HOUR, NULL), 1);
    free(names);
    free(ls);
    tsdb_close(db);
}

/* Before any cut a new series' first chunk starts small; once the head has cut chunks it starts
 * at about their size (so it is not reallocated while it fills), and never above the cap. */
static void test_first_chunk_sized_from_cuts(void **state)
{
    (void)state;
    head h;
    head_init(&h, 2 * HOUR);
    odin_label ls[2];
    bool created;
    int kind = 0;
    assert_int_equal(head_first_chunk_cap(&h), HEAD_FIRST_CHUNK_MIN);
    head_series *s = head_get_or_create(&h, pod_labels(ls, "first"), &created);
    assert_int_equal(head_series_append(&h, s, 0, 1, &kind), 0);
    /* rounded up to malloc's 16-byte steps (less its 8-byte header) */
    assert_true(s->open.cap >= HEAD_FIRST_CHUNK_MIN && s->open.cap < HEAD_FIRST_CHUNK_MIN + 16);
    /* a counter that moves by varied amounts: chunks of a few hundred bytes, cut at range ends */
    double v = 0;
    uint64_t x = 1;
    for (int64_t t = STEP_MS; t < 4 * HOUR; t += STEP_MS) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        v += (double)(x >> 54);
        assert_int_equal(head_series_append(&h, s, t, v, &kind), 0);
    }
    assert_true(s->nchunks >= 2);
    uint32_t cap = head_first_chunk_cap(&h);
    head_chunk newest = head_chunk_at(s->last);
    uint32_t last = head_chunk_len(&newest);
    assert_true(cap > HEAD_FIRST_CHUNK_MIN);
    assert_true(cap <= HEAD_FIRST_CHUNK_MAX);
    assert_true(cap >= last / 2 && cap <= last * 2);
    head_series *n = head_get_or_create(&h, pod_labels(ls, "new"), &created);
    assert_true(created);
    assert_int_equal(head_series_append(&h, n, 4 * HOUR, 1, &kind), 0);
    assert_true(n->open.cap >= cap && n->open.cap < cap + 16);
    /* chunks of random doubles are ~8x bigger: the hint stops at the cap (every 5 s, so a chunk
     * holds 120 of them: at 15 s the head cuts at 15 minutes, 60 samples) */
    head_series *r = head_get_or_create(&h, pod_labels(ls, "random"), &created);
    for (int64_t t = 0; t < 40 * HOUR; t += 5000) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        double d = (double)x / 3.0;
        assert_int_equal(head_series_append(&h, r, t, d, &kind), 0);
    }
    assert_int_equal(head_first_chunk_cap(&h), HEAD_FIRST_CHUNK_MAX);
    head_fini(&h);
}

/* A first chunk has no earlier one to size it by: once it holds a few samples it grows in one
 * step to about what it will hold when cut (not by an eighth at a time), and at a 15 s scrape
 * it is cut 15 minutes after its first sample, at 60 samples. */
static void test_first_chunk_grows_once(void **state)
{
    (void)state;
    head h;
    head_init(&h, 2 * HOUR);
    odin_label ls[2];
    bool created;
    int kind = 0;
    head_series *s = head_get_or_create(&h, pod_labels(ls, "c"), &created);
    double v = 0;
    uint64_t x = 3;
    uint32_t caps[4] = {0};
    size_t ncaps = 0;
    int64_t t = 0;
    for (; s->nchunks == 0; t += STEP_MS) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        v += (double)(x >> 44); /* a byte counter: ~20 bits of change a sample */
        assert_int_equal(head_series_append(&h, s, t, v, &kind), 0);
        if (s->has_open && (ncaps == 0 || caps[ncaps - 1] != s->open.cap) && ncaps < 4) {
            caps[ncaps++] = s->open.cap;
        }
    }
    /* the first sample of the second chunk cut the first one after 60 samples */
    assert_int_equal(t, 61 * STEP_MS);
    head_chunk c = head_chunk_at(s->last);
    assert_int_equal(c.mint, 0);
    assert_int_equal(head_chunk_maxt(&c), 59 * STEP_MS);
    assert_int_equal(tsdb_chunk_samples(c.b, head_chunk_len(&c)), 60);
    /* 32 bytes, grown by an eighth until 8 samples are in, then once to the expected size */
    uint32_t len = head_chunk_len(&c);
    assert_true(ncaps <= 4);
    assert_true(caps[ncaps - 1] >= len && caps[ncaps - 1] <= len + len / 4 + 32);
    head_fini(&h);
}

/* One transaction with several samples per series, interleaved across a few hundred series:
 * every series gets its samples in the order they were added, what only the commit can reject
 * (out of order or duplicate against an earlier sample of the same transaction) is counted, and
 * the head's time range covers exactly the accepted samples. */
static void test_commit_in_order(void **state)
{
    (void)state;
    tsdb *db = open_db(NULL);
    odin_err err = {0};
    enum { PODS = 307, ROUNDS = 4 };
    uint64_t refs[PODS] = {0};
    odin_label ls[2];
    char name[16];
    tsdb_appender *a = tsdb_appender_new(db);
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PODS; i++) {
            snprintf(name, sizeof name, "s%d", i);
            assert_int_equal(tsdb_append(a, &refs[i], pod_labels(ls, name),
                                         (int64_t)(r + 1) * STEP_MS, r * 1000 + i, &err),
                             0);
        }
        if (r == 1) {
            /* pod 0 again: before its last sample, then at its last timestamp with a new value;
             * the appender's early check cannot see either (the series' last sample is older) */
            assert_int_equal(tsdb_append(a, &refs[0], pod_labels(ls, "s0"), STEP_MS / 2, 7, &err),
                             0);
            assert_int_equal(tsdb_append(a, &refs[0], pod_labels(ls, "s0"), 2 * STEP_MS, 8, &err),
                             0);
        }
    }
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_int_equal(st.samples_appended, PODS * ROUNDS);
    assert_int_equal(st.out_of_order_samples, 1);
    assert_int_equal(st.duplicate_samples, 1);
    assert_int_equal(st.head_min_t, STEP_MS);
    assert_int_equal(st.head_max_t, ROUNDS * STEP_MS);
    for (int i = 0; i < PODS; i++) {
        snprintf(name, sizeof name, "s%d", i);
        double sum;
        assert_int_equal(pod_samples(db, name, 0, INT64_MAX, &sum), ROUNDS);
        assert_true(sum == 6000.0 + 4.0 * i);
    }
    /* every series' lock was released: a second transaction over all of them commits */
    a = tsdb_appender_new(db);
    for (int i = 0; i < PODS; i++) {
        assert_int_equal(tsdb_append(a, &refs[i], pod_labels(ls, "unused"),
                                     (int64_t)(ROUNDS + 1) * STEP_MS, 1, &err),
                         0);
    }
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
    tsdb_get_stats(db, &st);
    assert_int_equal(st.samples_appended, PODS * (ROUNDS + 1));
    tsdb_close(db);
}

int tsdb_appender_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefetched_refs),
        cmocka_unit_test(test_prefetched_series_removed),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_pooled_appenders),
        cmocka_unit_test(test_first_chunk_sized_from_cuts),
        cmocka_unit_test(test_first_chunk_grows_once),
        cmocka_unit_test(test_too_many_labels),
        cmocka_unit_test(test_commit_in_order),
    };
    return cmocka_run_group_tests_name("tsdb_appender", tests, NULL, NULL);
}

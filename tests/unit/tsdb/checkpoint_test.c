/* Unit tests for the WAL checkpoint after a block cut (db_wal.c): the segments whose samples are
 * all in blocks are replaced by a checkpoint.N of the live series, nothing is relogged, and a
 * restart brings back every sample the head held under the refs the log uses, so the earlier
 * run's segments are dropped by time too; a deletion relogs the head, and the checkpoint after
 * it drops segments again. */
#include <cmocka.h>

#include "tsdb/db_int.h"
#include "tsdb/wal.h"
#include "tsdb_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tsdb_checkpoint_tests(void);

enum { STEP_MS = 15000, PODS = 100 };
static const int64_t HOUR = 3600 * 1000LL;

static tsdb *open_db(const char *dir)
{
    /* small segments, so a few hours of samples span many of them */
    return tsdb_test_open(
        &(tsdb_opts){.dir = dir, .wal_fsync_ms = 1000, .wal_segment_bytes = 32 * 1024});
}

/* Every pod gets sample value t/STEP_MS at each step in [from, to), one commit per step. */
static void append_pods(tsdb *db, int64_t from, int64_t to)
{
    odin_err err = {0};
    for (int64_t t = from; t < to; t += STEP_MS) {
        tsdb_appender *a = tsdb_appender_new(db);
        for (int i = 0; i < PODS; i++) {
            char name[16];
            snprintf(name, sizeof(name), "p%d", i);
            odin_label ls[2] = {{ODIN_STR("__name__"), ODIN_STR("m")},
                                {ODIN_STR("pod"), odin_str_c(name)}};
            assert_int_equal(
                tsdb_append(a, NULL, (odin_labels){ls, 2}, t, (double)(t / STEP_MS), &err), 0);
        }
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
}

/* Checks that every pod has exactly the samples of [0, to), each with its value, in blocks and
 * head together. */
static void check_all(tsdb *db, int64_t to)
{
    odin_err err = {0};
    tsdb_matcher m;
    assert_int_equal(
        tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("m"), &err), 0);
    tsdb_querier *q = tsdb_querier_open(db, 0, to);
    tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
    assert_non_null(s);
    size_t series = 0;
    while (tsdb_series_next(s)) {
        tsdb_iter it;
        tsdb_series_iter(s, &it);
        int64_t t, want = 0;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            assert_int_equal(t, want);
            assert_true(v == (double)(t / STEP_MS));
            want += STEP_MS;
        }
        assert_int_equal(want, to);
        series++;
    }
    assert_int_equal(series, PODS);
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
}

/* The WAL directory's segments (first, last, count) and its one checkpoint's number (-1: none,
 * -2: more than one). */
/* The samples in [0, 8h) of the series ms selects. */
static size_t count_samples(tsdb *db, const tsdb_matcher *ms)
{
    odin_err err = {0};
    tsdb_querier *q = tsdb_querier_open(db, 0, 8 * HOUR);
    tsdb_series_set *set = tsdb_querier_select(q, ms, 1, &err);
    assert_non_null(set);
    size_t n = 0;
    while (tsdb_series_next(set)) {
        tsdb_iter it;
        tsdb_series_iter(set, &it);
        int64_t t;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            n++;
        }
    }
    tsdb_querier_close(q);
    return n;
}

typedef struct {
    int first, last, n, checkpoint;
} wal_files;

static wal_files list_wal(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/wal", dir);
    wal_files w = {-1, -1, 0, -1};
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        if (strncmp(de->d_name, "checkpoint.", 11) == 0) {
            w.checkpoint = w.checkpoint == -1 ? (int)strtol(de->d_name + 11, &end, 10) : -2;
            continue;
        }
        long n = strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end != '\0') {
            continue;
        }
        w.first = w.first < 0 || n < w.first ? (int)n : w.first;
        w.last = n > w.last ? (int)n : w.last;
        w.n++;
    }
    closedir(d);
    return w;
}

/* The head ref of pod `name`. */
static uint32_t pod_ref(tsdb *db, const char *name)
{
    odin_label ls[2] = {{ODIN_STR("__name__"), ODIN_STR("m")}, {ODIN_STR("pod"), odin_str_c(name)}};
    bool created;
    head_series *s = head_get_or_create(&db->head, (odin_labels){ls, 2}, &created);
    assert_false(created);
    return s->ref;
}

/* Bytes of every file in <dir>/wal/checkpoint.N. */
static uint64_t checkpoint_bytes(const char *dir, int n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/wal/checkpoint.%08d", dir, n);
    return odin_tree_size(path);
}

static void test_checkpoint_drops_segments(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/odin-checkpoint-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    tsdb *db = open_db(dir);
    odin_err err = {0};
    /* 3.5 h: the head spans more than 1.5 block ranges, so [0, 2h) is cut */
    append_pods(db, 0, 3 * HOUR + HOUR / 2);
    wal_files before = list_wal(dir);
    assert_true(before.n > 20);
    assert_int_equal(tsdb_compact(db, &err), 0);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_int_equal(st.blocks, 1);
    assert_int_equal(st.checkpoint_creations, 1);
    /* the segments before the block's end went, a checkpoint names the series, no relog: the
     * segments kept are those of before, from the first one holding a sample at 2 h on, plus the
     * one the checkpoint started */
    wal_files after = list_wal(dir);
    assert_true(after.checkpoint >= before.first);
    assert_int_equal(after.first, after.checkpoint + 1);
    assert_int_equal(after.last, before.last + 1);
    assert_true(after.n < before.n / 2 + 2);
    assert_true(checkpoint_bytes(dir, after.checkpoint) > 0); /* 100 series records */
    assert_true(checkpoint_bytes(dir, after.checkpoint) <= 32 * 1024);
    /* more samples, then a restart: every sample is there, from the block, the checkpoint's
     * series and the kept segments, and the series have the refs the log uses */
    append_pods(db, 3 * HOUR + HOUR / 2, 4 * HOUR + HOUR / 2);
    check_all(db, 4 * HOUR + HOUR / 2);
    uint32_t ref7 = pod_ref(db, "p7");
    wal_files pre = list_wal(dir);
    tsdb_close(db);
    db = open_db(dir);
    check_all(db, 4 * HOUR + HOUR / 2);
    tsdb_get_stats(db, &st);
    assert_int_equal(st.head_series, PODS);
    assert_int_equal(pod_ref(db, "p7"), ref7);
    /* so the earlier run's segments are dropped by time as well, no relog: the cut of [2h, 4h)
     * keeps those holding samples from 4h on */
    append_pods(db, 4 * HOUR + HOUR / 2, 5 * HOUR + HOUR / 2);
    assert_int_equal(tsdb_compact(db, &err), 0);
    wal_files second = list_wal(dir);
    assert_true(second.checkpoint > after.checkpoint);
    assert_int_equal(second.first, second.checkpoint + 1);
    assert_true(second.first <= pre.last);
    assert_true(checkpoint_bytes(dir, second.checkpoint) > 0); /* series records */
    assert_true(checkpoint_bytes(dir, second.checkpoint) <= 32 * 1024);
    check_all(db, 5 * HOUR + HOUR / 2);
    /* a deletion logs a tombstones record, as Prometheus does: nothing is relogged, the
     * segments and the checkpoint stay, and a restart replays the tombstone */
    odin_label gl[1] = {{ODIN_STR("__name__"), ODIN_STR("gone")}};
    tsdb_appender *a = tsdb_appender_new(db);
    assert_int_equal(tsdb_append(a, NULL, (odin_labels){gl, 1}, 5 * HOUR + HOUR / 2, 1, &err), 0);
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
    tsdb_matcher gm;
    assert_int_equal(
        tsdb_matcher_init(&gm, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("gone"), &err), 0);
    tsdb_get_stats(db, &st);
    uint64_t checkpoints = st.checkpoint_creations;
    assert_int_equal(tsdb_delete_series(db, &gm, 1, 0, 6 * HOUR, &err), 0);
    wal_files deleted = list_wal(dir);
    assert_int_equal(deleted.first, second.first);
    assert_int_equal(deleted.checkpoint, second.checkpoint);
    tsdb_get_stats(db, &st);
    assert_int_equal(st.checkpoint_creations, checkpoints);
    assert_int_equal(count_samples(db, &gm), 0);
    check_all(db, 5 * HOUR + HOUR / 2);
    /* a sample appended after the delete, inside the range it named, is not deleted by the
     * tombstone at replay: the tombstone ends at the series' last sample */
    a = tsdb_appender_new(db);
    assert_int_equal(tsdb_append(a, NULL, (odin_labels){gl, 1}, 5 * HOUR + 3 * HOUR / 4, 1, &err),
                     0);
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
    assert_int_equal(count_samples(db, &gm), 1);
    tsdb_close(db);
    db = open_db(dir);
    assert_int_equal(count_samples(db, &gm), 1);
    check_all(db, 5 * HOUR + HOUR / 2);
    /* and the checkpoint after that drops segments again */
    append_pods(db, 5 * HOUR + HOUR / 2, 7 * HOUR + HOUR / 2);
    assert_int_equal(tsdb_compact(db, &err), 0);
    wal_files again = list_wal(dir);
    assert_true(again.checkpoint > deleted.checkpoint);
    assert_int_equal(again.first, again.checkpoint + 1);
    assert_true(checkpoint_bytes(dir, again.checkpoint) > 0);
    tsdb_get_stats(db, &st);
    assert_int_equal(st.blocks, 3);
    check_all(db, 7 * HOUR + HOUR / 2);
    tsdb_close(db);
    db = open_db(dir);
    check_all(db, 7 * HOUR + HOUR / 2);
    assert_int_equal(count_samples(db, &gm), 1); /* the deleted sample stayed deleted */
    tsdb_matcher_fini(&gm);
    tsdb_close(db);
    assert_int_equal(odin_remove_tree(dir), 0);
}

/* Replay asks for the log's refs: a new series gets the one asked for where it was never handed
 * out (past every ref so far, or a gap below before any removal), else the next one; an existing
 * label set keeps its ref; refs past HEAD_KEEP_REFS_MAX are not kept. */
static void test_replay_refs(void **state)
{
    (void)state;
    head h;
    head_init(&h, 2 * HOUR);
    bool created;
    odin_label a[1] = {{ODIN_STR("__name__"), ODIN_STR("a")}};
    odin_label b[1] = {{ODIN_STR("__name__"), ODIN_STR("b")}};
    odin_label c[1] = {{ODIN_STR("__name__"), ODIN_STR("c")}};
    odin_label d[1] = {{ODIN_STR("__name__"), ODIN_STR("d")}};
    odin_label e[1] = {{ODIN_STR("__name__"), ODIN_STR("e")}};
    head_series *s = head_get_or_create_ref(&h, (odin_labels){a, 1}, 5, &created);
    assert_true(created);
    assert_int_equal(s->ref, 5);
    s = head_get_or_create_ref(&h, (odin_labels){b, 1}, 3, &created); /* a gap below */
    assert_int_equal(s->ref, 3);
    s = head_get_or_create_ref(&h, (odin_labels){c, 1}, 5, &created); /* taken */
    assert_true(created);
    assert_int_equal(s->ref, 6);
    s = head_get_or_create_ref(&h, (odin_labels){a, 1}, 9, &created); /* a under another ref */
    assert_false(created);
    assert_int_equal(s->ref, 5);
    s = head_get_or_create_ref(&h, (odin_labels){d, 1}, HEAD_KEEP_REFS_MAX + 1, &created);
    assert_int_equal(s->ref, 7);
    assert_ptr_equal(head_by_ref(&h, 3), head_get_or_create(&h, (odin_labels){b, 1}, &created));
    s = head_get_or_create(&h, (odin_labels){e, 1}, &created);
    assert_int_equal(s->ref, 8);
    head_fini(&h);
}

int tsdb_checkpoint_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_drops_segments),
        cmocka_unit_test(test_replay_refs),
    };
    return cmocka_run_group_tests_name("tsdb_checkpoint", tests, NULL, NULL);
}

/* Unit tests for compact.c, tombstones.c and snapshot.c: leveled compaction of adjacent blocks,
 * vertical merge of overlapping ones, the tombstones file codec, deletion from blocks and head
 * (surviving a restart), cleaning tombstones, and snapshots. */
#include <cmocka.h>

#include "tsdb/block_int.h"
#include "tsdb/db_int.h"
#include "tsdb/tombstones.h"
#include "tsdb_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tsdb_compact_tests(void);

enum { STEP = 15000 };
static const int64_t H = 3600 * 1000LL;

static char *temp_dir(void)
{
    return tsdb_test_dir("compact");
}

static tsdb *open_db_enc(const char *dir, bool ro, bool odin_chunks)
{
    return tsdb_test_open(
        &(tsdb_opts){.dir = dir, .wal_fsync_ms = 0, .read_only = ro, .odin_chunks = odin_chunks});
}

static tsdb *open_db(const char *dir, bool ro)
{
    return open_db_enc(dir, ro, false);
}

/* Two series, job="a" with v = t/STEP and job="b" with v = 2. */
static void append_range(tsdb *db, int64_t from, int64_t to)
{
    odin_label la[2] = {{ODIN_STR("__name__"), ODIN_STR("m")}, {ODIN_STR("job"), ODIN_STR("a")}};
    odin_label lb[2] = {{ODIN_STR("__name__"), ODIN_STR("m")}, {ODIN_STR("job"), ODIN_STR("b")}};
    uint64_t ra = 0, rb = 0;
    odin_err err = {0};
    for (int64_t t = from; t < to; t += STEP) {
        tsdb_appender *ap = tsdb_appender_new(db);
        assert_int_equal(tsdb_append(ap, &ra, (odin_labels){la, 2}, t, (double)(t / STEP), &err),
                         0);
        assert_int_equal(tsdb_append(ap, &rb, (odin_labels){lb, 2}, t, 2, &err), 0);
        assert_int_equal(tsdb_appender_commit(ap, &err), 0);
    }
}

/* Samples of job=`job` in [mint, maxt], checking order and values. */
static size_t count(tsdb *db, const char *job, int64_t mint, int64_t maxt)
{
    odin_err err = {0};
    tsdb_matcher m;
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("job"), odin_str_c(job), &err),
                     0);
    tsdb_querier *q = tsdb_querier_open(db, mint, maxt);
    tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
    assert_non_null(s);
    size_t n = 0;
    while (tsdb_series_next(s)) {
        tsdb_iter it;
        tsdb_series_iter(s, &it);
        int64_t t, prev = INT64_MIN;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            assert_true(t > prev);
            prev = t;
            assert_true(v == (job[0] == 'a' ? (double)(t / STEP) : 2.0));
            n++;
        }
    }
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
    return n;
}

/* The head's chunks as prometheus_tsdb_head_chunks counts them (open ones included), from the
 * series themselves, checked against the counters. */
static uint64_t check_head_chunks(tsdb *db)
{
    size_t n;
    head_series **all = head_sorted_series(&db->head, &n);
    uint64_t chunks = 0;
    for (size_t i = 0; i < n; i++) {
        chunks += all[i]->nchunks + all[i]->has_open;
    }
    free(all);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_int_equal(st.head_chunks, chunks);
    assert_int_equal(st.head_chunks_created - st.head_chunks_removed, chunks);
    return st.head_chunks_removed;
}

static void block_levels(tsdb *db, int *levels, size_t *n)
{
    pthread_rwlock_rdlock(&db->blocks_lock);
    *n = db->nblocks;
    for (size_t i = 0; i < db->nblocks; i++) {
        levels[i] = block_get_meta(db->blocks[i])->level;
    }
    pthread_rwlock_unlock(&db->blocks_lock);
}

static void test_ranges(void **state)
{
    (void)state;
    tsdb db = {.opts = {.block_range_ms = 2 * H, .retention_ms = 15 * 24 * H}};
    int64_t r[10];
    size_t n = tsdb_compact_ranges(&db, r);
    /* 10% of 15d is 36h: 2h, 6h, 18h */
    assert_int_equal(n, 3);
    assert_true(r[0] == 2 * H && r[1] == 6 * H && r[2] == 18 * H);
    db.opts.max_block_range_ms = 2 * H;
    assert_int_equal(tsdb_compact_ranges(&db, r), 1);
}

/* 0..13h: the head cuts [0,2h) .. [8,10h); the three blocks of [0,6h) fill the 6h range and merge
 * into one level-2 block naming its sources and parents; the newest block stays alone. */
static void test_leveled_compaction(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir, false);
    append_range(db, 0, 13 * H);
    odin_err err = {0};
    assert_int_equal(tsdb_compact(db, &err), 0);
    int lv[16];
    size_t n;
    block_levels(db, lv, &n);
    assert_int_equal(n, 3);
    assert_int_equal(lv[0], 2);
    assert_int_equal(lv[1], 1);
    pthread_rwlock_rdlock(&db->blocks_lock);
    const block_meta *m = block_get_meta(db->blocks[0]);
    assert_true(m->mint == 0 && m->maxt == 6 * H);
    odin_strbuf p, text;
    odin_strbuf_init(&p, 0);
    odin_strbuf_init(&text, 0);
    odin_strbuf_printf(&p, "%s/meta.json", block_path(db->blocks[0]));
    pthread_rwlock_unlock(&db->blocks_lock);
    assert_int_equal(odin_read_file(p.p, &text, 1 << 20, &err), 0);
    assert_non_null(strstr(text.p, "\"parents\": [\n\t\t\t{\n\t\t\t\t\"ulid\": "));
    assert_non_null(strstr(text.p, "\"level\": 2"));
    block_meta_file mf = {0};
    assert_int_equal(block_meta_parse(text.p, text.len, p.p, &mf, &err), 0);
    assert_int_equal(mf.nsources, 3);
    block_meta_file_fini(&mf);
    odin_strbuf_fini(&p);
    odin_strbuf_fini(&text);
    size_t want = (size_t)(13 * H / STEP);
    assert_int_equal(count(db, "a", 0, 13 * H), want);
    assert_int_equal(count(db, "b", 0, 13 * H), want);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_int_equal(st.compactions, 6); /* five head cuts and one merge */
    assert_int_equal(st.compactions_failed, 0);
    tsdb_close(db);
    /* the merged sources are gone from disk; a restart sees the same data */
    db = open_db(dir, false);
    block_levels(db, lv, &n);
    assert_int_equal(n, 3);
    assert_int_equal(count(db, "a", 0, 13 * H), want);
    tsdb_close(db);
    odin_remove_tree(dir);
    free(dir);
}

/* ---- overlapping blocks ---- */

typedef struct {
    odin_label ls[2];
    int64_t from, step;
    size_t n;
    xor_chunk c;
    block_chunk bc;
    bool done;
} one_series;

static int one_next(void *ctx, odin_labels *labels, const block_chunk **chunks, size_t *n,
                    odin_err *err)
{
    (void)err;
    one_series *o = ctx;
    if (o->done) {
        return 0;
    }
    o->done = true;
    xor_chunk_init(&o->c);
    for (size_t i = 0; i < o->n; i++) {
        int64_t t = o->from + (int64_t)i * o->step;
        xor_chunk_append(&o->c, t, (double)(t / STEP));
    }
    o->bc = (block_chunk){o->from, o->from + (int64_t)(o->n - 1) * o->step, o->c.b, o->c.len};
    *labels = (odin_labels){o->ls, 2};
    *chunks = &o->bc;
    *n = 1;
    return 1;
}

static void write_one(const char *dir, int64_t from, int64_t step, size_t n, int64_t bmin,
                      int64_t bmax)
{
    one_series o = {.ls = {{ODIN_STR("__name__"), ODIN_STR("m")}, {ODIN_STR("job"), ODIN_STR("a")}},
                    .from = from, .step = step, .n = n};
    block_write_opts wo = {.parent_dir = dir, .mint = bmin, .maxt = bmax, .compaction_level = 1};
    block_source src = {&o, one_next};
    char ulid[27];
    odin_err err = {0};
    assert_int_equal(block_write(&wo, &src, ulid, &err), 0);
    xor_chunk_fini(&o.c);
}

/* Two blocks over the same 2h, one with even steps and one with odd steps (and a shared sample):
 * the compactor merges them vertically into one block with every sample once, in order. */
static void test_vertical_merge(void **state)
{
    (void)state;
    char *dir = temp_dir();
    write_one(dir, 0, 2 * STEP, 100, 0, 2 * H);
    write_one(dir, STEP, 2 * STEP, 100, 0, 2 * H);
    write_one(dir, 0, STEP, 1, 0, 2 * H);
    tsdb *db = open_db(dir, false);
    odin_err err = {0};
    assert_int_equal(tsdb_compact(db, &err), 0);
    int lv[4];
    size_t n;
    block_levels(db, lv, &n);
    assert_int_equal(n, 1);
    assert_int_equal(lv[0], 2);
    assert_int_equal(count(db, "a", 0, 2 * H), 200);
    pthread_rwlock_rdlock(&db->blocks_lock);
    const block_meta *m = block_get_meta(db->blocks[0]);
    assert_int_equal(m->num_samples, 200);
    assert_int_equal(m->num_chunks, 2); /* re-encoded at 120 samples a chunk */
    pthread_rwlock_unlock(&db->blocks_lock);
    tsdb_close(db);
    odin_remove_tree(dir);
    free(dir);
}

/* ---- tombstones ---- */

static void test_tombstones_codec(void **state)
{
    (void)state;
    tsdb_tombstones ts = {0};
    tombstones_add(&ts, 5, 10, 20);
    tombstones_add(&ts, 1, -5, 3);
    tombstones_add(&ts, 5, 21, 30); /* adjacent: merges */
    tombstones_add(&ts, 5, 40, 50);
    tombstones_add(&ts, 5, 0, INT64_MAX);
    tombstones_add(&ts, 7, 1, 2);
    tombstones_normalize(&ts);
    assert_int_equal(ts.n, 3);
    const tsdb_tombstone *iv;
    assert_int_equal(tombstones_get(&ts, 5, &iv), 1);
    assert_true(iv[0].mint == 0 && iv[0].maxt == INT64_MAX);
    assert_int_equal(tombstones_get(&ts, 6, &iv), 0);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    tombstones_encode(&ts, &b);
    assert_int_equal(block_get_be32((const uint8_t *)b.p), 0x0130BA30u);
    assert_int_equal((uint8_t)b.p[4], 1);
    tsdb_tombstones back = {0};
    odin_err err = {0};
    assert_int_equal(tombstones_decode((const uint8_t *)b.p, b.len, "t", &back, &err), 0);
    assert_int_equal(back.n, 3);
    assert_memory_equal(back.v, ts.v, 3 * sizeof(*ts.v));
    tombstones_fini(&back);
    b.p[6] ^= 1; /* a flipped bit fails the CRC */
    assert_int_equal(tombstones_decode((const uint8_t *)b.p, b.len, "t", &back, &err),
                     -ODIN_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "checksum"));
    assert_int_equal(tombstones_decode((const uint8_t *)b.p, 3, "t", &back, &err),
                     -ODIN_ERR_CORRUPT);
    tombstones_fini(&back);
    odin_strbuf_fini(&b);
    tombstones_fini(&ts);
}

static void delete_job(tsdb *db, const char *job, int64_t mint, int64_t maxt)
{
    odin_err err = {0};
    tsdb_matcher m;
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("job"), odin_str_c(job), &err),
                     0);
    assert_int_equal(tsdb_delete_series(db, &m, 1, mint, maxt, &err), 0);
    tsdb_matcher_fini(&m);
}

static void test_delete_series(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir, false);
    append_range(db, 0, 7 * H);
    assert_int_equal(check_head_chunks(db), 0);
    odin_err err = {0};
    assert_int_equal(tsdb_compact(db, &err), 0); /* blocks [0,2h), [2h,4h); head from 4h */
    uint64_t removed = check_head_chunks(db);    /* the truncation freed the blocks' chunks */
    assert_true(removed > 0);
    size_t all = (size_t)(7 * H / STEP);
    /* one interval across both blocks, one inside the head */
    delete_job(db, "a", H, 3 * H - 1);
    delete_job(db, "a", 5 * H, 6 * H - 1);
    assert_true(check_head_chunks(db) > removed); /* whole chunks inside [5h, 6h) went */
    size_t gone = (size_t)(2 * H / STEP) + (size_t)(H / STEP);
    assert_int_equal(count(db, "a", 0, 7 * H), all - gone);
    assert_int_equal(count(db, "b", 0, 7 * H), all);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_int_equal(st.tombstones, 2);
    /* an empty matcher set is refused */
    tsdb_matcher m;
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_RE, ODIN_STR("job"), ODIN_STR(".*"), &err),
                     0);
    assert_int_equal(tsdb_delete_series(db, &m, 1, 0, 1, &err), -ODIN_ERR_INVALID);
    tsdb_matcher_fini(&m);
    tsdb_close(db);
    /* tombstones file and rewritten WAL keep the deletions across a restart */
    db = open_db(dir, false);
    assert_int_equal(count(db, "a", 0, 7 * H), all - gone);
    assert_int_equal(tsdb_clean_tombstones(db, &err), 0);
    tsdb_get_stats(db, &st);
    assert_int_equal(st.tombstones, 0);
    assert_int_equal(st.blocks, 2);
    assert_int_equal(count(db, "a", 0, 7 * H), all - gone);
    assert_int_equal(count(db, "b", 0, 7 * H), all);
    tsdb_close(db);
    db = open_db(dir, false);
    assert_int_equal(count(db, "a", 0, 7 * H), all - gone);
    tsdb_get_stats(db, &st);
    assert_int_equal(st.blocks, 2);
    tsdb_close(db);
    odin_remove_tree(dir);
    free(dir);
}

/* ---- snapshots ---- */

static size_t count_entries(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void test_snapshot(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir, false);
    append_range(db, 0, 5 * H);
    odin_err err = {0};
    assert_int_equal(tsdb_compact(db, &err), 0);
    odin_strbuf name, path;
    odin_strbuf_init(&name, 0);
    odin_strbuf_init(&path, 0);
    assert_int_equal(tsdb_snapshot(db, true, &name, &err), 0);
    assert_int_equal(name.len, 16 + 1 + 16);
    assert_int_equal(name.p[8], 'T');
    assert_int_equal(name.p[15], 'Z');
    odin_strbuf_printf(&path, "%s/snapshots/%s", dir, name.p);
    assert_int_equal(count_entries(path.p), 2); /* one block and the head */
    tsdb_close(db);
    /* the snapshot is a data directory of its own */
    db = open_db(path.p, true);
    size_t all = (size_t)(5 * H / STEP);
    assert_int_equal(count(db, "a", 0, 5 * H), all);
    tsdb_close(db);
    db = open_db(dir, false);
    odin_strbuf_reset(&name);
    assert_int_equal(tsdb_snapshot(db, false, &name, &err), 0);
    odin_strbuf_reset(&path);
    odin_strbuf_printf(&path, "%s/snapshots/%s", dir, name.p);
    assert_int_equal(count_entries(path.p), 1);
    tsdb_close(db);
    odin_strbuf_fini(&name);
    odin_strbuf_fini(&path);
    odin_remove_tree(dir);
    free(dir);
}

/* ---- chunk encodings ---- */

/* Chunks of every block by encoding: counts[0] XOR, counts[1] Odin's. */
static void block_encodings(tsdb *db, size_t counts[2])
{
    counts[0] = counts[1] = 0;
    odin_arena a;
    odin_arena_init(&a, 0);
    odin_err err = {0};
    pthread_rwlock_rdlock(&db->blocks_lock);
    for (size_t i = 0; i < db->nblocks; i++) {
        uint32_t *ids;
        size_t n;
        assert_int_equal(block_series_ids(db->blocks[i], &a, &ids, &n, &err), 0);
        for (size_t k = 0; k < n; k++) {
            block_series s;
            assert_int_equal(
                block_series_read(db->blocks[i], ids[k], INT64_MIN, INT64_MAX, &a, &s, &err), 0);
            for (size_t c = 0; c < s.nchunks; c++) {
                counts[tsdb_chunk_encoding(s.chunks[c].b, s.chunks[c].len) == TSDB_ENC_ODIN]++;
            }
        }
    }
    pthread_rwlock_unlock(&db->blocks_lock);
    odin_arena_fini(&a);
}

/* With odin_chunks the head cuts and merges write Odin chunks that query, delete and restart like
 * XOR ones; reopened without it, the next merge turns them back into XOR. */
static void test_odin_chunk_option(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db_enc(dir, false, true);
    append_range(db, 0, 13 * H);
    odin_err err = {0};
    assert_int_equal(tsdb_compact(db, &err), 0);
    size_t enc[2];
    block_encodings(db, enc);
    assert_int_equal(enc[0], 0);
    assert_true(enc[1] > 0);
    size_t want = (size_t)(13 * H / STEP);
    assert_int_equal(count(db, "a", 0, 13 * H), want);
    assert_int_equal(count(db, "b", 0, 13 * H), want);
    delete_job(db, "a", H, 2 * H - 1);
    size_t gone = (size_t)(H / STEP);
    assert_int_equal(count(db, "a", 0, 13 * H), want - gone);
    tsdb_close(db);

    db = open_db_enc(dir, false, false);
    assert_int_equal(count(db, "a", 0, 13 * H), want - gone);
    assert_int_equal(tsdb_clean_tombstones(db, &err), 0);
    append_range(db, 13 * H, 25 * H);
    assert_int_equal(tsdb_compact(db, &err), 0);
    block_encodings(db, enc);
    assert_int_equal(enc[1], 0); /* every block was rewritten or merged since */
    want = (size_t)(25 * H / STEP);
    assert_int_equal(count(db, "a", 0, 25 * H), want - gone);
    assert_int_equal(count(db, "b", 0, 25 * H), want);
    tsdb_close(db);
    odin_remove_tree(dir);
    free(dir);
}

/* Chunks and samples of the i-th block (by mint), and the most samples one chunk holds. */
static void block_chunk_counts(tsdb *db, size_t i, size_t *chunks, size_t *samples, size_t *most)
{
    *chunks = *samples = *most = 0;
    odin_arena a;
    odin_arena_init(&a, 0);
    odin_err err = {0};
    pthread_rwlock_rdlock(&db->blocks_lock);
    assert_true(i < db->nblocks);
    uint32_t *ids;
    size_t n;
    assert_int_equal(block_series_ids(db->blocks[i], &a, &ids, &n, &err), 0);
    for (size_t k = 0; k < n; k++) {
        block_series s;
        assert_int_equal(
            block_series_read(db->blocks[i], ids[k], INT64_MIN, INT64_MAX, &a, &s, &err), 0);
        for (size_t c = 0; c < s.nchunks; c++) {
            size_t ns = tsdb_chunk_samples(s.chunks[c].b, s.chunks[c].len);
            *samples += ns;
            *most = ns > *most ? ns : *most;
        }
        *chunks += s.nchunks;
    }
    pthread_rwlock_unlock(&db->blocks_lock);
    odin_arena_fini(&a);
}

/* Head cuts write one 480-sample Odin chunk per series per 2 h block at a 15 s step; merging
 * three of them into a 6 h block makes one 1440-sample chunk per series, not three. XOR blocks
 * keep Prometheus' 120-sample chunks through merges. */
static void test_odin_merge_larger_chunks(void **state)
{
    (void)state;
    for (int odin = 0; odin <= 1; odin++) {
        char *dir = temp_dir();
        tsdb *db = open_db_enc(dir, false, odin);
        append_range(db, 0, 13 * H);
        odin_err err = {0};
        assert_int_equal(tsdb_compact(db, &err), 0);
        int lv[16];
        size_t n;
        block_levels(db, lv, &n);
        assert_int_equal(n, 3);
        assert_int_equal(lv[0], 2);
        size_t chunks, samples, most;
        block_chunk_counts(db, 0, &chunks, &samples, &most);
        assert_int_equal(samples, 2 * 6 * H / STEP);
        assert_int_equal(chunks, odin ? 2 : 2 * 6 * H / STEP / 120);
        assert_int_equal(most, odin ? 6 * H / STEP : 120);
        block_chunk_counts(db, 1, &chunks, &samples, &most);
        assert_int_equal(chunks, odin ? 2 : 2 * 2 * H / STEP / 120);
        assert_int_equal(count(db, "a", 0, 13 * H), (size_t)(13 * H / STEP));
        assert_int_equal(count(db, "b", 0, 13 * H), (size_t)(13 * H / STEP));
        tsdb_close(db);
        odin_remove_tree(dir);
        free(dir);
    }
}

/* tsdb_recode_blocks turns every block into the encoding the database was opened with, leaves
 * blocks already in it alone, and keeps every sample (XOR re-cut at 120 samples). */
static void test_recode_blocks(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db_enc(dir, false, true);
    append_range(db, 0, 13 * H);
    odin_err err = {0};
    assert_int_equal(tsdb_compact(db, &err), 0);
    tsdb_close(db);
    size_t want = (size_t)(13 * H / STEP), enc[2];
    for (int round = 0; round < 2; round++) {
        bool odin = round == 1;
        db = open_db_enc(dir, false, odin);
        uint64_t rewritten, kept;
        assert_int_equal(tsdb_recode_blocks(db, &rewritten, &kept, &err), 0);
        assert_int_equal(rewritten, 3);
        assert_int_equal(kept, 0);
        block_encodings(db, enc);
        assert_int_equal(enc[odin ? 0 : 1], 0);
        assert_true(enc[odin ? 1 : 0] > 0);
        size_t chunks, samples, most;
        block_chunk_counts(db, 0, &chunks, &samples, &most);
        assert_int_equal(samples, 2 * 6 * H / STEP);
        assert_int_equal(most, odin ? 6 * H / STEP : 120);
        assert_int_equal(count(db, "a", 0, 13 * H), want);
        assert_int_equal(count(db, "b", 0, 13 * H), want);
        assert_int_equal(tsdb_recode_blocks(db, &rewritten, &kept, &err), 0);
        assert_int_equal(rewritten, 0);
        assert_int_equal(kept, 3);
        tsdb_close(db);
        /* the rewritten blocks replaced the old ones on disk too */
        db = open_db_enc(dir, true, odin);
        int lv[16];
        size_t n;
        block_levels(db, lv, &n);
        assert_int_equal(n, 3);
        assert_int_equal(lv[0], 2);
        block_encodings(db, enc);
        assert_int_equal(enc[odin ? 0 : 1], 0);
        assert_int_equal(count(db, "a", 0, 13 * H), want);
        tsdb_close(db);
    }
    odin_remove_tree(dir);
    free(dir);
}

int tsdb_compact_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_leveled_compaction),
        cmocka_unit_test(test_vertical_merge),
        cmocka_unit_test(test_tombstones_codec),
        cmocka_unit_test(test_delete_series),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_odin_chunk_option),
        cmocka_unit_test(test_odin_merge_larger_chunks),
        cmocka_unit_test(test_recode_blocks),
    };
    return cmocka_run_group_tests_name("tsdb_compact", tests, NULL, NULL);
}

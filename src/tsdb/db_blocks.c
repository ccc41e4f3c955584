/* The persisted side of the database: loading blocks at open, cutting old head windows into
 * blocks, truncating head and WAL behind them, running block compaction (compact.c), and deleting
 * blocks past the retention limits. */
#include "tsdb/block.h"
#include "tsdb/db_int.h"
#include "tsdb/wal.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static bool is_ulid(const char *s)
{
    if (strlen(s) != 26) {
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (!((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z'))) {
            return false;
        }
    }
    return true;
}

static int block_mint_cmp(const void *a, const void *b)
{
    const block_meta *x = block_get_meta(*(tsdb_block *const *)a);
    const block_meta *y = block_get_meta(*(tsdb_block *const *)b);
    return (x->mint > y->mint) - (x->mint < y->mint);
}

void tsdb_blocks_sort_locked(tsdb *db)
{
    if (db->nblocks > 1) {
        qsort(db->blocks, db->nblocks, sizeof(*db->blocks), block_mint_cmp);
    }
}

static bool has_source(const char (*v)[27], size_t n, const char *ulid)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], ulid) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether y holds everything x holds: a compaction (or tombstone rewrite) that finished writing
 * y but crashed before deleting x leaves both; Prometheus drops x through y's "parents". */
static bool supersedes(const tsdb_block *y, const tsdb_block *x)
{
    const char(*xs)[27], (*ys)[27];
    size_t nx = block_sources(x, &xs), ny = block_sources(y, &ys);
    for (size_t i = 0; i < nx; i++) {
        if (!has_source(ys, ny, xs[i])) {
            return false;
        }
    }
    const block_meta *mx = block_get_meta(x), *my = block_get_meta(y);
    if (ny != nx || my->level != mx->level) {
        return ny > nx || my->level > mx->level;
    }
    return strcmp(my->ulid, mx->ulid) > 0; /* same sources: the later rewrite wins */
}

/* Deletes blocks that another loaded block supersedes (leftovers of an interrupted compaction). */
static void drop_superseded(tsdb *db)
{
    /* decided for every block before any is freed: a later block is compared with all of them */
    bool *gone = odin_calloc(db->nblocks ? db->nblocks : 1, sizeof(*gone));
    for (size_t i = 0; i < db->nblocks; i++) {
        for (size_t j = 0; j < db->nblocks && !gone[i]; j++) {
            gone[i] = j != i && supersedes(db->blocks[j], db->blocks[i]);
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < db->nblocks; i++) {
        if (!gone[i]) {
            db->blocks[w++] = db->blocks[i];
            continue;
        }
        odin_log(ODIN_LOG_INFO, "tsdb", "deleting block superseded by a compaction", "ulid",
                 block_get_meta(db->blocks[i])->ulid, NULL);
        if (!db->opts.read_only) {
            block_mark_deleted(db->blocks[i]);
        }
        block_unref(db->blocks[i]);
    }
    db->nblocks = w;
    free(gone);
}

static void set_min_valid_locked(tsdb *db)
{
    int64_t maxt = INT64_MIN;
    for (size_t i = 0; i < db->nblocks; i++) {
        const block_meta *m = block_get_meta(db->blocks[i]);
        if (m->maxt > maxt) {
            maxt = m->maxt;
        }
    }
    if (maxt > atomic_load(&db->min_valid_t)) {
        atomic_store(&db->min_valid_t, maxt);
    }
}

/* Opens every block directory; leftovers of interrupted writes and deletions are removed, as
 * Prometheus does at start-up. A block that cannot be read stops the start with its path: its
 * data is never deleted behind the user's back. */
int tsdb_blocks_load(tsdb *db, odin_err *err)
{
    atomic_store(&db->min_valid_t, INT64_MIN);
    if (!db->dir) {
        return 0;
    }
    DIR *d = opendir(db->dir);
    if (!d) {
        return odin_err_errno(err, errno, "open data directory %s", db->dir);
    }
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        odin_strbuf_reset(&path);
        odin_strbuf_printf(&path, "%s/%s", db->dir, de->d_name);
        if ((strstr(de->d_name, ".tmp-for-creation") || strstr(de->d_name, ".tmp-for-deletion")) &&
            !db->opts.read_only) {
            odin_log(ODIN_LOG_INFO, "tsdb", "removing leftover block directory", "dir", path.p,
                     NULL);
            odin_remove_tree(path.p);
            continue;
        }
        if (!is_ulid(de->d_name)) {
            continue;
        }
        tsdb_block *b = block_open(path.p, err);
        if (!b) {
            rc = -ODIN_ERR_CORRUPT;
            break;
        }
        db->blocks = odin_realloc(db->blocks, (db->nblocks + 1) * sizeof(*db->blocks));
        db->blocks[db->nblocks++] = b;
    }
    closedir(d);
    odin_strbuf_fini(&path);
    if (rc == 0) {
        drop_superseded(db);
    }
    tsdb_blocks_sort_locked(db);
    set_min_valid_locked(db);
    return rc;
}

void tsdb_blocks_close(tsdb *db)
{
    for (size_t i = 0; i < db->nblocks; i++) {
        block_unref(db->blocks[i]);
    }
    free(db->blocks);
    db->blocks = NULL;
    db->nblocks = 0;
}

struct tsdb_block **tsdb_blocks_acquire(tsdb *db, int64_t mint, int64_t maxt, size_t *n)
{
    pthread_rwlock_rdlock(&db->blocks_lock);
    tsdb_block **v = odin_malloc((db->nblocks ? db->nblocks : 1) * sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < db->nblocks; i++) {
        const block_meta *m = block_get_meta(db->blocks[i]);
        if (m->maxt > mint && m->mint <= maxt) {
            block_ref(db->blocks[i]);
            v[k++] = db->blocks[i];
        }
    }
    pthread_rwlock_unlock(&db->blocks_lock);
    *n = k;
    return v;
}

void tsdb_blocks_release(struct tsdb_block **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        block_unref(v[i]);
    }
    free(v);
}

/* ---- cutting the head into a block ---- */

typedef struct {
    tsdb *db;
    head_series **series;
    size_t n, pos;
    int64_t mint, maxt;
    head_chunk *cur;
    block_chunk *out;
    size_t cap;
    odin_arena merged;    /* the current series' merged chunks */
    head_labels_buf lbuf; /* the current series' labels */
} head_source;

static bool xor_samples(const block_chunk *c, uint32_t *n)
{
    if (tsdb_chunk_encoding(c->b, c->len) != TSDB_ENC_XOR) {
        return false;
    }
    *n = tsdb_chunk_samples(c->b, c->len);
    return *n > 0;
}

/* Consecutive chunks of v[i..j) as one, in the arena: the first one's bytes continued with the
 * others' samples; false when one does not decode (they are then written as they are, as any
 * other chunk). */
static bool merge_run(head_source *hs, block_chunk *v, size_t i, size_t j, block_chunk *out)
{
    size_t bytes = 0;
    for (size_t k = i + 1; k < j; k++) {
        bytes += v[k].len;
    }
    xor_chunk c;
    if (!xor_chunk_resume(&c, v[i].b, v[i].len, (uint32_t)bytes)) {
        return false;
    }
    bool ok = true;
    for (size_t k = i + 1; k < j && ok; k++) {
        xor_iter it;
        xor_iter_init(&it, v[k].b, v[k].len);
        int64_t t;
        double x;
        while (xor_iter_next(&it, &t, &x)) {
            xor_chunk_append(&c, t, x);
        }
        ok = !it.err;
    }
    uint8_t *b = ok ? odin_arena_alloc(&hs->merged, c.len) : NULL;
    if (b) {
        memcpy(b, c.b, c.len);
        *out = (block_chunk){v[i].mint, v[j - 1].maxt, b, c.len};
    }
    xor_chunk_fini(&c);
    return b != NULL;
}

/* A head in memory cuts chunks early at long scrape intervals (HEAD_CHUNK_MAX_MS: 60 samples at
 * 15 s), and a deleted range leaves short chunks in any head:
 * a block gets them back at up to HEAD_SAMPLES_PER_CHUNK samples, as Prometheus writes them, not
 * twice the chunks with their index entries, headers and restarted encodings. */
static size_t merge_short_chunks(head_source *hs, block_chunk *v, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t total, more;
        size_t j = i + 1;
        if (xor_samples(&v[i], &total)) {
            while (j < n && xor_samples(&v[j], &more) && total + more <= HEAD_SAMPLES_PER_CHUNK) {
                total += more;
                j++;
            }
        }
        if (j > i + 1 && merge_run(hs, v, i, j, &v[w])) {
            w++;
        } else {
            for (size_t k = i; k < j; k++) {
                v[w++] = v[k];
            }
        }
        i = j;
    }
    return w;
}

static int head_source_next(void *ctx, odin_labels *labels, const block_chunk **chunks, size_t *n,
                            odin_err *err)
{
    (void)err;
    head_source *hs = ctx;
    while (hs->pos < hs->n) {
        head_series *s = hs->series[hs->pos++];
        free(hs->cur);
        size_t nc = head_series_chunks(&hs->db->head, s, hs->mint, hs->maxt, &hs->cur);
        if (nc == 0) {
            continue;
        }
        if (nc > hs->cap) {
            hs->cap = nc;
            hs->out = odin_realloc(hs->out, nc * sizeof(*hs->out));
        }
        for (size_t i = 0; i < nc; i++) {
            const head_chunk *c = &hs->cur[i];
            hs->out[i] = (block_chunk){c->mint, head_chunk_maxt(c), c->b, head_chunk_len(c)};
        }
        odin_arena_reset(&hs->merged);
        *labels = head_series_labels(&hs->db->head, s, &hs->lbuf);
        *chunks = hs->out;
        *n = merge_short_chunks(hs, hs->out, nc);
        return 1;
    }
    return 0;
}

static int cut_block(tsdb *db, int64_t mint, int64_t maxt, odin_err *err)
{
    head_source hs = {.db = db, .mint = mint, .maxt = maxt};
    odin_arena_init(&hs.merged, 0);
    hs.series = head_sorted_series(&db->head, &hs.n);
    block_write_opts wo = {
        .parent_dir = db->dir,
        .mint = mint,
        .maxt = maxt,
        .compaction_level = 1,
        .external_labels = (const char *const *)db->external_labels,
        .nexternal = db->nexternal_labels,
        .chunk_encoding = db->opts.odin_chunks ? TSDB_ENC_ODIN : TSDB_ENC_XOR,
    };
    block_source src = {&hs, head_source_next};
    char ulid[27];
    int rc = block_write(&wo, &src, ulid, err);
    free(hs.cur);
    free(hs.out);
    odin_arena_fini(&hs.merged);
    head_labels_buf_fini(&hs.lbuf);
    free(hs.series);
    if (rc < 0 || ulid[0] == '\0') {
        return rc;
    }
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/%s", db->dir, ulid);
    tsdb_block *b = block_open(path.p, err);
    odin_strbuf_fini(&path);
    if (!b) {
        return -ODIN_ERR_CORRUPT;
    }
    pthread_rwlock_wrlock(&db->blocks_lock);
    db->blocks = odin_realloc(db->blocks, (db->nblocks + 1) * sizeof(*db->blocks));
    db->blocks[db->nblocks++] = b;
    tsdb_blocks_sort_locked(db);
    pthread_rwlock_unlock(&db->blocks_lock);
    atomic_fetch_add(&db->compactions, 1);
    odin_log(ODIN_LOG_INFO, "tsdb", "write block", "ulid", ulid, NULL);
    return 0;
}

/* ---- retention ---- */

static void drop_block_locked(tsdb *db, size_t i, const char *why)
{
    tsdb_block *b = db->blocks[i];
    odin_log(ODIN_LOG_INFO, "tsdb", "deleting block past retention", "ulid",
             block_get_meta(b)->ulid, "reason", why, NULL);
    memmove(&db->blocks[i], &db->blocks[i + 1], (db->nblocks - i - 1) * sizeof(*db->blocks));
    db->nblocks--;
    block_mark_deleted(b);
    block_unref(b); /* the directory goes when the last query lets go */
}

/* Prometheus' rules: by time, every block whose end lies a retention period or more before the
 * newest block's end; by size, newest first, the first block that no longer fits (counting the
 * WAL) and all older ones. Whole blocks only. */
static void apply_retention(tsdb *db)
{
    pthread_rwlock_wrlock(&db->blocks_lock);
    if (db->nblocks && db->opts.retention_ms > 0) {
        int64_t newest = block_get_meta(db->blocks[db->nblocks - 1])->maxt;
        bool dropped = false;
        for (size_t i = db->nblocks; i-- > 0;) {
            if (newest - block_get_meta(db->blocks[i])->maxt >= db->opts.retention_ms) {
                drop_block_locked(db, i, "time");
                dropped = true;
            }
        }
        /* counted once per pass that deleted blocks, as Prometheus counts them */
        atomic_fetch_add(&db->time_retentions, dropped);
    }
    if (db->nblocks && db->opts.retention_bytes > 0) {
        uint64_t total = tsdb_wal_size(db);
        size_t keep_from = 0;
        for (size_t i = db->nblocks; i-- > 0;) {
            total += block_get_meta(db->blocks[i])->size_bytes;
            if (total > db->opts.retention_bytes) {
                keep_from = i + 1;
                break;
            }
        }
        for (size_t i = keep_from; i-- > 0;) {
            drop_block_locked(db, i, "size");
        }
        atomic_fetch_add(&db->size_retentions, keep_from > 0);
    }
    pthread_rwlock_unlock(&db->blocks_lock);
}

/* Persists head windows once the head spans one and a half block ranges, as Prometheus does, so
 * the newest hour or more always stays in the head (and the WAL) for late samples. */
int tsdb_compact(tsdb *db, odin_err *err)
{
    if (!db->dir) {
        return 0;
    }
    pthread_mutex_lock(&db->compact_lock);
    int64_t range = db->opts.block_range_ms;
    int rc = 0;
    bool cut = false;
    for (;;) {
        int64_t hmin = atomic_load(&db->head.min_t), hmax = atomic_load(&db->head.max_t);
        if (hmin == INT64_MAX || hmax - hmin <= range + range / 2) {
            break;
        }
        int64_t start = hmin - ((hmin % range) + range) % range;
        int64_t end = start + range;
        /* from here on samples before `end` are out of bounds: they would miss the block */
        if (end > atomic_load(&db->min_valid_t)) {
            atomic_store(&db->min_valid_t, end);
        }
        rc = cut_block(db, start, end, err);
        if (rc < 0) {
            /* the head keeps the window (nothing is lost) and the next run tries again, e.g.
             * once a full disk has room */
            atomic_fetch_add(&db->compactions_failed, 1);
            atomic_fetch_add(&db->write_errors, rc == -ODIN_ERR_IO);
            break;
        }
        head_truncate(&db->head, end);
        atomic_fetch_add(&db->head_truncations, 1);
        if (atomic_load(&db->head.min_t) < end) {
            atomic_store(&db->head.min_t, end); /* nothing older left: avoid looping */
        }
        cut = true;
    }
    if (cut) {
        /* series left without samples go before the checkpoint, so it drops them too; wal_lock
         * keeps commits out while they are unlinked (see resolve_removed in db.c) */
        pthread_mutex_lock(&db->wal_lock);
        head_gc(&db->head);
        pthread_mutex_unlock(&db->wal_lock);
    }
    if (rc == 0 && cut) {
        rc = tsdb_wal_checkpoint(db, atomic_load(&db->min_valid_t), err);
        atomic_fetch_add(rc == 0 ? &db->checkpoints : &db->checkpoints_failed, 1);
    }
    if (cut) {
        /* the cut and the checkpoint read every head chunk through the chunk files' mappings */
        head_cool(&db->head);
    }
    if (rc == 0) {
        rc = tsdb_compact_blocks_locked(db, err);
    }
    apply_retention(db);
    if (cut) {
        /* the cut's and block compactions' buffers, the truncated chunk arrays and the removed
         * series leave free heap between live allocations (in every thread's malloc arena),
         * which stays resident until handed back */
        malloc_trim(0);
    }
    pthread_mutex_unlock(&db->compact_lock);
    return rc;
}

void tsdb_blocks_stats(tsdb *db, tsdb_stats *out)
{
    out->compactions_failed = atomic_load(&db->compactions_failed);
    out->head_truncations = atomic_load(&db->head_truncations);
    /* each checkpoint drops the segments before it: one WAL truncation and one deletion of the
     * previous checkpoint, as Prometheus counts them */
    out->checkpoint_creations = atomic_load(&db->checkpoints);
    out->checkpoint_creations_failed = atomic_load(&db->checkpoints_failed);
    out->wal_truncations = out->checkpoint_creations;
    out->checkpoint_deletions = out->checkpoint_creations;
    out->write_errors = atomic_load(&db->write_errors);
    out->retention_bytes = db->opts.retention_bytes;
    out->time_retentions = atomic_load(&db->time_retentions);
    out->size_retentions = atomic_load(&db->size_retentions);
    out->retention_ms = db->opts.retention_ms;
    out->wal_bytes = tsdb_wal_size(db);
    out->lowest_timestamp = out->head_min_t;
    pthread_rwlock_rdlock(&db->blocks_lock);
    for (size_t i = 0; i < db->nblocks; i++) {
        out->tombstones += block_num_tombstones(db->blocks[i]);
    }
    if (db->nblocks > 0 && block_get_meta(db->blocks[0])->mint < out->lowest_timestamp) {
        out->lowest_timestamp = block_get_meta(db->blocks[0])->mint;
    }
    pthread_rwlock_unlock(&db->blocks_lock);
    pthread_mutex_lock(&db->wal_lock);
    out->wal_fsyncs = db->wal ? wal_fsyncs(db->wal) : 0;
    out->wal_fsync_seconds = 0;
    for (size_t i = 0; i < 3; i++) {
        out->wal_fsync_quantiles[i] = NAN;
    }
    if (db->wal) {
        wal_fsync_durations(db->wal, out->wal_fsync_quantiles, &out->wal_fsync_seconds);
    }
    pthread_mutex_unlock(&db->wal_lock);
}

static void *compactor_main(void *arg)
{
    tsdb *db = arg;
    pthread_mutex_lock(&db->stop_lock);
    while (!db->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 60;
        pthread_cond_timedwait(&db->stop_cond, &db->stop_lock, &ts);
        if (db->stopping) {
            break;
        }
        pthread_mutex_unlock(&db->stop_lock);
        odin_err err = {0};
        if (tsdb_compact(db, &err) < 0) {
            odin_log(ODIN_LOG_ERROR, "tsdb", "compaction failed", "err", err.msg, NULL);
        }
        /* Between block cuts the appenders free memory too: a target's first scrape (every series
         * new), first chunks grown and cut, tables outgrown. glibc keeps those holes resident in
         * each thread's arena (100k series at 1 s: ~210 bytes per series); handing them back
         * once a minute costs a few ms. */
        malloc_trim(0);
        pthread_mutex_lock(&db->stop_lock);
    }
    pthread_mutex_unlock(&db->stop_lock);
    return NULL;
}

int tsdb_compactor_start(tsdb *db)
{
    if (!db->dir) {
        return 0;
    }
    if (pthread_create(&db->compactor, NULL, compactor_main, db) != 0) {
        return -ODIN_ERR_INTERNAL;
    }
    db->compactor_running = true;
    return 0;
}

void tsdb_compactor_stop(tsdb *db)
{
    if (!db->compactor_running) {
        return;
    }
    pthread_mutex_lock(&db->stop_lock);
    db->stopping = true;
    pthread_cond_signal(&db->stop_cond);
    pthread_mutex_unlock(&db->stop_lock);
    pthread_join(db->compactor, NULL);
    db->compactor_running = false;
}

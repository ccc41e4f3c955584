/* Opening and closing the database, the appender transaction, and statistics. */
#include "tsdb/block.h"
#include "tsdb/db_int.h"

#include <errno.h>
#include <sys/stat.h>

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

double tsdb_stale_nan(void)
{
    uint64_t b = TSDB_STALE_NAN_BITS;
    double v;
    memcpy(&v, &b, 8);
    return v;
}

bool tsdb_is_stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b == TSDB_STALE_NAN_BITS;
}

enum { TWO_HOURS_MS = 2 * 3600 * 1000 };

tsdb *tsdb_open(const tsdb_opts *opts, odin_err *err)
{
    (void)err;
    tsdb *db = odin_calloc(1, sizeof(*db));
    db->opts = *opts;
    if (db->opts.block_range_ms <= 0) {
        db->opts.block_range_ms = TWO_HOURS_MS;
    }
    if (db->opts.retention_ms <= 0 && db->opts.retention_bytes == 0) {
        db->opts.retention_ms = 15LL * 24 * 3600 * 1000;
    }
    if (db->opts.wal_segment_bytes == 0) {
        db->opts.wal_segment_bytes = 128u << 20;
    }
    if (db->opts.wal_fsync_ms < 0) {
        db->opts.wal_fsync_ms = 1000;
    }
    db->dir = opts->dir ? odin_strdup(opts->dir) : NULL;
    db->opts.external_labels = (odin_labels){0};
    db->nexternal_labels = opts->external_labels.len;
    db->external_labels = odin_calloc(2 * db->nexternal_labels + 1, sizeof(char *));
    for (size_t i = 0; i < db->nexternal_labels; i++) {
        const odin_label *l = &opts->external_labels.v[i];
        db->external_labels[2 * i] = odin_strndup(l->name.p, l->name.len);
        db->external_labels[2 * i + 1] = odin_strndup(l->value.p, l->value.len);
    }
    head_init(&db->head, db->opts.block_range_ms);
    pthread_mutex_init(&db->wal_lock, NULL);
    pthread_mutex_init(&db->app_pool_lock, NULL);
    odin_strbuf_init(&db->wal_rec, 0);
    pthread_mutex_init(&db->compact_lock, NULL);
    pthread_rwlock_init(&db->blocks_lock, NULL);
    pthread_mutex_init(&db->stop_lock, NULL);
    pthread_cond_init(&db->stop_cond, NULL);
    db->dir_ok = true;
    if (db->dir && !db->opts.read_only && mkdir(db->dir, 0777) != 0 && errno != EEXIST) {
        odin_err_errno(err, errno, "create data directory %s", db->dir);
        tsdb_close(db);
        return NULL;
    }
    if (db->dir && !db->opts.read_only) {
        /* cut head chunks go to <dir>/chunks_odin/ from the WAL replay on; without it they stay
         * in memory, which is slower to live with but loses nothing */
        odin_err cerr = {0};
        if (head_open_chunk_files(&db->head, db->dir, &cerr) < 0) {
            odin_log(ODIN_LOG_WARN, "tsdb",
                     "head chunk files unavailable; keeping chunks in memory", "err", cerr.msg,
                     NULL);
        }
    }
    if (tsdb_blocks_load(db, err) < 0 || tsdb_wal_start(db, err) < 0 ||
        (!db->opts.read_only && tsdb_compactor_start(db) < 0)) {
        tsdb_close(db);
        return NULL;
    }
    return db;
}

static void appender_pool_fini(tsdb *db);

void tsdb_close(tsdb *db)
{
    if (!db) {
        return;
    }
    if (db->dir_ok) {
        tsdb_compactor_stop(db);
        tsdb_wal_stop(db);
        tsdb_blocks_close(db);
        pthread_mutex_destroy(&db->compact_lock);
        pthread_rwlock_destroy(&db->blocks_lock);
        pthread_mutex_destroy(&db->stop_lock);
        pthread_cond_destroy(&db->stop_cond);
    }
    head_fini(&db->head);
    pthread_mutex_destroy(&db->wal_lock);
    appender_pool_fini(db);
    odin_strbuf_fini(&db->wal_rec);
    free(db->wal_scratch.v);
    free(db->wal_seg_maxt);
    for (size_t i = 0; i < 2 * db->nexternal_labels; i++) {
        free(db->external_labels[i]);
    }
    free(db->external_labels);
    free(db->dir);
    free(db);
}

void tsdb_get_stats(tsdb *db, tsdb_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&db->head.map_lock);
    out->head_series = db->head.nlive;
    out->head_series_created = db->head.nseries;
    pthread_rwlock_unlock(&db->head.map_lock);
    out->head_series_removed = atomic_load(&db->head.series_removed);
    uint64_t removed = atomic_load(&db->head.chunks_removed);
    out->head_chunks_created = atomic_load(&db->head.chunks_created);
    out->head_chunks_removed = removed;
    out->head_chunks = out->head_chunks_created - removed;
    out->head_min_t = atomic_load(&db->head.min_t);
    out->head_max_t = atomic_load(&db->head.max_t);
    out->samples_appended = atomic_load(&db->samples_appended);
    out->out_of_order_samples = atomic_load(&db->out_of_order);
    out->out_of_bounds_samples = atomic_load(&db->out_of_bounds);
    out->duplicate_samples = atomic_load(&db->duplicates);
    out->wal_corruptions = atomic_load(&db->wal_corruptions);
    out->compactions = atomic_load(&db->compactions);
    pthread_rwlock_rdlock(&db->blocks_lock);
    out->blocks = db->nblocks;
    for (size_t i = 0; i < db->nblocks; i++) {
        out->storage_bytes += block_get_meta(db->blocks[i])->size_bytes;
    }
    pthread_rwlock_unlock(&db->blocks_lock);
    tsdb_blocks_stats(db, out);
}

/* ---- appender ---- */

enum { APPENDER_SEEN = 16 }; /* a power of two */

struct tsdb_appender {
    tsdb *db;
    uint64_t reader; /* head_reader_enter's token: series it holds are not freed meanwhile */
    uint64_t removed_seen; /* head.series_removed when it began */
    tsdb_pending_sample *samples;
    size_t len, cap;
    head_series **created; /* series first seen in this transaction, for the WAL series record */
    size_t ncreated, cap_created;
    /* What tsdb_appender_prefetch found, keyed by ref, so the append that follows a few lines
     * later skips its own head_by_ref (a page-directory and a slot load, often cache misses).
     * Safe with head GC: refs are never reused, the series stays allocated while this appender
     * is a reader, and commit re-resolves any series removed since (resolve_removed). Larger
     * than the scrape loop's prefetch distance so an entry survives until its append. */
    struct {
        uint64_t ref;
        head_series *s;
    } seen[APPENDER_SEEN];
};

/* A pooled appender's sample buffer is kept up to this many samples (768 KiB). */
enum { APPENDER_KEEP_SAMPLES = 32768 };

tsdb_appender *tsdb_appender_new(tsdb *db)
{
    tsdb_appender *a = NULL;
    pthread_mutex_lock(&db->app_pool_lock);
    if (db->napp_pool > 0) {
        a = db->app_pool[--db->napp_pool];
    }
    pthread_mutex_unlock(&db->app_pool_lock);
    if (a == NULL) {
        a = odin_calloc(1, sizeof(*a));
    }
    a->db = db;
    a->reader = head_reader_enter(&db->head);
    a->removed_seen = atomic_load(&db->head.series_removed);
    return a;
}

static void appender_pool_fini(tsdb *db)
{
    for (size_t i = 0; i < db->napp_pool; i++) {
        free(db->app_pool[i]->samples);
        free(db->app_pool[i]->created);
        free(db->app_pool[i]);
    }
    db->napp_pool = 0;
    pthread_mutex_destroy(&db->app_pool_lock);
}

static void appender_free(tsdb_appender *a)
{
    tsdb *db = a->db;
    head_reader_exit(&db->head, a->reader);
    if (a->cap > APPENDER_KEEP_SAMPLES) {
        free(a->samples);
        a->samples = NULL;
        a->cap = 0;
    }
    a->len = 0;
    a->ncreated = 0;
    memset(a->seen, 0, sizeof(a->seen)); /* refs of this transaction's lookups only */
    pthread_mutex_lock(&db->app_pool_lock);
    if (db->napp_pool < ODIN_ARRAY_LEN(db->app_pool)) {
        db->app_pool[db->napp_pool++] = a;
        a = NULL;
    }
    pthread_mutex_unlock(&db->app_pool_lock);
    if (a != NULL) {
        free(a->samples);
        free(a->created);
        free(a);
    }
}

void tsdb_appender_rollback(tsdb_appender *a)
{
    if (a) {
        appender_free(a);
    }
}

static int check_labels(odin_labels ls, odin_err *err)
{
    if (ls.len == 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "empty label set");
    }
    if (ls.len > HEAD_MAX_LABELS) {
        return odin_err_set(err, ODIN_ERR_INVALID, "series has %zu labels, more than %d",
                            ls.len, (int)HEAD_MAX_LABELS);
    }
    for (size_t i = 0; i < ls.len; i++) {
        if (ls.v[i].name.len == 0) {
            return odin_err_set(err, ODIN_ERR_INVALID, "empty label name");
        }
        if (i && odin_str_cmp(ls.v[i - 1].name, ls.v[i].name) >= 0) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "label names not sorted or duplicated: \"%.*s\"",
                                (int)(ls.v[i].name.len > 64 ? 64 : ls.v[i].name.len),
                                ls.v[i].name.p);
        }
    }
    return 0;
}

/* Prometheus' storage error texts (storage.ErrOutOfOrderSample, ...). */
static const char msg_out_of_order[] = "out of order sample";
static const char msg_duplicate[] = "duplicate sample for timestamp";
static const char msg_out_of_bounds[] = "out of bounds";

tsdb_reject tsdb_reject_kind(const odin_err *err)
{
    if (err->code != ODIN_ERR_CONFLICT) {
        return TSDB_REJECT_NONE;
    }
    if (strcmp(err->msg, msg_out_of_order) == 0) {
        return TSDB_REJECT_OUT_OF_ORDER;
    }
    if (strcmp(err->msg, msg_duplicate) == 0) {
        return TSDB_REJECT_DUPLICATE;
    }
    return strcmp(err->msg, msg_out_of_bounds) == 0 ? TSDB_REJECT_OUT_OF_BOUNDS : TSDB_REJECT_NONE;
}

/* Prometheus rejects at Append time what the series already makes impossible, so scrapes can
 * count each kind; commit checks again for samples of the same transaction. */
static int precheck(head *h, head_series *s, int64_t t, double v, int *kind, odin_err *err)
{
    (void)h;
    /* no lock: a stale read only lets a sample through to the exact check at commit */
    int64_t last_t = atomic_load_explicit(&s->last_t, memory_order_relaxed);
    uint64_t b = atomic_load_explicit(&s->last_v_bits, memory_order_relaxed);
    if (last_t == INT64_MIN || t > last_t) {
        return 0;
    }
    if (t < last_t) {
        *kind = 1;
        return odin_err_set(err, ODIN_ERR_CONFLICT, "%s", msg_out_of_order);
    }
    uint64_t a;
    memcpy(&a, &v, 8);
    if (a != b) {
        *kind = 2;
        return odin_err_set(err, ODIN_ERR_CONFLICT, "%s", msg_duplicate);
    }
    return 0;
}

static void count_rejected(tsdb *db, int kind)
{
    atomic_fetch_add(kind == 1 ? &db->out_of_order : &db->duplicates, 1);
}

static void add_created(tsdb_appender *a, head_series *s)
{
    if (a->ncreated == a->cap_created) {
        a->cap_created = a->cap_created ? a->cap_created * 2 : 16;
        a->created = odin_realloc(a->created, a->cap_created * sizeof(*a->created));
    }
    a->created[a->ncreated++] = s;
}

int tsdb_append(tsdb_appender *a, uint64_t *ref, odin_labels ls, int64_t t, double v,
                odin_err *err)
{
    head *h = &a->db->head;
    head_series *s = NULL;
    if (ref && *ref) {
        size_t slot = (size_t)*ref & (APPENDER_SEEN - 1);
        s = a->seen[slot].ref == *ref ? a->seen[slot].s : head_by_ref(h, *ref);
    }
    if (!s) {
        int rc = check_labels(ls, err);
        if (rc < 0) {
            return rc;
        }
        bool created;
        s = head_get_or_create(h, ls, &created);
        if (s == NULL) {
            return odin_err_set(err, ODIN_ERR_UNAVAILABLE,
                                "the head has handed out all %llu series refs; restart to renumber",
                                (unsigned long long)HEAD_MAX_REFS);
        }
        if (created) {
            add_created(a, s);
        }
        if (ref) {
            *ref = s->ref;
        }
    }
    if (t < atomic_load(&a->db->min_valid_t)) {
        atomic_fetch_add(&a->db->out_of_bounds, 1);
        return odin_err_set(err, ODIN_ERR_CONFLICT, "%s", msg_out_of_bounds);
    }
    int kind = 0;
    int rc = precheck(&a->db->head, s, t, v, &kind, err);
    if (rc < 0) {
        count_rejected(a->db, kind);
        return rc;
    }
    if (a->len == a->cap) {
        tsdb_appender_reserve(a, a->cap ? a->cap * 2 : 64);
    }
    a->samples[a->len++] = (tsdb_pending_sample){s, s->ref, t, v};
    return 0;
}

void tsdb_appender_reserve(tsdb_appender *a, size_t n)
{
    if (n <= a->cap || n > SIZE_MAX / sizeof(*a->samples)) {
        return; /* an absurd hint is ignored: tsdb_append still grows the buffer as needed */
    }
    a->samples = odin_realloc(a->samples, n * sizeof(*a->samples));
    a->cap = n;
}

void tsdb_appender_prefetch(tsdb_appender *a, uint64_t ref)
{
    head_series *s = head_by_ref(&a->db->head, ref);
    if (s != NULL) {
        head_series_prefetch_struct(s);
        size_t slot = (size_t)ref & (APPENDER_SEEN - 1);
        a->seen[slot].ref = ref;
        a->seen[slot].s = s;
    }
}

/* Prometheus' pendingCommit, done at commit instead of on every append: head_gc runs under
 * wal_lock, which commit holds, so a series it removed after our appends is seen here and
 * swapped for the series of the same labels (made again, and logged as new). */
static void resolve_removed(tsdb_appender *a)
{
    head *h = &a->db->head;
    size_t w = 0;
    for (size_t i = 0; i < a->ncreated; i++) {
        if (!a->created[i]->removed) {
            a->created[w++] = a->created[i];
        }
    }
    a->ncreated = w;
    w = 0;
    for (size_t i = 0; i < a->len; i++) {
        tsdb_pending_sample p = a->samples[i];
        if (p.s->removed) {
            bool created;
            p.s = head_resolve_removed(h, p.s, &created);
            if (p.s == NULL) {
                continue; /* the head's refs ran out (see HEAD_MAX_REFS): dropped */
            }
            if (created) {
                add_created(a, p.s);
            }
            p.ref = p.s->ref;
        }
        a->samples[w++] = p;
    }
    a->len = w;
}

int tsdb_appender_commit(tsdb_appender *a, odin_err *err)
{
    tsdb *db = a->db;
    /* WAL write and head append under one lock, so a checkpoint never misses a logged sample */
    pthread_mutex_lock(&db->wal_lock);
    if (atomic_load(&db->head.series_removed) != a->removed_seen) {
        resolve_removed(a);
    }
    int rc = tsdb_wal_log_commit_locked(db, a->created, a->ncreated, a->samples, a->len, err);
    if (rc < 0) {
        pthread_mutex_unlock(&db->wal_lock);
        appender_free(a);
        return rc;
    }
    uint64_t ok = 0, ooo = 0, dup = 0;
    /* The series struct 16 samples ahead, then (once it is in cache) the stripe and the open
     * chunk's tail 8 ahead: each is a cache miss otherwise. The WAL record above no longer
     * reads the structs (the pending sample carries the ref), so this is their first touch
     * since the scrape's appends, which a 2000-series scrape has pushed out of L2. */
    enum { AHEAD = 8, AHEAD_STRUCT = 16 };
    for (size_t i = 0; i < a->len && i < AHEAD_STRUCT; i++) {
        head_series_prefetch_struct(a->samples[i].s);
    }
    for (size_t i = 0; i < a->len && i < AHEAD; i++) {
        head_series_prefetch_append(&db->head, a->samples[i].s);
    }
    /* a stripe stays locked while the samples' series share it (see head_stripe) */
    pthread_mutex_t *held = NULL;
    int64_t mint = INT64_MAX, maxt = INT64_MIN;
    for (size_t i = 0; i < a->len; i++) {
        if (i + AHEAD_STRUCT < a->len) {
            head_series_prefetch_struct(a->samples[i + AHEAD_STRUCT].s);
        }
        if (i + AHEAD < a->len) {
            head_series_prefetch_append(&db->head, a->samples[i + AHEAD].s);
        }
        const tsdb_pending_sample *p = &a->samples[i];
        pthread_mutex_t *mu = head_stripe(&db->head, p->ref);
        if (mu != held) {
            if (held != NULL) {
                pthread_mutex_unlock(held);
            }
            pthread_mutex_lock(mu);
            held = mu;
        }
        int kind = 0;
        int rc2 = head_series_append_locked(&db->head, p->s, p->t, p->v, &kind);
        if (rc2 < 0) {
            if (kind == 1) {
                ooo++;
            } else {
                dup++;
            }
            continue;
        }
        if (rc2 == 0) {
            ok++;
            mint = p->t < mint ? p->t : mint;
            maxt = p->t > maxt ? p->t : maxt;
        }
    }
    if (held != NULL) {
        pthread_mutex_unlock(held);
    }
    if (ok > 0) {
        head_note_range(&db->head, mint, maxt);
    }
    pthread_mutex_unlock(&db->wal_lock);
    atomic_fetch_add(&db->samples_appended, ok);
    atomic_fetch_add(&db->out_of_order, ooo);
    atomic_fetch_add(&db->duplicates, dup);
    appender_free(a);
    return 0;
}

/* Tombstones: Prometheus' deletion intervals of a block, their file codec, and re-encoding a
 * chunk without the deleted samples (how reads and compaction apply them). */
#include "tsdb/tombstones.h"

#include "tsdb/block_int.h"
#include "tsdb/chunk.h"
#include "tsdb/db_int.h"
#include "tsdb/wal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void tombstones_fini(tsdb_tombstones *ts)
{
    free(ts->v);
    ts->v = NULL;
    ts->n = ts->cap = 0;
}

void tombstones_add(tsdb_tombstones *ts, uint64_t ref, int64_t mint, int64_t maxt)
{
    if (mint > maxt) {
        return;
    }
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 16;
        ts->v = odin_realloc(ts->v, ts->cap * sizeof(*ts->v));
    }
    ts->v[ts->n++] = (tsdb_tombstone){ref, mint, maxt};
}

static int stone_cmp(const void *a, const void *b)
{
    const tsdb_tombstone *x = a, *y = b;
    if (x->ref != y->ref) {
        return (x->ref > y->ref) - (x->ref < y->ref);
    }
    return (x->mint > y->mint) - (x->mint < y->mint);
}

void tombstones_normalize(tsdb_tombstones *ts)
{
    if (ts->n < 2) {
        return;
    }
    qsort(ts->v, ts->n, sizeof(*ts->v), stone_cmp);
    size_t w = 0;
    for (size_t i = 1; i < ts->n; i++) {
        tsdb_tombstone *cur = &ts->v[w];
        const tsdb_tombstone *nx = &ts->v[i];
        /* adjacent intervals merge too: [1,5] and [6,9] delete the same samples as [1,9] */
        bool touches = cur->maxt == INT64_MAX || nx->mint <= cur->maxt + 1;
        if (nx->ref == cur->ref && touches) {
            if (nx->maxt > cur->maxt) {
                cur->maxt = nx->maxt;
            }
            continue;
        }
        ts->v[++w] = *nx;
    }
    ts->n = w + 1;
}

size_t tombstones_get(const tsdb_tombstones *ts, uint64_t ref, const tsdb_tombstone **out)
{
    if (ts->n == 0) {
        *out = NULL; /* v may be NULL: no offset is applied to it */
        return 0;
    }
    size_t lo = 0, hi = ts->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts->v[mid].ref < ref) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    size_t end = lo;
    while (end < ts->n && ts->v[end].ref == ref) {
        end++;
    }
    *out = ts->v + lo;
    return end - lo;
}

bool tombstones_cover(const tsdb_tombstone *iv, size_t n, int64_t t)
{
    for (size_t i = 0; i < n; i++) {
        if (t >= iv[i].mint && t <= iv[i].maxt) {
            return true;
        }
        if (iv[i].mint > t) {
            return false;
        }
    }
    return false;
}

int tombstones_decode(const uint8_t *p, size_t len, const char *file, tsdb_tombstones *out,
                      odin_err *err)
{
    if (len < 9 || block_get_be32(p) != BLOCK_TOMBSTONES_MAGIC) {
        return odin_err_set(err, ODIN_ERR_CORRUPT, "%s: offset 0: bad tombstones header", file);
    }
    if (p[4] != BLOCK_TOMBSTONES_FORMAT) {
        return odin_err_set(err, ODIN_ERR_CORRUPT, "%s: offset 4: unsupported tombstones format",
                            file);
    }
    if (tsdb_crc32c(0, p + 5, len - 9) != block_get_be32(p + len - 4)) {
        return odin_err_set(err, ODIN_ERR_CORRUPT, "%s: offset %zu: checksum mismatch", file,
                            len - 4);
    }
    block_dec d = block_dec_make(p + 5, len - 9);
    while (block_dec_left(&d) > 0) {
        size_t at = d.pos;
        uint64_t ref = block_dec_uvarint(&d);
        int64_t mint = block_dec_varint(&d);
        int64_t maxt = block_dec_varint(&d);
        if (d.bad) {
            return odin_err_set(err, ODIN_ERR_CORRUPT, "%s: offset %zu: truncated tombstone",
                                file, at + 5);
        }
        tombstones_add(out, ref, mint, maxt);
    }
    tombstones_normalize(out);
    return 0;
}

void tombstones_encode(const tsdb_tombstones *ts, odin_strbuf *out)
{
    uint8_t b[4];
    block_put_be32(b, BLOCK_TOMBSTONES_MAGIC);
    odin_strbuf_put(out, b, 4);
    odin_strbuf_putc(out, (char)BLOCK_TOMBSTONES_FORMAT);
    size_t start = out->len;
    for (size_t i = 0; i < ts->n; i++) {
        uint8_t v[30];
        size_t k = tsdb_put_uvarint(v, ts->v[i].ref);
        k += tsdb_put_varint(v + k, ts->v[i].mint);
        k += tsdb_put_varint(v + k, ts->v[i].maxt);
        odin_strbuf_put(out, v, k);
    }
    block_put_be32(b, tsdb_crc32c(0, (const uint8_t *)out->p + start, out->len - start));
    odin_strbuf_put(out, b, 4);
}

int tombstones_write(const char *dir, const tsdb_tombstones *ts, odin_err *err)
{
    odin_strbuf path, body;
    odin_strbuf_init(&path, 0);
    odin_strbuf_init(&body, 0);
    odin_strbuf_printf(&path, "%s/tombstones", dir);
    tombstones_encode(ts, &body);
    int rc = odin_write_file_atomic(path.p, body.p, body.len, err);
    odin_strbuf_fini(&path);
    odin_strbuf_fini(&body);
    return rc;
}

int tombstones_apply_chunk(const block_chunk *in, const tsdb_tombstone *iv, size_t n,
                           odin_arena *a, block_chunk *out, odin_err *err)
{
    xor_iter it;
    xor_iter_init(&it, in->b, in->len);
    xor_chunk c;
    xor_chunk_init(&c);
    int64_t t, mint = 0, maxt = 0;
    double v;
    while (xor_iter_next(&it, &t, &v)) {
        if (tombstones_cover(iv, n, t)) {
            continue;
        }
        if (c.n == 0) {
            mint = t;
        }
        maxt = t;
        xor_chunk_append(&c, t, v);
    }
    int rc = 0;
    if (it.err) {
        rc = odin_err_set(err, ODIN_ERR_CORRUPT, "chunk [%lld, %lld]: bad XOR bit stream",
                          (long long)in->mint, (long long)in->maxt);
    } else if (c.n > 0) {
        uint8_t *b = odin_arena_alloc(a, c.len);
        if (!b) {
            rc = odin_err_set(err, ODIN_ERR_LIMIT, "block query: memory limit reached");
        } else {
            memcpy(b, c.b, c.len);
            *out = (block_chunk){mint, maxt, b, c.len};
            rc = 1;
        }
    }
    xor_chunk_fini(&c);
    return rc;
}

/* ---- Deleting from the head ------------------------------------------------------------------ */

/* Re-encodes bytes without the samples in [mint, maxt] into c (initialised here); *first gets the
 * first kept time. */
static void reencode(const uint8_t *b, size_t len, int64_t mint, int64_t maxt, xor_chunk *c,
                     int64_t *first, int64_t *last)
{
    xor_chunk_init(c);
    xor_iter it;
    xor_iter_init(&it, b, len);
    int64_t t;
    double v;
    while (xor_iter_next(&it, &t, &v)) {
        if (t >= mint && t <= maxt) {
            continue;
        }
        if (c->n == 0) {
            *first = t;
        }
        *last = t;
        xor_chunk_append(c, t, v);
    }
}

/* With the series' stripe held: finished chunks first, then the open one. The series keeps its
 * last sample time, so appends stay ordered as before (Prometheus' head keeps it too). */
static bool delete_in_series_locked(head *h, head_series *s, int64_t mint, int64_t maxt)
{
    bool touched = false;
    uint32_t w = 0;
    uint64_t dropped = 0;
    head_chunk *cs = odin_malloc((s->nchunks ? s->nchunks : 1) * sizeof(*cs));
    size_t n = head_series_chunk_list(s, cs);
    /* the chain is rebuilt oldest first: a chunk rewritten goes to the heap, and so does every
     * later one whose link (fixed in its chunk file record) would point at what was dropped */
    uint8_t *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        head_chunk c = cs[i];
        bool linked = w == 0 || head_chunk_prev(&c) == prev; /* the oldest link is never followed */
        if (head_chunk_maxt(&c) < mint || c.mint > maxt) {
            if (!linked) {
                head_chunk moved = head_chunk_heap(prev, c.mint, head_chunk_maxt(&c), c.b,
                                                   head_chunk_len(&c));
                head_chunk_free(h, &c);
                c = moved;
            }
            prev = c.b;
            w++;
            continue;
        }
        touched = true;
        xor_chunk nc;
        int64_t first = 0, last = 0;
        reencode(c.b, head_chunk_len(&c), mint, maxt, &nc, &first, &last);
        head_chunk_free(h, &c);
        if (nc.n == 0) {
            xor_chunk_fini(&nc);
            dropped++;
            continue;
        }
        prev = head_chunk_heap(prev, first, last, nc.b, nc.len).b;
        w++;
        xor_chunk_fini(&nc);
    }
    free(cs);
    s->nchunks = w;
    s->last = prev;
    atomic_fetch_add(&h->chunks_removed, dropped);
    if (s->has_open && s->open_mint <= maxt && s->last_t >= mint) {
        touched = true;
        xor_chunk nc;
        int64_t first = 0, last = 0;
        head_open_unsplit(h, s); /* its parts joined in one buffer: rewritten as one chunk */
        xor_stream_put_count(&s->open);
        reencode(s->open.b, s->open.len, mint, maxt, &nc, &first, &last);
        xor_stream_fini(&s->open);
        if (nc.n > 0 && last == atomic_load(&s->last_t)) {
            /* it still ends at the series' last sample, which the next append follows */
            int64_t next_at = head_series_next_at(s);
            s->open = nc.s;
            s->open_mint = first;
            head_series_set_next_at(s, next_at);
        } else {
            /* its tail went: appends still follow the series' last sample (above), which is no
             * longer the chunk's, so what is left is cut and the next append opens a chunk */
            if (nc.n > 0) {
                s->last = head_chunk_heap(s->nchunks ? s->last : NULL, first, last, nc.b, nc.len).b;
                s->nchunks++;
                s->open.len = nc.len;
                s->open.n = nc.n;
            } else {
                atomic_fetch_add(&h->chunks_removed, 1);
            }
            xor_chunk_fini(&nc);
            s->has_open = false;
        }
    }
    return touched;
}

uint64_t tsdb_head_delete_locked(tsdb *db, head_series *const *v, size_t n, int64_t mint,
                                 int64_t maxt)
{
    head *h = &db->head;
    uint64_t touched = 0;
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_t *mu = head_stripe(h, v[i]->ref);
        pthread_mutex_lock(mu);
        touched += delete_in_series_locked(h, v[i], mint, maxt);
        pthread_mutex_unlock(mu);
    }
    return touched;
}

/* ---- The admin calls ------------------------------------------------------------------------- */

static bool series_matches(const head *h, const head_series *s, const tsdb_matcher *ms,
                           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        odin_str v;
        head_series_label_get(h, s, ms[i].name, &v);
        if (!tsdb_matcher_matches(&ms[i], v)) {
            return false;
        }
    }
    return true;
}

/* Head part: the matching series lose their samples in range, and the WAL gets a tombstone for
 * each series that had some, as Prometheus logs them, so a restart does not bring the deleted
 * samples back. A tombstone ends at the series' last sample time: appends stay ordered after
 * it (the series keeps that time), so none made after the delete falls inside. */
static int delete_head_locked(tsdb *db, const tsdb_matcher *ms, size_t n, int64_t mint,
                              int64_t maxt, odin_err *err)
{
    size_t count;
    head_series **all = head_sorted_series(&db->head, &count);
    wal_tombstone *stones = NULL;
    size_t nstones = 0, cap = 0;
    for (size_t i = 0; i < count; i++) {
        head_series *s = all[i];
        if (!series_matches(&db->head, s, ms, n)) {
            continue;
        }
        pthread_mutex_t *mu = head_stripe(&db->head, s->ref);
        pthread_mutex_lock(mu);
        if (delete_in_series_locked(&db->head, s, mint, maxt)) {
            if (nstones == cap) {
                cap = cap ? cap * 2 : 16;
                stones = odin_realloc(stones, cap * sizeof(*stones));
            }
            int64_t last = atomic_load(&s->last_t);
            stones[nstones++] = (wal_tombstone){s->ref, mint, last < maxt ? last : maxt};
        }
        pthread_mutex_unlock(mu);
    }
    free(all);
    int rc = tsdb_wal_log_tombstones(db, stones, nstones, err);
    free(stones);
    return rc;
}

int tsdb_delete_series(tsdb *db, const tsdb_matcher *ms, size_t n, int64_t mint, int64_t maxt,
                       odin_err *err)
{
    bool selective = false;
    for (size_t i = 0; i < n; i++) {
        selective = selective || !tsdb_matcher_matches(&ms[i], (odin_str){"", 0});
    }
    if (!selective) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "match[]: at least one matcher must not match the empty string");
    }
    if (mint > maxt) {
        return odin_err_set(err, ODIN_ERR_INVALID, "end timestamp must not be before start time");
    }
    if (db->opts.read_only) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "database is open read-only");
    }
    pthread_mutex_lock(&db->compact_lock);
    size_t nb;
    tsdb_block **bs = tsdb_blocks_acquire(db, mint, maxt, &nb);
    int rc = 0;
    for (size_t i = 0; i < nb && rc == 0; i++) {
        uint64_t touched;
        rc = block_delete(bs[i], ms, n, mint, maxt, &touched, err);
    }
    tsdb_blocks_release(bs, nb);
    if (rc == 0) {
        rc = delete_head_locked(db, ms, n, mint, maxt, err);
    }
    pthread_mutex_unlock(&db->compact_lock);
    return rc;
}

int tsdb_clean_tombstones(tsdb *db, odin_err *err)
{
    if (!db->dir || db->opts.read_only) {
        return 0;
    }
    pthread_mutex_lock(&db->compact_lock);
    int rc = tsdb_clean_tombstones_locked(db, err);
    pthread_mutex_unlock(&db->compact_lock);
    return rc;
}

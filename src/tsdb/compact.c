/* Block compaction as Prometheus' leveled compactor: plans which persisted blocks to merge
 * (overlapping ones first, then adjacent ones that fill an aligned range of the next size, then a
 * big block with many tombstones), merges their series into one block, and swaps it in. */
#include "tsdb/block.h"
#include "tsdb/db_int.h"
#include "tsdb/tombstones.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum {
    RANGE_STEPS = 10,         /* matches Prometheus 2.42: ExponentialBlockRanges(min, 10, 3) */
    RANGE_FACTOR = 3,
    MERGE_CHUNK_SAMPLES = 120, /* samples per chunk when overlapping chunks are re-encoded */
    /* Odin chunks of a merged block: the head cuts' 480-sample chunks (2 h at 15 s) become
     * chunks of 6 h at 15 s, which saves 2 of every 3 chunk headers, frames and index entries
     * (~5 % of a compacted block); larger chunks would save little more and make short queries
     * over old data decode more samples */
    COMPACT_ODIN_CHUNK_SAMPLES = 1440,
    CANCEL_CHECK_SERIES = 1024,
    MAX_PLANS_PER_RUN = 64,   /* bounds one compactor pass; the next minute continues */
};

#define MAX_BLOCK_RANGE_MS_CAP ((int64_t)31 * 24 * 3600 * 1000)

size_t tsdb_compact_ranges(const tsdb *db, int64_t *out)
{
    int64_t max = db->opts.max_block_range_ms;
    if (max <= 0) {
        /* matches Prometheus 2.42: 10% of the time retention, at most 31 days */
        max = db->opts.retention_ms > 0 ? db->opts.retention_ms / 10 : MAX_BLOCK_RANGE_MS_CAP;
        if (max > MAX_BLOCK_RANGE_MS_CAP) {
            max = MAX_BLOCK_RANGE_MS_CAP;
        }
    }
    size_t n = 0;
    int64_t r = db->opts.block_range_ms;
    for (int i = 0; i < RANGE_STEPS; i++, r *= RANGE_FACTOR) {
        if (n > 0 && r > max) {
            break;
        }
        out[n++] = r;
    }
    return n;
}

/* ---- Planning -------------------------------------------------------------------------------- */

static const block_meta *meta_of(tsdb_block *const *v, size_t i)
{
    return block_get_meta(v[i]);
}

/* Prometheus' selectOverlappingDirs: the first run of blocks whose time ranges overlap. */
static size_t plan_overlapping(tsdb_block *const *v, size_t n, size_t *first)
{
    if (n < 2) {
        return 0;
    }
    int64_t global_maxt = meta_of(v, 0)->maxt;
    size_t start = 0, count = 0;
    for (size_t i = 1; i < n; i++) {
        const block_meta *m = meta_of(v, i);
        if (m->mint < global_maxt) {
            if (count == 0) {
                start = i - 1;
                count = 1;
            }
            count++;
        } else if (count > 0) {
            break;
        }
        if (m->maxt > global_maxt) {
            global_maxt = m->maxt;
        }
    }
    *first = start;
    return count;
}

static int64_t align_down(int64_t t, int64_t r)
{
    return t >= 0 ? r * (t / r) : r * ((t - r + 1) / r);
}

/* Prometheus' selectDirs over splitByRange: for each larger range, the first group of two or more
 * blocks inside one aligned window that either fills it or lies wholly before the newest block. */
static size_t plan_ranges(const int64_t *ranges, size_t nr, tsdb_block *const *v, size_t n,
                          size_t *first)
{
    if (nr < 2 || n < 1) {
        return 0;
    }
    int64_t high = meta_of(v, n - 1)->mint;
    for (size_t k = 1; k < nr; k++) {
        int64_t tr = ranges[k];
        for (size_t i = 0; i < n;) {
            int64_t t0 = align_down(meta_of(v, i)->mint, tr);
            if (meta_of(v, i)->maxt > t0 + tr) {
                i++;
                continue;
            }
            size_t start = i;
            while (i < n && meta_of(v, i)->maxt <= t0 + tr) {
                i++;
            }
            size_t cnt = i - start;
            int64_t mint = meta_of(v, start)->mint, maxt = meta_of(v, i - 1)->maxt;
            if (cnt > 1 && (maxt - mint == tr || maxt <= high)) {
                *first = start;
                return cnt;
            }
        }
    }
    return 0;
}

/* Picks the next run of blocks to merge, as Prometheus' LeveledCompactor.Plan; v is sorted by
 * mint. Returns how many blocks from *first (0: nothing to do). */
static size_t plan(const tsdb *db, tsdb_block *const *v, size_t n, size_t *first)
{
    size_t cnt = plan_overlapping(v, n, first);
    if (cnt > 0 || n == 0) {
        return cnt;
    }
    /* the newest block stays out: it gives users a block-length window to back it up alone */
    int64_t ranges[RANGE_STEPS];
    size_t nr = tsdb_compact_ranges(db, ranges);
    cnt = plan_ranges(ranges, nr, v, n - 1, first);
    if (cnt > 0) {
        return cnt;
    }
    for (size_t i = n - 1; i-- > 0;) {
        const block_meta *m = meta_of(v, i);
        if (m->maxt - m->mint < ranges[nr / 2]) {
            break;
        }
        tsdb_block *b = v[i];
        if ((double)block_num_tombstones(b) / (double)(m->num_series + 1) > 0.05) {
            *first = i;
            return 1;
        }
    }
    return 0;
}

/* ---- Merging source -------------------------------------------------------------------------- */

typedef struct {
    tsdb_block *b;
    odin_arena a; /* the current series; reset when this input advances */
    uint32_t *ids;
    size_t n, pos;
    block_series cur;
    bool has, consumed;
} merge_in;

typedef struct {
    tsdb *db;
    merge_in *in;
    size_t nin;
    int64_t mint, maxt; /* output range, maxt exclusive */
    odin_arena ids;
    odin_arena step;    /* what the last next() handed out */
    uint64_t nseries;
} merge_source;

static int merge_advance(merge_source *ms, merge_in *in, odin_err *err)
{
    in->has = false;
    while (in->pos < in->n) {
        odin_arena_reset(&in->a);
        int rc = block_series_read(in->b, in->ids[in->pos++], ms->mint, ms->maxt - 1, &in->a,
                                   &in->cur, err);
        if (rc < 0) {
            return rc;
        }
        if (in->cur.nchunks > 0) {
            in->has = true;
            return 0;
        }
    }
    return 0;
}

static int chunk_mint_cmp(const void *a, const void *b)
{
    const block_chunk *x = a, *y = b;
    return (x->mint > y->mint) - (x->mint < y->mint);
}

typedef struct {
    int64_t t;
    double v;
    size_t seq;
} merge_sample;

static int sample_cmp(const void *a, const void *b)
{
    const merge_sample *x = a, *y = b;
    if (x->t != y->t) {
        return (x->t > y->t) - (x->t < y->t);
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int put_chunk(merge_source *ms, xor_chunk *c, int64_t mint, int64_t maxt, block_chunk *out,
                     odin_err *err)
{
    uint8_t *b = odin_arena_alloc(&ms->step, c->len);
    if (!b) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "compaction: memory limit reached");
    }
    memcpy(b, c->b, c->len);
    *out = (block_chunk){mint, maxt, b, c->len};
    return 0;
}

/* Vertical merge: overlapping chunks are decoded, samples ordered by time (on equal timestamps
 * the block listed first wins, as Prometheus' chained merge keeps one) and re-encoded. */
static int merge_overlapping(merge_source *ms, block_chunk **chunks, size_t *n, odin_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < *n; i++) {
        const block_chunk *c = &(*chunks)[i];
        if (c->len < 2) {
            return odin_err_set(err, ODIN_ERR_CORRUPT, "compaction: chunk without a header");
        }
        total += tsdb_chunk_samples(c->b, c->len);
    }
    merge_sample *s = odin_malloc((total ? total : 1) * sizeof(*s));
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < *n && rc == 0; i++) {
        xor_iter it;
        xor_iter_init(&it, (*chunks)[i].b, (*chunks)[i].len);
        while (k < total && xor_iter_next(&it, &s[k].t, &s[k].v)) {
            s[k].seq = k;
            k++;
        }
        if (it.err) {
            rc = odin_err_set(err, ODIN_ERR_CORRUPT, "compaction: bad chunk in a source block");
        }
    }
    qsort(s, k, sizeof(*s), sample_cmp);
    block_chunk *out = odin_arena_alloc(&ms->step, (k / MERGE_CHUNK_SAMPLES + 1) * sizeof(*out));
    size_t nout = 0;
    xor_chunk c;
    xor_chunk_init(&c);
    int64_t cmint = 0, prev = INT64_MIN;
    for (size_t i = 0; i < k && rc == 0 && out; i++) {
        if (s[i].t == prev) {
            continue;
        }
        prev = s[i].t;
        if (c.n == 0) {
            cmint = s[i].t;
        }
        xor_chunk_append(&c, s[i].t, s[i].v);
        if (c.n == MERGE_CHUNK_SAMPLES) {
            rc = put_chunk(ms, &c, cmint, s[i].t, &out[nout++], err);
            xor_chunk_fini(&c);
            xor_chunk_init(&c);
        }
    }
    if (!out) {
        rc = odin_err_set(err, ODIN_ERR_LIMIT, "compaction: memory limit reached");
    } else if (rc == 0 && c.n > 0) {
        rc = put_chunk(ms, &c, cmint, prev, &out[nout++], err);
    }
    xor_chunk_fini(&c);
    free(s);
    *chunks = out;
    *n = nout;
    return rc;
}

static bool stopping(tsdb *db)
{
    pthread_mutex_lock(&db->stop_lock);
    bool s = db->stopping;
    pthread_mutex_unlock(&db->stop_lock);
    return s;
}

/* block_source.next: the smallest label set among the inputs, with the chunks of every input
 * holding it. Inputs consumed by one call advance at the start of the next, so the labels and
 * chunk bytes handed out stay valid until then, as block_source requires. */
static int merge_next(void *ctx, odin_labels *labels, const block_chunk **chunks, size_t *n,
                      odin_err *err)
{
    merge_source *ms = ctx;
    for (size_t i = 0; i < ms->nin; i++) {
        if (ms->in[i].consumed) {
            ms->in[i].consumed = false;
            int rc = merge_advance(ms, &ms->in[i], err);
            if (rc < 0) {
                return rc;
            }
        }
    }
    if (++ms->nseries % CANCEL_CHECK_SERIES == 0 && stopping(ms->db)) {
        return odin_err_set(err, ODIN_ERR_CANCELED, "compaction canceled by shutdown");
    }
    odin_arena_reset(&ms->step);
    const merge_in *min = NULL;
    size_t total = 0;
    for (size_t i = 0; i < ms->nin; i++) {
        const merge_in *in = &ms->in[i];
        int c = in->has && min ? odin_labels_cmp(in->cur.labels, min->cur.labels) : 0;
        if (in->has && (!min || c < 0)) {
            min = in;
            total = 0;
        }
        if (in->has && (min == in || c == 0)) {
            total += in->cur.nchunks;
        }
    }
    if (!min) {
        return 0;
    }
    block_chunk *v = odin_arena_alloc(&ms->step, total * sizeof(*v));
    if (!v) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "compaction: memory limit reached");
    }
    size_t k = 0;
    for (size_t i = 0; i < ms->nin; i++) {
        merge_in *in = &ms->in[i];
        if (in->has && (in == min || odin_labels_cmp(in->cur.labels, min->cur.labels) == 0)) {
            memcpy(v + k, in->cur.chunks, in->cur.nchunks * sizeof(*v));
            k += in->cur.nchunks;
            in->consumed = true;
        }
    }
    qsort(v, k, sizeof(*v), chunk_mint_cmp);
    bool overlap = false;
    for (size_t i = 1; i < k; i++) {
        overlap = overlap || v[i].mint <= v[i - 1].maxt;
    }
    if (overlap) {
        int rc = merge_overlapping(ms, &v, &k, err);
        if (rc < 0) {
            return rc;
        }
    }
    *labels = min->cur.labels;
    *chunks = v;
    *n = k;
    return 1;
}

static void merge_fini(merge_source *ms)
{
    for (size_t i = 0; i < ms->nin; i++) {
        odin_arena_fini(&ms->in[i].a);
    }
    free(ms->in);
    odin_arena_fini(&ms->ids);
    odin_arena_fini(&ms->step);
}

static int merge_init(merge_source *ms, tsdb *db, tsdb_block *const *v, size_t n, odin_err *err)
{
    memset(ms, 0, sizeof(*ms));
    ms->db = db;
    ms->mint = INT64_MAX;
    ms->maxt = INT64_MIN;
    ms->in = odin_calloc(n, sizeof(*ms->in));
    ms->nin = n;
    odin_arena_init(&ms->ids, 0);
    odin_arena_init(&ms->step, 0);
    for (size_t i = 0; i < n; i++) {
        const block_meta *m = block_get_meta(v[i]);
        ms->mint = m->mint < ms->mint ? m->mint : ms->mint;
        ms->maxt = m->maxt > ms->maxt ? m->maxt : ms->maxt;
        ms->in[i].b = v[i];
        odin_arena_init(&ms->in[i].a, 0);
    }
    for (size_t i = 0; i < n; i++) {
        merge_in *in = &ms->in[i];
        int rc = block_series_ids(in->b, &ms->ids, &in->ids, &in->n, err);
        if (rc == 0) {
            rc = merge_advance(ms, in, err);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- Writing the merged block ---------------------------------------------------------------- */

static int str27_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The union of the inputs' sources, sorted, as Prometheus lists them. Heap array. */
static char (*union_sources(tsdb_block *const *v, size_t n, size_t *count))[27]
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char(*s)[27];
        total += block_sources(v[i], &s);
    }
    char(*out)[27] = odin_malloc((total ? total : 1) * sizeof(*out));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char(*s)[27];
        size_t ns = block_sources(v[i], &s);
        memcpy(out + k, s, ns * sizeof(*out));
        k += ns;
    }
    qsort(out, k, sizeof(*out), str27_cmp);
    size_t w = 0;
    for (size_t i = 0; i < k; i++) {
        if (w == 0 || strcmp(out[w - 1], out[i]) != 0) {
            memmove(out[w++], out[i], 27);
        }
    }
    *count = w;
    return out;
}

/* meta.json's compaction.parents (ulid, minTime, maxTime of each input), which Prometheus 2.42
 * writes after "sources"; spliced into the text block_write produced, then written atomically. */
static int add_parents(const char *block_dir, tsdb_block *const *v, size_t n, odin_err *err)
{
    odin_strbuf path, text, out;
    odin_strbuf_init(&path, 0);
    odin_strbuf_init(&text, 0);
    odin_strbuf_init(&out, 0);
    odin_strbuf_printf(&path, "%s/meta.json", block_dir);
    int rc = odin_read_file(path.p, &text, 1 << 20, err);
    const char *end = rc == 0 ? strstr(text.p, "\n\t\t]\n\t}") : NULL;
    if (rc == 0 && !end) {
        rc = odin_err_set(err, ODIN_ERR_INTERNAL, "%s: no compaction.sources to follow", path.p);
    }
    if (rc == 0) {
        size_t at = (size_t)(end - text.p) + 4;
        odin_strbuf_put(&out, text.p, at);
        odin_strbuf_puts(&out, ",\n\t\t\"parents\": [");
        for (size_t i = 0; i < n; i++) {
            const block_meta *m = block_get_meta(v[i]);
            odin_strbuf_printf(&out, "%s\n\t\t\t{\n\t\t\t\t\"ulid\": \"%s\",\n\t\t\t\t\"minTime\": ",
                               i ? "," : "", m->ulid);
            odin_strbuf_put_i64(&out, m->mint);
            odin_strbuf_puts(&out, ",\n\t\t\t\t\"maxTime\": ");
            odin_strbuf_put_i64(&out, m->maxt);
            odin_strbuf_puts(&out, "\n\t\t\t}");
        }
        odin_strbuf_puts(&out, "\n\t\t]");
        odin_strbuf_put(&out, text.p + at, text.len - at);
        rc = odin_write_file_atomic(path.p, out.p, out.len, err);
    }
    odin_strbuf_fini(&path);
    odin_strbuf_fini(&text);
    odin_strbuf_fini(&out);
    return rc;
}

/* Merges v[0..n) into a new block under the data directory; *out is NULL when the inputs held no
 * samples. `keep_identity` (rewriting one block without its tombstones) keeps the input's level
 * and sources, so start-up can tell the rewrite supersedes it (Odin deviation: Prometheus 2.42
 * makes such a block level 1 with itself as source and relies on "parents" alone). */
static int write_merged(tsdb *db, tsdb_block *const *v, size_t n, bool keep_identity,
                        tsdb_block **out, odin_err *err)
{
    *out = NULL;
    merge_source ms;
    int rc = merge_init(&ms, db, v, n, err);
    size_t nsrc = 0;
    char(*srcs)[27] = union_sources(v, n, &nsrc);
    const char **sp = odin_malloc((nsrc ? nsrc : 1) * sizeof(*sp));
    int level = 0;
    for (size_t i = 0; i < nsrc; i++) {
        sp[i] = srcs[i];
    }
    for (size_t i = 0; i < n; i++) {
        int l = block_get_meta(v[i])->level;
        level = l > level ? l : level;
    }
    block_write_opts wo = {
        .parent_dir = db->dir,
        .mint = ms.mint,
        .maxt = ms.maxt,
        .compaction_level = keep_identity ? level : level + 1,
        .sources = sp,
        .nsources = nsrc,
        .external_labels = (const char *const *)db->external_labels,
        .nexternal = db->nexternal_labels,
        .chunk_encoding = db->opts.odin_chunks ? TSDB_ENC_ODIN : TSDB_ENC_XOR,
        .odin_chunk_samples = COMPACT_ODIN_CHUNK_SAMPLES,
        .merge_odin_chunks = !keep_identity,
    };
    char ulid[27] = "";
    if (rc == 0) {
        block_source src = {&ms, merge_next};
        rc = block_write(&wo, &src, ulid, err);
    }
    merge_fini(&ms);
    free(sp);
    free(srcs);
    if (rc < 0 || ulid[0] == '\0') {
        return rc;
    }
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/%s", db->dir, ulid);
    rc = add_parents(path.p, v, n, err);
    if (rc == 0) {
        *out = block_open(path.p, err);
        rc = *out ? 0 : -ODIN_ERR_CORRUPT;
    }
    if (rc < 0) {
        odin_remove_tree(path.p); /* nothing of the inputs was touched */
    }
    odin_strbuf_fini(&path);
    return rc;
}

/* Publishes `nb` (may be NULL) in place of v[0..n): queriers that already hold the old blocks keep
 * them until they close; the directories go with their last reference. */
static void swap_blocks(tsdb *db, tsdb_block *const *v, size_t n, tsdb_block *nb)
{
    pthread_rwlock_wrlock(&db->blocks_lock);
    size_t w = 0;
    for (size_t i = 0; i < db->nblocks; i++) {
        bool gone = false;
        for (size_t j = 0; j < n && !gone; j++) {
            gone = db->blocks[i] == v[j];
        }
        if (!gone) {
            db->blocks[w++] = db->blocks[i];
        }
    }
    db->nblocks = w;
    if (nb) {
        db->blocks = odin_realloc(db->blocks, (db->nblocks + 1) * sizeof(*db->blocks));
        db->blocks[db->nblocks++] = nb;
        tsdb_blocks_sort_locked(db);
    }
    pthread_rwlock_unlock(&db->blocks_lock);
    for (size_t j = 0; j < n; j++) {
        block_mark_deleted(v[j]);
        block_unref(v[j]); /* the list's reference */
    }
}

static int compact_run(tsdb *db, tsdb_block *const *v, size_t n, bool keep_identity,
                       odin_err *err)
{
    tsdb_block *nb;
    int64_t t0 = odin_mono_ns();
    int rc = write_merged(db, v, n, keep_identity, &nb, err);
    if (rc < 0) {
        if (rc != -ODIN_ERR_CANCELED) {
            atomic_fetch_add(&db->compactions_failed, 1);
        }
        return rc;
    }
    swap_blocks(db, v, n, nb);
    atomic_fetch_add(&db->compactions, 1);
    char dur[32];
    dur[odin_format_double((double)(odin_mono_ns() - t0) / 1e9, dur)] = '\0';
    odin_strbuf cnt;
    odin_strbuf_init(&cnt, 0);
    odin_strbuf_put_u64(&cnt, n);
    odin_log(ODIN_LOG_INFO, "tsdb", "compact blocks", "count", cnt.p, "ulid",
             nb ? block_get_meta(nb)->ulid : "(empty)", "duration_seconds", dur, NULL);
    odin_strbuf_fini(&cnt);
    return 0;
}

/* A copy of the block list (heap array; the caller frees it), taken under blocks_lock, for the
 * callers below, which hold compact_lock while they use it. */
static tsdb_block **blocks_snapshot(tsdb *db, size_t *n)
{
    pthread_rwlock_rdlock(&db->blocks_lock);
    *n = db->nblocks;
    tsdb_block **v = odin_malloc((*n ? *n : 1) * sizeof(*v));
    if (*n) {
        memcpy(v, db->blocks, *n * sizeof(*v));
    }
    pthread_rwlock_unlock(&db->blocks_lock);
    return v;
}

int tsdb_compact_blocks_locked(tsdb *db, odin_err *err)
{
    for (int round = 0; round < MAX_PLANS_PER_RUN && !stopping(db); round++) {
        size_t n;
        tsdb_block **v = blocks_snapshot(db, &n);
        size_t first = 0;
        size_t cnt = plan(db, v, n, &first);
        int rc = cnt ? compact_run(db, v + first, cnt, cnt == 1, err) : 0;
        free(v);
        if (rc < 0 || cnt == 0) {
            return rc;
        }
    }
    return 0;
}

int tsdb_clean_tombstones_locked(tsdb *db, odin_err *err)
{
    size_t n;
    tsdb_block **v = blocks_snapshot(db, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (block_num_tombstones(v[i]) > 0) {
            rc = compact_run(db, &v[i], 1, true, err);
        }
    }
    free(v);
    return rc;
}

int tsdb_recode_blocks(tsdb *db, uint64_t *rewritten, uint64_t *kept, odin_err *err)
{
    *rewritten = *kept = 0;
    unsigned want = db->opts.odin_chunks ? BLOCK_HAS_ODIN : BLOCK_HAS_XOR;
    pthread_mutex_lock(&db->compact_lock);
    size_t n;
    tsdb_block **v = blocks_snapshot(db, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned mask;
        rc = block_chunk_encodings(v[i], &mask, err);
        if (rc == 0 && (mask & ~want) == 0) {
            (*kept)++;
            continue;
        }
        /* the same rewrite as a tombstone clean-up: the new block keeps level and sources, so
         * after a crash between writing it and deleting the old one start-up keeps the new */
        if (rc == 0) {
            rc = compact_run(db, &v[i], 1, true, err);
        }
        *rewritten += rc == 0;
    }
    free(v);
    pthread_mutex_unlock(&db->compact_lock);
    return rc;
}

/* The read door: series selection by matchers over the head's postings, sample iteration, and
 * label names/values. Results are sorted by label set, as Prometheus' Select(sorted=true). */
#include "tsdb/block.h"
#include "tsdb/db_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct tsdb_querier {
    tsdb *db;
    uint64_t reader; /* head_reader_enter's token: head series and strings handed out stay */
    int64_t mint, maxt;
    odin_arena arena; /* everything handed out lives here until close */
    struct tsdb_block **blocks; /* referenced until close */
    size_t nblocks;
};

/* One series of a result: its chunks from blocks (in time order) and its head series, if any. */
typedef struct {
    odin_labels labels;
    head_series *hs;
    block_chunk *chunks;
    size_t nchunks;
} merged_series;

struct tsdb_series_set {
    tsdb_querier *q;
    merged_series *series; /* when blocks matched; else NULL and head_only holds the result */
    head_series **head_only;
    size_t n;
    size_t pos; /* 1-based after the first next() */
    struct tsdb_iter_state *st; /* iteration buffers, made on first use */
    odin_labels view; /* head_only: the labels of series view_pos (tsdb_series_labels) */
    size_t view_pos;
};

static void *qalloc(tsdb_querier *q, size_t n)
{
    void *p = odin_arena_alloc(&q->arena, n ? n : 1);
    if (!p) {
        odin_oom();
    }
    return p;
}

tsdb_querier *tsdb_querier_open(tsdb *db, int64_t mint, int64_t maxt)
{
    tsdb_querier *q = odin_calloc(1, sizeof(*q));
    q->db = db;
    q->mint = mint;
    q->maxt = maxt;
    q->reader = head_reader_enter(&db->head);
    odin_arena_init(&q->arena, 0);
    q->blocks = tsdb_blocks_acquire(db, mint, maxt, &q->nblocks);
    return q;
}

void tsdb_querier_close(tsdb_querier *q)
{
    if (!q) {
        return;
    }
    odin_arena_fini(&q->arena);
    tsdb_blocks_release(q->blocks, q->nblocks);
    head_reader_exit(&q->db->head, q->reader);
    free(q);
}

/* Whether s satisfies every matcher except those flagged in `done` (bit i for matcher i < 64: its
 * postings already narrowed the candidates, so every candidate satisfies it; re-running a regex
 * on each of 200k candidates was ~10% of a count()). */
static bool series_matches(const head *h, const head_series *s, const tsdb_matcher *ms, size_t n,
                           uint64_t done)
{
    for (size_t i = 0; i < n; i++) {
        if (i < 64 && (done >> i & 1)) {
            continue;
        }
        odin_str v;
        head_series_label_get(h, s, ms[i].name, &v);
        if (!tsdb_matcher_matches(&ms[i], v)) {
            return false;
        }
    }
    return true;
}

/* Sorted intersection of two ascending ref lists into out (which may alias a), walking both. */
static size_t intersect_linear(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
                               uint32_t *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) {
            i++;
        } else if (a[i] > b[j]) {
            j++;
        } else {
            out[k++] = a[i];
            i++;
            j++;
        }
    }
    return k;
}

/* The same intersection when a is much shorter than b: each ref of a is found in b by a
 * doubling probe from the last position, then a binary search (log steps per ref instead of a
 * walk over b). One node's series against a job's postings over hundreds of nodes was ~6% of a
 * small dashboard panel's query with the walk. */
static size_t intersect_gallop(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
                               uint32_t *out)
{
    size_t j = 0, k = 0;
    for (size_t i = 0; i < na && j < nb; i++) {
        uint32_t x = a[i];
        size_t lo = j, step = 1, hi = j;
        while (hi < nb && b[hi] < x) {
            lo = hi + 1;
            hi += step;
            step *= 2;
        }
        if (hi > nb) {
            hi = nb;
        }
        while (lo < hi) { /* first position in [lo, hi) holding a ref >= x */
            size_t mid = lo + (hi - lo) / 2;
            if (b[mid] < x) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        j = lo;
        if (j < nb && b[j] == x) {
            out[k++] = x;
            j++;
        }
    }
    return k;
}

/* Lists this many times longer than the candidates are probed rather than walked. */
enum { GALLOP_RATIO = 8 };

/* Sorted intersection of two ascending ref lists into out (which may alias a). */
static size_t intersect(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out)
{
    if (na < nb / GALLOP_RATIO) {
        return intersect_gallop(a, na, b, nb, out);
    }
    return intersect_linear(a, na, b, nb, out);
}

/* Label sets compared as odin_labels_cmp does, but a label whose name or value is the same pointer
 * and length on both sides (head strings are interned, so most are) is equal without a memcmp, and
 * the first bytes decide most of the rest: sorting selected series was ~30% of a 200k-series
 * count() with the generic comparison. */
static inline int str_cmp_fast(odin_str a, odin_str b)
{
    if (a.p == b.p && a.len == b.len) {
        return 0;
    }
    if (a.len && b.len && a.p[0] != b.p[0]) {
        return (unsigned char)a.p[0] < (unsigned char)b.p[0] ? -1 : 1;
    }
    return odin_str_cmp(a, b);
}

static inline int labels_cmp_fast(odin_labels a, odin_labels b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++) {
        int c = str_cmp_fast(a.v[i].name, b.v[i].name);
        if (c) {
            return c;
        }
        c = str_cmp_fast(a.v[i].value, b.v[i].value);
        if (c) {
            return c;
        }
    }
    return (a.len > b.len) - (a.len < b.len);
}

/* The head's postings key of name=value: "name\xffvalue" (built without printf: a regex over
 * `instance` builds one per matching value). */
static void postings_key(odin_strbuf *key, const char *name, odin_str value)
{
    odin_strbuf_puts(key, name);
    odin_strbuf_putc(key, '\xff');
    odin_strbuf_putstr(key, value);
}

enum { MAX_ALTERNATIVES = 256 };

/* The alternatives of a regex that is only non-empty literals joined by '|', optionally inside one
 * group, as Grafana writes a multi-value variable (`(node01:9400|node02:9400)`): anchored, each
 * matches exactly its own text. Returns how many (at most MAX_ALTERNATIVES), or 0 for any other
 * pattern. */
static size_t literal_alternatives(const char *re, odin_str *alts)
{
    size_t len = strlen(re);
    if (len >= 2 && re[0] == '(' && re[len - 1] == ')') {
        re++;
        len -= 2;
    }
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && re[i] != '|') {
            if (strchr("\\.+*?()[]{}^$", re[i])) {
                return 0;
            }
            continue;
        }
        if (i == start || n == MAX_ALTERNATIVES) {
            return 0;
        }
        alts[n++] = (odin_str){re + start, i - start};
        start = i + 1;
    }
    return n;
}

/* The postings lists of the values of `m->name` that match m, and their total length. */
static size_t regex_lists_locked(tsdb_querier *q, head *h, const tsdb_matcher *m,
                                 head_postings ***out, size_t *nlists)
{
    size_t total = 0, n = 0;
    odin_strbuf key;
    odin_strbuf_init(&key, 0);
    odin_str alts[MAX_ALTERNATIVES];
    size_t nalts = m->type == TSDB_MATCH_RE ? literal_alternatives(m->value, alts) : 0;
    if (nalts) {
        /* a lookup per alternative instead of a regex test per value of the label (`instance`
         * has a value per target) */
        head_postings **lists = qalloc(q, nalts * sizeof(*lists));
        for (size_t i = 0; i < nalts; i++) {
            odin_strbuf_reset(&key);
            postings_key(&key, m->name, alts[i]);
            head_postings *p = odin_map_get(&h->postings, key.p, key.len);
            if (p && p->len) {
                lists[n++] = p;
                total += p->len;
            }
        }
        odin_strbuf_fini(&key);
        *out = lists;
        *nlists = n;
        return total;
    }
    head_values *vals = odin_map_get(&h->values, m->name, strlen(m->name));
    head_postings **lists = qalloc(q, (vals && vals->len ? vals->len : 1) * sizeof(*lists));
    for (size_t i = 0; vals && i < vals->len; i++) {
        odin_str v = odin_str_c(vals->v[i]);
        if (!tsdb_matcher_matches(m, v)) {
            continue;
        }
        odin_strbuf_reset(&key);
        postings_key(&key, m->name, v);
        head_postings *p = odin_map_get(&h->postings, key.p, key.len);
        if (p && p->len) {
            lists[n++] = p;
            total += p->len;
        }
    }
    odin_strbuf_fini(&key);
    *out = lists;
    *nlists = n;
    return total;
}

/* Union of ascending ref lists (refs are 1..nseries, with holes where series were removed) in ascending order. Past a few lists a bitmap
 * of nseries bits beats sorting the concatenation: `gpu=~"0|...|7"` over 200k series was a
 * 200k-element qsort per query. */
static size_t union_lists(tsdb_querier *q, head_postings **lists, size_t nlists, size_t total,
                          size_t nseries, uint32_t **out)
{
    uint32_t *refs = qalloc(q, (total ? total : 1) * sizeof(*refs));
    if (nlists == 1) {
        memcpy(refs, lists[0]->refs, total * sizeof(*refs));
        *out = refs;
        return total;
    }
    size_t nwords = nseries / 64 + 1;
    uint64_t *bits = qalloc(q, nwords * sizeof(*bits));
    memset(bits, 0, nwords * sizeof(*bits));
    for (size_t l = 0; l < nlists; l++) {
        for (size_t i = 0; i < lists[l]->len; i++) {
            uint32_t r = lists[l]->refs[i];
            bits[r / 64] |= UINT64_C(1) << (r % 64);
        }
    }
    size_t k = 0;
    for (size_t w = 0; w < nwords; w++) {
        for (uint64_t b = bits[w]; b; b &= b - 1) {
            refs[k++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
        }
    }
    *out = refs;
    return k;
}

/* The postings list of an equality matcher, or NULL when no series has that label value. */
static head_postings *eq_postings_locked(head *h, const tsdb_matcher *m)
{
    odin_strbuf key;
    odin_strbuf_init(&key, 0);
    postings_key(&key, m->name, odin_str_c(m->value));
    head_postings *p = odin_map_get(&h->postings, key.p, key.len);
    odin_strbuf_fini(&key);
    return p;
}

/* Narrows the candidates (*cand, *ncand; *have false before the first list) to refs. */
static void narrow_refs(tsdb_querier *q, const uint32_t *refs, size_t nrefs, uint32_t **cand,
                        size_t *ncand, bool *have)
{
    if (!*have) {
        *cand = qalloc(q, (nrefs ? nrefs : 1) * sizeof(**cand));
        if (nrefs) {
            memcpy(*cand, refs, nrefs * sizeof(**cand));
        }
        *ncand = nrefs;
        *have = true;
    } else {
        *ncand = intersect(*cand, *ncand, refs, nrefs, *cand);
    }
}

/* Narrows the candidates with the non-equality matcher m and returns true, or returns false
 * having skipped m: a matcher whose union would be much larger than the candidates so far is left
 * to series_matches. */
static bool narrow_locked(tsdb_querier *q, head *h, const tsdb_matcher *m, uint32_t **cand,
                          size_t *ncand, bool *have)
{
    head_postings **lists;
    size_t nlists;
    size_t total = regex_lists_locked(q, h, m, &lists, &nlists);
    if (*have && total > 4 * *ncand) {
        return false;
    }
    uint32_t *refs;
    size_t nrefs = union_lists(q, lists, nlists, total, h->nseries, &refs);
    narrow_refs(q, refs, nrefs, cand, ncand, have);
    return true;
}

/* An equality matcher's postings, kept to narrow with the shortest list first. */
typedef struct {
    head_postings *p;
    size_t i; /* the matcher's index */
} eq_list;

/* Head series matching ms, sorted by labels when `sorted`, else in ref order. Equality matchers
 * narrow first, shortest postings list first (one node's series, then its job's: the long list
 * is probed instead of copied and walked), then the others. */
static head_series **head_select(tsdb_querier *q, const tsdb_matcher *ms, size_t n, bool sorted,
                                 size_t *count)
{
    head *h = &q->db->head;
    pthread_rwlock_rdlock(&h->map_lock);
    uint32_t *cand = NULL;
    size_t ncand = 0;
    bool have = false;
    uint64_t done = 0; /* matchers whose postings narrowed the candidates */
    eq_list *eqs = qalloc(q, (n ? n : 1) * sizeof(*eqs));
    size_t neq = 0;
    for (size_t i = 0; i < n; i++) {
        const tsdb_matcher *m = &ms[i];
        if (m->type != TSDB_MATCH_EQ || tsdb_matcher_matches(m, (odin_str){"", 0})) {
            continue; /* a later pass, or matches absent labels: checked per series below */
        }
        eq_list e = {eq_postings_locked(h, m), i};
        size_t len = e.p ? e.p->len : 0;
        size_t k = neq++;
        for (; k > 0 && (eqs[k - 1].p ? eqs[k - 1].p->len : 0) > len; k--) {
            eqs[k] = eqs[k - 1];
        }
        eqs[k] = e;
    }
    for (size_t k = 0; k < neq && !(have && ncand == 0); k++) {
        const head_postings *p = eqs[k].p;
        narrow_refs(q, p ? p->refs : NULL, p ? p->len : 0, &cand, &ncand, &have);
        if (eqs[k].i < 64) {
            done |= UINT64_C(1) << eqs[k].i;
        }
    }
    for (size_t i = 0; i < n && !(have && ncand == 0); i++) {
        const tsdb_matcher *m = &ms[i];
        if (m->type == TSDB_MATCH_EQ || tsdb_matcher_matches(m, (odin_str){"", 0})) {
            continue; /* narrowed above, or matches absent labels: checked per series below */
        }
        if (narrow_locked(q, h, m, &cand, &ncand, &have) && i < 64) {
            done |= UINT64_C(1) << i;
        }
    }
    /* refs are 4 bytes and the result's pointers 8: one more array, 12 bytes per candidate */
    head_series **out = qalloc(q, (ncand ? ncand : 1) * sizeof(*out));
    size_t k = 0;
    for (size_t i = 0; i < ncand; i++) {
        head_series *s = head_slot_locked(h, cand[i] - 1);
        if (s != NULL && series_matches(h, s, ms, n, done)) {
            out[k++] = s;
        }
    }
    pthread_rwlock_unlock(&h->map_lock);
    if (sorted) {
        head_sort_series(h, out, k);
    }
    *count = k;
    return out;
}

/* Whether the head holds anything in the querier's range (else its series are left out). */
static bool head_in_range(tsdb_querier *q)
{
    int64_t hmin = atomic_load(&q->db->head.min_t), hmax = atomic_load(&q->db->head.max_t);
    return hmin != INT64_MAX && hmax >= q->mint && hmin <= q->maxt;
}

typedef struct {
    odin_labels labels;
    size_t source; /* block index, or nblocks for the head */
    head_series *hs;
    const block_series *bs;
} select_item;

static int item_cmp(const void *a, const void *b)
{
    const select_item *x = a, *y = b;
    int c = labels_cmp_fast(x->labels, y->labels);
    if (c) {
        return c;
    }
    return (x->source > y->source) - (x->source < y->source);
}

static bool head_series_in_range(tsdb_querier *q, head_series *s)
{
    pthread_mutex_t *mu = head_stripe(&q->db->head, s->ref);
    pthread_mutex_lock(mu);
    bool any = head_series_chunks_overlapping(s, q->mint, q->maxt, NULL) > 0;
    if (!any && s->has_open) {
        any = s->last_t >= q->mint && s->open_mint <= q->maxt;
    }
    pthread_mutex_unlock(mu);
    return any;
}

/* The selection behind both public forms. Series of several sources are merged by label set, which
 * needs them sorted; only head-only results can skip the sort. */
static tsdb_series_set *select_series(tsdb_querier *q, const tsdb_matcher *ms, size_t n,
                                      bool sorted, odin_err *err)
{
    bool selective = false;
    for (size_t i = 0; i < n; i++) {
        if (!tsdb_matcher_matches(&ms[i], (odin_str){"", 0})) {
            selective = true;
        }
    }
    if (!selective) {
        odin_err_set(err, ODIN_ERR_INVALID,
                     "vector selector must contain at least one non-empty matcher");
        return NULL;
    }
    block_series **bs = qalloc(q, (q->nblocks + 1) * sizeof(*bs));
    size_t *nbs = qalloc(q, (q->nblocks + 1) * sizeof(*nbs));
    size_t total = 0, nsources = 0;
    for (size_t b = 0; b < q->nblocks; b++) {
        int64_t end = q->maxt == INT64_MAX ? INT64_MAX : q->maxt + 1; /* exclusive */
        if (block_select(q->blocks[b], ms, n, q->mint, end, &q->arena, &bs[b], &nbs[b],
                         err) < 0) {
            return NULL;
        }
        total += nbs[b];
        nsources += nbs[b] > 0;
    }
    /* each source's list is sorted (when asked): merging is needed only past one source, and
     * the head's order matters only when asked for or when blocks are merged with it */
    size_t nhead = 0;
    head_series **hs =
        head_in_range(q) ? head_select(q, ms, n, sorted || total > 0, &nhead) : NULL;
    tsdb_series_set *set = qalloc(q, sizeof(*set));
    memset(set, 0, sizeof(*set));
    set->q = q;
    if (total == 0) {
        /* the head alone: its list is the result, filtered in place (or not at all for any-order
         * callers, whose iteration takes the stripe lock anyway and finds no samples) */
        for (size_t i = 0; i < nhead; i++) {
            if (!sorted || head_series_in_range(q, hs[i])) {
                hs[set->n++] = hs[i];
            }
        }
        set->head_only = hs;
        return set;
    }
    total += nhead;
    nsources += nhead > 0;
    select_item *items = qalloc(q, (total ? total : 1) * sizeof(*items));
    size_t k = 0;
    for (size_t b = 0; b < q->nblocks; b++) {
        for (size_t i = 0; i < nbs[b]; i++) {
            items[k++] = (select_item){bs[b][i].labels, b, NULL, &bs[b][i]};
        }
    }
    for (size_t i = 0; i < nhead; i++) {
        if (head_series_in_range(q, hs[i])) {
            odin_labels ls = head_series_labels_arena(&q->db->head, hs[i], &q->arena);
            if (ls.v == NULL) {
                odin_oom();
            }
            items[k++] = (select_item){ls, q->nblocks, hs[i], NULL};
        }
    }
    if (nsources > 1 && k > 1) {
        qsort(items, k, sizeof(*items), item_cmp);
    }
    set->series = qalloc(q, (k ? k : 1) * sizeof(*set->series));
    for (size_t i = 0; i < k;) {
        size_t j = i + 1, nch = items[i].bs ? items[i].bs->nchunks : 0;
        /* one source has unique label sets: only several need merging */
        while (nsources > 1 && j < k && labels_cmp_fast(items[j].labels, items[i].labels) == 0) {
            nch += items[j].bs ? items[j].bs->nchunks : 0;
            j++;
        }
        merged_series *m = &set->series[set->n++];
        memset(m, 0, sizeof(*m));
        m->labels = items[i].labels;
        m->chunks = nch ? qalloc(q, nch * sizeof(*m->chunks)) : NULL;
        for (size_t x = i; x < j; x++) {
            if (items[x].bs && items[x].bs->nchunks) {
                memcpy(m->chunks + m->nchunks, items[x].bs->chunks,
                       items[x].bs->nchunks * sizeof(*m->chunks));
                m->nchunks += items[x].bs->nchunks;
            } else if (items[x].hs) {
                m->hs = items[x].hs;
            }
        }
        i = j;
    }
    return set;
}

tsdb_series_set *tsdb_querier_select(tsdb_querier *q, const tsdb_matcher *ms, size_t n,
                                     odin_err *err)
{
    return select_series(q, ms, n, true, err);
}

tsdb_series_set *tsdb_querier_select_any_order(tsdb_querier *q, const tsdb_matcher *ms, size_t n,
                                               odin_err *err)
{
    return select_series(q, ms, n, false, err);
}

bool tsdb_series_next(tsdb_series_set *s)
{
    if (s->pos >= s->n) {
        s->pos = s->n + 1;
        return false;
    }
    s->pos++;
    return true;
}

odin_labels tsdb_series_labels(const tsdb_series_set *s)
{
    if (s->series) {
        return s->series[s->pos - 1].labels;
    }
    /* head series keep labels as symbol references: the view is made once per series, in the
     * querier's arena so it lives until close as documented (the set is the querier's, never
     * const memory) */
    tsdb_series_set *m = (tsdb_series_set *)s;
    if (m->view_pos != s->pos) {
        m->view = head_series_labels_arena(&s->q->db->head, s->head_only[s->pos - 1], &s->q->arena);
        if (m->view.v == NULL) {
            odin_oom();
        }
        m->view_pos = s->pos;
    }
    return m->view;
}

/* One run of encoded samples to read: a block chunk (mapped, stable while the block is referenced)
 * or a head chunk's bytes copied under its stripe lock. */
typedef struct {
    const uint8_t *b;
    size_t off; /* into the set's copy buffer when b is NULL */
    uint32_t len;
    int64_t mint, maxt;
} iter_src;

/* Reused by every series of a set, so a set holds one series' worth of buffers however many series
 * it has (the 200k-series count() kept 400 MiB of decoded arrays before). */
struct tsdb_iter_state {
    tsdb_querier *q;
    iter_src *src;
    size_t nsrc, cap_src, isrc;
    uint8_t *copy;
    size_t ncopy, cap_copy;
    xor_iter cur;
    bool in_chunk;
    /* sources that overlap in time are decoded up front into t/v and merged (order_samples) */
    bool merged;
    int64_t *t;
    double *v;
    size_t n, cap, pos;
};

static void iter_state_free(void *arg)
{
    struct tsdb_iter_state *st = arg;
    free(st->src);
    free(st->copy);
    free(st->t);
    free(st->v);
}

static void add_src(struct tsdb_iter_state *st, const uint8_t *b, size_t off, uint32_t len,
                    int64_t mint, int64_t maxt)
{
    if (st->nsrc == st->cap_src) {
        st->cap_src = st->cap_src ? st->cap_src * 2 : 16;
        st->src = odin_realloc(st->src, st->cap_src * sizeof(*st->src));
    }
    st->src[st->nsrc++] = (iter_src){b, off, len, mint, maxt};
}

/* Copies a head chunk's bytes (stripe lock held: the head may free or move them after). */
/* Room for len more bytes of copies, added as a source of [mint, maxt]: the caller fills them. */
static uint8_t *add_copy_room(struct tsdb_iter_state *st, uint32_t len, int64_t mint, int64_t maxt)
{
    if (st->ncopy + len > st->cap_copy) {
        size_t ncap = st->cap_copy ? st->cap_copy * 2 : 4096;
        while (ncap < st->ncopy + len) {
            ncap *= 2;
        }
        st->copy = odin_realloc(st->copy, ncap);
        st->cap_copy = ncap;
    }
    uint8_t *p = st->copy + st->ncopy;
    add_src(st, NULL, st->ncopy, len, mint, maxt);
    st->ncopy += len;
    return p;
}

static void add_copy(struct tsdb_iter_state *st, const uint8_t *b, uint32_t len, int64_t mint,
                     int64_t maxt)
{
    memcpy(add_copy_room(st, len, mint, maxt), b, len);
}

static struct tsdb_iter_state *set_state(tsdb_series_set *s)
{
    if (!s->st) {
        s->st = qalloc(s->q, sizeof(*s->st));
        memset(s->st, 0, sizeof(*s->st));
        s->st->q = s->q;
        odin_arena_on_reset(&s->q->arena, iter_state_free, s->st);
    }
    return s->st;
}

static void decode_into(struct tsdb_iter_state *st, const uint8_t *b, size_t len)
{
    tsdb_querier *q = st->q;
    xor_iter it;
    xor_iter_init(&it, b, len);
    int64_t t;
    double v;
    while (xor_iter_next(&it, &t, &v)) {
        if (t < q->mint) {
            continue;
        }
        if (t > q->maxt) {
            break; /* a chunk's samples ascend */
        }
        if (st->n == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 128;
            st->t = odin_realloc(st->t, st->cap * sizeof(*st->t));
            st->v = odin_realloc(st->v, st->cap * sizeof(*st->v));
        }
        st->t[st->n] = t;
        st->v[st->n] = v;
        st->n++;
    }
}

typedef struct {
    int64_t t;
    double v;
} tv_pair;

static int tv_cmp(const void *a, const void *b)
{
    const tv_pair *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* Sources may overlap (blocks not yet merged by vertical compaction, a block and the head): put
 * samples in time order and keep the first of each timestamp, so nothing is lost or repeated. */
static void order_samples(struct tsdb_iter_state *st)
{
    bool sorted = true;
    for (size_t i = 1; i < st->n && sorted; i++) {
        sorted = st->t[i] > st->t[i - 1];
    }
    if (sorted) {
        return;
    }
    tv_pair *p = odin_malloc(st->n * sizeof(*p));
    for (size_t i = 0; i < st->n; i++) {
        p[i] = (tv_pair){st->t[i], st->v[i]};
    }
    /* equal timestamps from two sources are the same sample, so which one survives is moot */
    qsort(p, st->n, sizeof(*p), tv_cmp);
    size_t w = 0;
    for (size_t i = 0; i < st->n; i++) {
        if (w && p[i].t == st->t[w - 1]) {
            continue;
        }
        st->t[w] = p[i].t;
        st->v[w] = p[i].v;
        w++;
    }
    st->n = w;
    free(p);
}

/* Collects the current series' sources in time order: blocks first, then the head's chunks and
 * its open chunk, the head's bytes copied under the stripe lock so iteration never races with
 * appends that cut or grow chunks, nor with truncation. Sources that do not overlap (the usual
 * case) are decoded lazily, one chunk at a time, as tsdb_iter_next asks; otherwise all samples
 * are decoded now and merged. Valid until the next tsdb_series_iter or tsdb_series_next on the
 * same set (every caller reads one series at a time). */
void tsdb_series_iter(tsdb_series_set *s, tsdb_iter *it)
{
    struct tsdb_iter_state *st = set_state(s);
    tsdb_querier *q = s->q;
    merged_series head_ms = {0};
    const merged_series *ms = &head_ms;
    if (s->series) {
        ms = &s->series[s->pos - 1];
    } else {
        head_ms.hs = s->head_only[s->pos - 1];
    }
    st->nsrc = st->isrc = st->ncopy = st->n = st->pos = 0;
    st->in_chunk = st->merged = false;
    for (size_t i = 0; i < ms->nchunks; i++) {
        const block_chunk *c = &ms->chunks[i];
        if (c->maxt >= q->mint && c->mint <= q->maxt) {
            add_src(st, c->b, 0, c->len, c->mint, c->maxt);
        }
    }
    head_series *hs = ms->hs;
    if (hs) {
        pthread_mutex_t *mu = head_stripe(&q->db->head, hs->ref);
        pthread_mutex_lock(mu);
        head_chunk few[16];
        head_chunk *cs = hs->nchunks <= 16 ? few : odin_malloc(hs->nchunks * sizeof(*cs));
        /* newest first: added oldest first, as the sources are kept in time order */
        for (size_t i = head_series_chunks_overlapping(hs, q->mint, q->maxt, cs); i-- > 0;) {
            add_copy(st, cs[i].b, head_chunk_len(&cs[i]), cs[i].mint, head_chunk_maxt(&cs[i]));
        }
        if (cs != few) {
            free(cs);
        }
        if (hs->has_open && hs->last_t >= q->mint && hs->open_mint <= q->maxt) {
            head_open_view ov = head_open_bytes(hs);
            head_open_view_copy(
                &ov, add_copy_room(st, head_open_view_len(&ov), hs->open_mint, hs->last_t));
        }
        pthread_mutex_unlock(mu);
    }
    for (size_t i = 0; i < st->nsrc; i++) {
        if (!st->src[i].b) {
            st->src[i].b = st->copy + st->src[i].off;
        }
        if (i && st->src[i].mint <= st->src[i - 1].maxt) {
            st->merged = true;
        }
    }
    if (st->merged) {
        for (size_t i = 0; i < st->nsrc; i++) {
            decode_into(st, st->src[i].b, st->src[i].len);
        }
        order_samples(st);
    }
    it->st = st;
}

bool tsdb_iter_next(tsdb_iter *it, int64_t *t, double *v)
{
    struct tsdb_iter_state *st = it->st;
    if (!st) {
        return false;
    }
    if (st->merged) {
        if (st->pos >= st->n) {
            return false;
        }
        *t = st->t[st->pos];
        *v = st->v[st->pos];
        st->pos++;
        return true;
    }
    tsdb_querier *q = st->q;
    for (;;) {
        if (!st->in_chunk) {
            if (st->isrc >= st->nsrc) {
                return false;
            }
            const iter_src *src = &st->src[st->isrc++];
            xor_iter_init(&st->cur, src->b, src->len);
            st->in_chunk = true;
        }
        while (xor_iter_next(&st->cur, t, v)) {
            if (*t < q->mint) {
                continue;
            }
            if (*t > q->maxt) {
                st->isrc = st->nsrc; /* sources ascend and do not overlap: nothing later fits */
                break;
            }
            return true;
        }
        st->in_chunk = false;
    }
}

static int str_cmp(const void *a, const void *b)
{
    return odin_str_cmp(*(const odin_str *)a, *(const odin_str *)b);
}

/* Collects label names (name == NULL) or the values of one name over matching series. */
static void remember(tsdb_querier *q, odin_map *seen, odin_str pick)
{
    if (!odin_map_get(seen, pick.p, pick.len)) {
        odin_str *copy = qalloc(q, sizeof(*copy));
        *copy = pick; /* interned in the head or copied into the querier's arena: lives long */
        odin_map_put(seen, pick.p, pick.len, copy);
    }
}

static void remember_labels(tsdb_querier *q, odin_map *seen, const char *name, odin_labels ls)
{
    /* head strings are interned and stay while the querier is open: the values remembered
     * point at them, the view itself may go */
    for (size_t k = 0; k < ls.len; k++) {
        const odin_label *l = &ls.v[k];
        if (!name) {
            remember(q, seen, l->name);
        } else if (odin_str_eq_c(l->name, name)) {
            remember(q, seen, l->value);
        }
    }
}

/* Collects label names (name == NULL) or the values of one name, over matching series of the
 * head and the blocks in range; with no matchers, from every series. */
static int collect_strings(tsdb_querier *q, const char *name, const tsdb_matcher *ms, size_t n,
                           const odin_str **out, size_t *count, odin_err *err)
{
    odin_map seen;
    odin_map_init(&seen);
    head_labels_buf lbuf = {0}; /* views of head series' labels, one at a time */
    if (n) {
        tsdb_series_set *set = tsdb_querier_select(q, ms, n, err);
        if (!set) {
            odin_map_fini(&seen);
            return -ODIN_ERR_INVALID;
        }
        for (size_t i = 0; i < set->n; i++) {
            if (set->series) {
                remember_labels(q, &seen, name, set->series[i].labels);
            } else {
                remember_labels(q, &seen, name, head_series_labels(&q->db->head, set->head_only[i], &lbuf));
            }
        }
        head_labels_buf_fini(&lbuf);
    } else {
        head *h = &q->db->head;
        pthread_rwlock_rdlock(&h->map_lock);
        for (size_t i = 0; i < h->nseries; i++) {
            const head_series *s = head_slot_locked(h, i);
            if (s != NULL) {
                remember_labels(q, &seen, name, head_series_labels(h, s, &lbuf));
            }
        }
        pthread_rwlock_unlock(&h->map_lock);
        head_labels_buf_fini(&lbuf);
        for (size_t b = 0; b < q->nblocks; b++) {
            odin_str *v;
            size_t nv;
            int rc = name ? block_label_values(q->blocks[b], name, &q->arena, &v, &nv, err)
                          : block_label_names(q->blocks[b], &q->arena, &v, &nv, err);
            if (rc < 0) {
                odin_map_fini(&seen);
                return rc;
            }
            for (size_t i = 0; i < nv; i++) {
                if (v[i].len || name) {
                    remember(q, &seen, v[i]);
                }
            }
        }
    }
    odin_str *v = qalloc(q, (seen.len ? seen.len : 1) * sizeof(*v));
    size_t pos = 0, i = 0, kl;
    const void *k;
    void *val;
    while (odin_map_next(&seen, &pos, &k, &kl, &val)) {
        v[i++] = *(odin_str *)val;
    }
    qsort(v, i, sizeof(*v), str_cmp);
    odin_map_fini(&seen);
    *out = v;
    *count = i;
    return 0;
}

int tsdb_querier_label_names(tsdb_querier *q, const tsdb_matcher *ms, size_t n,
                             const odin_str **out, size_t *count, odin_err *err)
{
    return collect_strings(q, NULL, ms, n, out, count, err);
}

int tsdb_querier_label_values(tsdb_querier *q, const char *name, const tsdb_matcher *ms, size_t n,
                              const odin_str **out, size_t *count, odin_err *err)
{
    return collect_strings(q, name, ms, n, out, count, err);
}

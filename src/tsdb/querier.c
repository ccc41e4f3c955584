/* The read door: series selection by matchers over the head's postings, sample iteration, and
 * label names/values. Results are sorted by label set, as Prometheus' Select(sorted=true). */
#include "tsdb/block.h"
#include "tsdb/db_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct tsdb_querier {
    tsdb *db;
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
    merged_series *series;
    size_t n;
    size_t pos; /* 1-based after the first next() */
};

struct tsdb_iter_state {
    int64_t *t;
    double *v;
    size_t n, pos;
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
    free(q);
}

static odin_str label_value(odin_labels ls, const char *name)
{
    const odin_str *v = odin_labels_get(ls, name);
    return v ? *v : (odin_str){"", 0};
}

static bool series_matches(const head_series *s, const tsdb_matcher *ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!tsdb_matcher_matches(&ms[i], label_value(s->labels, ms[i].name))) {
            return false;
        }
    }
    return true;
}

/* Sorted intersection of two ascending ref lists into out (which may alias a). */
static size_t intersect(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, uint64_t *out)
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

static int ref_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Refs of series whose label `m->name` matches m, by walking that name's values. */
static size_t regex_postings_locked(tsdb_querier *q, head *h, const tsdb_matcher *m, uint64_t **out)
{
    head_postings *vals = odin_map_get(&h->values, m->name, strlen(m->name));
    size_t total = 0, cap = 0;
    uint64_t *refs = NULL;
    odin_strbuf key;
    odin_strbuf_init(&key, 0);
    for (size_t i = 0; vals && i < vals->len; i++) {
        const char *v = (const char *)(uintptr_t)vals->refs[i];
        if (!tsdb_matcher_matches(m, odin_str_c(v))) {
            continue;
        }
        odin_strbuf_reset(&key);
        odin_strbuf_printf(&key, "%s\xff%s", m->name, v);
        head_postings *p = odin_map_get(&h->postings, key.p, key.len);
        if (!p) {
            continue;
        }
        if (total + p->len > cap) {
            size_t ncap = (total + p->len) * 2;
            uint64_t *nr = qalloc(q, ncap * sizeof(*nr));
            if (total) {
                memcpy(nr, refs, total * sizeof(*nr));
            }
            refs = nr;
            cap = ncap;
        }
        memcpy(refs + total, p->refs, p->len * sizeof(*refs));
        total += p->len;
    }
    odin_strbuf_fini(&key);
    if (total > 1) {
        qsort(refs, total, sizeof(*refs), ref_cmp);
    }
    *out = refs;
    return total;
}

static int series_cmp(const void *a, const void *b)
{
    const head_series *x = *(const head_series *const *)a;
    const head_series *y = *(const head_series *const *)b;
    return odin_labels_cmp(x->labels, y->labels);
}

/* Head series matching ms, sorted by labels. */
static head_series **head_select(tsdb_querier *q, const tsdb_matcher *ms, size_t n, size_t *count)
{
    head *h = &q->db->head;
    pthread_rwlock_rdlock(&h->map_lock);
    uint64_t *cand = NULL;
    size_t ncand = 0;
    bool have = false;
    for (size_t i = 0; i < n; i++) {
        const tsdb_matcher *m = &ms[i];
        if (tsdb_matcher_matches(m, (odin_str){"", 0})) {
            continue; /* matches absent labels: checked per series below */
        }
        uint64_t *refs;
        size_t nrefs;
        if (m->type == TSDB_MATCH_EQ) {
            odin_strbuf key;
            odin_strbuf_init(&key, 0);
            odin_strbuf_printf(&key, "%s\xff%s", m->name, m->value);
            head_postings *p = odin_map_get(&h->postings, key.p, key.len);
            odin_strbuf_fini(&key);
            refs = p ? p->refs : NULL;
            nrefs = p ? p->len : 0;
        } else {
            nrefs = regex_postings_locked(q, h, m, &refs);
        }
        if (!have) {
            cand = qalloc(q, (nrefs ? nrefs : 1) * sizeof(*cand));
            if (nrefs) {
                memcpy(cand, refs, nrefs * sizeof(*cand));
            }
            ncand = nrefs;
            have = true;
        } else {
            ncand = intersect(cand, ncand, refs, nrefs, cand);
        }
        if (ncand == 0) {
            break;
        }
    }
    head_series **out = qalloc(q, (ncand ? ncand : 1) * sizeof(*out));
    size_t k = 0;
    for (size_t i = 0; i < ncand; i++) {
        head_series *s = h->series[cand[i] - 1];
        if (series_matches(s, ms, n)) {
            out[k++] = s;
        }
    }
    pthread_rwlock_unlock(&h->map_lock);
    qsort(out, k, sizeof(*out), series_cmp);
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
    int c = odin_labels_cmp(x->labels, y->labels);
    if (c) {
        return c;
    }
    return (x->source > y->source) - (x->source < y->source);
}

static bool head_series_in_range(tsdb_querier *q, head_series *s)
{
    pthread_mutex_t *mu = &q->db->head.stripes[s->ref % HEAD_STRIPES];
    pthread_mutex_lock(mu);
    bool any = false;
    for (uint32_t i = 0; i < s->nchunks && !any; i++) {
        any = s->chunks[i].maxt >= q->mint && s->chunks[i].mint <= q->maxt;
    }
    if (!any && s->has_open) {
        any = s->last_t >= q->mint && s->open_mint <= q->maxt;
    }
    pthread_mutex_unlock(mu);
    return any;
}

tsdb_series_set *tsdb_querier_select(tsdb_querier *q, const tsdb_matcher *ms, size_t n,
                                     odin_err *err)
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
    size_t nhead = 0;
    head_series **hs = head_in_range(q) ? head_select(q, ms, n, &nhead) : NULL;
    block_series **bs = qalloc(q, (q->nblocks + 1) * sizeof(*bs));
    size_t *nbs = qalloc(q, (q->nblocks + 1) * sizeof(*nbs));
    size_t total = nhead;
    for (size_t b = 0; b < q->nblocks; b++) {
        int64_t end = q->maxt == INT64_MAX ? INT64_MAX : q->maxt + 1; /* exclusive */
        if (block_select(q->blocks[b], ms, n, q->mint, end, &q->arena, &bs[b], &nbs[b],
                         err) < 0) {
            return NULL;
        }
        total += nbs[b];
    }
    select_item *items = qalloc(q, (total ? total : 1) * sizeof(*items));
    size_t k = 0;
    for (size_t b = 0; b < q->nblocks; b++) {
        for (size_t i = 0; i < nbs[b]; i++) {
            items[k++] = (select_item){bs[b][i].labels, b, NULL, &bs[b][i]};
        }
    }
    for (size_t i = 0; i < nhead; i++) {
        if (head_series_in_range(q, hs[i])) {
            items[k++] = (select_item){hs[i]->labels, q->nblocks, hs[i], NULL};
        }
    }
    if (q->nblocks && k > 1) {
        qsort(items, k, sizeof(*items), item_cmp);
    }
    tsdb_series_set *set = qalloc(q, sizeof(*set));
    memset(set, 0, sizeof(*set));
    set->q = q;
    set->series = qalloc(q, (k ? k : 1) * sizeof(*set->series));
    for (size_t i = 0; i < k;) {
        size_t j = i, nch = 0;
        while (j < k && odin_labels_cmp(items[j].labels, items[i].labels) == 0) {
            nch += items[j].bs ? items[j].bs->nchunks : 0;
            j++;
        }
        merged_series *m = &set->series[set->n++];
        memset(m, 0, sizeof(*m));
        m->labels = items[i].labels;
        m->chunks = qalloc(q, (nch ? nch : 1) * sizeof(*m->chunks));
        for (size_t x = i; x < j; x++) {
            if (items[x].bs) {
                memcpy(m->chunks + m->nchunks, items[x].bs->chunks,
                       items[x].bs->nchunks * sizeof(*m->chunks));
                m->nchunks += items[x].bs->nchunks;
            } else {
                m->hs = items[x].hs;
            }
        }
        i = j;
    }
    return set;
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
    return s->series[s->pos - 1].labels;
}

static void decode_into(struct tsdb_iter_state *st, tsdb_querier *q, const uint8_t *b, size_t len,
                        size_t *cap)
{
    xor_iter it;
    xor_iter_init(&it, b, len);
    int64_t t;
    double v;
    while (xor_iter_next(&it, &t, &v)) {
        if (t < q->mint || t > q->maxt) {
            continue;
        }
        if (st->n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            int64_t *nt = qalloc(q, ncap * sizeof(*nt));
            double *nv = qalloc(q, ncap * sizeof(*nv));
            if (st->n) {
                memcpy(nt, st->t, st->n * sizeof(*nt));
                memcpy(nv, st->v, st->n * sizeof(*nv));
            }
            st->t = nt;
            st->v = nv;
            *cap = ncap;
        }
        st->t[st->n] = t;
        st->v[st->n] = v;
        st->n++;
    }
}

/* Decodes the series' samples in range once, under its stripe lock, so iteration never races
 * with appends that cut or grow chunks. */
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

void tsdb_series_iter(tsdb_series_set *s, tsdb_iter *it)
{
    tsdb_querier *q = s->q;
    merged_series *ms = &s->series[s->pos - 1];
    struct tsdb_iter_state *st = qalloc(q, sizeof(*st));
    memset(st, 0, sizeof(*st));
    size_t cap = 0;
    /* blocks first, then the head; order_samples merges whatever overlaps */
    for (size_t i = 0; i < ms->nchunks; i++) {
        decode_into(st, q, ms->chunks[i].b, ms->chunks[i].len, &cap);
    }
    it->st = st;
    head_series *hs = ms->hs;
    if (!hs) {
        order_samples(st);
        return;
    }
    head *h = &q->db->head;
    pthread_mutex_t *mu = &h->stripes[hs->ref % HEAD_STRIPES];
    pthread_mutex_lock(mu);
    for (uint32_t i = 0; i < hs->nchunks; i++) {
        const head_chunk *c = &hs->chunks[i];
        if (c->maxt < q->mint || c->mint > q->maxt) {
            continue;
        }
        decode_into(st, q, c->b, c->len, &cap);
    }
    if (hs->has_open && hs->last_t >= q->mint && hs->open_mint <= q->maxt) {
        decode_into(st, q, hs->open.b, hs->open.len, &cap);
    }
    pthread_mutex_unlock(mu);
    order_samples(st);
    it->st = st;
}

bool tsdb_iter_next(tsdb_iter *it, int64_t *t, double *v)
{
    struct tsdb_iter_state *st = it->st;
    if (!st || st->pos >= st->n) {
        return false;
    }
    *t = st->t[st->pos];
    *v = st->v[st->pos];
    st->pos++;
    return true;
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
    if (n) {
        tsdb_series_set *set = tsdb_querier_select(q, ms, n, err);
        if (!set) {
            odin_map_fini(&seen);
            return -ODIN_ERR_INVALID;
        }
        for (size_t i = 0; i < set->n; i++) {
            remember_labels(q, &seen, name, set->series[i].labels);
        }
    } else {
        head *h = &q->db->head;
        pthread_rwlock_rdlock(&h->map_lock);
        for (size_t i = 0; i < h->nseries; i++) {
            remember_labels(q, &seen, name, h->series[i]->labels);
        }
        pthread_rwlock_unlock(&h->map_lock);
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

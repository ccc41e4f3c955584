/* The read door: series selection by matchers over the head's postings, sample iteration, and
 * label names/values. Results are sorted by label set, as Prometheus' Select(sorted=true). */
#include "tsdb/db_int.h"

#include <stdlib.h>
#include <string.h>

struct tsdb_querier {
    tsdb *db;
    int64_t mint, maxt;
    odin_arena arena; /* everything handed out lives here until close */
};

struct tsdb_series_set {
    tsdb_querier *q;
    head_series **series;
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
    return q;
}

void tsdb_querier_close(tsdb_querier *q)
{
    if (!q) {
        return;
    }
    odin_arena_fini(&q->arena);
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
    tsdb_series_set *set = qalloc(q, sizeof(*set));
    memset(set, 0, sizeof(*set));
    set->q = q;
    set->series = qalloc(q, (ncand ? ncand : 1) * sizeof(*set->series));
    for (size_t i = 0; i < ncand; i++) {
        head_series *s = h->series[cand[i] - 1];
        if (series_matches(s, ms, n)) {
            set->series[set->n++] = s;
        }
    }
    pthread_rwlock_unlock(&h->map_lock);
    qsort(set->series, set->n, sizeof(*set->series), series_cmp);
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
    return s->series[s->pos - 1]->labels;
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
            size_t ncap = *cap ? *cap * 2 : 128;
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
void tsdb_series_iter(tsdb_series_set *s, tsdb_iter *it)
{
    tsdb_querier *q = s->q;
    head_series *hs = s->series[s->pos - 1];
    struct tsdb_iter_state *st = qalloc(q, sizeof(*st));
    memset(st, 0, sizeof(*st));
    size_t cap = 0;
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
static int collect_strings(tsdb_querier *q, const char *name, const tsdb_matcher *ms, size_t n,
                           const odin_str **out, size_t *count, odin_err *err)
{
    head *h = &q->db->head;
    odin_map seen;
    odin_map_init(&seen);
    pthread_rwlock_rdlock(&h->map_lock);
    bool all = n == 0;
    tsdb_series_set *set = NULL;
    if (!all) {
        pthread_rwlock_unlock(&h->map_lock);
        set = tsdb_querier_select(q, ms, n, err);
        if (!set) {
            odin_map_fini(&seen);
            return -ODIN_ERR_INVALID;
        }
        pthread_rwlock_rdlock(&h->map_lock);
    }
    size_t total = all ? h->nseries : set->n;
    for (size_t i = 0; i < total; i++) {
        const head_series *s = all ? h->series[i] : set->series[i];
        for (size_t k = 0; k < s->labels.len; k++) {
            const odin_label *l = &s->labels.v[k];
            odin_str pick = l->name;
            if (name) {
                if (!odin_str_eq_c(l->name, name)) {
                    continue;
                }
                pick = l->value;
            }
            if (!odin_map_get(&seen, pick.p, pick.len)) {
                odin_str *copy = qalloc(q, sizeof(*copy));
                *copy = pick; /* interned: lives as long as the head */
                odin_map_put(&seen, pick.p, pick.len, copy);
            }
        }
    }
    pthread_rwlock_unlock(&h->map_lock);
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

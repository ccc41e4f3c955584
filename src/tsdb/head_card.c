/* The head's cardinality for GET /api/v1/status/tsdb, from its postings (as Prometheus'
 * MemPostings.Stats): each label pair's postings length is its series count, so one pass over the
 * pairs gives every figure. Selecting series per label name and reading their labels instead
 * cost 7 s at a million series and faulted in the chunk files the selects walked.
 *
 * Only the top `limit` of each list is kept during the pass, in a heap whose root is the entry
 * ranked lowest (a head can hold millions of pairs, and the answer wants ten). */
#include "tsdb/db_int.h"

#include <stdlib.h>
#include <string.h>

/* An entry during the pass: borrowed interned text (alive while map_lock is held), b only for a
 * pair, shown as "a=b". */
typedef struct {
    const char *a, *b;
    uint32_t alen, blen;
    uint64_t n;
} card_item;

typedef struct {
    card_item *v;
    size_t len, cap;
} card_top;

/* Compares the names as shown ("a" or "a=b") byte by byte, without building them. */
static int item_name_cmp(const card_item *x, const card_item *y)
{
    const char *xs[3] = {x->a, "=", x->b}, *ys[3] = {y->a, "=", y->b};
    size_t xn[3] = {x->alen, x->b ? 1 : 0, x->blen}, yn[3] = {y->alen, y->b ? 1 : 0, y->blen};
    int i = 0, j = 0;
    size_t io = 0, jo = 0;
    for (;;) {
        while (i < 3 && io == xn[i]) {
            i++, io = 0;
        }
        while (j < 3 && jo == yn[j]) {
            j++, jo = 0;
        }
        if (i == 3 || j == 3) {
            return (i == 3 ? 0 : 1) - (j == 3 ? 0 : 1);
        }
        unsigned char cx = (unsigned char)xs[i][io++], cy = (unsigned char)ys[j][jo++];
        if (cx != cy) {
            return cx < cy ? -1 : 1;
        }
    }
}

/* True when x ranks below y: a smaller count, or an equal one and a later name. */
static bool ranks_below(const card_item *x, const card_item *y)
{
    if (x->n != y->n) {
        return x->n < y->n;
    }
    return item_name_cmp(x, y) > 0;
}

static void sift_down(card_top *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, low = i;
        if (l < t->len && ranks_below(&t->v[l], &t->v[low])) {
            low = l;
        }
        if (r < t->len && ranks_below(&t->v[r], &t->v[low])) {
            low = r;
        }
        if (low == i) {
            return;
        }
        card_item tmp = t->v[i];
        t->v[i] = t->v[low];
        t->v[low] = tmp;
        i = low;
    }
}

static void top_push(card_top *t, card_item it)
{
    if (t->cap == 0) {
        return;
    }
    if (t->len < t->cap) {
        size_t i = t->len++;
        t->v[i] = it;
        while (i > 0) {
            size_t parent = (i - 1) / 2;
            if (!ranks_below(&t->v[i], &t->v[parent])) {
                break;
            }
            card_item tmp = t->v[i];
            t->v[i] = t->v[parent];
            t->v[parent] = tmp;
            i = parent;
        }
        return;
    }
    if (ranks_below(&t->v[0], &it)) {
        t->v[0] = it;
        sift_down(t, 0);
    }
}

static int rank_desc(const void *x, const void *y)
{
    if (ranks_below(x, y)) {
        return 1;
    }
    return ranks_below(y, x) ? -1 : 0;
}

/* Sorts the kept entries best first and copies their names out of the head. */
static void top_finish(card_top *t, tsdb_card_list *out)
{
    qsort(t->v, t->len, sizeof(*t->v), rank_desc);
    out->len = t->len;
    out->v = odin_calloc(t->len ? t->len : 1, sizeof(*out->v));
    for (size_t i = 0; i < t->len; i++) {
        const card_item *it = &t->v[i];
        size_t n = it->alen + (it->b ? 1 + (size_t)it->blen : 0);
        char *s = odin_malloc(n + 1);
        memcpy(s, it->a, it->alen);
        if (it->b) {
            s[it->alen] = '=';
            memcpy(s + it->alen + 1, it->b, it->blen);
        }
        s[n] = '\0';
        out->v[i] = (tsdb_card_entry){s, it->n};
    }
    free(t->v);
}

/* Per label name: distinct values with series, and their bytes times series. */
typedef struct {
    const char *name;
    uint32_t len;
    uint64_t values, bytes;
} card_name;

void tsdb_head_card_stats(tsdb *db, const char *metric_label, size_t limit, tsdb_card_stats *out)
{
    memset(out, 0, sizeof(*out));
    card_top metrics = {0}, names = {0}, memory = {0}, pairs = {0};
    card_top *tops[] = {&metrics, &names, &memory, &pairs};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(tops); i++) {
        tops[i]->cap = limit;
        tops[i]->v = odin_calloc(limit ? limit : 1, sizeof(card_item));
    }
    size_t mlen = strlen(metric_label);
    card_name *per = NULL;
    size_t nper = 0, cap_per = 0;
    odin_map by_name; /* name text -> index + 1 into per */
    odin_map_init(&by_name);

    head *h = &db->head;
    pthread_rwlock_rdlock(&h->map_lock);
    size_t pos = 0;
    const void *key;
    size_t klen;
    void *val;
    while (odin_map_next(&h->postings, &pos, &key, &klen, &val)) {
        const head_postings *p = val;
        if (p->len == 0) {
            continue; /* emptied, waiting for head_gc */
        }
        uint32_t nlen = head_sym_of(p->name)->len, vlen = head_sym_of(p->value)->len;
        size_t at = (uintptr_t)odin_map_get(&by_name, p->name, nlen);
        if (at == 0) {
            if (nper == cap_per) {
                cap_per = cap_per ? cap_per * 2 : 32;
                per = odin_realloc(per, cap_per * sizeof(*per));
            }
            per[nper++] = (card_name){p->name, nlen, 0, 0};
            at = nper;
            odin_map_put(&by_name, p->name, nlen, (void *)(uintptr_t)at);
        }
        card_name *cn = &per[at - 1];
        cn->values++;
        cn->bytes += (uint64_t)vlen * p->len;
        out->num_label_pairs++;
        top_push(&pairs, (card_item){p->name, p->value, nlen, vlen, p->len});
        if (nlen == mlen && memcmp(p->name, metric_label, mlen) == 0) {
            top_push(&metrics, (card_item){p->value, NULL, vlen, 0, p->len});
        }
    }
    for (size_t i = 0; i < nper; i++) {
        top_push(&names, (card_item){per[i].name, NULL, per[i].len, 0, per[i].values});
        top_push(&memory, (card_item){per[i].name, NULL, per[i].len, 0, per[i].bytes});
    }
    /* the names are copied out before the lock goes: head_gc may free the symbols after it */
    top_finish(&metrics, &out->metrics);
    top_finish(&names, &out->names);
    top_finish(&memory, &out->memory);
    top_finish(&pairs, &out->pairs);
    pthread_rwlock_unlock(&h->map_lock);
    odin_map_fini(&by_name);
    free(per);
}

static void list_fini(tsdb_card_list *l)
{
    for (size_t i = 0; i < l->len; i++) {
        free(l->v[i].name);
    }
    free(l->v);
    l->v = NULL;
    l->len = 0;
}

void tsdb_card_stats_fini(tsdb_card_stats *s)
{
    list_fini(&s->metrics);
    list_fini(&s->names);
    list_fini(&s->memory);
    list_fini(&s->pairs);
}

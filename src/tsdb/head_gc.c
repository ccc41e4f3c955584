/* Removing series that hold no samples any more (Prometheus' head GC), and freeing them only once
 * nobody can still be looking at them.
 *
 * Without this the head keeps every series it ever saw: in a cluster whose pods come and go, each
 * pod's series live on (struct, labels, postings, symbols) long after their last sample left in a
 * block. head_gc runs after a head truncation and unlinks every series without chunks from all of
 * the head's indexes in one map_lock write section. Queriers and appenders may still hold pointers
 * to such a series (or label strings of it) taken before; so its memory goes into a batch tagged
 * with the current epoch, and a batch is freed when every reader that entered at or before that
 * epoch has exited. Readers are few and long-lived compared to a lock (a query, a scrape's
 * appender), so a mutex-guarded table of counts per epoch is enough. */
#include "tsdb/head.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Readers that entered at one epoch, still open. The table is kept sorted by epoch (entries are
 * appended at the current epoch, which only grows), so the oldest is first. */
struct head_reader_count {
    uint64_t epoch;
    size_t n;
};

/* What one head_gc unlinked, freed once no reader of `epoch` or older is left. */
struct head_zombies {
    uint64_t epoch;
    head_series **series;
    size_t nseries;
    head_sym **syms;
    size_t nsyms, cap_syms;
    head_postings **posts; /* emptied lists: the series above point at them as labels */
    size_t nposts, cap_posts;
    void **pages; /* ref pages left with no series (head_by_ref may still be reading them) */
    size_t npages, cap_pages;
};

static void free_zombies(head *h, struct head_zombies *z)
{
    for (size_t i = 0; i < z->nseries; i++) {
        head_series *s = z->series[i];
        if (s->has_open) {
            head_open_free(h, s);
            atomic_fetch_add(&h->chunks_removed, 1);
        }
        free(s);
    }
    for (size_t i = 0; i < z->nsyms; i++) {
        free(z->syms[i]);
    }
    for (size_t i = 0; i < z->npages; i++) {
        free(z->pages[i]);
    }
    for (size_t i = 0; i < z->nposts; i++) {
        /* its number is free for a new pair from the next head_gc on (free_pairs is map_lock's) */
        uint32_t id = z->posts[i]->id;
        _Atomic(head_postings *) *slots =
            atomic_load_explicit(&h->pair_pages[id >> HEAD_PAGE_BITS], memory_order_relaxed);
        atomic_store_explicit(&slots[id & (HEAD_PAGE_SLOTS - 1)], NULL, memory_order_relaxed);
        if (h->nfreed_pairs == h->cap_freed_pairs) {
            h->cap_freed_pairs = h->cap_freed_pairs ? h->cap_freed_pairs * 2 : 64;
            h->freed_pairs =
                odin_realloc(h->freed_pairs, h->cap_freed_pairs * sizeof(*h->freed_pairs));
        }
        h->freed_pairs[h->nfreed_pairs++] = id;
        free(z->posts[i]);
    }
    free(z->posts);
    free(z->series);
    free(z->syms);
    free(z->pages);
}

/* With gc_mu held: frees the batches no open reader can reach. */
static void reclaim_locked(head *h)
{
    uint64_t oldest = h->nreaders ? h->readers[0].epoch : UINT64_MAX;
    size_t w = 0;
    for (size_t i = 0; i < h->nzombies; i++) {
        if (h->zombies[i].epoch < oldest) {
            free_zombies(h, &h->zombies[i]);
        } else {
            h->zombies[w++] = h->zombies[i];
        }
    }
    h->nzombies = w;
}

uint64_t head_reader_enter(head *h)
{
    pthread_mutex_lock(&h->gc_mu);
    uint64_t e = h->gc_epoch;
    if (h->nreaders && h->readers[h->nreaders - 1].epoch == e) {
        h->readers[h->nreaders - 1].n++;
    } else {
        if (h->nreaders == h->cap_readers) {
            h->cap_readers = h->cap_readers ? h->cap_readers * 2 : 8;
            h->readers = odin_realloc(h->readers, h->cap_readers * sizeof(*h->readers));
        }
        h->readers[h->nreaders++] = (struct head_reader_count){e, 1};
    }
    pthread_mutex_unlock(&h->gc_mu);
    return e;
}

void head_reader_exit(head *h, uint64_t token)
{
    pthread_mutex_lock(&h->gc_mu);
    for (size_t i = 0; i < h->nreaders; i++) {
        if (h->readers[i].epoch == token) {
            if (--h->readers[i].n == 0) {
                memmove(&h->readers[i], &h->readers[i + 1],
                        (h->nreaders - i - 1) * sizeof(*h->readers));
                h->nreaders--;
                if (i == 0 && h->nzombies) {
                    reclaim_locked(h);
                }
            }
            break;
        }
    }
    pthread_mutex_unlock(&h->gc_mu);
}

void head_gc_fini(head *h)
{
    for (size_t i = 0; i < h->nzombies; i++) {
        free_zombies(h, &h->zombies[i]);
    }
    free(h->zombies);
    free(h->readers);
    free(h->freed_pairs);
    h->freed_pairs = NULL;
    h->nfreed_pairs = h->cap_freed_pairs = 0;
    h->zombies = NULL;
    h->readers = NULL;
    h->nzombies = h->nreaders = 0;
    pthread_mutex_destroy(&h->gc_mu);
}

/* ---- Unlinking (map_lock held for writing) ---- */

static void sym_release_locked(head *h, struct head_zombies *z, head_sym *sym)
{
    if (--sym->refs > 0) {
        return;
    }
    odin_map_del(&h->symbols, sym->s, sym->len);
    if (z->nsyms == z->cap_syms) {
        z->cap_syms = z->cap_syms ? z->cap_syms * 2 : 64;
        z->syms = odin_realloc(z->syms, z->cap_syms * sizeof(*z->syms));
    }
    z->syms[z->nsyms++] = sym;
}

static bool bit_test(const uint64_t *bits, uint64_t r)
{
    return (bits[r / 64] >> (r % 64)) & 1;
}

/* Drops the refs flagged in `dead` from p, giving back room once it is mostly empty. */
static void postings_filter(head_postings *p, const uint64_t *dead)
{
    size_t w = 0;
    for (size_t i = 0; i < p->len; i++) {
        if (!bit_test(dead, p->refs[i])) {
            p->refs[w++] = p->refs[i];
        }
    }
    p->len = w;
    if (w && p->cap > 16 && w < p->cap / 4) {
        p->cap = w * 2;
        p->refs = odin_realloc(p->refs, (size_t)p->cap * sizeof(*p->refs));
    }
}

/* One postings list a removed series was in; `key` is its interned "name\xffvalue". */
typedef struct {
    head_postings *p;
    head_sym *key, *name, *value;
} dirty_list;

/* Filters every list touched by a removed series once; lists left empty go with their key, their
 * value's entry in `values`, and that name's entry when it was the last value. */
static void fix_postings_locked(head *h, struct head_zombies *z, odin_map *dirty,
                                const uint64_t *dead)
{
    size_t pos = 0, kl;
    const void *k;
    void *v;
    while (odin_map_next(dirty, &pos, &k, &kl, &v)) {
        dirty_list *d = v;
        postings_filter(d->p, dead);
        if (d->p->len == 0) {
            odin_map_del(&h->postings, d->key->s, d->key->len);
            free(d->p->refs);
            d->p->refs = NULL;
            /* removed series point at it as their label: it goes with them */
            if (z->nposts == z->cap_posts) {
                z->cap_posts = z->cap_posts ? z->cap_posts * 2 : 64;
                z->posts = odin_realloc(z->posts, z->cap_posts * sizeof(*z->posts));
            }
            z->posts[z->nposts++] = d->p;
            head_values *vals = odin_map_get(&h->values, d->name->s, d->name->len);
            if (vals) {
                for (size_t i = 0; i < vals->len; i++) {
                    if (vals->v[i] == d->value->s) {
                        vals->v[i] = vals->v[--vals->len];
                        sym_release_locked(h, z, d->value);
                        break;
                    }
                }
                if (vals->len == 0) {
                    odin_map_del(&h->values, d->name->s, d->name->len);
                    free(vals->v);
                    free(vals);
                    sym_release_locked(h, z, d->name);
                }
            }
            sym_release_locked(h, z, d->key);
        }
        free(d);
    }
}

/* Notes the postings lists of s's labels in `dirty` (once each). */
static void note_postings_locked(head *h, head_series *s, odin_map *dirty, odin_strbuf *key)
{
    for (size_t i = 0; i < s->nlabels; i++) {
        const head_postings *pair = head_pair(h, s->labels[i]);
        const odin_label lab = {head_sym_str(pair->name), head_sym_str(pair->value)};
        const odin_label *l = &lab;
        odin_strbuf_reset(key);
        odin_strbuf_putstr(key, l->name);
        odin_strbuf_putc(key, '\xff');
        odin_strbuf_putstr(key, l->value);
        head_sym *ks = odin_map_get(&h->symbols, key->p, key->len);
        if (ks == NULL || odin_map_get(dirty, ks->s, ks->len)) {
            continue;
        }
        head_postings *p = odin_map_get(&h->postings, ks->s, ks->len);
        if (p == NULL) {
            continue;
        }
        dirty_list *d = odin_malloc(sizeof(*d));
        *d = (dirty_list){p, ks, head_sym_of(l->name.p), head_sym_of(l->value.p)};
        /* the key text outlives the entry: its symbol is at most moved to the zombies */
        odin_map_put(dirty, ks->s, ks->len, d);
    }
}

static void clear_page_slot(head *h, uint64_t ref)
{
    size_t idx = (size_t)(ref - 1), page = idx >> HEAD_PAGE_BITS;
    _Atomic(head_series *) *slots = atomic_load_explicit(&h->pages[page], memory_order_relaxed);
    if (slots) {
        atomic_store_explicit(&slots[idx & (HEAD_PAGE_SLOTS - 1)], NULL, memory_order_release);
    }
}

/* A page of refs that are all handed out (new refs go to later pages) and whose series are all
 * removed goes into the batch: 32 KiB per 4096 series gone. */
static void free_empty_page_locked(head *h, struct head_zombies *z, size_t page)
{
    if (page >= (h->nseries >> HEAD_PAGE_BITS)) {
        return; /* still being filled */
    }
    _Atomic(head_series *) *slots = atomic_load_explicit(&h->pages[page], memory_order_relaxed);
    if (slots == NULL) {
        return;
    }
    for (size_t i = 0; i < HEAD_PAGE_SLOTS; i++) {
        if (atomic_load_explicit(&slots[i], memory_order_relaxed) != NULL) {
            return;
        }
    }
    atomic_store_explicit(&h->pages[page], NULL, memory_order_release);
    if (z->npages == z->cap_pages) {
        z->cap_pages = z->cap_pages ? z->cap_pages * 2 : 8;
        z->pages = odin_realloc(z->pages, z->cap_pages * sizeof(*z->pages));
    }
    z->pages[z->npages++] = (void *)slots;
}

/* The numbers of pairs freed since the last head_gc, into free_pairs (with map_lock held for
 * writing; taken from gc_mu's list first, as gc_mu is never held with another head lock). */
static void reuse_pair_numbers(head *h, uint32_t *ids, size_t n)
{
    if (h->nfree_pairs + n > h->cap_free_pairs) {
        h->cap_free_pairs = h->nfree_pairs + n + 64;
        h->free_pairs = odin_realloc(h->free_pairs, h->cap_free_pairs * sizeof(*h->free_pairs));
    }
    if (n > 0) {
        memcpy(h->free_pairs + h->nfree_pairs, ids, n * sizeof(*ids));
    }
    h->nfree_pairs += n;
}

size_t head_gc(head *h)
{
    struct head_zombies z = {0};
    size_t cap = 0;
    pthread_mutex_lock(&h->gc_mu);
    uint32_t *freed = h->freed_pairs;
    size_t nfreed = h->nfreed_pairs;
    h->freed_pairs = NULL;
    h->nfreed_pairs = h->cap_freed_pairs = 0;
    pthread_mutex_unlock(&h->gc_mu);
    pthread_rwlock_wrlock(&h->map_lock);
    reuse_pair_numbers(h, freed, nfreed);
    free(freed);
    uint64_t *dead = NULL;
    for (size_t i = 0; i < h->nseries; i++) {
        head_series *s = head_slot_locked(h, i);
        if (s == NULL) {
            continue;
        }
        pthread_mutex_t *mu = head_stripe(h, s->ref);
        pthread_mutex_lock(mu);
        bool empty = s->nchunks == 0 && !s->has_open;
        if (empty) {
            s->removed = true;
        }
        pthread_mutex_unlock(mu);
        if (!empty) {
            continue;
        }
        if (dead == NULL) {
            dead = odin_calloc(h->nseries / 64 + 2, sizeof(*dead));
        }
        dead[s->ref / 64] |= UINT64_C(1) << (s->ref % 64);
        if (z.nseries == cap) {
            cap = cap ? cap * 2 : 64;
            z.series = odin_realloc(z.series, cap * sizeof(*z.series));
        }
        z.series[z.nseries++] = s;
        clear_page_slot(h, s->ref);
        head_table_remove_locked(h, s);
    }
    /* removed series are in ref order: each page they were on is checked once */
    size_t last_page = SIZE_MAX;
    for (size_t i = 0; i < z.nseries; i++) {
        size_t page = (size_t)(z.series[i]->ref - 1) >> HEAD_PAGE_BITS;
        if (page != last_page) {
            free_empty_page_locked(h, &z, page);
            last_page = page;
        }
    }
    if (z.nseries == 0) {
        pthread_rwlock_unlock(&h->map_lock);
        return 0;
    }
    odin_map dirty;
    odin_map_init(&dirty);
    odin_strbuf key;
    odin_strbuf_init(&key, 0);
    for (size_t i = 0; i < z.nseries; i++) {
        note_postings_locked(h, z.series[i], &dirty, &key);
    }
    odin_strbuf_fini(&key);
    fix_postings_locked(h, &z, &dirty, dead);
    odin_map_fini(&dirty);
    postings_filter(&h->all, dead);
    h->nlive -= z.nseries;
    pthread_rwlock_unlock(&h->map_lock);
    free(dead);
    atomic_fetch_add(&h->series_removed, z.nseries);
    size_t removed = z.nseries;
    /* readers entered from now on cannot reach the batch: they find the indexes without it */
    pthread_mutex_lock(&h->gc_mu);
    z.epoch = h->gc_epoch++;
    if (h->nzombies == h->cap_zombies) {
        h->cap_zombies = h->cap_zombies ? h->cap_zombies * 2 : 4;
        h->zombies = odin_realloc(h->zombies, h->cap_zombies * sizeof(*h->zombies));
    }
    h->zombies[h->nzombies++] = z;
    reclaim_locked(h);
    pthread_mutex_unlock(&h->gc_mu);
    return removed;
}

head_series *head_resolve_removed(head *h, head_series *s, bool *created)
{
    head_labels_buf b = {0};
    head_series *r = head_get_or_create(h, head_series_labels(h, s, &b), created);
    head_labels_buf_fini(&b);
    return r;
}

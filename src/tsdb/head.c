/* The head: series registry, interned symbols, postings, and chunk cutting as Prometheus does it
 * (about 120 samples a chunk, never across a chunk-range boundary), so on-disk blocks cut from it
 * compress like Prometheus' own. */
#include "tsdb/head.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { SAMPLES_PER_CHUNK = HEAD_SAMPLES_PER_CHUNK };

/* The series struct is the head's fixed cost per series (its labels follow it in one allocation,
 * malloc rounds to 16 bytes with an 8-byte header): keep it at 104 on 64-bit targets. */
_Static_assert(sizeof(void *) != 8 || sizeof(head_series) == 80, "head_series grew");

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    return odin_hash_stable(p, n, h * 0x9E3779B97F4A7C15ULL + 1);
}

uint64_t head_labels_hash(odin_labels ls)
{
    uint64_t h = 0x243F6A8885A308D3ULL;
    for (size_t i = 0; i < ls.len; i++) {
        h = mix(h, ls.v[i].name.p, ls.v[i].name.len);
        h = mix(h, ls.v[i].value.p, ls.v[i].value.len);
    }
    return h;
}

/* A page directory: HEAD_PAGES pointers (8 MiB), zero, mapped rather than calloc'd so that only
 * the pages of it in use are ever touched, whatever malloc's mmap threshold has become (calloc
 * from the heap clears all of it), and a sanitizer's allocator does not clear it either. */
static void *directory_new(void)
{
    void *p = mmap(NULL, (size_t)HEAD_PAGES * sizeof(void *), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        odin_oom();
    }
    return p;
}

static void directory_free(void *p)
{
    munmap(p, (size_t)HEAD_PAGES * sizeof(void *));
}

void head_init(head *h, int64_t chunk_range_ms)
{
    memset(h, 0, sizeof(*h));
    h->chunk_range_ms = chunk_range_ms;
    h->pages = directory_new();
    h->pair_pages = directory_new();
    pthread_rwlock_init(&h->map_lock, NULL);
    odin_map_init(&h->symbols);
    odin_map_init(&h->postings);
    odin_map_init(&h->values);
    for (int i = 0; i < HEAD_STRIPES; i++) {
        pthread_mutex_init(&h->stripes[i], NULL);
    }
    pthread_mutex_init(&h->gc_mu, NULL);
    atomic_store(&h->min_t, INT64_MAX);
    atomic_store(&h->max_t, INT64_MIN);
}

enum map_kind { MAP_POSTINGS, MAP_VALUES, MAP_SYMBOLS };

static void free_map_values(odin_map *m, enum map_kind kind)
{
    size_t pos = 0, kl;
    const void *k;
    void *v;
    while (odin_map_next(m, &pos, &k, &kl, &v)) {
        if (kind == MAP_POSTINGS) {
            free(((head_postings *)v)->refs);
        } else if (kind == MAP_VALUES) {
            free(((head_values *)v)->v);
        }
        free(v);
    }
    odin_map_fini(m);
}

int head_open_chunk_files(head *h, const char *dir, odin_err *err)
{
    h->cf = head_chunk_files_open(dir, err);
    return h->cf ? 0 : -ODIN_ERR_IO;
}

void head_chunk_prefix_put(uint8_t *p, const uint8_t *prev, int64_t mint, int64_t maxt,
                           uint32_t len)
{
    memcpy(p, &prev, 8);
    uint64_t w = tsdb_be64((uint64_t)mint);
    memcpy(p + 8, &w, 8);
    w = tsdb_be64((uint64_t)maxt);
    memcpy(p + 16, &w, 8);
    p[24] = (uint8_t)(len >> 24);
    p[25] = (uint8_t)(len >> 16);
    p[26] = (uint8_t)(len >> 8);
    p[27] = (uint8_t)len;
}

head_chunk head_chunk_heap(const uint8_t *prev, int64_t mint, int64_t maxt, const uint8_t *data,
                           uint32_t len)
{
    uint8_t *p = odin_malloc(HEAD_CHUNK_PREFIX + (size_t)len);
    head_chunk_prefix_put(p, prev, mint, maxt, len);
    memcpy(p + HEAD_CHUNK_PREFIX, data, len);
    return (head_chunk){mint, p + HEAD_CHUNK_PREFIX};
}

size_t head_series_chunk_list(const head_series *s, head_chunk *out)
{
    uint8_t *b = s->last;
    for (uint32_t k = s->nchunks; k-- > 0;) {
        out[k] = head_chunk_at(b);
        b = k > 0 ? head_chunk_prev(&out[k]) : NULL;
    }
    return s->nchunks;
}

size_t head_series_chunks_overlapping(const head_series *s, int64_t mint, int64_t maxt,
                                      head_chunk *out)
{
    size_t n = 0;
    /* chunks are in time order and do not overlap (appends are in order, deletes only drop
     * samples): each ends before the one after it starts */
    int64_t bound = s->has_open ? s->open_mint - 1 : INT64_MAX;
    uint8_t *b = s->last;
    for (uint32_t k = 0; k < s->nchunks && bound >= mint; k++) {
        head_chunk c = head_chunk_at(b);
        if (c.mint <= maxt && head_chunk_maxt(&c) >= mint) {
            if (out == NULL) {
                return 1;
            }
            out[n++] = c;
        }
        bound = c.mint - 1;
        b = k + 1 < s->nchunks ? head_chunk_prev(&c) : NULL;
    }
    return n;
}

void head_chunk_heap_free(uint8_t *b)
{
    if (b) {
        free(b - HEAD_CHUNK_PREFIX);
    }
}

void head_chunk_free(head *h, const head_chunk *c)
{
    if (!head_chunk_files_drop(h->cf, c->b)) {
        head_chunk_heap_free(c->b);
    }
}

void head_fini(head *h)
{
    for (size_t i = 0; i < h->nseries; i++) {
        head_series *s = head_slot_locked(h, i);
        if (s == NULL) {
            continue; /* removed: freed with the zombies below */
        }
        uint8_t *b = s->last;
        for (uint32_t k = 0; k < s->nchunks; k++) {
            head_chunk c = {0, b};
            b = k + 1 < s->nchunks ? head_chunk_prev(&c) : NULL;
            head_chunk_free(h, &c);
        }
        if (s->has_open) {
            head_open_free(h, s);
        }
        free(s); /* the label array with it */
    }
    head_chunk_files_close(h->cf); /* the files with every mapped chunk */
    h->cf = NULL;
    for (size_t p = 0; p <= (h->nseries >> HEAD_PAGE_BITS) && p < HEAD_PAGES; p++) {
        free((void *)atomic_load_explicit(&h->pages[p], memory_order_relaxed));
    }
    directory_free((void *)h->pages);
    free(h->all.refs);
    free(h->table);
    free_map_values(&h->postings, MAP_POSTINGS);
    free_map_values(&h->values, MAP_VALUES);
    free_map_values(&h->symbols, MAP_SYMBOLS);
    pthread_rwlock_destroy(&h->map_lock);
    for (int i = 0; i < HEAD_STRIPES; i++) {
        pthread_mutex_destroy(&h->stripes[i]);
    }
    head_gc_fini(h); /* the batches' pairs leave their pages */
    for (size_t p = 0; p <= (h->npairs >> HEAD_PAGE_BITS) && p < HEAD_PAGES; p++) {
        free((void *)atomic_load_explicit(&h->pair_pages[p], memory_order_relaxed));
    }
    directory_free((void *)h->pair_pages);
    free(h->free_pairs);
}

/* Takes one reference on the symbol for s, making it on first use. */
static odin_str intern_locked(head *h, odin_str s)
{
    head_sym *sym = odin_map_get(&h->symbols, s.p, s.len);
    if (!sym) {
        sym = odin_malloc(sizeof(*sym) + s.len + 1);
        sym->len = (uint32_t)s.len;
        sym->refs = 0;
        memcpy(sym->s, s.p, s.len);
        sym->s[s.len] = '\0';
        odin_map_put(&h->symbols, sym->s, sym->len, sym);
    }
    sym->refs++;
    return (odin_str){sym->s, sym->len};
}

static void postings_add(head_postings *p, uint64_t ref)
{
    if (p->len == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->refs = odin_realloc(p->refs, (size_t)p->cap * sizeof(*p->refs));
    }
    p->refs[p->len++] = (uint32_t)ref;
}

static void values_add(head_values *vals, const char *v)
{
    if (vals->len == vals->cap) {
        vals->cap = vals->cap ? vals->cap * 2 : 4;
        vals->v = odin_realloc(vals->v, vals->cap * sizeof(*vals->v));
    }
    vals->v[vals->len++] = v;
}

/* Gives a new pair its number (a freed one first) and publishes it in the pair pages. */
static void pair_number_locked(head *h, head_postings *p)
{
    uint32_t id;
    if (h->nfree_pairs > 0) {
        id = h->free_pairs[--h->nfree_pairs];
    } else {
        if (h->npairs == UINT32_MAX) {
            odin_oom(); /* 4 billion label pairs at once: memory ran out long before */
        }
        id = h->npairs++;
    }
    size_t page = id >> HEAD_PAGE_BITS;
    _Atomic(head_postings *) *slots =
        atomic_load_explicit(&h->pair_pages[page], memory_order_relaxed);
    if (slots == NULL) {
        slots = odin_calloc(HEAD_PAGE_SLOTS, sizeof(*slots));
        atomic_store_explicit(&h->pair_pages[page], slots, memory_order_release);
    }
    p->id = id;
    atomic_store_explicit(&slots[id & (HEAD_PAGE_SLOTS - 1)], p, memory_order_release);
}

/* The postings list (and pair) of name=value, made on first use. Postings keys are
 * "name\xffvalue": 0xff never occurs in UTF-8 text. A new pair takes a reference on its key, its
 * value (for the values index) and, for a new name, on the name (the values index's key);
 * head_gc gives them back when the list empties. */
static head_postings *pair_locked(head *h, odin_label l, odin_strbuf *key)
{
    odin_strbuf_reset(key);
    odin_strbuf_putstr(key, l.name);
    odin_strbuf_putc(key, '\xff');
    odin_strbuf_putstr(key, l.value);
    head_postings *p = odin_map_get(&h->postings, key->p, key->len);
    if (p) {
        return p;
    }
    p = odin_calloc(1, sizeof(*p));
    pair_number_locked(h, p);
    /* the key must outlive the map entry: intern it like any symbol */
    odin_str k = intern_locked(h, (odin_str){key->p, key->len});
    odin_map_put(&h->postings, k.p, k.len, p);
    odin_str name = intern_locked(h, l.name);
    head_values *vals = odin_map_get(&h->values, name.p, name.len);
    if (!vals) {
        vals = odin_calloc(1, sizeof(*vals));
        odin_map_put(&h->values, name.p, name.len, vals); /* keeps the reference taken */
    } else {
        head_sym_of(name.p)->refs--; /* the values entry holds one already */
    }
    p->name = name.p;
    p->value = intern_locked(h, l.value).p; /* held by the values list */
    values_add(vals, p->value);
    return p;
}

/* Fills s's labels from ls with the pairs, adding s to each pair's list and to `all`. */
static void index_series_locked(head *h, head_series *s, odin_labels ls)
{
    odin_strbuf key;
    odin_strbuf_init(&key, 0);
    for (size_t i = 0; i < ls.len; i++) {
        head_postings *p = pair_locked(h, ls.v[i], &key);
        s->labels[i] = p->id;
        postings_add(p, s->ref);
    }
    postings_add(&h->all, s->ref);
    odin_strbuf_fini(&key);
}

static void fill_labels(const head *h, const head_series *s, odin_label *v)
{
    for (size_t i = 0; i < s->nlabels; i++) {
        const head_postings *p = head_pair(h, s->labels[i]);
        v[i] = (odin_label){head_sym_str(p->name), head_sym_str(p->value)};
    }
}

odin_labels head_series_labels(const head *h, const head_series *s, head_labels_buf *b)
{
    size_t n = s->nlabels;
    if (n > b->cap) {
        b->cap = n;
        b->v = odin_realloc(b->v, n * sizeof(*b->v));
    }
    fill_labels(h, s, b->v);
    return (odin_labels){b->v, n};
}

odin_labels head_series_labels_arena(const head *h, const head_series *s, odin_arena *a)
{
    size_t n = s->nlabels;
    odin_label *v = odin_arena_alloc(a, n ? n * sizeof(*v) : 1);
    if (v == NULL) {
        return (odin_labels){NULL, 0};
    }
    fill_labels(h, s, v);
    return (odin_labels){v, n};
}

void head_labels_buf_fini(head_labels_buf *b)
{
    free(b->v);
    b->v = NULL;
    b->cap = 0;
}

bool head_series_label_get(const head *h, const head_series *s, const char *name, odin_str *v)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < s->nlabels; i++) {
        const head_postings *p = head_pair(h, s->labels[i]);
        const char *n = p->name;
        if (head_sym_of(n)->len == nlen && memcmp(n, name, nlen) == 0) {
            *v = head_sym_str(p->value);
            return true;
        }
    }
    *v = (odin_str){"", 0};
    return false;
}

/* Whether s's labels are ls (sorted, as given to head_get_or_create). */
static bool labels_equal(const head *h, const head_series *s, odin_labels ls)
{
    if (s->nlabels != ls.len) {
        return false;
    }
    for (size_t i = 0; i < ls.len; i++) {
        const head_postings *p = head_pair(h, s->labels[i]);
        const char *n = p->name, *v = p->value;
        if (head_sym_of(n)->len != ls.v[i].name.len || head_sym_of(v)->len != ls.v[i].value.len ||
            memcmp(n, ls.v[i].name.p, ls.v[i].name.len) != 0 ||
            memcmp(v, ls.v[i].value.p, ls.v[i].value.len) != 0) {
            return false;
        }
    }
    return true;
}

/* ---- the labels-hash table ---- */

struct head_table_slot {
    uint32_t ref; /* 0: empty */
    uint32_t hash;
};

/* s's labels hash, as head_labels_hash gives for its label set (the table keeps only 32 bits) */
static uint64_t series_hash(const head *hd, const head_series *s)
{
    uint64_t h = 0x243F6A8885A308D3ULL;
    for (size_t i = 0; i < s->nlabels; i++) {
        const head_postings *p = head_pair(hd, s->labels[i]);
        h = mix(h, p->name, head_sym_of(p->name)->len);
        h = mix(h, p->value, head_sym_of(p->value)->len);
    }
    return h;
}

static head_series *lookup_locked(head *h, odin_labels ls, uint64_t hash)
{
    if (h->table_cap == 0) {
        return NULL;
    }
    size_t mask = h->table_cap - 1;
    uint32_t tag = (uint32_t)hash;
    for (size_t i = tag & mask;; i = (i + 1) & mask) {
        struct head_table_slot e = h->table[i];
        if (e.ref == 0) {
            return NULL;
        }
        if (e.hash == tag) {
            head_series *s = head_slot_locked(h, e.ref - 1);
            if (s != NULL && labels_equal(h, s, ls)) {
                return s;
            }
        }
    }
}

static void table_place(struct head_table_slot *slots, size_t cap, struct head_table_slot e)
{
    size_t i = e.hash & (cap - 1);
    while (slots[i].ref != 0) {
        i = (i + 1) & (cap - 1);
    }
    slots[i] = e;
}

static void table_insert_locked(head *h, const head_series *s, uint64_t hash)
{
    if ((h->table_len + 1) * 4 > h->table_cap * 3) {
        size_t cap = h->table_cap ? h->table_cap * 2 : 1024;
        struct head_table_slot *slots = odin_calloc(cap, sizeof(*slots));
        for (size_t i = 0; i < h->table_cap; i++) {
            if (h->table[i].ref != 0) {
                table_place(slots, cap, h->table[i]);
            }
        }
        free(h->table);
        h->table = slots;
        h->table_cap = cap;
    }
    table_place(h->table, h->table_cap, (struct head_table_slot){s->ref, (uint32_t)hash});
    h->table_len++;
}

void head_table_remove_locked(head *h, head_series *s)
{
    if (h->table_cap == 0) {
        return;
    }
    size_t mask = h->table_cap - 1, i = (uint32_t)series_hash(h, s) & mask;
    while (h->table[i].ref != s->ref) {
        if (h->table[i].ref == 0) {
            return; /* not there (never happens: every live series is) */
        }
        i = (i + 1) & mask;
    }
    /* shift back every later entry of the run that may live in the freed slot: one whose home
     * is not cyclically within (i, j] */
    size_t j = i;
    for (;;) {
        h->table[i].ref = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (h->table[j].ref == 0) {
                h->table_len--;
                return;
            }
            size_t home = h->table[j].hash & mask;
            bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                break;
            }
        }
        h->table[i] = h->table[j];
        i = j;
    }
}

head_series *head_get_or_create(head *h, odin_labels ls, bool *created)
{
    return head_get_or_create_ref(h, ls, 0, created);
}

/* With map_lock held for writing: true when ref can be handed to a new series (never handed out:
 * a slot past every ref so far, or an empty one below before any series was removed) and is
 * under HEAD_KEEP_REFS_MAX. */
static bool ref_free_locked(head *h, uint64_t ref)
{
    if (ref == 0 || ref > HEAD_KEEP_REFS_MAX) {
        return false;
    }
    if (ref > h->nseries) {
        return true;
    }
    return atomic_load(&h->series_removed) == 0 && head_by_ref(h, ref) == NULL;
}

head_series *head_get_or_create_ref(head *h, odin_labels ls, uint64_t want, bool *created)
{
    uint64_t hash = head_labels_hash(ls);
    *created = false;
    pthread_rwlock_rdlock(&h->map_lock);
    head_series *s = lookup_locked(h, ls, hash);
    pthread_rwlock_unlock(&h->map_lock);
    if (s) {
        return s;
    }
    pthread_rwlock_wrlock(&h->map_lock);
    s = lookup_locked(h, ls, hash);
    if (s || h->nseries >= HEAD_MAX_REFS || ls.len > HEAD_MAX_LABELS) {
        pthread_rwlock_unlock(&h->map_lock);
        return s;
    }
    /* one allocation for the series and its labels */
    s = odin_calloc(1, sizeof(*s) + ls.len * sizeof(s->labels[0]));
    uint64_t ref = ref_free_locked(h, want) ? want : h->nseries + 1;
    s->ref = (uint32_t)ref;
    atomic_init(&s->last_t, INT64_MIN);
    atomic_init(&s->last_v_bits, 0);
    s->nlabels = (uint16_t)ls.len;
    index_series_locked(h, s, ls); /* the labels: pairs of the postings */
    h->nseries = ref > h->nseries ? ref : h->nseries;
    h->nlive++;
    size_t idx = (size_t)(s->ref - 1), page = idx >> HEAD_PAGE_BITS;
    _Atomic(head_series *) *slots = atomic_load_explicit(&h->pages[page], memory_order_relaxed);
    if (!slots) {
        slots = odin_calloc(HEAD_PAGE_SLOTS, sizeof(*slots));
        atomic_store_explicit(&h->pages[page], slots, memory_order_release);
    }
    atomic_store_explicit(&slots[idx & (HEAD_PAGE_SLOTS - 1)], s, memory_order_release);
    table_insert_locked(h, s, hash);
    pthread_rwlock_unlock(&h->map_lock);
    *created = true;
    return s;
}

/* Lock-free: the scrape path calls this for every sample of every scrape. */
head_series *head_by_ref(head *h, uint64_t ref)
{
    if (ref == 0) {
        return NULL;
    }
    size_t idx = (size_t)(ref - 1), page = idx >> HEAD_PAGE_BITS;
    if (page >= HEAD_PAGES) {
        return NULL;
    }
    _Atomic(head_series *) *slots = atomic_load_explicit(&h->pages[page], memory_order_acquire);
    if (!slots) {
        return NULL;
    }
    return atomic_load_explicit(&slots[idx & (HEAD_PAGE_SLOTS - 1)], memory_order_acquire);
}

uint32_t head_first_chunk_cap(const head *h)
{
    uint32_t avg = atomic_load_explicit(&h->cut_len_avg16, memory_order_relaxed) / 16;
    if (avg == 0) {
        return HEAD_FIRST_CHUNK_MIN;
    }
    uint32_t cap = avg + avg / 8 + 8;
    if (cap < HEAD_FIRST_CHUNK_MIN) {
        return HEAD_FIRST_CHUNK_MIN;
    }
    return cap > HEAD_FIRST_CHUNK_MAX ? HEAD_FIRST_CHUNK_MAX : cap;
}

void head_series_prefetch_struct(const head_series *s)
{
    /* its first and last bytes (80 of them, 16-byte aligned: two lines, or three): the ref, the
     * open chunk, last_t and last_v_bits */
    const char *p = (const char *)s;
    __builtin_prefetch(p, 1);
    __builtin_prefetch(p + 64, 1);
    __builtin_prefetch(p + sizeof(*s) - 1, 1);
}

void head_series_prefetch_append(head *h, head_series *s)
{
    __builtin_prefetch(head_stripe(h, s->ref), 1);
    /* relaxed atomic reads of fields the stripe guards: only an address to warm, never used */
    const uint8_t *b = __atomic_load_n(&s->open.b, __ATOMIC_RELAXED);
    uint32_t len = __atomic_load_n(&s->open.len, __ATOMIC_RELAXED);
    if (b != NULL && len > 0) {
        /* the tail, which the append rewrites. Unwarmed, that store missed on every sample and
         * the stripe mutex's locked instructions waited for it to drain: the largest stall of
         * the commit (13-16 % of a scrape's CPU, see bench/RESULTS.md). The first line is not
         * written by appends (xor_stream_append leaves the count to readers). */
        __builtin_prefetch(b + len - 1, 1);
    }
}

/* Prometheus' computeChunkEndTime: once a quarter of the target is in, predict when the chunk
 * will hold SAMPLES_PER_CHUNK samples and spread the rest of the range evenly. */
static int64_t chunk_end_time(int64_t start, int64_t cur, int64_t max)
{
    int64_t n = (max - start) / ((cur - start + 1) * 4);
    if (n <= 1) {
        return max;
    }
    return start + (max - start) / n;
}

/* A series' first chunk has no earlier one to size it by and starts small. Grown by an eighth
 * at a time, each step usually moves it (the next allocation is another series'), and the holes
 * those moves leave behind in the first half hour stayed as ~60 bytes of free heap per series
 * for good. So once it has a few samples to go by, it grows at once to what it is expected to
 * hold: its bytes per sample so far (the first sample's 16-byte start left out) times the
 * samples a chunk gets (SAMPLES_PER_CHUNK, fewer when its range ends sooner), plus a sixteenth. */
enum { FIRST_GROWTH_SAMPLES = 8, FIRST_GROWTH_ROOM = 24 };

static void grow_first_chunk(const head *h, head_series *s, int64_t t)
{
    const xor_stream *c = &s->open;
    int64_t bits = (int64_t)c->len * 8 - c->bits_free - 8 * (2 + 16);
    int64_t gap = (t - s->open_mint) / c->n; /* the interval, as it has been */
    int64_t want = h->cf ? HEAD_SPLIT_SAMPLES : SAMPLES_PER_CHUNK;
    int64_t span = s->next_at_off;
    if (!h->cf) { /* a head in memory cuts its chunks at HEAD_CHUNK_MAX_MS as well */
        span = span < HEAD_CHUNK_MAX_MS ? span : HEAD_CHUNK_MAX_MS;
    }
    if (gap > 0 && span / gap < want) {
        want = span / gap;
    }
    if (bits <= 0 || want <= c->n) {
        return;
    }
    int64_t per = bits / (c->n - 1) + 1;
    int64_t more = (want - c->n) * per / 8;
    more += more / 16;
    if (more > 4096) {
        more = 4096; /* a noisy start: the usual growth takes over past this */
    }
    xor_stream_reserve(&s->open, (uint32_t)(c->len + more + 9));
}

static int64_t range_end(int64_t t, int64_t range)
{
    int64_t r = t - (t % range + range) % range;
    return r + range;
}

/* The newest part of a split open chunk (see HEAD_SPLIT_SAMPLES). */
static const uint8_t *split_newest(const head_series *s)
{
    const uint8_t *p;
    memcpy(&p, s->open.b + 2, sizeof(p));
    return p;
}

static const uint8_t *part_prev(const uint8_t *part)
{
    head_chunk c = {0, (uint8_t *)(uintptr_t)part}; /* only read */
    return head_chunk_prev(&c);
}

static uint32_t part_len(const uint8_t *part)
{
    head_chunk c = {0, (uint8_t *)(uintptr_t)part};
    return head_chunk_len(&c);
}

head_open_view head_open_bytes(const head_series *s)
{
    const xor_stream *c = &s->open;
    head_open_view v = {.np = 1, .n = c->n};
    if (!s->open_split) {
        v.p[0] = c->b;
        v.len[0] = v.total = c->len;
        return v;
    }
    /* newest first, into the end of the arrays: a piece loses its last byte when the piece after
     * it starts with that byte carried */
    int k = HEAD_OPEN_PIECES - 1;
    v.p[k] = c->b + HEAD_SPLIT_HEADER;
    v.len[k] = c->len - HEAD_SPLIT_HEADER;
    bool carried = c->b[HEAD_SPLIT_HEADER - 1];
    for (const uint8_t *part = split_newest(s); part != NULL && k > 0;) {
        const uint8_t *prev = part_prev(part);
        uint32_t len = part_len(part) - carried;
        k--;
        if (prev != NULL) { /* a later part: its carried flag, then bits */
            v.p[k] = part + 1;
            v.len[k] = len - 1;
            carried = part[0];
        } else {
            v.p[k] = part;
            v.len[k] = len;
        }
        part = prev;
    }
    v.np = HEAD_OPEN_PIECES - k;
    for (int i = 0; i < v.np; i++) {
        v.p[i] = v.p[k + i];
        v.len[i] = v.len[k + i];
        v.total += v.len[i];
    }
    return v;
}

void head_open_view_copy(const head_open_view *v, uint8_t *dst)
{
    uint8_t *p = dst;
    for (int i = 0; i < v->np; i++) {
        memcpy(p, v->p[i], v->len[i]);
        p += v->len[i];
    }
    xor_put_count(dst, v->n);
}

/* Drops a split open chunk's parts; reread: their bytes were just read through the mapping, and
 * the pages that faulted in are to leave the page tables again (head_chunk_files_drop_reread). */
static void drop_parts(head *h, head_series *s, bool reread)
{
    for (const uint8_t *part = split_newest(s); part != NULL;) {
        const uint8_t *prev = part_prev(part);
        if (reread) {
            head_chunk_files_drop_reread(h->cf, part);
        } else {
            head_chunk_files_drop(h->cf, part);
        }
        part = prev;
    }
    s->open_split = false;
}

void head_open_unsplit(head *h, head_series *s)
{
    if (!s->open_split) {
        return;
    }
    head_open_view v = head_open_bytes(s);
    xor_stream c = s->open; /* the writer's state is the joined chunk's */
    c.len = head_open_view_len(&v);
    c.cap = c.len + 16; /* the writer's 9 bytes of room past the end, and some */
    c.b = odin_malloc(c.cap);
    head_open_view_copy(&v, c.b);
    drop_parts(h, s, true);
    xor_stream_fini(&s->open);
    s->open = c;
}

void head_open_free(head *h, head_series *s)
{
    if (s->open_split) {
        drop_parts(h, s, false);
    }
    xor_stream_fini(&s->open);
}

/* Bytes a chunk of a series starts with before its per-sample cost: the count (2), the first
 * timestamp's varint (~6 for milliseconds of this century) and value (8). */
enum { CHUNK_START_BYTES = 16 };

/* With the stripe held, in a head with chunk files, on an open chunk of a multiple of
 * HEAD_SPLIT_SAMPLES samples that the next sample does not cut: the bytes since the last split go
 * to a part's record and the buffer keeps only the bits after them (see HEAD_SPLIT_SAMPLES). When
 * the write fails the chunk stays as it is, to be tried again at the next multiple. */
static void split_open(head *h, head_series *s)
{
    int64_t last_t = atomic_load_explicit(&s->last_t, memory_order_relaxed);
    const uint8_t *prev = s->open_split ? split_newest(s) : NULL;
    uint32_t from = prev ? HEAD_SPLIT_HEADER - 1 : 0; /* a later part starts at its flag */
    const uint8_t *data = s->open.b + from, *mapped;
    uint32_t len = s->open.len - from;
    uint8_t pre[HEAD_CHUNK_PREFIX];
    head_chunk_prefix_put(pre, prev, s->open_mint, last_t, len);
    if (head_chunk_files_write(h->cf, s->ref, s->open_mint, pre, sizeof(pre), data, len, &mapped) !=
        0) {
        return;
    }
    bool carried;
    xor_stream_carry(&s->open, HEAD_SPLIT_HEADER, &carried);
    memcpy(s->open.b + 2, &mapped, sizeof(mapped));
    s->open.b[HEAD_SPLIT_HEADER - 1] = carried;
    s->open_split = true;
}

/* With the series' stripe held. On disk, the chunk's bytes go to the chunk file (taking its mutex
 * inside the stripe, the documented order) and the heap copy is freed; when that write fails the
 * chunk stays on the heap, as an in-memory head keeps it. A split chunk's pieces are joined as
 * they are copied into the record; in_pass: by a pass over every chunk (a block cut), which
 * releases the pages it read at its end (head_cool), so reading the parts back is not counted
 * towards head_chunk_files_drop_reread's unmapping (done every few hundred parts, it would only
 * make that pass fault the same pages in again). */
static void cut_open(head *h, head_series *s, bool in_pass)
{
    int64_t last_t = atomic_load_explicit(&s->last_t, memory_order_relaxed);
    head_open_view v = head_open_bytes(s);
    uint32_t len = head_open_view_len(&v);
    /* the pieces with the count fixed: it is the first piece's first two bytes */
    head_chunk_piece d[HEAD_OPEN_PIECES + 1];
    uint8_t count[2];
    xor_put_count(count, v.n);
    d[0] = (head_chunk_piece){count, 2};
    d[1] = (head_chunk_piece){v.p[0] + 2, v.len[0] - 2};
    for (int i = 1; i < v.np; i++) {
        d[i + 1] = (head_chunk_piece){v.p[i], v.len[i]};
    }
    const uint8_t *prev = s->nchunks ? s->last : NULL;
    head_chunk c;
    const uint8_t *mapped;
    uint8_t pre[HEAD_CHUNK_PREFIX];
    head_chunk_prefix_put(pre, prev, s->open_mint, last_t, len);
    if (h->cf && head_chunk_files_writev(h->cf, s->ref, s->open_mint, pre, sizeof(pre), d, v.np + 1,
                                         &mapped) == 0) {
        c = (head_chunk){s->open_mint, (uint8_t *)(uintptr_t)mapped}; /* see head_chunk.b */
    } else if (v.np == 1) {
        xor_stream_put_count(&s->open);
        c = head_chunk_heap(prev, s->open_mint, last_t, s->open.b, len);
    } else {
        uint8_t *joined = odin_malloc(len);
        head_open_view_copy(&v, joined);
        c = head_chunk_heap(prev, s->open_mint, last_t, joined, len);
        free(joined);
    }
    if (s->open_split) {
        drop_parts(h, s, !in_pass);
    }
    xor_stream_fini(&s->open);
    s->open.len = len; /* stays, with open.n: the next open chunk's size hint */
    s->last = c.b;
    s->nchunks++;
    /* average over about the last 64 cuts: follows a change of scrape interval or value shape */
    uint32_t avg = atomic_load_explicit(&h->cut_len_avg16, memory_order_relaxed);
    uint32_t len16 = (len > HEAD_FIRST_CHUNK_MAX ? HEAD_FIRST_CHUNK_MAX : len) * 16;
    avg = avg == 0 ? len16 : (uint32_t)((int64_t)avg + ((int64_t)len16 - (int64_t)avg) / 64);
    atomic_store_explicit(&h->cut_len_avg16, avg, memory_order_relaxed);
    s->open.b = NULL;
    s->has_open = false;
}

int head_series_append_locked(head *h, head_series *s, int64_t t, double v, int *kind)
{
    int64_t last_t = atomic_load_explicit(&s->last_t, memory_order_relaxed);
    if (last_t != INT64_MIN && t <= last_t) {
        uint64_t a, b = atomic_load_explicit(&s->last_v_bits, memory_order_relaxed);
        memcpy(&a, &v, 8);
        int rc = 1; /* same timestamp, same bits: accepted as a no-op, as Prometheus */
        if (t < last_t) {
            *kind = 1;
            rc = -ODIN_ERR_CONFLICT;
        } else if (a != b) {
            *kind = 2;
            rc = -ODIN_ERR_CONFLICT;
        }
        return rc;
    }
    if (s->has_open &&
        (t >= head_series_next_at(s) || (!h->cf && t - s->open_mint >= HEAD_CHUNK_MAX_MS) ||
         s->open.n >= TSDB_CHUNK_MAX_SAMPLES || s->open.n >= 2 * SAMPLES_PER_CHUNK)) {
        cut_open(h, s, false);
    }
    if (!s->has_open) {
        /* sized like the previous chunk plus a little (a chunk of the same series and time
         * span is about as long; the writer needs 9 bytes of room past the end): most fit at
         * once, the rest grow by an eighth. A new series goes by the chunks the head cut lately (write_value's
         * reallocations from 32 bytes up were ~5% of the scrape path's CPU) */
        uint32_t prev = s->open.len; /* the last cut chunk's (0 before the first cut) */
        uint32_t pn = s->open.n;
        if (h->cf && pn > HEAD_SPLIT_SAMPLES && prev > CHUNK_START_BYTES) {
            /* it will be split at HEAD_SPLIT_SAMPLES: room for those */
            prev = CHUNK_START_BYTES + (uint32_t)((uint64_t)(prev - CHUNK_START_BYTES) *
                                                  (HEAD_SPLIT_SAMPLES - 1) / (pn - 1));
        }
        uint32_t cap = prev ? prev + prev / 32 + 16 : head_first_chunk_cap(h);
        xor_stream_init_cap(&s->open, cap);
        s->has_open = true;
        atomic_fetch_add_explicit(&h->chunks_created, 1, memory_order_relaxed);
        s->open_mint = t;
        head_series_set_next_at(s, range_end(t, h->chunk_range_ms));
    }
    if (s->open.len + FIRST_GROWTH_ROOM > s->open.cap && s->nchunks == 0 &&
        s->open.n >= FIRST_GROWTH_SAMPLES) {
        grow_first_chunk(h, s, t);
    }
    if (s->open.n % HEAD_SPLIT_SAMPLES == 0 && s->open.n > 0 && h->cf) {
        split_open(h, s);
    }
    uint64_t vb;
    memcpy(&vb, &v, 8);
    xor_stream_append(&s->open, last_t, atomic_load_explicit(&s->last_v_bits, memory_order_relaxed),
                      t, v);
    if (s->open.n == SAMPLES_PER_CHUNK / 4) {
        head_series_set_next_at(s, chunk_end_time(s->open_mint, t, head_series_next_at(s)));
    }
    atomic_store_explicit(&s->last_t, t, memory_order_relaxed);
    atomic_store_explicit(&s->last_v_bits, vb, memory_order_relaxed);
    return 0;
}

void head_note_range(head *h, int64_t mint, int64_t maxt)
{
    int64_t cur = atomic_load(&h->min_t);
    while (mint < cur && !atomic_compare_exchange_weak(&h->min_t, &cur, mint)) {
    }
    cur = atomic_load(&h->max_t);
    while (maxt > cur && !atomic_compare_exchange_weak(&h->max_t, &cur, maxt)) {
    }
}

int head_series_append(head *h, head_series *s, int64_t t, double v, int *kind)
{
    pthread_mutex_t *mu = head_stripe(h, s->ref);
    pthread_mutex_lock(mu);
    int rc = head_series_append_locked(h, s, t, v, kind);
    pthread_mutex_unlock(mu);
    if (rc == 0) {
        head_note_range(h, t, t);
    }
    return rc;
}

/* A merge sort with the comparison inlined: glibc's qsort (an indirect call and a memcpy per
 * move) was ~10% of a 4000-series sum(rate()). Label sets in the head are unique, so stability
 * does not matter. */
static void insertion_sort_series(const head *h, head_series **v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        head_series *x = v[i];
        size_t j = i;
        while (j > 0 && head_series_labels_cmp(h, x, v[j - 1]) < 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void merge_sort_series(const head *h, head_series **v, head_series **tmp, size_t n)
{
    if (n <= 16) {
        insertion_sort_series(h, v, n);
        return;
    }
    size_t m = n / 2;
    merge_sort_series(h, v, tmp, m);
    merge_sort_series(h, v + m, tmp, n - m);
    if (head_series_labels_cmp(h, v[m - 1], v[m]) <= 0) {
        return; /* already in order (a head's series often come sorted) */
    }
    memcpy(tmp, v, m * sizeof(*v));
    size_t i = 0, j = m, k = 0;
    while (i < m && j < n) {
        v[k++] = head_series_labels_cmp(h, v[j], tmp[i]) < 0 ? v[j++] : tmp[i++];
    }
    while (i < m) {
        v[k++] = tmp[i++];
    }
}

void head_sort_series(const head *h, head_series **v, size_t n)
{
    if (n < 2) {
        return;
    }
    head_series **tmp = odin_malloc((n / 2 + 1) * sizeof(*tmp));
    merge_sort_series(h, v, tmp, n);
    free(tmp);
}

head_series **head_sorted_series(head *h, size_t *n)
{
    pthread_rwlock_rdlock(&h->map_lock);
    head_series **v = odin_malloc((h->nlive ? h->nlive : 1) * sizeof(*v));
    size_t count = 0;
    for (size_t i = 0; i < h->nseries; i++) {
        head_series *s = head_slot_locked(h, i);
        if (s != NULL) {
            v[count++] = s;
        }
    }
    pthread_rwlock_unlock(&h->map_lock);
    head_sort_series(h, v, count);
    *n = count;
    return v;
}

size_t head_series_chunks(head *h, head_series *s, int64_t mint, int64_t maxt, head_chunk **out)
{
    pthread_mutex_t *mu = head_stripe(h, s->ref);
    pthread_mutex_lock(mu);
    if (s->has_open && s->open_mint < maxt) {
        /* the open chunk never crosses a range boundary, so all of it lies before maxt */
        cut_open(h, s, true);
    }
    head_chunk *v = odin_malloc((s->nchunks ? s->nchunks : 1) * sizeof(*v));
    size_t all = head_series_chunk_list(s, v), n = 0;
    for (size_t i = 0; i < all; i++) {
        if (head_chunk_maxt(&v[i]) >= mint && v[i].mint < maxt) {
            v[n++] = v[i];
        }
    }
    pthread_mutex_unlock(mu);
    *out = v;
    return n;
}

void head_truncate(head *h, int64_t t)
{
    pthread_rwlock_rdlock(&h->map_lock);
    size_t count = h->nseries;
    uint64_t freed = 0;
    int64_t new_min = INT64_MAX;
    for (size_t i = 0; i < count; i++) {
        head_series *s = head_slot_locked(h, i);
        if (s == NULL) {
            continue;
        }
        pthread_mutex_t *mu = head_stripe(h, s->ref);
        pthread_mutex_lock(mu);
        /* newest first: once one chunk ends before t, every older one does too */
        uint32_t w = 0;
        int64_t oldest = INT64_MAX;
        uint8_t *b = s->last;
        for (uint32_t k = 0; k < s->nchunks; k++) {
            head_chunk c = head_chunk_at(b);
            b = k + 1 < s->nchunks ? head_chunk_prev(&c) : NULL;
            if (w == k && head_chunk_maxt(&c) >= t) {
                w++;
                oldest = c.mint;
            } else {
                head_chunk_free(h, &c);
                freed++;
            }
        }
        s->nchunks = w;
        if (w && oldest < new_min) {
            new_min = oldest;
        }
        if (!w && s->has_open && s->open_mint < new_min) {
            new_min = s->open_mint;
        }
        pthread_mutex_unlock(mu);
    }
    pthread_rwlock_unlock(&h->map_lock);
    atomic_fetch_add(&h->chunks_removed, freed);
    atomic_store(&h->min_t, new_min);
}

void head_cool(head *h)
{
    if (h->cf) {
        head_chunk_files_cool(h->cf);
    }
}

size_t head_series_chunks_since(head *h, head_series *s, int64_t t, head_chunk **out)
{
    pthread_mutex_t *mu = head_stripe(h, s->ref);
    pthread_mutex_lock(mu);
    size_t cap = s->nchunks + 1;
    head_chunk *v = odin_malloc(cap * sizeof(*v));
    size_t all = head_series_chunk_list(s, v), n = 0;
    const uint8_t *none = NULL; /* the copies are not linked: the caller has them all */
    for (size_t i = 0; i < all; i++) {
        const head_chunk c = v[i];
        if (head_chunk_maxt(&c) >= t) {
            v[n++] = head_chunk_heap(none, c.mint, head_chunk_maxt(&c), c.b, head_chunk_len(&c));
        }
    }
    if (s->has_open && s->last_t >= t) {
        head_open_view ov = head_open_bytes(s);
        uint32_t len = head_open_view_len(&ov);
        uint8_t *b = odin_malloc(len);
        head_open_view_copy(&ov, b);
        v[n++] = head_chunk_heap(none, s->open_mint, s->last_t, b, len);
        free(b);
    }
    pthread_mutex_unlock(mu);
    *out = v;
    return n;
}

void head_chunks_release(head_chunk *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        head_chunk_heap_free(v[i].b);
    }
    free(v);
}

/* Private to src/tsdb/: the head, the in-memory part of the database holding recent samples.
 *
 * Series are found by label-set hash (map lock) and by ref (the refs array, append-only). Each
 * series' chunks and last sample are guarded by its stripe mutex (head_stripe: runs of 16
 * consecutive refs share one).
 * Cut chunks of an on-disk database live in the chunk files (head_chunks.h), whose writer has a
 * mutex of its own. Lock order: map_lock, then one stripe (never two at once), then the chunk
 * files' mutex (innermost: cut_open writes a chunk with its stripe held).
 *
 * Series that hold no samples any more are removed at head truncation (head_gc, head_gc.c):
 * unlinked from every index at once, then freed only when no reader (querier or appender) that
 * could have seen them is left. Refs are never reused, so a stale ref held by a caller finds
 * nothing. */
#ifndef ODIN_TSDB_HEAD_H
#define ODIN_TSDB_HEAD_H

#include "tsdb/chunk.h"
#include "tsdb/head_chunks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

/* Refs index pages of 4096 series slots; the page directory covers every 32-bit ref (it is
 * 8 MiB of address space, mapped, so only the part in use is ever touched). */
enum { HEAD_STRIPES = 1024, HEAD_PAGE_BITS = 12, HEAD_PAGE_SLOTS = 1 << HEAD_PAGE_BITS,
       HEAD_PAGES = 1 << (32 - HEAD_PAGE_BITS) };

/* An interned string: shared by every series label, postings key and values entry that uses it
 * (counted in `refs`, under map_lock for writing); freed when the last user goes (deferred past
 * the readers that may hold it, see head_gc). */
typedef struct head_sym {
    uint32_t len;
    uint32_t refs;
    char s[];
} head_sym;

/* The symbol whose text starts at p (a string the head interned). */
static inline head_sym *head_sym_of(const char *p)
{
    return (head_sym *)(void *)(p - offsetof(head_sym, s));
}

/* A finished chunk: immutable once cut, so readers may use it after dropping the stripe lock (and
 * until head_truncate or a delete drops it: both run under compact_lock, as block cuts do).
 *
 * A series keeps only the address of its newest cut chunk's data (`last`); each chunk links to
 * the one cut before it, and its times and length sit with that link in the HEAD_CHUNK_PREFIX
 * bytes before its data: previous chunk's data address (native, 8) | mint (8) | maxt (8) |
 * len (4), the last three big-endian. In a chunk file these are the record's own fields
 * (docs/format/head_chunks.md); a heap chunk's allocation starts with them (head_chunk_heap). So
 * a series' cut chunks cost it 8 bytes however many there are (a 3 h head at a 1 s scrape holds
 * ~90; their descriptors were 2 KiB a series). Reading a prefix touches the chunk's page, which
 * for a mapped chunk stays resident until the next cut releases it: readers that filter by time
 * walk from the newest chunk, bound each chunk's maxt by the mint of the one after it (or of the
 * open chunk) and stop before reading a chunk that bound puts before their range. This struct is
 * what walks and lists hand out: the mint read once, and the data. */
typedef struct {
    int64_t mint;
    uint8_t *b; /* encoded bytes with the count header: heap-owned, or read-only bytes in a chunk
                   file's mapping (never written through; head_chunk_free tells which by address) */
} head_chunk;

enum { HEAD_CHUNK_PREFIX = 8 + 8 + 8 + 4 };

/* Open chunks are cut at about HEAD_SAMPLES_PER_CHUNK samples, where Prometheus cuts its head
 * chunks. A head in memory (no chunk files, so no splits, below) also cuts them HEAD_CHUNK_MAX_MS
 * after their first sample: there the open chunk is most of a series' memory and grows for its
 * whole life (at a 15 s scrape it is cut at 60 samples). Cut chunks cost 8 bytes of memory, and
 * shorter cuts are merged back to HEAD_SAMPLES_PER_CHUNK when a block is written. */
enum { HEAD_SAMPLES_PER_CHUNK = 120 };
#define HEAD_CHUNK_MAX_MS (15 * 60 * 1000LL)

/* In a head with chunk files, an open chunk is split every HEAD_SPLIT_SAMPLES samples: the bytes
 * it took since the last split go to a record of their own (a part) and its buffer keeps only the
 * bits after them, the writer's state unchanged, so the open chunk's memory peaks at a quarter of
 * a 120-sample chunk's at any scrape interval, and chunks need no early cut. At the cut
 * the parts and the buffer are joined as they are copied into one record (the same bytes as an
 * unsplit chunk, no re-encoding) and the parts' records are dropped. Readers of the open chunk see
 * the joined bytes (head_open_bytes).
 *
 * A split open chunk's buffer starts with HEAD_SPLIT_HEADER bytes: the sample count (2, the
 * writer's), the address of the newest part's data in a chunk file (8, native), and whether that
 * part's partial last byte was carried to the buffer (1). The first part's data is the chunk as it
 * was at the split (count included); a later part's is the carried flag byte then the bits, its
 * own bytes from offset HEAD_SPLIT_HEADER - 1 of the buffer. Each part's prefix links to the part
 * before it (NULL: the first). */
enum { HEAD_SPLIT_SAMPLES = 30, HEAD_SPLIT_HEADER = 2 + 8 + 1 };
/* Pieces of an open chunk at most: its parts (a chunk is cut at 2 * HEAD_SAMPLES_PER_CHUNK
 * samples at the latest) and its buffer. */
enum { HEAD_OPEN_PIECES = 2 * HEAD_SAMPLES_PER_CHUNK / HEAD_SPLIT_SAMPLES + 1 };

/* The chunk whose data starts at b (a chunk file's or the heap's, with its prefix). */
static inline head_chunk head_chunk_at(uint8_t *b)
{
    uint64_t w;
    memcpy(&w, b - HEAD_CHUNK_PREFIX + 8, 8);
    return (head_chunk){(int64_t)tsdb_be64(w), b};
}

/* The data of the chunk cut before c (only meaningful when c is not its series' oldest). */
static inline uint8_t *head_chunk_prev(const head_chunk *c)
{
    uint8_t *p;
    memcpy(&p, c->b - HEAD_CHUNK_PREFIX, sizeof(p));
    return p;
}

/* Fills the HEAD_CHUNK_PREFIX bytes at p for a chunk cut after the one whose data is prev (NULL:
 * the first). */
void head_chunk_prefix_put(uint8_t *p, const uint8_t *prev, int64_t mint, int64_t maxt,
                           uint32_t len);

static inline int64_t head_chunk_maxt(const head_chunk *c)
{
    uint64_t w;
    memcpy(&w, c->b - 12, 8);
    return (int64_t)tsdb_be64(w);
}

static inline uint32_t head_chunk_len(const head_chunk *c)
{
    const uint8_t *p = c->b - 4;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A heap chunk holding a copy of len bytes of data, with its prefix linking it to prev. */
head_chunk head_chunk_heap(const uint8_t *prev, int64_t mint, int64_t maxt, const uint8_t *data,
                           uint32_t len);
/* Frees a heap chunk's allocation (not one in a chunk file: head_chunk_free tells them apart). */
void head_chunk_heap_free(uint8_t *b);

/* One label pair of the head: the refs of the series holding it, ascending (32 bits: refs are
 * never reused, and head_get_or_create refuses to hand out more than HEAD_MAX_REFS), and the pair
 * itself. A series' labels are the numbers of these (4 bytes a label where an odin_label is 32:
 * a head of 100k series holds half a million labels, and far fewer distinct pairs). `name` and
 * `value` are interned symbols' text (head_sym), held by the values index while the list has
 * refs; the struct goes with the list once it is empty, after the readers that could still
 * hold a series naming it (head_gc). */
typedef struct head_postings {
    uint32_t *refs;
    uint32_t len, cap;
    const char *name, *value;
    uint32_t id; /* the pair's number in the head's pair pages (head_pair) */
} head_postings;

/* Labels per series at most (head_series.nlabels is 16 bits; Prometheus allows any number, but a
 * series with that many labels is a bug in its exporter). */
enum { HEAD_MAX_LABELS = UINT16_MAX };

/* Owned by the head, freed by head_fini. `ref`, `nlabels` and `labels` never change once the
 * series is published; everything else is guarded by the series' stripe (the two flags share the
 * first word with the immutable fields and `labels` comes last as the flexible array: the struct
 * is packed to 80 bytes, the labels-hash table keeps the hash, as the head holds one per active
 * series). */
typedef struct head_series {
    uint32_t ref;      /* refs are at most HEAD_MAX_REFS */
    uint16_t nlabels;
    bool has_open : 1;
    bool open_split : 1; /* the open chunk continues parts in a chunk file (HEAD_SPLIT_SAMPLES) */
    /* set by head_gc when the series is unlinked (with the stripe held, and by a caller that
     * excludes commits: the db's wal_lock); a commit that still holds it appends to the series
     * found or made again from its labels instead */
    bool removed;
    uint8_t *last;      /* the newest cut chunk's data, when nchunks > 0 (see head_chunk) */
    uint32_t nchunks;
    /* cut the open chunk at open_mint + this (Prometheus' chunk sizing; head_series_next_at) */
    uint32_t next_at_off;
    /* the open chunk, whose last sample is last_t and last_v_bits; when !has_open, open.len and
     * open.n are the last cut chunk's (the next one's size hint: reading the record would fault
     * its page back in) */
    xor_stream open;
    int64_t open_mint;
    /* written under the stripe, read without it by the appender's early checks */
    _Atomic int64_t last_t;        /* INT64_MIN before the first sample */
    _Atomic uint64_t last_v_bits;  /* bits of the last value */
    uint32_t labels[]; /* pair numbers (head_pair), sorted by name; in the series' allocation */
} head_series;

/* When the open chunk is to be cut (with the series' stripe held). */
static inline int64_t head_series_next_at(const head_series *s)
{
    return s->open_mint + (int64_t)s->next_at_off;
}

/* Sets it, after open_mint: at most UINT32_MAX ms (49 days) on, past which a chunk range is
 * never configured (and 2 * SAMPLES_PER_CHUNK samples cut a chunk anyway). */
static inline void head_series_set_next_at(head_series *s, int64_t at)
{
    int64_t d = at - s->open_mint;
    s->next_at_off = d < 0 ? 0 : d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* With the series' stripe held: its cut chunks, oldest first, into out (room for nchunks). Reads
 * every chunk's prefix: for walks that cover the whole series anyway. */
size_t head_series_chunk_list(const head_series *s, head_chunk *out);
/* With the series' stripe held: its cut chunks holding samples in [mint, maxt], newest first, into
 * out (room for nchunks; NULL: stop at the first and return 1). Reads the prefix of a chunk only
 * when the mint of the chunk after it (or of the open chunk) leaves it a chance to reach mint, so
 * a query of recent samples touches no cut chunk it does not read. */
size_t head_series_chunks_overlapping(const head_series *s, int64_t mint, int64_t maxt,
                                      head_chunk *out);

/* The text of an interned symbol as a string. */
static inline odin_str head_sym_str(const char *p)
{
    return (odin_str){p, head_sym_of(p)->len};
}

/* Compares two interned strings as odin_str_cmp does; the same pointer is equal without reading
 * them (most are). */
static inline int head_sym_cmp(const char *a, const char *b)
{
    if (a == b) {
        return 0;
    }
    if (a[0] != b[0]) {
        return (unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1;
    }
    return odin_str_cmp(head_sym_str(a), head_sym_str(b));
}

#define HEAD_MAX_REFS ((uint64_t)UINT32_MAX)
/* Replay keeps the log's refs only up to here; series logged under higher ones get the next free
 * refs after the kept ones (and the WAL is relogged under them at the next truncation), so refs
 * kept across restarts of a head whose series churn cannot run out. */
#define HEAD_KEEP_REFS_MAX ((uint64_t)1 << 31)

/* The interned values of one label name that some series holds (each a symbol reference). */
typedef struct {
    const char **v;
    size_t len, cap;
} head_values;

typedef struct {
    /* fixed after init (cf after head_open_chunk_files, before any append) */
    int64_t chunk_range_ms;
    head_chunk_files *cf; /* NULL: cut chunks stay on the heap (in-memory or read-only db) */
    /* guarded by map_lock (writers add series, readers look up and select) */
    pthread_rwlock_t map_lock;
    /* labels hash -> series: open addressing over 8-byte slots of the series' ref and the low 32
     * bits of its labels' hash (a probe compares those without touching the series, which then
     * keeps no hash of its own), linear probing, at most 3/4 full, removal by shifting back (no
     * tombstones). Series with equal hashes sit in nearby slots, told apart by labels. */
    struct head_table_slot *table;
    size_t table_cap, table_len;
    odin_map symbols;       /* string -> head_sym */
    odin_map postings;      /* "name\xffvalue" -> head_postings */
    odin_map values;        /* name -> head_values */
    size_t nseries;         /* the highest ref handed out (the next new one is nseries + 1) */
    size_t nlive;           /* series not removed */
    /* series by ref - 1, also readable without map_lock: pages of HEAD_PAGE_SLOTS slots that
     * never move, each page and slot published with release stores (head_by_ref loads them with
     * acquire). A slot is NULL once head_gc removed its series, and a page whose every slot is
     * NULL (and that new refs no longer fill) is freed, so a head whose series churn does not
     * keep 8 bytes for every series it ever had. Written under map_lock. */
    _Atomic(head_series *) *_Atomic *pages; /* HEAD_PAGES entries */
    /* label pairs by number (head_series.labels), read like the series pages: a page and a
     * slot are stored (release) before any series holding the number is published. Numbers are
     * handed out under map_lock, a freed one first; a pair's number is freed with the
     * pair itself (with head_gc's batches: no reader can hold a series naming it then) and
     * reused after the next head_gc. */
    _Atomic(head_postings *) *_Atomic *pair_pages; /* HEAD_PAGES entries */
    uint32_t npairs;                               /* 0..npairs-1 handed out (map_lock) */
    uint32_t *free_pairs;                          /* freed numbers, reusable (map_lock) */
    size_t nfree_pairs, cap_free_pairs;
    head_postings all;
    /* guarded by the stripes */
    pthread_mutex_t stripes[HEAD_STRIPES];
    /* atomics */
    _Atomic int64_t min_t, max_t;
    /* chunks started (open) and freed, ever: the difference is how many the head holds, open
     * ones included, as Prometheus counts them (prometheus_tsdb_head_chunks) */
    _Atomic uint64_t chunks_created, chunks_removed;
    _Atomic uint64_t series_removed; /* by head_gc, ever */
    /* running average of the bytes of the chunks cut lately (16x fixed point, 0 before the
     * first cut): sizes a new series' first chunk, which has no previous chunk to go by. Updated
     * under any stripe with relaxed loads and stores: a lost update only skews a hint. */
    _Atomic uint32_t cut_len_avg16;
    /* deferred frees (head_gc.c), guarded by gc_mu (taken alone, never with another head lock) */
    pthread_mutex_t gc_mu;
    uint64_t gc_epoch;            /* bumped by each head_gc that unlinked anything */
    struct head_reader_count *readers; /* open readers per epoch they entered at */
    size_t nreaders, cap_readers;
    struct head_zombies *zombies; /* unlinked batches waiting for their readers to go */
    size_t nzombies, cap_zombies;
    uint32_t *freed_pairs; /* numbers of pairs the batches freed, for free_pairs (gc_mu) */
    size_t nfreed_pairs, cap_freed_pairs;
} head;

/* Consecutive refs share a stripe in runs of 1 << HEAD_STRIPE_RUN_BITS: a target's series are
 * made in the order of its scrape, so their refs are consecutive, and a commit, which appends in
 * that order, takes each stripe once per run of samples instead of once per sample (each lock and
 * unlock is a locked instruction that waits for the appends' store misses to drain). */
enum { HEAD_STRIPE_RUN_BITS = 4 };
static inline pthread_mutex_t *head_stripe(head *h, uint64_t ref)
{
    return &h->stripes[(ref >> HEAD_STRIPE_RUN_BITS) % HEAD_STRIPES];
}

/* ---- The open chunk's bytes ---- */
/* The open chunk as one XOR chunk: its pieces' bytes one after the other (one piece unless it is
 * split), with the sample count n in the first two bytes. */
typedef struct {
    const uint8_t *p[HEAD_OPEN_PIECES];
    uint32_t len[HEAD_OPEN_PIECES];
    int np;
    uint32_t total;
    uint16_t n;
} head_open_view;

/* With the series' stripe held and s->has_open. A split chunk's parts are read through their
 * file's mapping (prefix now, bytes when copied). */
head_open_view head_open_bytes(const head_series *s);
static inline uint32_t head_open_view_len(const head_open_view *v)
{
    return v->total;
}
/* Writes the open chunk's bytes to dst (head_open_view_len bytes). */
void head_open_view_copy(const head_open_view *v, uint8_t *dst);
/* With the stripe held: makes a split open chunk one buffer again (deletes rewrite it), dropping
 * its first part's record; a no-op for any other. */
void head_open_unsplit(head *h, head_series *s);
/* Frees s's open chunk, a split one's first part too (head_fini, head_gc's frees). */
void head_open_free(head *h, head_series *s);

/* ---- A series' labels ---- */
/* Room for odin_labels views of series' labels, reused from one series to the next. */
typedef struct {
    odin_label *v;
    size_t cap;
} head_labels_buf;
/* s's labels as odin_labels (sorted; strings interned), written into b: valid until b is used
 * for another series or freed, and as long as s is. */
odin_labels head_series_labels(const head *h, const head_series *s, head_labels_buf *b);
/* As head_series_labels, into memory from arena a (NULL when the arena is full). */
odin_labels head_series_labels_arena(const head *h, const head_series *s, odin_arena *a);
void head_labels_buf_fini(head_labels_buf *b);
/* The value of s's label `name`: true with *v set, or false (and *v empty) without that label. */
bool head_series_label_get(const head *h, const head_series *s, const char *name, odin_str *v);

void head_init(head *h, int64_t chunk_range_ms);
/* The series of ref - 1 == idx, or NULL (removed, or never made); with map_lock held, or by the
 * only thread using the head. */
static inline head_series *head_slot_locked(const head *h, size_t idx)
{
    _Atomic(head_series *) *slots =
        atomic_load_explicit(&h->pages[idx >> HEAD_PAGE_BITS], memory_order_relaxed);
    return slots ? atomic_load_explicit(&slots[idx & (HEAD_PAGE_SLOTS - 1)], memory_order_relaxed)
                 : NULL;
}

/* The label pair numbered id, of a series the caller holds (see head.pair_pages). */
static inline head_postings *head_pair(const head *h, uint32_t id)
{
    _Atomic(head_postings *) *slots =
        atomic_load_explicit(&h->pair_pages[id >> HEAD_PAGE_BITS], memory_order_acquire);
    return atomic_load_explicit(&slots[id & (HEAD_PAGE_SLOTS - 1)], memory_order_acquire);
}

/* Compares two series' label sets as odin_labels_cmp does. */
static inline int head_series_labels_cmp(const head *h, const head_series *x,
                                         const head_series *y)
{
    size_t n = x->nlabels < y->nlabels ? x->nlabels : y->nlabels;
    for (size_t i = 0; i < n; i++) {
        if (x->labels[i] == y->labels[i]) {
            continue;
        }
        const head_postings *a = head_pair(h, x->labels[i]), *b = head_pair(h, y->labels[i]);
        int c = head_sym_cmp(a->name, b->name);
        if (c) {
            return c;
        }
        c = head_sym_cmp(a->value, b->value);
        if (c) {
            return c;
        }
    }
    return (x->nlabels > y->nlabels) - (x->nlabels < y->nlabels);
}

/* Moves cut chunks to files under <dir>/chunks_odin/ (recreated empty) from now on; call before the
 * WAL replay. On failure the head keeps chunks in memory and err is filled. */
int head_open_chunk_files(head *h, const char *dir, odin_err *err);
void head_fini(head *h);
/* Releases a chunk taken out of its series (heap bytes freed, or its file's reference dropped);
 * with the series' stripe held or after it was unlinked under it. */
void head_chunk_free(head *h, const head_chunk *c);
/* Finds or creates the series for sorted labels; returns it with *created telling which, or
 * NULL once HEAD_MAX_REFS series were made over the head's life (never in practice: 4 billion)
 * or for more than HEAD_MAX_LABELS labels (the appender refuses those first). */
head_series *head_get_or_create(head *h, odin_labels ls, bool *created);
/* The same, a new series getting ref `want` where that ref was never handed out (WAL replay keeps
 * the refs the log uses, as Prometheus does), else the next one; an existing series keeps its. */
head_series *head_get_or_create_ref(head *h, odin_labels ls, uint64_t want, bool *created);
head_series *head_by_ref(head *h, uint64_t ref);
/* Bytes to allocate for the first chunk of a new series: the head's recent cut chunks' average
 * plus an eighth, at most HEAD_FIRST_CHUNK_MAX; HEAD_FIRST_CHUNK_MIN before any chunk was cut. */
enum { HEAD_FIRST_CHUNK_MIN = 32, HEAD_FIRST_CHUNK_MAX = 512 };
uint32_t head_first_chunk_cap(const head *h);
/* Appends under the series' stripe lock; checks order. 0, or -ODIN_ERR_CONFLICT with kind set
 * to 1 out of order, 2 duplicate. Equal timestamp and identical bits is a no-op that returns 1. */
int head_series_append(head *h, head_series *s, int64_t t, double v, int *kind);
/* The same with head_stripe(h, s->ref) held by the caller, and without widening the head's time
 * range: the caller passes what it accepted to head_note_range once (a commit does, per batch). */
int head_series_append_locked(head *h, head_series *s, int64_t t, double v, int *kind);
void head_note_range(head *h, int64_t mint, int64_t maxt);
/* Cache hints for an append to come (no effect on results). head_series_prefetch_struct loads
 * the series' struct; head_series_prefetch_append, once the struct is in cache, the stripe mutex
 * and the open chunk's first and last bytes (read without the stripe: a stale pointer only
 * wastes the hint, and a prefetch never faults). */
void head_series_prefetch_struct(const head_series *s);
void head_series_prefetch_append(head *h, head_series *s);
uint64_t head_labels_hash(odin_labels ls);

/* Sorts series the caller holds by their labels. */
void head_sort_series(const head *h, head_series **v, size_t n);

/* ---- For compaction and checkpoints ---- */
/* Live series pointers sorted by labels (heap array; caller frees). They stay valid while the
 * caller holds compact_lock (head_gc runs under it) or is a reader (head_reader_enter). */
head_series **head_sorted_series(head *h, size_t *n);
/* Copies the chunks of s overlapping [mint, maxt) (cutting its open chunk first if it starts
 * before maxt) into out (heap array; caller frees the array, not the bytes). */
size_t head_series_chunks(head *h, head_series *s, int64_t mint, int64_t maxt, head_chunk **out);
/* Copies (bytes included) every chunk of s holding samples at or after t, the open one too;
 * release with head_chunks_release. */
size_t head_series_chunks_since(head *h, head_series *s, int64_t t, head_chunk **out);
void head_chunks_release(head_chunk *v, size_t n);
/* Frees chunks entirely before t. */
void head_truncate(head *h, int64_t t);

/* ---- Removing series without samples (head_gc.c) ---- */
/* A reader is anything that may keep head_series pointers or label strings after dropping the
 * head's locks: a querier until it is closed, an appender until commit or rollback. Enter before
 * the first lookup; pass the returned token to head_reader_exit. */
uint64_t head_reader_enter(head *h);
void head_reader_exit(head *h, uint64_t token);
/* Removes every series with no chunk left (after head_truncate) from the lookup map, the refs
 * arrays, the postings and the symbol table, as Prometheus' head GC. Their memory (and that of
 * symbols no one uses any more) is freed once every reader entered before the call has exited.
 * The caller must keep commits out (the db holds wal_lock): a commit re-resolves series that got
 * `removed` between its appends and itself. Returns how many series were removed. */
size_t head_gc(head *h);
/* The series for s's labels, made again if it was removed (s stays readable for the caller, a
 * reader). *created as head_get_or_create. */
head_series *head_resolve_removed(head *h, head_series *s, bool *created);
/* Frees what head_gc left for later and the reader table (head_fini, no reader left). */
void head_gc_fini(head *h);
/* Takes s out of the labels-hash table (map_lock held for writing). */
void head_table_remove_locked(head *h, head_series *s);
/* Drops the chunk files' pages from the resident set after a pass that read every chunk (block
 * cut, checkpoint); readers fault them back from the page cache. A no-op in memory. */
void head_cool(head *h);

#endif

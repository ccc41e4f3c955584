/* Private to src/scrape/: targets (target.c), scrape loops (loop.c: scheduling and the worker
 * threads; loop_http.c: the libcurl side; loop_append.c: parsing, the series cache, staleness and
 * appending) and the manager (manager.c) that owns them.
 *
 * Threads and locks (lock order: cfg_lock, then lock):
 *  - scrape_manager.cfg_lock (rwlock): guards the config pointers (manager.cfg, pool.job). Written
 *    by scrape_manager_apply; read-held by a worker while it starts or finishes a scrape and by
 *    the discovery callback while it builds targets.
 *  - scrape_manager.lock (mutex): guards the pool list, each pool's targets, groups and dropped
 *    list, each worker's loop list, and the loop fields marked "lock" below. Held only briefly;
 *    never across a call into another module except tsdb-free pure helpers. */
#ifndef ODIN_SCRAPE_LOOP_INT_H
#define ODIN_SCRAPE_LOOP_INT_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "expfmt/expfmt.h"
#include "scrape/scrape.h"

/* ---- Targets (target.c) ------------------------------------------------------------------- */

/* A target as relabeling leaves it. All memory lives in the arena passed to scrape_target_build. */
typedef struct {
    odin_labels discovered; /* before relabeling, with job/__scheme__/... defaults */
    odin_labels all;        /* after relabeling, __ labels kept, __meta_ removed */
    odin_labels pub;        /* `all` without labels starting with "__": what samples get */
    char *url;
    int64_t interval_ms, timeout_ms;
    uint64_t hash; /* identity: labels and URL, as Prometheus' Target.hash */
} scrape_target;

/* Builds target i of group g for job. Returns 1 when the target is kept, 0 when relabeling
 * dropped it (only `discovered` is set), or a negative code with err ("no address", bad
 * interval...). */
int scrape_target_build(const scrape_job *job, const discovery_group *g, size_t i, odin_arena *a,
                        scrape_target *out, odin_err *err);
/* The URL with a loopback host replaced by this machine's name (globalUrl in the API). */
char *scrape_target_global_url(const char *url, odin_arena *a);
/* Prometheus' offset of a target inside its interval, from its hash and the server's seed. */
int64_t scrape_target_offset_ms(uint64_t hash, uint64_t seed, int64_t interval_ms, int64_t now_ms);

/* ---- Series cache (loop_append.c) -------------------------------------------------------------
 */

/* One series a target exposed, keyed by its exposition text (name and labels as the line spelled
 * them) and the format that text was parsed in, as Prometheus keys its scrape cache: an unchanged
 * series costs neither label parsing nor sorting nor an index lookup. A series spelled two ways
 * has two entries with one ref. Owned by its loop's cache; a pass number (gen) wraps after 2^32
 * passes, which only equality tests read. */
typedef struct scrape_series {
    /* tsdb ref, 0 before the first append: the head's refs are 32 bits (HEAD_MAX_REFS); one
     * that is not is kept as 0 and the series found by its labels each time */
    uint32_t ref;
    uint32_t hash;     /* of the text and format: the entry's place in the cache's table */
    uint32_t rlen;     /* the series text's length */
    uint32_t nlen;     /* ... and the metric name's at its start */
    uint32_t seen_gen; /* last pass that saw it without an explicit timestamp (staleness) */
    uint32_t used_gen; /* last pass that saw it at all (cache eviction) */
    uint32_t born_gen; /* pass that created it: its ref is forgotten if that pass rolls back */
    uint32_t epoch;    /* the loop's cfg_epoch its labels and dropped were worked out under */
    bool raw_om;       /* the text was parsed as OpenMetrics */
    bool dropped;
    bool was_prev; /* seen by the last good pass as well (set when this pass sees it) */
    char text[]; /* rlen bytes of series text */
} scrape_series;

/* Entries are cut from blocks the cache owns (no allocator header or 16-byte rounding per entry:
 * a cache holds one per series a target exposes), one after another in the order the target
 * first sent them. Eviction copies the survivors into fresh blocks in the order of the last
 * pass and frees the old ones. */
typedef struct scrape_series_block scrape_series_block;

typedef struct {
    /* Open addressing with linear probing over hash; NULL marks an empty slot. Entries are only
     * ever removed all at once (eviction rebuilds the table), so no deletion is needed. */
    scrape_series **table;
    uint32_t table_cap, table_len; /* cap: 0 or a power of two, at most 3/4 full */
    /* Every sample line's entry in body order: the first norder from the last pass, the pass
     * under way writing its own over them as it goes (npos so far). Targets repeat their order,
     * so line i is first compared with order[i] before it is overwritten: a hit skips hashing and
     * a random probe into the table. After a failed pass the order is a mix of both, all entries
     * still in the table (nothing is evicted after a failed pass), which is all a guess needs. */
    scrape_series **order;
    size_t norder, npos, order_cap;
    scrape_series_block *blocks; /* the newest first, entries cut from its free end */
    /* The series the last good pass saw without an explicit timestamp (Prometheus' seriesPrev,
     * which staleness marks when they go) are the entries whose seen_gen is prev_gen: nprev of
     * them. After a failed or empty pass marked them stale, prev_gen is a pass no entry was seen
     * in. */
    size_t nprev, ncur; /* ncur: distinct entries the pass under way saw */
    uint32_t prev_gen;
    uint32_t gen;
    uint64_t report_refs[5];
} scrape_cache;

void scrape_cache_init(scrape_cache *c);

/* ---- Metadata (loop_meta.c) ---------------------------------------------------------------------
 * A target's metric families and their HELP/TYPE/UNIT. The loop's worker is the only writer and
 * reads without the lock; `lock` guards the map and the entries' type/help/unit against readers
 * (scrape_manager_metadata), and is taken by the worker only to change them. Taken after the
 * manager's lock, never the other way round. */
typedef struct {
    pthread_mutex_t lock;
    odin_map map; /* family name -> entry (private to loop_meta.c), heap-owned by the table */
} scrape_meta_table;

void scrape_meta_init(scrape_meta_table *t);
void scrape_meta_fini(scrape_meta_table *t);
/* Records a HELP, TYPE or UNIT entry seen in pass gen (other kinds are ignored). Worker only. */
void scrape_meta_note(scrape_meta_table *t, const expfmt_entry *e, uint64_t gen);
/* After a successful pass gen: forgets families the pass did not mention (Prometheus replaces a
 * target's metadata with each successful scrape's). Worker only. */
void scrape_meta_sweep(scrape_meta_table *t, uint64_t gen);
/* Appends every family to *v (grown in a, strings copied into a). Any thread. False when the
 * arena is full. */
bool scrape_meta_collect(scrape_meta_table *t, odin_labels target, odin_arena *a,
                         scrape_metadata **v, size_t *n, size_t *cap);
void scrape_cache_fini(scrape_cache *c);

/* ---- Loops (loop.c, loop_http.c, loop_append.c) -----------------------------------------------
 */

typedef struct scrape_pool scrape_pool;
typedef struct scrape_worker scrape_worker;
/* Receive buffers a worker keeps for its next scrapes: about as many as are in flight at once. */
enum { SCRAPE_SPARE_BUFFERS = 4 };

/* Heap copy of a label set with all strings in one block (*storage, freed with free()). */
odin_labels scrape_labels_dup(odin_labels in, char **storage);
/* The cache's entry for series text (len bytes, parsed as OpenMetrics when om), or NULL. */
scrape_series *scrape_cache_get(const scrape_cache *c, const char *text, size_t len, bool om);
/* Bytes of the blocks holding the cache's entries. */
size_t scrape_cache_bytes(const scrape_cache *c);

typedef enum {
    SCRAPE_LOOP_RUNNING,
    SCRAPE_LOOP_ENDING, /* target gone: waits ~2 intervals, then writes stale markers */
    SCRAPE_LOOP_DEAD,   /* the worker frees it */
} scrape_loop_state;

/* The plain-HTTP client's state for one loop (loop_fast.c). */
typedef struct {
    bool usable;           /* the loop's URL and job allow it (scrape_fast_configure) */
    bool redirected;       /* a redirect or an unknown encoding came: libcurl from then on */
    bool follow_redirects; /* the job's setting */
    int fd;                /* -1 without a connection */
    int state;             /* idle, connecting, sending, reading */
    bool reused;           /* the connection answered a request before this one */
    bool retried;          /* this request was sent again on a new connection */
    bool got_bytes;        /* some of the answer arrived */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool localhost;        /* the URL named localhost: 127.0.0.1, then ::1 when that is refused */
    const char *first_err; /* localhost: 127.0.0.1's error, reported if ::1 fails too */
    odin_strbuf req; /* the request's bytes, built once per configuration */
    size_t req_off;
    odin_strbuf raw; /* the answer as received; chunk framing is removed in place */
    size_t head_len; /* 0 until the head is in */
    int status;
    int64_t clen; /* Content-Length, -1 when none */
    bool chunked, gzip, close_after;
    const char *content_type; /* in the loop's arena */
    int ch_state;             /* chunked decoding: state, next framing byte, bytes left */
    size_t ch_in, ch_left;
    size_t body_end;   /* end of the (still encoded) body in raw */
    size_t last_total; /* bytes the last answer took in raw: the next recv's room */
    int64_t deadline_ns;
    void *z; /* z_stream *, made on the first gzip answer */
} scrape_fast;

/* What one pass refused, as Prometheus' prometheus_target_scrapes_* and
 * prometheus_target_scrape_pool_exceeded_label_limits_total count it. */
typedef struct {
    uint32_t out_of_order, duplicate, out_of_bounds; /* samples tsdb_append refused */
    bool sample_limit, label_limit;                  /* the pass failed on that limit */
} scrape_faults;

/* The error text of a body over body_size_limit (loop_fast.c, loop_http.c), as Prometheus words
 * it; the manager counts scrapes that end with it. */
extern const char scrape_err_body_limit[];

typedef struct scrape_loop scrape_loop;
struct scrape_loop {
    /* Fixed at creation. */
    scrape_worker *worker;
    uint64_t hash;
    char *url;
    char *global_url;
    odin_labels pub;        /* heap copy: target labels that samples get */
    odin_labels discovered; /* heap copy */
    odin_labels all;        /* heap copy */
    int64_t interval_ms, timeout_ms;
    char *storage[3]; /* heap blocks holding the strings of pub, discovered, all */
    /* Guarded by the manager's lock. */
    scrape_pool *pool; /* NULL once the loop is stopping */
    bool stop_requested;
    bool shutdown;      /* manager going away: no stale markers */
    const char *health; /* "up", "down", "unknown" */
    char *last_error;   /* heap */
    int64_t last_scrape_ms;
    double last_duration_s;
    scrape_loop *next; /* in the worker's list */
    /* Owned by the worker thread. */
    scrape_loop_state state;
    int64_t next_mono_ms; /* when the next tick is due */
    int64_t aligned_ms;   /* ideal wall time of the current tick (timestamp alignment) */
    bool started;         /* the first tick happened */
    bool scraped_once;
    /* The series settings of the job the cache was built under (scrape_job_series_key) and a
     * count of their changes; an entry made before the last change is worked out again. */
    uint64_t cache_key;
    uint32_t cfg_epoch;
    int64_t last_ts; /* timestamp of the last scrape, for end-of-run staleness */
    int64_t stale_due_mono_ms;
    void *easy;    /* CURL * */
    void *headers; /* struct curl_slist * */
    uint64_t prepared_gen; /* the manager's config_gen the easy handle's options follow, or 0 */
    bool in_flight;
    bool fast_in_flight;    /* the scrape in flight goes through `fast`, not the easy handle */
    uint64_t fast_gen;      /* the manager's config_gen `fast` was configured for */
    scrape_fast fast;
    int64_t scrape_ts; /* timestamp of the scrape in flight */
    int64_t start_mono_ns; /* of the scrape in flight or the last one (0 before the first) */
    scrape_faults faults;  /* what the last pass refused, for the manager's counters */
    odin_strbuf body;
    size_t body_limit;
    bool body_over;
    char *content_type;
    char errbuf[256]; /* CURLOPT_ERRORBUFFER */
    scrape_cache cache;
    expfmt_parser *parser;  /* kept across scrapes with its scratch (NULL until the first) */
    scrape_meta_table meta; /* its own lock, see above */
    odin_arena arena;       /* per scrape */
};

/* Frees the loop's per-scrape arena, at the end of each scrape: nothing in it outlives the
 * scrape, and a loop spends most of its interval waiting, so an arena kept between scrapes (one
 * 16 KiB block for the few KiB a warm scrape uses, ~512 KiB after a first scrape of 2000 series)
 * would be idle memory in every loop; one block's malloc and free per scrape cost far less. */
void scrape_loop_release_arena(scrape_loop *l);

/* Creates a loop for target t (copies what it keeps). The caller links it into a worker. */
scrape_loop *scrape_loop_new(const scrape_target *t);
void scrape_loop_free(scrape_loop *l);

/* The timestamp for a tick that was due at wall time ideal_ms and started at now_ms: the ideal
 * tick (the first tick's due time plus whole intervals) when now_ms is within min(interval/100,
 * tolerance) after it, else now_ms, as Prometheus' --scrape.adjust-timestamps does; equal
 * timestamp deltas compress to one bit. Always now_ms when alignment is off. */
int64_t scrape_loop_tick_ts(scrape_loop *l, int64_t now_ms, int64_t ideal_ms);

/* Result of fetching one body. */
typedef struct {
    bool ok;
    const char *err; /* when !ok: Prometheus-worded message, in the loop's arena */
    const char *body;
    size_t len;
    const char *content_type; /* may be NULL */
} scrape_fetch;

/* loop_http.c: resets what one scrape of l fills, whichever client makes it (the body, its
 * limit from job, the error text). */
void scrape_http_begin(scrape_loop *l, const scrape_job *job);
/* loop_http.c: makes (on first use) and configures the easy handle for one scrape of l under
 * job's settings, after scrape_http_begin, which
 * belong to the manager's configuration number config_gen (options already set for that number
 * are kept; 0 sets them every time). 0 or an error message in *msg (arena) when the request
 * cannot even be built (e.g. unreadable password_file). */
int scrape_http_prepare(scrape_loop *l, const scrape_job *job, uint64_t config_gen,
                        const char **msg);
/* Turns the finished transfer into a fetch result. */
void scrape_http_finish(scrape_loop *l, int curl_code, scrape_fetch *out);
void scrape_http_cleanup(scrape_loop *l);

/* loop_http.c, shared with loop_fast.c. */
extern const char scrape_user_agent[];
const char *scrape_http_status_text(long code);
/* The Accept header line ("Accept: ...", no line end) for job (static or in the arena). */
const char *scrape_http_accept(const scrape_job *job, odin_arena *a);

/* loop_fast.c: the plain-HTTP client. configure decides, once per configuration, whether l's
 * scrapes can go through it (http:// to an IP address, no proxy, no authentication, no redirect
 * seen) and builds the request; it drops any open connection. start and step return 1 when the
 * scrape is done (*out filled, as scrape_http_finish fills it), 0 while it is in flight (poll
 * for scrape_fast_events, call step with what came back, or 0 to check the deadline), -1 when
 * the answer is a redirect or in an encoding it does not decode: the scrape must be made again
 * with libcurl, which keeps the loop. 1xx answers before the real one are skipped. */
void scrape_fast_init(scrape_fast *f);
void scrape_fast_fini(scrape_fast *f);
bool scrape_fast_configure(scrape_loop *l, const scrape_job *job, const char *accept);
int scrape_fast_start(scrape_loop *l, int64_t now_ns, scrape_fetch *out);
short scrape_fast_events(const scrape_loop *l);
int scrape_fast_step(scrape_loop *l, short revents, int64_t now_ns, scrape_fetch *out);
void scrape_fast_abort(scrape_loop *l);
/* Response parsing, for tests: parse_head reads a head of n bytes at p into f (status, framing,
 * content type copied into a); returns its length, 0 when incomplete, -1 when malformed, -2 for
 * a content encoding the client does not decode. dechunk removes chunk framing from f->raw
 * between f->ch_in and its end, moving data down to f->body_end; 1 when the last chunk and the
 * trailers are in, 0 when more is needed, -1 when malformed. */
int scrape_fast_parse_head(scrape_fast *f, const char *p, size_t n, odin_arena *a);
int scrape_fast_dechunk(scrape_fast *f);

/* What appending one scrape produced. */
typedef struct {
    size_t scraped;      /* samples in the body */
    size_t added;        /* samples after metric relabeling */
    size_t series_added; /* cache misses */
} scrape_append_stats;

/* loop_append.c: parses f (or nothing when f->ok is false) into db and writes the report series
 * (up, scrape_duration_seconds, ...) at ts. Returns the scrape error text (arena) or NULL. */
const char *scrape_loop_append(scrape_loop *l, tsdb *db, const scrape_job *job,
                               const scrape_fetch *f, int64_t ts, int64_t start_mono_ns,
                               double *duration_s);
/* Stale markers for every series of the last scrape and the report series, at ts. */
void scrape_loop_write_stale(scrape_loop *l, tsdb *db, int64_t ts);

/* ---- Manager and workers (manager.c, loop.c) ------------------------------------------------- */

/* A job's targets. name is fixed; job is guarded by cfg_lock; the rest by the manager's lock. */
typedef struct {
    odin_labels labels;
    char *storage;
} scrape_dropped;

struct scrape_pool {
    char *name;
    const scrape_job *job;
    discovery_group *groups; /* the last groups discovery reported (deep copy) */
    size_t ngroups;
    scrape_loop **loops; /* active targets, in discovery order */
    size_t nloops;
    scrape_dropped *dropped;
    size_t ndropped;
    char *limit_error; /* target_limit exceeded: every loop fails with this (heap) */
    size_t discovered; /* targets in groups at the last sync (prometheus_sd_discovered_targets) */
    uint64_t syncs; /* target updates from discovery (prometheus_target_scrape_pool_sync_total) */
};

/* prometheus_target_interval_length_seconds for one scrape interval (the manager's lock). */
typedef struct {
    int64_t interval_ms;
    odin_summary *s; /* its own lock: workers observe without the manager's */
} scrape_interval_summary;

/* One scrape thread. m, thread and wake_fd are fixed after start (any thread may wake it with
 * scrape_worker_wake); `loops` (a list linked through scrape_loop.next, new loops pushed at the
 * head) is guarded by the manager's lock, and only the worker unlinks. */
struct scrape_worker {
    scrape_manager *m;
    pthread_t thread;
    int wake_fd; /* eventfd: the worker's poll returns when it is written */
    /* Worker only: the libcurl multi handle (CURLM *), made when the first scrape needs libcurl
     * (worker_multi in loop.c), so a server whose targets are all plain HTTP never loads it;
     * and the loop count its connection cache was last sized for. */
    void *multi;
    size_t nloops;
    scrape_loop *loops;
    /* Worker only: the plain-HTTP transfers given to the last poll and their descriptors, one
     * more entry for wake_fd; waitfds is the same in libcurl's form, used with a multi handle. */
    struct pollfd *pollfds;
    void *waitfds; /* struct curl_waitfd * */
    scrape_loop **waiting;
    size_t nwaiting, waiting_cap;
    /* Worker only: exactly the loops whose fast_in_flight is set, so that a wake-up for a
     * transfer's bytes does not walk every loop (at 250 loops a worker, that walk and the one
     * below cost ~80 ns per sample at a 15 s interval). */
    scrape_loop **inflight;
    size_t ninflight, inflight_cap;
    /* Worker only: every live loop by the time it next needs attention (a tick, its end;
     * scrapes in flight are watched by their deadlines through `inflight`), a binary min-heap: a
     * wake-up steps only the loops that are due. All loops are stepped, and the heap rebuilt, only
     * when the manager changed something
     * (`dirty`, set by scrape_worker_wake before it wakes the worker). */
    struct scrape_due {
        int64_t due_ms;
        scrape_loop *l;
    } * heap;
    size_t nheap, heap_cap;
    _Atomic bool dirty;
    /* Worker only: receive buffers no scrape holds (scrape_worker_take_buffer). */
    odin_strbuf spare[SCRAPE_SPARE_BUFFERS];
    size_t nspare;
};

/* A loop's receive buffers (the answer as received, the inflated or libcurl body) are needed only
 * while its scrape is in flight and appended, yet one kept per loop held a whole body for every
 * target between scrapes (~130 bytes per series). The worker lends them instead: take gives
 * the empty *b a spare buffer's memory if there is one (nothing when l has no worker, as in
 * tests), give hands b's memory back to the pool (freed when the pool is full) and leaves b
 * empty. Worker thread only. */
void scrape_worker_take_buffer(scrape_worker *w, odin_strbuf *b);
void scrape_worker_give_buffer(scrape_worker *w, odin_strbuf *b);

struct scrape_manager {
    /* Fixed after scrape_manager_new. */
    tsdb *db;
    uint64_t offset_seed;
    discovery_manager *disc;
    scrape_worker *workers;
    size_t nworkers;
    pthread_rwlock_t cfg_lock;
    const scrape_config *cfg; /* cfg_lock */
    pthread_mutex_t lock;
    scrape_pool **pools; /* written with cfg_lock (write) and lock held; read under either */
    size_t npools;
    bool stopping; /* lock */
    uint64_t config_gen; /* lock: bumped by every scrape_manager_apply, never 0 after the first */
    uint64_t pools_created;             /* lock: prometheus_target_scrape_pools_total */
    scrape_interval_summary *intervals; /* lock */
    size_t nintervals;
    /* prometheus_target_* counters: workers add to them without the lock */
    _Atomic uint64_t sample_limit_hits, body_limit_hits, label_limit_hits, target_limit_hits;
    _Atomic uint64_t out_of_order, duplicates, out_of_bounds;
};

/* The interval summary for loops of interval_ms, made on first use. With the manager's lock. */
odin_summary *scrape_interval_summary_locked(scrape_manager *m, int64_t interval_ms);

void *scrape_worker_main(void *arg);
/* Wakes a worker out of its poll (after loops were added or asked to stop). Any thread. */
void scrape_worker_wake(scrape_worker *w);

#endif

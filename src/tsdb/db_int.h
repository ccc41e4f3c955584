/* Private to src/tsdb/: the database object shared by the appender, querier and storage files. */
#ifndef ODIN_TSDB_DB_INT_H
#define ODIN_TSDB_DB_INT_H

#include "tsdb/head.h"
#include "tsdb/wal.h"

struct tsdb_wal;
struct tsdb_block;

/* Owned by the caller of tsdb_open; freed by tsdb_close. `opts` and `dir` are fixed after open.
 * `wal_lock` is held across a commit's WAL write and head append (so a checkpoint sees every
 * logged sample in the head) and guards `wal`. `blocks_lock` guards the block list; queriers
 * take a reference on each block they read. `compact_lock` serializes compaction and retention.
 * Lock order: compact_lock, wal_lock, blocks_lock, then the head's locks. Counters are atomics. */
struct tsdb {
    tsdb_opts opts;
    char *dir;
    head head;
    pthread_mutex_t compact_lock;
    pthread_mutex_t wal_lock;
    struct tsdb_wal *wal;
    pthread_rwlock_t blocks_lock;
    struct tsdb_block **blocks; /* sorted by mint */
    size_t nblocks;
    _Atomic int64_t min_valid_t; /* appends below this are out of bounds: it is in blocks */
    pthread_t compactor;
    bool compactor_running;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
    _Atomic uint64_t compactions;
    bool dir_ok; /* the locks above were initialised */
    _Atomic uint64_t samples_appended;
    _Atomic uint64_t out_of_order;
    _Atomic uint64_t out_of_bounds;
    _Atomic uint64_t duplicates;
    _Atomic uint64_t wal_corruptions;
    _Atomic uint64_t compactions_failed;
    _Atomic uint64_t head_truncations;
    _Atomic uint64_t time_retentions, size_retentions; /* retention passes that deleted blocks */
    _Atomic uint64_t checkpoints;          /* WAL checkpoints written (each replaces the old) */
    _Atomic uint64_t checkpoints_failed;
    _Atomic uint64_t write_errors;         /* commits or block writes that failed on I/O */
    /* opts.external_labels copied as NUL-terminated name,value pairs (fixed after open), in the
     * form block_write_opts takes */
    char **external_labels;
    size_t nexternal_labels;
    /* Finished appenders kept with their buffers for the next transaction: a scrape's ~50 KB
     * sample buffer was a malloc and free per scrape (app_pool_lock, taken briefly). */
    pthread_mutex_t app_pool_lock;
    struct tsdb_appender *app_pool[8];
    size_t napp_pool;
    /* The newest sample time in each WAL segment on disk from wal_seg_base on (INT64_MIN where
     * none), so a checkpoint deletes whole segments older than the head instead of relogging the
     * head (db_wal.c). wal_foreign says that is not enough: replay could not keep the refs the
     * segments use or read samples from a checkpoint, or a relog failed and left segments below
     * wal_seg_base; the next checkpoint must relog. Guarded by wal_lock. */
    int wal_seg_base;
    bool wal_foreign;
    int64_t *wal_seg_maxt;
    size_t wal_nseg;
    /* A commit's WAL record and sample array, reused (wal_lock). */
    odin_strbuf wal_rec;
    struct wal_sample_buf {
        void *v; /* wal_sample * */
        size_t cap;
    } wal_scratch;
};

/* db_wal.c: writes the series first seen and the samples of one commit as WAL records (a no-op
 * for an in-memory database); replays the WAL into the head at open. */
typedef struct {
    head_series *s;
    uint64_t ref; /* s->ref, copied while s was in cache: the WAL record and the stripe need it */
    int64_t t;
    double v;
} tsdb_pending_sample;

/* Called with wal_lock held. */
int tsdb_wal_log_commit_locked(tsdb *db, head_series *const *created, size_t ncreated,
                               const tsdb_pending_sample *samples, size_t n, odin_err *err);
/* After a head truncation at t: the segments whose samples are all older than t are replaced by a
 * checkpoint.N directory holding every live series (Prometheus' checkpoint; the samples from t on
 * stay in the later segments). A relog instead where replay could not keep the log's refs. */
int tsdb_wal_checkpoint(tsdb *db, int64_t t, odin_err *err);
/* Logs deletions from the head as one tombstones record (Prometheus' type 3), synced before it
 * returns; replay applies them after the last sample. Each interval must end at the series' last
 * sample time when it was deleted, so samples appended later stay out of it. Where the segments
 * use refs the head could not keep, the head is relogged from the oldest valid time instead. */
int tsdb_wal_log_tombstones(tsdb *db, const wal_tombstone *v, size_t n, odin_err *err);
/* Bytes of the WAL directory, for size retention. */
uint64_t tsdb_wal_size(tsdb *db);

/* db_blocks.c: the persisted blocks. */
int tsdb_blocks_load(tsdb *db, odin_err *err);
void tsdb_blocks_close(tsdb *db);
/* Copies the block list with a reference on each; release with tsdb_blocks_release. */
struct tsdb_block **tsdb_blocks_acquire(tsdb *db, int64_t mint, int64_t maxt, size_t *n);
void tsdb_blocks_release(struct tsdb_block **v, size_t n);
/* Cuts head windows that are old enough into blocks, truncates the head and the WAL, applies
 * retention. Called by the background compactor and by tests. */
int tsdb_compact(tsdb *db, odin_err *err);
int tsdb_compactor_start(tsdb *db);
/* Fills the storage, compaction and WAL fields of tsdb_stats (called by tsdb_get_stats). */
void tsdb_blocks_stats(tsdb *db, tsdb_stats *out);
/* Sorts db->blocks by mint; blocks_lock held for writing. */
void tsdb_blocks_sort_locked(tsdb *db);

/* compact.c, called with compact_lock held. The compaction ranges (block_range_ms times 3^k up to
 * max_block_range_ms; at most 10) into out, returning how many. */
size_t tsdb_compact_ranges(const tsdb *db, int64_t *out);
/* Plans and runs block compactions until nothing is left to merge (bounded per call). */
int tsdb_compact_blocks_locked(tsdb *db, odin_err *err);
/* Rewrites every block that has tombstones without the deleted samples. */
int tsdb_clean_tombstones_locked(tsdb *db, odin_err *err);
/* Rewrites every block holding chunks of another encoding than opts.odin_chunks asks for (the
 * offline `odin tsdb recode`); takes compact_lock. Counts blocks rewritten and left alone. */
int tsdb_recode_blocks(tsdb *db, uint64_t *rewritten, uint64_t *kept, odin_err *err);

/* tombstones.c: drops the head samples in [mint, maxt] of the given series (re-encoding their
 * chunks); with compact_lock held, so no block cut reads those chunks meanwhile. Returns how many
 * series lost samples. */
uint64_t tsdb_head_delete_locked(tsdb *db, head_series *const *v, size_t n, int64_t mint,
                                 int64_t maxt);
void tsdb_compactor_stop(tsdb *db);


int tsdb_wal_start(tsdb *db, odin_err *err);
void tsdb_wal_stop(tsdb *db);

#endif

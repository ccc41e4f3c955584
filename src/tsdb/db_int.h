/* Private to src/tsdb/: the database object shared by the appender, querier and storage files. */
#ifndef ODIN_TSDB_DB_INT_H
#define ODIN_TSDB_DB_INT_H

#include "tsdb/head.h"

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
};

/* db_wal.c: writes the series first seen and the samples of one commit as WAL records (a no-op
 * for an in-memory database); replays the WAL into the head at open. */
typedef struct {
    head_series *s;
    int64_t t;
    double v;
} tsdb_pending_sample;

/* Called with wal_lock held. */
int tsdb_wal_log_commit_locked(tsdb *db, head_series *const *created, size_t ncreated,
                               const tsdb_pending_sample *samples, size_t n, odin_err *err);
/* After a head truncation at t: a new segment with every live series and the head's samples at
 * or after t, then the older segments are deleted (Prometheus' checkpoint, done by relogging). */
int tsdb_wal_checkpoint(tsdb *db, int64_t t, odin_err *err);
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
void tsdb_compactor_stop(tsdb *db);


int tsdb_wal_start(tsdb *db, odin_err *err);
void tsdb_wal_stop(tsdb *db);

#endif

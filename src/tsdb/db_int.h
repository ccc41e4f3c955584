/* Private to src/tsdb/: the database object shared by the appender, querier and storage files. */
#ifndef ODIN_TSDB_DB_INT_H
#define ODIN_TSDB_DB_INT_H

#include "tsdb/head.h"

struct tsdb_wal;

/* Owned by the caller of tsdb_open; freed by tsdb_close. `opts` and `dir` are fixed after open;
 * `wal_lock` serializes WAL writes and guards `wal`; counters are atomics. */
struct tsdb {
    tsdb_opts opts;
    char *dir;
    head head;
    pthread_mutex_t wal_lock;
    struct tsdb_wal *wal;
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

int tsdb_wal_log_commit(tsdb *db, head_series *const *created, size_t ncreated,
                        const tsdb_pending_sample *samples, size_t n, odin_err *err);
int tsdb_wal_start(tsdb *db, odin_err *err);
void tsdb_wal_stop(tsdb *db);

#endif

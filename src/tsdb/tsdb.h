/* The embedded time-series database: a head of recent samples in compressed chunks, a write-ahead
 * log, persisted blocks in Prometheus' layout, retention, and a querier that merges them.
 *
 * Samples enter through one door, the appender (a transaction used by one thread), and leave through
 * another, the querier (a read view over [mint, maxt]). Everything else here is status and admin.
 *
 * Threads: a tsdb is safe for concurrent use by any number of appenders and queriers. Inside, the
 * head's series map and postings are guarded by an rwlock, each series' samples by a striped mutex
 * (lock order: map lock, then stripe). Queriers hold a reference on the blocks they read, so
 * retention can drop a block while a query still uses it; head series that a truncation removes
 * are freed only once the queriers and appenders opened before it are done.
 *
 * Ownership: tsdb_open returns an object freed by tsdb_close; appenders are freed by commit or
 * rollback; queriers by tsdb_querier_close, which also frees every series set it returned. */
#ifndef ODIN_TSDB_TSDB_H
#define ODIN_TSDB_TSDB_H

#include "base/base.h"

typedef struct tsdb tsdb;
typedef struct tsdb_appender tsdb_appender;
typedef struct tsdb_querier tsdb_querier;
typedef struct tsdb_series_set tsdb_series_set;
typedef struct tsdb_regex tsdb_regex;

/* The stale marker: a NaN no arithmetic produces (Prometheus' value.StaleNaN). */
#define TSDB_STALE_NAN_BITS 0x7ff0000000000002ULL
double tsdb_stale_nan(void);
bool tsdb_is_stale(double v);

typedef struct {
    const char *dir;              /* data directory; NULL keeps everything in memory (tests) */
    int64_t retention_ms;         /* 0 = 15d unless retention_bytes is set */
    uint64_t retention_bytes;     /* 0 = no size limit */
    int64_t block_range_ms;       /* head cut size, default 2h */
    int64_t max_block_range_ms;   /* largest compacted block, default min(10% retention, 31d) */
    int64_t wal_fsync_ms;         /* bound on what a power cut loses; default 1000, 0 = every commit */
    uint64_t wal_segment_bytes;   /* default 128 MiB */
    bool wal_compression;         /* snappy WAL records, as Prometheus' default; the server sets it
                                   * from --storage.tsdb.wal-compression (default true) */
    bool read_only;               /* replay and read, never write (dump, analyze) */
    bool odin_chunks;             /* write blocks in Odin's denser chunk encoding, which Prometheus
                                   * and promtool cannot read (docs/format/chunks.md); default XOR */
    /* prometheus.yml's global external_labels, written into every new block's meta.json as the
     * "thanos" section a Thanos sidecar would add; copied by tsdb_open. Empty writes none. */
    odin_labels external_labels;
} tsdb_opts;

/* Opens or creates the data directory, loads blocks and replays the WAL (a torn or corrupt tail is
 * cut at the last good record and logged). NULL with err when the directory cannot be used. */
tsdb *tsdb_open(const tsdb_opts *opts, odin_err *err);
/* Flushes the WAL, stops background work and frees everything. NULL is fine. */
void tsdb_close(tsdb *db);

/* ---- Appending ------------------------------------------------------------------------------- */

/* A write transaction. Labels are copied (interned) on first sight of a series; callers keep the
 * returned ref and pass it back on the next append of the same series to skip the label lookup
 * (0 means unknown). A ref goes stale when the head drops its series (no samples left after a
 * head truncation, as Prometheus' head GC); refs are never reused, so the labels passed with a
 * stale ref find or make the series again and *ref is updated. Samples become visible to queriers
 * and durable in the WAL on commit. */
tsdb_appender *tsdb_appender_new(tsdb *db);
/* Checks the sample against the series (out of bounds, out of order, duplicate timestamp with a
 * different value are -ODIN_ERR_CONFLICT with err saying which, as Prometheus' errors). Labels must
 * be sorted by name with unique names and a non-empty __name__ or at least one label. */
int tsdb_append(tsdb_appender *a, uint64_t *ref, odin_labels ls, int64_t t, double v,
                odin_err *err);
/* Which of Prometheus' storage errors a -ODIN_ERR_CONFLICT from tsdb_append is (the scrape loop
 * counts each kind, as prometheus_target_scrapes_sample_* do); NONE for any other error. */
typedef enum {
    TSDB_REJECT_NONE,
    TSDB_REJECT_OUT_OF_ORDER,
    TSDB_REJECT_DUPLICATE,
    TSDB_REJECT_OUT_OF_BOUNDS,
} tsdb_reject;
tsdb_reject tsdb_reject_kind(const odin_err *err);
/* A hint with no effect on results: starts loading the head state of series `ref` into the CPU
 * cache because the caller will append to it soon. At 100k+ series every append otherwise waits on
 * a few cache misses; the scrape loop passes the ref of the line a few ahead. The appender also
 * remembers the series it found (up to 16, by ref), so tsdb_append of that ref skips the lookup.
 * 0 or an unknown ref is ignored. */
void tsdb_appender_prefetch(tsdb_appender *a, uint64_t ref);
/* A hint with no effect on results: makes room for n samples in this transaction at once (the
 * scrape loop passes its target's last sample count) instead of growing the buffer as they come.
 * An n no larger than what is already reserved, or one whose size overflows, is ignored. */
void tsdb_appender_reserve(tsdb_appender *a, size_t n);
/* Writes the WAL record and publishes the samples; frees the appender either way. */
int tsdb_appender_commit(tsdb_appender *a, odin_err *err);
void tsdb_appender_rollback(tsdb_appender *a);

/* ---- Matching -------------------------------------------------------------------------------- */

typedef enum { TSDB_MATCH_EQ, TSDB_MATCH_NEQ, TSDB_MATCH_RE, TSDB_MATCH_NRE } tsdb_match_type;

/* A label matcher. Regexes are fully anchored, as Prometheus', and compiled once at init.
 * A matcher is used by one thread at a time (it holds the regex engine's match scratch). */
typedef struct {
    tsdb_match_type type;
    char *name;   /* owned */
    char *value;  /* owned */
    tsdb_regex *re;
} tsdb_matcher;

int tsdb_matcher_init(tsdb_matcher *m, tsdb_match_type type, odin_str name, odin_str value,
                      odin_err *err);
void tsdb_matcher_fini(tsdb_matcher *m);
bool tsdb_matcher_matches(const tsdb_matcher *m, odin_str value);

/* ---- Querying -------------------------------------------------------------------------------- */

/* A read view of samples with mint <= t <= maxt (ms, inclusive). */
tsdb_querier *tsdb_querier_open(tsdb *db, int64_t mint, int64_t maxt);
void tsdb_querier_close(tsdb_querier *q);

/* Series matching all matchers, sorted by label set. At least one matcher must not match the empty
 * string (as Prometheus requires); otherwise -ODIN_ERR_INVALID. Freed with the querier. */
tsdb_series_set *tsdb_querier_select(tsdb_querier *q, const tsdb_matcher *ms, size_t n,
                                     odin_err *err);
/* The same series as tsdb_querier_select in an unspecified order, for consumers that do not need
 * sorted input (aggregations): when only the head holds matching data, this skips sorting the
 * selected series by labels (~20% of a 200k-series count()) and may also yield series without
 * samples in the range (their iterators return none) rather than lock each one twice. */
tsdb_series_set *tsdb_querier_select_any_order(tsdb_querier *q, const tsdb_matcher *ms, size_t n,
                                               odin_err *err);
/* Advances to the next series; false at the end. */
bool tsdb_series_next(tsdb_series_set *s);
/* Labels of the current series; valid until the querier is closed. */
odin_labels tsdb_series_labels(const tsdb_series_set *s);

/* Iterates the current series' samples in time order within the querier's range. An iterator is
 * valid until the next tsdb_series_iter or tsdb_series_next on the same series set (the sample
 * buffers are reused): read one series at a time. */
typedef struct {
    struct tsdb_iter_state *st;
} tsdb_iter;

void tsdb_series_iter(tsdb_series_set *s, tsdb_iter *it);
/* Next sample; false at the end. Stale markers are returned like any sample (tsdb_is_stale). */
bool tsdb_iter_next(tsdb_iter *it, int64_t *t, double *v);

/* Sorted unique label names of series matching ms (all series when n == 0); strings live until the
 * querier is closed. */
int tsdb_querier_label_names(tsdb_querier *q, const tsdb_matcher *ms, size_t n,
                             const odin_str **out, size_t *count, odin_err *err);
int tsdb_querier_label_values(tsdb_querier *q, const char *name, const tsdb_matcher *ms, size_t n,
                              const odin_str **out, size_t *count, odin_err *err);

/* ---- Admin (Prometheus' /api/v1/admin/tsdb/ calls) ------------------------------------------- */

/* Creates <data>/snapshots/<YYYYMMDDTHHMMSSZ>-<16 hex>/ holding hard links to every block's files
 * and, when with_head, the head's samples written as one more block; appends the directory's name
 * (what the API returns) to name_out. Blocks are not compacted or deleted meanwhile. Fails with
 * ODIN_ERR_UNAVAILABLE for an in-memory database, ODIN_ERR_IO when linking or writing fails (the
 * partial snapshot is removed; the data directory is never changed). */
int tsdb_snapshot(tsdb *db, bool with_head, odin_strbuf *name_out, odin_err *err);
/* Deletes the samples in [mint, maxt] (ms, inclusive) of the series matching all matchers (at
 * least one must not match "", else ODIN_ERR_INVALID). Blocks get Prometheus tombstones, which
 * reads apply at once and compaction or tsdb_clean_tombstones makes final; the head drops the
 * samples and rewrites the WAL without them, so a restart does not bring them back. */
int tsdb_delete_series(tsdb *db, const tsdb_matcher *ms, size_t n, int64_t mint, int64_t maxt,
                       odin_err *err);
/* Rewrites every block that has tombstones without the deleted samples and drops the old one. */
int tsdb_clean_tombstones(tsdb *db, odin_err *err);

/* ---- Status ---------------------------------------------------------------------------------- */

typedef struct {
    uint64_t head_series;             /* live series (prometheus_tsdb_head_series) */
    uint64_t head_series_created;     /* prometheus_tsdb_head_series_created_total */
    uint64_t head_series_removed;     /* prometheus_tsdb_head_series_removed_total */
    uint64_t head_chunks;             /* open ones included */
    uint64_t head_chunks_created, head_chunks_removed;
    int64_t head_min_t, head_max_t;     /* INT64_MAX / INT64_MIN when empty */
    uint64_t samples_appended;
    uint64_t out_of_order_samples;
    uint64_t out_of_bounds_samples;
    uint64_t duplicate_samples;
    uint64_t wal_fsyncs;
    double wal_fsync_quantiles[3]; /* 0.5, 0.9, 0.99 over 10 minutes (NaN: no fsync there) */
    double wal_fsync_seconds;      /* every fsync's duration, summed */
    uint64_t wal_corruptions;
    uint64_t compactions;
    uint64_t blocks;
    uint64_t storage_bytes;
    /* added for prometheus_tsdb_* self-metrics */
    uint64_t compactions_failed;      /* prometheus_tsdb_compactions_failed_total */
    uint64_t head_truncations;        /* prometheus_tsdb_head_truncations_total */
    uint64_t wal_truncations;         /* prometheus_tsdb_wal_truncations_total */
    uint64_t checkpoint_creations;    /* prometheus_tsdb_checkpoint_creations_total */
    uint64_t checkpoint_creations_failed;
    uint64_t checkpoint_deletions;    /* prometheus_tsdb_checkpoint_deletions_total */
    uint64_t write_errors;            /* commits and block writes that failed (ENOSPC, EIO) */
    uint64_t retention_bytes;         /* prometheus_tsdb_retention_limit_bytes (0 = none) */
    uint64_t time_retentions;         /* prometheus_tsdb_time_retentions_total */
    uint64_t size_retentions;         /* prometheus_tsdb_size_retentions_total */
    int64_t retention_ms;             /* the time limit in force */
    uint64_t wal_bytes;               /* prometheus_tsdb_wal_storage_size_bytes */
    uint64_t tombstones;              /* deletion intervals in blocks */
    int64_t lowest_timestamp;         /* prometheus_tsdb_lowest_timestamp (INT64_MAX if empty) */
} tsdb_stats;

void tsdb_get_stats(tsdb *db, tsdb_stats *out);

/* The head's cardinality, as Prometheus' GET /api/v1/status/tsdb reports it: from the head's
 * postings alone (the series each label pair has), never from series labels or chunks, so it
 * costs one pass over the label pairs whatever the number of series. Each list holds the top
 * `limit`, larger values first and equal values by name; names are the caller's to free with
 * tsdb_card_stats_fini. */
typedef struct {
    char *name; /* a label name, a metric name, or "name=value" for pairs */
    uint64_t value;
} tsdb_card_entry;

typedef struct {
    tsdb_card_entry *v;
    size_t len;
} tsdb_card_list;

typedef struct {
    uint64_t num_label_pairs; /* distinct label pairs with series */
    tsdb_card_list metrics;   /* series per value of `metric_label` (seriesCountByMetricName) */
    tsdb_card_list names;     /* distinct values per label name (labelValueCountByLabelName) */
    tsdb_card_list memory;    /* bytes of values times series per name (memoryInBytesByLabelName) */
    tsdb_card_list pairs;     /* series per label pair (seriesCountByLabelValuePair) */
} tsdb_card_stats;

void tsdb_head_card_stats(tsdb *db, const char *metric_label, size_t limit, tsdb_card_stats *out);
void tsdb_card_stats_fini(tsdb_card_stats *s);

/* ---- Tools (cli.c) --------------------------------------------------------------------------- */

/* `odin tsdb dump|analyze|import ...` (argv[0] is "tsdb"), promtool's tsdb commands. */
int tsdb_cli_main(int argc, char **argv);

#endif

/* Private to src/tsdb/: the write-ahead log in Prometheus' on-disk format (wal/ segments named
 * %08d, 32 KiB pages, fragments with a 7-byte header: type, length BE16, CRC32C BE32), so that
 * Odin replays a Prometheus WAL on migration and Prometheus replays ours. Records are written
 * snappy-compressed (type bit 3) where that makes them smaller, unless compression is off, and
 * read either way.
 *
 * Threads: one writer at a time (the tsdb serializes commits under its wal lock); with fsync_ms > 0
 * the writer also owns a flusher thread, started by wal_open and joined by wal_close, that shares
 * only the writer's internal mutex (never held across a call out of this file). Readers are
 * independent objects over closed or open segments, one thread each.
 *
 * Byte layout, damage rules and deviations from Prometheus: docs/format/wal.md. */
#ifndef ODIN_TSDB_WAL_H
#define ODIN_TSDB_WAL_H

#include "tsdb/tsdb.h"

typedef struct tsdb_wal tsdb_wal;

typedef struct {
    uint64_t segment_bytes; /* default 128 MiB */
    int64_t fsync_ms;       /* 0: fsync every record before wal_log returns; else a background
                               flusher fsyncs at most this long after a write */
    bool compress; /* snappy, as Prometheus' --storage.tsdb.wal-compression (on by default) */
    /* segment_bytes must be a multiple of WAL_PAGE_BYTES (else wal_open fails with INVALID). */
} wal_opts;

/* Opens <dir> (created if missing) for appending: writing continues in a new segment after the
 * last existing one. NULL with err. */
tsdb_wal *wal_open(const char *dir, const wal_opts *opts, odin_err *err);
void wal_close(tsdb_wal *w); /* flushes and fsyncs */
/* Appends one record (split into fragments across pages as Prometheus does). When it returns 0
 * the record is in the OS (and on disk when fsync_ms is 0). A failed write returns
 * -ODIN_ERR_IO naming the segment and is cut off again, so earlier records stay readable;
 * records over WAL_MAX_RECORD_BYTES are -ODIN_ERR_LIMIT. */
int wal_log(tsdb_wal *w, const uint8_t *rec, size_t len, odin_err *err);
int wal_sync(tsdb_wal *w, odin_err *err);
/* Starts a new segment; returns its number. */
int wal_next_segment(tsdb_wal *w, int *seg, odin_err *err);
/* The number of the segment being written: the one the last wal_log wrote to (a record never
 * spans segments). */
int wal_segment(tsdb_wal *w);
/* First and last segment numbers present (-1 when none). */
void wal_segment_range(const char *dir, int *first, int *last);
/* N of the newest complete checkpoint.N directory in dir (-1 when none). */
int wal_last_checkpoint(const char *dir);
uint64_t wal_fsyncs(const tsdb_wal *w);
/* prometheus_tsdb_wal_fsync_duration_seconds: its 0.5, 0.9 and 0.99 quantiles over the last
 * 10 minutes (NaN without fsyncs there) and the seconds spent in every fsync so far. */
void wal_fsync_durations(tsdb_wal *w, double quantiles[3], double *sum_s);

/* Reads every record of <dir>: the newest checkpoint.N directory first, then segments after N, in
 * order. A torn or corrupt tail (bad CRC, short fragment, broken fragment sequence) ends the read
 * at the last good record: wal_reader_next returns the error naming segment and offset,
 * wal_reader_position says where the last good record ended, and wal_repair() then truncates
 * that segment there and deletes later ones. */
typedef struct wal_reader wal_reader;

/* NULL with err: ODIN_ERR_NOTFOUND when dir does not exist, ODIN_ERR_IO when it cannot be listed.
 * Freed with wal_reader_close. */
wal_reader *wal_reader_open(const char *dir, odin_err *err);
/* 1 with *rec and *len (valid until the next call), 0 at the end, negative on corruption
 * (-ODIN_ERR_CORRUPT; -ODIN_ERR_UNAVAILABLE for a zstd record; -ODIN_ERR_IO for a read error),
 * with err saying "<dir>/<segment>: offset N: reason". Once negative, every later call returns
 * the same. */
int wal_reader_next(wal_reader *r, const uint8_t **rec, size_t *len, odin_err *err);
/* Where the last good record ended: segment number and byte offset. Before the first record of a
 * segment it is (that segment, 0). */
void wal_reader_position(const wal_reader *r, int *segment, uint64_t *offset);
/* The directory holding the segment wal_reader_position() names: the checkpoint directory while
 * the checkpoint is read, else the WAL directory. Pass it to wal_repair. Valid until close. */
const char *wal_reader_dir(const wal_reader *r);
/* True when the last record returned came from the checkpoint directory. */
bool wal_reader_in_checkpoint(const wal_reader *r);
void wal_reader_close(wal_reader *r);
/* Truncates <dir>/<segment> at offset and deletes the later segments of dir (logged as a warning,
 * component tsdb). -ODIN_ERR_INVALID when offset is past the segment's end. */
int wal_repair(const char *dir, int segment, uint64_t offset, odin_err *err);

/* Page and fragment geometry (Prometheus wlog), and the largest record either side accepts. */
enum {
    WAL_PAGE_BYTES = 32 * 1024,
    WAL_FRAGMENT_HEADER_BYTES = 7,
    WAL_MAX_RECORD_BYTES = 256 * 1024 * 1024,
    WAL_FRAG_SNAPPY = 0x08, /* fragment type bit: the record is one snappy block */
};

/* Record encoding (Prometheus record package). Types: */
enum {
    WAL_REC_SERIES = 1,
    WAL_REC_SAMPLES = 2,
    WAL_REC_TOMBSTONES = 3,
    WAL_REC_EXEMPLARS = 4,
    WAL_REC_MMAP_MARKERS = 5,
    WAL_REC_METADATA = 6,
};

typedef struct {
    uint64_t ref;
    odin_labels labels;
} wal_series;

typedef struct {
    uint64_t ref;
    int64_t t;
    double v;
} wal_sample;

/* Encoders append to out. */
void wal_encode_series(odin_strbuf *out, const wal_series *s, size_t n);
void wal_encode_samples(odin_strbuf *out, const wal_sample *s, size_t n);
/* Decoders fill arena memory (labels point into rec unless the arena copies: they copy). Return
 * the count, or -ODIN_ERR_CORRUPT with err. */
int wal_decode_series(const uint8_t *rec, size_t len, odin_arena *a, wal_series **out,
                      size_t *n, odin_err *err);
int wal_decode_samples(const uint8_t *rec, size_t len, odin_arena *a, wal_sample **out,
                       size_t *n, odin_err *err);

/* The record's type byte (WAL_REC_*), or -1 for an empty record. */
int wal_record_type(const uint8_t *rec, size_t len);

/* Tombstones: one interval per entry (Prometheus writes one entry per interval). */
typedef struct {
    uint64_t ref;
    int64_t mint, maxt;
} wal_tombstone;

void wal_encode_tombstones(odin_strbuf *out, const wal_tombstone *s, size_t n);
int wal_decode_tombstones(const uint8_t *rec, size_t len, odin_arena *a, wal_tombstone **out,
                          size_t *n, odin_err *err);

/* Metadata: the metric type is Prometheus' record.MetricType byte (0 unknown, 1 counter, 2 gauge,
 * 3 histogram, 4 gaugehistogram, 5 summary, 6 info, 7 stateset). Unknown fields are skipped;
 * unit and help are copied into the arena (empty when absent). */
typedef struct {
    uint64_t ref;
    uint8_t type;
    odin_str unit;
    odin_str help;
} wal_metadata;

void wal_encode_metadata(odin_strbuf *out, const wal_metadata *m, size_t n);
int wal_decode_metadata(const uint8_t *rec, size_t len, odin_arena *a, wal_metadata **out,
                        size_t *n, odin_err *err);

/* Exemplars are not kept: this checks an Exemplars record and counts its entries. */
int wal_count_exemplars(const uint8_t *rec, size_t len, size_t *n, odin_err *err);

/* CRC-32C (Castagnoli), as every Prometheus format uses; crc is the previous result (0 to start),
 * as Go's crc32.Update. tsdb_crc32c uses SSE4.2 when the CPU has it; _sw is the portable table
 * loop (exported so tests compare the two). */
uint32_t tsdb_crc32c(uint32_t crc, const void *p, size_t n);
uint32_t tsdb_crc32c_sw(uint32_t crc, const void *p, size_t n);

/* Snappy (snappy.c). The encoder's scratch table: 1 << TSDB_SNAPPY_TABLE_BITS entries. */
enum { TSDB_SNAPPY_TABLE_BITS = 14 };
/* Compresses src into out (reset first) as one snappy block; -ODIN_ERR_LIMIT when out cannot hold
 * tsdb_snappy_max_encoded(len) bytes. */
int tsdb_snappy_encode(const uint8_t *src, size_t len, odin_strbuf *out, uint16_t *table);
size_t tsdb_snappy_max_encoded(size_t len);
/* Decompresses one snappy block (the raw format, no framing) into out, which is reset first; out's
 * cap bounds the result. -ODIN_ERR_CORRUPT with err on any malformed or out-of-bounds input,
 * -ODIN_ERR_LIMIT when the declared length passes out's cap. */
int tsdb_snappy_decode(const uint8_t *src, size_t len, odin_strbuf *out, odin_err *err);

#endif

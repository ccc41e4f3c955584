/* Private to src/tsdb/: deletion intervals ("tombstones") of a block, in Prometheus' tombstones
 * file format, and the helpers that apply them to chunks. The format (tsdb/docs/format/
 * tombstones.md upstream; no deviation):
 *
 *   offset  size     meaning
 *   0       4        magic 0x0130BA30, big-endian
 *   4       1        format version 1
 *   5       ...      entries: series ref uvarint, mint varint, maxt varint (inclusive, ms)
 *   end-4   4        CRC32C of the entries (the version byte is not covered), big-endian
 */
#ifndef ODIN_TSDB_TOMBSTONES_H
#define ODIN_TSDB_TOMBSTONES_H

#include "tsdb/block.h"

/* One deleted interval [mint, maxt] (inclusive) of one series. */
typedef struct {
    uint64_t ref;
    int64_t mint, maxt;
} tsdb_tombstone;

/* A set of intervals. After tombstones_normalize the array is sorted by (ref, mint) and the
 * intervals of a ref are disjoint and not adjacent. Owned by its holder; tombstones_fini frees. */
typedef struct {
    tsdb_tombstone *v;
    size_t n, cap;
} tsdb_tombstones;

void tombstones_fini(tsdb_tombstones *ts);
/* Appends an interval; call tombstones_normalize before lookups. */
void tombstones_add(tsdb_tombstones *ts, uint64_t ref, int64_t mint, int64_t maxt);
/* Sorts and merges overlapping or adjacent intervals of each ref (Prometheus' Intervals.Add). */
void tombstones_normalize(tsdb_tombstones *ts);
/* The intervals of ref (a slice of ts->v, valid until ts changes); 0 when it has none. */
size_t tombstones_get(const tsdb_tombstones *ts, uint64_t ref, const tsdb_tombstone **out);
/* Whether t lies in one of n sorted intervals. */
bool tombstones_cover(const tsdb_tombstone *iv, size_t n, int64_t t);

/* Decodes a whole tombstones file (magic, version, entries, CRC); `file` names it in errors
 * (ODIN_ERR_CORRUPT with the byte offset). The result is normalized. */
int tombstones_decode(const uint8_t *p, size_t len, const char *file, tsdb_tombstones *out,
                      odin_err *err);
/* Encodes the whole file into out (appended). */
void tombstones_encode(const tsdb_tombstones *ts, odin_strbuf *out);
/* Writes <dir>/tombstones atomically (temporary file, fsync, rename). */
int tombstones_write(const char *dir, const tsdb_tombstones *ts, odin_err *err);

/* Re-encodes one XOR chunk without the samples inside the n intervals, into the arena. Returns 1
 * with *out set when samples remain, 0 when none does, negative on a corrupt chunk or full arena. */
int tombstones_apply_chunk(const block_chunk *in, const tsdb_tombstone *iv, size_t n,
                           odin_arena *a, block_chunk *out, odin_err *err);

#endif

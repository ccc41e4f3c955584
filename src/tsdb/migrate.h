/* Private to src/tsdb/: opening a data directory that Prometheus 2.x/3.x wrote, beyond the blocks
 * and the WAL that Odin reads as its own: the m-mapped head chunks in chunks_head/.
 *
 * Called by WAL replay (db_wal.c, one thread, during tsdb_open). Layout: docs/migration.md. */
#ifndef ODIN_TSDB_MIGRATE_H
#define ODIN_TSDB_MIGRATE_H

#include "tsdb/db_int.h"

/* What tsdb_migrate_head_chunks found; logged by it. */
typedef struct {
    uint64_t files;
    uint64_t chunks;         /* chunks read with a good CRC */
    uint64_t samples;        /* their samples */
    uint64_t covered;        /* samples the WAL replay also put in the head */
    uint64_t in_blocks;      /* samples older than the newest block's end: persisted already */
    uint64_t missing;        /* samples neither in the head nor in a block */
    uint64_t skipped_chunks; /* non-XOR chunks (native histograms, out-of-order): not kept */
    uint64_t torn;           /* files whose tail ended in a partial or bad chunk */
} migrate_chunks_stats;

/* Checks <dir>/chunks_head/ (Prometheus' m-mapped head chunks, magic 0x0130BC91) against the head
 * that WAL replay just rebuilt. `refs` maps the WAL's 8-byte series refs to head_series. Prometheus
 * keeps every head sample in the WAL too, so the chunks only speed its restart; they are verified
 * sample by sample, never loaded. Then, unless read-only, the directory is renamed to
 * chunks_head.from-prometheus[.N]: left in place, Prometheus would re-attach its chunks by series
 * ref to the series that Odin's WAL declares under the same numbers if the user moves back.
 * Fails (ODIN_ERR_CORRUPT or UNAVAILABLE naming the file) when a file has an unknown header or
 * version, or when chunk samples are missing from the head: the caller refuses to start rather
 * than lose them; nothing is deleted. A torn tail (as a crash leaves) is counted, not an error. */
int tsdb_migrate_head_chunks(tsdb *db, const odin_map *refs, migrate_chunks_stats *st,
                             odin_err *err);

#endif

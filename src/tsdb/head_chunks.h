/* Private to src/tsdb/: the files under <data>/chunks_odin/ that hold the head's cut chunks, so the
 * head keeps only open chunks in anonymous memory (Prometheus' chunks_head/, in our own format:
 * docs/format/head_chunks.md). Not a source of truth: the WAL is; the files are deleted at open.
 *
 * Threads: any appender (through cut_open) writes, head_truncate and tombstones drop chunks,
 * queriers read the bytes through head_chunk.b without calling in here. One mutex of its own,
 * `mu`, guards every field; it is the innermost lock of the head (map_lock, then a stripe, then
 * `mu`), so nothing here takes another lock.
 *
 * Records are copied into a MAP_SHARED mapping of HEAD_CHUNK_FILE_BYTES made when the file is
 * created, into space reserved ahead with fallocate (pwritev where that is refused or the file
 * system is not known to make it safe; page cache, no fsync), and read through the same mapping; a
 * pointer handed out stays valid until the last chunk of its file is dropped. */
#ifndef ODIN_TSDB_HEAD_CHUNKS_H
#define ODIN_TSDB_HEAD_CHUNKS_H

#include "base/base.h"

#include <stdint.h>

enum {
    HEAD_CHUNK_FILE_BYTES = 64 << 20, /* one mapping per file; a file is sealed when full */
    HEAD_CHUNK_FILE_HEADER = 8,       /* magic (4) | version (1) | padding (3) */
    HEAD_CHUNK_FILE_MAGIC = 0x0D1C4C5A,
    HEAD_CHUNK_FILE_VERSION = 2,
};

/* Owned by the head; created by head_chunk_files_open, freed by head_chunk_files_close. */
typedef struct head_chunk_files head_chunk_files;

/* Removes <dir>/chunks_odin/ (leftovers of an earlier run: the WAL replay rebuilds the head) and
 * creates it empty. NULL on failure with err filled. */
head_chunk_files *head_chunk_files_open(const char *dir, odin_err *err);
/* Unmaps and closes every file, and removes them (their chunks die with the head). NULL is fine. */
void head_chunk_files_close(head_chunk_files *cf);
/* Appends one chunk record: ref, mint, then the npre bytes of pre (the head's HEAD_CHUNK_PREFIX:
 * link to the series' previous chunk, maxt, len) right before the len data bytes. 0 with *out
 * pointing at the chunk's bytes in the mapping (for reading only, valid until its chunk is
 * dropped); -1 when the write failed (full disk, I/O error: logged once until a write succeeds
 * again), and the caller keeps the chunk in memory. */
int head_chunk_files_write(head_chunk_files *cf, uint64_t ref, int64_t mint, const uint8_t *pre,
                           size_t npre, const uint8_t *b, uint32_t len, const uint8_t **out);
/* The same with the data in pieces, written one after the other (a split open chunk's parts, joined
 * as they are copied into the record). */
typedef struct {
    const uint8_t *p;
    uint32_t len;
} head_chunk_piece;
int head_chunk_files_writev(head_chunk_files *cf, uint64_t ref, int64_t mint, const uint8_t *pre,
                            size_t npre, const head_chunk_piece *d, int nd, const uint8_t **out);
/* If b points into one of the files (a chunk handed out by write), that chunk is no longer
 * referenced and true is returned: the file is unmapped and deleted with its last chunk once it
 * is no longer the one being written. False for any other address (a heap chunk). NULL cf is
 * fine. The head keeps no file id per chunk: a few files cover every chunk, so the address
 * finds its file. */
bool head_chunk_files_drop(head_chunk_files *cf, const uint8_t *b);
/* As head_chunk_files_drop, for a chunk whose bytes were just read back through the mapping (a
 * part of a split open chunk, at its cut): reading faulted its page back into the resident set,
 * so every HEAD_CHUNK_REREAD_BATCH such drops the 64 KiB steps spanning the ones dropped in each
 * file leave the page tables again (one madvise a file; the bytes stay in the page cache). */
enum { HEAD_CHUNK_REREAD_BATCH = 256 };
bool head_chunk_files_drop_reread(head_chunk_files *cf, const uint8_t *b);
/* Releases the mapped pages from this process' resident set (they stay in the page cache and are
 * faulted back on the next read): after a block cut has read every chunk of a window. */
void head_chunk_files_cool(head_chunk_files *cf);
/* From now on every record is written with pwritev, as on file systems where copying into the
 * mapping is not safe (head_chunks.c, space_fixed_at_fallocate); for tests. */
void head_chunk_files_use_pwritev(head_chunk_files *cf);
/* Files and bytes on disk, for stats and tests. */
void head_chunk_files_usage(head_chunk_files *cf, uint64_t *files, uint64_t *bytes);

#endif

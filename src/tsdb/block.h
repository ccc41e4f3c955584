/* Private to src/tsdb/: persisted blocks in Prometheus' layout, so promtool, Thanos and Prometheus
 * read what Odin writes and Odin reads theirs:
 *
 *   <dir>/<ULID>/meta.json      ulid, minTime, maxTime (exclusive), stats, compaction, version 1
 *   <dir>/<ULID>/index          index format v2 (symbols, series, label indices, postings, TOC)
 *   <dir>/<ULID>/chunks/000001  chunk segments (magic 0x85BD40DD), XOR chunks with CRC32C (or, as an
 *                               option, Odin's encoding: docs/format/chunks.md)
 *   <dir>/<ULID>/tombstones     magic 0x0130BA30, version 1, entries, CRC32C (tombstones.h)
 *
 * A block is written into <ULID>.tmp-for-creation and renamed when complete. Opened blocks are
 * immutable and read through mmap (but for their tombstones, which
 * deletions add under the block's own lock); they are reference-counted so retention can drop one that a
 * query still reads (the last block_unref unmaps it and, when marked, deletes the directory). */
#ifndef ODIN_TSDB_BLOCK_H
#define ODIN_TSDB_BLOCK_H

#include "tsdb/tsdb.h"

/* A chunk as handed to the writer or read from a block: [mint, maxt] inclusive, XOR bytes with the
 * 2-byte count header or Odin's encoding, as chunk.h encodes them (the bytes tell which). */
typedef struct {
    int64_t mint, maxt;
    const uint8_t *b;
    uint32_t len;
} block_chunk;

/* The writer pulls series in label order from a source (the head, or a merge of blocks when
 * compacting). next() returns 1 with the series' labels and chunks (valid until the next call),
 * 0 at the end, negative on error. */
typedef struct {
    void *ctx;
    int (*next)(void *ctx, odin_labels *labels, const block_chunk **chunks, size_t *n,
                odin_err *err);
} block_source;

typedef struct {
    const char *parent_dir;   /* the data directory */
    int64_t mint, maxt;       /* maxt exclusive, as meta.json */
    int compaction_level;     /* 1 for blocks cut from the head */
    const char *const *sources; /* ULIDs of source blocks for compactions; NULL for level 1 */
    size_t nsources;
    const char *const *external_labels; /* name,value pairs for meta.json's "thanos" section */
    size_t nexternal;
    uint8_t chunk_encoding; /* TSDB_ENC_ODIN, or 0 / TSDB_ENC_XOR for Prometheus' XOR chunks */
    /* Odin chunks only: samples per re-encoded chunk (0: 480, the head cut's), and whether a
     * series' Odin chunks that fewer such chunks would hold are merged (compactions) */
    uint32_t odin_chunk_samples;
    bool merge_odin_chunks;
} block_write_opts;

/* Writes a block; *ulid_out (27 bytes) receives its name. Chunks not in opts->chunk_encoding are
 * re-encoded (block_recode), so an XOR block never holds an Odin chunk. Empty sources write no block and return
 * 0 with ulid_out[0] == '\0'. */
int block_write(const block_write_opts *opts, const block_source *src, char *ulid_out,
                odin_err *err);

typedef struct tsdb_block tsdb_block;

/* Opens <path> (a block directory): reads meta.json, maps index and chunk files, checks the TOC and
 * magic numbers. Bad files are ODIN_ERR_CORRUPT naming the file; nothing is deleted. */
tsdb_block *block_open(const char *path, odin_err *err);
void block_ref(tsdb_block *b);
void block_unref(tsdb_block *b);
/* Marks the block for deletion when its last reference goes. */
void block_mark_deleted(tsdb_block *b);

typedef struct {
    char ulid[27];
    int64_t mint, maxt;       /* maxt exclusive */
    uint64_t num_samples, num_series, num_chunks;
    int level;
    uint64_t size_bytes;      /* index + chunks + meta + tombstones */
} block_meta;

const block_meta *block_get_meta(const tsdb_block *b);
const char *block_path(const tsdb_block *b);

/* Series of the block matching all matchers (same semantics as tsdb_querier_select), sorted by
 * labels, each with its chunk metas overlapping [mint, maxt]. Results live in the arena. */
typedef struct {
    odin_labels labels;
    block_chunk *chunks; /* bytes point into the mapped chunk files: valid while the block is ref'd */
    size_t nchunks;
} block_series;

int block_select(tsdb_block *b, const tsdb_matcher *ms, size_t n, int64_t mint, int64_t maxt,
                 odin_arena *a, block_series **out, size_t *count, odin_err *err);
/* Label names, or values of one name, of all series in the block (sorted, in the arena). */
int block_label_names(tsdb_block *b, odin_arena *a, odin_str **out, size_t *count, odin_err *err);
int block_label_values(tsdb_block *b, const char *name, odin_arena *a, odin_str **out,
                       size_t *count, odin_err *err);

/* ---- Whole-block access (compaction, snapshots) and deletion ---- */

/* Every series ID of the block, ascending, which is label order (the all-postings list). */
int block_series_ids(tsdb_block *b, odin_arena *a, uint32_t **ids, size_t *n, odin_err *err);
/* One series by ID with its chunks overlapping [mint, maxt], tombstones applied (re-encoded
 * chunks live in the arena). Labels point into the block's index map: valid while it is ref'd. */
int block_series_read(tsdb_block *b, uint32_t id, int64_t mint, int64_t maxt, odin_arena *a,
                      block_series *out, odin_err *err);
/* Records deletion of the samples in [mint, maxt] of series matching ms (at least one matcher
 * must not match ""): rewrites the block's tombstones file, then applies it to later reads.
 * *nseries gets the number of series touched. Safe beside readers. */
int block_delete(tsdb_block *b, const tsdb_matcher *ms, size_t n, int64_t mint, int64_t maxt,
                 uint64_t *nseries, odin_err *err);
/* meta.json's compaction.sources (the block itself when the list is empty). */
size_t block_sources(const tsdb_block *b, const char (**out)[27]);
/* Deletion intervals recorded for the block (0 when clean). */
uint64_t block_num_tombstones(tsdb_block *b);

/* Which chunk encodings the block's segment files hold (a walk over the chunk frames, not their
 * bytes): BLOCK_HAS_* bits, 0 for a block without chunks. Bad framing is ODIN_ERR_CORRUPT. */
enum { BLOCK_HAS_XOR = 1, BLOCK_HAS_ODIN = 2, BLOCK_HAS_OTHER = 4 };
int block_chunk_encodings(const tsdb_block *b, unsigned *mask, odin_err *err);

/* ULID for a block created at ms (48-bit time, 80 random bits), Crockford base32, 26 chars. */
void block_new_ulid(int64_t ms, char out[27]);

#endif

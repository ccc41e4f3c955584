/* Private to the block files (block_write.c, block_read.c, meta.c, ulid.c): byte helpers over
 * bounds-checked cursors, the meta.json codec, and the on-disk constants of Prometheus' block
 * layout (docs/format/blocks.md points to the upstream tables). */
#ifndef ODIN_TSDB_BLOCK_INT_H
#define ODIN_TSDB_BLOCK_INT_H

#include "tsdb/block.h"

enum {
    BLOCK_INDEX_MAGIC = 0xBAAAD700u,
    BLOCK_INDEX_FORMAT = 2,           /* v2; the upstream diagram's "1" is the legacy format */
    BLOCK_INDEX_HEADER_BYTES = 5,
    BLOCK_TOC_BYTES = 6 * 8 + 4,
    BLOCK_SERIES_ALIGN = 16,          /* series ID = offset / 16 */
    BLOCK_CHUNKS_MAGIC = 0x85BD40DDu,
    BLOCK_CHUNKS_FORMAT = 1,
    BLOCK_CHUNKS_HEADER_BYTES = 8,    /* magic, format byte, 3 zero bytes */
    BLOCK_TOMBSTONES_MAGIC = 0x0130BA30u,
    BLOCK_TOMBSTONES_FORMAT = 1,
    BLOCK_META_VERSION = 1,
    BLOCK_MAX_VARINT32_BYTES = 5,     /* Prometheus' reader wants this many bytes after a chunk ref */
};

#define BLOCK_SEGMENT_BYTES_DEFAULT ((uint64_t)512 * 1024 * 1024)

/* ---- Big-endian bytes ------------------------------------------------------------------------ */

static inline void block_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void block_put_be64(uint8_t *p, uint64_t v)
{
    block_put_be32(p, (uint32_t)(v >> 32));
    block_put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t block_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t block_get_be64(const uint8_t *p)
{
    return (uint64_t)block_get_be32(p) << 32 | block_get_be32(p + 4);
}

/* A read cursor over [p, p + len). Every getter checks the bounds first; on a short or malformed
 * read it sets `bad`, returns 0 and leaves `pos` where the failed field began, so the caller can
 * report the file offset (base + pos) once, after a run of reads. */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad;
} block_dec;

static inline block_dec block_dec_make(const uint8_t *p, size_t len)
{
    return (block_dec){.p = p, .len = len, .pos = 0, .bad = false};
}

static inline size_t block_dec_left(const block_dec *d)
{
    return d->bad ? 0 : d->len - d->pos;
}

static inline uint8_t block_dec_byte(block_dec *d)
{
    if (d->bad || d->len - d->pos < 1) {
        d->bad = true;
        return 0;
    }
    return d->p[d->pos++];
}

static inline uint32_t block_dec_be32(block_dec *d)
{
    if (d->bad || d->len - d->pos < 4) {
        d->bad = true;
        return 0;
    }
    uint32_t v = block_get_be32(d->p + d->pos);
    d->pos += 4;
    return v;
}

uint64_t block_dec_uvarint(block_dec *d);
int64_t block_dec_varint(block_dec *d);
/* A uvarint length followed by that many bytes; the result points into the cursor's buffer. */
odin_str block_dec_str(block_dec *d);

/* ---- meta.json (meta.c) ---------------------------------------------------------------------- */

/* Everything of meta.json that Odin keeps. `sources` is heap-owned (block_meta_file_fini). */
typedef struct {
    block_meta m;
    uint64_t num_tombstones;
    int version;
    char (*sources)[27];
    size_t nsources;
} block_meta_file;

void block_meta_file_fini(block_meta_file *f);

/* Appends meta.json text exactly as Prometheus 2.42 writes it (encoding/json MarshalIndent with a
 * tab, zero stats omitted, no trailing newline). Level-1 blocks list themselves as their source
 * when `sources` is empty. External labels, when given, go into a "thanos" section. */
void block_meta_format(odin_strbuf *out, const block_meta *m, const char *const *sources,
                       size_t nsources, const char *const *external_labels, size_t nexternal);

/* Parses meta.json text; `file` names it in errors (ODIN_ERR_CORRUPT with the byte offset).
 * Unknown fields are skipped; ulid, minTime, maxTime and version 1 are required. */
int block_meta_parse(const char *text, size_t len, const char *file, block_meta_file *out,
                     odin_err *err);

/* ---- ULIDs (ulid.c) -------------------------------------------------------------------------- */

/* True when s is 26 Crockford base32 characters (upper case) whose value fits 128 bits. */
bool block_ulid_valid(odin_str s);

/* ---- Chunk encodings (block_recode.c) -------------------------------------------------------- */

enum {
    BLOCK_XOR_CHUNK_SAMPLES = 120,  /* as Prometheus cuts them */
    BLOCK_ODIN_CHUNK_SAMPLES = 480, /* 2 h at a 15 s scrape: one chunk per series per block */
};

/* The series' chunks in encoding `enc` (TSDB_ENC_XOR or TSDB_ENC_ODIN). When all are in it already
 * *out is `in`; otherwise the samples are decoded and re-cut into new chunks in the arena (Odin's
 * at odin_cut samples, 0 meaning BLOCK_ODIN_CHUNK_SAMPLES). With `merge`, Odin chunks that
 * odin_cut-sample chunks would hold in fewer chunks are re-cut too (compactions: one header,
 * frame and index entry for several head cuts' chunks).
 * ODIN_ERR_CORRUPT for undecodable bytes, ODIN_ERR_INVALID for samples out of order. */
int block_recode(const block_chunk *in, size_t n, uint8_t enc, size_t odin_cut, bool merge,
                 odin_arena *a, const block_chunk **out, size_t *nout, odin_err *err);

/* ---- Files (block_write.c) ------------------------------------------------------------------- */

/* Writes a block as block_write does, cutting chunk segments at seg_bytes (0 = 512 MiB); lets tests
 * exercise segment cuts without writing half a gigabyte. */
int block_write_seg(const block_write_opts *opts, const block_source *src, uint64_t seg_bytes,
                    char *ulid_out, odin_err *err);
int block_fsync_dir(const char *path, odin_err *err);
/* Removes a block directory (files, chunks/ and its segments; nothing deeper). */
int block_remove_dir(const char *path, odin_err *err);

#endif

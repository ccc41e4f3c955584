/* Private to src/tsdb/: Prometheus' XOR chunk (encoding 1), bit for bit, so blocks we write are read
 * by promtool and Prometheus, and theirs by us. Layout (see docs/format/chunks.md upstream):
 *
 *   offset  size  meaning
 *   0       2     sample count, big-endian
 *   2       ...   bit stream, MSB first: t0 varint (zig-zag), v0 64 bits; t1-t0 uvarint, v1 XOR;
 *                 then per sample delta-of-delta (0 | 10+14 | 110+17 | 1110+20 | 1111+64 bits)
 *                 and value XOR (0 | 10 + meaningful bits | 11 + 5 leading + 6 length + bits).
 *
 * Blocks may instead hold Odin's denser encoding (TSDB_ENC_ODIN, docs/format/chunks.md), an option
 * Prometheus does not read. Its bytes start with a zero count field, which no XOR chunk with more
 * than its 2 header bytes has, so xor_iter reads either kind from the bytes alone and every reader
 * of chunks (querier, compaction, tombstones) handles both.
 */
#ifndef ODIN_TSDB_CHUNK_H
#define ODIN_TSDB_CHUNK_H

#include "tsdb/tsdb.h"

/* Chunk encoding bytes in block chunk files. Prometheus uses 1 to 3 (and the top bit for out-of-order
 * head chunks); Odin's own is far from those. */
enum { TSDB_ENC_XOR = 1, TSDB_ENC_ODIN = 0x4f };
enum { TSDB_CHUNK_MAX_SAMPLES = 65535 };

/* An open chunk's bytes and writer state, less its last sample's time and value, which the
 * caller keeps and passes to each append: the head keeps them per series anyway (for its
 * out-of-order checks), and one copy of them in each of a million series is 16 MB. Bytes are
 * heap-owned (xor_stream_fini). */
#define XOR_STREAM_FIELDS                                                                          \
    uint8_t *b;                                                                                    \
    uint32_t len; /* bytes in use, including a partially filled last byte */                       \
    uint32_t cap;                                                                                  \
    uint8_t bits_free; /* unused low bits of the last byte (0..7); 0 when len is byte-aligned */   \
    uint16_t n;        /* samples */                                                               \
    uint8_t leading, trailing;                                                                     \
    uint64_t t_delta;

typedef struct {
    XOR_STREAM_FIELDS
} xor_stream;

/* A stream with its last sample: appender state for one open chunk. The stream's fields are
 * reachable by name (c.b, c.len) and as a whole (c.s) for the xor_stream calls: a union member
 * and an anonymous struct with the same fields share them (C11 6.5.2.3: a common initial
 * sequence). Bytes are heap-owned by the chunk (xor_chunk_fini). */
typedef struct {
    union {
        xor_stream s;
        struct {
            XOR_STREAM_FIELDS
        };
    };
    int64_t t;
    double v;
} xor_chunk;

#undef XOR_STREAM_FIELDS

void xor_stream_init_cap(xor_stream *c, uint32_t cap);
/* Grows the buffer to at least cap bytes (rounded to malloc's sizes) in one step. */
void xor_stream_reserve(xor_stream *c, uint32_t cap);
void xor_stream_fini(xor_stream *c);
/* Appends (t, v) after the stream's last sample (last_t, bits last_v; ignored while it is empty).
 * The sample count in the first two bytes is left as it was: c->n has it, and a reader that
 * takes the bytes as a chunk calls xor_stream_put_count first. Written on every append, it was
 * a store to a cache line of its own once a chunk passed 64 bytes (the head's open chunks). */
void xor_stream_append(xor_stream *c, int64_t last_t, uint64_t last_v, int64_t t, double v);
/* Writes n as the sample count of Prometheus' XOR chunk: its first two bytes, big-endian. */
static inline void xor_put_count(uint8_t *b, uint32_t n)
{
    b[0] = (uint8_t)(n >> 8);
    b[1] = (uint8_t)n;
}
/* Writes c->n to the stream's first two bytes. */
static inline void xor_stream_put_count(xor_stream *c)
{
    xor_put_count(c->b, c->n);
}
/* After the caller copied the bytes of c's stream elsewhere: empties the buffer save its first
 * `at` bytes (the sample count stays in 0..1, bytes 2..at-1 are the caller's) and a partial last
 * byte, carried to byte `at` (*carried set). Appends go on with the same stream, so the bytes
 * copied out, less their last one when it was carried, followed by the buffer's bytes from `at`
 * on, are the chunk the same appends make without this, bit for bit (save the count). */
void xor_stream_carry(xor_stream *c, uint32_t at, bool *carried);

void xor_chunk_init(xor_chunk *c);
/* As xor_chunk_init with a first buffer of cap bytes (at least 16): a caller that knows how big
 * the chunk will grow (the series' previous chunk) saves the reallocations and their slack. */
void xor_chunk_init_cap(xor_chunk *c, uint32_t cap);
/* An appendable chunk holding the samples of the XOR chunk b (its bytes copied, its state read
 * back by decoding it: cheaper than encoding its samples again), with extra bytes of room.
 * False, and c untouched, when b is not a well-formed XOR chunk with samples. */
bool xor_chunk_resume(xor_chunk *c, const uint8_t *b, size_t len, uint32_t extra);
void xor_chunk_fini(xor_chunk *c);
void xor_chunk_append(xor_chunk *c, int64_t t, double v);
/* Shrinks the buffer to its length; the chunk stays appendable. */
void xor_chunk_compact(xor_chunk *c);

/* ---- Odin's encoding (chunkenc_odin.c) ---- */

enum { TSDB_ODIN_MAX_EXP = 12 }; /* largest decimal exponent e of scaled values (k, 10^e) */

/* Bytes tsdb_odin_chunk_encode may use for n samples (room for two layouts while it compares them,
 * and for its 8-byte stores past the end). */
size_t tsdb_odin_chunk_bound(size_t n);
/* Encodes n (1..65535) samples, timestamps ascending, into out (tsdb_odin_chunk_bound(n) bytes);
 * returns the chunk's length, 0 when n is out of range. Every value's bits round-trip exactly
 * (NaN payloads, -0, infinities): values no scaled integer gives back use XOR floats. */
size_t tsdb_odin_chunk_encode(const int64_t *t, const double *v, size_t n, uint8_t *out);

/* Decoder state of one integer stream (timestamps, or scaled values). */
typedef struct {
    uint64_t x, d, base, g; /* running value, delta, first value, common divisor (wrapping) */
    uint8_t order, w[3];
    bool plain; /* codes are not zig-zagged */
} tsdb_odin_stream;

typedef struct {
    size_t pos; /* bits */
    uint16_t n, read;
    uint8_t mode, exp, leading, trailing;
    uint64_t vbits;
    tsdb_odin_stream ts, vs;
} tsdb_odin_iter;

/* False when the header is malformed. The bytes stay the caller's and are passed to every next. */
bool tsdb_odin_iter_init(tsdb_odin_iter *o, const uint8_t *b, size_t len);
/* False at the end or on corrupt bytes (then o->read < o->n); never reads past len. */
bool tsdb_odin_iter_next(tsdb_odin_iter *o, const uint8_t *b, size_t len, int64_t *t, double *v);

/* TSDB_ENC_ODIN when the bytes are in Odin's layout, else TSDB_ENC_XOR. */
static inline uint8_t tsdb_chunk_encoding(const uint8_t *b, size_t len)
{
    return len > 2 && b[0] == 0 && b[1] == 0 ? TSDB_ENC_ODIN : TSDB_ENC_XOR;
}

/* Samples in a chunk of either encoding; 0 for malformed bytes. */
uint32_t tsdb_chunk_samples(const uint8_t *b, size_t len);

/* Reads samples from encoded bytes of either encoding (XOR as stored, count header included).
 * Bounds-checked: corrupt bytes end the iteration with `err` set, never a read past `len`. */
typedef struct {
    const uint8_t *b;
    size_t len;
    size_t pos_bits;
    uint16_t n, read;
    int64_t t;
    uint64_t t_delta;
    uint64_t vbits;
    uint8_t leading, trailing;
    bool err;
    bool odin; /* the bytes are Odin's encoding: `o` decodes them */
    tsdb_odin_iter o;
} xor_iter;

void xor_iter_init(xor_iter *it, const uint8_t *b, size_t len);
bool xor_iter_next(xor_iter *it, int64_t *t, double *v);

/* Varints as Go's encoding/binary: uvarint LEB128, varint zig-zag. */
size_t tsdb_put_uvarint(uint8_t *out, uint64_t v);
size_t tsdb_put_varint(uint8_t *out, int64_t v);
/* 0 on success with *n bytes read; -1 when the buffer ends or the value overflows. */
int tsdb_get_uvarint(const uint8_t *b, size_t len, uint64_t *v, size_t *n);
int tsdb_get_varint(const uint8_t *b, size_t len, int64_t *v, size_t *n);

/* A big-endian 64-bit word's byte order fixed up (one bswap on x86): the chunk bit writers and
 * readers store and load whole words. */
static inline uint64_t tsdb_be64(uint64_t w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(w);
#else
    return w;
#endif
}

#endif

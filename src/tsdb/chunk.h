/* Private to src/tsdb/: Prometheus' XOR chunk (encoding 1), bit for bit, so blocks we write are read
 * by promtool and Prometheus, and theirs by us. Layout (see docs/format/chunks.md upstream):
 *
 *   offset  size  meaning
 *   0       2     sample count, big-endian
 *   2       ...   bit stream, MSB first: t0 varint (zig-zag), v0 64 bits; t1-t0 uvarint, v1 XOR;
 *                 then per sample delta-of-delta (0 | 10+14 | 110+17 | 1110+20 | 1111+64 bits)
 *                 and value XOR (0 | 10 + meaningful bits | 11 + 5 leading + 6 length + bits).
 */
#ifndef ODIN_TSDB_CHUNK_H
#define ODIN_TSDB_CHUNK_H

#include "tsdb/tsdb.h"

enum { TSDB_ENC_XOR = 1 };
enum { TSDB_CHUNK_MAX_SAMPLES = 65535 };

/* Appender state for one open chunk. Bytes are heap-owned by the chunk (xor_chunk_fini). */
typedef struct {
    uint8_t *b;
    uint32_t len;       /* bytes in use, including a partially filled last byte */
    uint32_t cap;
    uint8_t bits_free;  /* unused low bits of the last byte (0..7); 0 when len is byte-aligned */
    uint16_t n;         /* samples */
    uint8_t leading, trailing;
    int64_t t;
    uint64_t t_delta;
    double v;
} xor_chunk;

void xor_chunk_init(xor_chunk *c);
/* As xor_chunk_init with a first buffer of cap bytes (at least 16): a caller that knows how big
 * the chunk will grow (the series' previous chunk) saves the reallocations and their slack. */
void xor_chunk_init_cap(xor_chunk *c, uint32_t cap);
void xor_chunk_fini(xor_chunk *c);
void xor_chunk_append(xor_chunk *c, int64_t t, double v);
/* Shrinks the buffer to its length; the chunk stays appendable. */
void xor_chunk_compact(xor_chunk *c);

/* Reads samples from encoded bytes (as stored: count header included). Bounds-checked: corrupt
 * bytes end the iteration with `err` set, never a read past `len`. */
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
} xor_iter;

void xor_iter_init(xor_iter *it, const uint8_t *b, size_t len);
bool xor_iter_next(xor_iter *it, int64_t *t, double *v);

/* Varints as Go's encoding/binary: uvarint LEB128, varint zig-zag. */
size_t tsdb_put_uvarint(uint8_t *out, uint64_t v);
size_t tsdb_put_varint(uint8_t *out, int64_t v);
/* 0 on success with *n bytes read; -1 when the buffer ends or the value overflows. */
int tsdb_get_uvarint(const uint8_t *b, size_t len, uint64_t *v, size_t *n);
int tsdb_get_varint(const uint8_t *b, size_t len, int64_t *v, size_t *n);

#endif

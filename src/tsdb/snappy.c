/* Snappy's block format (no framing), both ways: the WAL writes records compressed as Prometheus
 * does by default (--storage.tsdb.wal-compression), and reads them from either. Layout: the
 * uncompressed length as a uvarint, then elements whose tag's low two bits say literal (0) or a
 * copy with a 1-, 2- or 4-byte offset; byte table in docs/format/wal.md.
 *
 * The encoder is the usual greedy one: input in 64 KiB blocks (so every offset fits two bytes), a
 * table of 16-bit positions hashed from the next four bytes, and a step that widens while nothing
 * matches so incompressible data passes at close to memcpy speed. */
#include "tsdb/wal.h"

#include "tsdb/chunk.h"

#include <inttypes.h>
#include <string.h>

enum {
    BLOCK_BYTES = 1 << 16,
    /* no match starts within this many bytes of a block's end, so every 4- and 8-byte load
     * below stays inside the block */
    INPUT_MARGIN = 15,
    MIN_TABLE_BITS = 8,
};

static uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint32_t hash4(const uint8_t *p, int shift)
{
    return (load32(p) * 0x1e35a7bdu) >> shift;
}

/* How many bytes from a and b agree, b's run ending at end (a is earlier, so a's does too). */
static size_t match_len(const uint8_t *a, const uint8_t *b, const uint8_t *end)
{
    size_t n = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while ((size_t)(end - b) - n >= 8) {
        uint64_t x, y;
        memcpy(&x, a + n, sizeof(x));
        memcpy(&y, b + n, sizeof(y));
        if (x != y) {
            return n + (size_t)(__builtin_ctzll(x ^ y) >> 3);
        }
        n += 8;
    }
#endif
    while (b + n < end && a[n] == b[n]) {
        n++;
    }
    return n;
}

static uint8_t *emit_literal(uint8_t *op, const uint8_t *p, size_t n)
{
    size_t m = n - 1;
    if (m < 60) {
        *op++ = (uint8_t)(m << 2);
    } else {
        int nb = m < 1u << 8 ? 1 : m < 1u << 16 ? 2 : m < 1u << 24 ? 3 : 4;
        *op++ = (uint8_t)((59 + nb) << 2);
        for (int i = 0; i < nb; i++) {
            *op++ = (uint8_t)(m >> (8 * i));
        }
    }
    memcpy(op, p, n);
    return op + n;
}

/* One copy element of 4 to 64 bytes: the 2-byte form, or the 1-byte-offset form when it fits. */
static uint8_t *emit_copy_upto64(uint8_t *op, size_t off, size_t n)
{
    if (n < 12 && off < 2048) {
        *op++ = (uint8_t)(1 | (n - 4) << 2 | (off >> 8) << 5);
        *op++ = (uint8_t)off;
    } else {
        *op++ = (uint8_t)(2 | (n - 1) << 2);
        *op++ = (uint8_t)off;
        *op++ = (uint8_t)(off >> 8);
    }
    return op;
}

/* A match of any length >= 4 as elements of at most 64 bytes, none shorter than 4. */
static uint8_t *emit_copy(uint8_t *op, size_t off, size_t n)
{
    while (n >= 68) {
        op = emit_copy_upto64(op, off, 64);
        n -= 64;
    }
    if (n > 64) {
        op = emit_copy_upto64(op, off, 60);
        n -= 60;
    }
    return emit_copy_upto64(op, off, n);
}

static uint8_t *compress_block(const uint8_t *in, size_t n, uint8_t *op, uint16_t *table)
{
    const uint8_t *end = in + n;
    const uint8_t *lit = in; /* start of the bytes not yet emitted */
    if (n < INPUT_MARGIN + 1) {
        return n ? emit_literal(op, in, n) : op;
    }
    int bits = MIN_TABLE_BITS;
    while (bits < TSDB_SNAPPY_TABLE_BITS && (size_t)1 << bits < n) {
        bits++;
    }
    int shift = 32 - bits;
    memset(table, 0, sizeof(*table) << bits);
    const uint8_t *limit = end - INPUT_MARGIN;
    const uint8_t *ip = in + 1;
    for (;;) {
        /* Look for four bytes seen before; the step grows by one every 32 misses. */
        const uint8_t *cand;
        uint32_t skip = 32;
        for (;;) {
            uint32_t h = hash4(ip, shift);
            cand = in + table[h];
            table[h] = (uint16_t)(ip - in);
            if (load32(cand) == load32(ip)) {
                break;
            }
            ip += skip++ >> 5;
            if (ip > limit) {
                goto tail;
            }
        }
        if (ip > lit) {
            op = emit_literal(op, lit, (size_t)(ip - lit));
        }
        /* Emit the match, then try the very next position against the table before searching
         * again: runs of matches (repeated structure) need no literal between them. */
        for (;;) {
            size_t len = 4 + match_len(cand + 4, ip + 4, end);
            op = emit_copy(op, (size_t)(ip - cand), len);
            ip += len;
            lit = ip;
            if (ip >= limit) {
                goto tail;
            }
            table[hash4(ip - 1, shift)] = (uint16_t)(ip - 1 - in);
            uint32_t h = hash4(ip, shift);
            cand = in + table[h];
            table[h] = (uint16_t)(ip - in);
            if (load32(cand) != load32(ip)) {
                break;
            }
        }
        ip++;
        if (ip > limit) {
            break;
        }
    }
tail:
    if (lit < end) {
        op = emit_literal(op, lit, (size_t)(end - lit));
    }
    return op;
}

size_t tsdb_snappy_max_encoded(size_t len)
{
    return 32 + len + len / 6;
}

int tsdb_snappy_encode(const uint8_t *src, size_t len, odin_strbuf *out, uint16_t *table)
{
    odin_strbuf_reset(out);
    if (len > UINT32_MAX) {
        return -ODIN_ERR_LIMIT;
    }
    uint8_t *d = (uint8_t *)odin_strbuf_reserve(out, tsdb_snappy_max_encoded(len));
    if (d == NULL) {
        return -ODIN_ERR_LIMIT;
    }
    uint8_t *op = d + tsdb_put_uvarint(d, len);
    for (size_t at = 0; at < len; at += BLOCK_BYTES) {
        size_t n = len - at < BLOCK_BYTES ? len - at : BLOCK_BYTES;
        op = compress_block(src + at, n, op, table);
    }
    odin_strbuf_advance(out, (size_t)(op - d));
    return 0;
}

static uint32_t load_le(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Element tags of the snappy block format: the low two bits say literal or one of three copy
 * forms. Every length and offset is checked against both buffers before a byte moves. */
int tsdb_snappy_decode(const uint8_t *src, size_t len, odin_strbuf *out, odin_err *err)
{
    odin_strbuf_reset(out);
    uint64_t ulen = 0;
    size_t s = 0;
    if (tsdb_get_uvarint(src, len, &ulen, &s) < 0 || ulen > UINT32_MAX) {
        return odin_err_set(err, ODIN_ERR_CORRUPT, "snappy: bad uncompressed length");
    }
    /* No element expands more than 64 output bytes from 3 input bytes, so a larger claim is a
     * lie; checking it first keeps hostile input from sizing the allocation. */
    if (ulen > (uint64_t)(len - s) * 22) {
        return odin_err_set(err, ODIN_ERR_CORRUPT,
                            "snappy: uncompressed length %" PRIu64 " too large for %zu bytes", ulen,
                            len);
    }
    uint8_t *d = (uint8_t *)odin_strbuf_reserve(out, (size_t)ulen);
    if (d == NULL) {
        return odin_err_set(err, ODIN_ERR_LIMIT,
                            "snappy: uncompressed length %" PRIu64 " passes the cap", ulen);
    }
    size_t dpos = 0;
    while (s < len) {
        uint8_t tag = src[s++];
        uint64_t n;
        uint64_t off = 0;
        if ((tag & 3) == 0) {
            n = (uint64_t)(tag >> 2) + 1;
            if (n > 60) {
                int nb = (int)n - 60;
                if (len - s < (size_t)nb) {
                    return odin_err_set(err, ODIN_ERR_CORRUPT, "snappy: truncated literal length");
                }
                n = (uint64_t)load_le(src + s, nb) + 1;
                s += (size_t)nb;
            }
            if (n > len - s || n > ulen - dpos) {
                return odin_err_set(err, ODIN_ERR_CORRUPT,
                                    "snappy: literal of %" PRIu64 " bytes overruns a buffer", n);
            }
            memcpy(d + dpos, src + s, (size_t)n);
            s += (size_t)n;
            dpos += (size_t)n;
            continue;
        }
        int ob = (tag & 3) == 1 ? 1 : (tag & 3) == 2 ? 2 : 4;
        if (len - s < (size_t)ob) {
            return odin_err_set(err, ODIN_ERR_CORRUPT, "snappy: truncated copy element");
        }
        if ((tag & 3) == 1) {
            n = 4 + (uint64_t)((tag >> 2) & 7);
            off = (uint64_t)(tag >> 5) << 8 | src[s];
        } else {
            n = 1 + (uint64_t)(tag >> 2);
            off = load_le(src + s, ob);
        }
        s += (size_t)ob;
        if (off == 0 || off > dpos || n > ulen - dpos) {
            return odin_err_set(err, ODIN_ERR_CORRUPT,
                                "snappy: copy of %" PRIu64 " bytes at distance %" PRIu64
                                " is out of bounds",
                                n, off);
        }
        /* Byte by byte: a copy may overlap its own output (a run). */
        for (uint64_t i = 0; i < n; i++) {
            d[dpos] = d[dpos - off];
            dpos++;
        }
    }
    if (dpos != ulen) {
        return odin_err_set(err, ODIN_ERR_CORRUPT,
                            "snappy: %zu bytes decoded, %" PRIu64 " declared", dpos, ulen);
    }
    odin_strbuf_advance(out, dpos);
    return 0;
}

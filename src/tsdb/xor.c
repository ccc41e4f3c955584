/* XOR chunk encoding and decoding, compatible with Prometheus' chunkenc (encoding 1). */
#include "tsdb/chunk.h"

#include <stdlib.h>
#include <string.h>

size_t tsdb_put_uvarint(uint8_t *out, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        out[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[i++] = (uint8_t)v;
    return i;
}

size_t tsdb_put_varint(uint8_t *out, int64_t v)
{
    uint64_t u = (uint64_t)v << 1;
    if (v < 0) {
        u = ~u;
    }
    return tsdb_put_uvarint(out, u);
}

int tsdb_get_uvarint(const uint8_t *b, size_t len, uint64_t *v, size_t *n)
{
    uint64_t x = 0;
    unsigned s = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        uint8_t c = b[i];
        if (c < 0x80) {
            if (i == 9 && c > 1) {
                return -1;
            }
            *v = x | (uint64_t)c << s;
            *n = i + 1;
            return 0;
        }
        x |= (uint64_t)(c & 0x7f) << s;
        s += 7;
    }
    return -1;
}

int tsdb_get_varint(const uint8_t *b, size_t len, int64_t *v, size_t *n)
{
    uint64_t u;
    if (tsdb_get_uvarint(b, len, &u, n) < 0) {
        return -1;
    }
    int64_t x = (int64_t)(u >> 1);
    if (u & 1) {
        x = ~x;
    }
    *v = x;
    return 0;
}

/* ---- writer ---- */

void xor_chunk_init(xor_chunk *c)
{
    xor_chunk_init_cap(c, 32);
}

/* cap rounded up to what malloc hands out anyway (glibc: 16-byte steps with an 8-byte header),
 * so the bytes paid for are usable */
static size_t alloc_size(size_t cap)
{
    return ((cap + 8 + 15) & ~(size_t)15) - 8;
}

void xor_stream_init_cap(xor_stream *c, uint32_t cap)
{
    memset(c, 0, sizeof(*c));
    c->cap = (uint32_t)alloc_size(cap < 16 ? 16 : cap);
    c->b = odin_malloc(c->cap);
    c->b[0] = c->b[1] = 0;
    c->len = 2;
    c->leading = 0xff;
}

void xor_chunk_init_cap(xor_chunk *c, uint32_t cap)
{
    xor_stream_init_cap(&c->s, cap);
    c->t = 0;
    c->v = 0;
}

void xor_stream_reserve(xor_stream *c, uint32_t cap)
{
    size_t ncap = alloc_size(cap);
    if (ncap > c->cap) {
        c->b = odin_realloc(c->b, ncap);
        c->cap = (uint32_t)ncap;
    }
}

void xor_stream_fini(xor_stream *c)
{
    free(c->b);
    c->b = NULL;
}

void xor_chunk_fini(xor_chunk *c)
{
    xor_stream_fini(&c->s);
}

void xor_chunk_compact(xor_chunk *c)
{
    if (c->cap > c->len) {
        c->b = odin_realloc(c->b, c->len);
        c->cap = c->len;
    }
}

static void ensure(xor_stream *c, size_t extra)
{
    if (c->len + extra > c->cap) {
        /* an open chunk lives for its whole time range and is sized from its series' previous
         * chunk, so it rarely grows, and then by little: slack costs resident memory for every
         * series. Bigger chunks (re-encoded by compaction or deletes) grow by 1.5x. */
        size_t ncap = c->cap;
        while (ncap < c->len + extra) {
            ncap += ncap < 1024 ? ncap / 8 + 32 : ncap / 2;
        }
        ncap = alloc_size(ncap);
        c->b = odin_realloc(c->b, ncap);
        c->cap = (uint32_t)ncap;
    }
}

void xor_stream_carry(xor_stream *c, uint32_t at, bool *carried)
{
    *carried = c->bits_free != 0;
    uint8_t last = c->b[c->len - 1]; /* its free low bits are zero, as the writer needs */
    if (c->cap < at + 16) {
        xor_stream_reserve(c, at + 16);
    }
    if (*carried) {
        c->b[at] = last;
    }
    c->len = at + *carried;
}

/* Appends the low nbits (0..56) of v, MSB first, with one 8-byte store: the used high bits of the
 * partial last byte are merged in and the bytes after it are overwritten. That store reaches at
 * most 8 bytes past len, hence the 9 bytes of room; bytes past len are never read. The free low
 * bits of the partial byte are always zero, which the merge relies on. */
static inline void put_bits56(xor_stream *c, uint64_t v, int nbits)
{
    ensure(c, 9);
    size_t idx = c->bits_free ? c->len - 1 : c->len;
    int used = c->bits_free ? 8 - c->bits_free : 0;
    uint64_t w = nbits == 0 ? 0 : (v & ((1ULL << nbits) - 1)) << (64 - used - nbits);
    if (used) {
        w |= (uint64_t)c->b[idx] << 56;
    }
    w = tsdb_be64(w);
    memcpy(c->b + idx, &w, sizeof(w));
    int end = used + nbits;
    c->len = (uint32_t)(idx + (size_t)(end + 7) / 8);
    c->bits_free = (uint8_t)((8 - end % 8) % 8);
}

/* Appends the low nbits (0..64) of v, MSB first. */
static inline void write_bits(xor_stream *c, uint64_t v, int nbits)
{
    if (nbits > 56) {
        put_bits56(c, v >> 32, nbits - 32);
        put_bits56(c, v, 32);
        return;
    }
    put_bits56(c, v, nbits);
}

static void write_bytes(xor_stream *c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        write_bits(c, p[i], 8);
    }
}

static int clz64(uint64_t x)
{
    return x ? __builtin_clzll(x) : 64;
}

static int ctz64(uint64_t x)
{
    return x ? __builtin_ctzll(x) : 64;
}

static uint64_t fbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

/* The value XOR, written after `npre` bits of prefix `pre` (the timestamp's delta-of-delta code,
 * at most 24 bits) so that a sample usually costs one or two stores instead of one per field. */
static void write_value(xor_stream *c, uint64_t last_v, double v, uint64_t pre, int npre)
{
    uint64_t delta = fbits(v) ^ last_v;
    if (delta == 0) {
        write_bits(c, pre << 1, npre + 1);
        return;
    }
    int lead = clz64(delta), trail = ctz64(delta);
    if (lead >= 32) {
        lead = 31; /* 5 bits hold at most 31 */
    }
    if (c->leading != 0xff && lead >= c->leading && trail >= c->trailing) {
        int sig = 64 - c->leading - c->trailing;
        uint64_t head = pre << 2 | 0x2;
        if (npre + 2 + sig <= 56) {
            write_bits(c, head << sig | delta >> c->trailing, npre + 2 + sig);
        } else {
            write_bits(c, head, npre + 2);
            write_bits(c, delta >> c->trailing, sig);
        }
        return;
    }
    c->leading = (uint8_t)lead;
    c->trailing = (uint8_t)trail;
    int sig = 64 - lead - trail;
    /* 11, 5 bits of leading zeros, 6 bits of length (64 is written as 0) */
    write_bits(c, pre << 13 | 0x3u << 11 | (uint64_t)lead << 6 | (uint64_t)(sig & 63), npre + 13);
    write_bits(c, delta >> trail, sig);
}

static bool bit_range(int64_t x, int nbits)
{
    return -((1LL << (nbits - 1)) - 1) <= x && x <= (1LL << (nbits - 1));
}

void xor_stream_append(xor_stream *c, int64_t last_t, uint64_t last_v, int64_t t, double v)
{
    uint8_t tmp[10];
    if (c->n == 0) {
        write_bytes(c, tmp, tsdb_put_varint(tmp, t));
        write_bits(c, fbits(v), 64);
    } else if (c->n == 1) {
        uint64_t td = (uint64_t)(t - last_t);
        write_bytes(c, tmp, tsdb_put_uvarint(tmp, td));
        write_value(c, last_v, v, 0, 0);
        c->t_delta = td;
    } else {
        uint64_t td = (uint64_t)(t - last_t);
        int64_t dod = (int64_t)(td - c->t_delta);
        uint64_t ud = (uint64_t)dod;
        if (dod == 0) {
            write_value(c, last_v, v, 0, 1);
        } else if (bit_range(dod, 14)) {
            write_value(c, last_v, v, 0x2ULL << 14 | (ud & 0x3fff), 16);
        } else if (bit_range(dod, 17)) {
            write_value(c, last_v, v, 0x6ULL << 17 | (ud & 0x1ffff), 20);
        } else if (bit_range(dod, 20)) {
            write_value(c, last_v, v, 0xeULL << 20 | (ud & 0xfffff), 24);
        } else {
            write_bits(c, 0xf, 4);
            write_bits(c, ud, 64);
            write_value(c, last_v, v, 0, 0);
        }
        c->t_delta = td;
    }
    c->n++;
}

void xor_chunk_append(xor_chunk *c, int64_t t, double v)
{
    xor_stream_append(&c->s, c->t, fbits(c->v), t, v);
    xor_stream_put_count(&c->s);
    c->t = t;
    c->v = v;
}

bool xor_chunk_resume(xor_chunk *c, const uint8_t *b, size_t len, uint32_t extra)
{
    xor_iter it;
    xor_iter_init(&it, b, len);
    int64_t t = 0;
    double v = 0;
    uint32_t n = 0;
    while (xor_iter_next(&it, &t, &v)) {
        n++;
    }
    if (it.err || it.odin || n == 0 || n != it.n) {
        return false;
    }
    size_t used = (it.pos_bits + 7) / 8;
    xor_chunk_init_cap(c, (uint32_t)used + extra + 16);
    memcpy(c->b, b, used);
    c->len = (uint32_t)used;
    c->bits_free = (uint8_t)((8 - it.pos_bits % 8) % 8);
    c->b[used - 1] &= (uint8_t)(0xff << c->bits_free); /* the writer merges into zero bits */
    c->n = (uint16_t)n;
    c->t = t;
    c->t_delta = it.t_delta;
    c->v = v;
    c->leading = it.leading;
    c->trailing = it.trailing;
    return true;
}

/* ---- reader ---- */

void xor_iter_init(xor_iter *it, const uint8_t *b, size_t len)
{
    memset(it, 0, sizeof(*it));
    it->b = b;
    it->len = len;
    it->leading = 0xff;
    if (len < 2) {
        it->err = len != 0;
        return;
    }
    if (tsdb_chunk_encoding(b, len) == TSDB_ENC_ODIN) {
        it->odin = true;
        it->err = !tsdb_odin_iter_init(&it->o, b, len);
        it->n = it->err ? 0 : it->o.n;
        return;
    }
    it->n = (uint16_t)(b[0] << 8 | b[1]);
    it->pos_bits = 16;
}

static bool read_bits(xor_iter *it, int nbits, uint64_t *out)
{
    if (it->pos_bits + (size_t)nbits > it->len * 8) {
        it->err = true;
        return false;
    }
    size_t first = it->pos_bits >> 3;
    int shift = (int)(it->pos_bits & 7);
    if (shift + nbits <= 64 && first + 8 <= it->len) {
        /* one big-endian word holds every bit asked for: the common case */
        uint64_t w;
        memcpy(&w, it->b + first, sizeof(w));
        w = tsdb_be64(w) << shift;
        *out = nbits == 0 ? 0 : w >> (64 - nbits);
        it->pos_bits += (size_t)nbits;
        return true;
    }
    uint64_t v = 0;
    while (nbits > 0) {
        size_t byte = it->pos_bits >> 3;
        int off = (int)(it->pos_bits & 7);
        int avail = 8 - off;
        int take = nbits < avail ? nbits : avail;
        uint8_t part = (uint8_t)((it->b[byte] >> (avail - take)) & ((1u << take) - 1));
        v = (v << take) | part;
        it->pos_bits += (size_t)take;
        nbits -= take;
    }
    *out = v;
    return true;
}

static bool read_uvarint_bits(xor_iter *it, uint64_t *out)
{
    uint64_t x = 0;
    for (unsigned s = 0; s < 70; s += 7) {
        uint64_t byte;
        if (!read_bits(it, 8, &byte)) {
            return false;
        }
        if (byte < 0x80) {
            *out = x | byte << s;
            return true;
        }
        x |= (byte & 0x7f) << s;
    }
    it->err = true;
    return false;
}

static bool read_value(xor_iter *it)
{
    uint64_t bit;
    if (!read_bits(it, 1, &bit)) {
        return false;
    }
    if (bit == 0) {
        return true;
    }
    if (!read_bits(it, 1, &bit)) {
        return false;
    }
    uint64_t lead, sig, v;
    if (bit == 1) {
        if (!read_bits(it, 5, &lead) || !read_bits(it, 6, &sig)) {
            return false;
        }
        if (sig == 0) {
            sig = 64;
        }
        if (lead + sig > 64) {
            it->err = true;
            return false;
        }
        it->leading = (uint8_t)lead;
        it->trailing = (uint8_t)(64 - lead - sig);
    } else if (it->leading == 0xff) {
        it->err = true; /* reuse of a window never set */
        return false;
    }
    int nbits = 64 - it->leading - it->trailing;
    if (!read_bits(it, nbits, &v)) {
        return false;
    }
    it->vbits ^= it->trailing < 64 ? v << it->trailing : 0;
    return true;
}

static bool read_dod(xor_iter *it, int64_t *dod)
{
    int prefix = 0;
    uint64_t head;
    if (it->pos_bits + 4 <= it->len * 8 && read_bits(it, 4, &head)) {
        /* the 1-4 bit prefix in one read: count the leading ones, give back the unused bits */
        prefix = head == 15 ? 4 : __builtin_clzll(~(head << 60));
        it->pos_bits -= (size_t)(prefix == 4 ? 0 : 3 - prefix);
    } else {
        for (; prefix < 4; prefix++) {
            uint64_t bit;
            if (!read_bits(it, 1, &bit)) {
                return false;
            }
            if (bit == 0) {
                break;
            }
        }
    }
    static const int widths[] = {0, 14, 17, 20, 64};
    int w = widths[prefix];
    if (w == 0) {
        *dod = 0;
        return true;
    }
    uint64_t bits;
    if (!read_bits(it, w, &bits)) {
        return false;
    }
    if (w < 64 && bits > (1ULL << (w - 1))) {
        *dod = (int64_t)bits - (int64_t)(1ULL << w);
    } else {
        *dod = (int64_t)bits;
    }
    return true;
}

/* The bits from the current position, MSB first, when 8 bytes can be loaded there: then the
 * word's top 57 bits all lie inside the chunk, so a field of up to 57 bits is read from it with no
 * further bounds check. False near the end (the bit-by-bit readers take over). */
static inline bool peek_word(const xor_iter *it, uint64_t *w)
{
    size_t first = it->pos_bits >> 3;
    if (first + 8 > it->len) {
        return false;
    }
    uint64_t x;
    memcpy(&x, it->b + first, sizeof(x));
    *w = tsdb_be64(x) << (it->pos_bits & 7);
    return true;
}

/* read_dod from one peeked word, for the 0/14/17/20-bit forms. False when it cannot (end of the
 * chunk near, or the 64-bit form): nothing consumed, the caller uses read_dod. */
static inline bool peek_dod(xor_iter *it, int64_t *dod)
{
    uint64_t w;
    if (!peek_word(it, &w)) {
        return false;
    }
    if (!(w >> 63)) {
        *dod = 0;
        it->pos_bits += 1;
        return true;
    }
    int prefix = ~w ? __builtin_clzll(~w) : 64; /* leading ones: 1, 2, 3 or 4+ (clz of 0 is UB) */
    if (prefix >= 4) {
        return false;
    }
    static const int widths[] = {0, 14, 17, 20};
    int width = widths[prefix];
    uint64_t bits = (w << (prefix + 1)) >> (64 - width);
    *dod = bits > (1ULL << (width - 1)) ? (int64_t)bits - (int64_t)(1ULL << width) : (int64_t)bits;
    it->pos_bits += (size_t)(prefix + 1 + width);
    return true;
}

/* read_value from one peeked word when the fields fit in it (the common case); otherwise read_value
 * does it. Same checks, same results. */
static inline bool fast_value(xor_iter *it)
{
    uint64_t w;
    if (!peek_word(it, &w)) {
        return read_value(it);
    }
    if (!(w >> 63)) {
        it->pos_bits += 1;
        return true;
    }
    int used;
    if (!((w >> 62) & 1)) {
        if (it->leading == 0xff) {
            it->err = true; /* reuse of a window never set */
            return false;
        }
        used = 2;
    } else {
        unsigned lead = (unsigned)(w >> 57) & 31, sig = (unsigned)(w >> 51) & 63;
        if (sig == 0) {
            sig = 64;
        }
        if (lead + sig > 64) {
            it->err = true;
            return false;
        }
        it->leading = (uint8_t)lead;
        it->trailing = (uint8_t)(64 - lead - sig);
        used = 13;
    }
    int nbits = 64 - it->leading - it->trailing;
    uint64_t bits;
    if (used + nbits <= 57) {
        bits = (w << used) >> (64 - nbits);
        it->pos_bits += (size_t)(used + nbits);
    } else {
        it->pos_bits += (size_t)used;
        if (!read_bits(it, nbits, &bits)) {
            return false;
        }
    }
    it->vbits ^= it->trailing < 64 ? bits << it->trailing : 0;
    return true;
}

static bool odin_next(xor_iter *it, int64_t *t, double *v)
{
    if (it->err || !tsdb_odin_iter_next(&it->o, it->b, it->len, t, v)) {
        it->err = it->err || it->o.read < it->o.n;
        return false;
    }
    it->read = it->o.read;
    return true;
}

uint32_t tsdb_chunk_samples(const uint8_t *b, size_t len)
{
    if (tsdb_chunk_encoding(b, len) == TSDB_ENC_ODIN) {
        tsdb_odin_iter o;
        return tsdb_odin_iter_init(&o, b, len) ? o.n : 0;
    }
    return len >= 2 ? (uint32_t)(b[0] << 8 | b[1]) : 0;
}

bool xor_iter_next(xor_iter *it, int64_t *t, double *v)
{
    if (it->odin) {
        return odin_next(it, t, v);
    }
    if (it->read >= 2 && !it->err && it->read < it->n) {
        /* the steady state, read from whole words */
        int64_t dod;
        if (!peek_dod(it, &dod) && !read_dod(it, &dod)) {
            return false;
        }
        it->t_delta += (uint64_t)dod; /* wraps: corrupt bytes must not overflow */
        if (!fast_value(it)) {
            return false;
        }
        it->t = (int64_t)((uint64_t)it->t + it->t_delta);
        it->read++;
        *t = it->t;
        memcpy(v, &it->vbits, 8);
        return true;
    }
    if (it->err || it->read >= it->n) {
        return false;
    }
    if (it->read == 0) {
        /* t0 is a zig-zag varint written byte by byte */
        uint64_t u;
        if (!read_uvarint_bits(it, &u) || !read_bits(it, 64, &it->vbits)) {
            return false;
        }
        int64_t x = (int64_t)(u >> 1);
        it->t = (u & 1) ? ~x : x;
    } else if (it->read == 1) {
        if (!read_uvarint_bits(it, &it->t_delta) || !read_value(it)) {
            return false;
        }
        it->t = (int64_t)((uint64_t)it->t + it->t_delta);
    } else {
        int64_t dod;
        if (!read_dod(it, &dod)) {
            return false;
        }
        it->t_delta += (uint64_t)dod; /* wraps: corrupt bytes must not overflow */
        if (!read_value(it)) {
            return false;
        }
        it->t = (int64_t)((uint64_t)it->t + it->t_delta);
    }
    it->read++;
    *t = it->t;
    memcpy(v, &it->vbits, 8);
    return true;
}

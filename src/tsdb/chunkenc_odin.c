/* Odin's chunk encoding (TSDB_ENC_ODIN, docs/format/chunks.md): timestamps and scaled-integer values
 * as per-chunk chosen delta orders, common divisors and three bit widths, with XOR floats as the
 * fallback for values no scaled integer gives back exactly. Only blocks written with the option
 * use it. */
#include "tsdb/chunk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    ODIN_MODE_DIV = 0, /* values are (double)k / 10^e, for one e per chunk */
    ODIN_MODE_XOR = 1, /* values as Prometheus' XOR floats */
    ODIN_MODE_MUL = 2, /* values are (double)k * 10^-e: exporters that scale by 0.001 or 1e-6 */
    ODIN_MODE_DIV2 = 3, /* (double)k / 10^(e/2) / 10^(e - e/2): node_exporter's µs / 1000 / 1000 */
    ODIN_MAX_ORDER = 2, /* delta orders 0..2 */
    ODIN_ORDER_GRID = 3, /* x_i - (x0 - o + i * D): scrape timestamps on a tick (see plan_grid) */
    ODIN_HDR_MAX = 3 + 3 + 1 + 2 * (1 + 10 + 10 + 10 + 10 + 3) + 8,
};

/* Exact powers of ten as doubles (10^22 is the last one a double holds exactly), and the doubles
 * nearest to their inverses, which is what `x * 0.001` in an exporter multiplies by. */
static const double p10[TSDB_ODIN_MAX_EXP + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
                                                  1e7, 1e8, 1e9, 1e10, 1e11, 1e12};
static const double n10[TSDB_ODIN_MAX_EXP + 1] = {1e0,  1e-1, 1e-2,  1e-3,  1e-4,  1e-5, 1e-6,
                                                  1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12};

static uint64_t dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

static double bitsd(uint64_t u)
{
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static uint64_t zigzag(int64_t x)
{
    return ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int bitlen(uint64_t x)
{
    return x ? 64 - __builtin_clzll(x) : 0;
}

/* The value a scaled integer decodes to; the encoder checks exactness with this same expression,
 * so writer and reader agree bit for bit. */
static inline __attribute__((always_inline)) double unscale(int64_t k, unsigned e, unsigned mode)
{
    if (e == 0) {
        return (double)k; /* integers: no division (k / 1 and k * 1 are k in every mode) */
    }
    switch (mode) {
    case ODIN_MODE_MUL:
        return (double)k * n10[e];
    case ODIN_MODE_DIV2:
        return (double)k / p10[e / 2] / p10[e - e / 2];
    default:
        return (double)k / p10[e];
    }
}

/* ---- writer -------------------------------------------------------------------------------- */

typedef struct {
    uint8_t *b;
    size_t nbits;
} bitw;

/* Appends the low nbits (0..64) of v, MSB first, with one 8-byte store per 56 bits: the used high
 * bits of the partial last byte are merged in and the bytes after it overwritten with zeros, so
 * a partial byte's free bits are always zero. The store reaches up to 8 bytes past the end,
 * which layout_bound leaves room for. */
static void put_bits(bitw *w, uint64_t v, int nbits)
{
    if (nbits > 56) {
        put_bits(w, v >> 32, nbits - 32);
        put_bits(w, v, 32);
        return;
    }
    if (nbits == 0) {
        return;
    }
    size_t byte = w->nbits >> 3;
    int used = (int)(w->nbits & 7);
    uint64_t word = (v & ((1ULL << nbits) - 1)) << (64 - used - nbits);
    if (used) {
        word |= (uint64_t)w->b[byte] << 56;
    }
    word = tsdb_be64(word);
    memcpy(w->b + byte, &word, 8);
    w->nbits += (size_t)nbits;
}

static void put_uvarint(bitw *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = tsdb_put_uvarint(tmp, v);
    for (size_t i = 0; i < n; i++) {
        put_bits(w, tmp[i], 8);
    }
}

/* One integer stream, chosen to be cheapest: residuals of delta order 0 (x - x0), 1 (x - prev) or
 * 2 (delta - previous delta), or of the grid (x - (a + i * D)), divided by their common divisor g,
 * zig-zagged and written as '0' + w0 bits, '10' + w1 bits or '11' + w2 bits. g = 0 means every
 * residual is zero. */
typedef struct {
    uint8_t order;
    bool plain; /* every quotient is >= 0: written as is, not zig-zagged (counters' deltas) */
    uint64_t g;
    uint64_t step, anchor; /* grid only: D and a */
    uint8_t w[3];
    uint64_t cost; /* bits of the codes plus an estimate of the header */
} stream_plan;

static uint64_t residual(const uint64_t *x, size_t i, const stream_plan *p)
{
    switch (p->order) {
    case 0:
        return x[i] - x[0];
    case 1:
        return x[i] - x[i - 1];
    case 2:
        return (x[i] - x[i - 1]) - (x[i - 1] - x[i - 2]);
    default:
        return x[i] - (p->anchor + (uint64_t)i * p->step);
    }
}

/* The first sample with a residual: order 2 keeps the first delta in the header. */
static size_t stream_start(unsigned order, size_t n)
{
    size_t s = order == 2 ? 2 : 1;
    return s < n ? s : n;
}

static int uvarint_len(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The grid a scraper's timestamps sit on: D the most common delta and a the most common
 * x_i - i * D (Boyer-Moore majority votes: exact when one value is most of them, and only a
 * guess otherwise, which the cost comparison then rejects). On a tick, a late scrape is one
 * residual (its lateness) here, where delta orders 1 and 2 pay two and three. */
static void plan_grid(const uint64_t *x, size_t n, stream_plan *p)
{
    uint64_t cand = 0;
    size_t votes = 0;
    for (size_t i = 1; i < n; i++) {
        uint64_t d = x[i] - x[i - 1];
        if (votes == 0) {
            cand = d;
        }
        votes += cand == d ? 1 : (size_t)-1;
    }
    p->step = cand;
    votes = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = x[i] - (uint64_t)i * p->step;
        if (votes == 0) {
            cand = a;
        }
        votes += cand == a ? 1 : (size_t)-1;
    }
    p->anchor = cand;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The code's payload for sample i: the residual over g, zig-zagged unless the stream is plain. */
static uint64_t quotient(const uint64_t *x, size_t i, const stream_plan *p)
{
    int64_t q = (int64_t)residual(x, i, p) / (int64_t)p->g;
    return p->plain ? (uint64_t)q : zigzag(q);
}

static void plan_order(const uint64_t *x, size_t n, unsigned order, stream_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->order = (uint8_t)order;
    if (order == ODIN_ORDER_GRID) {
        plan_grid(x, n, p);
    }
    size_t start = stream_start(order, n);
    uint64_t g = 0;
    for (size_t i = start; i < n && g != 1; i++) { /* 1 divides everything: stop there */
        int64_t r = (int64_t)residual(x, i, p);
        uint64_t mag = r < 0 ? 0 - (uint64_t)r : (uint64_t)r;
        g = gcd64(mag, g);
    }
    if (g > (uint64_t)INT64_MAX) {
        g = 1; /* only INT64_MIN residuals: dividing would not fit */
    }
    p->g = g;
    /* header: flags, x0 and g estimated, the order's own fields exactly (the grid's costs a
     * byte more than order 2's first delta: on a regular series the two must not tie) */
    p->cost = 8 * (1 + 10 + 2);
    if (order == 2 && n >= 2) {
        p->cost += 8 * (uint64_t)uvarint_len(zigzag((int64_t)(x[1] - x[0])));
    } else if (order == ODIN_ORDER_GRID) {
        p->cost += 8 * (uint64_t)(uvarint_len(zigzag((int64_t)p->step)) +
                                  uvarint_len(zigzag((int64_t)(x[0] - p->anchor))));
    }
    if (g == 0) {
        return;
    }
    p->plain = true;
    for (size_t i = start; i < n && p->plain; i++) {
        p->plain = (int64_t)residual(x, i, p) >= 0;
    }
    uint32_t hist[65] = {0};
    for (size_t i = start; i < n; i++) {
        hist[bitlen(quotient(x, i, p))]++;
    }
    int maxw = 64;
    while (maxw > 0 && hist[maxw] == 0) {
        maxw--;
    }
    /* upto[k] = residuals of at most k bits */
    uint64_t upto[65];
    uint64_t acc = 0;
    for (int k = 0; k <= 64; k++) {
        acc += hist[k];
        upto[k] = acc;
    }
    uint64_t total = upto[64], best = UINT64_MAX;
    for (int w0 = 0; w0 <= maxw; w0++) {
        for (int w1 = w0; w1 <= maxw; w1++) {
            uint64_t c = upto[w0] * (uint64_t)(1 + w0) +
                         (upto[w1] - upto[w0]) * (uint64_t)(2 + w1) +
                         (total - upto[w1]) * (uint64_t)(2 + maxw);
            if (c < best) {
                best = c;
                p->w[0] = (uint8_t)w0;
                p->w[1] = (uint8_t)w1;
            }
        }
    }
    p->w[2] = (uint8_t)maxw;
    p->cost += 8 * 3 + best;
}

/* The cheapest of the delta orders from min_order, and of the grid when `grid` (timestamps). */
static void plan_stream(const uint64_t *x, size_t n, unsigned min_order, bool grid,
                        stream_plan *best)
{
    plan_order(x, n, min_order, best);
    unsigned last = grid && n >= 2 ? ODIN_ORDER_GRID : ODIN_MAX_ORDER;
    for (unsigned o = min_order + 1; o <= last; o++) {
        stream_plan p;
        plan_order(x, n, o, &p);
        if (p.cost < best->cost) {
            *best = p;
        }
    }
}

static void put_stream_header(bitw *w, const uint64_t *x, size_t n, const stream_plan *p)
{
    put_bits(w, (uint64_t)p->order | (p->plain ? 4u : 0u), 8);
    put_uvarint(w, zigzag((int64_t)x[0]));
    if (p->order == 2 && n >= 2) {
        put_uvarint(w, zigzag((int64_t)(x[1] - x[0])));
    }
    if (p->order == ODIN_ORDER_GRID) {
        put_uvarint(w, zigzag((int64_t)p->step));
        put_uvarint(w, zigzag((int64_t)(x[0] - p->anchor)));
    }
    put_uvarint(w, p->g);
    if (p->g) {
        put_bits(w, p->w[0], 8);
        put_bits(w, p->w[1], 8);
        put_bits(w, p->w[2], 8);
    }
}

static void put_code(bitw *w, const uint64_t *x, size_t i, const stream_plan *p)
{
    if (p->g == 0 || (p->order == 2 && i < 2)) {
        return; /* nothing to say, or the first delta that the header holds */
    }
    uint64_t q = quotient(x, i, p);
    int len = bitlen(q);
    if (len <= p->w[0]) {
        put_bits(w, 0, 1);
        put_bits(w, q, p->w[0]);
    } else if (len <= p->w[1]) {
        put_bits(w, 2, 2);
        put_bits(w, q, p->w[1]);
    } else {
        put_bits(w, 3, 2);
        put_bits(w, q, p->w[2]);
    }
}

/* Prometheus' XOR value code against the previous value's bits. */
typedef struct {
    uint64_t prev;
    uint8_t leading, trailing;
} xor_state;

static void put_xor(bitw *w, xor_state *s, uint64_t bits)
{
    uint64_t delta = bits ^ s->prev;
    s->prev = bits;
    if (delta == 0) {
        put_bits(w, 0, 1);
        return;
    }
    int lead = __builtin_clzll(delta), trail = __builtin_ctzll(delta);
    if (lead > 31) {
        lead = 31;
    }
    if (s->leading != 0xff && lead >= s->leading && trail >= s->trailing) {
        put_bits(w, 2, 2);
        put_bits(w, delta >> s->trailing, 64 - s->leading - s->trailing);
        return;
    }
    s->leading = (uint8_t)lead;
    s->trailing = (uint8_t)trail;
    int sig = 64 - lead - trail;
    put_bits(w, 3, 2);
    put_bits(w, (uint64_t)lead, 5);
    put_bits(w, (uint64_t)(sig & 63), 6);
    put_bits(w, delta >> trail, sig);
}

/* Bytes one layout takes at most (per sample 2 + 64 timestamp bits and 13 + 64 value bits), plus
 * the 8 bytes put_bits' last store may reach past the end. */
static size_t layout_bound(size_t n)
{
    return ODIN_HDR_MAX + (n * (66 + 77) + 7) / 8 + 8;
}

size_t tsdb_odin_chunk_bound(size_t n)
{
    return 2 * layout_bound(n); /* room for both layouts while they are compared */
}

/* The smallest exponent e at which every value is unscale(k, e, mode) exactly (same bits, so -0,
 * NaN and infinities never are), with the scaled integers in k; -1 when there is none. */
static int scale_values(const double *v, size_t n, unsigned mode, uint64_t *k)
{
    int e = 0;
    for (size_t i = 0; i < n; i++) {
        for (;; e++) {
            if (e > TSDB_ODIN_MAX_EXP) {
                return -1;
            }
            double s = v[i] * p10[e];
            if (!(fabs(s) < 9007199254740992.0)) { /* 2^53; also rejects NaN and Inf */
                return -1;
            }
            int64_t r = (int64_t)llround(s);
            if (dbits(unscale(r, (unsigned)e, mode)) == dbits(v[i])) {
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        int64_t r = (int64_t)llround(v[i] * p10[e]);
        if (dbits(unscale(r, (unsigned)e, mode)) != dbits(v[i])) {
            return -1; /* an earlier value is not exact at the larger exponent */
        }
        k[i] = (uint64_t)r;
    }
    return e;
}

/* One layout: XOR floats when e < 0, else scaled integers k with exponent e in `mode`. */
static size_t encode_mode(const double *v, size_t n, const uint64_t *ts,
                          const stream_plan *tp, int e, unsigned mode, const uint64_t *k,
                          uint8_t *out)
{
    bitw w = {out, 0};
    stream_plan vp;
    put_bits(&w, 0, 16); /* the XOR count field: zero marks this layout */
    put_bits(&w, e >= 0 ? (unsigned)e << 2 | mode : ODIN_MODE_XOR, 8);
    put_uvarint(&w, n);
    put_stream_header(&w, ts, n, tp);
    xor_state xs = {dbits(v[0]), 0xff, 0};
    if (e >= 0) {
        plan_stream(k, n, 0, false, &vp);
        put_stream_header(&w, k, n, &vp);
    } else {
        put_bits(&w, dbits(v[0]) >> 32, 32);
        put_bits(&w, dbits(v[0]), 32);
    }
    for (size_t i = 1; i < n; i++) {
        put_code(&w, ts, i, tp);
        if (e >= 0) {
            put_code(&w, k, i, &vp);
        } else {
            put_xor(&w, &xs, dbits(v[i]));
        }
    }
    return (w.nbits + 7) / 8;
}

size_t tsdb_odin_chunk_encode(const int64_t *t, const double *v, size_t n, uint8_t *out)
{
    if (n == 0 || n > TSDB_CHUNK_MAX_SAMPLES) {
        return 0;
    }
    uint64_t *ts = odin_malloc(2 * n * sizeof(*ts)), *k = ts + n;
    for (size_t i = 0; i < n; i++) {
        ts[i] = (uint64_t)t[i];
    }
    stream_plan tp;
    plan_stream(ts, n, 1, true, &tp);
    static const unsigned modes[] = {ODIN_MODE_DIV, ODIN_MODE_MUL, ODIN_MODE_DIV2};
    unsigned mode = ODIN_MODE_DIV;
    int e = -1;
    for (size_t m = 0; m < 3 && e < 0; m++) {
        mode = modes[m];
        e = scale_values(v, n, mode, k);
    }
    size_t len = encode_mode(v, n, ts, &tp, -1, 0, k, out);
    if (e >= 0) {
        /* both layouts are written and the smaller kept */
        uint8_t *alt = out + layout_bound(n);
        size_t alen = encode_mode(v, n, ts, &tp, e, mode, k, alt);
        if (alen < len) {
            memmove(out, alt, alen);
            len = alen;
        }
    }
    free(ts);
    return len;
}

/* ---- reader -------------------------------------------------------------------------------- */

static inline bool get_bits(tsdb_odin_iter *o, const uint8_t *b, size_t len, int nbits,
                            uint64_t *out)
{
    if (nbits == 0) {
        *out = 0;
        return true;
    }
    if (o->pos + (size_t)nbits > len * 8) {
        return false;
    }
    size_t first = o->pos >> 3;
    int shift = (int)(o->pos & 7);
    if (first + 8 <= len && shift + nbits <= 64) {
        uint64_t w;
        memcpy(&w, b + first, 8);
        *out = (tsdb_be64(w) << shift) >> (64 - nbits);
        o->pos += (size_t)nbits;
        return true;
    }
    uint64_t v = 0;
    for (int i = 0; i < nbits; i++) {
        size_t p = o->pos + (size_t)i;
        v = v << 1 | (uint64_t)((b[p >> 3] >> (7 - (p & 7))) & 1);
    }
    o->pos += (size_t)nbits;
    *out = v;
    return true;
}

static bool get_uvarint(tsdb_odin_iter *o, const uint8_t *b, size_t len, uint64_t *out)
{
    if (o->pos & 7) {
        return false;
    }
    size_t n;
    if (tsdb_get_uvarint(b + (o->pos >> 3), len - (o->pos >> 3), out, &n) < 0) {
        return false;
    }
    o->pos += n * 8;
    return true;
}

static bool get_stream_header(tsdb_odin_iter *o, const uint8_t *b, size_t len,
                              tsdb_odin_stream *s)
{
    uint64_t flags, x0, d1 = 0, off = 0, w;
    if (!get_bits(o, b, len, 8, &flags) || (flags & ~7u) || !get_uvarint(o, b, len, &x0)) {
        return false;
    }
    uint64_t order = flags & 3;
    s->plain = (flags & 4) != 0;
    if (order == 2 && o->n >= 2 && !get_uvarint(o, b, len, &d1)) {
        return false;
    }
    if (order == ODIN_ORDER_GRID &&
        (!get_uvarint(o, b, len, &d1) || !get_uvarint(o, b, len, &off))) {
        return false;
    }
    s->order = (uint8_t)order;
    s->x = (uint64_t)unzigzag(x0);
    /* order 0: the first value; grid: the grid point of sample 0, stepping by d */
    s->base = s->x - (uint64_t)unzigzag(off);
    s->d = (uint64_t)unzigzag(d1);
    if (!get_uvarint(o, b, len, &s->g)) {
        return false;
    }
    if (s->g) {
        for (int i = 0; i < 3; i++) {
            if (!get_bits(o, b, len, 8, &w) || w > 64) {
                return false;
            }
            s->w[i] = (uint8_t)w;
        }
    }
    return true;
}

bool tsdb_odin_iter_init(tsdb_odin_iter *o, const uint8_t *b, size_t len)
{
    memset(o, 0, sizeof(*o));
    uint64_t marker, layout, n, hi, lo;
    if (!get_bits(o, b, len, 16, &marker) || marker != 0 || !get_bits(o, b, len, 8, &layout) ||
        !get_uvarint(o, b, len, &n) || n == 0 || n > TSDB_CHUNK_MAX_SAMPLES) {
        return false;
    }
    unsigned mode = (unsigned)(layout & 3), e = (unsigned)(layout >> 2);
    if (e > TSDB_ODIN_MAX_EXP || (mode == ODIN_MODE_XOR && e != 0)) {
        return false;
    }
    o->n = (uint16_t)n;
    o->mode = (uint8_t)mode;
    o->exp = (uint8_t)e;
    if (!get_stream_header(o, b, len, &o->ts)) {
        return false;
    }
    if (mode != ODIN_MODE_XOR) {
        if (!get_stream_header(o, b, len, &o->vs)) {
            return false;
        }
        o->vbits = dbits(unscale((int64_t)o->vs.x, o->exp, o->mode));
    } else {
        if (!get_bits(o, b, len, 32, &hi) || !get_bits(o, b, len, 32, &lo)) {
            return false;
        }
        o->vbits = hi << 32 | lo;
        o->leading = 0xff;
    }
    return true;
}

/* Next residual code of stream s into its running value; sample i of the chunk. */
static inline __attribute__((always_inline)) bool next_int(tsdb_odin_iter *o, const uint8_t *b, size_t len, tsdb_odin_stream *s,
                            size_t i)
{
    if (s->order == 2 && i == 1) {
        s->x += s->d; /* the first delta sits in the header */
        return true;
    }
    uint64_t r = 0;
    size_t first = o->pos >> 3;
    if (s->g && first + 8 <= len) {
        /* the common case: class prefix and payload from one loaded word, whose top 57 bits all
         * lie inside the chunk */
        uint64_t w;
        memcpy(&w, b + first, 8);
        w = tsdb_be64(w) << (o->pos & 7);
        int pre = (int)(w >> 63) + 1;
        int width = pre == 1 ? s->w[0] : s->w[1 + ((w >> 62) & 1)];
        if (pre + width <= 57) {
            uint64_t q = width ? (w << pre) >> (64 - width) : 0;
            o->pos += (size_t)(pre + width);
            r = (s->plain ? q : (uint64_t)unzigzag(q)) * s->g;
            goto apply;
        }
    }
    if (s->g) {
        uint64_t bit, q;
        int width;
        if (!get_bits(o, b, len, 1, &bit)) {
            return false;
        }
        if (bit == 0) {
            width = s->w[0];
        } else {
            if (!get_bits(o, b, len, 1, &bit)) {
                return false;
            }
            width = s->w[1 + bit];
        }
        if (!get_bits(o, b, len, width, &q)) {
            return false;
        }
        r = (s->plain ? q : (uint64_t)unzigzag(q)) * s->g; /* wraps like the writer's */
    }
apply:
    switch (s->order) {
    case 0:
        s->x = s->base + r;
        break;
    case 1:
        s->x += r;
        break;
    case 2:
        s->d += r;
        s->x += s->d;
        break;
    default:
        s->base += s->d;
        s->x = s->base + r;
        break;
    }
    return true;
}

static inline __attribute__((always_inline)) bool next_xor(tsdb_odin_iter *o, const uint8_t *b,
                                                           size_t len)
{
    size_t first = o->pos >> 3;
    if (first + 8 <= len) {
        /* the common case, from one loaded word whose top 57 bits lie inside the chunk; when the
         * fields do not fit in it, the bit-wise path below reads them again from o->pos */
        uint64_t w;
        memcpy(&w, b + first, 8);
        w = tsdb_be64(w) << (o->pos & 7);
        if (!(w >> 63)) {
            o->pos += 1;
            return true;
        }
        int used = 2;
        unsigned wl = o->leading, wt = o->trailing;
        if ((w >> 62) & 1) {
            unsigned l = (unsigned)(w >> 57) & 31, n = (unsigned)(w >> 51) & 63;
            n = n ? n : 64;
            if (l + n > 64) {
                return false;
            }
            wl = l;
            wt = 64 - l - n;
            used = 13;
        } else if (wl == 0xff) {
            return false; /* reuse of a window never set */
        }
        int nbits = 64 - (int)wl - (int)wt;
        if (used + nbits <= 57) {
            o->leading = (uint8_t)wl;
            o->trailing = (uint8_t)wt;
            o->vbits ^= ((w << used) >> (64 - nbits)) << wt;
            o->pos += (size_t)(used + nbits);
            return true;
        }
    }
    uint64_t bit, lead, sig, v;
    if (!get_bits(o, b, len, 1, &bit)) {
        return false;
    }
    if (bit == 0) {
        return true;
    }
    if (!get_bits(o, b, len, 1, &bit)) {
        return false;
    }
    if (bit == 1) {
        if (!get_bits(o, b, len, 5, &lead) || !get_bits(o, b, len, 6, &sig)) {
            return false;
        }
        if (sig == 0) {
            sig = 64;
        }
        if (lead + sig > 64) {
            return false;
        }
        o->leading = (uint8_t)lead;
        o->trailing = (uint8_t)(64 - lead - sig);
    } else if (o->leading == 0xff) {
        return false; /* reuse of a window never set */
    }
    int nbits = 64 - o->leading - o->trailing;
    if (!get_bits(o, b, len, nbits, &v)) {
        return false;
    }
    o->vbits ^= o->trailing < 64 ? v << o->trailing : 0;
    return true;
}

bool tsdb_odin_iter_next(tsdb_odin_iter *o, const uint8_t *b, size_t len, int64_t *t, double *v)
{
    if (o->read >= o->n) {
        return false;
    }
    size_t i = o->read;
    if (i > 0) {
        if (!next_int(o, b, len, &o->ts, i)) {
            return false;
        }
        if (o->mode != ODIN_MODE_XOR) {
            if (!next_int(o, b, len, &o->vs, i)) {
                return false;
            }
            o->vbits = dbits(unscale((int64_t)o->vs.x, o->exp, o->mode));
        } else if (!next_xor(o, b, len)) {
            return false;
        }
    }
    o->read++;
    *t = (int64_t)o->ts.x;
    *v = bitsd(o->vbits);
    return true;
}

/* Unit tests for the XOR chunk codec, the head and the querier: round trips with edge values, chunk
 * cutting, matcher semantics, ordering, conflicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsdb/chunk.h"
#include "tsdb/db_int.h"

#include <math.h>
#include <string.h>

int tsdb_chunk_tests(void);

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, 8);
    return v;
}

static void roundtrip(const int64_t *ts, const double *vs, size_t n)
{
    xor_chunk c;
    xor_chunk_init(&c);
    for (size_t i = 0; i < n; i++) {
        xor_chunk_append(&c, ts[i], vs[i]);
    }
    xor_iter it;
    xor_iter_init(&it, c.b, c.len);
    int64_t t;
    double v;
    size_t i = 0;
    while (xor_iter_next(&it, &t, &v)) {
        assert_true(i < n);
        if (t != ts[i] || bits_of(v) != bits_of(vs[i])) {
            fail_msg("sample %zu: got (%lld, %a) want (%lld, %a)", i, (long long)t, v,
                     (long long)ts[i], vs[i]);
        }
        i++;
    }
    assert_false(it.err);
    assert_int_equal(i, n);
    /* resumed after its first k samples (as a block cut merges head chunks), the writer makes
     * the same bytes as writing all of them at once */
    size_t splits[] = {1, 2, 3, n / 2, n - 1};
    for (size_t s = 0; s < ODIN_ARRAY_LEN(splits); s++) {
        size_t k = splits[s];
        if (k == 0 || k >= n) {
            continue;
        }
        xor_chunk a, r;
        xor_chunk_init(&a);
        for (size_t j = 0; j < k; j++) {
            xor_chunk_append(&a, ts[j], vs[j]);
        }
        assert_true(xor_chunk_resume(&r, a.b, a.len, 0));
        for (size_t j = k; j < n; j++) {
            xor_chunk_append(&r, ts[j], vs[j]);
        }
        assert_int_equal(r.len, c.len);
        assert_memory_equal(r.b, c.b, c.len);
        xor_chunk_fini(&a);
        xor_chunk_fini(&r);
    }
    xor_chunk_fini(&c);
}

static void test_xor_edge_values(void **state)
{
    (void)state;
    int64_t ts[] = {-5, 0, 0, 1, 15000, 30000, 30001, 1700000000000LL, 1700000000000LL + 1,
                    INT64_MAX / 4, -(INT64_MAX / 4), 7, 7 + 8192, 7 + 8192 + 8193 + 65536};
    double vs[] = {0.0, -0.0, NAN, from_bits(0x7ff0000000000002ULL), INFINITY, -INFINITY,
                   1e308, -1e-308, 5e-324, 42, 42, 42.5, from_bits(0xfff8000000000001ULL),
                   3.141592653589793};
    roundtrip(ts, vs, ODIN_ARRAY_LEN(ts));
}

/* Resuming needs a well-formed XOR chunk with samples. */
static void test_xor_resume_refuses(void **state)
{
    (void)state;
    xor_chunk c, r;
    xor_chunk_init(&c);
    assert_false(xor_chunk_resume(&r, c.b, c.len, 0)); /* no samples */
    xor_chunk_append(&c, 1000, 1.5);
    xor_chunk_append(&c, 2000, 2.5);
    assert_false(xor_chunk_resume(&r, c.b, c.len - 1, 0)); /* cut short */
    c.b[1] = 9; /* claims more samples than it holds */
    assert_false(xor_chunk_resume(&r, c.b, c.len, 0));
    xor_chunk_fini(&c);
}

static void test_xor_random(void **state)
{
    (void)state;
    enum { N = 5000 };
    static int64_t ts[N];
    static double vs[N];
    uint64_t x = 88172645463325252ULL;
    int64_t t = 1600000000000LL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t += (int64_t)(x % 3 == 0 ? 15000 : x % 100000);
        ts[i] = t;
        vs[i] = (x & 4) ? (double)(x % 1000) : from_bits(x);
    }
    roundtrip(ts, vs, N);
}

/* The writer's buffer: capacities are malloc's sizes (16-byte steps less the 8-byte header),
 * grow by about an eighth while small
 * (open chunks: slack costs memory in every series) and by half once past 1 KiB. */
static void test_xor_buffer_growth(void **state)
{
    (void)state;
    xor_chunk c;
    xor_chunk_init_cap(&c, 100);
    assert_int_equal(c.cap, 104);
    uint32_t cap = c.cap;
    uint64_t x = 88172645463325252ULL;
    int grows = 0;
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        xor_chunk_append(&c, (int64_t)i * 15000, from_bits(x >> 2));
        assert_true(c.cap >= c.len);
        if (c.cap != cap) {
            assert_int_equal((c.cap + 8) % 16, 0);
            if (cap < 1024) {
                assert_true(c.cap <= cap + cap / 8 + 32 + 16);
            } else {
                assert_true(c.cap >= cap + cap / 2);
            }
            cap = c.cap;
            grows++;
        }
    }
    assert_true(grows > 5);
    assert_true(c.cap >= c.len);
    xor_iter it;
    xor_iter_init(&it, c.b, c.len);
    int64_t t;
    double v;
    int n = 0;
    while (xor_iter_next(&it, &t, &v)) {
        n++;
    }
    assert_false(it.err);
    assert_int_equal(n, 2000);
    xor_chunk_fini(&c);
}

static void test_xor_corrupt_is_bounded(void **state)
{
    (void)state;
    xor_chunk c;
    xor_chunk_init(&c);
    for (int i = 0; i < 100; i++) {
        xor_chunk_append(&c, i * 15000, i * 1.5);
    }
    /* every truncation ends early without reading past the end */
    for (uint32_t cut = 0; cut < c.len; cut++) {
        xor_iter it;
        xor_iter_init(&it, c.b, cut);
        int64_t t;
        double v;
        int n = 0;
        while (xor_iter_next(&it, &t, &v)) {
            n++;
        }
        assert_true(n < 100);
    }
    xor_chunk_fini(&c);
}

/* ---- Reference encoder: the plain bit-at-a-time writer the word-at-a-time one replaced ---- */

typedef struct {
    uint8_t b[1 << 16];
    size_t len;
    int bits_free;
    uint16_t n;
    uint8_t leading, trailing;
    int64_t t;
    uint64_t t_delta;
    uint64_t v;
} ref_chunk;

static void ref_bits(ref_chunk *c, uint64_t v, int nbits)
{
    while (nbits > 0) {
        if (c->bits_free == 0) {
            c->b[c->len++] = 0;
            c->bits_free = 8;
        }
        int take = nbits < c->bits_free ? nbits : c->bits_free;
        uint8_t part = (uint8_t)((v >> (nbits - take)) & ((1u << take) - 1));
        c->b[c->len - 1] |= (uint8_t)(part << (c->bits_free - take));
        c->bits_free -= take;
        nbits -= take;
    }
}

static void ref_value(ref_chunk *c, uint64_t v)
{
    uint64_t delta = v ^ c->v;
    if (delta == 0) {
        ref_bits(c, 0, 1);
        return;
    }
    ref_bits(c, 1, 1);
    int lead = __builtin_clzll(delta), trail = __builtin_ctzll(delta);
    if (lead >= 32) {
        lead = 31;
    }
    if (c->leading != 0xff && lead >= c->leading && trail >= c->trailing) {
        ref_bits(c, 0, 1);
        ref_bits(c, delta >> c->trailing, 64 - c->leading - c->trailing);
        return;
    }
    c->leading = (uint8_t)lead;
    c->trailing = (uint8_t)trail;
    ref_bits(c, 1, 1);
    ref_bits(c, (uint64_t)lead, 5);
    ref_bits(c, (uint64_t)((64 - lead - trail) & 63), 6);
    ref_bits(c, delta >> trail, 64 - lead - trail);
}

static void ref_append(ref_chunk *c, int64_t t, double v)
{
    uint8_t tmp[10];
    size_t k;
    if (c->n == 0) {
        c->len = 2;
        c->leading = 0xff;
        k = tsdb_put_varint(tmp, t);
        for (size_t i = 0; i < k; i++) {
            ref_bits(c, tmp[i], 8);
        }
        ref_bits(c, bits_of(v), 64);
    } else if (c->n == 1) {
        c->t_delta = (uint64_t)(t - c->t);
        k = tsdb_put_uvarint(tmp, c->t_delta);
        for (size_t i = 0; i < k; i++) {
            ref_bits(c, tmp[i], 8);
        }
        ref_value(c, bits_of(v));
    } else {
        uint64_t td = (uint64_t)(t - c->t);
        int64_t dod = (int64_t)(td - c->t_delta);
        static const int widths[] = {14, 17, 20};
        int w = 0;
        for (; w < 3; w++) {
            int64_t lim = 1LL << (widths[w] - 1);
            if (-(lim - 1) <= dod && dod <= lim) {
                break;
            }
        }
        if (dod == 0) {
            ref_bits(c, 0, 1);
        } else if (w < 3) {
            ref_bits(c, (1u << (w + 2)) - 2, w + 2); /* 10, 110, 1110 */
            ref_bits(c, (uint64_t)dod, widths[w]);
        } else {
            ref_bits(c, 0xf, 4);
            ref_bits(c, (uint64_t)dod, 64);
        }
        ref_value(c, bits_of(v));
        c->t_delta = td;
    }
    c->t = t;
    c->v = bits_of(v);
    c->n++;
    c->b[0] = (uint8_t)(c->n >> 8);
    c->b[1] = (uint8_t)c->n;
}

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A timestamp step drawn to hit every delta-of-delta width and both signs of each boundary. */
static int64_t random_step(uint64_t *x, int64_t prev_step)
{
    static const int64_t edges[] = {0, 1, -1, 8191, 8192, 8193, -8191, -8192, 65535, 65536,
                                    65537, -65535, -65536, 524287, 524288, 524289, -524287,
                                    -524288, 1LL << 40, -(1LL << 40)};
    uint64_t r = xs(x);
    switch (r % 5) {
    case 0:
    case 1:
        return prev_step; /* regular scrapes: a zero delta-of-delta */
    case 2:
        return prev_step + edges[(r >> 8) % ODIN_ARRAY_LEN(edges)];
    case 3:
        return prev_step + (int64_t)((r >> 8) % 2001) - 1000;
    default:
        return (int64_t)((r >> 8) % 100000);
    }
}

/* A value drawn from what scrapes produce: repeats, counters, gauges, specials, random bits. */
static double random_value(uint64_t *x, double prev)
{
    uint64_t r = xs(x);
    switch (r % 8) {
    case 0:
        return prev;
    case 1:
        return prev + (double)((r >> 8) % 1000);
    case 2:
        return (double)((r >> 8) % 100) / 8;
    case 3:
        return NAN;
    case 4:
        return from_bits(0x7ff0000000000002ULL); /* Prometheus' stale marker */
    case 5: {
        static const double sp[] = {0.0, -0.0, INFINITY, -INFINITY, 1e308, 5e-324, -1.5};
        return sp[(r >> 8) % ODIN_ARRAY_LEN(sp)];
    }
    case 6:
        return (double)(int64_t)(r >> 11) * 1e-3;
    default:
        return from_bits(xs(x));
    }
}

/* The word-at-a-time writer must produce the reference writer's bytes exactly (Prometheus' XOR
 * format), from every buffer state: fresh, grown, and shrunk to its length by a compaction. */
static void test_xor_writer_matches_reference(void **state)
{
    (void)state;
    static ref_chunk ref;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 300; round++) {
        memset(&ref, 0, sizeof(ref));
        xor_chunk c;
        xor_chunk_init_cap(&c, (uint32_t)(xs(&x) % 64));
        int64_t t = (int64_t)(xs(&x) % 4000000000000ULL) - 1000000000000LL, step = 15000;
        double v = 0;
        int n = 1 + (int)(xs(&x) % 400);
        for (int i = 0; i < n; i++) {
            step = random_step(&x, step);
            t += step;
            v = random_value(&x, v);
            ref_append(&ref, t, v);
            xor_chunk_append(&c, t, v);
            if (xs(&x) % 17 == 0) {
                xor_chunk_compact(&c);
            }
            if (c.len != ref.len || memcmp(c.b, ref.b, ref.len) != 0) {
                fail_msg("round %d sample %d: %u bytes, reference %zu", round, i, c.len, ref.len);
            }
        }
        xor_chunk_fini(&c);
    }
}

/* ---- Reference reader: one bit at a time, the checks of the format spelled out ---- */

typedef struct {
    const uint8_t *b;
    size_t len, pos;
    bool err;
} ref_bits_in;

static uint64_t ref_read(ref_bits_in *r, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (r->pos >= r->len * 8) {
            r->err = true;
            return 0;
        }
        v = v << 1 | ((r->b[r->pos >> 3] >> (7 - (r->pos & 7))) & 1);
        r->pos++;
    }
    return v;
}

/* Decodes like xor_iter: at most *n samples into ts/vs; returns how many, *err when it stopped on
 * bad bytes. */
static size_t ref_decode(const uint8_t *b, size_t len, int64_t *ts, double *vs, size_t max,
                         bool *err)
{
    *err = false;
    if (len < 2) {
        *err = len != 0;
        return 0;
    }
    size_t n = (size_t)(b[0] << 8 | b[1]);
    ref_bits_in r = {b, len, 16, false};
    int64_t t = 0;
    uint64_t td = 0, vb = 0;
    int lead = -1, trail = 0;
    size_t k = 0;
    for (; k < n && k < max; k++) {
        if (k < 2) {
            uint64_t u = 0;
            bool done = false;
            for (unsigned sh = 0; sh < 70 && !done; sh += 7) {
                uint64_t byte = ref_read(&r, 8);
                if (r.err) {
                    break;
                }
                u |= (byte & 0x7f) << sh;
                done = byte < 0x80;
            }
            if (r.err || !done) {
                *err = true;
                return k;
            }
            if (k == 0) {
                t = (u & 1) ? ~(int64_t)(u >> 1) : (int64_t)(u >> 1);
                vb = ref_read(&r, 64);
            } else {
                td = u;
                t = (int64_t)((uint64_t)t + td);
            }
        } else {
            int ones = 0;
            while (ones < 4 && ref_read(&r, 1) == 1 && !r.err) {
                ones++;
            }
            static const int widths[] = {0, 14, 17, 20, 64};
            int w = widths[ones];
            int64_t dod = 0;
            if (w > 0) {
                uint64_t bits = ref_read(&r, w);
                dod = (w < 64 && bits > (1ULL << (w - 1))) ? (int64_t)bits - (int64_t)(1ULL << w)
                                                           : (int64_t)bits;
            }
            td += (uint64_t)dod;
            t = (int64_t)((uint64_t)t + td);
        }
        if (k > 0 && !r.err && ref_read(&r, 1) == 1) {
            if (ref_read(&r, 1) == 1) {
                int l = (int)ref_read(&r, 5), sig = (int)ref_read(&r, 6);
                sig = sig == 0 ? 64 : sig;
                if (r.err || l + sig > 64) {
                    *err = true;
                    return k;
                }
                lead = l;
                trail = 64 - l - sig;
            } else if (r.err || lead < 0) {
                *err = true;
                return k;
            }
            uint64_t bits = ref_read(&r, 64 - lead - trail);
            vb ^= trail < 64 ? bits << trail : 0;
        }
        if (r.err) {
            *err = true;
            return k;
        }
        ts[k] = t;
        vs[k] = from_bits(vb);
    }
    return k;
}

/* The word-at-a-time reader against the bit-at-a-time reference: same samples, same stop, on
 * random chunks, every truncation of them, and random bit flips. */
static void test_xor_reader_matches_reference(void **state)
{
    (void)state;
    enum { MAXN = 400 };
    static int64_t rt[MAXN], it_t[MAXN];
    static double rv[MAXN], it_v[MAXN];
    static uint8_t buf[1 << 14];
    uint64_t x = 0x7f4a7c159e3779b9ULL;
    for (int round = 0; round < 300; round++) {
        xor_chunk c;
        xor_chunk_init(&c);
        int64_t t = (int64_t)(xs(&x) % 4000000000000ULL) - 1000000000000LL, step = 15000;
        double v = 0;
        int n = 1 + (int)(xs(&x) % MAXN);
        for (int i = 0; i < n; i++) {
            step = random_step(&x, step);
            t += step;
            v = random_value(&x, v);
            xor_chunk_append(&c, t, v);
        }
        assert_true(c.len <= sizeof(buf));
        for (int variant = 0; variant < 40; variant++) {
            size_t len = c.len;
            memcpy(buf, c.b, c.len);
            if (variant >= 20) {
                buf[2 + xs(&x) % (c.len - 2)] ^= (uint8_t)(1u << (xs(&x) % 8)); /* a flipped bit */
            } else if (variant > 0) {
                len = (size_t)(xs(&x) % c.len); /* a truncation */
            }
            bool rerr;
            size_t rn = ref_decode(buf, len, rt, rv, MAXN, &rerr);
            xor_iter it;
            xor_iter_init(&it, buf, len);
            size_t k = 0;
            while (k < MAXN && xor_iter_next(&it, &it_t[k], &it_v[k])) {
                k++;
            }
            if (k != rn || it.err != rerr) {
                fail_msg("round %d variant %d: %zu samples err %d, reference %zu err %d", round,
                         variant, k, it.err, rn, rerr);
            }
            for (size_t i = 0; i < k; i++) {
                if (it_t[i] != rt[i] || bits_of(it_v[i]) != bits_of(rv[i])) {
                    fail_msg("round %d variant %d sample %zu differs", round, variant, i);
                }
            }
        }
        xor_chunk_fini(&c);
    }
}

static void test_varints(void **state)
{
    (void)state;
    int64_t vals[] = {0, 1, -1, 63, -64, 64, INT64_MAX, INT64_MIN, 1700000000000LL};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(vals); i++) {
        uint8_t b[10];
        size_t n = tsdb_put_varint(b, vals[i]), m;
        int64_t back;
        assert_int_equal(tsdb_get_varint(b, n, &back, &m), 0);
        assert_int_equal(m, n);
        assert_true(back == vals[i]);
        assert_int_equal(tsdb_get_varint(b, n - 1, &back, &m), -1);
    }
}

static odin_labels mk(odin_label *buf, const char *const *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buf[i].name = odin_str_c(kv[2 * i]);
        buf[i].value = odin_str_c(kv[2 * i + 1]);
    }
    odin_labels_sort(buf, n);
    return (odin_labels){buf, n};
}

static void add(tsdb *db, const char *const *kv, size_t n, int64_t t, double v)
{
    odin_label buf[8];
    tsdb_appender *a = tsdb_appender_new(db);
    odin_err err = {0};
    assert_int_equal(tsdb_append(a, NULL, mk(buf, kv, n), t, v, &err), 0);
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
}

static size_t select_count(tsdb *db, tsdb_match_type type, const char *name, const char *value)
{
    tsdb_matcher m[2];
    odin_err err = {0};
    assert_int_equal(tsdb_matcher_init(&m[0], TSDB_MATCH_EQ, ODIN_STR("__name__"),
                                       ODIN_STR("up"), &err), 0);
    assert_int_equal(tsdb_matcher_init(&m[1], type, odin_str_c(name), odin_str_c(value), &err), 0);
    tsdb_querier *q = tsdb_querier_open(db, 0, INT64_MAX);
    tsdb_series_set *s = tsdb_querier_select(q, m, 2, &err);
    assert_non_null(s);
    size_t n = 0;
    odin_labels prev = {NULL, 0};
    while (tsdb_series_next(s)) {
        odin_labels ls = tsdb_series_labels(s);
        if (n) {
            assert_true(odin_labels_cmp(prev, ls) < 0);
        }
        prev = ls;
        n++;
    }
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m[0]);
    tsdb_matcher_fini(&m[1]);
    return n;
}

static void test_head_select(void **state)
{
    (void)state;
    tsdb_opts o = {0};
    odin_err err = {0};
    tsdb *db = tsdb_open(&o, &err);
    assert_non_null(db);
    const char *s1[] = {"__name__", "up", "job", "node", "instance", "a:9100"};
    const char *s2[] = {"__name__", "up", "job", "node", "instance", "b:9100"};
    const char *s3[] = {"__name__", "up", "job", "gpu", "instance", "a:9400"};
    const char *s4[] = {"__name__", "up", "instance", "c:1"};
    add(db, s3, 3, 1000, 1);
    add(db, s1, 3, 1000, 1);
    add(db, s2, 3, 1000, 0);
    add(db, s4, 2, 1000, 1);
    assert_int_equal(select_count(db, TSDB_MATCH_EQ, "job", "node"), 2);
    assert_int_equal(select_count(db, TSDB_MATCH_NEQ, "job", "node"), 2); /* gpu and no job */
    assert_int_equal(select_count(db, TSDB_MATCH_RE, "job", "no.*"), 2);
    assert_int_equal(select_count(db, TSDB_MATCH_RE, "job", "no"), 0);   /* anchored */
    assert_int_equal(select_count(db, TSDB_MATCH_NRE, "job", "node|gpu"), 1);
    assert_int_equal(select_count(db, TSDB_MATCH_EQ, "job", ""), 1);
    assert_int_equal(select_count(db, TSDB_MATCH_RE, "instance", "a:.*"), 2);
    assert_int_equal(select_count(db, TSDB_MATCH_RE, "job", ".*"), 4);

    tsdb_querier *q = tsdb_querier_open(db, 0, INT64_MAX);
    const odin_str *vals;
    size_t n;
    assert_int_equal(tsdb_querier_label_values(q, "job", NULL, 0, &vals, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_true(odin_str_eq_c(vals[0], "gpu") && odin_str_eq_c(vals[1], "node"));
    assert_int_equal(tsdb_querier_label_names(q, NULL, 0, &vals, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_true(odin_str_eq_c(vals[0], "__name__"));
    tsdb_matcher empty;
    assert_int_equal(tsdb_matcher_init(&empty, TSDB_MATCH_RE, ODIN_STR("job"), ODIN_STR(".*"),
                                       &err), 0);
    assert_null(tsdb_querier_select(q, &empty, 1, &err));
    assert_int_equal(err.code, ODIN_ERR_INVALID);
    tsdb_matcher_fini(&empty);
    tsdb_querier_close(q);
    tsdb_close(db);
}

static void test_head_samples_and_conflicts(void **state)
{
    (void)state;
    tsdb_opts o = {0};
    odin_err err = {0};
    tsdb *db = tsdb_open(&o, &err);
    const char *kv[] = {"__name__", "m"};
    odin_label buf[1];
    uint64_t ref = 0;
    /* 1000 samples at 15 s: several chunks, cut before each 2 h boundary */
    for (int i = 0; i < 1000; i++) {
        tsdb_appender *a = tsdb_appender_new(db);
        assert_int_equal(tsdb_append(a, &ref, mk(buf, kv, 1), i * 15000LL, i, &err), 0);
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
    assert_true(ref != 0);
    tsdb_appender *a = tsdb_appender_new(db);
    assert_int_equal(tsdb_append(a, &ref, mk(buf, kv, 1), 0, 5, &err), -ODIN_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "out of order"));
    odin_err_clear(&err);
    assert_int_equal(tsdb_append(a, &ref, mk(buf, kv, 1), 999 * 15000LL, 5, &err),
                     -ODIN_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "duplicate"));
    odin_err_clear(&err);
    assert_int_equal(tsdb_append(a, &ref, mk(buf, kv, 1), 999 * 15000LL, 999, &err), 0);
    tsdb_appender_commit(a, &err);

    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_int_equal(st.head_series, 1);
    assert_int_equal(st.samples_appended, 1000);
    assert_true(st.head_chunks >= 5);
    assert_int_equal(st.out_of_order_samples, 1);
    assert_int_equal(st.duplicate_samples, 1);

    tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("m"), &err);
    tsdb_querier *q = tsdb_querier_open(db, 7200000 - 30000, 7200000 + 30000);
    tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
    assert_true(tsdb_series_next(s));
    tsdb_iter it;
    tsdb_series_iter(s, &it);
    int64_t t;
    double v;
    int n = 0;
    while (tsdb_iter_next(&it, &t, &v)) {
        assert_true(t >= 7200000 - 30000 && t <= 7200000 + 30000);
        assert_true(v == (double)(t / 15000));
        n++;
    }
    assert_int_equal(n, 5);
    assert_false(tsdb_series_next(s));
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
    tsdb_close(db);
}

int tsdb_chunk_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xor_edge_values),   cmocka_unit_test(test_xor_random),
        cmocka_unit_test(test_xor_buffer_growth),
        cmocka_unit_test(test_xor_resume_refuses),
        cmocka_unit_test(test_xor_corrupt_is_bounded), cmocka_unit_test(test_varints),
        cmocka_unit_test(test_xor_writer_matches_reference),
        cmocka_unit_test(test_xor_reader_matches_reference),
        cmocka_unit_test(test_head_select),       cmocka_unit_test(test_head_samples_and_conflicts),
    };
    return cmocka_run_group_tests_name("tsdb_chunk_head", tests, NULL, NULL);
}

/* Unit tests for Odin's chunk encoding (chunkenc_odin.c): exact round trips of edge values and
 * timestamps through the shared chunk iterator, the choice between scaled integers and XOR floats,
 * sizes on regular data, and corrupt bytes that must end iteration without reading past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsdb/chunk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tsdb_odin_chunk_tests(void);

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

/* Encodes, checks the result reads back bit for bit through xor_iter, returns the chunk length and
 * its value mode (0 scaled integers divided by 10^e, 1 XOR floats, 2 multiplied by 10^-e, 3 divided
 * by 10^(e/2) twice). */
static size_t roundtrip(const int64_t *ts, const double *vs, size_t n, int *mode)
{
    uint8_t *b = malloc(tsdb_odin_chunk_bound(n));
    size_t len = tsdb_odin_chunk_encode(ts, vs, n, b);
    assert_true(len > 3);
    assert_int_equal(tsdb_chunk_encoding(b, len), TSDB_ENC_ODIN);
    assert_int_equal(tsdb_chunk_samples(b, len), n);
    if (mode) {
        *mode = b[2] & 3;
    }
    xor_iter it;
    xor_iter_init(&it, b, len);
    int64_t t;
    double v;
    size_t i = 0;
    while (xor_iter_next(&it, &t, &v)) {
        assert_true(i < n);
        if (t != ts[i] || bits_of(v) != bits_of(vs[i])) {
            fail_msg("sample %zu: got (%lld, %a %016llx) want (%lld, %a %016llx)", i, (long long)t,
                     v, (unsigned long long)bits_of(v), (long long)ts[i], vs[i],
                     (unsigned long long)bits_of(vs[i]));
        }
        i++;
    }
    assert_false(it.err);
    assert_int_equal(i, n);
    free(b);
    return len;
}

static void regular_ts(int64_t *ts, size_t n, int64_t t0, int64_t step)
{
    for (size_t i = 0; i < n; i++) {
        ts[i] = t0 + (int64_t)i * step;
    }
}

static void test_odin_edge_values(void **state)
{
    (void)state;
    const double vs[] = {
        0.0, -0.0, 1.0, -1.0, INFINITY, -INFINITY, NAN, from_bits(0x7ff0000000000002ULL),
        from_bits(0x7ff8000000000001ULL), from_bits(0xfff8000000000000ULL), 4.9e-324, -4.9e-324,
        1.7976931348623157e308, 0.1, 0.30000000000000004, 1.0 / 3.0, 1e-12, 123456789.123,
        9007199254740993.0, -9007199254740992.0, 1e300, 2.5, -0.0,
    };
    size_t n = sizeof(vs) / sizeof(vs[0]);
    int64_t ts[sizeof(vs) / sizeof(vs[0])];
    regular_ts(ts, n, 1700000000000LL, 15000);
    int mode;
    roundtrip(ts, vs, n, &mode);
    assert_int_equal(mode, 1); /* NaN and friends are not decimals */
    for (size_t i = 0; i < n; i++) {
        /* each value alone, and each value after a decimal run */
        roundtrip(ts, &vs[i], 1, NULL);
        double two[] = {42.5, vs[i]};
        roundtrip(ts, two, 2, NULL);
    }
}

static void test_odin_stale_marker_kept(void **state)
{
    (void)state;
    /* a counter that goes stale: the marker's exact bit pattern must survive */
    double vs[100];
    int64_t ts[100];
    regular_ts(ts, 100, 0, 1000);
    for (size_t i = 0; i < 100; i++) {
        vs[i] = (double)(i * 7);
    }
    vs[99] = from_bits(0x7ff0000000000002ULL);
    int mode;
    roundtrip(ts, vs, 100, &mode);
    assert_int_equal(mode, 1);
}

static void test_odin_timestamps(void **state)
{
    (void)state;
    const int64_t ts[] = {INT64_MIN, INT64_MIN, -1, 0, 0, 0, 1, 1000, 2000, 2999, 4001,
                          1700000000000LL, 1700000000000LL, INT64_MAX / 2, INT64_MAX - 1,
                          INT64_MAX, INT64_MAX};
    size_t n = sizeof(ts) / sizeof(ts[0]);
    double vs[sizeof(ts) / sizeof(ts[0])];
    for (size_t i = 0; i < n; i++) {
        vs[i] = (double)i;
    }
    roundtrip(ts, vs, n, NULL);
    for (size_t k = 1; k <= n; k++) {
        roundtrip(ts + n - k, vs, k, NULL);
    }
    /* huge value deltas in scaled integers: +-2^53 alternating */
    double big[] = {9007199254740991.0, -9007199254740991.0, 9007199254740991.0, 0, -1, 1e15};
    roundtrip(ts, big, 6, NULL);
}

static void test_odin_decimals(void **state)
{
    (void)state;
    enum { N = 480 };
    int64_t ts[N];
    double vs[N];
    regular_ts(ts, N, 1700000000000LL, 15000);
    /* cpu seconds: two decimals, rising by 0.00 .. 0.99 per scrape */
    double acc = 12345.67;
    unsigned seed = 7;
    for (size_t i = 0; i < N; i++) {
        vs[i] = round(acc * 100) / 100;
        seed = seed * 1103515245u + 12345u;
        acc += (double)(seed >> 16 & 127) / 100;
    }
    int mode;
    size_t len = roundtrip(ts, vs, N, &mode);
    assert_int_equal(mode, 0);
    /* XOR spends about 3 bytes a sample on such a counter; the scaled deltas fit 7-8 bits */
    assert_true(len < N * 11 / 10);
    /* values that print as decimals but are sums of binary fractions: XOR floats */
    for (size_t i = 0; i < N; i++) {
        vs[i] = 0.1 * (double)i + 0.2;
    }
    roundtrip(ts, vs, N, NULL);
    /* memory gauges in pages: the common divisor 4096 is taken out */
    for (size_t i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        vs[i] = 8e9 + 4096.0 * (double)(seed >> 20);
    }
    len = roundtrip(ts, vs, N, &mode);
    assert_int_equal(mode, 0);
    assert_true(len < N * 2);
    /* milliseconds scaled as node_exporter does (ms * 0.001: 2878.6730000000002, not 2878.673)
     * and microseconds by 1e-6 */
    for (int scale = 3; scale <= 6; scale += 3) {
        uint64_t ms = 2878350;
        for (size_t i = 0; i < N; i++) {
            seed = seed * 1103515245u + 12345u;
            ms += seed >> 22;
            vs[i] = (double)ms * (scale == 3 ? 0.001 : 1e-6);
        }
        len = roundtrip(ts, vs, N, &mode);
        assert_int_equal(mode, 2);
        assert_true(len < N * 3 / 2);
    }
    /* pressure stall microseconds as node_exporter scales them: us / 1000 / 1000 (595.2135209999999
     * for 595213521 us) */
    uint64_t us = 595213521;
    for (size_t i = 0; i < N; i++) {
        vs[i] = (double)us / 1000 / 1000;
        seed = seed * 1103515245u + 12345u;
        us += seed >> 18;
    }
    assert_true(bits_of(vs[0]) == bits_of(595.2135209999999));
    len = roundtrip(ts, vs, N, &mode);
    assert_int_equal(mode, 3);
    assert_true(len < N * 2);
}

static void test_odin_constant_is_tiny(void **state)
{
    (void)state;
    enum { N = 1000 };
    int64_t ts[N];
    double vs[N];
    regular_ts(ts, N, 1700000000000LL, 15000);
    for (size_t i = 0; i < N; i++) {
        vs[i] = 1;
    }
    assert_true(roundtrip(ts, vs, N, NULL) < 32); /* no bits per sample at all */
    /* a jittered scrape: a few ms either way costs a few bits, not XOR's 16 */
    unsigned seed = 3;
    for (size_t i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        ts[i] += (int64_t)(seed >> 16 & 7) - 3;
    }
    assert_true(roundtrip(ts, vs, N, NULL) < N * 6 / 8); /* XOR: 2 bytes a sample */
}

static void test_odin_random(void **state)
{
    (void)state;
    unsigned seed = 11;
    for (int round_ = 0; round_ < 300; round_++) {
        size_t n = 1 + (size_t)(rand_r(&seed) % 700);
        int64_t *ts = malloc(n * sizeof(*ts));
        double *vs = malloc(n * sizeof(*vs));
        int64_t t = (int64_t)rand_r(&seed) * 1000 - 5000000;
        int kind = round_ % 5;
        double x = 0;
        for (size_t i = 0; i < n; i++) {
            t += rand_r(&seed) % 4 == 0 ? rand_r(&seed) % 100000 : 15000;
            ts[i] = t;
            switch (kind) {
            case 0: /* integer counter */
                x += rand_r(&seed) % 100000;
                vs[i] = x;
                break;
            case 1: /* three-decimal gauge */
                vs[i] = (double)(rand_r(&seed) % 200000 - 100000) / 1000;
                break;
            case 2: /* arbitrary bits, including NaNs */
                vs[i] = from_bits((uint64_t)rand_r(&seed) << 33 ^ (uint64_t)rand_r(&seed));
                break;
            case 3: /* mostly constant */
                vs[i] = rand_r(&seed) % 50 == 0 ? (double)(rand_r(&seed) % 3) : 1.5;
                break;
            default: /* floats from arithmetic */
                x += 1.0 / (1 + rand_r(&seed) % 9);
                vs[i] = x;
                break;
            }
        }
        roundtrip(ts, vs, n, NULL);
        free(ts);
        free(vs);
    }
}

/* Every truncation and many bit flips of valid chunks: the iterator stops, flags what it cannot
 * read, and never reads past the end (ASan builds check the last part). */
static void test_odin_corrupt_is_bounded(void **state)
{
    (void)state;
    enum { N = 200 };
    int64_t ts[N];
    double vs[N];
    regular_ts(ts, N, 1000, 1000);
    for (int kind = 0; kind < 2; kind++) {
        for (size_t i = 0; i < N; i++) {
            vs[i] = kind ? sin((double)i) : (double)(i * i);
        }
        uint8_t *b = malloc(tsdb_odin_chunk_bound(N));
        size_t len = tsdb_odin_chunk_encode(ts, vs, N, b);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *c = malloc(cut ? cut : 1);
            memcpy(c, b, cut);
            xor_iter it;
            xor_iter_init(&it, c, cut);
            int64_t t;
            double v;
            size_t got = 0;
            while (xor_iter_next(&it, &t, &v)) {
                got++;
            }
            assert_true(got < N);
            assert_true(it.err || cut <= 2);
            free(c);
        }
        unsigned seed = 5;
        for (int f = 0; f < 2000; f++) {
            uint8_t *c = malloc(len);
            memcpy(c, b, len);
            c[2 + (size_t)rand_r(&seed) % (len - 2)] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
            xor_iter it;
            xor_iter_init(&it, c, len);
            int64_t t;
            double v;
            size_t got = 0;
            while (xor_iter_next(&it, &t, &v)) {
                got++;
            }
            assert_true(got <= 65535);
            free(c);
        }
        free(b);
    }
}

/* Scrapes on a 15 s tick, 1 in 10 late by 3-50 ms (past the 2 ms within which servers pin a
 * scrape to its tick), the first one among them: the timestamps take the grid order (layout
 * byte, n's 2-byte uvarint, then the stream's flags), where a late scrape costs one code instead
 * of delta-of-delta's three. A missed scrape and truncations read back or fail cleanly. */
static void test_odin_late_scrapes(void **state)
{
    (void)state;
    enum { N = 480 };
    int64_t ts[N];
    double vs[N];
    unsigned seed = 11;
    for (size_t i = 0; i < N; i++) {
        ts[i] = 1700000000000LL + (int64_t)i * 15000;
        if (i == 0 || rand_r(&seed) % 10 == 0) {
            ts[i] += 3 + rand_r(&seed) % 48;
        }
        vs[i] = 1;
    }
    uint8_t *b = malloc(tsdb_odin_chunk_bound(N));
    size_t len = tsdb_odin_chunk_encode(ts, vs, N, b);
    assert_int_equal(b[5] & 3, 3);
    /* ~48 late samples at 2 + 6 bits and the rest at 1 bit: ~110 bytes with the headers, where
     * delta-of-delta codes took ~230 */
    assert_true(len < 140);
    free(b);
    roundtrip(ts, vs, N, NULL);
    /* a missed scrape shifts the rest off the first grid: still exact, whatever order wins */
    for (size_t i = N / 2; i < N; i++) {
        ts[i] += 15000;
    }
    roundtrip(ts, vs, N, NULL);
    for (size_t i = N / 2; i < N; i++) {
        ts[i] -= 15000;
    }
    b = malloc(tsdb_odin_chunk_bound(N));
    len = tsdb_odin_chunk_encode(ts, vs, N, b);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        xor_iter it;
        xor_iter_init(&it, c, cut);
        int64_t t;
        double v;
        size_t got = 0;
        while (xor_iter_next(&it, &t, &v)) {
            assert_int_equal(t, ts[got]);
            got++;
        }
        assert_true(got < N);
        assert_true(it.err || cut <= 2);
        free(c);
    }
    free(b);
}

static void test_odin_encoding_detection(void **state)
{
    (void)state;
    xor_chunk c;
    xor_chunk_init(&c);
    assert_int_equal(tsdb_chunk_samples(c.b, c.len), 0);
    assert_int_equal(tsdb_chunk_encoding(c.b, c.len), TSDB_ENC_XOR);
    xor_chunk_append(&c, 0, 0);
    xor_chunk_append(&c, 1, 0);
    assert_int_equal(tsdb_chunk_encoding(c.b, c.len), TSDB_ENC_XOR);
    assert_int_equal(tsdb_chunk_samples(c.b, c.len), 2);
    xor_chunk_fini(&c);
    /* a zero count with bytes after it is Odin's layout, and a bad header reads as an error */
    const uint8_t bad[] = {0, 0, 9, 1};
    xor_iter it;
    xor_iter_init(&it, bad, sizeof(bad));
    int64_t t;
    double v;
    assert_false(xor_iter_next(&it, &t, &v));
    assert_true(it.err);
    assert_int_equal(tsdb_chunk_samples(bad, sizeof(bad)), 0);
    int64_t ts[1] = {5};
    double vs[1] = {1};
    uint8_t out[64];
    assert_int_equal(tsdb_odin_chunk_encode(ts, vs, 0, out), 0);
}

int tsdb_odin_chunk_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_odin_edge_values),
        cmocka_unit_test(test_odin_stale_marker_kept),
        cmocka_unit_test(test_odin_timestamps),
        cmocka_unit_test(test_odin_decimals),
        cmocka_unit_test(test_odin_constant_is_tiny),
        cmocka_unit_test(test_odin_random),
        cmocka_unit_test(test_odin_corrupt_is_bounded),
        cmocka_unit_test(test_odin_encoding_detection),
        cmocka_unit_test(test_odin_late_scrapes),
    };
    return cmocka_run_group_tests_name("tsdb_odin_chunk", tests, NULL, NULL);
}

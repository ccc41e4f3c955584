/* odin_format_double_exp against the printf-based formatter it replaced (kept below as the
 * reference): random bit patterns, values shaped like metrics, every power of two, small
 * subnormals and hand-picked edges, in every layout the code base asks for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int format_double_tests(void);

#include "format_double_ref.h"

/* ---- Comparison ---------------------------------------------------------------------------- */

/* exp_lo, exp_hi pairs of the callers: Go's 'g', promql strings, the query API's JSON and
 * Prometheus' own, and the fixed-only forms of promql and the CLI */
static const int layouts[][2] = {{-4, 6}, {-7, 21}, {-6, 21}, {INT_MIN, INT_MAX}, {-400, 400}};

static unsigned long checked;

static void check_layout(double v, int lo, int hi)
{
    char got[400], want[400];
    size_t n = odin_format_double_exp(v, lo, hi, got);
    size_t m = ref_format(v, lo, hi, want);
    checked++;
    if (n != m || strcmp(got, want) != 0) {
        fail_msg("%a (layout %d,%d): got %s want %s", v, lo, hi, got, want);
    }
}

/* Go's layout with both signs, plus one other layout chosen by i */
static void check(double v, unsigned i)
{
    check_layout(v, -4, 6);
    check_layout(-v, -4, 6);
    const int *l = layouts[1 + i % (ODIN_ARRAY_LEN(layouts) - 1)];
    check_layout(v, l[0], l[1]);
    char buf[40];
    size_t n = odin_format_double(v, buf);
    char want[40];
    ref_format(v, -4, 6, want);
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
}

static void check_all_layouts(double v)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(layouts); i++) {
        check_layout(v, layouts[i][0], layouts[i][1]);
        check_layout(-v, layouts[i][0], layouts[i][1]);
    }
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static void test_edges(void **state)
{
    (void)state;
    static const double edges[] = {
        0.0, -0.0, 5e-324, 1e-323, 2.2250738585072009e-308 /* largest subnormal */,
        DBL_MIN, DBL_MAX, DBL_EPSILON, 1e21, 1e22, 1e23, 1e15, 1e16, 1e17, 999999999999999.0,
        999999999999999.9, 1000000000000000.1, 9007199254740992.0, 9007199254740991.0,
        9007199254740993.0, 9007199254740994.0, 0.1, 0.2, 0.3, 0.30000000000000004,
        1.0 / 3, 2.0 / 3, 123456789012345678.0, 2.718281828459045, 3.141592653589793,
        0.1234567891234, 1e-7, 1.5e-7, 1e-5, 1e-4, 1e-6, 1e6, 1e20, 1e300, 1e-300,
        2.6326129999999996 /* 17 digits */, 1.7976931348623157e308, 4.35, 0.7,
        562949953421312.25 /* 2^49 + 1/4: a tie at 16 digits */, 5e-310, 4.9406564584124654e-324,
        1.8446744073709552e19, 9.5367431640625e-07 /* 2^-20 */, 1.2345678901234567e-100,
        8.98846567431158e307 /* 2^1023 */, 1.1102230246251565e-16 /* 2^-53 */,
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(edges); i++) {
        double v = edges[i];
        check_all_layouts(v);
        for (int step = 1; step <= 3; step++) {
            check_all_layouts(nextafter(v, INFINITY));
            check_all_layouts(nextafter(v, -INFINITY));
            v = nextafter(v, INFINITY);
        }
    }
    check_all_layouts(NAN);
    check_all_layouts(INFINITY);
}

/* Every power of two (the only doubles with a lopsided rounding interval) and its neighbours. */
static void test_powers_of_two(void **state)
{
    (void)state;
    for (int e = -1074; e <= 1023; e++) {
        double v = ldexp(1.0, e);
        check(v, (unsigned)(e + 1074));
        check(nextafter(v, 0), (unsigned)e);
        check(nextafter(v, INFINITY), (unsigned)e);
    }
}

/* Subnormals with small mantissas, where the shortest form has one to five digits. */
static void test_small_subnormals(void **state)
{
    (void)state;
    for (uint64_t c = 1; c < 20000; c++) {
        check(from_bits(c), (unsigned)c);
    }
    uint64_t x = 0x6A09E667F3BCC909ULL;
    for (int i = 0; i < 20000; i++) {
        check(from_bits(xorshift(&x) & ((1ULL << 52) - 1)), (unsigned)i);
    }
}

static void test_random_bits(void **state)
{
    (void)state;
    /* the count is an environment knob so a long run (10 million and more) needs no rebuild */
    unsigned long count = 2000000;
    const char *env = getenv("ODIN_FORMAT_DOUBLE_RANDOM");
    if (env) {
        count = strtoul(env, NULL, 10);
    }
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (unsigned long i = 0; i < count; i++) {
        double v = from_bits(xorshift(&x));
        check_layout(v, layouts[i % ODIN_ARRAY_LEN(layouts)][0],
                     layouts[i % ODIN_ARRAY_LEN(layouts)][1]);
    }
}

/* The shapes metric values have: scaled counters, nanoseconds, ratios and rates, and values a
 * few ulps from powers of ten and of two. */
static void test_metric_shapes(void **state)
{
    (void)state;
    uint64_t x = 0xB7E151628AED2A6BULL;
    for (unsigned i = 0; i < 40000; i++) {
        uint64_t r = xorshift(&x);
        uint64_t k = r % 10000000000000ULL;
        check((double)k / 100, i);
        check((double)k / 1000, i);
        check((double)k * 1e-9, i);
        check((double)(k % 100000) * 1e-9, i);
        uint64_t y = xorshift(&x);
        uint64_t num = y % 1000000, den = (y >> 32) % 100000 + 1;
        check((double)num / (double)den, i);
        check((double)(r >> 11) / (double)(y >> 11 | 1), i);
        check((double)num / (double)den / 60.0, i);
    }
    for (int e = -330; e <= 310; e++) {
        double p = pow(10, e);
        double lo = p, hi = p;
        for (int s = 0; s < 4; s++) {
            check(lo, (unsigned)s);
            check(hi, (unsigned)s);
            lo = nextafter(lo, 0);
            hi = nextafter(hi, INFINITY);
        }
    }
}

int format_double_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),           cmocka_unit_test(test_powers_of_two),
        cmocka_unit_test(test_small_subnormals), cmocka_unit_test(test_random_bits),
        cmocka_unit_test(test_metric_shapes),
    };
    return cmocka_run_group_tests_name("base_format_double", tests, NULL, NULL);
}

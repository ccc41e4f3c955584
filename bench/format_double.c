/* Cost of float formatting (src/base/num.c): ns per value for odin_format_double_exp against the
 * printf %.*e + strtod search it replaced (tests/unit/base/format_double_ref.h, the baseline),
 * on the same values.
 * Usage: bench_format_double [--rounds N]
 * Sets: random finite bit patterns; metric-like values (scaled counters, nanoseconds as seconds,
 * integers) in Go's layout; ratios and rates as the query API's JSON prints them. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

enum { N_VALUES = 200000, DEFAULT_ROUNDS = 7 };

/* Baseline: the formatter before the exact method (same fast paths, printf general case). */
#include "../tests/unit/base/format_double_ref.h"

/* ---- Value sets ---------------------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void fill_random(double *v)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < N_VALUES;) {
        uint64_t b = xorshift(&x);
        double d;
        memcpy(&d, &b, sizeof(d));
        if (isfinite(d)) {
            v[i++] = d;
        }
    }
}

/* what an agent renders: counters scaled by 1/100 (USER_HZ) and 1/1000, byte counts, and
 * nanosecond or microsecond totals in seconds; `shape` picks one kind, or -1 all in turn */
static void fill_metric_shape(double *v, int shape)
{
    uint64_t x = 0x243F6A8885A308D3ULL;
    for (size_t i = 0; i < N_VALUES; i++) {
        uint64_t r = xorshift(&x);
        uint64_t k = r % 100000000000ULL;
        switch (shape >= 0 ? (size_t)shape : i % 5) {
        case 0: v[i] = (double)k / 100; break;
        case 1: v[i] = (double)k / 1000; break;
        case 2: v[i] = (double)k; break;
        case 3: v[i] = (double)k * 1e-9; break;
        default: v[i] = (double)(k % 10000000) * 1e-6; break;
        }
    }
}

static void fill_metric(double *v)
{
    fill_metric_shape(v, -1);
}

static void fill_centi(double *v)
{
    fill_metric_shape(v, 0);
}

static void fill_int(double *v)
{
    fill_metric_shape(v, 2);
}

static void fill_nano(double *v)
{
    fill_metric_shape(v, 3);
}

/* what range queries return: rate() over a 15 s to 5 m window, ratios of two gauges, averages */
static void fill_ratio(double *v)
{
    uint64_t x = 0xB7E151628AED2A6BULL;
    static const double windows[] = {15, 30, 60, 300};
    for (size_t i = 0; i < N_VALUES; i++) {
        uint64_t r = xorshift(&x);
        double a = (double)(r % 10000000), b = (double)((r >> 32) % 100000 + 1);
        switch (i % 3) {
        case 0: v[i] = a / windows[(r >> 60) % 4]; break;
        case 1: v[i] = b / (a + b); break;
        default: v[i] = a / b * 100; break;
        }
    }
}

/* ---- Timing -------------------------------------------------------------------------------- */

typedef size_t (*format_fn)(double, int, int, char *);

static double ns_per_value(format_fn f, const double *v, int lo, int hi, size_t *sink)
{
    char buf[400];
    int64_t t0 = odin_mono_ns();
    for (size_t i = 0; i < N_VALUES; i++) {
        *sink += f(v[i], lo, hi, buf);
    }
    return (double)(odin_mono_ns() - t0) / N_VALUES;
}

int main(int argc, char **argv)
{
    int rounds = DEFAULT_ROUNDS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (int)strtol(argv[++i], NULL, 10);
        }
    }
    static double values[N_VALUES];
    static const struct {
        const char *name;
        void (*fill)(double *);
        int lo, hi;
    } sets[] = {
        {"random bits (JSON layout)", fill_random, -7, 21},
        {"metric-like (Go 'g')", fill_metric, -4, 6},
        {"  of which k/100", fill_centi, -4, 6},
        {"  of which integers", fill_int, -4, 6},
        {"  of which k*1e-9", fill_nano, -4, 6},
        {"ratios/rates (JSON layout)", fill_ratio, -7, 21},
    };
    printf("%-28s %10s %10s %8s\n", "set", "old ns", "new ns", "old/new");
    for (size_t s = 0; s < ODIN_ARRAY_LEN(sets); s++) {
        sets[s].fill(values);
        size_t old_sink = 0, new_sink = 0;
        double best_old = INFINITY, best_new = INFINITY;
        /* alternate the two so load from other processes hits both alike; keep the best round */
        for (int r = 0; r < rounds; r++) {
            size_t a = 0, b = 0;
            best_old = fmin(best_old, ns_per_value(ref_format, values, sets[s].lo, sets[s].hi, &a));
            best_new = fmin(best_new, ns_per_value(odin_format_double_exp, values, sets[s].lo,
                                                   sets[s].hi, &b));
            old_sink = a;
            new_sink = b;
        }
        printf("%-28s %10.1f %10.1f %8.2f%s\n", sets[s].name, best_old, best_new,
               best_old / best_new, old_sink == new_sink ? "" : "  (output lengths differ!)");
    }
    return 0;
}

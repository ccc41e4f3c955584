/* Unit tests for src/base/: float formatting against Go's strconv output, number and duration
 * parsing, strbuf caps, arenas, the hash map and label helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_format_double(void **state)
{
    (void)state;
    /* expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints, with
     * client_golang's special cases (0, NaN, +Inf, -Inf) */
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-1, "-1"},
        {1150976, "1.150976e+06"},
        {44105502, "4.4105502e+07"},
        {1e6, "1e+06"},
        {999999, "999999"},
        {118821.284256, "118821.284256"},
        {1.305e-06, "1.305e-06"},
        {0.0001, "0.0001"},
        {0.00001, "1e-05"},
        {2.6326129999999996, "2.6326129999999996"},
        {0.1, "0.1"},
        {0.30000000000000004, "0.30000000000000004"},
        {1.6495439872e+10, "1.6495439872e+10"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {1.8446744073709552e19, "1.8446744073709552e+19"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {-3.5, "-3.5"},
        {100, "100"},
        {12345.5, "12345.5"},
        {1e21, "1e+21"},
        {1e100, "1e+100"},
        {0.000123, "0.000123"},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        char buf[40];
        odin_format_double(cases[i].v, buf);
        if (strcmp(buf, cases[i].want) != 0) {
            fail_msg("case %zu: got %s want %s", i, buf, cases[i].want);
        }
    }
    char buf[40];
    odin_format_double(NAN, buf);
    assert_string_equal(buf, "NaN");
    odin_format_double(INFINITY, buf);
    assert_string_equal(buf, "+Inf");
    odin_format_double(-INFINITY, buf);
    assert_string_equal(buf, "-Inf");
}

static void test_format_roundtrip(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (isnan(v) || isinf(v)) {
            continue;
        }
        char buf[40];
        size_t n = odin_format_double(v, buf);
        double back;
        assert_int_equal(odin_parse_double((odin_str){buf, n}, &back), 0);
        if (v != 0 && back != v) {
            fail_msg("%s does not read back as %a", buf, v);
        }
    }
}

/* The fast path for short decimal fractions must agree with the general one: build values as
 * N / 10^k and check the text reads back and has no more digits than printf's shortest. */
static void test_format_decimal_fractions(void **state)
{
    (void)state;
    uint64_t x = 0x243F6A8885A308D3ULL;
    for (int i = 0; i < 50000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        static const double p10[] = {1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};
        double v = (double)(x % 100000000000ULL) / p10[(x >> 40) % 11];
        if (x & 1) {
            v = -v;
        }
        char buf[40];
        size_t n = odin_format_double(v, buf);
        double back;
        assert_int_equal(odin_parse_double((odin_str){buf, n}, &back), 0);
        if (back != v) {
            fail_msg("%s does not read back as %.17g", buf, v);
        }
        /* compare with the shortest %.Ng that round-trips */
        char ref[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(ref, sizeof(ref), "%.*g", prec, v);
            if (strtod(ref, NULL) == v) {
                break;
            }
        }
        size_t sig_ours = 0, sig_ref = 0;
        for (const char *c = buf; *c && *c != 'e'; c++) {
            sig_ours += *c >= '0' && *c <= '9';
        }
        for (const char *c = ref; *c && *c != 'e'; c++) {
            sig_ref += *c >= '0' && *c <= '9';
        }
        /* leading zeros of 0.00x count in both: compare only when neither has them */
        if (buf[0] != '0' && buf[1] != '0' && ref[0] != '0' && sig_ours > sig_ref + 1) {
            fail_msg("%s is longer than %s", buf, ref);
        }
    }
}

static void test_parse_numbers(void **state)
{
    (void)state;
    double d;
    assert_int_equal(odin_parse_double(ODIN_STR("1.5e3"), &d), 0);
    assert_true(d == 1500);
    assert_int_equal(odin_parse_double(ODIN_STR("+Inf"), &d), 0);
    assert_true(isinf(d) && d > 0);
    assert_int_equal(odin_parse_double(ODIN_STR("-Inf"), &d), 0);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(odin_parse_double(ODIN_STR("NaN"), &d), 0);
    assert_true(isnan(d));
    assert_int_equal(odin_parse_double(ODIN_STR(" 1"), &d), -ODIN_ERR_PARSE);
    assert_int_equal(odin_parse_double(ODIN_STR("1x"), &d), -ODIN_ERR_PARSE);
    assert_int_equal(odin_parse_double(ODIN_STR(""), &d), -ODIN_ERR_PARSE);
    int64_t i;
    assert_int_equal(odin_parse_i64(ODIN_STR("-9223372036854775808"), &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(odin_parse_i64(ODIN_STR("9223372036854775808"), &i), -ODIN_ERR_LIMIT);
    uint64_t u;
    assert_int_equal(odin_parse_u64(ODIN_STR("18446744073709551615"), &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(odin_parse_u64(ODIN_STR("18446744073709551616"), &u), -ODIN_ERR_LIMIT);
    assert_int_equal(odin_parse_u64(ODIN_STR("12a"), &u), -ODIN_ERR_PARSE);
    assert_int_equal(odin_parse_hex_u64(ODIN_STR("00000a3F"), &u), 0);
    assert_true(u == 0xa3f);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        int64_t ms;
    } cases[] = {
        {"15s", 0, 15000},        {"1m30s", 0, 90000}, {"5m", 0, 300000},
        {"2h", 0, 7200000},       {"1d", 0, 86400000}, {"1w", 0, 604800000},
        {"1y", 0, 31536000000},   {"500ms", 0, 500},   {"0", 0, 0},
        {"1h1h", -ODIN_ERR_PARSE, 0}, {"30s1m", -ODIN_ERR_PARSE, 0}, {"5", -ODIN_ERR_PARSE, 0},
        {"", -ODIN_ERR_PARSE, 0}, {"1x", -ODIN_ERR_PARSE, 0}, {"-1s", -ODIN_ERR_PARSE, 0},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        int64_t ms = -1;
        int rc = odin_parse_duration_ms(odin_str_c(cases[i].in), &ms);
        if (rc != cases[i].rc || (rc == 0 && ms != cases[i].ms)) {
            fail_msg("%s: rc %d ms %lld", cases[i].in, rc, (long long)ms);
        }
    }
}

static void test_strbuf_cap(void **state)
{
    (void)state;
    odin_strbuf b;
    odin_strbuf_init(&b, 10);
    odin_strbuf_puts(&b, "12345");
    odin_strbuf_puts(&b, "67890");
    assert_true(odin_strbuf_ok(&b));
    odin_strbuf_putc(&b, 'x');
    assert_false(odin_strbuf_ok(&b));
    assert_int_equal(b.len, 10);
    assert_string_equal(b.p, "1234567890");
    odin_strbuf_reset(&b);
    odin_strbuf_printf(&b, "%d-%s", 42, "ok");
    odin_strbuf_put_i64(&b, -7);
    assert_string_equal(b.p, "42-ok-7");
    odin_strbuf_fini(&b);
}

static int cleanup_calls;
static void count_cleanup(void *arg)
{
    (void)arg;
    cleanup_calls++;
}

static void test_arena(void **state)
{
    (void)state;
    odin_arena a;
    odin_arena_init(&a, 1 << 20);
    char *s = odin_arena_printf(&a, "%s/%d", "proc", 7);
    assert_string_equal(s, "proc/7");
    for (int i = 0; i < 1000; i++) {
        char *p = odin_arena_alloc(&a, 100);
        assert_non_null(p);
        assert_true(((uintptr_t)p & 15) == 0);
        memset(p, 0xab, 100);
    }
    odin_arena_on_reset(&a, count_cleanup, NULL);
    odin_arena_reset(&a);
    assert_int_equal(cleanup_calls, 1);
    assert_null(odin_arena_alloc(&a, 2 << 20));
    assert_true(a.overflow);
    odin_arena_reset(&a);
    assert_non_null(odin_arena_alloc(&a, 1000));
    odin_arena_fini(&a);
}

static void test_map(void **state)
{
    (void)state;
    odin_map m;
    odin_map_init(&m);
    static char keys[2000][8];
    for (int i = 0; i < 2000; i++) {
        keys[i][0] = (char)('a' + i % 26);
        keys[i][1] = (char)('0' + (i / 26) % 10);
        keys[i][2] = (char)('0' + (i / 260) % 10);
        keys[i][3] = (char)('0' + i / 2600);
        assert_null(odin_map_put(&m, keys[i], 4, keys[i]));
    }
    assert_int_equal(m.len, 2000);
    for (int i = 0; i < 2000; i += 2) {
        assert_ptr_equal(odin_map_del(&m, keys[i], 4), keys[i]);
    }
    for (int i = 0; i < 2000; i++) {
        void *v = odin_map_get(&m, keys[i], 4);
        if (i % 2) {
            assert_ptr_equal(v, keys[i]);
        } else {
            assert_null(v);
        }
    }
    size_t pos = 0, n = 0, kl;
    const void *k;
    void *v;
    while (odin_map_next(&m, &pos, &k, &kl, &v)) {
        n++;
    }
    assert_int_equal(n, 1000);
    odin_map_clear(&m);
    assert_null(odin_map_get(&m, keys[1], 4));
    odin_map_fini(&m);
}

static void test_labels(void **state)
{
    (void)state;
    odin_label v[] = {{ODIN_STR("zone"), ODIN_STR("a")},
                      {ODIN_STR("cpu"), ODIN_STR("1")},
                      {ODIN_STR("mode"), ODIN_STR("idle")}};
    odin_labels_sort(v, 3);
    assert_true(odin_str_eq_c(v[0].name, "cpu"));
    assert_true(odin_str_eq_c(v[2].name, "zone"));
    odin_labels ls = {v, 3};
    assert_true(odin_str_eq_c(*odin_labels_get(ls, "mode"), "idle"));
    assert_null(odin_labels_get(ls, "nope"));
    assert_true(odin_label_name_valid(ODIN_STR("_a1")));
    assert_false(odin_label_name_valid(ODIN_STR("1a")));
    assert_false(odin_label_name_valid(ODIN_STR("a:b")));
    assert_true(odin_metric_name_valid(ODIN_STR("a:b_c")));
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_put_label_value(&b, ODIN_STR("a\\b\"c\nd"));
    assert_string_equal(b.p, "a\\\\b\\\"c\\nd");
    odin_strbuf_fini(&b);
}

static void test_err(void **state)
{
    (void)state;
    odin_err err = {0};
    assert_int_equal(odin_err_set(&err, ODIN_ERR_PARSE, "%s:%d: bad", "x.yml", 3), -ODIN_ERR_PARSE);
    odin_err_set(&err, ODIN_ERR_IO, "later");
    assert_string_equal(err.msg, "x.yml:3: bad");
    odin_err_prefix(&err, "loading %s: ", "config");
    assert_string_equal(err.msg, "loading config: x.yml:3: bad");
    assert_int_equal(err.code, ODIN_ERR_PARSE);
    odin_err_clear(&err);
    odin_err_errno(&err, 2, "open %s", "/nope");
    assert_string_equal(err.msg, "open /nope: No such file or directory");
}

static void test_str(void **state)
{
    (void)state;
    odin_str s = ODIN_STR("  cpu0 12 34\t 56  ");
    assert_true(odin_str_eq_c(odin_str_field(&s), "cpu0"));
    assert_true(odin_str_eq_c(odin_str_field(&s), "12"));
    assert_true(odin_str_eq_c(odin_str_field(&s), "34"));
    assert_true(odin_str_eq_c(odin_str_field(&s), "56"));
    assert_int_equal(odin_str_field(&s).len, 0);
    odin_str t = ODIN_STR("a:b:c");
    assert_true(odin_str_eq_c(odin_str_cut(&t, ':'), "a"));
    assert_true(odin_str_eq_c(odin_str_cut(&t, ':'), "b"));
    assert_true(odin_str_eq_c(odin_str_cut(&t, ':'), "c"));
    assert_int_equal(t.len, 0);
    assert_true(odin_str_eq_c(odin_str_trim(ODIN_STR(" x \n")), "x"));
    assert_true(odin_str_cmp(ODIN_STR("ab"), ODIN_STR("abc")) < 0);
    assert_true(odin_str_cmp(ODIN_STR("B"), ODIN_STR("a")) < 0);
}

/* format_double_test.c */
int format_double_tests(void);

/* UTF-8 with Go's rules: lengths and code points of valid sequences, 0 for overlong forms,
 * surrogates, code points past U+10FFFF, truncated and broken sequences; whole-string checks
 * find a bad byte wherever it sits in long ASCII runs; the encoder writes what decodes back. */
static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        uint32_t cp;
    } cases[] = {
        {"a", 1, 'a'},
        {"\x7f", 1, 0x7f},
        {"\xc2\x80", 2, 0x80},
        {"\xdf\xbf", 2, 0x7ff},
        {"\xe0\xa0\x80", 3, 0x800},
        {"\xe2\x82\xac", 3, 0x20ac},
        {"\xed\x9f\xbf", 3, 0xd7ff},
        {"\xee\x80\x80", 3, 0xe000},
        {"\xef\xbf\xbd", 3, 0xfffd},
        {"\xf0\x90\x80\x80", 4, 0x10000},
        {"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
        {"\x80", 0, 0},             /* continuation byte first */
        {"\xc0\xaf", 0, 0},         /* overlong */
        {"\xc1\xbf", 0, 0},         /* overlong */
        {"\xe0\x80\xaf", 0, 0},     /* overlong */
        {"\xf0\x8f\xbf\xbf", 0, 0}, /* overlong */
        {"\xed\xa0\x80", 0, 0},     /* surrogate */
        {"\xed\xbf\xbf", 0, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 0, 0}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 0, 0},
        {"\xff", 0, 0},
        {"\xe2\x82", 0, 0},     /* truncated */
        {"\xe2\x28\xa1", 0, 0}, /* bad continuation */
        {"\xf0\x90\x80\x28", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t cp = 0;
        size_t n = strlen(cases[i].s);
        assert_int_equal(odin_utf8_len(cases[i].s, n, &cp), cases[i].len);
        assert_int_equal(odin_utf8_len(cases[i].s, n, NULL), cases[i].len);
        if (cases[i].len) {
            assert_int_equal(cp, cases[i].cp);
            /* the whole sequence is needed */
            assert_int_equal(
                odin_utf8_len(cases[i].s, cases[i].len - 1 ? cases[i].len - 1 : 1, NULL),
                cases[i].len == 1 ? 1 : 0);
            odin_strbuf b;
            odin_strbuf_init(&b, 0);
            odin_strbuf_put_utf8(&b, cp);
            assert_int_equal(b.len, cases[i].len);
            assert_memory_equal(b.p, cases[i].s, b.len);
            odin_strbuf_fini(&b);
        }
        assert_int_equal(odin_utf8_valid(cases[i].s, n), cases[i].len == n);
    }
    assert_true(odin_utf8_valid("", 0));
    /* a bad byte at every position of a 40-byte ASCII text, and a valid 3-byte rune there */
    char text[41];
    for (size_t at = 0; at < 40; at++) {
        memset(text, 'x', 40);
        text[40] = '\0';
        text[at] = (char)0xff;
        assert_false(odin_utf8_valid(text, 40));
        if (at + 3 <= 40) {
            memcpy(text + at, "\xe2\x82\xac", 3);
            assert_true(odin_utf8_valid(text, 40));
            assert_false(odin_utf8_valid(text, at + 2)); /* cut inside the rune */
        }
    }
}

/* Go's strconv.Quote and labels.String(), the expected texts as Go prints them. */
static void test_go_quote(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "\"plain\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"\a\b\f\n\r\t\v", "\"\\a\\b\\f\\n\\r\\t\\v\""},
        {"\x01\x1f\x7f", "\"\\x01\\x1f\\x7f\""},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
         "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
        {"\xc2\x85\xc2\xa0\xc2\xad",
         "\"\\u0085\\u00a0\\u00ad\""}, /* C1 control, NBSP, soft hyphen */
        {"\xe2\x80\xa8\xe2\x80\x8b\xef\xbb\xbf", "\"\\u2028\\u200b\\ufeff\""},
        {"\xee\x80\x80\xef\xbf\xbe", "\"\\ue000\\ufffe\""}, /* private use, nonchar */
        {"\xf3\xa0\x80\x81\xf3\xa0\x84\x80", "\"\\U000e0001\xf3\xa0\x84\x80\""}, /* tag; VS17 */
        {"\xef\xbf\xbd", "\"\xef\xbf\xbd\""},                                    /* U+FFFD itself */
        {"\xed\xa0\x80", "\"\\xed\\xa0\\x80\""},                                 /* surrogate */
        {"\xc0\xaf\xff", "\"\\xc0\\xaf\\xff\""}, /* overlong, bad byte */
        {"", "\"\""},
    };
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        odin_strbuf_reset(&b);
        odin_strbuf_put_go_quote(&b, odin_str_c(cases[i].in));
        assert_string_equal(b.p, cases[i].want);
    }
    odin_strbuf_reset(&b);
    odin_strbuf_put_go_rune(&b, '\'', '\'');
    odin_strbuf_put_go_rune(&b, '"', '\'');
    odin_strbuf_put_go_rune(&b, 0x2028, '\'');
    assert_string_equal(b.p, "\\'\"\\u2028");
    odin_label v[2] = {{ODIN_STR("__name__"), ODIN_STR("up")},
                       {ODIN_STR("path"), ODIN_STR("C:\\x\t")}};
    odin_strbuf_reset(&b);
    odin_strbuf_put_go_labels(&b, (odin_labels){v, 2});
    assert_string_equal(b.p, "{__name__=\"up\", path=\"C:\\\\x\\t\"}");
    odin_strbuf_reset(&b);
    odin_strbuf_put_go_labels(&b, (odin_labels){NULL, 0});
    assert_string_equal(b.p, "{}");
    odin_strbuf_fini(&b);
}

/* Summaries: nearest-rank quantiles of the window, sum and count of everything observed. */
static void test_summary(void **state)
{
    (void)state;
    static const double qs[] = {0.01, 0.5, 0.9, 0.99, 1};
    double q[5], sum;
    uint64_t count;
    odin_summary *s = odin_summary_new(1000, 60000);
    odin_summary_read(s, qs, 5, q, &sum, &count);
    assert_true(isnan(q[0]) && isnan(q[4]));
    assert_int_equal(count, 0);
    for (int i = 100; i >= 1; i--) { /* out of order: the window is sorted when read */
        odin_summary_observe(s, i);
    }
    odin_summary_read(s, qs, 5, q, &sum, &count);
    assert_true(q[0] == 1 && q[1] == 50 && q[2] == 90 && q[3] == 99 && q[4] == 100);
    assert_true(sum == 5050 && count == 100);
    odin_summary_free(s);
    /* past cap the oldest go: the window is the last 10 */
    s = odin_summary_new(10, 60000);
    for (int i = 1; i <= 100; i++) {
        odin_summary_observe(s, i);
    }
    odin_summary_read(s, qs, 5, q, &sum, &count);
    assert_true(q[0] == 91 && q[1] == 95 && q[4] == 100);
    assert_true(sum == 5050 && count == 100);
    odin_summary_free(s);
    /* past max age the window empties; sum and count stay */
    s = odin_summary_new(10, 30);
    odin_summary_observe(s, 7);
    struct timespec ts = {0, 80 * 1000 * 1000};
    nanosleep(&ts, NULL);
    odin_summary_observe(s, 3);
    odin_summary_read(s, qs, 5, q, &sum, &count);
    assert_true(q[0] == 3 && q[4] == 3);
    assert_true(sum == 10 && count == 2);
    nanosleep(&ts, NULL);
    odin_summary_read(s, qs, 5, q, &sum, &count);
    assert_true(isnan(q[1]));
    assert_int_equal(count, 2);
    odin_summary_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_double),
        cmocka_unit_test(test_format_roundtrip),
        cmocka_unit_test(test_format_decimal_fractions),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_strbuf_cap),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_str),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_go_quote),
        cmocka_unit_test(test_summary),
    };
    int failed = cmocka_run_group_tests_name("base", tests, NULL, NULL);
    return failed + format_double_tests();
}

/* Tests for src/web/json.c: Go's string escaping, float and time formats, durations. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "web/web_int.h"
#include "web_test.h"

static void test_strings(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"plain", "abc", 3, "\"abc\""},
        {"quote and backslash", "a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"html", "<a>&", 4, "\"\\u003ca\\u003e\\u0026\""},
        {"controls", "\n\r\t\x01\x7f", 5, "\"\\n\\r\\t\\u0001\x7f\""},
        {"backspace as Go 1.19", "\b\f", 2, "\"\\u0008\\u000c\""},
        {"nul", "a\0b", 3, "\"a\\u0000b\""},
        {"utf8 kept", "h\xc3\xa9", 3, "\"h\xc3\xa9\""},
        {"line separator", "\xe2\x80\xa8", 3, "\"\\u2028\""},
        {"invalid byte", "a\xff" "b", 3, "\"a\\ufffdb\""},
        {"truncated sequence", "\xe2\x80", 2, "\"\\ufffd\\ufffd\""},
        {"overlong", "\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},
        {"surrogate", "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        web_json_put_string(&b, cases[i].in, cases[i].len);
        if (strcmp(b.p, cases[i].want) != 0) {
            fail_msg("%s: got %s want %s", cases[i].name, b.p, cases[i].want);
        }
        odin_strbuf_fini(&b);
    }
}

static void test_floats(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *value; /* web_json_value: Prometheus' MarshalFloat */
        const char *e;     /* strconv 'e' */
        const char *json;  /* encoding/json number */
    } cases[] = {
        {1, "\"1\"", "1e+00", "1"},
        {0, "\"0\"", "0e+00", "0"},
        {-1.5, "\"-1.5\"", "-1.5e+00", "-1.5"},
        {0.1 + 0.2, "\"0.30000000000000004\"", "3.0000000000000004e-01", "0.30000000000000004"},
        {123456789012.0, "\"123456789012\"", "1.23456789012e+11", "123456789012"},
        {1e-7, "\"1e-07\"", "1e-07", "1e-7"},
        {1e-6, "\"0.000001\"", "1e-06", "0.000001"},
        {1e21, "\"1e+21\"", "1e+21", "1e+21"},
        {1e20, "\"100000000000000000000\"", "1e+20", "100000000000000000000"},
        {15, "\"15\"", "1.5e+01", "15"},
        {100, "\"100\"", "1e+02", "100"},
        {1.5e300, "\"1.5e+300\"", "1.5e+300", "1.5e+300"},
        {-0.0, "\"-0\"", "-0e+00", "-0"},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        web_json j;
        web_json_init(&j, &b);
        web_json_value(&j, cases[i].v);
        assert_string_equal(b.p, cases[i].value);
        odin_strbuf_reset(&b);
        web_put_float(&b, cases[i].v, 'e');
        assert_string_equal(b.p, cases[i].e);
        odin_strbuf_reset(&b);
        web_json_init(&j, &b);
        web_json_f64(&j, cases[i].v);
        assert_string_equal(b.p, cases[i].json);
        odin_strbuf_fini(&b);
    }
    static const struct {
        double v;
        const char *want;
    } special[] = {{NAN, "\"NaN\""}, {INFINITY, "\"+Inf\""}, {-INFINITY, "\"-Inf\""}};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(special); i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        web_json j;
        web_json_init(&j, &b);
        web_json_value(&j, special[i].v);
        assert_string_equal(b.p, special[i].want);
        odin_strbuf_fini(&b);
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    web_put_float(&b, 1e-7, 'f');
    assert_string_equal(b.p, "0.0000001");
    odin_strbuf_fini(&b);
}

/* web_format_value's direct paths (shortest digits, small integers) must equal the web_put_float
 * route they replace for points, on edge values, on random doubles over every exponent (bit
 * patterns from a fixed xorshift) and on random integers of every size. */
static void check_value(double v)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    double a = fabs(v);
    web_put_float(&b, v, a != 0 && (a < 1e-6 || a >= 1e21) ? 'e' : 'f');
    char out[WEB_VALUE_MAX];
    size_t n = web_format_value(v, out);
    assert_int_equal(n, b.len);
    assert_memory_equal(out, b.p, n);
    odin_strbuf_fini(&b);
}

static void test_value_direct(void **state)
{
    (void)state;
    static const double edge[] = {0.0, -0.0, 1e-6, 9.999999999999999e-7, 1e21, 9.999999999999999e20,
                                  -1e-6, -1e21, 0.1, 1.5, 123456789.125, 4.35, 1e15, 1e16,
                                  5e-324, 1.7976931348623157e308, 2.5e-7};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(edge); i++) {
        check_value(edge[i]);
    }
    check_value(NAN);
    check_value(INFINITY);
    check_value(-INFINITY);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        check_value(v);
        check_value((double)(x % 100000000) / 1000.0); /* short decimals, like scraped values */
        /* integers of every size around the direct integer path's 2^53 bound, both signs */
        double iv = (double)(x >> (x % 64));
        check_value(iv);
        check_value(-iv);
        check_value((double)(x % 100000));
    }
    static const double ints[] = {1, -1, 9007199254740991.0, 9007199254740992.0,
                                  9007199254740993.0, -9007199254740992.0, 1e15, 1e16, 1e17,
                                  123456789012.0, 2.0e20};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(ints); i++) {
        check_value(ints[i]);
    }
}

static void test_times(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *sample;
        const char *rfc;
    } cases[] = {
        {1700000000000, "1700000000", "\"2023-11-14T22:13:20Z\""},
        {1700000000123, "1700000000.123", "\"2023-11-14T22:13:20.123Z\""},
        {1700000000500, "1700000000.500", "\"2023-11-14T22:13:20.5Z\""},
        {1700000000050, "1700000000.050", "\"2023-11-14T22:13:20.05Z\""},
        {-1500, "-1.500", "\"1969-12-31T23:59:58.5Z\""},
        {0, "0", "\"0001-01-01T00:00:00Z\""},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        web_json j;
        web_json_init(&j, &b);
        web_json_time_ms(&j, cases[i].t);
        assert_string_equal(b.p, cases[i].sample);
        odin_strbuf_reset(&b);
        web_json_init(&j, &b);
        web_json_rfc3339(&j, cases[i].t);
        assert_string_equal(b.p, cases[i].rfc);
        odin_strbuf_fini(&b);
    }
}

static void test_writer_and_durations(void **state)
{
    (void)state;
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    web_json j;
    web_json_init(&j, &b);
    web_json_obj_begin(&j);
    web_json_key(&j, "a");
    web_json_arr_begin(&j);
    web_json_i64(&j, 1);
    web_json_obj_begin(&j);
    web_json_obj_end(&j);
    web_json_bool(&j, true);
    web_json_arr_end(&j);
    web_json_key(&j, "b");
    web_json_null(&j);
    web_json_obj_end(&j);
    assert_string_equal(b.p, "{\"a\":[1,{},true],\"b\":null}");
    static const struct {
        int64_t ms;
        const char *want;
    } d[] = {{0, "0s"}, {5000, "5s"}, {90000, "1m30s"}, {500, "500ms"},
             {86400000LL * 90, "90d"}, {86400000LL * 14, "2w"}, {86400000LL * 365, "1y"},
             {3600000 + 1, "1h1ms"}};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(d); i++) {
        odin_strbuf_reset(&b);
        web_put_duration(&b, d[i].ms);
        assert_string_equal(b.p, d[i].want);
    }
    odin_strbuf_fini(&b);
}

int web_json_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_value_direct),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_writer_and_durations),
    };
    return cmocka_run_group_tests_name("web_json", tests, NULL, NULL);
}

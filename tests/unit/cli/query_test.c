/* Unit tests for src/cli/: the JSON reader and the Go formatting helpers behind `odin query`
 * (expected strings are what promtool 2.42 / Go's strconv and encoding/json print). */
#include <cmocka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli_int.h"

#include <math.h>
#include <string.h>

static void expect_buf(const char *name, odin_strbuf *b, const char *want)
{
    if (b->len != strlen(want) || memcmp(b->p, want, b->len) != 0) {
        fail_msg("%s: got \"%.*s\", want \"%s\"", name, (int)b->len, b->p, want);
    }
}

static void test_time_and_value(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *want;
    } times[] = {
        {1700000000000, "1700000000"},
        {1700000000500, "1700000000.5"},
        {1700000000050, "1700000000.05"},
        {1795687110880, "1795687110.88"},
        {-1500, "-1.5"},
        {0, "0"},
    };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        cli_put_time(&b, times[i].t);
        expect_buf(times[i].want, &b, times[i].want);
        odin_strbuf_fini(&b);
    }
    static const struct {
        double v;
        const char *want;
    } values[] = {
        {1e-7, "0.0000001"},    {1e21, "1000000000000000000000"},
        {0.1, "0.1"},           {NAN, "NaN"},
        {INFINITY, "+Inf"},     {-INFINITY, "-Inf"},
        {123456.5, "123456.5"},
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        cli_put_value(&b, values[i].v);
        expect_buf(values[i].want, &b, values[i].want);
        odin_strbuf_fini(&b);
    }
}

static void test_quote(void **state)
{
    (void)state;
    static const struct {
        const char *in, *go, *json;
    } cases[] = {
        {"plain", "\"plain\"", "\"plain\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\"", "\"a\\\"b\\\\c\""},
        {"<&>\n", "\"<&>\\n\"", "\"\\u003c\\u0026\\u003e\\n\""},
        {"\x01\x7f", "\"\\x01\\x7f\"", "\"\\u0001\x7f\""},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\"", "\"caf\xc3\xa9\""},
        /* a surrogate and an overlong form are not UTF-8 to Go: each byte is \x.. (quote), and
         * U+FFFD (JSON) */
        {"\xed\xa0\x80", "\"\\xed\\xa0\\x80\"", "\"\\ufffd\\ufffd\\ufffd\""},
        {"\xc0\xaf", "\"\\xc0\\xaf\"", "\"\\ufffd\\ufffd\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        odin_strbuf_put_go_quote(&b, odin_str_c(cases[i].in));
        expect_buf(cases[i].in, &b, cases[i].go);
        odin_strbuf_reset(&b);
        cli_put_json_string(&b, odin_str_c(cases[i].in));
        expect_buf(cases[i].in, &b, cases[i].json);
        odin_strbuf_fini(&b);
    }
}

static void test_parse_time(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        int64_t want;
    } cases[] = {
        {"1700000000", 0, 1700000000000},
        {"1700000000.123", 0, 1700000000123},
        {"2023-11-14T22:13:20Z", 0, 1700000000000},
        {"2023-11-14T22:13:20.5Z", 0, 1700000000500},
        {"2023-11-14T23:13:20+01:00", 0, 1700000000000},
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2023-11-14 22:13:20", -ODIN_ERR_PARSE, 0},
        {"abc", -ODIN_ERR_PARSE, 0},
        {"2023-13-14T22:13:20Z", -ODIN_ERR_PARSE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t t = 0;
        int rc = cli_parse_time(odin_str_c(cases[i].in), &t);
        if (rc != cases[i].rc || (rc == 0 && t != cases[i].want)) {
            fail_msg("%s: rc %d t %lld", cases[i].in, rc, (long long)t);
        }
    }
}

static void test_json(void **state)
{
    (void)state;
    odin_arena a;
    odin_arena_init(&a, 0);
    odin_err err = {0};
    const char *doc = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
                      "[{\"metric\":{\"a\":\"x\\u00e9\\ud83d\\ude00\\n\"},\"value\":[1.5,\"1\"]}]},"
                      "\"ok\":true,\"no\":false,\"n\":null}";
    cli_json *root = cli_json_parse(&a, doc, strlen(doc), &err);
    assert_non_null(root);
    const cli_json *data = cli_json_get(root, "data");
    const cli_json *res = cli_json_get(data, "result");
    assert_int_equal(res->n, 1);
    const cli_json *m = cli_json_get(res->child, "metric");
    assert_true(odin_str_eq_c(m->child->str, "x\xc3\xa9\xf0\x9f\x98\x80\n"));
    assert_true(cli_json_get(root, "ok")->b);
    assert_false(cli_json_get(root, "no")->b);
    assert_int_equal(cli_json_get(root, "n")->type, CLI_JSON_NULL);
    static const char *const bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "[1] x", "{1:2}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        odin_err e = {0};
        if (cli_json_parse(&a, bad[i], strlen(bad[i]), &e) != NULL || e.code != ODIN_ERR_PARSE) {
            fail_msg("accepted bad JSON %s", bad[i]);
        }
    }
    char deep[200];
    memset(deep, '[', sizeof(deep));
    odin_err e = {0};
    assert_null(cli_json_parse(&a, deep, sizeof(deep), &e));
    assert_non_null(strstr(e.msg, "nested too deeply"));
    odin_arena_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_and_value),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

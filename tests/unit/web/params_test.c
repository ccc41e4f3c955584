/* Tests for src/web/params.c: timestamps, durations, selectors, booleans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "web/web_int.h"
#include "web_test.h"

static void test_times(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        int64_t want;
    } cases[] = {
        {"1700000000", 0, 1700000000000},
        {"1700000000.5", 0, 1700000000500},
        {"1700000000.1234", 0, 1700000000123},
        {"1700000000.9996", 0, 1700000001000},
        {"1e9", 0, 1000000000000},
        {"-1.5", 0, -1500},
        {"+5", 0, 5000},
        {"2015-07-01T20:10:51.781Z", 0, 1435781451781},
        {"2015-07-01T20:10:51Z", 0, 1435781451000},
        {"2015-07-01T20:10:51.7812345Z", 0, 1435781451781},
        {"2015-07-01T08:44:00.5+01:00", 0, 1435736640500},
        {"2015-07-01T08:44:00-02:30", 0, 1435749240000},
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2024-02-29T00:00:00Z", 0, 1709164800000},
        {"-292273086-05-16T16:47:06Z", 0, WEB_MIN_TIME_MS},
        {"292277025-08-18T07:12:54.999999999Z", 0, WEB_MAX_TIME_MS},
        {"", -ODIN_ERR_PARSE, 0},
        {"abc", -ODIN_ERR_PARSE, 0},
        {"2023-02-29T00:00:00Z", -ODIN_ERR_PARSE, 0},
        {"2015-07-01 20:10:51Z", -ODIN_ERR_PARSE, 0},
        {"2015-07-01T20:10:51", -ODIN_ERR_PARSE, 0},
        {"2015-07-01T24:00:00Z", -ODIN_ERR_PARSE, 0},
        {"2015-07-01T20:10:51.Z", -ODIN_ERR_PARSE, 0},
        {"NaN", -ODIN_ERR_PARSE, 0},
        {"1e300", -ODIN_ERR_PARSE, 0},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        odin_err err;
        odin_err_clear(&err);
        int64_t t = 0;
        int rc = web_parse_time(odin_str_c(cases[i].in), &t, &err);
        if (rc != cases[i].rc || (rc == 0 && t != cases[i].want)) {
            fail_msg("%s: rc %d t %lld", cases[i].in, rc, (long long)t);
        }
    }
    odin_err err;
    odin_err_clear(&err);
    int64_t t;
    assert_int_equal(web_parse_time(ODIN_STR("abc"), &t, &err), -ODIN_ERR_PARSE);
    assert_string_equal(err.msg, "cannot parse \"abc\" to a valid timestamp");
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        int64_t want_ns;
    } cases[] = {
        {"15s", 0, 15000000000},
        {"1m30s", 0, 90000000000},
        {"100ms", 0, 100000000},
        {"2d", 0, 172800000000000},
        {"15", 0, 15000000000},
        {"0.5", 0, 500000000},
        {"0", 0, 0},
        {"-1", 0, -1000000000},
        {"PT15S", -ODIN_ERR_PARSE, 0},
        {"1s1m", -ODIN_ERR_PARSE, 0},
        {"", -ODIN_ERR_PARSE, 0},
        {"1e10", -ODIN_ERR_PARSE, 0},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        odin_err err;
        odin_err_clear(&err);
        int64_t ns = 0;
        int rc = web_parse_duration(odin_str_c(cases[i].in), &ns, &err);
        if (rc != cases[i].rc || (rc == 0 && ns != cases[i].want_ns)) {
            fail_msg("%s: rc %d ns %lld", cases[i].in, rc, (long long)ns);
        }
    }
    odin_err err;
    odin_err_clear(&err);
    int64_t ns;
    web_parse_duration(ODIN_STR("1e10"), &ns, &err);
    assert_string_equal(err.msg, "cannot parse \"1e10\" to a valid duration. It overflows int64");
    odin_err_clear(&err);
    web_parse_duration(ODIN_STR("x"), &ns, &err);
    assert_string_equal(err.msg, "cannot parse \"x\" to a valid duration");
}

static void test_selectors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;           /* matchers, 0 = error */
        const char *detail; /* first matcher "name<op>value", or the error fragment */
    } cases[] = {
        {"up", 1, "__name__=up"},
        {"  up  ", 1, "__name__=up"},
        {"up{job=\"node\"}", 2, "__name__=up"},
        {"{job=~\"n.*\"}", 1, "job=~n.*"},
        {"{job!=\"\", a=\"b\",}", 2, "job!="},
        {"{a='x\\'y'}", 1, "a=x'y"},
        {"{a=`raw\\n`}", 1, "a=raw\\n"},
        {"{a=\"\\u00e9\\x41\\101\"}", 1, "a=\xc3\xa9" "AA"},
        {"{\"my.metric\", a=\"b\"}", 2, "__name__=my.metric"},
        {"{\"a.b\"=\"c\"}", 1, "a.b=c"},
        {"ns:metric:rate5m", 1, "__name__=ns:metric:rate5m"},
        {"", 0, "1:1: parse error: unexpected end of input"},
        {"{}", 0, "vector selector must contain at least one non-empty matcher"},
        {"{a=\"\"}", 0, "vector selector must contain at least one non-empty matcher"},
        {"{a!~\".*\"}", 1, "a!~.*"},
        {"up{", 0, "1:3: parse error: unexpected end of input inside braces"},
        {"up{a}", 0, "expected label matching operator"},
        {"up{a=b}", 0, "expected string"},
        {"up{a=\"b}", 0, "unterminated quoted string"},
        {"up x", 0, "1:4: parse error: unexpected character after selector"},
        {"up{__name__=\"x\"}", 0, "metric name must not be set twice"},
        {"{a=~\"(\"}", 0, "1:2: parse error:"},
        {"{a=\"\\q\"}", 0, "invalid escape sequence"},
        {"1up", 0, "unexpected character"},
        {"up[5m]", 0, "unexpected character after selector"},
        {"up{a=\"b\"\nc}", 0, "2:1: parse error"},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        odin_arena a;
        odin_arena_init(&a, 0);
        odin_err err;
        odin_err_clear(&err);
        tsdb_matcher *ms = NULL;
        size_t n = 0;
        int rc = web_parse_selector(odin_str_c(cases[i].in), &a, &ms, &n, &err);
        if (cases[i].n == 0) {
            if (rc >= 0 || strstr(err.msg, cases[i].detail) == NULL) {
                fail_msg("%s: rc %d msg %s", cases[i].in, rc, err.msg);
            }
        } else {
            static const char *const ops[] = {"=", "!=", "=~", "!~"};
            char got[128];
            odin_strbuf g;
            odin_strbuf_init(&g, 0);
            if (rc == 0) {
                odin_strbuf_printf(&g, "%s%s%s", ms[0].name, ops[ms[0].type], ms[0].value);
            }
            size_t len = g.len < sizeof got - 1 ? g.len : sizeof got - 1;
            memcpy(got, g.p != NULL ? g.p : "", len);
            got[len] = '\0';
            odin_strbuf_fini(&g);
            if (rc != 0 || n != cases[i].n || strcmp(got, cases[i].detail) != 0) {
                fail_msg("%s: rc %d n %zu first %s msg %s", cases[i].in, rc, n, got, err.msg);
            }
        }
        odin_arena_fini(&a);
    }
}

static void test_bools(void **state)
{
    (void)state;
    bool v = false;
    assert_int_equal(web_parse_bool(ODIN_STR("true"), &v), 0);
    assert_true(v);
    assert_int_equal(web_parse_bool(ODIN_STR("F"), &v), 0);
    assert_false(v);
    assert_int_equal(web_parse_bool(ODIN_STR("yes"), &v), -ODIN_ERR_PARSE);
}

int web_params_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_bools),
    };
    return cmocka_run_group_tests_name("web_params", tests, NULL, NULL);
}

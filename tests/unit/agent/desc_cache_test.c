/* The collector-kept descriptors of run-time metric names (desc_cache.c), and proc_parse_float's
 * integer path against the general parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/core.h"
#include "agent/proc_util.h"

#include <stdio.h>
#include <string.h>

static const agent_desc *get(agent_desc_cache *c, const char *key)
{
    return agent_desc_cache_get(c, key, strlen(key));
}

/* Keys asked in the same order, in another order, new keys and filtered-out keys: each key keeps
 * its one descriptor, with the name and help it was made with. */
static void test_same_descriptor_in_any_order(void **state)
{
    (void)state;
    agent_desc_cache c;
    agent_desc_cache_init(&c);
    const char *keys[] = {"pgfault", "nr_free_pages", "pgmajfault", "oom_kill"};
    const agent_desc *made[4];
    agent_desc_cache_begin(&c);
    for (int i = 0; i < 4; i++) {
        assert_null(get(&c, keys[i]));
        char name[64];
        snprintf(name, sizeof name, "node_vmstat_%s", keys[i]);
        made[i] = agent_desc_cache_add(&c, keys[i], strlen(keys[i]), i == 1 ? NULL : name,
                                       i == 1 ? NULL : "help", EXPFMT_UNTYPED);
    }
    assert_null(made[1]->name); /* remembered as not exported */
    assert_string_equal(made[0]->name, "node_vmstat_pgfault");
    assert_string_equal(made[3]->help, "help");
    assert_int_equal(made[2]->type, EXPFMT_UNTYPED);
    assert_null(made[0]->labels[0]);
    const int orders[][4] = {{0, 1, 2, 3}, {0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3}, {0, 1, 2, 3}};
    const int lens[] = {4, 4, 4, 2, 4};
    for (size_t o = 0; o < ODIN_ARRAY_LEN(orders); o++) {
        agent_desc_cache_begin(&c);
        for (int k = 0; k < lens[o]; k++) {
            int i = orders[o][k];
            assert_ptr_equal(get(&c, keys[i]), made[i]);
        }
        assert_null(get(&c, "pgfault2")); /* a prefix or extension is another key */
        assert_null(get(&c, "pgfaul"));
    }
    /* keys are bytes: a NUL inside separates a protocol from its field */
    agent_desc_cache_begin(&c);
    const agent_desc *a = agent_desc_cache_add(&c, "Ip\0Forwarding", 13, "a", "a", EXPFMT_UNTYPED);
    const agent_desc *b = agent_desc_cache_add(&c, "Ip\0Forward", 10, "b", "b", EXPFMT_UNTYPED);
    agent_desc_cache_begin(&c);
    assert_ptr_equal(agent_desc_cache_get(&c, "Ip\0Forward", 10), b);
    assert_ptr_equal(agent_desc_cache_get(&c, "Ip\0Forwarding", 13), a);
    agent_desc_cache_fini(&c);
}

/* Past its cap the cache starts over at begin (not in the middle of a scrape). */
static void test_starts_over_past_its_cap(void **state)
{
    (void)state;
    agent_desc_cache c;
    agent_desc_cache_init(&c);
    agent_desc_cache_begin(&c);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_non_null(agent_desc_cache_add(&c, key, strlen(key), key, key, EXPFMT_GAUGE));
    }
    assert_non_null(get(&c, "k4999")); /* still there within the scrape */
    agent_desc_cache_begin(&c);
    assert_null(get(&c, "k0"));
    assert_null(get(&c, "k4999"));
    agent_desc_cache_fini(&c);
}

/* Plain decimal counters take the integer path; it must give exactly what the general parser
 * gives, and leave everything else (signs, exponents, hex, underscores, 16+ digits) to it. */
static void test_parse_float_integers(void **state)
{
    (void)state;
    const char *in[] = {"0",
                        "7",
                        "0000123",
                        "123456789012345",
                        "999999999999999",
                        "9999999999999999",
                        "18446744073709551615",
                        "18446744073709551616",
                        "9007199254740993",
                        "+15",
                        "-15",
                        "1e3",
                        "1.5",
                        "0x1p4",
                        "1_000",
                        "12a",
                        "",
                        " 1"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(in); i++) {
        odin_str s = odin_str_c(in[i]);
        double got = -1, want = -1;
        int rc_got = proc_parse_float(s, &got);
        int rc_want;
        /* the reference: the general path, reached by a leading '+' on unsigned text */
        char buf[64];
        snprintf(buf, sizeof buf, "+%s", in[i]);
        bool plain = s.len > 0 && strspn(in[i], "0123456789") == s.len;
        if (plain) {
            rc_want = proc_parse_float(odin_str_c(buf), &want);
            assert_int_equal(rc_got, rc_want);
            if (rc_got == 0) {
                assert_true(got == want);
            }
        }
    }
    double v;
    assert_int_equal(proc_parse_float(odin_str_c("123456789012345"), &v), 0);
    assert_true(v == 123456789012345.0);
    assert_int_equal(proc_parse_float(odin_str_c("9007199254740993"), &v), 0);
    assert_true(v == 9007199254740992.0); /* rounded to even, as strtod */
    assert_true(proc_parse_float(odin_str_c("12a"), &v) < 0);
    assert_true(proc_parse_float(odin_str_c(""), &v) < 0);
    assert_int_equal(proc_parse_float(odin_str_c("1_000"), &v), 0);
    assert_true(v == 1000.0);
}

/* agent_fmt_i64 (digits by hand) against printf's %lld. */
static void test_fmt_i64(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    agent_scrape_begin(&sc);
    const int64_t vs[] = {
        0, 1, -1, 9, 10, -10, 4096, 123456789, -987654321012, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(vs); i++) {
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)vs[i]);
        assert_string_equal(agent_fmt_i64(&sc, vs[i]), want);
    }
    agent_scrape_fini(&sc);
}

int agent_desc_cache_tests(void); /* called from main.c */

int agent_desc_cache_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_descriptor_in_any_order),
        cmocka_unit_test(test_starts_over_past_its_cap),
        cmocka_unit_test(test_parse_float_integers),
        cmocka_unit_test(test_fmt_i64),
    };
    return cmocka_run_group_tests_name("agent_desc_cache", tests, NULL, NULL);
}

/* Unit tests for src/expfmt/writer.c: client_golang's text layout, escapes, ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "expfmt/expfmt.h"

#include <math.h>
#include <string.h>

int expfmt_writer_tests(void);

static void test_write_counter_with_labels(void **state)
{
    (void)state;
    odin_label l1[] = {{ODIN_STR("cpu"), ODIN_STR("1")}, {ODIN_STR("mode"), ODIN_STR("idle")}};
    odin_label l0[] = {{ODIN_STR("cpu"), ODIN_STR("0")}, {ODIN_STR("mode"), ODIN_STR("user")}};
    expfmt_sample s[] = {
        {.labels = {l1, 2}, .suffix = "", .value = 1234.5},
        {.labels = {l0, 2}, .suffix = "", .value = 4.4105502e+07},
    };
    expfmt_family f = {ODIN_STR("node_cpu_seconds_total"),
                       ODIN_STR("Seconds the CPUs spent in each mode."), true, EXPFMT_COUNTER, s,
                       2};
    expfmt_sort_samples(&f);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    expfmt_write_family(&b, &f);
    assert_string_equal(b.p, "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
                             "# TYPE node_cpu_seconds_total counter\n"
                             "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 4.4105502e+07\n"
                             "node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 1234.5\n");
    odin_strbuf_fini(&b);
}

static void test_write_escapes_and_specials(void **state)
{
    (void)state;
    odin_label l[] = {{ODIN_STR("path"), ODIN_STR("C:\\dir \"x\"\nend")}};
    expfmt_sample s[] = {
        {.labels = {l, 1}, .suffix = "", .value = NAN},
        {.labels = {NULL, 0}, .suffix = "", .value = -INFINITY, .t_ms = 1700000000123, .has_t = true},
    };
    expfmt_family f = {ODIN_STR("m"), ODIN_STR("line one\nback\\slash"), true, EXPFMT_UNTYPED, s,
                       2};
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    expfmt_write_family(&b, &f);
    assert_string_equal(b.p, "# HELP m line one\\nback\\\\slash\n"
                             "# TYPE m untyped\n"
                             "m{path=\"C:\\\\dir \\\"x\\\"\\nend\"} NaN\n"
                             "m -Inf 1700000000123\n");
    odin_strbuf_fini(&b);
}

static void test_write_histogram_order(void **state)
{
    (void)state;
    /* buckets, _sum and _count of one label set keep their order; label sets sort */
    odin_label a[] = {{ODIN_STR("job"), ODIN_STR("a")}};
    odin_label z[] = {{ODIN_STR("job"), ODIN_STR("z")}};
    expfmt_sample s[] = {
        {.labels = {z, 1}, .extra = {ODIN_STR("le"), ODIN_STR("+Inf")}, .suffix = "_bucket", .value = 1},
        {.labels = {z, 1}, .suffix = "_sum", .value = 0.5},
        {.labels = {z, 1}, .suffix = "_count", .value = 1},
        {.labels = {a, 1}, .extra = {ODIN_STR("le"), ODIN_STR("0.1")}, .suffix = "_bucket", .value = 2},
        {.labels = {a, 1}, .extra = {ODIN_STR("le"), ODIN_STR("+Inf")}, .suffix = "_bucket", .value = 3},
        {.labels = {a, 1}, .suffix = "_sum", .value = 1.25},
        {.labels = {a, 1}, .suffix = "_count", .value = 3},
    };
    expfmt_family f = {ODIN_STR("h"), ODIN_STR(""), false, EXPFMT_HISTOGRAM, s, 7};
    expfmt_sort_samples(&f);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    expfmt_write_family(&b, &f);
    assert_string_equal(b.p, "# TYPE h histogram\n"
                             "h_bucket{job=\"a\",le=\"0.1\"} 2\n"
                             "h_bucket{job=\"a\",le=\"+Inf\"} 3\n"
                             "h_sum{job=\"a\"} 1.25\n"
                             "h_count{job=\"a\"} 3\n"
                             "h_bucket{job=\"z\",le=\"+Inf\"} 1\n"
                             "h_sum{job=\"z\"} 0.5\n"
                             "h_count{job=\"z\"} 1\n");
    odin_strbuf_fini(&b);
}

static const char kept_text[] = "# HELP k Help with a \\\\ and a\\nnewline.\n"
                                "# TYPE k gauge\n"
                                "k_x{le=\"0.5\"} 1e-05 -42\n"
                                "k{a=\"q\\\"\",b=\"\"} 1.23456789e+08 0\n";

/* A family exercising the writer's branches: a label-less sample with only the extra label, a
 * negative timestamp, a NULL suffix, an empty label value, escapes in help and values. */
static void write_branchy(odin_strbuf *b)
{
    odin_label l[] = {{ODIN_STR("a"), ODIN_STR("q\"")}, {ODIN_STR("b"), ODIN_STR("")}};
    expfmt_sample s[] = {
        {.labels = {NULL, 0},
         .extra = {ODIN_STR("le"), ODIN_STR("0.5")},
         .suffix = "_x",
         .value = 1e-05,
         .t_ms = -42,
         .has_t = true},
        {.labels = {l, 2}, .suffix = NULL, .value = 123456789, .t_ms = 0, .has_t = true},
    };
    expfmt_family f = {
        ODIN_STR("k"), ODIN_STR("Help with a \\ and a\nnewline."), true, EXPFMT_GAUGE, s, 2};
    expfmt_write_family(b, &f);
}

static void test_write_branches(void **state)
{
    (void)state;
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    write_branchy(&b);
    assert_true(odin_strbuf_ok(&b));
    assert_string_equal(b.p, kept_text);
    odin_strbuf_fini(&b);
}

/* Near a capped buffer's end the writer keeps odin_strbuf's rule: what is written is always a
 * leading part of the text within the cap, the overflow flag is set whenever the text did not all
 * fit, and with room for the text and one number's reservation (40 bytes) it is complete. */
static void test_write_capped(void **state)
{
    (void)state;
    size_t full = strlen(kept_text);
    for (size_t cap = 1; cap <= full + 48; cap++) {
        odin_strbuf b;
        odin_strbuf_init(&b, cap);
        write_branchy(&b);
        assert_true(b.len <= cap);
        assert_memory_equal(b.p != NULL ? b.p : "", kept_text, b.len);
        if (cap < full) {
            assert_false(odin_strbuf_ok(&b));
        }
        if (odin_strbuf_ok(&b) || cap >= full + 40) {
            assert_true(odin_strbuf_ok(&b));
            assert_string_equal(b.p, kept_text);
        }
        odin_strbuf_fini(&b);
    }
}

int expfmt_writer_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_counter_with_labels),
        cmocka_unit_test(test_write_escapes_and_specials),
        cmocka_unit_test(test_write_histogram_order),
        cmocka_unit_test(test_write_branches),
        cmocka_unit_test(test_write_capped),
    };
    return cmocka_run_group_tests_name("expfmt_writer", tests, NULL, NULL);
}

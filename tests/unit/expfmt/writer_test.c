/* Unit tests for src/expfmt/writer.c: client_golang's text layout, escapes, ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "expfmt/expfmt.h"

#include <math.h>

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

int expfmt_writer_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_counter_with_labels),
        cmocka_unit_test(test_write_escapes_and_specials),
        cmocka_unit_test(test_write_histogram_order),
    };
    return cmocka_run_group_tests_name("expfmt_writer", tests, NULL, NULL);
}

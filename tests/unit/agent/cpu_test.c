/* Unit tests for src/agent/cpu_util.c: the kernel cpu-list format (sysfs isolated/offline) and the
 * cpuN directory test. The collectors themselves are checked against node_exporter's fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/cpu_util.h"

#include <stdlib.h>

static void test_parse_list(void **state)
{
    (void)state;
    uint16_t *v;
    size_t n;
    assert_int_equal(cpu_util_parse_list(ODIN_STR("1,3-5,9\n"), &v, &n), 0);
    static const uint16_t want[] = {1, 3, 4, 5, 9};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i], want[i]);
    }
    free(v);

    assert_int_equal(cpu_util_parse_list(ODIN_STR("\n"), &v, &n), 0);
    assert_int_equal(n, 0);
    assert_null(v);

    assert_int_equal(cpu_util_parse_list(ODIN_STR("0,,2"), &v, &n), 0);
    assert_int_equal(n, 2);
    free(v);

    assert_true(cpu_util_parse_list(ODIN_STR("1-2-3"), &v, &n) < 0);
    assert_true(cpu_util_parse_list(ODIN_STR("a"), &v, &n) < 0);
    assert_true(cpu_util_parse_list(ODIN_STR("1-x"), &v, &n) < 0);
    assert_null(v);
}

static void test_cpu_dir(void **state)
{
    (void)state;
    assert_true(cpu_util_is_cpu_dir("cpu0"));
    assert_true(cpu_util_is_cpu_dir("cpu12"));
    assert_false(cpu_util_is_cpu_dir("cpufreq"));
    assert_false(cpu_util_is_cpu_dir("cpuidle"));
    assert_false(cpu_util_is_cpu_dir("cpu"));
    assert_false(cpu_util_is_cpu_dir("isolated"));
}

int agent_cpu_tests(void);
int agent_cpu_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_cpu_dir),
    };
    return cmocka_run_group_tests_name("agent_cpu", tests, NULL, NULL);
}

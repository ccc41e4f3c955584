/* Unit tests for src/agent/sysfs_util.c: Go's base-0 integer syntax (procfs' ValueParser). The
 * collectors are checked on the fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include "agent/sysfs_util.h"

static void test_parse_base0(void **state)
{
    (void)state;
    int64_t i;
    uint64_t u;
    assert_int_equal(agent_sysfs_parse_i64(ODIN_STR("0x1303"), &i), 0);
    assert_int_equal(i, 4867);
    assert_int_equal(agent_sysfs_parse_i64(ODIN_STR("-1"), &i), 0);
    assert_int_equal(i, -1);
    assert_int_equal(agent_sysfs_parse_i64(ODIN_STR("010"), &i), 0);
    assert_int_equal(i, 8);
    assert_int_equal(agent_sysfs_parse_i64(ODIN_STR("0"), &i), 0);
    assert_int_equal(i, 0);
    assert_int_equal(agent_sysfs_parse_i64(ODIN_STR("0b101"), &i), 0);
    assert_int_equal(i, 5);
    assert_int_equal(agent_sysfs_parse_i64(ODIN_STR("1_000"), &i), 0);
    assert_int_equal(i, 1000);
    assert_true(agent_sysfs_parse_i64(ODIN_STR("08"), &i) < 0);
    assert_true(agent_sysfs_parse_i64(ODIN_STR("0x"), &i) < 0);
    assert_true(agent_sysfs_parse_i64(ODIN_STR("1__0"), &i) < 0);
    assert_true(agent_sysfs_parse_i64(ODIN_STR("_1"), &i) < 0);
    assert_true(agent_sysfs_parse_i64(ODIN_STR(""), &i) < 0);
    assert_true(agent_sysfs_parse_i64(ODIN_STR("9223372036854775808"), &i) < 0);
    assert_int_equal(agent_sysfs_parse_i64(ODIN_STR("-9223372036854775808"), &i), 0);
    assert_int_equal(agent_sysfs_parse_u64(ODIN_STR("18446744073709551615"), &u), 0);
    assert_true(u == UINT64_MAX);
    assert_true(agent_sysfs_parse_u64(ODIN_STR("18446744073709551616"), &u) < 0);
    assert_true(agent_sysfs_parse_u64(ODIN_STR("-1"), &u) < 0);
    assert_true(agent_sysfs_parse_u64(ODIN_STR("N/A (no PMA)"), &u) < 0);
}

int agent_sysfs_util_tests(void); /* called from main.c */

int agent_sysfs_util_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_base0),

    };
    return cmocka_run_group_tests_name("agent_sysfs_util", tests, NULL, NULL);
}

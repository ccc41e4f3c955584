/* Unit tests for the open-descriptor count the agent's and the server's process_open_fds use
 * (src/base/procself.c): stat() of /proc/self/fd must equal the count from listing it, with few
 * and with many descriptors open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include "agent/core.h"

#include <fcntl.h>
#include <unistd.h>

static void test_open_fds_stat_matches_listing(void **state)
{
    (void)state;
    assert_true(odin_open_fds() == odin_open_fds_listed());
    int fds[300];
    for (size_t i = 0; i < ODIN_ARRAY_LEN(fds); i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fds[i] >= 0);
        if (i % 37 == 0) {
            assert_true(odin_open_fds() == odin_open_fds_listed());
        }
    }
    double many = odin_open_fds();
    assert_true(many == odin_open_fds_listed());
    for (size_t i = 0; i < ODIN_ARRAY_LEN(fds); i += 2) {
        close(fds[i]); /* holes in the table */
    }
    assert_true(odin_open_fds() == many - ODIN_ARRAY_LEN(fds) / 2);
    assert_true(odin_open_fds() == odin_open_fds_listed());
    for (size_t i = 1; i < ODIN_ARRAY_LEN(fds); i += 2) {
        close(fds[i]);
    }
}

int agent_process_tests(void); /* called from main.c */

int agent_process_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_fds_stat_matches_listing),
    };
    return cmocka_run_group_tests_name("agent_process", tests, NULL, NULL);
}

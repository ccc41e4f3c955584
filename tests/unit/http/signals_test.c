/* Tests for src/http/signals.c: the mask that http_signals_block sets, and http_signals_wait's
 * handling of TERM, INT and HUP. Signals go to this thread with pthread_kill, so they stay
 * pending here until sigwait takes them, whatever other threads exist. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"
#include "http_test.h"

static void test_mask(void **state)
{
    (void)state;
    sigset_t cur;
    assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    assert_true(sigismember(&cur, SIGTERM));
    assert_true(sigismember(&cur, SIGINT));
    assert_true(sigismember(&cur, SIGHUP));
    assert_true(sigismember(&cur, SIGPIPE));
}

static void test_wait(void **state)
{
    (void)state;
    assert_int_equal(pthread_kill(pthread_self(), SIGTERM), 0);
    assert_int_equal(http_signals_wait(false), SIGTERM);
    assert_int_equal(pthread_kill(pthread_self(), SIGINT), 0);
    assert_int_equal(http_signals_wait(true), SIGINT);
    assert_int_equal(pthread_kill(pthread_self(), SIGHUP), 0);
    assert_int_equal(http_signals_wait(true), SIGHUP);
}

static void test_hup_ignored_when_unwanted(void **state)
{
    (void)state;
    assert_int_equal(pthread_kill(pthread_self(), SIGHUP), 0);
    assert_int_equal(pthread_kill(pthread_self(), SIGTERM), 0);
    /* SIGHUP is taken and dropped; the wait goes on to SIGTERM. */
    assert_int_equal(http_signals_wait(false), SIGTERM);
    sigset_t pending;
    assert_int_equal(sigpending(&pending), 0);
    assert_false(sigismember(&pending, SIGHUP));
}

int http_signals_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_hup_ignored_when_unwanted),
    };
    return cmocka_run_group_tests_name("http_signals", tests, NULL, NULL);
}

/* The unit_base_nocurl binary: links src/base/dl_curl.c built with a library name that does not
 * exist, so every curl_* call goes to the stand-ins. A scrape worker that made a multi handle
 * (for a redirect or an https target) still waits through curl_multi_poll for its plain-HTTP
 * transfers: the stand-in must wake for their descriptors, not sleep out the timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_poll_wakes_for_extra_fds(void **state)
{
    (void)state;
    CURLM *m = curl_multi_init();
    assert_non_null(m);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct curl_waitfd fds[2] = {{.fd = p[0], .events = CURL_WAIT_POLLIN},
                                 {.fd = p[1], .events = CURL_WAIT_POLLOUT}};
    /* the write end is writable at once: no waiting out the 5 s */
    int n = -1;
    int64_t t0 = now_ms();
    assert_int_equal(curl_multi_poll(m, fds, 2, 5000, &n), CURLM_OK);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(n, 1);
    assert_int_equal(fds[0].revents, 0);
    assert_int_equal(fds[1].revents, CURL_WAIT_POLLOUT);

    /* only the read end, nothing written: the whole timeout */
    t0 = now_ms();
    assert_int_equal(curl_multi_poll(m, fds, 1, 150, &n), CURLM_OK);
    assert_true(now_ms() - t0 >= 140);
    assert_int_equal(n, 0);
    assert_int_equal(fds[0].revents, 0);

    /* a byte to read: POLLIN, at once */
    assert_int_equal(write(p[1], "x", 1), 1);
    t0 = now_ms();
    assert_int_equal(curl_multi_poll(m, fds, 1, 5000, &n), CURLM_OK);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(n, 1);
    assert_int_equal(fds[0].revents, CURL_WAIT_POLLIN);

    /* no descriptors: the caller's timer alone */
    t0 = now_ms();
    assert_int_equal(curl_multi_poll(m, NULL, 0, 100, &n), CURLM_OK);
    assert_true(now_ms() - t0 >= 90);
    close(p[0]);
    close(p[1]);
    curl_multi_cleanup(m);
}

static void test_pending_failure_returns_at_once(void **state)
{
    (void)state;
    CURLM *m = curl_multi_init();
    CURL *e = curl_easy_init();
    assert_non_null(e);
    assert_int_equal(curl_multi_add_handle(m, e), CURLM_OK);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct curl_waitfd fd = {.fd = p[0], .events = CURL_WAIT_POLLIN};
    int64_t t0 = now_ms();
    assert_int_equal(curl_multi_poll(m, &fd, 1, 5000, NULL), CURLM_OK);
    assert_true(now_ms() - t0 < 1000);
    int left = 0;
    CURLMsg *msg = curl_multi_info_read(m, &left);
    assert_non_null(msg);
    assert_int_equal(msg->data.result, CURLE_FAILED_INIT);
    curl_multi_remove_handle(m, e);
    curl_easy_cleanup(e);
    close(p[0]);
    close(p[1]);
    curl_multi_cleanup(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poll_wakes_for_extra_fds),
        cmocka_unit_test(test_pending_failure_returns_at_once),
    };
    return cmocka_run_group_tests_name("base_nocurl", tests, NULL, NULL);
}

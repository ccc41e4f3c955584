/* The unit_http_nomhd binary: links src/base/dl_mhd.c built with a library name that does not
 * exist, and checks that starting an MHD-backed server fails with an error naming the library,
 * while the small backend, which needs no library, still starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

static void test_mhd_missing(void **state)
{
    (void)state;
    odin_err err = {0};
    http_server_opts o = {.listen_address = "127.0.0.1:0"};
    assert_null(http_server_start(&o, &err));
    assert_int_equal(err.code, ODIN_ERR_UNAVAILABLE);
    if (strstr(err.msg, "libmicrohttpd-missing.so") == NULL) {
        fail_msg("error does not name the library: %s", err.msg);
    }
    /* Asked again, the same answer (the load is tried once). */
    odin_err_clear(&err);
    assert_null(http_server_start(&o, &err));
    assert_non_null(strstr(err.msg, "libmicrohttpd-missing.so"));

    o.backend = HTTP_BACKEND_SMALL;
    http_server *s = http_server_start(&o, &err);
    assert_non_null(s);
    http_server_stop(s);
}

int main(void)
{
    http_signals_block();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_mhd_missing)};
    return cmocka_run_group_tests_name("http_nomhd", tests, NULL, NULL);
}

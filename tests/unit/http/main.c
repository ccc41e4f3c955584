/* The unit_http binary: runs every http test group. Signals are blocked first, as in odin's own
 * main, so every server thread the tests start inherits the mask. */
#include "http/http.h"
#include "http_test.h"

int main(void)
{
    http_signals_block();
    int failed = http_gzip_tests();
    failed += http_signals_tests();
    failed += http_server_tests();
    failed += http_small_tests();
    return failed == 0 ? 0 : 1;
}

/* The unit_web binary: runs every web test group. Signals are blocked first, as in odin's main,
 * so the server threads the tests start inherit the mask. */
#include "http/http.h"
#include "web_test.h"

int main(void)
{
    http_signals_block();
    int failed = web_json_tests();
    failed += web_params_tests();
    failed += web_api_tests();
    return failed == 0 ? 0 : 1;
}

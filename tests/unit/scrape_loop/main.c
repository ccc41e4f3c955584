/* The unit_scrape_loop binary: scrape loops and manager, targets, and file discovery. Signals are
 * blocked first so the in-process HTTP servers' threads inherit the mask. */
#include "http/http.h"
#include "scrape_test.h"

int main(void)
{
    http_signals_block();
    odin_log_set_level("error");
    int failed = scrape_target_tests();
    failed += discovery_file_tests();
    failed += scrape_loop_tests();
    failed += scrape_fast_tests();
    return failed == 0 ? 0 : 1;
}

/* Runs the promql test groups: one cmocka binary for the module, one group per source file.
 * The engine's group is linked in when its test file exists (weak symbol). */
#include <stddef.h>

int promql_parser_tests(void);
extern int promql_engine_tests(void) __attribute__((weak));
extern int promql_agg_stream_tests(void) __attribute__((weak));

int main(void)
{
    int f = 0;
    f += promql_parser_tests();
    if (promql_engine_tests != NULL) {
        f += promql_engine_tests();
    }
    if (promql_agg_stream_tests != NULL) {
        f += promql_agg_stream_tests();
    }
    return f != 0;
}

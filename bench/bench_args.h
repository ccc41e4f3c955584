/* Command-line flags of the bench programs: `--name value` pairs, looked up by name. Inline
 * functions: each bench program includes it once. */
#ifndef ODIN_BENCH_ARGS_H
#define ODIN_BENCH_ARGS_H

#include <string.h>

#include "base/base.h"

/* The value of --name as a whole decimal number, or def when absent or not a number. */
static inline long arg_long(int argc, char **argv, const char *name, long def)
{
    for (int i = 1; i + 1 < argc; i++) {
        int64_t v;
        if (strcmp(argv[i], name) == 0 && odin_parse_i64(odin_str_c(argv[i + 1]), &v) == 0) {
            return (long)v;
        }
    }
    return def;
}

static inline const char *arg_str(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return argv[i + 1];
        }
    }
    return NULL;
}

#endif

/* What the fuzz targets share: a failed check that names the target and the line of the claim
 * (so a replayed input says which claim broke), and one scratch directory per process. Each
 * target is one translation unit, so the static state below is its own. */
#ifndef ODIN_TESTS_FUZZ_UTIL_H
#define ODIN_TESTS_FUZZ_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static inline void fuzz_check_at(bool ok, const char *target, int line)
{
    if (!ok) {
        fprintf(stderr, "%s: check at line %d failed\n", target, line);
        abort();
    }
}

static char *fuzz_root;

static inline void fuzz_remove_root(void)
{
    odin_remove_tree(fuzz_root);
    free(fuzz_root);
}

/* A directory under /tmp named after the target, made on first use and removed at exit. */
static inline const char *fuzz_root_dir(const char *target)
{
    if (fuzz_root == NULL) {
        char tmpl[256];
        snprintf(tmpl, sizeof(tmpl), "/tmp/odin-fuzz-%s.XXXXXX", target);
        fuzz_check_at(mkdtemp(tmpl) != NULL, target, __LINE__);
        fuzz_root = strdup(tmpl);
        atexit(fuzz_remove_root);
    }
    return fuzz_root;
}

#endif

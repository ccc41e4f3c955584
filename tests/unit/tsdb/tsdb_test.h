/* Helpers the tsdb unit tests share (included after cmocka.h): a fresh directory, and a database
 * opened with given options, a failure failing the test with tsdb_open's message. */
#ifndef ODIN_TESTS_UNIT_TSDB_TEST_H
#define ODIN_TESTS_UNIT_TSDB_TEST_H

#include "tsdb/tsdb.h"

#include <stdio.h>
#include <stdlib.h>

/* A new directory /tmp/odin-NAME-test-XXXXXX, the caller's to free (and remove). */
static inline char *tsdb_test_dir(const char *name)
{
    char tmpl[128];
    snprintf(tmpl, sizeof(tmpl), "/tmp/odin-%s-test-XXXXXX", name);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return odin_strdup(d);
}

static inline tsdb *tsdb_test_open(const tsdb_opts *o)
{
    odin_err err = {0};
    tsdb *db = tsdb_open(o, &err);
    if (!db) {
        fail_msg("open %s: %s", o->dir ? o->dir : "(memory)", err.msg);
    }
    return db;
}

#endif

/* Private to test_runner*.c: the parsed forms of the .test script's series lines. */
#ifndef ODIN_PROMQL_TEST_RUNNER_INT_H
#define ODIN_PROMQL_TEST_RUNNER_INT_H

#include "promql/engine_int.h"

/* One expanded value of a series line: a float, a missing point, or a native histogram (which
 * Odin does not support yet). */
typedef enum { TR_VAL_FLOAT, TR_VAL_MISSING, TR_VAL_HISTOGRAM } tr_val_kind;

typedef struct {
    tr_val_kind kind;
    double v;
} tr_val;

/* `name{a="b"} values...`: labels sorted, strings and values in the arena. */
typedef struct {
    odin_labels ls;
    tr_val *vals;
    size_t nvals;
    bool has_histogram;
} tr_series_line;

/* Parses a series line; -1 with msg on malformed text. */
int tr_parse_series_line(odin_arena *a, odin_str line, tr_series_line *out, odin_strbuf *msg);
/* Parses the value items only (used for lines that are only values). */
int tr_parse_values(odin_arena *a, odin_str text, tr_series_line *out, odin_strbuf *msg);

#endif

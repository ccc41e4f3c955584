/* Private to src/cli: a small JSON reader for API answers and Go-compatible output helpers
 * (strconv.Quote, encoding/json strings, model.Time and model.SampleValue forms). */
#ifndef ODIN_CLI_CLI_INT_H
#define ODIN_CLI_CLI_INT_H

#include "base/base.h"

#include <stdbool.h>
#include <stdint.h>

/* Input nested deeper than this is a parse error: the API's answers are at most 5 deep. */
enum { CLI_JSON_MAX_DEPTH = 64 };

typedef enum {
    CLI_JSON_NULL,
    CLI_JSON_BOOL,
    CLI_JSON_NUM,
    CLI_JSON_STR,
    CLI_JSON_ARR,
    CLI_JSON_OBJ,
} cli_json_type;

/* One JSON value. Everything, strings included, lives in the arena given to cli_json_parse. */
typedef struct cli_json cli_json;
struct cli_json {
    cli_json_type type;
    bool b;          /* BOOL */
    odin_str str;    /* STR: the decoded text; NUM: the literal as written */
    odin_str key;    /* member name when the value sits in an object */
    cli_json *child; /* ARR, OBJ: first element, in input order */
    cli_json *next;  /* next element of the enclosing array or object */
    size_t n;        /* ARR, OBJ: number of elements */
};

/* Parses the whole of p[0..n) (surrounding whitespace allowed). NULL and err (PARSE, naming the
 * byte offset) on malformed or too deeply nested input. */
cli_json *cli_json_parse(odin_arena *a, const char *p, size_t n, odin_err *err);
/* The member named key of an object, or NULL (also when obj is not an object). */
const cli_json *cli_json_get(const cli_json *obj, const char *key);

/* Go's encoding/json string: quotes, escapes, and HTML-safe \u003c \u003e \u0026. */
void cli_put_json_string(odin_strbuf *b, odin_str s);
/* model.Time's String and JSON: float seconds, strconv 'f' shortest (1700000000.5). */
void cli_put_time(odin_strbuf *b, int64_t t_ms);
/* model.SampleValue's String: strconv.FormatFloat(v, 'f', -1, 64), NaN, +Inf, -Inf. */
void cli_put_value(odin_strbuf *b, double v);

/* Time as promtool reads it: float Unix seconds or RFC 3339 (fractions and zone allowed), rounded
 * down to ms. 0 or -ODIN_ERR_PARSE. */
int cli_parse_time(odin_str s, int64_t *t_ms);

#endif

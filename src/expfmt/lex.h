/* Private to src/expfmt/: what the text parser (parser.c) shares with lex.c: the line being
 * parsed, byte classes, error messages with line and column, and the number and timestamp
 * checks, each as Prometheus' textparse does them. */
#ifndef ODIN_EXPFMT_LEX_H
#define ODIN_EXPFMT_LEX_H

#include "expfmt/expfmt.h"

#include <stdint.h>

enum {
    QUOTE_BYTES = 32, /* offending text quoted in messages is cut to this many input bytes */
};

/* The line being parsed. Every read is bounded by `end`, which is the line's '\n' or the end of
 * the input, so no scan can leave the buffer. */
typedef struct {
    expfmt_parser *p;
    const char *start;
    const char *end;
    char *out; /* scratch write position; NULL until the line's first escape */
    size_t line;
    odin_err *err;
} line_ctx;

/* ---- Character classes ----------------------------------------------------------------------- */

static inline bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static inline bool is_alpha_(char c)
{
    return (unsigned char)((c | 0x20) - 'a') < 26 || c == '_';
}

static inline bool is_lname_cont(char c)
{
    return is_alpha_(c) || is_digit(c);
}

static inline bool is_mname_start(char c)
{
    return is_alpha_(c) || c == ':';
}

/* Byte classes for the hot scans, one load per byte instead of a chain of range tests. */
enum {
    C_MNAME_CONT = 1,  /* [a-zA-Z0-9_:] */
    C_BLOCK_STOP = 2,  /* '}', '"' and newline: where a label block skip looks twice */
    C_QUOTED_STOP = 4, /* '"', backslash and newline: inside a quoted label value */
    C_TOKEN_END = 8,   /* blank or newline: the end of a value or timestamp token */
};

extern const uint8_t expfmt_char_class[256];

static inline bool has_class(char c, unsigned cls)
{
    return (expfmt_char_class[(unsigned char)c] & cls) != 0;
}

static inline const char *skip_blank(const char *s, const char *end)
{
    while (s < end && is_blank(*s)) {
        s++;
    }
    return s;
}

static inline const char *skip_token(const char *s, const char *end, bool tab_ends)
{
    while (s < end && *s != ' ' && !(tab_ends && *s == '\t')) {
        s++;
    }
    return s;
}

/* ---- Errors (lex.c) -------------------------------------------------------------------------- */

/* The 1-based column of `at` in the line. */
size_t expfmt_col_of(const line_ctx *c, const char *at);
/* "LINE:COL: reason, got TOKEN", TOKEN being the text at `at` up to the next blank. */
int expfmt_fail_tok(const line_ctx *c, const char *at, const char *reason);
/* "LINE:COL: reason" followed by the quoted value when val.p is set. */
int expfmt_fail_val(const line_ctx *c, const char *at, const char *reason, odin_str val);

/* ---- Numbers and text (lex.c) ---------------------------------------------------------------- */

/* A sample value, timestamp or exemplar value as Prometheus parses it (Go's ParseFloat without
 * hex, '_' and 'p'); false on bad grammar or overflow. */
bool expfmt_parse_value(const char *s, size_t n, double *out);
/* The NaN parsed values carry (never the stale marker's bits). */
double expfmt_normal_nan(void);
/* 0.0.4 timestamps: decimal int64 milliseconds. */
bool expfmt_parse_ms(const char *s, size_t n, int64_t *out);
/* OpenMetrics timestamps: float seconds, truncated to milliseconds. */
bool expfmt_parse_seconds_ms(const char *s, size_t n, int64_t *out);

#endif

/* Private to src/promql/: the PromQL tokenizer. It follows Prometheus' lexer state by state
 * (statements, inside braces, inside brackets) so that token boundaries and lexer error texts
 * are the ones users know from Prometheus. It reads (pointer, length) text, never a terminator. */
#ifndef ODIN_PROMQL_LEXER_H
#define ODIN_PROMQL_LEXER_H

#include "base/base.h"

typedef enum {
    TOK_EOF,
    TOK_ERROR,
    TOK_IDENT,        /* foo, label names inside braces */
    TOK_METRIC_IDENT, /* an identifier containing ':' */
    TOK_NUMBER,
    TOK_DURATION,
    TOK_STRING,       /* raw text including the quotes */
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_LBRACE,
    TOK_RBRACE,
    TOK_LBRACKET,
    TOK_RBRACKET,
    TOK_COMMA,
    TOK_EQL, /* = */
    TOK_COLON,
    /* operators (printed as <op:x> in errors) */
    TOK_OPS_START,
    TOK_ADD,
    TOK_SUB,
    TOK_MUL,
    TOK_DIV,
    TOK_MOD,
    TOK_POW,
    TOK_EQLC, /* == */
    TOK_NEQ,
    TOK_LTE,
    TOK_LSS,
    TOK_GTE,
    TOK_GTR,
    TOK_TRIM_UPPER, /* </ */
    TOK_TRIM_LOWER, /* >/ */
    TOK_EQL_REGEX,
    TOK_NEQ_REGEX,
    TOK_AT,
    TOK_ATAN2,
    TOK_LAND,
    TOK_LOR,
    TOK_LUNLESS,
    TOK_OPS_END,
    /* aggregators (printed as <aggr:x>) */
    TOK_AGGS_START,
    TOK_AVG,
    TOK_BOTTOMK,
    TOK_COUNT,
    TOK_COUNT_VALUES,
    TOK_GROUP,
    TOK_MAX,
    TOK_MIN,
    TOK_QUANTILE,
    TOK_STDDEV,
    TOK_STDVAR,
    TOK_SUM,
    TOK_TOPK,
    TOK_LIMITK,
    TOK_LIMIT_RATIO,
    TOK_AGGS_END,
    /* keywords (printed as <x>) */
    TOK_KEYWORDS_START,
    TOK_BOOL,
    TOK_BY,
    TOK_GROUP_LEFT,
    TOK_GROUP_RIGHT,
    TOK_FILL,
    TOK_FILL_LEFT,
    TOK_FILL_RIGHT,
    TOK_IGNORING,
    TOK_OFFSET,
    TOK_SMOOTHED,
    TOK_ANCHORED,
    TOK_ON,
    TOK_WITHOUT,
    TOK_KEYWORDS_END,
    /* preprocessors: start() end() step() range() max_of() min_of() */
    TOK_START,
    TOK_END,
    TOK_STEP,
    TOK_RANGE,
    TOK_MAX_OF,
    TOK_MIN_OF,
} promql_tok_type;

typedef struct {
    promql_tok_type type;
    uint32_t pos; /* byte offset of the first character */
    uint32_t len; /* bytes of text; for TOK_ERROR the message is in the lexer */
} promql_token;

typedef enum { LEX_STATEMENTS, LEX_INSIDE_BRACES, LEX_DURATION_EXPR, LEX_DONE } promql_lex_state;

/* The lexer. Everything lives inside the struct except the error message, which is heap memory
 * in `msg` (fini with promql_lexer_fini). */
typedef struct {
    const char *in;
    size_t len;
    size_t pos;   /* next byte to read */
    size_t start; /* start of the item being scanned */
    size_t width; /* width of the last rune read, for backup */
    promql_lex_state state;
    int paren_depth;
    bool bracket_open;
    bool got_colon;
    bool got_duration;
    char string_open;
    odin_strbuf msg; /* the message of the TOK_ERROR, when one was returned */
    size_t err_pos;  /* where that error is reported (Prometheus: the item start) */
} promql_lexer;

void promql_lexer_init(promql_lexer *l, const char *in, size_t len);
void promql_lexer_fini(promql_lexer *l);
/* Writes the next token, skipping comments. After TOK_ERROR or TOK_EOF every call returns
 * TOK_EOF. */
void promql_lexer_next(promql_lexer *l, promql_token *t);

/* Appends the description Prometheus uses for a token in "unexpected ..." messages:
 * `end of input`, `identifier "foo"`, `<op:+>`, `<aggr:sum>`, `<by>`, `"("`. */
void promql_token_desc(odin_strbuf *b, const char *in, const promql_token *t);

/* Decodes one rune at s[0..n) as Go does: invalid input is PROMQL_RUNE_ERROR with width 1, and
 * n == 0 is PROMQL_EOF_RUNE. */
enum { PROMQL_RUNE_ERROR = 0xFFFD };
#define PROMQL_EOF_RUNE 0xFFFFFFFFu
uint32_t promql_utf8_decode(const unsigned char *s, size_t n, size_t *width);

/* Go's strconv.Quote of the bytes (double quotes, Go escapes, invalid UTF-8 as \xNN). */
void promql_quote(odin_strbuf *b, const char *s, size_t n);
/* Go's %q of one rune: 'x', '\n', '\''. */
void promql_quote_rune(odin_strbuf *b, uint32_t r);

/* Decodes a Prometheus string literal token (with its quotes) into out. The lexer has already
 * checked its escapes, so this cannot fail on lexer output; -1 on malformed text. */
int promql_unquote(const char *s, size_t n, odin_strbuf *out);

/* Parses a duration token (`1h30m`, `5m`, `500ms`) into ms with Prometheus' error texts
 * ("not a valid duration string: ...", "unknown unit ... in duration ..."); msg is set on error. */
int promql_parse_duration(const char *s, size_t n, int64_t *ms, odin_strbuf *msg);

#endif

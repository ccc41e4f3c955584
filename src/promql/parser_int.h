/* Private to src/promql/: state shared by the parser's files: the grammar (parser.c), the
 * modifiers after a selector (parser_modifiers.c), tokens, nodes and literals
 * (parser_tokens.c), and the type checker (parser_check.c). */
#ifndef ODIN_PROMQL_PARSER_INT_H
#define ODIN_PROMQL_PARSER_INT_H

#include "promql/ast.h"
#include "promql/lexer.h"

/* Deepest syntax tree accepted. Parsing, checking and printing recurse on the tree, so this
 * bounds their stack use (STYLE.md 2.6); Prometheus has no limit, deeper queries are refused. */
#define PROMQL_MAX_DEPTH 1000

typedef struct {
    promql_lexer lex;
    promql_token la[2]; /* lookahead */
    int nla;
    const char *in;
    size_t len;
    promql_expr *expr; /* nodes go to expr->arena */
    odin_err *err;
    bool failed;
    int nesting;           /* recursion depth of the parse functions */
    uint32_t last_closing; /* end of the last ), ], }, number or duration consumed */
    promql_parse_opts opts;
} promql_parser;

/* Records the first error as "LINE:COL: parse error: <message>" (Prometheus' ParseErr text);
 * later calls are ignored. */
void promql_parser_error(promql_parser *p, uint32_t pos, const char *fmt, ...) ODIN_PRINTF(3, 4);

/* Tree depth of a node built by the parser (1 for a leaf). */
uint32_t promql_node_depth(const ast_node *n);

/* Type-checks the tree as Prometheus' checkAST does and fills every node's type; the first
 * error is recorded through promql_parser_error. */
void promql_check(promql_parser *p, ast_node *root);

/* Prometheus' DocumentedType: "instant vector", "range vector", "scalar", "string", "none". */
const char *promql_documented_type(promql_type t);

/* ---- parser_tokens.c ---- */
/* Zeroed bytes from the expression's arena; NULL with a "query too large" error when full. */
void *promql_palloc(promql_parser *p, size_t n);
char *promql_pstrndup(promql_parser *p, const char *s, size_t n);
/* A node of depth 1 starting at byte `start`. */
ast_node *promql_new_node(promql_parser *p, ast_kind kind, uint32_t start);
/* Makes child a child of parent for the depth count; false (with an error) past the limit. */
bool promql_adopt(promql_parser *p, ast_node *parent, const ast_node *child);
/* The token stream: the next token and the one after it (lexer errors become parse errors),
 * and consuming the next one. */
const promql_token *promql_tok_peek(promql_parser *p);
const promql_token *promql_tok_peek2(promql_parser *p);
promql_token promql_tok_next(promql_parser *p);
/* "unexpected <token>[ in <context>][, expected <what>]" at the token. */
void promql_unexpected(promql_parser *p, const promql_token *t, const char *context,
                       const char *expected);
/* lo < t < hi, for the token ranges of lexer.h. */
bool promql_tok_in(promql_tok_type t, promql_tok_type lo, promql_tok_type hi);
/* Tokens Prometheus accepts as a label name in grouping lists (maybe_label). */
bool promql_is_label_token(promql_tok_type t);
/* Tokens that may name a metric (metric_identifier). */
bool promql_is_metric_token(promql_tok_type t);
/* The value of a NUMBER token, as Prometheus' parser.number reads it. */
bool promql_number_text(promql_parser *p, const promql_token *t, double *out);
/* The value of a NUMBER (seconds when used as a duration) or DURATION token, in seconds. */
bool promql_literal_seconds(promql_parser *p, const promql_token *t, double *sec);
/* A STRING token's text unquoted into the arena (length in *outlen). */
char *promql_unquote_token(promql_parser *p, const promql_token *t, size_t *outlen);

/* ---- parser_modifiers.c ---- */
/* Applies the ranges, subqueries, offsets and @ that follow e; NULL on error. */
ast_node *promql_parse_postfix(promql_parser *p, ast_node *e);

#endif

/* Private to src/promql/: state shared by the parser (parser.c) and its type checker
 * (parser_check.c). */
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

#endif

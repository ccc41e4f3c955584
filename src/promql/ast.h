/* Private to src/promql/: the syntax tree the parser builds and the engine walks. Every node and
 * string of one parsed expression lives in the expression's arena (promql_expr_free releases it). */
#ifndef ODIN_PROMQL_AST_H
#define ODIN_PROMQL_AST_H

#include "promql/promql.h"

typedef enum {
    AST_NUMBER,        /* 1, 0x1f, 1e3, Inf, NaN */
    AST_STRING,        /* "text", 'text', `raw` */
    AST_VECTOR_SEL,    /* metric{a="b"} [offset] [@] */
    AST_MATRIX_SEL,    /* vector selector [range] */
    AST_SUBQUERY,      /* expr[range:step] [offset] [@] */
    AST_PAREN,         /* ( expr ) */
    AST_UNARY,         /* -expr, +expr */
    AST_BINARY,        /* lhs op [bool] [on/ignoring(...) [group_left/right(...)]] rhs */
    AST_AGGREGATE,     /* op [by/without (...)] (param, expr) */
    AST_CALL,          /* func(args...) */
    AST_STEP_INVARIANT /* engine-only wrapper, never produced by the parser */
} ast_kind;

typedef enum {
    /* binary operators, in no particular order; precedence lives in the parser */
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW, OP_ATAN2,
    OP_EQL, OP_NEQ, OP_GTR, OP_LSS, OP_GTE, OP_LTE,
    OP_AND, OP_OR, OP_UNLESS,
} ast_binop;

typedef enum {
    AGG_SUM, AGG_AVG, AGG_COUNT, AGG_MIN, AGG_MAX, AGG_GROUP, AGG_STDDEV, AGG_STDVAR,
    AGG_TOPK, AGG_BOTTOMK, AGG_COUNT_VALUES, AGG_QUANTILE, AGG_LIMITK, AGG_LIMIT_RATIO,
} ast_aggop;

/* `@` modifier: none, a fixed time, or start()/end() of the query. */
typedef enum { AT_NONE, AT_TIME, AT_START, AT_END } ast_at;

typedef struct ast_node ast_node;

typedef struct {
    const char *name;        /* metric name or NULL when only matchers are given */
    tsdb_matcher *matchers;  /* includes __name__="name" when name is set; tsdb_matcher_fini'd by
                                promql_expr_free */
    size_t nmatchers;
    int64_t offset_ms;       /* positive = into the past */
    ast_at at;
    int64_t at_ms;
    int64_t range_ms;        /* AST_MATRIX_SEL only */
} ast_selector;

typedef struct {
    ast_binop op;
    bool return_bool;        /* comparison with `bool` */
    /* vector matching; card is one-to-one unless group_left/right */
    bool has_matching;       /* on(...) or ignoring(...) was written */
    bool on;                 /* true: on(labels), false: ignoring(labels) */
    const char **labels;
    size_t nlabels;
    enum { CARD_ONE_TO_ONE, CARD_MANY_TO_ONE, CARD_ONE_TO_MANY, CARD_MANY_TO_MANY } card;
    const char **include;    /* group_left/group_right extra labels */
    size_t ninclude;
    ast_node *lhs, *rhs;
} ast_binary;

typedef struct {
    ast_aggop op;
    bool without;            /* false: by (or no grouping) */
    bool has_grouping;       /* by/without was written (even if empty) */
    const char **grouping;
    size_t ngrouping;
    ast_node *param;         /* topk/bottomk/quantile/count_values/limitk/limit_ratio */
    ast_node *expr;
} ast_aggregate;

typedef struct {
    const struct promql_function *fn; /* from the function table (functions.c) */
    ast_node **args;
    size_t nargs;
} ast_call;

typedef struct {
    ast_node *expr;
    int64_t range_ms;
    int64_t step_ms;         /* 0 = the query's step / default evaluation interval */
    int64_t offset_ms;
    ast_at at;
    int64_t at_ms;
} ast_subquery;

struct ast_node {
    ast_kind kind;
    promql_type type;        /* result type, set by the parser's checker */
    uint32_t pos_start, pos_end; /* byte offsets in the query text, for errors and formatting */
    union {
        double number;
        const char *string;
        ast_selector sel;
        ast_binary bin;
        ast_aggregate agg;
        ast_call call;
        ast_subquery sub;
        ast_node *inner;     /* AST_PAREN, AST_UNARY (unary minus is stored as op below) */
    } u;
    bool unary_minus;        /* AST_UNARY: true for '-', false for '+' */
    bool number_is_duration; /* AST_NUMBER written as a duration (`5m`, Prometheus 3.x): the
                                value is in seconds and the printer writes it back as `5m` */
};

struct promql_expr {
    odin_arena arena;
    ast_node *root;
    char *text;              /* the query as given, NUL-terminated copy */
};

/* The function table: name, argument types, return type, variadic count, and the implementation
 * the engine calls. Declared here, defined in function_table.c (the engine maps names to its
 * implementations). */
typedef struct promql_function {
    const char *name;
    promql_type arg_types[6];
    size_t nargs;            /* required arguments */
    int variadic;            /* 0: exact; >0: up to that many optional; -1: unbounded */
    promql_type return_type;
    bool experimental;
} promql_function;

/* Looks a function up by name (exact, case-sensitive as Prometheus); NULL when unknown.
 * arg_types holds `nargs` entries when variadic == 0, else nargs + 1: the last entry is the type of
 * every optional argument (Prometheus' ArgTypes). */
const promql_function *promql_function_lookup(const char *name, size_t len);

/* Parser options beyond promql_parse's defaults, which match Prometheus without feature flags. */
typedef struct {
    /* --enable-feature=promql-experimental-functions: limitk, limit_ratio and the functions
     * marked experimental in the table (sort_by_label, mad_over_time, ...). The promqltest runner
     * sets it, as upstream's runner does. */
    bool experimental_functions;
} promql_parse_opts;

/* promql_parse with options (opts may be NULL for the defaults). */
promql_expr *promql_parse_ex(const char *query, size_t len, const promql_parse_opts *opts,
                             odin_err *err);

const char *ast_binop_name(ast_binop op);
const char *ast_aggop_name(ast_aggop op);

#endif

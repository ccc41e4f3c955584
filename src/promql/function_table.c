/* The PromQL function table: every function Prometheus' parser knows (promql/parser/functions.go
 * at 3.x), with argument types, return type and arity, plus the names of binary and aggregation
 * operators. The engine maps the names to its implementations. */
#include "promql/ast.h"

#include <string.h>

#define V PROMQL_TYPE_VECTOR
#define M PROMQL_TYPE_MATRIX
#define S PROMQL_TYPE_SCALAR
#define STR PROMQL_TYPE_STRING

/* Sorted by name for the binary search in promql_function_lookup. Columns: name, argument types
 * (the last one repeats for optional arguments when variadic != 0), required arguments,
 * variadic (0 exact, >0 that many optional, -1 unbounded), return type, experimental (needs
 * --enable-feature=promql-experimental-functions). */
static const promql_function functions[] = {
    {"abs", {V}, 1, 0, V, false},
    {"absent", {V}, 1, 0, V, false},
    {"absent_over_time", {M}, 1, 0, V, false},
    {"acos", {V}, 1, 0, V, false},
    {"acosh", {V}, 1, 0, V, false},
    {"asin", {V}, 1, 0, V, false},
    {"asinh", {V}, 1, 0, V, false},
    {"atan", {V}, 1, 0, V, false},
    {"atanh", {V}, 1, 0, V, false},
    {"avg_over_time", {M}, 1, 0, V, false},
    {"ceil", {V}, 1, 0, V, false},
    {"changes", {M}, 1, 0, V, false},
    {"clamp", {V, S, S}, 3, 0, V, false},
    {"clamp_max", {V, S}, 2, 0, V, false},
    {"clamp_min", {V, S}, 2, 0, V, false},
    {"cos", {V}, 1, 0, V, false},
    {"cosh", {V}, 1, 0, V, false},
    {"count_over_time", {M}, 1, 0, V, false},
    {"day_of_month", {V}, 0, 1, V, false},
    {"day_of_week", {V}, 0, 1, V, false},
    {"day_of_year", {V}, 0, 1, V, false},
    {"days_in_month", {V}, 0, 1, V, false},
    {"deg", {V}, 1, 0, V, false},
    {"delta", {M}, 1, 0, V, false},
    {"deriv", {M}, 1, 0, V, false},
    {"double_exponential_smoothing", {M, S, S}, 3, 0, V, true},
    {"end", {0}, 0, 0, S, true},
    {"exp", {V}, 1, 0, V, false},
    {"first_over_time", {M}, 1, 0, V, false},
    {"floor", {V}, 1, 0, V, false},
    {"histogram_avg", {V}, 1, 0, V, false},
    {"histogram_count", {V}, 1, 0, V, false},
    {"histogram_fraction", {S, S, V}, 3, 0, V, false},
    {"histogram_quantile", {S, V}, 2, 0, V, false},
    {"histogram_quantiles", {V, STR, S, S}, 3, 9, V, true},
    {"histogram_stddev", {V}, 1, 0, V, false},
    {"histogram_stdvar", {V}, 1, 0, V, false},
    {"histogram_sum", {V}, 1, 0, V, false},
    {"hour", {V}, 0, 1, V, false},
    {"idelta", {M}, 1, 0, V, false},
    {"increase", {M}, 1, 0, V, false},
    {"info", {V, V}, 1, 1, V, true},
    {"irate", {M}, 1, 0, V, false},
    {"label_join", {V, STR, STR, STR}, 3, -1, V, false},
    {"label_replace", {V, STR, STR, STR, STR}, 5, 0, V, false},
    {"last_over_time", {M}, 1, 0, V, false},
    {"ln", {V}, 1, 0, V, false},
    {"log10", {V}, 1, 0, V, false},
    {"log2", {V}, 1, 0, V, false},
    {"mad_over_time", {M}, 1, 0, V, true},
    {"max_of", {S, S}, 2, 0, S, true},
    {"max_over_time", {M}, 1, 0, V, false},
    {"min_of", {S, S}, 2, 0, S, true},
    {"min_over_time", {M}, 1, 0, V, false},
    {"minute", {V}, 0, 1, V, false},
    {"month", {V}, 0, 1, V, false},
    {"pi", {0}, 0, 0, S, false},
    {"predict_linear", {M, S}, 2, 0, V, false},
    {"present_over_time", {M}, 1, 0, V, false},
    {"quantile_over_time", {S, M}, 2, 0, V, false},
    {"rad", {V}, 1, 0, V, false},
    {"range", {0}, 0, 0, S, true},
    {"rate", {M}, 1, 0, V, false},
    {"resets", {M}, 1, 0, V, false},
    {"round", {V, S}, 1, 1, V, false},
    {"scalar", {V}, 1, 0, S, false},
    {"sgn", {V}, 1, 0, V, false},
    {"sin", {V}, 1, 0, V, false},
    {"sinh", {V}, 1, 0, V, false},
    {"sort", {V}, 1, 0, V, false},
    {"sort_by_label", {V, STR}, 1, -1, V, true},
    {"sort_by_label_desc", {V, STR}, 1, -1, V, true},
    {"sort_desc", {V}, 1, 0, V, false},
    {"sqrt", {V}, 1, 0, V, false},
    {"start", {0}, 0, 0, S, true},
    {"start_timestamp", {V}, 1, 0, V, true},
    {"stddev_over_time", {M}, 1, 0, V, false},
    {"stdvar_over_time", {M}, 1, 0, V, false},
    {"step", {0}, 0, 0, S, true},
    {"sum_over_time", {M}, 1, 0, V, false},
    {"tan", {V}, 1, 0, V, false},
    {"tanh", {V}, 1, 0, V, false},
    {"time", {0}, 0, 0, S, false},
    {"timestamp", {V}, 1, 0, V, false},
    {"ts_of_first_over_time", {M}, 1, 0, V, true},
    {"ts_of_last_over_time", {M}, 1, 0, V, true},
    {"ts_of_max_over_time", {M}, 1, 0, V, true},
    {"ts_of_min_over_time", {M}, 1, 0, V, true},
    {"vector", {S}, 1, 0, V, false},
    {"year", {V}, 0, 1, V, false},
};

const promql_function *promql_function_lookup(const char *name, size_t len)
{
    size_t lo = 0, hi = ODIN_ARRAY_LEN(functions);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *f = functions[mid].name;
        size_t flen = strlen(f);
        int c = memcmp(name, f, len < flen ? len : flen);
        if (c == 0) {
            c = len < flen ? -1 : len > flen ? 1 : 0;
        }
        if (c == 0) {
            return &functions[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

const char *ast_binop_name(ast_binop op)
{
    static const char *const names[] = {
        [OP_ADD] = "+",   [OP_SUB] = "-",      [OP_MUL] = "*",  [OP_DIV] = "/",
        [OP_MOD] = "%",   [OP_POW] = "^",      [OP_ATAN2] = "atan2",
        [OP_EQL] = "==",  [OP_NEQ] = "!=",     [OP_GTR] = ">",  [OP_LSS] = "<",
        [OP_GTE] = ">=",  [OP_LTE] = "<=",     [OP_AND] = "and", [OP_OR] = "or",
        [OP_UNLESS] = "unless",
    };
    return (size_t)op < ODIN_ARRAY_LEN(names) && names[op] ? names[op] : "?";
}

const char *ast_aggop_name(ast_aggop op)
{
    static const char *const names[] = {
        [AGG_SUM] = "sum",         [AGG_AVG] = "avg",
        [AGG_COUNT] = "count",     [AGG_MIN] = "min",
        [AGG_MAX] = "max",         [AGG_GROUP] = "group",
        [AGG_STDDEV] = "stddev",   [AGG_STDVAR] = "stdvar",
        [AGG_TOPK] = "topk",       [AGG_BOTTOMK] = "bottomk",
        [AGG_COUNT_VALUES] = "count_values", [AGG_QUANTILE] = "quantile",
        [AGG_LIMITK] = "limitk",   [AGG_LIMIT_RATIO] = "limit_ratio",
    };
    return (size_t)op < ODIN_ARRAY_LEN(names) && names[op] ? names[op] : "?";
}

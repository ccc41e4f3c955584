/* PromQL: parser, AST printer and evaluation engine over the tsdb querier, with Prometheus'
 * semantics (lookback delta, staleness, step alignment, float formatting) for float samples.
 *
 * Threads: a promql_engine is shared by concurrent queries (it only holds options and a concurrency
 * gate); each query runs on its caller's thread. Parsed expressions are immutable and may be shared.
 * Ownership: promql_parse returns an expression freed by promql_expr_free; query results are freed
 * by promql_result_free, which releases everything reachable from them. */
#ifndef ODIN_PROMQL_PROMQL_H
#define ODIN_PROMQL_PROMQL_H

#include "base/base.h"
#include "tsdb/tsdb.h"

typedef struct promql_expr promql_expr;
typedef struct promql_engine promql_engine;

/* ---- Parsing --------------------------------------------------------------------------------- */

/* Parses a whole expression. On error returns NULL with err->code ODIN_ERR_PARSE and a message in
 * Prometheus' words, prefixed with the position: "1:14: parse error: unexpected ..." */
promql_expr *promql_parse(const char *query, size_t len, odin_err *err);
void promql_expr_free(promql_expr *e);
/* Appends the canonical text of e (Prometheus' String(): what /api/v1/format_query returns). */
void promql_expr_format(odin_strbuf *out, const promql_expr *e);

typedef enum {
    PROMQL_TYPE_NONE = 0,
    PROMQL_TYPE_SCALAR,
    PROMQL_TYPE_VECTOR,
    PROMQL_TYPE_MATRIX,
    PROMQL_TYPE_STRING,
} promql_type;

promql_type promql_expr_type(const promql_expr *e);
const char *promql_type_name(promql_type t); /* "scalar", "vector", "matrix", "string" */

/* ---- Evaluation ------------------------------------------------------------------------------ */

typedef struct {
    int64_t lookback_delta_ms; /* --query.lookback-delta, default 5m */
    int64_t timeout_ms;        /* --query.timeout, default 2m */
    uint64_t max_samples;      /* --query.max-samples, default 50,000,000 */
    int max_concurrency;       /* --query.max-concurrency, default 20 */
} promql_engine_opts;

promql_engine *promql_engine_new(const promql_engine_opts *opts);
void promql_engine_free(promql_engine *e);

/* One series of a result. For a vector, n == 1 and t holds the evaluation time; for a matrix, the
 * samples in time order. */
typedef struct {
    odin_labels labels;
    int64_t *t;
    double *v;
    size_t n;
} promql_series;

/* A query result: what the HTTP API serializes. All memory belongs to the result. */
typedef struct {
    promql_type type;
    promql_series *series; /* vector or matrix */
    size_t nseries;
    int64_t t;             /* scalar or string: evaluation time */
    double scalar;
    const char *string;
    const char **warnings;
    size_t nwarnings;
    struct promql_result_mem *mem;
} promql_result;

/* Evaluates at time t (ms). Errors: ODIN_ERR_PARSE (bad query), ODIN_ERR_INVALID (bad_data),
 * ODIN_ERR_TIMEOUT, ODIN_ERR_CANCELED, ODIN_ERR_LIMIT (too many samples), ODIN_ERR_INTERNAL
 * (execution), each with Prometheus' message. */
promql_result *promql_query_instant(promql_engine *eng, tsdb *db, const char *query, size_t len,
                                    int64_t t, odin_err *err);
/* Evaluates at start, start+step, ... <= end; the result is a matrix (or an error for string
 * expressions, as Prometheus). */
promql_result *promql_query_range(promql_engine *eng, tsdb *db, const char *query, size_t len,
                                  int64_t start, int64_t end, int64_t step, odin_err *err);
void promql_result_free(promql_result *r);

/* Formats a float the way Prometheus' API does in JSON strings: shortest round-trip digits, plain
 * notation from 1e-6 up to 1e21 and exponent form outside it, "NaN", "+Inf", "-Inf". out must
 * hold 400 bytes. */
size_t promql_format_value(double v, char *out);

/* Runs test scripts in the upstream .test format (load / eval / clear) against a fresh in-memory
 * tsdb each; prints a line per failed eval and a closing "N passed, N failed" to out. Returns the
 * number failed. `odin promqltest FILE...` calls this. */
int promql_test_run_file(const char *path, odin_strbuf *out, int *passed, int *failed);

#endif

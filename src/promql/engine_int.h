/* Private to the PromQL engine files (engine*.c, functions*.c): the evaluator's value types, its
 * per-query context and the helpers the files share. Nothing here is seen outside src/promql/. */
#ifndef ODIN_PROMQL_ENGINE_INT_H
#define ODIN_PROMQL_ENGINE_INT_H

#include "promql/ast.h"

/* One series of an intermediate result. For instant-vector expressions the points sit at the
 * evaluator's step times (at most one per step, ascending); for range sources they are raw samples.
 * Labels and points live in the query arena; labels may also point into a querier that stays open
 * until the query ends. drop_name: __name__ is removed when the query finishes (Prometheus 3.x
 * delayed name removal), unless label_replace/label_join set __name__ again. */
typedef struct {
    odin_labels ls;
    int64_t *t;
    double *v;
    size_t n, cap;
    bool drop_name;
} ev_series;

typedef struct {
    ev_series *s;
    size_t n, cap;
} ev_matrix;

/* A value over all steps: type SCALAR uses sc[nsteps]; VECTOR and MATRIX use m; STRING uses str. */
typedef struct {
    promql_type type;
    double *sc;
    ev_matrix m;
    const char *str;
} ev_value;

/* The samples behind a range-vector argument and how each step's window is placed: for a step at
 * time ts the window is (ref - range, ref] with ref = (at fixed ? at_ms : ts) - offset. */
typedef struct {
    ev_matrix m;
    int64_t range_ms;
    int64_t offset_ms;
    bool at_fixed;
    int64_t at_ms;
} ev_rangesrc;

typedef struct promql_engine promql_engine;

/* Errors found while evaluating (duplicate label sets, bad function arguments) are Prometheus'
 * "execution" errors, which promql.h maps to ODIN_ERR_INTERNAL. */
enum { EV_ERR_EXEC = ODIN_ERR_INTERNAL };

/* Per-query evaluation state; one thread. start/end/step change while a subquery is evaluated. */
typedef struct {
    promql_engine *eng;
    tsdb *db;
    odin_arena *a;
    odin_err *err;
    int64_t start, end, step;
    size_t nsteps;
    int64_t qstart, qend;      /* the query's own range, for @ start() / end() */
    int64_t qstep;             /* the query's step (0 for instant queries) */
    int64_t lookback_ms;
    int64_t default_sub_step_ms;
    uint64_t max_samples;
    uint64_t cur_samples;
    int64_t deadline_ns;       /* 0 = none */
    uint32_t tick;             /* deadline check throttle */
    tsdb_querier **queriers;   /* kept open until the result is copied out */
    size_t nqueriers, capqueriers;
    const char **warns;
    size_t nwarns, capwarns;
    const char *query;         /* the query text, for annotation positions */
} ev_ctx;

/* ---- engine.c: dispatch and shared helpers ---- */
/* The query entry with parse options (the test runner enables experimental functions). */
promql_result *ev_query(promql_engine *eng, tsdb *db, const char *query, size_t len,
                        int64_t start, int64_t end, int64_t step, bool range,
                        const promql_parse_opts *popts, odin_err *err);
int ev_eval(ev_ctx *c, const ast_node *n, ev_value *out);
int ev_check_deadline(ev_ctx *c);
int ev_add_samples(ev_ctx *c, uint64_t n);
void ev_warn(ev_ctx *c, const char *fmt, ...) ODIN_PRINTF(2, 3);
/* An annotation ("PromQL warning: ..." or "PromQL info: ...") about node n, with Prometheus'
 * " (line:col)" suffix. */
void ev_warn_at(ev_ctx *c, const ast_node *n, const char *fmt, ...) ODIN_PRINTF(3, 4);
void *ev_alloc(ev_ctx *c, size_t n);
void *ev_zalloc(ev_ctx *c, size_t n);
int64_t ev_step_time(const ev_ctx *c, size_t i);
ev_series *ev_matrix_add(ev_ctx *c, ev_matrix *m, odin_labels ls, bool drop_name);
void ev_series_push(ev_ctx *c, ev_series *s, int64_t t, double v);
const ast_node *ev_unparen(const ast_node *n);

/* The elements of a step-aligned matrix present at one step: series indices and values. */
typedef struct {
    uint32_t *idx;
    double *v;
    size_t n;
} ev_vec;
/* cursors[i] starts at 0 and advances through m->s[i]; call with increasing ts. out->idx/v must
 * hold m->n entries. */
void ev_gather(const ev_matrix *m, size_t *cursors, int64_t ts, ev_vec *out);
void ev_vec_init(ev_ctx *c, ev_vec *v, size_t n);

/* Output series keyed by label set, so equal labels produced by different inputs or at
 * different steps land in one series; seen[] tracks the last step each series was produced at. */
typedef struct {
    ev_matrix m;
    odin_map map;
    odin_strbuf key;
    int64_t *seen;
    size_t seen_cap;
} ev_collector;
void ev_collector_init(ev_collector *col);
void ev_collector_fini(ev_collector *col);
size_t ev_collector_get(ev_ctx *c, ev_collector *col, odin_labels ls, bool drop_name);
/* Adds a point at ts; two points for one series at one step are Prometheus' duplicate error. */
int ev_collector_push(ev_ctx *c, ev_collector *col, size_t idx, int64_t ts, double v);

/* ---- value.c ---- */
/* Go's strconv.FormatFloat(v, 'f', -1, 64) (count_values labels); out holds 400 bytes. */
size_t promql_format_value_f(double v, char *out);

/* ---- engine_labels.c: label-set building in the query arena ---- */
odin_str ev_label_get(odin_labels ls, const char *name);
odin_labels ev_labels_copy(ev_ctx *c, odin_labels ls);
odin_labels ev_labels_del(ev_ctx *c, odin_labels ls, const char *name);
odin_labels ev_labels_set(ev_ctx *c, odin_labels ls, const char *name, odin_str value);
odin_labels ev_labels_keep(ev_ctx *c, odin_labels ls, const char *const *names, size_t n);
odin_labels ev_labels_drop(ev_ctx *c, odin_labels ls, const char *const *names, size_t n,
                           bool drop_name);
/* Appends a byte key identifying the label set (for hash maps). */
void ev_labels_key(odin_strbuf *b, odin_labels ls);
/* Prometheus' labels.String(): {a="b", c="d"} with the name first when present. */
void ev_labels_string(odin_strbuf *b, odin_labels ls);
bool ev_name_in(const char *name, size_t len, const char *const *names, size_t n);

/* ---- engine_select.c: selectors and subqueries ---- */
/* A consumer of one series of an instant vector at a time: its labels, whether __name__ is to be
 * dropped when the query ends, and its points (step indices ascending, values). The arrays are
 * reused for the next series; ls lives until the query ends. Returns 0 or a negative code. */
typedef int (*ev_series_fn)(ev_ctx *c, odin_labels ls, bool drop_name, const uint32_t *steps,
                            const double *vals, size_t n, void *arg);
/* Streams the series of an instant vector selector (n is AST_VECTOR_SEL) to fn without keeping
 * them; any_order lets the querier skip sorting them by labels. */
int ev_vector_selector_each(ev_ctx *c, const ast_node *n, bool want_ts, bool any_order,
                            ev_series_fn fn, void *arg);
int ev_vector_selector(ev_ctx *c, const ast_node *n, bool want_ts, ev_value *out);
int ev_range_source(ev_ctx *c, const ast_node *n, ev_rangesrc *out);
/* A consumer of one series of a range selector at a time: its raw samples (stale markers left
 * out) in buffers reused for the next series. */
typedef int (*ev_raw_fn)(ev_ctx *c, odin_labels ls, const int64_t *t, const double *v, size_t n,
                         void *arg);
/* Streams the series of a matrix selector (n, under parentheses, is AST_MATRIX_SEL) to fn, in
 * label order unless any_order, filling src's window placement (src->m stays empty). */
int ev_range_selector_each(ev_ctx *c, const ast_node *n, bool any_order, ev_rangesrc *src,
                           ev_raw_fn fn, void *arg);
int ev_matrix_at_instant(ev_ctx *c, const ast_node *n, ev_value *out);

/* ---- engine_binop.c ---- */
int ev_binary(ev_ctx *c, const ast_node *n, ev_value *out);
double ev_scalar_binop(ast_binop op, double l, double r);

/* ---- engine_agg.c ---- */
int ev_aggregate(ev_ctx *c, const ast_node *n, ev_value *out);
/* One group's running value at one step (sum avg count min max group stddev stdvar); gen is the
 * step it was last started at (-1: never). */
typedef struct {
    int64_t gen;
    double val, mean, comp, count;
    bool incr;
} ev_agg_acc;
void ev_agg_acc_first(ast_aggop op, ev_agg_acc *a, double f);
void ev_agg_acc_add(ast_aggop op, ev_agg_acc *a, double f);
double ev_agg_acc_final(ast_aggop op, const ev_agg_acc *a);
/* The group's labels of one input series, written into buf (room for ls.len labels). */
odin_labels ev_agg_group_labels(const ast_aggregate *ag, odin_labels ls, odin_label *buf);

/* ---- engine_agg_stream.c ---- */
/* Evaluates n without materialising its input when it can (a fold aggregation over a plain
 * vector selector): sets *done and fills out, else leaves both alone and returns 0. */
int ev_aggregate_stream(ev_ctx *c, const ast_node *n, ev_value *out, bool *done);
double ev_quantile(double q, double *vals, size_t n); /* sorts vals */
void ev_kahan_inc(double inc, double *sum, double *comp);

/* ---- engine_range.c: functions over range vectors ---- */
int ev_call_range(ev_ctx *c, const ast_node *n, int matrix_arg, ev_value *out);
/* When n is a range function over a plain matrix selector (not absent_over_time), evaluates it one
 * series at a time into fn and sets *done; else returns 0 with *done unset. Series come in label
 * order unless any_order allows any (and the function's warnings cannot depend on the order). */
int ev_call_range_each(ev_ctx *c, const ast_node *n, bool any_order, ev_series_fn fn, void *arg,
                       bool *done);
odin_labels ev_absent_labels(ev_ctx *c, const ast_node *arg);

/* ---- functions.c: functions over instant vectors and scalars ---- */
int ev_call(ev_ctx *c, const ast_node *n, ev_value *out);

#endif

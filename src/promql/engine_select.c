/* Selectors and subqueries: loading each matching series' samples once per query from the tsdb
 * querier, then answering every step from those arrays with moving cursors (instant selectors with
 * the lookback window, range selectors and subqueries as windows for range functions). */
#include "promql/engine_int.h"

#include <string.h>

/* Resolves an `@` modifier to a time; false when there is none. */
static bool at_time(const ev_ctx *c, ast_at at, int64_t at_ms, int64_t *out)
{
    switch (at) {
    case AT_TIME:
        *out = at_ms;
        return true;
    case AT_START:
        *out = c->qstart;
        return true;
    case AT_END:
        *out = c->qend;
        return true;
    case AT_NONE:
        break;
    }
    return false;
}

/* The reference times of the first and last steps: ts - offset, or the `@` time - offset. */
static void ref_range(const ev_ctx *c, ast_at at, int64_t at_ms, int64_t offset, bool *fixed,
                      int64_t *fixed_ms, int64_t *lo, int64_t *hi)
{
    int64_t t = 0;
    *fixed = at_time(c, at, at_ms, &t);
    *fixed_ms = *fixed ? t : 0;
    if (*fixed) {
        *lo = *hi = t - offset;
    } else {
        *lo = c->start - offset;
        *hi = c->end - offset;
    }
}

static void raw_push(ev_ctx *c, ev_series *s, int64_t t, double v)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 32;
        int64_t *nt = ev_alloc(c, ncap * sizeof(*nt));
        double *nv = ev_alloc(c, ncap * sizeof(*nv));
        if (s->n) {
            memcpy(nt, s->t, s->n * sizeof(*nt));
            memcpy(nv, s->v, s->n * sizeof(*nv));
        }
        s->t = nt;
        s->v = nv;
        s->cap = ncap;
    }
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->n++;
}

/* Opens a querier for [mint, maxt] that stays open until the result is copied out (series labels
 * point into it) and selects sel's series from it, sorted by labels unless any_order; NULL with
 * c->err set on failure. */
static tsdb_series_set *open_select(ev_ctx *c, const ast_selector *sel, int64_t mint, int64_t maxt,
                                    bool any_order)
{
    tsdb_querier *q = tsdb_querier_open(c->db, mint, maxt);
    if (c->nqueriers == c->capqueriers) {
        size_t ncap = c->capqueriers ? c->capqueriers * 2 : 8;
        tsdb_querier **nq = ev_alloc(c, ncap * sizeof(*nq));
        if (c->nqueriers) {
            memcpy(nq, c->queriers, c->nqueriers * sizeof(*nq));
        }
        c->queriers = nq;
        c->capqueriers = ncap;
    }
    c->queriers[c->nqueriers++] = q;
    if (any_order) {
        return tsdb_querier_select_any_order(q, sel->matchers, sel->nmatchers, c->err);
    }
    return tsdb_querier_select(q, sel->matchers, sel->nmatchers, c->err);
}

/* A forward cursor over one series' samples: the newest sample at or before a reference time
 * that only moves forward (steps ascend; a fixed `@` time stays put). */
typedef struct {
    tsdb_iter it;
    int64_t mint, maxt;
    bool has_next, has_last;
    int64_t nt, lt;
    double nv, lv;
} sel_cursor;

static void cursor_pull(sel_cursor *k)
{
    while ((k->has_next = tsdb_iter_next(&k->it, &k->nt, &k->nv))) {
        if (k->nt >= k->mint && k->nt <= k->maxt) {
            return;
        }
    }
}

static void cursor_seek(sel_cursor *k, int64_t ref)
{
    while (k->has_next && k->nt <= ref) {
        k->lt = k->nt;
        k->lv = k->nv;
        k->has_last = true;
        cursor_pull(k);
    }
}

/* Streams every matching series once, answering each step from a forward cursor: no copy of the
 * samples is kept. Each series with at least one point goes to fn with its points (step indices
 * ascending, values), in buffers reused for the next series; the sample limit and the deadline
 * are checked after each series. */
int ev_vector_selector_each(ev_ctx *c, const ast_node *n, bool want_ts, bool any_order,
                            ev_series_fn fn, void *arg)
{
    const ast_selector *sel = &n->u.sel;
    bool fixed;
    int64_t fixed_ms, lo, hi;
    ref_range(c, sel->at, sel->at_ms, sel->offset_ms, &fixed, &fixed_ms, &lo, &hi);
    /* matches Prometheus 3.x: the lookback window (ref - lookback, ref] is open on the left */
    int64_t mint = lo - c->lookback_ms + 1;
    if (hi < mint) {
        return 0;
    }
    tsdb_series_set *set = open_select(c, sel, mint, hi, any_order);
    if (!set) {
        return -c->err->code;
    }
    uint32_t *steps = ev_alloc(c, c->nsteps * sizeof(*steps));
    double *vals = ev_alloc(c, c->nsteps * sizeof(*vals));
    while (tsdb_series_next(set)) {
        sel_cursor k = {.mint = mint, .maxt = hi};
        tsdb_series_iter(set, &k.it);
        cursor_pull(&k);
        size_t np = 0;
        for (size_t step = 0; step < c->nsteps; step++) {
            int64_t ref = (fixed ? fixed_ms : ev_step_time(c, step)) - sel->offset_ms;
            cursor_seek(&k, ref);
            if (!k.has_last || k.lt <= ref - c->lookback_ms || tsdb_is_stale(k.lv)) {
                continue;
            }
            steps[np] = (uint32_t)step;
            vals[np++] = want_ts ? (double)k.lt / 1000.0 : k.lv;
        }
        int rc = 0;
        if (np) {
            rc = fn(c, tsdb_series_labels(set), false, steps, vals, np, arg);
            if (rc == 0) {
                rc = ev_add_samples(c, np);
            }
        }
        if (rc == 0) {
            rc = ev_check_deadline(c);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int materialize(ev_ctx *c, odin_labels ls, bool drop_name, const uint32_t *steps,
                       const double *vals, size_t n, void *arg)
{
    ev_matrix *m = arg;
    ev_series *s = ev_matrix_add(c, m, ls, drop_name);
    for (size_t i = 0; i < n; i++) {
        ev_series_push(c, s, ev_step_time(c, steps[i]), vals[i]);
    }
    return 0;
}

int ev_vector_selector(ev_ctx *c, const ast_node *n, bool want_ts, ev_value *out)
{
    out->type = PROMQL_TYPE_VECTOR;
    memset(&out->m, 0, sizeof(out->m));
    return ev_vector_selector_each(c, n, want_ts, false, materialize, &out->m);
}

/* Loads the samples of every series matching sel with mint <= t <= maxt; stale markers are kept
 * only when keep_stale (instant selectors need them to end a series early). */
static int load_series(ev_ctx *c, const ast_selector *sel, int64_t mint, int64_t maxt,
                       bool keep_stale, ev_matrix *out)
{
    memset(out, 0, sizeof(*out));
    if (maxt < mint) {
        return 0;
    }
    tsdb_series_set *set = open_select(c, sel, mint, maxt, false);
    if (!set) {
        return -c->err->code;
    }
    while (tsdb_series_next(set)) {
        ev_series *s = ev_matrix_add(c, out, tsdb_series_labels(set), false);
        tsdb_iter it;
        tsdb_series_iter(set, &it);
        int64_t t;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            if (t < mint || t > maxt) {
                continue;
            }
            if (!keep_stale && tsdb_is_stale(v)) {
                continue;
            }
            raw_push(c, s, t, v);
        }
        int rc = ev_check_deadline(c);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int ev_range_selector_each(ev_ctx *c, const ast_node *n, bool any_order, ev_rangesrc *src,
                           ev_raw_fn fn, void *arg)
{
    const ast_selector *sel = &ev_unparen(n)->u.sel;
    int64_t lo, hi;
    memset(src, 0, sizeof(*src));
    ref_range(c, sel->at, sel->at_ms, sel->offset_ms, &src->at_fixed, &src->at_ms, &lo, &hi);
    src->range_ms = sel->range_ms;
    src->offset_ms = sel->offset_ms;
    /* matches Prometheus 3.x: range windows (ref - range, ref] are open on the left */
    int64_t mint = lo - sel->range_ms + 1, maxt = hi;
    if (maxt < mint) {
        return 0;
    }
    tsdb_series_set *set = open_select(c, sel, mint, maxt, any_order);
    if (!set) {
        return -c->err->code;
    }
    ev_series buf = {0}; /* one series at a time: grows to the longest and is reused */
    while (tsdb_series_next(set)) {
        buf.n = 0;
        tsdb_iter it;
        tsdb_series_iter(set, &it);
        int64_t t;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            if (t >= mint && t <= maxt && !tsdb_is_stale(v)) {
                raw_push(c, &buf, t, v);
            }
        }
        int rc = fn(c, tsdb_series_labels(set), buf.t, buf.v, buf.n, arg);
        if (rc == 0) {
            rc = ev_check_deadline(c);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int subquery_source(ev_ctx *c, const ast_subquery *sq, ev_rangesrc *out)
{
    int64_t lo, hi;
    ref_range(c, sq->at, sq->at_ms, sq->offset_ms, &out->at_fixed, &out->at_ms, &lo, &hi);
    out->range_ms = sq->range_ms;
    out->offset_ms = sq->offset_ms;
    int64_t step = sq->step_ms > 0 ? sq->step_ms : c->default_sub_step_ms;
    /* matches Prometheus: the first point is the first multiple of the step strictly after
     * (first ref - range), so subquery points line up on absolute time */
    int64_t from = lo - sq->range_ms;
    int64_t start = step * (from / step);
    if (start <= from) {
        start += step;
    }
    memset(&out->m, 0, sizeof(out->m));
    if (start > hi) {
        return 0;
    }
    int64_t s0 = c->start, e0 = c->end, st0 = c->step;
    size_t n0 = c->nsteps;
    c->start = start;
    c->end = hi;
    c->step = step;
    c->nsteps = (size_t)((hi - start) / step) + 1;
    ev_value v;
    int rc = ev_eval(c, sq->expr, &v);
    c->start = s0;
    c->end = e0;
    c->step = st0;
    c->nsteps = n0;
    if (rc < 0) {
        return rc;
    }
    if (v.type == PROMQL_TYPE_SCALAR) {
        ev_series *s = ev_matrix_add(c, &out->m, (odin_labels){NULL, 0}, false);
        size_t ns = (size_t)((hi - start) / step) + 1;
        for (size_t i = 0; i < ns; i++) {
            raw_push(c, s, start + (int64_t)i * step, v.sc[i]);
        }
        return 0;
    }
    out->m = v.m;
    return 0;
}

int ev_range_source(ev_ctx *c, const ast_node *n, ev_rangesrc *out)
{
    n = ev_unparen(n);
    memset(out, 0, sizeof(*out));
    if (n->kind == AST_SUBQUERY) {
        return subquery_source(c, &n->u.sub, out);
    }
    const ast_selector *sel = &n->u.sel;
    int64_t lo, hi;
    ref_range(c, sel->at, sel->at_ms, sel->offset_ms, &out->at_fixed, &out->at_ms, &lo, &hi);
    out->range_ms = sel->range_ms;
    out->offset_ms = sel->offset_ms;
    /* matches Prometheus 3.x: range windows (ref - range, ref] are open on the left */
    return load_series(c, sel, lo - sel->range_ms + 1, hi, false, &out->m);
}

/* A range vector as a query result (instant queries only): the samples of the first window. */
int ev_matrix_at_instant(ev_ctx *c, const ast_node *n, ev_value *out)
{
    ev_rangesrc src;
    int rc = ev_range_source(c, n, &src);
    if (rc < 0) {
        return rc;
    }
    out->type = PROMQL_TYPE_MATRIX;
    int64_t ref = (src.at_fixed ? src.at_ms : c->start) - src.offset_ms;
    for (size_t i = 0; i < src.m.n; i++) {
        ev_series *r = &src.m.s[i];
        ev_series *s = NULL;
        for (size_t k = 0; k < r->n; k++) {
            if (r->t[k] <= ref - src.range_ms || r->t[k] > ref) {
                continue;
            }
            if (!s) {
                s = ev_matrix_add(c, &out->m, r->ls, r->drop_name);
            }
            raw_push(c, s, r->t[k], r->v[k]);
        }
        if (s) {
            rc = ev_add_samples(c, s->n);
            if (rc < 0) {
                return rc;
            }
        }
    }
    return 0;
}

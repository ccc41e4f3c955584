/* The PromQL engine's front door: engine lifetime and its concurrency gate, query setup (deadline,
 * sample limit, arena), the node dispatch every evaluation goes through, and the copy of the final
 * value into a self-contained promql_result. The node kinds live in engine_*.c and functions*.c. */
#include "promql/engine_int.h"

#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct promql_engine {
    promql_engine_opts opts; /* fixed after promql_engine_new */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active; /* guarded by mu: queries running now */
};

struct promql_result_mem {
    odin_arena arena;
};

promql_engine *promql_engine_new(const promql_engine_opts *opts)
{
    promql_engine *e = odin_calloc(1, sizeof(*e));
    if (opts) {
        e->opts = *opts;
    }
    if (e->opts.lookback_delta_ms <= 0) {
        e->opts.lookback_delta_ms = 5 * 60 * 1000;
    }
    if (e->opts.timeout_ms <= 0) {
        e->opts.timeout_ms = 2 * 60 * 1000;
    }
    if (e->opts.max_samples == 0) {
        e->opts.max_samples = 50000000;
    }
    if (e->opts.max_concurrency <= 0) {
        e->opts.max_concurrency = 20;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    return e;
}

void promql_engine_free(promql_engine *e)
{
    if (!e) {
        return;
    }
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* The gate behind --query.max-concurrency: a query waits for a free slot, as Prometheus' active
 * query tracker makes it wait. */
static void gate_enter(promql_engine *e)
{
    pthread_mutex_lock(&e->mu);
    while (e->active >= e->opts.max_concurrency) {
        pthread_cond_wait(&e->cv, &e->mu);
    }
    e->active++;
    pthread_mutex_unlock(&e->mu);
}

static void gate_leave(promql_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->active--;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* ---- helpers shared by the evaluator files ---- */

void *ev_alloc(ev_ctx *c, size_t n)
{
    void *p = odin_arena_alloc(c->a, n ? n : 1);
    if (!p) {
        odin_oom();
    }
    return p;
}

void *ev_zalloc(ev_ctx *c, size_t n)
{
    void *p = ev_alloc(c, n);
    memset(p, 0, n ? n : 1);
    return p;
}

int64_t ev_step_time(const ev_ctx *c, size_t i)
{
    return c->start + (int64_t)i * c->step;
}

int ev_check_deadline(ev_ctx *c)
{
    if (c->deadline_ns == 0 || (++c->tick & 63) != 0) {
        return 0;
    }
    if (odin_mono_ns() > c->deadline_ns) {
        return odin_err_set(c->err, ODIN_ERR_TIMEOUT, "query timed out in expression evaluation");
    }
    return 0;
}

int ev_add_samples(ev_ctx *c, uint64_t n)
{
    c->cur_samples += n;
    if (c->cur_samples > c->max_samples) {
        return odin_err_set(c->err, ODIN_ERR_LIMIT,
                            "query processing would load too many samples into memory in "
                            "query execution");
    }
    return 0;
}

void ev_warn(ev_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *w = odin_arena_vprintf(c->a, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < c->nwarns; i++) {
        if (strcmp(c->warns[i], w) == 0) {
            return;
        }
    }
    if (c->nwarns == c->capwarns) {
        size_t ncap = c->capwarns ? c->capwarns * 2 : 4;
        const char **nw = ev_alloc(c, ncap * sizeof(*nw));
        if (c->nwarns) {
            memcpy(nw, c->warns, c->nwarns * sizeof(*nw));
        }
        c->warns = nw;
        c->capwarns = ncap;
    }
    c->warns[c->nwarns++] = w;
}

void ev_warn_at(ev_ctx *c, const ast_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *w = odin_arena_vprintf(c->a, fmt, ap);
    va_end(ap);
    size_t line = 1, col = 1;
    for (uint32_t i = 0; c->query && n && i < n->pos_start && c->query[i]; i++) {
        if (c->query[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    ev_warn(c, "%s (%zu:%zu)", w, line, col);
}

ev_series *ev_matrix_add(ev_ctx *c, ev_matrix *m, odin_labels ls, bool drop_name)
{
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 8;
        ev_series *ns = ev_alloc(c, ncap * sizeof(*ns));
        if (m->n) {
            memcpy(ns, m->s, m->n * sizeof(*ns));
        }
        m->s = ns;
        m->cap = ncap;
    }
    ev_series *s = &m->s[m->n++];
    memset(s, 0, sizeof(*s));
    s->ls = ls;
    s->drop_name = drop_name;
    return s;
}

/* Points of step-aligned series are allocated for all steps at once (as Prometheus sizes its point
 * slices by the step count), so a series grows at most once. */
void ev_series_push(ev_ctx *c, ev_series *s, int64_t t, double v)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : (c->nsteps < 4 ? 4 : c->nsteps);
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

const ast_node *ev_unparen(const ast_node *n)
{
    while (n && (n->kind == AST_PAREN || n->kind == AST_STEP_INVARIANT)) {
        n = n->u.inner;
    }
    return n;
}

/* ---- dispatch ---- */

static int eval_number(ev_ctx *c, double v, ev_value *out)
{
    out->type = PROMQL_TYPE_SCALAR;
    out->sc = ev_alloc(c, c->nsteps * sizeof(double));
    for (size_t i = 0; i < c->nsteps; i++) {
        out->sc[i] = v;
    }
    return 0;
}

static int eval_unary(ev_ctx *c, const ast_node *n, ev_value *out)
{
    int rc = ev_eval(c, n->u.inner, out);
    if (rc < 0 || !n->unary_minus) {
        return rc;
    }
    if (out->type == PROMQL_TYPE_SCALAR) {
        for (size_t i = 0; i < c->nsteps; i++) {
            out->sc[i] = -out->sc[i];
        }
        return 0;
    }
    for (size_t i = 0; i < out->m.n; i++) {
        ev_series *s = &out->m.s[i];
        s->drop_name = true;
        for (size_t j = 0; j < s->n; j++) {
            s->v[j] = -s->v[j];
        }
    }
    return 0;
}

static int eval_call(ev_ctx *c, const ast_node *n, ev_value *out)
{
    for (size_t i = 0; i < n->u.call.nargs; i++) {
        const ast_node *a = ev_unparen(n->u.call.args[i]);
        if (a && (a->kind == AST_MATRIX_SEL || a->kind == AST_SUBQUERY)) {
            return ev_call_range(c, n, (int)i, out);
        }
    }
    return ev_call(c, n, out);
}

int ev_eval(ev_ctx *c, const ast_node *n, ev_value *out)
{
    memset(out, 0, sizeof(*out));
    int rc = ev_check_deadline(c);
    if (rc < 0) {
        return rc;
    }
    switch (n->kind) {
    case AST_NUMBER:
        return eval_number(c, n->u.number, out);
    case AST_STRING:
        out->type = PROMQL_TYPE_STRING;
        out->str = n->u.string;
        return 0;
    case AST_PAREN:
    case AST_STEP_INVARIANT:
        return ev_eval(c, n->u.inner, out);
    case AST_UNARY:
        return eval_unary(c, n, out);
    case AST_VECTOR_SEL:
        return ev_vector_selector(c, n, false, out);
    case AST_MATRIX_SEL:
    case AST_SUBQUERY:
        return ev_matrix_at_instant(c, n, out);
    case AST_BINARY:
        return ev_binary(c, n, out);
    case AST_AGGREGATE:
        return ev_aggregate(c, n, out);
    case AST_CALL:
        return eval_call(c, n, out);
    }
    return odin_err_set(c->err, ODIN_ERR_INTERNAL, "unexpected expression node %d", (int)n->kind);
}

/* ---- finishing: delayed name removal, duplicate checks, copy into the result ---- */

static int labels_cmp_series(const void *a, const void *b)
{
    const ev_series *x = a, *y = b;
    return odin_labels_cmp(x->ls, y->ls);
}

static int point_cmp(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return (*x > *y) - (*x < *y);
}

/* Merges series that became equal once __name__ was dropped (as Prometheus 3.x does for range
 * results); overlapping timestamps are the duplicate-labelset error. m is sorted by labels. */
static int merge_same_labels(ev_ctx *c, ev_matrix *m)
{
    size_t w = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (w > 0 && odin_labels_cmp(m->s[w - 1].ls, m->s[i].ls) == 0) {
            ev_series *d = &m->s[w - 1];
            ev_series *s = &m->s[i];
            size_t total = d->n + s->n;
            /* pairs (t, index) sorted by t, then rebuilt */
            int64_t *pairs = ev_alloc(c, total * 2 * sizeof(int64_t));
            double *vals = ev_alloc(c, total * sizeof(double));
            for (size_t k = 0; k < d->n; k++) {
                pairs[2 * k] = d->t[k];
                pairs[2 * k + 1] = (int64_t)k;
                vals[k] = d->v[k];
            }
            for (size_t k = 0; k < s->n; k++) {
                pairs[2 * (d->n + k)] = s->t[k];
                pairs[2 * (d->n + k) + 1] = (int64_t)(d->n + k);
                vals[d->n + k] = s->v[k];
            }
            qsort(pairs, total, 2 * sizeof(int64_t), point_cmp);
            int64_t *nt = ev_alloc(c, total * sizeof(int64_t));
            double *nv = ev_alloc(c, total * sizeof(double));
            for (size_t k = 0; k < total; k++) {
                if (k > 0 && pairs[2 * k] == pairs[2 * (k - 1)]) {
                    return odin_err_set(c->err, EV_ERR_EXEC,
                                        "vector cannot contain metrics with the same labelset");
                }
                nt[k] = pairs[2 * k];
                nv[k] = vals[pairs[2 * k + 1]];
            }
            d->t = nt;
            d->v = nv;
            d->n = d->cap = total;
            continue;
        }
        m->s[w++] = m->s[i];
    }
    m->n = w;
    return 0;
}

static int finish_names(ev_ctx *c, ev_value *v, bool is_vector)
{
    if (v->type != PROMQL_TYPE_VECTOR && v->type != PROMQL_TYPE_MATRIX) {
        return 0;
    }
    bool dropped = false;
    for (size_t i = 0; i < v->m.n; i++) {
        ev_series *s = &v->m.s[i];
        if (s->drop_name && ev_label_get(s->ls, "__name__").len) {
            s->ls = ev_labels_del(c, s->ls, "__name__");
            dropped = true;
        }
    }
    if (is_vector) {
        if (!dropped || v->m.n < 2) {
            return 0;
        }
        /* duplicate check without disturbing the result order */
        ev_series *tmp = ev_alloc(c, v->m.n * sizeof(*tmp));
        memcpy(tmp, v->m.s, v->m.n * sizeof(*tmp));
        qsort(tmp, v->m.n, sizeof(*tmp), labels_cmp_series);
        for (size_t i = 1; i < v->m.n; i++) {
            if (odin_labels_cmp(tmp[i - 1].ls, tmp[i].ls) == 0) {
                return odin_err_set(c->err, EV_ERR_EXEC,
                                    "vector cannot contain metrics with the same labelset");
            }
        }
        return 0;
    }
    if (v->m.n > 1) {
        qsort(v->m.s, v->m.n, sizeof(ev_series), labels_cmp_series);
    }
    return dropped ? merge_same_labels(c, &v->m) : 0;
}

static odin_labels copy_labels(odin_arena *a, odin_labels ls)
{
    odin_labels out = {NULL, ls.len};
    size_t bytes = 0;
    for (size_t i = 0; i < ls.len; i++) {
        bytes += ls.v[i].name.len + ls.v[i].value.len;
    }
    out.v = odin_arena_alloc(a, (ls.len ? ls.len : 1) * sizeof(odin_label));
    char *p = odin_arena_alloc(a, bytes + 1);
    if (!out.v || !p) {
        odin_oom();
    }
    for (size_t i = 0; i < ls.len; i++) {
        memcpy(p, ls.v[i].name.p, ls.v[i].name.len);
        out.v[i].name = (odin_str){p, ls.v[i].name.len};
        p += ls.v[i].name.len;
        memcpy(p, ls.v[i].value.p, ls.v[i].value.len);
        out.v[i].value = (odin_str){p, ls.v[i].value.len};
        p += ls.v[i].value.len;
    }
    return out;
}

static void *ralloc(odin_arena *a, size_t n)
{
    void *p = odin_arena_alloc(a, n ? n : 1);
    if (!p) {
        odin_oom();
    }
    return p;
}

static promql_result *build_result(ev_ctx *c, ev_value *v, bool range, promql_type top)
{
    promql_result *r = odin_calloc(1, sizeof(*r));
    r->mem = odin_calloc(1, sizeof(*r->mem));
    odin_arena *a = &r->mem->arena;
    odin_arena_init(a, 0);
    r->t = c->start;
    if (v->type == PROMQL_TYPE_STRING) {
        r->type = PROMQL_TYPE_STRING;
        r->string = odin_arena_strdup(a, v->str ? v->str : "");
    } else if (v->type == PROMQL_TYPE_SCALAR && !range) {
        r->type = PROMQL_TYPE_SCALAR;
        r->scalar = v->sc[0];
    } else if (v->type == PROMQL_TYPE_SCALAR) {
        r->type = PROMQL_TYPE_MATRIX;
        r->nseries = 1;
        r->series = ralloc(a, sizeof(promql_series));
        promql_series *s = &r->series[0];
        s->labels = (odin_labels){NULL, 0};
        s->n = c->nsteps;
        s->t = ralloc(a, c->nsteps * sizeof(int64_t));
        s->v = ralloc(a, c->nsteps * sizeof(double));
        for (size_t i = 0; i < c->nsteps; i++) {
            s->t[i] = ev_step_time(c, i);
            s->v[i] = v->sc[i];
        }
    } else {
        r->type = (range || top == PROMQL_TYPE_MATRIX) ? PROMQL_TYPE_MATRIX : PROMQL_TYPE_VECTOR;
        r->series = ralloc(a, (v->m.n ? v->m.n : 1) * sizeof(promql_series));
        for (size_t i = 0; i < v->m.n; i++) {
            const ev_series *es = &v->m.s[i];
            if (es->n == 0) {
                continue;
            }
            promql_series *s = &r->series[r->nseries++];
            s->labels = copy_labels(a, es->ls);
            s->n = es->n;
            s->t = ralloc(a, es->n * sizeof(int64_t));
            s->v = ralloc(a, es->n * sizeof(double));
            memcpy(s->t, es->t, es->n * sizeof(int64_t));
            memcpy(s->v, es->v, es->n * sizeof(double));
        }
    }
    if (c->nwarns) {
        r->warnings = ralloc(a, c->nwarns * sizeof(char *));
        for (size_t i = 0; i < c->nwarns; i++) {
            r->warnings[i] = odin_arena_strdup(a, c->warns[i]);
        }
        r->nwarnings = c->nwarns;
    }
    return r;
}

void promql_result_free(promql_result *r)
{
    if (!r) {
        return;
    }
    if (r->mem) {
        odin_arena_fini(&r->mem->arena);
        free(r->mem);
    }
    free(r);
}

/* Queries whose arena grew past this return freed memory to the system when they end. */
enum { EV_TRIM_AFTER_BYTES = 1 << 20 };

promql_result *ev_query(promql_engine *eng, tsdb *db, const char *query, size_t len, int64_t start,
                        int64_t end, int64_t step, bool range, const promql_parse_opts *popts,
                        odin_err *err)
{
    promql_expr *expr = promql_parse_ex(query, len, popts, err);
    if (!expr) {
        return NULL;
    }
    promql_type top = expr->root->type;
    if (range && top != PROMQL_TYPE_SCALAR && top != PROMQL_TYPE_VECTOR) {
        odin_err_set(err, ODIN_ERR_INVALID,
                     "invalid expression type \"%s\" for range query, must be Scalar or instant "
                     "Vector",
                     top == PROMQL_TYPE_MATRIX ? "range vector" : promql_type_name(top));
        promql_expr_free(expr);
        return NULL;
    }
    gate_enter(eng);
    odin_arena arena;
    odin_arena_init(&arena, 0);
    ev_ctx c = {
        .eng = eng,
        .db = db,
        .a = &arena,
        .err = err,
        .start = start,
        .end = end,
        .step = step > 0 ? step : 1,
        .qstart = start,
        .qend = end,
        .qstep = step,
        .lookback_ms = eng->opts.lookback_delta_ms,
        .default_sub_step_ms = 60 * 1000,
        .max_samples = eng->opts.max_samples,
        .deadline_ns = odin_mono_ns() + eng->opts.timeout_ms * 1000000,
        .query = expr->text,
    };
    c.nsteps = (size_t)((end - start) / c.step) + 1;
    ev_value v;
    promql_result *r = NULL;
    int rc = ev_eval(&c, expr->root, &v);
    if (rc == 0) {
        rc = finish_names(&c, &v, !range && v.type == PROMQL_TYPE_VECTOR);
    }
    if (rc == 0) {
        r = build_result(&c, &v, range, top);
    }
    for (size_t i = 0; i < c.nqueriers; i++) {
        tsdb_querier_close(c.queriers[i]);
    }
    bool big = arena.held_bytes >= EV_TRIM_AFTER_BYTES;
    odin_arena_fini(&arena);
    gate_leave(eng);
    promql_expr_free(expr);
    if (big) {
        /* A query over many series frees hundreds of MB (its arena and its queriers'). glibc
         * keeps freed heap memory in the arena of the HTTP worker thread that ran the query, so
         * without this each worker ends up holding the peak of the biggest query it served
         * (bench/promql: 200k series, +1.7 GB over 4 workers). Returning it costs a few ms
         * against a query that took hundreds. */
        malloc_trim(0);
    }
    return r;
}

promql_result *promql_query_instant(promql_engine *eng, tsdb *db, const char *query, size_t len,
                                    int64_t t, odin_err *err)
{
    return ev_query(eng, db, query, len, t, t, 0, false, NULL, err);
}

promql_result *promql_query_range(promql_engine *eng, tsdb *db, const char *query, size_t len,
                                  int64_t start, int64_t end, int64_t step, odin_err *err)
{
    if (step <= 0) {
        odin_err_set(err, ODIN_ERR_INVALID,
                     "zero or negative query resolution step widths are not accepted. Try a "
                     "positive integer");
        return NULL;
    }
    if (end < start) {
        odin_err_set(err, ODIN_ERR_INVALID, "end timestamp must not be before start time");
        return NULL;
    }
    return ev_query(eng, db, query, len, start, end, step, true, NULL, err);
}

/* ---- per-step gathering and output collection ---- */

void ev_vec_init(ev_ctx *c, ev_vec *v, size_t n)
{
    v->idx = ev_alloc(c, (n ? n : 1) * sizeof(uint32_t));
    v->v = ev_alloc(c, (n ? n : 1) * sizeof(double));
    v->n = 0;
}

void ev_gather(const ev_matrix *m, size_t *cursors, int64_t ts, ev_vec *out)
{
    out->n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const ev_series *s = &m->s[i];
        size_t k = cursors[i];
        while (k < s->n && s->t[k] < ts) {
            k++;
        }
        cursors[i] = k;
        if (k < s->n && s->t[k] == ts) {
            out->idx[out->n] = (uint32_t)i;
            out->v[out->n] = s->v[k];
            out->n++;
        }
    }
}

void ev_collector_init(ev_collector *col)
{
    memset(col, 0, sizeof(*col));
    odin_map_init(&col->map);
    odin_strbuf_init(&col->key, 0);
}

void ev_collector_fini(ev_collector *col)
{
    odin_map_fini(&col->map);
    odin_strbuf_fini(&col->key);
}

size_t ev_collector_get(ev_ctx *c, ev_collector *col, odin_labels ls, bool drop_name)
{
    odin_strbuf_reset(&col->key);
    ev_labels_key(&col->key, ls);
    void *hit = odin_map_get(&col->map, col->key.p, col->key.len);
    if (hit) {
        size_t idx = (size_t)(uintptr_t)hit - 1;
        if (drop_name) {
            col->m.s[idx].drop_name = true;
        }
        return idx;
    }
    char *k = ev_alloc(c, col->key.len);
    if (col->key.len) {
        memcpy(k, col->key.p, col->key.len);
    }
    ev_matrix_add(c, &col->m, ls, drop_name);
    size_t idx = col->m.n - 1;
    odin_map_put(&col->map, k, col->key.len, (void *)(uintptr_t)(idx + 1));
    if (idx >= col->seen_cap) {
        size_t ncap = col->seen_cap ? col->seen_cap * 2 : 16;
        int64_t *ns = ev_alloc(c, ncap * sizeof(int64_t));
        if (col->seen_cap) {
            memcpy(ns, col->seen, col->seen_cap * sizeof(int64_t));
        }
        col->seen = ns;
        col->seen_cap = ncap;
    }
    col->seen[idx] = INT64_MIN;
    return idx;
}

int ev_collector_push(ev_ctx *c, ev_collector *col, size_t idx, int64_t ts, double v)
{
    ev_series *s = &col->m.s[idx];
    if (s->n > 0 && s->t[s->n - 1] == ts) {
        return odin_err_set(c->err, EV_ERR_EXEC,
                            "vector cannot contain metrics with the same labelset");
    }
    ev_series_push(c, s, ts, v);
    return 0;
}

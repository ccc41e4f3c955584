/* Functions over range vectors (rate, increase, delta, irate, idelta, deriv, predict_linear,
 * double_exponential_smoothing, *_over_time, changes, resets, absent_over_time). Every series is
 * walked once with two cursors bounding the window (ref - range, ref] as the steps advance. */
#include "promql/engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t ts;        /* step time */
    int64_t ref;       /* window end */
    int64_t range_ms;
    double p0, p1;     /* scalar arguments at this step */
    ev_ctx *c;
} win_ctx;

typedef bool (*win_fn)(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                       double *res);

static bool extrapolated(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                         bool counter, bool rate, double *res)
{
    if (n < 2) {
        return false;
    }
    double result = v[n - 1] - v[0];
    if (counter) {
        for (size_t i = 1; i < n; i++) {
            if (v[i] < v[i - 1]) {
                result += v[i - 1];
            }
        }
    }
    int64_t range_start = w->ref - w->range_ms;
    double to_start = (double)(t[0] - range_start) / 1000;
    double to_end = (double)(w->ref - t[n - 1]) / 1000;
    double sampled = (double)(t[n - 1] - t[0]) / 1000;
    double avg = sampled / (double)(n - 1);
    double threshold = avg * 1.1;
    if (to_start >= threshold) {
        to_start = avg / 2;
    }
    if (counter) {
        /* a counter cannot have been negative: stop extrapolating at its zero point */
        double to_zero = to_start;
        if (result > 0 && v[0] >= 0) {
            to_zero = sampled * (v[0] / result);
        }
        if (to_zero < to_start) {
            to_start = to_zero;
        }
    }
    if (to_end >= threshold) {
        to_end = avg / 2;
    }
    double factor = 1.0;
    if (sampled != 0) {
        factor = (sampled + to_start + to_end) / sampled;
    }
    if (rate) {
        factor /= (double)w->range_ms / 1000;
    }
    *res = result * factor;
    return true;
}

static bool fn_rate(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    return extrapolated(w, t, v, n, true, true, res);
}

static bool fn_increase(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                        double *res)
{
    return extrapolated(w, t, v, n, true, false, res);
}

static bool fn_delta(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    return extrapolated(w, t, v, n, false, false, res);
}

static bool instant_value(const int64_t *t, const double *v, size_t n, bool rate, double *res)
{
    if (n < 2) {
        return false;
    }
    int64_t interval = t[n - 1] - t[n - 2];
    if (interval == 0) {
        return false;
    }
    double r = v[n - 1];
    if (!rate || !(v[n - 1] < v[n - 2])) {
        r = v[n - 1] - v[n - 2];
    }
    if (rate) {
        r /= (double)interval / 1000;
    }
    *res = r;
    return true;
}

static bool fn_irate(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    return instant_value(t, v, n, true, res);
}

static bool fn_idelta(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    return instant_value(t, v, n, false, res);
}

static void linear_regression(const int64_t *t, const double *v, size_t n, int64_t at,
                              double *slope, double *intercept)
{
    double cnt = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    bool const_y = true;
    for (size_t i = 0; i < n; i++) {
        if (const_y && i > 0 && v[i] != v[0]) {
            const_y = false;
        }
        cnt += 1;
        double x = (double)(t[i] - at) / 1e3;
        ev_kahan_inc(x, &sx, &cx);
        ev_kahan_inc(v[i], &sy, &cy);
        ev_kahan_inc(x * v[i], &sxy, &cxy);
        ev_kahan_inc(x * x, &sx2, &cx2);
    }
    if (const_y) {
        if (isinf(v[0])) {
            *slope = *intercept = NAN;
            return;
        }
        *slope = 0;
        *intercept = v[0];
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov = sxy - sx * sy / cnt;
    double var = sx2 - sx * sx / cnt;
    *slope = cov / var;
    *intercept = sy / cnt - *slope * sx / cnt;
}

static bool fn_deriv(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    if (n < 2) {
        return false;
    }
    double slope, icpt;
    linear_regression(t, v, n, t[0], &slope, &icpt);
    *res = slope;
    return true;
}

static bool fn_predict_linear(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                              double *res)
{
    if (n < 2) {
        return false;
    }
    double slope, icpt;
    linear_regression(t, v, n, w->ts, &slope, &icpt);
    *res = slope * w->p0 + icpt;
    return true;
}

static bool fn_smoothing(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                         double *res)
{
    (void)t;
    if (n < 2) {
        return false;
    }
    double sf = w->p0, tf = w->p1;
    double s0 = 0, s1 = v[0], b = v[1] - v[0];
    for (size_t i = 1; i < n; i++) {
        double x = sf * v[i];
        if (i - 1 > 0) {
            b = tf * (s1 - s0) + (1 - tf) * b;
        }
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    *res = s1;
    return true;
}

static bool fn_avg(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    (void)t;
    double sum = v[0], cnt = 1, mean = 0, comp = 0;
    bool incr = false;
    for (size_t i = 1; i < n; i++) {
        cnt = (double)(i + 1);
        if (!incr) {
            double ns = sum, nc = comp;
            ev_kahan_inc(v[i], &ns, &nc);
            if (!isinf(ns)) {
                sum = ns;
                comp = nc;
                continue;
            }
            incr = true;
            mean = sum / (cnt - 1);
            comp /= cnt - 1;
        }
        double q = (cnt - 1) / cnt;
        double m = q * mean, cc = q * comp;
        ev_kahan_inc(v[i] / cnt, &m, &cc);
        mean = m;
        comp = cc;
    }
    *res = incr ? mean + comp : sum / cnt + comp / cnt;
    return true;
}

static bool fn_sum(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    (void)t;
    double sum = 0, comp = 0;
    for (size_t i = 0; i < n; i++) {
        ev_kahan_inc(v[i], &sum, &comp);
    }
    *res = isinf(sum) ? sum : sum + comp;
    return true;
}

static bool fn_count(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    (void)t;
    (void)v;
    *res = (double)n;
    return true;
}

static bool fn_present(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                       double *res)
{
    (void)w;
    (void)t;
    (void)v;
    (void)n;
    *res = 1;
    return true;
}

/* max/min_over_time and ts_of_max/min_over_time: NaN loses to any number. */
static bool compare_over(const int64_t *t, const double *v, size_t n, bool max, bool or_equal,
                         bool want_ts, double *res)
{
    double best = v[0];
    int64_t bt = t[0];
    for (size_t i = 0; i < n; i++) {
        double f = v[i];
        bool better = max ? (f > best) : (f < best);
        if (or_equal && f == best) {
            better = true;
        }
        if (better || isnan(best)) {
            best = f;
            bt = t[i];
        }
    }
    *res = want_ts ? (double)bt / 1000 : best;
    return true;
}

static bool fn_max(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    return compare_over(t, v, n, true, false, false, res);
}

static bool fn_min(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    return compare_over(t, v, n, false, false, false, res);
}

static bool fn_ts_max(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    return compare_over(t, v, n, true, true, true, res);
}

static bool fn_ts_min(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    return compare_over(t, v, n, false, true, true, res);
}

static bool fn_ts_first(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                        double *res)
{
    (void)w;
    (void)v;
    (void)n;
    *res = (double)t[0] / 1000;
    return true;
}

static bool fn_ts_last(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                       double *res)
{
    (void)w;
    (void)v;
    *res = (double)t[n - 1] / 1000;
    return true;
}

static bool fn_last(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    (void)t;
    *res = v[n - 1];
    return true;
}

static bool fn_first(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    (void)t;
    (void)n;
    *res = v[0];
    return true;
}

static double *scratch(const win_ctx *w, const double *v, size_t n)
{
    double *s = ev_alloc(w->c, n * sizeof(double));
    memcpy(s, v, n * sizeof(double));
    return s;
}

static bool fn_quantile(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                        double *res)
{
    (void)t;
    *res = ev_quantile(w->p0, scratch(w, v, n), n);
    return true;
}

static bool fn_mad(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)t;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            *res = NAN;
            return true;
        }
    }
    double *s = scratch(w, v, n);
    double med = ev_quantile(0.5, s, n);
    for (size_t i = 0; i < n; i++) {
        s[i] = fabs(s[i] - med);
    }
    *res = ev_quantile(0.5, s, n);
    return true;
}

static double variance(const double *v, size_t n)
{
    double cnt = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
    for (size_t i = 0; i < n; i++) {
        cnt++;
        double delta = v[i] - (mean + cmean);
        ev_kahan_inc(delta / cnt, &mean, &cmean);
        ev_kahan_inc(delta * (v[i] - (mean + cmean)), &aux, &caux);
    }
    return (aux + caux) / cnt;
}

static bool fn_stdvar(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    (void)t;
    *res = variance(v, n);
    return true;
}

static bool fn_stddev(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    (void)t;
    *res = sqrt(variance(v, n));
    return true;
}

static bool fn_changes(const win_ctx *w, const int64_t *t, const double *v, size_t n,
                       double *res)
{
    (void)w;
    (void)t;
    double changes = 0;
    for (size_t i = 1; i < n; i++) {
        if (v[i] != v[i - 1] && !(isnan(v[i]) && isnan(v[i - 1]))) {
            changes++;
        }
    }
    *res = changes;
    return true;
}

static bool fn_resets(const win_ctx *w, const int64_t *t, const double *v, size_t n, double *res)
{
    (void)w;
    (void)t;
    double resets = 0;
    for (size_t i = 1; i < n; i++) {
        if (v[i] < v[i - 1]) {
            resets++;
        }
    }
    *res = resets;
    return true;
}

typedef struct {
    const char *name;
    win_fn fn;
    bool keep_name;
} range_fn;

static const range_fn range_fns[] = {
    {"rate", fn_rate, false},
    {"increase", fn_increase, false},
    {"delta", fn_delta, false},
    {"irate", fn_irate, false},
    {"idelta", fn_idelta, false},
    {"deriv", fn_deriv, false},
    {"predict_linear", fn_predict_linear, false},
    {"double_exponential_smoothing", fn_smoothing, false},
    {"holt_winters", fn_smoothing, false},
    {"avg_over_time", fn_avg, false},
    {"sum_over_time", fn_sum, false},
    {"count_over_time", fn_count, false},
    {"max_over_time", fn_max, false},
    {"min_over_time", fn_min, false},
    {"quantile_over_time", fn_quantile, false},
    {"stddev_over_time", fn_stddev, false},
    {"stdvar_over_time", fn_stdvar, false},
    {"mad_over_time", fn_mad, false},
    {"present_over_time", fn_present, false},
    {"last_over_time", fn_last, true},
    {"first_over_time", fn_first, true},
    {"ts_of_max_over_time", fn_ts_max, false},
    {"ts_of_min_over_time", fn_ts_min, false},
    {"ts_of_first_over_time", fn_ts_first, false},
    {"ts_of_last_over_time", fn_ts_last, false},
    {"changes", fn_changes, false},
    {"resets", fn_resets, false},
    {"absent_over_time", fn_present, false},
};

/* Labels of absent()'s output: the equality matchers of a plain selector, except __name__ and
 * any label matched twice. */
odin_labels ev_absent_labels(ev_ctx *c, const ast_node *arg)
{
    arg = ev_unparen(arg);
    odin_labels ls = {NULL, 0};
    if (!arg || (arg->kind != AST_VECTOR_SEL && arg->kind != AST_MATRIX_SEL)) {
        return ls;
    }
    const ast_selector *sel = &arg->u.sel;
    const char **seen = ev_alloc(c, (sel->nmatchers + 1) * sizeof(char *));
    size_t nseen = 0;
    for (size_t i = 0; i < sel->nmatchers; i++) {
        const tsdb_matcher *m = &sel->matchers[i];
        if (strcmp(m->name, "__name__") == 0) {
            continue;
        }
        bool had = ev_name_in(m->name, strlen(m->name), seen, nseen);
        if (m->type == TSDB_MATCH_EQ && !had) {
            ls = ev_labels_set(c, ls, m->name, odin_str_c(m->value));
            seen[nseen++] = m->name;
        } else {
            ls = ev_labels_del(c, ls, m->name);
        }
    }
    return ls;
}

static int scalar_arg(ev_ctx *c, const ast_call *call, size_t i, int matrix_arg, double **out)
{
    *out = NULL;
    if (i >= call->nargs || (int)i == matrix_arg) {
        return 0;
    }
    ev_value v;
    int rc = ev_eval(c, call->args[i], &v);
    if (rc < 0) {
        return rc;
    }
    *out = v.sc;
    return 0;
}

static int check_smoothing(ev_ctx *c, const double *sf, const double *tf)
{
    for (size_t i = 0; i < c->nsteps; i++) {
        if (!(sf[i] > 0 && sf[i] < 1)) {
            return odin_err_set(c->err, EV_ERR_EXEC,
                                "invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf[i]);
        }
        if (!(tf[i] > 0 && tf[i] < 1)) {
            return odin_err_set(c->err, EV_ERR_EXEC,
                                "invalid trend factor. Expected: 0 < tf < 1, got: %f", tf[i]);
        }
    }
    return 0;
}

static int absent_over_time(ev_ctx *c, const ast_node *arg, ev_matrix *res, ev_value *out)
{
    bool *found = ev_zalloc(c, c->nsteps * sizeof(bool));
    for (size_t i = 0; i < res->n; i++) {
        for (size_t k = 0; k < res->s[i].n; k++) {
            found[(res->s[i].t[k] - c->start) / c->step] = true;
        }
    }
    out->type = PROMQL_TYPE_VECTOR;
    memset(&out->m, 0, sizeof(out->m));
    ev_series *s = NULL;
    for (size_t i = 0; i < c->nsteps; i++) {
        if (found[i]) {
            continue;
        }
        if (!s) {
            s = ev_matrix_add(c, &out->m, ev_absent_labels(c, arg), true);
        }
        ev_series_push(c, s, ev_step_time(c, i), 1);
    }
    return 0;
}

/* What a range function call needs besides its samples: the function, its scalar arguments per
 * step, and where its range argument sits. */
typedef struct {
    const ast_call *call;
    const range_fn *rf;
    int matrix_arg;
    double *p0, *p1;
    ev_rangesrc src;
    uint32_t *steps; /* scratch for one series' points */
    double *vals;
    odin_str warned; /* the metric name warned about last (series of one name come together) */
} range_call;

static const range_fn *find_range_fn(const char *name)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(range_fns); i++) {
        if (strcmp(range_fns[i].name, name) == 0) {
            return &range_fns[i];
        }
    }
    return NULL;
}

/* Looks the function up and evaluates its scalar arguments, with their checks and warnings. */
static int range_call_init(ev_ctx *c, const ast_node *n, int matrix_arg, range_call *rc_out)
{
    const ast_call *call = &n->u.call;
    const char *name = call->fn->name;
    memset(rc_out, 0, sizeof(*rc_out));
    rc_out->call = call;
    rc_out->matrix_arg = matrix_arg;
    rc_out->rf = find_range_fn(name);
    const range_fn *rf = rc_out->rf;
    if (!rf) {
        return odin_err_set(c->err, EV_ERR_EXEC, "function %s over a range vector is not "
                            "supported", name);
    }
    double *p0 = NULL, *p1 = NULL;
    size_t first_scalar = matrix_arg == 0 ? 1 : 0;
    int rc = scalar_arg(c, call, first_scalar, matrix_arg, &p0);
    if (rc == 0) {
        rc = scalar_arg(c, call, first_scalar + 1 + (matrix_arg == 1 ? 1 : 0), matrix_arg, &p1);
    }
    if (rc < 0) {
        return rc;
    }
    rc_out->p0 = p0;
    rc_out->p1 = p1;
    if (rf->fn == fn_smoothing && p0 && p1) {
        rc = check_smoothing(c, p0, p1);
        if (rc < 0) {
            return rc;
        }
    }
    if (rf->fn == fn_quantile && p0) {
        for (size_t i = 0; i < c->nsteps; i++) {
            if (isnan(p0[i]) || p0[i] < 0 || p0[i] > 1) {
                odin_strbuf b;
                odin_strbuf_init(&b, 0);
                odin_strbuf_put_double(&b, p0[i]);
                ev_warn_at(c, call->args[0], "PromQL warning: quantile value should be between 0 and 1, got %s",
                           b.p);
                odin_strbuf_fini(&b);
                break;
            }
        }
    }
    rc_out->steps = ev_alloc(c, c->nsteps * sizeof(*rc_out->steps));
    rc_out->vals = ev_alloc(c, c->nsteps * sizeof(*rc_out->vals));
    return 0;
}

/* One series' points (into rcall->steps/vals; returns how many), counting its samples against
 * the limit first (*err < 0 when passed) and warning about non-counters given to rate/increase. */
static size_t range_series(ev_ctx *c, range_call *rcall, odin_labels ls, const int64_t *t,
                           const double *v, size_t n, int *err)
{
    const range_fn *rf = rcall->rf;
    const ev_rangesrc *src = &rcall->src;
    *err = ev_add_samples(c, n);
    if (*err < 0) {
        return 0;
    }
    win_ctx w = {.range_ms = src->range_ms, .c = c};
    size_t lo = 0, hi = 0, np = 0;
    for (size_t step = 0; step < c->nsteps; step++) {
        w.ts = ev_step_time(c, step);
        w.ref = (src->at_fixed ? src->at_ms : w.ts) - src->offset_ms;
        while (hi < n && t[hi] <= w.ref) {
            hi++;
        }
        while (lo < hi && t[lo] <= w.ref - src->range_ms) {
            lo++;
        }
        if (lo == hi) {
            continue;
        }
        w.p0 = rcall->p0 ? rcall->p0[step] : 0;
        w.p1 = rcall->p1 ? rcall->p1[step] : 0;
        double r;
        if (!rf->fn(&w, t + lo, v + lo, hi - lo, &r)) {
            continue;
        }
        rcall->steps[np] = (uint32_t)step;
        rcall->vals[np++] = r;
    }
    if (np && (rf->fn == fn_rate || rf->fn == fn_increase)) {
        odin_str mn = ev_label_get(ls, "__name__");
        /* ev_warn drops repeats too, but formatting one per series was ~10% of a 4000-series
         * sum(rate()) */
        bool repeat = mn.len == rcall->warned.len && mn.len &&
                      (mn.p == rcall->warned.p || memcmp(mn.p, rcall->warned.p, mn.len) == 0);
        if (mn.len && !repeat && !odin_str_has_suffix(mn, "_total") &&
            !odin_str_has_suffix(mn, "_sum") && !odin_str_has_suffix(mn, "_count") &&
            !odin_str_has_suffix(mn, "_bucket")) {
            rcall->warned = mn;
            ev_warn_at(c, rcall->call->args[rcall->matrix_arg],
                       "PromQL info: metric might not be a counter, name does not end in "
                       "_total/_sum/_count/_bucket: \"%.*s\"", (int)mn.len, mn.p);
        }
    }
    return np;
}

int ev_call_range(ev_ctx *c, const ast_node *n, int matrix_arg, ev_value *out)
{
    range_call rcall;
    int rc = range_call_init(c, n, matrix_arg, &rcall);
    if (rc < 0) {
        return rc;
    }
    rc = ev_range_source(c, rcall.call->args[matrix_arg], &rcall.src);
    if (rc < 0) {
        return rc;
    }
    ev_value res = {.type = PROMQL_TYPE_VECTOR};
    for (size_t i = 0; i < rcall.src.m.n; i++) {
        const ev_series *r = &rcall.src.m.s[i];
        size_t np = range_series(c, &rcall, r->ls, r->t, r->v, r->n, &rc);
        if (rc < 0) {
            return rc;
        }
        if (np) {
            ev_series *s = ev_matrix_add(c, &res.m, r->ls, !rcall.rf->keep_name || r->drop_name);
            for (size_t k = 0; k < np; k++) {
                ev_series_push(c, s, ev_step_time(c, rcall.steps[k]), rcall.vals[k]);
            }
        }
        rc = ev_check_deadline(c);
        if (rc < 0) {
            return rc;
        }
    }
    if (strcmp(rcall.call->fn->name, "absent_over_time") == 0) {
        return absent_over_time(c, rcall.call->args[matrix_arg], &res.m, out);
    }
    *out = res;
    return 0;
}

typedef struct {
    range_call rcall;
    ev_series_fn fn;
    void *arg;
} range_stream;

static int range_stream_series(ev_ctx *c, odin_labels ls, const int64_t *t, const double *v,
                               size_t n, void *arg)
{
    range_stream *rs = arg;
    int rc;
    size_t np = range_series(c, &rs->rcall, ls, t, v, n, &rc);
    if (rc < 0 || np == 0) {
        return rc;
    }
    return rs->fn(c, ls, !rs->rcall.rf->keep_name, rs->rcall.steps, rs->rcall.vals, np, rs->arg);
}

/* Whether the selector can only select one metric name (an equality matcher on __name__): then
 * rate's and increase's warnings (one per name) cannot come in another order. */
static bool one_name(const ast_node *n)
{
    const ast_selector *sel = &ev_unparen(n)->u.sel;
    for (size_t i = 0; i < sel->nmatchers; i++) {
        if (sel->matchers[i].type == TSDB_MATCH_EQ &&
            strcmp(sel->matchers[i].name, "__name__") == 0) {
            return true;
        }
    }
    return false;
}

int ev_call_range_each(ev_ctx *c, const ast_node *n, bool any_order, ev_series_fn fn, void *arg,
                       bool *done)
{
    if (n->kind != AST_CALL || strcmp(n->u.call.fn->name, "absent_over_time") == 0 ||
        !find_range_fn(n->u.call.fn->name)) {
        return 0;
    }
    int matrix_arg = -1;
    for (size_t i = 0; i < n->u.call.nargs && matrix_arg < 0; i++) {
        const ast_node *a = ev_unparen(n->u.call.args[i]);
        if (a && (a->kind == AST_MATRIX_SEL || a->kind == AST_SUBQUERY)) {
            matrix_arg = (int)i;
        }
    }
    if (matrix_arg < 0 || ev_unparen(n->u.call.args[matrix_arg])->kind != AST_MATRIX_SEL) {
        return 0;
    }
    range_stream rs = {.fn = fn, .arg = arg};
    int rc = range_call_init(c, n, matrix_arg, &rs.rcall);
    const ast_node *msel = n->u.call.args[matrix_arg];
    bool warns = rs.rcall.rf && (rs.rcall.rf->fn == fn_rate || rs.rcall.rf->fn == fn_increase);
    if (warns && !one_name(msel)) {
        any_order = false;
    }
    if (rc == 0) {
        rc = ev_range_selector_each(c, msel, any_order, &rs.rcall.src, range_stream_series, &rs);
    }
    *done = true;
    return rc;
}

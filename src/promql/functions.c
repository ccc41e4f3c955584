/* Functions over instant vectors and scalars: element-wise math, clamp and round, time and date
 * functions, vector/scalar conversion, absent, timestamp, and the dispatch to the series-level
 * (functions_labels.c) and whole-vector (functions_vector.c) families. */
#include "promql/functions_int.h"

#include <math.h>
#include <string.h>
#include <time.h>

static double f_abs(double v) { return fabs(v); }
static double f_ceil(double v) { return ceil(v); }
static double f_floor(double v) { return floor(v); }
static double f_exp(double v) { return exp(v); }
static double f_sqrt(double v) { return sqrt(v); }
static double f_ln(double v) { return log(v); }
static double f_log2(double v) { return log2(v); }
static double f_log10(double v) { return log10(v); }
static double f_sin(double v) { return sin(v); }
static double f_cos(double v) { return cos(v); }
static double f_tan(double v) { return tan(v); }
static double f_asin(double v) { return asin(v); }
static double f_acos(double v) { return acos(v); }
static double f_atan(double v) { return atan(v); }
static double f_sinh(double v) { return sinh(v); }
static double f_cosh(double v) { return cosh(v); }
static double f_tanh(double v) { return tanh(v); }
static double f_asinh(double v) { return asinh(v); }
static double f_acosh(double v) { return acosh(v); }
static double f_atanh(double v) { return atanh(v); }
static double f_deg(double v) { return v * 180 / M_PI; }
static double f_rad(double v) { return v * M_PI / 180; }
static double f_sgn(double v) { return v < 0 ? -1 : (v > 0 ? 1 : v); }

typedef struct {
    const char *name;
    double (*fn)(double);
} math_fn;

static const math_fn math_fns[] = {
    {"abs", f_abs},     {"ceil", f_ceil},   {"floor", f_floor}, {"exp", f_exp},
    {"sqrt", f_sqrt},   {"ln", f_ln},       {"log2", f_log2},   {"log10", f_log10},
    {"sin", f_sin},     {"cos", f_cos},     {"tan", f_tan},     {"asin", f_asin},
    {"acos", f_acos},   {"atan", f_atan},   {"sinh", f_sinh},   {"cosh", f_cosh},
    {"tanh", f_tanh},   {"asinh", f_asinh}, {"acosh", f_acosh}, {"atanh", f_atanh},
    {"deg", f_deg},     {"rad", f_rad},     {"sgn", f_sgn},
};

size_t fn_step_index(const ev_ctx *c, int64_t t)
{
    return (size_t)((t - c->start) / c->step);
}

static int eval_args(ev_ctx *c, const ast_call *call, ev_value *args)
{
    for (size_t i = 0; i < call->nargs; i++) {
        int rc = ev_eval(c, call->args[i], &args[i]);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static void map_values(ev_value *v, double (*fn)(double))
{
    for (size_t i = 0; i < v->m.n; i++) {
        ev_series *s = &v->m.s[i];
        s->drop_name = true;
        for (size_t k = 0; k < s->n; k++) {
            s->v[k] = fn(s->v[k]);
        }
    }
}

/* Go's math.Max/Min: NaN wins (C's fmax/fmin ignore it). */
static double go_max(double a, double b)
{
    return (isnan(a) || isnan(b)) ? NAN : fmax(a, b);
}

static double go_min(double a, double b)
{
    return (isnan(a) || isnan(b)) ? NAN : fmin(a, b);
}

/* clamp, clamp_min, clamp_max: a step where max < min yields nothing. */
static void clamp(ev_ctx *c, ev_value *v, const double *lo, const double *hi)
{
    for (size_t i = 0; i < v->m.n; i++) {
        ev_series *s = &v->m.s[i];
        s->drop_name = true;
        size_t w = 0;
        for (size_t k = 0; k < s->n; k++) {
            size_t st = fn_step_index(c, s->t[k]);
            double mn = lo ? lo[st] : -INFINITY, mx = hi ? hi[st] : INFINITY;
            if (mx < mn) {
                continue;
            }
            s->t[w] = s->t[k];
            s->v[w] = go_max(mn, go_min(mx, s->v[k]));
            w++;
        }
        s->n = w;
    }
}

static void round_values(ev_ctx *c, ev_value *v, const double *to)
{
    for (size_t i = 0; i < v->m.n; i++) {
        ev_series *s = &v->m.s[i];
        s->drop_name = true;
        for (size_t k = 0; k < s->n; k++) {
            double inv = 1.0 / (to ? to[fn_step_index(c, s->t[k])] : 1.0);
            s->v[k] = floor(s->v[k] * inv + 0.5) / inv;
        }
    }
}

static double date_part(const char *name, double secs)
{
    time_t t = (time_t)(int64_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        return NAN;
    }
    if (strcmp(name, "minute") == 0) {
        return tm.tm_min;
    }
    if (strcmp(name, "hour") == 0) {
        return tm.tm_hour;
    }
    if (strcmp(name, "day_of_week") == 0) {
        return tm.tm_wday;
    }
    if (strcmp(name, "day_of_month") == 0) {
        return tm.tm_mday;
    }
    if (strcmp(name, "day_of_year") == 0) {
        return tm.tm_yday + 1;
    }
    if (strcmp(name, "month") == 0) {
        return tm.tm_mon + 1;
    }
    if (strcmp(name, "year") == 0) {
        return (double)tm.tm_year + 1900;
    }
    /* days_in_month */
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm.tm_year + 1900;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[tm.tm_mon] + (tm.tm_mon == 1 && leap ? 1 : 0);
}

static bool is_date_fn(const char *name)
{
    static const char *const names[] = {"minute", "hour", "day_of_week", "day_of_month",
                                         "day_of_year", "month", "year", "days_in_month"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(names); i++) {
        if (strcmp(names[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static int date_fn(ev_ctx *c, const char *name, ev_value *args, size_t nargs, ev_value *out)
{
    if (nargs == 0) {
        out->type = PROMQL_TYPE_VECTOR;
        ev_series *s = ev_matrix_add(c, &out->m, (odin_labels){NULL, 0}, false);
        for (size_t i = 0; i < c->nsteps; i++) {
            int64_t ts = ev_step_time(c, i);
            ev_series_push(c, s, ts, date_part(name, (double)(ts / 1000)));
        }
        return 0;
    }
    *out = args[0];
    for (size_t i = 0; i < out->m.n; i++) {
        ev_series *s = &out->m.s[i];
        s->drop_name = true;
        for (size_t k = 0; k < s->n; k++) {
            s->v[k] = date_part(name, s->v[k]);
        }
    }
    return 0;
}

static int scalar_fn(ev_ctx *c, ev_value *arg, ev_value *out)
{
    out->type = PROMQL_TYPE_SCALAR;
    out->sc = ev_alloc(c, c->nsteps * sizeof(double));
    uint32_t *cnt = ev_zalloc(c, c->nsteps * sizeof(uint32_t));
    for (size_t i = 0; i < c->nsteps; i++) {
        out->sc[i] = NAN;
    }
    for (size_t i = 0; i < arg->m.n; i++) {
        ev_series *s = &arg->m.s[i];
        for (size_t k = 0; k < s->n; k++) {
            size_t st = fn_step_index(c, s->t[k]);
            out->sc[st] = cnt[st]++ ? NAN : s->v[k];
        }
    }
    return 0;
}

static int absent_fn(ev_ctx *c, const ast_node *argn, ev_value *arg, ev_value *out)
{
    bool *found = ev_zalloc(c, c->nsteps * sizeof(bool));
    for (size_t i = 0; i < arg->m.n; i++) {
        for (size_t k = 0; k < arg->m.s[i].n; k++) {
            found[fn_step_index(c, arg->m.s[i].t[k])] = true;
        }
    }
    out->type = PROMQL_TYPE_VECTOR;
    ev_series *s = NULL;
    for (size_t i = 0; i < c->nsteps; i++) {
        if (found[i]) {
            continue;
        }
        if (!s) {
            s = ev_matrix_add(c, &out->m, ev_absent_labels(c, argn), false);
        }
        ev_series_push(c, s, ev_step_time(c, i), 1);
    }
    return 0;
}

static int time_fns(ev_ctx *c, const char *name, ev_value *args, ev_value *out, bool *done)
{
    *done = true;
    if (strcmp(name, "time") == 0 || strcmp(name, "pi") == 0) {
        out->type = PROMQL_TYPE_SCALAR;
        out->sc = ev_alloc(c, c->nsteps * sizeof(double));
        for (size_t i = 0; i < c->nsteps; i++) {
            out->sc[i] = name[0] == 'p' ? M_PI : (double)ev_step_time(c, i) / 1000;
        }
        return 0;
    }
    /* start(), end(), range(), step(): the query's own range, in seconds */
    if (strcmp(name, "start") == 0 || strcmp(name, "end") == 0 || strcmp(name, "range") == 0 ||
        strcmp(name, "step") == 0) {
        double v = name[0] == 's' && name[1] == 't' && name[2] == 'a' ? (double)c->qstart
                   : name[0] == 'e'                                 ? (double)c->qend
                   : name[0] == 'r'                                 ? (double)(c->qend - c->qstart)
                                                                    : (double)c->qstep;
        out->type = PROMQL_TYPE_SCALAR;
        out->sc = ev_alloc(c, c->nsteps * sizeof(double));
        for (size_t i = 0; i < c->nsteps; i++) {
            out->sc[i] = v / 1000;
        }
        return 0;
    }
    if (strcmp(name, "vector") == 0) {
        out->type = PROMQL_TYPE_VECTOR;
        ev_series *s = ev_matrix_add(c, &out->m, (odin_labels){NULL, 0}, false);
        for (size_t i = 0; i < c->nsteps; i++) {
            ev_series_push(c, s, ev_step_time(c, i), args[0].sc[i]);
        }
        return 0;
    }
    if (strcmp(name, "scalar") == 0) {
        return scalar_fn(c, &args[0], out);
    }
    if (strcmp(name, "min_of") == 0 || strcmp(name, "max_of") == 0) {
        out->type = PROMQL_TYPE_SCALAR;
        out->sc = args[0].sc;
        for (size_t i = 0; i < c->nsteps; i++) {
            double a = args[0].sc[i], b = args[1].sc[i];
            out->sc[i] = name[1] == 'i' ? go_min(a, b) : go_max(a, b);
        }
        return 0;
    }
    *done = false;
    return 0;
}

int ev_call(ev_ctx *c, const ast_node *n, ev_value *out)
{
    const ast_call *call = &n->u.call;
    const char *name = call->fn->name;
    if (strcmp(name, "label_replace") == 0 || strcmp(name, "label_join") == 0) {
        return fn_label_call(c, call, out);
    }
    if (strcmp(name, "timestamp") == 0 && call->nargs == 1 &&
        ev_unparen(call->args[0])->kind == AST_VECTOR_SEL) {
        int rc = ev_vector_selector(c, ev_unparen(call->args[0]), true, out);
        for (size_t i = 0; rc == 0 && i < out->m.n; i++) {
            out->m.s[i].drop_name = true;
        }
        return rc;
    }
    ev_value *args = ev_zalloc(c, (call->nargs + 1) * sizeof(ev_value));
    int rc = eval_args(c, call, args);
    if (rc < 0) {
        return rc;
    }
    bool done;
    rc = time_fns(c, name, args, out, &done);
    if (done) {
        return rc;
    }
    for (size_t i = 0; i < ODIN_ARRAY_LEN(math_fns); i++) {
        if (strcmp(math_fns[i].name, name) == 0) {
            *out = args[0];
            map_values(out, math_fns[i].fn);
            return 0;
        }
    }
    if (is_date_fn(name)) {
        return date_fn(c, name, args, call->nargs, out);
    }
    if (strcmp(name, "absent") == 0) {
        return absent_fn(c, call->args[0], &args[0], out);
    }
    *out = args[0];
    if (strcmp(name, "clamp") == 0) {
        clamp(c, out, args[1].sc, args[2].sc);
        return 0;
    }
    if (strcmp(name, "clamp_min") == 0) {
        clamp(c, out, args[1].sc, NULL);
        return 0;
    }
    if (strcmp(name, "clamp_max") == 0) {
        clamp(c, out, NULL, args[1].sc);
        return 0;
    }
    if (strcmp(name, "round") == 0) {
        round_values(c, out, call->nargs > 1 ? args[1].sc : NULL);
        return 0;
    }
    if (strcmp(name, "timestamp") == 0) {
        for (size_t i = 0; i < out->m.n; i++) {
            ev_series *s = &out->m.s[i];
            s->drop_name = true;
            for (size_t k = 0; k < s->n; k++) {
                s->v[k] = (double)s->t[k] / 1000;
            }
        }
        return 0;
    }
    return fn_vector_call(c, n, args, out);
}

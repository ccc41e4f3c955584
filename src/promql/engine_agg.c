/* Aggregation operators (sum avg count min max group stddev stdvar quantile topk bottomk limitk
 * limit_ratio count_values) with by/without. Each input series is assigned its group once; each
 * step then folds the elements present into per-group accumulators. */
#include "promql/engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Kahan-Neumaier step, as Prometheus' kahansum.Inc. */
void ev_kahan_inc(double inc, double *sum, double *comp)
{
    double t = *sum + inc;
    if (isinf(t)) {
        *comp = 0;
    } else if (fabs(*sum) >= fabs(inc)) {
        *comp += (*sum - t) + inc;
    } else {
        *comp += (inc - t) + *sum;
    }
    *sum = t;
}

static int nan_first_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x)) {
        return isnan(y) ? 0 : -1;
    }
    if (isnan(y)) {
        return 1;
    }
    return (x > y) - (x < y);
}

double ev_quantile(double q, double *vals, size_t n)
{
    if (n == 0 || isnan(q)) {
        return NAN;
    }
    if (q < 0) {
        return -INFINITY;
    }
    if (q > 1) {
        return INFINITY;
    }
    qsort(vals, n, sizeof(double), nan_first_cmp);
    double rank = q * (double)(n - 1);
    double lower = fmax(0, floor(rank));
    double upper = fmin((double)(n - 1), lower + 1);
    double weight = rank - floor(rank);
    return vals[(size_t)lower] * (1 - weight) + vals[(size_t)upper] * weight;
}

typedef ev_agg_acc agg_acc;

/* buf is a scratch buffer reused for every series, so only the labels of new groups reach the
 * arena (over 200k series a copy each cost ~40 MB per query). */
odin_labels ev_agg_group_labels(const ast_aggregate *ag, odin_labels ls, odin_label *buf)
{
    odin_labels out = {buf, 0};
    for (size_t i = 0; i < ls.len; i++) {
        odin_str name = ls.v[i].name;
        bool listed = ev_name_in(name.p, name.len, ag->grouping, ag->ngrouping);
        if (ag->without ? (!listed && !odin_str_eq_c(name, "__name__")) : listed) {
            out.v[out.len++] = ls.v[i];
        }
    }
    return out;
}

void ev_agg_acc_first(ast_aggop op, agg_acc *a, double f)
{
    a->val = f;
    a->mean = f;
    a->comp = 0;
    a->count = 1;
    a->incr = false;
    if (op == AGG_STDDEV || op == AGG_STDVAR) {
        a->val = (isnan(f) || isinf(f)) ? NAN : 0;
    } else if (op == AGG_GROUP) {
        a->val = 1;
    }
}

void ev_agg_acc_add(ast_aggop op, agg_acc *a, double f)
{
    switch (op) {
    case AGG_SUM:
        ev_kahan_inc(f, &a->val, &a->comp);
        break;
    case AGG_AVG: {
        a->count++;
        if (!a->incr) {
            double nv = a->val, nc = a->comp;
            ev_kahan_inc(f, &nv, &nc);
            if (!isinf(nv)) {
                a->val = nv;
                a->comp = nc;
                break;
            }
            a->incr = true;
            a->mean = a->val / (a->count - 1);
            a->comp /= a->count - 1;
        }
        double q = (a->count - 1) / a->count;
        double m = q * a->mean, cc = q * a->comp;
        ev_kahan_inc(f / a->count, &m, &cc);
        a->mean = m;
        a->comp = cc;
        break;
    }
    case AGG_MAX:
        if (a->val < f || isnan(a->val)) {
            a->val = f;
        }
        break;
    case AGG_MIN:
        if (a->val > f || isnan(a->val)) {
            a->val = f;
        }
        break;
    case AGG_COUNT:
        a->count++;
        break;
    case AGG_STDDEV:
    case AGG_STDVAR: {
        a->count++;
        double delta = f - a->mean;
        a->mean += delta / a->count;
        a->val += delta * (f - a->mean);
        break;
    }
    default:
        break;
    }
}

double ev_agg_acc_final(ast_aggop op, const agg_acc *a)
{
    switch (op) {
    case AGG_SUM:
        return a->val + a->comp;
    case AGG_AVG:
        if (a->incr) {
            return a->mean + a->comp;
        }
        return a->val / a->count + a->comp / a->count;
    case AGG_COUNT:
        return a->count;
    case AGG_STDVAR:
        return a->val / a->count;
    case AGG_STDDEV:
        return sqrt(a->val / a->count);
    default:
        return a->val;
    }
}

typedef struct {
    uint32_t idx;
    double v;
} kel;

static int kel_desc(const void *a, const void *b)
{
    const kel *x = a, *y = b;
    if (isnan(x->v) != isnan(y->v)) {
        return isnan(x->v) ? 1 : -1;
    }
    if (x->v != y->v && !isnan(x->v)) {
        return x->v > y->v ? -1 : 1;
    }
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int kel_asc(const void *a, const void *b)
{
    const kel *x = a, *y = b;
    if (isnan(x->v) != isnan(y->v)) {
        return isnan(x->v) ? 1 : -1;
    }
    if (x->v != y->v && !isnan(x->v)) {
        return x->v < y->v ? -1 : 1;
    }
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* limit_ratio's deterministic sampling: a series is in when its label hash, as a fraction of the
 * hash space, falls below the ratio (or at or above 1+ratio for negative ratios). */
static bool ratio_keep(odin_labels ls, double r)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < ls.len; i++) {
        h = odin_hash_stable(ls.v[i].name.p, ls.v[i].name.len, h);
        h = odin_hash_stable(ls.v[i].value.p, ls.v[i].value.len, h);
    }
    double off = (double)h / 18446744073709551615.0;
    return r >= 0 ? off < r : off >= 1 + r;
}

/* topk bottomk limitk limit_ratio: output series are input series, chosen per group and step. */
static int agg_k(ev_ctx *c, const ast_aggregate *ag, ev_value *in, ev_value *param,
                 const uint32_t *grp, size_t ngroups, ev_value *out)
{
    size_t *cur = ev_zalloc(c, (in->m.n + 1) * sizeof(size_t));
    size_t *outidx = ev_alloc(c, (in->m.n + 1) * sizeof(size_t));
    memset(outidx, 0xff, (in->m.n + 1) * sizeof(size_t));
    size_t *gcount = ev_alloc(c, (ngroups + 1) * sizeof(size_t));
    size_t *goff = ev_alloc(c, (ngroups + 1) * sizeof(size_t));
    kel *els = ev_alloc(c, (in->m.n + 1) * sizeof(kel));
    ev_vec v;
    ev_vec_init(c, &v, in->m.n);
    out->type = PROMQL_TYPE_VECTOR;
    for (size_t step = 0; step < c->nsteps; step++) {
        int64_t ts = ev_step_time(c, step);
        double p = param->sc[step];
        ev_gather(&in->m, cur, ts, &v);
        if (ag->op == AGG_LIMIT_RATIO) {
            if (isnan(p)) {
                return odin_err_set(c->err, EV_ERR_EXEC, "Ratio value is NaN");
            }
            if (p == 0) {
                continue;
            }
            p = p < -1 ? -1 : (p > 1 ? 1 : p);
        } else if (isnan(p)) {
            return odin_err_set(c->err, EV_ERR_EXEC, "Parameter value is NaN");
        }
        int64_t k = 0;
        if (ag->op != AGG_LIMIT_RATIO) {
            if (p >= 9.2e18 || p <= -9.2e18) {
                return odin_err_set(c->err, EV_ERR_EXEC, "Scalar value %g %s int64", p,
                                    p > 0 ? "overflows" : "underflows");
            }
            k = (int64_t)p;
            if (k > (int64_t)in->m.n) {
                k = (int64_t)in->m.n;
            }
            if (k < 1) {
                continue;
            }
        }
        memset(gcount, 0, (ngroups + 1) * sizeof(size_t));
        for (size_t i = 0; i < v.n; i++) {
            gcount[grp[v.idx[i]]]++;
        }
        size_t off = 0;
        for (size_t g = 0; g < ngroups; g++) {
            goff[g] = off;
            off += gcount[g];
            gcount[g] = 0;
        }
        for (size_t i = 0; i < v.n; i++) {
            uint32_t g = grp[v.idx[i]];
            els[goff[g] + gcount[g]++] = (kel){v.idx[i], v.v[i]};
        }
        for (size_t g = 0; g < ngroups; g++) {
            kel *ge = els + goff[g];
            size_t n = gcount[g], take = n;
            if (ag->op == AGG_TOPK || ag->op == AGG_BOTTOMK) {
                qsort(ge, n, sizeof(kel), ag->op == AGG_TOPK ? kel_desc : kel_asc);
            }
            if (ag->op != AGG_LIMIT_RATIO && (size_t)k < take) {
                take = (size_t)k;
            }
            for (size_t i = 0; i < take; i++) {
                uint32_t si = ge[i].idx;
                if (ag->op == AGG_LIMIT_RATIO && !ratio_keep(in->m.s[si].ls, p)) {
                    continue;
                }
                if (outidx[si] == SIZE_MAX) {
                    ev_matrix_add(c, &out->m, in->m.s[si].ls, in->m.s[si].drop_name);
                    outidx[si] = out->m.n - 1;
                }
                ev_series_push(c, &out->m.s[outidx[si]], ts, ge[i].v);
            }
        }
    }
    return 0;
}

static int agg_count_values(ev_ctx *c, const ast_aggregate *ag, ev_value *in, const char *lname,
                            ev_value *out)
{
    size_t *cur = ev_zalloc(c, (in->m.n + 1) * sizeof(size_t));
    size_t *counts = NULL, ncounts = 0;
    ev_vec v;
    ev_vec_init(c, &v, in->m.n);
    ev_collector col;
    ev_collector_init(&col);
    char buf[400];
    const char **grouping = ev_alloc(c, (ag->ngrouping + 1) * sizeof(char *));
    if (ag->ngrouping) {
        memcpy(grouping, ag->grouping, ag->ngrouping * sizeof(char *));
    }
    size_t ng = ag->ngrouping;
    if (!ag->without) {
        grouping[ng++] = lname;
    }
    for (size_t step = 0; step < c->nsteps; step++) {
        int64_t ts = ev_step_time(c, step);
        ev_gather(&in->m, cur, ts, &v);
        size_t first = col.m.n;
        (void)first;
        for (size_t i = 0; i < v.n; i++) {
            promql_format_value_f(v.v[i], buf);
            odin_labels ls = ev_labels_set(c, in->m.s[v.idx[i]].ls, lname, odin_str_c(buf));
            ls = ag->without ? ev_labels_drop(c, ls, grouping, ng, true)
                             : ev_labels_keep(c, ls, grouping, ng);
            size_t oi = ev_collector_get(c, &col, ls, false);
            if (oi >= ncounts) {
                size_t nn = (oi + 1) * 2;
                size_t *nc = ev_zalloc(c, nn * sizeof(size_t));
                if (ncounts) {
                    memcpy(nc, counts, ncounts * sizeof(size_t));
                }
                counts = nc;
                ncounts = nn;
            }
            if (col.seen[oi] != ts) {
                col.seen[oi] = ts;
                counts[oi] = 0;
            }
            counts[oi]++;
        }
        for (size_t oi = 0; oi < col.m.n; oi++) {
            if (col.seen[oi] == ts) {
                ev_series_push(c, &col.m.s[oi], ts, (double)counts[oi]);
            }
        }
    }
    ev_collector_fini(&col);
    out->type = PROMQL_TYPE_VECTOR;
    out->m = col.m;
    return 0;
}

static int agg_fold(ev_ctx *c, const ast_aggregate *ag, ev_value *in, ev_value *param,
                    const uint32_t *grp, const odin_labels *glabels, const bool *gdrop,
                    size_t ngroups, ev_value *out)
{
    agg_acc *acc = ev_alloc(c, (ngroups + 1) * sizeof(agg_acc));
    size_t *outidx = ev_alloc(c, (ngroups + 1) * sizeof(size_t));
    for (size_t g = 0; g < ngroups; g++) {
        acc[g].gen = -1;
        outidx[g] = SIZE_MAX;
    }
    size_t *cur = ev_zalloc(c, (in->m.n + 1) * sizeof(size_t));
    ev_vec v;
    ev_vec_init(c, &v, in->m.n);
    double *qv = NULL;
    size_t *gcount = NULL, *goff = NULL;
    if (ag->op == AGG_QUANTILE) {
        qv = ev_alloc(c, (in->m.n + 1) * sizeof(double));
        gcount = ev_alloc(c, (ngroups + 1) * sizeof(size_t));
        goff = ev_alloc(c, (ngroups + 1) * sizeof(size_t));
    }
    out->type = PROMQL_TYPE_VECTOR;
    /* groups in order of first appearance, as Prometheus lists them */
    for (size_t step = 0; step < c->nsteps; step++) {
        int64_t ts = ev_step_time(c, step);
        ev_gather(&in->m, cur, ts, &v);
        if (v.n == 0) {
            continue;
        }
        if (ag->op == AGG_QUANTILE) {
            memset(gcount, 0, (ngroups + 1) * sizeof(size_t));
            for (size_t i = 0; i < v.n; i++) {
                gcount[grp[v.idx[i]]]++;
            }
            size_t off = 0;
            for (size_t g = 0; g < ngroups; g++) {
                goff[g] = off;
                off += gcount[g];
                gcount[g] = 0;
            }
            for (size_t i = 0; i < v.n; i++) {
                uint32_t g = grp[v.idx[i]];
                qv[goff[g] + gcount[g]++] = v.v[i];
            }
        }
        for (size_t i = 0; i < v.n; i++) {
            agg_acc *a = &acc[grp[v.idx[i]]];
            if (a->gen != (int64_t)step) {
                a->gen = (int64_t)step;
                ev_agg_acc_first(ag->op, a, v.v[i]);
                continue;
            }
            ev_agg_acc_add(ag->op, a, v.v[i]);
        }
        for (size_t g = 0; g < ngroups; g++) {
            if (acc[g].gen != (int64_t)step) {
                continue;
            }
            double r = ag->op == AGG_QUANTILE
                           ? ev_quantile(param->sc[step], qv + goff[g], gcount[g])
                           : ev_agg_acc_final(ag->op, &acc[g]);
            if (outidx[g] == SIZE_MAX) {
                ev_matrix_add(c, &out->m, glabels[g], gdrop[g]);
                outidx[g] = out->m.n - 1;
            }
            ev_series_push(c, &out->m.s[outidx[g]], ts, r);
        }
        int rc = ev_check_deadline(c);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int ev_aggregate(ev_ctx *c, const ast_node *n, ev_value *out)
{
    const ast_aggregate *ag = &n->u.agg;
    ev_value param = {0}, in;
    bool done = false;
    int rc = ev_aggregate_stream(c, n, out, &done);
    if (rc < 0 || done) {
        return rc;
    }
    if (ag->param) {
        rc = ev_eval(c, ag->param, &param);
        if (rc < 0) {
            return rc;
        }
    }
    rc = ev_eval(c, ag->expr, &in);
    if (rc < 0) {
        return rc;
    }
    if (ag->op == AGG_COUNT_VALUES) {
        return agg_count_values(c, ag, &in, param.str ? param.str : "", out);
    }
    if (ag->op == AGG_QUANTILE) {
        for (size_t i = 0; i < c->nsteps; i++) {
            double q = param.sc[i];
            if (isnan(q) || q < 0 || q > 1) {
                odin_strbuf b;
                odin_strbuf_init(&b, 0);
                odin_strbuf_put_double(&b, q);
                ev_warn_at(c, ag->param,
                           "PromQL warning: quantile value should be between 0 and 1, got %s", b.p);
                odin_strbuf_fini(&b);
                break;
            }
        }
    }
    /* group assignment, once per input series */
    uint32_t *grp = ev_alloc(c, (in.m.n + 1) * sizeof(uint32_t));
    odin_labels *glabels = ev_alloc(c, (in.m.n + 1) * sizeof(odin_labels));
    bool *gdrop = ev_zalloc(c, (in.m.n + 1) * sizeof(bool));
    size_t ngroups = 0;
    odin_map map;
    odin_map_init(&map);
    odin_strbuf key;
    odin_strbuf_init(&key, 0);
    odin_label *scratch = NULL;
    size_t scratch_cap = 0;
    for (size_t i = 0; i < in.m.n; i++) {
        if (in.m.s[i].ls.len > scratch_cap) {
            scratch_cap = in.m.s[i].ls.len * 2;
            scratch = odin_realloc(scratch, scratch_cap * sizeof(*scratch));
        }
        odin_labels gl = ev_agg_group_labels(ag, in.m.s[i].ls, scratch);
        odin_strbuf_reset(&key);
        ev_labels_key(&key, gl);
        void *hit = odin_map_get(&map, key.p ? key.p : "", key.len);
        uint32_t g;
        if (hit) {
            g = (uint32_t)((uintptr_t)hit - 1);
        } else {
            char *k = ev_alloc(c, key.len + 1);
            memcpy(k, key.p ? key.p : "", key.len);
            g = (uint32_t)ngroups;
            glabels[ngroups++] = ev_labels_copy(c, gl);
            odin_map_put(&map, k, key.len, (void *)(uintptr_t)(g + 1));
        }
        grp[i] = g;
        if (in.m.s[i].drop_name) {
            gdrop[g] = true;
        }
    }
    free(scratch);
    odin_strbuf_fini(&key);
    odin_map_fini(&map);
    if (ag->op == AGG_TOPK || ag->op == AGG_BOTTOMK || ag->op == AGG_LIMITK ||
        ag->op == AGG_LIMIT_RATIO) {
        return agg_k(c, ag, &in, &param, grp, ngroups, out);
    }
    return agg_fold(c, ag, &in, &param, grp, glabels, gdrop, ngroups, out);
}

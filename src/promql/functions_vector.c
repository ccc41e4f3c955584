/* Functions that look at a whole instant vector at once: sort, sort_desc, sort_by_label(_desc)
 * (which only reorder an instant result) and histogram_quantile over classic `le` buckets. */
#include "promql/functions_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ev_series s;
    size_t pos;
    const char *const *labels; /* sort_by_label: the labels to compare */
    size_t nlabels;
    int dir;
} sort_item;

static int by_value(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    double u = x->s.v[0], w = y->s.v[0];
    int r = 0;
    if (isnan(u) != isnan(w)) {
        return isnan(u) ? 1 : -1; /* NaN last either way */
    }
    if (u != w && !isnan(u)) {
        r = u < w ? -1 : 1;
        return r * x->dir;
    }
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* facette/natsort's order: digit runs compare as numbers, other runs as strings. */
static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int natcmp(odin_str a, odin_str b)
{
    size_t i = 0, j = 0;
    while (i < a.len && j < b.len) {
        size_t si = i, sj = j;
        bool da = is_digit(a.p[i]), db = is_digit(b.p[j]);
        while (i < a.len && is_digit(a.p[i]) == da) {
            i++;
        }
        while (j < b.len && is_digit(b.p[j]) == db) {
            j++;
        }
        odin_str ca = {a.p + si, i - si}, cb = {b.p + sj, j - sj};
        if (da && db) {
            while (ca.len > 1 && ca.p[0] == '0') {
                ca.p++, ca.len--;
            }
            while (cb.len > 1 && cb.p[0] == '0') {
                cb.p++, cb.len--;
            }
            if (ca.len != cb.len) {
                return ca.len < cb.len ? -1 : 1;
            }
        }
        int r = odin_str_cmp(ca, cb);
        if (r) {
            return r;
        }
    }
    if (i < a.len) {
        return 1;
    }
    return j < b.len ? -1 : 0;
}

static int by_label(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    for (size_t i = 0; i < x->nlabels; i++) {
        odin_str u = ev_label_get(x->s.ls, x->labels[i]), w = ev_label_get(y->s.ls, x->labels[i]);
        if (odin_str_eq(u, w)) {
            continue;
        }
        return natcmp(u, w) * x->dir;
    }
    return odin_labels_cmp(x->s.ls, y->s.ls) * x->dir;
}

static int sort_fn(ev_ctx *c, const ast_node *n, const char *name, ev_value *args, size_t nargs,
                   ev_value *out)
{
    *out = args[0];
    if (c->start != c->end) {
        ev_warn_at(c, n,
                   "PromQL warning: sort is ineffective for range queries since results are "
                   "always ordered by labels");
        return 0;
    }
    size_t cnt = out->m.n;
    sort_item *items = ev_alloc(c, (cnt + 1) * sizeof(sort_item));
    const char **labels = ev_alloc(c, (nargs + 1) * sizeof(char *));
    for (size_t i = 1; i < nargs; i++) {
        labels[i - 1] = args[i].str;
    }
    bool by_lbl = strncmp(name, "sort_by_label", 13) == 0;
    int dir = strstr(name, "desc") ? -1 : 1;
    size_t w = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (out->m.s[i].n == 0) {
            continue;
        }
        items[w++] = (sort_item){out->m.s[i], i, labels, nargs ? nargs - 1 : 0, dir};
    }
    qsort(items, w, sizeof(sort_item), by_lbl ? by_label : by_value);
    for (size_t i = 0; i < w; i++) {
        out->m.s[i] = items[i].s;
    }
    out->m.n = w;
    return 0;
}

typedef struct {
    double le, count;
} bucket;

static int bucket_cmp(const void *a, const void *b)
{
    const bucket *x = a, *y = b;
    return (x->le > y->le) - (x->le < y->le);
}

static bool almost_equal(double a, double b, double eps)
{
    if (a == b) {
        return true;
    }
    double sum = fabs(a) + fabs(b), diff = fabs(a - b);
    const double min_normal = 2.2250738585072014e-308;
    if (a == 0 || b == 0 || sum < min_normal) {
        return diff < eps * min_normal;
    }
    return diff / fmin(sum, 1.7976931348623157e308) < eps;
}

/* Prometheus' BucketQuantile: sort, merge equal bounds, force monotonic counts, interpolate
 * linearly inside the bucket holding the rank. */
double fn_bucket_quantile(double q, bucket *b, size_t n, bool *forced);
double fn_bucket_quantile(double q, bucket *b, size_t n, bool *forced)
{
    if (isnan(q)) {
        return NAN;
    }
    if (q < 0) {
        return -INFINITY;
    }
    if (q > 1) {
        return INFINITY;
    }
    qsort(b, n, sizeof(bucket), bucket_cmp);
    if (!isinf(b[n - 1].le) || b[n - 1].le < 0) {
        return NAN;
    }
    size_t w = 0;
    for (size_t i = 1; i < n; i++) {
        if (b[i].le == b[w].le) {
            b[w].count += b[i].count;
        } else {
            b[++w] = b[i];
        }
    }
    n = w + 1;
    double prev = b[0].count;
    for (size_t i = 1; i < n; i++) {
        double cur = b[i].count;
        if (cur == prev) {
            continue;
        }
        if (almost_equal(prev, cur, 1e-12)) {
            b[i].count = prev;
            continue;
        }
        if (cur < prev) {
            b[i].count = prev;
            *forced = true;
            continue;
        }
        prev = cur;
    }
    if (n < 2) {
        return NAN;
    }
    double obs = b[n - 1].count;
    if (obs == 0) {
        return NAN;
    }
    double rank = q * obs;
    size_t k = 0;
    while (k < n - 1 && !(b[k].count >= rank)) {
        k++;
    }
    if (k == n - 1) {
        return b[n - 2].le;
    }
    if (k == 0 && b[0].le <= 0) {
        return b[0].le;
    }
    double start = 0, end = b[k].le, count = b[k].count;
    if (k > 0) {
        start = b[k - 1].le;
        count -= b[k - 1].count;
        rank -= b[k - 1].count;
    }
    return start + (end - start) * (rank / count);
}

static int histogram_quantile(ev_ctx *c, const ast_call *call, ev_value *args, ev_value *out)
{
    ev_value *in = &args[1];
    /* group each input series once by its labels without le */
    static const char *const le[] = {"le"};
    static const char *const excl[] = {"le", "__name__"};
    uint32_t *grp = ev_alloc(c, (in->m.n + 1) * sizeof(uint32_t));
    double *bound = ev_alloc(c, (in->m.n + 1) * sizeof(double));
    bool *ok = ev_zalloc(c, (in->m.n + 1) * sizeof(bool));
    ev_collector groups;
    ev_collector_init(&groups);
    for (size_t i = 0; i < in->m.n; i++) {
        odin_str lv = ev_label_get(in->m.s[i].ls, "le");
        ok[i] = odin_parse_double(lv, &bound[i]) == 0;
        if (!ok[i]) {
            odin_str mn = ev_label_get(in->m.s[i].ls, "__name__");
            ev_warn_at(c, call->args[1],
                       "PromQL warning: bucket label \"le\" is missing or has a malformed value "
                       "of \"%.*s\"%s%.*s%s",
                       (int)lv.len, lv.p, mn.len ? " for metric name \"" : "", (int)mn.len, mn.p,
                       mn.len ? "\"" : "");
            continue;
        }
        odin_labels key = ev_labels_drop(c, in->m.s[i].ls, le, 1, false);
        grp[i] = (uint32_t)ev_collector_get(c, &groups, key, false);
    }
    size_t ng = groups.m.n;
    odin_labels *glabels = ev_alloc(c, (ng + 1) * sizeof(odin_labels));
    size_t *outidx = ev_alloc(c, (ng + 1) * sizeof(size_t));
    size_t *gcount = ev_alloc(c, (ng + 1) * sizeof(size_t));
    size_t *goff = ev_alloc(c, (ng + 1) * sizeof(size_t));
    odin_labels *groups_name = ev_alloc(c, (ng + 1) * sizeof(odin_labels));
    for (size_t g = 0; g < ng; g++) {
        groups_name[g] = groups.m.s[g].ls;
        glabels[g] = ev_labels_drop(c, groups.m.s[g].ls, excl, 2, false);
        outidx[g] = SIZE_MAX;
    }
    ev_collector_fini(&groups);
    bucket *bk = ev_alloc(c, (in->m.n + 1) * sizeof(bucket));
    size_t *cur = ev_zalloc(c, (in->m.n + 1) * sizeof(size_t));
    ev_vec v;
    ev_vec_init(c, &v, in->m.n);
    out->type = PROMQL_TYPE_VECTOR;
    memset(&out->m, 0, sizeof(out->m));
    for (size_t step = 0; step < c->nsteps; step++) {
        int64_t ts = ev_step_time(c, step);
        ev_gather(&in->m, cur, ts, &v);
        memset(gcount, 0, (ng + 1) * sizeof(size_t));
        for (size_t i = 0; i < v.n; i++) {
            if (ok[v.idx[i]]) {
                gcount[grp[v.idx[i]]]++;
            }
        }
        size_t off = 0;
        for (size_t g = 0; g < ng; g++) {
            goff[g] = off;
            off += gcount[g];
            gcount[g] = 0;
        }
        for (size_t i = 0; i < v.n; i++) {
            uint32_t si = v.idx[i];
            if (ok[si]) {
                bk[goff[grp[si]] + gcount[grp[si]]++] = (bucket){bound[si], v.v[i]};
            }
        }
        for (size_t g = 0; g < ng; g++) {
            if (gcount[g] == 0) {
                continue;
            }
            bool forced = false;
            double r = fn_bucket_quantile(args[0].sc[step], bk + goff[g], gcount[g], &forced);
            if (forced) {
                odin_str mn = ev_label_get(groups_name[g], "__name__");
                ev_warn_at(c, call->args[1],
                           "PromQL info: input to histogram_quantile needed to be fixed for "
                           "monotonicity (see https://prometheus.io/docs/prometheus/latest/"
                           "querying/functions/#histogram_quantile)%s%.*s%s",
                           mn.len ? " for metric name \"" : "", (int)mn.len, mn.p,
                           mn.len ? "\"" : "");
            }
            if (outidx[g] == SIZE_MAX) {
                ev_matrix_add(c, &out->m, glabels[g], true);
                outidx[g] = out->m.n - 1;
            }
            ev_series_push(c, &out->m.s[outidx[g]], ts, r);
        }
    }
    for (size_t i = 0; i < c->nsteps; i++) {
        double q = args[0].sc[i];
        if (isnan(q) || q < 0 || q > 1) {
            odin_strbuf b;
            odin_strbuf_init(&b, 0);
            odin_strbuf_put_double(&b, q);
            ev_warn_at(c, call->args[0], "PromQL warning: quantile value should be between 0 and 1, got %s",
                       b.p);
            odin_strbuf_fini(&b);
            break;
        }
    }
    return 0;
}

int fn_vector_call(ev_ctx *c, const ast_node *n, ev_value *args, ev_value *out)
{
    const ast_call *call = &n->u.call;
    const char *name = call->fn->name;
    if (strncmp(name, "sort", 4) == 0) {
        return sort_fn(c, n, name, args, call->nargs, out);
    }
    if (strcmp(name, "histogram_quantile") == 0) {
        return histogram_quantile(c, call, args, out);
    }
    return odin_err_set(c->err, EV_ERR_EXEC, "function %s is not supported", name);
}

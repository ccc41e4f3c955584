/* TextParser's family model over expfmt's pull parser, for the textfile collector: which line
 * belongs to which family (foo_sum/foo_count/foo_bucket fold into a summary or histogram foo),
 * which lines make one summary/histogram (same labels, quantile/le aside), and the checks that
 * make node_exporter refuse a file (second HELP or TYPE, TYPE after samples, bad quantile/le). */
#include "agent/textfile_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    odin_arena *a;
    const char *path;
    odin_map by_name; /* family name -> agent_tf_family */
    odin_map by_sig;  /* family name + sorted labels -> metric index + 1 */
    agent_tf_file *out;
    size_t cap;
    odin_err *err;
} tf_parse;

static void *arena_alloc(odin_arena *a, size_t n)
{
    void *p = odin_arena_alloc(a, n ? n : 1);
    if (!p) {
        odin_oom(); /* the scrape arena's cap is far past any host's textfiles (registry.c) */
    }
    return p;
}

/* Doubles an arena array when full; the old block stays in the arena until the scrape ends. */
static void *arena_grow(odin_arena *a, void *v, size_t len, size_t *cap, size_t elem)
{
    if (len < *cap) {
        return v;
    }
    size_t ncap = *cap ? *cap * 2 : 8;
    void *nv = arena_alloc(a, ncap * elem);
    if (len) {
        memcpy(nv, v, len * elem);
    }
    *cap = ncap;
    return nv;
}

static odin_str arena_copy(odin_arena *a, odin_str s)
{
    return (odin_str){odin_arena_strndup(a, s.p, s.len), s.len};
}

/* Go's uint64(f) as amd64 computes it (CVTTSD2SQ, with 2^63 subtracted above that), then back to
 * float64: summary counts go through it unchecked, so "1.5" becomes 1 and NaN becomes 0. */
static double go_u64(double v)
{
    const double two63 = 9223372036854775808.0;
    uint64_t u;
    if (v < two63) {
        u = (v >= -two63) ? (uint64_t)(int64_t)v : UINT64_C(0x8000000000000000);
    } else {
        double d = v - two63;
        u = (d < two63) ? (uint64_t)(int64_t)d : UINT64_C(0x8000000000000000);
        u ^= UINT64_C(0x8000000000000000);
    }
    return (double)u;
}

/* True when Go's `uint64(v)` round-trips, i.e. TextParser keeps a histogram count as integer. */
static bool go_integral_count(double v)
{
    return v >= 0 && v < 18446744073709551616.0 && v == floor(v);
}

/* expfmt's parseFloat for quantile and le values: Go's ParseFloat without underscores or hex. */
static int go_parse_float(odin_str s, double *out)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c == 'p' || c == 'P' || c == '_' || c == 'x' || c == 'X' || c == ' ' || c == '\t') {
            return -ODIN_ERR_PARSE;
        }
    }
    if (s.len == 0) {
        return -ODIN_ERR_PARSE;
    }
    return odin_parse_double(s, out);
}

static agent_tf_family *family_get(tf_parse *tp, odin_str name)
{
    return odin_map_get(&tp->by_name, name.p, name.len);
}

static bool is_summary(const agent_tf_family *f)
{
    return f && f->type == EXPFMT_SUMMARY;
}

static bool is_histogram(const agent_tf_family *f)
{
    return f && (f->type == EXPFMT_HISTOGRAM || f->type == EXPFMT_GAUGE_HISTOGRAM);
}

typedef enum { TF_PLAIN, TF_COUNT, TF_SUM } tf_role;

static odin_str strip(odin_str s, size_t n)
{
    return (odin_str){s.p, s.len - n};
}

/* setOrCreateCurrentMF: the exact name first, then a summary or histogram that the _sum, _count
 * (or _bucket) suffix folds into, else a new family. */
static agent_tf_family *family_lookup(tf_parse *tp, odin_str name, tf_role *role)
{
    *role = TF_PLAIN;
    agent_tf_family *f = family_get(tp, name);
    if (f) {
        return f;
    }
    bool cnt = name.len > 6 && odin_str_has_suffix(name, "_count");
    bool sum = name.len > 4 && odin_str_has_suffix(name, "_sum");
    bool bkt = name.len > 7 && odin_str_has_suffix(name, "_bucket");
    if (cnt || sum) {
        f = family_get(tp, strip(name, cnt ? 6 : 4));
        if (is_summary(f)) {
            *role = cnt ? TF_COUNT : TF_SUM;
            return f;
        }
    }
    if (cnt || sum || bkt) {
        f = family_get(tp, strip(name, cnt ? 6 : sum ? 4 : 7));
        if (is_histogram(f)) {
            *role = cnt ? TF_COUNT : sum ? TF_SUM : TF_PLAIN;
            return f;
        }
    }
    f = arena_alloc(tp->a, sizeof(*f));
    memset(f, 0, sizeof(*f));
    f->name = arena_copy(tp->a, name);
    odin_map_put(&tp->by_name, f->name.p, f->name.len, f);
    tp->out->v = arena_grow(tp->a, tp->out->v, tp->out->len, &tp->cap, sizeof(*tp->out->v));
    tp->out->v[tp->out->len++] = f;
    return f;
}

static int fail(tf_parse *tp, size_t line, const char *what, odin_str name)
{
    return odin_err_set(tp->err, ODIN_ERR_PARSE, "%s:%zu: %s \"%.*s\"", tp->path, line, what,
                        (int)(name.len > 64 ? 64 : name.len), name.p);
}

static int on_help(tf_parse *tp, const expfmt_entry *e)
{
    tf_role role;
    /* TextParser leaves HELP unset when nothing follows the name ("# HELP foo "). */
    if (e->text.len == 0) {
        return 0;
    }
    agent_tf_family *f = family_lookup(tp, e->name, &role);
    if (f->has_help) {
        return fail(tp, e->line, "second HELP line for metric name", f->name);
    }
    f->help = arena_copy(tp->a, e->text);
    f->has_help = true;
    return 0;
}

static int on_type(tf_parse *tp, const expfmt_entry *e)
{
    tf_role role;
    agent_tf_family *f = family_lookup(tp, e->name, &role);
    if (f->has_type) {
        return fail(tp, e->line, "second TYPE line, or TYPE reported after samples, for", f->name);
    }
    f->type = e->type;
    f->has_type = true;
    return 0;
}

static int label_cmp_name(const void *x, const void *y)
{
    const odin_label *a = x, *b = y;
    return odin_str_cmp(a->name, b->name);
}

/* The key TextParser's LabelsToSignature stands for: family and label set, order-free. */
static odin_str signature(tf_parse *tp, const agent_tf_family *f, const odin_label *ls, size_t n)
{
    odin_label *sorted = arena_alloc(tp->a, n * sizeof(*sorted));
    if (n) {
        memcpy(sorted, ls, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), label_cmp_name);
    }
    size_t len = f->name.len + 1;
    for (size_t i = 0; i < n; i++) {
        len += sorted[i].name.len + sorted[i].value.len + 2;
    }
    char *k = arena_alloc(tp->a, len);
    size_t pos = 0;
    memcpy(k, f->name.p, f->name.len);
    pos += f->name.len;
    k[pos++] = '\xff';
    for (size_t i = 0; i < n; i++) {
        memcpy(k + pos, sorted[i].name.p, sorted[i].name.len);
        pos += sorted[i].name.len;
        k[pos++] = '\xfe';
        memcpy(k + pos, sorted[i].value.p, sorted[i].value.len);
        pos += sorted[i].value.len;
        k[pos++] = '\xff';
    }
    return (odin_str){k, pos};
}

static agent_tf_metric *metric_new(tf_parse *tp, agent_tf_family *f, odin_label *ls, size_t n)
{
    f->metrics = arena_grow(tp->a, f->metrics, f->len, &f->cap, sizeof(*f->metrics));
    agent_tf_metric *m = &f->metrics[f->len++];
    memset(m, 0, sizeof(*m));
    m->labels = ls;
    m->nlabels = n;
    return m;
}

/* Summaries and histograms: lines with equal labels (quantile/le aside) make one metric. */
static agent_tf_metric *metric_grouped(tf_parse *tp, agent_tf_family *f, odin_label *ls, size_t n)
{
    odin_str key = signature(tp, f, ls, n);
    uintptr_t idx = (uintptr_t)odin_map_get(&tp->by_sig, key.p, key.len);
    if (idx) {
        return &f->metrics[idx - 1];
    }
    agent_tf_metric *m = metric_new(tp, f, ls, n);
    odin_map_put(&tp->by_sig, key.p, key.len, (void *)(uintptr_t)f->len);
    return m;
}

static void point_add(tf_parse *tp, agent_tf_metric *m, double bound, double value)
{
    m->points = arena_grow(tp->a, m->points, m->npoints, &m->cap_points, sizeof(*m->points));
    m->points[m->npoints++] = (agent_tf_point){bound, value};
}

/* Copies the sample's labels, pulling out quantile (summary) or le (histogram). */
static int sample_labels(tf_parse *tp, const expfmt_entry *e, const agent_tf_family *f,
                         odin_label **out, size_t *nout, double *bound, bool *has_bound)
{
    odin_label *ls = arena_alloc(tp->a, e->nlabels * sizeof(*ls));
    size_t n = 0;
    *has_bound = false;
    for (size_t i = 0; i < e->nlabels; i++) {
        odin_str name = e->labels[i].name;
        if (odin_str_eq_c(name, "__name__")) {
            return fail(tp, e->line, "reserved label name", name);
        }
        bool q = is_summary(f) && odin_str_eq_c(name, "quantile");
        bool le = is_histogram(f) && odin_str_eq_c(name, "le");
        if (q || le) {
            if (go_parse_float(e->labels[i].value, bound) < 0) {
                return fail(tp, e->line,
                            q ? "expected float as value for 'quantile' label, got"
                              : "expected float as value for 'le' label, got",
                            e->labels[i].value);
            }
            *has_bound = true;
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            if (odin_str_eq(ls[j].name, name)) {
                return fail(tp, e->line, "duplicate label names for metric", f->name);
            }
        }
        ls[n].name = arena_copy(tp->a, name);
        ls[n].value = arena_copy(tp->a, e->labels[i].value);
        n++;
    }
    *out = ls;
    *nout = n;
    return 0;
}

static int histogram_value(tf_parse *tp, const expfmt_entry *e, agent_tf_family *f,
                           agent_tf_metric *m, tf_role role, double bound, bool has_bound)
{
    double v = e->value;
    if (role == TF_SUM) {
        m->sum = v;
        return 0;
    }
    if (role != TF_COUNT && !has_bound) {
        return 0; /* TextParser keeps the metric and ignores the value */
    }
    if (!go_integral_count(v)) {
        if (v < 0) {
            return fail(tp, e->line,
                        role == TF_COUNT ? "negative count for histogram"
                                         : "negative bucket population for histogram",
                        f->name);
        }
        m->float_counts = true;
    }
    if (role == TF_COUNT) {
        m->count = v;
    } else {
        point_add(tp, m, bound, v);
    }
    return 0;
}

static int on_sample(tf_parse *tp, const expfmt_entry *e)
{
    tf_role role;
    agent_tf_family *f = family_lookup(tp, e->name, &role);
    if (!f->has_type) {
        f->type = EXPFMT_UNTYPED;
        f->has_type = true;
    }
    if (!odin_metric_name_valid(f->name)) {
        return fail(tp, e->line, "invalid metric name", f->name);
    }
    if (e->has_t) {
        tp->out->has_timestamps = true;
    }
    odin_label *ls = NULL;
    size_t n = 0;
    double bound = 0;
    bool has_bound;
    int rc = sample_labels(tp, e, f, &ls, &n, &bound, &has_bound);
    if (rc < 0) {
        return rc;
    }
    if (is_histogram(f)) {
        return histogram_value(tp, e, f, metric_grouped(tp, f, ls, n), role, bound, has_bound);
    }
    if (is_summary(f)) {
        agent_tf_metric *m = metric_grouped(tp, f, ls, n);
        if (role == TF_COUNT) {
            m->count = go_u64(e->value);
        } else if (role == TF_SUM) {
            m->sum = e->value;
        } else if (has_bound) {
            point_add(tp, m, bound, e->value);
        }
        return 0;
    }
    metric_new(tp, f, ls, n)->value = e->value;
    return 0;
}

static void drop_empty(agent_tf_file *out)
{
    size_t k = 0;
    for (size_t i = 0; i < out->len; i++) {
        if (out->v[i]->len > 0) {
            out->v[k++] = out->v[i];
        }
    }
    out->len = k;
}

int agent_tf_parse(odin_arena *a, const char *path, odin_str text, agent_tf_file *out,
                   odin_err *err)
{
    memset(out, 0, sizeof(*out));
    tf_parse tp = {.a = a, .path = path, .out = out, .err = err};
    odin_map_init(&tp.by_name);
    odin_map_init(&tp.by_sig);
    expfmt_parser_opts opts = {.openmetrics = false};
    expfmt_parser *p = expfmt_parser_new(text.p, text.len, &opts);
    expfmt_entry e;
    int rc;
    for (;;) {
        rc = expfmt_parser_next(p, &e, err);
        if (rc < 0) {
            odin_err_prefix(err, "%s:", path); /* the parser's "line:col: reason" */
            break;
        }
        if (rc == 0) {
            break;
        }
        if (e.kind == EXPFMT_ENTRY_HELP) {
            rc = on_help(&tp, &e);
        } else if (e.kind == EXPFMT_ENTRY_TYPE) {
            rc = on_type(&tp, &e);
        } else if (e.kind == EXPFMT_ENTRY_SAMPLE) {
            rc = on_sample(&tp, &e);
        }
        if (rc < 0) {
            break;
        }
    }
    expfmt_parser_free(p);
    odin_map_fini(&tp.by_name);
    odin_map_fini(&tp.by_sig);
    if (rc < 0) {
        return rc;
    }
    drop_empty(out);
    return 0;
}

/* ---- Go's filepath.Join / Clean (Unix) --------------------------------------------------------
 */

const char *agent_tf_join(odin_arena *a, const char *dir, const char *name)
{
    const char *joined = dir[0] ? odin_arena_printf(a, "%s/%s", dir, name) : name;
    size_t len = strlen(joined);
    if (len == 0) {
        return "."; /* Join("", "") is "" in Go; never reached: names are non-empty */
    }
    bool rooted = joined[0] == '/';
    odin_str *parts = arena_alloc(a, (len / 2 + 1) * sizeof(*parts));
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && joined[j] != '/') {
            j++;
        }
        odin_str part = {joined + i, j - i};
        i = j + 1;
        if (part.len == 0 || odin_str_eq_c(part, ".")) {
            continue; /* "//" and "." vanish */
        }
        if (!odin_str_eq_c(part, "..")) {
            parts[n++] = part;
        } else if (n > 0 && !odin_str_eq_c(parts[n - 1], "..")) {
            n--;
        } else if (!rooted) {
            parts[n++] = part;
        }
    }
    char *out = arena_alloc(a, len + 2);
    size_t pos = 0;
    if (rooted) {
        out[pos++] = '/';
    }
    for (size_t i = 0; i < n; i++) {
        if (i) {
            out[pos++] = '/';
        }
        memcpy(out + pos, parts[i].p, parts[i].len);
        pos += parts[i].len;
    }
    if (pos == 0) {
        out[pos++] = '.';
    }
    out[pos] = '\0';
    return out;
}

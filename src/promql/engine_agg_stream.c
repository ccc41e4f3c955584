/* Fold aggregations (sum avg count min max group stddev stdvar) over a plain vector selector or
 * over a range function of a plain matrix selector (rate, irate, increase, *_over_time, ...),
 * evaluated without materialising the input: each series is folded into its group's per-step
 * accumulators as the querier yields it, so the query holds only its groups (a 200k-series count()
 * held every input series before). Instant queries of order-sensitive folds (sums) take the series
 * in any order too and keep one value per series, folding each group's members in label order at
 * the end: sorting 8-series groups is cheaper than sorting 4000 series. Values, group order and
 * errors are those of the general path in engine_agg.c; tests/unit/promql compares the two on
 * random data. */
#include "promql/engine_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    odin_labels ls;    /* the group's labels, in the query arena */
    odin_labels first; /* the smallest input label set seen (unsorted input only) */
    ev_agg_acc *acc;   /* one per step; acc[i].gen == i where the group has a value */
    uint32_t first_step;
    uint32_t members; /* buffered mode: the newest member's index, UINT32_MAX for none */
    bool drop_name;
} stream_group;

/* Buffered mode: one input series' value at the single step, chained per group. */
typedef struct {
    odin_labels ls;
    double v;
    uint32_t next;
} stream_member;

typedef struct {
    const ast_aggregate *ag;
    bool any_order; /* input not sorted by labels: group order is rebuilt from `first` */
    bool one_group; /* no by/without labels: every series lands in group 0 */
    bool buffered;  /* instant query of a sum-like fold over unsorted input: keep members */
    stream_member *mem;
    size_t nmem, capmem;
    stream_group *g;
    size_t ng, capg;
    odin_map map; /* group key -> index + 1 */
    odin_strbuf key;
    odin_label *scratch;
    size_t scratch_cap;
    /* whether a label name is kept in the group's labels, by the name's pointer: head label
     * names are interned, so a handful of pointers recur over every series */
    struct {
        const char *p;
        size_t len;
        bool keep;
    } names[16];
    size_t nnames;
    odin_label last[8]; /* the last group's labels (pointers into the input series' labels) */
    size_t nlast, last_g;
} stream_state;

static bool keeps_name(stream_state *st, odin_str name)
{
    for (size_t i = 0; i < st->nnames; i++) {
        if (st->names[i].p == name.p && st->names[i].len == name.len) {
            return st->names[i].keep;
        }
    }
    /* the rule of ev_agg_group_labels */
    const ast_aggregate *ag = st->ag;
    bool listed = ev_name_in(name.p, name.len, ag->grouping, ag->ngrouping);
    bool keep = ag->without ? (!listed && !odin_str_eq_c(name, "__name__")) : listed;
    size_t slot =
        st->nnames < ODIN_ARRAY_LEN(st->names) ? st->nnames++ : (size_t)(name.len % st->nnames);
    st->names[slot].p = name.p;
    st->names[slot].len = name.len;
    st->names[slot].keep = keep;
    return keep;
}

static size_t new_group(ev_ctx *c, stream_state *st, odin_labels gl, odin_labels in)
{
    if (st->ng == st->capg) {
        size_t ncap = st->capg ? st->capg * 2 : 8;
        stream_group *ng = ev_alloc(c, ncap * sizeof(*ng));
        if (st->ng) {
            memcpy(ng, st->g, st->ng * sizeof(*ng));
        }
        st->g = ng;
        st->capg = ncap;
    }
    stream_group *g = &st->g[st->ng];
    g->ls = ev_labels_copy(c, gl);
    g->first = in;
    g->acc = ev_alloc(c, c->nsteps * sizeof(*g->acc));
    for (size_t i = 0; i < c->nsteps; i++) {
        g->acc[i].gen = -1;
    }
    g->first_step = UINT32_MAX;
    g->members = UINT32_MAX;
    g->drop_name = false;
    return st->ng++;
}

/* odin_labels_cmp's order, with a shortcut for the interned strings of head labels: the same
 * pointer and length is the same string. */
static int str_cmp_quick(odin_str a, odin_str b)
{
    return a.p == b.p && a.len == b.len ? 0 : odin_str_cmp(a, b);
}

static int labels_cmp_quick(odin_labels a, odin_labels b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++) {
        int c = str_cmp_quick(a.v[i].name, b.v[i].name);
        if (c == 0) {
            c = str_cmp_quick(a.v[i].value, b.v[i].value);
        }
        if (c != 0) {
            return c;
        }
    }
    return (a.len > b.len) - (a.len < b.len);
}

/* Whether two label sets are the same strings, pointer for pointer (interned head labels). */
static bool same_pointers(odin_labels a, const odin_label *b, size_t blen)
{
    if (a.len != blen) {
        return false;
    }
    for (size_t i = 0; i < blen; i++) {
        if (a.v[i].name.p != b[i].name.p || a.v[i].name.len != b[i].name.len ||
            a.v[i].value.p != b[i].value.p || a.v[i].value.len != b[i].value.len) {
            return false;
        }
    }
    return true;
}

/* The group with labels gl, made on first sight (in is its first input series). Series of one
 * group tend to come together (a host's GPUs), so the last group is tried first by pointer
 * equality, before building and hashing a key. */
static size_t group_by_labels(ev_ctx *c, stream_state *st, odin_labels gl, odin_labels in)
{
    if (st->ng && same_pointers(gl, st->last, st->nlast)) {
        return st->last_g;
    }
    odin_strbuf_reset(&st->key);
    ev_labels_key(&st->key, gl);
    const char *k = st->key.p ? st->key.p : "";
    void *hit = odin_map_get(&st->map, k, st->key.len);
    size_t g;
    if (hit) {
        g = (size_t)((uintptr_t)hit - 1);
    } else {
        char *kc = ev_alloc(c, st->key.len + 1);
        memcpy(kc, k, st->key.len);
        g = new_group(c, st, gl, in);
        odin_map_put(&st->map, kc, st->key.len, (void *)(uintptr_t)(g + 1));
    }
    st->nlast = 0;
    if (gl.len <= ODIN_ARRAY_LEN(st->last)) {
        memcpy(st->last, gl.v, gl.len * sizeof(*gl.v));
        st->nlast = gl.len;
    } else {
        st->nlast = SIZE_MAX; /* too long to remember: never equal */
    }
    st->last_g = g;
    return g;
}

/* The group of one input series, made on first sight. */
static size_t group_of(ev_ctx *c, stream_state *st, odin_labels ls)
{
    if (st->one_group) {
        return st->ng ? 0 : new_group(c, st, (odin_labels){NULL, 0}, ls);
    }
    if (ls.len > st->scratch_cap) {
        st->scratch_cap = ls.len * 2;
        st->scratch = odin_realloc(st->scratch, st->scratch_cap * sizeof(*st->scratch));
    }
    odin_labels gl = {st->scratch, 0};
    for (size_t i = 0; i < ls.len; i++) {
        if (keeps_name(st, ls.v[i].name)) {
            gl.v[gl.len++] = ls.v[i];
        }
    }
    size_t g = group_by_labels(c, st, gl, ls);
    /* buffered mode finds each group's smallest member when it sorts them */
    if (st->any_order && !st->buffered && labels_cmp_quick(ls, st->g[g].first) < 0) {
        st->g[g].first = ls;
    }
    return g;
}

static int fold_series(ev_ctx *c, odin_labels ls, bool drop_name, const uint32_t *steps,
                       const double *vals, size_t n, void *arg)
{
    stream_state *st = arg;
    size_t gi = group_of(c, st, ls); /* may move st->g */
    stream_group *g = &st->g[gi];
    ast_aggop op = st->ag->op;
    if (drop_name) {
        g->drop_name = true;
    }
    if (steps[0] < g->first_step) {
        g->first_step = steps[0];
    }
    if (st->buffered) {
        /* one step, so one point */
        if (st->nmem == st->capmem) {
            size_t ncap = st->capmem ? st->capmem * 2 : 256;
            stream_member *nm = ev_alloc(c, ncap * sizeof(*nm));
            if (st->nmem) {
                memcpy(nm, st->mem, st->nmem * sizeof(*nm));
            }
            st->mem = nm;
            st->capmem = ncap;
        }
        st->mem[st->nmem] = (stream_member){ls, vals[0], g->members};
        g->members = (uint32_t)st->nmem++;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        ev_agg_acc *a = &g->acc[steps[i]];
        if (a->gen != (int64_t)steps[i]) {
            a->gen = (int64_t)steps[i];
            ev_agg_acc_first(op, a, vals[i]);
        } else {
            ev_agg_acc_add(op, a, vals[i]);
        }
    }
    return 0;
}

/* The general path emits a group when it first has a value, groups of one step in order of first
 * appearance in the label-sorted input: order by first step, then by that appearance (the group
 * index for sorted input, the smallest member's labels otherwise). */
typedef struct {
    const stream_group *g;
    size_t idx;
} group_ref;

static int group_ref_cmp(const void *a, const void *b)
{
    const group_ref *x = a, *y = b;
    if (x->g->first_step != y->g->first_step) {
        return x->g->first_step < y->g->first_step ? -1 : 1;
    }
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int group_ref_cmp_labels(const void *a, const void *b)
{
    const group_ref *x = a, *y = b;
    if (x->g->first_step != y->g->first_step) {
        return x->g->first_step < y->g->first_step ? -1 : 1;
    }
    return labels_cmp_quick(x->g->first, y->g->first);
}

static int member_cmp(const void *a, const void *b)
{
    return labels_cmp_quick(((const stream_member *)a)->ls, ((const stream_member *)b)->ls);
}

/* Groups are small (a host's 8 GPUs): insertion sort, qsort past a few dozen. */
static void sort_members(stream_member *v, size_t n)
{
    if (n > 32) {
        qsort(v, n, sizeof(*v), member_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        stream_member x = v[i];
        size_t j = i;
        while (j > 0 && labels_cmp_quick(x.ls, v[j - 1].ls) < 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Buffered mode's fold: each group's members in label order, the order the general path sees
 * them in, into acc[0]; the smallest member sets the group's place in the output. */
static void fold_members(ast_aggop op, stream_state *st)
{
    stream_member *tmp = odin_malloc((st->nmem ? st->nmem : 1) * sizeof(*tmp));
    for (size_t gi = 0; gi < st->ng; gi++) {
        stream_group *g = &st->g[gi];
        size_t n = 0;
        for (uint32_t m = g->members; m != UINT32_MAX; m = st->mem[m].next) {
            tmp[n++] = st->mem[m];
        }
        if (n == 0) {
            continue;
        }
        /* the chain runs newest first: reversed, members are in arrival order, often sorted
         * already (series made in label order), the insertion sort's best case */
        for (size_t i = 0; i < n / 2; i++) {
            stream_member x = tmp[i];
            tmp[i] = tmp[n - 1 - i];
            tmp[n - 1 - i] = x;
        }
        sort_members(tmp, n);
        g->first = tmp[0].ls; /* the group's place in the output */
        g->acc[0].gen = 0;
        ev_agg_acc_first(op, &g->acc[0], tmp[0].v);
        for (size_t i = 1; i < n; i++) {
            ev_agg_acc_add(op, &g->acc[0], tmp[i].v);
        }
    }
    free(tmp);
}

static void emit(ev_ctx *c, stream_state *st, ev_value *out)
{
    if (st->buffered) {
        fold_members(st->ag->op, st);
    }
    out->type = PROMQL_TYPE_VECTOR;
    memset(&out->m, 0, sizeof(out->m));
    group_ref *order = ev_alloc(c, (st->ng ? st->ng : 1) * sizeof(*order));
    for (size_t i = 0; i < st->ng; i++) {
        order[i] = (group_ref){&st->g[i], i};
    }
    if (st->ng > 1) {
        qsort(order, st->ng, sizeof(*order), st->any_order ? group_ref_cmp_labels : group_ref_cmp);
    }
    for (size_t i = 0; i < st->ng; i++) {
        const stream_group *g = order[i].g;
        ev_series *s = ev_matrix_add(c, &out->m, g->ls, g->drop_name);
        for (size_t step = 0; step < c->nsteps; step++) {
            if (g->acc[step].gen == (int64_t)step) {
                ev_series_push(c, s, ev_step_time(c, step),
                               ev_agg_acc_final(st->ag->op, &g->acc[step]));
            }
        }
    }
}

static bool streamable(const ast_aggregate *ag)
{
    switch (ag->op) {
    case AGG_SUM:
    case AGG_AVG:
    case AGG_COUNT:
    case AGG_MIN:
    case AGG_MAX:
    case AGG_GROUP:
    case AGG_STDDEV:
    case AGG_STDVAR:
        break;
    default:
        return false;
    }
    const ast_node *in = ev_unparen(ag->expr);
    return !ag->param && in && (in->kind == AST_VECTOR_SEL || in->kind == AST_CALL);
}

int ev_aggregate_stream(ev_ctx *c, const ast_node *n, ev_value *out, bool *done)
{
    const ast_aggregate *ag = &n->u.agg;
    if (!streamable(ag)) {
        return 0;
    }
    const ast_node *in = ev_unparen(ag->expr);
    bool sel = in->kind == AST_VECTOR_SEL;
    /* count and group do not depend on the order they see values in; the others do (in the
     * last bits, or NaN against -Inf for Inf + -Inf), so over unsorted input an instant query
     * keeps each series' value and folds groups in label order at the end */
    bool order_free = ag->op == AGG_COUNT || ag->op == AGG_GROUP;
    stream_state st = {
        .ag = ag,
        .any_order = order_free || c->nsteps == 1,
        .buffered = !order_free && c->nsteps == 1,
        .one_group = !ag->without && ag->ngrouping == 0,
    };
    odin_map_init(&st.map);
    odin_strbuf_init(&st.key, 0);
    int rc;
    if (sel) {
        rc = ev_vector_selector_each(c, in, false, st.any_order, fold_series, &st);
        *done = true;
    } else {
        rc = ev_call_range_each(c, in, st.any_order, fold_series, &st, done);
    }
    if (rc == 0 && *done) {
        emit(c, &st, out);
    }
    free(st.scratch);
    odin_strbuf_fini(&st.key);
    odin_map_fini(&st.map);
    return rc;
}

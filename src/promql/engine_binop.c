/* Binary operators: scalar/scalar, vector/scalar (element-wise, no per-step regrouping) and
 * vector/vector with Prometheus' vector matching (on/ignoring, group_left/right, bool, and/or/unless),
 * evaluated step by step over signature ordinals computed once per series. */
#include "promql/engine_int.h"

#include <math.h>
#include <string.h>

static bool is_comparison(ast_binop op)
{
    return op == OP_EQL || op == OP_NEQ || op == OP_GTR || op == OP_LSS || op == OP_GTE ||
           op == OP_LTE;
}

static bool is_set_op(ast_binop op)
{
    return op == OP_AND || op == OP_OR || op == OP_UNLESS;
}

double ev_scalar_binop(ast_binop op, double l, double r)
{
    switch (op) {
    case OP_ADD:
        return l + r;
    case OP_SUB:
        return l - r;
    case OP_MUL:
        return l * r;
    case OP_DIV:
        return l / r;
    case OP_POW:
        return pow(l, r);
    case OP_MOD:
        return fmod(l, r);
    case OP_ATAN2:
        return atan2(l, r);
    case OP_EQL:
        return l == r;
    case OP_NEQ:
        return l != r;
    case OP_GTR:
        return l > r;
    case OP_LSS:
        return l < r;
    case OP_GTE:
        return l >= r;
    case OP_LTE:
        return l <= r;
    default:
        return NAN;
    }
}

/* One element pair: the value and whether a comparison keeps it (arithmetic always keeps). For
 * comparisons the value is the left operand's. */
static double elem_binop(ast_binop op, double l, double r, bool *keep)
{
    if (is_comparison(op)) {
        *keep = ev_scalar_binop(op, l, r) != 0;
        return l;
    }
    *keep = true;
    return ev_scalar_binop(op, l, r);
}

static size_t step_index(const ev_ctx *c, int64_t t)
{
    return (size_t)((t - c->start) / c->step);
}

static int scalar_scalar(ev_ctx *c, ast_binop op, ev_value *l, ev_value *r, ev_value *out)
{
    out->type = PROMQL_TYPE_SCALAR;
    out->sc = l->sc;
    for (size_t i = 0; i < c->nsteps; i++) {
        out->sc[i] = ev_scalar_binop(op, l->sc[i], r->sc[i]);
    }
    return 0;
}

/* vector op scalar (swap: scalar op vector). Each series maps to itself, so no regrouping. */
static int vector_scalar(ev_ctx *c, const ast_binary *b, ev_value *vec, ev_value *sc, bool swap,
                         ev_value *out)
{
    out->type = PROMQL_TYPE_VECTOR;
    bool drop = !is_comparison(b->op) || b->return_bool;
    for (size_t i = 0; i < vec->m.n; i++) {
        ev_series *s = &vec->m.s[i];
        size_t w = 0;
        for (size_t k = 0; k < s->n; k++) {
            double vv = s->v[k], sv = sc->sc[step_index(c, s->t[k])];
            bool keep;
            double res = swap ? elem_binop(b->op, sv, vv, &keep) : elem_binop(b->op, vv, sv, &keep);
            if (is_comparison(b->op)) {
                res = vv;
            }
            if (b->return_bool) {
                res = keep ? 1 : 0;
                keep = true;
            }
            if (!keep) {
                continue;
            }
            s->t[w] = s->t[k];
            s->v[w] = res;
            w++;
        }
        s->n = w;
        if (drop) {
            s->drop_name = true;
        }
    }
    out->m = vec->m;
    return 0;
}

/* Join signatures: series with equal keys match. ordinals[i] for every series of both sides. */
typedef struct {
    uint32_t *lsig, *rsig;
    size_t nsigs;
} sigs;

static void sig_key(odin_strbuf *b, odin_labels ls, const ast_binary *bin)
{
    odin_strbuf_reset(b);
    for (size_t i = 0; i < ls.len; i++) {
        const odin_label *l = &ls.v[i];
        bool named = ev_name_in(l->name.p, l->name.len, bin->labels, bin->nlabels);
        if (bin->on ? !named : (named || odin_str_eq_c(l->name, "__name__"))) {
            continue;
        }
        odin_strbuf_putstr(b, l->name);
        odin_strbuf_putc(b, '\xff');
        odin_strbuf_putstr(b, l->value);
        odin_strbuf_putc(b, '\xfe');
    }
}

static void compute_sigs(ev_ctx *c, const ast_binary *bin, const ev_matrix *l, const ev_matrix *r,
                         sigs *out)
{
    odin_map map;
    odin_map_init(&map);
    odin_strbuf key;
    odin_strbuf_init(&key, 0);
    out->lsig = ev_alloc(c, (l->n + 1) * sizeof(uint32_t));
    out->rsig = ev_alloc(c, (r->n + 1) * sizeof(uint32_t));
    out->nsigs = 0;
    for (int side = 0; side < 2; side++) {
        const ev_matrix *m = side ? r : l;
        uint32_t *dst = side ? out->rsig : out->lsig;
        for (size_t i = 0; i < m->n; i++) {
            sig_key(&key, m->s[i].ls, bin);
            void *hit = odin_map_get(&map, key.p, key.len);
            if (hit) {
                dst[i] = (uint32_t)((uintptr_t)hit - 1);
                continue;
            }
            char *k = ev_alloc(c, key.len + 1);
            if (key.len) {
                memcpy(k, key.p, key.len);
            }
            dst[i] = (uint32_t)out->nsigs++;
            odin_map_put(&map, k, key.len, (void *)(uintptr_t)(dst[i] + 1));
        }
    }
    odin_strbuf_fini(&key);
    odin_map_fini(&map);
}

/* and / or / unless: keep whole series from either side by signature presence at each step. */
static int set_op(ev_ctx *c, const ast_binary *b, ev_value *l, ev_value *r, ev_value *out)
{
    sigs sg;
    compute_sigs(c, b, &l->m, &r->m, &sg);
    int64_t *lgen = ev_alloc(c, (sg.nsigs + 1) * sizeof(int64_t));
    int64_t *rgen = ev_alloc(c, (sg.nsigs + 1) * sizeof(int64_t));
    for (size_t i = 0; i < sg.nsigs; i++) {
        lgen[i] = rgen[i] = -1;
    }
    size_t *lcur = ev_zalloc(c, (l->m.n + 1) * sizeof(size_t));
    size_t *rcur = ev_zalloc(c, (r->m.n + 1) * sizeof(size_t));
    size_t *lout = ev_alloc(c, (l->m.n + 1) * sizeof(size_t));
    size_t *rout = ev_alloc(c, (r->m.n + 1) * sizeof(size_t));
    memset(lout, 0xff, (l->m.n + 1) * sizeof(size_t));
    memset(rout, 0xff, (r->m.n + 1) * sizeof(size_t));
    ev_vec lv, rv;
    ev_vec_init(c, &lv, l->m.n);
    ev_vec_init(c, &rv, r->m.n);
    ev_collector col;
    ev_collector_init(&col);
    int rc = 0;
    for (size_t step = 0; step < c->nsteps && rc == 0; step++) {
        int64_t ts = ev_step_time(c, step);
        ev_gather(&l->m, lcur, ts, &lv);
        ev_gather(&r->m, rcur, ts, &rv);
        for (size_t i = 0; i < lv.n; i++) {
            lgen[sg.lsig[lv.idx[i]]] = (int64_t)step;
        }
        for (size_t i = 0; i < rv.n; i++) {
            rgen[sg.rsig[rv.idx[i]]] = (int64_t)step;
        }
        for (size_t i = 0; i < lv.n && rc == 0; i++) {
            uint32_t si = lv.idx[i];
            bool in_r = rgen[sg.lsig[si]] == (int64_t)step;
            bool keep = b->op == OP_OR || (b->op == OP_AND ? in_r : !in_r);
            if (!keep) {
                continue;
            }
            if (lout[si] == SIZE_MAX) {
                lout[si] = ev_collector_get(c, &col, l->m.s[si].ls, l->m.s[si].drop_name);
            }
            rc = ev_collector_push(c, &col, lout[si], ts, lv.v[i]);
        }
        if (b->op != OP_OR) {
            continue;
        }
        for (size_t i = 0; i < rv.n && rc == 0; i++) {
            uint32_t si = rv.idx[i];
            if (lgen[sg.rsig[si]] == (int64_t)step) {
                continue;
            }
            if (rout[si] == SIZE_MAX) {
                rout[si] = ev_collector_get(c, &col, r->m.s[si].ls, r->m.s[si].drop_name);
            }
            rc = ev_collector_push(c, &col, rout[si], ts, rv.v[i]);
        }
        if (rc == 0) {
            rc = ev_check_deadline(c);
        }
    }
    ev_collector_fini(&col);
    out->type = PROMQL_TYPE_VECTOR;
    out->m = col.m;
    return rc;
}

static bool changes_schema(ast_binop op)
{
    return !is_comparison(op) && !is_set_op(op);
}

/* Prometheus' resultMetric: the "many" side's labels, reduced by on/ignoring for one-to-one,
 * with group_x's extra labels copied from the "one" side. */
static odin_labels result_labels(ev_ctx *c, const ast_binary *b, odin_labels ls, odin_labels rs)
{
    odin_labels out = ls;
    if (changes_schema(b->op)) {
        out = ev_labels_del(c, out, "__name__");
    }
    if (b->card == CARD_ONE_TO_ONE) {
        if (b->on) {
            out = ev_labels_keep(c, out, b->labels, b->nlabels);
        } else {
            out = ev_labels_drop(c, out, b->labels, b->nlabels, false);
        }
    }
    for (size_t i = 0; i < b->ninclude; i++) {
        out = ev_labels_set(c, out, b->include[i], ev_label_get(rs, b->include[i]));
    }
    return out;
}

static int dup_error(ev_ctx *c, const ast_binary *b, odin_labels x, odin_labels y)
{
    odin_labels match = b->on ? ev_labels_keep(c, x, b->labels, b->nlabels)
                              : ev_labels_drop(c, x, b->labels, b->nlabels, true);
    odin_strbuf s1, s2, m;
    odin_strbuf_init(&s1, 4096);
    odin_strbuf_init(&s2, 4096);
    odin_strbuf_init(&m, 4096);
    ev_labels_string(&s1, x);
    ev_labels_string(&s2, y);
    ev_labels_string(&m, match);
    const char *a = s1.p ? s1.p : "{}", *bb = s2.p ? s2.p : "{}";
    if (strcmp(a, bb) > 0) {
        const char *t = a;
        a = bb;
        bb = t;
    }
    int rc = odin_err_set(c->err, EV_ERR_EXEC,
                          "found duplicate series for the match group %s on the %s hand-side of "
                          "the operation: [%s, %s];many-to-many matching not allowed: matching "
                          "labels must be unique on one side",
                          m.p ? m.p : "{}", b->card == CARD_ONE_TO_MANY ? "left" : "right", a, bb);
    odin_strbuf_fini(&s1);
    odin_strbuf_fini(&s2);
    odin_strbuf_fini(&m);
    return rc;
}

typedef struct {
    const ast_binary *b;
    ev_matrix *lm, *rm; /* after the one-to-many swap: rm is the "one" side */
    bool swapped;
    sigs sg;
    int64_t *rgen, *mgen;
    uint32_t *rpos;
    odin_map pairs; /* (lhs series, rhs series) -> output series + 1 */
    /* Each lhs series' last pair: its rhs series (UINT32_MAX before any) and output series. A
     * series usually meets the same partner at every step, so most steps skip the map (its
     * lookup was ~3% of a small panel's range query). */
    uint32_t *last_r;
    size_t *last_o;
    ev_collector col;
} binop_state;

static int binop_pair(ev_ctx *c, binop_state *st, uint32_t li, double lval, uint32_t ri,
                      double rval, int64_t ts, int64_t step)
{
    const ast_binary *b = st->b;
    uint32_t sig = st->sg.lsig[li];
    if (b->card == CARD_ONE_TO_ONE) {
        if (st->mgen[sig] == step) {
            return odin_err_set(c->err, EV_ERR_EXEC,
                                "multiple matches for labels: many-to-one matching must be "
                                "explicit (group_left/group_right)");
        }
        st->mgen[sig] = step;
    }
    uint64_t key[2] = {li, ri};
    bool again = st->last_r[li] == ri;
    void *hit = again ? NULL : odin_map_get(&st->pairs, key, sizeof(key));
    size_t oi;
    if (again) {
        oi = st->last_o[li];
    } else if (hit) {
        oi = (size_t)(uintptr_t)hit - 1;
    } else {
        odin_labels ls = result_labels(c, b, st->lm->s[li].ls, st->rm->s[ri].ls);
        oi = ev_collector_get(c, &st->col, ls, b->return_bool);
        uint64_t *k = ev_alloc(c, sizeof(key));
        memcpy(k, key, sizeof(key));
        odin_map_put(&st->pairs, k, sizeof(key), (void *)(uintptr_t)(oi + 1));
    }
    st->last_r[li] = ri;
    st->last_o[li] = oi;
    if (b->card != CARD_ONE_TO_ONE) {
        if (st->col.seen[oi] == ts) {
            return odin_err_set(c->err, EV_ERR_EXEC,
                                "multiple matches for labels: grouping labels must ensure unique "
                                "matches");
        }
        st->col.seen[oi] = ts;
    }
    double fl = st->swapped ? rval : lval, fr = st->swapped ? lval : rval;
    bool keep;
    double res = elem_binop(b->op, fl, fr, &keep);
    if (b->return_bool) {
        res = keep ? 1 : 0;
    } else if (!keep) {
        return 0;
    }
    return ev_collector_push(c, &st->col, oi, ts, res);
}

static int vector_vector(ev_ctx *c, const ast_binary *b, ev_value *l, ev_value *r, ev_value *out)
{
    binop_state st = {.b = b, .lm = &l->m, .rm = &r->m};
    if (b->card == CARD_ONE_TO_MANY) {
        st.lm = &r->m;
        st.rm = &l->m;
        st.swapped = true;
    }
    compute_sigs(c, b, st.lm, st.rm, &st.sg);
    st.rgen = ev_alloc(c, (st.sg.nsigs + 1) * sizeof(int64_t));
    st.mgen = ev_alloc(c, (st.sg.nsigs + 1) * sizeof(int64_t));
    st.rpos = ev_alloc(c, (st.sg.nsigs + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < st.sg.nsigs; i++) {
        st.rgen[i] = st.mgen[i] = -1;
    }
    st.last_r = ev_alloc(c, (st.lm->n + 1) * sizeof(uint32_t));
    st.last_o = ev_alloc(c, (st.lm->n + 1) * sizeof(size_t));
    for (size_t i = 0; i < st.lm->n; i++) {
        st.last_r[i] = UINT32_MAX;
    }
    size_t *lcur = ev_zalloc(c, (st.lm->n + 1) * sizeof(size_t));
    size_t *rcur = ev_zalloc(c, (st.rm->n + 1) * sizeof(size_t));
    ev_vec lv, rv;
    ev_vec_init(c, &lv, st.lm->n);
    ev_vec_init(c, &rv, st.rm->n);
    odin_map_init(&st.pairs);
    ev_collector_init(&st.col);
    int rc = 0;
    for (size_t step = 0; step < c->nsteps && rc == 0; step++) {
        int64_t ts = ev_step_time(c, step);
        ev_gather(st.lm, lcur, ts, &lv);
        ev_gather(st.rm, rcur, ts, &rv);
        if (lv.n == 0 || rv.n == 0) {
            continue;
        }
        for (size_t i = 0; i < rv.n && rc == 0; i++) {
            uint32_t sig = st.sg.rsig[rv.idx[i]];
            if (st.rgen[sig] == (int64_t)step) {
                rc = dup_error(c, b, st.rm->s[rv.idx[i]].ls, st.rm->s[rv.idx[st.rpos[sig]]].ls);
                break;
            }
            st.rgen[sig] = (int64_t)step;
            st.rpos[sig] = (uint32_t)i;
        }
        for (size_t i = 0; i < lv.n && rc == 0; i++) {
            uint32_t sig = st.sg.lsig[lv.idx[i]];
            if (st.rgen[sig] != (int64_t)step) {
                continue;
            }
            uint32_t pos = st.rpos[sig];
            rc = binop_pair(c, &st, lv.idx[i], lv.v[i], rv.idx[pos], rv.v[pos], ts,
                            (int64_t)step);
        }
        if (rc == 0) {
            rc = ev_check_deadline(c);
        }
    }
    odin_map_fini(&st.pairs);
    ev_collector_fini(&st.col);
    out->type = PROMQL_TYPE_VECTOR;
    out->m = st.col.m;
    return rc;
}

int ev_binary(ev_ctx *c, const ast_node *n, ev_value *out)
{
    const ast_binary *b = &n->u.bin;
    ev_value l, r;
    int rc = ev_eval(c, b->lhs, &l);
    if (rc < 0) {
        return rc;
    }
    rc = ev_eval(c, b->rhs, &r);
    if (rc < 0) {
        return rc;
    }
    bool ls = l.type == PROMQL_TYPE_SCALAR, rs = r.type == PROMQL_TYPE_SCALAR;
    if (ls && rs) {
        return scalar_scalar(c, b->op, &l, &r, out);
    }
    if (!ls && rs) {
        return vector_scalar(c, b, &l, &r, false, out);
    }
    if (ls && !rs) {
        return vector_scalar(c, b, &r, &l, true, out);
    }
    if (is_set_op(b->op)) {
        return set_op(c, b, &l, &r, out);
    }
    return vector_vector(c, b, &l, &r, out);
}

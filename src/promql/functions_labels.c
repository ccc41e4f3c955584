/* label_replace and label_join: they rewrite series labels once per series (not per step) and
 * then merge series that became identical, as Prometheus does. */
#include "promql/functions_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

int fn_merge_same_labels(ev_ctx *c, ev_matrix *m)
{
    ev_collector col;
    ev_collector_init(&col);
    int rc = 0;
    bool dup = false;
    size_t *map = ev_alloc(c, (m->n + 1) * sizeof(size_t));
    for (size_t i = 0; i < m->n; i++) {
        size_t before = col.m.n;
        map[i] = ev_collector_get(c, &col, m->s[i].ls, m->s[i].drop_name);
        if (col.m.n == before) {
            dup = true;
        }
    }
    if (!dup) {
        ev_collector_fini(&col);
        return 0;
    }
    for (size_t i = 0; i < m->n && rc == 0; i++) {
        ev_series *dst = &col.m.s[map[i]];
        ev_series *src = &m->s[i];
        dst->drop_name = src->drop_name;
        if (dst->n == 0) {
            dst->t = src->t;
            dst->v = src->v;
            dst->n = src->n;
            dst->cap = src->cap;
            continue;
        }
        /* merge two ascending point lists */
        size_t total = dst->n + src->n, a = 0, b = 0, k = 0;
        int64_t *nt = ev_alloc(c, total * sizeof(int64_t));
        double *nv = ev_alloc(c, total * sizeof(double));
        while (a < dst->n || b < src->n) {
            if (a < dst->n && b < src->n && dst->t[a] == src->t[b]) {
                rc = odin_err_set(c->err, EV_ERR_EXEC,
                                  "vector cannot contain metrics with the same labelset");
                break;
            }
            bool take_a = b >= src->n || (a < dst->n && dst->t[a] < src->t[b]);
            nt[k] = take_a ? dst->t[a] : src->t[b];
            nv[k] = take_a ? dst->v[a] : src->v[b];
            k++;
            if (take_a) {
                a++;
            } else {
                b++;
            }
        }
        dst->t = nt;
        dst->v = nv;
        dst->n = dst->cap = k;
    }
    ev_collector_fini(&col);
    *m = col.m;
    return rc;
}

/* Go's regexp.Expand: $1, ${1}, $name, ${name}, $$; unknown groups expand to nothing. */
static void expand(odin_strbuf *b, const char *tmpl, pcre2_code *re, const char *subj,
                   PCRE2_SIZE *ov, int nmatch)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p != '$') {
            odin_strbuf_putc(b, *p);
            continue;
        }
        p++;
        if (*p == '$') {
            odin_strbuf_putc(b, '$');
            continue;
        }
        bool brace = *p == '{';
        const char *s = brace ? p + 1 : p;
        const char *e = s;
        while ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') || (*e >= '0' && *e <= '9') ||
               *e == '_') {
            e++;
        }
        if (e == s || (brace && *e != '}')) {
            odin_strbuf_putc(b, '$');
            p--;
            continue;
        }
        char name[128];
        size_t len = (size_t)(e - s) < sizeof(name) - 1 ? (size_t)(e - s) : sizeof(name) - 1;
        memcpy(name, s, len);
        name[len] = '\0';
        int group = -1;
        bool digits = true;
        for (size_t i = 0; i < len; i++) {
            digits = digits && name[i] >= '0' && name[i] <= '9';
        }
        if (digits) {
            group = 0;
            for (size_t i = 0; i < len && group < 100000; i++) {
                group = group * 10 + (name[i] - '0');
            }
        } else {
            group = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
        }
        if (group >= 0 && group < nmatch && ov[2 * group] != PCRE2_UNSET) {
            odin_strbuf_put(b, subj + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
        }
        p = brace ? e : e - 1;
    }
}

/* Prometheus 3.x accepts any non-empty valid UTF-8 label name. */
static bool label_name_ok(const char *s)
{
    if (!s || !s[0]) {
        return false;
    }
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p >> 5) == 6 ? 1 : (*p >> 4) == 14 ? 2 : (*p >> 3) == 30 ? 3 : -1;
        if (n < 0) {
            return false;
        }
        p++;
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80) {
                return false;
            }
        }
    }
    return true;
}

static int label_replace(ev_ctx *c, const ast_call *call, ev_value *v, ev_value *args)
{
    const char *dst = args[1].str, *repl = args[2].str, *src = args[3].str, *rx = args[4].str;
    char *pat = odin_arena_printf(c->a, "^(?:%s)$", rx);
    int ecode;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY, &ecode, &eoff,
                                   NULL);
    if (!re) {
        return odin_err_set(c->err, EV_ERR_EXEC,
                            "invalid regular expression in label_replace(): %s", rx);
    }
    (void)call;
    int rc = 0;
    if (!label_name_ok(dst)) {
        rc = odin_err_set(c->err, EV_ERR_EXEC,
                          "invalid destination label name in label_replace(): %s", dst);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (size_t i = 0; rc == 0 && i < v->m.n; i++) {
        ev_series *s = &v->m.s[i];
        odin_str sv = ev_label_get(s->ls, src);
        char *subj = ev_alloc(c, sv.len + 1);
        memcpy(subj, sv.p, sv.len);
        subj[sv.len] = '\0';
        int nm = pcre2_match(re, (PCRE2_SPTR)subj, sv.len, 0, 0, md, NULL);
        if (nm < 0) {
            continue;
        }
        odin_strbuf_reset(&b);
        expand(&b, repl, re, subj, pcre2_get_ovector_pointer(md), nm);
        char *val = ev_alloc(c, b.len + 1);
        memcpy(val, b.p ? b.p : "", b.len);
        s->ls = ev_labels_set(c, s->ls, dst, (odin_str){val, b.len});
        if (strcmp(dst, "__name__") == 0) {
            s->drop_name = false;
        }
    }
    odin_strbuf_fini(&b);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc;
}

static int label_join(ev_ctx *c, const ast_call *call, ev_value *v, ev_value *args)
{
    const char *dst = args[1].str, *sep = args[2].str;
    if (!label_name_ok(dst)) {
        return odin_err_set(c->err, EV_ERR_EXEC,
                            "invalid destination label name in label_join(): %s", dst);
    }
    for (size_t k = 3; k < call->nargs; k++) {
        if (!label_name_ok(args[k].str)) {
            return odin_err_set(c->err, EV_ERR_EXEC,
                                "invalid source label name in label_join(): %s", args[k].str);
        }
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (size_t i = 0; i < v->m.n; i++) {
        ev_series *s = &v->m.s[i];
        odin_strbuf_reset(&b);
        for (size_t k = 3; k < call->nargs; k++) {
            if (k > 3) {
                odin_strbuf_puts(&b, sep);
            }
            odin_strbuf_putstr(&b, ev_label_get(s->ls, args[k].str));
        }
        char *val = ev_alloc(c, b.len + 1);
        memcpy(val, b.p ? b.p : "", b.len);
        s->ls = ev_labels_set(c, s->ls, dst, (odin_str){val, b.len});
        if (strcmp(dst, "__name__") == 0) {
            s->drop_name = false;
        }
    }
    odin_strbuf_fini(&b);
    return 0;
}

int fn_label_call(ev_ctx *c, const ast_call *call, ev_value *out)
{
    ev_value *args = ev_zalloc(c, (call->nargs + 1) * sizeof(ev_value));
    for (size_t i = 1; i < call->nargs; i++) {
        int rc = ev_eval(c, call->args[i], &args[i]);
        if (rc < 0) {
            return rc;
        }
        if (!args[i].str) {
            args[i].str = "";
        }
    }
    int rc = ev_eval(c, call->args[0], out);
    if (rc < 0) {
        return rc;
    }
    rc = call->fn->name[6] == 'r' ? label_replace(c, call, out, args)
                                  : label_join(c, call, out, args);
    if (rc < 0) {
        return rc;
    }
    return fn_merge_same_labels(c, &out->m);
}

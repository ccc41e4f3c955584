/* Label-set building for the evaluator: copies with labels removed, kept or set, all in the query
 * arena, plus the byte keys used to group and match series and Prometheus' labels.String(). */
#include "promql/engine_int.h"

#include <string.h>

odin_str ev_label_get(odin_labels ls, const char *name)
{
    const odin_str *v = odin_labels_get(ls, name);
    return v ? *v : (odin_str){"", 0};
}

bool ev_name_in(const char *name, size_t len, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) {
            return true;
        }
    }
    return false;
}

static odin_label *new_labels(ev_ctx *c, size_t n)
{
    return ev_alloc(c, (n ? n : 1) * sizeof(odin_label));
}

odin_labels ev_labels_copy(ev_ctx *c, odin_labels ls)
{
    odin_labels out = {new_labels(c, ls.len), ls.len};
    if (ls.len) {
        memcpy(out.v, ls.v, ls.len * sizeof(odin_label));
    }
    return out;
}

odin_labels ev_labels_del(ev_ctx *c, odin_labels ls, const char *name)
{
    odin_labels out = {new_labels(c, ls.len), 0};
    odin_str n = odin_str_c(name);
    for (size_t i = 0; i < ls.len; i++) {
        if (!odin_str_eq(ls.v[i].name, n)) {
            out.v[out.len++] = ls.v[i];
        }
    }
    return out;
}

/* An empty value deletes the label, as in Prometheus' label builder. */
odin_labels ev_labels_set(ev_ctx *c, odin_labels ls, const char *name, odin_str value)
{
    if (value.len == 0) {
        return ev_labels_del(c, ls, name);
    }
    odin_labels out = {new_labels(c, ls.len + 1), 0};
    odin_str n = odin_str_c(name);
    char *nc = ev_alloc(c, n.len + 1);
    memcpy(nc, n.p, n.len);
    nc[n.len] = '\0';
    char *vc = ev_alloc(c, value.len + 1);
    memcpy(vc, value.p, value.len);
    bool placed = false;
    for (size_t i = 0; i < ls.len; i++) {
        int cmp = odin_str_cmp(ls.v[i].name, n);
        if (cmp == 0) {
            continue;
        }
        if (cmp > 0 && !placed) {
            out.v[out.len++] = (odin_label){{nc, n.len}, {vc, value.len}};
            placed = true;
        }
        out.v[out.len++] = ls.v[i];
    }
    if (!placed) {
        out.v[out.len++] = (odin_label){{nc, n.len}, {vc, value.len}};
    }
    return out;
}

odin_labels ev_labels_keep(ev_ctx *c, odin_labels ls, const char *const *names, size_t n)
{
    odin_labels out = {new_labels(c, ls.len), 0};
    for (size_t i = 0; i < ls.len; i++) {
        if (ev_name_in(ls.v[i].name.p, ls.v[i].name.len, names, n)) {
            out.v[out.len++] = ls.v[i];
        }
    }
    return out;
}

odin_labels ev_labels_drop(ev_ctx *c, odin_labels ls, const char *const *names, size_t n,
                           bool drop_name)
{
    odin_labels out = {new_labels(c, ls.len), 0};
    for (size_t i = 0; i < ls.len; i++) {
        if (drop_name && odin_str_eq_c(ls.v[i].name, "__name__")) {
            continue;
        }
        if (!ev_name_in(ls.v[i].name.p, ls.v[i].name.len, names, n)) {
            out.v[out.len++] = ls.v[i];
        }
    }
    return out;
}

void ev_labels_key(odin_strbuf *b, odin_labels ls)
{
    /* one reservation for the whole key: aggregations build a key per input series */
    size_t n = 0;
    for (size_t i = 0; i < ls.len; i++) {
        n += ls.v[i].name.len + ls.v[i].value.len + 2;
    }
    char *w = odin_strbuf_reserve(b, n);
    if (!w) {
        return; /* past the buffer's cap: overflow is set */
    }
    for (size_t i = 0; i < ls.len; i++) {
        if (ls.v[i].name.len) {
            memcpy(w, ls.v[i].name.p, ls.v[i].name.len);
        }
        w += ls.v[i].name.len;
        *w++ = '\xff';
        if (ls.v[i].value.len) {
            memcpy(w, ls.v[i].value.p, ls.v[i].value.len);
        }
        w += ls.v[i].value.len;
        *w++ = '\xfe';
    }
    odin_strbuf_advance(b, n);
}

void ev_labels_string(odin_strbuf *b, odin_labels ls)
{
    odin_strbuf_put_go_labels(b, ls);
}

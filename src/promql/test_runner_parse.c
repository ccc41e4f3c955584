/* The .test script's series notation: `name{label="value"}` descriptors and the expanding value
 * items (`N`, `_`, `_xK`, `stale`, `NxK`, `N+DxK`, `N-DxK`, `{{...}}`). */
#include "promql/test_runner_int.h"
#include "promql/lexer.h"

#include <string.h>

static void *tr_alloc(odin_arena *a, size_t n)
{
    void *p = odin_arena_alloc(a, n ? n : 1);
    if (!p) {
        odin_oom();
    }
    return p;
}

static void push_val(odin_arena *a, tr_series_line *s, size_t *cap, tr_val v)
{
    if (s->nvals == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        tr_val *nv = tr_alloc(a, ncap * sizeof(tr_val));
        if (s->nvals) {
            memcpy(nv, s->vals, s->nvals * sizeof(tr_val));
        }
        s->vals = nv;
        *cap = ncap;
    }
    s->vals[s->nvals++] = v;
}

static bool is_name_char(char ch, bool first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' ||
           (!first && ch >= '0' && ch <= '9');
}

static int parse_number(odin_str s, double *out)
{
    if (s.len > 0 && s.p[0] == '+') {
        s.p++;
        s.len--;
    }
    if (s.len > 1 && s.p[0] == '0' && (s.p[1] == 'x' || s.p[1] == 'X')) {
        return -1;
    }
    return odin_parse_double(s, out) == 0 ? 0 : -1;
}

static int parse_count(odin_str s, int64_t *k)
{
    return odin_parse_i64(s, k) == 0 && *k >= 0 ? 0 : -1;
}

/* One value item; appends its expansion. */
static int parse_item(odin_arena *a, odin_str it, tr_series_line *s, size_t *cap, odin_strbuf *msg)
{
    if (odin_str_has_prefix(it, "{{")) {
        s->has_histogram = true;
        push_val(a, s, cap, (tr_val){TR_VAL_HISTOGRAM, 0});
        return 0;
    }
    if (odin_str_eq_c(it, "_")) {
        push_val(a, s, cap, (tr_val){TR_VAL_MISSING, 0});
        return 0;
    }
    if (odin_str_eq_c(it, "stale")) {
        push_val(a, s, cap, (tr_val){TR_VAL_FLOAT, tsdb_stale_nan()});
        return 0;
    }
    const char *x = NULL;
    for (size_t i = it.len; i > 0; i--) {
        if (it.p[i - 1] == 'x') {
            x = it.p + i - 1;
            break;
        }
    }
    int64_t k = 0;
    odin_str head = it;
    if (x) {
        odin_str cnt = {x + 1, (size_t)(it.p + it.len - x - 1)};
        head = (odin_str){it.p, (size_t)(x - it.p)};
        if (parse_count(cnt, &k) < 0) {
            odin_strbuf_printf(msg, "bad repetition count in %.*s", (int)it.len, it.p);
            return -1;
        }
        if (odin_str_eq_c(head, "_")) {
            for (int64_t i = 0; i < k; i++) {
                push_val(a, s, cap, (tr_val){TR_VAL_MISSING, 0});
            }
            return 0;
        }
    }
    double base, delta = 0;
    size_t split = 0;
    for (size_t i = 1; x && i < head.len; i++) {
        char ch = head.p[i];
        if ((ch == '+' || ch == '-') && head.p[i - 1] != 'e' && head.p[i - 1] != 'E') {
            split = i;
            break;
        }
    }
    odin_str bs = split ? (odin_str){head.p, split} : head;
    if (parse_number(bs, &base) < 0) {
        odin_strbuf_printf(msg, "bad number %.*s", (int)it.len, it.p);
        return -1;
    }
    if (split) {
        odin_str ds = {head.p + split + 1, head.len - split - 1};
        if (parse_number(ds, &delta) < 0) {
            odin_strbuf_printf(msg, "bad number %.*s", (int)it.len, it.p);
            return -1;
        }
        if (head.p[split] == '-') {
            delta = -delta;
        }
    }
    double v = base;
    for (int64_t i = 0; i <= k; i++) {
        push_val(a, s, cap, (tr_val){TR_VAL_FLOAT, v});
        v += delta;
    }
    return 0;
}

int tr_parse_values(odin_arena *a, odin_str text, tr_series_line *out, odin_strbuf *msg)
{
    size_t cap = 0;
    out->vals = NULL;
    out->nvals = 0;
    while (text.len) {
        text = odin_str_trim(text);
        if (!text.len) {
            break;
        }
        size_t end = 0;
        if (odin_str_has_prefix(text, "{{")) {
            /* {{A}}, {{A}}xK, {{A}}+{{B}}xK: skip whole literals, which contain blanks */
            for (;;) {
                const char *close = memmem(text.p + end, text.len - end, "}}", 2);
                end = close ? (size_t)(close - text.p) + 2 : text.len;
                if (end + 2 < text.len && (text.p[end] == '+' || text.p[end] == '-') &&
                    text.p[end + 1] == '{' && text.p[end + 2] == '{') {
                    continue;
                }
                break;
            }
            while (end < text.len && text.p[end] != ' ' && text.p[end] != '\t') {
                end++;
            }
        } else {
            while (end < text.len && text.p[end] != ' ' && text.p[end] != '\t') {
                end++;
            }
        }
        if (parse_item(a, (odin_str){text.p, end}, out, &cap, msg) < 0) {
            return -1;
        }
        text.p += end;
        text.len -= end;
    }
    return 0;
}

/* A quoted string starting at s[*i]; advances past it. */
static int take_quoted(odin_arena *a, odin_str s, size_t *i, odin_str *out)
{
    char q = s.p[*i];
    size_t j = *i + 1;
    while (j < s.len && s.p[j] != q) {
        if (s.p[j] == '\\' && q != '`') {
            j++;
        }
        j++;
    }
    if (j >= s.len) {
        return -1;
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    if (promql_unquote(s.p + *i, j + 1 - *i, &b) < 0) {
        odin_strbuf_fini(&b);
        return -1;
    }
    char *v = tr_alloc(a, b.len + 1);
    memcpy(v, b.p ? b.p : "", b.len);
    v[b.len] = '\0';
    *out = (odin_str){v, b.len};
    odin_strbuf_fini(&b);
    *i = j + 1;
    return 0;
}

static void skip_blank(odin_str s, size_t *i)
{
    while (*i < s.len && (s.p[*i] == ' ' || s.p[*i] == '\t')) {
        (*i)++;
    }
}

int tr_parse_series_line(odin_arena *a, odin_str line, tr_series_line *out, odin_strbuf *msg)
{
    memset(out, 0, sizeof(*out));
    odin_label lbl[64];
    size_t nl = 0, i = 0;
    while (i < line.len && is_name_char(line.p[i], i == 0)) {
        i++;
    }
    if (i > 0) {
        lbl[nl++] = (odin_label){ODIN_STR("__name__"), {line.p, i}};
    }
    bool braces = i < line.len && line.p[i] == '{';
    if (braces) {
        i++;
        for (;;) {
            skip_blank(line, &i);
            if (i < line.len && line.p[i] == '}') {
                i++;
                break;
            }
            odin_str name;
            if (i < line.len && (line.p[i] == '"' || line.p[i] == '\'')) {
                if (take_quoted(a, line, &i, &name) < 0) {
                    goto bad;
                }
            } else {
                size_t st = i;
                while (i < line.len && is_name_char(line.p[i], i == st)) {
                    i++;
                }
                name = (odin_str){line.p + st, i - st};
            }
            skip_blank(line, &i);
            if (i >= line.len || line.p[i] != '=' || nl == ODIN_ARRAY_LEN(lbl)) {
                goto bad;
            }
            i++;
            skip_blank(line, &i);
            odin_str val;
            if (i >= line.len || take_quoted(a, line, &i, &val) < 0) {
                goto bad;
            }
            lbl[nl++] = (odin_label){name, val};
            skip_blank(line, &i);
            if (i < line.len && line.p[i] == ',') {
                i++;
            }
        }
    }
    if (nl == 0 && !braces) {
        goto bad;
    }
    odin_labels_sort(lbl, nl);
    out->ls.v = tr_alloc(a, nl * sizeof(odin_label));
    memcpy(out->ls.v, lbl, nl * sizeof(odin_label));
    out->ls.len = nl;
    /* drop empty-valued labels, as a label set never holds them */
    size_t w = 0;
    for (size_t k = 0; k < nl; k++) {
        if (out->ls.v[k].value.len) {
            out->ls.v[w++] = out->ls.v[k];
        }
    }
    out->ls.len = w;
    return tr_parse_values(a, (odin_str){line.p + i, line.len - i}, out, msg);
bad:
    odin_strbuf_printf(msg, "malformed series descriptor: %.*s", (int)(line.len > 80 ? 80 : line.len),
                       line.p);
    return -1;
}

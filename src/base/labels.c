/* Label sets: sorting, comparison, lookup, validation and value escaping. */
#include "base/base.h"

#include <string.h>

void odin_labels_sort(odin_label *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        odin_label x = v[i];
        size_t j = i;
        while (j > 0 && odin_str_cmp(v[j - 1].name, x.name) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

int odin_labels_cmp(odin_labels a, odin_labels b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++) {
        int c = odin_str_cmp(a.v[i].name, b.v[i].name);
        if (c) {
            return c;
        }
        c = odin_str_cmp(a.v[i].value, b.v[i].value);
        if (c) {
            return c;
        }
    }
    return (a.len > b.len) - (a.len < b.len);
}

const odin_str *odin_labels_get(odin_labels ls, const char *name)
{
    odin_str n = odin_str_c(name);
    for (size_t i = 0; i < ls.len; i++) {
        if (odin_str_eq(ls.v[i].name, n)) {
            return &ls.v[i].value;
        }
    }
    return NULL;
}

static bool is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool odin_label_name_valid(odin_str s)
{
    if (s.len == 0 || !is_alpha_(s.p[0])) {
        return false;
    }
    for (size_t i = 1; i < s.len; i++) {
        if (!is_alpha_(s.p[i]) && !(s.p[i] >= '0' && s.p[i] <= '9')) {
            return false;
        }
    }
    return true;
}

bool odin_metric_name_valid(odin_str s)
{
    if (s.len == 0 || !(is_alpha_(s.p[0]) || s.p[0] == ':')) {
        return false;
    }
    for (size_t i = 1; i < s.len; i++) {
        char c = s.p[i];
        if (!is_alpha_(c) && !(c >= '0' && c <= '9') && c != ':') {
            return false;
        }
    }
    return true;
}

void odin_strbuf_put_label_value(odin_strbuf *b, odin_str v)
{
    size_t start = 0;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.p[i];
        const char *esc = c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '\n' ? "\\n" : NULL;
        if (esc) {
            odin_strbuf_put(b, v.p + start, i - start);
            odin_strbuf_put(b, esc, 2);
            start = i + 1;
        }
    }
    odin_strbuf_put(b, v.p + start, v.len - start);
}

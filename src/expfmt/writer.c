/* Text format 0.0.4 writer, byte-compatible with client_golang's expfmt: HELP and TYPE per family,
 * labels in name order with the bucket/quantile label last, Go's float formatting. */
#include "expfmt/expfmt.h"

#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [EXPFMT_UNTYPED] = "untyped",       [EXPFMT_COUNTER] = "counter",
    [EXPFMT_GAUGE] = "gauge",           [EXPFMT_HISTOGRAM] = "histogram",
    [EXPFMT_SUMMARY] = "summary",       [EXPFMT_GAUGE_HISTOGRAM] = "gaugehistogram",
    [EXPFMT_INFO] = "info",             [EXPFMT_STATESET] = "stateset",
};

/* expfmt_type_name lives with the parser; the writer keeps its own table to stay independent. */
static const char *type_name(expfmt_type t)
{
    if ((size_t)t < ODIN_ARRAY_LEN(type_names)) {
        return type_names[t];
    }
    return "untyped";
}

typedef struct {
    const expfmt_sample *s;
    size_t idx;
} sort_item;

static int sample_cmp(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    int c = odin_labels_cmp(x->s->labels, y->s->labels);
    if (c) {
        return c;
    }
    if (x->s->has_t && y->s->has_t && x->s->t_ms != y->s->t_ms) {
        return x->s->t_ms < y->s->t_ms ? -1 : 1;
    }
    return (x->idx > y->idx) - (x->idx < y->idx);
}

void expfmt_sort_samples(expfmt_family *f)
{
    size_t n = f->len;
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++) {
        sort_item a = {&f->samples[i - 1], i - 1}, b = {&f->samples[i], i};
        sorted = sample_cmp(&a, &b) <= 0;
    }
    if (sorted) {
        return;
    }
    sort_item *items = odin_malloc(n * sizeof(*items));
    expfmt_sample *copy = odin_malloc(n * sizeof(*copy));
    for (size_t i = 0; i < n; i++) {
        items[i] = (sort_item){&f->samples[i], i};
    }
    qsort(items, n, sizeof(*items), sample_cmp);
    for (size_t i = 0; i < n; i++) {
        copy[i] = *items[i].s;
    }
    memcpy(f->samples, copy, n * sizeof(*copy));
    free(copy);
    free(items);
}

/* The writers below reserve a line's worst case (every escapable byte doubled, the longest
 * number) once and fill it in place: a scrape page is thousands of short lines, and one bounds
 * check per line instead of one per piece is most of the writer's time. A line whose worst case
 * would pass the buffer's cap goes through the piecewise appends instead, so that a capped buffer
 * ends where it did before. */
static bool fits(const odin_strbuf *out, size_t bound)
{
    return out->cap_bytes == 0 || bound <= out->cap_bytes - out->len;
}

/* An empty piece may come as {NULL, 0}, which memcpy must not be given. */
static char *put(char *w, const char *p, size_t n)
{
    if (n > 0) {
        memcpy(w, p, n);
    }
    return w + n;
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static char *put_escaped(char *w, odin_str v, bool quote)
{
    for (size_t i = 0; i < v.len; i++) {
        char c = v.p[i];
        if (c == '\\' || c == '\n' || (quote && c == '"')) {
            *w++ = '\\';
            c = c == '\n' ? 'n' : c;
        }
        *w++ = c;
    }
    return w;
}

static void write_help_slow(odin_strbuf *out, odin_str name, odin_str help)
{
    odin_strbuf_put(out, "# HELP ", 7);
    odin_strbuf_putstr(out, name);
    odin_strbuf_putc(out, ' ');
    size_t start = 0;
    for (size_t i = 0; i < help.len; i++) {
        char c = help.p[i];
        if (c == '\\' || c == '\n') {
            odin_strbuf_put(out, help.p + start, i - start);
            odin_strbuf_put(out, c == '\\' ? "\\\\" : "\\n", 2);
            start = i + 1;
        }
    }
    odin_strbuf_put(out, help.p + start, help.len - start);
    odin_strbuf_putc(out, '\n');
}

void expfmt_write_help(odin_strbuf *out, odin_str name, odin_str help)
{
    size_t bound = 7 + name.len + 1 + 2 * help.len + 1;
    char *w = fits(out, bound) ? odin_strbuf_reserve(out, bound) : NULL;
    if (w == NULL) {
        write_help_slow(out, name, help);
        return;
    }
    char *start = w;
    w = put(w, "# HELP ", 7);
    w = put(w, name.p, name.len);
    *w++ = ' ';
    /* help texts are sentences that rarely need escapes: two memchr and one copy */
    if (help.len == 0 ||
        (memchr(help.p, '\\', help.len) == NULL && memchr(help.p, '\n', help.len) == NULL)) {
        w = put(w, help.p, help.len);
    } else {
        w = put_escaped(w, help, false);
    }
    *w++ = '\n';
    odin_strbuf_advance(out, (size_t)(w - start));
}

static void write_label_slow(odin_strbuf *out, const odin_label *l)
{
    odin_strbuf_putstr(out, l->name);
    odin_strbuf_put(out, "=\"", 2);
    odin_strbuf_put_label_value(out, l->value);
    odin_strbuf_putc(out, '"');
}

static void write_sample_slow(odin_strbuf *out, odin_str name, const expfmt_sample *s)
{
    odin_strbuf_putstr(out, name);
    odin_strbuf_puts(out, s->suffix ? s->suffix : "");
    if (s->labels.len || s->extra.name.len) {
        odin_strbuf_putc(out, '{');
        for (size_t i = 0; i < s->labels.len; i++) {
            if (i) {
                odin_strbuf_putc(out, ',');
            }
            write_label_slow(out, &s->labels.v[i]);
        }
        if (s->extra.name.len) {
            if (s->labels.len) {
                odin_strbuf_putc(out, ',');
            }
            write_label_slow(out, &s->extra);
        }
        odin_strbuf_putc(out, '}');
    }
    odin_strbuf_putc(out, ' ');
    odin_strbuf_put_double(out, s->value);
    if (s->has_t) {
        odin_strbuf_putc(out, ' ');
        odin_strbuf_put_i64(out, s->t_ms);
    }
    odin_strbuf_putc(out, '\n');
}

static char *put_label(char *w, const odin_label *l)
{
    w = put(w, l->name.p, l->name.len);
    *w++ = '=';
    *w++ = '"';
    w = put_escaped(w, l->value, true);
    *w++ = '"';
    return w;
}

/* Room for odin_format_double's output (it asks for 32 bytes; odin_strbuf_put_double reserves
 * 40) and an int64's digits. */
enum { DOUBLE_MAX = 40, I64_MAX = 20 };

static void write_sample(odin_strbuf *out, odin_str name, const expfmt_sample *s)
{
    const char *suffix = s->suffix ? s->suffix : "";
    size_t suffix_len = strlen(suffix);
    /* name, suffix, braces, the value's and timestamp's separators, newline */
    size_t bound = name.len + suffix_len + 2 + 1 + DOUBLE_MAX + 1 + I64_MAX + 1;
    for (size_t i = 0; i < s->labels.len; i++) {
        bound += s->labels.v[i].name.len + 2 * s->labels.v[i].value.len + 4;
    }
    bound += s->extra.name.len + 2 * s->extra.value.len + 4;
    char *w = fits(out, bound) ? odin_strbuf_reserve(out, bound) : NULL;
    if (w == NULL) {
        write_sample_slow(out, name, s);
        return;
    }
    char *start = w;
    w = put(w, name.p, name.len);
    w = put(w, suffix, suffix_len);
    if (s->labels.len || s->extra.name.len) {
        *w++ = '{';
        for (size_t i = 0; i < s->labels.len; i++) {
            if (i) {
                *w++ = ',';
            }
            w = put_label(w, &s->labels.v[i]);
        }
        if (s->extra.name.len) {
            if (s->labels.len) {
                *w++ = ',';
            }
            w = put_label(w, &s->extra);
        }
        *w++ = '}';
    }
    *w++ = ' ';
    w += odin_format_double(s->value, w);
    if (s->has_t) {
        *w++ = ' ';
        uint64_t v = s->t_ms < 0 ? (uint64_t)0 - (uint64_t)s->t_ms : (uint64_t)s->t_ms;
        if (s->t_ms < 0) {
            *w++ = '-';
        }
        char tmp[I64_MAX];
        size_t i = sizeof(tmp);
        do {
            tmp[--i] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        w = put(w, tmp + i, sizeof(tmp) - i);
    }
    *w++ = '\n';
    odin_strbuf_advance(out, (size_t)(w - start));
}

void expfmt_write_family(odin_strbuf *out, const expfmt_family *f)
{
    if (f->has_help) {
        expfmt_write_help(out, f->name, f->help);
    }
    const char *type = type_name(f->type);
    size_t type_len = strlen(type);
    size_t bound = 7 + f->name.len + 1 + type_len + 1;
    char *w = fits(out, bound) ? odin_strbuf_reserve(out, bound) : NULL;
    if (w != NULL) {
        char *start = w;
        w = put(w, "# TYPE ", 7);
        w = put(w, f->name.p, f->name.len);
        *w++ = ' ';
        w = put(w, type, type_len);
        *w++ = '\n';
        odin_strbuf_advance(out, (size_t)(w - start));
    } else {
        odin_strbuf_put(out, "# TYPE ", 7);
        odin_strbuf_putstr(out, f->name);
        odin_strbuf_putc(out, ' ');
        odin_strbuf_put(out, type, type_len);
        odin_strbuf_putc(out, '\n');
    }
    for (size_t i = 0; i < f->len; i++) {
        write_sample(out, f->name, &f->samples[i]);
    }
}

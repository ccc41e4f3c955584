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

void expfmt_write_help(odin_strbuf *out, odin_str name, odin_str help)
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

static void write_label(odin_strbuf *out, const odin_label *l)
{
    odin_strbuf_putstr(out, l->name);
    odin_strbuf_put(out, "=\"", 2);
    odin_strbuf_put_label_value(out, l->value);
    odin_strbuf_putc(out, '"');
}

static void write_sample(odin_strbuf *out, odin_str name, const expfmt_sample *s)
{
    odin_strbuf_putstr(out, name);
    odin_strbuf_puts(out, s->suffix ? s->suffix : "");
    if (s->labels.len || s->extra.name.len) {
        odin_strbuf_putc(out, '{');
        for (size_t i = 0; i < s->labels.len; i++) {
            if (i) {
                odin_strbuf_putc(out, ',');
            }
            write_label(out, &s->labels.v[i]);
        }
        if (s->extra.name.len) {
            if (s->labels.len) {
                odin_strbuf_putc(out, ',');
            }
            write_label(out, &s->extra);
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

void expfmt_write_family(odin_strbuf *out, const expfmt_family *f)
{
    if (f->has_help) {
        expfmt_write_help(out, f->name, f->help);
    }
    odin_strbuf_put(out, "# TYPE ", 7);
    odin_strbuf_putstr(out, f->name);
    odin_strbuf_putc(out, ' ');
    odin_strbuf_puts(out, type_name(f->type));
    odin_strbuf_putc(out, '\n');
    for (size_t i = 0; i < f->len; i++) {
        write_sample(out, f->name, &f->samples[i]);
    }
}

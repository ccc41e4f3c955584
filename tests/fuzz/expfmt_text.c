/* libFuzzer target for the exposition text parser (src/expfmt/parser.c): parses the input as
 * 0.0.4 and as OpenMetrics, with default and with tiny caps, until the end or an error, and
 * checks what every entry claims; then parses it with lazy labels (the scrape loop's mode, with
 * its one-pass sample reader) beside the eager parse, which must agree entry for entry and on
 * the final error. A broken claim aborts, so the fuzzer reports it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt/expfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static bool within(odin_str s, const char *buf, size_t len)
{
    return s.len == 0 || (s.p >= buf && s.p + s.len <= buf + len);
}

/* "LINE:COL: reason" with both numbers at least 1. */
static bool message_has_place(const char *msg)
{
    size_t i = 0;
    for (int part = 0; part < 2; part++) {
        if (msg[i] < '1' || msg[i] > '9') {
            return false;
        }
        while (msg[i] >= '0' && msg[i] <= '9') {
            i++;
        }
        if (msg[i++] != ':') {
            return false;
        }
    }
    return msg[i] == ' ';
}

static void parse_all(const char *buf, size_t len, const expfmt_parser_opts *opts)
{
    expfmt_parser *p = expfmt_parser_new(buf, len, opts);
    size_t max_labels = opts->max_labels ? opts->max_labels : 256;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) {
        lines += buf[i] == '\n';
    }
    expfmt_entry e;
    odin_err err;
    odin_err_clear(&err);
    size_t last_line = 0;
    int rc = expfmt_parser_next(p, &e, &err);
    for (size_t n = 0; rc == 1; n++) {
        check(n < lines);
        check(e.line > last_line && e.line <= lines);
        last_line = e.line;
        switch (e.kind) {
        case EXPFMT_ENTRY_SAMPLE:
            check(odin_metric_name_valid(e.name) && within(e.name, buf, len));
            check(e.nlabels <= max_labels);
            for (size_t i = 0; i < e.nlabels; i++) {
                check(odin_label_name_valid(e.labels[i].name));
                check(within(e.labels[i].name, buf, len));
                check(e.labels[i].value.len <= len);
                for (size_t j = 0; j < i; j++) {
                    check(!odin_str_eq(e.labels[i].name, e.labels[j].name));
                }
            }
            break;
        case EXPFMT_ENTRY_HELP:
        case EXPFMT_ENTRY_TYPE:
        case EXPFMT_ENTRY_UNIT:
            check(odin_metric_name_valid(e.name) && within(e.name, buf, len));
            check(e.text.len <= len);
            break;
        case EXPFMT_ENTRY_COMMENT:
            check(!opts->openmetrics && within(e.text, buf, len));
            break;
        default:
            check(false);
        }
        rc = expfmt_parser_next(p, &e, &err);
    }
    if (rc == 0) {
        check(err.code == 0);
    } else {
        check(rc == -ODIN_ERR_PARSE || rc == -ODIN_ERR_LIMIT);
        check(err.code == -rc && message_has_place(err.msg));
    }
    check(expfmt_parser_next(p, &e, NULL) == rc);
    expfmt_parser_free(p);
}

static bool same_str(odin_str a, odin_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool same_entry(const expfmt_entry *a, const expfmt_entry *b)
{
    if (a->kind != b->kind || a->line != b->line || a->name.p != b->name.p ||
        a->name.len != b->name.len || !same_str(a->text, b->text) || a->type != b->type) {
        return false;
    }
    if (a->kind != EXPFMT_ENTRY_SAMPLE) {
        return true;
    }
    if (a->series.p != b->series.p || a->series.len != b->series.len || a->has_t != b->has_t ||
        a->t_ms != b->t_ms || memcmp(&a->value, &b->value, sizeof a->value) != 0 ||
        a->nlabels != b->nlabels) {
        return false;
    }
    for (size_t i = 0; i < a->nlabels; i++) {
        if (!same_str(a->labels[i].name, b->labels[i].name) ||
            !same_str(a->labels[i].value, b->labels[i].value)) {
            return false;
        }
    }
    return true;
}

enum { MAX_HINTS = 256 };

typedef struct {
    odin_str series[MAX_HINTS];
    size_t name_len[MAX_HINTS];
    size_t n;
} hints;

/* The samples' series as an eager parse of the same input in the same format returns them: the
 * texts the scrape loop would hand the parser on the next scrape. */
static void collect_hints(const char *buf, size_t len, const expfmt_parser_opts *opts, hints *h)
{
    expfmt_parser *p = expfmt_parser_new(buf, len, opts);
    expfmt_entry e;
    h->n = 0;
    while (h->n < MAX_HINTS && expfmt_parser_next(p, &e, NULL) == 1) {
        if (e.kind == EXPFMT_ENTRY_SAMPLE) {
            h->series[h->n] = e.series;
            h->name_len[h->n++] = e.name.len;
        }
    }
    expfmt_parser_free(p);
}

/* Eager and lazy side by side, every sample's labels asked for; with h, the lazy parser is told
 * to expect h's texts from the `shift`-th on (a shift makes most expectations wrong). */
static void compare_lazy(const char *buf, size_t len, const expfmt_parser_opts *opts,
                         const hints *h, size_t shift)
{
    expfmt_parser_opts lo = *opts;
    lo.lazy_labels = true;
    expfmt_parser *ep = expfmt_parser_new(buf, len, opts);
    expfmt_parser *lp = expfmt_parser_new(buf, len, &lo);
    odin_err eerr, lerr;
    odin_err_clear(&eerr);
    odin_err_clear(&lerr);
    size_t samples = 0;
    for (;;) {
        expfmt_entry ee, le;
        int erc = expfmt_parser_next(ep, &ee, &eerr);
        size_t k = samples + shift;
        if (h != NULL && k < h->n) {
            expfmt_parser_expect(lp, h->series[k].p, h->series[k].len, h->name_len[k]);
        }
        int lrc = expfmt_parser_next(lp, &le, &lerr);
        if (lrc == 1 && le.kind == EXPFMT_ENTRY_SAMPLE) {
            check(!le.series_expected ||
                  (h != NULL && k < h->n && same_str(le.series, h->series[k])));
            samples++;
        }
        if (lrc == 1 && le.kind == EXPFMT_ENTRY_SAMPLE) {
            lrc = expfmt_parser_labels(lp, &le, &lerr);
        }
        check(erc == lrc);
        if (erc != 1) {
            break;
        }
        check(same_entry(&ee, &le));
    }
    check(eerr.code == lerr.code && strcmp(eerr.msg, lerr.msg) == 0);
    expfmt_parser_free(ep);
    expfmt_parser_free(lp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const expfmt_parser_opts modes[] = {
        {.openmetrics = false},
        {.openmetrics = true},
        {.openmetrics = false, .max_labels = 2, .max_line_bytes = 48},
        {.openmetrics = true, .max_labels = 1, .max_line_bytes = 24},
    };
    /* An exact-size copy: a read past the end is caught by AddressSanitizer. */
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    hints *h = malloc(sizeof *h);
    check(h != NULL);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        parse_all(buf, size, &modes[i]);
        compare_lazy(buf, size, &modes[i], NULL, 0);
        collect_hints(buf, size, &modes[i], h);
        compare_lazy(buf, size, &modes[i], h, 0);
        compare_lazy(buf, size, &modes[i], h, 1);
    }
    free(h);
    free(buf);
    return 0;
}

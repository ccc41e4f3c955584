/* Tests for src/expfmt/parser.c. Most cases are a table of input and the expected dump of every
 * entry the parser returns, ending with EOF or the error code and message, so one string holds
 * the values, escapes, timestamps, line numbers and the line:col of each error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above included first. */
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt/expfmt.h"

int expfmt_parser_tests(void);

/* ---- Dump ------------------------------------------------------------------------------------ */

static void put_quoted(odin_strbuf *b, odin_str s)
{
    static const char hex[] = "0123456789abcdef";
    odin_strbuf_putc(b, '"');
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '\n') {
            odin_strbuf_puts(b, "\\n");
        } else if (c == '"' || c == '\\') {
            odin_strbuf_putc(b, '\\');
            odin_strbuf_putc(b, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            char x[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            odin_strbuf_put(b, x, 4);
        } else {
            odin_strbuf_putc(b, (char)c);
        }
    }
    odin_strbuf_putc(b, '"');
}

/* Shortest %g form of at least 6 digits that reads back to the same double. */
static void put_value(odin_strbuf *b, double v)
{
    if (isnan(v)) {
        odin_strbuf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        odin_strbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    odin_strbuf tmp;
    odin_strbuf_init(&tmp, 0);
    for (int prec = 6; prec <= 17; prec++) {
        odin_strbuf_reset(&tmp);
        odin_strbuf_printf(&tmp, "%.*g", prec, v);
        if (strtod(tmp.p, NULL) == v) {
            break;
        }
    }
    odin_strbuf_putstr(b, (odin_str){tmp.p, tmp.len});
    odin_strbuf_fini(&tmp);
}

static const char *type_word(expfmt_type t)
{
    static const char *const w[] = {"untyped", "counter",        "gauge", "histogram",
                                    "summary", "gaugehistogram", "info",  "stateset"};
    return (unsigned)t < ODIN_ARRAY_LEN(w) ? w[t] : "?";
}

static const char *code_word(int code)
{
    switch (code) {
    case ODIN_ERR_PARSE:
        return "parse";
    case ODIN_ERR_LIMIT:
        return "limit";
    default:
        return "other";
    }
}

static void put_entry(odin_strbuf *b, const expfmt_entry *e)
{
    odin_strbuf_printf(b, "%zu ", e->line);
    switch (e->kind) {
    case EXPFMT_ENTRY_HELP:
    case EXPFMT_ENTRY_UNIT:
        odin_strbuf_puts(b, e->kind == EXPFMT_ENTRY_HELP ? "HELP " : "UNIT ");
        odin_strbuf_putstr(b, e->name);
        odin_strbuf_putc(b, ' ');
        put_quoted(b, e->text);
        break;
    case EXPFMT_ENTRY_TYPE:
        odin_strbuf_puts(b, "TYPE ");
        odin_strbuf_putstr(b, e->name);
        odin_strbuf_printf(b, " %s", type_word(e->type));
        break;
    case EXPFMT_ENTRY_COMMENT:
        odin_strbuf_puts(b, "COMMENT ");
        put_quoted(b, e->text);
        break;
    case EXPFMT_ENTRY_SAMPLE:
        odin_strbuf_puts(b, "SAMPLE ");
        odin_strbuf_putstr(b, e->name);
        if (e->nlabels > 0) {
            odin_strbuf_putc(b, '{');
            for (size_t i = 0; i < e->nlabels; i++) {
                odin_strbuf_puts(b, i ? "," : "");
                odin_strbuf_putstr(b, e->labels[i].name);
                odin_strbuf_putc(b, '=');
                put_quoted(b, e->labels[i].value);
            }
            odin_strbuf_putc(b, '}');
        }
        odin_strbuf_putc(b, ' ');
        put_value(b, e->value);
        if (e->has_t) {
            odin_strbuf_printf(b, " @%lld", (long long)e->t_ms);
        }
        break;
    default:
        odin_strbuf_puts(b, "BAD-KIND");
        break;
    }
    odin_strbuf_putc(b, '\n');
}

/* Parses a copy of in[0..len) held in a buffer of exactly that size, so a read past the end
 * trips AddressSanitizer, and dumps every entry. Returns the final code (0 or negative). */
static int dump(const char *in, size_t len, const expfmt_parser_opts *opts, odin_strbuf *out)
{
    char *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    memcpy(buf, in, len);
    expfmt_parser *p = expfmt_parser_new(buf, len, opts);
    expfmt_entry e;
    odin_err err;
    odin_err_clear(&err);
    int rc = expfmt_parser_next(p, &e, &err);
    for (int n = 0; rc == 1 && n < 100000; n++) {
        put_entry(out, &e);
        rc = expfmt_parser_next(p, &e, &err);
    }
    if (rc == 0) {
        odin_strbuf_puts(out, "EOF\n");
        assert_int_equal(err.code, 0);
    } else {
        odin_strbuf_printf(out, "ERR %s %s\n", code_word(-rc), err.msg);
        assert_int_equal(err.code, -rc);
    }
    /* Done is done: the parser repeats its last answer. */
    assert_int_equal(expfmt_parser_next(p, &e, NULL), rc);
    expfmt_parser_free(p);
    free(buf);
    return rc;
}

/* ---- Lazy labels against eager ---------------------------------------------------------------- */

/* Series texts to hand the lazy parser through expfmt_parser_expect, the k-th before the call
 * that returns the k-th sample (as the scrape loop does with the last scrape's lines). */
typedef struct {
    odin_str series[64];
    size_t name_len[64];
    size_t n;
} hints;

/* Parses in[0..len) eagerly and lazily (asking for every sample's labels) side by side: the same
 * entries, the same series text, the same final code and message. With h, the lazy parser is
 * told to expect h's texts. Returns the final code. */
static int compare_modes_hinted(const char *in, size_t len, const expfmt_parser_opts *opts,
                                const hints *h)
{
    char *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    memcpy(buf, in, len);
    expfmt_parser_opts eo = opts ? *opts : (expfmt_parser_opts){0};
    eo.lazy_labels = false;
    expfmt_parser_opts lo = eo;
    lo.lazy_labels = true;
    expfmt_parser *ep = expfmt_parser_new(buf, len, &eo);
    expfmt_parser *lp = expfmt_parser_new(buf, len, &lo);
    odin_strbuf a, b;
    odin_strbuf_init(&a, 0);
    odin_strbuf_init(&b, 0);
    odin_err eerr, lerr;
    odin_err_clear(&eerr);
    odin_err_clear(&lerr);
    int erc, lrc;
    size_t samples = 0;
    for (;;) {
        expfmt_entry ee, le;
        erc = expfmt_parser_next(ep, &ee, &eerr);
        if (h != NULL && samples < h->n) {
            expfmt_parser_expect(lp, h->series[samples].p, h->series[samples].len,
                                 h->name_len[samples]);
        }
        lrc = expfmt_parser_next(lp, &le, &lerr);
        if (lrc == 1 && le.kind == EXPFMT_ENTRY_SAMPLE) {
            assert_true(!le.series_expected ||
                        (h != NULL && odin_str_eq(le.series, h->series[samples])));
            samples++;
        }
        if (lrc == 1 && le.kind == EXPFMT_ENTRY_SAMPLE) {
            assert_false(ee.labels_deferred);
            lrc = expfmt_parser_labels(lp, &le, &lerr);
            assert_false(le.labels_deferred);
        }
        assert_int_equal(erc, lrc);
        if (erc != 1) {
            break;
        }
        odin_strbuf_reset(&a);
        odin_strbuf_reset(&b);
        put_entry(&a, &ee);
        put_entry(&b, &le);
        assert_string_equal(a.p, b.p);
        if (ee.kind == EXPFMT_ENTRY_SAMPLE) {
            assert_int_equal(ee.series.len, le.series.len);
            assert_ptr_equal(ee.series.p, le.series.p);
            assert_ptr_equal(ee.series.p, ee.name.p);
        }
    }
    assert_int_equal(eerr.code, lerr.code);
    assert_string_equal(eerr.msg, lerr.msg);
    assert_int_equal(expfmt_parser_next(lp, &(expfmt_entry){0}, NULL), lrc);
    odin_strbuf_fini(&a);
    odin_strbuf_fini(&b);
    expfmt_parser_free(ep);
    expfmt_parser_free(lp);
    free(buf);
    return erc;
}

static int compare_modes(const char *in, size_t len, const expfmt_parser_opts *opts)
{
    return compare_modes_hinted(in, len, opts, NULL);
}

/* The series of the samples of in[0..len) as an eager parse returns them (in must outlive h). */
static void collect_hints(const char *in, size_t len, bool om, hints *h)
{
    expfmt_parser_opts o = {.openmetrics = om};
    expfmt_parser *p = expfmt_parser_new(in, len, &o);
    expfmt_entry e;
    h->n = 0;
    while (expfmt_parser_next(p, &e, NULL) == 1 && h->n < 64) {
        if (e.kind == EXPFMT_ENTRY_SAMPLE) {
            h->series[h->n] = e.series;
            h->name_len[h->n++] = e.name.len;
        }
    }
    expfmt_parser_free(p);
}

typedef struct {
    const char *name;
    bool om;
    const char *in;
    const char *want;
} dump_case;

static void run_cases(const dump_case *cases, size_t n, const expfmt_parser_opts *base_opts)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const dump_case *c = &cases[i];
        expfmt_parser_opts o = base_opts ? *base_opts : (expfmt_parser_opts){0};
        o.openmetrics = c->om;
        odin_strbuf got;
        odin_strbuf_init(&got, 0);
        dump(c->in, strlen(c->in), &o, &got);
        compare_modes(c->in, strlen(c->in), &o);
        if (strcmp(got.p, c->want) != 0) {
            print_error("case %s:\n--- got\n%s--- want\n%s", c->name, got.p, c->want);
            failed++;
        }
        odin_strbuf_fini(&got);
    }
    if (failed) {
        fail_msg("%d of %zu cases failed", failed, n);
    }
}

/* ---- Prometheus text 0.0.4 ------------------------------------------------------------------- */

static const dump_case prom_cases[] = {
    {"empty input", false, "", "EOF\n"},
    {"help type sample", false, "# HELP foo Help text.\n# TYPE foo counter\nfoo 1\n",
     "1 HELP foo \"Help text.\"\n2 TYPE foo counter\n3 SAMPLE foo 1\nEOF\n"},
    {"no final newline", false, "foo 1", "1 SAMPLE foo 1\nEOF\n"},
    {"blank and whitespace lines", false, "\n\n  \t\nfoo 1\n\n", "4 SAMPLE foo 1\nEOF\n"},
    {"labels", false, "foo{a=\"1\",b=\"two\"} 3\n", "1 SAMPLE foo{a=\"1\",b=\"two\"} 3\nEOF\n"},
    {"trailing comma", false, "foo{a=\"1\",} 3\n", "1 SAMPLE foo{a=\"1\"} 3\nEOF\n"},
    {"empty braces", false, "foo{} 3\n", "1 SAMPLE foo 3\nEOF\n"},
    {"blanks everywhere", false, " \tfoo { a = \"1\" ,\tb=\"2\" , } 3 \t 17 \n",
     "1 SAMPLE foo{a=\"1\",b=\"2\"} 3 @17\nEOF\n"},
    {"value right after brace", false, "foo{a=\"b\"}1\n", "1 SAMPLE foo{a=\"b\"} 1\nEOF\n"},
    /* matches Prometheus promparse: pairs without a comma between them are accepted */
    {"missing comma", false, "foo{a=\"1\" b=\"2\"} 3\n", "1 SAMPLE foo{a=\"1\",b=\"2\"} 3\nEOF\n"},
    {"colons and underscores", false, "_a:b_c:d 1\n:x 2\n",
     "1 SAMPLE _a:b_c:d 1\n2 SAMPLE :x 2\nEOF\n"},
    {"label value with syntax in it", false, "foo{a=\"{x=\\\"1\\\"} # 2,\"} 1\n",
     "1 SAMPLE foo{a=\"{x=\\\"1\\\"} # 2,\"} 1\nEOF\n"},
    {"label value escapes", false, "foo{a=\"x\\\\y\\\"z\\nw\\t\",b=\"\"} 1\n",
     "1 SAMPLE foo{a=\"x\\\\y\\\"z\\nw\\\\t\",b=\"\"} 1\nEOF\n"},
    {"escapes on several labels", false,
     "foo{a=\"\\\\\",b=\"plain\",c=\"\\n\\n\",d=\"q\\\"\"} 1\nbar{x=\"\\\\\\\\\"} 2\n",
     "1 SAMPLE foo{a=\"\\\\\",b=\"plain\",c=\"\\n\\n\",d=\"q\\\"\"} 1\n"
     "2 SAMPLE bar{x=\"\\\\\\\\\"} 2\nEOF\n"},
    {"utf8 label value", false, "foo{a=\"h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80\"} 1\n",
     "1 SAMPLE foo{a=\"h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80\"} 1\nEOF\n"},
    {"help escapes", false, "# HELP foo a\\\\b\\nc\\\"d\\t\n",
     "1 HELP foo \"a\\\\b\\nc\\\\\\\"d\\\\t\"\nEOF\n"},
    {"help without text", false, "# HELP foo\n# HELP bar \n",
     "1 HELP foo \"\"\n2 HELP bar \"\"\nEOF\n"},
    /* matches Prometheus promparse: blanks after the first one belong to the text */
    {"help keeps extra blanks", false, "# HELP foo   two  words \n",
     "1 HELP foo \"  two  words \"\nEOF\n"},
    {"metadata blanks and tabs", false, "  #\tTYPE\t\tfoo\tgauge\n#  HELP  foo x\n",
     "1 TYPE foo gauge\n2 HELP foo \"x\"\nEOF\n"},
    {"comments", false, "# just a comment\n#no space\n# HELP\n# HELPx y\n#\n  # EOF\n",
     "1 COMMENT \"# just a comment\"\n2 COMMENT \"#no space\"\n3 COMMENT \"# HELP\"\n"
     "4 COMMENT \"# HELPx y\"\n5 COMMENT \"#\"\n6 COMMENT \"# EOF\"\nEOF\n"},
    {"all 0.0.4 types", false,
     "# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d summary\n# TYPE e untyped\n",
     "1 TYPE a counter\n2 TYPE b gauge\n3 TYPE c histogram\n4 TYPE d summary\n"
     "5 TYPE e untyped\nEOF\n"},
    {"special floats", false,
     "a NaN\nb nan\nc +Inf\nd -Inf\ne Inf\nf inf\ng -infinity\nh +INFINITY\ni -0\nj 0\n",
     "1 SAMPLE a NaN\n2 SAMPLE b NaN\n3 SAMPLE c +Inf\n4 SAMPLE d -Inf\n5 SAMPLE e +Inf\n"
     "6 SAMPLE f +Inf\n7 SAMPLE g -Inf\n8 SAMPLE h +Inf\n9 SAMPLE i -0\n10 SAMPLE j 0\nEOF\n"},
    {"float spellings", false,
     "a 1e3\nb .5\nc 5.\nd 1E-3\ne +3\nf -2.5e+2\ng 0.1\nh 1.7976931348623157e308\n"
     "i 4.9e-324\nj 1e-400\nk 123456789012345678901234567890\nl 0.30000000000000004\n"
     "m 00012\nn 9007199254740993\n",
     "1 SAMPLE a 1000\n2 SAMPLE b 0.5\n3 SAMPLE c 5\n4 SAMPLE d 0.001\n5 SAMPLE e 3\n"
     "6 SAMPLE f -250\n7 SAMPLE g 0.1\n8 SAMPLE h 1.7976931348623157e+308\n"
     "9 SAMPLE i 4.94066e-324\n10 SAMPLE j 0\n11 SAMPLE k 1.2345678901234568e+29\n"
     "12 SAMPLE l 0.30000000000000004\n13 SAMPLE m 12\n14 SAMPLE n 9007199254740992\nEOF\n"},
    {"timestamps", false, "a 1 0\nb 1 1234567890123\nc 1 9223372036854775807\n",
     "1 SAMPLE a 1 @0\n2 SAMPLE b 1 @1234567890123\n3 SAMPLE c 1 @9223372036854775807\nEOF\n"},
    {"histogram family", false,
     "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds histogram\n"
     "rpc_seconds_bucket{method=\"get\",le=\"0.05\"} 24054\n"
     "rpc_seconds_bucket{method=\"get\",le=\"+Inf\"} 144320\n"
     "rpc_seconds_sum{method=\"get\"} 53423.5\nrpc_seconds_count{method=\"get\"} 144320\n",
     "1 HELP rpc_seconds \"RPC latency.\"\n2 TYPE rpc_seconds histogram\n"
     "3 SAMPLE rpc_seconds_bucket{method=\"get\",le=\"0.05\"} 24054\n"
     "4 SAMPLE rpc_seconds_bucket{method=\"get\",le=\"+Inf\"} 144320\n"
     "5 SAMPLE rpc_seconds_sum{method=\"get\"} 53423.5\n"
     "6 SAMPLE rpc_seconds_count{method=\"get\"} 144320\nEOF\n"},
    {"summary family", false,
     "# TYPE go_gc_duration_seconds summary\n"
     "go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05\n"
     "go_gc_duration_seconds{quantile=\"0.5\"} 0.000112\n"
     "go_gc_duration_seconds{quantile=\"1\"} 0.003\n"
     "go_gc_duration_seconds_sum 0.5\ngo_gc_duration_seconds_count 42\n",
     "1 TYPE go_gc_duration_seconds summary\n"
     "2 SAMPLE go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05\n"
     "3 SAMPLE go_gc_duration_seconds{quantile=\"0.5\"} 0.000112\n"
     "4 SAMPLE go_gc_duration_seconds{quantile=\"1\"} 0.003\n"
     "5 SAMPLE go_gc_duration_seconds_sum 0.5\n6 SAMPLE go_gc_duration_seconds_count 42\nEOF\n"},

    /* errors, each with line:col */
    {"missing value", false, "foo\n",
     "ERR parse 1:4: expected value after metric, got end of line\n"},
    {"missing value after labels", false, "foo{a=\"1\"}\n",
     "ERR parse 1:11: expected value after metric, got end of line\n"},
    {"missing value blanks", false, "foo{a=\"1\"}  \t\n",
     "ERR parse 1:14: expected value after metric, got end of line\n"},
    {"no metric name", false, "{a=\"1\"} 1\n",
     "ERR parse 1:1: expected metric name or '#', got \"{a=\\\"1\\\"}\"\n"},
    {"name starts with digit", false, "ok 1\n1foo 2\n",
     "1 SAMPLE ok 1\nERR parse 2:1: expected metric name or '#', got \"1foo\"\n"},
    {"bad char in name", false, "foo-bar 1\n",
     "ERR parse 1:4: invalid character in metric name, got \"-bar\"\n"},
    {"label name starts with digit", false, "foo{1a=\"x\"} 1\n",
     "ERR parse 1:5: expected label name or '}', got \"1a=\\\"x\\\"}\"\n"},
    {"colon in label name", false, "foo{a:b=\"x\"} 1\n",
     "ERR parse 1:6: expected '=' after label name, got \":b=\\\"x\\\"}\"\n"},
    {"unquoted label value", false, "foo{a=x} 1\n",
     "ERR parse 1:7: expected '\"' to open label value, got \"x}\"\n"},
    {"unterminated label value", false, "foo{a=\"x} 1\n",
     "ERR parse 1:7: unterminated label value\n"},
    {"escape at end of line", false, "foo{a=\"x\\", "ERR parse 1:7: unterminated label value\n"},
    {"unclosed brace", false, "foo{a=\"x\"",
     "ERR parse 1:10: expected ',' or '}' after label value, got end of line\n"},
    {"bad separator", false, "foo{a=\"x\";b=\"y\"} 1\n",
     "ERR parse 1:10: expected ',' or '}' after label value, got \";b=\\\"y\\\"}\"\n"},
    {"double comma", false, "foo{a=\"x\",,} 1\n",
     "ERR parse 1:11: expected label name or '}', got \",}\"\n"},
    {"leading comma", false, "foo{,a=\"x\"} 1\n",
     "ERR parse 1:5: expected label name or '}', got \",a=\\\"x\\\"}\"\n"},
    {"duplicate label", false, "foo{a=\"1\",b=\"2\",a=\"3\"} 1\n",
     "ERR parse 1:17: duplicate label name \"a\"\n"},
    {"invalid utf8", false, "foo{a=\"\xff\"} 1\n",
     "ERR parse 1:8: invalid UTF-8 in label value \"\\xff\"\n"},
    {"overlong utf8", false, "foo{a=\"\xc0\x80\"} 1\n",
     "ERR parse 1:8: invalid UTF-8 in label value \"\\xc0\\x80\"\n"},
    {"surrogate utf8", false, "foo{a=\"\xed\xa0\x80\"} 1\n",
     "ERR parse 1:8: invalid UTF-8 in label value \"\\xed\\xa0\\x80\"\n"},
    {"truncated utf8", false, "foo{a=\"ab\xe2\x98\"} 1\n",
     "ERR parse 1:8: invalid UTF-8 in label value \"ab\\xe2\\x98\"\n"},
    {"beyond U+10FFFF", false, "foo{a=\"\xf4\x90\x80\x80\"} 1\n",
     "ERR parse 1:8: invalid UTF-8 in label value \"\\xf4\\x90\\x80\\x80\"\n"},
    {"bad value", false, "foo abc\n", "ERR parse 1:5: invalid value \"abc\"\n"},
    {"value overflow", false, "foo 1e400\n", "ERR parse 1:5: invalid value \"1e400\"\n"},
    {"hex value", false, "foo 0x10\n", "ERR parse 1:5: invalid value \"0x10\"\n"},
    {"hex float value", false, "foo 0x1p3\n", "ERR parse 1:5: invalid value \"0x1p3\"\n"},
    {"underscore value", false, "foo 1_000\n", "ERR parse 1:5: invalid value \"1_000\"\n"},
    {"signed nan", false, "foo +NaN\n", "ERR parse 1:5: invalid value \"+NaN\"\n"},
    {"bare dot", false, "foo .\n", "ERR parse 1:5: invalid value \".\"\n"},
    {"bare exponent", false, "foo 1e\n", "ERR parse 1:5: invalid value \"1e\"\n"},
    {"crlf", false, "foo 1\r\n", "ERR parse 1:5: invalid value \"1\\x0d\"\n"},
    {"bad timestamp", false, "foo 1 abc\n", "ERR parse 1:7: invalid timestamp \"abc\"\n"},
    {"negative timestamp", false, "foo 1 -5\n", "ERR parse 1:7: invalid timestamp \"-5\"\n"},
    {"float timestamp", false, "foo 1 1.5\n", "ERR parse 1:7: invalid timestamp \"1.5\"\n"},
    {"timestamp overflow", false, "foo 1 9223372036854775808\n",
     "ERR parse 1:7: invalid timestamp \"9223372036854775808\"\n"},
    {"garbage after timestamp", false, "foo 1 2 3\n",
     "ERR parse 1:9: unexpected text after timestamp, got \"3\"\n"},
    {"bad type", false, "# TYPE foo bar\n", "ERR parse 1:12: invalid metric type \"bar\"\n"},
    {"openmetrics type in 0.0.4", false, "# TYPE foo unknown\n",
     "ERR parse 1:12: invalid metric type \"unknown\"\n"},
    {"type missing", false, "# TYPE foo\n", "ERR parse 1:11: invalid metric type \"\"\n"},
    /* matches Prometheus promparse: the type is the rest of the line */
    {"type with two blanks", false, "# TYPE foo  counter\n",
     "ERR parse 1:12: invalid metric type \" counter\"\n"},
    {"type trailing blank", false, "# TYPE foo counter \n",
     "ERR parse 1:12: invalid metric type \"counter \"\n"},
    {"help bad name", false, "# HELP 1foo x\n",
     "ERR parse 1:8: expected metric name after HELP, got \"1foo\"\n"},
    {"type no name", false, "# TYPE \n",
     "ERR parse 1:8: expected metric name after TYPE, got end of line\n"},
    {"type bad char in name", false, "# TYPE foo-bar counter\n",
     "ERR parse 1:11: invalid character in metric name, got \"-bar\"\n"},
    {"help invalid utf8", false, "# HELP foo ok \xfe\n",
     "ERR parse 1:12: invalid UTF-8 in help text \"ok \\xfe\"\n"},
    {"error line counting", false, "# HELP a x\n\n# TYPE a gauge\na 1\n\na{b=\"c\" 2\n",
     "1 HELP a \"x\"\n3 TYPE a gauge\n4 SAMPLE a 1\n"
     "ERR parse 6:9: expected ',' or '}' after label value, got \"2\"\n"},
    {"long offending value is cut", false, "foo abcdefghijklmnopqrstuvwxyz0123456789abcdefghij\n",
     "ERR parse 1:5: invalid value \"abcdefghijklmnopqrstuvwxyz012345\"...\n"},
};

static void test_prom_cases(void **state)
{
    (void)state;
    run_cases(prom_cases, ODIN_ARRAY_LEN(prom_cases), NULL);
}

/* ---- OpenMetrics 1.0 ------------------------------------------------------------------------- */

static const dump_case om_cases[] = {
    {"counter family", true,
     "# TYPE foo_seconds counter\n# HELP foo_seconds Help.\n# UNIT foo_seconds seconds\n"
     "foo_seconds_total 1\nfoo_seconds_created 1520430000.123\n# EOF\n",
     "1 TYPE foo_seconds counter\n2 HELP foo_seconds \"Help.\"\n3 UNIT foo_seconds \"seconds\"\n"
     "4 SAMPLE foo_seconds_total 1\n5 SAMPLE foo_seconds_created 1520430000.123\nEOF\n"},
    {"eof without newline", true, "foo 1\n# EOF", "1 SAMPLE foo 1\nEOF\n"},
    {"only eof", true, "# EOF\n", "EOF\n"},
    {"labels", true, "foo{a=\"1\",b=\"x\\\"y\\\\z\\n\",} 2\n# EOF\n",
     "1 SAMPLE foo{a=\"1\",b=\"x\\\"y\\\\z\\n\"} 2\nEOF\n"},
    {"timestamps in seconds", true, "a 1 1520879607.789\nb 1 0\nc 1 -1.5\nd 1 1e3\ne 1 10\n# EOF\n",
     "1 SAMPLE a 1 @1520879607789\n2 SAMPLE b 1 @0\n3 SAMPLE c 1 @-1500\n"
     "4 SAMPLE d 1 @1000000\n5 SAMPLE e 1 @10000\nEOF\n"},
    {"exemplars", true,
     "# TYPE foo histogram\n"
     "foo_bucket{le=\"0.5\"} 3 # {trace_id=\"abc\"} 0.3 1520879607.5\n"
     "foo_bucket{le=\"+Inf\"} 4 # {trace_id=\"d\\\"ef\",span=\"1\",} 7\n"
     "foo_count 4 123 # {} 1 123\nfoo_sum 2.5 # {a=\"\xc3\xa9\"} NaN\n# EOF\n",
     "1 TYPE foo histogram\n2 SAMPLE foo_bucket{le=\"0.5\"} 3\n3 SAMPLE foo_bucket{le=\"+Inf\"} 4\n"
     "4 SAMPLE foo_count 4 @123000\n5 SAMPLE foo_sum 2.5\nEOF\n"},
    {"help escapes", true, "# HELP foo a\\\"b\\\\c\\nd\\t\n# EOF\n",
     "1 HELP foo \"a\\\"b\\\\c\\nd\\\\t\"\nEOF\n"},
    {"empty help and unit", true, "# HELP foo \n# UNIT foo \n# EOF\n",
     "1 HELP foo \"\"\n2 UNIT foo \"\"\nEOF\n"},
    {"all openmetrics types", true,
     "# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d gaugehistogram\n"
     "# TYPE e summary\n# TYPE f info\n# TYPE g stateset\n# TYPE h unknown\n# EOF\n",
     "1 TYPE a counter\n2 TYPE b gauge\n3 TYPE c histogram\n4 TYPE d gaugehistogram\n"
     "5 TYPE e summary\n6 TYPE f info\n7 TYPE g stateset\n8 TYPE h untyped\nEOF\n"},
    {"stateset and info", true,
     "# TYPE s stateset\ns{s=\"a\"} 1\ns{s=\"b\"} 0\n# TYPE i info\ni_info{v=\"1.0\"} 1\n# EOF\n",
     "1 TYPE s stateset\n2 SAMPLE s{s=\"a\"} 1\n3 SAMPLE s{s=\"b\"} 0\n4 TYPE i info\n"
     "5 SAMPLE i_info{v=\"1.0\"} 1\nEOF\n"},
    {"special values", true, "a NaN\nb +Inf\nc -Inf\n# EOF\n",
     "1 SAMPLE a NaN\n2 SAMPLE b +Inf\n3 SAMPLE c -Inf\nEOF\n"},

    /* errors */
    {"missing eof", true, "foo 1\n",
     "1 SAMPLE foo 1\nERR parse 2:1: data does not end with # EOF\n"},
    {"empty input", true, "", "ERR parse 1:1: data does not end with # EOF\n"},
    {"data after eof", true, "# EOF\nfoo 1\n", "ERR parse 2:1: unexpected data after # EOF\n"},
    {"blank line after eof", true, "# EOF\n\n", "ERR parse 2:1: unexpected data after # EOF\n"},
    {"eof with trailing space", true, "# EOF \n",
     "ERR parse 1:1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF', got \"#\"\n"},
    {"empty line", true, "foo 1\n\n# EOF\n",
     "1 SAMPLE foo 1\nERR parse 2:1: empty line (not allowed in OpenMetrics)\n"},
    {"plain comment", true, "# hello\n# EOF\n",
     "ERR parse 1:1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF', got \"#\"\n"},
    {"comment without space", true, "#HELP foo x\n# EOF\n",
     "ERR parse 1:1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF', got \"#HELP\"\n"},
    {"leading space", true, " foo 1\n# EOF\n",
     "ERR parse 1:1: expected metric name or '#', got \" foo\"\n"},
    {"two spaces before value", true, "foo  1\n# EOF\n",
     "ERR parse 1:5: expected value after metric, got \" 1\"\n"},
    {"tab before value", true, "foo\t1\n# EOF\n",
     "ERR parse 1:4: invalid character in metric name, got \"\\x091\"\n"},
    {"no space after labels", true, "foo{a=\"1\"}1\n# EOF\n",
     "ERR parse 1:11: expected ' ' and value after labels, got \"1\"\n"},
    {"space in labels", true, "foo{a=\"1\", b=\"2\"} 1\n# EOF\n",
     "ERR parse 1:11: expected label name or '}', got \" b=\\\"2\\\"}\"\n"},
    {"space before brace", true, "foo {a=\"1\"} 1\n# EOF\n",
     "ERR parse 1:5: invalid value \"{a=\\\"1\\\"}\"\n"},
    {"missing comma", true, "foo{a=\"1\"b=\"2\"} 1\n# EOF\n",
     "ERR parse 1:10: expected ',' or '}' after label value, got \"b=\\\"2\\\"}\"\n"},
    {"trailing space", true, "foo 1 \n# EOF\n", "ERR parse 1:6: trailing space at end of line\n"},
    {"trailing space after timestamp", true, "foo 1 2 \n# EOF\n",
     "ERR parse 1:8: trailing space at end of line\n"},
    {"two spaces before timestamp", true, "foo 1  2\n# EOF\n",
     "ERR parse 1:7: expected timestamp, got \" 2\"\n"},
    {"garbage after timestamp", true, "foo 1 2 3\n# EOF\n",
     "ERR parse 1:9: expected exemplar or end of line after timestamp, got \"3\"\n"},
    {"nan timestamp", true, "foo 1 NaN\n# EOF\n", "ERR parse 1:7: invalid timestamp \"NaN\"\n"},
    {"inf timestamp", true, "foo 1 +Inf\n# EOF\n", "ERR parse 1:7: invalid timestamp \"+Inf\"\n"},
    {"huge timestamp", true, "foo 1 1e20\n# EOF\n", "ERR parse 1:7: invalid timestamp \"1e20\"\n"},
    {"exemplar without brace", true, "foo 1 # x\n# EOF\n",
     "ERR parse 1:7: expected '# {' to open exemplar, got \"#\"\n"},
    {"exemplar without value", true, "foo 1 # {a=\"b\"}\n# EOF\n",
     "ERR parse 1:16: expected ' ' and value after exemplar labels, got end of line\n"},
    {"exemplar bad value", true, "foo 1 # {a=\"b\"} x\n# EOF\n",
     "ERR parse 1:17: invalid exemplar value \"x\"\n"},
    {"exemplar bad label", true, "foo 1 # {a=b} 1\n# EOF\n",
     "ERR parse 1:12: expected '\"' to open label value, got \"b}\"\n"},
    {"exemplar bad utf8", true, "foo 1 # {a=\"\xff\"} 1\n# EOF\n",
     "ERR parse 1:13: invalid UTF-8 in label value \"\\xff\"\n"},
    {"exemplar bad timestamp", true, "foo 1 # {} 1 NaN\n# EOF\n",
     "ERR parse 1:14: invalid exemplar timestamp \"NaN\"\n"},
    {"exemplar garbage", true, "foo 1 # {} 1 2 3\n# EOF\n",
     "ERR parse 1:15: unexpected text after exemplar timestamp, got \" 3\"\n"},
    {"exemplar empty value", true, "foo 1 # {}  1\n# EOF\n",
     "ERR parse 1:12: expected exemplar value, got \" 1\"\n"},
    {"untyped is 0.0.4 only", true, "# TYPE foo untyped\n# EOF\n",
     "ERR parse 1:12: invalid metric type \"untyped\"\n"},
    {"help without text", true, "# HELP foo\n# EOF\n",
     "ERR parse 1:11: expected text after HELP name\n"},
    {"help two spaces", true, "# HELP  foo x\n# EOF\n",
     "ERR parse 1:8: expected metric name after HELP, got \" foo\"\n"},
    {"unit not a suffix", true, "# UNIT foo seconds\n# EOF\n",
     "ERR parse 1:12: unit is not a suffix of the metric name: \"seconds\"\n"},
    {"unit without underscore", true, "# UNIT fooseconds seconds\n# EOF\n",
     "ERR parse 1:19: unit is not a suffix of the metric name: \"seconds\"\n"},
    {"unit equals name", true, "# UNIT seconds seconds\n# EOF\n",
     "ERR parse 1:16: unit is not a suffix of the metric name: \"seconds\"\n"},
    {"duplicate label", true, "foo{a=\"1\",a=\"1\"} 1\n# EOF\n",
     "ERR parse 1:11: duplicate label name \"a\"\n"},
    {"raw newline in label value", true, "foo{a=\"x\ny\"} 1\n# EOF\n",
     "ERR parse 1:7: unterminated label value\n"},
    {"sample without newline before end", true, "foo 1",
     "1 SAMPLE foo 1\nERR parse 2:1: data does not end with # EOF\n"},
};

static void test_om_cases(void **state)
{
    (void)state;
    run_cases(om_cases, ODIN_ARRAY_LEN(om_cases), NULL);
}

/* ---- Limits ---------------------------------------------------------------------------------- */

static const dump_case label_limit_cases[] = {
    {"labels at the cap", false, "foo{a=\"1\",b=\"2\"} 1\n",
     "1 SAMPLE foo{a=\"1\",b=\"2\"} 1\nEOF\n"},
    {"too many labels", false, "foo{a=\"1\",b=\"2\",c=\"3\"} 1\n",
     "ERR limit 1:17: more than 2 labels\n"},
    {"too many labels om", true, "ok 1\nfoo{a=\"1\",b=\"2\",c=\"3\"} 1\n# EOF\n",
     "1 SAMPLE ok 1\nERR limit 2:17: more than 2 labels\n"},
    {"exemplar labels are not capped", true, "foo 1 # {a=\"1\",b=\"2\",c=\"3\"} 1\n# EOF\n",
     "1 SAMPLE foo 1\nEOF\n"},
};

static const dump_case line_limit_cases[] = {
    {"line at the cap", false, "foo_b 1 23\n", "1 SAMPLE foo_b 1 @23\nEOF\n"},
    {"last line at the cap", false, "foo_b 1 23", "1 SAMPLE foo_b 1 @23\nEOF\n"},
    {"line over the cap", false, "foo 1\nfoo_bar 1 2\n",
     "1 SAMPLE foo 1\nERR limit 2:1: line longer than 10 bytes\n"},
    {"last line over the cap", false, "foo 1\nfoo_bar 1 2",
     "1 SAMPLE foo 1\nERR limit 2:1: line longer than 10 bytes\n"},
    {"comment over the cap", false, "# a long comment\n",
     "ERR limit 1:1: line longer than 10 bytes\n"},
};

static void test_limits(void **state)
{
    (void)state;
    expfmt_parser_opts o = {.max_labels = 2};
    run_cases(label_limit_cases, ODIN_ARRAY_LEN(label_limit_cases), &o);
    o = (expfmt_parser_opts){.max_line_bytes = 10};
    run_cases(line_limit_cases, ODIN_ARRAY_LEN(line_limit_cases), &o);
}

/* Builds a sample line with n labels l0..l{n-1}; when dup is set the last one repeats l0. */
static void put_wide_line(odin_strbuf *b, size_t n, bool dup)
{
    odin_strbuf_puts(b, "wide{");
    for (size_t i = 0; i < n; i++) {
        odin_strbuf_printf(b, "%sl%zu=\"v\\\\%zu\"", i ? "," : "",
                           dup && i == n - 1 ? (size_t)0 : i, i);
    }
    odin_strbuf_puts(b, "} 1\n");
}

/* Default caps (256 labels), the hash-set duplicate check past 16 labels, and label arrays and
 * scratch that grow between lines while earlier lines stay correct. */
static void test_wide_label_sets(void **state)
{
    (void)state;
    odin_strbuf in;
    odin_strbuf_init(&in, 0);
    odin_strbuf_puts(&in, "a{x=\"\\n\"} 1\n");
    put_wide_line(&in, 256, false);
    put_wide_line(&in, 40, false);
    odin_strbuf_puts(&in, "b{y=\"\\\\\"} 2\n");

    expfmt_parser *p = expfmt_parser_new(in.p, in.len, NULL);
    expfmt_entry e;
    odin_err err;
    odin_err_clear(&err);
    size_t want_labels[] = {1, 256, 40, 1};
    for (size_t k = 0; k < ODIN_ARRAY_LEN(want_labels); k++) {
        assert_int_equal(expfmt_parser_next(p, &e, &err), 1);
        assert_int_equal(e.nlabels, want_labels[k]);
        for (size_t i = 0; e.nlabels > 1 && i < e.nlabels; i++) {
            odin_strbuf want;
            odin_strbuf_init(&want, 0);
            odin_strbuf_printf(&want, "v\\%zu", i);
            assert_int_equal(e.labels[i].value.len, want.len);
            assert_memory_equal(e.labels[i].value.p, want.p, want.len);
            odin_strbuf_fini(&want);
        }
    }
    assert_int_equal(e.labels[0].value.len, 1);
    assert_int_equal(e.labels[0].value.p[0], '\\');
    assert_int_equal(expfmt_parser_next(p, &e, &err), 0);
    expfmt_parser_free(p);

    const size_t widths[] = {17, 40, 256};
    for (size_t k = 0; k < ODIN_ARRAY_LEN(widths); k++) {
        odin_strbuf_reset(&in);
        put_wide_line(&in, widths[k], true);
        odin_strbuf got;
        odin_strbuf_init(&got, 0);
        assert_true(dump(in.p, in.len, NULL, &got) < 0);
        assert_non_null(strstr(got.p, "duplicate label name \"l0\""));
        odin_strbuf_fini(&got);
    }

    odin_strbuf_reset(&in);
    put_wide_line(&in, 257, false);
    odin_strbuf got;
    odin_strbuf_init(&got, 0);
    assert_int_equal(dump(in.p, in.len, NULL, &got), -ODIN_ERR_LIMIT);
    assert_non_null(strstr(got.p, "more than 256 labels"));
    odin_strbuf_fini(&got);
    odin_strbuf_fini(&in);
}

/* ---- Values ---------------------------------------------------------------------------------- */

static void test_exact_values(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        double want;
    } cases[] = {
        {"foo 0.1", 0.1},
        {"foo 1.5e-7", 1.5e-7},
        {"foo 123456.789", 123456.789},
        {"foo 9007199254740992", 9007199254740992.0},
        {"foo 18446744073709551615", 18446744073709551615.0},
        {"foo 1.7976931348623157e308", 1.7976931348623157e308},
        {"foo 2.2250738585072014e-308", 2.2250738585072014e-308},
        {"foo 3.141592653589793238462643383279", 3.141592653589793},
        {"foo 1e22", 1e22},
        {"foo 1e23", 1e23},
        {"foo -0.000001", -0.000001},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        expfmt_parser *p = expfmt_parser_new(cases[i].in, strlen(cases[i].in), NULL);
        expfmt_entry e;
        assert_int_equal(expfmt_parser_next(p, &e, NULL), 1);
        if (memcmp(&e.value, &cases[i].want, sizeof(double)) != 0) {
            fail_msg("%s: got %.17g want %.17g", cases[i].in, e.value, cases[i].want);
        }
        expfmt_parser_free(p);
    }

    /* NaN comes out as Prometheus' value.NormalNaN, never as a stale marker. */
    const char *nan_in = "foo NaN\n";
    expfmt_parser *p = expfmt_parser_new(nan_in, strlen(nan_in), NULL);
    expfmt_entry e;
    assert_int_equal(expfmt_parser_next(p, &e, NULL), 1);
    uint64_t bits;
    memcpy(&bits, &e.value, sizeof(bits));
    assert_int_equal(bits, UINT64_C(0x7ff8000000000001));
    expfmt_parser_free(p);
}

/* Random decimal spellings (short ones take the parser's no-overflow path, long ones the
 * counting one) must give strtod's correctly rounded double, eagerly and lazily; spellings with
 * a second point or a bare exponent must fail in both modes. */
static void test_random_values(void **state)
{
    (void)state;
    uint64_t x = 0x2545f4914f6cdd1du;
    char num[96], line[128];
    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t r = x;
        if (r & 1) {
            num[n++] = (r & 2) ? '-' : '+';
        }
        size_t ints = (r >> 2) % 12, fracs = (r >> 6) % 12;
        if ((r >> 10) % 8 == 0) {
            ints += 10; /* past 19 digits now and then */
        }
        bool point = (r >> 13) & 1;
        if (ints == 0 && fracs == 0) {
            ints = 1;
        }
        for (size_t i = 0; i < ints; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            num[n++] = (char)('0' + x % 10);
        }
        if (point || fracs > 0) {
            num[n++] = '.';
        }
        for (size_t i = 0; i < fracs; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            num[n++] = (char)('0' + x % 10);
        }
        bool had_point = point || fracs > 0, had_exp = (r >> 14) % 3 == 0;
        if (had_exp) {
            n += (size_t)snprintf(num + n, sizeof num - n, "e%s%d", (r >> 16) & 1 ? "-" : "",
                                  (int)((r >> 17) % 30));
        }
        /* a second point, a point in the exponent or a bare exponent: not a number */
        bool bad = false;
        if ((r >> 22) % 16 == 0) {
            bool dot = (r >> 26) & 1;
            n += (size_t)snprintf(num + n, sizeof num - n, "%s", dot ? ".5" : "e");
            bad = !dot || had_point || had_exp;
        }
        num[n] = '\0';
        int len = snprintf(line, sizeof line, "m %s\n", num);
        for (int lazy = 0; lazy < 2; lazy++) {
            expfmt_parser_opts o = {.lazy_labels = lazy == 1};
            expfmt_parser *p = expfmt_parser_new(line, (size_t)len, &o);
            expfmt_entry e;
            int rc = expfmt_parser_next(p, &e, NULL);
            if (bad) {
                if (rc == 1) {
                    fail_msg("%s: accepted", num);
                }
            } else {
                double want = strtod(num, NULL);
                if (rc != 1 || memcmp(&e.value, &want, sizeof want) != 0) {
                    fail_msg("%s: rc %d got %.17g want %.17g", num, rc, e.value, want);
                }
            }
            expfmt_parser_free(p);
        }
    }
}

/* ---- API ------------------------------------------------------------------------------------- */

static void test_types(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool om;
        int rc;
        expfmt_type t;
    } cases[] = {
        {"counter", false, 0, EXPFMT_COUNTER},
        {"gauge", false, 0, EXPFMT_GAUGE},
        {"histogram", false, 0, EXPFMT_HISTOGRAM},
        {"summary", false, 0, EXPFMT_SUMMARY},
        {"untyped", false, 0, EXPFMT_UNTYPED},
        {"unknown", false, -ODIN_ERR_PARSE, 0},
        {"gaugehistogram", false, -ODIN_ERR_PARSE, 0},
        {"info", false, -ODIN_ERR_PARSE, 0},
        {"stateset", false, -ODIN_ERR_PARSE, 0},
        {"counter", true, 0, EXPFMT_COUNTER},
        {"gauge", true, 0, EXPFMT_GAUGE},
        {"histogram", true, 0, EXPFMT_HISTOGRAM},
        {"summary", true, 0, EXPFMT_SUMMARY},
        {"unknown", true, 0, EXPFMT_UNTYPED},
        {"gaugehistogram", true, 0, EXPFMT_GAUGE_HISTOGRAM},
        {"info", true, 0, EXPFMT_INFO},
        {"stateset", true, 0, EXPFMT_STATESET},
        {"untyped", true, -ODIN_ERR_PARSE, 0},
        {"Counter", false, -ODIN_ERR_PARSE, 0},
        {"count", false, -ODIN_ERR_PARSE, 0},
        {"counters", true, -ODIN_ERR_PARSE, 0},
        {"", true, -ODIN_ERR_PARSE, 0},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        expfmt_type t = EXPFMT_COUNTER;
        int rc = expfmt_type_parse(odin_str_c(cases[i].s), cases[i].om, &t);
        if (rc != cases[i].rc || (rc == 0 && t != cases[i].t)) {
            fail_msg("type %s (om %d): rc %d type %d", cases[i].s, cases[i].om, rc, (int)t);
        }
    }
    assert_string_equal(expfmt_type_name(EXPFMT_UNTYPED), "untyped");
    assert_string_equal(expfmt_type_name(EXPFMT_COUNTER), "counter");
    assert_string_equal(expfmt_type_name(EXPFMT_GAUGE), "gauge");
    assert_string_equal(expfmt_type_name(EXPFMT_HISTOGRAM), "histogram");
    assert_string_equal(expfmt_type_name(EXPFMT_SUMMARY), "summary");
    assert_string_equal(expfmt_type_name(EXPFMT_GAUGE_HISTOGRAM), "gaugehistogram");
    assert_string_equal(expfmt_type_name(EXPFMT_INFO), "info");
    assert_string_equal(expfmt_type_name(EXPFMT_STATESET), "stateset");
    assert_string_equal(expfmt_type_name((expfmt_type)99), "untyped");
}

static void test_content_type(void **state)
{
    (void)state;
    static const struct {
        const char *ct;
        bool om;
    } cases[] = {
        {"application/openmetrics-text", true},
        {"application/openmetrics-text; version=1.0.0; charset=utf-8", true},
        {"application/openmetrics-text;version=0.0.1", true},
        {"  Application/OpenMetrics-Text ; version=1.0.0", true},
        {"text/plain; version=0.0.4; charset=utf-8", false},
        {"text/plain", false},
        {"application/openmetrics-textx", false},
        {"application/openmetrics", false},
        {"", false},
        {NULL, false},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        if (expfmt_is_openmetrics(cases[i].ct) != cases[i].om) {
            fail_msg("content type %s", cases[i].ct ? cases[i].ct : "(null)");
        }
    }
}

static void test_lifecycle(void **state)
{
    (void)state;
    expfmt_parser_free(NULL);
    /* NULL options and a NULL error are allowed; the code still comes back. */
    expfmt_parser *p = expfmt_parser_new(NULL, 0, NULL);
    expfmt_entry e;
    assert_int_equal(expfmt_parser_next(p, &e, NULL), 0);
    assert_int_equal(e.kind, EXPFMT_ENTRY_EOF);
    expfmt_parser_free(p);
    const char *bad = "foo{\n";
    p = expfmt_parser_new(bad, strlen(bad), NULL);
    assert_int_equal(expfmt_parser_next(p, &e, NULL), -ODIN_ERR_PARSE);
    assert_int_equal(expfmt_parser_next(p, &e, NULL), -ODIN_ERR_PARSE);
    expfmt_parser_free(p);
    /* Strings point into the input when nothing needed unescaping. */
    const char *in = "foo{a=\"b\"} 1\n";
    p = expfmt_parser_new(in, strlen(in), NULL);
    assert_int_equal(expfmt_parser_next(p, &e, NULL), 1);
    assert_ptr_equal(e.name.p, in);
    assert_ptr_equal(e.labels[0].name.p, in + 4);
    assert_ptr_equal(e.labels[0].value.p, in + 7);
    expfmt_parser_free(p);

    /* A NUL byte is an ordinary byte inside a label value (Prometheus skips over it too). */
    static const char nul[] = "foo{a=\"x\0y\"} 1\n";
    odin_strbuf got;
    odin_strbuf_init(&got, 0);
    dump(nul, sizeof(nul) - 1, NULL, &got);
    assert_string_equal(got.p, "1 SAMPLE foo{a=\"x\\x00y\"} 1\nEOF\n");
    odin_strbuf_fini(&got);
}

/* Every prefix of a payload rich in features must end in EOF or a clean error. */
static void test_truncations(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "# HELP a_seconds A \\\\ help\\n.\n# TYPE a_seconds histogram\n"
        "a_seconds_bucket{le=\"0.1\",x=\"\\\"q\\\"\"} 1 1700000000000\n"
        "a_seconds_sum{x=\"\xc3\xa9\"} NaN\n# comment\n\nb{ c = \"d\" , } -Inf\n",
        "# TYPE a_seconds histogram\n# UNIT a_seconds seconds\n# HELP a_seconds A \\\" h.\n"
        "a_seconds_bucket{le=\"0.1\",x=\"\\\"q\\\"\"} 1 1700000000.5 # {t=\"x\"} 0.05 1700000000\n"
        "a_seconds_count 1\n# EOF\n",
    };
    for (size_t k = 0; k < ODIN_ARRAY_LEN(inputs); k++) {
        size_t n = strlen(inputs[k]);
        for (size_t len = 0; len <= n; len++) {
            odin_strbuf got;
            odin_strbuf_init(&got, 0);
            expfmt_parser_opts o = {.openmetrics = k == 1};
            int rc = dump(inputs[k], len, &o, &got);
            assert_int_equal(compare_modes(inputs[k], len, &o), rc);
            if (rc < 0) {
                const char *err = strstr(got.p, "ERR parse ");
                assert_non_null(err);
                assert_true(err[10] >= '1' && err[10] <= '9');
            }
            odin_strbuf_fini(&got);
        }
    }
}

/* Random edits of feature-rich payloads, biased to the bytes that matter to a label block, must
 * parse the same lazily as eagerly: the lazy skip may never accept or reject differently. */
static void test_lazy_matches_eager_mutated(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "# TYPE a counter\na_total{x=\"1\",y=\"a\\\\b\\\"c\\nd\"} 1 1700000000000\n"
        "b{ c = \"d\" , e=\"f\" } -Inf\nc 3\nd{} 4\ne{x=\"\xc3\xa9\"} NaN\n",
        "# TYPE a histogram\na_bucket{le=\"0.1\",x=\"\\\"q\\\"\"} 1 1700000000.5 # {t=\"x\"} 0.05 "
        "1700000000\na_count{x=\"y\"} 1\nb{c=\"d\",} 2\n# EOF\n",
        /* the shapes the one-pass sample reader takes, and near misses of them */
        "a 1\nb{x=\"y\"} 2.5e3 17\nc{x=\"\\\\\"} +Inf\t 5 \nd_total 0.001\nname {x=\"1\"} 2\n"
        "e{x=\"}\",y=\"\\\"\"} 12345678901234567890 9223372036854775807\nf -0",
    };
    static const char alphabet[] = "{}\"\\=, \t#\nabx1.\xc3";
    uint64_t x = 0x9e3779b97f4a7c15u;
    char buf[512];
    hints seed_hints[3];
    for (size_t k = 0; k < 3; k++) {
        collect_hints(seeds[k], strlen(seeds[k]), k == 1, &seed_hints[k]);
    }
    assert_true(seed_hints[2].n >= 6);
    /* every prefix, so that input ends inside, at and after an expected series */
    for (size_t k = 0; k < 3; k++) {
        for (size_t n = 0; n <= strlen(seeds[k]); n++) {
            expfmt_parser_opts o = {.openmetrics = k == 1};
            compare_modes_hinted(seeds[k], n, &o, &seed_hints[k]);
        }
    }
    for (int round = 0; round < 30000; round++) {
        size_t k = (size_t)round % 3;
        size_t n = strlen(seeds[k]);
        memcpy(buf, seeds[k], n);
        int edits = 1 + round % 3;
        for (int i = 0; i < edits; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t at = (size_t)(x % n);
            char ch = alphabet[(x >> 20) % (sizeof(alphabet) - 1)];
            switch ((x >> 40) % 3) {
            case 0: /* replace */
                buf[at] = ch;
                break;
            case 1: /* insert */
                if (n < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = ch;
                    n++;
                }
                break;
            default: /* delete */
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            }
        }
        expfmt_parser_opts o = {.openmetrics = k == 1};
        compare_modes(buf, n, &o);
        /* told to expect the unedited lines: an edit inside, at the end of or right after an
         * expected series must read exactly as without the hint */
        compare_modes_hinted(buf, n, &o, &seed_hints[k]);
        o.max_labels = 1;
        compare_modes(buf, n, &o);
        o.max_labels = 0;
        o.max_line_bytes = 12 + (size_t)round % 8; /* lines at, under and over the limit */
        compare_modes(buf, n, &o);
        compare_modes_hinted(buf, n, &o, &seed_hints[k]);
    }
}

/* Lines that repeat an expected series are taken whole; near misses (a longer name, labels after
 * an expected bare name, no blank after it) read as without the hint. */
static void test_expect_series(void **state)
{
    (void)state;
    static const struct {
        const char *expect;
        size_t name_len;
        const char *in;
        bool taken;
        const char *want; /* the entry, or the error */
    } cases[] = {
        {"a{x=\"1\"}", 1, "a{x=\"1\"} 2 17\n", true, "1 SAMPLE a{x=\"1\"} 2 @17\n"},
        {"foo", 3, "foo 1\n", true, "1 SAMPLE foo 1\n"},
        {"foo", 3, "foo_bar 1\n", false, "1 SAMPLE foo_bar 1\n"},
        {"foo", 3, "foo {a=\"1\"} 2\n", false, "1 SAMPLE foo{a=\"1\"} 2\n"},
        {"foo {a=\"1\"}", 3, "foo {a=\"1\"} 2\n", true, "1 SAMPLE foo{a=\"1\"} 2\n"},
        {"a{x=\"1\"}", 1, "a{x=\"1\"}2\n", false, "1 SAMPLE a{x=\"1\"} 2\n"},
        {"a{x=\"1\"}", 1, "a{x=\"1\"} \n", false, "ERR 1:10: expected value after metric"},
        {"a{x=\"1\"}", 1, "a{x=\"1\"} 2 3 4\n", false, "ERR 1:14: unexpected text after"},
        {"a{x=\"1\"}", 1, "# HELP a x\n", false, "1 HELP a \"x\"\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expfmt_parser_opts o = {.lazy_labels = true};
        size_t n = strlen(cases[i].in);
        expfmt_parser *p = expfmt_parser_new(cases[i].in, n, &o);
        expfmt_parser_expect(p, cases[i].expect, strlen(cases[i].expect), cases[i].name_len);
        expfmt_entry e;
        odin_err err;
        odin_err_clear(&err);
        int rc = expfmt_parser_next(p, &e, &err);
        if (rc == 1 && e.kind == EXPFMT_ENTRY_SAMPLE) {
            assert_int_equal(e.series_expected, cases[i].taken);
            rc = expfmt_parser_labels(p, &e, &err);
        } else {
            assert_false(cases[i].taken);
        }
        odin_strbuf got;
        odin_strbuf_init(&got, 0);
        if (rc == 1) {
            put_entry(&got, &e);
            assert_string_equal(got.p, cases[i].want);
        } else {
            assert_non_null(strstr(err.msg, cases[i].want + 4));
        }
        odin_strbuf_fini(&got);
        expfmt_parser_free(p);
        compare_modes(cases[i].in, n, &o);
    }
}

/* A lazy line whose labels are never asked for costs no label parsing and reports none; the
 * rest of the line is still checked. */
static void test_lazy_skips_labels(void **state)
{
    (void)state;
    static const char in[] = "a{x=\"1\",y=\"2\"} 5 12\nb{x=\"\\\"}\"} 6\nc{x=\"1\"} oops\n";
    expfmt_parser_opts o = {.lazy_labels = true};
    expfmt_parser *p = expfmt_parser_new(in, sizeof(in) - 1, &o);
    expfmt_entry e;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(expfmt_parser_next(p, &e, &err), 1);
    assert_true(e.labels_deferred);
    assert_int_equal(e.nlabels, 0);
    assert_int_equal(e.series.len, strlen("a{x=\"1\",y=\"2\"}"));
    assert_true(e.value == 5 && e.has_t && e.t_ms == 12);
    assert_int_equal(expfmt_parser_next(p, &e, &err), 1);
    assert_int_equal(e.series.len, strlen("b{x=\"\\\"}\"}"));
    assert_int_equal(expfmt_parser_labels(p, &e, &err), 1);
    assert_int_equal(e.nlabels, 1);
    assert_true(e.labels[0].value.len == 2 && memcmp(e.labels[0].value.p, "\"}", 2) == 0);
    assert_int_equal(expfmt_parser_next(p, &e, &err), -ODIN_ERR_PARSE);
    assert_string_equal(err.msg, "3:10: invalid value \"oops\"");
    expfmt_parser_free(p);
}

/* ---- Conformance: real exporter output --------------------------------------------------------
 */

static void parse_fixture(const char *rel, size_t want_types, size_t want_samples)
{
    const char *src = getenv("ODIN_SOURCE_DIR");
    if (src == NULL) {
        print_message("SKIP %s: ODIN_SOURCE_DIR is not set\n", rel);
        skip();
    }
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/../shared/conformance/%s", src, rel);
    odin_strbuf buf;
    odin_strbuf_init(&buf, 0);
    odin_err err;
    odin_err_clear(&err);
    int rc = odin_read_file(path.p, &buf, 64u << 20, &err);
    odin_strbuf_fini(&path);
    if (rc != 0) {
        odin_strbuf_fini(&buf);
        print_message("SKIP %s: %s\n", rel, err.msg);
        skip();
    }
    expfmt_parser *p = expfmt_parser_new(buf.p, buf.len, NULL);
    expfmt_entry e;
    size_t types = 0;
    size_t samples = 0;
    rc = expfmt_parser_next(p, &e, &err);
    for (; rc == 1; rc = expfmt_parser_next(p, &e, &err)) {
        types += e.kind == EXPFMT_ENTRY_TYPE;
        samples += e.kind == EXPFMT_ENTRY_SAMPLE;
    }
    if (rc != 0) {
        fail_msg("%s: %s", rel, err.msg);
    }
    if (want_types) {
        assert_int_equal(types, want_types);
    }
    assert_int_equal(samples, want_samples);
    expfmt_parser_free(p);
    odin_strbuf_fini(&buf);
}

static void test_node_exporter_fixture(void **state)
{
    (void)state;
    /* Counts from conformance/node_exporter/SOURCE.md. */
    parse_fixture("node_exporter/e2e-output.txt", 1228, 3027);
}

static void test_node_exporter_64k_fixture(void **state)
{
    (void)state;
    parse_fixture("node_exporter/e2e-64k-page-output.txt", 1224, 3003);
}

/* ---- Reset ----------------------------------------------------------------------------------- */

/* Runs p to its end, dumping as dump() does. */
static int drain(expfmt_parser *p, odin_strbuf *out)
{
    expfmt_entry e;
    odin_err err;
    odin_err_clear(&err);
    int rc;
    while ((rc = expfmt_parser_next(p, &e, &err)) == 1) {
        put_entry(out, &e);
    }
    if (rc == 0) {
        odin_strbuf_puts(out, "EOF\n");
    } else {
        odin_strbuf_printf(out, "ERR %s %s\n", code_word(-rc), err.msg);
    }
    return rc;
}

/* A parser reset onto new input (the scrape loop keeps one per target) answers exactly what a new
 * parser would: the error, end state, line count, format and limits of the last input are gone,
 * and scratch grown by escapes and wide label sets is reused without leaking old bytes. */
static void test_reset(void **state)
{
    (void)state;
    static const char bad[] = "a{x=\"\\n\\\\\",y=\"2\",z=\"3\"} 1\nb{c=\"d\"} 2\nx{ 3\n";
    static const char om[] =
        "# TYPE m counter\n# HELP m h\\\\x\nm_total{k=\"v\\\"w\"} 4 5\n# EOF\n";
    static const char prom[] = "q 1\nr{\n";
    expfmt_parser_opts po = {.lazy_labels = false};
    expfmt_parser_opts oo = {.openmetrics = true};
    expfmt_parser_opts lim = {.max_labels = 1};

    expfmt_parser *p = expfmt_parser_new(bad, sizeof bad - 1, &po);
    odin_strbuf got, want;
    odin_strbuf_init(&got, 0);
    odin_strbuf_init(&want, 0);
    assert_true(drain(p, &got) < 0);
    odin_strbuf_reset(&got);
    odin_strbuf_reset(&want);
    dump(bad, sizeof bad - 1, &lim, &want);
    expfmt_parser_reset(p, bad, sizeof bad - 1, &lim);
    assert_int_equal(drain(p, &got), -ODIN_ERR_LIMIT);
    assert_string_equal(got.p, want.p);

    const struct {
        const char *in;
        size_t len;
        const expfmt_parser_opts *opts;
    } cases[] = {
        {om, sizeof om - 1, &oo},
        {bad, sizeof bad - 1, &po},
        {prom, sizeof prom - 1, &po},
        {om, sizeof om - 1, &po},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        odin_strbuf_reset(&got);
        odin_strbuf_reset(&want);
        int wrc = dump(cases[i].in, cases[i].len, cases[i].opts, &want);
        expfmt_parser_reset(p, cases[i].in, cases[i].len, cases[i].opts);
        assert_int_equal(drain(p, &got), wrc);
        assert_string_equal(got.p, want.p);
    }
    expfmt_parser_free(p);
    odin_strbuf_fini(&got);
    odin_strbuf_fini(&want);
}

int expfmt_parser_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_cases),
        cmocka_unit_test(test_om_cases),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_wide_label_sets),
        cmocka_unit_test(test_exact_values),
        cmocka_unit_test(test_random_values),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_lazy_matches_eager_mutated),
        cmocka_unit_test(test_lazy_skips_labels),
        cmocka_unit_test(test_expect_series),
        cmocka_unit_test(test_node_exporter_fixture),
        cmocka_unit_test(test_node_exporter_64k_fixture),
    };
    return cmocka_run_group_tests_name("expfmt_parser", tests, NULL, NULL);
}

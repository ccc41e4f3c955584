/* Pull parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0 text: one entry per call,
 * zero copies unless a label value or help text holds escapes. What it accepts follows
 * Prometheus' textparse (promparse.go, openmetricsparse.go); family semantics (suffixes, bucket
 * order, `le` spelling) are left to the scrape loop, as in Prometheus. */
#include "expfmt/expfmt.h"
#include "expfmt/lex.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    DEFAULT_MAX_LABELS = 256,
    DEFAULT_MAX_LINE_BYTES = 1 << 20,
    SMALL_LABEL_SET = 16, /* up to here duplicates are found by comparing pairs */
};

struct expfmt_parser {
    const char *buf; /* borrowed, not NUL-terminated */
    size_t len;
    size_t pos;  /* start of the next line */
    size_t line; /* 1-based number of the line at pos */
    bool om;
    int status; /* 0 while parsing, 1 after the end, the negative code after an error */
    size_t max_labels;
    size_t max_line_bytes;
    bool lazy;
    /* The current line and, in lazy mode, where its deferred label block starts (past '{'). */
    const char *line_start;
    const char *line_end;
    const char *pending_labels;
    /* expfmt_parser_expect's text for the next call (len 0: none) */
    const char *expect;
    size_t expect_len, expect_name_len;
    /* Scratch reused across calls: grows to the largest label set and line seen, never shrinks,
     * so a warm parser makes no allocation per line. */
    odin_label *labels;
    size_t labels_cap;
    char *scratch; /* unescaped label values and help text of the current line */
    size_t scratch_cap;
    uint16_t *dup_slots; /* open-addressing set of label indices + 1 for large label sets */
    size_t dup_cap;
};
/* ---- Scratch --------------------------------------------------------------------------------- */

/* Unescaped text of one line is never longer than the line, so sizing the scratch once per line
 * keeps every pointer already handed out for the line valid. */
static char *line_scratch(line_ctx *c)
{
    if (c->out != NULL) {
        return c->out;
    }
    expfmt_parser *p = c->p;
    size_t need = (size_t)(c->end - c->start);
    if (p->scratch_cap < need) {
        size_t cap = p->scratch_cap ? p->scratch_cap : 256;
        while (cap < need) {
            cap *= 2;
        }
        free(p->scratch);
        p->scratch = odin_malloc(cap);
        p->scratch_cap = cap;
    }
    c->out = p->scratch;
    return c->out;
}

/* Copies s[0..n) into scratch replacing the escapes \\, \n and (OpenMetrics help, all label
 * values) \"; any other backslash pair stays as written, as Go's strings.Replacer leaves it. */
static odin_str unescape(line_ctx *c, const char *s, size_t n, bool quote_escape)
{
    char *o = line_scratch(c);
    char *first = o;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\\' && i + 1 < n) {
            char x = s[i + 1];
            if (x == '\\' || x == 'n' || (x == '"' && quote_escape)) {
                *o++ = x == 'n' ? '\n' : x;
                i++;
                continue;
            }
        }
        *o++ = ch;
    }
    c->out = o;
    return (odin_str){first, (size_t)(o - first)};
}

static void labels_reserve(expfmt_parser *p, size_t n)
{
    if (n <= p->labels_cap) {
        return;
    }
    size_t cap = p->labels_cap ? p->labels_cap * 2 : 16;
    if (cap > p->max_labels) {
        cap = p->max_labels;
    }
    p->labels = odin_realloc(p->labels, cap * sizeof(*p->labels));
    p->labels_cap = cap;
}

/* ---- Labels ---------------------------------------------------------------------------------- */

static uint32_t name_hash(odin_str s)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < s.len; i++) {
        h = (h ^ (unsigned char)s.p[i]) * 16777619u;
    }
    return h;
}

static bool str_eq(odin_str a, odin_str b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

/* Returns the first label whose name repeats an earlier one, or NULL. Label sets of exposition
 * text are small: pairs are compared up to SMALL_LABEL_SET, a hash set past it keeps a 256-label
 * line from costing 32k comparisons. */
static const odin_label *find_duplicate(expfmt_parser *p, const odin_label *v, size_t n)
{
    if (n <= SMALL_LABEL_SET) {
        for (size_t i = 1; i < n; i++) {
            for (size_t j = 0; j < i; j++) {
                if (str_eq(v[i].name, v[j].name)) {
                    return &v[i];
                }
            }
        }
        return NULL;
    }
    size_t cap = 64;
    while (cap < 2 * n) {
        cap *= 2;
    }
    if (p->dup_cap < cap) {
        free(p->dup_slots);
        p->dup_slots = odin_malloc(cap * sizeof(*p->dup_slots));
        p->dup_cap = cap;
    }
    memset(p->dup_slots, 0, cap * sizeof(*p->dup_slots));
    for (size_t i = 0; i < n; i++) {
        size_t k = name_hash(v[i].name) & (cap - 1);
        while (p->dup_slots[k] != 0) {
            if (str_eq(v[p->dup_slots[k] - 1].name, v[i].name)) {
                return &v[i];
            }
            k = (k + 1) & (cap - 1);
        }
        p->dup_slots[k] = (uint16_t)(i + 1);
    }
    return NULL;
}

/* Parses `name="value",...}` from *sp, just past the opening brace, and leaves *sp after the
 * closing one; returns 0 or a negative code. With `e` set the labels are stored in it, otherwise
 * (exemplars) only checked. 0.0.4 allows blanks around every token and, as Prometheus' promparse
 * does, a missing comma between pairs; OpenMetrics allows neither. Both allow a trailing comma.
 * Unlike promlex.l, a raw newline inside a 0.0.4 label value is an error (lines are split first),
 * and names are the classic charset only (no quoted UTF-8 names of Prometheus 3). */
static int parse_labels(line_ctx *c, const char **sp, expfmt_entry *e)
{
    const bool om = c->p->om;
    const char *end = c->end;
    const char *s = *sp;
    for (;;) {
        if (!om) {
            s = skip_blank(s, end);
        }
        if (s < end && *s == '}') {
            *sp = s + 1;
            return 0;
        }
        if (s == end || !is_alpha_(*s)) {
            return expfmt_fail_tok(c, s, "expected label name or '}'");
        }
        const char *name = s;
        while (s < end && is_lname_cont(*s)) {
            s++;
        }
        odin_str lname = {name, (size_t)(s - name)};
        if (!om) {
            s = skip_blank(s, end);
        }
        if (s == end || *s != '=') {
            return expfmt_fail_tok(c, s, "expected '=' after label name");
        }
        s++;
        if (!om) {
            s = skip_blank(s, end);
        }
        if (s == end || *s != '"') {
            return expfmt_fail_tok(c, s, "expected '\"' to open label value");
        }
        const char *open = s++;
        unsigned char high = 0;
        bool escaped = false;
        while (s < end && *s != '"') {
            if (*s == '\\') {
                escaped = true;
                s++;
                if (s == end) {
                    break;
                }
            }
            high |= (unsigned char)*s;
            s++;
        }
        if (s == end) {
            return expfmt_fail_val(c, open, "unterminated label value", (odin_str){0});
        }
        odin_str value = {open + 1, (size_t)(s - open - 1)};
        s++;
        /* The raw text is checked: escapes only replace ASCII with ASCII, so it is valid exactly
         * when the unescaped value is. */
        if ((high & 0x80) && !odin_utf8_valid(value.p, value.len)) {
            return expfmt_fail_val(c, open + 1, "invalid UTF-8 in label value", value);
        }
        if (e != NULL) {
            if (e->nlabels == c->p->max_labels) {
                return odin_err_set(c->err, ODIN_ERR_LIMIT, "%zu:%zu: more than %zu labels",
                                    c->line, expfmt_col_of(c, name), c->p->max_labels);
            }
            labels_reserve(c->p, e->nlabels + 1);
            if (escaped) {
                value = unescape(c, value.p, value.len, true);
            }
            c->p->labels[e->nlabels++] = (odin_label){lname, value};
        }
        if (!om) {
            s = skip_blank(s, end);
        }
        if (s < end && *s == ',') {
            s++;
            continue;
        }
        if (s < end && (*s == '}' || (!om && is_alpha_(*s)))) {
            continue;
        }
        return expfmt_fail_tok(c, s, "expected ',' or '}' after label value");
    }
}

/* ---- Samples --------------------------------------------------------------------------------- */

/* The end (past '}') of the label block starting at s (past '{'), found without parsing: quoted
 * values are skipped with their backslash escapes, as parse_labels reads them, so for a block
 * that parses this is where parse_labels ends. NULL when there is no such end. */
static const char *skip_label_block(const char *s, const char *end)
{
    while (s < end) {
        if (*s == '}') {
            return s + 1;
        }
        if (*s == '"') {
            for (s++; s < end && *s != '"'; s++) {
                if (*s == '\\' && s + 1 < end) {
                    s++;
                }
            }
            if (s == end) {
                return NULL;
            }
        }
        s++;
    }
    return NULL;
}

/* A sample's label block: parsed, or in lazy mode skipped and left for expfmt_parser_labels. */
static int sample_labels(line_ctx *c, const char **sp, expfmt_entry *e)
{
    if (!c->p->lazy) {
        return parse_labels(c, sp, e);
    }
    const char *s = skip_label_block(*sp, c->end);
    if (s == NULL) {
        return parse_labels(c, sp, e); /* malformed: the eager parse names the error */
    }
    c->p->pending_labels = *sp;
    e->labels_deferred = true;
    *sp = s;
    return 0;
}

static const char *scan_metric_name(const char *s, const char *end)
{
    while (s < end && has_class(*s, C_MNAME_CONT)) {
        s++;
    }
    return s;
}

static int check_labels(line_ctx *c, expfmt_entry *e)
{
    if (e->labels_deferred) {
        return 1; /* checked by expfmt_parser_labels */
    }
    e->labels = c->p->labels;
    const odin_label *dup = find_duplicate(c->p, e->labels, e->nlabels);
    if (dup != NULL) {
        return expfmt_fail_val(c, dup->name.p, "duplicate label name", dup->name);
    }
    return 1;
}

static int parse_sample_value(line_ctx *c, const char *v, const char *ve, expfmt_entry *e)
{
    if (v == ve) {
        return expfmt_fail_tok(c, v, "expected value after metric");
    }
    if (!expfmt_parse_value(v, (size_t)(ve - v), &e->value)) {
        return expfmt_fail_val(c, v, "invalid value", (odin_str){v, (size_t)(ve - v)});
    }
    if (isnan(e->value)) {
        e->value = expfmt_normal_nan();
    }
    return 1;
}

/* name[{labels}] value [timestamp], blanks as promlex.l allows them. */
static int prom_sample(line_ctx *c, const char *s, expfmt_entry *e)
{
    const char *end = c->end;
    const char *name_end = scan_metric_name(s, end);
    e->kind = EXPFMT_ENTRY_SAMPLE;
    e->name = (odin_str){s, (size_t)(name_end - s)};
    e->series = e->name;
    s = skip_blank(name_end, end);
    if (s < end && *s == '{') {
        const char *series = e->name.p;
        s++;
        int rc = sample_labels(c, &s, e);
        if (rc < 0) {
            return rc;
        }
        e->series = (odin_str){series, (size_t)(s - series)};
        s = skip_blank(s, end);
    } else if (s == name_end && s < end) {
        return expfmt_fail_tok(c, s, "invalid character in metric name");
    }
    const char *v = s;
    s = skip_token(s, end, true);
    int rc = parse_sample_value(c, v, s, e);
    if (rc < 0) {
        return rc;
    }
    s = skip_blank(s, end);
    if (s < end) {
        const char *t = s;
        s = skip_token(s, end, true);
        if (!expfmt_parse_ms(t, (size_t)(s - t), &e->t_ms)) {
            return expfmt_fail_val(c, t, "invalid timestamp", (odin_str){t, (size_t)(s - t)});
        }
        e->has_t = true;
        s = skip_blank(s, end);
        if (s < end) {
            return expfmt_fail_tok(c, s, "unexpected text after timestamp");
        }
    }
    return check_labels(c, e);
}

/* ` # {labels} value [timestamp]` after an OpenMetrics sample, `s` at the '#': checked, dropped. */
static int om_exemplar(line_ctx *c, const char *s)
{
    const char *end = c->end;
    if (end - s < 3 || s[1] != ' ' || s[2] != '{') {
        return expfmt_fail_tok(c, s, "expected '# {' to open exemplar");
    }
    s += 3;
    int rc = parse_labels(c, &s, NULL);
    if (rc < 0) {
        return rc;
    }
    if (s == end || *s != ' ') {
        return expfmt_fail_tok(c, s, "expected ' ' and value after exemplar labels");
    }
    const char *v = ++s;
    s = skip_token(s, end, false);
    double val;
    if (v == s) {
        return expfmt_fail_tok(c, v, "expected exemplar value");
    }
    if (!expfmt_parse_value(v, (size_t)(s - v), &val)) {
        return expfmt_fail_val(c, v, "invalid exemplar value", (odin_str){v, (size_t)(s - v)});
    }
    if (s == end) {
        return 1;
    }
    const char *t = ++s;
    s = skip_token(s, end, false);
    int64_t t_ms;
    if (!expfmt_parse_seconds_ms(t, (size_t)(s - t), &t_ms)) {
        return expfmt_fail_val(c, t, "invalid exemplar timestamp", (odin_str){t, (size_t)(s - t)});
    }
    if (s < end) {
        return expfmt_fail_tok(c, s, "unexpected text after exemplar timestamp");
    }
    return 1;
}

/* name[{labels}] value [timestamp] [# exemplar], single spaces as openmetricslex.l requires. */
static int om_sample(line_ctx *c, const char *s, expfmt_entry *e)
{
    const char *end = c->end;
    const char *name_end = scan_metric_name(s, end);
    e->kind = EXPFMT_ENTRY_SAMPLE;
    e->name = (odin_str){s, (size_t)(name_end - s)};
    s = name_end;
    e->series = e->name;
    if (s < end && *s == '{') {
        s++;
        int rc = sample_labels(c, &s, e);
        if (rc < 0) {
            return rc;
        }
        e->series = (odin_str){e->name.p, (size_t)(s - e->name.p)};
    }
    if (s == end || *s != ' ') {
        return expfmt_fail_tok(c, s,
                        s == name_end ? "invalid character in metric name"
                                      : "expected ' ' and value after labels");
    }
    const char *v = ++s;
    s = skip_token(s, end, false);
    int rc = parse_sample_value(c, v, s, e);
    if (rc < 0 || s == end) {
        return rc < 0 ? rc : check_labels(c, e);
    }
    s++; /* the space after the value */
    if (s < end && *s != '#') {
        const char *t = s;
        s = skip_token(s, end, false);
        if (t == s) {
            return expfmt_fail_tok(c, t, "expected timestamp");
        }
        if (!expfmt_parse_seconds_ms(t, (size_t)(s - t), &e->t_ms)) {
            return expfmt_fail_val(c, t, "invalid timestamp", (odin_str){t, (size_t)(s - t)});
        }
        e->has_t = true;
        if (s == end) {
            return check_labels(c, e);
        }
        s++;
    }
    if (s == end) {
        return expfmt_fail_val(c, s - 1, "trailing space at end of line", (odin_str){0});
    }
    if (*s != '#') {
        return expfmt_fail_tok(c, s, "expected exemplar or end of line after timestamp");
    }
    rc = om_exemplar(c, s);
    return rc < 0 ? rc : check_labels(c, e);
}

/* ---- Metadata -------------------------------------------------------------------------------- */

static const char *kind_word(expfmt_entry_kind k)
{
    switch (k) {
    case EXPFMT_ENTRY_HELP:
        return "HELP";
    case EXPFMT_ENTRY_TYPE:
        return "TYPE";
    default:
        return "UNIT";
    }
}

/* The metric name and text of `# HELP|TYPE|UNIT name text`, `s` at the name. The caller has
 * cut the separator after the keyword; the one after the name is cut here (textparse keeps
 * any further blanks as part of the text). */
static int parse_meta(line_ctx *c, const char *s, expfmt_entry *e)
{
    const char *end = c->end;
    const bool om = c->p->om;
    if (s == end || !is_mname_start(*s)) {
        return expfmt_fail_tok(c, s,
                        e->kind == EXPFMT_ENTRY_HELP   ? "expected metric name after HELP"
                        : e->kind == EXPFMT_ENTRY_TYPE ? "expected metric name after TYPE"
                                                       : "expected metric name after UNIT");
    }
    const char *name_end = scan_metric_name(s, end);
    e->name = (odin_str){s, (size_t)(name_end - s)};
    s = name_end;
    if (s < end && !(om ? *s == ' ' : is_blank(*s))) {
        return expfmt_fail_tok(c, s, "invalid character in metric name");
    }
    if (s == end && om) {
        return odin_err_set(c->err, ODIN_ERR_PARSE, "%zu:%zu: expected text after %s name", c->line,
                            expfmt_col_of(c, s), kind_word(e->kind));
    }
    const char *text = s < end ? s + 1 : s;
    odin_str t = {text, (size_t)(end - text)};
    switch (e->kind) {
    case EXPFMT_ENTRY_TYPE:
        if (expfmt_type_parse(t, om, &e->type) != 0) {
            return expfmt_fail_val(c, text, "invalid metric type", t);
        }
        return 1;
    case EXPFMT_ENTRY_UNIT:
        if (t.len > 0 && !(e->name.len > t.len && e->name.p[e->name.len - t.len - 1] == '_' &&
                           memcmp(e->name.p + e->name.len - t.len, t.p, t.len) == 0)) {
            return expfmt_fail_val(c, text, "unit is not a suffix of the metric name:", t);
        }
        e->text = t;
        return 1;
    default:
        if (!odin_utf8_valid(t.p, t.len)) {
            return expfmt_fail_val(c, text, "invalid UTF-8 in help text", t);
        }
        e->text = memchr(t.p, '\\', t.len) != NULL ? unescape(c, t.p, t.len, om) : t;
        return 1;
    }
}

/* `#` lines of 0.0.4: HELP and TYPE after blanks, anything else is a comment (promlex.l). */
static int prom_comment(line_ctx *c, const char *s, expfmt_entry *e)
{
    const char *end = c->end;
    const char *h = s + 1;
    if (h < end && is_blank(*h)) {
        h = skip_blank(h, end);
        if (end - h > 4 && is_blank(h[4])) {
            if (memcmp(h, "HELP", 4) == 0) {
                e->kind = EXPFMT_ENTRY_HELP;
            } else if (memcmp(h, "TYPE", 4) == 0) {
                e->kind = EXPFMT_ENTRY_TYPE;
            }
        }
        if (e->kind != EXPFMT_ENTRY_EOF) {
            return parse_meta(c, skip_blank(h + 4, end), e);
        }
    }
    e->kind = EXPFMT_ENTRY_COMMENT;
    e->text = (odin_str){s, (size_t)(end - s)};
    return 1;
}

static int prom_line(line_ctx *c, expfmt_entry *e)
{
    const char *s = skip_blank(c->start, c->end);
    if (s == c->end) {
        return 0;
    }
    if (*s == '#') {
        return prom_comment(c, s, e);
    }
    if (is_mname_start(*s)) {
        return prom_sample(c, s, e);
    }
    return expfmt_fail_tok(c, s, "expected metric name or '#'");
}

enum { OM_EOF = 2 };

static int om_line(line_ctx *c, expfmt_entry *e)
{
    const char *s = c->start;
    const char *end = c->end;
    size_t n = (size_t)(end - s);
    if (n == 0) {
        return expfmt_fail_val(c, s, "empty line (not allowed in OpenMetrics)", (odin_str){0});
    }
    if (*s != '#') {
        if (is_mname_start(*s)) {
            return om_sample(c, s, e);
        }
        return expfmt_fail_tok(c, s, "expected metric name or '#'");
    }
    if (n == 5 && memcmp(s, "# EOF", 5) == 0) {
        return OM_EOF;
    }
    if (n >= 7 && s[1] == ' ' && s[6] == ' ') {
        if (memcmp(s + 2, "HELP", 4) == 0) {
            e->kind = EXPFMT_ENTRY_HELP;
        } else if (memcmp(s + 2, "TYPE", 4) == 0) {
            e->kind = EXPFMT_ENTRY_TYPE;
        } else if (memcmp(s + 2, "UNIT", 4) == 0) {
            e->kind = EXPFMT_ENTRY_UNIT;
        }
        if (e->kind != EXPFMT_ENTRY_EOF) {
            return parse_meta(c, s + 7, e);
        }
    }
    return expfmt_fail_tok(c, s, "expected '# HELP', '# TYPE', '# UNIT' or '# EOF'");
}

/* ---- Parser ---------------------------------------------------------------------------------- */

/* Sets everything but the scratch buffers, which stay allocated for the next input. */
static void parser_start(expfmt_parser *p, const char *buf, size_t len,
                         const expfmt_parser_opts *opts)
{
    odin_label *labels = p->labels;
    size_t labels_cap = p->labels_cap;
    char *scratch = p->scratch;
    size_t scratch_cap = p->scratch_cap;
    uint16_t *dup_slots = p->dup_slots;
    size_t dup_cap = p->dup_cap;
    *p = (expfmt_parser){
        .buf = buf,
        .len = len,
        .line = 1,
        .max_labels = DEFAULT_MAX_LABELS,
        .max_line_bytes = DEFAULT_MAX_LINE_BYTES,
        .labels = labels,
        .labels_cap = labels_cap,
        .scratch = scratch,
        .scratch_cap = scratch_cap,
        .dup_slots = dup_slots,
        .dup_cap = dup_cap,
    };
    if (opts != NULL) {
        p->om = opts->openmetrics;
        if (opts->max_labels != 0) {
            p->max_labels = opts->max_labels;
        }
        if (opts->max_line_bytes != 0) {
            p->max_line_bytes = opts->max_line_bytes;
        }
        p->lazy = opts->lazy_labels;
    }
    /* dup_slots hold label indices in 16 bits. */
    if (p->max_labels > UINT16_MAX - 1) {
        p->max_labels = UINT16_MAX - 1;
    }
}

expfmt_parser *expfmt_parser_new(const char *buf, size_t len, const expfmt_parser_opts *opts)
{
    expfmt_parser *p = odin_calloc(1, sizeof(*p));
    parser_start(p, buf, len, opts);
    return p;
}

void expfmt_parser_reset(expfmt_parser *p, const char *buf, size_t len,
                         const expfmt_parser_opts *opts)
{
    parser_start(p, buf, len, opts);
}

void expfmt_parser_free(expfmt_parser *p)
{
    if (p == NULL) {
        return;
    }
    free(p->labels);
    free(p->scratch);
    free(p->dup_slots);
    free(p);
}

static int parser_stop(expfmt_parser *p, int rc)
{
    p->status = rc;
    return rc;
}

/* At the end of the input (OpenMetrics requires "# EOF" to have come first). */
static int parser_end(expfmt_parser *p, odin_err *err)
{
    if (p->om) {
        return parser_stop(
            p, odin_err_set(err, ODIN_ERR_PARSE, "%zu:1: data does not end with # EOF", p->line));
    }
    p->status = 1;
    return 0;
}

/* The rest of a one-pass sample line after its series (ls..series_end, the name up to name_end,
 * the label block from `labels` or none): blanks, value, optional timestamp and the newline.
 * Same contract as prom_fast_sample. */
static int prom_fast_rest(expfmt_parser *p, expfmt_entry *e, const char *ls, const char *name_end,
                          const char *series_end, const char *labels, const char *end,
                          bool expected)
{
    const char *input_end = p->buf + p->len;
    const char *s = series_end;
    if (s == end || !is_blank(*s)) {
        return 0;
    }
    s = skip_blank(s, end);
    const char *v = s;
    while (s < end && !has_class(*s, C_TOKEN_END)) {
        s++;
    }
    double value;
    if (v == s || !expfmt_parse_value(v, (size_t)(s - v), &value)) {
        return 0;
    }
    int64_t t_ms = 0;
    bool has_t = false;
    s = skip_blank(s, end);
    if (s < end && *s != '\n') {
        const char *t = s;
        while (s < end && !has_class(*s, C_TOKEN_END)) {
            s++;
        }
        if (!expfmt_parse_ms(t, (size_t)(s - t), &t_ms)) {
            return 0;
        }
        has_t = true;
        s = skip_blank(s, end);
    }
    const char *next;
    if (s < input_end && *s == '\n') {
        next = s + 1;
    } else if (s == input_end) {
        next = s;
    } else {
        return 0;
    }
    *e = (expfmt_entry){
        .kind = EXPFMT_ENTRY_SAMPLE,
        .name = {ls, (size_t)(name_end - ls)},
        .series = {ls, (size_t)(series_end - ls)},
        .labels = p->labels,
        .labels_deferred = labels != NULL,
        .series_expected = expected,
        .value = isnan(value) ? expfmt_normal_nan() : value,
        .t_ms = t_ms,
        .has_t = has_t,
        .line = p->line,
    };
    p->line_start = ls;
    p->line_end = s;
    p->pending_labels = labels;
    p->pos = (size_t)(next - p->buf);
    p->line++;
    return 1;
}

/* The common 0.0.4 sample line in lazy mode, `name[{labels}] value [timestamp]` and its newline,
 * read in one pass: the general path first finds the line's end and then reads the line again.
 * Returns 1 with *e filled and the parser moved past the line, or 0, having changed nothing,
 * for any line it does not take (comments, blanks first, anything malformed, a line over the
 * length limit), which the general path then reads and words errors for as always. What it
 * accepts it reads as prom_sample and the deferred label skip do. */
static int prom_fast_sample(expfmt_parser *p, expfmt_entry *e)
{
    const char *ls = p->buf + p->pos;
    size_t rem = p->len - p->pos;
    /* the line's text may fill at most max_line_bytes; its newline may follow right after */
    const char *end = ls + (rem <= p->max_line_bytes ? rem : p->max_line_bytes);
    const char *s = ls;
    size_t xl = p->expect_len;
    if (xl > 0 && xl <= (size_t)(end - ls) && memcmp(ls, p->expect, xl) == 0) {
        /* The text read as a series before: the same bytes scan the same way, and every byte
         * that decided where its name and label block end is inside it, except for a series
         * without labels, whose end the byte after it decides (checked below as for any line:
         * a blank must follow, and a '{' after blanks fails as a value). */
        const char *name_end = ls + p->expect_name_len;
        const char *labels = NULL;
        if (ls[xl - 1] == '}') {
            labels = memchr(name_end, '{', xl - p->expect_name_len);
            labels++;
        }
        return prom_fast_rest(p, e, ls, name_end, ls + xl, labels, end, true);
    }
    if (s == end || !is_mname_start(*s)) {
        return 0;
    }
    const char *name_end = scan_metric_name(s, end);
    const char *series_end = name_end;
    const char *labels = NULL;
    s = name_end;
    if (s < end && *s == '{') {
        labels = s + 1;
        /* skip_label_block's walk, stopping at a newline (which ends the line in the general
         * path, so the block would be unterminated there) */
        s = labels;
        for (;;) {
            while (s < end && !has_class(*s, C_BLOCK_STOP)) {
                s++;
            }
            if (s == end || *s == '\n') {
                return 0;
            }
            if (*s == '}') {
                break;
            }
            /* a quoted value: to its closing quote, stepping over escaped bytes */
            s++;
            for (;;) {
                while (s < end && !has_class(*s, C_QUOTED_STOP)) {
                    s++;
                }
                if (s == end || *s == '\n') {
                    return 0;
                }
                if (*s == '"') {
                    break;
                }
                if (s + 1 == end || s[1] == '\n') {
                    return 0;
                }
                s += 2;
            }
            s++;
        }
        series_end = ++s;
    }
    return prom_fast_rest(p, e, ls, name_end, series_end, labels, end, false);
}

int expfmt_parser_next(expfmt_parser *p, expfmt_entry *e, odin_err *err)
{
    if (p->status != 0) {
        *e = (expfmt_entry){.kind = EXPFMT_ENTRY_EOF, .line = p->line};
        return p->status > 0 ? 0 : p->status;
    }
    odin_err local;
    if (err == NULL) {
        odin_err_clear(&local);
        err = &local;
    }
    for (;;) {
        if (p->pos >= p->len) {
            *e = (expfmt_entry){.kind = EXPFMT_ENTRY_EOF, .line = p->line};
            return parser_end(p, err);
        }
        if (p->lazy && !p->om && prom_fast_sample(p, e) == 1) {
            p->expect_len = 0;
            return 1;
        }
        p->expect_len = 0;
        const char *ls = p->buf + p->pos;
        size_t rem = p->len - p->pos;
        size_t scan = rem <= p->max_line_bytes ? rem : p->max_line_bytes + 1;
        const char *nl = memchr(ls, '\n', scan);
        if (nl == NULL && rem > p->max_line_bytes) {
            return parser_stop(p, odin_err_set(err, ODIN_ERR_LIMIT,
                                               "%zu:1: line longer than %zu bytes", p->line,
                                               p->max_line_bytes));
        }
        const char *le = nl != NULL ? nl : ls + rem;
        line_ctx c = {.p = p, .start = ls, .end = le, .line = p->line, .err = err};
        p->pos = (size_t)(le - p->buf) + (nl != NULL);
        p->line++;
        *e = (expfmt_entry){.kind = EXPFMT_ENTRY_EOF, .line = c.line};
        p->line_start = ls;
        p->line_end = le;
        int rc = p->om ? om_line(&c, e) : prom_line(&c, e);
        if (rc < 0 && e->labels_deferred) {
            /* Eager mode would have failed in the skipped labels first, if they are bad. */
            odin_err_clear(err);
            p->lazy = false;
            c.out = NULL;
            *e = (expfmt_entry){.kind = EXPFMT_ENTRY_EOF, .line = c.line};
            rc = p->om ? om_line(&c, e) : prom_line(&c, e);
            p->lazy = true;
        }
        if (rc == 1) {
            return 1;
        }
        if (rc < 0) {
            return parser_stop(p, rc);
        }
        if (rc == OM_EOF) {
            if (p->pos < p->len) {
                return parser_stop(p, odin_err_set(err, ODIN_ERR_PARSE,
                                                   "%zu:1: unexpected data after # EOF", p->line));
            }
            p->status = 1;
            *e = (expfmt_entry){.kind = EXPFMT_ENTRY_EOF, .line = c.line};
            return 0;
        }
    }
}

int expfmt_parser_labels(expfmt_parser *p, expfmt_entry *e, odin_err *err)
{
    if (!e->labels_deferred) {
        return 1;
    }
    odin_err local;
    if (err == NULL) {
        odin_err_clear(&local);
        err = &local;
    }
    line_ctx c = {.p = p, .start = p->line_start, .end = p->line_end, .line = e->line, .err = err};
    const char *s = p->pending_labels;
    e->labels_deferred = false;
    e->nlabels = 0;
    int rc = parse_labels(&c, &s, e);
    if (rc == 0) {
        rc = check_labels(&c, e);
    }
    return rc < 0 ? parser_stop(p, rc) : 1;
}

void expfmt_parser_expect(expfmt_parser *p, const char *series, size_t len, size_t name_len)
{
    p->expect = series;
    p->expect_len = name_len > 0 && name_len <= len ? len : 0;
    p->expect_name_len = name_len;
}

/* ---- Types and content types ----------------------------------------------------------------- */

static const struct {
    const char *name;
    expfmt_type type;
    bool prom; /* valid in 0.0.4 */
    bool om;   /* valid in OpenMetrics */
} type_names[] = {
    {"counter", EXPFMT_COUNTER, true, true},
    {"gauge", EXPFMT_GAUGE, true, true},
    {"histogram", EXPFMT_HISTOGRAM, true, true},
    {"summary", EXPFMT_SUMMARY, true, true},
    {"untyped", EXPFMT_UNTYPED, true, false},
    {"unknown", EXPFMT_UNTYPED, false, true},
    {"gaugehistogram", EXPFMT_GAUGE_HISTOGRAM, false, true},
    {"info", EXPFMT_INFO, false, true},
    {"stateset", EXPFMT_STATESET, false, true},
};

const char *expfmt_type_name(expfmt_type t)
{
    /* OpenMetrics-only types have no 0.0.4 spelling; they keep their OpenMetrics one. */
    for (size_t i = 0; i < ODIN_ARRAY_LEN(type_names); i++) {
        if (type_names[i].type == t) {
            return type_names[i].name;
        }
    }
    return "untyped";
}

int expfmt_type_parse(odin_str s, bool openmetrics, expfmt_type *out)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(type_names); i++) {
        bool allowed = openmetrics ? type_names[i].om : type_names[i].prom;
        if (allowed && s.len == strlen(type_names[i].name) &&
            memcmp(s.p, type_names[i].name, s.len) == 0) {
            *out = type_names[i].type;
            return 0;
        }
    }
    return -ODIN_ERR_PARSE;
}

bool expfmt_is_openmetrics(const char *content_type)
{
    static const char media[] = "application/openmetrics-text";
    if (content_type == NULL) {
        return false;
    }
    const char *s = content_type;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = sizeof(media) - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + ('a' - 'A')) : s[i];
        if (ch != media[i]) {
            return false;
        }
    }
    return s[n] == '\0' || s[n] == ';' || s[n] == ' ' || s[n] == '\t';
}

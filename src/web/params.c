/* Parsers for API parameters: timestamps (float seconds or RFC 3339), durations (float seconds or
 * Prometheus units), series selectors into tsdb matchers, booleans. Every parser takes (pointer,
 * length) and reports errors in Prometheus' words. */
#include <math.h>
#include <string.h>

#include "web/web_int.h"

/* Prometheus' open bounds as clients send them (MinTime and MaxTime formatted). */
#define MIN_TIME_TEXT "-292273086-05-16T16:47:06Z"
#define MAX_TIME_TEXT "292277025-08-18T07:12:54.999999999Z"
/* Input-driven growth is capped: a selector with more matchers than this is refused. */
#define MAX_MATCHERS 256

void web_put_quoted(odin_strbuf *b, odin_str s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = s.len > 64 ? 64 : s.len;
    odin_strbuf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '"' || c == '\\') {
            odin_strbuf_putc(b, '\\');
            odin_strbuf_putc(b, (char)c);
        } else if (c == '\n') {
            odin_strbuf_puts(b, "\\n");
        } else if (c == '\t') {
            odin_strbuf_puts(b, "\\t");
        } else if (c == '\r') {
            odin_strbuf_puts(b, "\\r");
        } else if (c < 0x20 || c == 0x7f || c >= 0x80) {
            /* Go prints valid UTF-8 as is; bytes are escaped here, which only shows in rare
             * messages and keeps the text ASCII. */
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            odin_strbuf_put(b, e, 4);
        } else {
            odin_strbuf_putc(b, (char)c);
        }
    }
    if (s.len > n) {
        odin_strbuf_puts(b, "...");
    }
    odin_strbuf_putc(b, '"');
}

static int fail_quoted(odin_err *err, odin_str s, const char *what)
{
    odin_strbuf q;
    odin_strbuf_init(&q, 512);
    web_put_quoted(&q, s);
    int rc = odin_err_set(err, ODIN_ERR_PARSE, "cannot parse %s to a valid %s", q.p, what);
    odin_strbuf_fini(&q);
    return rc;
}

/* ---- Timestamps ------------------------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(odin_str s, size_t at, size_t n, int *out)
{
    if (at + n > s.len) {
        return false;
    }
    int v = 0;
    for (size_t i = at; i < at + n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') {
            return false;
        }
        v = v * 10 + (s.p[i] - '0');
    }
    *out = v;
    return true;
}

static bool lit(odin_str s, size_t at, char c)
{
    return at < s.len && s.p[at] == c;
}

/* Go's time.Parse(time.RFC3339Nano): 2006-01-02T15:04:05[.fraction](Z|+07:00). */
static bool parse_rfc3339(odin_str s, int64_t *t_ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se;
    if (!digits(s, 0, 4, &y) || !lit(s, 4, '-') || !digits(s, 5, 2, &mo) || !lit(s, 7, '-') ||
        !digits(s, 8, 2, &d) || !lit(s, 10, 'T') || !digits(s, 11, 2, &h) || !lit(s, 13, ':') ||
        !digits(s, 14, 2, &mi) || !lit(s, 16, ':') || !digits(s, 17, 2, &se)) {
        return false;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
        mi > 59 || se > 59) {
        return false;
    }
    size_t i = 19;
    int ms = 0;
    if (i < s.len && (s.p[i] == '.' || s.p[i] == ',')) {
        size_t start = ++i;
        while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
            if (i - start < 3) {
                ms = ms * 10 + (s.p[i] - '0');
            }
            i++;
        }
        if (i == start) {
            return false;
        }
        for (size_t k = i - start; k < 3; k++) {
            ms *= 10;
        }
    }
    int64_t off_s = 0;
    if (lit(s, i, 'Z')) {
        i++;
    } else if (lit(s, i, '+') || lit(s, i, '-')) {
        int oh, om;
        if (!digits(s, i + 1, 2, &oh) || !lit(s, i + 3, ':') || !digits(s, i + 4, 2, &om) ||
            oh > 23 || om > 59) {
            return false;
        }
        off_s = (int64_t)(oh * 3600 + om * 60) * (s.p[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != s.len) {
        return false;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off_s;
    *t_ms = secs * 1000 + ms;
    return true;
}

int web_parse_time(odin_str s, int64_t *t_ms, odin_err *err)
{
    double f;
    if (odin_parse_double(s, &f) == 0 && isfinite(f)) {
        /* Matches Prometheus: whole seconds, plus the fraction rounded to milliseconds. */
        double whole = trunc(f);
        if (fabs(whole) < 9.2e15) {
            *t_ms = (int64_t)whole * 1000 + (int64_t)round((f - whole) * 1000);
            return 0;
        }
    }
    if (parse_rfc3339(s, t_ms)) {
        return 0;
    }
    if (odin_str_eq_c(s, MIN_TIME_TEXT)) {
        *t_ms = WEB_MIN_TIME_MS;
        return 0;
    }
    if (odin_str_eq_c(s, MAX_TIME_TEXT)) {
        *t_ms = WEB_MAX_TIME_MS;
        return 0;
    }
    return fail_quoted(err, s, "timestamp");
}

/* ---- Durations -------------------------------------------------------------------------------- */

int web_parse_duration(odin_str s, int64_t *ns, odin_err *err)
{
    double f;
    if (odin_parse_double(s, &f) == 0) {
        double v = f * 1e9;
        if (v >= 9223372036854775807.0 || v < -9223372036854775808.0) {
            odin_strbuf q;
            odin_strbuf_init(&q, 512);
            web_put_quoted(&q, s);
            int rc = odin_err_set(err, ODIN_ERR_PARSE,
                                  "cannot parse %s to a valid duration. It overflows int64", q.p);
            odin_strbuf_fini(&q);
            return rc;
        }
        *ns = isnan(v) ? 0 : (int64_t)v;
        return 0;
    }
    int64_t ms;
    if (odin_parse_duration_ms(s, &ms) == 0 && ms <= INT64_MAX / 1000000) {
        *ns = ms * 1000000;
        return 0;
    }
    return fail_quoted(err, s, "duration");
}

int web_parse_bool(odin_str s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(yes); i++) {
        if (odin_str_eq_c(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (odin_str_eq_c(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -ODIN_ERR_PARSE;
}

/* ---- Series selectors ------------------------------------------------------------------------- */

typedef struct {
    odin_str s;
    size_t i;
    odin_arena *a;
    odin_err *err;
} sel_parser;

static void skip_space(sel_parser *p)
{
    while (p->i < p->s.len && (p->s.p[p->i] == ' ' || p->s.p[p->i] == '\t' ||
                               p->s.p[p->i] == '\n' || p->s.p[p->i] == '\r')) {
        p->i++;
    }
}

/* "line:col" of byte i, both from 1, as Prometheus' parser reports positions. */
static int sel_fail(sel_parser *p, size_t at, const char *msg, odin_str detail)
{
    size_t line = 1;
    size_t col = 1;
    for (size_t k = 0; k < at && k < p->s.len; k++) {
        if (p->s.p[k] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    odin_strbuf q;
    odin_strbuf_init(&q, 512);
    if (detail.len > 0) {
        odin_strbuf_putc(&q, ' ');
        web_put_quoted(&q, detail);
    }
    int rc = odin_err_set(p->err, ODIN_ERR_PARSE, "%zu:%zu: parse error: %s%s", line, col, msg,
                          q.len > 0 ? q.p : "");
    odin_strbuf_fini(&q);
    return rc;
}

static bool is_name_char(char c, bool first, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

static odin_str scan_name(sel_parser *p, bool colon)
{
    size_t start = p->i;
    while (p->i < p->s.len && is_name_char(p->s.p[p->i], p->i == start, colon)) {
        p->i++;
    }
    return (odin_str){p->s.p + start, p->i - start};
}

/* One escape after a backslash inside "..." or '...' (Go's strconv.Unquote); advances p->i. */
static int unescape_one(sel_parser *p, char quote, odin_strbuf *out)
{
    size_t at = p->i - 1;
    if (p->i >= p->s.len) {
        return sel_fail(p, at, "unterminated quoted string", ODIN_STR(""));
    }
    char c = p->s.p[p->i++];
    static const char from[] = "abfnrtv\\";
    static const char to[] = "\a\b\f\n\r\t\v\\";
    const char *k = strchr(from, c);
    if (k != NULL && c != '\0') {
        odin_strbuf_putc(out, to[k - from]);
        return 0;
    }
    if (c == quote) {
        odin_strbuf_putc(out, c);
        return 0;
    }
    int width = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : (c >= '0' && c <= '7') ? 3 : 0;
    /* octal digits start at c itself, the others after it */
    size_t start = c >= '0' && c <= '7' ? p->i - 1 : p->i;
    if (width == 0 || start + (size_t)width > p->s.len) {
        return sel_fail(p, at, "invalid escape sequence in string", ODIN_STR(""));
    }
    uint32_t v = 0;
    for (size_t n = 0; n < (size_t)width; n++) {
        char d = p->s.p[start + n];
        int h = (c >= '0' && c <= '7') ? ((d >= '0' && d <= '7') ? d - '0' : -1) : odin_hex_digit(d);
        if (h < 0) {
            return sel_fail(p, at, "invalid escape sequence in string", ODIN_STR(""));
        }
        v = v * ((c >= '0' && c <= '7') ? 8 : 16) + (uint32_t)h;
    }
    p->i = start + (size_t)width;
    if (c == 'x' || (c >= '0' && c <= '7')) {
        if (v > 255) {
            return sel_fail(p, at, "invalid escape sequence in string", ODIN_STR(""));
        }
        odin_strbuf_putc(out, (char)v);
        return 0;
    }
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        return sel_fail(p, at, "invalid escape sequence in string", ODIN_STR(""));
    }
    odin_strbuf_put_utf8(out, v);
    return 0;
}

/* A quoted string at p->i ("...", '...' or `...`), unescaped into arena memory. */
static int scan_string(sel_parser *p, odin_str *out)
{
    size_t at = p->i;
    char quote = p->s.p[p->i++];
    odin_strbuf b;
    odin_strbuf_init(&b, p->s.len + 1);
    int rc = 0;
    for (;;) {
        if (p->i >= p->s.len || (quote != '`' && p->s.p[p->i] == '\n')) {
            rc = sel_fail(p, at, "unterminated quoted string", ODIN_STR(""));
            break;
        }
        char c = p->s.p[p->i++];
        if (c == quote) {
            break;
        }
        if (c == '\\' && quote != '`') {
            rc = unescape_one(p, quote, &b);
            if (rc < 0) {
                break;
            }
            continue;
        }
        odin_strbuf_putc(&b, c);
    }
    if (rc == 0) {
        char *s = odin_arena_strndup(p->a, b.p != NULL ? b.p : "", b.len);
        if (s == NULL) {
            rc = odin_err_set(p->err, ODIN_ERR_LIMIT, "request memory limit reached");
        } else {
            *out = (odin_str){s, b.len};
        }
    }
    odin_strbuf_fini(&b);
    return rc;
}

static bool is_quote(char c)
{
    return c == '"' || c == '\'' || c == '`';
}

static void matcher_cleanup(void *m)
{
    tsdb_matcher_fini(m);
}

typedef struct {
    tsdb_matcher *v;
    size_t n;
} matcher_list;

static int add_matcher(sel_parser *p, matcher_list *ml, size_t at, tsdb_match_type type,
                       odin_str name, odin_str value)
{
    if (ml->n == MAX_MATCHERS) {
        return odin_err_set(p->err, ODIN_ERR_LIMIT, "more than %d label matchers in a selector",
                            MAX_MATCHERS);
    }
    odin_err merr;
    odin_err_clear(&merr);
    tsdb_matcher *m = &ml->v[ml->n];
    if (tsdb_matcher_init(m, type, name, value, &merr) < 0) {
        return sel_fail(p, at, merr.msg, ODIN_STR(""));
    }
    odin_arena_on_reset(p->a, matcher_cleanup, m);
    ml->n++;
    return 0;
}

/* One `name op "value"` (or, inside braces, a lone quoted metric name as 3.x allows). */
static int parse_matcher(sel_parser *p, matcher_list *ml, bool *named)
{
    size_t at = p->i;
    odin_str name;
    bool quoted = is_quote(p->s.p[p->i]);
    if (quoted) {
        if (scan_string(p, &name) < 0) {
            return -ODIN_ERR_PARSE;
        }
    } else {
        name = scan_name(p, false);
        if (name.len == 0) {
            return sel_fail(p, at, "unexpected character inside braces:",
                            (odin_str){p->s.p + at, 1});
        }
    }
    skip_space(p);
    if (quoted && (p->i >= p->s.len || p->s.p[p->i] == ',' || p->s.p[p->i] == '}')) {
        if (*named) {
            return sel_fail(p, at, "metric name must not be set twice:", name);
        }
        *named = true;
        return add_matcher(p, ml, at, TSDB_MATCH_EQ, ODIN_STR("__name__"), name);
    }
    tsdb_match_type type;
    odin_str rest = {p->s.p + p->i, p->s.len - p->i};
    if (odin_str_has_prefix(rest, "=~")) {
        type = TSDB_MATCH_RE, p->i += 2;
    } else if (odin_str_has_prefix(rest, "!~")) {
        type = TSDB_MATCH_NRE, p->i += 2;
    } else if (odin_str_has_prefix(rest, "!=")) {
        type = TSDB_MATCH_NEQ, p->i += 2;
    } else if (odin_str_has_prefix(rest, "=")) {
        type = TSDB_MATCH_EQ, p->i += 1;
    } else {
        return sel_fail(p, p->i,
                        p->i < p->s.len ? "unexpected character in label matching, expected "
                                          "label matching operator:"
                                        : "unexpected end of input inside braces",
                        p->i < p->s.len ? (odin_str){p->s.p + p->i, 1} : ODIN_STR(""));
    }
    skip_space(p);
    if (p->i >= p->s.len || !is_quote(p->s.p[p->i])) {
        return sel_fail(p, p->i,
                        p->i < p->s.len ? "unexpected character in label matching, expected "
                                          "string:"
                                        : "unexpected end of input inside braces",
                        p->i < p->s.len ? (odin_str){p->s.p + p->i, 1} : ODIN_STR(""));
    }
    odin_str value;
    if (scan_string(p, &value) < 0) {
        return -ODIN_ERR_PARSE;
    }
    if (odin_str_eq_c(name, "__name__") && type == TSDB_MATCH_EQ) {
        if (*named) {
            return sel_fail(p, at, "metric name must not be set twice:", value);
        }
        *named = true;
    }
    return add_matcher(p, ml, at, type, name, value);
}

static int parse_braces(sel_parser *p, matcher_list *ml, bool *named)
{
    size_t open = p->i++;
    for (;;) {
        skip_space(p);
        if (p->i >= p->s.len) {
            return sel_fail(p, open, "unexpected end of input inside braces", ODIN_STR(""));
        }
        if (p->s.p[p->i] == '}') {
            p->i++;
            return 0;
        }
        if (parse_matcher(p, ml, named) < 0) {
            return -ODIN_ERR_PARSE;
        }
        skip_space(p);
        if (p->i < p->s.len && p->s.p[p->i] == ',') {
            p->i++;
        } else if (p->i < p->s.len && p->s.p[p->i] != '}') {
            return sel_fail(p, p->i, "unexpected character inside braces:",
                            (odin_str){p->s.p + p->i, 1});
        }
    }
}

int web_parse_selector(odin_str s, odin_arena *a, tsdb_matcher **out, size_t *n, odin_err *err)
{
    sel_parser p = {.s = s, .i = 0, .a = a, .err = err};
    size_t cap = s.len / 2 + 2;
    cap = cap > MAX_MATCHERS ? MAX_MATCHERS : cap;
    matcher_list ml = {.v = odin_arena_zalloc(a, (cap + 1) * sizeof(tsdb_matcher)), .n = 0};
    if (ml.v == NULL) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "request memory limit reached");
    }
    skip_space(&p);
    if (p.i >= s.len) {
        return sel_fail(&p, p.i, "unexpected end of input", ODIN_STR(""));
    }
    bool named = false;
    size_t at = p.i;
    if (is_name_char(s.p[p.i], true, true)) {
        odin_str name = scan_name(&p, true);
        named = true;
        if (add_matcher(&p, &ml, at, TSDB_MATCH_EQ, ODIN_STR("__name__"), name) < 0) {
            return -ODIN_ERR_PARSE;
        }
        skip_space(&p);
    } else if (s.p[p.i] != '{') {
        return sel_fail(&p, p.i, "unexpected character:", (odin_str){s.p + p.i, 1});
    }
    if (p.i < s.len && s.p[p.i] == '{') {
        if (parse_braces(&p, &ml, &named) < 0) {
            return err != NULL && err->code ? -err->code : -ODIN_ERR_PARSE;
        }
        skip_space(&p);
    }
    if (p.i < s.len) {
        return sel_fail(&p, p.i, "unexpected character after selector:",
                        (odin_str){s.p + p.i, 1});
    }
    bool nonempty = false;
    for (size_t i = 0; i < ml.n; i++) {
        nonempty = nonempty || !tsdb_matcher_matches(&ml.v[i], ODIN_STR(""));
    }
    if (!nonempty) {
        return sel_fail(&p, at, "vector selector must contain at least one non-empty matcher",
                        ODIN_STR(""));
    }
    *out = ml.v;
    *n = ml.n;
    return 0;
}

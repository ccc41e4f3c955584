/* A small JSON reader for the Prometheus API's answers, bounded by the buffer's end and by
 * CLI_JSON_MAX_DEPTH, plus the Go formatting helpers `odin query` needs to print what promtool
 * prints. Reading only what the API sends; no writer of whole documents. */
#include "cli/cli_int.h"

#include <math.h>
#include <string.h>

typedef struct {
    odin_arena *a;
    const char *p, *end, *start;
    odin_err *err;
} reader;

static int fail(reader *r, const char *what)
{
    return odin_err_set(r->err, ODIN_ERR_PARSE, "invalid JSON at byte %zu: %s",
                        (size_t)(r->p - r->start), what);
}

static void skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
        r->p++;
    }
}

static int hex4(reader *r, uint32_t *out)
{
    if (r->end - r->p < 4) {
        return fail(r, "short \\u escape");
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = r->p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            return fail(r, "bad \\u escape");
        }
        v = v * 16 + (uint32_t)d;
    }
    r->p += 4;
    *out = v;
    return 0;
}

static int escape(reader *r, odin_strbuf *b)
{
    char c = *r->p++;
    const char *simple = "\"\"\\\\//b\bf\fn\nr\rt\t";
    for (const char *s = simple; *s; s += 2) {
        if (c == s[0]) {
            odin_strbuf_putc(b, s[1]);
            return 0;
        }
    }
    if (c != 'u') {
        return fail(r, "bad escape");
    }
    uint32_t cp;
    if (hex4(r, &cp) < 0) {
        return -ODIN_ERR_PARSE;
    }
    if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
        r->p += 2;
        uint32_t lo;
        if (hex4(r, &lo) < 0) {
            return -ODIN_ERR_PARSE;
        }
        cp = lo >= 0xdc00 && lo < 0xe000 ? 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00) : 0xfffd;
    } else if (cp >= 0xd800 && cp < 0xe000) {
        cp = 0xfffd;
    }
    odin_strbuf_put_utf8(b, cp);
    return 0;
}

/* Reads a string at r->p (on the opening quote); fast path when it has no escapes. */
static int read_string(reader *r, odin_str *out)
{
    r->p++;
    const char *s = r->p;
    while (r->p < r->end && *r->p != '"' && *r->p != '\\') {
        r->p++;
    }
    if (r->p < r->end && *r->p == '"') {
        *out = (odin_str){s, (size_t)(r->p - s)};
        r->p++;
        return 0;
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_put(&b, s, (size_t)(r->p - s));
    int rc = 0;
    while (rc == 0) {
        if (r->p >= r->end) {
            rc = fail(r, "unterminated string");
        } else if (*r->p == '"') {
            r->p++;
            break;
        } else if (*r->p == '\\') {
            r->p++;
            rc = r->p < r->end ? escape(r, &b) : fail(r, "unterminated string");
        } else {
            odin_strbuf_putc(&b, *r->p++);
        }
    }
    if (rc == 0) {
        char *copy = odin_arena_strndup(r->a, b.p ? b.p : "", b.len);
        *out = (odin_str){copy, b.len};
    }
    odin_strbuf_fini(&b);
    return rc;
}

static cli_json *read_value(reader *r, int depth);

/* Arrays and objects: elements linked in input order. */
static cli_json *read_container(reader *r, cli_json *v, int depth)
{
    char close = v->type == CLI_JSON_ARR ? ']' : '}';
    r->p++;
    cli_json **tail = &v->child;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return v;
    }
    for (;;) {
        odin_str key = {0};
        skip_ws(r);
        if (v->type == CLI_JSON_OBJ) {
            if (r->p >= r->end || *r->p != '"' || read_string(r, &key) < 0) {
                return r->err->code ? NULL : (fail(r, "expected member name"), NULL);
            }
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':') {
                return fail(r, "expected ':'"), NULL;
            }
            r->p++;
        }
        cli_json *e = read_value(r, depth + 1);
        if (!e) {
            return NULL;
        }
        e->key = key;
        *tail = e;
        tail = &e->next;
        v->n++;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return v;
        }
        return fail(r, "expected ',' or closing bracket"), NULL;
    }
}

static bool literal(reader *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) {
        return false;
    }
    r->p += n;
    return true;
}

static cli_json *read_value(reader *r, int depth)
{
    if (depth > CLI_JSON_MAX_DEPTH) {
        return fail(r, "nested too deeply"), NULL;
    }
    skip_ws(r);
    if (r->p >= r->end) {
        return fail(r, "unexpected end of input"), NULL;
    }
    cli_json *v = odin_arena_zalloc(r->a, sizeof(*v));
    char c = *r->p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? CLI_JSON_OBJ : CLI_JSON_ARR;
        return read_container(r, v, depth);
    }
    if (c == '"') {
        v->type = CLI_JSON_STR;
        return read_string(r, &v->str) < 0 ? NULL : v;
    }
    if (literal(r, "null")) {
        return v;
    }
    if (literal(r, "true") || literal(r, "false")) {
        v->type = CLI_JSON_BOOL;
        v->b = r->p[-1] == 'e' && r->p[-2] == 'u';
        return v;
    }
    const char *s = r->p;
    while (r->p < r->end && strchr("+-0123456789.eE", *r->p) && *r->p) {
        r->p++;
    }
    if (r->p == s) {
        return fail(r, "unexpected character"), NULL;
    }
    v->type = CLI_JSON_NUM;
    v->str = (odin_str){s, (size_t)(r->p - s)};
    return v;
}

cli_json *cli_json_parse(odin_arena *a, const char *p, size_t n, odin_err *err)
{
    reader r = {.a = a, .p = p, .end = p + n, .start = p, .err = err};
    cli_json *v = read_value(&r, 0);
    if (!v) {
        return NULL;
    }
    skip_ws(&r);
    if (r.p != r.end) {
        fail(&r, "trailing data");
        return NULL;
    }
    return v;
}

const cli_json *cli_json_get(const cli_json *obj, const char *key)
{
    if (!obj || obj->type != CLI_JSON_OBJ) {
        return NULL;
    }
    for (const cli_json *e = obj->child; e; e = e->next) {
        if (odin_str_eq_c(e->key, key)) {
            return e;
        }
    }
    return NULL;
}

static const char hexdig[] = "0123456789abcdef";

void cli_put_json_string(odin_strbuf *b, odin_str s)
{
    odin_strbuf_putc(b, '"');
    const unsigned char *u = (const unsigned char *)s.p;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = u[i];
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                                      : NULL;
        if (esc) {
            odin_strbuf_puts(b, esc);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            char x[6] = {'\\', 'u', '0', '0', hexdig[c >> 4], hexdig[c & 15]};
            odin_strbuf_put(b, x, 6);
        } else if (c < 0x80) {
            odin_strbuf_putc(b, (char)c);
        } else {
            /* as Go's encoding/json: U+2028 and U+2029 escaped for JavaScript's sake, every
             * byte that does not start valid UTF-8 written as U+FFFD */
            uint32_t cp;
            size_t n = odin_utf8_len(u + i, s.len - i, &cp);
            if (n == 0) {
                odin_strbuf_puts(b, "\\ufffd");
            } else if (cp == 0x2028 || cp == 0x2029) {
                odin_strbuf_puts(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
                i += n - 1;
            } else {
                odin_strbuf_put(b, s.p + i, n);
                i += n - 1;
            }
        }
    }
    odin_strbuf_putc(b, '"');
}

void cli_put_time(odin_strbuf *b, int64_t t_ms)
{
    uint64_t a = t_ms < 0 ? (uint64_t)0 - (uint64_t)t_ms : (uint64_t)t_ms;
    if (t_ms < 0) {
        odin_strbuf_putc(b, '-');
    }
    odin_strbuf_put_u64(b, a / 1000);
    unsigned ms = (unsigned)(a % 1000);
    if (ms == 0) {
        return;
    }
    char frac[4] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10)};
    size_t n = 4;
    while (frac[n - 1] == '0') {
        n--;
    }
    odin_strbuf_put(b, frac, n);
}

void cli_put_value(odin_strbuf *b, double v)
{
    /* fixed notation of a double needs at most ~330 digits (5e-324) */
    char buf[400];
    size_t n = odin_format_double_exp(v, -400, 400, buf);
    odin_strbuf_put(b, buf, n);
}

/* ---- time parsing ---------------------------------------------------------------------------- */

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

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), as Go's time.RFC3339Nano layout parses. */
static int parse_rfc3339(odin_str s, int64_t *t_ms)
{
    int y, mo, d, h, mi, se;
    if (!digits(s, 0, 4, &y) || s.len < 20 || s.p[4] != '-' || !digits(s, 5, 2, &mo) ||
        s.p[7] != '-' || !digits(s, 8, 2, &d) || (s.p[10] != 'T' && s.p[10] != 't') ||
        !digits(s, 11, 2, &h) || s.p[13] != ':' || !digits(s, 14, 2, &mi) || s.p[16] != ':' ||
        !digits(s, 17, 2, &se)) {
        return -ODIN_ERR_PARSE;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) {
        return -ODIN_ERR_PARSE;
    }
    size_t i = 19;
    int ms = 0, scale = 100;
    if (i < s.len && s.p[i] == '.') {
        i++;
        size_t first = i;
        while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
            ms += (s.p[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == first) {
            return -ODIN_ERR_PARSE;
        }
    }
    int off_min = 0;
    if (i + 1 == s.len && (s.p[i] == 'Z' || s.p[i] == 'z')) {
        i++;
    } else if (i + 6 == s.len && (s.p[i] == '+' || s.p[i] == '-') && s.p[i + 3] == ':') {
        int oh, om;
        if (!digits(s, i + 1, 2, &oh) || !digits(s, i + 4, 2, &om)) {
            return -ODIN_ERR_PARSE;
        }
        off_min = (oh * 60 + om) * (s.p[i] == '-' ? -1 : 1);
        i += 6;
    }
    if (i != s.len) {
        return -ODIN_ERR_PARSE;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off_min * 60;
    *t_ms = secs * 1000 + ms;
    return 0;
}

int cli_parse_time(odin_str s, int64_t *t_ms)
{
    double f;
    if (odin_parse_double(s, &f) == 0) {
        if (!isfinite(f) || fabs(f) > 9.2e15) {
            return -ODIN_ERR_PARSE;
        }
        *t_ms = (int64_t)floor(f * 1000 + 0.5);
        return 0;
    }
    return parse_rfc3339(s, t_ms);
}

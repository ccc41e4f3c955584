/* A small JSON writer with Go's encoding rules: string escaping as encoding/json (HTML-safe),
 * floats as strconv, sample times and values as Prometheus' API prints them. Writing only; the
 * API never parses JSON. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "web/web_int.h"

void web_json_init(web_json *j, odin_strbuf *b)
{
    memset(j, 0, sizeof *j);
    j->b = b;
}

/* Places the comma a value needs, unless it follows its key. */
static void before_value(web_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth]) {
        odin_strbuf_putc(j->b, ',');
    }
    j->need_comma[j->depth] = true;
}

static void open(web_json *j, char c)
{
    before_value(j);
    odin_strbuf_putc(j->b, c);
    ODIN_ASSERT(j->depth + 1 < WEB_JSON_MAX_DEPTH);
    j->depth++;
    j->need_comma[j->depth] = false;
}

static void close_(web_json *j, char c)
{
    ODIN_ASSERT(j->depth > 0);
    j->depth--;
    odin_strbuf_putc(j->b, c);
}

void web_json_obj_begin(web_json *j) { open(j, '{'); }
void web_json_obj_end(web_json *j) { close_(j, '}'); }
void web_json_arr_begin(web_json *j) { open(j, '['); }
void web_json_arr_end(web_json *j) { close_(j, ']'); }

void web_json_key(web_json *j, const char *key)
{
    before_value(j);
    web_json_put_string(j->b, key, strlen(key));
    odin_strbuf_putc(j->b, ':');
    j->after_key = true;
}

void web_json_str(web_json *j, odin_str s)
{
    before_value(j);
    web_json_put_string(j->b, s.p, s.len);
}

void web_json_cstr(web_json *j, const char *s)
{
    web_json_str(j, s != NULL ? odin_str_c(s) : ODIN_STR(""));
}

void web_json_i64(web_json *j, int64_t v)
{
    before_value(j);
    odin_strbuf_put_i64(j->b, v);
}

void web_json_u64(web_json *j, uint64_t v)
{
    before_value(j);
    odin_strbuf_put_u64(j->b, v);
}

void web_json_bool(web_json *j, bool v)
{
    before_value(j);
    odin_strbuf_puts(j->b, v ? "true" : "false");
}

void web_json_null(web_json *j)
{
    before_value(j);
    odin_strbuf_puts(j->b, "null");
}

void web_json_f64(web_json *j, double v)
{
    before_value(j);
    if (!isfinite(v)) {
        odin_strbuf_puts(j->b, "null");
        return;
    }
    double a = fabs(v);
    bool e = a != 0 && (a < 1e-6 || a >= 1e21);
    if (!e) {
        web_put_float(j->b, v, 'f');
        return;
    }
    /* encoding/json shortens a two-digit negative exponent: 1e-07 becomes 1e-7. */
    odin_strbuf tmp;
    odin_strbuf_init(&tmp, 64);
    web_put_float(&tmp, v, 'e');
    size_t n = tmp.len;
    if (n >= 4 && tmp.p[n - 4] == 'e' && tmp.p[n - 3] == '-' && tmp.p[n - 2] == '0') {
        tmp.p[n - 2] = tmp.p[n - 1];
        n--;
    }
    odin_strbuf_put(j->b, tmp.p, n);
    odin_strbuf_fini(&tmp);
}

size_t web_format_time_ms(int64_t t, char *out)
{
    /* Matches Prometheus' jsonutil.MarshalTimestamp: integer arithmetic, no float rounding. */
    size_t o = 0;
    uint64_t u = (uint64_t)t;
    if (t < 0) {
        out[o++] = '-';
        u = (uint64_t)0 - u;
    }
    char tmp[24];
    size_t i = sizeof(tmp);
    uint64_t s = u / 1000;
    do {
        tmp[--i] = (char)('0' + s % 10);
        s /= 10;
    } while (s);
    memcpy(out + o, tmp + i, sizeof(tmp) - i);
    o += sizeof(tmp) - i;
    unsigned frac = (unsigned)(u % 1000);
    if (frac != 0) {
        out[o++] = '.';
        out[o++] = (char)('0' + frac / 100);
        out[o++] = (char)('0' + frac / 10 % 10);
        out[o++] = (char)('0' + frac % 10);
    }
    return o;
}

void web_json_time_ms(web_json *j, int64_t t)
{
    before_value(j);
    char buf[32];
    odin_strbuf_put(j->b, buf, web_format_time_ms(t, buf));
}

/* Integers below 2^53 are exact and their shortest round-trip digits are their own, so the 'f'
 * layout is the plain integer (gauges such as temperatures, clocks and byte counts are integers:
 * most points of the DCGM panels). */
static size_t format_small_integer(double v, char *out)
{
    size_t o = 0;
    uint64_t u = (uint64_t)fabs(v);
    if (v < 0) {
        out[o++] = '-';
    }
    char tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    memcpy(out + o, tmp + i, sizeof(tmp) - i);
    return o + sizeof(tmp) - i;
}

size_t web_format_value(double v, char *out)
{
    double a = fabs(v);
    if (a >= 1 && a < 9007199254740992.0 && a == (double)(uint64_t)a) {
        return format_small_integer(v, out);
    }
    if (isfinite(v) && a >= 1e-6 && a < 1e21) {
        /* 'f' layout straight from the shortest digits: the first digit's exponent is within
         * [-6, 20], inside layout's positional range, so this equals web_put_float(v, 'f') */
        return odin_format_double_exp(v, -7, 21, out);
    }
    odin_strbuf tmp;
    odin_strbuf_init(&tmp, 64);
    web_put_float(&tmp, v, a != 0 && (a < 1e-6 || a >= 1e21) ? 'e' : 'f');
    size_t n = tmp.len < 47 ? tmp.len : 47;
    memcpy(out, tmp.p, n);
    odin_strbuf_fini(&tmp);
    return n;
}

void web_json_value(web_json *j, double v)
{
    before_value(j);
    char buf[WEB_VALUE_MAX + 2];
    buf[0] = '"';
    size_t n = 1 + web_format_value(v, buf + 1);
    buf[n++] = '"';
    odin_strbuf_put(j->b, buf, n);
}

void web_json_labels(web_json *j, odin_labels ls)
{
    web_json_obj_begin(j);
    for (size_t i = 0; i < ls.len; i++) {
        before_value(j);
        web_json_put_string(j->b, ls.v[i].name.p, ls.v[i].name.len);
        odin_strbuf_putc(j->b, ':');
        web_json_put_string(j->b, ls.v[i].value.p, ls.v[i].value.len);
    }
    web_json_obj_end(j);
}

/* ---- Strings ---------------------------------------------------------------------------------- */

static void put_u_escape(odin_strbuf *b, uint32_t cp)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15],
                 hex[cp & 15]};
    odin_strbuf_put(b, e, 6);
}

void web_json_put_string(odin_strbuf *b, const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    odin_strbuf_putc(b, '"');
    size_t start = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        bool plain = c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' &&
                     c != '&';
        if (plain) {
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t n = c >= 0x80 ? odin_utf8_len(s + i, len - i, &cp) : 1;
        if (c >= 0x80 && n > 0 && cp != 0x2028 && cp != 0x2029) {
            i += n;
            continue;
        }
        odin_strbuf_put(b, p + start, i - start);
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            odin_strbuf_put(b, e, 2);
        } else if (c == '\n') {
            odin_strbuf_puts(b, "\\n");
        } else if (c == '\r') {
            odin_strbuf_puts(b, "\\r");
        } else if (c == '\t') {
            odin_strbuf_puts(b, "\\t");
        } else if (c < 0x80) {
            put_u_escape(b, c);
        } else if (n == 0) {
            put_u_escape(b, 0xfffd);
            n = 1;
        } else {
            put_u_escape(b, cp);
        }
        i += c < 0x80 ? 1 : n;
        start = i;
    }
    odin_strbuf_put(b, p + start, len - start);
    odin_strbuf_putc(b, '"');
}

/* ---- Floats ----------------------------------------------------------------------------------- */

/* The shortest round-trip digits of |v| (no leading zeros) and the decimal point's place:
 * |v| = 0.d1d2...dn * 10^dp. Derived from base's Go-compatible 'g' formatter. */
typedef struct {
    char d[32];
    int nd;
    int dp;
} decimal;

static void to_decimal(double a, decimal *out)
{
    char g[40];
    size_t len = odin_format_double(a, g);
    out->nd = 0;
    out->dp = 0;
    int before_point = 0;
    bool seen_point = false;
    size_t i = 0;
    for (; i < len && g[i] != 'e'; i++) {
        if (g[i] == '.') {
            seen_point = true;
            continue;
        }
        if (out->nd == 0 && g[i] == '0') {
            /* a leading zero moves the point instead of becoming a digit */
            before_point -= seen_point ? 1 : 0;
            continue;
        }
        out->d[out->nd++] = g[i];
        before_point += seen_point ? 0 : 1;
    }
    while (out->nd > 0 && out->d[out->nd - 1] == '0') {
        out->nd--; /* "100" has one significant digit */
    }
    int64_t exp = 0;
    if (i < len) {
        size_t at = i + 1 + (i + 1 < len && g[i + 1] == '+');
        (void)odin_parse_i64((odin_str){g + at, len - at}, &exp);
    }
    out->dp = before_point + (int)exp;
}

static void put_zeros(odin_strbuf *b, int n)
{
    for (int i = 0; i < n; i++) {
        odin_strbuf_putc(b, '0');
    }
}

void web_put_float(odin_strbuf *b, double v, char fmt)
{
    if (isnan(v)) {
        odin_strbuf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        odin_strbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (signbit(v)) {
        odin_strbuf_putc(b, '-');
    }
    decimal d;
    if (v == 0) {
        d.nd = 0;
        d.dp = 0;
    } else {
        to_decimal(fabs(v), &d);
    }
    if (fmt == 'e') {
        odin_strbuf_putc(b, d.nd > 0 ? d.d[0] : '0');
        if (d.nd > 1) {
            odin_strbuf_putc(b, '.');
            odin_strbuf_put(b, d.d + 1, (size_t)d.nd - 1);
        }
        int exp = d.nd > 0 ? d.dp - 1 : 0;
        odin_strbuf_putc(b, 'e');
        odin_strbuf_putc(b, exp < 0 ? '-' : '+');
        exp = exp < 0 ? -exp : exp;
        if (exp < 10) {
            odin_strbuf_putc(b, '0');
        }
        odin_strbuf_put_i64(b, exp);
        return;
    }
    if (d.nd == 0) {
        odin_strbuf_putc(b, '0');
    } else if (d.dp <= 0) {
        odin_strbuf_puts(b, "0.");
        put_zeros(b, -d.dp);
        odin_strbuf_put(b, d.d, (size_t)d.nd);
    } else if (d.dp >= d.nd) {
        odin_strbuf_put(b, d.d, (size_t)d.nd);
        put_zeros(b, d.dp - d.nd);
    } else {
        odin_strbuf_put(b, d.d, (size_t)d.dp);
        odin_strbuf_putc(b, '.');
        odin_strbuf_put(b, d.d + d.dp, (size_t)(d.nd - d.dp));
    }
}

/* ---- Times and durations ---------------------------------------------------------------------- */

/* Go's time.Format(RFC3339Nano) of a ms time in UTC: the fraction without trailing zeros. */
void web_json_rfc3339(web_json *j, int64_t t_ms)
{
    before_value(j);
    if (t_ms == 0) {
        odin_strbuf_puts(j->b, "\"0001-01-01T00:00:00Z\"");
        return;
    }
    int64_t s = t_ms >= 0 ? t_ms / 1000 : (t_ms - 999) / 1000;
    int ms = (int)(t_ms - s * 1000);
    time_t tt = (time_t)s;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL) {
        odin_strbuf_puts(j->b, "\"0001-01-01T00:00:00Z\"");
        return;
    }
    odin_strbuf_printf(j->b, "\"%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (ms != 0) {
        char f[4] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10)};
        size_t n = 4;
        while (f[n - 1] == '0') {
            n--;
        }
        odin_strbuf_put(j->b, f, n);
    }
    odin_strbuf_puts(j->b, "Z\"");
}

void web_put_duration(odin_strbuf *b, int64_t ms)
{
    /* Years and weeks only when exact, as Prometheus prints 90d rather than 12w6d. */
    static const struct {
        const char *unit;
        int64_t ms;
        bool exact;
    } units[] = {
        {"y", 365LL * 24 * 3600 * 1000, true}, {"w", 7LL * 24 * 3600 * 1000, true},
        {"d", 24LL * 3600 * 1000, false},      {"h", 3600LL * 1000, false},
        {"m", 60LL * 1000, false},             {"s", 1000, false},
        {"ms", 1, false},
    };
    if (ms == 0) {
        odin_strbuf_puts(b, "0s");
        return;
    }
    if (ms < 0) {
        odin_strbuf_putc(b, '-');
        ms = ms == INT64_MIN ? INT64_MAX : -ms;
    }
    for (size_t i = 0; i < ODIN_ARRAY_LEN(units); i++) {
        int64_t n = ms / units[i].ms;
        if (n == 0 || (units[i].exact && ms % units[i].ms != 0)) {
            continue;
        }
        ms -= n * units[i].ms;
        odin_strbuf_put_i64(b, n);
        odin_strbuf_puts(b, units[i].unit);
    }
}

/* The text parser's lexical pieces (lex.h): byte classes, error messages with line and column,
 * numbers and timestamps, each checked as Prometheus' textparse checks them. */
#include "expfmt/lex.h"

#include <math.h>
#include <string.h>

const uint8_t expfmt_char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 4, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 2, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* ---- Errors ---------------------------------------------------------------------------------- */

/* Writes s[0..n) as a double-quoted string with C escapes, cut to QUOTE_BYTES input bytes.
 * out must hold QUOTE_BYTES * 4 + 8 bytes. Hand-written because snprintf belongs to base/. */
static void quote(char *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n && i < QUOTE_BYTES; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o++] = '"';
    if (n > QUOTE_BYTES) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

size_t expfmt_col_of(const line_ctx *c, const char *at)
{
    return (size_t)(at - c->start) + 1;
}

/* "LINE:COL: reason, got TOKEN", TOKEN being the text at `at` up to the next blank. */
int expfmt_fail_tok(const line_ctx *c, const char *at, const char *reason)
{
    char q[QUOTE_BYTES * 4 + 8];
    if (at >= c->end) {
        return odin_err_set(c->err, ODIN_ERR_PARSE, "%zu:%zu: %s, got end of line", c->line,
                            expfmt_col_of(c, at), reason);
    }
    const char *t = at + 1;
    while (t < c->end && !is_blank(*t)) {
        t++;
    }
    quote(q, at, (size_t)(t - at));
    return odin_err_set(c->err, ODIN_ERR_PARSE, "%zu:%zu: %s, got %s", c->line,
                        expfmt_col_of(c, at), reason, q);
}

/* "LINE:COL: reason" followed by the quoted value when val.p is set. */
int expfmt_fail_val(const line_ctx *c, const char *at, const char *reason, odin_str val)
{
    char q[QUOTE_BYTES * 4 + 8];
    if (val.p == NULL) {
        return odin_err_set(c->err, ODIN_ERR_PARSE, "%zu:%zu: %s", c->line, expfmt_col_of(c, at),
                            reason);
    }
    quote(q, val.p, val.len);
    return odin_err_set(c->err, ODIN_ERR_PARSE, "%zu:%zu: %s %s", c->line, expfmt_col_of(c, at),
                        reason, q);
}

/* ---- Numbers --------------------------------------------------------------------------------- */

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static size_t prefix_len_nocase(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    while (i < n && word[i] != '\0' && (s[i] | 0x20) == word[i]) {
        i++;
    }
    return i;
}

/* Go's strconv.ParseFloat special values: [+-]inf, [+-]infinity, nan, any case (no sign on nan). */
static bool parse_special(const char *s, size_t n, double *out)
{
    bool neg = false;
    size_t sign = 0;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        sign = 1;
    }
    size_t k = prefix_len_nocase(s + sign, n - sign, "infinity");
    if ((k == 3 || k == 8) && sign + k == n) {
        *out = neg ? -INFINITY : INFINITY;
        return true;
    }
    if (sign == 0 && n == 3 && prefix_len_nocase(s, n, "nan") == 3) {
        *out = NAN;
        return true;
    }
    return false;
}

/* Parses a sample value, timestamp or exemplar value as Prometheus does: Go's ParseFloat minus
 * 'p', 'P' and '_' (textparse's parseFloat), which leaves decimal forms and the special words.
 * The grammar is checked here; a value with at most 19 significant digits and a small exponent
 * is computed exactly (Clinger's fast path: both operands exact, one rounding), the rest go to
 * base's parser. Overflow is an error, as in Go. */
bool expfmt_parse_value(const char *s, size_t n, double *out)
{
    const char *q = s;
    const char *end = s + n;
    bool neg = false;
    if (q < end && (*q == '+' || *q == '-')) {
        neg = *q == '-';
        q++;
    }
    if (q == end) {
        return false;
    }
    if (!is_digit(*q) && *q != '.') {
        return parse_special(s, n, out);
    }
    uint64_t mant = 0;
    int ndig = 0;
    int dexp = 0;
    bool inexact = false;
    bool any = false;
    if (end - q <= 19) {
        /* At most 19 digits (the usual case): the mantissa cannot overflow and no digit is
         * dropped, so the loops below would take every digit; this does the same without
         * counting significant digits. */
        const char *d = q;
        for (; q < end && is_digit(*q); q++) {
            mant = mant * 10 + (uint64_t)(*q - '0');
        }
        any = q > d;
        if (q < end && *q == '.') {
            d = ++q;
            for (; q < end && is_digit(*q); q++) {
                mant = mant * 10 + (uint64_t)(*q - '0');
            }
            any |= q > d;
            dexp = -(int)(q - d);
        }
    } else {
        for (; q < end && is_digit(*q); q++) {
            any = true;
            if (ndig < 19) {
                mant = mant * 10 + (uint64_t)(*q - '0');
                ndig += mant != 0;
            } else {
                dexp++;
                inexact |= *q != '0';
            }
        }
        if (q < end && *q == '.') {
            for (q++; q < end && is_digit(*q); q++) {
                any = true;
                if (ndig < 19) {
                    mant = mant * 10 + (uint64_t)(*q - '0');
                    ndig += mant != 0;
                    dexp--;
                } else {
                    inexact |= *q != '0';
                }
            }
        }
    }
    if (!any) {
        return false;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        bool eneg = false;
        if (q < end && (*q == '+' || *q == '-')) {
            eneg = *q == '-';
            q++;
        }
        if (q == end || !is_digit(*q)) {
            return false;
        }
        int e = 0;
        for (; q < end && is_digit(*q); q++) {
            if (e < 100000) {
                e = e * 10 + (*q - '0');
            }
        }
        dexp += eneg ? -e : e;
    }
    if (q != end) {
        return false;
    }
    if (mant == 0 && !inexact) {
        *out = neg ? -0.0 : 0.0;
        return true;
    }
    if (!inexact && mant <= (UINT64_C(1) << 53) && dexp >= -22 && dexp <= 22) {
        double v = (double)mant;
        v = dexp < 0 ? v / pow10_exact[-dexp] : v * pow10_exact[dexp];
        *out = neg ? -v : v;
        return true;
    }
    double v;
    if (odin_parse_double((odin_str){s, n}, &v) != 0 || isinf(v) || isnan(v)) {
        return false;
    }
    *out = v;
    return true;
}

/* Canonical NaN, so no parsed value can carry the stale-marker bit pattern (matches Prometheus:
 * textparse stores value.NormalNaN). */
double expfmt_normal_nan(void)
{
    union {
        uint64_t u;
        double d;
    } v = {.u = UINT64_C(0x7ff8000000000001)};
    return v.d;
}

/* 0.0.4 timestamps: decimal digits only (promlex.l's {D}+), int64 milliseconds. */
bool expfmt_parse_ms(const char *s, size_t n, int64_t *out)
{
    if (n == 0) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_C(0x7fffffffffffffff) - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = (int64_t)v;
    return true;
}

/* OpenMetrics timestamps: float seconds, truncated to ms as Prometheus does (int64(ts * 1000)). */
bool expfmt_parse_seconds_ms(const char *s, size_t n, int64_t *out)
{
    double ts;
    if (!expfmt_parse_value(s, n, &ts) || isnan(ts) || isinf(ts)) {
        return false;
    }
    double ms = ts * 1000.0;
    if (!(ms > -9223372036854775808.0 && ms < 9223372036854775808.0)) {
        return false;
    }
    *out = (int64_t)ms;
    return true;
}


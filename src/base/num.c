/* Number formatting and parsing. Floats print as Go's strconv.FormatFloat(v, 'g', -1, 64), the
 * shortest text that reads back as the same double, because every Prometheus-compatible output
 * (exposition, API) is compared byte for byte by someone's dashboard or test. */
#include "base/base.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lays out a shortest digit string (no trailing zeros) whose first digit has weight 10^exp the way
 * Go's 'g' verb does with precision -1: exponent form below 1e-4 and from 1e6 up (Go fixes eprec
 * at 6 for shortest output), at least two exponent digits. */
static size_t layout_g(bool neg, const char *d, size_t nd, int exp, int exp_lo, int exp_hi,
                       char *out)
{
    size_t o = 0;
    if (neg) {
        out[o++] = '-';
    }
    if (exp < exp_lo || exp >= exp_hi) {
        out[o++] = d[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, d + 1, nd - 1);
            o += nd - 1;
        }
        out[o++] = 'e';
        out[o++] = exp < 0 ? '-' : '+';
        int e = exp < 0 ? -exp : exp;
        if (e >= 100) {
            out[o++] = (char)('0' + e / 100);
        }
        out[o++] = (char)('0' + (e / 10) % 10);
        out[o++] = (char)('0' + e % 10);
    } else if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp - 1; i++) {
            out[o++] = '0';
        }
        memcpy(out + o, d, nd);
        o += nd;
    } else {
        size_t ip = (size_t)exp + 1;
        for (size_t i = 0; i < ip; i++) {
            out[o++] = i < nd ? d[i] : '0';
        }
        if (nd > ip) {
            out[o++] = '.';
            memcpy(out + o, d + ip, nd - ip);
            o += nd - ip;
        }
    }
    out[o] = '\0';
    return o;
}

/* For a with at most 9 fractional decimal digits and fewer than 2^53 as an integer when scaled:
 * the smallest k for which N = round(a * 10^k) gives N / 10^k == a. That division of two exact
 * doubles is correctly rounded, so it is exactly what reading "N e-k" back yields: the text
 * round-trips, and no text with fewer fractional digits does. Digits of N go to out. */
static bool decimal_digits(double a, char *out, size_t *nd, int *exp)
{
    static const double pow10[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    for (int k = 0; k < 9; k++) {
        double n = nearbyint(a * pow10[k]);
        if (n >= 9007199254740992.0) {
            return false;
        }
        if (n / pow10[k] != a || n == 0) {
            continue;
        }
        uint64_t u = (uint64_t)n;
        char tmp[24];
        size_t i = sizeof(tmp);
        while (u) {
            tmp[--i] = (char)('0' + u % 10);
            u /= 10;
        }
        size_t len = sizeof(tmp) - i;
        memcpy(out, tmp + i, len);
        *nd = len;
        *exp = (int)len - 1 - (k + 1);
        return true;
    }
    return false;
}

/* Shortest round-trip digits via printf: the correctly rounded 15-digit form is the shortest when
 * any form of 15 digits or fewer exists (strip its zeros); else try 16, then 17, which always
 * round-trips (subnormals search from one digit). Integers take a fast path that needs no printf at all. */
size_t odin_format_double(double v, char *out)
{
    return odin_format_double_exp(v, -4, 6, out);
}

size_t odin_format_double_exp(double v, int exp_lo, int exp_hi, char *out)
{
    if (isnan(v)) {
        memcpy(out, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    if (v == 0) {
        /* matches client_golang, which prints -0 as 0 */
        memcpy(out, "0", 2);
        return 1;
    }
    bool neg = v < 0;
    double a = neg ? -v : v;
    char digits[32];
    size_t nd;
    int exp;
    if (a < 1e15 && a != floor(a) && decimal_digits(a, digits, &nd, &exp)) {
        /* a short decimal fraction: the common case of kernel counters scaled by 1/100 or 1/1000 */
    } else if (a < 1e15 && a == floor(a)) {
        uint64_t u = (uint64_t)a;
        char tmp[24];
        size_t i = sizeof(tmp);
        while (u) {
            tmp[--i] = (char)('0' + u % 10);
            u /= 10;
        }
        nd = sizeof(tmp) - i;
        memcpy(digits, tmp + i, nd);
        exp = (int)nd - 1;
    } else {
        char buf[40];
        /* subnormals carry fewer bits, so their shortest form can be far below 15 digits while
         * the 15-digit form also reads back: search upward from one digit for them */
        int first = a < 2.2250738585072014e-308 ? 0 : 14;
        for (int prec = first;; prec++) {
            snprintf(buf, sizeof(buf), "%.*e", prec, a);
            if (prec == 16 || strtod(buf, NULL) == a) {
                break;
            }
        }
        /* buf is d.ddddde[+-]XX */
        char *e = strchr(buf, 'e');
        exp = (int)strtol(e + 1, NULL, 10);
        nd = 0;
        for (char *c = buf; c < e; c++) {
            if (*c != '.') {
                digits[nd++] = *c;
            }
        }
    }
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    return layout_g(neg, digits, nd, exp, exp_lo, exp_hi, out);
}

/* strtod wants a terminator; numbers longer than any sane spelling are an error, not a malloc. */
static int terminated(odin_str s, char *buf, size_t cap)
{
    if (s.len == 0 || s.len >= cap) {
        return -ODIN_ERR_PARSE;
    }
    memcpy(buf, s.p, s.len);
    buf[s.len] = '\0';
    return 0;
}

int odin_parse_double(odin_str s, double *out)
{
    char buf[128];
    if (terminated(s, buf, sizeof(buf)) < 0) {
        return -ODIN_ERR_PARSE;
    }
    char c = buf[0];
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'N' || c == 'n' ||
          c == 'I' || c == 'i')) {
        return -ODIN_ERR_PARSE;
    }
    /* Go, like Prometheus, takes hex floats only with a 'p' exponent; strtod also takes 0x10 */
    if ((strchr(buf, 'x') || strchr(buf, 'X')) && !strchr(buf, 'p') && !strchr(buf, 'P')) {
        return -ODIN_ERR_PARSE;
    }
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + s.len) {
        return -ODIN_ERR_PARSE;
    }
    /* Go accepts out-of-range values as ±Inf with an error; Prometheus rejects them as well,
     * except that underflow to zero or a denormal is fine. */
    if (errno == ERANGE && isinf(v)) {
        return -ODIN_ERR_LIMIT;
    }
    *out = v;
    return 0;
}

int odin_parse_u64(odin_str s, uint64_t *out)
{
    if (s.len == 0) {
        return -ODIN_ERR_PARSE;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(s.p[i] - '0');
        if (d > 9) {
            return -ODIN_ERR_PARSE;
        }
        if (v > (UINT64_MAX - d) / 10) {
            return -ODIN_ERR_LIMIT;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int odin_parse_i64(odin_str s, int64_t *out)
{
    bool neg = false;
    if (s.len && (s.p[0] == '-' || s.p[0] == '+')) {
        neg = s.p[0] == '-';
        s.p++;
        s.len--;
    }
    uint64_t u;
    int rc = odin_parse_u64(s, &u);
    if (rc < 0) {
        return rc;
    }
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX) {
        return -ODIN_ERR_LIMIT;
    }
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

int odin_parse_hex_u64(odin_str s, uint64_t *out)
{
    if (s.len == 0 || s.len > 16) {
        return s.len ? -ODIN_ERR_LIMIT : -ODIN_ERR_PARSE;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            d = (unsigned)(c - 'A' + 10);
        } else {
            return -ODIN_ERR_PARSE;
        }
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* The double formatter as it was before the exact shortest-digits method (src/base/num.c): the
 * same integer and short-decimal fast paths, and printf %.*e plus strtod at 15, 16 and 17 digits
 * for everything else. Kept as the reference the unit test compares against and as the baseline
 * bench/format_double.c times; include it in one .c file after <math.h>, <stdbool.h>, <stdio.h>,
 * <stdlib.h>, <string.h> and base/base.h. */
#ifndef ODIN_TESTS_FORMAT_DOUBLE_REF_H
#define ODIN_TESTS_FORMAT_DOUBLE_REF_H

static size_t ref_layout(bool neg, const char *d, size_t nd, int exp, int exp_lo, int exp_hi,
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

static bool ref_decimal_digits(double a, char *out, size_t *nd, int *exp)
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

static size_t ref_format(double v, int exp_lo, int exp_hi, char *out)
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
        memcpy(out, "0", 2);
        return 1;
    }
    bool neg = v < 0;
    double a = neg ? -v : v;
    char digits[32];
    size_t nd;
    int exp;
    if (a < 1e15 && a != floor(a) && ref_decimal_digits(a, digits, &nd, &exp)) {
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
        int first = a < 2.2250738585072014e-308 ? 0 : 14;
        for (int prec = first;; prec++) {
            snprintf(buf, sizeof(buf), "%.*e", prec, a);
            if (prec == 16 || strtod(buf, NULL) == a) {
                break;
            }
        }
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
    return ref_layout(neg, digits, nd, exp, exp_lo, exp_hi, out);
}

#endif

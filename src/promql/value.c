/* Float text for query results: the shortest digits that read back as the same double (from
 * base's formatter), laid out in fixed notation, or in exponent form where Prometheus' JSON
 * encoder switches to it (|v| < 1e-6 or |v| >= 1e21). */
#include "promql/engine_int.h"

#include <math.h>
#include <string.h>

/* Splits base's 'g' text into sign, significant digits and the decimal exponent of the first
 * digit (v = 0.d1d2... * 10^(exp+1)). */
static size_t shortest_digits(double v, bool *neg, char *digits, int *exp)
{
    char g[64];
    size_t n = odin_format_double(v, g);
    size_t i = 0, nd = 0;
    *neg = false;
    if (g[0] == '-') {
        *neg = true;
        i++;
    }
    int point = -1; /* digits before the '.' */
    int e = 0;
    for (; i < n; i++) {
        char ch = g[i];
        if (ch == '.') {
            point = (int)nd;
        } else if (ch == 'e') {
            int sign = g[i + 1] == '-' ? -1 : 1;
            i += 2;
            for (; i < n; i++) {
                e = e * 10 + (g[i] - '0');
            }
            e *= sign;
            break;
        } else {
            digits[nd++] = ch;
        }
    }
    if (point < 0) {
        point = (int)nd;
    }
    /* strip leading zeros (0.00123 -> 123) */
    size_t lead = 0;
    while (lead + 1 < nd && digits[lead] == '0') {
        lead++;
        point--;
    }
    memmove(digits, digits + lead, nd - lead);
    nd -= lead;
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    *exp = point - 1 + e;
    return nd;
}

static size_t special(double v, char *out)
{
    if (isnan(v)) {
        memcpy(out, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    memcpy(out, "0", 2);
    return 1;
}

size_t promql_format_value_f(double v, char *out)
{
    if (isnan(v) || isinf(v) || v == 0) {
        return special(v, out);
    }
    bool neg;
    char d[40];
    int exp;
    size_t nd = shortest_digits(v, &neg, d, &exp);
    size_t o = 0;
    if (neg) {
        out[o++] = '-';
    }
    if (exp < 0) {
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

size_t promql_format_value(double v, char *out)
{
    if (isnan(v) || isinf(v) || v == 0) {
        return special(v, out);
    }
    double a = fabs(v);
    if (a >= 1e-6 && a < 1e21) {
        return promql_format_value_f(v, out);
    }
    bool neg;
    char d[40];
    int exp;
    size_t nd = shortest_digits(v, &neg, d, &exp);
    size_t o = 0;
    if (neg) {
        out[o++] = '-';
    }
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
    out[o] = '\0';
    return o;
}

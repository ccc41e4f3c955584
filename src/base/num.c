/* Number formatting and parsing. Floats print as Go's strconv.FormatFloat(v, 'g', -1, 64), the
 * shortest text that reads back as the same double, because every Prometheus-compatible output
 * (exposition, API) is compared byte for byte by someone's dashboard or test. */
#include "base/base.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
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

/* Writes the decimal digits of u (nonzero) to out, two at a time; returns how many. */
static size_t u64_digits(uint64_t u, char *out)
{
    static const char pairs[] = "0001020304050607080910111213141516171819"
                                "2021222324252627282930313233343536373839"
                                "4041424344454647484950515253545556575859"
                                "6061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    char tmp[24];
    size_t i = sizeof(tmp);
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        i -= 2;
        memcpy(tmp + i, pairs + 2 * r, 2);
    }
    if (u >= 10) {
        i -= 2;
        memcpy(tmp + i, pairs + 2 * u, 2);
    } else {
        tmp[--i] = (char)('0' + u);
    }
    memcpy(out, tmp + i, sizeof(tmp) - i);
    return sizeof(tmp) - i;
}

/* For a with at most 3 fractional decimal digits (counters scaled by 1/100 or 1/1000, the bulk of
 * what the agent renders): the smallest k for which N = round(a * 10^k) gives N / 10^k == a. That
 * division of two exact doubles is correctly rounded, so it is exactly what reading "N e-k" back
 * yields: the text round-trips, and no text with fewer fractional digits does. Digits of N go to
 * out. Going further than 3 digits costs more in misses than the exact method below does. */
static bool decimal_digits(double a, char *out, size_t *nd, int *exp)
{
    static const double pow10[] = {1e1, 1e2, 1e3};
    for (int k = 0; k < (int)ODIN_ARRAY_LEN(pow10); k++) {
        double n = nearbyint(a * pow10[k]);
        if (n >= 9007199254740992.0) {
            return false;
        }
        if (n / pow10[k] != a || n == 0) {
            continue;
        }
        *nd = u64_digits((uint64_t)n, out);
        *exp = (int)*nd - 1 - (k + 1);
        return true;
    }
    return false;
}

/* ---- Shortest digits without printf -------------------------------------------------------
 * The method is Schubfach's (R. Giulietti, "The Schubfach way to render doubles", 2020): with
 * v = c * 2^q, pick k so that the rounding interval R of v (the reals that read back as v) is
 * between 1 and 10 units of 10^k wide; then v / 10^k and the ends of R, scaled by 4 and rounded to
 * odd from a 128-bit approximation of 10^-k, decide exactly which integers (units of 10^k) lie in
 * R. As R holds at most one multiple of 10, two candidates per length are enough.
 *
 * Which digits: those of the printf search this replaced, which took v correctly rounded (ties to
 * even) to 15, 16, then 17 significant digits, the first that reads back, trailing zeros stripped.
 * When any text of 15 digits or fewer reads back, the 15-digit rounding is that text, so this is
 * the shortest text that reads back, the nearest one among those of its length. Powers of two
 * differ: their R is narrower below v than above, and a 16-digit text above v may read back while
 * the 16-digit rounding, below, does not; there the search went on to 17 digits, and so do we. */

/* 10^e for e in [POW10_E_MIN, POW10_E_MAX] (every -k the formatter asks for) as
 * g = floor(10^e / 2^r) + 1 with r = floor(e * log2(10)) - 127, so 2^127 <= g < 2^128: the 128
 * leading bits rounded up, as the round-to-odd argument needs g above the true value. */
enum { POW10_E_MIN = -292, POW10_E_MAX = 325 };
static unsigned __int128 pow10_g[POW10_E_MAX - POW10_E_MIN + 1];
static pthread_once_t pow10_once = PTHREAD_ONCE_INIT;

/* floor(q * log10(2)), floor(q * log10(2) + log10(3/4)) and floor(e * log2(10)): fixed-point
 * constants, exact for |q|, |e| up to well past the double range (checked against exact
 * arithmetic for [-1200, 1200] when written) */
static int floor_log10_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL) >> 41);
}

static int floor_log10_three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083LL - 274743187321LL) >> 41);
}

static int floor_log2_pow10(int e)
{
    return (int)(((int64_t)e * 913124641741LL) >> 38);
}

/* Just enough unsigned bignum to build the table once: little-endian 32-bit words; 10^325 has
 * 1080 bits. */
enum { BIG_WORDS = 36 };
typedef struct {
    uint32_t w[BIG_WORDS];
} big;

static void big_mul10(big *b)
{
    uint64_t carry = 0;
    for (int i = 0; i < BIG_WORDS; i++) {
        uint64_t x = (uint64_t)b->w[i] * 10 + carry;
        b->w[i] = (uint32_t)x;
        carry = x >> 32;
    }
}

static void big_shl1(big *b)
{
    for (int i = BIG_WORDS - 1; i > 0; i--) {
        b->w[i] = b->w[i] << 1 | b->w[i - 1] >> 31;
    }
    b->w[0] <<= 1;
}

static int big_cmp(const big *a, const big *b)
{
    for (int i = BIG_WORDS - 1; i >= 0; i--) {
        if (a->w[i] != b->w[i]) {
            return a->w[i] < b->w[i] ? -1 : 1;
        }
    }
    return 0;
}

static void big_sub(big *a, const big *b)
{
    int64_t borrow = 0;
    for (int i = 0; i < BIG_WORDS; i++) {
        int64_t x = (int64_t)a->w[i] - b->w[i] - borrow;
        borrow = x < 0;
        a->w[i] = (uint32_t)x;
    }
}

static int big_bit(const big *b, int i)
{
    return (int)(b->w[i / 32] >> (i % 32) & 1);
}

static int big_bitlen(const big *b)
{
    for (int i = BIG_WORDS * 32 - 1; i >= 0; i--) {
        if (big_bit(b, i)) {
            return i + 1;
        }
    }
    return 0;
}

static void pow10_build(void)
{
    big p = {{1}};
    /* 10^e for e >= 0: its leading 128 bits (or all of it, shifted up) */
    for (int e = 0; e <= POW10_E_MAX; e++) {
        int r = floor_log2_pow10(e) - 127;
        unsigned __int128 g = 0;
        if (r >= 0) {
            for (int i = r + 127; i >= r; i--) {
                g = g << 1 | (unsigned)big_bit(&p, i);
            }
        } else {
            for (int i = 127 + r; i >= 0; i--) {
                g = g << 1 | (unsigned)big_bit(&p, i);
            }
            g <<= -r;
        }
        pow10_g[e - POW10_E_MIN] = g + 1;
        big_mul10(&p);
    }
    /* 10^e for e < 0: floor(2^n / 10^-e) with n = -r, by binary long division that starts where
     * the quotient's first bit comes down (the dividend's first b - 1 bits are below 10^-e) */
    big d = {{1}};
    for (int e = -1; e >= POW10_E_MIN; e--) {
        big_mul10(&d);
        int n = 127 - floor_log2_pow10(e);
        int b = big_bitlen(&d);
        big rem = {{0}};
        rem.w[(b - 1) / 32] = 1u << ((b - 1) % 32);
        unsigned __int128 g = 0;
        for (int i = n - b; i >= 0; i--) {
            big_shl1(&rem);
            g <<= 1;
            if (big_cmp(&rem, &d) >= 0) {
                big_sub(&rem, &d);
                g |= 1;
            }
        }
        pow10_g[e - POW10_E_MIN] = g + 1;
    }
}

/* floor(g * cp / 2^128), its lowest bit set when the dropped part is not zero (round to odd). The
 * lowest 64 bits of the product are left out: they only hold the error of g. */
static uint64_t round_to_odd(unsigned __int128 g, uint64_t cp)
{
    unsigned __int128 lo = (unsigned __int128)(uint64_t)g * cp;
    unsigned __int128 hi = (unsigned __int128)(uint64_t)(g >> 64) * cp;
    unsigned __int128 mid = hi + (lo >> 64);
    return (uint64_t)(mid >> 64) | ((uint64_t)mid != 0);
}

/* The candidate next to v (units of 10^k) at a step of 1 or 10: below or above, whichever is
 * nearer, ties to the even one. vb is 4 v / 10^k rounded to odd, so comparing it with the even
 * 4 * midpoint is exact. */
static uint64_t nearest(uint64_t vb, uint64_t below, uint64_t step)
{
    uint64_t mid4 = 4 * below + 2 * step;
    bool up = vb > mid4 || (vb == mid4 && (below / step) % 2 == 1);
    return up ? below + step : below;
}

static bool in_interval(uint64_t d, uint64_t vbl, uint64_t vbr, uint64_t open)
{
    return vbl + open <= 4 * d && 4 * d + open <= vbr;
}

/* A power of two (mantissa c = 2^52) has its lower neighbour half as far as its upper one, so R
 * is lopsided and the nearest n-digit form can fall out of R below while a shorter one is in:
 * try 15, 16 and 17 digits in that order as the printf search did, at a scale one digit finer
 * than the main path's, where v / 10^k has 17 or 18 digits. */
static void power_of_two_digits(int q, uint64_t *digits, int *e10)
{
    uint64_t cb = 1ULL << 54, cbl = cb - 1, cbr = cb + 2;
    int k = floor_log10_three_quarters_pow2(q) - 1;
    int h = q + floor_log2_pow10(-k) + 1;
    unsigned __int128 g = pow10_g[-k - POW10_E_MIN];
    uint64_t vb = round_to_odd(g, cb << h);
    uint64_t vbl = round_to_odd(g, cbl << h);
    uint64_t vbr = round_to_odd(g, cbr << h);
    uint64_t s = vb >> 2;
    int len = 0;
    for (uint64_t u = s; u; u /= 10) {
        len++;
    }
    uint64_t step = 1;
    for (int i = 17; i < len; i++) {
        step *= 10;
    }
    /* c is even: the ends of R read back */
    uint64_t d = nearest(vb, s / (step * 100) * (step * 100), step * 100);
    if (!in_interval(d, vbl, vbr, 0)) {
        d = nearest(vb, s / (step * 10) * (step * 10), step * 10);
        if (!in_interval(d, vbl, vbr, 0)) {
            d = nearest(vb, s / step * step, step);
        }
    }
    *digits = d;
    *e10 = k;
}

/* Digits of a finite, nonzero |v| (its bits) as an integer and the weight of its last digit:
 * v reads back from digits * 10^e10. */
static void shortest_digits(uint64_t bits, uint64_t *digits, int *e10)
{
    uint64_t frac = bits & ((1ULL << 52) - 1);
    int be = (int)(bits >> 52 & 0x7ff);
    uint64_t c = be ? frac | 1ULL << 52 : frac;
    int q = be ? be - 1075 : -1074;
    /* the smallest normal is no such case: its lower neighbour, the largest subnormal, is as far
     * as its upper one */
    if (frac == 0 && be > 1) {
        power_of_two_digits(q, digits, e10);
        return;
    }
    /* R, in units of 2^(q-2): [cbl, cbr], ends included when c is even (ties read back to even) */
    uint64_t cb = c << 2, cbr = cb + 2, cbl = cb - 2;
    uint64_t open = c & 1;
    int k = floor_log10_pow2(q);
    int h = q + floor_log2_pow10(-k) + 1;
    unsigned __int128 g = pow10_g[-k - POW10_E_MIN];
    uint64_t vb = round_to_odd(g, cb << h);
    uint64_t vbl = round_to_odd(g, cbl << h);
    uint64_t vbr = round_to_odd(g, cbr << h);
    uint64_t s = vb >> 2;
    *e10 = k;
    /* R is symmetric here, so the nearer candidate is in it whenever either is: the nearest
     * multiple of 10 (zeros stripped later give any shorter form), else the nearest integer,
     * which always is in R as R is at least one unit wide */
    if (s >= 10) {
        uint64_t d = nearest(vb, s / 10 * 10, 10);
        if (in_interval(d, vbl, vbr, open)) {
            *digits = d;
            return;
        }
    }
    *digits = nearest(vb, s, 1);
}

/* Shortest round-trip digits: integers and short decimal fractions, the bulk of metric values, take
 * fast paths; everything else the exact method above. */
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
        nd = u64_digits((uint64_t)a, digits);
        exp = (int)nd - 1;
    } else {
        pthread_once(&pow10_once, pow10_build);
        uint64_t bits;
        memcpy(&bits, &a, sizeof(bits));
        uint64_t d;
        int e10;
        shortest_digits(bits, &d, &e10);
        /* drop trailing zeros before printing: short values come out of the exact method with
         * up to 16 of them */
        while (d % 100000000 == 0) {
            d /= 100000000;
            e10 += 8;
        }
        if (d % 10000 == 0) {
            d /= 10000;
            e10 += 4;
        }
        if (d % 100 == 0) {
            d /= 100;
            e10 += 2;
        }
        if (d % 10 == 0) {
            d /= 10;
            e10 += 1;
        }
        nd = u64_digits(d, digits);
        exp = e10 + (int)nd - 1;
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

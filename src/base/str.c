/* odin_str (borrowed text) helpers and odin_strbuf, the capped growable buffer. */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

odin_str odin_str_c(const char *s)
{
    return (odin_str){s, s ? strlen(s) : 0};
}

bool odin_str_eq(odin_str a, odin_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool odin_str_eq_c(odin_str a, const char *s)
{
    return odin_str_eq(a, odin_str_c(s));
}

bool odin_str_has_prefix(odin_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

bool odin_str_has_suffix(odin_str s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && memcmp(s.p + s.len - n, suffix, n) == 0;
}

int odin_str_cmp(odin_str a, odin_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c != 0) {
        return c;
    }
    return (a.len > b.len) - (a.len < b.len);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

odin_str odin_str_trim(odin_str s)
{
    while (s.len && is_space(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len && is_space(s.p[s.len - 1])) {
        s.len--;
    }
    return s;
}

odin_str odin_str_cut(odin_str *s, char sep)
{
    const char *hit = s->len ? memchr(s->p, sep, s->len) : NULL;
    odin_str head;
    if (!hit) {
        head = *s;
        s->p += s->len;
        s->len = 0;
        return head;
    }
    head = (odin_str){s->p, (size_t)(hit - s->p)};
    s->len -= head.len + 1;
    s->p = hit + 1;
    return head;
}

odin_str odin_str_field(odin_str *s)
{
    while (s->len && (s->p[0] == ' ' || s->p[0] == '\t')) {
        s->p++;
        s->len--;
    }
    size_t i = 0;
    while (i < s->len && s->p[i] != ' ' && s->p[i] != '\t') {
        i++;
    }
    odin_str f = {s->p, i};
    s->p += i;
    s->len -= i;
    return f;
}

/* ---- strbuf ---- */

#define STRBUF_DEFAULT_CAP ((size_t)1 << 30)

void odin_strbuf_init(odin_strbuf *b, size_t cap_bytes)
{
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap_bytes = cap_bytes ? cap_bytes : STRBUF_DEFAULT_CAP;
    b->overflow = false;
}

void odin_strbuf_fini(odin_strbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->alloc = 0;
}

void odin_strbuf_reset(odin_strbuf *b)
{
    b->len = 0;
    b->overflow = false;
    if (b->p) {
        b->p[0] = '\0';
    }
}

bool odin_strbuf_ok(const odin_strbuf *b)
{
    return !b->overflow;
}

char *odin_strbuf_reserve(odin_strbuf *b, size_t n)
{
    if (b->cap_bytes == 0) {
        b->cap_bytes = STRBUF_DEFAULT_CAP;
    }
    if (b->overflow || n > b->cap_bytes - b->len) {
        b->overflow = true;
        return NULL;
    }
    size_t need = b->len + n + 1;
    if (need > b->alloc) {
        size_t a = b->alloc ? b->alloc : 256;
        while (a < need) {
            a *= 2;
        }
        b->p = odin_realloc(b->p, a);
        b->alloc = a;
    }
    return b->p + b->len;
}

void odin_strbuf_advance(odin_strbuf *b, size_t n)
{
    b->len += n;
    b->p[b->len] = '\0';
}

void odin_strbuf_put(odin_strbuf *b, const void *p, size_t n)
{
    char *w = odin_strbuf_reserve(b, n);
    if (!w) {
        return;
    }
    if (n) {
        memcpy(w, p, n);
    }
    odin_strbuf_advance(b, n);
}

void odin_strbuf_puts(odin_strbuf *b, const char *s)
{
    odin_strbuf_put(b, s, strlen(s));
}

void odin_strbuf_putc(odin_strbuf *b, char c)
{
    char *w = odin_strbuf_reserve(b, 1);
    if (w) {
        *w = c;
        odin_strbuf_advance(b, 1);
    }
}

void odin_strbuf_putstr(odin_strbuf *b, odin_str s)
{
    odin_strbuf_put(b, s.p, s.len);
}

void odin_strbuf_vprintf(odin_strbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof(small)) {
        odin_strbuf_put(b, small, (size_t)n);
    } else {
        char *w = odin_strbuf_reserve(b, (size_t)n);
        if (w) {
            vsnprintf(w, (size_t)n + 1, fmt, ap2);
            odin_strbuf_advance(b, (size_t)n);
        }
    }
    va_end(ap2);
}

void odin_strbuf_printf(odin_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void odin_strbuf_put_u64(odin_strbuf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    odin_strbuf_put(b, tmp + i, sizeof(tmp) - i);
}

void odin_strbuf_put_i64(odin_strbuf *b, int64_t v)
{
    if (v < 0) {
        odin_strbuf_putc(b, '-');
        odin_strbuf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        odin_strbuf_put_u64(b, (uint64_t)v);
    }
}

void odin_strbuf_put_double(odin_strbuf *b, double v)
{
    char *w = odin_strbuf_reserve(b, 40);
    if (w) {
        odin_strbuf_advance(b, odin_format_double(v, w));
    }
}

char *odin_strbuf_take(odin_strbuf *b, size_t *len)
{
    char *p = b->p;
    if (!p) {
        p = odin_strdup("");
    }
    if (len) {
        *len = b->len;
    }
    b->p = NULL;
    b->len = b->alloc = 0;
    return p;
}

int odin_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* ---- Base64 -------------------------------------------------------------------------------- */

static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

char *odin_base64_decode(odin_str s, size_t *len)
{
    odin_strbuf out;
    odin_strbuf_init(&out, s.len / 4 * 3 + 1);
    uint32_t acc = 0;
    int bits = 0;
    size_t digits = 0, pad = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '\n' || c == '\r') {
            continue;
        }
        if (c == '=') {
            pad++;
            continue;
        }
        int d = b64_digit(c);
        if (d < 0 || pad > 0) {
            odin_strbuf_fini(&out);
            return NULL;
        }
        digits++;
        acc = (acc << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            odin_strbuf_putc(&out, (char)((acc >> bits) & 0xff));
        }
    }
    if ((digits + pad) % 4 != 0 || pad > 2 || digits % 4 == 1) {
        odin_strbuf_fini(&out);
        return NULL;
    }
    return odin_strbuf_take(&out, len);
}

/* UTF-8 decoding and validation with Go's rules, shared by every parser and writer that must
 * accept or reject text as Prometheus and the exporters do. */
#include "base/base.h"

#include <string.h>

size_t odin_utf8_len(const void *p, size_t n, uint32_t *cp)
{
    const unsigned char *s = p;
    unsigned c = s[0];
    if (c < 0x80) {
        if (cp) {
            *cp = c;
        }
        return 1;
    }
    /* the lead byte fixes the length and the range of the second byte, which rules out
     * overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and code points past
     * U+10FFFF (F4 90-BF, F5-FF) */
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    uint32_t r;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, r = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, r = c & 0x0f;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, r = c & 0x07;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if (i > 1 && (s[i] & 0xc0) != 0x80) {
            return 0;
        }
        r = r << 6 | (s[i] & 0x3f);
    }
    if (cp) {
        *cp = r;
    }
    return len;
}

bool odin_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* texts are long and mostly ASCII: eight ASCII bytes at a time */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            if (w & UINT64_C(0x8080808080808080)) {
                break;
            }
            i += 8;
        }
        if (i == n) {
            break;
        }
        size_t l = odin_utf8_len(u + i, n - i, NULL);
        if (l == 0) {
            return false;
        }
        i += l;
    }
    return true;
}

size_t odin_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

void odin_strbuf_put_utf8(odin_strbuf *b, uint32_t cp)
{
    char o[4];
    odin_strbuf_put(b, o, odin_utf8_encode(cp, o));
}

/* PromQL string literals: Go's quoting rules (strconv.Quote) for messages and printed queries,
 * and unquoting of the lexer's string tokens, over UTF-8 decoded as Go decodes it. */
#include "promql/lexer.h"

#include <string.h>

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

uint32_t promql_utf8_decode(const unsigned char *s, size_t n, size_t *width)
{
    *width = 1;
    if (n == 0) {
        return PROMQL_EOF_RUNE;
    }
    uint32_t r;
    size_t l = odin_utf8_len(s, n, &r);
    if (l == 0) {
        return PROMQL_RUNE_ERROR;
    }
    *width = l;
    return r;
}

/* ---- Quoting (Go's strconv.Quote, base/goquote.c) ------------------------------------------ */

void promql_quote(odin_strbuf *b, const char *s, size_t n)
{
    odin_strbuf_put_go_quote(b, (odin_str){s, n});
}

void promql_quote_rune(odin_strbuf *b, uint32_t r)
{
    odin_strbuf_putc(b, '\'');
    odin_strbuf_put_go_rune(b, r, '\'');
    odin_strbuf_putc(b, '\'');
}

/* ---- Unquoting ------------------------------------------------------------------------------ */

/* One escape at s[*i] (just after the backslash); appends its bytes. */
static int unquote_escape(const char *s, size_t n, size_t *i, odin_strbuf *out)
{
    static const char from[] = "abfnrtv\\'\"";
    static const char to[] = "\a\b\f\n\r\t\v\\'\"";
    char c = s[(*i)++];
    const char *e = strchr(from, c);
    if (c != '\0' && e) {
        odin_strbuf_putc(out, to[e - from]);
        return 0;
    }
    size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : (c >= '0' && c <= '7') ? 3 : 0;
    if (digits == 0) {
        return -1;
    }
    int base = (c >= '0' && c <= '7') ? 8 : 16;
    if (base == 8) {
        (*i)--;
    }
    if (*i + digits > n) {
        return -1;
    }
    uint32_t v = 0;
    for (size_t k = 0; k < digits; k++) {
        int d = odin_hex_digit(s[(*i)++]);
        if (d < 0 || d >= base) {
            return -1;
        }
        v = v * (uint32_t)base + (uint32_t)d;
    }
    if (c == 'u' || c == 'U') {
        if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) {
            return -1;
        }
        odin_strbuf_put_utf8(out, v);
    } else {
        if (v > 255) {
            return -1;
        }
        odin_strbuf_putc(out, (char)v);
    }
    return 0;
}

int promql_unquote(const char *s, size_t n, odin_strbuf *out)
{
    if (n < 2 || s[0] != s[n - 1]) {
        return -1;
    }
    char q = s[0];
    const char *body = s + 1;
    size_t bn = n - 2;
    if (q == '`') {
        /* Go drops carriage returns from raw strings. */
        for (size_t i = 0; i < bn; i++) {
            if (body[i] != '\r') {
                odin_strbuf_putc(out, body[i]);
            }
        }
        return 0;
    }
    if (q != '"' && q != '\'') {
        return -1;
    }
    size_t i = 0;
    while (i < bn) {
        if (body[i] != '\\') {
            odin_strbuf_putc(out, body[i++]);
            continue;
        }
        i++;
        if (i >= bn || unquote_escape(body, bn, &i, out) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Go's strconv.Quote and Prometheus' labels.String(), for everything that prints what Go programs
 * print: promtool's query and tsdb dump output, PromQL's printed queries and error messages.
 * Escapes follow strconv: \a \b \f \n \r \t \v, \\ and the quote; other control bytes and bytes
 * that are not UTF-8 as \xNN; runes Go does not print as \uNNNN or \UNNNNNNNN. */
#include "base/base.h"

#include <string.h>

static const char hexdig[] = "0123456789abcdef";

/* Go's unicode.IsPrint (letters, marks, numbers, punctuation, symbols and U+0020) without its
 * tables: the ranges below are the spaces other than U+0020, the format characters, private
 * use, noncharacters and the unassigned planes. Unassigned code points inside assigned blocks
 * are taken as printable, so a rune there is kept where Go would write \u. */
static bool rune_printable(uint32_t r)
{
    if (r < 0x7F) {
        return r >= 0x20;
    }
    if (r < 0xA1 || r == 0xAD) {
        return false;
    }
    static const struct {
        uint32_t lo, hi;
    } hidden[] = {
        {0x0600, 0x0605},   {0x061C, 0x061C},   {0x06DD, 0x06DD},   {0x070F, 0x070F},
        {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x1680, 0x1680},   {0x180E, 0x180E},
        {0x2000, 0x200F},   {0x2028, 0x202F},   {0x205F, 0x206F},   {0x3000, 0x3000},
        {0xD800, 0xF8FF},   {0xFDD0, 0xFDEF},   {0xFEFF, 0xFEFF},   {0xFFF0, 0xFFFB},
        {0xFFFE, 0xFFFF},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},
        {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0x40000, 0xE00FF}, {0xE01F0, 0x10FFFF},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(hidden) && r >= hidden[i].lo; i++) {
        if (r <= hidden[i].hi) {
            return false;
        }
    }
    /* U+xFFFE and U+xFFFF are noncharacters in every plane */
    return (r & 0xFFFE) != 0xFFFE;
}

void odin_strbuf_put_go_rune(odin_strbuf *b, uint32_t r, char quote)
{
    char tmp[12];
    size_t n = 0;
    if (r == (uint32_t)(unsigned char)quote || r == '\\') {
        tmp[n++] = '\\';
        tmp[n++] = (char)r;
    } else if (rune_printable(r)) {
        odin_strbuf_put_utf8(b, r);
        return;
    } else if (r != 0 && r < 0x80 && strchr("\a\b\f\n\r\t\v", (int)r) != NULL) {
        tmp[n++] = '\\';
        tmp[n++] = "abfnrtv"[strchr("\a\b\f\n\r\t\v", (int)r) - "\a\b\f\n\r\t\v"];
    } else if (r < 0x80) {
        tmp[n++] = '\\';
        tmp[n++] = 'x';
        tmp[n++] = hexdig[r >> 4];
        tmp[n++] = hexdig[r & 15];
    } else {
        int digits = r < 0x10000 ? 4 : 8;
        tmp[n++] = '\\';
        tmp[n++] = r < 0x10000 ? 'u' : 'U';
        for (int s = (digits - 1) * 4; s >= 0; s -= 4) {
            tmp[n++] = hexdig[(r >> s) & 15];
        }
    }
    odin_strbuf_put(b, tmp, n);
}

void odin_strbuf_put_go_quote(odin_strbuf *b, odin_str s)
{
    odin_strbuf_putc(b, '"');
    size_t i = 0;
    while (i < s.len) {
        uint32_t r;
        size_t w = odin_utf8_len(s.p + i, s.len - i, &r);
        if (w == 0) {
            unsigned char c = (unsigned char)s.p[i];
            char x[4] = {'\\', 'x', hexdig[c >> 4], hexdig[c & 15]};
            odin_strbuf_put(b, x, 4);
            i++;
            continue;
        }
        odin_strbuf_put_go_rune(b, r, '"');
        i += w;
    }
    odin_strbuf_putc(b, '"');
}

void odin_strbuf_put_go_labels(odin_strbuf *b, odin_labels ls)
{
    odin_strbuf_putc(b, '{');
    for (size_t i = 0; i < ls.len; i++) {
        if (i) {
            odin_strbuf_puts(b, ", ");
        }
        odin_strbuf_putstr(b, ls.v[i].name);
        odin_strbuf_putc(b, '=');
        odin_strbuf_put_go_quote(b, ls.v[i].value);
    }
    odin_strbuf_putc(b, '}');
}

/* The HTTP/1.x request-head parser of the small server backend (RFC 9112 section 2-6 with the
 * leniencies common servers have: LF line ends, leading empty lines). Works on (pointer, length)
 * slices of the connection's buffer and never reads past len or max_head. */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* RFC 9110 token characters, for methods and field names. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(odin_str s)
{
    if (s.len == 0) {
        return false;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (!is_tchar((unsigned char)s.p[i])) {
            return false;
        }
    }
    return true;
}

/* Field values: visible characters, blanks and obs-text; no other control bytes. */
static bool is_field_value(odin_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return false;
        }
    }
    return true;
}

static odin_str trim_blanks(odin_str s)
{
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t')) {
        s.len--;
    }
    return s;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool list_has(odin_str v, const char *token)
{
    size_t tlen = strlen(token);
    while (v.len > 0) {
        odin_str item = trim_blanks(odin_str_cut(&v, ','));
        if (item.len == tlen && strncasecmp(item.p, token, tlen) == 0) {
            return true;
        }
    }
    return false;
}

/* Content-Length: digits only, at most 15 of them (no overflow, and far above any cap). */
static bool parse_length(odin_str v, uint64_t *out)
{
    if (v.len == 0 || v.len > 15) {
        return false;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') {
            return false;
        }
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    *out = n;
    return true;
}

/* "METHOD SP target SP HTTP/1.x": 0, or minus the status to answer. */
static long parse_request_line(odin_str line, http_head *h)
{
    const char *sp1 = memchr(line.p, ' ', line.len);
    if (sp1 == NULL) {
        return -400;
    }
    h->method = (odin_str){line.p, (size_t)(sp1 - line.p)};
    odin_str rest = {sp1 + 1, line.len - h->method.len - 1};
    const char *sp2 = memchr(rest.p, ' ', rest.len);
    if (sp2 == NULL) {
        return -400;
    }
    h->target = (odin_str){rest.p, (size_t)(sp2 - rest.p)};
    odin_str version = {sp2 + 1, rest.len - h->target.len - 1};
    if (!is_token(h->method) || h->target.len == 0 || h->target.p[0] != '/') {
        return -400;
    }
    for (size_t i = 0; i < h->target.len; i++) {
        unsigned char c = (unsigned char)h->target.p[i];
        if (c <= 0x20 || c == 0x7f) {
            return -400;
        }
    }
    if (version.len != 8 || memcmp(version.p, "HTTP/", 5) != 0 || version.p[6] != '.' ||
        version.p[5] < '0' || version.p[5] > '9' || version.p[7] < '0' || version.p[7] > '9') {
        return -400;
    }
    if (version.p[5] != '1') {
        return -505;
    }
    h->minor = version.p[7] == '0' ? 0 : 1;
    return 0;
}

/* "name: value": 0, or minus the status to answer. */
static long parse_field(odin_str line, http_head *h, bool *connection_close, bool *keep_alive)
{
    const char *colon = memchr(line.p, ':', line.len);
    if (colon == NULL) {
        return -400;
    }
    /* No blank before the colon (RFC 9112 5.1) and no obs-fold line starting with a blank. */
    odin_str name = {line.p, (size_t)(colon - line.p)};
    if (!is_token(name)) {
        return -400;
    }
    odin_str value = trim_blanks((odin_str){colon + 1, line.len - name.len - 1});
    if (!is_field_value(value)) {
        return -400;
    }
    if (h->nfields == HTTP_HEAD_MAX_FIELDS) {
        return -431;
    }
    h->fields[h->nfields++] = (http_head_field){name, value};
    if (name.len == 14 && strncasecmp(name.p, "Content-Length", 14) == 0) {
        uint64_t n = 0;
        if (!parse_length(value, &n) || (h->has_length && n != h->content_length)) {
            return -400;
        }
        h->has_length = true;
        h->content_length = n;
    } else if (name.len == 17 && strncasecmp(name.p, "Transfer-Encoding", 17) == 0) {
        return -501;
    } else if (name.len == 10 && strncasecmp(name.p, "Connection", 10) == 0) {
        *connection_close = *connection_close || list_has(value, "close");
        *keep_alive = *keep_alive || list_has(value, "keep-alive");
    }
    return 0;
}

long http_head_parse(const char *p, size_t len, size_t max_head, http_head *h)
{
    memset(h, 0, sizeof *h);
    size_t n = len < max_head ? len : max_head;
    size_t pos = 0;
    /* Empty lines before the request line are skipped (RFC 9112 2.2). */
    while (pos < n && (p[pos] == '\r' || p[pos] == '\n')) {
        if (p[pos] == '\r' && (pos + 1 >= n || p[pos + 1] != '\n')) {
            break;
        }
        pos += p[pos] == '\r' ? 2 : 1;
    }
    bool first = true;
    bool connection_close = false;
    bool keep_alive = false;
    for (;;) {
        const char *nl = pos < n ? memchr(p + pos, '\n', n - pos) : NULL;
        if (nl == NULL) {
            return len >= max_head ? -431 : 0;
        }
        size_t end = (size_t)(nl - p);
        odin_str line = {p + pos, end - pos};
        if (line.len > 0 && line.p[line.len - 1] == '\r') {
            line.len--;
        }
        /* A bare CR elsewhere in a line is not a line end; it is rejected with the control
         * bytes below. */
        pos = end + 1;
        long rc;
        if (first) {
            rc = parse_request_line(line, h);
            first = false;
        } else if (line.len == 0) {
            h->keep_alive = h->minor == 1 ? !connection_close : keep_alive && !connection_close;
            return (long)pos;
        } else {
            rc = parse_field(line, h, &connection_close, &keep_alive);
        }
        if (rc < 0) {
            return rc;
        }
    }
}

size_t http_path_decode(char *p, size_t len)
{
    size_t w = 0;
    for (size_t r = 0; r < len; r++) {
        char c = p[r];
        if (c == '%' && r + 2 < len) {
            char hex[3] = {p[r + 1], p[r + 2], '\0'};
            bool ok = strspn(hex, "0123456789abcdefABCDEF") == 2;
            if (ok) {
                unsigned hi = (unsigned)(hex[0] <= '9' ? hex[0] - '0' : (hex[0] | 0x20) - 'a' + 10);
                unsigned lo = (unsigned)(hex[1] <= '9' ? hex[1] - '0' : (hex[1] | 0x20) - 'a' + 10);
                c = (char)(hi * 16 + lo);
                r += 2;
            }
        }
        p[w++] = c;
    }
    return w;
}

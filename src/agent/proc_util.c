/* Parsing helpers shared by the /proc collectors: Go-compatible integer parsing, line and field
 * splitting over (pointer, length) text. See proc_util.h. */
#include "agent/proc_util.h"

#include <string.h>
#include <unistd.h>

static int digit_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'Z') {
        return c - 'A' + 10;
    }
    return 99;
}

int proc_parse_uint(odin_str s, int base, uint64_t *out)
{
    size_t i = 0;
    if (s.len == 0) {
        return -ODIN_ERR_PARSE;
    }
    if (base == 0) {
        base = 10;
        if (s.p[0] == '0') {
            if (s.len >= 3 && (s.p[1] == 'x' || s.p[1] == 'X')) {
                base = 16;
                i = 2;
            } else if (s.len >= 3 && (s.p[1] == 'o' || s.p[1] == 'O')) {
                base = 8;
                i = 2;
            } else if (s.len >= 3 && (s.p[1] == 'b' || s.p[1] == 'B')) {
                base = 2;
                i = 2;
            } else {
                base = 8;
                i = 1;
            }
        }
    }
    uint64_t v = 0;
    bool range = false;
    for (; i < s.len; i++) {
        int d = digit_value(s.p[i]);
        if (d >= base) {
            return -ODIN_ERR_PARSE;
        }
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) {
            range = true;
        } else {
            v = v * (uint64_t)base + (uint64_t)d;
        }
    }
    if (range) {
        return -ODIN_ERR_LIMIT;
    }
    *out = v;
    return 0;
}

int proc_parse_int(odin_str s, int base, int64_t *out)
{
    bool neg = false;
    if (s.len > 0 && (s.p[0] == '+' || s.p[0] == '-')) {
        neg = s.p[0] == '-';
        s.p++;
        s.len--;
    }
    uint64_t u;
    int rc = proc_parse_uint(s, base, &u);
    if (rc < 0) {
        return rc;
    }
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1) {
            return -ODIN_ERR_LIMIT;
        }
        *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX) {
            return -ODIN_ERR_LIMIT;
        }
        *out = (int64_t)u;
    }
    return 0;
}

/* Go's underscoreOK: every '_' sits between digits (a base prefix counts as a digit). */
static bool underscore_ok(odin_str s)
{
    size_t i = 0;
    char saw = '^';
    bool hex = false;
    if (s.len >= 1 && (s.p[0] == '-' || s.p[0] == '+')) {
        i = 1;
    }
    if (s.len >= i + 2 && s.p[i] == '0') {
        char c = (char)(s.p[i + 1] | 0x20);
        if (c == 'b' || c == 'o' || c == 'x') {
            hex = c == 'x';
            saw = '0';
            i += 2;
        }
    }
    for (; i < s.len; i++) {
        char c = s.p[i], lc = (char)(c | 0x20);
        if ((c >= '0' && c <= '9') || (hex && lc >= 'a' && lc <= 'f')) {
            saw = '0';
            continue;
        }
        if (c == '_') {
            if (saw != '0') {
                return false;
            }
            saw = '_';
            continue;
        }
        if (saw == '_') {
            return false;
        }
        saw = '!';
    }
    return saw != '_';
}

int proc_parse_float(odin_str s, double *out)
{
    /* Most /proc values are plain decimal counters: up to 15 digits is below 2^53, so the
     * integer converts to the very double strtod would round the text to. */
    if (s.len > 0 && s.len <= 15) {
        uint64_t u = 0;
        size_t k = 0;
        while (k < s.len && s.p[k] >= '0' && s.p[k] <= '9') {
            u = u * 10 + (uint64_t)(s.p[k] - '0');
            k++;
        }
        if (k == s.len) {
            *out = (double)u;
            return 0;
        }
    }
    size_t i = s.len > 0 && (s.p[0] == '+' || s.p[0] == '-') ? 1 : 0;
    bool has_p = false, has_us = false;
    for (size_t k = 0; k < s.len; k++) {
        has_p |= s.p[k] == 'p' || s.p[k] == 'P';
        has_us |= s.p[k] == '_';
    }
    if (s.len >= i + 2 && s.p[i] == '0' && (s.p[i + 1] == 'x' || s.p[i + 1] == 'X') && !has_p) {
        return -ODIN_ERR_PARSE;
    }
    if (!has_us) {
        return odin_parse_double(s, out);
    }
    char buf[128];
    size_t n = 0;
    if (!underscore_ok(s) || s.len > sizeof(buf)) {
        return -ODIN_ERR_PARSE;
    }
    for (size_t k = 0; k < s.len; k++) {
        if (s.p[k] != '_') {
            buf[n++] = s.p[k];
        }
    }
    return odin_parse_double((odin_str){buf, n}, out);
}

bool proc_next_line(odin_str *text, odin_str *line)
{
    if (text->len == 0) {
        return false;
    }
    *line = odin_str_cut(text, '\n');
    if (line->len > 0 && line->p[line->len - 1] == '\r') {
        line->len--;
    }
    return true;
}

/* strings.Fields' ASCII whitespace, as a table: the scan runs over every byte of /proc/net/netstat,
 * vmstat and meminfo each scrape. */
static const bool space_table[256] = {
    [' '] = true, ['\t'] = true, ['\n'] = true, ['\v'] = true, ['\f'] = true, ['\r'] = true,
};

static bool is_space(char c)
{
    return space_table[(unsigned char)c];
}

/* The next field of s at or after *i, advancing *i past it; false at the end. */
static bool next_field(odin_str s, size_t *i, odin_str *field)
{
    size_t k = *i;
    while (k < s.len && is_space(s.p[k])) {
        k++;
    }
    if (k == s.len) {
        *i = k;
        return false;
    }
    size_t start = k;
    while (k < s.len && !is_space(s.p[k])) {
        k++;
    }
    *field = (odin_str){s.p + start, k - start};
    *i = k;
    return true;
}

/* Lines of up to LOCAL_FIELDS fields (all of meminfo, vmstat and most of netstat's) are split in
 * one pass into a local array and copied; longer ones are counted first. */
enum { LOCAL_FIELDS = 64 };

size_t proc_fields(agent_scrape *sc, odin_str s, odin_str **out)
{
    odin_str local[LOCAL_FIELDS];
    size_t n = 0, i = 0;
    odin_str field;
    while (n < LOCAL_FIELDS && next_field(s, &i, &field)) {
        local[n++] = field;
    }
    size_t total = n;
    for (size_t j = i; next_field(s, &j, &field);) {
        total++;
    }
    odin_str *f = odin_arena_alloc(agent_scrape_arena(sc), (total ? total : 1) * sizeof(*f));
    if (!f) {
        odin_oom();
    }
    memcpy(f, local, n * sizeof(*f));
    while (n < total && next_field(s, &i, &field)) {
        f[n++] = field;
    }
    *out = f;
    return total;
}

size_t proc_split(agent_scrape *sc, odin_str s, char sep, odin_str **out)
{
    size_t n = 1;
    for (size_t i = 0; i < s.len; i++) {
        n += s.p[i] == sep;
    }
    odin_str *f = odin_arena_alloc(agent_scrape_arena(sc), n * sizeof(*f));
    if (!f) {
        odin_oom();
    }
    for (size_t k = 0; k < n; k++) {
        f[k] = odin_str_cut(&s, sep);
    }
    *out = f;
    return n;
}

int proc_read_uint(agent_scrape *sc, const char *path, uint64_t *out, odin_err *err)
{
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    odin_str t = odin_str_trim(text);
    if (proc_parse_uint(t, 10, out) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: not an unsigned integer: \"%.*s\"", path,
                            (int)(t.len > 64 ? 64 : t.len), t.p);
    }
    return 0;
}

int64_t proc_page_size(void)
{
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (int64_t)n : 4096;
}

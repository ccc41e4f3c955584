/* Helpers shared by the storage collectors: procfs-library-style sysfs reads, a one-level glob
 * and Go's string cleanups for label values. See storage_util.h for the contracts. */
#include "agent/storage_util.h"

#include <ctype.h>
#include <fnmatch.h>
#include <string.h>

/* matches procfs' util.SysReadFile, which reads at most this much in one read(2) */
enum { SYS_READ_MAX = 128 };

int storage_sys_read(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    int rc = agent_read(sc, path, out, err);
    if (rc < 0) {
        return rc;
    }
    if (out->len > SYS_READ_MAX) {
        out->len = SYS_READ_MAX;
    }
    *out = odin_str_trim(*out);
    return 0;
}

int storage_read_uint(agent_scrape *sc, const char *path, uint64_t *out, odin_err *err)
{
    odin_str s;
    int rc = agent_read(sc, path, &s, err);
    if (rc < 0) {
        return rc;
    }
    if (odin_parse_u64(odin_str_trim(s), out) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: not an unsigned integer: \"%.64s\"", path,
                            odin_str_trim(s).p);
    }
    return 0;
}

size_t storage_glob(agent_scrape *sc, const char *dir, const char *pattern, const char ***names)
{
    const char **all;
    size_t n;
    odin_err ignored = {0};
    *names = NULL;
    if (agent_list_dir(sc, dir, &all, &n, &ignored) < 0) {
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* Go's Match does not let '*' cross '/', and names have none; a leading dot is not
         * special in Go, so no FNM_PERIOD. */
        if (fnmatch(pattern, all[i], 0) == 0) {
            all[k++] = all[i];
        }
    }
    *names = all;
    return k;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 when invalid; the rules are
 * Go's utf8.DecodeRune: no overlongs, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

const char *storage_valid_utf8(agent_scrape *sc, odin_str s)
{
    const unsigned char *p = (const unsigned char *)s.p;
    size_t i = 0;
    while (i < s.len) {
        size_t l = utf8_len(p + i, s.len - i);
        if (l == 0) {
            break;
        }
        i += l;
    }
    if (i == s.len) {
        return agent_strdup(sc, s);
    }
    /* worst case: every byte becomes the 3-byte replacement */
    char *out = odin_arena_alloc(agent_scrape_arena(sc), s.len * 3 + 1);
    if (!out) {
        odin_oom();
    }
    size_t o = 0;
    bool in_bad = false;
    for (i = 0; i < s.len;) {
        size_t l = utf8_len(p + i, s.len - i);
        if (l == 0) {
            if (!in_bad) {
                memcpy(out + o, "\xEF\xBF\xBD", 3);
                o += 3;
            }
            in_bad = true;
            i++;
            continue;
        }
        in_bad = false;
        memcpy(out + o, p + i, l);
        o += l;
        i += l;
    }
    out[o] = '\0';
    return out;
}

const char *storage_errno_text(agent_scrape *sc, int errnum)
{
    char buf[128];
    const char *t = strerror_r(errnum, buf, sizeof(buf));
    char *s = odin_arena_strdup(agent_scrape_arena(sc), t);
    if (!s) {
        odin_oom();
    }
    if (s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z')) {
        s[0] = (char)tolower((unsigned char)s[0]);
    }
    return s;
}

/* os: node_os_info, node_os_version and node_os_support_end_timestamp_seconds from
 * <rootfs>/etc/os-release, or <rootfs>/usr/lib/os-release when the first is missing. The file is
 * parsed as hashicorp/go-envparse v0.1.0 does (the parser node_exporter uses). */
#include "agent/proc_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    OS_BUILD_ID,
    OS_ID,
    OS_ID_LIKE,
    OS_IMAGE_ID,
    OS_IMAGE_VERSION,
    OS_NAME,
    OS_PRETTY_NAME,
    OS_VARIANT,
    OS_VARIANT_ID,
    OS_VERSION,
    OS_VERSION_CODENAME,
    OS_VERSION_ID,
    OS_SUPPORT_END,
    OS_NKEYS
};

/* Keys in the label order of node_os_info (then SUPPORT_END). */
static const char *const os_keys[OS_NKEYS] = {
    "BUILD_ID",    "ID",      "ID_LIKE",    "IMAGE_ID", "IMAGE_VERSION",    "NAME",
    "PRETTY_NAME", "VARIANT", "VARIANT_ID", "VERSION",  "VERSION_CODENAME", "VERSION_ID",
    "SUPPORT_END"};

static const agent_desc d_info = {
    "node_os_info",
    "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, "
    "name, pretty_name, variant, variant_id, version, version_codename, version_id.",
    EXPFMT_GAUGE,
    {"build_id", "id", "id_like", "image_id", "image_version", "name", "pretty_name", "variant",
     "variant_id", "version", "version_codename", "version_id", NULL}};
static const agent_desc d_version = {"node_os_version",
                                     "Metric containing the major.minor part of the OS version.",
                                     EXPFMT_GAUGE,
                                     {"id", "id_like", "name", NULL}};
static const agent_desc d_support_end = {
    "node_os_support_end_timestamp_seconds",
    "Metric containing the end-of-life date timestamp of the OS.",
    EXPFMT_GAUGE,
    {NULL}};

/* Four hex digits at p (len available): the code unit, or -1. */
static long hex4(const char *p, size_t len)
{
    if (len < 4) {
        return -1;
    }
    long r = 0;
    for (int i = 0; i < 4; i++) {
        int d = odin_hex_digit(p[i]);
        if (d < 0) {
            return -1;
        }
        r = r * 16 + d;
    }
    return r;
}

/* r as UTF-8, U+FFFD for what is not a Unicode scalar value (Go's utf8.EncodeRune). */
static size_t utf8_put(char *out, long r)
{
    if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r < 0xE000)) {
        r = 0xFFFD;
    }
    return odin_utf8_encode((uint32_t)r, out);
}

/* One line: 0 with *key empty for blank and comment lines, 0 with key and unquoted value, or -1
 * with *why set. The value is written to scrape memory. */
static int env_line(agent_scrape *sc, odin_str ln, odin_str *key, odin_str *val, const char **why)
{
    ln = odin_str_trim(ln);
    *key = *val = (odin_str){"", 0};
    if (ln.len == 0 || ln.p[0] == '#') {
        return 0;
    }
    odin_str rest = ln;
    odin_str k = odin_str_cut(&rest, '=');
    if (k.len == ln.len) {
        *why = "missing =";
        return -1;
    }
    k = odin_str_trim(k);
    odin_str value = odin_str_trim(rest);
    if (k.len > 7 && odin_str_has_prefix(k, "export ")) {
        k.p += 7;
        k.len -= 7;
    }
    if (k.len == 0) {
        *why = "empty key";
        return -1;
    }
    char c0 = k.p[0];
    if (c0 < 'A' || (c0 > 'Z' && c0 < 'a' && c0 != '_') || c0 > 'z') {
        *why = "key must start with [A-Za-z_]";
        return -1;
    }
    for (size_t i = 1; i < k.len; i++) {
        char c = k.p[i];
        if (!(c == '_' || c == '.' || c == '/' || (c >= 'A' && c <= 'Z') ||
              (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            *why = "key characters must be [A-Za-z0-9/_.]";
            return -1;
        }
    }
    *key = k;
    if (value.len == 0) {
        return 0;
    }
    char *nv = odin_arena_alloc(agent_scrape_arena(sc), value.len + 4);
    if (!nv) {
        odin_oom();
    }
    size_t ni = 0, last_sig = 0;
    enum { NORMAL, DQUOTE, SQUOTE, ESCAPE } mode = NORMAL;
    for (size_t i = 0; i < value.len; i++) {
        unsigned char v = (unsigned char)value.p[i];
        if (v < 32) {
            *why = "invalid value character";
            return -1;
        }
        if (v > 127) {
            if (mode == ESCAPE) {
                *why = "multibyte characters disallowed in escape sequences";
                return -1;
            }
            last_sig = ni; /* upstream marks the position before the byte */
            nv[ni++] = (char)v;
            continue;
        }
        switch (mode) {
        case NORMAL:
            if (v == '"') {
                mode = DQUOTE;
            } else if (v == '\'') {
                mode = SQUOTE;
            } else if (v == '#') {
                *val = (odin_str){nv, last_sig};
                return 0;
            } else if (v == ' ' || v == '\t') {
                nv[ni++] = (char)v;
            } else {
                nv[ni++] = (char)v;
                last_sig = ni;
            }
            break;
        case DQUOTE:
            if (v == '"') {
                mode = NORMAL;
            } else if (v == '\\') {
                mode = ESCAPE;
            } else {
                nv[ni++] = (char)v;
                last_sig = ni;
            }
            break;
        case ESCAPE:
            switch (v) {
            case '"':
            case '\\':
            case '/':
                nv[ni++] = (char)v;
                break;
            case 'b':
                nv[ni++] = '\b';
                break;
            case 'f':
                nv[ni++] = '\f';
                break;
            case 'r':
                nv[ni++] = '\r';
                break;
            case 'n':
                nv[ni++] = '\n';
                break;
            case 't':
                nv[ni++] = '\t';
                break;
            case 'u': {
                long r = hex4(value.p + i + 1, value.len - i - 1);
                if (r < 0) {
                    *why = "incomplete or invalid hex sequence";
                    return -1;
                }
                i += 4;
                if (r >= 0xD800 && r < 0xE000) {
                    if (value.len < i + 6 || value.p[i + 1] != '\\' || value.p[i + 2] != 'u') {
                        *why = "incomplete Unicode surrogate pair";
                        return -1;
                    }
                    long r2 = hex4(value.p + i + 3, value.len - i - 3);
                    if (r2 < 0) {
                        *why = "incomplete or invalid hex sequence";
                        return -1;
                    }
                    i += 6;
                    if (r < 0xDC00 && r2 >= 0xDC00 && r2 < 0xE000) {
                        r = 0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00);
                    } else {
                        r = 0xFFFD;
                    }
                }
                ni += utf8_put(nv + ni, r);
                break;
            }
            default:
                *why = "invalid escape sequence";
                return -1;
            }
            last_sig = ni;
            mode = DQUOTE;
            break;
        case SQUOTE:
            if (v == '\'') {
                mode = NORMAL;
            } else {
                nv[ni++] = (char)v;
                last_sig = ni;
            }
            break;
        }
    }
    switch (mode) {
    case NORMAL:
        *val = (odin_str){nv, ni};
        return 0;
    case DQUOTE:
        *why = "unmatched \"";
        return -1;
    case SQUOTE:
        *why = "unmatched '";
        return -1;
    default:
        *why = "incomplete escape sequence";
        return -1;
    }
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Go's time.Parse("2006-01-02", s) in UTC, as Unix seconds. */
static int parse_date(odin_str s, int64_t *out)
{
    if (s.len != 10 || s.p[4] != '-' || s.p[7] != '-') {
        return -1;
    }
    int v[8], k = 0;
    for (size_t i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            continue;
        }
        if (s.p[i] < '0' || s.p[i] > '9') {
            return -1;
        }
        v[k++] = s.p[i] - '0';
    }
    int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3], m = v[4] * 10 + v[5], d = v[6] * 10 + v[7];
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) {
        return -1;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap) {
        return -1;
    }
    *out = days_from_civil(y, m, d) * 86400;
    return 0;
}

/* The os-release text last read and the identity of the file it came from: the file changes
 * with an OS upgrade, so, as node_exporter compares the file's mtime before parsing it again, a
 * scrape stats it and reads it only when it changed. Owned by the collector. */
typedef struct {
    char *path, *text;
    size_t len;
    struct stat st;
} os_state;

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Reads path, or takes the kept text when path is the same unchanged file. */
static int read_release(agent_scrape *sc, os_state *st, const char *path, odin_str *text,
                        odin_err *err)
{
    struct stat now;
    int e = -agent_stat(sc, path, &now);
    if (e == ENOENT || e == ENOTDIR) {
        return odin_err_set(err, ODIN_ERR_NOTFOUND, "open %s: no such file", path);
    }
    if (e == 0 && st->path && strcmp(st->path, path) == 0 && same_file(&st->st, &now)) {
        *text = (odin_str){agent_strdup(sc, (odin_str){st->text, st->len}), st->len};
        return 0;
    }
    int rc = agent_read(sc, path, text, err);
    if (rc < 0 || e != 0) {
        return rc;
    }
    free(st->path);
    free(st->text);
    st->path = odin_strdup(path);
    st->text = odin_malloc(text->len + 1);
    memcpy(st->text, text->p, text->len);
    st->len = text->len;
    st->st = now;
    return 0;
}

static int os_init(agent *ag, void **state, odin_err *err)
{
    (void)ag;
    (void)err;
    *state = odin_calloc(1, sizeof(os_state));
    return 0;
}

static void os_fini(void *state)
{
    os_state *st = state;
    if (st) {
        free(st->path);
        free(st->text);
        free(st);
    }
}

static int os_collect(agent_scrape *sc, void *state, odin_err *err)
{
    os_state *st = state;
    static const char *const files[2] = {"etc/os-release", "usr/lib/os-release"};
    const char *path = NULL;
    odin_str text = {0};
    for (int i = 0; i < 2; i++) {
        path = agent_path(sc, AGENT_ROOT, "%s", files[i]);
        int rc = read_release(sc, st, path, &text, err);
        if (rc == 0) {
            break;
        }
        if (rc != -ODIN_ERR_NOTFOUND) {
            return rc;
        }
        odin_err_clear(err);
        if (i == 1) {
            return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "no os-release file found under %s",
                                agent_path(sc, AGENT_ROOT, "%s", ""));
        }
    }
    odin_str vals[OS_NKEYS];
    for (int k = 0; k < OS_NKEYS; k++) {
        vals[k] = (odin_str){"", 0};
    }
    odin_str line;
    for (int ln = 1; proc_next_line(&text, &line); ln++) {
        odin_str key, val;
        const char *why = "";
        if (env_line(sc, line, &key, &val, &why) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: %s", path, ln, why);
        }
        for (int k = 0; k < OS_NKEYS && key.len > 0; k++) {
            if (odin_str_eq_c(key, os_keys[k])) {
                vals[k] = val;
            }
        }
    }
    /* major.minor: ^[0-9]+\.?[0-9]* of VERSION_ID */
    odin_str vid = vals[OS_VERSION_ID];
    size_t e = 0;
    while (e < vid.len && vid.p[e] >= '0' && vid.p[e] <= '9') {
        e++;
    }
    double version = 0;
    if (e > 0) {
        if (e < vid.len && vid.p[e] == '.') {
            e++;
            while (e < vid.len && vid.p[e] >= '0' && vid.p[e] <= '9') {
                e++;
            }
        }
        if (odin_parse_double((odin_str){vid.p, e}, &version) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: VERSION_ID: not a number", path);
        }
    }
    int64_t support_end = 0;
    if (vals[OS_SUPPORT_END].len > 0 && parse_date(vals[OS_SUPPORT_END], &support_end) < 0) {
        odin_str s = vals[OS_SUPPORT_END];
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: SUPPORT_END: not a date: \"%.*s\"", path,
                            (int)(s.len > 64 ? 64 : s.len), s.p);
    }
    const char *lv[12];
    for (int k = 0; k < 12; k++) {
        lv[k] = agent_strdup(sc, vals[k]);
    }
    agent_emit(sc, &d_info, 1.0, lv);
    if (version > 0) {
        const char *lver[3] = {lv[OS_ID], lv[OS_ID_LIKE], lv[OS_NAME]};
        agent_emit(sc, &d_version, version, lver);
    }
    if (vals[OS_SUPPORT_END].len > 0) {
        agent_emit(sc, &d_support_end, (double)support_end, NULL);
    }
    return 0;
}

const agent_collector_def agent_collector_os = {
    .name = "os",
    .default_on = true,
    .init = os_init,
    .collect = os_collect,
    .fini = os_fini,
};

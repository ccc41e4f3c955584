/* Readers and parsers shared by the sysfs-class collectors; each mirrors one prometheus/procfs or
 * Go standard library behaviour that the output depends on. */
#include "agent/sysfs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* procfs' sysfs reader takes the first 128 bytes of an attribute, trimmed. */
int agent_sysfs_read(agent_scrape *sc, const char *path, odin_str *out, int *errnum)
{
    odin_str raw;
    int rc = agent_read_raw(sc, path, 128, &raw);
    if (rc < 0) {
        *errnum = -rc;
        return -1;
    }
    size_t a = 0, b = raw.len;
    while (a < b && is_space(raw.p[a])) {
        a++;
    }
    while (b > a && is_space(raw.p[b - 1])) {
        b--;
    }
    out->p = raw.p + a;
    out->len = b - a;
    ((char *)raw.p)[b] = '\0';
    return 0;
}

int agent_sysfs_read_all(agent_scrape *sc, const char *path, odin_str *out, int *errnum)
{
    int rc = agent_read_raw(sc, path, 16u << 20, out);
    if (rc < 0) {
        *errnum = -rc;
        return -1;
    }
    return 0;
}

bool agent_sysfs_ignorable(int errnum)
{
    return errnum == ENOENT || errnum == EACCES || errnum == EPERM || errnum == EOPNOTSUPP ||
           errnum == EINVAL;
}

static int digit_val(char c)
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

/* Unsigned magnitude of a base-0 Go integer literal without sign. */
static int parse_base0(odin_str s, uint64_t *out)
{
    if (s.len == 0) {
        return -ODIN_ERR_PARSE;
    }
    unsigned base = 10;
    size_t i = 0;
    bool prefix = false; /* an 0x/0o/0b prefix: an underscore may follow it */
    if (s.p[0] == '0') {
        if (s.len >= 2 && (s.p[1] == 'x' || s.p[1] == 'X')) {
            base = 16, i = 2, prefix = true;
        } else if (s.len >= 2 && (s.p[1] == 'o' || s.p[1] == 'O')) {
            base = 8, i = 2, prefix = true;
        } else if (s.len >= 2 && (s.p[1] == 'b' || s.p[1] == 'B')) {
            base = 2, i = 2, prefix = true;
        } else {
            base = 8, i = 1;
            if (s.len == 1) {
                *out = 0;
                return 0;
            }
            prefix = true; /* the leading 0 is a digit as well */
        }
    }
    uint64_t v = 0;
    bool any = false, last_digit = prefix, limit = false;
    for (; i < s.len; i++) {
        char c = s.p[i];
        if (c == '_') {
            if (!last_digit || i + 1 >= s.len || s.p[i + 1] == '_') {
                return -ODIN_ERR_PARSE;
            }
            last_digit = false;
            continue;
        }
        unsigned d = (unsigned)digit_val(c);
        if (d >= base) {
            return -ODIN_ERR_PARSE;
        }
        if (v > (UINT64_MAX - d) / base) {
            limit = true;
        } else {
            v = v * base + d;
        }
        any = true;
        last_digit = true;
    }
    if (!any) {
        return -ODIN_ERR_PARSE;
    }
    if (limit) {
        return -ODIN_ERR_LIMIT;
    }
    *out = v;
    return 0;
}

int agent_sysfs_parse_u64(odin_str s, uint64_t *out)
{
    return parse_base0(s, out);
}

int agent_sysfs_parse_i64(odin_str s, int64_t *out)
{
    bool neg = false;
    if (s.len && (s.p[0] == '+' || s.p[0] == '-')) {
        neg = s.p[0] == '-';
        s.p++;
        s.len--;
    }
    uint64_t u;
    int rc = parse_base0(s, &u);
    if (rc < 0) {
        return rc;
    }
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX) {
        return -ODIN_ERR_LIMIT;
    }
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

agent_ftype agent_sysfs_lstat_type(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        return AGENT_FT_NONE;
    }
    if (S_ISREG(st.st_mode)) {
        return AGENT_FT_REG;
    }
    if (S_ISDIR(st.st_mode)) {
        return AGENT_FT_DIR;
    }
    if (S_ISLNK(st.st_mode)) {
        return AGENT_FT_LINK;
    }
    return AGENT_FT_OTHER;
}

bool agent_sysfs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool agent_sysfs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Two copies instead of a format: a scrape joins about a hundred attribute paths. */
const char *agent_sysfs_join(agent_scrape *sc, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = odin_arena_alloc(agent_scrape_arena(sc), dl + nl + 2);
    if (!p) {
        odin_oom();
    }
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

const char *agent_sysfs_clean_path(agent_scrape *sc, const char *path)
{
    size_t n = strlen(path);
    if (n == 0) {
        return ".";
    }
    char *out = odin_arena_alloc(agent_scrape_arena(sc), n + 2);
    if (!out) {
        odin_oom();
    }
    bool rooted = path[0] == '/';
    size_t r = 0, w = 0, dotdot = 0;
    if (rooted) {
        out[w++] = '/';
        r = 1;
        dotdot = 1;
    }
    while (r < n) {
        if (path[r] == '/') {
            r++;
        } else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
            r++;
        } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/') {
                    w--;
                }
            } else if (!rooted) {
                if (w > 0) {
                    out[w++] = '/';
                }
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0)) {
                out[w++] = '/';
            }
            for (; r < n && path[r] != '/'; r++) {
                out[w++] = path[r];
            }
        }
    }
    if (w == 0) {
        out[w++] = '.';
    }
    out[w] = '\0';
    return out;
}

int agent_sysfs_class_list(agent_scrape *sc, const char *cls, agent_sysfs_class *out,
                           odin_err *err)
{
    out->base = agent_path(sc, AGENT_SYS, "%s", cls);
    int rc = agent_list_dir_inos(sc, out->base, &out->names, &out->inos, &out->n, err);
    return rc == -ODIN_ERR_NOTFOUND ? -ODIN_ERR_UNAVAILABLE : rc;
}

void *agent_sysfs_class_items(agent_scrape *sc, const agent_sysfs_class *c, size_t size)
{
    void *p = odin_arena_zalloc(agent_scrape_arena(sc), (c->n + 1) * size);
    if (!p) {
        odin_oom();
    }
    return p;
}

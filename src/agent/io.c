/* File helpers for collectors: paths under the configured roots and whole-file reads into the
 * scrape's memory. Kernel files are small, so one read into a reused buffer is the fast path. */
#include "agent/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { READ_CAP = 16 << 20 };

const char *agent_path(agent_scrape *sc, agent_root root, const char *fmt, ...)
{
    const char *base = root == AGENT_PROC  ? sc->ag->procfs
                       : root == AGENT_SYS ? sc->ag->sysfs
                       : root == AGENT_UDEV ? sc->ag->udev
                                            : sc->ag->rootfs;
    va_list ap;
    va_start(ap, fmt);
    const char *rel = odin_arena_vprintf(&sc->arena, fmt, ap);
    va_end(ap);
    if (!rel) {
        odin_oom();
    }
    size_t bl = strlen(base);
    while (bl > 1 && base[bl - 1] == '/') {
        bl--;
    }
    const char *r = rel;
    while (*r == '/') {
        r++;
    }
    if (bl == 1 && base[0] == '/') {
        return odin_arena_printf(&sc->arena, "/%s", r);
    }
    return odin_arena_printf(&sc->arena, "%.*s/%s", (int)bl, base, r);
}

int agent_read(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    *out = (odin_str){"", 0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) {
            return odin_err_set(err, ODIN_ERR_NOTFOUND, "open %s: no such file", path);
        }
        return odin_err_errno(err, e, "open %s", path);
    }
    odin_strbuf *b = &sc->read_buf;
    odin_strbuf_reset(b);
    int rc = 0;
    for (;;) {
        char *w = odin_strbuf_reserve(b, 16384);
        if (!w) {
            rc = odin_err_set(err, ODIN_ERR_LIMIT, "%s: larger than %d bytes", path, READ_CAP);
            break;
        }
        ssize_t n = read(fd, w, 16384);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = odin_err_errno(err, errno, "read %s", path);
            break;
        }
        if (n == 0) {
            break;
        }
        odin_strbuf_advance(b, (size_t)n);
    }
    close(fd);
    if (rc < 0) {
        return rc;
    }
    char *p = odin_arena_alloc(&sc->arena, b->len + 1);
    if (!p) {
        odin_oom();
    }
    if (b->len) {
        memcpy(p, b->p, b->len);
    }
    p[b->len] = '\0';
    *out = (odin_str){p, b->len};
    return 0;
}

int agent_read_line(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    int rc = agent_read(sc, path, out, err);
    if (rc < 0) {
        return rc;
    }
    while (out->len && (out->p[out->len - 1] == '\n' || out->p[out->len - 1] == ' ' ||
                        out->p[out->len - 1] == '\t' || out->p[out->len - 1] == '\r')) {
        ((char *)out->p)[--out->len] = '\0';
    }
    return 0;
}

int agent_read_i64(agent_scrape *sc, const char *path, int64_t *out, odin_err *err)
{
    odin_str s;
    int rc = agent_read_line(sc, path, &s, err);
    if (rc < 0) {
        return rc;
    }
    if (odin_parse_i64(odin_str_trim(s), out) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: not an integer: \"%.64s\"", path, s.p);
    }
    return 0;
}

int agent_read_u64(agent_scrape *sc, const char *path, uint64_t *out, odin_err *err)
{
    odin_str s;
    int rc = agent_read_line(sc, path, &s, err);
    if (rc < 0) {
        return rc;
    }
    if (odin_parse_u64(odin_str_trim(s), out) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: not an unsigned integer: \"%.64s\"", path,
                            s.p);
    }
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int agent_list_dir(agent_scrape *sc, const char *path, const char ***names, size_t *n,
                   odin_err *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) {
            return odin_err_set(err, ODIN_ERR_NOTFOUND, "opendir %s: no such directory", path);
        }
        return odin_err_errno(err, e, "opendir %s", path);
    }
    size_t cap = 16, len = 0;
    const char **v = odin_arena_alloc(&sc->arena, cap * sizeof(*v));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (len == cap) {
            const char **nv = odin_arena_alloc(&sc->arena, cap * 2 * sizeof(*nv));
            if (!nv) {
                odin_oom();
            }
            memcpy(nv, v, len * sizeof(*v));
            v = nv;
            cap *= 2;
        }
        v[len++] = odin_arena_strdup(&sc->arena, de->d_name);
    }
    closedir(d);
    qsort(v, len, sizeof(*v), name_cmp);
    *names = v;
    *n = len;
    return 0;
}

const char *agent_readlink(agent_scrape *sc, const char *path)
{
    char buf[4096];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    if (n < 0) {
        return NULL;
    }
    return odin_arena_strndup(&sc->arena, buf, (size_t)n);
}

const char *agent_fmt_double(agent_scrape *sc, double v)
{
    char *p = odin_arena_alloc(&sc->arena, 40);
    if (!p) {
        odin_oom();
    }
    odin_format_double(v, p);
    return p;
}

const char *agent_fmt_i64(agent_scrape *sc, int64_t v)
{
    return odin_arena_printf(&sc->arena, "%lld", (long long)v);
}

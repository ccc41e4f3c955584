/* File helpers for collectors: paths under the configured roots and whole-file reads into the
 * scrape's memory. Kernel files are small, so one read into a reused buffer is the fast path. */
#include "agent/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
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

/* Kernel files are re-read with pread at offset 0 on a descriptor kept open: procfs and sysfs
 * regenerate their text for every read from the start, and one pread costs a third of
 * open+read+close, the bulk of a scrape. Only files on proc and sysfs are kept (a regular file may
 * be replaced by rename, and a kept descriptor would read the old one). */
typedef struct {
    char *path; /* owned; the map's key */
    int fd;
    uint64_t used; /* generation of the last read */
} agent_cached_file;

enum { FILE_CACHE_MAX = 4096, FILE_UNUSED_SCRAPES = 3 };

static bool kernel_fs(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) != 0) {
        return false;
    }
    return st.f_type == PROC_SUPER_MAGIC || st.f_type == SYSFS_MAGIC;
}

static void cache_drop(agent_scrape *sc, agent_cached_file *f)
{
    odin_map_del(&sc->files, f->path, strlen(f->path));
    close(f->fd);
    free(f->path);
    free(f);
}

void agent_files_sweep(agent_scrape *sc)
{
    size_t pos = 0, kl;
    const void *k;
    void *v;
    agent_cached_file *stale[64];
    size_t n;
    do {
        n = 0;
        pos = 0;
        while (n < ODIN_ARRAY_LEN(stale) && odin_map_next(&sc->files, &pos, &k, &kl, &v)) {
            agent_cached_file *f = v;
            if (sc->generation - f->used >= FILE_UNUSED_SCRAPES) {
                stale[n++] = f;
            }
        }
        for (size_t i = 0; i < n; i++) {
            cache_drop(sc, stale[i]);
        }
    } while (n == ODIN_ARRAY_LEN(stale));
}

void agent_files_close_all(agent_scrape *sc)
{
    size_t pos = 0, kl;
    const void *k;
    void *v;
    while (odin_map_next(&sc->files, &pos, &k, &kl, &v)) {
        agent_cached_file *f = v;
        close(f->fd);
        free(f->path);
        free(f);
    }
    odin_map_fini(&sc->files);
}

/* pread loop into the scrape's read buffer; returns 0 or -errno. */
static int read_all_at0(agent_scrape *sc, int fd, size_t max)
{
    odin_strbuf *b = &sc->read_buf;
    odin_strbuf_reset(b);
    for (;;) {
        size_t want = max - b->len < 16384 ? max - b->len : 16384;
        if (want == 0) {
            return -EFBIG;
        }
        char *w = odin_strbuf_reserve(b, want);
        if (!w) {
            return -EFBIG;
        }
        ssize_t n = pread(fd, w, want, (off_t)b->len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            return 0;
        }
        odin_strbuf_advance(b, (size_t)n);
        if (max != READ_CAP && b->len >= max) {
            return 0; /* a bounded read (sysfs attributes) takes the first max bytes */
        }
    }
}

int agent_read_raw(agent_scrape *sc, const char *path, size_t max, odin_str *out)
{
    *out = (odin_str){"", 0};
    size_t plen = strlen(path);
    agent_cached_file *f = odin_map_get(&sc->files, path, plen);
    int rc;
    if (f) {
        f->used = sc->generation;
        rc = read_all_at0(sc, f->fd, max);
        if (rc == -ENODEV || rc == -ESRCH || rc == -ENOENT || rc == -ESTALE || rc == -EBADF) {
            /* the object went away (device removed, process exited): open afresh */
            cache_drop(sc, f);
            f = NULL;
        } else if (rc < 0) {
            return rc; /* e.g. EINVAL from `speed` of a down link: the file stays usable */
        }
    }
    if (!f) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return -errno;
        }
        rc = read_all_at0(sc, fd, max);
        bool keep = rc == 0 || rc == -EINVAL || rc == -EOPNOTSUPP || rc == -EIO;
        if (keep && sc->files.len < FILE_CACHE_MAX && kernel_fs(fd)) {
            f = odin_malloc(sizeof(*f));
            f->path = odin_strndup(path, plen);
            f->fd = fd;
            f->used = sc->generation;
            odin_map_put(&sc->files, f->path, plen, f);
        } else {
            close(fd);
        }
        if (rc < 0) {
            return rc;
        }
    }
    odin_strbuf *b = &sc->read_buf;
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

int agent_read(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    int rc = agent_read_raw(sc, path, READ_CAP, out);
    if (rc == 0) {
        return 0;
    }
    int e = -rc;
    if (e == ENOENT || e == ENOTDIR) {
        return odin_err_set(err, ODIN_ERR_NOTFOUND, "open %s: no such file", path);
    }
    if (e == EFBIG) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "%s: larger than %d bytes", path, READ_CAP);
    }
    return odin_err_errno(err, e, "read %s", path);
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

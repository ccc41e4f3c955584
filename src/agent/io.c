/* File helpers for collectors: paths under the configured roots and whole-file reads into the
 * scrape's memory. Kernel files are small, so one read into a reused buffer is the fast path. */
#include "agent/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

enum { READ_CAP = 16 << 20 };

/* Formats the relative part of a path: every scrape names ~100 files, nearly all with "%s" and
 * "%.*s" only, which are copied here instead of going through vprintf. Any other conversion
 * takes the vprintf path. Returns NULL when the arena is exhausted. */
static const char *path_vformat(odin_arena *ar, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    size_t cap = 256, len = 0;
    char *out = odin_arena_alloc(ar, cap);
    for (const char *f = fmt; out && *f; f++) {
        const char *piece = f;
        size_t n = 1;
        if (*f == '%' && f[1] == 's') {
            piece = va_arg(ap, const char *);
            n = strlen(piece);
            f++;
        } else if (*f == '%' && f[1] == '.' && f[2] == '*' && f[3] == 's') {
            int w = va_arg(ap, int);
            piece = va_arg(ap, const char *);
            n = w < 0 ? strlen(piece) : strnlen(piece, (size_t)w);
            f += 3;
        } else if (*f == '%') {
            out = NULL; /* another conversion: vprintf below */
            break;
        }
        if (len + n + 1 > cap) {
            size_t ncap = (len + n + 1) * 2;
            char *bigger = odin_arena_alloc(ar, ncap);
            if (bigger) {
                memcpy(bigger, out, len);
            }
            out = bigger;
            cap = ncap;
            if (!out) {
                break;
            }
        }
        memcpy(out + len, piece, n);
        len += n;
    }
    if (out) {
        out[len] = '\0';
        va_end(again);
        return out;
    }
    const char *r = odin_arena_vprintf(ar, fmt, again);
    va_end(again);
    return r;
}

const char *agent_path(agent_scrape *sc, agent_root root, const char *fmt, ...)
{
    const char *base = root == AGENT_PROC   ? sc->ag->procfs
                       : root == AGENT_SYS  ? sc->ag->sysfs
                       : root == AGENT_UDEV ? sc->ag->udev
                                            : sc->ag->rootfs;
    va_list ap;
    va_start(ap, fmt);
    const char *rel = path_vformat(&sc->arena, fmt, ap);
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
        bl = 0; /* "/" + "/" + r would double the slash */
    }
    /* copies, not a second format: every file a scrape reads is named here */
    size_t rl = strlen(r);
    char *p = odin_arena_alloc(&sc->arena, bl + rl + 2);
    if (!p) {
        odin_oom();
    }
    memcpy(p, base, bl);
    p[bl] = '/';
    memcpy(p + bl + 1, r, rl + 1);
    return p;
}

bool agent_path_is(const char *path, const char *want)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    return n == strlen(want) && memcmp(path, want, n) == 0;
}

bool agent_sysfs_is_live(const agent *ag)
{
    return ag->sysfs_live;
}

/* Kernel files are re-read with pread at offset 0 on a descriptor kept open: procfs and sysfs
 * regenerate their text for every read from the start, and one pread costs a third of
 * open+read+close, the bulk of a scrape. Only files on proc and sysfs are kept (a regular file may
 * be replaced by rename, and a kept descriptor would read the old one). */
typedef struct {
    char *path; /* owned; the map's key */
    int fd;
    bool sysfs;      /* a short read is the whole attribute (see read_all_at0) */
    bool dir;        /* a sysfs directory, listed again from offset 0 (listing_get) */
    uint64_t opened; /* generation of the open (dir only) */
    uint64_t used;   /* generation of the last read */
    /* A file read twice per scrape (/proc/stat, by the cpu and stat collectors) is read once:
     * `reads` counts this generation's reads, `twice` says the previous scrape read it more
     * than once, and `memo` (in the scrape arena, valid while memo_gen is the current
     * generation) keeps the first read's bytes for the later readers. */
    unsigned reads;
    bool twice;
    uint64_t memo_gen;
    const char *memo;
    size_t memo_len;
    /* agent_read_mounts: the text last read (heap, owned), returned again while the kernel
     * flags no change of the mount table */
    char *kept;
    size_t kept_len;
} agent_cached_file;

enum { FILE_CACHE_MAX = 4096, FILE_UNUSED_SCRAPES = 3, SYSFS_PAGE = 4096 };

typedef enum { FS_OTHER, FS_PROC, FS_SYSFS } kernel_fs_kind;

static kernel_fs_kind kernel_fs(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) != 0) {
        return FS_OTHER;
    }
    return st.f_type == PROC_SUPER_MAGIC ? FS_PROC : st.f_type == SYSFS_MAGIC ? FS_SYSFS : FS_OTHER;
}

static void cache_drop(agent_scrape *sc, agent_cached_file *f)
{
    odin_map_del(&sc->files, f->path, strlen(f->path));
    close(f->fd);
    free(f->kept);
    free(f->path);
    free(f);
}

/* Drops every cached file that pick chooses, in batches (a drop changes the map under the walk). */
typedef bool (*file_pick_fn)(const agent_scrape *sc, const agent_cached_file *f, const void *arg);

static void drop_where(agent_scrape *sc, file_pick_fn pick, const void *arg)
{
    size_t pos, kl;
    const void *k;
    void *v;
    agent_cached_file *stale[64];
    size_t n;
    do {
        n = 0;
        pos = 0;
        while (n < ODIN_ARRAY_LEN(stale) && odin_map_next(&sc->files, &pos, &k, &kl, &v)) {
            agent_cached_file *f = v;
            if (pick(sc, f, arg)) {
                stale[n++] = f;
            }
        }
        for (size_t i = 0; i < n; i++) {
            cache_drop(sc, stale[i]);
        }
    } while (n == ODIN_ARRAY_LEN(stale));
}

static bool unused_long(const agent_scrape *sc, const agent_cached_file *f, const void *arg)
{
    (void)arg;
    return sc->generation - f->used >= FILE_UNUSED_SCRAPES;
}

static bool under_dir(const agent_scrape *sc, const agent_cached_file *f, const void *arg)
{
    (void)sc;
    const char *dir = arg;
    size_t dl = strlen(dir);
    return strlen(f->path) > dl && f->path[dl] == '/' && memcmp(f->path, dir, dl) == 0;
}

void agent_files_sweep(agent_scrape *sc)
{
    drop_where(sc, unused_long, NULL);
}

void agent_files_forget(agent_scrape *sc, const char *dir)
{
    drop_where(sc, under_dir, dir);
}

void agent_files_close_all(agent_scrape *sc)
{
    size_t pos = 0, kl;
    const void *k;
    void *v;
    while (odin_map_next(&sc->files, &pos, &k, &kl, &v)) {
        agent_cached_file *f = v;
        close(f->fd);
        free(f->kept);
        free(f->path);
        free(f);
    }
    odin_map_fini(&sc->files);
}

/* pread loop into the scrape's read buffer; returns 0 or -errno. A sysfs attribute is produced
 * whole by one show() call of at most a page, so when `sysfs` is set a read shorter than both the
 * request and a page is the end of the file, and the pread that would return 0 is skipped: about
 * a third of a scrape's reads. Other files read on until pread returns 0, except a procfs seq
 * file whose lines are known to be at most `seq_line` bytes: seq_read_iter fills one buffer of
 * at least a page per read and stops early only at the end of the records or when the next
 * record does not fit, which leaves less than `seq_line` bytes free; so a read returning less
 * than a page minus `seq_line` ended at the last record. For /proc/net/udp that saves a second
 * walk of the whole UDP hash table, which the read that returns 0 costs as much as the first. */
static int read_all_at0(agent_scrape *sc, int fd, size_t max, bool sysfs, size_t seq_line)
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
        if (sysfs && (size_t)n < want && b->len < SYSFS_PAGE) {
            return 0;
        }
        if (seq_line && seq_line < SYSFS_PAGE && (size_t)n < SYSFS_PAGE - seq_line) {
            return 0;
        }
    }
}

/* Copies `n` bytes into the scrape arena, NUL-terminated: callers may edit their copy. */
static const char *arena_copy(agent_scrape *sc, const char *src, size_t n)
{
    char *p = odin_arena_alloc(&sc->arena, n + 1);
    if (!p) {
        odin_oom();
    }
    if (n) {
        memcpy(p, src, n);
    }
    p[n] = '\0';
    return p;
}

/* Counts a read of a cached file; returns true when this scrape already holds its bytes. */
static bool memo_hit(agent_scrape *sc, agent_cached_file *f, size_t max, odin_str *out)
{
    if (f->used != sc->generation) {
        f->twice = f->reads > 1;
        f->reads = 0;
    }
    f->used = sc->generation;
    f->reads++;
    if (max != READ_CAP || f->memo_gen != sc->generation || f->memo == NULL) {
        return false;
    }
    *out = (odin_str){arena_copy(sc, f->memo, f->memo_len), f->memo_len};
    return true;
}

static void memo_keep(agent_scrape *sc, agent_cached_file *f, size_t max)
{
    if (f->twice && max == READ_CAP) {
        f->memo = arena_copy(sc, sc->read_buf.p, sc->read_buf.len);
        f->memo_len = sc->read_buf.len;
        f->memo_gen = sc->generation;
    }
}

/* agent_read_raw, with read_all_at0's seq_line for a file on procfs (0: none). */
static int read_raw(agent_scrape *sc, const char *path, size_t max, size_t seq_line, odin_str *out)
{
    *out = (odin_str){"", 0};
    size_t plen = strlen(path);
    agent_cached_file *f = odin_map_get(&sc->files, path, plen);
    int rc;
    if (f && f->dir) {
        return -EISDIR; /* what read(2) of the directory says */
    }
    if (f) {
        if (memo_hit(sc, f, max, out)) {
            return 0;
        }
        rc = read_all_at0(sc, f->fd, max, f->sysfs, f->sysfs ? 0 : seq_line);
        if (rc == -ENODEV || rc == -ESRCH || rc == -ENOENT || rc == -ESTALE || rc == -EBADF) {
            /* the object went away (device removed, process exited): open afresh */
            cache_drop(sc, f);
            f = NULL;
        } else if (rc < 0) {
            return rc; /* e.g. EINVAL from `speed` of a down link: the file stays usable */
        } else {
            memo_keep(sc, f, max);
        }
    }
    if (!f) {
        int missing = agent_absent_check(sc, path, plen);
        if (missing) {
            return -missing;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int open_errno = fd < 0 ? errno : 0;
        agent_absent_note(sc, path, plen, open_errno);
        if (fd < 0) {
            return -open_errno;
        }
        kernel_fs_kind kind = sc->files.len < FILE_CACHE_MAX ? kernel_fs(fd) : FS_OTHER;
        rc = read_all_at0(sc, fd, max, kind == FS_SYSFS, kind == FS_PROC ? seq_line : 0);
        bool keep = rc == 0 || rc == -EINVAL || rc == -EOPNOTSUPP || rc == -EIO;
        if (keep && kind != FS_OTHER) {
            f = odin_calloc(1, sizeof(*f));
            f->path = odin_strndup(path, plen);
            f->fd = fd;
            f->sysfs = kind == FS_SYSFS;
            f->used = sc->generation;
            f->reads = 1;
            odin_map_put(&sc->files, f->path, plen, f);
        } else {
            close(fd);
        }
        if (rc < 0) {
            return rc;
        }
    }
    odin_strbuf *b = &sc->read_buf;
    *out = (odin_str){arena_copy(sc, b->p, b->len), b->len};
    return 0;
}

int agent_read_raw(agent_scrape *sc, const char *path, size_t max, odin_str *out)
{
    return read_raw(sc, path, max, 0, out);
}

/* agent_read's messages for read_raw's result. */
static int read_result(const char *path, int rc, odin_err *err)
{
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

int agent_read(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    return read_result(path, read_raw(sc, path, READ_CAP, 0, out), err);
}

int agent_read_seq(agent_scrape *sc, const char *path, size_t max_line, odin_str *out,
                   odin_err *err)
{
    return read_result(path, read_raw(sc, path, READ_CAP, max_line, out), err);
}

/* A mount table file (/proc/<pid>/mountinfo) reports a change of its namespace's mounts
 * (mount, umount, move, remount) to poll as POLLPRI|POLLERR, once per change, on the descriptor
 * that polls; generating the text costs more than all of the filesystem collector's parsing. */
static bool mounts_changed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLPRI};
    int n = poll(&p, 1, 0);
    return n != 0 && (n < 0 || (p.revents & (POLLPRI | POLLERR | POLLNVAL | POLLHUP)) != 0);
}

int agent_read_mounts(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    size_t plen = strlen(path);
    agent_cached_file *f = odin_map_get(&sc->files, path, plen);
    if (f && f->kept && !mounts_changed(f->fd)) {
        f->used = sc->generation;
        *out = (odin_str){arena_copy(sc, f->kept, f->kept_len), f->kept_len};
        return 0;
    }
    int rc = agent_read(sc, path, out, err);
    if (rc < 0) {
        return rc;
    }
    /* kept only for a descriptor on procfs: a regular file (a test tree) has no such signal */
    f = odin_map_get(&sc->files, path, plen);
    if (f && !f->sysfs) {
        free(f->kept);
        f->kept = odin_malloc(out->len + 1);
        memcpy(f->kept, out->p, out->len);
        f->kept_len = out->len;
    }
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

/* One directory entry while listing: its name and inode number, sorted together. */
typedef struct {
    const char *name;
    uint64_t ino;
} dir_entry;

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const dir_entry *)a)->name, ((const dir_entry *)b)->name);
}

/* A directory listed twice in one scrape (/sys/devices/system/cpu, by cpu and cpufreq) is read
 * once; each caller gets its own array of the shared names. */
typedef struct {
    const char **names;
    const uint64_t *inos; /* d_ino of each name */
    size_t n;
} dir_listing;

static void listing_copy(agent_scrape *sc, const dir_listing *l, const char ***names, size_t *n)
{
    const char **v = odin_arena_alloc(&sc->arena, (l->n ? l->n : 1) * sizeof(*v));
    if (!v) {
        odin_oom();
    }
    if (l->n) {
        memcpy(v, l->names, l->n * sizeof(*v));
    }
    *names = v;
    *n = l->n;
}

/* Reads a directory's entries (without . and ..) into scrape memory with getdents64 straight from
 * the descriptor: opendir's fstat and its 32 KiB buffer, made and freed for every listing, cost
 * more than the few entries of a sysfs class. Returns 0 or -errno. */
/* The longest record getdents64 can return: its header and a 255-byte name with its NUL,
 * rounded up to 8 bytes. */
enum { DIRENT_MAX = (offsetof(struct dirent64, d_name) + 256 + 7) / 8 * 8 };

static int read_entries(agent_scrape *sc, int fd, bool sysfs, dir_entry **out, size_t *nout)
{
    size_t cap = 16, len = 0;
    dir_entry *v = odin_arena_alloc(&sc->arena, cap * sizeof(*v));
    if (!v) {
        odin_oom();
    }
    char buf[4096];
    for (;;) {
        ssize_t got = getdents64(fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return -errno;
        }
        if (got == 0) {
            break;
        }
        for (size_t off = 0; off < (size_t)got;) {
            struct dirent64 de;
            size_t head = offsetof(struct dirent64, d_name);
            memcpy(&de, buf + off, head); /* d_reclen and friends; the name is read in place */
            const char *name = buf + off + head;
            size_t nlen = strnlen(name, de.d_reclen - head);
            off += de.d_reclen;
            if ((nlen == 1 && name[0] == '.') || (nlen == 2 && name[0] == '.' && name[1] == '.')) {
                continue;
            }
            if (len == cap) {
                dir_entry *nv = odin_arena_alloc(&sc->arena, cap * 2 * sizeof(*nv));
                if (!nv) {
                    odin_oom();
                }
                memcpy(nv, v, len * sizeof(*v));
                v = nv;
                cap *= 2;
            }
            const char *copy = odin_arena_strndup(&sc->arena, name, nlen);
            if (!copy) {
                odin_oom();
            }
            v[len++] = (dir_entry){copy, (uint64_t)de.d_ino};
        }
        /* kernfs fills the buffer until the next record does not fit: with room left for the
         * longest record, the directory has ended, and the call that returns 0 is skipped */
        if (sysfs && (size_t)got < sizeof(buf) - DIRENT_MAX) {
            break;
        }
    }
    *out = v;
    *nout = len;
    return 0;
}

/* A sysfs directory is listed again through a descriptor kept open: getdents64 from offset 0 of
 * a kernfs directory lists its children as they are now, and the open and close it saves cost
 * more than the listing. A directory removed meanwhile lists nothing through its old
 * descriptor, even when another one was made under its path; so an empty listing is taken only
 * for AGENT_ABSENT_RECHECK_SCRAPES scrapes after the open, as a missing path is (absent.c), and
 * then the path is opened again. */
static bool list_kept(agent_scrape *sc, const char *path, size_t plen, dir_entry **ents,
                      size_t *len)
{
    agent_cached_file *f = odin_map_get(&sc->files, path, plen);
    if (!f || !f->dir) {
        return false;
    }
    if (read_entries(sc, f->fd, true, ents, len) == 0 && lseek(f->fd, 0, SEEK_SET) == 0 &&
        (*len > 0 || sc->generation - f->opened < AGENT_ABSENT_RECHECK_SCRAPES)) {
        f->used = sc->generation;
        return true;
    }
    cache_drop(sc, f);
    return false;
}

/* Keeps fd of a listed directory when it is on sysfs; else closes it. A kept descriptor is
 * rewound after each listing, so that the next one starts at the beginning (and lseek is bound
 * in the first scrape: resolving a symbol later faults the dynamic linker's pages back in after
 * agent_drop_unused_file_pages). */
static void keep_dir(agent_scrape *sc, const char *path, size_t plen, int fd)
{
    if (sc->files.len >= FILE_CACHE_MAX || kernel_fs(fd) != FS_SYSFS ||
        lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return;
    }
    agent_cached_file *f = odin_calloc(1, sizeof(*f));
    f->path = odin_strndup(path, plen);
    f->fd = fd;
    f->sysfs = true;
    f->dir = true;
    f->used = sc->generation;
    f->opened = sc->generation;
    odin_map_put(&sc->files, f->path, plen, f);
}

/* The scrape's listing of path, read on its first request. */
static int listing_get(agent_scrape *sc, const char *path, const dir_listing **out, odin_err *err)
{
    size_t plen = strlen(path);
    const dir_listing *seen = odin_map_get(&sc->dirs, path, plen);
    if (seen) {
        *out = seen;
        return 0;
    }
    size_t len = 0;
    dir_entry *ents = NULL;
    int rc;
    if (!list_kept(sc, path, plen, &ents, &len)) {
        int e = agent_absent_check(sc, path, plen);
        int fd = -1;
        if (e == 0) {
            fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            e = fd >= 0 ? 0 : errno;
            agent_absent_note(sc, path, plen, e);
        }
        if (fd < 0) {
            if (e == ENOENT || e == ENOTDIR) {
                return odin_err_set(err, ODIN_ERR_NOTFOUND, "opendir %s: no such directory", path);
            }
            return odin_err_errno(err, e, "opendir %s", path);
        }
        rc = read_entries(sc, fd, false, &ents, &len);
        if (rc < 0) {
            close(fd);
            return odin_err_errno(err, -rc, "readdir %s", path);
        }
        keep_dir(sc, path, plen, fd);
    }
    qsort(ents, len, sizeof(*ents), entry_cmp);
    dir_listing *l = odin_arena_alloc(&sc->arena, sizeof(*l));
    const char **names = odin_arena_alloc(&sc->arena, (len ? len : 1) * sizeof(*names));
    uint64_t *inos = odin_arena_alloc(&sc->arena, (len ? len : 1) * sizeof(*inos));
    char *key = odin_arena_strndup(&sc->arena, path, plen);
    if (!l || !names || !inos || !key) {
        odin_oom();
    }
    for (size_t i = 0; i < len; i++) {
        names[i] = ents[i].name;
        inos[i] = ents[i].ino;
    }
    *l = (dir_listing){names, inos, len};
    odin_map_put(&sc->dirs, key, plen, l);
    *out = l;
    return 0;
}

int agent_list_dir_inos(agent_scrape *sc, const char *path, const char ***names,
                        const uint64_t **inos, size_t *n, odin_err *err)
{
    *names = NULL;
    *inos = NULL;
    *n = 0;
    const dir_listing *l = NULL;
    int rc = listing_get(sc, path, &l, err);
    if (rc < 0) {
        return rc;
    }
    listing_copy(sc, l, names, n);
    *inos = l->inos; /* read-only: shared by this scrape's callers */
    return 0;
}

int agent_list_dir(agent_scrape *sc, const char *path, const char ***names, size_t *n,
                   odin_err *err)
{
    const uint64_t *inos;
    return agent_list_dir_inos(sc, path, names, &inos, n, err);
}

int agent_stat(agent_scrape *sc, const char *path, struct stat *st)
{
    size_t plen = strlen(path);
    int e = agent_absent_check(sc, path, plen);
    if (e) {
        return -e;
    }
    e = stat(path, st) == 0 ? 0 : errno;
    agent_absent_note(sc, path, plen, e);
    return -e;
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

/* By hand: filesystem labels and values call this hundreds of times a scrape, and printf's
 * setup costs more than the digits. */
const char *agent_fmt_i64(agent_scrape *sc, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    char *p = odin_arena_alloc(&sc->arena, n + 2);
    if (!p) {
        odin_oom();
    }
    size_t o = 0;
    if (v < 0) {
        p[o++] = '-';
    }
    while (n) {
        p[o++] = tmp[--n];
    }
    p[o] = '\0';
    return p;
}

/* Reads a WAL directory in Prometheus' layout (newest checkpoint, then the segments after it),
 * checks every fragment (CRC, length, sequence, padding) and undoes snappy compression; also
 * lists segments and repairs a corrupt tail. The writer is wal.c; byte tables: docs/format/wal.md.
 */
#include "tsdb/wal.h"

#include "tsdb/chunk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    FRAG_PAD = 0,
    FRAG_FULL = 1,
    FRAG_FIRST = 2,
    FRAG_MIDDLE = 3,
    FRAG_LAST = 4,
    FRAG_KIND_MASK = 0x07,
    FRAG_SNAPPY = WAL_FRAG_SNAPPY,
    FRAG_ZSTD = 0x10,
    FRAG_RESERVED = 0xe0,
    READ_BUF_BYTES = 4 * WAL_PAGE_BYTES,
    /* A segment number has at most 9 digits, so it fits an int. */
    SEG_NAME_MAX_DIGITS = 9,
};

/* ---- segment listing ---- */

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a;
    int y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Parses an all-digit name of 1..9 digits; -1 for anything else. */
static int parse_index(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > SEG_NAME_MAX_DIGITS) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return -1;
        }
    }
    uint64_t v = 0;
    if (odin_parse_u64((odin_str){name, n}, &v) < 0) {
        return -1;
    }
    return (int)v;
}

/* Sorted segment numbers of dir (malloc'd, caller frees); -errno-style odin code on failure. */
static int list_segments(const char *dir, int **out, size_t *n, odin_err *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        int e = errno;
        if (e == ENOENT) {
            return odin_err_set(err, ODIN_ERR_NOTFOUND, "WAL directory %s does not exist", dir);
        }
        return odin_err_errno(err, e, "listing WAL directory %s", dir);
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int idx = parse_index(de->d_name);
        if (idx < 0) {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = odin_realloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = idx;
    }
    closedir(d);
    if (*n > 1) {
        qsort(*out, *n, sizeof(**out), int_cmp);
    }
    return 0;
}

void wal_segment_range(const char *dir, int *first, int *last)
{
    int *segs;
    size_t n;
    *first = -1;
    *last = -1;
    if (list_segments(dir, &segs, &n, NULL) < 0) {
        return;
    }
    if (n > 0) {
        *first = segs[0];
        *last = segs[n - 1];
    }
    free(segs);
}

/* The newest complete checkpoint.NNNNNNNN directory (no .tmp suffix); -1 when none. */
int wal_last_checkpoint(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    int best = -1;
    struct dirent *de;
    static const char prefix[] = "checkpoint.";
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, sizeof(prefix) - 1) != 0) {
            continue;
        }
        int idx = parse_index(de->d_name + sizeof(prefix) - 1);
        if (idx > best) {
            best = idx;
        }
    }
    closedir(d);
    return best;
}

/* ---- reader ---- */

typedef struct {
    int seg;
    bool cp; /* in the checkpoint directory */
} seg_ref;

/* Owned by its opener, freed by wal_reader_close; one thread at a time. */
struct wal_reader {
    char *dir;
    char *cp_dir; /* newest checkpoint, or NULL */
    seg_ref *segs;
    size_t nsegs;
    size_t cur;   /* index into segs of the open segment, or of the next to open */
    int fd;       /* -1 between segments */
    uint8_t *buf; /* READ_BUF_BYTES of the open segment; [buf_pos, buf_len) not consumed yet */
    size_t buf_pos, buf_len;
    bool eof;
    uint64_t off; /* segment offset of buf[buf_pos] */
    odin_strbuf rec;
    odin_strbuf dec;
    odin_strbuf path; /* the open segment, for messages */
    int pos_seg;      /* where the last good record ended */
    uint64_t pos_off;
    bool pos_cp;
    odin_err fail; /* sticky: once set, every later next returns it */
};

static const char *seg_dir(const wal_reader *r, bool cp)
{
    return cp ? r->cp_dir : r->dir;
}

static int reader_fail(wal_reader *r, int code, uint64_t at, const char *fmt, ...)
    ODIN_PRINTF(4, 5);

/* Records a corruption (or other failure) with "<segment>: offset N: reason". */
static int reader_fail(wal_reader *r, int code, uint64_t at, const char *fmt, ...)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b, "%s: offset %" PRIu64 ": ", r->path.p, at);
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    int rc = odin_err_set(&r->fail, code, "%s", b.p);
    odin_strbuf_fini(&b);
    return rc;
}

/* Makes up to `need` bytes (need <= READ_BUF_BYTES) available unless the file ends first.
 * Returns 0 (check the available count) or a negative code on a read error. */
static int fill(wal_reader *r, size_t need)
{
    size_t avail = r->buf_len - r->buf_pos;
    if (avail >= need || r->eof) {
        return 0;
    }
    memmove(r->buf, r->buf + r->buf_pos, avail);
    r->buf_pos = 0;
    r->buf_len = avail;
    while (r->buf_len < need && !r->eof) {
        ssize_t got = read(r->fd, r->buf + r->buf_len, READ_BUF_BYTES - r->buf_len);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            int e = errno;
            odin_err_errno(&r->fail, e, "reading WAL segment %s", r->path.p);
            return -ODIN_ERR_IO;
        }
        if (got == 0) {
            r->eof = true;
        }
        r->buf_len += (size_t)got;
    }
    return 0;
}

static size_t avail(const wal_reader *r)
{
    return r->buf_len - r->buf_pos;
}

static void consume(wal_reader *r, size_t n)
{
    r->buf_pos += n;
    r->off += n;
}

/* Page padding: a zero type byte says the rest of the page is zeros (Prometheus checks this
 * too). A short last page is fine: the writer may not have padded it yet. */
static int skip_padding(wal_reader *r, int nfrag)
{
    if (nfrag > 0) {
        /* Prometheus' writer fills a page with a fragment before padding, so zeros never sit
         * between two fragments of one record. */
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off, "page padding inside a record");
    }
    size_t k = WAL_PAGE_BYTES - (size_t)(r->off % WAL_PAGE_BYTES);
    int rc = fill(r, k);
    if (rc < 0) {
        return rc;
    }
    size_t n = avail(r) < k ? avail(r) : k;
    const uint8_t *p = r->buf + r->buf_pos;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return reader_fail(r, ODIN_ERR_CORRUPT, r->off + i,
                               "non-zero byte 0x%02x in page padding", p[i]);
        }
    }
    consume(r, n);
    return 0;
}

static int check_fragment_type(wal_reader *r, uint8_t t, int nfrag, bool snappy)
{
    int kind = t & FRAG_KIND_MASK;
    if ((t & FRAG_RESERVED) != 0 || kind > FRAG_LAST ||
        (t & (FRAG_SNAPPY | FRAG_ZSTD)) == (FRAG_SNAPPY | FRAG_ZSTD)) {
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off, "invalid fragment type byte 0x%02x", t);
    }
    if (t & FRAG_ZSTD) {
        return reader_fail(r, ODIN_ERR_UNAVAILABLE, r->off,
                           "zstd-compressed WAL records are not supported (restart Prometheus "
                           "with --storage.tsdb.wal-compression-type=snappy to migrate)");
    }
    bool starts = kind == FRAG_FULL || kind == FRAG_FIRST;
    if (nfrag == 0 && !starts) {
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off, "fragment type %d without a first fragment",
                           kind);
    }
    if (nfrag > 0 && starts) {
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off,
                           "fragment type %d while a record is unfinished", kind);
    }
    if (nfrag > 0 && ((t & FRAG_SNAPPY) != 0) != snappy) {
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off, "compression flag changes inside a record");
    }
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads one fragment's header and data into r->rec. Returns its kind or a negative code. */
static int read_fragment(wal_reader *r, uint8_t t)
{
    int rc = fill(r, WAL_FRAGMENT_HEADER_BYTES);
    if (rc < 0) {
        return rc;
    }
    if (avail(r) < WAL_FRAGMENT_HEADER_BYTES) {
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off,
                           "truncated fragment header (%zu of 7 bytes)", avail(r));
    }
    const uint8_t *h = r->buf + r->buf_pos;
    size_t n = (size_t)h[1] << 8 | h[2];
    uint32_t crc = be32(h + 3);
    if (n > WAL_PAGE_BYTES - WAL_FRAGMENT_HEADER_BYTES) {
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off, "fragment length %zu exceeds a page", n);
    }
    rc = fill(r, WAL_FRAGMENT_HEADER_BYTES + n);
    if (rc < 0) {
        return rc;
    }
    if (avail(r) < WAL_FRAGMENT_HEADER_BYTES + n) {
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off,
                           "truncated fragment: %zu data bytes declared, %zu present", n,
                           avail(r) - WAL_FRAGMENT_HEADER_BYTES);
    }
    const uint8_t *data = r->buf + r->buf_pos + WAL_FRAGMENT_HEADER_BYTES;
    uint32_t got = tsdb_crc32c(0, data, n);
    if (got != crc) {
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off,
                           "fragment checksum mismatch: stored %08x, computed %08x", crc, got);
    }
    odin_strbuf_put(&r->rec, data, n);
    if (!odin_strbuf_ok(&r->rec)) {
        return reader_fail(r, ODIN_ERR_CORRUPT, r->off, "record is larger than %d bytes",
                           WAL_MAX_RECORD_BYTES);
    }
    consume(r, WAL_FRAGMENT_HEADER_BYTES + n);
    return t & FRAG_KIND_MASK;
}

/* One record of the open segment: 1 when read, 0 at a clean end, negative otherwise. */
static int read_record(wal_reader *r, const uint8_t **rec, size_t *len)
{
    odin_strbuf_reset(&r->rec);
    int nfrag = 0;
    bool snappy = false;
    uint64_t start = r->off;
    for (;;) {
        int rc = fill(r, 1);
        if (rc < 0) {
            return rc;
        }
        if (avail(r) == 0) {
            if (nfrag > 0) {
                return reader_fail(r, ODIN_ERR_CORRUPT, r->off,
                                   "segment ends inside the record that starts at offset %" PRIu64
                                   " (torn write)",
                                   start);
            }
            return 0;
        }
        uint8_t t = r->buf[r->buf_pos];
        if (t == FRAG_PAD) {
            rc = skip_padding(r, nfrag);
            if (rc < 0) {
                return rc;
            }
            start = r->off;
            continue;
        }
        rc = check_fragment_type(r, t, nfrag, snappy);
        if (rc < 0) {
            return rc;
        }
        snappy = (t & FRAG_SNAPPY) != 0;
        int kind = read_fragment(r, t);
        if (kind < 0) {
            return kind;
        }
        nfrag++;
        if (kind == FRAG_FULL || kind == FRAG_LAST) {
            break;
        }
    }
    if (!snappy) {
        *rec = (const uint8_t *)r->rec.p;
        *len = r->rec.len;
        return 1;
    }
    odin_err e;
    odin_err_clear(&e);
    int rc = tsdb_snappy_decode((const uint8_t *)r->rec.p, r->rec.len, &r->dec, &e);
    if (rc < 0) {
        return reader_fail(r, ODIN_ERR_CORRUPT, start, "%s", e.msg);
    }
    *rec = (const uint8_t *)r->dec.p;
    *len = r->dec.len;
    return 1;
}

static int open_segment(wal_reader *r)
{
    const seg_ref *s = &r->segs[r->cur];
    odin_strbuf_reset(&r->path);
    odin_strbuf_printf(&r->path, "%s/%08d", seg_dir(r, s->cp), s->seg);
    if (r->cur > 0 && r->segs[r->cur - 1].cp == s->cp && r->segs[r->cur - 1].seg + 1 != s->seg) {
        return reader_fail(r, ODIN_ERR_CORRUPT, 0, "segment %08d is missing before it",
                           r->segs[r->cur - 1].seg + 1);
    }
    r->fd = open(r->path.p, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        return odin_err_errno(&r->fail, errno, "opening WAL segment %s", r->path.p);
    }
    r->buf_pos = r->buf_len = 0;
    r->eof = false;
    r->off = 0;
    r->pos_seg = s->seg;
    r->pos_off = 0;
    r->pos_cp = s->cp;
    return 0;
}

static void close_segment(wal_reader *r)
{
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
}

int wal_reader_next(wal_reader *r, const uint8_t **rec, size_t *len, odin_err *err)
{
    *rec = NULL;
    *len = 0;
    while (r->fail.code == 0) {
        if (r->fd < 0) {
            if (r->cur >= r->nsegs) {
                return 0;
            }
            if (open_segment(r) < 0) {
                break;
            }
        }
        int rc = read_record(r, rec, len);
        if (rc == 1) {
            r->pos_off = r->off;
            return 1;
        }
        if (rc < 0) {
            break;
        }
        close_segment(r);
        r->cur++;
    }
    *rec = NULL;
    *len = 0;
    if (err != NULL && err->code == 0) {
        *err = r->fail;
    }
    return -r->fail.code;
}

static void add_segments(wal_reader *r, const int *segs, size_t n, bool cp, int after)
{
    for (size_t i = 0; i < n; i++) {
        if (segs[i] > after) {
            r->segs[r->nsegs++] = (seg_ref){segs[i], cp};
        }
    }
}

wal_reader *wal_reader_open(const char *dir, odin_err *err)
{
    int *wsegs = NULL;
    int *csegs = NULL;
    size_t nw = 0;
    size_t nc = 0;
    if (list_segments(dir, &wsegs, &nw, err) < 0) {
        return NULL;
    }
    wal_reader *r = odin_calloc(1, sizeof(*r));
    r->dir = odin_strdup(dir);
    r->fd = -1;
    r->pos_seg = -1;
    odin_strbuf_init(&r->rec, WAL_MAX_RECORD_BYTES);
    odin_strbuf_init(&r->dec, WAL_MAX_RECORD_BYTES);
    odin_strbuf_init(&r->path, 0);
    int cp = wal_last_checkpoint(dir);
    if (cp >= 0) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        odin_strbuf_printf(&b, "%s/checkpoint.%08d", dir, cp);
        r->cp_dir = odin_strbuf_take(&b, NULL);
        if (list_segments(r->cp_dir, &csegs, &nc, err) < 0) {
            free(wsegs);
            wal_reader_close(r);
            return NULL;
        }
    }
    r->segs = odin_calloc(nw + nc + 1, sizeof(*r->segs));
    add_segments(r, csegs, nc, true, -1);
    add_segments(r, wsegs, nw, false, cp);
    free(csegs);
    free(wsegs);
    r->buf = odin_malloc(READ_BUF_BYTES);
    if (r->nsegs > 0) {
        r->pos_seg = r->segs[0].seg;
        r->pos_cp = r->segs[0].cp;
    }
    return r;
}

void wal_reader_position(const wal_reader *r, int *segment, uint64_t *offset)
{
    *segment = r->pos_seg;
    *offset = r->pos_off;
}

const char *wal_reader_dir(const wal_reader *r)
{
    return seg_dir(r, r->pos_cp);
}

bool wal_reader_in_checkpoint(const wal_reader *r)
{
    return r->pos_cp;
}

void wal_reader_close(wal_reader *r)
{
    if (r == NULL) {
        return;
    }
    close_segment(r);
    odin_strbuf_fini(&r->rec);
    odin_strbuf_fini(&r->dec);
    odin_strbuf_fini(&r->path);
    free(r->buf);
    free(r->segs);
    free(r->cp_dir);
    free(r->dir);
    free(r);
}

/* ---- repair ---- */

static int truncate_segment(const char *path, uint64_t offset, odin_err *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return odin_err_errno(err, errno, "repairing WAL segment %s", path);
    }
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = odin_err_errno(err, errno, "repairing WAL segment %s", path);
    } else if (offset > (uint64_t)st.st_size) {
        rc = odin_err_set(err, ODIN_ERR_INVALID,
                          "repairing WAL segment %s: offset %" PRIu64 " is past its end (%jd)",
                          path, offset, (intmax_t)st.st_size);
    } else if (ftruncate(fd, (off_t)offset) != 0 || fdatasync(fd) != 0) {
        rc = odin_err_errno(err, errno, "truncating WAL segment %s", path);
    }
    close(fd);
    return rc;
}

int wal_repair(const char *dir, int segment, uint64_t offset, odin_err *err)
{
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/%08d", dir, segment);
    int *segs = NULL;
    size_t n = 0;
    int rc = truncate_segment(path.p, offset, err);
    if (rc == 0) {
        rc = list_segments(dir, &segs, &n, err);
    }
    size_t deleted = 0;
    /* Later segments may hold records that depend on the lost ones (samples of a series whose
     * record was cut), so everything after the cut goes, as Prometheus' Repair does. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (segs[i] <= segment) {
            continue;
        }
        odin_strbuf_reset(&path);
        odin_strbuf_printf(&path, "%s/%08d", dir, segs[i]);
        if (unlink(path.p) != 0 && errno != ENOENT) {
            rc = odin_err_errno(err, errno, "deleting WAL segment %s", path.p);
            break;
        }
        deleted++;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    odin_arena a;
    odin_arena_init(&a, 0);
    const char *seg_s = odin_arena_printf(&a, "%d", segment);
    const char *off_s = odin_arena_printf(&a, "%" PRIu64, offset);
    const char *del_s = odin_arena_printf(&a, "%zu", deleted);
    if (rc == 0) {
        odin_log(ODIN_LOG_WARN, "tsdb", "WAL repaired: corrupt tail cut, later segments deleted",
                 "dir", dir, "segment", seg_s, "offset", off_s, "deleted_segments", del_s, NULL);
    } else {
        odin_log(ODIN_LOG_ERROR, "tsdb", "WAL repair failed", "dir", dir, "segment", seg_s,
                 "offset", off_s, "err", err ? err->msg : "", NULL);
    }
    odin_arena_fini(&a);
    odin_strbuf_fini(&path);
    free(segs);
    return rc;
}

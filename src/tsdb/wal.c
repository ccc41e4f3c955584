/* The WAL writer: splits records into fragments over 32 KiB pages of %08d segment files in
 * Prometheus' layout (docs/format/wal.md) and makes them durable by the configured fsync policy.
 * Reading, repair and the segment listing live in wal_reader.c. */
#include "tsdb/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { WAL_DEFAULT_SEGMENT_BYTES = 128 * 1024 * 1024 };

/* Owned by its opener, freed by wal_close. Fields before `mu` are fixed at open; `mu` guards the
 * rest except `fsyncs` (atomic, read by status without the lock). The flusher thread takes `mu`
 * only to read the fd and the dirty flag: it fsyncs a dup of the fd with the lock released, so a
 * slow disk never blocks wal_log. */
struct tsdb_wal {
    char *dir;
    uint64_t segment_bytes;
    int64_t fsync_ms;
    bool has_flusher;
    pthread_t flusher;
    /* The writer's own (wal_log is called by one thread at a time): snappy output and the
     * encoder's table, NULL when compression is off. */
    odin_strbuf zbuf;
    uint16_t *ztable;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* signals the flusher: new dirty data or stop */
    int fd;              /* current segment, -1 after a failed segment switch */
    int seg;             /* its number */
    uint64_t seg_off;    /* bytes of good data in it; the next record starts here */
    bool dirty;          /* written since the last fsync */
    bool stop;
    bool torn;        /* a failed write left bytes past seg_off that ftruncate could not cut */
    odin_strbuf frag; /* fragments of the record being written */
    atomic_uint_fast64_t fsyncs;
    odin_summary *fsync_s; /* prometheus_tsdb_wal_fsync_duration_seconds (its own lock) */
};

/* fdatasync, timed into the fsync duration summary when it succeeds. */
static int timed_fdatasync(tsdb_wal *w, int fd)
{
    int64_t t0 = odin_mono_ns();
    if (fdatasync(fd) != 0) {
        return -1;
    }
    odin_summary_observe(w->fsync_s, (double)(odin_mono_ns() - t0) / 1e9);
    atomic_fetch_add(&w->fsyncs, 1);
    return 0;
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void seg_path(odin_strbuf *b, const char *dir, int seg)
{
    odin_strbuf_reset(b);
    odin_strbuf_printf(b, "%s/%08d", dir, seg);
}

/* mkdir -p: each missing component is created in turn. */
static int make_dirs(const char *dir, odin_err *err)
{
    char *p = odin_strdup(dir);
    int rc = 0;
    for (char *c = p + 1;; c++) {
        bool end = *c == '\0';
        if (*c != '/' && !end) {
            continue;
        }
        *c = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            rc = odin_err_errno(err, errno, "creating WAL directory %s", p);
            break;
        }
        if (end) {
            break;
        }
        *c = '/';
    }
    free(p);
    return rc;
}

/* Makes a new directory entry durable; without it a power cut can lose a whole new segment. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static int write_at(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return errno;
        }
        if (w == 0) {
            return EIO;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int sync_fd_locked(tsdb_wal *w, int fd, odin_err *err)
{
    if (timed_fdatasync(w, fd) != 0) {
        int e = errno;
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        seg_path(&b, w->dir, w->seg);
        int rc = odin_err_errno(err, e, "syncing WAL segment %s", b.p);
        odin_strbuf_fini(&b);
        return rc;
    }
    return 0;
}

/* Zero-fills the rest of the current page, as Prometheus does when it closes a segment, so every
 * finished segment is whole pages. */
static int pad_page_locked(tsdb_wal *w, odin_err *err)
{
    size_t in_page = (size_t)(w->seg_off % WAL_PAGE_BYTES);
    if (in_page == 0 || w->fd < 0) {
        return 0;
    }
    static const uint8_t zeros[WAL_PAGE_BYTES];
    int e = write_at(w->fd, zeros, WAL_PAGE_BYTES - in_page, w->seg_off);
    if (e != 0) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        seg_path(&b, w->dir, w->seg);
        int rc = odin_err_errno(err, e, "padding WAL segment %s", b.p);
        odin_strbuf_fini(&b);
        return rc;
    }
    w->seg_off += WAL_PAGE_BYTES - in_page;
    return 0;
}

static int create_segment(tsdb_wal *w, int seg, odin_err *err)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    seg_path(&b, w->dir, seg);
    int fd = open(b.p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    int rc = 0;
    if (fd < 0) {
        rc = odin_err_errno(err, errno, "creating WAL segment %s", b.p);
    } else {
        sync_dir(w->dir);
        w->fd = fd;
        w->seg = seg;
        w->seg_off = 0;
        w->torn = false;
    }
    odin_strbuf_fini(&b);
    return rc;
}

/* Finishes the current segment (pad, fsync, close) and starts the next one. */
static int next_segment_locked(tsdb_wal *w, odin_err *err)
{
    if (w->fd >= 0) {
        if (!w->torn) {
            int rc = pad_page_locked(w, err);
            if (rc < 0) {
                return rc;
            }
        }
        int rc = sync_fd_locked(w, w->fd, err);
        if (rc < 0) {
            return rc;
        }
        close(w->fd);
        w->fd = -1;
        w->dirty = false;
    }
    return create_segment(w, w->seg + 1, err);
}

/* Bytes of record data the current segment can still take, counting the fragment headers every
 * page needs (Prometheus' formula); negative once an oversized record has overfilled it. */
static int64_t segment_room(const tsdb_wal *w)
{
    int64_t pages = (int64_t)(w->segment_bytes / WAL_PAGE_BYTES);
    int64_t done = (int64_t)(w->seg_off / WAL_PAGE_BYTES);
    int64_t in_page = (int64_t)(w->seg_off % WAL_PAGE_BYTES);
    return (WAL_PAGE_BYTES - in_page - WAL_FRAGMENT_HEADER_BYTES) +
           (int64_t)(WAL_PAGE_BYTES - WAL_FRAGMENT_HEADER_BYTES) * (pages - done - 1);
}

/* Lays rec out as fragments starting at seg_off into w->frag; returns the end offset. Every
 * fragment fits its page; when fewer than 7 bytes would be left in a page they are zero-filled
 * (a padding byte 0 and zeros), so the next record always starts with room for a header. */
static uint64_t build_fragments(tsdb_wal *w, const uint8_t *rec, size_t len, uint8_t flags)
{
    odin_strbuf_reset(&w->frag);
    uint64_t pos = w->seg_off;
    size_t done = 0;
    for (int i = 0; i == 0 || done < len; i++) {
        size_t page_left = WAL_PAGE_BYTES - (size_t)(pos % WAL_PAGE_BYTES);
        size_t n = len - done;
        if (n > page_left - WAL_FRAGMENT_HEADER_BYTES) {
            n = page_left - WAL_FRAGMENT_HEADER_BYTES;
        }
        bool last = done + n == len;
        uint8_t type = (uint8_t)((i == 0 ? (last ? 1 : 2) : (last ? 4 : 3)) | flags);
        uint8_t h[WAL_FRAGMENT_HEADER_BYTES];
        h[0] = type;
        put_be16(h + 1, (uint16_t)n);
        put_be32(h + 3, tsdb_crc32c(0, rec + done, n));
        odin_strbuf_put(&w->frag, h, sizeof(h));
        odin_strbuf_put(&w->frag, rec + done, n);
        pos += WAL_FRAGMENT_HEADER_BYTES + n;
        done += n;
        size_t rest = WAL_PAGE_BYTES - (size_t)(pos % WAL_PAGE_BYTES);
        if (rest < WAL_FRAGMENT_HEADER_BYTES) {
            static const uint8_t zeros[WAL_FRAGMENT_HEADER_BYTES];
            odin_strbuf_put(&w->frag, zeros, rest);
            pos += rest;
        }
    }
    return pos;
}

/* A write that failed part way is cut off again, so the bytes before it stay a clean log. */
static int untear_locked(tsdb_wal *w, odin_err *err)
{
    if (!w->torn) {
        return 0;
    }
    if (ftruncate(w->fd, (off_t)w->seg_off) != 0) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        seg_path(&b, w->dir, w->seg);
        int rc = odin_err_errno(err, errno, "cutting failed write from WAL segment %s", b.p);
        odin_strbuf_fini(&b);
        return rc;
    }
    w->torn = false;
    return 0;
}

static int log_locked(tsdb_wal *w, const uint8_t *rec, size_t len, uint8_t flags, odin_err *err)
{
    if (w->fd < 0) {
        int rc = create_segment(w, w->seg + 1, err);
        if (rc < 0) {
            return rc;
        }
    }
    int rc = untear_locked(w, err);
    if (rc < 0) {
        return rc;
    }
    /* A record never spans segments; one too big for an empty segment still gets a whole one. */
    if (w->seg_off > 0 && (int64_t)len > segment_room(w)) {
        rc = next_segment_locked(w, err);
        if (rc < 0) {
            return rc;
        }
    }
    uint64_t end = build_fragments(w, rec, len, flags);
    if (!odin_strbuf_ok(&w->frag)) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "WAL record of %zu bytes is too large", len);
    }
    int e = write_at(w->fd, (const uint8_t *)w->frag.p, w->frag.len, w->seg_off);
    if (e != 0) {
        w->torn = true;
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        seg_path(&b, w->dir, w->seg);
        rc = odin_err_errno(err, e, "writing WAL segment %s at offset %" PRIu64, b.p, w->seg_off);
        odin_strbuf_fini(&b);
        (void)untear_locked(w, NULL);
        return rc;
    }
    w->seg_off = end;
    if (w->fsync_ms == 0) {
        return sync_fd_locked(w, w->fd, err);
    }
    if (!w->dirty) {
        w->dirty = true;
        pthread_cond_signal(&w->cond);
    }
    return 0;
}

int wal_log(tsdb_wal *w, const uint8_t *rec, size_t len, odin_err *err)
{
    if (len > WAL_MAX_RECORD_BYTES) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "WAL record of %zu bytes is over the %d byte cap",
                            len, WAL_MAX_RECORD_BYTES);
    }
    if (len == 0) {
        rec = (const uint8_t *)""; /* an empty record is legal: one empty full fragment */
    }
    /* As Prometheus: compressed only where that is smaller, flagged on every fragment. Done
     * before taking mu, so the flusher never waits on it. */
    uint8_t flags = 0;
    if (w->ztable != NULL && len > 0 && tsdb_snappy_encode(rec, len, &w->zbuf, w->ztable) == 0 &&
        w->zbuf.len < len) {
        rec = (const uint8_t *)w->zbuf.p;
        len = w->zbuf.len;
        flags = WAL_FRAG_SNAPPY;
    }
    pthread_mutex_lock(&w->mu);
    int rc = log_locked(w, rec, len, flags, err);
    pthread_mutex_unlock(&w->mu);
    if (w->zbuf.alloc > (1u << 20)) {
        odin_strbuf_fini(&w->zbuf); /* a huge record's output is not kept, as the tsdb's record */
        odin_strbuf_init(&w->zbuf, 0);
    }
    return rc;
}

int wal_sync(tsdb_wal *w, odin_err *err)
{
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (w->fd >= 0) {
        rc = sync_fd_locked(w, w->fd, err);
        if (rc == 0) {
            w->dirty = false;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int wal_next_segment(tsdb_wal *w, int *seg, odin_err *err)
{
    pthread_mutex_lock(&w->mu);
    int rc = next_segment_locked(w, err);
    *seg = w->seg;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int wal_segment(tsdb_wal *w)
{
    pthread_mutex_lock(&w->mu);
    int seg = w->seg;
    pthread_mutex_unlock(&w->mu);
    return seg;
}

uint64_t wal_fsyncs(const tsdb_wal *w)
{
    return atomic_load(&((tsdb_wal *)w)->fsyncs);
}

void wal_fsync_durations(tsdb_wal *w, double quantiles[3], double *sum_s)
{
    static const double qs[3] = {0.5, 0.9, 0.99}; /* Prometheus' objectives for this summary */
    uint64_t count;
    odin_summary_read(w->fsync_s, qs, 3, quantiles, sum_s, &count);
}

static void deadline_after_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Background flusher for fsync_ms > 0: the first write after a sync starts a timer of fsync_ms;
 * when it fires, one fsync covers every write made meanwhile. So a write is on disk at most
 * fsync_ms (plus the fsync itself) after wal_log returned. wal_close stops it and syncs last. */
static void *flusher_main(void *arg)
{
    tsdb_wal *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        if (!w->dirty) {
            pthread_cond_wait(&w->cond, &w->mu);
            continue;
        }
        struct timespec deadline;
        deadline_after_ms(&deadline, w->fsync_ms);
        while (!w->stop) {
            if (pthread_cond_timedwait(&w->cond, &w->mu, &deadline) == ETIMEDOUT) {
                break;
            }
        }
        if (w->stop || !w->dirty || w->fd < 0) {
            continue;
        }
        int fd = dup(w->fd);
        int seg = w->seg;
        w->dirty = false;
        pthread_mutex_unlock(&w->mu);
        int e = 0;
        if (fd < 0 || timed_fdatasync(w, fd) != 0) {
            e = errno;
        }
        if (fd >= 0) {
            close(fd);
        }
        if (e != 0) {
            odin_strbuf b;
            odin_strbuf_init(&b, 0);
            seg_path(&b, w->dir, seg);
            char ebuf[96];
            odin_log(ODIN_LOG_ERROR, "tsdb", "WAL background fsync failed", "file", b.p, "err",
                     strerror_r(e, ebuf, sizeof(ebuf)), NULL);
            odin_strbuf_fini(&b);
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

tsdb_wal *wal_open(const char *dir, const wal_opts *opts, odin_err *err)
{
    wal_opts o = opts ? *opts : (wal_opts){0};
    if (o.segment_bytes == 0) {
        o.segment_bytes = WAL_DEFAULT_SEGMENT_BYTES;
    }
    if (o.segment_bytes % WAL_PAGE_BYTES != 0 || o.fsync_ms < 0) {
        odin_err_set(err, ODIN_ERR_INVALID,
                     "WAL %s: segment size %" PRIu64 " is not a multiple of %d, or fsync_ms < 0",
                     dir, o.segment_bytes, WAL_PAGE_BYTES);
        return NULL;
    }
    if (make_dirs(dir, err) < 0) {
        return NULL;
    }
    tsdb_wal *w = odin_calloc(1, sizeof(*w));
    w->dir = odin_strdup(dir);
    w->segment_bytes = o.segment_bytes;
    w->fsync_ms = o.fsync_ms;
    w->fd = -1;
    odin_strbuf_init(&w->zbuf, 0);
    if (o.compress) {
        w->ztable = odin_malloc(sizeof(*w->ztable) << TSDB_SNAPPY_TABLE_BITS);
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    odin_strbuf_init(&w->frag, (size_t)WAL_MAX_RECORD_BYTES + WAL_MAX_RECORD_BYTES / 64);
    atomic_init(&w->fsyncs, 0);
    /* 10 minutes, as client_golang's default; 1024 cover them at the default 1 s policy */
    w->fsync_s = odin_summary_new(1024, 10 * 60 * 1000);

    /* matches Prometheus: writing always continues in a fresh segment after the last one, so a
     * torn tail of the previous run is never appended to. */
    int first, last;
    wal_segment_range(dir, &first, &last);
    /* Readers skip segments a checkpoint covers, so numbering never restarts below it. */
    int cp = wal_last_checkpoint(dir);
    if (cp > last) {
        last = cp;
    }
    if (create_segment(w, last + 1, err) < 0) {
        odin_err_prefix(err, "opening WAL: ");
        wal_close(w);
        return NULL;
    }
    if (w->fsync_ms > 0) {
        if (pthread_create(&w->flusher, NULL, flusher_main, w) != 0) {
            odin_err_set(err, ODIN_ERR_INTERNAL, "WAL %s: cannot start the fsync thread", dir);
            wal_close(w);
            return NULL;
        }
        w->has_flusher = true;
    }
    return w;
}

void wal_close(tsdb_wal *w)
{
    if (w == NULL) {
        return;
    }
    if (w->has_flusher) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->flusher, NULL);
    }
    if (w->fd >= 0) {
        odin_err err;
        odin_err_clear(&err);
        if (!w->torn) {
            (void)pad_page_locked(w, &err);
        }
        (void)sync_fd_locked(w, w->fd, &err);
        if (err.code != 0) {
            odin_log(ODIN_LOG_ERROR, "tsdb", "closing WAL segment failed", "err", err.msg, NULL);
        }
        close(w->fd);
    }
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    odin_strbuf_fini(&w->frag);
    odin_strbuf_fini(&w->zbuf);
    free(w->ztable);
    free(w->dir);
    odin_summary_free(w->fsync_s);
    free(w);
}

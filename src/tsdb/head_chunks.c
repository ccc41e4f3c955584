/* The head's chunk files (<data>/chunks_odin/NNNNNN): appends cut chunks by copying them into the
 * file's shared mapping (space reserved ahead with fallocate; pwritev where that is refused),
 * hands out pointers into that mapping, and deletes a file with its last chunk. Layout in
 * docs/format/head_chunks.md; locking in head_chunks.h. */
#include "tsdb/head_chunks.h"

#include "tsdb/chunk.h"
#include "tsdb/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
    RECORD_HEAD_MAX = 8 + 8 + 64,
    /* space reserved in a file at a time, so records are copied into the mapping: a cut then
     * costs no system call (a pwritev each, ~2 µs with its inode time update, was most of a
     * chunk cut's cost); about 6000 records at the bytes of a 1 s chunk */
    ALLOC_STEP = 1 << 20,
    /* pages read back are dropped from the page tables in whole steps of this much (the
     * kernel's fault-around window) */
    UNMAP_STEP = 64 << 10,
    /* written pages are dropped from the process's page tables in steps of this much: a page
     * written through the mapping stays mapped, and the head's cut chunks would otherwise count
     * in its resident set until read back and cooled (the file keeps them; reads fault them in).
     * One step per reservation: each madvise(MADV_DONTNEED) flushes the TLBs of the other CPUs
     * running the process, an interprocessor interrupt round that under a hypervisor took
     * 60-480 µs (under strace); in 64 KiB steps they were ~2 % of the server's CPU profile at
     * 100k series scraped every 1 s. */
    WRITTEN_UNMAP_STEP = ALLOC_STEP,
};

/* One file: created, written up to HEAD_CHUNK_FILE_BYTES, sealed, deleted with its last chunk. */
typedef struct {
    uint32_t id;      /* the file name's number, from 1 */
    int fd;
    uint8_t *map;     /* MAP_SHARED, HEAD_CHUNK_FILE_BYTES long; written only in [size, alloc) */
    uint64_t size;    /* bytes written; only [0, size) is ever read through map */
    /* bytes reserved with fallocate (the file's length): records below are copied into map,
     * past it written with pwritev */
    uint64_t alloc;
    uint64_t unmapped; /* [0, unmapped) was dropped from the page tables (page-aligned) */
    uint64_t reread_lo, reread_hi; /* where records read back since the last unmap lie */
    uint64_t live;    /* chunks written and not yet dropped */
} cfile;

struct head_chunk_files {
    char *dir; /* <data>/chunks_odin, fixed */
    pthread_mutex_t mu;
    /* guarded by mu */
    cfile **files;     /* sorted by id; the last one is being written unless sealed */
    size_t nfiles, cap_files;
    uint32_t next_id;
    bool cur_open;     /* files[nfiles - 1] takes new records */
    bool failing;      /* the last write failed (logged once per run of failures) */
    /* pwritev only: the file system is not one where a reservation makes copies into the
     * mapping safe (space_fixed_at_fallocate), or it refused to reserve */
    bool no_fallocate;
    uint32_t rereads; /* head_chunk_files_drop_reread calls since the last unmap */
};

static void file_path(const head_chunk_files *cf, uint32_t id, odin_strbuf *out)
{
    odin_strbuf_reset(out);
    odin_strbuf_printf(out, "%s/%06u", cf->dir, (unsigned)id);
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

/* Copying into the mapping is safe only where fallocate allocates the blocks themselves, so a
 * page fault on the reserved range never needs space (a write fault that cannot get it is
 * SIGBUS, a crash). ext2/3/4, XFS and tmpfs do. Copy-on-write file systems (btrfs, ZFS,
 * bcachefs) allocate anew at writeback, network and FUSE file systems may not reserve at all, and
 * overlayfs does what its upper layer does, which statfs does not say: those get pwritev, whose
 * failures are errors, not signals. */
static bool space_fixed_at_fallocate(const char *dir)
{
    struct statfs st;
    if (statfs(dir, &st) != 0) {
        return false;
    }
    switch ((unsigned long)st.f_type) {
    case 0xEF53UL:     /* ext2, ext3, ext4 */
    case 0x58465342UL: /* XFS */
    case 0x01021994UL: /* tmpfs */
        return true;
    default:
        return false;
    }
}

head_chunk_files *head_chunk_files_open(const char *dir, odin_err *err)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/chunks_odin", dir);
    /* the WAL replay rebuilds every chunk, so whatever an earlier run left is dropped */
    int rc = odin_remove_tree(p.p);
    if (rc < 0 && rc != -ENOENT) {
        odin_err_errno(err, -rc, "removing old head chunk files %s", p.p);
        odin_strbuf_fini(&p);
        return NULL;
    }
    if (mkdir(p.p, 0777) != 0 && errno != EEXIST) {
        odin_err_errno(err, errno, "creating head chunk directory %s", p.p);
        odin_strbuf_fini(&p);
        return NULL;
    }
    head_chunk_files *cf = odin_calloc(1, sizeof(*cf));
    cf->dir = odin_strndup(p.p, p.len);
    cf->next_id = 1;
    cf->no_fallocate = !space_fixed_at_fallocate(cf->dir);
    pthread_mutex_init(&cf->mu, NULL);
    odin_strbuf_fini(&p);
    return cf;
}

static void file_free(head_chunk_files *cf, cfile *f, bool unlink_it)
{
    munmap(f->map, HEAD_CHUNK_FILE_BYTES);
    close(f->fd);
    if (unlink_it) {
        odin_strbuf p;
        odin_strbuf_init(&p, 0);
        file_path(cf, f->id, &p);
        unlink(p.p);
        odin_strbuf_fini(&p);
    }
    free(f);
}

void head_chunk_files_close(head_chunk_files *cf)
{
    if (!cf) {
        return;
    }
    for (size_t i = 0; i < cf->nfiles; i++) {
        file_free(cf, cf->files[i], true);
    }
    free(cf->files);
    rmdir(cf->dir);
    pthread_mutex_destroy(&cf->mu);
    free(cf->dir);
    free(cf);
}

static void log_failure_locked(head_chunk_files *cf, int errnum, const char *what)
{
    if (cf->failing) {
        return;
    }
    cf->failing = true;
    odin_err e = {0};
    odin_err_errno(&e, errnum, "%s", what);
    odin_log(ODIN_LOG_WARN, "tsdb", "head chunk file write failed; keeping cut chunks in memory",
             "dir", cf->dir, "err", e.msg, NULL);
}

/* Removes files[i] from the list and deletes it. */
static void remove_file_locked(head_chunk_files *cf, size_t i)
{
    file_free(cf, cf->files[i], true);
    memmove(cf->files + i, cf->files + i + 1, (cf->nfiles - i - 1) * sizeof(*cf->files));
    cf->nfiles--;
}

/* Seals the file being written (deleting it when nothing in it is live). */
static void seal_locked(head_chunk_files *cf)
{
    if (!cf->cur_open) {
        return;
    }
    cf->cur_open = false;
    cfile *f = cf->files[cf->nfiles - 1];
    if (f->live == 0) {
        remove_file_locked(cf, cf->nfiles - 1);
        return;
    }
    /* its last partial WRITTEN_UNMAP_STEP too, which writes no longer reach: each sealed file
     * kept up to a step of written pages resident for its whole life */
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t end = (f->size + page - 1) / page * page;
    end = f->alloc > end ? f->alloc : end; /* and the reserved pages room_locked mapped */
    if (end > f->unmapped) {
        madvise(f->map + f->unmapped, end - f->unmapped, MADV_DONTNEED);
        f->unmapped = end;
    }
}

static cfile *new_file_locked(head_chunk_files *cf)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    uint32_t id = cf->next_id++;
    file_path(cf, id, &p);
    int fd = open(p.p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        log_failure_locked(cf, errno, "creating head chunk file");
        odin_strbuf_fini(&p);
        return NULL;
    }
    uint8_t hdr[HEAD_CHUNK_FILE_HEADER] = {0};
    put_be32(hdr, HEAD_CHUNK_FILE_MAGIC);
    hdr[4] = HEAD_CHUNK_FILE_VERSION;
    int e = 0;
    ssize_t w = pwrite(fd, hdr, sizeof(hdr), 0);
    if (w < 0) {
        e = errno;
    } else if (w != (ssize_t)sizeof(hdr)) {
        e = ENOSPC;
    }
    void *map = MAP_FAILED;
    if (e == 0) {
        map = mmap(NULL, HEAD_CHUNK_FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            e = errno;
        }
    }
    if (e != 0) {
        log_failure_locked(cf, e, "creating head chunk file");
        close(fd);
        unlink(p.p);
        odin_strbuf_fini(&p);
        return NULL;
    }
    odin_strbuf_fini(&p);
    cfile *f = odin_calloc(1, sizeof(*f));
    f->id = id;
    f->fd = fd;
    f->map = map;
    f->size = HEAD_CHUNK_FILE_HEADER;
    f->alloc = HEAD_CHUNK_FILE_HEADER;
    f->unmapped = 0;
    if (cf->nfiles == cf->cap_files) {
        cf->cap_files = cf->cap_files ? cf->cap_files * 2 : 8;
        cf->files = odin_realloc(cf->files, cf->cap_files * sizeof(*cf->files));
    }
    cf->files[cf->nfiles++] = f;
    cf->cur_open = true;
    return f;
}

/* True when [f->size, end) lies in space reserved for the file, reserving the next ALLOC_STEP
 * (at most to the file's end) when it does not. A file system that cannot reserve (no fallocate)
 * or a full disk leaves the write to pwritev, which reports the error. */
static bool room_locked(head_chunk_files *cf, cfile *f, uint64_t end)
{
    if (end <= f->alloc) {
        return true;
    }
    if (cf->no_fallocate) {
        return false;
    }
    uint64_t want = (end + ALLOC_STEP - 1) / ALLOC_STEP * ALLOC_STEP;
    want = want < HEAD_CHUNK_FILE_BYTES ? want : HEAD_CHUNK_FILE_BYTES;
    if (want < end) {
        return false;
    }
    if (f->alloc < f->size) {
        f->alloc = f->size; /* pwritev wrote past the reserved space */
    }
    /* fallocate, not posix_fallocate: glibc emulates the latter by writing zeros */
    if (fallocate(f->fd, 0, (off_t)f->alloc, (off_t)(want - f->alloc)) != 0) {
        if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) {
            cf->no_fallocate = true;
        }
        return false;
    }
#ifdef MADV_POPULATE_WRITE
    /* the pages the next records go to, mapped writable in one call instead of a write fault
     * each (one trap per 4 KiB, which under a hypervisor cost more than the copies); the space
     * is reserved, so this cannot meet a full disk. Older kernels refuse: faults as before. */
    uint64_t from = f->alloc / UNMAP_STEP * UNMAP_STEP; /* page-aligned, as madvise wants */
    (void)madvise(f->map + from, want - from, MADV_POPULATE_WRITE);
#endif
    f->alloc = want;
    return true;
}

/* Drops the whole WRITTEN_UNMAP_STEPs written so far from the page tables: a shared file mapping
 * loses only its page table entries (dirty pages stay in the page cache, marked dirty), never
 * data. */
static void unmap_written_locked(cfile *f)
{
    uint64_t done = f->size / WRITTEN_UNMAP_STEP * WRITTEN_UNMAP_STEP;
    if (done > f->unmapped) {
        madvise(f->map + f->unmapped, done - f->unmapped, MADV_DONTNEED);
        f->unmapped = done;
    }
}

enum { PIECES_MAX = 16 };

int head_chunk_files_write(head_chunk_files *cf, uint64_t ref, int64_t mint, const uint8_t *pre,
                           size_t npre, const uint8_t *b, uint32_t len, const uint8_t **out)
{
    head_chunk_piece d = {b, len};
    return head_chunk_files_writev(cf, ref, mint, pre, npre, &d, 1, out);
}

int head_chunk_files_writev(head_chunk_files *cf, uint64_t ref, int64_t mint, const uint8_t *pre,
                            size_t npre, const head_chunk_piece *d, int nd, const uint8_t **out)
{
    uint8_t head[RECORD_HEAD_MAX], tail[4];
    if (npre > RECORD_HEAD_MAX - 16 || nd < 1 || nd > PIECES_MAX) {
        return -1;
    }
    put_be64(head, ref);
    put_be64(head + 8, (uint64_t)mint);
    memcpy(head + 16, pre, npre);
    size_t hn = 16 + npre;
    uint32_t crc = tsdb_crc32c(0, head, hn);
    uint64_t len = 0;
    for (int i = 0; i < nd; i++) {
        crc = tsdb_crc32c(crc, d[i].p, d[i].len);
        len += d[i].len;
    }
    put_be32(tail, crc);
    uint64_t rec = hn + (uint64_t)len + sizeof(tail);
    if (rec > HEAD_CHUNK_FILE_BYTES - HEAD_CHUNK_FILE_HEADER) {
        return -1;
    }
    pthread_mutex_lock(&cf->mu);
    cfile *f = cf->cur_open ? cf->files[cf->nfiles - 1] : NULL;
    if (f && f->size + rec > HEAD_CHUNK_FILE_BYTES) {
        seal_locked(cf);
        f = NULL;
    }
    if (!f) {
        f = new_file_locked(cf);
        if (!f) {
            pthread_mutex_unlock(&cf->mu);
            return -1;
        }
    }
    if (room_locked(cf, f, f->size + rec)) {
        /* the space is allocated, so the page faults of these copies cannot meet a full disk
         * (a write fault that must allocate and cannot would be SIGBUS) */
        uint8_t *p = f->map + f->size;
        memcpy(p, head, hn);
        p += hn;
        for (int i = 0; i < nd; i++) {
            memcpy(p, d[i].p, d[i].len);
            p += d[i].len;
        }
        memcpy(p, tail, sizeof(tail));
    } else {
        struct iovec iov[PIECES_MAX + 2];
        iov[0] = (struct iovec){head, hn};
        for (int i = 0; i < nd; i++) {
            iov[i + 1] = (struct iovec){(void *)(uintptr_t)d[i].p, d[i].len};
        }
        iov[nd + 1] = (struct iovec){tail, sizeof(tail)};
        ssize_t w = pwritev(f->fd, iov, nd + 2, (off_t)f->size);
        if (w != (ssize_t)rec) {
            /* a short write leaves junk past f->size: the next record overwrites it, and
             * nothing reads there meanwhile */
            log_failure_locked(cf, w < 0 ? errno : ENOSPC, "writing head chunk file");
            if (f->live == 0) {
                /* start over with a fresh file on the next write (it may be the header that
                 * is missing space) */
                seal_locked(cf);
            }
            pthread_mutex_unlock(&cf->mu);
            return -1;
        }
    }
    if (cf->failing) {
        cf->failing = false;
        odin_log(ODIN_LOG_INFO, "tsdb", "head chunk file writes resumed", "dir", cf->dir, NULL);
    }
    *out = f->map + f->size + hn;
    f->size += rec;
    f->live++;
    unmap_written_locked(f);
    pthread_mutex_unlock(&cf->mu);
    return 0;
}

/* Drops the pages that records read back faulted in: only where they lie (the ranges are a few
 * MiB of the newest files: a cut reads parts written a minute or two before), since even a
 * madvise over page tables with nothing mapped walks them. */
static void unmap_rereads_locked(head_chunk_files *cf)
{
    for (size_t i = 0; i < cf->nfiles; i++) {
        cfile *f = cf->files[i];
        if (f->reread_hi > f->reread_lo) {
            /* whole UNMAP_STEPs: a read fault also maps the pages around it that are in the
             * page cache, in the 64 KiB-aligned window around it (the kernel's default
             * fault_around_bytes), and pages left mapped at the range's edges add up */
            uint64_t lo = f->reread_lo / UNMAP_STEP * UNMAP_STEP;
            uint64_t hi = (f->reread_hi + UNMAP_STEP - 1) / UNMAP_STEP * UNMAP_STEP;
            madvise(f->map + lo, (hi < f->unmapped ? hi : f->unmapped) - lo, MADV_DONTNEED);
            f->reread_lo = f->reread_hi = 0;
        }
    }
    cf->rereads = 0;
}

static bool drop(head_chunk_files *cf, const uint8_t *b, bool reread)
{
    if (cf == NULL) {
        return false;
    }
    pthread_mutex_lock(&cf->mu);
    bool found = false;
    /* newest first: truncation drops the oldest chunks, but a file holds ~64 MiB of them, so
     * the scan stays a handful of compares */
    for (size_t i = cf->nfiles; i-- > 0;) {
        cfile *f = cf->files[i];
        uintptr_t lo = (uintptr_t)f->map, p = (uintptr_t)b;
        if (p < lo || p >= lo + HEAD_CHUNK_FILE_BYTES) {
            continue;
        }
        found = true;
        uint64_t off = p - lo;
        if (reread && off < f->unmapped) {
            /* the reader read the prefix before the data too, and parts are well under 1 KiB
             * (a longer one's last page stays mapped until head_chunk_files_cool) */
            uint64_t from = off > RECORD_HEAD_MAX ? off - RECORD_HEAD_MAX : 0, to = off + 1024;
            if (f->reread_hi == 0) {
                f->reread_lo = from;
                f->reread_hi = to;
            }
            f->reread_lo = from < f->reread_lo ? from : f->reread_lo;
            f->reread_hi = to > f->reread_hi ? to : f->reread_hi;
            if (++cf->rereads >= HEAD_CHUNK_REREAD_BATCH) {
                unmap_rereads_locked(cf);
            }
        }
        if (f->live > 0) {
            f->live--;
            bool writing = cf->cur_open && i == cf->nfiles - 1;
            if (f->live == 0 && !writing) {
                remove_file_locked(cf, i);
            }
        }
        break;
    }
    pthread_mutex_unlock(&cf->mu);
    return found;
}

bool head_chunk_files_drop(head_chunk_files *cf, const uint8_t *b)
{
    return drop(cf, b, false);
}

bool head_chunk_files_drop_reread(head_chunk_files *cf, const uint8_t *b)
{
    return drop(cf, b, true);
}

void head_chunk_files_cool(head_chunk_files *cf)
{
    long page = sysconf(_SC_PAGESIZE);
    pthread_mutex_lock(&cf->mu);
    for (size_t i = 0; i < cf->nfiles; i++) {
        cfile *f = cf->files[i];
        uint64_t n = (f->size + (uint64_t)page - 1) / (uint64_t)page * (uint64_t)page;
        /* a shared file mapping: this drops page table entries only, never data */
        madvise(f->map, n, MADV_DONTNEED);
    }
    pthread_mutex_unlock(&cf->mu);
}

void head_chunk_files_use_pwritev(head_chunk_files *cf)
{
    pthread_mutex_lock(&cf->mu);
    cf->no_fallocate = true;
    pthread_mutex_unlock(&cf->mu);
}

void head_chunk_files_usage(head_chunk_files *cf, uint64_t *files, uint64_t *bytes)
{
    *files = 0;
    *bytes = 0;
    if (!cf) {
        return;
    }
    pthread_mutex_lock(&cf->mu);
    *files = cf->nfiles;
    for (size_t i = 0; i < cf->nfiles; i++) {
        *bytes += cf->files[i]->size;
    }
    pthread_mutex_unlock(&cf->mu);
}

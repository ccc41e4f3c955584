/* Prometheus' chunks_head/ on migration: each m-mapped head chunk is decoded and checked against
 * the head rebuilt from the WAL, then the directory is set aside (renamed, never deleted).
 * Block loading and WAL replay themselves live in db_blocks.c and db_wal.c. */
#include "tsdb/migrate.h"
#include "tsdb/chunk.h"
#include "tsdb/wal.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* chunks_head file layout (Prometheus tsdb/chunks/head_chunks.go, 2.19 to 3.x):
 *
 *   offset  size  meaning
 *   0       4     magic 0x0130BC91 (big-endian)
 *   4       1     version, 1
 *   5       3     padding
 *   then per chunk:
 *   0       8     head series ref (big-endian)
 *   8       8     mint (ms)
 *   16      8     maxt (ms)
 *   24      1     encoding (1 XOR, 2/3 histograms; top bit set: out-of-order chunk)
 *   25      var   data length (uvarint)
 *   ...     len   chunk data (count header included)
 *   ...     4     CRC32C of everything above from the series ref on
 *
 * Files are pre-sized, so the chunk list ends at the first all-zero header. */
enum {
    HEADCHUNK_MAGIC = 0x0130BC91,
    HEADCHUNK_FILE_HEADER = 8,
    HEADCHUNK_CHUNK_HEADER = 25,
    HEADCHUNK_MAX_FILE_BYTES = 1024 * 1024 * 1024,
};

typedef struct {
    uint64_t ref;
    int64_t mint, maxt;
    uint8_t enc;
    const uint8_t *data;
    uint32_t len;
    uint32_t file; /* index into the file list, for messages */
} mchunk;

typedef struct {
    char **names;     /* file names, sorted */
    odin_strbuf *buf; /* file contents */
    size_t n;
    mchunk *chunks;
    size_t nchunks, cap;
} chunk_files;

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool all_digits(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
    }
    return true;
}

static int name_cmp(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t lx = strlen(x), ly = strlen(y);
    return lx != ly ? (lx > ly) - (lx < ly) : strcmp(x, y);
}

static int list_files(const char *dir, chunk_files *cf, odin_err *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        return errno == ENOENT ? 0 : odin_err_errno(err, errno, "open %s", dir);
    }
    struct dirent *de;
    size_t cap = 0;
    while ((de = readdir(d)) != NULL) {
        if (!all_digits(de->d_name)) {
            continue;
        }
        if (cf->n == cap) {
            cap = cap ? cap * 2 : 8;
            cf->names = odin_realloc(cf->names, cap * sizeof(*cf->names));
        }
        cf->names[cf->n++] = odin_strdup(de->d_name);
    }
    closedir(d);
    if (cf->n) {
        qsort(cf->names, cf->n, sizeof(*cf->names), name_cmp);
    }
    cf->buf = odin_calloc(cf->n ? cf->n : 1, sizeof(*cf->buf));
    return 0;
}

static void add_chunk(chunk_files *cf, const mchunk *c)
{
    if (cf->nchunks == cf->cap) {
        cf->cap = cf->cap ? cf->cap * 2 : 1024;
        cf->chunks = odin_realloc(cf->chunks, cf->cap * sizeof(*cf->chunks));
    }
    cf->chunks[cf->nchunks++] = *c;
}

static bool zero_bytes(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

/* Parses one file's chunks into cf. A bad header is an error; a chunk that runs past the end or
 * fails its CRC ends the file (Prometheus truncates the same tail and replays the WAL). */
static int parse_file(chunk_files *cf, uint32_t fi, const char *path, migrate_chunks_stats *st,
                      odin_err *err)
{
    const uint8_t *p = (const uint8_t *)cf->buf[fi].p;
    size_t len = cf->buf[fi].len;
    if (len < HEADCHUNK_FILE_HEADER || be32(p) != HEADCHUNK_MAGIC) {
        return odin_err_set(err, ODIN_ERR_CORRUPT,
                            "%s: not a Prometheus head chunk file (magic 0x0130BC91 expected)",
                            path);
    }
    if (p[4] != 1) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE,
                            "%s: head chunk file version %u is not supported (1 is)", path, p[4]);
    }
    size_t off = HEADCHUNK_FILE_HEADER;
    while (len - off >= HEADCHUNK_CHUNK_HEADER) {
        const uint8_t *h = p + off;
        if (zero_bytes(h, HEADCHUNK_CHUNK_HEADER)) {
            return 0; /* the pre-sized rest of the file */
        }
        uint64_t dlen;
        size_t vn;
        size_t at = off + HEADCHUNK_CHUNK_HEADER;
        if (tsdb_get_uvarint(p + at, len - at, &dlen, &vn) < 0 || dlen > len - at - vn ||
            len - at - vn - dlen < 4) {
            break;
        }
        size_t data_at = at + vn;
        uint32_t crc = tsdb_crc32c(0, h, data_at + dlen - off);
        if (crc != be32(p + data_at + dlen)) {
            break;
        }
        mchunk c = {.ref = be64(h),
                    .mint = (int64_t)be64(h + 8),
                    .maxt = (int64_t)be64(h + 16),
                    .enc = h[24],
                    .data = p + data_at,
                    .len = (uint32_t)dlen,
                    .file = fi};
        add_chunk(cf, &c);
        off = data_at + dlen + 4;
    }
    if (len - off > 0 && !zero_bytes(p + off, len - off)) {
        st->torn++;
        odin_log(ODIN_LOG_WARN, "tsdb",
                 "head chunk file has a torn or corrupt tail; the WAL holds "
                 "those samples",
                 "file", path, NULL);
    }
    return 0;
}

static int chunk_cmp(const void *a, const void *b)
{
    const mchunk *x = a, *y = b;
    if (x->ref != y->ref) {
        return (x->ref > y->ref) - (x->ref < y->ref);
    }
    return (x->mint > y->mint) - (x->mint < y->mint);
}

typedef struct {
    int64_t t;
    uint64_t vbits;
} tv;

/* The head's samples of s at or after t, in time order (heap array; caller frees). */
static tv *head_samples(tsdb *db, head_series *s, int64_t t, size_t *n)
{
    head_chunk *cs;
    size_t nc = head_series_chunks_since(&db->head, s, t, &cs);
    size_t cap = 0, len = 0;
    tv *out = NULL;
    for (size_t c = 0; c < nc; c++) {
        xor_iter it;
        xor_iter_init(&it, cs[c].b, head_chunk_len(&cs[c]));
        int64_t st;
        double sv;
        while (xor_iter_next(&it, &st, &sv)) {
            if (len == cap) {
                cap = cap ? cap * 2 : 256;
                out = odin_realloc(out, cap * sizeof(*out));
            }
            out[len].t = st;
            memcpy(&out[len].vbits, &sv, 8);
            len++;
        }
    }
    head_chunks_release(cs, nc);
    *n = len;
    return out;
}

static bool has_sample(const tv *v, size_t n, int64_t t, uint64_t bits)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].t < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && v[lo].t == t && v[lo].vbits == bits;
}

/* Checks the chunks [from, to) of one series ref; returns the index of a chunk with missing
 * samples, or `to` when all are accounted for. */
static size_t verify_series(tsdb *db, const odin_map *refs, const mchunk *c, size_t from, size_t to,
                            migrate_chunks_stats *st)
{
    int64_t min_valid = atomic_load(&db->min_valid_t);
    head_series *s = odin_map_get(refs, &c[from].ref, sizeof(c[from].ref));
    size_t nh = 0;
    tv *hv = s ? head_samples(db, s, c[from].mint, &nh) : NULL;
    size_t bad = to;
    for (size_t i = from; i < to; i++) {
        if (c[i].enc != 1) {
            st->skipped_chunks++;
            continue;
        }
        xor_iter it;
        xor_iter_init(&it, c[i].data, c[i].len);
        int64_t t;
        double v;
        while (xor_iter_next(&it, &t, &v)) {
            uint64_t bits;
            memcpy(&bits, &v, 8);
            st->samples++;
            if (t < min_valid) {
                st->in_blocks++;
            } else if (has_sample(hv, nh, t, bits)) {
                st->covered++;
            } else {
                st->missing++;
                bad = bad == to ? i : bad;
            }
        }
    }
    free(hv);
    return bad;
}

static void log_stats(const migrate_chunks_stats *st)
{
    const char *keys[] = {"files",     "chunks",  "samples",        "covered_by_wal",
                          "in_blocks", "missing", "skipped_chunks", "torn_files"};
    uint64_t vals[] = {st->files,     st->chunks,  st->samples,        st->covered,
                       st->in_blocks, st->missing, st->skipped_chunks, st->torn};
    char buf[8][24];
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (size_t i = 0; i < 8; i++) {
        odin_strbuf_reset(&b);
        odin_strbuf_put_u64(&b, vals[i]);
        memcpy(buf[i], b.p, b.len + 1);
    }
    odin_strbuf_fini(&b);
    odin_log(ODIN_LOG_INFO, "tsdb", "checked Prometheus head chunks against the WAL", keys[0],
             buf[0], keys[1], buf[1], keys[2], buf[2], keys[3], buf[3], keys[4], buf[4], keys[5],
             buf[5], keys[6], buf[6], keys[7], buf[7], NULL);
}

/* Renames chunks_head out of Prometheus' way (see migrate.h); the first free suffix wins. */
static int set_aside(const char *dir, const char *from, odin_err *err)
{
    odin_strbuf to;
    odin_strbuf_init(&to, 0);
    int rc = 0;
    for (int i = 0;; i++) {
        odin_strbuf_reset(&to);
        odin_strbuf_printf(&to, "%s/chunks_head.from-prometheus", dir);
        if (i) {
            odin_strbuf_printf(&to, ".%d", i);
        }
        struct stat sb;
        if (stat(to.p, &sb) != 0) {
            break;
        }
    }
    if (rename(from, to.p) != 0) {
        rc = odin_err_errno(err, errno, "rename %s to %s", from, to.p);
    } else {
        odin_log(ODIN_LOG_INFO, "tsdb",
                 "set Prometheus head chunks aside (every sample is in the "
                 "WAL or a block; safe to delete once Odin has cut a block)",
                 "dir", to.p, NULL);
    }
    odin_strbuf_fini(&to);
    return rc;
}

static void files_fini(chunk_files *cf)
{
    for (size_t i = 0; i < cf->n; i++) {
        free(cf->names[i]);
        odin_strbuf_fini(&cf->buf[i]);
    }
    free(cf->names);
    free(cf->buf);
    free(cf->chunks);
}

int tsdb_migrate_head_chunks(tsdb *db, const odin_map *refs, migrate_chunks_stats *st,
                             odin_err *err)
{
    memset(st, 0, sizeof(*st));
    if (!db->dir) {
        return 0;
    }
    odin_strbuf dir, path;
    odin_strbuf_init(&dir, 0);
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&dir, "%s/chunks_head", db->dir);
    chunk_files cf = {0};
    int rc = list_files(dir.p, &cf, err);
    for (size_t i = 0; rc == 0 && i < cf.n; i++) {
        odin_strbuf_reset(&path);
        odin_strbuf_printf(&path, "%s/%s", dir.p, cf.names[i]);
        odin_strbuf_init(&cf.buf[i], 0);
        rc = odin_read_file(path.p, &cf.buf[i], HEADCHUNK_MAX_FILE_BYTES, err);
        if (rc == 0) {
            rc = parse_file(&cf, (uint32_t)i, path.p, st, err);
        }
    }
    st->files = cf.n;
    st->chunks = cf.nchunks;
    if (rc == 0 && cf.nchunks) {
        qsort(cf.chunks, cf.nchunks, sizeof(*cf.chunks), chunk_cmp);
    }
    for (size_t i = 0; rc == 0 && i < cf.nchunks;) {
        size_t j = i;
        while (j < cf.nchunks && cf.chunks[j].ref == cf.chunks[i].ref) {
            j++;
        }
        size_t bad = verify_series(db, refs, cf.chunks, i, j, st);
        if (bad != j) {
            const mchunk *c = &cf.chunks[bad];
            rc = odin_err_set(err, ODIN_ERR_CORRUPT,
                              "%s/%s: chunk of series ref %llu [%lld, %lld] holds samples that are "
                              "in neither the WAL nor a block; refusing to start so they are not "
                              "lost (run Prometheus on this directory until it cuts a block, or "
                              "move the file away to accept the loss)",
                              dir.p, cf.names[c->file], (unsigned long long)c->ref,
                              (long long)c->mint, (long long)c->maxt);
        }
        i = j;
    }
    if (cf.n) {
        log_stats(st);
    }
    if (rc == 0 && cf.n && !db->opts.read_only) {
        rc = set_aside(db->dir, dir.p, err);
    }
    files_fini(&cf);
    odin_strbuf_fini(&dir);
    odin_strbuf_fini(&path);
    return rc;
}

/* Reads persisted blocks (ours or Prometheus'): maps index and chunk segments, checks every length,
 * offset and CRC before use, and answers selects with the head querier's matcher semantics.
 * Corrupt bytes become ODIN_ERR_CORRUPT naming the file and offset, never a read out of bounds. */
#include "tsdb/block_int.h"
#include "tsdb/chunk.h"
#include "tsdb/tombstones.h"
#include "tsdb/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { META_MAX_BYTES = 16 << 20, MAX_SEGMENTS = 1 << 20 };

/* ---- Cursor (declared in block_int.h) ---------------------------------------------------------- */

uint64_t block_dec_uvarint(block_dec *d)
{
    uint64_t v;
    size_t n;
    if (d->bad || tsdb_get_uvarint(d->p + d->pos, d->len - d->pos, &v, &n) < 0) {
        d->bad = true;
        return 0;
    }
    d->pos += n;
    return v;
}

int64_t block_dec_varint(block_dec *d)
{
    int64_t v;
    size_t n;
    if (d->bad || tsdb_get_varint(d->p + d->pos, d->len - d->pos, &v, &n) < 0) {
        d->bad = true;
        return 0;
    }
    d->pos += n;
    return v;
}

odin_str block_dec_str(block_dec *d)
{
    size_t at = d->pos;
    uint64_t n = block_dec_uvarint(d);
    if (d->bad || n > d->len - d->pos) {
        d->bad = true;
        d->pos = at;
        return (odin_str){"", 0};
    }
    odin_str s = {(const char *)d->p + d->pos, (size_t)n};
    d->pos += (size_t)n;
    return s;
}

/* ---- The block object -------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t len;
} mapped;

typedef struct {
    odin_str value; /* points into the index map */
    uint64_t off;   /* of the postings list */
} pt_value;

typedef struct {
    odin_str name;
    size_t first, n; /* range of values[] */
} pt_name;

/* Owned by whoever opened it; shared by reference (block_ref/unref, atomic count). Everything but
 * `refs`, `deleted` and the tombstones is fixed after block_open, so readers need no lock for it.
 * `ts_lock` guards `ts` and `ts_mtx` serializes deletions (ts_mtx before ts_lock). */
struct tsdb_block {
    char *path;
    char *index_path;
    char *chunks_dir;
    block_meta_file mf;
    mapped idx;
    mapped *segs;
    size_t nsegs;
    uint64_t toc[6];
    size_t *sym_off; /* index offset of each symbol's length prefix */
    uint32_t nsyms;
    pt_name *names;  /* sorted; names[0] is "" (all postings) in a well-formed index */
    size_t nnames;
    pt_value *values;
    size_t nvalues;
    atomic_int refs;
    atomic_bool deleted;
    pthread_mutex_t ts_mtx;
    pthread_rwlock_t ts_lock;
    tsdb_tombstones ts;
};

static int corrupt(odin_err *err, const char *file, size_t off, const char *what)
{
    return odin_err_set(err, ODIN_ERR_CORRUPT, "%s: offset %zu: %s", file, off, what);
}

static int map_file(const char *path, mapped *m, uint64_t *size, odin_err *err)
{
    m->p = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return odin_err_errno(err, errno, "open %s", path);
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = odin_err_errno(err, errno, "stat %s", path);
    } else if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            rc = odin_err_errno(err, errno, "mmap %s", path);
        } else {
            m->p = p;
            m->len = (size_t)st.st_size;
        }
    }
    if (size) {
        *size += m->len;
    }
    close(fd);
    return rc;
}

static void unmap(mapped *m)
{
    if (m->p) {
        munmap((void *)(uintptr_t)m->p, m->len);
    }
    m->p = NULL;
    m->len = 0;
}

/* Drops the pages of m that this process touched from its resident set; they stay in the page
 * cache and fault back in when read. */
static void cool(const mapped *m)
{
    if (m->p) {
        madvise((void *)(uintptr_t)m->p, m->len, MADV_DONTNEED);
    }
}

/* A `len(4) | content | CRC32C(4)` section at off: on success *d covers the content and *base is
 * the file offset of its first byte. */
static int section_at(const tsdb_block *b, uint64_t off, const char *what, block_dec *d,
                      size_t *base, odin_err *err)
{
    const mapped *m = &b->idx;
    if (off > m->len || m->len - off < 8) {
        return corrupt(err, b->index_path, (size_t)off, what);
    }
    uint32_t len = block_get_be32(m->p + off);
    if (len > m->len - off - 8) {
        return corrupt(err, b->index_path, (size_t)off, what);
    }
    const uint8_t *c = m->p + off + 4;
    if (tsdb_crc32c(0, c, len) != block_get_be32(c + len)) {
        return corrupt(err, b->index_path, (size_t)off, "checksum mismatch");
    }
    *d = block_dec_make(c, len);
    *base = (size_t)off + 4;
    return 0;
}

static int load_toc(tsdb_block *b, odin_err *err)
{
    const mapped *m = &b->idx;
    if (m->len < BLOCK_INDEX_HEADER_BYTES + BLOCK_TOC_BYTES) {
        return corrupt(err, b->index_path, 0, "file too short for header and TOC");
    }
    if (block_get_be32(m->p) != BLOCK_INDEX_MAGIC) {
        return corrupt(err, b->index_path, 0, "bad magic number");
    }
    if (m->p[4] != BLOCK_INDEX_FORMAT) {
        return corrupt(err, b->index_path, 4, "unsupported index format (want 2)");
    }
    const uint8_t *toc = m->p + m->len - BLOCK_TOC_BYTES;
    if (tsdb_crc32c(0, toc, 48) != block_get_be32(toc + 48)) {
        return corrupt(err, b->index_path, m->len - BLOCK_TOC_BYTES, "TOC checksum mismatch");
    }
    for (int i = 0; i < 6; i++) {
        b->toc[i] = block_get_be64(toc + 8 * i);
        if (b->toc[i] > m->len - BLOCK_TOC_BYTES) {
            return corrupt(err, b->index_path, m->len - BLOCK_TOC_BYTES + 8 * (size_t)i,
                           "TOC offset past the end");
        }
    }
    return 0;
}

static int load_symbols(tsdb_block *b, odin_err *err)
{
    block_dec d;
    size_t base;
    if (section_at(b, b->toc[0], "symbol table", &d, &base, err) < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    uint32_t n = block_dec_be32(&d);
    /* each symbol takes at least one byte: a larger count is a lie we must not allocate for */
    if (d.bad || n > block_dec_left(&d)) {
        return corrupt(err, b->index_path, base, "bad symbol count");
    }
    b->sym_off = odin_malloc((n ? n : 1) * sizeof(*b->sym_off));
    for (uint32_t i = 0; i < n; i++) {
        b->sym_off[i] = base + d.pos;
        block_dec_str(&d);
        if (d.bad) {
            return corrupt(err, b->index_path, base + d.pos, "truncated symbol");
        }
    }
    b->nsyms = n;
    return 0;
}

/* Symbols were bounds-checked at open, so a valid ref decodes without further checks failing. */
static int lookup_symbol(const tsdb_block *b, uint64_t ref, odin_str *out)
{
    if (ref >= b->nsyms) {
        return -1;
    }
    size_t off = b->sym_off[ref];
    block_dec d = block_dec_make(b->idx.p + off, b->idx.len - off);
    *out = block_dec_str(&d);
    return d.bad ? -1 : 0;
}

static bool pt_add_value(tsdb_block *b, size_t *cap, odin_str name, odin_str value, uint64_t off)
{
    pt_name *last = b->nnames ? &b->names[b->nnames - 1] : NULL;
    if (last && odin_str_eq(last->name, name)) {
        if (odin_str_cmp(b->values[b->nvalues - 1].value, value) >= 0) {
            return false;
        }
    } else {
        if (last && odin_str_cmp(last->name, name) >= 0) {
            return false;
        }
        b->names = odin_realloc(b->names, (b->nnames + 1) * sizeof(*b->names));
        b->names[b->nnames++] = (pt_name){name, b->nvalues, 0};
        last = &b->names[b->nnames - 1];
    }
    if (b->nvalues == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        b->values = odin_realloc(b->values, *cap * sizeof(*b->values));
    }
    b->values[b->nvalues++] = (pt_value){value, off};
    last->n++;
    return true;
}

static int load_postings_table(tsdb_block *b, odin_err *err)
{
    block_dec d;
    size_t base;
    if (section_at(b, b->toc[5], "postings offset table", &d, &base, err) < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    uint32_t n = block_dec_be32(&d);
    size_t cap = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t at = d.pos;
        uint64_t keys = block_dec_uvarint(&d);
        odin_str name = block_dec_str(&d);
        odin_str value = block_dec_str(&d);
        uint64_t off = block_dec_uvarint(&d);
        if (d.bad || keys != 2) {
            return corrupt(err, b->index_path, base + at, "bad postings offset table entry");
        }
        if (off >= b->idx.len) {
            return corrupt(err, b->index_path, base + at, "postings offset past the end");
        }
        if (!pt_add_value(b, &cap, name, value, off)) {
            return corrupt(err, b->index_path, base + at, "postings offset table not sorted");
        }
    }
    if (d.bad || block_dec_left(&d) != 0) {
        return corrupt(err, b->index_path, base + d.pos, "postings offset table length mismatch");
    }
    return 0;
}

static const pt_name *find_name(const tsdb_block *b, odin_str name)
{
    size_t lo = 0, hi = b->nnames;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = odin_str_cmp(b->names[mid].name, name);
        if (c == 0) {
            return &b->names[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static const pt_value *find_value(const tsdb_block *b, const pt_name *nm, odin_str value)
{
    size_t lo = nm->first, hi = nm->first + nm->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = odin_str_cmp(b->values[mid].value, value);
        if (c == 0) {
            return &b->values[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* ---- Chunk segments and tombstones ------------------------------------------------------------- */

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

typedef struct {
    uint64_t num;
    char *name;
} seg_name;

static int seg_cmp(const void *a, const void *b)
{
    const seg_name *x = a, *y = b;
    return (x->num > y->num) - (x->num < y->num);
}

static int list_segments(const char *dir, seg_name **out, size_t *n, odin_err *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        return odin_err_errno(err, errno, "open %s", dir);
    }
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        uint64_t num;
        if (!all_digits(e->d_name) || odin_parse_u64(odin_str_c(e->d_name), &num) < 0) {
            continue;
        }
        if (*n == MAX_SEGMENTS) {
            rc = odin_err_set(err, ODIN_ERR_LIMIT, "%s: more than %d segments", dir, MAX_SEGMENTS);
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = odin_realloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = (seg_name){num, odin_strdup(e->d_name)};
    }
    closedir(d);
    if (*n > 1) {
        qsort(*out, *n, sizeof(**out), seg_cmp);
    }
    return rc;
}

static int open_segments(tsdb_block *b, uint64_t *size, odin_err *err)
{
    seg_name *names = NULL;
    size_t n = 0;
    int rc = list_segments(b->chunks_dir, &names, &n, err);
    b->segs = odin_calloc(n ? n : 1, sizeof(*b->segs));
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        odin_strbuf_reset(&p);
        odin_strbuf_printf(&p, "%s/%s", b->chunks_dir, names[i].name);
        rc = map_file(p.p, &b->segs[i], size, err);
        b->nsegs = i + 1;
        const mapped *m = &b->segs[i];
        if (rc == 0 && (m->len < BLOCK_CHUNKS_HEADER_BYTES ||
                        block_get_be32(m->p) != BLOCK_CHUNKS_MAGIC)) {
            rc = corrupt(err, p.p, 0, "bad chunk segment header");
        } else if (rc == 0 && m->p[4] != BLOCK_CHUNKS_FORMAT) {
            rc = corrupt(err, p.p, 4, "unsupported chunk segment format");
        }
    }
    odin_strbuf_fini(&p);
    for (size_t i = 0; i < n; i++) {
        free(names[i].name);
    }
    free(names);
    return rc;
}

/* Loads the deletion intervals, which reads and compaction apply (a missing file means none). */
static int load_tombstones(tsdb_block *b, uint64_t *size, odin_err *err)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/tombstones", b->path);
    mapped m;
    int rc = 0;
    if (access(p.p, F_OK) == 0) {
        rc = map_file(p.p, &m, size, err);
        if (rc == 0) {
            rc = tombstones_decode(m.p, m.len, p.p, &b->ts, err);
        }
        unmap(&m);
    }
    odin_strbuf_fini(&p);
    return rc;
}

/* ---- Open and lifetime ------------------------------------------------------------------------- */

static int read_meta(tsdb_block *b, uint64_t *size, odin_err *err)
{
    odin_strbuf p, text;
    odin_strbuf_init(&p, 0);
    odin_strbuf_init(&text, 0);
    odin_strbuf_printf(&p, "%s/meta.json", b->path);
    int rc = odin_read_file(p.p, &text, META_MAX_BYTES, err);
    if (rc == 0) {
        rc = block_meta_parse(text.p, text.len, p.p, &b->mf, err);
        *size += text.len;
    }
    odin_strbuf_fini(&p);
    odin_strbuf_fini(&text);
    return rc;
}

static void block_free(tsdb_block *b)
{
    unmap(&b->idx);
    for (size_t i = 0; i < b->nsegs; i++) {
        unmap(&b->segs[i]);
    }
    free(b->segs);
    free(b->sym_off);
    free(b->names);
    free(b->values);
    block_meta_file_fini(&b->mf);
    free(b->path);
    free(b->index_path);
    free(b->chunks_dir);
    tombstones_fini(&b->ts);
    pthread_mutex_destroy(&b->ts_mtx);
    pthread_rwlock_destroy(&b->ts_lock);
    free(b);
}

tsdb_block *block_open(const char *path, odin_err *err)
{
    tsdb_block *b = odin_calloc(1, sizeof(*b));
    b->path = odin_strdup(path);
    odin_strbuf s;
    odin_strbuf_init(&s, 0);
    odin_strbuf_printf(&s, "%s/index", path);
    b->index_path = odin_strbuf_take(&s, NULL);
    odin_strbuf_printf(&s, "%s/chunks", path);
    b->chunks_dir = odin_strbuf_take(&s, NULL);
    odin_strbuf_fini(&s);
    atomic_init(&b->refs, 1);
    atomic_init(&b->deleted, false);
    pthread_mutex_init(&b->ts_mtx, NULL);
    pthread_rwlock_init(&b->ts_lock, NULL);
    uint64_t size = 0;
    if (read_meta(b, &size, err) < 0 || map_file(b->index_path, &b->idx, &size, err) < 0 ||
        load_toc(b, err) < 0 || load_symbols(b, err) < 0 || load_postings_table(b, err) < 0 ||
        open_segments(b, &size, err) < 0 || load_tombstones(b, &size, err) < 0) {
        block_free(b);
        return NULL;
    }
    b->mf.m.size_bytes = size;
    /* opening read the symbol and postings tables and the segment headers through the mappings
     * (the symbols are kept as offsets into them): ~20 bytes a series of a fresh block's index
     * that would stay resident until unmapped, though a query reads a small part of it */
    cool(&b->idx);
    for (size_t i = 0; i < b->nsegs; i++) {
        cool(&b->segs[i]);
    }
    return b;
}

void block_ref(tsdb_block *b)
{
    atomic_fetch_add(&b->refs, 1);
}

void block_mark_deleted(tsdb_block *b)
{
    atomic_store(&b->deleted, true);
}

/* Deletes as Prometheus does: rename out of the way first, so a crash mid-delete leaves a
 * *.tmp-for-deletion directory that start-up removes, never a half block under a ULID name. */
static void delete_dir(const char *path)
{
    odin_err err;
    odin_err_clear(&err);
    odin_strbuf tmp;
    odin_strbuf_init(&tmp, 0);
    odin_strbuf_printf(&tmp, "%s.tmp-for-deletion", path);
    const char *target = path;
    if (rename(path, tmp.p) == 0) {
        target = tmp.p;
    }
    if (block_remove_dir(target, &err) < 0) {
        odin_log(ODIN_LOG_ERROR, "tsdb", "deleting block failed", "block", path, "err", err.msg,
                 NULL);
    }
    odin_strbuf_fini(&tmp);
}

void block_unref(tsdb_block *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1) {
        return;
    }
    bool del = atomic_load(&b->deleted);
    char *path = del ? odin_strdup(b->path) : NULL;
    block_free(b);
    if (del) {
        delete_dir(path);
        free(path);
    }
}

const block_meta *block_get_meta(const tsdb_block *b)
{
    return &b->mf.m;
}

const char *block_path(const tsdb_block *b)
{
    return b->path;
}

int block_chunk_encodings(const tsdb_block *b, unsigned *mask, odin_err *err)
{
    *mask = 0;
    for (size_t i = 0; i < b->nsegs; i++) {
        const mapped *m = &b->segs[i];
        size_t off = BLOCK_CHUNKS_HEADER_BYTES;
        while (off < m->len) {
            uint64_t len;
            size_t n;
            if (tsdb_get_uvarint(m->p + off, m->len - off, &len, &n) < 0 || len > m->len ||
                m->len - off - n < 1 + len + 4) {
                return odin_err_set(err, ODIN_ERR_CORRUPT, "%s/%06zu: offset %zu: bad chunk",
                                    b->chunks_dir, i + 1, off);
            }
            uint8_t enc = m->p[off + n];
            *mask |= enc == TSDB_ENC_XOR    ? BLOCK_HAS_XOR
                     : enc == TSDB_ENC_ODIN ? BLOCK_HAS_ODIN
                                            : BLOCK_HAS_OTHER;
            off += n + 1 + (size_t)len + 4;
        }
    }
    return 0;
}

/* ---- Postings and series ----------------------------------------------------------------------- */

static void *aalloc(odin_arena *a, size_t n, odin_err *err)
{
    void *p = odin_arena_alloc(a, n ? n : 1);
    if (!p) {
        odin_err_set(err, ODIN_ERR_LIMIT, "block query: memory limit of %zu bytes reached",
                     a->cap_bytes);
    }
    return p;
}

/* The series IDs of the postings list at off, into the arena. */
static int read_postings(const tsdb_block *b, uint64_t off, odin_arena *a, uint32_t **ids,
                         size_t *n, odin_err *err)
{
    block_dec d;
    size_t base;
    if (section_at(b, off, "postings list", &d, &base, err) < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    uint32_t cnt = block_dec_be32(&d);
    if (d.bad || block_dec_left(&d) / 4 != cnt || block_dec_left(&d) % 4 != 0) {
        return corrupt(err, b->index_path, base, "postings list length mismatch");
    }
    uint32_t *v = aalloc(a, cnt * sizeof(*v), err);
    if (!v) {
        return -ODIN_ERR_LIMIT;
    }
    for (uint32_t i = 0; i < cnt; i++) {
        v[i] = block_dec_be32(&d);
        if (i > 0 && v[i] <= v[i - 1]) {
            return corrupt(err, b->index_path, base + d.pos - 4, "postings list not ascending");
        }
    }
    *ids = v;
    *n = cnt;
    return 0;
}

static size_t intersect(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) {
            i++;
        } else if (a[i] > b[j]) {
            j++;
        } else {
            out[k++] = a[i];
            i++;
            j++;
        }
    }
    return k;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Series IDs for one matcher that does not match "": the exact list for =, else the union of the
 * lists of every value of the name that matches (disjoint: a series has one value per name). */
static int matcher_postings(const tsdb_block *b, const tsdb_matcher *m, odin_arena *a,
                            uint32_t **out, size_t *n, odin_err *err)
{
    *out = NULL;
    *n = 0;
    const pt_name *nm = find_name(b, odin_str_c(m->name));
    if (!nm) {
        return 0;
    }
    if (m->type == TSDB_MATCH_EQ) {
        const pt_value *v = find_value(b, nm, odin_str_c(m->value));
        return v ? read_postings(b, v->off, a, out, n, err) : 0;
    }
    uint32_t *all = NULL;
    size_t total = 0, cap = 0;
    for (size_t i = nm->first; i < nm->first + nm->n; i++) {
        if (!tsdb_matcher_matches(m, b->values[i].value)) {
            continue;
        }
        uint32_t *ids;
        size_t k;
        int rc = read_postings(b, b->values[i].off, a, &ids, &k, err);
        if (rc < 0) {
            return rc;
        }
        if (total + k > cap) {
            cap = (total + k) * 2;
            uint32_t *na = aalloc(a, cap * sizeof(*na), err);
            if (!na) {
                return -ODIN_ERR_LIMIT;
            }
            if (total) {
                memcpy(na, all, total * sizeof(*na));
            }
            all = na;
        }
        if (k) {
            memcpy(all + total, ids, k * sizeof(*ids));
        }
        total += k;
    }
    if (total > 1) {
        qsort(all, total, sizeof(*all), u32_cmp);
    }
    *out = all;
    *n = total;
    return 0;
}

/* Resolves a chunk ref to its bytes, as Prometheus' chunks.Reader does, with every bound checked. */
static int read_chunk(const tsdb_block *b, uint64_t ref, block_chunk *c, odin_err *err)
{
    size_t seg = (size_t)(ref >> 32), off = (size_t)(uint32_t)ref;
    if (seg >= b->nsegs) {
        return odin_err_set(err, ODIN_ERR_CORRUPT, "%s: chunk ref %llu: segment %zu missing",
                            b->index_path, (unsigned long long)ref, seg + 1);
    }
    const mapped *m = &b->segs[seg];
    uint64_t len;
    size_t n;
    if (off < BLOCK_CHUNKS_HEADER_BYTES || off >= m->len ||
        tsdb_get_uvarint(m->p + off, m->len - off, &len, &n) < 0 || len > m->len ||
        m->len - off - n < 1 + len + 4) {
        return odin_err_set(err, ODIN_ERR_CORRUPT, "%s/%06zu: offset %zu: bad chunk",
                            b->chunks_dir, seg + 1, off);
    }
    const uint8_t *enc = m->p + off + n;
    if (tsdb_crc32c(0, enc, 1 + len) != block_get_be32(enc + 1 + len)) {
        return odin_err_set(err, ODIN_ERR_CORRUPT, "%s/%06zu: offset %zu: chunk checksum mismatch",
                            b->chunks_dir, seg + 1, off);
    }
    if (*enc != TSDB_ENC_XOR && *enc != TSDB_ENC_ODIN) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "%s/%06zu: offset %zu: chunk encoding %u is not supported (only XOR "
                            "and Odin's)", b->chunks_dir, seg + 1, off, *enc);
    }
    if (tsdb_chunk_encoding(enc + 1, (size_t)len) != *enc) {
        /* chunk readers tell the encodings apart by the bytes: they must agree with the byte */
        return odin_err_set(err, ODIN_ERR_CORRUPT,
                            "%s/%06zu: offset %zu: chunk bytes do not match encoding %u",
                            b->chunks_dir, seg + 1, off, *enc);
    }
    c->b = enc + 1;
    c->len = (uint32_t)len;
    return 0;
}

static bool chunk_touched(const block_chunk *c, const tsdb_tombstone *iv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (iv[i].mint <= c->maxt && iv[i].maxt >= c->mint) {
            return true;
        }
    }
    return false;
}

/* Drops the deleted samples of series `id` from its chunks: untouched chunks stay as mapped,
 * touched ones are re-encoded into the arena, emptied ones go. */
static int apply_tombstones(tsdb_block *b, uint32_t id, odin_arena *a, block_series *out,
                            odin_err *err)
{
    pthread_rwlock_rdlock(&b->ts_lock);
    const tsdb_tombstone *iv;
    size_t niv = tombstones_get(&b->ts, id, &iv);
    int rc = 0;
    size_t w = 0;
    for (size_t i = 0; i < out->nchunks && rc >= 0; i++) {
        block_chunk c = out->chunks[i];
        if (niv == 0 || !chunk_touched(&c, iv, niv)) {
            out->chunks[w++] = c;
            continue;
        }
        rc = tombstones_apply_chunk(&c, iv, niv, a, &out->chunks[w], err);
        w += rc == 1;
    }
    pthread_rwlock_unlock(&b->ts_lock);
    out->nchunks = w;
    return rc < 0 ? rc : 0;
}

/* Decodes the series entry of `id`: labels copied into the arena and the chunks overlapping
 * [mint, maxt] resolved to their bytes. */
static int read_series(tsdb_block *b, uint32_t id, int64_t mint, int64_t maxt,
                       odin_arena *a, block_series *out, odin_err *err)
{
    size_t off = (size_t)id * BLOCK_SERIES_ALIGN;
    block_dec d = block_dec_make(b->idx.p, b->idx.len);
    d.pos = off < b->idx.len ? off : b->idx.len;
    uint64_t len = block_dec_uvarint(&d);
    if (d.bad || len > block_dec_left(&d) || block_dec_left(&d) - len < 4) {
        return corrupt(err, b->index_path, off, "bad series entry");
    }
    const uint8_t *c = d.p + d.pos;
    if (tsdb_crc32c(0, c, (size_t)len) != block_get_be32(c + len)) {
        return corrupt(err, b->index_path, off, "series checksum mismatch");
    }
    size_t base = d.pos;
    d = block_dec_make(c, (size_t)len);
    uint64_t nl = block_dec_uvarint(&d);
    if (d.bad || nl > block_dec_left(&d) / 2) {
        return corrupt(err, b->index_path, base, "bad series label count");
    }
    out->labels.v = aalloc(a, nl * sizeof(odin_label), err);
    if (!out->labels.v) {
        return -ODIN_ERR_LIMIT;
    }
    out->labels.len = nl;
    for (size_t i = 0; i < nl; i++) {
        odin_str nm, val;
        uint64_t rn = block_dec_uvarint(&d), rv = block_dec_uvarint(&d);
        if (d.bad || lookup_symbol(b, rn, &nm) < 0 || lookup_symbol(b, rv, &val) < 0) {
            return corrupt(err, b->index_path, base + d.pos, "bad label symbol reference");
        }
        out->labels.v[i] = (odin_label){nm, val};
    }
    uint64_t nc = block_dec_uvarint(&d);
    if (d.bad || nc > block_dec_left(&d) / 3) {
        return corrupt(err, b->index_path, base + d.pos, "bad chunk count");
    }
    out->chunks = aalloc(a, nc * sizeof(block_chunk), err);
    if (!out->chunks) {
        return -ODIN_ERR_LIMIT;
    }
    out->nchunks = 0;
    int64_t t0 = 0;
    uint64_t ref = 0;
    for (size_t i = 0; i < nc; i++) {
        int64_t cmint = i == 0 ? block_dec_varint(&d) : t0 + (int64_t)block_dec_uvarint(&d);
        int64_t cmaxt = cmint + (int64_t)block_dec_uvarint(&d);
        ref = i == 0 ? block_dec_uvarint(&d) : ref + (uint64_t)block_dec_varint(&d);
        if (d.bad) {
            return corrupt(err, b->index_path, base + d.pos, "truncated chunk meta");
        }
        t0 = cmaxt;
        if (cmaxt < mint || cmint > maxt) {
            continue;
        }
        block_chunk *ch = &out->chunks[out->nchunks];
        ch->mint = cmint;
        ch->maxt = cmaxt;
        int rc = read_chunk(b, ref, ch, err);
        if (rc < 0) {
            return rc;
        }
        out->nchunks++;
    }
    return apply_tombstones(b, id, a, out, err);
}

/* Copies label strings out of the map, so results stay valid however the block is released. */
static int copy_label_strings(odin_labels *ls, odin_arena *a, odin_err *err)
{
    for (size_t i = 0; i < ls->len; i++) {
        odin_str *s[2] = {&ls->v[i].name, &ls->v[i].value};
        for (int k = 0; k < 2; k++) {
            char *c = odin_arena_strndup(a, s[k]->p, s[k]->len);
            if (!c) {
                return odin_err_set(err, ODIN_ERR_LIMIT, "block query: memory limit reached");
            }
            s[k]->p = c;
        }
    }
    return 0;
}

static bool labels_match(odin_labels ls, const tsdb_matcher *ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const odin_str *v = odin_labels_get(ls, ms[i].name);
        if (!tsdb_matcher_matches(&ms[i], v ? *v : (odin_str){"", 0})) {
            return false;
        }
    }
    return true;
}

/* Candidate series IDs: the intersection of the postings of every matcher that does not match
 * the empty string (the caller made sure there is at least one). */
static int candidates(const tsdb_block *b, const tsdb_matcher *ms, size_t n, odin_arena *a,
                      uint32_t **out, size_t *count, odin_err *err)
{
    uint32_t *cand = NULL;
    size_t ncand = 0;
    bool have = false;
    for (size_t i = 0; i < n; i++) {
        if (tsdb_matcher_matches(&ms[i], (odin_str){"", 0})) {
            continue; /* matches absent labels: checked per series */
        }
        uint32_t *ids;
        size_t k;
        int rc = matcher_postings(b, &ms[i], a, &ids, &k, err);
        if (rc < 0) {
            return rc;
        }
        if (!have) {
            cand = ids;
            ncand = k;
            have = true;
        } else {
            ncand = intersect(cand, ncand, ids, k, cand);
        }
        if (ncand == 0) {
            break;
        }
    }
    *out = cand;
    *count = ncand;
    return 0;
}

int block_select(tsdb_block *b, const tsdb_matcher *ms, size_t n, int64_t mint, int64_t maxt,
                 odin_arena *a, block_series **out, size_t *count, odin_err *err)
{
    *out = NULL;
    *count = 0;
    bool selective = false;
    for (size_t i = 0; i < n; i++) {
        if (!tsdb_matcher_matches(&ms[i], (odin_str){"", 0})) {
            selective = true;
        }
    }
    if (!selective) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "vector selector must contain at least one non-empty matcher");
    }
    uint32_t *cand;
    size_t ncand;
    int rc = candidates(b, ms, n, a, &cand, &ncand, err);
    if (rc < 0) {
        return rc;
    }
    block_series *res = aalloc(a, ncand * sizeof(*res), err);
    if (!res) {
        return -ODIN_ERR_LIMIT;
    }
    size_t k = 0;
    for (size_t i = 0; i < ncand; i++) {
        block_series *s = &res[k];
        rc = read_series(b, cand[i], mint, maxt, a, s, err);
        if (rc < 0) {
            return rc;
        }
        if (s->nchunks == 0 || !labels_match(s->labels, ms, n)) {
            continue;
        }
        rc = copy_label_strings(&s->labels, a, err);
        if (rc < 0) {
            return rc;
        }
        k++;
    }
    *out = res;
    *count = k;
    return 0;
}

/* ---- Label names and values -------------------------------------------------------------------- */

static int copy_strs(const odin_str *const *src, size_t n, odin_arena *a, odin_str **out,
                     size_t *count, odin_err *err)
{
    odin_str *v = aalloc(a, n * sizeof(*v), err);
    if (!v) {
        return -ODIN_ERR_LIMIT;
    }
    for (size_t i = 0; i < n; i++) {
        char *c = odin_arena_strndup(a, src[i]->p, src[i]->len);
        if (!c) {
            return odin_err_set(err, ODIN_ERR_LIMIT, "block query: memory limit reached");
        }
        v[i] = (odin_str){c, src[i]->len};
    }
    *out = v;
    *count = n;
    return 0;
}

int block_label_names(tsdb_block *b, odin_arena *a, odin_str **out, size_t *count, odin_err *err)
{
    const odin_str **tmp = odin_malloc((b->nnames ? b->nnames : 1) * sizeof(*tmp));
    size_t n = 0;
    for (size_t i = 0; i < b->nnames; i++) {
        if (b->names[i].name.len > 0) {
            tmp[n++] = &b->names[i].name;
        }
    }
    int rc = copy_strs(tmp, n, a, out, count, err);
    free(tmp);
    return rc;
}

int block_label_values(tsdb_block *b, const char *name, odin_arena *a, odin_str **out,
                       size_t *count, odin_err *err)
{
    *out = NULL;
    *count = 0;
    const pt_name *nm = find_name(b, odin_str_c(name));
    if (!nm || nm->name.len == 0) {
        return 0;
    }
    const odin_str **tmp = odin_malloc((nm->n ? nm->n : 1) * sizeof(*tmp));
    for (size_t i = 0; i < nm->n; i++) {
        tmp[i] = &b->values[nm->first + i].value;
    }
    int rc = copy_strs(tmp, nm->n, a, out, count, err);
    free(tmp);
    return rc;
}

/* ---- Whole-block iteration and deletion (compaction, snapshots, tombstones) -------------------- */

int block_series_ids(tsdb_block *b, odin_arena *a, uint32_t **ids, size_t *n, odin_err *err)
{
    *ids = NULL;
    *n = 0;
    const pt_name *nm = find_name(b, (odin_str){"", 0});
    const pt_value *v = nm ? find_value(b, nm, (odin_str){"", 0}) : NULL;
    if (!v) {
        return 0; /* no all-postings list: a block without series */
    }
    return read_postings(b, v->off, a, ids, n, err);
}

int block_series_read(tsdb_block *b, uint32_t id, int64_t mint, int64_t maxt, odin_arena *a,
                      block_series *out, odin_err *err)
{
    return read_series(b, id, mint, maxt, a, out, err);
}

uint64_t block_num_tombstones(tsdb_block *b)
{
    pthread_rwlock_rdlock(&b->ts_lock);
    uint64_t n = b->ts.n;
    pthread_rwlock_unlock(&b->ts_lock);
    return n;
}

/* Finds the series with data in [mint, maxt] and records the interval, clamped to the block, as
 * Prometheus' Block.Delete: the new file is written first, then published to readers. */
static int collect_stones(tsdb_block *b, const tsdb_matcher *ms, size_t n, int64_t mint,
                          int64_t maxt, tsdb_tombstones *add, odin_err *err)
{
    odin_arena a;
    odin_arena_init(&a, 0);
    uint32_t *cand;
    size_t ncand;
    int rc = candidates(b, ms, n, &a, &cand, &ncand, err);
    int64_t lo = mint > b->mf.m.mint ? mint : b->mf.m.mint;
    int64_t hi = maxt < b->mf.m.maxt - 1 ? maxt : b->mf.m.maxt - 1;
    for (size_t i = 0; rc == 0 && i < ncand; i++) {
        block_series s;
        rc = read_series(b, cand[i], mint, maxt, &a, &s, err);
        if (rc == 0 && s.nchunks > 0 && labels_match(s.labels, ms, n)) {
            tombstones_add(add, cand[i], lo, hi);
        }
    }
    odin_arena_fini(&a);
    return rc;
}

int block_delete(tsdb_block *b, const tsdb_matcher *ms, size_t n, int64_t mint, int64_t maxt,
                 uint64_t *nseries, odin_err *err)
{
    *nseries = 0;
    const block_meta *m = &b->mf.m;
    if (maxt < m->mint || mint >= m->maxt) {
        return 0;
    }
    pthread_mutex_lock(&b->ts_mtx);
    tsdb_tombstones add = {0};
    int rc = collect_stones(b, ms, n, mint, maxt, &add, err);
    if (rc == 0 && add.n > 0) {
        *nseries = add.n;
        pthread_rwlock_rdlock(&b->ts_lock);
        for (size_t i = 0; i < b->ts.n; i++) {
            tombstones_add(&add, b->ts.v[i].ref, b->ts.v[i].mint, b->ts.v[i].maxt);
        }
        pthread_rwlock_unlock(&b->ts_lock);
        tombstones_normalize(&add);
        rc = tombstones_write(b->path, &add, err);
    }
    if (rc == 0 && *nseries > 0) {
        pthread_rwlock_wrlock(&b->ts_lock);
        tsdb_tombstones old = b->ts;
        b->ts = add;
        add = old;
        pthread_rwlock_unlock(&b->ts_lock);
    }
    tombstones_fini(&add);
    pthread_mutex_unlock(&b->ts_mtx);
    return rc;
}

size_t block_sources(const tsdb_block *b, const char (**out)[27])
{
    if (b->mf.nsources == 0) {
        *out = (const char(*)[27])b->mf.m.ulid; /* a level-1 block is its own source */
        return 1;
    }
    *out = (const char(*)[27])b->mf.sources;
    return b->mf.nsources;
}

/* Writes a persisted block in Prometheus 2.42's layout: chunk segments as series arrive, then the
 * index v2 (symbols, series, label indices, postings, the two offset tables, TOC), an empty
 * tombstones file and meta.json, all in <ULID>.tmp-for-creation, fsynced, then renamed. */
#include "tsdb/block_int.h"
#include "tsdb/chunk.h"
#include "tsdb/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { BW_BUF_BYTES = 1 << 20 };

/* ---- Buffered file ----------------------------------------------------------------------------- */

/* A file written front to back through a buffer; `pos` is the offset of the next byte. */
typedef struct {
    int fd;
    const char *path; /* borrowed, for messages */
    uint8_t *buf;
    size_t n;
    uint64_t pos;
} bw_file;

static int bw_open(bw_file *f, const char *path, odin_err *err)
{
    memset(f, 0, sizeof(*f));
    f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        f->fd = -1;
        return odin_err_errno(err, errno, "create %s", path);
    }
    f->path = path;
    f->buf = odin_malloc(BW_BUF_BYTES);
    return 0;
}

static int bw_flush(bw_file *f, odin_err *err)
{
    size_t off = 0;
    while (off < f->n) {
        ssize_t w = write(f->fd, f->buf + off, f->n - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return odin_err_errno(err, errno, "write %s", f->path);
        }
        off += (size_t)w;
    }
    f->n = 0;
    return 0;
}

static int bw_write(bw_file *f, const void *p, size_t n, odin_err *err)
{
    const uint8_t *s = p;
    f->pos += n;
    while (n > 0) {
        if (f->n == BW_BUF_BYTES && bw_flush(f, err) < 0) {
            return -ODIN_ERR_IO;
        }
        size_t k = BW_BUF_BYTES - f->n;
        k = k < n ? k : n;
        memcpy(f->buf + f->n, s, k);
        f->n += k;
        s += k;
        n -= k;
    }
    return 0;
}

static int bw_pad(bw_file *f, unsigned align, odin_err *err)
{
    static const uint8_t zero[16];
    size_t k = (size_t)((align - f->pos % align) % align);
    return k ? bw_write(f, zero, k, err) : 0;
}

/* Writes a big-endian u32 then content then the CRC32C of content: the framing of every index
 * section but the series. */
static int bw_section(bw_file *f, const odin_strbuf *content, odin_err *err)
{
    if (content->len > UINT32_MAX) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "%s: index section of %zu bytes exceeds 4 GiB",
                            f->path, content->len);
    }
    uint8_t len[4], crc[4];
    block_put_be32(len, (uint32_t)content->len);
    block_put_be32(crc, tsdb_crc32c(0, content->p, content->len));
    if (bw_write(f, len, 4, err) < 0 || bw_write(f, content->p, content->len, err) < 0) {
        return -ODIN_ERR_IO;
    }
    return bw_write(f, crc, 4, err);
}

/* Flushes, fsyncs and closes; frees the buffer either way. */
static int bw_close(bw_file *f, odin_err *err)
{
    int rc = 0;
    if (f->fd >= 0) {
        rc = bw_flush(f, err);
        if (rc == 0 && fsync(f->fd) < 0) {
            rc = odin_err_errno(err, errno, "fsync %s", f->path);
        }
        if (close(f->fd) < 0 && rc == 0) {
            rc = odin_err_errno(err, errno, "close %s", f->path);
        }
    }
    f->fd = -1;
    free(f->buf);
    f->buf = NULL;
    return rc;
}

static void put_uvarint(odin_strbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    odin_strbuf_put(b, tmp, tsdb_put_uvarint(tmp, v));
}

static void put_varint(odin_strbuf *b, int64_t v)
{
    uint8_t tmp[10];
    odin_strbuf_put(b, tmp, tsdb_put_varint(tmp, v));
}

static void put_be32(odin_strbuf *b, uint32_t v)
{
    uint8_t tmp[4];
    block_put_be32(tmp, v);
    odin_strbuf_put(b, tmp, 4);
}

static void put_str(odin_strbuf *b, odin_str s)
{
    put_uvarint(b, s.len);
    odin_strbuf_putstr(b, s);
}

/* ---- Directories ------------------------------------------------------------------------------- */

int block_fsync_dir(const char *path, odin_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return odin_err_errno(err, errno, "open %s", path);
    }
    int rc = 0;
    if (fsync(fd) < 0) {
        rc = odin_err_errno(err, errno, "fsync %s", path);
    }
    close(fd);
    return rc;
}

/* Unlinks every entry of dir that is a plain file; subdirectories are left for the caller. */
static int remove_files_in(const char *dir, odin_err *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        return errno == ENOENT ? 0 : odin_err_errno(err, errno, "open %s", dir);
    }
    int rc = 0;
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "chunks") == 0) {
            continue;
        }
        odin_strbuf_reset(&p);
        odin_strbuf_printf(&p, "%s/%s", dir, e->d_name);
        if (unlink(p.p) < 0 && errno != ENOENT && rc == 0) {
            rc = odin_err_errno(err, errno, "remove %s", p.p);
        }
    }
    closedir(d);
    odin_strbuf_fini(&p);
    return rc;
}

int block_remove_dir(const char *path, odin_err *err)
{
    odin_strbuf chunks;
    odin_strbuf_init(&chunks, 0);
    odin_strbuf_printf(&chunks, "%s/chunks", path);
    int rc = remove_files_in(chunks.p, err);
    if (rc == 0 && rmdir(chunks.p) < 0 && errno != ENOENT) {
        rc = odin_err_errno(err, errno, "remove %s", chunks.p);
    }
    odin_strbuf_fini(&chunks);
    if (rc == 0) {
        rc = remove_files_in(path, err);
    }
    if (rc == 0 && rmdir(path) < 0 && errno != ENOENT) {
        rc = odin_err_errno(err, errno, "remove %s", path);
    }
    return rc;
}

/* ---- Chunk segments ---------------------------------------------------------------------------- */

typedef struct {
    const char *dir;   /* <tmp>/chunks */
    uint64_t seg_bytes;
    bw_file f;
    odin_strbuf path;  /* path of the open segment */
    uint32_t seq;      /* 0-based index of the open segment: the high half of chunk refs */
    bool open;
} chunk_writer;

static int cw_cut(chunk_writer *w, odin_err *err)
{
    if (w->open) {
        if (bw_close(&w->f, err) < 0) {
            return -ODIN_ERR_IO;
        }
        w->seq++;
    }
    w->open = false;
    odin_strbuf_reset(&w->path);
    /* matches Prometheus: segment files are 1-based, six digits; refs carry the 0-based index */
    odin_strbuf_printf(&w->path, "%s/%06u", w->dir, w->seq + 1);
    if (bw_open(&w->f, w->path.p, err) < 0) {
        return -ODIN_ERR_IO;
    }
    w->open = true;
    uint8_t hdr[BLOCK_CHUNKS_HEADER_BYTES] = {0};
    block_put_be32(hdr, BLOCK_CHUNKS_MAGIC);
    hdr[4] = BLOCK_CHUNKS_FORMAT;
    return bw_write(&w->f, hdr, sizeof(hdr), err);
}

static int cw_write(chunk_writer *w, const block_chunk *c, uint64_t *ref, odin_err *err)
{
    uint8_t lenb[10];
    size_t ln = tsdb_put_uvarint(lenb, c->len);
    uint64_t size = ln + 1 + (uint64_t)c->len + 4;
    if (!w->open ||
        (w->f.pos > BLOCK_CHUNKS_HEADER_BYTES && w->f.pos + size > w->seg_bytes)) {
        if (cw_cut(w, err) < 0) {
            return -ODIN_ERR_IO;
        }
    }
    if (w->f.pos > UINT32_MAX) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "%s: chunk offset passes 4 GiB", w->path.p);
    }
    *ref = (uint64_t)w->seq << 32 | w->f.pos;
    uint8_t enc = tsdb_chunk_encoding(c->b, c->len);
    uint32_t crc = tsdb_crc32c(0, &enc, 1);
    crc = tsdb_crc32c(crc, c->b, c->len);
    uint8_t crcb[4];
    block_put_be32(crcb, crc);
    if (bw_write(&w->f, lenb, ln, err) < 0 || bw_write(&w->f, &enc, 1, err) < 0 ||
        bw_write(&w->f, c->b, c->len, err) < 0) {
        return -ODIN_ERR_IO;
    }
    return bw_write(&w->f, crcb, 4, err);
}

static int cw_finish(chunk_writer *w, odin_err *err)
{
    int rc = 0;
    if (w->open) {
        rc = bw_close(&w->f, err);
        w->open = false;
    }
    return rc;
}

/* ---- Collecting series ------------------------------------------------------------------------- */

/* A series as it will go into the index: labels copied into the writer's arena, chunk metas
 * already encoded (they do not depend on the symbol table). */
typedef struct {
    odin_labels ls;
    const uint8_t *metas; /* chunk count uvarint, then the delta-encoded metas */
    size_t metas_len;
} ws_series;

typedef struct {
    const block_write_opts *opts;
    odin_arena arena;
    ws_series *series;
    size_t n, cap;
    odin_labels last;
    uint64_t num_samples, num_chunks;
    chunk_writer cw;
    odin_strbuf scratch;
    odin_arena recode; /* one series' re-encoded chunks */
} writer;

static odin_labels copy_labels(writer *w, odin_labels ls)
{
    odin_labels out = {odin_arena_alloc(&w->arena, ls.len * sizeof(odin_label)), ls.len};
    if (!out.v) {
        odin_oom();
    }
    for (size_t i = 0; i < ls.len; i++) {
        const odin_label *l = &ls.v[i];
        char *nm = odin_arena_strndup(&w->arena, l->name.p ? l->name.p : "", l->name.len);
        char *val = odin_arena_strndup(&w->arena, l->value.p ? l->value.p : "", l->value.len);
        if (!nm || !val) {
            odin_oom();
        }
        out.v[i] = (odin_label){{nm, l->name.len}, {val, l->value.len}};
    }
    return out;
}

static int check_labels(writer *w, odin_labels ls, odin_err *err)
{
    if (ls.len == 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "block source: series with no labels");
    }
    for (size_t i = 1; i < ls.len; i++) {
        if (odin_str_cmp(ls.v[i - 1].name, ls.v[i].name) >= 0) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "block source: labels not sorted or duplicate at \"%.*s\"",
                                (int)(ls.v[i].name.len > 64 ? 64 : ls.v[i].name.len),
                                ls.v[i].name.p);
        }
    }
    if (w->n > 0 && odin_labels_cmp(w->last, ls) >= 0) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "block source: series out of order (series %zu)", w->n);
    }
    return 0;
}

/* Writes the series' chunks and encodes their metas into w->scratch. */
static int write_chunks(writer *w, const block_chunk *cs, size_t n, odin_err *err)
{
    odin_strbuf *b = &w->scratch;
    odin_strbuf_reset(b);
    put_uvarint(b, n);
    uint64_t prev_ref = 0;
    for (size_t i = 0; i < n; i++) {
        const block_chunk *c = &cs[i];
        if (c->len < 2 || c->maxt < c->mint || (i > 0 && c->mint <= cs[i - 1].maxt)) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "block source: series %zu chunk %zu: bad range [%lld, %lld] or "
                                "length %u", w->n, i, (long long)c->mint, (long long)c->maxt,
                                c->len);
        }
        uint64_t ref = 0;
        if (cw_write(&w->cw, c, &ref, err) < 0) {
            return -ODIN_ERR_IO;
        }
        if (i == 0) {
            put_varint(b, c->mint);
            put_uvarint(b, (uint64_t)c->maxt - (uint64_t)c->mint);
            put_uvarint(b, ref);
        } else {
            put_uvarint(b, (uint64_t)c->mint - (uint64_t)cs[i - 1].maxt);
            put_uvarint(b, (uint64_t)c->maxt - (uint64_t)c->mint);
            put_varint(b, (int64_t)(ref - prev_ref));
        }
        prev_ref = ref;
        w->num_samples += tsdb_chunk_samples(c->b, c->len);
    }
    w->num_chunks += n;
    return 0;
}

static int collect(writer *w, const block_source *src, odin_err *err)
{
    for (;;) {
        odin_labels ls;
        const block_chunk *cs = NULL;
        size_t n = 0;
        int r = src->next(src->ctx, &ls, &cs, &n, err);
        if (r < 0) {
            return r;
        }
        if (r == 0) {
            return 0;
        }
        if (n == 0) {
            continue; /* as Prometheus' compactor: a series without chunks is not written */
        }
        r = check_labels(w, ls, err);
        odin_arena_reset(&w->recode);
        if (r == 0) {
            r = block_recode(cs, n, w->opts->chunk_encoding, w->opts->odin_chunk_samples,
                             w->opts->merge_odin_chunks, &w->recode, &cs, &n, err);
        }
        if (r == 0 && n == 0) {
            continue; /* every chunk was empty */
        }
        if (r == 0) {
            r = write_chunks(w, cs, n, err);
        }
        if (r < 0) {
            return r;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 256;
            w->series = odin_realloc(w->series, w->cap * sizeof(*w->series));
        }
        ws_series *s = &w->series[w->n++];
        s->ls = copy_labels(w, ls);
        uint8_t *m = odin_arena_alloc(&w->arena, w->scratch.len);
        if (!m) {
            odin_oom();
        }
        memcpy(m, w->scratch.p, w->scratch.len);
        s->metas = m;
        s->metas_len = w->scratch.len;
        w->last = s->ls;
    }
}

/* ---- Index --------------------------------------------------------------------------------- */

typedef struct {
    odin_str *syms;   /* sorted, unique */
    size_t nsyms;
    odin_map ord;     /* symbol bytes -> ordinal + 1 */
} symtab;

static int str_cmp(const void *a, const void *b)
{
    return odin_str_cmp(*(const odin_str *)a, *(const odin_str *)b);
}

static void symtab_build(symtab *st, const writer *w)
{
    odin_map_init(&st->ord);
    size_t cap = 64;
    st->syms = odin_malloc(cap * sizeof(*st->syms));
    /* matches Prometheus 2.42: "" is always a symbol (it names the all-postings list) */
    st->syms[0] = (odin_str){"", 0};
    st->nsyms = 1;
    odin_map_put(&st->ord, "", 0, (void *)(uintptr_t)1);
    for (size_t i = 0; i < w->n; i++) {
        const odin_labels *ls = &w->series[i].ls;
        for (size_t k = 0; k < 2 * ls->len; k++) {
            odin_str s = k % 2 ? ls->v[k / 2].value : ls->v[k / 2].name;
            if (odin_map_get(&st->ord, s.p, s.len)) {
                continue;
            }
            if (st->nsyms == cap) {
                cap *= 2;
                st->syms = odin_realloc(st->syms, cap * sizeof(*st->syms));
            }
            st->syms[st->nsyms++] = s;
            odin_map_put(&st->ord, s.p, s.len, (void *)(uintptr_t)1);
        }
    }
    qsort(st->syms, st->nsyms, sizeof(*st->syms), str_cmp);
    for (size_t i = 0; i < st->nsyms; i++) {
        odin_map_put(&st->ord, st->syms[i].p, st->syms[i].len, (void *)(uintptr_t)(i + 1));
    }
}

static uint32_t symtab_ref(const symtab *st, odin_str s)
{
    uintptr_t v = (uintptr_t)odin_map_get(&st->ord, s.p, s.len);
    ODIN_ASSERT(v != 0); /* every label string was added by symtab_build */
    return (uint32_t)(v - 1);
}

static void symtab_fini(symtab *st)
{
    odin_map_fini(&st->ord);
    free(st->syms);
}

/* One (label name, label value, series ID) occurrence; sorted, these become the postings. */
typedef struct {
    uint32_t name, value, id;
} posting;

static int posting_cmp(const void *a, const void *b)
{
    const posting *x = a, *y = b;
    if (x->name != y->name) {
        return x->name < y->name ? -1 : 1;
    }
    if (x->value != y->value) {
        return x->value < y->value ? -1 : 1;
    }
    return (x->id > y->id) - (x->id < y->id);
}

typedef struct {
    bw_file f;
    uint64_t toc[6]; /* symbols, series, label indices, label offset table, postings, postings table */
    const symtab *st;
    uint32_t *ids;   /* series ID per series */
    posting *post;
    size_t npost;
    odin_strbuf sec; /* section being built */
} index_writer;

static int write_symbols(index_writer *x, odin_err *err)
{
    x->toc[0] = x->f.pos;
    odin_strbuf_reset(&x->sec);
    put_be32(&x->sec, (uint32_t)x->st->nsyms);
    for (size_t i = 0; i < x->st->nsyms; i++) {
        put_str(&x->sec, x->st->syms[i]);
    }
    return bw_section(&x->f, &x->sec, err);
}

static int write_series(index_writer *x, const writer *w, odin_err *err)
{
    x->toc[1] = x->f.pos;
    size_t np = 0;
    for (size_t i = 0; i < w->n; i++) {
        np += w->series[i].ls.len;
    }
    x->post = odin_malloc((np ? np : 1) * sizeof(*x->post));
    x->ids = odin_malloc(w->n * sizeof(*x->ids));
    for (size_t i = 0; i < w->n; i++) {
        const ws_series *s = &w->series[i];
        if (bw_pad(&x->f, BLOCK_SERIES_ALIGN, err) < 0) {
            return -ODIN_ERR_IO;
        }
        if (x->f.pos / BLOCK_SERIES_ALIGN > UINT32_MAX) {
            return odin_err_set(err, ODIN_ERR_LIMIT, "%s: series section passes 64 GiB",
                                x->f.path);
        }
        uint32_t id = (uint32_t)(x->f.pos / BLOCK_SERIES_ALIGN);
        x->ids[i] = id;
        odin_strbuf_reset(&x->sec);
        put_uvarint(&x->sec, s->ls.len);
        for (size_t k = 0; k < s->ls.len; k++) {
            uint32_t nm = symtab_ref(x->st, s->ls.v[k].name);
            uint32_t val = symtab_ref(x->st, s->ls.v[k].value);
            put_uvarint(&x->sec, nm);
            put_uvarint(&x->sec, val);
            x->post[x->npost++] = (posting){nm, val, id};
        }
        odin_strbuf_put(&x->sec, s->metas, s->metas_len);
        uint8_t lenb[10], crc[4];
        size_t ln = tsdb_put_uvarint(lenb, x->sec.len);
        block_put_be32(crc, tsdb_crc32c(0, x->sec.p, x->sec.len));
        if (bw_write(&x->f, lenb, ln, err) < 0 ||
            bw_write(&x->f, x->sec.p, x->sec.len, err) < 0 || bw_write(&x->f, crc, 4, err) < 0) {
            return -ODIN_ERR_IO;
        }
    }
    qsort(x->post, x->npost, sizeof(*x->post), posting_cmp);
    return 0;
}

/* Legacy label indices, one per label name, and their offset table: Prometheus 2.42 still writes
 * them and older readers (v1-era tools) use them. */
static int write_label_indices(index_writer *x, odin_strbuf *table, size_t *ntable,
                               odin_err *err)
{
    x->toc[2] = x->f.pos;
    for (size_t i = 0; i < x->npost;) {
        uint32_t name = x->post[i].name;
        if (bw_pad(&x->f, 4, err) < 0) {
            return -ODIN_ERR_IO;
        }
        put_uvarint(table, 1);
        put_str(table, x->st->syms[name]);
        put_uvarint(table, x->f.pos);
        (*ntable)++;
        odin_strbuf_reset(&x->sec);
        put_be32(&x->sec, 1);
        put_be32(&x->sec, 0); /* value count, patched below */
        uint32_t nvals = 0;
        for (; i < x->npost && x->post[i].name == name; i++) {
            if (nvals == 0 || x->post[i].value != x->post[i - 1].value) {
                put_be32(&x->sec, x->post[i].value);
                nvals++;
            }
        }
        block_put_be32((uint8_t *)x->sec.p + 4, nvals);
        if (bw_section(&x->f, &x->sec, err) < 0) {
            return -ODIN_ERR_IO;
        }
    }
    return 0;
}

static int write_one_postings(index_writer *x, odin_str name, odin_str value, const uint32_t *ids,
                              const posting *from, size_t n, odin_strbuf *table, odin_err *err)
{
    if (bw_pad(&x->f, 4, err) < 0) {
        return -ODIN_ERR_IO;
    }
    put_uvarint(table, 2);
    put_str(table, name);
    put_str(table, value);
    put_uvarint(table, x->f.pos);
    odin_strbuf_reset(&x->sec);
    put_be32(&x->sec, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        put_be32(&x->sec, ids ? ids[i] : from[i].id);
    }
    return bw_section(&x->f, &x->sec, err);
}

static int write_postings(index_writer *x, size_t nseries, odin_strbuf *table, size_t *ntable,
                          odin_err *err)
{
    x->toc[4] = x->f.pos;
    /* the all-postings list, keyed ("", ""), comes first */
    odin_str empty = {"", 0};
    if (write_one_postings(x, empty, empty, x->ids, NULL, nseries, table, err) < 0) {
        return -ODIN_ERR_IO;
    }
    (*ntable)++;
    for (size_t i = 0; i < x->npost;) {
        size_t j = i;
        while (j < x->npost && x->post[j].name == x->post[i].name &&
               x->post[j].value == x->post[i].value) {
            j++;
        }
        if (write_one_postings(x, x->st->syms[x->post[i].name], x->st->syms[x->post[i].value],
                               NULL, &x->post[i], j - i, table, err) < 0) {
            return -ODIN_ERR_IO;
        }
        (*ntable)++;
        i = j;
    }
    return 0;
}

/* An offset table section: count, then the entries built in `entries`. */
static int write_table(index_writer *x, const odin_strbuf *entries, size_t n, odin_err *err)
{
    odin_strbuf_reset(&x->sec);
    put_be32(&x->sec, (uint32_t)n);
    odin_strbuf_put(&x->sec, entries->p, entries->len);
    return bw_section(&x->f, &x->sec, err);
}

static int write_toc(index_writer *x, odin_err *err)
{
    uint8_t toc[BLOCK_TOC_BYTES];
    for (int i = 0; i < 6; i++) {
        block_put_be64(toc + 8 * i, x->toc[i]);
    }
    block_put_be32(toc + 48, tsdb_crc32c(0, toc, 48));
    return bw_write(&x->f, toc, sizeof(toc), err);
}

static int write_index_body(index_writer *x, const writer *w, odin_err *err)
{
    uint8_t hdr[BLOCK_INDEX_HEADER_BYTES];
    block_put_be32(hdr, BLOCK_INDEX_MAGIC);
    hdr[4] = BLOCK_INDEX_FORMAT;
    if (bw_write(&x->f, hdr, sizeof(hdr), err) < 0 || write_symbols(x, err) < 0 ||
        write_series(x, w, err) < 0) {
        return -ODIN_ERR_IO;
    }
    odin_strbuf lt, pt;
    odin_strbuf_init(&lt, 0);
    odin_strbuf_init(&pt, 0);
    size_t nlt = 0, npt = 0;
    int rc = write_label_indices(x, &lt, &nlt, err);
    if (rc == 0) {
        rc = write_postings(x, w->n, &pt, &npt, err);
    }
    if (rc == 0) {
        x->toc[3] = x->f.pos;
        rc = write_table(x, &lt, nlt, err);
    }
    if (rc == 0) {
        x->toc[5] = x->f.pos;
        rc = write_table(x, &pt, npt, err);
    }
    if (rc == 0) {
        rc = write_toc(x, err);
    }
    odin_strbuf_fini(&lt);
    odin_strbuf_fini(&pt);
    return rc;
}

static int write_index(const char *dir, const writer *w, odin_err *err)
{
    symtab st;
    symtab_build(&st, w);
    index_writer x = {.st = &st};
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_init(&x.sec, 0);
    odin_strbuf_printf(&path, "%s/index", dir);
    int rc = bw_open(&x.f, path.p, err);
    if (rc == 0) {
        rc = write_index_body(&x, w, err);
        int rc2 = bw_close(&x.f, err);
        rc = rc ? rc : rc2;
    }
    odin_strbuf_fini(&x.sec);
    odin_strbuf_fini(&path);
    free(x.ids);
    free(x.post);
    symtab_fini(&st);
    return rc;
}

/* ---- Small files and the whole ----------------------------------------------------------------- */

static int write_small_file(const char *dir, const char *name, const void *p, size_t n,
                            odin_err *err)
{
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/%s", dir, name);
    bw_file f;
    int rc = bw_open(&f, path.p, err);
    if (rc == 0) {
        rc = bw_write(&f, p, n, err);
        int rc2 = bw_close(&f, err);
        rc = rc ? rc : rc2;
    }
    odin_strbuf_fini(&path);
    return rc;
}

static int write_tombstones(const char *dir, odin_err *err)
{
    uint8_t b[9];
    block_put_be32(b, BLOCK_TOMBSTONES_MAGIC);
    b[4] = BLOCK_TOMBSTONES_FORMAT;
    block_put_be32(b + 5, tsdb_crc32c(0, NULL, 0));
    return write_small_file(dir, "tombstones", b, sizeof(b), err);
}

static int write_meta(const char *dir, const writer *w, const char *ulid, odin_err *err)
{
    const block_write_opts *o = w->opts;
    block_meta m = {.mint = o->mint,
                    .maxt = o->maxt,
                    .num_samples = w->num_samples,
                    .num_series = w->n,
                    .num_chunks = w->num_chunks,
                    .level = o->compaction_level > 0 ? o->compaction_level : 1};
    memcpy(m.ulid, ulid, 27);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    block_meta_format(&b, &m, o->sources, o->sources ? o->nsources : 0, o->external_labels,
                      o->external_labels ? o->nexternal : 0);
    int rc = write_small_file(dir, "meta.json", b.p, b.len, err);
    odin_strbuf_fini(&b);
    return rc;
}

/* Everything after the chunks: index, tombstones, meta.json, directory syncs, rename. */
static int finish_block(writer *w, const char *tmp, const char *final, const char *ulid,
                        odin_err *err)
{
    if (cw_finish(&w->cw, err) < 0 || block_fsync_dir(w->cw.dir, err) < 0 ||
        write_index(tmp, w, err) < 0 || write_tombstones(tmp, err) < 0 ||
        write_meta(tmp, w, ulid, err) < 0 || block_fsync_dir(tmp, err) < 0) {
        return -ODIN_ERR_IO;
    }
    if (rename(tmp, final) < 0) {
        return odin_err_errno(err, errno, "rename %s to %s", tmp, final);
    }
    return block_fsync_dir(w->opts->parent_dir, err);
}

int block_write_seg(const block_write_opts *opts, const block_source *src, uint64_t seg_bytes,
                    char *ulid_out, odin_err *err)
{
    char ulid[27];
    block_new_ulid(odin_now_ms(), ulid);
    ulid_out[0] = '\0';
    odin_strbuf tmp, final, chunks;
    odin_strbuf_init(&tmp, 0);
    odin_strbuf_init(&final, 0);
    odin_strbuf_init(&chunks, 0);
    odin_strbuf_printf(&final, "%s/%s", opts->parent_dir, ulid);
    odin_strbuf_printf(&tmp, "%s.tmp-for-creation", final.p);
    odin_strbuf_printf(&chunks, "%s/chunks", tmp.p);
    writer w = {.opts = opts};
    odin_arena_init(&w.arena, 0);
    odin_arena_init(&w.recode, 0);
    odin_strbuf_init(&w.scratch, 0);
    odin_strbuf_init(&w.cw.path, 0);
    w.cw.dir = chunks.p;
    w.cw.f.fd = -1;
    w.cw.seg_bytes = seg_bytes ? seg_bytes : BLOCK_SEGMENT_BYTES_DEFAULT;
    int rc = 0;
    if (mkdir(tmp.p, 0755) < 0 || mkdir(chunks.p, 0755) < 0) {
        rc = odin_err_errno(err, errno, "create %s", tmp.p);
        goto done;
    }
    rc = collect(&w, src, err);
    if (rc == 0 && w.n == 0) {
        bw_close(&w.cw.f, NULL);
        w.cw.open = false;
        block_remove_dir(tmp.p, NULL);
        goto done;
    }
    if (rc == 0) {
        rc = finish_block(&w, tmp.p, final.p, ulid, err);
    }
    if (rc == 0) {
        memcpy(ulid_out, ulid, 27);
    }
done:
    if (w.cw.open) {
        bw_close(&w.cw.f, NULL);
    }
    if (rc < 0) {
        block_remove_dir(tmp.p, NULL);
    }
    free(w.series);
    odin_arena_fini(&w.arena);
    odin_arena_fini(&w.recode);
    odin_strbuf_fini(&w.scratch);
    odin_strbuf_fini(&w.cw.path);
    odin_strbuf_fini(&tmp);
    odin_strbuf_fini(&final);
    odin_strbuf_fini(&chunks);
    return rc;
}

int block_write(const block_write_opts *opts, const block_source *src, char *ulid_out,
                odin_err *err)
{
    return block_write_seg(opts, src, 0, ulid_out, err);
}

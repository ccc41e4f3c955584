/* Test tool for the block format: `write PARENT` builds a block from a series list on stdin with
 * block_write; `read DIR` prints a block (or every block of a data directory) through block_open
 * and block_select in promtool's `tsdb dump` format. Used by tests/e2e/test_tsdb_promtool.py.
 *
 * stdin for write, tab-separated lines:  S <tab> name <tab> value ...   starts a series
 *                                        P <tab> t_ms <tab> value       adds a sample to it
 *                                        C                               cuts the open chunk
 * `copy BLOCK PARENT` rewrites a block through block_select and block_write. `write ... --odin`
 * writes Odin's chunk encoding instead of XOR. */
#include "tsdb/block_int.h"
#include "tsdb/chunk.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CUT_SAMPLES = 120 };

typedef struct {
    odin_labels ls;
    block_chunk *chunks;
    size_t nchunks;
    xor_chunk open;
    bool has_open;
    int64_t open_mint, last_t;
} tool_series;

typedef struct {
    tool_series *s;
    size_t n, cap, pos;
    int64_t mint, maxt;
} tool_data;

static void out_str(const odin_strbuf *b, FILE *f)
{
    fwrite(b->p, 1, b->len, f);
}

static _Noreturn void die(const char *what, const odin_err *err)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b, "tsdb_write_block: %s: %s\n", what, err ? err->msg : "");
    out_str(&b, stderr);
    odin_strbuf_fini(&b);
    exit(1);
}

static void cut(tool_series *s)
{
    if (!s->has_open) {
        return;
    }
    xor_chunk_compact(&s->open);
    s->chunks = odin_realloc(s->chunks, (s->nchunks + 1) * sizeof(*s->chunks));
    s->chunks[s->nchunks++] = (block_chunk){s->open_mint, s->last_t, s->open.b, s->open.len};
    s->has_open = false; /* the bytes now belong to chunks[] */
}

static void add_sample(tool_data *d, tool_series *s, int64_t t, double v)
{
    if (s->has_open && s->open.n >= CUT_SAMPLES) {
        cut(s);
    }
    if (!s->has_open) {
        xor_chunk_init(&s->open);
        s->has_open = true;
        s->open_mint = t;
    }
    xor_chunk_append(&s->open, t, v);
    s->last_t = t;
    d->mint = t < d->mint ? t : d->mint;
    d->maxt = t > d->maxt ? t : d->maxt;
}

static tool_series *new_series(tool_data *d, odin_str rest)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->s = odin_realloc(d->s, d->cap * sizeof(*d->s));
    }
    tool_series *s = &d->s[d->n++];
    memset(s, 0, sizeof(*s));
    while (rest.len > 0) {
        odin_str name = odin_str_cut(&rest, '\t');
        odin_str value = odin_str_cut(&rest, '\t');
        s->ls.v = odin_realloc(s->ls.v, (s->ls.len + 1) * sizeof(odin_label));
        s->ls.v[s->ls.len++] = (odin_label){name, value};
    }
    odin_labels_sort(s->ls.v, s->ls.len);
    return s;
}

static void parse_input(tool_data *d, odin_str in)
{
    tool_series *cur = NULL;
    d->mint = INT64_MAX;
    d->maxt = INT64_MIN;
    while (in.len > 0) {
        odin_str line = odin_str_cut(&in, '\n');
        odin_str kind = odin_str_cut(&line, '\t');
        if (odin_str_eq_c(kind, "S")) {
            cur = new_series(d, line);
        } else if (odin_str_eq_c(kind, "C") && cur) {
            cut(cur);
        } else if (odin_str_eq_c(kind, "P") && cur) {
            odin_str ts = odin_str_cut(&line, '\t');
            int64_t t;
            double v;
            if (odin_parse_i64(ts, &t) < 0 || odin_parse_double(line, &v) < 0) {
                die("bad sample line", NULL);
            }
            add_sample(d, cur, t, v);
        } else if (kind.len > 0) {
            die("bad input line", NULL);
        }
    }
    for (size_t i = 0; i < d->n; i++) {
        cut(&d->s[i]);
    }
}

static int series_cmp(const void *a, const void *b)
{
    return odin_labels_cmp(((const tool_series *)a)->ls, ((const tool_series *)b)->ls);
}

static int next_series(void *ctx, odin_labels *ls, const block_chunk **cs, size_t *n,
                       odin_err *err)
{
    (void)err;
    tool_data *d = ctx;
    if (d->pos >= d->n) {
        return 0;
    }
    tool_series *s = &d->s[d->pos++];
    *ls = s->ls;
    *cs = s->chunks;
    *n = s->nchunks;
    return 1;
}

static int cmd_write(const char *parent, uint64_t seg_bytes, uint8_t enc)
{
    odin_strbuf in;
    odin_strbuf_init(&in, 0);
    for (;;) {
        char *w = odin_strbuf_reserve(&in, 65536);
        size_t k = fread(w, 1, 65536, stdin);
        if (k == 0) {
            break;
        }
        odin_strbuf_advance(&in, k);
    }
    tool_data d = {0};
    parse_input(&d, (odin_str){in.p, in.len});
    qsort(d.s, d.n, sizeof(*d.s), series_cmp);
    block_write_opts o = {.parent_dir = parent,
                          .mint = d.n ? d.mint : 0,
                          .maxt = d.n ? d.maxt + 1 : 0,
                          .compaction_level = 1,
                          .chunk_encoding = enc};
    block_source src = {.ctx = &d, .next = next_series};
    char ulid[27];
    odin_err err;
    odin_err_clear(&err);
    if (block_write_seg(&o, &src, seg_bytes, ulid, &err) < 0) {
        die("block_write", &err);
    }
    odin_strbuf out;
    odin_strbuf_init(&out, 0);
    odin_strbuf_printf(&out, "%s\n", ulid);
    out_str(&out, stdout);
    odin_strbuf_fini(&out);
    for (size_t i = 0; i < d.n; i++) {
        for (size_t k = 0; k < d.s[i].nchunks; k++) {
            free((void *)(uintptr_t)d.s[i].chunks[k].b);
        }
        free(d.s[i].chunks);
        free(d.s[i].ls.v);
    }
    free(d.s);
    odin_strbuf_fini(&in);
    return 0;
}

/* One line per sample, as promtool 2.42's `tsdb dump`: {a="b", c="d"} value timestamp */
static void print_series(odin_strbuf *o, const block_series *s)
{
    for (size_t c = 0; c < s->nchunks; c++) {
        xor_iter it;
        xor_iter_init(&it, s->chunks[c].b, s->chunks[c].len);
        int64_t t;
        double v;
        while (xor_iter_next(&it, &t, &v)) {
            odin_strbuf_put_go_labels(o, s->labels);
            odin_strbuf_putc(o, ' ');
            odin_strbuf_put_double(o, v);
            odin_strbuf_putc(o, ' ');
            odin_strbuf_put_i64(o, t);
            odin_strbuf_putc(o, '\n');
        }
        if (it.err) {
            die("corrupt chunk", NULL);
        }
    }
}

static void read_block(const char *path)
{
    odin_err err;
    odin_err_clear(&err);
    tsdb_block *b = block_open(path, &err);
    if (!b) {
        die("block_open", &err);
    }
    tsdb_matcher m;
    if (tsdb_matcher_init(&m, TSDB_MATCH_RE, ODIN_STR("__name__"), ODIN_STR(".+"), &err) < 0) {
        die("matcher", &err);
    }
    odin_arena a;
    odin_arena_init(&a, 0);
    block_series *ss;
    size_t n;
    if (block_select(b, &m, 1, INT64_MIN, INT64_MAX, &a, &ss, &n, &err) < 0) {
        die("block_select", &err);
    }
    odin_strbuf o;
    odin_strbuf_init(&o, 0);
    for (size_t i = 0; i < n; i++) {
        print_series(&o, &ss[i]);
        out_str(&o, stdout);
        odin_strbuf_reset(&o);
    }
    odin_strbuf_fini(&o);
    odin_arena_fini(&a);
    tsdb_matcher_fini(&m);
    block_unref(b);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A block directory, or a data directory whose ULID-named subdirectories are blocks. */
static int cmd_read(const char *dir)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/meta.json", dir);
    FILE *f = fopen(p.p, "r");
    if (f) {
        fclose(f);
        read_block(dir);
        odin_strbuf_fini(&p);
        return 0;
    }
    DIR *d = opendir(dir);
    if (!d) {
        die("cannot open directory", NULL);
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (block_ulid_valid(odin_str_c(e->d_name))) {
            names = odin_realloc(names, (n + 1) * sizeof(*names));
            names[n++] = odin_strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n; i++) {
        odin_strbuf_reset(&p);
        odin_strbuf_printf(&p, "%s/%s", dir, names[i]);
        read_block(p.p);
        free(names[i]);
    }
    free(names);
    odin_strbuf_fini(&p);
    return 0;
}

typedef struct {
    block_series *s;
    size_t n, pos;
} copy_source;

static int copy_next(void *ctx, odin_labels *ls, const block_chunk **cs, size_t *n,
                     odin_err *err)
{
    (void)err;
    copy_source *c = ctx;
    if (c->pos >= c->n) {
        return 0;
    }
    block_series *s = &c->s[c->pos++];
    *ls = s->labels;
    *cs = s->chunks;
    *n = s->nchunks;
    return 1;
}

/* Rewrites a block through block_select and block_write: with a Prometheus block as input, the
 * index and chunk files must come out byte for byte the same. */
static int cmd_copy(const char *src_dir, const char *parent)
{
    odin_err err;
    odin_err_clear(&err);
    tsdb_block *b = block_open(src_dir, &err);
    if (!b) {
        die("block_open", &err);
    }
    tsdb_matcher m;
    if (tsdb_matcher_init(&m, TSDB_MATCH_RE, ODIN_STR("__name__"), ODIN_STR(".+"), &err) < 0) {
        die("matcher", &err);
    }
    odin_arena a;
    odin_arena_init(&a, 0);
    copy_source cs = {0};
    if (block_select(b, &m, 1, INT64_MIN, INT64_MAX, &a, &cs.s, &cs.n, &err) < 0) {
        die("block_select", &err);
    }
    const block_meta *bm = block_get_meta(b);
    block_write_opts o = {.parent_dir = parent, .mint = bm->mint, .maxt = bm->maxt,
                          .compaction_level = bm->level};
    block_source src = {.ctx = &cs, .next = copy_next};
    char ulid[27];
    if (block_write(&o, &src, ulid, &err) < 0) {
        die("block_write", &err);
    }
    odin_strbuf out;
    odin_strbuf_init(&out, 0);
    odin_strbuf_printf(&out, "%s\n", ulid);
    out_str(&out, stdout);
    odin_strbuf_fini(&out);
    odin_arena_fini(&a);
    tsdb_matcher_fini(&m);
    block_unref(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "copy") == 0) {
        return cmd_copy(argv[2], argv[3]);
    }
    if (argc >= 3 && strcmp(argv[1], "write") == 0) {
        uint64_t seg = 0;
        uint8_t enc = TSDB_ENC_XOR;
        for (int i = 3; i < argc; i++) {
            if (strcmp(argv[i], "--odin") == 0) {
                enc = TSDB_ENC_ODIN;
            } else if (strcmp(argv[i], "--segment-bytes") != 0 || i + 1 >= argc ||
                       odin_parse_u64(odin_str_c(argv[++i]), &seg) < 0) {
                die("bad --segment-bytes", NULL);
            }
        }
        return cmd_write(argv[2], seg, enc);
    }
    if (argc == 3 && strcmp(argv[1], "read") == 0) {
        return cmd_read(argv[2]);
    }
    odin_err usage = {.code = ODIN_ERR_INVALID,
                      .msg = "usage: tsdb_write_block write PARENT_DIR [--segment-bytes N] "
                             "[--odin] < series | read DIR | copy BLOCK_DIR PARENT_DIR"};
    die("usage", &usage);
    return 2;
}

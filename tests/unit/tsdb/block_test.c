/* Unit tests for persisted blocks: write/read round trips, matcher semantics of block_select,
 * time ranges, chunk segment cuts, meta.json text and parsing, ULIDs, refcounted deletion, and
 * corrupt or truncated files (every byte flipped) ending in errors, never out-of-bounds reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsdb/block_int.h"
#include "tsdb/chunk.h"
#include "tsdb/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tsdb_block_tests(void);

/* ---- An in-memory block source ----------------------------------------------------------------- */

enum { T0 = 1000000, STEP = 1000, PER_CHUNK = 100 };

typedef struct {
    odin_label lv[4];
    odin_labels ls;
    block_chunk chunks[8];
    size_t nchunks;
    size_t nsamples;
} test_series;

typedef struct {
    test_series s[16];
    size_t n, pos;
} test_source;

/* Series i has nsamples samples t = T0 + k*STEP, v = i*1000 + k, cut every PER_CHUNK samples. */
static void add_series(test_source *src, size_t nsamples, const char *const *kv, size_t nkv)
{
    test_series *s = &src->s[src->n++];
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < nkv; i++) {
        s->lv[i] = (odin_label){odin_str_c(kv[2 * i]), odin_str_c(kv[2 * i + 1])};
    }
    s->ls = (odin_labels){s->lv, nkv};
    s->nsamples = nsamples;
    for (size_t k = 0; k < nsamples; k += PER_CHUNK) {
        xor_chunk c;
        xor_chunk_init(&c);
        size_t end = k + PER_CHUNK < nsamples ? k + PER_CHUNK : nsamples;
        for (size_t j = k; j < end; j++) {
            xor_chunk_append(&c, T0 + (int64_t)j * STEP, (double)((src->n - 1) * 1000 + j));
        }
        xor_chunk_compact(&c);
        s->chunks[s->nchunks++] = (block_chunk){T0 + (int64_t)k * STEP,
                                                T0 + (int64_t)(end - 1) * STEP, c.b, c.len};
    }
}

static void source_fini(test_source *src)
{
    for (size_t i = 0; i < src->n; i++) {
        for (size_t k = 0; k < src->s[i].nchunks; k++) {
            free((void *)(uintptr_t)src->s[i].chunks[k].b);
        }
    }
}

static int source_next(void *ctx, odin_labels *ls, const block_chunk **cs, size_t *n,
                       odin_err *err)
{
    (void)err;
    test_source *src = ctx;
    if (src->pos >= src->n) {
        return 0;
    }
    test_series *s = &src->s[src->pos++];
    *ls = s->ls;
    *cs = s->chunks;
    *n = s->nchunks;
    return 1;
}

/* Five series in label order: the matcher table below refers to them by their "id" label. */
static void standard_source(test_source *src)
{
    memset(src, 0, sizeof(*src));
    static const char *const a[] = {"__name__", "m", "id", "0", "job", "a"};
    static const char *const b[] = {"__name__", "m", "id", "1", "job", "b"};
    static const char *const c[] = {"__name__", "m", "id", "2"};
    static const char *const d[] = {"__name__", "n", "id", "3", "job", "a"};
    static const char *const e[] = {"__name__", "n", "id", "4", "job", "ab"};
    /* label sets sort by (name, value) pairs in order: __name__ first, then id */
    add_series(src, 250, a, 3);
    add_series(src, 10, b, 3);
    add_series(src, 1, c, 2);
    add_series(src, 120, d, 3);
    add_series(src, 5, e, 3);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/odin-block-test-XXXXXX";
    char *p = mkdtemp(tmpl);
    assert_non_null(p);
    return odin_strdup(p);
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *e;
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        odin_strbuf_reset(&p);
        odin_strbuf_printf(&p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p.p, &st) == 0 && S_ISDIR(st.st_mode)) {
            rm_rf(p.p);
        } else {
            unlink(p.p);
        }
    }
    closedir(d);
    odin_strbuf_fini(&p);
    rmdir(dir);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

/* Writes the standard block into a fresh directory; returns the block path (caller frees). */
static char *write_standard(char **parent, uint64_t seg_bytes)
{
    test_source src;
    standard_source(&src);
    *parent = make_tmpdir();
    block_write_opts o = {.parent_dir = *parent, .mint = T0, .maxt = T0 + 250 * STEP,
                          .compaction_level = 1};
    block_source bs = {.ctx = &src, .next = source_next};
    char ulid[27];
    odin_err err;
    odin_err_clear(&err);
    int rc = block_write_seg(&o, &bs, seg_bytes, ulid, &err);
    if (rc < 0) {
        fail_msg("block_write: %s", err.msg);
    }
    assert_int_equal(strlen(ulid), 26);
    source_fini(&src);
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/%s", *parent, ulid);
    return odin_strbuf_take(&p, NULL);
}

static tsdb_block *open_ok(const char *path)
{
    odin_err err;
    odin_err_clear(&err);
    tsdb_block *b = block_open(path, &err);
    if (!b) {
        fail_msg("block_open %s: %s", path, err.msg);
    }
    return b;
}

/* ---- Round trip and select --------------------------------------------------------------------- */

static void check_samples(const block_series *s, size_t want_n, double first_v)
{
    size_t n = 0;
    for (size_t c = 0; c < s->nchunks; c++) {
        xor_iter it;
        xor_iter_init(&it, s->chunks[c].b, s->chunks[c].len);
        int64_t t;
        double v;
        while (xor_iter_next(&it, &t, &v)) {
            assert_int_equal(t, T0 + (int64_t)n * STEP);
            assert_true(v == first_v + (double)n);
            n++;
        }
        assert_false(it.err);
    }
    assert_int_equal(n, want_n);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char *parent;
    char *path = write_standard(&parent, 0);
    tsdb_block *b = open_ok(path);
    const block_meta *m = block_get_meta(b);
    assert_string_equal(m->ulid, strrchr(path, '/') + 1);
    assert_int_equal(m->mint, T0);
    assert_int_equal(m->maxt, T0 + 250 * STEP);
    assert_int_equal(m->num_series, 5);
    assert_int_equal(m->num_samples, 250 + 10 + 1 + 120 + 5);
    assert_int_equal(m->num_chunks, 3 + 1 + 1 + 2 + 1);
    assert_int_equal(m->level, 1);
    assert_true(m->size_bytes > 0);
    assert_string_equal(block_path(b), path);

    odin_arena a;
    odin_arena_init(&a, 0);
    odin_str *v;
    size_t n;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(block_label_names(b, &a, &v, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_true(odin_str_eq_c(v[0], "__name__") && odin_str_eq_c(v[1], "id") &&
                odin_str_eq_c(v[2], "job"));
    assert_int_equal(block_label_values(b, "job", &a, &v, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_true(odin_str_eq_c(v[0], "a") && odin_str_eq_c(v[1], "ab") && odin_str_eq_c(v[2], "b"));
    assert_int_equal(block_label_values(b, "nope", &a, &v, &n, &err), 0);
    assert_int_equal(n, 0);

    tsdb_matcher mt;
    assert_int_equal(tsdb_matcher_init(&mt, TSDB_MATCH_RE, ODIN_STR("__name__"), ODIN_STR(".+"),
                                       &err), 0);
    block_series *ss;
    assert_int_equal(block_select(b, &mt, 1, INT64_MIN, INT64_MAX, &a, &ss, &n, &err), 0);
    assert_int_equal(n, 5);
    const size_t want_n[] = {250, 10, 1, 120, 5};
    for (size_t i = 0; i < n; i++) {
        const odin_str *id = odin_labels_get(ss[i].labels, "id");
        assert_non_null(id);
        assert_int_equal(id->p[0] - '0', (int)i);
        check_samples(&ss[i], want_n[i], (double)(i * 1000));
    }
    tsdb_matcher_fini(&mt);
    odin_arena_fini(&a);
    block_unref(b);
    rm_rf(parent);
    free(path);
    free(parent);
}

typedef struct {
    const char *name;
    struct {
        tsdb_match_type type;
        const char *name, *value;
    } m[3];
    size_t nm;
    const char *want; /* ids of matching series in order, or NULL for ODIN_ERR_INVALID */
} select_case;

static const select_case select_cases[] = {
    {"eq", {{TSDB_MATCH_EQ, "job", "a"}}, 1, "03"},
    {"eq name and absent label", {{TSDB_MATCH_EQ, "__name__", "m"}, {TSDB_MATCH_EQ, "job", ""}},
     2, "2"},
    {"neq alone is not selective", {{TSDB_MATCH_NEQ, "job", "a"}}, 1, NULL},
    {"no matchers", {{0, NULL, NULL}}, 0, NULL},
    {"empty regex alone", {{TSDB_MATCH_RE, "job", ".*"}}, 1, NULL},
    {"neq with name", {{TSDB_MATCH_EQ, "__name__", "m"}, {TSDB_MATCH_NEQ, "job", "a"}}, 2, "12"},
    {"regex", {{TSDB_MATCH_RE, "job", "a.*"}}, 1, "034"},
    {"regex matching empty too", {{TSDB_MATCH_EQ, "__name__", "m"}, {TSDB_MATCH_RE, "job", "b|"}},
     2, "12"},
    {"nre not matching empty", {{TSDB_MATCH_NRE, "job", ""}}, 1, "0134"},
    {"nre with name", {{TSDB_MATCH_EQ, "__name__", "n"}, {TSDB_MATCH_NRE, "job", "a"}}, 2, "4"},
    {"neq empty", {{TSDB_MATCH_NEQ, "job", ""}, {TSDB_MATCH_EQ, "__name__", "m"}}, 2, "01"},
    {"unknown name", {{TSDB_MATCH_EQ, "__name__", "x"}}, 1, ""},
    {"unknown label", {{TSDB_MATCH_EQ, "zone", "1"}}, 1, ""},
    {"intersect to nothing", {{TSDB_MATCH_EQ, "job", "b"}, {TSDB_MATCH_EQ, "__name__", "n"}}, 2,
     ""},
    {"three matchers", {{TSDB_MATCH_RE, "__name__", "m|n"}, {TSDB_MATCH_RE, "id", "[0-3]"},
                        {TSDB_MATCH_NEQ, "job", "b"}}, 3, "023"},
};

static void test_select_table(void **state)
{
    (void)state;
    char *parent;
    char *path = write_standard(&parent, 0);
    tsdb_block *b = open_ok(path);
    odin_arena a;
    odin_arena_init(&a, 0);
    for (size_t c = 0; c < ODIN_ARRAY_LEN(select_cases); c++) {
        const select_case *sc = &select_cases[c];
        tsdb_matcher ms[3];
        odin_err err;
        odin_err_clear(&err);
        for (size_t i = 0; i < sc->nm; i++) {
            assert_int_equal(tsdb_matcher_init(&ms[i], sc->m[i].type, odin_str_c(sc->m[i].name),
                                               odin_str_c(sc->m[i].value), &err), 0);
        }
        block_series *ss;
        size_t n;
        int rc = block_select(b, ms, sc->nm, INT64_MIN, INT64_MAX, &a, &ss, &n, &err);
        if (!sc->want) {
            if (rc != -ODIN_ERR_INVALID) {
                fail_msg("%s: want ODIN_ERR_INVALID, got %d", sc->name, rc);
            }
        } else {
            if (rc != 0) {
                fail_msg("%s: %s", sc->name, err.msg);
            }
            char got[16] = {0};
            for (size_t i = 0; i < n && i < 15; i++) {
                got[i] = odin_labels_get(ss[i].labels, "id")->p[0];
            }
            if (strcmp(got, sc->want) != 0) {
                fail_msg("%s: got ids \"%s\", want \"%s\"", sc->name, got, sc->want);
            }
        }
        for (size_t i = 0; i < sc->nm; i++) {
            tsdb_matcher_fini(&ms[i]);
        }
        odin_arena_reset(&a);
    }
    odin_arena_fini(&a);
    block_unref(b);
    rm_rf(parent);
    free(path);
    free(parent);
}

static void test_time_range(void **state)
{
    (void)state;
    char *parent;
    char *path = write_standard(&parent, 0);
    tsdb_block *b = open_ok(path);
    odin_arena a;
    odin_arena_init(&a, 0);
    odin_err err;
    odin_err_clear(&err);
    tsdb_matcher m;
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("m"),
                                       &err), 0);
    block_series *ss;
    size_t n;
    /* [T0+150s, T0+160s]: only series 0 has data there, in its second chunk (samples 100..199) */
    assert_int_equal(block_select(b, &m, 1, T0 + 150 * STEP, T0 + 160 * STEP, &a, &ss, &n, &err),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(ss[0].nchunks, 1);
    assert_int_equal(ss[0].chunks[0].mint, T0 + 100 * STEP);
    assert_int_equal(ss[0].chunks[0].maxt, T0 + 199 * STEP);
    /* a range touching a chunk's last sample includes it */
    assert_int_equal(block_select(b, &m, 1, T0 + 199 * STEP, T0 + 199 * STEP, &a, &ss, &n, &err),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(ss[0].nchunks, 1);
    /* before all data */
    assert_int_equal(block_select(b, &m, 1, 0, T0 - 1, &a, &ss, &n, &err), 0);
    assert_int_equal(n, 0);
    tsdb_matcher_fini(&m);
    odin_arena_fini(&a);
    block_unref(b);
    rm_rf(parent);
    free(path);
    free(parent);
}

static void test_segments(void **state)
{
    (void)state;
    char *parent;
    char *path = write_standard(&parent, 200);
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/chunks", path);
    assert_true(count_entries(p.p) >= 4);
    odin_strbuf_fini(&p);
    tsdb_block *b = open_ok(path);
    odin_arena a;
    odin_arena_init(&a, 0);
    odin_err err;
    odin_err_clear(&err);
    tsdb_matcher m;
    assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_NEQ, ODIN_STR("id"), ODIN_STR(""), &err), 0);
    block_series *ss;
    size_t n;
    assert_int_equal(block_select(b, &m, 1, INT64_MIN, INT64_MAX, &a, &ss, &n, &err), 0);
    assert_int_equal(n, 5);
    check_samples(&ss[0], 250, 0);
    check_samples(&ss[3], 120, 3000);
    tsdb_matcher_fini(&m);
    odin_arena_fini(&a);
    block_unref(b);
    rm_rf(parent);
    free(path);
    free(parent);
}

static void test_empty_and_bad_sources(void **state)
{
    (void)state;
    char *parent = make_tmpdir();
    test_source src;
    memset(&src, 0, sizeof(src));
    block_write_opts o = {.parent_dir = parent, .mint = 0, .maxt = 1, .compaction_level = 1};
    block_source bs = {.ctx = &src, .next = source_next};
    char ulid[27] = "x";
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(block_write(&o, &bs, ulid, &err), 0);
    assert_int_equal(ulid[0], '\0');
    assert_int_equal(count_entries(parent), 0);

    static const char *const hi[] = {"__name__", "z"};
    static const char *const lo[] = {"__name__", "a"};
    add_series(&src, 3, hi, 1);
    add_series(&src, 3, lo, 1);
    assert_int_equal(block_write(&o, &bs, ulid, &err), -ODIN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "out of order"));
    assert_int_equal(count_entries(parent), 0); /* the tmp dir was removed */
    source_fini(&src);
    rm_rf(parent);
    free(parent);
}

/* ---- meta.json --------------------------------------------------------------------------------- */

static void test_meta_format(void **state)
{
    (void)state;
    block_meta m = {.ulid = "01BKGV7JBM69T2G1BGBGM6KB12", .mint = 0, .maxt = 7200000,
                    .num_samples = 3, .num_series = 1, .num_chunks = 1, .level = 1};
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    block_meta_format(&b, &m, NULL, 0, NULL, 0);
    assert_string_equal(b.p, "{\n\t\"ulid\": \"01BKGV7JBM69T2G1BGBGM6KB12\",\n"
                             "\t\"minTime\": 0,\n\t\"maxTime\": 7200000,\n\t\"stats\": {\n"
                             "\t\t\"numSamples\": 3,\n\t\t\"numSeries\": 1,\n\t\t\"numChunks\": 1\n"
                             "\t},\n\t\"compaction\": {\n\t\t\"level\": 1,\n\t\t\"sources\": [\n"
                             "\t\t\t\"01BKGV7JBM69T2G1BGBGM6KB12\"\n\t\t]\n\t},\n"
                             "\t\"version\": 1\n}");
    odin_strbuf_reset(&b);
    m.num_samples = m.num_series = m.num_chunks = 0;
    m.level = 2;
    const char *srcs[] = {"01BKGV7JBM69T2G1BGBGM6KB10", "01BKGV7JBM69T2G1BGBGM6KB11"};
    const char *ext[] = {"replica", "a<b", "cluster", "x"};
    block_meta_format(&b, &m, srcs, 2, ext, 2);
    assert_string_equal(b.p, "{\n\t\"ulid\": \"01BKGV7JBM69T2G1BGBGM6KB12\",\n"
                             "\t\"minTime\": 0,\n\t\"maxTime\": 7200000,\n\t\"stats\": {},\n"
                             "\t\"compaction\": {\n\t\t\"level\": 2,\n\t\t\"sources\": [\n"
                             "\t\t\t\"01BKGV7JBM69T2G1BGBGM6KB10\",\n"
                             "\t\t\t\"01BKGV7JBM69T2G1BGBGM6KB11\"\n\t\t]\n\t},\n"
                             "\t\"version\": 1,\n\t\"thanos\": {\n\t\t\"labels\": {\n"
                             "\t\t\t\"cluster\": \"x\",\n\t\t\t\"replica\": \"a\\u003cb\"\n\t\t},\n"
                             "\t\t\"downsample\": {\n\t\t\t\"resolution\": 0\n\t\t},\n"
                             "\t\t\"source\": \"sidecar\"\n\t}\n}");
    /* what we write, we read */
    block_meta_file f;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(block_meta_parse(b.p, b.len, "meta.json", &f, &err), 0);
    assert_int_equal(f.m.level, 2);
    assert_int_equal(f.nsources, 2);
    assert_string_equal(f.sources[1], srcs[1]);
    block_meta_file_fini(&f);
    odin_strbuf_fini(&b);
}

typedef struct {
    const char *name;
    const char *text;
    const char *err; /* fragment of the message, NULL when it must parse */
} meta_case;

#define META_OK_HEAD "{\"ulid\":\"01BKGV7JBM69T2G1BGBGM6KB12\",\"minTime\":-5,\"maxTime\":10,"

static const meta_case meta_cases[] = {
    {"minimal", META_OK_HEAD "\"version\":1}", NULL},
    {"unknown fields skipped",
     META_OK_HEAD "\"x\":[1,2.5e3,{\"y\":null,\"z\":[true,false]}],\"version\":1,"
                  "\"compaction\":{\"level\":3,\"parents\":[{\"ulid\":\"a\"}],\"sources\":[]},"
                  "\"stats\":{\"numSamples\":7,\"numFloatSamples\":7}}",
     NULL},
    {"escapes in unknown strings", META_OK_HEAD "\"s\":\"a\\\"b\\u00e9\\n\",\"version\":1}", NULL},
    {"whitespace", " \n{ \"version\" : 1 ,\"ulid\":\"01BKGV7JBM69T2G1BGBGM6KB12\","
                   "\"minTime\":0,\"maxTime\":1 }\n", NULL},
    {"empty", "", "byte 0"},
    {"not an object", "[]", "expected '{'"},
    {"truncated", META_OK_HEAD "\"version\":1", "expected ',' or '}'"},
    {"truncated string", "{\"ulid\":\"01BK", "unterminated string"},
    {"missing version", META_OK_HEAD "\"x\":1}", "missing version"},
    {"version 2", META_OK_HEAD "\"version\":2}", "unsupported meta.json version"},
    {"bad ulid", "{\"ulid\":\"01bkgv7jbm69t2g1bgbgm6kb12\"}", "invalid ULID"},
    {"ulid too long", "{\"ulid\":\"01BKGV7JBM69T2G1BGBGM6KB123\"}", "invalid ULID"},
    {"float time", "{\"minTime\":1.5}", "expected an integer"},
    {"huge time", "{\"minTime\":99999999999999999999}", "out of range"},
    {"negative count", META_OK_HEAD "\"stats\":{\"numSeries\":-1},\"version\":1}",
     "negative count"},
    {"trailing", META_OK_HEAD "\"version\":1} x", "trailing data"},
    {"bad literal", META_OK_HEAD "\"x\":tru,\"version\":1}", "unexpected character"},
    {"control char", "{\"a\":\"x\ty\"}", "control character"},
    {"bad escape", "{\"a\":\"\\q\"}", "bad escape"},
    {"deep nesting",
     META_OK_HEAD "\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]",
     "nested too deeply"},
};

static void test_meta_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(meta_cases); i++) {
        const meta_case *c = &meta_cases[i];
        block_meta_file f;
        odin_err err;
        odin_err_clear(&err);
        int rc = block_meta_parse(c->text, strlen(c->text), "meta.json", &f, &err);
        if (!c->err) {
            if (rc != 0) {
                fail_msg("%s: %s", c->name, err.msg);
            }
            block_meta_file_fini(&f);
            continue;
        }
        if (rc != -ODIN_ERR_CORRUPT || !strstr(err.msg, c->err) ||
            !strstr(err.msg, "meta.json")) {
            fail_msg("%s: rc %d, message \"%s\", want \"%s\"", c->name, rc, err.msg, c->err);
        }
    }
    block_meta_file f;
    odin_err err;
    odin_err_clear(&err);
    const char *t = META_OK_HEAD "\"stats\":{\"numSamples\":7,\"numSeries\":2,\"numChunks\":3,"
                                 "\"numTombstones\":1},\"compaction\":{\"level\":4,\"sources\":"
                                 "[\"01BKGV7JBM69T2G1BGBGM6KB10\"]},\"version\":1}";
    assert_int_equal(block_meta_parse(t, strlen(t), "m", &f, &err), 0);
    assert_int_equal(f.m.mint, -5);
    assert_int_equal(f.m.maxt, 10);
    assert_int_equal(f.m.num_samples, 7);
    assert_int_equal(f.m.num_series, 2);
    assert_int_equal(f.m.num_chunks, 3);
    assert_int_equal(f.num_tombstones, 1);
    assert_int_equal(f.m.level, 4);
    assert_int_equal(f.nsources, 1);
    block_meta_file_fini(&f);
}

/* ---- ULIDs ------------------------------------------------------------------------------------- */

static void test_ulid(void **state)
{
    (void)state;
    char a[27], b[27], c[27];
    block_new_ulid(1000, a);
    block_new_ulid(2000, b);
    block_new_ulid(2000, c);
    assert_int_equal(strlen(a), 26);
    assert_true(block_ulid_valid(odin_str_c(a)));
    assert_true(strcmp(a, b) < 0);
    assert_true(strcmp(b, c) != 0);
    assert_memory_equal(b, c, 10); /* same time, same first 10 characters */
    /* the known encoding of time 1469918176385 from the ULID spec: 01ARYZ6S41 */
    block_new_ulid(1469918176385LL, a);
    assert_memory_equal(a, "01ARYZ6S41", 10);
    assert_false(block_ulid_valid(ODIN_STR("01ARYZ6S41TSV4RRFFQ69G5FA")));
    assert_false(block_ulid_valid(ODIN_STR("81ARYZ6S41TSV4RRFFQ69G5FAV")));
    assert_false(block_ulid_valid(ODIN_STR("01ARYZ6S41TSV4RRFFQ69G5FAU")));
    assert_false(block_ulid_valid(ODIN_STR("01aryz6s41tsv4rrffq69g5fav")));
    assert_true(block_ulid_valid(ODIN_STR("01ARYZ6S41TSV4RRFFQ69G5FAV")));
}

/* ---- Lifetime ---------------------------------------------------------------------------------- */

static void test_refcount_delete(void **state)
{
    (void)state;
    char *parent;
    char *path = write_standard(&parent, 0);
    tsdb_block *b = open_ok(path);
    block_ref(b);
    block_mark_deleted(b);
    block_unref(b);
    assert_int_equal(access(path, F_OK), 0); /* still referenced */
    block_unref(b);
    assert_int_equal(count_entries(parent), 0);
    block_unref(NULL);
    rm_rf(parent);
    free(path);
    free(parent);
}

/* ---- Corruption -------------------------------------------------------------------------------- */

static void write_bytes(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static uint8_t *read_bytes(const char *path, size_t *n)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(odin_read_file(path, &b, 1 << 24, &err), 0);
    return (uint8_t *)odin_strbuf_take(&b, n);
}

/* Opens and reads everything; any outcome but a crash or a silent wrong answer is fine. Returns
 * the error code (0 when all succeeded). */
static int exercise(const char *path, odin_err *err)
{
    tsdb_block *b = block_open(path, err);
    if (!b) {
        return err->code;
    }
    odin_arena a;
    odin_arena_init(&a, 0);
    tsdb_matcher m;
    odin_err merr;
    odin_err_clear(&merr);
    tsdb_matcher_init(&m, TSDB_MATCH_RE, ODIN_STR("__name__"), ODIN_STR(".+"), &merr);
    block_series *ss;
    size_t n;
    odin_str *v;
    int rc = block_select(b, &m, 1, INT64_MIN, INT64_MAX, &a, &ss, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        for (size_t c = 0; c < ss[i].nchunks; c++) {
            xor_iter it;
            xor_iter_init(&it, ss[i].chunks[c].b, ss[i].chunks[c].len);
            int64_t t;
            double x;
            while (xor_iter_next(&it, &t, &x)) {
            }
        }
    }
    if (rc == 0) {
        rc = block_label_names(b, &a, &v, &n, err);
    }
    if (rc == 0) {
        rc = block_label_values(b, "job", &a, &v, &n, err);
    }
    tsdb_matcher_fini(&m);
    odin_arena_fini(&a);
    block_unref(b);
    return -rc;
}

static void corrupt_file(const char *path, const char *file, size_t *ncorrupt)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/%s", path, file);
    size_t n;
    uint8_t *orig = read_bytes(p.p, &n);
    uint8_t *buf = odin_malloc(n);
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, orig, n);
        buf[i] ^= (uint8_t)(0x5A ^ (i & 0x80));
        write_bytes(p.p, buf, n);
        odin_err err;
        odin_err_clear(&err);
        int code = exercise(path, &err);
        if (code == ODIN_ERR_CORRUPT) {
            assert_non_null(strstr(err.msg, path));
            (*ncorrupt)++;
        }
    }
    for (size_t len = 0; len < n; len += 1 + len / 8) {
        write_bytes(p.p, orig, len);
        odin_err err;
        odin_err_clear(&err);
        assert_int_not_equal(exercise(path, &err), 0);
    }
    write_bytes(p.p, orig, n);
    free(buf);
    free(orig);
    odin_strbuf_fini(&p);
}

static void test_corruption(void **state)
{
    (void)state;
    char *parent;
    char *path = write_standard(&parent, 0);
    size_t ncorrupt = 0;
    corrupt_file(path, "index", &ncorrupt);
    assert_true(ncorrupt > 100);
    ncorrupt = 0;
    corrupt_file(path, "chunks/000001", &ncorrupt);
    assert_true(ncorrupt > 100);
    corrupt_file(path, "meta.json", &ncorrupt);
    corrupt_file(path, "tombstones", &ncorrupt);
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(exercise(path, &err), 0); /* restored */
    rm_rf(parent);
    free(path);
    free(parent);
}

/* ---- Chunk encodings ---------------------------------------------------------------------------- */

/* The encoding byte of every chunk in the block's first segment, checked against want. */
static size_t check_segment_encodings(const char *block, uint8_t want)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/chunks/000001", block);
    size_t len;
    uint8_t *b = read_bytes(p.p, &len);
    size_t pos = 8, n = 0;
    while (pos < len) {
        uint64_t clen;
        size_t vn;
        assert_int_equal(tsdb_get_uvarint(b + pos, len - pos, &clen, &vn), 0);
        assert_int_equal(b[pos + vn], want);
        pos += vn + 1 + clen + 4;
        n++;
    }
    assert_int_equal(pos, len);
    free(b);
    odin_strbuf_fini(&p);
    return n;
}

/* Sets the first chunk's encoding byte to enc and fixes its CRC. */
static void flip_first_encoding(const char *block, uint8_t enc)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/chunks/000001", block);
    size_t len;
    uint8_t *b = read_bytes(p.p, &len);
    uint64_t clen;
    size_t vn;
    assert_int_equal(tsdb_get_uvarint(b + 8, len - 8, &clen, &vn), 0);
    uint8_t *e = b + 8 + vn;
    *e = enc;
    block_put_be32(e + 1 + clen, tsdb_crc32c(0, e, 1 + clen));
    write_bytes(p.p, b, len);
    free(b);
    odin_strbuf_fini(&p);
}

/* A block source that re-reads every series of an open block. */
typedef struct {
    tsdb_block *b;
    uint32_t *ids;
    size_t n, pos;
    odin_arena a;
} block_reader_source;

static int reader_next(void *ctx, odin_labels *ls, const block_chunk **cs, size_t *n,
                       odin_err *err)
{
    block_reader_source *r = ctx;
    if (r->pos >= r->n) {
        return 0;
    }
    block_series s;
    int rc = block_series_read(r->b, r->ids[r->pos++], INT64_MIN, INT64_MAX, &r->a, &s, err);
    if (rc < 0) {
        return rc;
    }
    *ls = s.labels;
    *cs = s.chunks;
    *n = s.nchunks;
    return 1;
}

static char *write_with(char *parent, const block_source *bs, uint8_t enc)
{
    block_write_opts o = {.parent_dir = parent, .mint = T0, .maxt = T0 + 250 * STEP,
                          .compaction_level = 1, .chunk_encoding = enc};
    char ulid[27];
    odin_err err;
    odin_err_clear(&err);
    if (block_write(&o, bs, ulid, &err) < 0) {
        fail_msg("block_write: %s", err.msg);
    }
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/%s", parent, ulid);
    return odin_strbuf_take(&p, NULL);
}

static void check_standard(const char *path, uint8_t enc, size_t want_chunks)
{
    tsdb_block *b = open_ok(path);
    const block_meta *m = block_get_meta(b);
    assert_int_equal(m->num_series, 5);
    assert_int_equal(m->num_samples, 250 + 10 + 1 + 120 + 5);
    assert_int_equal(m->num_chunks, want_chunks);
    assert_int_equal(check_segment_encodings(path, enc), want_chunks);
    odin_arena a;
    odin_arena_init(&a, 0);
    odin_err err;
    odin_err_clear(&err);
    tsdb_matcher mt;
    assert_int_equal(tsdb_matcher_init(&mt, TSDB_MATCH_RE, ODIN_STR("__name__"), ODIN_STR(".+"),
                                       &err), 0);
    block_series *ss;
    size_t n;
    assert_int_equal(block_select(b, &mt, 1, INT64_MIN, INT64_MAX, &a, &ss, &n, &err), 0);
    assert_int_equal(n, 5);
    const size_t want_n[] = {250, 10, 1, 120, 5};
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < ss[i].nchunks; c++) {
            assert_int_equal(tsdb_chunk_encoding(ss[i].chunks[c].b, ss[i].chunks[c].len), enc);
        }
        check_samples(&ss[i], want_n[i], (double)(i * 1000));
    }
    tsdb_matcher_fini(&mt);
    odin_arena_fini(&a);
    block_unref(b);
}

/* The default writes XOR chunks byte for byte as given; the option writes Odin's, which read back
 * the same samples; writing an Odin block's series with the default turns them back into XOR. */
static void test_chunk_encodings(void **state)
{
    (void)state;
    char *parent = make_tmpdir();
    test_source src;
    standard_source(&src);
    block_source bs = {.ctx = &src, .next = source_next};
    char *xor_path = write_with(parent, &bs, 0);
    check_standard(xor_path, TSDB_ENC_XOR, 3 + 1 + 1 + 2 + 1);
    src.pos = 0;
    char *odin_path = write_with(parent, &bs, TSDB_ENC_ODIN);
    check_standard(odin_path, TSDB_ENC_ODIN, 5); /* re-cut: one chunk per series */
    source_fini(&src);

    block_reader_source r = {.b = open_ok(odin_path)};
    odin_arena_init(&r.a, 0);
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(block_series_ids(r.b, &r.a, &r.ids, &r.n, &err), 0);
    block_source rs = {.ctx = &r, .next = reader_next};
    char *back = write_with(parent, &rs, TSDB_ENC_XOR);
    check_standard(back, TSDB_ENC_XOR, 3 + 1 + 1 + 1 + 1); /* XOR re-cut at 120 samples */
    r.pos = 0;
    char *again = write_with(parent, &rs, TSDB_ENC_ODIN);
    check_standard(again, TSDB_ENC_ODIN, 5); /* Odin chunks pass through */
    odin_arena_fini(&r.a);
    block_unref(r.b);
    /* block_chunk_encodings tells which encodings a block holds from the chunk frames */
    const char *const paths[4] = {xor_path, odin_path, back, again};
    const unsigned want[4] = {BLOCK_HAS_XOR, BLOCK_HAS_ODIN, BLOCK_HAS_XOR, BLOCK_HAS_ODIN};
    for (int i = 0; i < 4; i++) {
        tsdb_block *b = open_ok(paths[i]);
        unsigned mask = 99;
        assert_int_equal(block_chunk_encodings(b, &mask, &err), 0);
        assert_int_equal(mask, want[i]);
        block_unref(b);
    }
    /* an encoding byte that disagrees with the chunk's bytes (CRC intact) is corruption */
    flip_first_encoding(xor_path, TSDB_ENC_ODIN);
    flip_first_encoding(odin_path, TSDB_ENC_XOR);
    {
        tsdb_block *b = open_ok(xor_path);
        unsigned mask = 0;
        assert_int_equal(block_chunk_encodings(b, &mask, &err), 0);
        assert_int_equal(mask, BLOCK_HAS_XOR | BLOCK_HAS_ODIN);
        block_unref(b);
    }
    for (int i = 0; i < 2; i++) {
        tsdb_block *b = open_ok(i ? odin_path : xor_path);
        odin_arena a;
        odin_arena_init(&a, 0);
        tsdb_matcher mt;
        assert_int_equal(tsdb_matcher_init(&mt, TSDB_MATCH_RE, ODIN_STR("__name__"),
                                           ODIN_STR(".+"), &err), 0);
        block_series *ss;
        size_t n;
        assert_int_equal(block_select(b, &mt, 1, INT64_MIN, INT64_MAX, &a, &ss, &n, &err),
                         -ODIN_ERR_CORRUPT);
        assert_non_null(strstr(err.msg, "do not match encoding"));
        tsdb_matcher_fini(&mt);
        odin_arena_fini(&a);
        block_unref(b);
    }
    /* a segment cut short in its last chunk: the walk reports where, never reads past it */
    odin_strbuf seg;
    odin_strbuf_init(&seg, 0);
    odin_strbuf_printf(&seg, "%s/chunks/000001", again);
    struct stat st;
    assert_int_equal(stat(seg.p, &st), 0);
    assert_int_equal(truncate(seg.p, st.st_size - 3), 0);
    tsdb_block *b = open_ok(again);
    unsigned mask;
    odin_err_clear(&err);
    assert_int_equal(block_chunk_encodings(b, &mask, &err), -ODIN_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "bad chunk"));
    block_unref(b);
    odin_strbuf_fini(&seg);
    free(again);
    free(back);
    free(xor_path);
    free(odin_path);
    rm_rf(parent);
    free(parent);
}

int tsdb_block_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_select_table),
        cmocka_unit_test(test_time_range),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_empty_and_bad_sources),
        cmocka_unit_test(test_meta_format),
        cmocka_unit_test(test_meta_parse_table),
        cmocka_unit_test(test_ulid),
        cmocka_unit_test(test_refcount_delete),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_chunk_encodings),
    };
    return cmocka_run_group_tests_name("tsdb_block", tests, NULL, NULL);
}

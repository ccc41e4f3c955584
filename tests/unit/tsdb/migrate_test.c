/* Unit tests for migrate.c: Prometheus' chunks_head/ on open. Chunks covered by the WAL are set
 * aside, chunks nothing else holds and unknown file headers stop the open naming the file, and
 * nothing is deleted either way. */
#include <cmocka.h>

#include "tsdb/chunk.h"
#include "tsdb/db_int.h"
#include "tsdb/wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tsdb_migrate_tests(void);

enum { T0 = 1700000000000LL, STEP_MS = 1000, NSAMPLES = 30 };

static char *make_dir(void)
{
    char tmpl[] = "/tmp/odin-migrate-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return odin_strdup(d);
}

static void put_be(odin_strbuf *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        odin_strbuf_putc(b, (char)(uint8_t)(v >> (8 * i)));
    }
}

/* A chunks_head file (magic, version 1) with one XOR chunk of series ref 1, then zero fill. */
static void write_head_chunks(const char *dir, uint32_t magic)
{
    xor_chunk c;
    xor_chunk_init(&c);
    for (int i = 0; i < NSAMPLES; i++) {
        xor_chunk_append(&c, T0 + i * STEP_MS, (double)i);
    }
    odin_strbuf f;
    odin_strbuf_init(&f, 0);
    put_be(&f, magic, 4);
    put_be(&f, 1, 1);
    put_be(&f, 0, 3);
    size_t start = f.len;
    put_be(&f, 1, 8);
    put_be(&f, (uint64_t)T0, 8);
    put_be(&f, (uint64_t)(T0 + (NSAMPLES - 1) * STEP_MS), 8);
    put_be(&f, 1, 1);
    uint8_t v[10];
    odin_strbuf_put(&f, (const char *)v, tsdb_put_uvarint(v, c.len));
    odin_strbuf_put(&f, (const char *)c.b, c.len);
    put_be(&f, tsdb_crc32c(0, f.p + start, f.len - start), 4);
    for (int i = 0; i < 64; i++) {
        odin_strbuf_putc(&f, 0);
    }
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/chunks_head", dir);
    mkdir(path.p, 0777);
    odin_strbuf_puts(&path, "/000001");
    FILE *fp = fopen(path.p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(f.p, 1, f.len, fp), f.len);
    fclose(fp);
    odin_strbuf_fini(&path);
    odin_strbuf_fini(&f);
    xor_chunk_fini(&c);
}

/* A WAL with series ref 1 and, when with_samples, the chunk's samples. */
static void write_wal(const char *dir, bool with_samples)
{
    odin_strbuf path, rec;
    odin_strbuf_init(&path, 0);
    odin_strbuf_init(&rec, 0);
    odin_strbuf_printf(&path, "%s/wal", dir);
    wal_opts wo = {.fsync_ms = 0};
    odin_err err = {0};
    tsdb_wal *w = wal_open(path.p, &wo, &err);
    assert_non_null(w);
    odin_label l = {ODIN_STR("__name__"), ODIN_STR("up")};
    wal_series s = {1, {&l, 1}};
    wal_encode_series(&rec, &s, 1);
    assert_int_equal(wal_log(w, (const uint8_t *)rec.p, rec.len, &err), 0);
    wal_sample ss[NSAMPLES];
    for (int i = 0; i < NSAMPLES; i++) {
        ss[i] = (wal_sample){1, T0 + i * STEP_MS, (double)i};
    }
    odin_strbuf_reset(&rec);
    wal_encode_samples(&rec, ss, with_samples ? NSAMPLES : 1);
    assert_int_equal(wal_log(w, (const uint8_t *)rec.p, rec.len, &err), 0);
    wal_close(w);
    odin_strbuf_fini(&path);
    odin_strbuf_fini(&rec);
}

static bool exists(const char *dir, const char *rel)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/%s", dir, rel);
    struct stat sb;
    bool ok = stat(p.p, &sb) == 0;
    odin_strbuf_fini(&p);
    return ok;
}

static const struct {
    const char *name;
    uint32_t magic;
    bool wal_samples;
    int code;        /* 0: opens */
    const char *msg; /* fragment of the error */
} cases[] = {
    {"covered by the WAL", 0x0130BC91, true, 0, NULL},
    {"samples only in chunks_head", 0x0130BC91, false, ODIN_ERR_CORRUPT,
     "chunks_head/000001: chunk of series ref 1"},
    {"unknown magic", 0x12345678, true, ODIN_ERR_CORRUPT,
     "chunks_head/000001: not a Prometheus head chunk file"},
};

static void test_head_chunks(void **state)
{
    (void)state;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        char *dir = make_dir();
        write_wal(dir, cases[i].wal_samples);
        write_head_chunks(dir, cases[i].magic);
        tsdb_opts o = {.dir = dir, .wal_fsync_ms = 0};
        odin_err err = {0};
        tsdb *db = tsdb_open(&o, &err);
        if (cases[i].code == 0) {
            if (!db) {
                fail_msg("%s: open: %s", cases[i].name, err.msg);
            }
            tsdb_stats st;
            tsdb_get_stats(db, &st);
            assert_int_equal(st.head_series, 1);
            assert_true(exists(dir, "chunks_head.from-prometheus/000001"));
            assert_false(exists(dir, "chunks_head"));
            tsdb_close(db);
        } else {
            if (db) {
                fail_msg("%s: opened", cases[i].name);
            }
            assert_int_equal(err.code, cases[i].code);
            if (!strstr(err.msg, cases[i].msg)) {
                fail_msg("%s: message %s", cases[i].name, err.msg);
            }
            assert_true(exists(dir, "chunks_head/000001"));
        }
        odin_remove_tree(dir);
        free(dir);
    }
}

int tsdb_migrate_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_chunks),
    };
    return cmocka_run_group_tests_name("tsdb_migrate", tests, NULL, NULL);
}

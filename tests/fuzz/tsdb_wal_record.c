/* libFuzzer target for the WAL (src/tsdb/record.c, wal_reader.c, snappy.c): decodes the input as
 * each record type, as a snappy block, and as a WAL segment on disk, then checks what each decoder
 * claims: counts, round trips of what decoded, and that repair leaves a log that reads clean; and
 * snappy-encodes the input, which must decode back to it. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsdb/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static void check_samples(const uint8_t *rec, size_t len, odin_arena *a)
{
    wal_sample *s;
    size_t n;
    odin_err err;
    odin_err_clear(&err);
    int rc = wal_decode_samples(rec, len, a, &s, &n, &err);
    if (rc < 0) {
        check(rc == -ODIN_ERR_CORRUPT && err.code == ODIN_ERR_CORRUPT);
        return;
    }
    check((size_t)rc == n && n <= len / 10 + 1);
    /* What decoded re-encodes to something that decodes to the same samples. */
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    wal_encode_samples(&b, s, n);
    wal_sample *s2;
    size_t n2;
    check(wal_decode_samples((const uint8_t *)b.p, b.len, a, &s2, &n2, &err) == (int)n);
    for (size_t i = 0; i < n; i++) {
        check(s2[i].ref == s[i].ref && s2[i].t == s[i].t && memcmp(&s2[i].v, &s[i].v, 8) == 0);
    }
    odin_strbuf_fini(&b);
}

static void check_series(const uint8_t *rec, size_t len, odin_arena *a)
{
    wal_series *s;
    size_t n;
    odin_err err;
    odin_err_clear(&err);
    int rc = wal_decode_series(rec, len, a, &s, &n, &err);
    if (rc < 0) {
        check(rc == -ODIN_ERR_CORRUPT || rc == -ODIN_ERR_LIMIT);
        return;
    }
    check((size_t)rc == n);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    wal_encode_series(&b, s, n);
    wal_series *s2;
    size_t n2;
    check(wal_decode_series((const uint8_t *)b.p, b.len, a, &s2, &n2, &err) == (int)n);
    for (size_t i = 0; i < n; i++) {
        check(s2[i].ref == s[i].ref && odin_labels_cmp(s2[i].labels, s[i].labels) == 0);
        for (size_t j = 0; j < s[i].labels.len; j++) {
            check(s[i].labels.v[j].name.len + s[i].labels.v[j].value.len <= len);
        }
    }
    odin_strbuf_fini(&b);
}

static void check_others(const uint8_t *rec, size_t len, odin_arena *a)
{
    odin_err err;
    size_t n;
    wal_tombstone *t;
    odin_err_clear(&err);
    int rc = wal_decode_tombstones(rec, len, a, &t, &n, &err);
    check(rc < 0 ? err.code == -rc : (size_t)rc == n);
    wal_metadata *m;
    odin_err_clear(&err);
    rc = wal_decode_metadata(rec, len, a, &m, &n, &err);
    check(rc < 0 ? err.code == -rc : (size_t)rc == n);
    for (int i = 0; i < rc; i++) {
        check(m[i].unit.len <= len && m[i].help.len <= len);
    }
    odin_err_clear(&err);
    rc = wal_count_exemplars(rec, len, &n, &err);
    check(rc < 0 ? err.code == -rc : (size_t)rc == n);
}

static void check_records(const uint8_t *data, size_t size)
{
    odin_arena a;
    odin_arena_init(&a, 64u << 20);
    /* As given, then with each type byte forced, so every decoder sees every body. */
    uint8_t *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    for (int t = 0; t <= WAL_REC_METADATA; t++) {
        if (t > 0 && size > 0) {
            buf[0] = (uint8_t)t;
        }
        check_series(buf, size, &a);
        check_samples(buf, size, &a);
        check_others(buf, size, &a);
        odin_arena_reset(&a);
    }
    free(buf);
    odin_arena_fini(&a);
    odin_strbuf out;
    odin_strbuf_init(&out, 16u << 20);
    odin_err err;
    odin_err_clear(&err);
    int rc = tsdb_snappy_decode(data, size, &out, &err);
    check(rc == 0 || rc == -ODIN_ERR_CORRUPT || rc == -ODIN_ERR_LIMIT);
    check(rc < 0 || out.len <= size * 22);
    /* The encoder on the raw input: within its bound, and decoding gives the input back. */
    static uint16_t table[1 << TSDB_SNAPPY_TABLE_BITS];
    odin_strbuf enc;
    odin_strbuf_init(&enc, 0);
    check(tsdb_snappy_encode(data, size, &enc, table) == 0);
    check(enc.len <= tsdb_snappy_max_encoded(size));
    check(tsdb_snappy_decode((const uint8_t *)enc.p, enc.len, &out, &err) == 0);
    check(out.len == size && (size == 0 || memcmp(out.p, data, size) == 0));
    odin_strbuf_fini(&enc);
    odin_strbuf_fini(&out);
}

static char *tmp_dir;
static char *tmp_seg;

static void cleanup(void)
{
    if (tmp_seg != NULL) {
        unlink(tmp_seg);
        rmdir(tmp_dir);
    }
}

/* Reads every record; returns the count and the final code. */
static size_t read_segment(int *rc_out, int *seg, uint64_t *off)
{
    odin_err err;
    odin_err_clear(&err);
    wal_reader *r = wal_reader_open(tmp_dir, &err);
    check(r != NULL);
    const uint8_t *rec;
    size_t len;
    size_t n = 0;
    int rc;
    while ((rc = wal_reader_next(r, &rec, &len, &err)) == 1) {
        check(len <= WAL_MAX_RECORD_BYTES);
        n++;
    }
    check(rc == 0 || rc == -ODIN_ERR_CORRUPT || rc == -ODIN_ERR_UNAVAILABLE);
    check(rc == 0 ? err.code == 0 : err.code == -rc && strstr(err.msg, "00000000") != NULL);
    wal_reader_position(r, seg, off);
    wal_reader_close(r);
    *rc_out = rc;
    return n;
}

static void check_segment(const uint8_t *data, size_t size)
{
    if (tmp_dir == NULL) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        const char *base = getenv("TMPDIR");
        odin_strbuf_printf(&b, "%s/odin_fuzz_wal_XXXXXX", base && *base ? base : "/tmp");
        check(mkdtemp(b.p) != NULL);
        tmp_dir = odin_strbuf_take(&b, NULL);
        odin_strbuf_init(&b, 0);
        odin_strbuf_printf(&b, "%s/00000000", tmp_dir);
        tmp_seg = odin_strbuf_take(&b, NULL);
        atexit(cleanup);
        odin_log_set_level("error");
    }
    int fd = open(tmp_seg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0);
    check(size == 0 || write(fd, data, size) == (ssize_t)size);
    close(fd);
    int rc, seg;
    uint64_t off;
    size_t n = read_segment(&rc, &seg, &off);
    check(seg == 0 && off <= size);
    if (rc < 0) {
        odin_err err;
        odin_err_clear(&err);
        check(wal_repair(tmp_dir, seg, off, &err) == 0);
        int rc2;
        size_t n2 = read_segment(&rc2, &seg, &off);
        check(rc2 == 0 && n2 == n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_records(data, size);
    check_segment(data, size);
    return 0;
}

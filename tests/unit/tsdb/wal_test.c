/* Unit tests for the WAL: src/tsdb/wal.c (writer), wal_reader.c (reader, repair), snappy.c,
 * record.c (record codecs) and crc32c.c. Hand-built segments check the byte layout; truncation
 * and bit-flip sweeps check that damage ends reading cleanly and that repair leaves a clean log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first */
#include <cmocka.h>

#include "tsdb/wal.h"
#include "tsdb/chunk.h"

#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int tsdb_wal_tests(void);

/* ---- helpers ---- */

static char *pathf(const char *fmt, ...) ODIN_PRINTF(1, 2);

static char *pathf(const char *fmt, ...)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    return odin_strbuf_take(&b, NULL);
}

static char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = pathf("%s/odin_wal_test_XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rmtree(char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void read_whole(const char *path, odin_strbuf *b)
{
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(odin_read_file(path, b, (size_t)1 << 30, &err), 0);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_bytes(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
    }
}

/* Records read back from a directory. */
typedef struct {
    odin_strbuf *v;
    size_t n;
    int rc; /* last wal_reader_next result */
    odin_err err;
    int seg; /* position after reading */
    uint64_t off;
} readback;

static void readback_all(const char *dir, readback *rb)
{
    memset(rb, 0, sizeof(*rb));
    odin_err_clear(&rb->err);
    wal_reader *r = wal_reader_open(dir, &rb->err);
    assert_non_null(r);
    const uint8_t *rec;
    size_t len;
    while ((rb->rc = wal_reader_next(r, &rec, &len, &rb->err)) == 1) {
        rb->v = odin_realloc(rb->v, (rb->n + 1) * sizeof(*rb->v));
        odin_strbuf_init(&rb->v[rb->n], 0);
        odin_strbuf_put(&rb->v[rb->n], rec, len);
        rb->n++;
    }
    /* The error sticks: asking again gives the same answer. */
    odin_err again;
    odin_err_clear(&again);
    assert_int_equal(wal_reader_next(r, &rec, &len, &again), rb->rc);
    wal_reader_position(r, &rb->seg, &rb->off);
    wal_reader_close(r);
}

static void readback_free(readback *rb)
{
    for (size_t i = 0; i < rb->n; i++) {
        odin_strbuf_fini(&rb->v[i]);
    }
    free(rb->v);
}

static void assert_record(const odin_strbuf *got, const uint8_t *want, size_t len)
{
    assert_int_equal(got->len, len);
    if (len > 0) {
        assert_memory_equal(got->p, want, len);
    }
}

/* Test-only segment builder: lays records out as the writer should (fragments within pages,
 * padding when under 7 bytes remain), with chosen extra flag bits on every fragment. */
static void build_record(odin_strbuf *seg, const uint8_t *rec, size_t len, uint8_t flags)
{
    size_t done = 0;
    for (int i = 0; i == 0 || done < len; i++) {
        size_t page_left = WAL_PAGE_BYTES - seg->len % WAL_PAGE_BYTES;
        size_t n = len - done < page_left - 7 ? len - done : page_left - 7;
        bool last = done + n == len;
        uint8_t h[7];
        h[0] = (uint8_t)((i == 0 ? (last ? 1 : 2) : (last ? 4 : 3)) | flags);
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        uint32_t crc = tsdb_crc32c(0, rec + done, n);
        h[3] = (uint8_t)(crc >> 24);
        h[4] = (uint8_t)(crc >> 16);
        h[5] = (uint8_t)(crc >> 8);
        h[6] = (uint8_t)crc;
        odin_strbuf_put(seg, h, 7);
        odin_strbuf_put(seg, rec + done, n);
        done += n;
        size_t rest = WAL_PAGE_BYTES - seg->len % WAL_PAGE_BYTES;
        if (rest < 7) {
            static const uint8_t z[7];
            odin_strbuf_put(seg, z, rest);
        }
    }
}

/* Literal-only snappy: valid snappy that any decoder must accept. */
static void snappy_literal(odin_strbuf *out, const uint8_t *p, size_t n)
{
    uint8_t v[10];
    odin_strbuf_reset(out);
    size_t k = 0;
    uint64_t x = n;
    while (x >= 0x80) {
        v[k++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    v[k++] = (uint8_t)x;
    odin_strbuf_put(out, v, k);
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done > 65536 ? 65536 : n - done;
        if (chunk <= 60) {
            odin_strbuf_putc(out, (char)((chunk - 1) << 2));
        } else {
            uint8_t t[3] = {61 << 2, (uint8_t)(chunk - 1), (uint8_t)((chunk - 1) >> 8)};
            odin_strbuf_put(out, t, 3);
        }
        odin_strbuf_put(out, p + done, chunk);
        done += chunk;
    }
}

/* ---- CRC-32C ---- */

static void test_crc32c(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *in;
        size_t len;
        uint32_t want;
    } cases[] = {
        {"empty", "", 0, 0},
        {"check value", "123456789", 9, 0xe3069283u},
        {"a", "a", 1, 0xc1d04330u},
        {"32 zeros", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32,
         0x8a9136aau},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        uint32_t hw = tsdb_crc32c(0, cases[i].in, cases[i].len);
        uint32_t sw = tsdb_crc32c_sw(0, cases[i].in, cases[i].len);
        if (hw != cases[i].want || sw != cases[i].want) {
            fail_msg("%s: hw %08x sw %08x want %08x", cases[i].name, hw, sw, cases[i].want);
        }
    }
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)rng();
    }
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; n + off <= sizeof(buf); n += 37) {
            uint32_t whole = tsdb_crc32c_sw(0, buf + off, n);
            assert_int_equal(tsdb_crc32c(0, buf + off, n), whole);
            size_t half = n / 3;
            uint32_t inc = tsdb_crc32c(tsdb_crc32c(0, buf + off, half), buf + off + half, n - half);
            assert_int_equal(inc, whole);
        }
    }
}

/* ---- records ---- */

static uint64_t dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

static double bitsd(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

/* The plain piecewise encoding of a Samples record (Prometheus' record format), to check the
 * encoder's single-reservation path against. */
static void ref_put_be64(odin_strbuf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        odin_strbuf_putc(b, (char)(uint8_t)(v >> (56 - 8 * i)));
    }
}

static void ref_encode_samples(odin_strbuf *b, const wal_sample *s, size_t n)
{
    odin_strbuf_putc(b, (char)WAL_REC_SAMPLES);
    if (n == 0) {
        return;
    }
    ref_put_be64(b, s[0].ref);
    ref_put_be64(b, (uint64_t)s[0].t);
    for (size_t i = 0; i < n; i++) {
        uint8_t t[10];
        odin_strbuf_put(b, t, tsdb_put_varint(t, (int64_t)(s[i].ref - s[0].ref)));
        odin_strbuf_put(b, t, tsdb_put_varint(t, (int64_t)((uint64_t)s[i].t - (uint64_t)s[0].t)));
        ref_put_be64(b, dbits(s[i].v));
    }
}

static void test_samples_encode_matches_reference(void **state)
{
    (void)state;
    enum { MAX = 3000 };
    static wal_sample in[MAX];
    uint64_t x = 0x2545f4914f6cdd1dULL;
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(round % 7 == 0 ? round % 3 : 1 + (int)(x % MAX));
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* small and huge ref/time deltas of both signs, values of any bits */
            in[i].ref = (x & 1) ? 1000 + (x >> 40) % 5000 : x;
            in[i].t = (x & 2) ? 1700000000000LL + (int64_t)((x >> 20) % 100000) : (int64_t)x;
            in[i].v = (x & 4) ? (double)(x % 1000) : bitsd(x * 0x9e3779b97f4a7c15ULL);
        }
        odin_strbuf got, want;
        /* a tiny cap takes the piecewise fallback: both must report the overflow */
        size_t cap = round % 5 == 4 ? 64 : 0;
        odin_strbuf_init(&got, cap);
        odin_strbuf_init(&want, cap);
        odin_strbuf_put(&got, "xy", 2); /* an encoder appends after what the buffer holds */
        odin_strbuf_put(&want, "xy", 2);
        wal_encode_samples(&got, in, n);
        ref_encode_samples(&want, in, n);
        assert_int_equal(odin_strbuf_ok(&got), odin_strbuf_ok(&want));
        if (odin_strbuf_ok(&want) && (got.len != want.len || memcmp(got.p, want.p, got.len) != 0)) {
            fail_msg("round %d (%zu samples): %zu bytes, reference %zu", round, n, got.len,
                     want.len);
        }
        odin_strbuf_fini(&got);
        odin_strbuf_fini(&want);
    }
}

static void test_samples_roundtrip(void **state)
{
    (void)state;
    wal_sample in[] = {
        {1000, 1700000000000, 1.5},        {3, 1699999999000, -0.0}, /* negative deltas */
        {UINT64_MAX, INT64_MAX, INFINITY},                           /* huge deltas */
        {0, INT64_MIN, -INFINITY},         {1000, 1700000000000, 0}, {42, -1, 0}, {7, 0, 0},
    };
    in[4].v = bitsd(0x7ff8000000000001ULL); /* NaN payloads survive */
    in[5].v = bitsd(TSDB_STALE_NAN_BITS);
    in[6].v = bitsd(0xfff0000000000f00ULL);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    wal_encode_samples(&b, in, ODIN_ARRAY_LEN(in));
    assert_true(odin_strbuf_ok(&b));
    assert_int_equal(wal_record_type((const uint8_t *)b.p, b.len), WAL_REC_SAMPLES);
    odin_arena a;
    odin_arena_init(&a, 0);
    wal_sample *out;
    size_t n;
    odin_err err;
    odin_err_clear(&err);
    int rc = wal_decode_samples((const uint8_t *)b.p, b.len, &a, &out, &n, &err);
    assert_int_equal(rc, (int)ODIN_ARRAY_LEN(in));
    assert_int_equal(n, ODIN_ARRAY_LEN(in));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].ref, in[i].ref);
        assert_int_equal(out[i].t, in[i].t);
        assert_int_equal(dbits(out[i].v), dbits(in[i].v));
    }
    /* Every shorter prefix is corrupt (a partial sample) or a whole number of samples. */
    for (size_t cut = 0; cut < b.len; cut++) {
        odin_err_clear(&err);
        rc = wal_decode_samples((const uint8_t *)b.p, cut, &a, &out, &n, &err);
        if (rc < 0) {
            assert_int_equal(rc, -ODIN_ERR_CORRUPT);
            assert_non_null(strstr(err.msg, "samples"));
        }
    }
    /* An empty Samples record is the type byte alone. */
    odin_strbuf_reset(&b);
    wal_encode_samples(&b, NULL, 0);
    assert_int_equal(b.len, 1);
    assert_int_equal(wal_decode_samples((const uint8_t *)b.p, b.len, &a, &out, &n, &err), 0);
    odin_arena_fini(&a);
    odin_strbuf_fini(&b);
}

/* Bytes Prometheus' record.Encoder writes for two samples (hand-assembled from record.go). */
static void test_samples_golden(void **state)
{
    (void)state;
    wal_sample in[] = {{5, 1000, 1.0}, {3, 1010, 2.0}};
    static const uint8_t want[] = {
        0x02,                                           /* Samples */
        0,    0,    0,    0,    0, 0, 0,    5,          /* first ref */
        0,    0,    0,    0,    0, 0, 0x03, 0xe8,       /* first t = 1000 */
        0x00, 0x00, 0x3f, 0xf0, 0, 0, 0,    0,    0, 0, /* dref 0, dt 0, 1.0 */
        0x03, 0x14, 0x40, 0x00, 0, 0, 0,    0,    0, 0, /* dref -2, dt +10, 2.0 */
    };
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    wal_encode_samples(&b, in, 2);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    odin_strbuf_fini(&b);
}

static void test_series_roundtrip(void **state)
{
    (void)state;
    char big[300];
    memset(big, 'x', sizeof(big));
    odin_label l1[] = {{ODIN_STR("__name__"), ODIN_STR("up")}, {ODIN_STR("job"), ODIN_STR("")}};
    odin_label l3[] = {{ODIN_STR("a"), {big, sizeof(big)}}};
    wal_series in[] = {
        {1, {l1, 2}},
        {UINT64_MAX, {NULL, 0}},
        {0x0102030405060708ULL, {l3, 1}},
    };
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    wal_encode_series(&b, in, 3);
    static const uint8_t head[] = {1,   0,   0,   0,   0,   0, 0,   0,   1, 2,   8,   '_', '_', 'n',
                                   'a', 'm', 'e', '_', '_', 2, 'u', 'p', 3, 'j', 'o', 'b', 0};
    assert_memory_equal(b.p, head, sizeof(head));
    odin_arena a;
    odin_arena_init(&a, 0);
    wal_series *out;
    size_t n;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(wal_decode_series((const uint8_t *)b.p, b.len, &a, &out, &n, &err), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(out[i].ref, in[i].ref);
        assert_int_equal(out[i].labels.len, in[i].labels.len);
        assert_int_equal(odin_labels_cmp(out[i].labels, in[i].labels), 0);
        for (size_t j = 0; j < out[i].labels.len; j++) {
            /* copied: not pointing into the record */
            const char *p = out[i].labels.v[j].value.p;
            assert_true(out[i].labels.v[j].value.len == 0 || p < b.p || p >= b.p + b.len);
        }
    }
    for (size_t cut = 0; cut < b.len; cut++) {
        odin_err_clear(&err);
        int rc = wal_decode_series((const uint8_t *)b.p, cut, &a, &out, &n, &err);
        assert_true(rc == -ODIN_ERR_CORRUPT || (rc >= 0 && (size_t)rc < 3));
    }
    /* A huge label count is corrupt, not an allocation. */
    static const uint8_t lie[] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f};
    odin_err_clear(&err);
    assert_int_equal(wal_decode_series(lie, sizeof(lie), &a, &out, &n, &err), -ODIN_ERR_CORRUPT);
    /* Wrong type byte. */
    odin_err_clear(&err);
    assert_int_equal(
        wal_decode_samples((const uint8_t *)b.p, b.len, &a, (wal_sample **)&out, &n, &err),
        -ODIN_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "type byte"));
    /* A capped arena gives LIMIT. */
    odin_arena small;
    odin_arena_init(&small, 64);
    odin_err_clear(&err);
    assert_int_equal(wal_decode_series((const uint8_t *)b.p, b.len, &small, &out, &n, &err),
                     -ODIN_ERR_LIMIT);
    odin_arena_fini(&small);
    odin_arena_fini(&a);
    odin_strbuf_fini(&b);
}

static void test_tombstones_metadata(void **state)
{
    (void)state;
    wal_tombstone ts[] = {{1, INT64_MIN, INT64_MAX}, {99, -5, 5}};
    wal_metadata md[] = {{7, 1, ODIN_STR("seconds"), ODIN_STR("Help text.")},
                         {UINT64_MAX, 0, ODIN_STR(""), ODIN_STR("")}};
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_arena a;
    odin_arena_init(&a, 0);
    odin_err err;
    odin_err_clear(&err);
    size_t n;
    wal_encode_tombstones(&b, ts, 2);
    wal_tombstone *tout;
    assert_int_equal(wal_decode_tombstones((const uint8_t *)b.p, b.len, &a, &tout, &n, &err), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(tout[i].ref, ts[i].ref);
        assert_int_equal(tout[i].mint, ts[i].mint);
        assert_int_equal(tout[i].maxt, ts[i].maxt);
    }
    odin_strbuf_reset(&b);
    wal_encode_metadata(&b, md, 2);
    wal_metadata *mout;
    assert_int_equal(wal_decode_metadata((const uint8_t *)b.p, b.len, &a, &mout, &n, &err), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(mout[i].ref, md[i].ref);
        assert_int_equal(mout[i].type, md[i].type);
        assert_true(odin_str_eq(mout[i].unit, md[i].unit));
        assert_true(odin_str_eq(mout[i].help, md[i].help));
    }
    for (size_t cut = 1; cut < b.len; cut++) {
        odin_err_clear(&err);
        int rc = wal_decode_metadata((const uint8_t *)b.p, cut, &a, &mout, &n, &err);
        assert_true(rc == -ODIN_ERR_CORRUPT || (rc >= 0 && rc < 2));
    }
    /* Exemplars: base ref, base t, then one entry with one label. */
    static const uint8_t ex[] = {4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,   0, 0,
                                 9, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 1, 'b'};
    odin_err_clear(&err);
    assert_int_equal(wal_count_exemplars(ex, sizeof(ex), &n, &err), 1);
    assert_int_equal(n, 1);
    odin_err_clear(&err);
    assert_int_equal(wal_count_exemplars(ex, sizeof(ex) - 1, &n, &err), -ODIN_ERR_CORRUPT);
    odin_arena_fini(&a);
    odin_strbuf_fini(&b);
}

/* ---- snappy ---- */

static void test_snappy_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const uint8_t *in;
        size_t len;
        const char *want; /* NULL: must be corrupt */
    } cases[] = {
        {"empty", (const uint8_t *)"\x00", 1, ""},
        {"literal", (const uint8_t *)"\x05\x10hello", 7, "hello"},
        /* "abc" then copy-1 of 9 bytes at distance 3: overlapping run */
        {"copy1 run",
         (const uint8_t *)"\x0c\x08"
                          "abc"
                          "\x15\x03",
         7, "abcabcabcabc"},
        /* copy-2: 4 bytes at distance 2 */
        {"copy2", (const uint8_t *)"\x06\x04xy\x0e\x02\x00", 7, "xyxyxy"},
        /* copy-4: 2 bytes at distance 1 */
        {"copy4", (const uint8_t *)"\x03\x00z\x07\x01\x00\x00\x00", 8, "zzz"},
        {"literal 60+ length byte", NULL, 0, NULL},
        {"copy before start", (const uint8_t *)"\x04\x15\x03", 3, NULL},
        {"distance zero", (const uint8_t *)"\x05\x00a\x01\x00", 5, NULL},
        {"short output", (const uint8_t *)"\x06\x10hello", 7, NULL},
        {"long output", (const uint8_t *)"\x04\x10hello", 7, NULL},
        {"truncated literal", (const uint8_t *)"\x05\x10hel", 5, NULL},
        {"truncated copy", (const uint8_t *)"\x06\x04xy\x0e\x02", 6, NULL},
        {"bad varint", (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 6, NULL},
        {"huge claim", (const uint8_t *)"\xff\xff\xff\x7f\x00", 5, NULL},
    };
    odin_strbuf out;
    odin_strbuf_init(&out, 1 << 20);
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        if (cases[i].in == NULL) {
            continue;
        }
        odin_err err;
        odin_err_clear(&err);
        int rc = tsdb_snappy_decode(cases[i].in, cases[i].len, &out, &err);
        if (cases[i].want == NULL) {
            if (rc != -ODIN_ERR_CORRUPT || strstr(err.msg, "snappy") == NULL) {
                fail_msg("%s: rc %d msg %s", cases[i].name, rc, err.msg);
            }
            continue;
        }
        if (rc != 0 || out.len != strlen(cases[i].want) ||
            memcmp(out.p, cases[i].want, out.len) != 0) {
            fail_msg("%s: rc %d err %s got %zu bytes", cases[i].name, rc, err.msg, out.len);
        }
    }
    /* A literal with a 2-byte length (tag 61) covering 300 bytes. */
    uint8_t raw[300];
    fill_bytes(raw, sizeof(raw), 3);
    odin_strbuf enc;
    odin_strbuf_init(&enc, 0);
    snappy_literal(&enc, raw, sizeof(raw));
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(tsdb_snappy_decode((const uint8_t *)enc.p, enc.len, &out, &err), 0);
    assert_int_equal(out.len, sizeof(raw));
    assert_memory_equal(out.p, raw, sizeof(raw));
    odin_strbuf_fini(&enc);
    odin_strbuf_fini(&out);
}

/* Encoder round trips on inputs that take every path: shorter than the input margin, runs (copies
 * that overlap themselves, longer than 64 bytes), repeats farther than 2047 bytes (2-byte offsets),
 * more than one 64 KiB block, incompressible bytes, and a real samples record. */
static void test_snappy_encode_roundtrip(void **state)
{
    (void)state;
    enum { BIG = 300000 };
    uint8_t *in = odin_malloc(BIG);
    uint16_t *table = odin_malloc(sizeof(*table) << TSDB_SNAPPY_TABLE_BITS);
    odin_strbuf enc, dec;
    odin_strbuf_init(&enc, 0);
    odin_strbuf_init(&dec, 0);
    for (int kind = 0; kind < 7; kind++) {
        static const size_t lens[] = {0,   1,    4,     15,    16,    17,     64,     65,
                                      100, 4096, 65535, 65536, 65537, 131072, 200003, BIG};
        for (size_t li = 0; li < ODIN_ARRAY_LEN(lens); li++) {
            size_t n = lens[li];
            for (size_t i = 0; i < n; i++) {
                switch (kind) {
                case 0:
                    in[i] = 0;
                    break; /* one long run */
                case 1:
                    in[i] = (uint8_t)rng();
                    break; /* incompressible */
                case 2:
                    in[i] = (uint8_t) "abcdefghij"[i % 10];
                    break; /* short period */
                case 3:
                    in[i] = i % 3000 < 2900 ? (uint8_t)((i % 3000) * 31 >> 3) : (uint8_t)rng();
                    break;
                case 4:
                    in[i] = (uint8_t)(i % 5000 < 8 ? rng() : i % 5000 * 13 >> 4);
                    break;
                case 5:
                    in[i] = (uint8_t)(rng() % 4 == 0 ? rng() : 'x');
                    break;
                default:
                    in[i] = (uint8_t)(i / 70 % 2 ? i : 0xaa);
                    break;
                }
            }
            assert_int_equal(tsdb_snappy_encode(in, n, &enc, table), 0);
            assert_true(enc.len <= tsdb_snappy_max_encoded(n));
            odin_err err;
            odin_err_clear(&err);
            if (tsdb_snappy_decode((const uint8_t *)enc.p, enc.len, &dec, &err) != 0) {
                fail_msg("kind %d len %zu: %s", kind, n, err.msg);
            }
            assert_int_equal(dec.len, n);
            if (n > 0) {
                assert_memory_equal(dec.p, in, n);
            }
            /* repetitive input must actually shrink, the long run by far */
            if (n >= 4096 && kind == 0) {
                assert_true(enc.len < n / 20);
            }
            if (n >= 65536 && (kind == 2 || kind == 3 || kind == 4)) {
                if (enc.len >= n / 4) {
                    fail_msg("kind %d len %zu: %zu bytes compressed", kind, n, enc.len);
                }
            }
        }
    }
    /* What the WAL logs most: a scrape's samples record (counters and gauges, one timestamp). */
    wal_sample *ss = odin_malloc(2000 * sizeof(*ss));
    for (size_t i = 0; i < 2000; i++) {
        ss[i] =
            (wal_sample){1000 + i, 1700000000000 + (int64_t)(i % 3),
                         i % 2 ? 19643.33 + (double)i * 0.01 : 4.2e11 + 4096.0 * (double)(i % 9)};
    }
    odin_strbuf rec;
    odin_strbuf_init(&rec, 0);
    wal_encode_samples(&rec, ss, 2000);
    assert_int_equal(tsdb_snappy_encode((const uint8_t *)rec.p, rec.len, &enc, table), 0);
    assert_true(enc.len < rec.len * 3 / 4);
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(tsdb_snappy_decode((const uint8_t *)enc.p, enc.len, &dec, &err), 0);
    assert_int_equal(dec.len, rec.len);
    assert_memory_equal(dec.p, rec.p, rec.len);
    odin_strbuf_fini(&rec);
    free(ss);
    odin_strbuf_fini(&enc);
    odin_strbuf_fini(&dec);
    free(table);
    free(in);
}

/* ---- writer and reader ---- */

static void test_roundtrip_layout(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    static const size_t sizes[] = {0, 1, 100, 32761, 32762, 32768, 70000, 5, 200000, 3};
    uint8_t *buf = odin_malloc(200000);
    odin_err err;
    odin_err_clear(&err);
    wal_opts o = {.fsync_ms = 0};
    tsdb_wal *w = wal_open(dir, &o, &err);
    assert_non_null(w);
    odin_strbuf expect;
    odin_strbuf_init(&expect, 0);
    for (size_t i = 0; i < ODIN_ARRAY_LEN(sizes); i++) {
        fill_bytes(buf, sizes[i], (uint8_t)i);
        assert_int_equal(wal_log(w, buf, sizes[i], &err), 0);
        build_record(&expect, buf, sizes[i], 0);
    }
    assert_true(wal_fsyncs(w) >= ODIN_ARRAY_LEN(sizes));
    wal_close(w);
    /* Byte for byte what the independent builder lays out, plus the close's page padding. */
    char *seg = pathf("%s/00000000", dir);
    odin_strbuf got;
    odin_strbuf_init(&got, 0);
    read_whole(seg, &got);
    assert_int_equal(got.len % WAL_PAGE_BYTES, 0);
    assert_true(got.len >= expect.len);
    assert_memory_equal(got.p, expect.p, expect.len);
    for (size_t i = expect.len; i < got.len; i++) {
        assert_int_equal(got.p[i], 0);
    }
    readback rb;
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, 0);
    assert_int_equal(rb.n, ODIN_ARRAY_LEN(sizes));
    for (size_t i = 0; i < rb.n; i++) {
        fill_bytes(buf, sizes[i], (uint8_t)i);
        assert_record(&rb.v[i], buf, sizes[i]);
    }
    assert_int_equal(rb.seg, 0);
    assert_int_equal(rb.off, expect.len);
    readback_free(&rb);
    odin_strbuf_fini(&got);
    odin_strbuf_fini(&expect);
    free(seg);
    free(buf);
    rmtree(dir);
}

/* Fragment types of a segment, in order (padding skipped). */
static size_t fragment_types(const odin_strbuf *seg, uint8_t *types, size_t cap)
{
    size_t n = 0;
    size_t off = 0;
    while (off + 7 <= seg->len) {
        uint8_t t = (uint8_t)seg->p[off];
        if (t == 0) {
            off = (off / WAL_PAGE_BYTES + 1) * WAL_PAGE_BYTES;
            continue;
        }
        assert_true(n < cap);
        types[n++] = t;
        off += 7 + ((size_t)(uint8_t)seg->p[off + 1] << 8 | (uint8_t)seg->p[off + 2]);
    }
    return n;
}

/* With compression on, a record is written as snappy where that is smaller (every fragment
 * flagged, as Prometheus) and as is where not; reading gives back the records either way. */
static void test_compressed_writer(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    odin_err err;
    odin_err_clear(&err);
    wal_sample *ss = odin_malloc(2000 * sizeof(*ss));
    for (size_t i = 0; i < 2000; i++) {
        ss[i] = (wal_sample){1 + i, 1700000000000, 45.5 + (double)(i % 4) * 0.25};
    }
    odin_strbuf samples, text;
    odin_strbuf_init(&samples, 0);
    odin_strbuf_init(&text, 0);
    wal_encode_samples(&samples, ss, 2000);
    while (text.len < 100000) {
        odin_strbuf_printf(&text, "node_cpu_seconds_total{cpu=\"%zu\",mode=\"idle\"}",
                           text.len % 97);
    }
    uint8_t noise[5000];
    for (size_t i = 0; i < sizeof(noise); i++) {
        noise[i] = (uint8_t)rng();
    }
    const struct {
        const uint8_t *p;
        size_t len;
        bool compressed;
    } recs[] = {
        {(const uint8_t *)samples.p, samples.len, true},
        {noise, sizeof(noise), false},
        {(const uint8_t *)"", 0, false},
        {(const uint8_t *)text.p, text.len, true},
        {(const uint8_t *)"ab", 2, false},
    };
    for (int pass = 0; pass < 2; pass++) {
        bool compress = pass == 0;
        tsdb_wal *w = wal_open(dir, &(wal_opts){.fsync_ms = 0, .compress = compress}, &err);
        assert_non_null(w);
        size_t raw = 0;
        for (size_t i = 0; i < ODIN_ARRAY_LEN(recs); i++) {
            assert_int_equal(wal_log(w, recs[i].p, recs[i].len, &err), 0);
            raw += recs[i].len;
        }
        int seg_no = wal_segment(w);
        wal_close(w);
        char *path = pathf("%s/%08d", dir, seg_no);
        odin_strbuf seg;
        odin_strbuf_init(&seg, 0);
        read_whole(path, &seg);
        uint8_t types[64];
        size_t nt = fragment_types(&seg, types, ODIN_ARRAY_LEN(types));
        /* one record's fragments run from a full or first fragment to a full or last one */
        size_t r = 0;
        for (size_t i = 0; i < nt; i++) {
            uint8_t kind = types[i] & 7;
            assert_true(r < ODIN_ARRAY_LEN(recs));
            bool want = compress && recs[r].compressed;
            if (((types[i] & WAL_FRAG_SNAPPY) != 0) != want) {
                fail_msg("pass %d record %zu fragment type 0x%02x", pass, r, types[i]);
            }
            if (kind == 1 || kind == 4) {
                r++;
            }
        }
        assert_int_equal(r, ODIN_ARRAY_LEN(recs));
        size_t used = 0;
        for (size_t i = 0; i + 7 <= seg.len; i++) {
            used = seg.p[i] != 0 ? i + 1 : used;
        }
        if (compress) {
            assert_true(used < raw / 2);
        } else {
            assert_true(used > raw);
        }
        readback rb;
        readback_all(dir, &rb);
        assert_int_equal(rb.rc, 0);
        assert_int_equal(rb.n, (size_t)(pass + 1) * ODIN_ARRAY_LEN(recs));
        for (size_t i = 0; i < rb.n; i++) {
            size_t k = i % ODIN_ARRAY_LEN(recs);
            assert_record(&rb.v[i], recs[k].p, recs[k].len);
        }
        readback_free(&rb);
        odin_strbuf_fini(&seg);
        free(path);
    }
    odin_strbuf_fini(&samples);
    odin_strbuf_fini(&text);
    free(ss);
    rmtree(dir);
}

static void test_segments_and_reopen(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    odin_err err;
    odin_err_clear(&err);
    wal_opts o = {.segment_bytes = 2 * WAL_PAGE_BYTES, .fsync_ms = 0};
    uint8_t *buf = odin_malloc(150000);
    size_t sizes[40];
    int first, last;
    wal_segment_range(dir, &first, &last);
    assert_int_equal(first, -1);
    assert_int_equal(last, -1);
    tsdb_wal *w = wal_open(dir, &o, &err);
    assert_non_null(w);
    for (size_t i = 0; i < 30; i++) {
        sizes[i] = i == 10 ? 150000 : (size_t)(rng() % 9000);
        fill_bytes(buf, sizes[i], (uint8_t)i);
        assert_int_equal(wal_log(w, buf, sizes[i], &err), 0);
    }
    wal_close(w);
    wal_segment_range(dir, &first, &last);
    assert_int_equal(first, 0);
    assert_true(last >= 3);
    /* Only the segment holding the oversized record passes segment_bytes. */
    int over = 0;
    for (int s = first; s <= last; s++) {
        char *p = pathf("%s/%08d", dir, s);
        over += file_size(p) > o.segment_bytes;
        free(p);
    }
    assert_int_equal(over, 1);
    /* Reopening continues in a new segment. */
    w = wal_open(dir, &o, &err);
    assert_non_null(w);
    for (size_t i = 30; i < 40; i++) {
        sizes[i] = i;
        fill_bytes(buf, sizes[i], (uint8_t)i);
        assert_int_equal(wal_log(w, buf, sizes[i], &err), 0);
    }
    int seg = -1;
    assert_int_equal(wal_next_segment(w, &seg, &err), 0);
    assert_int_equal(seg, last + 2);
    wal_close(w);
    int last2;
    wal_segment_range(dir, &first, &last2);
    assert_int_equal(last2, last + 2);
    readback rb;
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, 0);
    assert_int_equal(rb.n, 40);
    for (size_t i = 0; i < rb.n; i++) {
        fill_bytes(buf, sizes[i], (uint8_t)i);
        assert_record(&rb.v[i], buf, sizes[i]);
    }
    readback_free(&rb);
    free(buf);
    rmtree(dir);
}

/* Writes a small WAL (one page of small records, then a three-page record and one more small
 * record) and returns the end offset of each record in segment 0. */
static size_t small_wal(const char *dir, size_t *ends, uint8_t bufs[][40000], size_t *sizes)
{
    odin_strbuf seg;
    odin_strbuf_init(&seg, 0);
    size_t n = 0;
    for (size_t i = 0; i < 12; i++, n++) {
        sizes[n] = i * 13 % 90;
        fill_bytes(bufs[n], sizes[n], (uint8_t)(n * 31));
        build_record(&seg, bufs[n], sizes[n], 0);
        ends[n] = seg.len;
    }
    sizes[n] = 40000;
    fill_bytes(bufs[n], sizes[n], 9);
    build_record(&seg, bufs[n], sizes[n], 0);
    ends[n++] = seg.len;
    sizes[n] = 11;
    fill_bytes(bufs[n], sizes[n], 1);
    build_record(&seg, bufs[n], sizes[n], 0);
    ends[n++] = seg.len;
    char *p = pathf("%s/00000000", dir);
    write_file(p, seg.p, seg.len);
    free(p);
    odin_strbuf_fini(&seg);
    return n;
}

static void test_truncate_every_offset(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    static uint8_t bufs[16][40000];
    size_t sizes[16], ends[16];
    size_t n = small_wal(dir, ends, bufs, sizes);
    char *seg = pathf("%s/00000000", dir);
    odin_strbuf orig;
    odin_strbuf_init(&orig, 0);
    read_whole(seg, &orig);
    for (size_t cut = 0; cut <= orig.len; cut++) {
        /* every offset of the first page and around the later fragment edges; a stride elsewhere */
        bool near_edge = cut % WAL_PAGE_BYTES < 24 || cut % WAL_PAGE_BYTES > WAL_PAGE_BYTES - 24;
        if (cut > ends[11] + 24 && !near_edge && cut % 409 != 0 && cut + 24 < orig.len) {
            continue;
        }
        write_file(seg, orig.p, cut);
        size_t whole = 0;
        while (whole < n && ends[whole] <= cut) {
            whole++;
        }
        readback rb;
        readback_all(dir, &rb);
        if (rb.n != whole) {
            fail_msg("cut %zu: %zu records, want %zu (rc %d %s)", cut, rb.n, whole, rb.rc,
                     rb.err.msg);
        }
        for (size_t i = 0; i < rb.n; i++) {
            assert_record(&rb.v[i], bufs[i], sizes[i]);
        }
        if (rb.rc < 0) {
            assert_int_equal(rb.rc, -ODIN_ERR_CORRUPT);
            assert_non_null(strstr(rb.err.msg, "00000000: offset "));
            assert_int_equal(rb.off, whole ? ends[whole - 1] : 0);
            odin_err err;
            odin_err_clear(&err);
            assert_int_equal(wal_repair(dir, rb.seg, rb.off, &err), 0);
            readback again;
            readback_all(dir, &again);
            assert_int_equal(again.rc, 0);
            assert_int_equal(again.n, whole);
            readback_free(&again);
        }
        readback_free(&rb);
    }
    odin_strbuf_fini(&orig);
    free(seg);
    rmtree(dir);
}

static void test_bit_flips(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    static uint8_t bufs[16][40000];
    size_t sizes[16], ends[16];
    size_t n = small_wal(dir, ends, bufs, sizes);
    char *seg = pathf("%s/00000000", dir);
    odin_strbuf orig;
    odin_strbuf_init(&orig, 0);
    read_whole(seg, &orig);
    size_t detected = 0;
    size_t tried = 0;
    for (size_t at = 0; at < orig.len; at += at < ends[11] + 24 ? 1 : 997) {
        /* Later records would hide the damage only if it sat in a record we skip: none is. */
        odin_strbuf_reset(&orig);
        read_whole(seg, &orig);
        uint8_t saved = (uint8_t)orig.p[at];
        orig.p[at] = (char)(saved ^ (1u << (at % 8)));
        write_file(seg, orig.p, orig.len);
        orig.p[at] = (char)saved;
        tried++;
        size_t before = 0;
        while (before < n && ends[before] <= at) {
            before++;
        }
        readback rb;
        readback_all(dir, &rb);
        /* Everything returned is intact, and nothing before the damage is lost. */
        assert_true(rb.n >= before);
        for (size_t i = 0; i < rb.n && i < n; i++) {
            assert_record(&rb.v[i], bufs[i], sizes[i]);
        }
        if (rb.rc < 0) {
            detected++;
            assert_non_null(strstr(rb.err.msg, "00000000: offset "));
            odin_err err;
            odin_err_clear(&err);
            assert_int_equal(wal_repair(dir, rb.seg, rb.off, &err), 0);
            readback again;
            readback_all(dir, &again);
            assert_int_equal(again.rc, 0);
            assert_int_equal(again.n, rb.n);
            readback_free(&again);
        } else {
            assert_int_equal(rb.n, n);
        }
        readback_free(&rb);
        write_file(seg, orig.p, orig.len);
    }
    /* A flip in a record's bytes or header is always caught (CRC, type, length, padding). */
    assert_int_equal(detected, tried);
    odin_strbuf_fini(&orig);
    free(seg);
    rmtree(dir);
}

static void test_snappy_fragments(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    odin_strbuf seg, comp;
    odin_strbuf_init(&seg, 0);
    odin_strbuf_init(&comp, 0);
    /* A samples record, snappy-compressed into one full fragment. */
    wal_sample s[] = {{1, 1000, 0.5}, {2, 1015, 7}};
    odin_strbuf rec;
    odin_strbuf_init(&rec, 0);
    wal_encode_samples(&rec, s, 2);
    snappy_literal(&comp, (const uint8_t *)rec.p, rec.len);
    build_record(&seg, (const uint8_t *)comp.p, comp.len, 0x08);
    /* A compressed record with a copy element: "abc" x 4. */
    static const uint8_t run[] = {0x0c, 0x08, 'a', 'b', 'c', 0x15, 0x03};
    build_record(&seg, run, sizeof(run), 0x08);
    /* A 70000-byte record compressed literal-only: first, middle and last fragments. */
    uint8_t *big = odin_malloc(70000);
    fill_bytes(big, 70000, 5);
    snappy_literal(&comp, big, 70000);
    build_record(&seg, (const uint8_t *)comp.p, comp.len, 0x08);
    build_record(&seg, (const uint8_t *)"plain", 5, 0);
    char *p = pathf("%s/00000000", dir);
    write_file(p, seg.p, seg.len);
    readback rb;
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, 0);
    assert_int_equal(rb.n, 4);
    assert_record(&rb.v[0], (const uint8_t *)rec.p, rec.len);
    assert_record(&rb.v[1], (const uint8_t *)"abcabcabcabc", 12);
    assert_record(&rb.v[2], big, 70000);
    assert_record(&rb.v[3], (const uint8_t *)"plain", 5);
    readback_free(&rb);
    /* Corrupt snappy inside a fragment with a good CRC is corruption at that record. */
    odin_strbuf_reset(&seg);
    build_record(&seg, (const uint8_t *)"ok", 2, 0);
    static const uint8_t bad[] = {0x04, 0x15, 0x03};
    build_record(&seg, bad, sizeof(bad), 0x08);
    write_file(p, seg.p, seg.len);
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, -ODIN_ERR_CORRUPT);
    assert_int_equal(rb.n, 1);
    assert_non_null(strstr(rb.err.msg, "snappy"));
    assert_int_equal(rb.off, 9);
    readback_free(&rb);
    /* zstd: a clear UNAVAILABLE naming the segment. */
    odin_strbuf_reset(&seg);
    build_record(&seg, (const uint8_t *)"zz", 2, 0x10);
    write_file(p, seg.p, seg.len);
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, -ODIN_ERR_UNAVAILABLE);
    assert_non_null(strstr(rb.err.msg, "00000000"));
    assert_non_null(strstr(rb.err.msg, "zstd"));
    readback_free(&rb);
    free(p);
    free(big);
    odin_strbuf_fini(&rec);
    odin_strbuf_fini(&comp);
    odin_strbuf_fini(&seg);
    rmtree(dir);
}

/* Damage that is not a bit flip: each case writes one segment and expects an error naming it. */
static void test_bad_segments(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *p = pathf("%s/00000000", dir);
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
        const char *msg;
    } cases[] = {
        {"middle without first", "\x03\x00\x00\x00\x00\x00\x00", 7, "without a first"},
        {"last without first", "\x04\x00\x00\x00\x00\x00\x00", 7, "without a first"},
        {"invalid type", "\x05\x00\x00\x00\x00\x00\x00", 7, "invalid fragment type"},
        {"reserved bit", "\x21\x00\x00\x00\x00\x00\x00", 7, "invalid fragment type"},
        {"length over page", "\x01\x80\x00\x00\x00\x00\x00", 7, "exceeds a page"},
        {"short header", "\x01\x00\x00", 3, "truncated fragment header"},
        {"zeros then data", "\x00\x00\x00\x01", 4, "non-zero byte"},
        {"first then full", "\x02\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 14,
         "unfinished"},
        {"torn record", "\x02\x00\x00\x00\x00\x00\x00", 7, "torn"},
        {"first then padding", "\x02\x00\x00\x00\x00\x00\x00\x00", 8, "padding inside"},
        {"bad crc", "\x01\x00\x01\x00\x00\x00\x00x", 8, "checksum"},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        write_file(p, cases[i].bytes, cases[i].len);
        readback rb;
        readback_all(dir, &rb);
        if (rb.rc != -ODIN_ERR_CORRUPT || strstr(rb.err.msg, cases[i].msg) == NULL ||
            strstr(rb.err.msg, "00000000: offset") == NULL) {
            fail_msg("%s: rc %d msg %s", cases[i].name, rb.rc, rb.err.msg);
        }
        readback_free(&rb);
    }
    /* An all-zero segment (preallocated, never written) is empty, not corrupt. */
    static const uint8_t zeros[WAL_PAGE_BYTES + 100];
    write_file(p, zeros, sizeof(zeros));
    readback rb;
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, 0);
    assert_int_equal(rb.n, 0);
    readback_free(&rb);
    /* A missing segment in the middle ends the read at the end of the one before. */
    odin_strbuf seg;
    odin_strbuf_init(&seg, 0);
    build_record(&seg, (const uint8_t *)"a", 1, 0);
    write_file(p, seg.p, seg.len);
    char *p2 = pathf("%s/00000002", dir);
    write_file(p2, seg.p, seg.len);
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, -ODIN_ERR_CORRUPT);
    assert_int_equal(rb.n, 1);
    assert_non_null(strstr(rb.err.msg, "00000001 is missing"));
    assert_int_equal(rb.seg, 0);
    assert_int_equal(rb.off, 8);
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(wal_repair(dir, rb.seg, rb.off, &err), 0);
    assert_int_equal(access(p2, F_OK), -1);
    readback_free(&rb);
    /* Repair past the end is refused. */
    odin_err_clear(&err);
    assert_int_equal(wal_repair(dir, 0, 1 << 20, &err), -ODIN_ERR_INVALID);
    odin_strbuf_fini(&seg);
    free(p2);
    free(p);
    rmtree(dir);
}

static void write_segment_with(const char *path, const char *const *recs, size_t n)
{
    odin_strbuf seg;
    odin_strbuf_init(&seg, 0);
    for (size_t i = 0; i < n; i++) {
        build_record(&seg, (const uint8_t *)recs[i], strlen(recs[i]), 0);
    }
    write_file(path, seg.p, seg.len);
    odin_strbuf_fini(&seg);
}

static void test_checkpoint_order(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *cp_old = pathf("%s/checkpoint.00000001", dir);
    char *cp = pathf("%s/checkpoint.00000002", dir);
    char *cp_tmp = pathf("%s/checkpoint.00000005.tmp", dir);
    assert_int_equal(mkdir(cp_old, 0777), 0);
    assert_int_equal(mkdir(cp, 0777), 0);
    assert_int_equal(mkdir(cp_tmp, 0777), 0);
    static const struct {
        const char *path_fmt;
        int seg;
        const char *recs[2];
    } files[] = {
        {"%s/checkpoint.00000001/%08d", 0, {"old-cp", "old-cp"}},
        {"%s/checkpoint.00000002/%08d", 0, {"cp-a", "cp-b"}},
        {"%s/checkpoint.00000002/%08d", 1, {"cp-c", "cp-d"}},
        {"%s/checkpoint.00000005.tmp/%08d", 0, {"tmp", "tmp"}},
        {"%s/%08d", 1, {"covered", "covered"}},
        {"%s/%08d", 2, {"covered", "covered"}},
        {"%s/%08d", 3, {"seg3-a", "seg3-b"}},
        {"%s/%08d", 4, {"seg4-a", "seg4-b"}},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(files); i++) {
        char *p = pathf(files[i].path_fmt, dir, files[i].seg);
        write_segment_with(p, files[i].recs, 2);
        free(p);
    }
    static const char *want[] = {"cp-a",   "cp-b",   "cp-c",   "cp-d",
                                 "seg3-a", "seg3-b", "seg4-a", "seg4-b"};
    readback rb;
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, 0);
    assert_int_equal(rb.n, ODIN_ARRAY_LEN(want));
    for (size_t i = 0; i < rb.n; i++) {
        assert_record(&rb.v[i], (const uint8_t *)want[i], strlen(want[i]));
    }
    readback_free(&rb);
    /* A writer opened over a checkpoint with no later segments numbers past the checkpoint. */
    char *dir2 = make_tmpdir();
    char *cp2 = pathf("%s/checkpoint.00000007", dir2);
    assert_int_equal(mkdir(cp2, 0777), 0);
    char *cp2seg = pathf("%s/00000000", cp2);
    static const char *const cprec[] = {"from-cp"};
    write_segment_with(cp2seg, cprec, 1);
    odin_err werr;
    odin_err_clear(&werr);
    tsdb_wal *w = wal_open(dir2, &(wal_opts){.fsync_ms = 0}, &werr);
    assert_non_null(w);
    assert_int_equal(wal_log(w, (const uint8_t *)"after", 5, &werr), 0);
    wal_close(w);
    char *seg8 = pathf("%s/00000008", dir2);
    assert_int_equal(access(seg8, F_OK), 0);
    readback_all(dir2, &rb);
    assert_int_equal(rb.rc, 0);
    assert_int_equal(rb.n, 2);
    assert_record(&rb.v[1], (const uint8_t *)"after", 5);
    readback_free(&rb);
    free(seg8);
    free(cp2seg);
    free(cp2);
    rmtree(dir2);
    /* Damage in the checkpoint: the reader names the checkpoint directory for repair. */
    char *p = pathf("%s/00000001", cp);
    write_file(p, "\x09\x09", 2);
    odin_err err;
    odin_err_clear(&err);
    wal_reader *r = wal_reader_open(dir, &err);
    assert_non_null(r);
    const uint8_t *rec;
    size_t len;
    int rc;
    size_t got = 0;
    while ((rc = wal_reader_next(r, &rec, &len, &err)) == 1) {
        got++;
    }
    assert_int_equal(rc, -ODIN_ERR_CORRUPT);
    assert_int_equal(got, 2);
    assert_string_equal(wal_reader_dir(r), cp);
    assert_non_null(strstr(err.msg, "checkpoint.00000002/00000001"));
    wal_reader_close(r);
    free(p);
    free(cp_old);
    free(cp);
    free(cp_tmp);
    rmtree(dir);
}

static void test_background_fsync(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    odin_err err;
    odin_err_clear(&err);
    wal_opts o = {.fsync_ms = 5};
    tsdb_wal *w = wal_open(dir, &o, &err);
    assert_non_null(w);
    assert_int_equal(wal_log(w, (const uint8_t *)"x", 1, &err), 0);
    /* Liveness, not timing: the flusher must get to it within a generous bound. */
    for (int i = 0; i < 1000 && wal_fsyncs(w) == 0; i++) {
        usleep(10000);
    }
    assert_true(wal_fsyncs(w) >= 1);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(wal_log(w, (const uint8_t *)"y", 1, &err), 0);
    }
    assert_int_equal(wal_sync(w, &err), 0);
    wal_close(w);
    readback rb;
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, 0);
    assert_int_equal(rb.n, 51);
    readback_free(&rb);
    /* Segment sizes that are not whole pages are refused. */
    wal_opts bad = {.segment_bytes = 1000};
    odin_err_clear(&err);
    assert_null(wal_open(dir, &bad, &err));
    assert_int_equal(err.code, ODIN_ERR_INVALID);
    rmtree(dir);
}

/* A write that fails part way (the file size limit stands in for a full disk) returns IO with
 * the segment named and leaves the records before it readable; later writes succeed again. */
static void test_write_failure(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    odin_err err;
    odin_err_clear(&err);
    wal_opts o = {.fsync_ms = 0};
    tsdb_wal *w = wal_open(dir, &o, &err);
    assert_non_null(w);
    uint8_t *buf = odin_malloc(50000);
    fill_bytes(buf, 50000, 1);
    assert_int_equal(wal_log(w, buf, 1000, &err), 0);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {20000, old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = wal_log(w, buf, 50000, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, -ODIN_ERR_IO);
    assert_non_null(strstr(err.msg, "/00000000"));
    char *p = pathf("%s/00000000", dir);
    assert_int_equal(file_size(p), 1007);
    odin_err_clear(&err);
    assert_int_equal(wal_log(w, buf + 1, 300, &err), 0);
    wal_close(w);
    readback rb;
    readback_all(dir, &rb);
    assert_int_equal(rb.rc, 0);
    assert_int_equal(rb.n, 2);
    assert_record(&rb.v[0], buf, 1000);
    assert_record(&rb.v[1], buf + 1, 300);
    readback_free(&rb);
    free(p);
    free(buf);
    rmtree(dir);
}

static void test_reader_missing_dir(void **state)
{
    (void)state;
    odin_err err;
    odin_err_clear(&err);
    assert_null(wal_reader_open("/nonexistent/odin/wal", &err));
    assert_int_equal(err.code, ODIN_ERR_NOTFOUND);
}

/* Repairs log a warning each; the sweeps would flood the output. */
static int quiet_logs(void **state)
{
    (void)state;
    return odin_log_set_level("error") == 0 ? 0 : -1;
}

int tsdb_wal_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_samples_roundtrip),
        cmocka_unit_test(test_samples_encode_matches_reference),
        cmocka_unit_test(test_samples_golden),
        cmocka_unit_test(test_series_roundtrip),
        cmocka_unit_test(test_tombstones_metadata),
        cmocka_unit_test(test_snappy_vectors),
        cmocka_unit_test(test_snappy_encode_roundtrip),
        cmocka_unit_test(test_roundtrip_layout),
        cmocka_unit_test(test_compressed_writer),
        cmocka_unit_test(test_segments_and_reopen),
        cmocka_unit_test(test_truncate_every_offset),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_snappy_fragments),
        cmocka_unit_test(test_bad_segments),
        cmocka_unit_test(test_checkpoint_order),
        cmocka_unit_test(test_background_fsync),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_reader_missing_dir),
    };
    return cmocka_run_group_tests_name("tsdb_wal", tests, quiet_logs, NULL);
}

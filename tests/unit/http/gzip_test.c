/* Tests for src/http/gzip.c: Accept-Encoding negotiation and the gzip encoder (checked by
 * inflating with zlib). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"
#include "http_test.h"

typedef struct {
    const char *header;
    bool want;
} accept_case;

static void test_accepts_gzip(void **state)
{
    (void)state;
    static const accept_case cases[] = {
        {NULL, false},
        {"", false},
        {"gzip", true},
        {"GZIP", true},
        {" gzip ", true},
        {"x-gzip", true},
        {"*", true},
        {"gzip, deflate, br", true},
        {"deflate, gzip;q=1.0, *;q=0.5", true},
        {"gzip;q=0.5", true},
        {"gzip; q=0.001", true},
        {"gzip;q=0", false},
        {"gzip; q=0.000", false},
        {"gzip;Q=0.0", false},
        {"identity, *;q=0", false},
        {"br", false},
        {"deflate,br", false},
        {"gzipx", false},
        {"xgzip", false},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        bool got = http_accepts_gzip(cases[i].header);
        if (got != cases[i].want) {
            fail_msg("\"%s\": got %d, want %d", cases[i].header ? cases[i].header : "(null)", got,
                     cases[i].want);
        }
    }
}

/* Compresses in with the kept stream *kept, or one-shot when kept is NULL, and checks that the
 * result is one gzip member that inflates back to in. */
static void roundtrip_kept(http_gzip_stream **kept, const char *in, size_t len)
{
    size_t zlen = 0;
    char *z = kept != NULL ? http_gzip_kept(kept, in, len, &zlen) : http_gzip(in, len, &zlen);
    assert_non_null(z);
    /* gzip magic and deflate method. */
    assert_true(zlen >= 18);
    assert_int_equal((unsigned char)z[0], 0x1f);
    assert_int_equal((unsigned char)z[1], 0x8b);
    assert_int_equal(z[2], 8);
    char *out = NULL;
    size_t out_len = 0;
    assert_true(test_gunzip(z, zlen, &out, &out_len));
    assert_int_equal(out_len, len);
    if (len > 0) {
        assert_memory_equal(out, in, len);
    }
    free(out);
    free(z);
}

static void roundtrip(const char *in, size_t len)
{
    roundtrip_kept(NULL, in, len);
}

static void test_gzip_roundtrip(void **state)
{
    (void)state;
    roundtrip("", 0);
    roundtrip("a", 1);
    size_t n = 300000;
    char *buf = odin_malloc(n);
    uint32_t x = 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525 + 1013904223;
        /* Half text, half noise: both the compressible and the stored paths of deflate. */
        buf[i] = i < n / 2 ? (char)('a' + i % 7) : (char)(x >> 24);
    }
    roundtrip(buf, n);
    /* on both sides of the small-body window switch */
    roundtrip(buf, 128 * 1024);
    roundtrip(buf, 128 * 1024 + 1);
    free(buf);
}

/* Exposition-like text of an agent's page size: valid gzip with the small window, and about as
 * small as with zlib's default window. */
static void test_gzip_metrics_page(void **state)
{
    (void)state;
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (int i = 0; b.len < 54000; i++) {
        odin_strbuf_printf(&b,
                           "# HELP node_metric_%d_total A counter.\n# TYPE node_metric_%d_total "
                           "counter\nnode_metric_%d_total{device=\"sd%c\",mode=\"m%d\"} %d.%d\n",
                           i / 8, i / 8, i / 8, 'a' + i % 5, i % 3, i * 7919 % 100003, i % 10);
    }
    roundtrip(b.p, b.len);
    odin_strbuf_fini(&b);
}

/* One kept stream compresses body after body, each a complete member on its own: small, empty,
 * large (which takes a state of its own and leaves the kept one alone), and small again. */
static void test_gzip_kept_stream(void **state)
{
    (void)state;
    size_t n = 200000;
    char *buf = odin_malloc(n);
    uint32_t x = 7;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525 + 1013904223;
        buf[i] = i % 3 == 0 ? (char)(x >> 24) : (char)('0' + i % 10);
    }
    http_gzip_stream *kept = NULL;
    roundtrip_kept(&kept, buf, 54000);
    assert_non_null(kept);
    http_gzip_stream *first = kept;
    roundtrip_kept(&kept, "", 0);
    roundtrip_kept(&kept, buf + 3, 1000);
    roundtrip_kept(&kept, buf, n);
    assert_ptr_equal(kept, first);
    roundtrip_kept(&kept, buf + 11, 128 * 1024);
    roundtrip_kept(&kept, buf + 5, 54000);
    assert_ptr_equal(kept, first);
    http_gzip_stream_free(kept);
    http_gzip_stream_free(NULL);

    /* a large body first makes no kept state */
    http_gzip_stream *none = NULL;
    roundtrip_kept(&none, buf, 128 * 1024 + 1);
    assert_null(none);
    free(buf);
}

/* Bodies that do not compress (deflate's stored blocks) through the kept stream, whichever
 * compressor it uses: the output bound must hold them, and they still inflate back. */
static void test_gzip_kept_incompressible(void **state)
{
    (void)state;
    size_t n = 100000;
    char *buf = odin_malloc(n);
    uint32_t x = 3;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525 + 1013904223;
        buf[i] = (char)(x >> 24);
    }
    http_gzip_stream *kept = NULL;
    roundtrip_kept(&kept, buf, n);
    roundtrip_kept(&kept, buf + 1, 65537);
    roundtrip_kept(&kept, buf, 1);
    http_gzip_stream_free(kept);
    free(buf);
}

int http_gzip_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_gzip_roundtrip),
        cmocka_unit_test(test_gzip_metrics_page),
        cmocka_unit_test(test_gzip_kept_stream),
        cmocka_unit_test(test_gzip_kept_incompressible),
    };
    return cmocka_run_group_tests_name("http_gzip", tests, NULL, NULL);
}

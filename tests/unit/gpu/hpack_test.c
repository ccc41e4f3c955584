/* Unit tests for src/agent/gpu/hpack.c: RFC 7541 Appendix C vectors (Huffman strings, the
 * dynamic table across blocks) and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>
#include <string.h>

#include "agent/gpu/podres.h"

static void test_huffman_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *enc;
        size_t n;
        const char *want;
    } cases[] = {
        {"C.4.1", "\xf1\xe3\xc2\xe5\xf2\x3a\x6b\xa0\xab\x90\xf4\xff", 12, "www.example.com"},
        {"C.4.2", "\xa8\xeb\x10\x64\x9c\xbf", 6, "no-cache"},
        {"C.4.3 key", "\x25\xa8\x49\xe9\x5b\xa9\x7d\x7f", 8, "custom-key"},
        {"C.4.3 value", "\x25\xa8\x49\xe9\x5b\xb8\xe8\xb4\xbf", 9, "custom-value"},
        {"empty", "", 0, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        odin_err err;
        odin_err_clear(&err);
        int rc = agent_gpu_huffman_decode((const uint8_t *)cases[i].enc, cases[i].n, &b, &err);
        if (rc != 0 || strcmp(b.p ? b.p : "", cases[i].want) != 0) {
            fail_msg("%s: rc %d got \"%s\" (%s)", cases[i].name, rc, b.p ? b.p : "", err.msg);
        }
        odin_strbuf_fini(&b);
    }
}

static void test_huffman_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *enc;
        size_t n;
    } cases[] = {
        {"padding of zeros", "\xf1\xe3\xc2\xe5\xf2\x3a\x6b\xa0\xab\x90\xf4\x00", 12},
        {"padding over 7 bits", "\xa8\xeb\x10\x64\x9c\xbf\xff", 7},
        {"EOS symbol", "\xff\xff\xff\xff", 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        odin_err err;
        odin_err_clear(&err);
        int rc = agent_gpu_huffman_decode((const uint8_t *)cases[i].enc, cases[i].n, &b, &err);
        if (rc != -ODIN_ERR_PARSE || strstr(err.msg, "hpack:") == NULL) {
            fail_msg("%s: want PARSE, got %d (%s)", cases[i].name, rc, err.msg);
        }
        odin_strbuf_fini(&b);
    }
}

typedef struct {
    char text[512];
} collect;

static int on_field(odin_str name, odin_str value, void *ctx)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    collect *c = ctx;
    odin_strbuf_puts(&b, c->text);
    odin_strbuf_putstr(&b, name);
    odin_strbuf_putc(&b, '=');
    odin_strbuf_putstr(&b, value);
    odin_strbuf_putc(&b, ';');
    size_t n = b.len < sizeof(c->text) - 1 ? b.len : sizeof(c->text) - 1;
    memcpy(c->text, b.p, n);
    c->text[n] = '\0';
    odin_strbuf_fini(&b);
    return 0;
}

/* RFC 7541 C.4: three requests with Huffman, sharing one dynamic table. */
static void test_decode_dynamic_table(void **state)
{
    (void)state;
    static const struct {
        const char *block;
        size_t n;
        const char *want;
    } reqs[] = {
        {"\x82\x86\x84\x41\x8c\xf1\xe3\xc2\xe5\xf2\x3a\x6b\xa0\xab\x90\xf4\xff", 17,
         ":method=GET;:scheme=http;:path=/;:authority=www.example.com;"},
        {"\x82\x86\x84\xbe\x58\x86\xa8\xeb\x10\x64\x9c\xbf", 12,
         ":method=GET;:scheme=http;:path=/;:authority=www.example.com;cache-control=no-cache;"},
        {"\x82\x87\x85\xbf\x40\x88\x25\xa8\x49\xe9\x5b\xa9\x7d\x7f\x89\x25\xa8\x49\xe9\x5b\xb8"
         "\xe8\xb4\xbf",
         24,
         ":method=GET;:scheme=https;:path=/index.html;:authority=www.example.com;"
         "custom-key=custom-value;"},
    };
    agent_gpu_hpack h;
    agent_gpu_hpack_init(&h);
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        collect c = {""};
        odin_err err;
        odin_err_clear(&err);
        int rc = agent_gpu_hpack_decode(&h, (const uint8_t *)reqs[i].block, reqs[i].n, on_field,
                                        &c, &err);
        if (rc != 0 || strcmp(c.text, reqs[i].want) != 0) {
            fail_msg("request %zu: rc %d got %s (%s)", i + 1, rc, c.text, err.msg);
        }
    }
    assert_int_equal(h.n, 3);
    assert_int_equal(h.bytes, 164); /* the RFC's table size after C.4.3 */
    agent_gpu_hpack_fini(&h);
}

static void test_decode_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *block;
        size_t n;
        int code;
    } cases[] = {
        {"index 0", "\x80", 1, ODIN_ERR_PARSE},
        {"index past tables", "\xbe", 1, ODIN_ERR_PARSE},
        {"truncated integer", "\xff", 1, ODIN_ERR_PARSE},
        {"huge integer", "\xff\xff\xff\xff\xff\x7f", 6, ODIN_ERR_PARSE},
        {"string past end", "\x00\x05" "ab", 4, ODIN_ERR_PARSE},
        {"missing value", "\x00\x01" "a", 3, ODIN_ERR_PARSE},
        {"table size over setting", "\x3f\xe2\x1f", 3, ODIN_ERR_LIMIT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        agent_gpu_hpack h;
        agent_gpu_hpack_init(&h);
        collect c = {""};
        odin_err err;
        odin_err_clear(&err);
        int rc = agent_gpu_hpack_decode(&h, (const uint8_t *)cases[i].block, cases[i].n, on_field,
                                        &c, &err);
        if (rc != -cases[i].code || strstr(err.msg, "byte") == NULL) {
            fail_msg("%s: want %d got %d (%s)", cases[i].name, -cases[i].code, rc, err.msg);
        }
        agent_gpu_hpack_fini(&h);
    }
}

static void test_literal_roundtrip(void **state)
{
    (void)state;
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    agent_gpu_hpack_put_literal(&b, ":path", "/v1.PodResourcesLister/List");
    agent_gpu_hpack_put_literal(&b, "x-long", "0123456789012345678901234567890123456789"
                                              "0123456789012345678901234567890123456789"
                                              "0123456789012345678901234567890123456789");
    agent_gpu_hpack h;
    agent_gpu_hpack_init(&h);
    collect c = {""};
    assert_int_equal(agent_gpu_hpack_decode(&h, (const uint8_t *)b.p, b.len, on_field, &c, NULL),
                     0);
    assert_non_null(strstr(c.text, ":path=/v1.PodResourcesLister/List;x-long=0123"));
    assert_int_equal(h.n, 0); /* without indexing */
    agent_gpu_hpack_fini(&h);
    odin_strbuf_fini(&b);
}

int agent_gpu_hpack_tests(void); /* called from main.c */

int agent_gpu_hpack_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huffman_vectors),
        cmocka_unit_test(test_huffman_errors),
        cmocka_unit_test(test_decode_dynamic_table),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_literal_roundtrip),
    };
    return cmocka_run_group_tests_name("gpu_hpack", tests, NULL, NULL);
}

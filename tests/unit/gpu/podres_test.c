/* Unit tests for src/agent/gpu/podres.c and h2.c: the ListPodResourcesResponse decoder, device
 * id shapes, and a whole HTTP/2 answer as the fake kubelet (tests/e2e/fake_podres.py) sends it,
 * read from the fuzz corpus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/gpu/podres.h"

static void put_len(odin_strbuf *b, unsigned num, const void *p, size_t n)
{
    odin_strbuf_putc(b, (char)(num << 3 | 2));
    odin_strbuf_putc(b, (char)n); /* test messages stay under 128 bytes per field */
    odin_strbuf_put(b, p, n);
}

static void put_str(odin_strbuf *b, unsigned num, const char *s)
{
    put_len(b, num, s, strlen(s));
}

/* pod{containers{devices{ids, resource}, name}, namespace, name}: names after their children */
static void build(odin_strbuf *out, const char *resource, const char *id)
{
    odin_strbuf dev, ctr, pod;
    odin_strbuf_init(&dev, 0);
    odin_strbuf_init(&ctr, 0);
    odin_strbuf_init(&pod, 0);
    put_str(&dev, 2, id);
    put_str(&dev, 1, resource);
    put_len(&ctr, 2, dev.p, dev.len);
    put_str(&ctr, 1, "main");
    odin_strbuf_put(&ctr, "\x18\x05", 2); /* cpu_ids 5 (unpacked varint): skipped */
    put_len(&pod, 3, ctr.p, ctr.len);
    put_str(&pod, 2, "ns1");
    put_str(&pod, 1, "pod1");
    put_len(out, 1, pod.p, pod.len);
    odin_strbuf_fini(&dev);
    odin_strbuf_fini(&ctr);
    odin_strbuf_fini(&pod);
}

static void test_decode(void **state)
{
    (void)state;
    odin_strbuf m;
    odin_strbuf_init(&m, 0);
    build(&m, "nvidia.com/gpu", "GPU-1234::3");
    build(&m, "example.com/fpga", "fpga0");
    build(&m, "nvidia.com/mig-1g.10gb", "MIG-abcd");
    agent_gpu_podres r = {0};
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(agent_gpu_podres_decode((const uint8_t *)m.p, m.len, &r, &err), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[0].device_id, "GPU-1234::3");
    assert_string_equal(r.v[0].pod, "pod1");
    assert_string_equal(r.v[0].ns, "ns1");
    assert_string_equal(r.v[0].container, "main");
    assert_string_equal(r.v[1].device_id, "MIG-abcd");
    /* every truncation of a valid answer is an error or a prefix of it, never a crash */
    for (size_t n = 0; n < m.len; n++) {
        agent_gpu_podres t = {0};
        int rc = agent_gpu_podres_decode((const uint8_t *)m.p, n, &t, NULL);
        assert_true(rc == 0 || rc == -ODIN_ERR_PARSE);
        assert_true(t.n <= 2);
        agent_gpu_podres_fini(&t);
    }
    agent_gpu_podres_fini(&r);
    odin_strbuf_fini(&m);
}

static void test_decode_limits(void **state)
{
    (void)state;
    char long_id[200];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    odin_strbuf m;
    odin_strbuf_init(&m, 0);
    odin_strbuf dev;
    odin_strbuf_init(&dev, 0);
    put_str(&dev, 1, "nvidia.com/gpu");
    odin_strbuf_put(&dev, "\x12\xc7\x01", 3); /* field 2, length 199 */
    odin_strbuf_puts(&dev, long_id);
    odin_strbuf ctr, pod;
    odin_strbuf_init(&ctr, 0);
    odin_strbuf_init(&pod, 0);
    odin_strbuf_put(&ctr, "\x12", 1);
    odin_strbuf_putc(&ctr, (char)((dev.len & 0x7f) | 0x80));
    odin_strbuf_putc(&ctr, (char)(dev.len >> 7));
    odin_strbuf_put(&ctr, dev.p, dev.len);
    odin_strbuf_put(&pod, "\x1a", 1);
    odin_strbuf_putc(&pod, (char)((ctr.len & 0x7f) | 0x80));
    odin_strbuf_putc(&pod, (char)(ctr.len >> 7));
    odin_strbuf_put(&pod, ctr.p, ctr.len);
    odin_strbuf_put(&m, "\x0a", 1);
    odin_strbuf_putc(&m, (char)((pod.len & 0x7f) | 0x80));
    odin_strbuf_putc(&m, (char)(pod.len >> 7));
    odin_strbuf_put(&m, pod.p, pod.len);
    agent_gpu_podres r = {0};
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(agent_gpu_podres_decode((const uint8_t *)m.p, m.len, &r, &err),
                     -ODIN_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "device id of 199 bytes"));
    agent_gpu_podres_fini(&r);
    odin_strbuf_fini(&m);
    odin_strbuf_fini(&dev);
    odin_strbuf_fini(&ctr);
    odin_strbuf_fini(&pod);
}

static void test_devid(void **state)
{
    (void)state;
    static const struct {
        const char *id;
        agent_gpu_devid_kind kind;
        const char *uuid;
        unsigned index, gi;
    } cases[] = {
        {"GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52", AGENT_GPU_DEVID_UUID,
         "GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52", 0, 0},
        {"GPU-604ac76c::7", AGENT_GPU_DEVID_UUID, "GPU-604ac76c", 0, 0},
        {"MIG-2ce7a541-c516-5dbc-a76e-26cc100d9b55::7", AGENT_GPU_DEVID_UUID,
         "MIG-2ce7a541-c516-5dbc-a76e-26cc100d9b55", 0, 0},
        {"MIG-GPU-604ac76c/3/0", AGENT_GPU_DEVID_MIG_OLD, "GPU-604ac76c", 0, 3},
        {"nvidia3", AGENT_GPU_DEVID_INDEX, "", 3, 0},
        {"nvidia1/vgpu2", AGENT_GPU_DEVID_INDEX, "", 1, 0},
        {"nvidia0/gi5", AGENT_GPU_DEVID_GKE_MIG, "", 0, 5},
        {"nvidia0/gi5/vgpu1", AGENT_GPU_DEVID_GKE_MIG, "", 0, 5},
        {"nvidia0/gx", AGENT_GPU_DEVID_UNKNOWN, "", 0, 0},
        {"nvidia", AGENT_GPU_DEVID_UNKNOWN, "", 0, 0},
        {"fpga0", AGENT_GPU_DEVID_UNKNOWN, "", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        agent_gpu_devid d = agent_gpu_devid_parse(odin_str_c(cases[i].id));
        if (d.kind != cases[i].kind || !odin_str_eq_c(d.uuid, cases[i].uuid) ||
            d.index != cases[i].index || d.gi != cases[i].gi) {
            fail_msg("%s: kind %d index %u gi %u", cases[i].id, d.kind, d.index, d.gi);
        }
    }
    assert_true(agent_gpu_podres_is_gpu_resource(ODIN_STR("nvidia.com/gpu")));
    assert_true(agent_gpu_podres_is_gpu_resource(ODIN_STR("nvidia.com/mig-3g.40gb")));
    assert_false(agent_gpu_podres_is_gpu_resource(ODIN_STR("nvidia.com/gpu.shared")));
}

/* The fake kubelet's whole answer, fed in chunks of every size from 1 to 64. */
static void test_h2_answer(void **state)
{
    (void)state;
    const char *src = getenv("ODIN_SOURCE_DIR");
    if (!src) {
        skip();
    }
    odin_strbuf path, file;
    odin_strbuf_init(&path, 0);
    odin_strbuf_init(&file, 0);
    odin_strbuf_printf(&path, "%s/tests/fuzz/corpus/gpu_podres/h2_example_pods", src);
    assert_int_equal(odin_read_file(path.p, &file, 1 << 20, NULL), 0);
    const uint8_t *in = (const uint8_t *)file.p + 1; /* the first byte is the fuzz mode */
    size_t n = file.len - 1;
    for (size_t chunk = 1; chunk <= 64; chunk++) {
        agent_gpu_h2 h;
        agent_gpu_h2_init(&h, "/v1.PodResourcesLister/List", NULL, 0, 1 << 20);
        int rc = 0;
        odin_err err;
        odin_err_clear(&err);
        for (size_t off = 0; off < n && rc == 0; off += chunk) {
            rc = agent_gpu_h2_feed(&h, in + off, off + chunk <= n ? chunk : n - off, &err);
        }
        if (rc != 1) {
            fail_msg("chunk %zu: rc %d (%s)", chunk, rc, err.msg);
        }
        const uint8_t *msg;
        size_t len;
        assert_int_equal(agent_gpu_h2_message(&h, &msg, &len, &err), 0);
        assert_string_equal(h.content_type, "application/grpc");
        agent_gpu_podres r = {0};
        assert_int_equal(agent_gpu_podres_decode(msg, len, &r, &err), 0);
        assert_int_equal(r.n, 2);
        assert_string_equal(r.v[0].container, "pytorch");
        assert_string_equal(r.v[1].ns, "team-a");
        agent_gpu_podres_fini(&r);
        agent_gpu_h2_fini(&h);
    }
    odin_strbuf_fini(&path);
    odin_strbuf_fini(&file);
}

static void test_h2_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *in;
        size_t n;
        int rc;
        const char *want;
    } cases[] = {
        {"frame over max size", "\x01\x00\x00\x00\x00\x00\x00\x00\x00", 9, -ODIN_ERR_PARSE,
         "over 16384"},
        {"rst stream", "\x00\x00\x04\x03\x00\x00\x00\x00\x01\x00\x00\x00\x07", 13,
         -ODIN_ERR_UNAVAILABLE, "error code 7"},
        {"goaway with error",
         "\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02", 17, -ODIN_ERR_UNAVAILABLE, "GOAWAY"},
        {"data before headers", "\x00\x00\x01\x00\x00\x00\x00\x00\x01x", 10, -ODIN_ERR_PARSE,
         "DATA before HEADERS"},
        {"bad settings", "\x00\x00\x05\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 14,
         -ODIN_ERR_PARSE, "SETTINGS"},
        {"padding too long", "\x00\x00\x02\x01\x0c\x00\x00\x00\x01\x05\x88", 11, -ODIN_ERR_PARSE,
         "padding"},
        {"push promise", "\x00\x00\x04\x05\x04\x00\x00\x00\x01\x00\x00\x00\x02", 13,
         -ODIN_ERR_PARSE, "PUSH_PROMISE"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        agent_gpu_h2 h;
        agent_gpu_h2_init(&h, "/x", NULL, 0, 1024);
        odin_err err;
        odin_err_clear(&err);
        int rc = agent_gpu_h2_feed(&h, (const uint8_t *)cases[i].in, cases[i].n, &err);
        if (rc != cases[i].rc || strstr(err.msg, cases[i].want) == NULL) {
            fail_msg("%s: rc %d msg %s", cases[i].name, rc, err.msg);
        }
        agent_gpu_h2_fini(&h);
    }
}

int agent_gpu_podres_tests(void); /* called from main.c */

int agent_gpu_podres_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decode_limits),
        cmocka_unit_test(test_devid),
        cmocka_unit_test(test_h2_answer),
        cmocka_unit_test(test_h2_errors),
    };
    return cmocka_run_group_tests_name("gpu_podres", tests, NULL, NULL);
}

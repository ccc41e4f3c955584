/* Unit tests for src/agent/gpu/pb.c: every wire type, and truncated or malformed fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>
#include <string.h>

#include "agent/gpu/podres.h"

static void test_fields(void **state)
{
    (void)state;
    /* 1: varint 300; 2: "hi"; 3: fixed64 1; 4: fixed32 2; 5: varint 2^64-1 */
    static const uint8_t msg[] = {0x08, 0xac, 0x02, 0x12, 0x02, 'h', 'i', 0x19, 1, 0, 0, 0, 0,
                                  0,    0,    0,    0x25, 2,    0,   0,   0,   0x28, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    agent_gpu_pb pb;
    agent_gpu_pb_field f;
    agent_gpu_pb_init(&pb, msg, sizeof(msg));
    assert_int_equal(agent_gpu_pb_next(&pb, &f, NULL), 1);
    assert_true(f.num == 1 && f.wire == AGENT_GPU_PB_VARINT && f.u == 300);
    assert_int_equal(agent_gpu_pb_next(&pb, &f, NULL), 1);
    assert_true(f.num == 2 && f.nbytes == 2 && memcmp(f.bytes, "hi", 2) == 0);
    assert_int_equal(agent_gpu_pb_next(&pb, &f, NULL), 1);
    assert_true(f.num == 3 && f.wire == AGENT_GPU_PB_I64 && f.u == 1);
    assert_int_equal(agent_gpu_pb_next(&pb, &f, NULL), 1);
    assert_true(f.num == 4 && f.wire == AGENT_GPU_PB_I32 && f.u == 2);
    assert_int_equal(agent_gpu_pb_next(&pb, &f, NULL), 1);
    assert_true(f.num == 5 && f.u == UINT64_MAX);
    assert_int_equal(agent_gpu_pb_next(&pb, &f, NULL), 0);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *msg;
        size_t n;
        const char *want;
    } cases[] = {
        {"truncated key", "\x80", 1, "truncated varint at byte 0"},
        {"field number 0", "\x00\x01", 2, "bad field number at byte 0"},
        {"group", "\x0b", 1, "wire type 3 at byte 0"},
        {"length past end", "\x0a\x05" "abc", 5, "past the end"},
        {"truncated fixed64", "\x09\x01\x02", 3, "truncated fixed64"},
        {"varint overflow", "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11, "overflows"},
        {"varint of 11 bytes", "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00", 12,
         "longer than 10 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        agent_gpu_pb pb;
        agent_gpu_pb_field f;
        odin_err err;
        odin_err_clear(&err);
        agent_gpu_pb_init(&pb, (const uint8_t *)cases[i].msg, cases[i].n);
        int rc = agent_gpu_pb_next(&pb, &f, &err);
        if (rc != -ODIN_ERR_PARSE || strstr(err.msg, cases[i].want) == NULL) {
            fail_msg("%s: rc %d msg %s", cases[i].name, rc, err.msg);
        }
    }
}

int agent_gpu_pb_tests(void); /* called from main.c */

int agent_gpu_pb_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("gpu_pb", tests, NULL, NULL);
}

/* Unit tests for src/agent/file_pages.c: after the drop, every read-only mapping of this process
 * reads back the same bytes (pages come back from their files, relocated data was left alone),
 * and code and pointer tables in those mappings still work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include "agent/agent_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FNV-1a over `len` bytes at `addr`, read through /proc/self/mem: reading globals' bytes directly
 * would cross AddressSanitizer's redzones between them. */
static uint64_t hash_range(int mem, uint64_t addr, uint64_t len, uint64_t h)
{
    static unsigned char buf[65536];
    while (len > 0) {
        size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
        ssize_t n = pread(mem, buf, want, (off_t)addr);
        assert_true(n > 0);
        for (ssize_t i = 0; i < n; i++) {
            h = (h ^ buf[i]) * 1099511628211ull;
        }
        addr += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return h;
}

/* FNV-1a over every readable, non-writable, file-backed mapping's bytes. */
static uint64_t read_only_checksum(size_t *nmaps)
{
    FILE *f = fopen("/proc/self/maps", "re");
    assert_non_null(f);
    int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    assert_true(mem >= 0);
    char line[4096];
    uint64_t h = 1469598103934665603ull;
    *nmaps = 0;
    while (fgets(line, sizeof(line), f)) {
        odin_str rest = odin_str_c(line);
        odin_str range = odin_str_field(&rest);
        odin_str perms = odin_str_field(&rest);
        for (int i = 0; i < 3; i++) {
            (void)odin_str_field(&rest);
        }
        odin_str path = odin_str_trim(rest);
        odin_str lo = odin_str_cut(&range, '-');
        uint64_t a, b;
        if (perms.len < 4 || perms.p[0] != 'r' || perms.p[1] == 'w' || path.len == 0 ||
            path.p[0] != '/' || odin_parse_hex_u64(lo, &a) < 0 ||
            odin_parse_hex_u64(range, &b) < 0) {
            continue;
        }
        h = hash_range(mem, a, b - a, h);
        (*nmaps)++;
    }
    close(mem);
    fclose(f);
    return h;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void test_read_only_mappings_unchanged(void **state)
{
    (void)state;
    size_t n_before, n_after;
    uint64_t before = read_only_checksum(&n_before);
    agent_drop_unused_file_pages();
    uint64_t after = read_only_checksum(&n_after);
    assert_true(n_before > 0);
    assert_int_equal(n_before, n_after);
    assert_true(before == after);
    /* libc code reached through the PLT and a function pointer still runs */
    int v[] = {3, 1, 2};
    qsort(v, 3, sizeof(v[0]), cmp_int);
    assert_int_equal(v[0], 1);
    assert_int_equal(v[2], 3);
    static const char *const table[] = {"a", "bc"};
    assert_int_equal(strlen(table[1]), 2);
}

int agent_file_pages_tests(void); /* called from main.c */

int agent_file_pages_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_only_mappings_unchanged),
    };
    return cmocka_run_group_tests_name("agent_file_pages", tests, NULL, NULL);
}

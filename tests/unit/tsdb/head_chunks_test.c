/* Unit tests for the head's chunk files: records copied into the file's mapping read back
 * exactly, through the pointer handed out and from the file, across the steps in which space is
 * reserved and written pages are dropped from the page tables, and into a second file once the
 * first is full (records written whole or in pieces); a sealed file keeps no page mapped; the
 * usage figures follow, and dropping every chunk deletes the files (dropping records read back
 * unmaps their pages again). The same with every record written by pwritev, as on file systems
 * outside the mapped path. */
#include <cmocka.h>

#include "tsdb/head_chunks.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tsdb_head_chunks_tests(void);

enum { PRE = 28 };

/* Chunk i's bytes: its length and content follow from i alone. */
static uint32_t chunk_len(uint32_t i)
{
    return 40 + (i * 37) % 300;
}

static void chunk_bytes(uint32_t i, uint8_t *out)
{
    for (uint32_t k = 0; k < chunk_len(i); k++) {
        out[k] = (uint8_t)(i * 131 + k * 7);
    }
}

static size_t files_in(const char *dir)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    size_t n = 0;
    for (unsigned id = 1; id < 64; id++) {
        struct stat st;
        odin_strbuf_reset(&p);
        odin_strbuf_printf(&p, "%s/chunks_odin/%06u", dir, id);
        n += stat(p.p, &st) == 0;
    }
    odin_strbuf_fini(&p);
    return n;
}

/* Resident kB of the mapping of path in this process (smaps), -1 when it is not mapped. */
static long mapped_rss_kb(const char *path)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    bool in = false;
    long kb = -1;
    size_t plen = strlen(path);
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') {
            line[--n] = '\0';
        }
        if (strchr(line, '-') && strchr(line, ' ') && strchr(line, '-') < strchr(line, ' ')) {
            in = n >= plen && strcmp(line + n - plen, path) == 0;
        } else if (in && strncmp(line, "Rss:", 4) == 0) {
            kb = strtol(line + 4, NULL, 10);
            in = false;
        }
    }
    fclose(f);
    return kb;
}

/* Writes 400k records, reads them back, drops them: copied into the mapping, or with pwritev
 * (what file systems where a reservation does not make the copy safe get). */
static void round_trip(bool pwritev_only)
{
    char tmpl[] = "/tmp/odin-head-chunks-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    odin_err err = {0};
    head_chunk_files *cf = head_chunk_files_open(dir, &err);
    assert_non_null(cf);
    if (pwritev_only) {
        head_chunk_files_use_pwritev(cf);
    }
    /* ~230 bytes a record with its head: 400k records fill the first 64 MiB file and go on in a
     * second, crossing many reservation (1 MiB) and unmapping (64 KiB) steps on the way */
    enum { N = 400000 };
    const uint8_t **where = calloc(N, sizeof(*where));
    assert_non_null(where);
    uint8_t pre[PRE], buf[400];
    uint64_t total = 0;
    for (uint32_t i = 0; i < N; i++) {
        memset(pre, (int)(i & 0xff), sizeof(pre));
        chunk_bytes(i, buf);
        if (i % 3 == 0) {
            /* in three pieces (the second empty), as a split chunk's parts are joined */
            uint32_t a = chunk_len(i) / 3;
            head_chunk_piece d[3] = {{buf, a}, {buf + a, 0}, {buf + a, chunk_len(i) - a}};
            assert_int_equal(head_chunk_files_writev(cf, 1 + i % 1000, (int64_t)i * 1000, pre,
                                                     sizeof(pre), d, 3, &where[i]),
                             0);
        } else {
            assert_int_equal(head_chunk_files_write(cf, 1 + i % 1000, (int64_t)i * 1000, pre,
                                                    sizeof(pre), buf, chunk_len(i), &where[i]),
                             0);
        }
        total += 8 + 8 + PRE + chunk_len(i) + 4;
    }
    uint64_t nfiles, bytes;
    head_chunk_files_usage(cf, &nfiles, &bytes);
    assert_int_equal(nfiles, 2);
    assert_int_equal(bytes, total + 2 * HEAD_CHUNK_FILE_HEADER);
    assert_int_equal(files_in(dir), 2);
    /* the sealed file's written pages left the page tables, its last partial unmapping step
     * too (it kept up to a step resident for its life) */
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/chunks_odin/000001", dir);
    assert_int_equal(mapped_rss_kb(p.p), 0);
    /* every chunk reads back through its pointer (pages dropped from the page tables fault in
     * again from the page cache), with its prefix right before it */
    for (uint32_t i = 0; i < N; i++) {
        chunk_bytes(i, buf);
        assert_memory_equal(where[i], buf, chunk_len(i));
        assert_int_equal(where[i][-1], (uint8_t)(i & 0xff));
    }
    /* and the first file holds the records themselves: header, then ref, mint, prefix, data */
    int fd = open(p.p, O_RDONLY);
    assert_true(fd >= 0);
    uint8_t rec[16 + PRE + 400];
    assert_int_equal(pread(fd, rec, sizeof(rec), HEAD_CHUNK_FILE_HEADER), (ssize_t)sizeof(rec));
    assert_int_equal(rec[7], 1); /* ref 1, big-endian */
    chunk_bytes(0, buf);
    assert_memory_equal(rec + 16 + PRE, buf, chunk_len(0));
    close(fd);
    /* dropping every chunk deletes the full file; the one being written stays until sealed */
    /* the first records read back after the pages left the page tables, as a cut reads a
     * split chunk's parts: after HEAD_CHUNK_REREAD_BATCH of them are dropped as reread, their
     * pages leave the page tables again (all but what fault-around mapped past them) */
    head_chunk_files_cool(cf);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < 2 * HEAD_CHUNK_REREAD_BATCH; i++) {
        for (uint32_t k = 0; k < chunk_len(i); k++) {
            sum += where[i][k];
        }
    }
    assert_true(sum > 0);
    long before = mapped_rss_kb(p.p);
    for (uint32_t i = 0; i < N; i++) {
        assert_true(i % 2 ? head_chunk_files_drop_reread(cf, where[i])
                          : head_chunk_files_drop(cf, where[i]));
        if (i == 2 * HEAD_CHUNK_REREAD_BATCH - 1 && !pwritev_only) {
            long after = mapped_rss_kb(p.p);
            assert_true(before >= 100);
            assert_true(after <= 64);
        }
    }
    odin_strbuf_fini(&p);
    assert_int_equal(files_in(dir), 1);
    head_chunk_files_close(cf);
    assert_int_equal(files_in(dir), 0);
    free(where);
    assert_int_equal(odin_remove_tree(dir), 0);
}

static void test_records_round_trip(void **state)
{
    (void)state;
    round_trip(false);
}

static void test_records_round_trip_pwritev(void **state)
{
    (void)state;
    round_trip(true);
}

int tsdb_head_chunks_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_round_trip),
        cmocka_unit_test(test_records_round_trip_pwritev),
    };
    return cmocka_run_group_tests_name("tsdb_head_chunks", tests, NULL, NULL);
}

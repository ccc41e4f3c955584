/* libFuzzer target for Prometheus' chunks_head/ files on open (src/tsdb/migrate.c): the input is
 * written as chunks_head/000001 beside a small WAL, and the database is opened. Every chunk is
 * decoded and checked against the head the WAL rebuilt; the open either succeeds, with the
 * directory set aside (renamed, never deleted) and the WAL's series in the head, or is refused
 * with an error naming the file, which is left where it was. Never a crash, a read past the
 * file's end or a leak.
 *
 * Input: one mode byte, then the file. Chunks end at the first one whose CRC32C does not match,
 * which a random mutation almost always breaks; with the mode's low bit set, the harness walks the
 * file as the format describes and writes each chunk's CRC before the open, so the fuzzer reaches
 * the chunk headers and data behind them. With bit 1 set the file is also written as
 * chunks_head/000002 (the same chunks twice, as a duplicate file). The WAL holds series refs 1
 * and 2 with 30 samples each at 1 s from T0 (values i and -i/4) and ref 3 with no samples. The
 * seeds: a chunk of ref 1 the WAL covers, ref 2's covered in two chunks, a chunk of ref 3 (only
 * in chunks_head: refused), an out-of-order and a histogram chunk (skipped), and a torn tail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tsdb/chunk.h"
#include "tsdb/tsdb.h"
#include "tsdb/wal.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    FILE_HEADER = 8,   /* magic, version, padding */
    CHUNK_HEADER = 25, /* series ref, mint, maxt, encoding */
    NSAMPLES = 30,
    WAL_SERIES = 3,
    WAL_SERIES_WITH_SAMPLES = 2, /* the open drops series that hold nothing (head_gc) */
    MODE_FIX_CRC = 1,
    MODE_TWO_FILES = 2,
};
#define T0 1700000000000LL

#define check(ok) fuzz_check_at((ok), "tsdb_head_chunks", __LINE__)

/* One directory for the process's inputs, removed at exit; errors alone are logged (every open
 * logs its replay). */
static const char *root_dir(void)
{
    odin_log_set_level("error");
    return fuzz_root_dir("tsdb_head_chunks");
}

static void write_file(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(len == 0 || fwrite(b, 1, len, f) == len);
    check(fclose(f) == 0);
}

static bool exists(const char *dir, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void log_record(tsdb_wal *w, const odin_strbuf *rec)
{
    odin_err err;
    odin_err_clear(&err);
    check(wal_log(w, (const uint8_t *)rec->p, rec->len, &err) == 0);
}

static void write_wal(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/wal", dir);
    wal_opts wo = {.fsync_ms = 0};
    odin_err err;
    odin_err_clear(&err);
    tsdb_wal *w = wal_open(path, &wo, &err);
    check(w != NULL);
    static const char *const names[WAL_SERIES] = {"node_cpu_seconds_total", "DCGM_FI_DEV_GPU_TEMP",
                                                  "up"};
    odin_label l[WAL_SERIES];
    wal_series s[WAL_SERIES];
    for (int i = 0; i < WAL_SERIES; i++) {
        l[i] = (odin_label){ODIN_STR("__name__"), odin_str_c(names[i])};
        s[i] = (wal_series){(uint64_t)i + 1, {&l[i], 1}};
    }
    odin_strbuf rec;
    odin_strbuf_init(&rec, 0);
    wal_encode_series(&rec, s, WAL_SERIES);
    log_record(w, &rec);
    wal_sample ss[2 * NSAMPLES];
    for (int i = 0; i < NSAMPLES; i++) {
        ss[2 * i] = (wal_sample){1, T0 + i * 1000LL, (double)i};
        ss[2 * i + 1] = (wal_sample){2, T0 + i * 1000LL, -i / 4.0};
    }
    odin_strbuf_reset(&rec);
    wal_encode_samples(&rec, ss, 2 * NSAMPLES);
    log_record(w, &rec);
    odin_strbuf_fini(&rec);
    wal_close(w);
}

/* Writes each chunk's CRC where the format puts it, walking the file as the reader does: from the
 * file header on, a 25-byte chunk header, the data length as a uvarint, the data, the CRC of
 * everything from the header on. Stops at the first chunk that does not fit. */
static void fix_crcs(uint8_t *p, size_t len)
{
    size_t off = FILE_HEADER;
    while (off <= len && len - off >= CHUNK_HEADER) {
        size_t at = off + CHUNK_HEADER;
        uint64_t dlen;
        size_t vn;
        if (tsdb_get_uvarint(p + at, len - at, &dlen, &vn) < 0 || dlen > len - at - vn ||
            len - at - vn - dlen < 4) {
            return;
        }
        size_t end = at + vn + (size_t)dlen;
        uint32_t crc = tsdb_crc32c(0, p + off, end - off);
        p[end] = (uint8_t)(crc >> 24);
        p[end + 1] = (uint8_t)(crc >> 16);
        p[end + 2] = (uint8_t)(crc >> 8);
        p[end + 3] = (uint8_t)crc;
        off = end + 4;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0];
    size_t len = size - 1;
    uint8_t *file = malloc(len ? len : 1);
    check(file != NULL);
    memcpy(file, data + 1, len);
    if (mode & MODE_FIX_CRC) {
        fix_crcs(file, len);
    }

    static unsigned seq;
    char dir[256], path[512];
    snprintf(dir, sizeof(dir), "%s/%u", root_dir(), seq++);
    check(mkdir(dir, 0777) == 0);
    write_wal(dir);
    snprintf(path, sizeof(path), "%s/chunks_head", dir);
    check(mkdir(path, 0777) == 0);
    snprintf(path, sizeof(path), "%s/chunks_head/000001", dir);
    write_file(path, file, len);
    if (mode & MODE_TWO_FILES) {
        snprintf(path, sizeof(path), "%s/chunks_head/000002", dir);
        write_file(path, file, len);
    }
    free(file);

    tsdb_opts o = {.dir = dir, .wal_fsync_ms = 0};
    odin_err err;
    odin_err_clear(&err);
    tsdb *db = tsdb_open(&o, &err);
    if (db != NULL) {
        /* accepted: set aside whole, and the head is the WAL's, nothing added from the chunks */
        check(exists(dir, "chunks_head.from-prometheus/000001"));
        check(!exists(dir, "chunks_head"));
        tsdb_stats st;
        tsdb_get_stats(db, &st);
        check(st.head_series == WAL_SERIES_WITH_SAMPLES);
        tsdb_close(db);
    } else {
        /* refused: the error names the file, and nothing was moved or deleted */
        char want[512];
        snprintf(want, sizeof(want), "%s/chunks_head/00000", dir);
        if (strstr(err.msg, want) == NULL) {
            fprintf(stderr, "tsdb_head_chunks: refused with \"%s\", which does not name %s\n",
                    err.msg, want);
        }
        check(err.code != 0 && strstr(err.msg, want) != NULL);
        check(exists(dir, "chunks_head/000001"));
        check(!exists(dir, "chunks_head.from-prometheus"));
    }
    odin_remove_tree(dir);
    return 0;
}

/* libFuzzer target for persisted blocks (src/tsdb/block_read.c, meta.c, tombstones.c): the input
 * is a block's files, written to a block directory, which is then opened and read as a query and
 * a compaction would read it: label names and values, every series by ID with its chunks decoded,
 * selections by matchers, the chunk encodings, and a deletion (tombstones written, then applied
 * to the reads after it). Damaged files must be refused with an error that names the block's
 * directory, never read past their end, crash or leak.
 *
 * Input: four sections, each a 4-byte little-endian length and that many bytes (a length past
 * the end takes what is left): index, chunks/000001, tombstones, meta.json. An empty tombstones
 * section writes no tombstones file; an empty meta.json section writes a valid one. The seeds are
 * 2 h blocks of six series (node CPU counters, GPU temperatures) that `odin tsdb import` (XOR and
 * Odin chunks) and promtool 2.42's `tsdb create-blocks-from openmetrics` wrote from one small
 * OpenMetrics file, and the last with the tombstones file a deletion here wrote. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tsdb/block.h"
#include "tsdb/chunk.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { SECTIONS = 4, MAX_SERIES_READ = 4096 };

static const char *const section_file[SECTIONS] = {"index", "chunks/000001", "tombstones",
                                                   "meta.json"};

static const char default_meta[] =
    "{\"ulid\":\"01HZZZZZZZZZZZZZZZZZZZZZZZ\",\"minTime\":0,\"maxTime\":7200000,"
    "\"stats\":{\"numSamples\":1,\"numSeries\":1,\"numChunks\":1},"
    "\"compaction\":{\"level\":1,\"sources\":[\"01HZZZZZZZZZZZZZZZZZZZZZZZ\"]},\"version\":1}";

#define check(ok) fuzz_check_at((ok), "tsdb_block", __LINE__)

/* One directory for the process's inputs, removed at exit. */
static const char *root_dir(void)
{
    return fuzz_root_dir("tsdb_block");
}

static void write_file(const char *dir, const char *name, const uint8_t *b, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(len == 0 || fwrite(b, 1, len, f) == len);
    check(fclose(f) == 0);
}

/* A failure names the block (its directory is in every file path the reader reports). */
static void check_refusal(int rc, const odin_err *err, const char *dir)
{
    if (strstr(err->msg, dir) == NULL) {
        fprintf(stderr, "tsdb_block: refused with \"%s\", which does not name %s\n", err->msg, dir);
    }
    check(rc < 0 && err->code != 0 && strstr(err->msg, dir) != NULL);
}

/* Decodes a chunk to its end; the count of samples read never passes what its header claims. */
static void decode_chunk(const block_chunk *c)
{
    xor_iter it;
    xor_iter_init(&it, c->b, c->len);
    int64_t t;
    double v;
    uint32_t n = 0;
    while (n <= 65536 && xor_iter_next(&it, &t, &v)) {
        n++;
    }
    check(n <= 65535);
}

static void read_series(tsdb_block *b, const char *dir, odin_arena *a)
{
    uint32_t *ids;
    size_t n;
    odin_err err;
    odin_err_clear(&err);
    int rc = block_series_ids(b, a, &ids, &n, &err);
    if (rc < 0) {
        check_refusal(rc, &err, dir);
        return;
    }
    for (size_t i = 0; i < n && i < MAX_SERIES_READ; i++) {
        block_series s;
        odin_err_clear(&err);
        rc = block_series_read(b, ids[i], INT64_MIN, INT64_MAX, a, &s, &err);
        if (rc < 0) {
            check_refusal(rc, &err, dir);
            continue;
        }
        for (size_t k = 0; k < s.nchunks; k++) {
            decode_chunk(&s.chunks[k]);
        }
    }
}

/* Selections through the postings: by a label's first value, by a regex on the label, and the
 * series with the label but another value. */
static void select_by(tsdb_block *b, const char *dir, odin_str name, odin_str value, odin_arena *a)
{
    static const struct {
        tsdb_match_type type[2];
        const char *re; /* the value of a regex matcher */
        size_t n;
    } sets[] = {
        {{TSDB_MATCH_EQ}, NULL, 1},
        {{TSDB_MATCH_RE}, ".*[a-m].*", 1},
        {{TSDB_MATCH_RE, TSDB_MATCH_NEQ}, ".+", 2},
    };
    for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
        odin_err err;
        odin_err_clear(&err);
        tsdb_matcher m[2];
        size_t n = 0;
        for (; n < sets[k].n; n++) {
            tsdb_match_type type = sets[k].type[n];
            odin_str v = type == TSDB_MATCH_RE ? odin_str_c(sets[k].re) : value;
            if (tsdb_matcher_init(&m[n], type, name, v, &err) < 0) {
                break;
            }
        }
        if (n == sets[k].n) {
            block_series *out;
            size_t count;
            int rc = block_select(b, m, n, INT64_MIN, INT64_MAX, a, &out, &count, &err);
            if (rc < 0) {
                check_refusal(rc, &err, dir);
            } else {
                for (size_t i = 0; i < count && i < MAX_SERIES_READ; i++) {
                    for (size_t c = 0; c < out[i].nchunks; c++) {
                        decode_chunk(&out[i].chunks[c]);
                    }
                }
            }
        }
        while (n > 0) {
            tsdb_matcher_fini(&m[--n]);
        }
    }
}

/* Labels by name and value; the first name with a value selects and then deletes the middle of
 * the block's time range from its series. */
static void read_labels_and_delete(tsdb_block *b, const char *dir, odin_arena *a)
{
    odin_str *names;
    size_t nn;
    odin_err err;
    odin_err_clear(&err);
    int rc = block_label_names(b, a, &names, &nn, &err);
    if (rc < 0) {
        check_refusal(rc, &err, dir);
        return;
    }
    bool deleted = false;
    for (size_t i = 0; i < nn && i < 64; i++) {
        char *name = odin_arena_strndup(a, names[i].p, names[i].len);
        odin_str *values;
        size_t nv;
        odin_err_clear(&err);
        rc = block_label_values(b, name, a, &values, &nv, &err);
        if (rc < 0) {
            check_refusal(rc, &err, dir);
            continue;
        }
        if (nv == 0 || values[0].len == 0 || deleted) {
            continue; /* (an empty value matches the series without the label: not a selection) */
        }
        select_by(b, dir, names[i], values[0], a);
        tsdb_matcher m;
        if (tsdb_matcher_init(&m, TSDB_MATCH_EQ, names[i], values[0], &err) == 0) {
            const block_meta *meta = block_get_meta(b);
            int64_t mid = meta->mint / 2 + meta->maxt / 2;
            uint64_t touched = 0;
            odin_err_clear(&err);
            rc = block_delete(b, &m, 1, mid - 60000, mid + 60000, &touched, &err);
            if (rc < 0) {
                check_refusal(rc, &err, dir);
            }
            tsdb_matcher_fini(&m);
            deleted = true;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sec[SECTIONS] = {0};
    size_t len[SECTIONS] = {0};
    size_t at = 0;
    for (int i = 0; i < SECTIONS && size - at >= 4; i++) {
        uint32_t l = (uint32_t)data[at] | (uint32_t)data[at + 1] << 8 |
                     (uint32_t)data[at + 2] << 16 | (uint32_t)data[at + 3] << 24;
        at += 4;
        len[i] = l < size - at ? l : size - at;
        sec[i] = data + at;
        at += len[i];
    }
    char dir[256], chunks[300];
    snprintf(dir, sizeof(dir), "%s/01HZZZZZZZZZZZZZZZZZZZZZZZ", root_dir());
    snprintf(chunks, sizeof(chunks), "%s/chunks", dir);
    odin_remove_tree(dir);
    check(mkdir(dir, 0755) == 0 && mkdir(chunks, 0755) == 0);
    for (int i = 0; i < SECTIONS; i++) {
        if (i == 2 && len[i] == 0) {
            continue; /* no tombstones file */
        }
        if (i == 3 && len[i] == 0) {
            write_file(dir, section_file[i], (const uint8_t *)default_meta, strlen(default_meta));
            continue;
        }
        write_file(dir, section_file[i], sec[i], len[i]);
    }

    odin_err err;
    odin_err_clear(&err);
    tsdb_block *b = block_open(dir, &err);
    if (b == NULL) {
        check_refusal(-1, &err, dir);
        return 0;
    }
    odin_arena a;
    odin_arena_init(&a, 0);
    const block_meta *meta = block_get_meta(b);
    check(meta->size_bytes > 0);
    unsigned mask = 0;
    odin_err_clear(&err);
    int rc = block_chunk_encodings(b, &mask, &err);
    if (rc < 0) {
        check_refusal(rc, &err, dir);
    }
    read_series(b, dir, &a);
    read_labels_and_delete(b, dir, &a);
    read_series(b, dir, &a); /* with the tombstones applied */
    (void)block_num_tombstones(b);
    block_unref(b);
    odin_arena_fini(&a);
    return 0;
}

/* Test tool for tests/e2e/test_tsdb_full_disk.py, not part of odin: drives a database on a small
 * file system through commands read from stdin, one per line, answering one line each:
 *
 *   append R     one round: a sample per series at t = R * 15000, v = R   -> "ok" | "err MSG"
 *   count        samples of all series                                  -> "count N"
 *   compact      cut the head into blocks as the compactor would        -> "ok" | "err MSG"
 *   quit                                                                 -> (exits) */
#include "tsdb/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SERIES = 200 };

static void series_labels(odin_label *buf, char *val, long i)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_put_i64(&b, i);
    memcpy(val, b.p, b.len + 1);
    odin_strbuf_fini(&b);
    buf[0] = (odin_label){ODIN_STR("__name__"), ODIN_STR("fill_test")};
    buf[1] = (odin_label){ODIN_STR("series"), odin_str_c(val)};
}

static void do_append(tsdb *db, uint64_t *refs, long round)
{
    odin_err err = {0};
    tsdb_appender *a = tsdb_appender_new(db);
    for (long i = 0; i < SERIES; i++) {
        odin_label ls[2];
        char val[32];
        series_labels(ls, val, i);
        if (tsdb_append(a, &refs[i], (odin_labels){ls, 2}, round * 15000, (double)round, &err) <
            0) {
            tsdb_appender_rollback(a);
            printf("err %s\n", err.msg);
            return;
        }
    }
    if (tsdb_appender_commit(a, &err) < 0) {
        printf("err %s\n", err.msg);
        return;
    }
    puts("ok");
}

static void do_count(tsdb *db)
{
    odin_err err = {0};
    tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("fill_test"), &err);
    tsdb_querier *q = tsdb_querier_open(db, 0, INT64_MAX / 2); /* maxt + 1 must not overflow */
    tsdb_series_set *set = tsdb_querier_select(q, &m, 1, &err);
    long n = 0;
    while (set && tsdb_series_next(set)) {
        tsdb_iter it;
        tsdb_series_iter(set, &it);
        int64_t t;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            n++;
        }
    }
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
    printf("count %ld\n", n);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: tsdb_fill DIR < commands\n", stderr);
        return 2;
    }
    odin_err err = {0};
    tsdb_opts o = {.dir = argv[1], .wal_fsync_ms = 0, .wal_segment_bytes = 256 * 1024};
    tsdb *db = tsdb_open(&o, &err);
    if (!db) {
        printf("err open: %s\n", err.msg);
        return 1;
    }
    uint64_t refs[SERIES] = {0};
    char line[128];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "append ", 7) == 0) {
            int64_t r = 0;
            line[strcspn(line, "\n")] = '\0';
            if (odin_parse_i64(odin_str_c(line + 7), &r) < 0) {
                puts("err bad round");
                continue;
            }
            do_append(db, refs, (long)r);
        } else if (strncmp(line, "count", 5) == 0) {
            do_count(db);
        } else if (strncmp(line, "compact", 7) == 0) {
            int rc = tsdb_compact(db, &err);
            if (rc < 0) {
                printf("err %s\n", err.msg);
            } else {
                puts("ok");
            }
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        } else {
            puts("err unknown command");
        }
    }
    tsdb_close(db);
    return 0;
}

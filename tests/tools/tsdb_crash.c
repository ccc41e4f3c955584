/* Test tool for the tsdb crash tests (tests/e2e/test_tsdb_crash.py), not part of odin.
 *
 *   tsdb_crash write DIR SERIES [STEP]    appends rounds of one sample per series (t = round *
 *                                         STEP ms, default 1000, v = round) forever, printing
 *                                         "ack R" after each commit; with STEP given it also
 *                                         compacts every 16 rounds, so a minute's step cuts a
 *                                         block (and checkpoints the WAL) every ~180 rounds
 *   tsdb_crash check DIR SERIES R [STEP]  opens DIR (replaying the WAL) and checks every series
 *                                         holds every round 0..R, in blocks and head; prints
 *                                         "ok N" or the first gap and exits 1 */
#include "tsdb/db_int.h" /* tsdb_compact */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static odin_labels series_labels(odin_label *buf, char *val, size_t cap, long i)
{
    odin_strbuf b;
    odin_strbuf_init(&b, cap);
    odin_strbuf_put_i64(&b, i);
    memcpy(val, b.p, b.len + 1);
    odin_strbuf_fini(&b);
    buf[0] = (odin_label){ODIN_STR("__name__"), ODIN_STR("crash_test")};
    buf[1] = (odin_label){ODIN_STR("series"), odin_str_c(val)};
    return (odin_labels){buf, 2};
}

static long parse_long(const char *s)
{
    int64_t v;
    if (odin_parse_i64(odin_str_c(s), &v) < 0) {
        fputs("bad number\n", stderr);
        exit(2);
    }
    return (long)v;
}

/* Years of retention: the cut mode writes months of minutes, none of which may age out. Small WAL
 * segments, so checkpoints have whole segments to drop. Snappy records, as the server writes by
 * default, so kills, truncation and bit flips land in compressed records. */
static tsdb_opts crash_opts(const char *dir)
{
    return (tsdb_opts){.dir = dir,
                       .wal_fsync_ms = 1000,
                       .wal_compression = true,
                       .retention_ms = 10 * 365 * 86400000LL,
                       .wal_segment_bytes = 1 << 20};
}

static int run_write(const char *dir, long nseries, long step, bool compact)
{
    odin_err err = {0};
    tsdb_opts o = crash_opts(dir);
    tsdb *db = tsdb_open(&o, &err);
    if (!db) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    /* continue after the last round a previous run reached */
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    long round = st.head_max_t == INT64_MIN ? 0 : (long)(st.head_max_t / step) + 1;
    uint64_t *refs = calloc((size_t)nseries, sizeof(*refs));
    for (;; round++) {
        tsdb_appender *a = tsdb_appender_new(db);
        for (long i = 0; i < nseries; i++) {
            odin_label buf[2];
            char val[32];
            odin_labels ls = series_labels(buf, val, sizeof(val), i);
            if (tsdb_append(a, &refs[i], ls, round * step, (double)round, &err) < 0) {
                fprintf(stderr, "append: %s\n", err.msg);
                return 1;
            }
        }
        if (tsdb_appender_commit(a, &err) < 0) {
            fprintf(stderr, "commit: %s\n", err.msg);
            return 1;
        }
        printf("ack %ld\n", round);
        fflush(stdout);
        if (compact && round % 16 == 15 && tsdb_compact(db, &err) < 0) {
            fprintf(stderr, "compact: %s\n", err.msg);
            return 1;
        }
    }
}

static int run_check(const char *dir, long nseries, long rounds, long step)
{
    odin_err err = {0};
    tsdb_opts o = crash_opts(dir);
    tsdb *db = tsdb_open(&o, &err);
    if (!db) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), ODIN_STR("crash_test"), &err);
    tsdb_querier *q = tsdb_querier_open(db, 0, INT64_MAX);
    tsdb_series_set *set = tsdb_querier_select(q, &m, 1, &err);
    long seen = 0;
    int rc = 0;
    while (set && tsdb_series_next(set)) {
        tsdb_iter it;
        tsdb_series_iter(set, &it);
        int64_t t;
        double v;
        long want = 0;
        while (tsdb_iter_next(&it, &t, &v)) {
            if (t != want * step || v != (double)want) {
                break;
            }
            want++;
        }
        if (want <= rounds) {
            odin_labels ls = tsdb_series_labels(set);
            printf("gap: series %.*s has rounds 0..%ld, acknowledged 0..%ld\n",
                   (int)ls.v[1].value.len, ls.v[1].value.p, want - 1, rounds);
            rc = 1;
        }
        seen++;
    }
    if (rc == 0 && seen != nseries && rounds >= 0) {
        printf("series: found %ld, want %ld\n", seen, nseries);
        rc = 1;
    }
    if (rc == 0) {
        printf("ok %ld\n", seen);
    }
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
    tsdb_close(db);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "write") == 0) {
        return run_write(argv[2], parse_long(argv[3]), argc >= 5 ? parse_long(argv[4]) : 1000,
                         argc >= 5);
    }
    if (argc >= 5 && strcmp(argv[1], "check") == 0) {
        return run_check(argv[2], parse_long(argv[3]), parse_long(argv[4]),
                         argc >= 6 ? parse_long(argv[5]) : 1000);
    }
    fputs("usage: tsdb_crash write DIR SERIES [STEP] | check DIR SERIES ROUNDS [STEP]\n", stderr);
    return 2;
}

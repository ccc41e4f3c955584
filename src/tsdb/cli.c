/* `odin tsdb dump|analyze|import|recode`: promtool's tsdb commands on Odin's (and Prometheus') data
 * directories. Output formats follow promtool's so scripts written for it keep working. */
#include "expfmt/expfmt.h"
#include "tsdb/block.h"
#include "tsdb/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int open_ro(const char *dir, tsdb **out)
{
    tsdb_opts o = {.dir = dir, .read_only = true};
    odin_err err = {0};
    *out = tsdb_open(&o, &err);
    if (!*out) {
        fprintf(stderr, "odin tsdb: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int parse_time_flag(const char *arg, const char *name, int64_t *out)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0 || arg[n] != '=') {
        return 0;
    }
    if (odin_parse_i64(odin_str_c(arg + n + 1), out) < 0) {
        fprintf(stderr, "odin tsdb: %s: not a timestamp in ms\n", name);
        return -1;
    }
    return 1;
}

/* dump [--min-time=MS] [--max-time=MS] [--match=NAME] DIR: every sample, one per line, as
 * "{labels} value timestamp". --match takes a metric name (all series when absent). */
static int cmd_dump(int argc, char **argv)
{
    int64_t mint = INT64_MIN, maxt = INT64_MAX;
    const char *dir = "data/", *match = NULL;
    for (int i = 1; i < argc; i++) {
        int r1 = parse_time_flag(argv[i], "--min-time", &mint);
        int r2 = parse_time_flag(argv[i], "--max-time", &maxt);
        if (r1 < 0 || r2 < 0) {
            return 2;
        }
        if (r1 || r2) {
            continue;
        }
        if (strncmp(argv[i], "--match=", 8) == 0) {
            match = argv[i] + 8;
        } else {
            dir = argv[i];
        }
    }
    tsdb *db;
    if (open_ro(dir, &db)) {
        return 1;
    }
    odin_err err = {0};
    tsdb_matcher m;
    if (match) {
        tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), odin_str_c(match), &err);
    } else {
        tsdb_matcher_init(&m, TSDB_MATCH_RE, ODIN_STR("__name__"), ODIN_STR(".+"), &err);
    }
    tsdb_querier *q = tsdb_querier_open(db, mint, maxt);
    tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
    odin_strbuf line;
    odin_strbuf_init(&line, 0);
    while (s && tsdb_series_next(s)) {
        odin_strbuf_reset(&line);
        odin_strbuf_put_go_labels(&line, tsdb_series_labels(s));
        size_t base = line.len;
        tsdb_iter it;
        tsdb_series_iter(s, &it);
        int64_t t;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            line.len = base;
            odin_strbuf_putc(&line, ' ');
            odin_strbuf_put_double(&line, v);
            odin_strbuf_putc(&line, ' ');
            odin_strbuf_put_i64(&line, t);
            odin_strbuf_putc(&line, '\n');
            fwrite(line.p, 1, line.len, stdout);
        }
    }
    odin_strbuf_fini(&line);
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
    tsdb_close(db);
    return 0;
}

typedef struct {
    odin_str key;
    uint64_t count;
} counted;

static int counted_desc(const void *a, const void *b)
{
    const counted *x = a, *y = b;
    if (x->count != y->count) {
        return x->count < y->count ? 1 : -1;
    }
    return odin_str_cmp(x->key, y->key);
}

static void bump(odin_map *m, odin_arena *a, odin_str key, uint64_t by)
{
    counted *c = odin_map_get(m, key.p, key.len);
    if (!c) {
        c = odin_arena_zalloc(a, sizeof(*c));
        c->key = (odin_str){odin_arena_strndup(a, key.p, key.len), key.len};
        odin_map_put(m, c->key.p, c->key.len, c);
    }
    c->count += by;
}

static void print_top(const char *title, odin_map *m, size_t limit)
{
    counted *v = odin_malloc((m->len ? m->len : 1) * sizeof(*v));
    size_t n = 0, pos = 0, kl;
    const void *k;
    void *val;
    while (odin_map_next(m, &pos, &k, &kl, &val)) {
        v[n++] = *(counted *)val;
    }
    qsort(v, n, sizeof(*v), counted_desc);
    printf("\n%s:\n", title);
    for (size_t i = 0; i < n && i < limit; i++) {
        printf("%llu %.*s\n", (unsigned long long)v[i].count, (int)v[i].key.len, v[i].key.p);
    }
    free(v);
}

/* analyze DIR: block list, then series, samples per series and label cardinality over all data
 * (promtool analyzes one block; Odin reports the whole directory, blocks and head). */
static int cmd_analyze(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "data/";
    tsdb *db;
    if (open_ro(dir, &db)) {
        return 1;
    }
    size_t nb;
    tsdb_block **blocks = tsdb_blocks_acquire(db, INT64_MIN, INT64_MAX, &nb);
    printf("%-28s %-14s %-14s %-12s %-12s %-12s %s\n", "BLOCK ULID", "MIN TIME", "MAX TIME",
           "NUM SAMPLES", "NUM CHUNKS", "NUM SERIES", "SIZE");
    for (size_t i = 0; i < nb; i++) {
        const block_meta *m = block_get_meta(blocks[i]);
        printf("%-28s %-14lld %-14lld %-12llu %-12llu %-12llu %llu\n", m->ulid,
               (long long)m->mint, (long long)m->maxt, (unsigned long long)m->num_samples,
               (unsigned long long)m->num_chunks, (unsigned long long)m->num_series,
               (unsigned long long)m->size_bytes);
    }
    tsdb_blocks_release(blocks, nb);
    odin_arena a;
    odin_arena_init(&a, 0);
    odin_map pairs, names, values;
    odin_map_init(&pairs);
    odin_map_init(&names);
    odin_map_init(&values);
    odin_err err = {0};
    tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_RE, ODIN_STR("__name__"), ODIN_STR(".+"), &err);
    tsdb_querier *q = tsdb_querier_open(db, INT64_MIN, INT64_MAX);
    tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
    uint64_t nseries = 0, nsamples = 0;
    odin_strbuf key;
    odin_strbuf_init(&key, 0);
    while (s && tsdb_series_next(s)) {
        odin_labels ls = tsdb_series_labels(s);
        nseries++;
        tsdb_iter it;
        tsdb_series_iter(s, &it);
        int64_t t;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            nsamples++;
        }
        for (size_t i = 0; i < ls.len; i++) {
            odin_strbuf_reset(&key);
            odin_strbuf_putstr(&key, ls.v[i].name);
            odin_strbuf_putc(&key, '=');
            odin_strbuf_putstr(&key, ls.v[i].value);
            bool fresh = !odin_map_get(&pairs, key.p, key.len);
            bump(&pairs, &a, (odin_str){key.p, key.len}, 1);
            if (fresh) {
                bump(&names, &a, ls.v[i].name, 1); /* distinct values per name */
            }
        }
    }
    odin_strbuf_fini(&key);
    printf("\nSeries: %llu\nSamples: %llu\nLabel pairs: %zu\n", (unsigned long long)nseries,
           (unsigned long long)nsamples, pairs.len);
    print_top("Most common label pairs", &pairs, 20);
    print_top("Highest cardinality labels", &names, 20);
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m);
    odin_map_fini(&pairs);
    odin_map_fini(&names);
    odin_map_fini(&values);
    odin_arena_fini(&a);
    tsdb_close(db);
    return 0;
}

/* import FILE.om DIR: backfill from OpenMetrics text, as promtool's create-blocks-from
 * openmetrics: samples go through an appender of a database at DIR, whose head is then cut into
 * blocks; the newest hour and a half stays in the head and WAL, as a server would keep it. The
 * file must be in time order per series. */
static int cmd_import(int argc, char **argv)
{
    bool odin_chunks = false;
    while (argc > 1 && strncmp(argv[1], "--", 2) == 0) {
        const char *a = argv[1];
        if (strcmp(a, "--chunk-encoding=odin") == 0) {
            odin_chunks = true;
        } else if (strcmp(a, "--chunk-encoding=xor") == 0) {
            odin_chunks = false;
        } else {
            fprintf(stderr, "odin tsdb import: unknown flag %s (--chunk-encoding=xor|odin)\n", a);
            return 2;
        }
        argc--;
        argv++;
    }
    if (argc < 3) {
        fputs("usage: odin tsdb import [--chunk-encoding=xor|odin] FILE.om DIR\n", stderr);
        return 2;
    }
    /* the buffer's own cap (1 GiB by default) must not undercut the file limit, or a 1-4 GiB
     * file fails with a message naming the larger limit */
    const size_t max_file = (size_t)4 << 30;
    odin_strbuf text;
    odin_strbuf_init(&text, max_file + 1);
    odin_err err = {0};
    if (odin_read_file(argv[1], &text, max_file, &err) < 0) {
        fprintf(stderr, "odin tsdb import: %s\n", err.msg);
        odin_strbuf_fini(&text);
        return 1;
    }
    tsdb_opts o = {.dir = argv[2], .wal_fsync_ms = 1000, .odin_chunks = odin_chunks};
    tsdb *db = tsdb_open(&o, &err);
    if (!db) {
        fprintf(stderr, "odin tsdb import: %s\n", err.msg);
        odin_strbuf_fini(&text);
        return 1;
    }
    expfmt_parser_opts po = {.openmetrics = true};
    expfmt_parser *p = expfmt_parser_new(text.p, text.len, &po);
    expfmt_entry e;
    int rc;
    uint64_t n = 0, rejected = 0;
    tsdb_appender *app = tsdb_appender_new(db);
    odin_label *ls = NULL;
    size_t cap = 0;
    while ((rc = expfmt_parser_next(p, &e, &err)) > 0) {
        if (e.kind != EXPFMT_ENTRY_SAMPLE) {
            continue;
        }
        if (!e.has_t) {
            rc = odin_err_set(&err, ODIN_ERR_PARSE, "%s:%zu: sample without timestamp", argv[1],
                              e.line);
            break;
        }
        if (e.nlabels + 1 > cap) {
            cap = e.nlabels + 1;
            ls = odin_realloc(ls, cap * sizeof(*ls));
        }
        ls[0] = (odin_label){ODIN_STR("__name__"), e.name};
        memcpy(ls + 1, e.labels, e.nlabels * sizeof(*ls));
        odin_labels_sort(ls, e.nlabels + 1);
        odin_err aerr = {0};
        if (tsdb_append(app, NULL, (odin_labels){ls, e.nlabels + 1}, e.t_ms, e.value, &aerr) < 0) {
            rejected++;
        }
        /* commits in batches; blocks are cut only at the end, since a file sorted by series
         * revisits old time windows for every series */
        if (++n % 100000 == 0) {
            tsdb_appender_commit(app, &err);
            app = tsdb_appender_new(db);
        }
    }
    tsdb_appender_commit(app, &err);
    free(ls);
    expfmt_parser_free(p);
    odin_strbuf_fini(&text);
    if (rc < 0) {
        fprintf(stderr, "odin tsdb import: %s\n", err.msg);
        tsdb_close(db);
        return 1;
    }
    tsdb_compact(db, &err);
    tsdb_close(db);
    printf("imported %llu samples (%llu rejected)\n", (unsigned long long)(n - rejected),
           (unsigned long long)rejected);
    return rejected ? 1 : 0;
}

/* recode --encoding=xor|odin DIR: rewrites the blocks of a stopped server's data directory whose
 * chunks are in the other encoding, e.g. back to XOR so that promtool, Thanos and Prometheus read
 * blocks written with --storage.tsdb.chunk-encoding=odin. Head and WAL are left as they are. */
static int cmd_recode(int argc, char **argv)
{
    int enc = -1;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--encoding=xor") == 0) {
            enc = TSDB_ENC_XOR;
        } else if (strcmp(argv[i], "--encoding=odin") == 0) {
            enc = TSDB_ENC_ODIN;
        } else if (strncmp(argv[i], "--encoding=", 11) == 0) {
            fprintf(stderr, "odin tsdb recode: --encoding: \"%.64s\" is neither xor nor odin\n",
                    argv[i] + 11);
            return 2;
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "odin tsdb recode: unexpected argument %s\n", argv[i]);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (enc < 0 || !dir) {
        fputs("usage: odin tsdb recode --encoding=xor|odin DIR\n", stderr);
        return 2;
    }
    odin_err err = {0};
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "odin tsdb recode: %s: not a directory\n", dir);
        return 1;
    }
    /* a read-only look first: a directory with nothing to convert (Prometheus' own, say) is
     * never opened for writing, which would replay and rewrite its WAL */
    tsdb *db;
    if (open_ro(dir, &db) != 0) {
        return 1;
    }
    uint64_t rewritten = 0, kept = 0, to_convert = 0;
    unsigned want = enc == TSDB_ENC_ODIN ? BLOCK_HAS_ODIN : BLOCK_HAS_XOR;
    int rc = 0;
    for (size_t i = 0; i < db->nblocks && rc == 0; i++) {
        unsigned mask;
        rc = block_chunk_encodings(db->blocks[i], &mask, &err);
        to_convert += rc == 0 && (mask & ~want) != 0;
    }
    kept = db->nblocks - to_convert;
    tsdb_close(db);
    if (rc == 0 && to_convert > 0) {
        tsdb_opts o = {.dir = dir, .wal_fsync_ms = 1000, .odin_chunks = enc == TSDB_ENC_ODIN};
        db = tsdb_open(&o, &err);
        if (!db) {
            fprintf(stderr, "odin tsdb recode: %s\n", err.msg);
            return 1;
        }
        rc = tsdb_recode_blocks(db, &rewritten, &kept, &err);
        tsdb_close(db);
    }
    if (rc < 0) {
        fprintf(stderr, "odin tsdb recode: %s (%llu blocks rewritten before)\n", err.msg,
                (unsigned long long)rewritten);
        return 1;
    }
    printf("%llu blocks rewritten in %s chunks, %llu already were\n", (unsigned long long)rewritten,
           enc == TSDB_ENC_ODIN ? "odin" : "xor", (unsigned long long)kept);
    return 0;
}

int tsdb_cli_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "dump") == 0) {
        return cmd_dump(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "analyze") == 0) {
        return cmd_analyze(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "import") == 0) {
        return cmd_import(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "recode") == 0) {
        return cmd_recode(argc - 1, argv + 1);
    }
    fputs("usage: odin tsdb dump [--min-time=MS] [--max-time=MS] [--match=NAME] DIR\n"
          "       odin tsdb analyze DIR\n"
          "       odin tsdb import [--chunk-encoding=xor|odin] FILE.om DIR\n"
          "       odin tsdb recode --encoding=xor|odin DIR\n",
          stderr);
    return 2;
}

/* Benchmark of the embedded TSDB on node_exporter- and GPU-like series: CPU per appended sample
 * (through the appender with series refs, WAL on, as a scrape appends), RSS per active series,
 * and bytes per sample on disk once the head is cut into blocks. With --om FILE it also writes the
 * same samples as OpenMetrics text, for promtool's create-blocks-from (bench/tsdb_bench.py). With
 * --churn-minutes C every series is replaced by a new one (a new instance value) every C minutes,
 * as pods come and go: the head should hold about the live set, not every series ever seen.
 *
 * --data hard (the default, the figures bench/RESULTS.md has followed) makes most series move
 * every scrape: ~2.8 bytes per sample in the head's XOR chunks (3.15 in blocks, index included).
 * --data realistic gives the series the value behaviour of a real node_exporter's /metrics, where
 * about 70% of the series did not change between two scrapes 15 s apart (info, sizes, error
 * counters, idle CPU modes) and the moving ones are CPU and byte counters, integer gauges and a
 * few noisy float gauges (scrape durations): ~1.8 bytes per sample in XOR chunks, the upper end of
 * what real node_exporter data compresses to (1.3-1.8, by how many noisy gauges a host has). The
 * label sets are the same in both. */
#include "bench_args.h"
#include "tsdb/block.h"
#include "tsdb/db_int.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TARGET_SERIES = 1000 }; /* series per simulated target (one appender per scrape) */

typedef struct {
    odin_label ls[8];
    size_t nl;
    int kind; /* 0 busy CPU counter, 1 integer gauge, 2 float gauge, 3 bytes counter, 4 quiet
               * CPU counter (irq, steal, nice: rarely moves), 5 constant, 6 noisy float gauge
               * of 5 significant digits (a duration in seconds) */
    double v;
    uint64_t ref;
} bseries;

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double frand(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static odin_str dupf(const char *a, long i)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_puts(&b, a);
    if (i >= 0) {
        odin_strbuf_put_i64(&b, i);
    }
    size_t len = b.len;
    return (odin_str){odin_strbuf_take(&b, NULL), len};
}

static bool realistic; /* --data realistic */

/* The value behaviour of series i in --data realistic, by share of a real node_exporter's series:
 * 60% constant, 10% rarely moving counters, 12% CPU counters moving every scrape, 8% byte
 * counters, 5% integer gauges, 5% noisy float gauges. */
static void realistic_kind(bseries *s, long i)
{
    long k = (i * 37) % 100; /* spread over every family of make_series */
    s->kind = k < 60 ? 5 : k < 70 ? 4 : k < 82 ? 0 : k < 90 ? 3 : k < 95 ? 1 : 6;
    s->v = s->kind == 5 ? (double)(rnd() % 4 == 0 ? 0 : (rnd() % (1ULL << 40))) : s->v;
}

static const char *const modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system",
                                    "user"};
static const char *const gpu_fields[] = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL",
                                         "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP",
                                         "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK"};

/* Series i of target `host`: ~60% CPU counters, network/disk byte counters, memory gauges, and a
 * GPU block, with labels as node_exporter and dcgm-exporter name them (sorted by name). */
static void make_series(bseries *s, long host, long i)
{
    odin_str inst = dupf("node-", host);
    long k = i % 100;
    s->nl = 0;
    if (k < 60) {
        s->ls[0] = (odin_label){ODIN_STR("__name__"), ODIN_STR("node_cpu_seconds_total")};
        s->ls[1] = (odin_label){ODIN_STR("cpu"), dupf("", (i / 100) * 8 + k / 8)};
        s->ls[2] = (odin_label){ODIN_STR("instance"), inst};
        s->ls[3] = (odin_label){ODIN_STR("job"), ODIN_STR("node")};
        s->ls[4] = (odin_label){ODIN_STR("mode"), odin_str_c(modes[k % 8])};
        s->nl = 5;
        int m = (int)(k % 8);
        s->kind = (m == 0 || m == 6 || m == 7) ? 0 : 4; /* idle, system, user move every scrape */
    } else if (k < 80) {
        s->ls[0] = (odin_label){ODIN_STR("__name__"), k < 70 ? ODIN_STR("node_network_receive_bytes_total")
                                                             : ODIN_STR("node_disk_read_bytes_total")};
        s->ls[1] = (odin_label){ODIN_STR("device"), dupf(k < 70 ? "eth" : "nvme", (i / 100) * 10 + k % 10)};
        s->ls[2] = (odin_label){ODIN_STR("instance"), inst};
        s->ls[3] = (odin_label){ODIN_STR("job"), ODIN_STR("node")};
        s->nl = 4;
        s->kind = 3;
    } else if (k < 88) {
        s->ls[0] = (odin_label){ODIN_STR("__name__"), dupf("node_memory_field", (i / 100) * 8 + k - 80)};
        s->ls[1] = (odin_label){ODIN_STR("instance"), inst};
        s->ls[2] = (odin_label){ODIN_STR("job"), ODIN_STR("node")};
        s->nl = 3;
        s->kind = 1;
        s->v = (double)(rnd() % (64ULL << 30));
    } else {
        long g = (k - 88) / 6 + (i / 100) * 2;
        s->ls[0] = (odin_label){ODIN_STR("__name__"), odin_str_c(gpu_fields[(k - 88) % 6])};
        s->ls[1] = (odin_label){ODIN_STR("Hostname"), inst};
        s->ls[2] = (odin_label){ODIN_STR("UUID"), dupf("GPU-3f2a9c1e-77b0-4c8e-9d1a-", host * 100 + g)};
        s->ls[3] = (odin_label){ODIN_STR("gpu"), dupf("", g)};
        s->ls[4] = (odin_label){ODIN_STR("instance"), inst};
        s->ls[5] = (odin_label){ODIN_STR("job"), ODIN_STR("dcgm")};
        s->ls[6] = (odin_label){ODIN_STR("modelName"), ODIN_STR("NVIDIA H100 80GB HBM3")};
        s->nl = 7;
        s->kind = (k - 88) % 6 == 4 ? 2 : 1;
        s->v = (double)(rnd() % 100);
    }
    /* sort by name: upper-case names (dcgm's Hostname, UUID) sort before __name__ */
    for (size_t a = 1; a < s->nl; a++) {
        for (size_t b = a; b > 0 && odin_str_cmp(s->ls[b - 1].name, s->ls[b].name) > 0; b--) {
            odin_label tmp = s->ls[b];
            s->ls[b] = s->ls[b - 1];
            s->ls[b - 1] = tmp;
        }
    }
}

static void step_value(bseries *s)
{
    switch (s->kind) {
    case 0:
        s->v += (double)(rnd() % 300) / 100.0; /* USER_HZ ticks: two decimals */
        break;
    case 4:
        if (rnd() % 16 == 0) {
            s->v += 0.01;
        }
        break;
    case 1:
        if (rnd() % 4 == 0) {
            s->v += (double)(int64_t)(rnd() % 21) - 10;
        }
        break;
    case 2:
        s->v = 300 + frand() * 400;
        s->v = (double)(int64_t)(s->v * 1000) / 1000;
        break;
    case 5:
        break;
    case 6:
        /* 1e-5 .. 1e-2 s with 5 significant digits, as a Go float formatted and parsed back */
        s->v = (double)(10000 + rnd() % 90000) * pow(10, -(double)(9 + rnd() % 3));
        break;
    default:
        s->v += (double)(rnd() % 1000000);
    }
}

/* A "Key:   N kB" field of /proc/self/status (VmRSS, RssAnon, RssFile). */
static long status_kib(const char *key)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_err err = {0};
    long rss = 0;
    if (odin_read_file("/proc/self/status", &b, 1 << 20, &err) == 0) {
        const char *p = strstr(b.p, key);
        int64_t v = 0;
        if (p) {
            p += strlen(key);
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            size_t n = strspn(p, "0123456789");
            if (odin_parse_i64((odin_str){p, n}, &v) == 0) {
                rss = (long)v;
            }
        }
    }
    odin_strbuf_fini(&b);
    return rss;
}

static long rss_kib(void)
{
    return status_kib("VmRSS:");
}

static void write_om(const char *path, bseries *ser, long n, long steps, int64_t step_ms)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        odin_log(ODIN_LOG_ERROR, "bench", "cannot write OpenMetrics file", "file", path, NULL);
        exit(1);
    }
    odin_strbuf line;
    odin_strbuf_init(&line, 0);
    rng_state = 0x9E3779B97F4A7C15ULL;
    odin_str last_name = {"", 0};
    for (long i = 0; i < n; i++) {
        bseries *s = &ser[i];
        /* families are contiguous because series of one name are grouped (sorted below) */
        odin_str name = *odin_labels_get((odin_labels){s->ls, s->nl}, "__name__");
        if (!odin_str_eq(name, last_name)) {
            odin_strbuf_reset(&line);
            odin_strbuf_printf(&line, "# TYPE %.*s gauge\n", (int)name.len, name.p);
            fwrite(line.p, 1, line.len, f);
            last_name = name;
        }
        for (long t = 0; t < steps; t++) {
            odin_strbuf_reset(&line);
            odin_strbuf_putstr(&line, name);
            bool first = true;
            for (size_t l = 0; l < s->nl; l++) {
                if (odin_str_eq_c(s->ls[l].name, "__name__")) {
                    continue;
                }
                odin_strbuf_putc(&line, first ? '{' : ',');
                first = false;
                odin_strbuf_putstr(&line, s->ls[l].name);
                odin_strbuf_puts(&line, "=\"");
                odin_strbuf_putstr(&line, s->ls[l].value);
                odin_strbuf_putc(&line, '"');
            }
            char num[40];
            size_t k = odin_format_double(((double *)s->ref)[t], num);
            odin_strbuf_puts(&line, s->nl > 1 ? "} " : " ");
            odin_strbuf_put(&line, num, k);
            odin_strbuf_putc(&line, ' ');
            odin_strbuf_put_i64(&line, (t * step_ms) / 1000);
            odin_strbuf_putc(&line, '\n');
            fwrite(line.p, 1, line.len, f);
        }
    }
    fputs("# EOF\n", f);
    fclose(f);
    odin_strbuf_fini(&line);
}

static int ser_cmp(const void *a, const void *b)
{
    const bseries *x = a, *y = b;
    odin_labels lx = {(odin_label *)x->ls, x->nl}, ly = {(odin_label *)y->ls, y->nl};
    int c = odin_str_cmp(*odin_labels_get(lx, "__name__"), *odin_labels_get(ly, "__name__"));
    return c ? c : odin_labels_cmp(lx, ly);
}

/* Churn, as pods replaced in a cluster: every series gets a new `instance` (and dcgm `Hostname`)
 * value naming generation gen of its target, so it is a new series and the old one stops. */
static void churn(bseries *ser, long nseries, long gen)
{
    odin_str *inst = odin_calloc((size_t)(nseries / TARGET_SERIES + 1), sizeof(*inst));
    for (long i = 0; i < nseries; i++) {
        long host = i / TARGET_SERIES;
        if (inst[host].p == NULL) {
            odin_strbuf b;
            odin_strbuf_init(&b, 0);
            odin_strbuf_printf(&b, "node-%ld-g%ld", host, gen);
            size_t len = b.len;
            inst[host] = (odin_str){odin_strbuf_take(&b, NULL), len};
        }
        for (size_t l = 0; l < ser[i].nl; l++) {
            if (odin_str_eq_c(ser[i].ls[l].name, "instance") ||
                odin_str_eq_c(ser[i].ls[l].name, "Hostname")) {
                ser[i].ls[l].value = inst[host];
            }
        }
        ser[i].ref = 0;
    }
    free(inst); /* the strings stay: the series point at them */
}

int main(int argc, char **argv)
{
    long nseries = arg_long(argc, argv, "--series", 100000);
    long minutes = arg_long(argc, argv, "--minutes", 240);
    int64_t step_ms = arg_long(argc, argv, "--step-s", 15) * 1000;
    const char *dir = arg_str(argc, argv, "--dir");
    const char *om = arg_str(argc, argv, "--om");
    long churn_minutes = arg_long(argc, argv, "--churn-minutes", 0);
    const char *data = arg_str(argc, argv, "--data");
    if (data && strcmp(data, "realistic") != 0 && strcmp(data, "hard") != 0) {
        fputs("--data is hard or realistic\n", stderr);
        return 2;
    }
    realistic = data && strcmp(data, "realistic") == 0;
    long steps = minutes * 60000 / step_ms;
    if (!dir) {
        fputs("usage: bench_tsdb_bench --dir D [--series N] [--minutes M] [--step-s S] [--om F]\n"
              "                        [--churn-minutes C] [--data hard|realistic]\n",
              stderr);
        return 2;
    }
    bseries *ser = odin_calloc((size_t)nseries, sizeof(*ser));
    for (long i = 0; i < nseries; i++) {
        make_series(&ser[i], i / TARGET_SERIES, i % TARGET_SERIES);
        if (realistic) {
            realistic_kind(&ser[i], i);
        }
    }
    if (om) {
        /* the values of every step, kept per series so the file groups each series' samples;
         * sorted by name so each family is contiguous, as OpenMetrics requires */
        qsort(ser, (size_t)nseries, sizeof(*ser), ser_cmp);
        for (long i = 0; i < nseries; i++) {
            double *vals = odin_malloc((size_t)steps * sizeof(double));
            for (long t = 0; t < steps; t++) {
                step_value(&ser[i]);
                vals[t] = ser[i].v;
            }
            ser[i].ref = (uint64_t)(uintptr_t)vals;
        }
        write_om(om, ser, nseries, steps, step_ms);
        return 0;
    }
    long rss0 = rss_kib();
    struct mallinfo2 mi0 = mallinfo2();
    odin_err err = {0};
    tsdb_opts o = {.dir = dir, .wal_fsync_ms = 1000};
    tsdb *db = tsdb_open(&o, &err);
    if (!db) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    double *vals = odin_malloc((size_t)nseries * sizeof(double));
    double cpu = 0, compact_cpu = 0;
    uint64_t appended = 0;
    long rss_first = 0;
    long rss_before_cut_max = 0; /* the head at its fullest: just before a cut */
    long gen = 0;
    for (long t = 0; t < steps; t++) {
        if (churn_minutes > 0 && t > 0 && (t * step_ms) % (churn_minutes * 60000) == 0) {
            churn(ser, nseries, ++gen);
        }
        for (long i = 0; i < nseries; i++) {
            step_value(&ser[i]);
            vals[i] = ser[i].v;
        }
        double c0 = odin_cpu_seconds();
        for (long i = 0; i < nseries; i += TARGET_SERIES) {
            tsdb_appender *a = tsdb_appender_new(db);
            long end = i + TARGET_SERIES < nseries ? i + TARGET_SERIES : nseries;
            for (long j = i; j < end; j++) {
                if (tsdb_append(a, &ser[j].ref, (odin_labels){ser[j].ls, ser[j].nl},
                                t * step_ms, vals[j], &err) < 0) {
                    fprintf(stderr, "append: %s\n", err.msg);
                    return 1;
                }
            }
            if (tsdb_appender_commit(a, &err) < 0) {
                fprintf(stderr, "commit: %s\n", err.msg);
                return 1;
            }
        }
        cpu += odin_cpu_seconds() - c0;
        appended += (uint64_t)nseries;
        if ((t + 1) % (1800000 / step_ms) == 0) {
            /* what the compactor does every minute, here every simulated half hour */
            long r = rss_kib();
            rss_before_cut_max = r > rss_before_cut_max ? r : rss_before_cut_max;
            double c1 = odin_cpu_seconds();
            if (tsdb_compact(db, &err) < 0) {
                fprintf(stderr, "compact: %s\n", err.msg);
                return 1;
            }
            compact_cpu += odin_cpu_seconds() - c1;
        }
        if (t == 0) {
            rss_first = rss_kib();
        }
    }
    long rss_end = rss_kib();
    /* where a series' head memory goes: open chunk buffer and bytes, and its cut chunks (8 B
     * however many: each links to the one before it) */
    uint64_t open_cap = 0, open_len = 0, cut = 0, live = 0;
    pthread_rwlock_rdlock(&db->head.map_lock);
    for (size_t i = 0; i < db->head.nseries; i++) {
        head_series *s = head_slot_locked(&db->head, i);
        if (s != NULL) {
            live++;
            open_cap += s->has_open ? s->open.cap : 0;
            open_len += s->has_open ? s->open.len : 0;
            cut += s->nchunks;
        }
    }
    pthread_rwlock_unlock(&db->head.map_lock);
    double per = live ? 1.0 / (double)live : 0;
    long rss_anon_end = status_kib("RssAnon:"), rss_file_end = status_kib("RssFile:");
    struct mallinfo2 mi = mallinfo2();
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    uint64_t bytes = 0, samples = 0, chunks_b = 0;
    pthread_rwlock_rdlock(&db->blocks_lock);
    for (size_t i = 0; i < db->nblocks; i++) {
        const block_meta *m = block_get_meta(db->blocks[i]);
        bytes += m->size_bytes;
        samples += m->num_samples;
    }
    pthread_rwlock_unlock(&db->blocks_lock);
    (void)chunks_b;
    printf("{\"series\": %ld, \"samples\": %llu, \"append_cpu_s\": %.3f, "
           "\"ns_per_sample\": %.1f, \"rss_base_kib\": %ld, \"rss_after_first_scrape_kib\": %ld, "
           "\"rss_end_kib\": %ld, \"rss_bytes_per_series\": %.0f, "
           "\"block_bytes\": %llu, \"block_samples\": %llu, \"bytes_per_sample\": %.3f, "
           "\"compact_cpu_s\": %.2f, \"rss_anon_end_kib\": %ld, \"rss_file_end_kib\": %ld, "
           "\"heap_in_use_kib\": %zu, \"heap_free_kib\": %zu, \"heap_in_use_base_kib\": %zu, "
           "\"heap_bytes_per_series\": %.0f, \"rss_before_cut_max_kib\": %ld, "
           "\"rss_bytes_per_series_before_cut_max\": %.0f, \"churn_generations\": %ld, "
           "\"head_series_end\": %llu, \"data\": \"%s\", \"cut_chunk_avg_bytes\": %.1f, "
           "\"open_chunk_cap_avg\": %.1f, \"open_chunk_len_avg\": %.1f, "
           "\"cut_chunks_avg\": %.2f}\n",
           nseries, (unsigned long long)appended, cpu, cpu * 1e9 / (double)appended, rss0,
           rss_first, rss_end, (double)(rss_end - rss0) * 1024.0 / (double)nseries,
           (unsigned long long)bytes, (unsigned long long)samples,
           samples ? (double)bytes / (double)samples : 0.0, compact_cpu, rss_anon_end, rss_file_end,
           (mi.uordblks + mi.hblkhd) / 1024, mi.fordblks / 1024, (mi0.uordblks + mi0.hblkhd) / 1024,
           ((double)(mi.uordblks + mi.hblkhd) - (double)(mi0.uordblks + mi0.hblkhd)) /
               (double)nseries,
           rss_before_cut_max, (double)(rss_before_cut_max - rss0) * 1024.0 / (double)nseries, gen,
           (unsigned long long)st.head_series, realistic ? "realistic" : "hard",
           (double)atomic_load(&db->head.cut_len_avg16) / 16.0, (double)open_cap * per,
           (double)open_len * per, (double)cut * per);
    tsdb_close(db);
    return 0;
}

/* Throughput of the exposition text parser (src/expfmt/parser.c): parses one payload many times
 * and prints MB/s (10^6 bytes), lines/s and samples/s, best and median over the iterations.
 * Usage: bench_expfmt_parse [--om] [--iters N] [FILE]
 * Without FILE it generates ~10 MB of node_exporter-like text (HELP/TYPE per family, counters,
 * gauges, a histogram and a summary, 1-4 labels per sample, an escaped label value now and then).
 * --om parses as OpenMetrics (a generated payload gets "# EOF"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt/expfmt.h"

enum { TARGET_BYTES = 10 * 1000 * 1000, DEFAULT_ITERS = 20 };

static const char *const cpu_modes[] = {"idle",    "iowait", "irq",    "nice",
                                        "softirq", "steal",  "system", "user"};

static void family(odin_strbuf *b, const char *name, const char *type, const char *help)
{
    odin_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One block of a node_exporter-like scrape; `k` varies device names and values between blocks. */
static void gen_block(odin_strbuf *b, unsigned k)
{
    family(b, "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.");
    for (unsigned cpu = 0; cpu < 16; cpu++) {
        for (size_t m = 0; m < ODIN_ARRAY_LEN(cpu_modes); m++) {
            odin_strbuf_printf(b, "node_cpu_seconds_total{cpu=\"%u\",mode=\"%s\"} %.8g\n",
                               cpu + 16 * k, cpu_modes[m], 1964374.33 * (m + 1) + cpu * 17.01 + k);
        }
    }
    static const char *const net[] = {"receive_bytes",    "transmit_bytes", "receive_packets",
                                      "transmit_packets", "receive_drop",   "transmit_errs"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(net); i++) {
        odin_strbuf_printf(b, "# HELP node_network_%s_total Network device statistic %s.\n", net[i],
                           net[i]);
        odin_strbuf_printf(b, "# TYPE node_network_%s_total counter\n", net[i]);
        for (unsigned d = 0; d < 4; d++) {
            odin_strbuf_printf(b, "node_network_%s_total{device=\"eth%u\"} %.10g\n", net[i],
                               d + 4 * k, 4.29496e9 * (i + 1) / (d + 1) + k);
        }
    }
    static const char *const fs[] = {"avail_bytes", "free_bytes", "size_bytes",
                                     "files",       "files_free", "readonly"};
    static const char *const mounts[][3] = {{"/dev/nvme0n1p2", "ext4", "/"},
                                            {"/dev/nvme0n1p1", "vfat", "/boot/efi"},
                                            {"tmpfs", "tmpfs", "/run"},
                                            {"tmpfs", "tmpfs", "/run/user/1000"}};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(fs); i++) {
        odin_strbuf_printf(b, "# HELP node_filesystem_%s Filesystem %s.\n", fs[i], fs[i]);
        odin_strbuf_printf(b, "# TYPE node_filesystem_%s gauge\n", fs[i]);
        for (size_t m = 0; m < ODIN_ARRAY_LEN(mounts); m++) {
            odin_strbuf_printf(b,
                               "node_filesystem_%s{device=\"%s\",fstype=\"%s\",mountpoint=\"%s%u\"}"
                               " %.6e\n",
                               fs[i], mounts[m][0], mounts[m][1], mounts[m][2], k,
                               4.2137968640e+10 / (double)(m + 1) + k);
        }
    }
    family(b, "node_disk_io_time_seconds_total", "counter", "Total seconds spent doing I/Os.");
    for (unsigned d = 0; d < 4; d++) {
        odin_strbuf_printf(b, "node_disk_io_time_seconds_total{device=\"nvme%un1\"} %u.%03u\n",
                           d + 4 * k, 12345 + d * 77 + k, (d * 131 + k) % 1000);
    }
    family(b, "node_load1", "gauge", "1m load average.");
    odin_strbuf_printf(b, "node_load1 %.2f\n", 0.21 + (k % 100) / 100.0);
    family(b, "prometheus_http_request_duration_seconds", "histogram",
           "Histogram of latencies for HTTP requests.");
    static const char *const les[] = {"0.1", "0.2", "0.4", "1",   "3",
                                      "8",   "20",  "60",  "120", "+Inf"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(les); i++) {
        odin_strbuf_printf(b,
                           "prometheus_http_request_duration_seconds_bucket{handler=\"/api/v1/"
                           "query_range\",le=\"%s\"} %u\n",
                           les[i], 24054u + (unsigned)i * 1000u + k);
    }
    odin_strbuf_printf(
        b,
        "prometheus_http_request_duration_seconds_sum{handler=\"/api/v1/query_range\"}"
        " %.9g\n"
        "prometheus_http_request_duration_seconds_count{handler=\"/api/v1/"
        "query_range\"} %u\n",
        53423.5 + k, 34054u + k);
    family(b, "go_gc_duration_seconds", "summary", "A summary of the GC pause duration.");
    static const char *const qs[] = {"0", "0.25", "0.5", "0.75", "1"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(qs); i++) {
        odin_strbuf_printf(b, "go_gc_duration_seconds{quantile=\"%s\"} %.6g\n", qs[i],
                           2.4623e-05 * (double)(i + 1));
    }
    odin_strbuf_printf(b, "go_gc_duration_seconds_sum %.9g\ngo_gc_duration_seconds_count %u\n",
                       0.041392384 + k, 712 + k);
    family(b, "node_textfile_info", "gauge", "Textfile metadata with a Windows path.");
    odin_strbuf_printf(b, "node_textfile_info{path=\"C:\\\\metrics\\\\%u.prom\"} 1\n", k);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    bool om = false;
    int iters = DEFAULT_ITERS;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--om") == 0) {
            om = true;
        } else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            iters = (int)strtol(argv[++i], NULL, 10);
        } else {
            file = argv[i];
        }
    }
    if (iters < 1) {
        iters = 1;
    }
    odin_strbuf in;
    odin_strbuf_init(&in, 0);
    odin_err err;
    odin_err_clear(&err);
    if (file != NULL) {
        if (odin_read_file(file, &in, (size_t)1 << 30, &err) != 0) {
            fprintf(stderr, "bench_expfmt_parse: %s\n", err.msg);
            return 1;
        }
    } else {
        for (unsigned k = 0; in.len < TARGET_BYTES; k++) {
            gen_block(&in, k);
        }
        if (om) {
            odin_strbuf_puts(&in, "# EOF\n");
        }
    }
    if (!odin_strbuf_ok(&in)) {
        fprintf(stderr, "bench_expfmt_parse: payload too large\n");
        return 1;
    }

    double *mbps = malloc(sizeof(double) * (size_t)iters);
    size_t lines = 0;
    size_t samples = 0;
    double check = 0;
    for (int it = 0; it < iters; it++) {
        expfmt_parser_opts opts = {.openmetrics = om};
        int64_t t0 = odin_mono_ns();
        expfmt_parser *p = expfmt_parser_new(in.p, in.len, &opts);
        expfmt_entry e;
        size_t n = 0;
        size_t s = 0;
        int rc = expfmt_parser_next(p, &e, &err);
        for (; rc == 1; rc = expfmt_parser_next(p, &e, &err)) {
            n++;
            if (e.kind == EXPFMT_ENTRY_SAMPLE) {
                s++;
                check += e.value + (double)e.nlabels;
            }
        }
        expfmt_parser_free(p);
        int64_t t1 = odin_mono_ns();
        if (rc != 0) {
            fprintf(stderr, "bench_expfmt_parse: %s\n", err.msg);
            return 1;
        }
        lines = n;
        samples = s;
        mbps[it] = (double)in.len / 1e6 / ((double)(t1 - t0) / 1e9);
    }
    qsort(mbps, (size_t)iters, sizeof(double), cmp_double);
    double best = mbps[iters - 1];
    double median = mbps[iters / 2];
    double secs_median = (double)in.len / 1e6 / median;
    printf("payload: %s, %s, %.2f MB, %zu entries (%zu samples), %d iterations\n",
           file ? file : "generated node_exporter-like", om ? "openmetrics" : "0.0.4",
           (double)in.len / 1e6, lines, samples, iters);
    printf("median: %.0f MB/s, %.2f M lines/s, %.2f M samples/s\n", median,
           (double)lines / secs_median / 1e6, (double)samples / secs_median / 1e6);
    printf("best:   %.0f MB/s\n", best);
    printf("(checksum %g)\n", check);
    free(mbps);
    odin_strbuf_fini(&in);
    return 0;
}

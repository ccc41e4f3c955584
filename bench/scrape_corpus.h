/* The node_exporter-like exposition text served by bench_scrape_targets and replayed in process by
 * bench_scrape_append: HELP/TYPE per family, 1-3 labels per series, values that change on every
 * scrape (counters grow, gauges wander). Label text is rendered once; a scrape only writes the
 * values. Static functions: each bench program includes it once. */
#ifndef ODIN_BENCH_SCRAPE_CORPUS_H
#define ODIN_BENCH_SCRAPE_CORPUS_H

#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static const char *const cpu_modes[] = {"idle",    "iowait", "irq",    "nice",
                                        "softirq", "steal",  "system", "user"};

/* One series: its line prefix (name and labels, then a space) and how its value moves. */
typedef struct {
    char *prefix;
    size_t len;
    bool counter;
    double base, step;
} series;

typedef struct {
    series *v;
    size_t n;
    char **heads; /* HELP/TYPE lines before series i, or NULL */
} catalog;

static void add_family(catalog *c, odin_strbuf *fam, const char *name, const char *type,
                       const char *help)
{
    odin_strbuf_reset(fam);
    odin_strbuf_printf(fam, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    c->heads[c->n] = odin_strdup(fam->p);
}

static void add_series(catalog *c, odin_strbuf *line, bool counter, double base, double step)
{
    odin_strbuf_putc(line, ' ');
    series *s = &c->v[c->n++];
    s->len = line->len;
    s->prefix = odin_strndup(line->p, line->len);
    s->counter = counter;
    s->base = base;
    s->step = step;
    odin_strbuf_reset(line);
}

/* Fills the catalog with `want` series in node_exporter-like families, each family once (as a
 * valid exposition has it): ~40% cpu seconds, ~30% network counters, ~20% filesystem gauges, the
 * rest temperatures. */
static void build_catalog(catalog *c, size_t want)
{
    c->v = odin_calloc(want, sizeof *c->v);
    c->heads = odin_calloc(want, sizeof *c->heads);
    odin_strbuf fam, line;
    odin_strbuf_init(&fam, 0);
    odin_strbuf_init(&line, 0);
    size_t cpus = want * 4 / 10 / ODIN_ARRAY_LEN(cpu_modes);
    add_family(c, &fam, "node_cpu_seconds_total", "counter",
               "Seconds the CPUs spent in each mode.");
    for (unsigned cpu = 0; cpu < cpus; cpu++) {
        for (size_t m = 0; m < ODIN_ARRAY_LEN(cpu_modes); m++) {
            odin_strbuf_printf(&line, "node_cpu_seconds_total{cpu=\"%u\",mode=\"%s\"}", cpu,
                               cpu_modes[m]);
            add_series(c, &line, true, 19643.33 * (double)(m + 1) + cpu, 0.01 * (double)(m + 1));
        }
    }
    static const char *const net[] = {"receive_bytes",    "transmit_bytes", "receive_packets",
                                      "transmit_packets", "receive_drop",   "transmit_errs"};
    size_t devs = want * 3 / 10 / ODIN_ARRAY_LEN(net);
    for (size_t i = 0; i < ODIN_ARRAY_LEN(net); i++) {
        char name[96];
        odin_strbuf_reset(&fam);
        odin_strbuf_printf(&fam, "node_network_%s_total", net[i]);
        memcpy(name, fam.p, fam.len + 1);
        add_family(c, &fam, name, "counter", "Network device statistic.");
        for (unsigned d = 0; d < devs; d++) {
            odin_strbuf_printf(&line, "%s{device=\"eth%u\"}", name, d);
            add_series(c, &line, true, 1e9 * (double)(d + 1), 1500.0 * (double)(i + 1));
        }
    }
    size_t fs = want * 2 / 10;
    add_family(c, &fam, "node_filesystem_avail_bytes", "gauge",
               "Filesystem space available to non-root users in bytes.");
    for (unsigned d = 0; d < fs; d++) {
        odin_strbuf_printf(&line,
                           "node_filesystem_avail_bytes{device=\"/dev/nvme%un1p1\","
                           "fstype=\"ext4\",mountpoint=\"/mnt/data%u\"}",
                           d, d);
        add_series(c, &line, false, 4.2e11, 4096);
    }
    add_family(c, &fam, "node_hwmon_temp_celsius", "gauge",
               "Hardware monitor for temperature (input).");
    for (unsigned d = 0; c->n < want; d++) {
        odin_strbuf_printf(&line,
                           "node_hwmon_temp_celsius{chip=\"platform_coretemp_%u\","
                           "sensor=\"temp%u\"}",
                           d / 16, d % 16);
        add_series(c, &line, false, 45.5, 0.25);
    }
    odin_strbuf_fini(&fam);
    odin_strbuf_fini(&line);
}

/* The body of scrape number `iter` of target t. */
static void render(const catalog *c, unsigned t, uint64_t iter, odin_strbuf *out)
{
    odin_strbuf_reset(out);
    for (size_t i = 0; i < c->n; i++) {
        const series *s = &c->v[i];
        if (c->heads[i] != NULL) {
            odin_strbuf_puts(out, c->heads[i]);
        }
        odin_strbuf_put(out, s->prefix, s->len);
        if (s->counter) {
            /* whole increments for byte/packet counters, fractional for cpu seconds */
            double v = s->base + (double)t + s->step * (double)iter * (1.0 + (double)(i % 7));
            odin_strbuf_put_double(out, s->step < 1 ? (double)(int64_t)(v * 100) / 100 : v);
        } else {
            double wobble = (double)((iter * 2654435761u + i * 40503u) % 17) - 8;
            odin_strbuf_put_double(out, s->base + s->step * wobble);
        }
        odin_strbuf_putc(out, '\n');
    }
}

#endif

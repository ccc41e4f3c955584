/* Chunk codec benchmark on real samples: reads `odin tsdb dump` text, cuts every series into chunks
 * of --xor-samples (Prometheus' 120) for XOR and --odin-samples for Odin's encoding, and prints
 * chunk bytes per sample and decode ns per sample of both (bench/RESULTS.md). */
#include "tsdb/chunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint32_t sid;
    int64_t t;
    double v;
} rec;

typedef struct {
    char **keys;
    uint32_t *ids;
    size_t cap, n;
} strmap;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    }
    return h;
}

static uint32_t intern(strmap *m, const char *s)
{
    if (2 * (m->n + 1) > m->cap) {
        strmap nm = {calloc(m->cap ? 2 * m->cap : 1024, sizeof(char *)), NULL, 0, 0};
        nm.cap = m->cap ? 2 * m->cap : 1024;
        nm.ids = calloc(nm.cap, sizeof(uint32_t));
        for (size_t i = 0; i < m->cap; i++) {
            if (m->keys[i]) {
                size_t j = fnv(m->keys[i]) & (nm.cap - 1);
                while (nm.keys[j]) {
                    j = (j + 1) & (nm.cap - 1);
                }
                nm.keys[j] = m->keys[i];
                nm.ids[j] = m->ids[i];
            }
        }
        nm.n = m->n;
        free(m->keys);
        free(m->ids);
        *m = nm;
    }
    size_t j = fnv(s) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], s) == 0) {
            return m->ids[j];
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = strdup(s);
    m->ids[j] = (uint32_t)m->n++;
    return m->ids[j];
}

static int rec_cmp(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    if (x->sid != y->sid) {
        return x->sid < y->sid ? -1 : 1;
    }
    return x->t < y->t ? -1 : x->t > y->t;
}

typedef struct {
    uint8_t *b;
    size_t len;
} enc_chunk;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Decodes every chunk `reps` times; returns ns per sample and checks the sum of what it read. */
static double decode_ns(const enc_chunk *c, size_t n, size_t samples, int reps)
{
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        size_t got = 0;
        int64_t tsum = 0;
        for (size_t i = 0; i < n; i++) {
            xor_iter it;
            xor_iter_init(&it, c[i].b, c[i].len);
            int64_t t;
            double v;
            while (xor_iter_next(&it, &t, &v)) {
                tsum += t;
                got++;
            }
        }
        double dt = now_ns() - t0;
        if (got != samples || tsum == 42) {
            fprintf(stderr, "decoded %zu samples, want %zu\n", got, samples);
            exit(1);
        }
        best = dt < best ? dt : best;
    }
    return best / (double)samples;
}

int main(int argc, char **argv)
{
    size_t xor_cut = 120, odin_cut = 120;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--xor-samples") == 0) {
            xor_cut = (size_t)atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--odin-samples") == 0) {
            odin_cut = (size_t)atol(argv[i + 1]);
        }
    }
    strmap m = {0};
    rec *rs = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, stdin) > 0) {
        char *end = strrchr(line, '}');
        if (line[0] != '{' || !end) {
            continue;
        }
        end[1] = '\0';
        char *p = end + 2, *q;
        double v = strtod(p, &q);
        long long t = strtoll(q, NULL, 10);
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            rs = realloc(rs, cap * sizeof(*rs));
        }
        rs[n++] = (rec){intern(&m, line), t, v};
    }
    free(line);
    qsort(rs, n, sizeof(*rs), rec_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && rs[w - 1].sid == rs[i].sid && rs[w - 1].t == rs[i].t) {
            continue; /* a sample seen in two blocks' dumps */
        }
        rs[w++] = rs[i];
    }
    n = w;
    enc_chunk *xc = NULL, *oc = NULL;
    size_t nx = 0, no = 0, xbytes = 0, obytes = 0, ointchunks = 0;
    int64_t *ts = malloc((odin_cut + 1) * sizeof(*ts));
    double *vs = malloc((odin_cut + 1) * sizeof(*vs));
    uint8_t *buf = malloc(tsdb_odin_chunk_bound(odin_cut));
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && rs[j].sid == rs[i].sid) {
            j++;
        }
        for (size_t k = i; k < j; k += xor_cut) {
            xor_chunk c;
            xor_chunk_init(&c);
            for (size_t s = k; s < j && s < k + xor_cut; s++) {
                xor_chunk_append(&c, rs[s].t, rs[s].v);
            }
            xor_chunk_compact(&c);
            xc = realloc(xc, (nx + 1) * sizeof(*xc));
            xc[nx++] = (enc_chunk){c.b, c.len};
            xbytes += c.len;
        }
        for (size_t k = i; k < j; k += odin_cut) {
            size_t cnt = 0;
            for (size_t s = k; s < j && s < k + odin_cut; s++, cnt++) {
                ts[cnt] = rs[s].t;
                vs[cnt] = rs[s].v;
            }
            size_t len = tsdb_odin_chunk_encode(ts, vs, cnt, buf);
            ointchunks += (buf[2] & 3) != 1; /* not XOR floats */
            oc = realloc(oc, (no + 1) * sizeof(*oc));
            oc[no] = (enc_chunk){malloc(len), len};
            memcpy(oc[no].b, buf, len);
            no++;
            obytes += len;
        }
        i = j;
    }
    /* best of 15: the machine is shared */
    double xns = decode_ns(xc, nx, n, 15), ons = decode_ns(oc, no, n, 15);
    printf("| encoding | series | samples | chunks | samples/chunk | chunk data B/sample | "
           "decode ns/sample |\n|---|---|---|---|---|---|---|\n");
    printf("| XOR | %zu | %zu | %zu | %.1f | %.3f | %.2f |\n", m.n, n, nx, (double)n / (double)nx,
           (double)xbytes / (double)n, xns);
    printf("| Odin (%zu of %zu chunks scaled integers) | %zu | %zu | %zu | %.1f | %.3f | %.2f |\n",
           ointchunks, no, m.n, n, no, (double)n / (double)no, (double)obytes / (double)n, ons);
    for (size_t i = 0; i < nx; i++) {
        free(xc[i].b);
    }
    for (size_t i = 0; i < no; i++) {
        free(oc[i].b);
    }
    for (size_t i = 0; i < m.cap; i++) {
        free(m.keys[i]);
    }
    free(m.keys);
    free(m.ids);
    free(xc);
    free(oc);
    free(ts);
    free(vs);
    free(buf);
    free(rs);
    return 0;
}

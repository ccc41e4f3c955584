/* Puts a series' chunks into the encoding a block is written with: XOR chunks pass through to XOR
 * blocks and Odin chunks to Odin blocks; anything else is decoded and re-cut (XOR at Prometheus'
 * 120 samples, Odin's at BLOCK_ODIN_CHUNK_SAMPLES, where its per-chunk header costs least, or at
 * the compactor's larger cut, which also merges the head cuts' Odin chunks). */
#include "tsdb/block_int.h"
#include "tsdb/chunk.h"

#include <string.h>

typedef struct {
    uint8_t enc;
    size_t cut;
    odin_arena *a;
    int64_t *t;
    double *v;
    size_t n;
    block_chunk *out;
    size_t nout, cap;
} recoder;

static void *arena_alloc(odin_arena *a, size_t n)
{
    void *p = odin_arena_alloc(a, n);
    if (!p) {
        odin_oom();
    }
    return p;
}

static void flush(recoder *r)
{
    if (r->n == 0) {
        return;
    }
    if (r->nout == r->cap) {
        size_t ncap = r->cap ? 2 * r->cap : 8;
        block_chunk *nb = arena_alloc(r->a, ncap * sizeof(*nb));
        if (r->nout) {
            memcpy(nb, r->out, r->nout * sizeof(*nb));
        }
        r->out = nb;
        r->cap = ncap;
    }
    block_chunk *c = &r->out[r->nout++];
    c->mint = r->t[0];
    c->maxt = r->t[r->n - 1];
    if (r->enc == TSDB_ENC_ODIN) {
        uint8_t *b = arena_alloc(r->a, tsdb_odin_chunk_bound(r->n));
        c->len = (uint32_t)tsdb_odin_chunk_encode(r->t, r->v, r->n, b);
        c->b = b;
    } else {
        xor_chunk x;
        xor_chunk_init(&x);
        for (size_t i = 0; i < r->n; i++) {
            xor_chunk_append(&x, r->t[i], r->v[i]);
        }
        uint8_t *b = arena_alloc(r->a, x.len);
        memcpy(b, x.b, x.len);
        c->b = b;
        c->len = x.len;
        xor_chunk_fini(&x);
    }
    r->n = 0;
}

int block_recode(const block_chunk *in, size_t n, uint8_t enc, size_t odin_cut, bool merge,
                 odin_arena *a, const block_chunk **out, size_t *nout, odin_err *err)
{
    enc = enc == TSDB_ENC_ODIN ? TSDB_ENC_ODIN : TSDB_ENC_XOR;
    size_t cut = enc == TSDB_ENC_XOR ? BLOCK_XOR_CHUNK_SAMPLES
                 : odin_cut          ? odin_cut
                                     : BLOCK_ODIN_CHUNK_SAMPLES;
    bool same = true;
    size_t total = 0;
    for (size_t i = 0; i < n && same; i++) {
        same = tsdb_chunk_encoding(in[i].b, in[i].len) == enc;
        total += tsdb_chunk_samples(in[i].b, in[i].len);
    }
    /* merging pays (decode and encode again) only where it saves chunks */
    if (same && !(merge && enc == TSDB_ENC_ODIN && n > 1 && (total + cut - 1) / cut < n)) {
        *out = in;
        *nout = n;
        return 0;
    }
    recoder r = {.enc = enc, .cut = cut, .a = a};
    r.t = arena_alloc(a, r.cut * sizeof(*r.t));
    r.v = arena_alloc(a, r.cut * sizeof(*r.v));
    bool any = false;
    int64_t last = 0;
    for (size_t i = 0; i < n; i++) {
        xor_iter it;
        xor_iter_init(&it, in[i].b, in[i].len);
        int64_t t;
        double v;
        while (xor_iter_next(&it, &t, &v)) {
            if (any && t <= last) {
                return odin_err_set(err, ODIN_ERR_INVALID,
                                    "block source: chunk %zu: sample at %lld not after %lld", i,
                                    (long long)t, (long long)last);
            }
            any = true;
            last = t;
            r.t[r.n] = t;
            r.v[r.n] = v;
            if (++r.n == r.cut) {
                flush(&r);
            }
        }
        if (it.err) {
            return odin_err_set(err, ODIN_ERR_CORRUPT, "block source: chunk %zu: corrupt bytes",
                                i);
        }
    }
    flush(&r);
    *out = r.out;
    *nout = r.nout;
    return 0;
}

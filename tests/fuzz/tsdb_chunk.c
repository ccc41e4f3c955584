/* libFuzzer target for the chunk decoders (src/tsdb/xor.c, chunkenc_odin.c): decodes the input as
 * a chunk of whichever encoding its bytes claim, and once more forced into Odin's layout, never
 * reading past the end; what decoded re-encodes in Odin's encoding to the same bits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

/* The input is copied to a heap buffer of exactly its size, so ASan sees any over-read. */
static void decode_and_check(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    memcpy(b, data, size);
    int64_t *ts = malloc(65536 * sizeof(*ts));
    double *vs = malloc(65536 * sizeof(*vs));
    xor_iter it;
    xor_iter_init(&it, b, size);
    size_t n = 0;
    while (n < 65536 && xor_iter_next(&it, &ts[n], &vs[n])) {
        n++;
    }
    check(n <= it.n);
    check(it.err || n == it.n);
    if (n > 0) {
        uint8_t *enc = malloc(tsdb_odin_chunk_bound(n));
        size_t len = tsdb_odin_chunk_encode(ts, vs, n, enc);
        check(len > 0 && tsdb_chunk_encoding(enc, len) == TSDB_ENC_ODIN);
        check(tsdb_chunk_samples(enc, len) == n);
        xor_iter back;
        xor_iter_init(&back, enc, len);
        for (size_t i = 0; i < n; i++) {
            int64_t t;
            double v;
            check(xor_iter_next(&back, &t, &v));
            check(t == ts[i] && memcmp(&v, &vs[i], 8) == 0);
        }
        int64_t t;
        double v;
        check(!xor_iter_next(&back, &t, &v) && !back.err);
        free(enc);
    }
    free(ts);
    free(vs);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_and_check(data, size);
    if (size > 0 && size < (1u << 20)) {
        /* the same bytes behind the zero count field that marks Odin's layout */
        uint8_t *o = malloc(size + 2);
        o[0] = o[1] = 0;
        memcpy(o + 2, data, size);
        decode_and_check(o, size + 2);
        free(o);
    }
    return 0;
}

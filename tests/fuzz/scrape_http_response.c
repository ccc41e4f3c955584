/* libFuzzer target for the plain-HTTP scrape client's response parsing (src/scrape/loop_fast.c):
 * the input is read as a response head, and what follows the head (or the whole input) as
 * chunked framing fed in pieces whose sizes come from the input; checks that the head length
 * stays inside the input and that decoding never moves data past what was received. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/loop_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    odin_arena a;
    odin_arena_init(&a, 0);
    scrape_fast f;
    scrape_fast_init(&f);
    int h = scrape_fast_parse_head(&f, (const char *)data, size, &a);
    check(h >= -2 && (size_t)(h > 0 ? h : 0) <= size);
    if (h > 0) {
        check(f.status >= 100 && f.status <= 599);
        check(f.clen >= -1);
        check(!f.chunked || f.clen == -1);
    }
    size_t body = h > 0 ? (size_t)h : 0;
    /* feed the rest in pieces of 1 + (byte at the cut) % 61 bytes */
    size_t at = body;
    int r = 0;
    while (at < size && r == 0) {
        size_t step = 1 + data[at] % 61;
        if (step > size - at) {
            step = size - at;
        }
        odin_strbuf_put(&f.raw, data + at, step);
        at += step;
        r = scrape_fast_dechunk(&f);
        check(r >= -1 && r <= 1);
        check(f.body_end <= f.ch_in && f.ch_in <= f.raw.len);
    }
    scrape_fast_fini(&f);
    odin_arena_fini(&a);
    return 0;
}

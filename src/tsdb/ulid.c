/* ULIDs name blocks: 48 bits of creation time in ms and 80 random bits, written as 26 Crockford
 * base32 characters, so block names sort by creation time as Prometheus' do. */
#include "tsdb/block_int.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Random bytes from the kernel; a ULID only needs uniqueness, so when getrandom is unavailable
 * (very old kernels) a mix of the clocks still keeps two blocks of one millisecond apart. */
static void fill_random(uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    if (got == n) {
        return;
    }
    uint64_t x = (uint64_t)odin_mono_ns() ^ ((uint64_t)odin_now_ms() << 20);
    for (size_t i = got; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

void block_new_ulid(int64_t ms, char out[27])
{
    uint8_t b[16];
    uint64_t t = (uint64_t)ms & 0xFFFFFFFFFFFFull;
    for (int i = 0; i < 6; i++) {
        b[i] = (uint8_t)(t >> (40 - 8 * i));
    }
    fill_random(b + 6, 10);
    /* 128 bits in 26 groups of 5 bits from the top: the first character carries only 3 bits. */
    for (int i = 0; i < 26; i++) {
        int bit = 130 - 5 * (i + 1); /* position of the group's lowest bit in a 130-bit number */
        unsigned v = 0;
        for (int k = 4; k >= 0; k--) {
            int pos = bit + k;
            unsigned x = 0;
            if (pos < 128) {
                x = (b[15 - pos / 8] >> (pos % 8)) & 1u;
            }
            v = v << 1 | x;
        }
        out[i] = crockford[v];
    }
    out[26] = '\0';
}

bool block_ulid_valid(odin_str s)
{
    if (s.len != 26) {
        return false;
    }
    if (s.p[0] < '0' || s.p[0] > '7') { /* the first character holds 3 bits */
        return false;
    }
    for (size_t i = 0; i < 26; i++) {
        if (!memchr(crockford, s.p[i], 32)) { /* the 32 letters, not the terminator */
            return false;
        }
    }
    return true;
}

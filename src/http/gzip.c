/* Response compression for the HTTP server: decides from Accept-Encoding whether the client takes
 * gzip, and compresses a whole body in one zlib pass. Streaming compression is not needed: every
 * body is built in memory before it is sent. */
#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include <zlib.h>

#include "http/http_int.h"

/* Whether a q-value ("0", "0.0", "0.000", "1", "0.5") is zero. */
static bool qvalue_is_zero(odin_str q)
{
    bool seen_digit = false;
    for (size_t i = 0; i < q.len; i++) {
        char c = q.p[i];
        if (c == '0') {
            seen_digit = true;
        } else if (c != '.') {
            return false;
        }
    }
    return seen_digit;
}

/* Whether one coding element ("gzip;q=0.5") names gzip with a non-zero weight. */
static bool coding_allows_gzip(odin_str elem)
{
    odin_str name = odin_str_trim(odin_str_cut(&elem, ';'));
    bool is_gzip = (name.len == 4 && strncasecmp(name.p, "gzip", 4) == 0) ||
                   (name.len == 6 && strncasecmp(name.p, "x-gzip", 6) == 0) ||
                   (name.len == 1 && name.p[0] == '*');
    if (!is_gzip) {
        return false;
    }
    while (elem.len > 0) {
        odin_str param = odin_str_trim(odin_str_cut(&elem, ';'));
        if (param.len >= 2 && (param.p[0] == 'q' || param.p[0] == 'Q') && param.p[1] == '=') {
            odin_str q = {param.p + 2, param.len - 2};
            return !qvalue_is_zero(odin_str_trim(q));
        }
    }
    return true;
}

bool http_accepts_gzip(const char *accept_encoding)
{
    if (accept_encoding == NULL) {
        return false;
    }
    odin_str rest = odin_str_c(accept_encoding);
    while (rest.len > 0) {
        if (coding_allows_gzip(odin_str_cut(&rest, ','))) {
            return true;
        }
    }
    return false;
}

enum { SMALL_BODY_BYTES = 128 * 1024 };

char *http_gzip(const void *p, size_t len, size_t *out_len)
{
    /* zlib counts in uInt; bodies are capped at 1 GiB by their strbuf, so one call always fits,
     * but a larger input is refused rather than truncated. */
    if (len > UINT_MAX / 2) {
        return NULL;
    }
    z_stream zs = {0};
    /* +16: the gzip wrapper instead of zlib's. zlib's default state (32 KiB window, memLevel 8)
     * takes 256 KiB; a body up to SMALL_BODY_BYTES (an agent's /metrics page, most API replies)
     * gets an 8 KiB window and memLevel 6, 64 KiB of state. At level 1 that costs next to no
     * ratio: a 54 KB node metrics page compressed to 10229 bytes against 10280. */
    int window_bits = len <= SMALL_BODY_BYTES ? 13 : 15;
    int mem_level = len <= SMALL_BODY_BYTES ? 6 : 8;
    if (deflateInit2(&zs, 1, Z_DEFLATED, window_bits + 16, mem_level, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return NULL;
    }
    size_t bound = deflateBound(&zs, (uLong)len);
    char *out = odin_malloc(bound);
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    *out_len = n;
    return out;
}

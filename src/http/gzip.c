/* Response compression for the HTTP server: decides from Accept-Encoding whether the client takes
 * gzip, and compresses a whole body in one pass: libdeflate's whole-buffer gzip when the library
 * is installed (base/dl_deflate.c; for bodies up to SMALL_BODY_BYTES, ~50-90 KiB more RSS for its
 * code and a 128 KiB hash table in place of zlib's ~250 KiB state), zlib otherwise. Streaming
 * compression is not needed: every body is built in memory before it is sent. */
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

/* A deflate state for bodies up to SMALL_BODY_BYTES, kept by a request object (one per server
 * thread) and reset between bodies: zlib's state is allocated once instead of per reply. It has
 * the full 32 KiB window: a smaller one costs more than it saves, as deflate slides the window and
 * walks its whole hash table every window's worth of input (an 8 KiB window slides six times over
 * a 54 KB metrics page). memLevel 7 (a 16 Ki-entry hash) takes 192 KiB of state with about the
 * speed of the default 8 (256 KiB). Level 1 ratio on a 54 KB node metrics page: 10334 bytes
 * against 10248 with the 8 KiB window, compressed in about 115 us instead of 150-170. */
struct http_gzip_stream {
    odin_gzipper *ld; /* a libdeflate compressor, or NULL when zs is used */
    bool zs_inited; /* zs holds a zlib state to end */
    z_stream zs;
};

enum { KEPT_WINDOW_BITS = 15, KEPT_MEM_LEVEL = 7, GZIP_LEVEL = 1 };

/* Runs one whole-body deflate on an initialised stream into a buffer of deflateBound's size. */
static char *deflate_body(z_stream *zs, const void *p, size_t len, size_t *out_len)
{
    size_t bound = deflateBound(zs, (uLong)len);
    char *out = odin_malloc(bound);
    zs->next_in = (Bytef *)p;
    zs->avail_in = (uInt)len;
    zs->next_out = (Bytef *)out;
    zs->avail_out = (uInt)bound;
    int rc = deflate(zs, Z_FINISH);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    *out_len = zs->total_out;
    return out;
}

/* One-shot compression with zlib's default state (32 KiB window, memLevel 8, 256 KiB), for
 * bodies larger than the kept stream serves. +16: the gzip wrapper instead of zlib's. */
static char *gzip_once(const void *p, size_t len, size_t *out_len)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return NULL;
    }
    char *out = deflate_body(&zs, p, len, out_len);
    deflateEnd(&zs);
    return out;
}

void http_gzip_stream_free(http_gzip_stream *st)
{
    if (st != NULL) {
        if (st->ld != NULL) {
            odin_gzipper_free(st->ld);
        }
        if (st->zs_inited) {
            deflateEnd(&st->zs);
        }
        free(st);
    }
}

char *http_gzip_kept(http_gzip_stream **kept, const void *p, size_t len, size_t *out_len)
{
    /* zlib counts in uInt; bodies are capped at 1 GiB by their strbuf, so one call always fits,
     * but a larger input is refused rather than truncated. */
    if (len > UINT_MAX / 2) {
        return NULL;
    }
    if (kept == NULL || len > SMALL_BODY_BYTES) {
        return gzip_once(p, len, out_len);
    }
    http_gzip_stream *st = *kept;
    if (st == NULL) {
        odin_gzipper *ld = odin_gzipper_new(GZIP_LEVEL);
        if (ld != NULL) {
            st = odin_calloc(1, sizeof(*st));
            st->ld = ld;
            *kept = st;
        }
    }
    if (st != NULL && st->ld != NULL) {
        size_t bound = odin_gzipper_bound(st->ld, len);
        char *out = odin_malloc(bound);
        *out_len = odin_gzipper_compress(st->ld, p, len, out, bound);
        if (*out_len == 0) {
            free(out);
            return NULL;
        }
        return out;
    }
    if (st != NULL && deflateReset(&st->zs) != Z_OK) {
        http_gzip_stream_free(st);
        *kept = st = NULL;
    }
    if (st == NULL) {
        st = odin_calloc(1, sizeof(*st));
        if (deflateInit2(&st->zs, GZIP_LEVEL, Z_DEFLATED, KEPT_WINDOW_BITS + 16, KEPT_MEM_LEVEL,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            free(st);
            return NULL;
        }
        st->zs_inited = true;
        *kept = st;
    }
    return deflate_body(&st->zs, p, len, out_len);
}

char *http_gzip(const void *p, size_t len, size_t *out_len)
{
    return http_gzip_kept(NULL, p, len, out_len);
}

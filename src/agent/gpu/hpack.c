/* HPACK header decoding (RFC 7541): the static table, a bounded dynamic table and canonical
 * Huffman decoding, for the response headers of the pod-resources call. Encoding is only the
 * literal form our requests need. */
#include "agent/gpu/podres.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* RFC 7541 Appendix A. Index 0 is unused: indexes start at 1. */
static const char *const static_table[][2] = {
    {"", ""},
    {":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
    {":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"}, {":status", "200"},
    {":status", "204"}, {":status", "206"}, {":status", "304"}, {":status", "400"},
    {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""},
    {"accept", ""}, {"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""},
    {"authorization", ""}, {"cache-control", ""}, {"content-disposition", ""},
    {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
    {"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
    {"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""},
    {"if-match", ""}, {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""},
    {"if-unmodified-since", ""}, {"last-modified", ""}, {"link", ""}, {"location", ""},
    {"max-forwards", ""}, {"proxy-authenticate", ""}, {"proxy-authorization", ""},
    {"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""}, {"server", ""},
    {"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
    {"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
};
enum { STATIC_LEN = 61, ENTRY_OVERHEAD = 32 };

/* RFC 7541 Appendix B: code (right-aligned) and bit length of symbols 0..255 and EOS (256).
 * The code is canonical (codes of one length are consecutive, in symbol order, and shorter
 * codes sort first); huffman_init relies on that and the unit test checks it. */
static const struct {
    uint32_t code;
    uint8_t bits;
} huffman_codes[257] = {
    {0x1ff8, 13}, {0x7fffd8, 23}, {0xfffffe2, 28}, {0xfffffe3, 28}, {0xfffffe4, 28},
    {0xfffffe5, 28}, {0xfffffe6, 28}, {0xfffffe7, 28}, {0xfffffe8, 28}, {0xffffea, 24},
    {0x3ffffffc, 30}, {0xfffffe9, 28}, {0xfffffea, 28}, {0x3ffffffd, 30}, {0xfffffeb, 28},
    {0xfffffec, 28}, {0xfffffed, 28}, {0xfffffee, 28}, {0xfffffef, 28}, {0xffffff0, 28},
    {0xffffff1, 28}, {0xffffff2, 28}, {0x3ffffffe, 30}, {0xffffff3, 28}, {0xffffff4, 28},
    {0xffffff5, 28}, {0xffffff6, 28}, {0xffffff7, 28}, {0xffffff8, 28}, {0xffffff9, 28},
    {0xffffffa, 28}, {0xffffffb, 28}, {0x14, 6}, {0x3f8, 10}, {0x3f9, 10},
    {0xffa, 12}, {0x1ff9, 13}, {0x15, 6}, {0xf8, 8}, {0x7fa, 11},
    {0x3fa, 10}, {0x3fb, 10}, {0xf9, 8}, {0x7fb, 11}, {0xfa, 8},
    {0x16, 6}, {0x17, 6}, {0x18, 6}, {0x0, 5}, {0x1, 5},
    {0x2, 5}, {0x19, 6}, {0x1a, 6}, {0x1b, 6}, {0x1c, 6},
    {0x1d, 6}, {0x1e, 6}, {0x1f, 6}, {0x5c, 7}, {0xfb, 8},
    {0x7ffc, 15}, {0x20, 6}, {0xffb, 12}, {0x3fc, 10}, {0x1ffa, 13},
    {0x21, 6}, {0x5d, 7}, {0x5e, 7}, {0x5f, 7}, {0x60, 7},
    {0x61, 7}, {0x62, 7}, {0x63, 7}, {0x64, 7}, {0x65, 7},
    {0x66, 7}, {0x67, 7}, {0x68, 7}, {0x69, 7}, {0x6a, 7},
    {0x6b, 7}, {0x6c, 7}, {0x6d, 7}, {0x6e, 7}, {0x6f, 7},
    {0x70, 7}, {0x71, 7}, {0x72, 7}, {0xfc, 8}, {0x73, 7},
    {0xfd, 8}, {0x1ffb, 13}, {0x7fff0, 19}, {0x1ffc, 13}, {0x3ffc, 14},
    {0x22, 6}, {0x7ffd, 15}, {0x3, 5}, {0x23, 6}, {0x4, 5},
    {0x24, 6}, {0x5, 5}, {0x25, 6}, {0x26, 6}, {0x27, 6},
    {0x6, 5}, {0x74, 7}, {0x75, 7}, {0x28, 6}, {0x29, 6},
    {0x2a, 6}, {0x7, 5}, {0x2b, 6}, {0x76, 7}, {0x2c, 6},
    {0x8, 5}, {0x9, 5}, {0x2d, 6}, {0x77, 7}, {0x78, 7},
    {0x79, 7}, {0x7a, 7}, {0x7b, 7}, {0x7ffe, 15}, {0x7fc, 11},
    {0x3ffd, 14}, {0x1ffd, 13}, {0xffffffc, 28}, {0xfffe6, 20}, {0x3fffd2, 22},
    {0xfffe7, 20}, {0xfffe8, 20}, {0x3fffd3, 22}, {0x3fffd4, 22}, {0x3fffd5, 22},
    {0x7fffd9, 23}, {0x3fffd6, 22}, {0x7fffda, 23}, {0x7fffdb, 23}, {0x7fffdc, 23},
    {0x7fffdd, 23}, {0x7fffde, 23}, {0xffffeb, 24}, {0x7fffdf, 23}, {0xffffec, 24},
    {0xffffed, 24}, {0x3fffd7, 22}, {0x7fffe0, 23}, {0xffffee, 24}, {0x7fffe1, 23},
    {0x7fffe2, 23}, {0x7fffe3, 23}, {0x7fffe4, 23}, {0x1fffdc, 21}, {0x3fffd8, 22},
    {0x7fffe5, 23}, {0x3fffd9, 22}, {0x7fffe6, 23}, {0x7fffe7, 23}, {0xffffef, 24},
    {0x3fffda, 22}, {0x1fffdd, 21}, {0xfffe9, 20}, {0x3fffdb, 22}, {0x3fffdc, 22},
    {0x7fffe8, 23}, {0x7fffe9, 23}, {0x1fffde, 21}, {0x7fffea, 23}, {0x3fffdd, 22},
    {0x3fffde, 22}, {0xfffff0, 24}, {0x1fffdf, 21}, {0x3fffdf, 22}, {0x7fffeb, 23},
    {0x7fffec, 23}, {0x1fffe0, 21}, {0x1fffe1, 21}, {0x3fffe0, 22}, {0x1fffe2, 21},
    {0x7fffed, 23}, {0x3fffe1, 22}, {0x7fffee, 23}, {0x7fffef, 23}, {0xfffea, 20},
    {0x3fffe2, 22}, {0x3fffe3, 22}, {0x3fffe4, 22}, {0x7ffff0, 23}, {0x3fffe5, 22},
    {0x3fffe6, 22}, {0x7ffff1, 23}, {0x3ffffe0, 26}, {0x3ffffe1, 26}, {0xfffeb, 20},
    {0x7fff1, 19}, {0x3fffe7, 22}, {0x7ffff2, 23}, {0x3fffe8, 22}, {0x1ffffec, 25},
    {0x3ffffe2, 26}, {0x3ffffe3, 26}, {0x3ffffe4, 26}, {0x7ffffde, 27}, {0x7ffffdf, 27},
    {0x3ffffe5, 26}, {0xfffff1, 24}, {0x1ffffed, 25}, {0x7fff2, 19}, {0x1fffe3, 21},
    {0x3ffffe6, 26}, {0x7ffffe0, 27}, {0x7ffffe1, 27}, {0x3ffffe7, 26}, {0x7ffffe2, 27},
    {0xfffff2, 24}, {0x1fffe4, 21}, {0x1fffe5, 21}, {0x3ffffe8, 26}, {0x3ffffe9, 26},
    {0xffffffd, 28}, {0x7ffffe3, 27}, {0x7ffffe4, 27}, {0x7ffffe5, 27}, {0xfffec, 20},
    {0xfffff3, 24}, {0xfffed, 20}, {0x1fffe6, 21}, {0x3fffe9, 22}, {0x1fffe7, 21},
    {0x1fffe8, 21}, {0x7ffff3, 23}, {0x3fffea, 22}, {0x3fffeb, 22}, {0x1ffffee, 25},
    {0x1ffffef, 25}, {0xfffff4, 24}, {0xfffff5, 24}, {0x3ffffea, 26}, {0x7ffff4, 23},
    {0x3ffffeb, 26}, {0x7ffffe6, 27}, {0x3ffffec, 26}, {0x3ffffed, 26}, {0x7ffffe7, 27},
    {0x7ffffe8, 27}, {0x7ffffe9, 27}, {0x7ffffea, 27}, {0x7ffffeb, 27}, {0xffffffe, 28},
    {0x7ffffec, 27}, {0x7ffffed, 27}, {0x7ffffee, 27}, {0x7ffffef, 27}, {0x7fffff0, 27},
    {0x3ffffee, 26}, {0x3fffffff, 30},
};

enum { HUFF_MIN_BITS = 5, HUFF_MAX_BITS = 30, HUFF_EOS = 256 };

/* Per bit length: the first code, how many codes, and where they start in huff_sorted. */
static uint32_t huff_first[HUFF_MAX_BITS + 1];
static uint32_t huff_count[HUFF_MAX_BITS + 1];
static uint32_t huff_start[HUFF_MAX_BITS + 1];
static uint16_t huff_sorted[257];
static pthread_once_t huff_once = PTHREAD_ONCE_INIT;

static void huffman_init(void)
{
    size_t k = 0;
    for (unsigned len = HUFF_MIN_BITS; len <= HUFF_MAX_BITS; len++) {
        huff_start[len] = (uint32_t)k;
        bool first = true;
        for (unsigned s = 0; s < 257; s++) {
            if (huffman_codes[s].bits != len) {
                continue;
            }
            if (first) {
                huff_first[len] = huffman_codes[s].code;
                first = false;
            }
            huff_sorted[k++] = (uint16_t)s;
            huff_count[len]++;
        }
    }
}

int agent_gpu_huffman_decode(const uint8_t *src, size_t len, odin_strbuf *out, odin_err *err)
{
    pthread_once(&huff_once, huffman_init);
    uint32_t code = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        for (int b = 7; b >= 0; b--) {
            code = code << 1 | ((src[i] >> b) & 1u);
            bits++;
            if (bits > HUFF_MAX_BITS) {
                return odin_err_set(err, ODIN_ERR_PARSE, "hpack: bad Huffman code at byte %zu", i);
            }
            /* canonical: a code of this length is first..first+count-1; unsigned wrap makes
             * a smaller value fail the test too */
            if (bits < HUFF_MIN_BITS || code - huff_first[bits] >= huff_count[bits]) {
                continue;
            }
            uint16_t sym = huff_sorted[huff_start[bits] + code - huff_first[bits]];
            if (sym == HUFF_EOS) {
                return odin_err_set(err, ODIN_ERR_PARSE, "hpack: Huffman EOS at byte %zu", i);
            }
            odin_strbuf_putc(out, (char)sym);
            code = 0;
            bits = 0;
        }
    }
    /* RFC 7541 §5.2: padding is at most 7 bits, all ones (the EOS prefix) */
    if (bits > 7 || code != (1u << bits) - 1) {
        return odin_err_set(err, ODIN_ERR_PARSE, "hpack: bad Huffman padding");
    }
    return 0;
}

/* ---- Dynamic table --------------------------------------------------------------------------- */

struct agent_gpu_hpack_entry {
    char *name, *value; /* heap, owned by the table */
    size_t nlen, vlen;
};

void agent_gpu_hpack_init(agent_gpu_hpack *h)
{
    memset(h, 0, sizeof(*h));
    h->max_bytes = AGENT_GPU_HPACK_TABLE_BYTES;
    h->cap = AGENT_GPU_HPACK_TABLE_BYTES / ENTRY_OVERHEAD; /* every entry costs at least 32 */
    h->v = odin_calloc(h->cap, sizeof(*h->v));
}

static void evict_oldest(agent_gpu_hpack *h)
{
    struct agent_gpu_hpack_entry *e = &h->v[(h->first + h->n - 1) % h->cap];
    h->bytes -= e->nlen + e->vlen + ENTRY_OVERHEAD;
    free(e->name);
    free(e->value);
    memset(e, 0, sizeof(*e));
    h->n--;
}

void agent_gpu_hpack_fini(agent_gpu_hpack *h)
{
    while (h->n) {
        evict_oldest(h);
    }
    free(h->v);
    memset(h, 0, sizeof(*h));
}

static void table_resize(agent_gpu_hpack *h, size_t max)
{
    h->max_bytes = max;
    while (h->n && h->bytes > h->max_bytes) {
        evict_oldest(h);
    }
}

/* §4.4: an entry larger than the table empties it and is not added. */
static void table_add(agent_gpu_hpack *h, odin_str name, odin_str value)
{
    size_t size = name.len + value.len + ENTRY_OVERHEAD;
    while (h->n && h->bytes + size > h->max_bytes) {
        evict_oldest(h);
    }
    if (size > h->max_bytes) {
        return;
    }
    h->first = (h->first + h->cap - 1) % h->cap;
    struct agent_gpu_hpack_entry *e = &h->v[h->first];
    e->name = odin_strndup(name.p, name.len);
    e->value = odin_strndup(value.p, value.len);
    e->nlen = name.len;
    e->vlen = value.len;
    h->bytes += size;
    h->n++;
}

static int table_get(const agent_gpu_hpack *h, uint64_t index, odin_str *name, odin_str *value,
                     size_t at, odin_err *err)
{
    if (index >= 1 && index <= STATIC_LEN) {
        *name = odin_str_c(static_table[index][0]);
        *value = odin_str_c(static_table[index][1]);
        return 0;
    }
    if (index > STATIC_LEN && index - STATIC_LEN <= h->n) {
        const struct agent_gpu_hpack_entry *e = &h->v[(h->first + index - STATIC_LEN - 1) % h->cap];
        *name = (odin_str){e->name, e->nlen};
        *value = (odin_str){e->value, e->vlen};
        return 0;
    }
    return odin_err_set(err, ODIN_ERR_PARSE, "hpack: index %llu out of range at byte %zu",
                        (unsigned long long)index, at);
}

/* ---- Block decoding -------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t len, off;
} hp_cur;

/* §5.1 integer with an N-bit prefix; values past 2^28 are refused (no header needs them). */
static int read_int(hp_cur *c, unsigned prefix_bits, uint64_t *out, odin_err *err)
{
    size_t at = c->off;
    uint64_t max_prefix = (1u << prefix_bits) - 1;
    uint64_t v = c->p[c->off++] & max_prefix;
    if (v < max_prefix) {
        *out = v;
        return 0;
    }
    for (unsigned shift = 0;; shift += 7) {
        if (c->off >= c->len) {
            return odin_err_set(err, ODIN_ERR_PARSE, "hpack: truncated integer at byte %zu", at);
        }
        if (shift > 21) {
            return odin_err_set(err, ODIN_ERR_PARSE, "hpack: integer too large at byte %zu", at);
        }
        uint8_t b = c->p[c->off++];
        v += (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
}

/* §5.2 string literal into buf (reset first); s points at the text. */
static int read_string(hp_cur *c, odin_strbuf *buf, odin_str *s, odin_err *err)
{
    size_t at = c->off;
    if (c->off >= c->len) {
        return odin_err_set(err, ODIN_ERR_PARSE, "hpack: truncated string at byte %zu", at);
    }
    bool huffman = c->p[c->off] & 0x80;
    uint64_t n = 0;
    if (read_int(c, 7, &n, err) < 0) {
        return -ODIN_ERR_PARSE;
    }
    if (n > c->len - c->off) {
        return odin_err_set(err, ODIN_ERR_PARSE, "hpack: string at byte %zu runs past the block",
                            at);
    }
    if (n > AGENT_GPU_HPACK_MAX_STRING) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "hpack: string at byte %zu longer than %d bytes",
                            at, AGENT_GPU_HPACK_MAX_STRING);
    }
    odin_strbuf_reset(buf);
    if (huffman) {
        /* Huffman never expands by more than 8/5, so the cap below is only a backstop */
        if (agent_gpu_huffman_decode(c->p + c->off, (size_t)n, buf, err) < 0) {
            return -ODIN_ERR_PARSE;
        }
    } else {
        odin_strbuf_put(buf, c->p + c->off, (size_t)n);
    }
    if (!odin_strbuf_ok(buf)) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "hpack: string at byte %zu too long", at);
    }
    c->off += (size_t)n;
    *s = (odin_str){buf->p, buf->len};
    return 0;
}

/* One field representation (§6). Returns 0, fn's nonzero return, or a negative error. */
static int decode_field(agent_gpu_hpack *h, hp_cur *c, odin_strbuf *nb, odin_strbuf *vb,
                        int (*fn)(odin_str, odin_str, void *), void *ctx, odin_err *err)
{
    size_t at = c->off;
    uint8_t b = c->p[c->off];
    odin_str name, value;
    uint64_t index = 0;
    if (b & 0x80) { /* indexed */
        if (read_int(c, 7, &index, err) < 0 || table_get(h, index, &name, &value, at, err) < 0) {
            return -ODIN_ERR_PARSE;
        }
        return fn(name, value, ctx);
    }
    if ((b & 0xe0) == 0x20) { /* dynamic table size update */
        if (read_int(c, 5, &index, err) < 0) {
            return -ODIN_ERR_PARSE;
        }
        if (index > AGENT_GPU_HPACK_TABLE_BYTES) {
            return odin_err_set(err, ODIN_ERR_LIMIT,
                                "hpack: table size %llu over our setting at byte %zu",
                                (unsigned long long)index, at);
        }
        table_resize(h, (size_t)index);
        return 0;
    }
    bool incremental = (b & 0xc0) == 0x40;
    if (read_int(c, incremental ? 6 : 4, &index, err) < 0) {
        return -ODIN_ERR_PARSE;
    }
    int rc;
    if (index == 0) {
        rc = read_string(c, nb, &name, err);
    } else {
        rc = table_get(h, index, &name, &value, at, err);
        if (rc == 0) { /* copy: adding the entry below may evict the one it came from */
            odin_strbuf_reset(nb);
            odin_strbuf_putstr(nb, name);
            name = (odin_str){nb->p, nb->len};
        }
    }
    if (rc < 0 || read_string(c, vb, &value, err) < 0) {
        return err && err->code ? -err->code : -ODIN_ERR_PARSE;
    }
    if (incremental) {
        table_add(h, name, value);
    }
    return fn(name, value, ctx);
}

int agent_gpu_hpack_decode(agent_gpu_hpack *h, const uint8_t *p, size_t len,
                           int (*fn)(odin_str name, odin_str value, void *ctx), void *ctx,
                           odin_err *err)
{
    hp_cur c = {p, len, 0};
    odin_strbuf nb, vb;
    /* decoded strings are capped: Huffman of MAX_STRING bytes is at most 8/5 as long */
    odin_strbuf_init(&nb, AGENT_GPU_HPACK_MAX_STRING * 2);
    odin_strbuf_init(&vb, AGENT_GPU_HPACK_MAX_STRING * 2);
    int rc = 0;
    while (c.off < c.len && rc == 0) {
        rc = decode_field(h, &c, &nb, &vb, fn, ctx, err);
    }
    odin_strbuf_fini(&nb);
    odin_strbuf_fini(&vb);
    return rc;
}

/* ---- Encoding -------------------------------------------------------------------------------- */

static void put_int(odin_strbuf *b, uint8_t first, unsigned prefix_bits, size_t v)
{
    size_t max_prefix = ((size_t)1 << prefix_bits) - 1;
    if (v < max_prefix) {
        odin_strbuf_putc(b, (char)(first | v));
        return;
    }
    odin_strbuf_putc(b, (char)(first | max_prefix));
    v -= max_prefix;
    while (v >= 0x80) {
        odin_strbuf_putc(b, (char)(0x80 | (v & 0x7f)));
        v >>= 7;
    }
    odin_strbuf_putc(b, (char)v);
}

void agent_gpu_hpack_put_literal(odin_strbuf *b, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    odin_strbuf_putc(b, 0x00); /* literal without indexing, new name */
    put_int(b, 0x00, 7, nl);
    odin_strbuf_put(b, name, nl);
    put_int(b, 0x00, 7, vl);
    odin_strbuf_put(b, value, vl);
}

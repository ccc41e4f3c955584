/* The client half of one HTTP/2 exchange (RFC 9113) carrying one gRPC unary call on stream 1:
 * no socket here, only bytes in and bytes out, so tests and the fuzzer drive it directly.
 * Flow control is settled up front: we open both windows to 2^31-1, so the peer never waits
 * on a WINDOW_UPDATE from us, and the body is capped instead. */
#include "agent/gpu/podres.h"

#include <string.h>

enum {
    FRAME_DATA = 0,
    FRAME_HEADERS = 1,
    FRAME_RST_STREAM = 3,
    FRAME_SETTINGS = 4,
    FRAME_PUSH_PROMISE = 5,
    FRAME_PING = 6,
    FRAME_GOAWAY = 7,
    FRAME_CONTINUATION = 9,
};
enum { FLAG_END_STREAM = 0x1, FLAG_ACK = 0x1, FLAG_END_HEADERS = 0x4, FLAG_PADDED = 0x8,
       FLAG_PRIORITY = 0x20 };
enum { FRAME_HEADER = 9, MAX_HEADER_BLOCK = 65536, GRPC_PREFIX = 5 };
static const uint32_t MAX_WINDOW = 0x7fffffff;

/* Frame header (RFC 9113 §4.1), all big-endian:
 *   offset 0 size 3  payload length
 *   offset 3 size 1  type
 *   offset 4 size 1  flags
 *   offset 5 size 4  reserved bit + stream id */
static void put_frame_header(odin_strbuf *b, size_t len, int type, int flags, uint32_t stream)
{
    uint8_t h[FRAME_HEADER] = {
        (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, (uint8_t)type, (uint8_t)flags,
        (uint8_t)(stream >> 24 & 0x7f), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8),
        (uint8_t)stream,
    };
    odin_strbuf_put(b, h, sizeof(h));
}

static void put_u32(odin_strbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    odin_strbuf_put(b, x, 4);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void agent_gpu_h2_init(agent_gpu_h2 *h, const char *path, const uint8_t *msg, size_t msg_len,
                       size_t max_body)
{
    memset(h, 0, sizeof(*h));
    agent_gpu_hpack_init(&h->hpack);
    odin_strbuf_init(&h->in, 2 * (FRAME_HEADER + AGENT_GPU_H2_MAX_FRAME) + 65536);
    odin_strbuf_init(&h->out, 0);
    odin_strbuf_init(&h->body, max_body + 1);
    odin_strbuf_init(&h->hblock, MAX_HEADER_BLOCK + 1);
    h->max_body = max_body;
    h->grpc_status = -1;
    odin_strbuf_puts(&h->out, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    /* SETTINGS: ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 2^31-1 */
    put_frame_header(&h->out, 12, FRAME_SETTINGS, 0, 0);
    odin_strbuf_put(&h->out, "\x00\x02\x00\x00\x00\x00", 6);
    odin_strbuf_put(&h->out, "\x00\x04", 2);
    put_u32(&h->out, MAX_WINDOW);
    /* the connection window is not covered by SETTINGS: widen it too */
    put_frame_header(&h->out, 4, 8, 0, 0);
    put_u32(&h->out, MAX_WINDOW - 65535);
    odin_strbuf block;
    odin_strbuf_init(&block, 0);
    agent_gpu_hpack_put_literal(&block, ":method", "POST");
    agent_gpu_hpack_put_literal(&block, ":scheme", "http");
    agent_gpu_hpack_put_literal(&block, ":path", path);
    agent_gpu_hpack_put_literal(&block, ":authority", "localhost");
    agent_gpu_hpack_put_literal(&block, "content-type", "application/grpc");
    agent_gpu_hpack_put_literal(&block, "te", "trailers");
    put_frame_header(&h->out, block.len, FRAME_HEADERS, FLAG_END_HEADERS, 1);
    odin_strbuf_put(&h->out, block.p, block.len);
    odin_strbuf_fini(&block);
    /* gRPC message: flag 0 (not compressed), 4-byte big-endian length, the message */
    put_frame_header(&h->out, GRPC_PREFIX + msg_len, FRAME_DATA, FLAG_END_STREAM, 1);
    odin_strbuf_putc(&h->out, 0);
    put_u32(&h->out, (uint32_t)msg_len);
    if (msg_len) {
        odin_strbuf_put(&h->out, msg, msg_len);
    }
}

void agent_gpu_h2_fini(agent_gpu_h2 *h)
{
    agent_gpu_hpack_fini(&h->hpack);
    odin_strbuf_fini(&h->in);
    odin_strbuf_fini(&h->out);
    odin_strbuf_fini(&h->body);
    odin_strbuf_fini(&h->hblock);
}

static void copy_value(char *dst, size_t cap, odin_str v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (n) {
        memcpy(dst, v.p, n);
    }
    dst[n] = '\0';
}

static int on_header(odin_str name, odin_str value, void *ctx)
{
    agent_gpu_h2 *h = ctx;
    int64_t v;
    if (odin_str_eq_c(name, ":status")) {
        h->http_status = odin_parse_i64(value, &v) == 0 && v > 0 && v < 1000 ? (int)v : 999;
    } else if (odin_str_eq_c(name, "grpc-status")) {
        h->grpc_status = odin_parse_i64(value, &v) == 0 && v >= 0 && v < 1000 ? (int)v : 999;
    } else if (odin_str_eq_c(name, "grpc-message")) {
        copy_value(h->grpc_message, sizeof(h->grpc_message), value);
    } else if (odin_str_eq_c(name, "content-type")) {
        copy_value(h->content_type, sizeof(h->content_type), value);
    }
    return 0;
}

static int end_header_block(agent_gpu_h2 *h, odin_err *err)
{
    int rc = agent_gpu_hpack_decode(&h->hpack, (const uint8_t *)h->hblock.p, h->hblock.len,
                                    on_header, h, err);
    odin_strbuf_reset(&h->hblock);
    if (rc < 0) {
        return rc;
    }
    h->got_headers = true;
    if (h->hblock_end_stream) {
        h->done = true;
    }
    return 0;
}

/* Strips padding (PADDED) and priority (PRIORITY) fields from a DATA or HEADERS payload. */
static int unpad(const uint8_t **p, size_t *len, int flags, bool headers, odin_err *err)
{
    size_t pad = 0;
    if (flags & FLAG_PADDED) {
        if (*len < 1) {
            return odin_err_set(err, ODIN_ERR_PARSE, "http2: padded frame without pad length");
        }
        pad = (*p)[0];
        (*p)++;
        (*len)--;
    }
    if (headers && (flags & FLAG_PRIORITY)) {
        if (*len < 5) {
            return odin_err_set(err, ODIN_ERR_PARSE, "http2: short HEADERS priority fields");
        }
        *p += 5;
        *len -= 5;
    }
    if (pad > *len) {
        return odin_err_set(err, ODIN_ERR_PARSE, "http2: padding longer than the frame");
    }
    *len -= pad;
    return 0;
}

static int on_stream_frame(agent_gpu_h2 *h, int type, int flags, const uint8_t *p, size_t len,
                           odin_err *err)
{
    if (h->done) {
        return odin_err_set(err, ODIN_ERR_PARSE, "http2: frame on stream 1 after its end");
    }
    if (type == FRAME_DATA) {
        if (!h->got_headers) {
            return odin_err_set(err, ODIN_ERR_PARSE, "http2: DATA before HEADERS");
        }
        if (unpad(&p, &len, flags, false, err) < 0) {
            return -ODIN_ERR_PARSE;
        }
        odin_strbuf_put(&h->body, p, len);
        if (!odin_strbuf_ok(&h->body) || h->body.len > h->max_body) {
            return odin_err_set(err, ODIN_ERR_LIMIT, "http2: response body over %zu bytes",
                                h->max_body);
        }
        h->done = flags & FLAG_END_STREAM;
        return 0;
    }
    if (type == FRAME_HEADERS) {
        if (unpad(&p, &len, flags, true, err) < 0) {
            return -ODIN_ERR_PARSE;
        }
        h->hblock_end_stream = flags & FLAG_END_STREAM;
    }
    odin_strbuf_put(&h->hblock, p, len); /* HEADERS or CONTINUATION */
    if (!odin_strbuf_ok(&h->hblock) || h->hblock.len > MAX_HEADER_BLOCK) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "http2: header block over %d bytes",
                            MAX_HEADER_BLOCK);
    }
    return (flags & FLAG_END_HEADERS) ? end_header_block(h, err) : 0;
}

static int on_frame(agent_gpu_h2 *h, int type, int flags, uint32_t stream, const uint8_t *p,
                    size_t len, odin_err *err)
{
    switch (type) {
    case FRAME_DATA:
    case FRAME_HEADERS:
    case FRAME_CONTINUATION:
        if (stream != 1) {
            return odin_err_set(err, ODIN_ERR_PARSE, "http2: frame type %d on stream %u", type,
                                stream);
        }
        return on_stream_frame(h, type, flags, p, len, err);
    case FRAME_SETTINGS:
        if (stream != 0 || len % 6 != 0 || ((flags & FLAG_ACK) && len)) {
            return odin_err_set(err, ODIN_ERR_PARSE, "http2: malformed SETTINGS");
        }
        if (!(flags & FLAG_ACK)) {
            put_frame_header(&h->out, 0, FRAME_SETTINGS, FLAG_ACK, 0);
        }
        return 0;
    case FRAME_PING:
        if (stream != 0 || len != 8) {
            return odin_err_set(err, ODIN_ERR_PARSE, "http2: malformed PING");
        }
        if (!(flags & FLAG_ACK)) {
            put_frame_header(&h->out, 8, FRAME_PING, FLAG_ACK, 0);
            odin_strbuf_put(&h->out, p, 8);
        }
        return 0;
    case FRAME_RST_STREAM:
        if (len != 4) {
            return odin_err_set(err, ODIN_ERR_PARSE, "http2: malformed RST_STREAM");
        }
        if (stream != 1) {
            return 0;
        }
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "http2: stream reset, error code %u",
                            get_u32(p));
    case FRAME_GOAWAY:
        if (len < 8) {
            return odin_err_set(err, ODIN_ERR_PARSE, "http2: malformed GOAWAY");
        }
        if (get_u32(p + 4) != 0 || (get_u32(p) & 0x7fffffff) < 1) {
            return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "http2: GOAWAY, error code %u",
                                get_u32(p + 4));
        }
        return 0; /* graceful: stream 1 still completes */
    case FRAME_PUSH_PROMISE:
        return odin_err_set(err, ODIN_ERR_PARSE, "http2: PUSH_PROMISE though push is disabled");
    default:
        return 0; /* PRIORITY, WINDOW_UPDATE and unknown types carry nothing for us */
    }
}

int agent_gpu_h2_feed(agent_gpu_h2 *h, const uint8_t *p, size_t n, odin_err *err)
{
    size_t used = 0;
    while (!h->done && (used < n || h->in.len >= FRAME_HEADER)) {
        /* take only what completes the frame at hand, so `in` stays bounded */
        size_t want = FRAME_HEADER;
        if (h->in.len >= FRAME_HEADER) {
            const uint8_t *f = (const uint8_t *)h->in.p;
            size_t len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
            if (len > AGENT_GPU_H2_MAX_FRAME) {
                return odin_err_set(err, ODIN_ERR_PARSE, "http2: frame of %zu bytes over %d", len,
                                    AGENT_GPU_H2_MAX_FRAME);
            }
            want = FRAME_HEADER + len;
        }
        if (h->in.len < want) {
            size_t take = want - h->in.len < n - used ? want - h->in.len : n - used;
            if (take == 0) {
                return h->done ? 1 : 0;
            }
            odin_strbuf_put(&h->in, p + used, take);
            used += take;
            continue;
        }
        const uint8_t *f = (const uint8_t *)h->in.p;
        int type = f[3];
        if (h->hblock.len && type != FRAME_CONTINUATION) {
            return odin_err_set(err, ODIN_ERR_PARSE, "http2: frame type %d inside a header block",
                                type);
        }
        int rc = on_frame(h, type, f[4], get_u32(f + 5) & 0x7fffffff, f + FRAME_HEADER,
                          want - FRAME_HEADER, err);
        odin_strbuf_reset(&h->in);
        if (rc < 0) {
            return rc;
        }
    }
    return h->done ? 1 : 0;
}

int agent_gpu_h2_message(const agent_gpu_h2 *h, const uint8_t **msg, size_t *len, odin_err *err)
{
    if (h->http_status != 200) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "gRPC: HTTP status %d", h->http_status);
    }
    if (h->grpc_status != 0) {
        if (h->grpc_status < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "gRPC: no grpc-status trailer");
        }
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "gRPC: status %d: %.100s", h->grpc_status,
                            h->grpc_message);
    }
    const uint8_t *b = (const uint8_t *)h->body.p;
    if (h->body.len < GRPC_PREFIX) {
        return odin_err_set(err, ODIN_ERR_PARSE, "gRPC: response of %zu bytes has no message",
                            h->body.len);
    }
    if (b[0] != 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "gRPC: compressed message (flag %u)", b[0]);
    }
    size_t n = get_u32(b + 1);
    if (n != h->body.len - GRPC_PREFIX) {
        return odin_err_set(err, ODIN_ERR_PARSE,
                            "gRPC: message length %zu but %zu bytes follow the prefix", n,
                            h->body.len - GRPC_PREFIX);
    }
    *msg = b + GRPC_PREFIX;
    *len = n;
    return 0;
}

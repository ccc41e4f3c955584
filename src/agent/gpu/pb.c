/* Protobuf wire-format reader: one field at a time over a bounds-checked cursor. Knows nothing
 * of schemas; podres.c walks the pod-resources messages with it. */
#include "agent/gpu/podres.h"

void agent_gpu_pb_init(agent_gpu_pb *pb, const uint8_t *p, size_t len)
{
    pb->p = p;
    pb->len = len;
    pb->off = 0;
}

/* A varint is at most 10 bytes; the tenth may only carry the top bit of a uint64. */
static int read_varint(agent_gpu_pb *pb, uint64_t *out, odin_err *err)
{
    uint64_t v = 0;
    size_t start = pb->off;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (pb->off >= pb->len) {
            return odin_err_set(err, ODIN_ERR_PARSE, "protobuf: truncated varint at byte %zu",
                                start);
        }
        uint8_t b = pb->p[pb->off++];
        if (shift == 63 && (b & 0x7e)) {
            return odin_err_set(err, ODIN_ERR_PARSE, "protobuf: varint overflows at byte %zu",
                                start);
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return odin_err_set(err, ODIN_ERR_PARSE, "protobuf: varint longer than 10 bytes at byte %zu",
                        start);
}

static int read_fixed(agent_gpu_pb *pb, size_t n, uint64_t *out, odin_err *err)
{
    if (pb->len - pb->off < n) {
        return odin_err_set(err, ODIN_ERR_PARSE, "protobuf: truncated fixed%zu at byte %zu",
                            n * 8, pb->off);
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v |= (uint64_t)pb->p[pb->off + i] << (8 * i); /* little-endian on the wire */
    }
    pb->off += n;
    *out = v;
    return 0;
}

int agent_gpu_pb_next(agent_gpu_pb *pb, agent_gpu_pb_field *f, odin_err *err)
{
    if (pb->off >= pb->len) {
        return 0;
    }
    size_t at = pb->off;
    uint64_t key;
    if (read_varint(pb, &key, err) < 0) {
        return -ODIN_ERR_PARSE;
    }
    f->num = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    f->u = 0;
    f->bytes = NULL;
    f->nbytes = 0;
    if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
        return odin_err_set(err, ODIN_ERR_PARSE, "protobuf: bad field number at byte %zu", at);
    }
    switch (f->wire) {
    case AGENT_GPU_PB_VARINT: return read_varint(pb, &f->u, err) < 0 ? -ODIN_ERR_PARSE : 1;
    case AGENT_GPU_PB_I64: return read_fixed(pb, 8, &f->u, err) < 0 ? -ODIN_ERR_PARSE : 1;
    case AGENT_GPU_PB_I32: return read_fixed(pb, 4, &f->u, err) < 0 ? -ODIN_ERR_PARSE : 1;
    case AGENT_GPU_PB_LEN: break;
    default:
        return odin_err_set(err, ODIN_ERR_PARSE, "protobuf: wire type %d at byte %zu", f->wire,
                            at);
    }
    uint64_t n;
    if (read_varint(pb, &n, err) < 0) {
        return -ODIN_ERR_PARSE;
    }
    if (n > pb->len - pb->off) {
        return odin_err_set(err, ODIN_ERR_PARSE,
                            "protobuf: field %u at byte %zu: length %llu past the end", f->num,
                            at, (unsigned long long)n);
    }
    f->bytes = pb->p + pb->off;
    f->nbytes = (size_t)n;
    pb->off += (size_t)n;
    return 1;
}

/* Private to src/agent/gpu/: the kubelet pod-resources client (gRPC List over a Unix socket) and
 * the small decoders it is built from: protobuf wire format (pb.c), HPACK with Huffman (hpack.c),
 * a one-call HTTP/2 client state machine (h2.c), the ListPodResourcesResponse decoder and the
 * socket call (podres.c). No gRPC or protobuf library: pod-resources needs one unary call.
 *
 * Threads: none of these take locks; the sampler thread owns every object. Memory: each object is
 * owned by its caller (init/fini pairs); strings handed out point into the caller's input or the
 * object and say how long they live. Every decoder knows where its input ends and turns hostile
 * bytes into -ODIN_ERR_PARSE or -ODIN_ERR_LIMIT with a message naming the byte offset. */
#ifndef ODIN_AGENT_GPU_PODRES_H
#define ODIN_AGENT_GPU_PODRES_H

#include "base/base.h"

/* ---- Protobuf wire format (pb.c) ------------------------------------------------------------- */

enum { AGENT_GPU_PB_VARINT = 0, AGENT_GPU_PB_I64 = 1, AGENT_GPU_PB_LEN = 2, AGENT_GPU_PB_I32 = 5 };

/* A cursor over one message's bytes (borrowed). */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t off;
} agent_gpu_pb;

/* One field: number, wire type and its value (varint/fixed in u, LEN bytes in bytes, borrowed
 * from the cursor's input). */
typedef struct {
    uint32_t num;
    int wire;
    uint64_t u;
    const uint8_t *bytes;
    size_t nbytes;
} agent_gpu_pb_field;

void agent_gpu_pb_init(agent_gpu_pb *pb, const uint8_t *p, size_t len);
/* Reads the next field: 1, 0 at the end, -ODIN_ERR_PARSE on a truncated varint or length, a
 * field number 0, or a wire type other than 0, 1, 2, 5 (groups are not proto3). */
int agent_gpu_pb_next(agent_gpu_pb *pb, agent_gpu_pb_field *f, odin_err *err);

/* ---- HPACK (hpack.c) ------------------------------------------------------------------------- */

enum {
    AGENT_GPU_HPACK_TABLE_BYTES = 4096, /* SETTINGS_HEADER_TABLE_SIZE we advertise (the default) */
    AGENT_GPU_HPACK_MAX_STRING = 8192,  /* longest decoded name or value */
};

/* A decoder's dynamic table (RFC 7541 §2.3.2): entries newest first, bounded by max_bytes as
 * the RFC counts them (name + value + 32). Owned by the caller: _init/_fini. */
typedef struct {
    struct agent_gpu_hpack_entry *v; /* ring of entries, heap */
    size_t cap, first, n;
    size_t bytes, max_bytes;
} agent_gpu_hpack;

void agent_gpu_hpack_init(agent_gpu_hpack *h);
void agent_gpu_hpack_fini(agent_gpu_hpack *h);
/* Decodes one header block, calling fn for each field (name and value valid during the call).
 * A nonzero return from fn stops decoding and is returned. Errors: -ODIN_ERR_PARSE (bad index,
 * integer overflow, truncated string, bad Huffman padding or EOS), -ODIN_ERR_LIMIT (a string
 * over AGENT_GPU_HPACK_MAX_STRING, a table size update over our setting). */
int agent_gpu_hpack_decode(agent_gpu_hpack *h, const uint8_t *p, size_t len,
                           int (*fn)(odin_str name, odin_str value, void *ctx), void *ctx,
                           odin_err *err);
/* Huffman-decodes src into out (appended); -ODIN_ERR_PARSE as above. */
int agent_gpu_huffman_decode(const uint8_t *src, size_t len, odin_strbuf *out, odin_err *err);
/* Appends a literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2). */
void agent_gpu_hpack_put_literal(odin_strbuf *b, const char *name, const char *value);

/* ---- HTTP/2 unary call (h2.c) ---------------------------------------------------------------- */

/* The client side of one gRPC unary call on stream 1 of a fresh connection. Bytes in from the
 * peer go through agent_gpu_h2_feed; bytes to send accumulate in `out`. Owned by the caller. */
typedef struct {
    agent_gpu_hpack hpack;
    odin_strbuf in;        /* unparsed input: at most one frame plus a read */
    odin_strbuf out;       /* to write to the peer */
    odin_strbuf body;      /* DATA of stream 1, capped at max_body */
    odin_strbuf hblock;    /* a HEADERS block awaiting its CONTINUATION frames */
    size_t max_body;
    bool got_headers;      /* response HEADERS seen */
    bool done;             /* stream 1 ended */
    bool hblock_end_stream;
    int http_status;       /* :status, 0 until seen */
    int grpc_status;       /* grpc-status trailer, -1 until seen */
    char grpc_message[128];
    char content_type[64];
} agent_gpu_h2;

enum { AGENT_GPU_H2_MAX_FRAME = 16384 }; /* SETTINGS_MAX_FRAME_SIZE we accept (the default) */

/* Prepares the call and queues the client preface, SETTINGS, the request HEADERS (path) and one
 * DATA frame with the gRPC-framed message in h->out. */
void agent_gpu_h2_init(agent_gpu_h2 *h, const char *path, const uint8_t *msg, size_t msg_len,
                       size_t max_body);
void agent_gpu_h2_fini(agent_gpu_h2 *h);
/* Feeds bytes read from the peer. Returns 1 when stream 1 has ended (h->done), 0 when more
 * input is needed; -ODIN_ERR_PARSE for a protocol error, -ODIN_ERR_LIMIT when the body passes
 * max_body, -ODIN_ERR_UNAVAILABLE for RST_STREAM or GOAWAY with an error. Replies (SETTINGS
 * and PING acks) are appended to h->out. */
int agent_gpu_h2_feed(agent_gpu_h2 *h, const uint8_t *p, size_t n, odin_err *err);
/* After the end: checks :status 200 and grpc-status 0 and returns the one gRPC message of the
 * body (borrowed from h). -ODIN_ERR_UNAVAILABLE with grpc-message when the server failed the
 * call, -ODIN_ERR_PARSE for bad framing or a compressed message. */
int agent_gpu_h2_message(const agent_gpu_h2 *h, const uint8_t **msg, size_t *len, odin_err *err);

/* ---- Pod resources (podres.c) ---------------------------------------------------------------- */

enum {
    AGENT_GPU_K8S_NAME_LEN = 254,  /* pod names are DNS subdomains: at most 253 bytes */
    AGENT_GPU_DEVICE_ID_LEN = 128,
    AGENT_GPU_PODRES_MAX_ENTRIES = 4096, /* device assignments kept from one answer */
    AGENT_GPU_PODRES_MAX_BODY = 16 << 20,
};

/* One NVIDIA device held by one container. */
typedef struct {
    char device_id[AGENT_GPU_DEVICE_ID_LEN]; /* as the device plugin gave it ("GPU-…", "MIG-…::2") */
    char pod[AGENT_GPU_K8S_NAME_LEN];
    char ns[AGENT_GPU_K8S_NAME_LEN]; /* namespace */
    char container[AGENT_GPU_K8S_NAME_LEN];
} agent_gpu_podres_entry;

/* The devices of one List answer, in answer order. Owned by the caller: _fini. */
typedef struct {
    agent_gpu_podres_entry *v;
    size_t n, cap;
} agent_gpu_podres;

void agent_gpu_podres_fini(agent_gpu_podres *r);
/* True for resource names dcgm-exporter counts as NVIDIA GPUs: nvidia.com/gpu and
 * nvidia.com/mig-*. */
bool agent_gpu_podres_is_gpu_resource(odin_str name);
/* Decodes a ListPodResourcesResponse, keeping the devices of GPU resources (appended to out).
 * Unknown fields are skipped; names longer than the limits above, or more than
 * AGENT_GPU_PODRES_MAX_ENTRIES devices, are -ODIN_ERR_LIMIT; malformed bytes -ODIN_ERR_PARSE. */
int agent_gpu_podres_decode(const uint8_t *p, size_t len, agent_gpu_podres *out, odin_err *err);
/* Calls /v1.PodResourcesLister/List on the kubelet's socket and decodes the answer into out
 * (emptied first). -ODIN_ERR_NOTFOUND when the socket does not exist, -ODIN_ERR_IO when it
 * cannot be reached, -ODIN_ERR_TIMEOUT past timeout_ms, else the errors above. */
int agent_gpu_podres_list(const char *socket_path, int64_t timeout_ms, agent_gpu_podres *out,
                          odin_err *err);

/* What a device id names. The "::N" replica suffix of shared GPUs is dropped first. */
typedef enum {
    AGENT_GPU_DEVID_UNKNOWN,
    AGENT_GPU_DEVID_UUID,     /* "GPU-…" or "MIG-<uuid>": uuid holds it */
    AGENT_GPU_DEVID_MIG_OLD,  /* R450/R460 "MIG-GPU-<uuid>/<gi>/<ci>": uuid is the parent's */
    AGENT_GPU_DEVID_INDEX,    /* "nvidia<N>" (device-name ids, GKE): index = N */
    AGENT_GPU_DEVID_GKE_MIG,  /* "nvidia<N>/gi<G>[/vgpu<V>]": index = N, gi = G */
} agent_gpu_devid_kind;

typedef struct {
    agent_gpu_devid_kind kind;
    odin_str uuid; /* borrowed from the id */
    unsigned index, gi;
} agent_gpu_devid;

/* Classifies a device id; never fails (unknown shapes are AGENT_GPU_DEVID_UNKNOWN). */
agent_gpu_devid agent_gpu_devid_parse(odin_str id);

#endif

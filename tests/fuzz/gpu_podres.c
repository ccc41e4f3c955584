/* libFuzzer target for the kubelet pod-resources client's decoders (src/agent/gpu/): the first
 * byte picks what the rest is: 0 an HTTP/2 answer (fed in uneven chunks, then the gRPC message
 * and ListPodResourcesResponse), 1 a protobuf ListPodResourcesResponse, 2 an HPACK header block
 * (decoded twice, so the dynamic table carries over), 3 a /proc/<pid>/cgroup file. Checks what
 * each result claims; a broken claim aborts, so the fuzzer reports it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cgroup_pod.h"
#include "agent/gpu/podres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static void check_podres(const uint8_t *p, size_t len)
{
    agent_gpu_podres r = {0};
    odin_err err;
    odin_err_clear(&err);
    int rc = agent_gpu_podres_decode(p, len, &r, &err);
    check(rc == 0 || rc == -ODIN_ERR_PARSE || rc == -ODIN_ERR_LIMIT);
    check(rc == 0 ? err.code == 0 : err.code == -rc);
    check(r.n <= AGENT_GPU_PODRES_MAX_ENTRIES);
    for (size_t i = 0; i < r.n; i++) {
        check(strlen(r.v[i].device_id) < AGENT_GPU_DEVICE_ID_LEN);
        check(strlen(r.v[i].pod) < AGENT_GPU_K8S_NAME_LEN);
        agent_gpu_devid d = agent_gpu_devid_parse(odin_str_c(r.v[i].device_id));
        check(d.uuid.len <= strlen(r.v[i].device_id));
    }
    agent_gpu_podres_fini(&r);
}

static void fuzz_h2(const uint8_t *p, size_t len)
{
    agent_gpu_h2 h;
    agent_gpu_h2_init(&h, "/v1.PodResourcesLister/List", NULL, 0, 1 << 16);
    odin_err err;
    odin_err_clear(&err);
    int rc = 0;
    size_t off = 0;
    for (size_t chunk = 1; off < len && rc == 0; chunk = chunk * 3 % 97 + 1) {
        size_t n = chunk < len - off ? chunk : len - off;
        rc = agent_gpu_h2_feed(&h, p + off, n, &err);
        off += n;
    }
    check(rc == 0 || rc == 1 || rc == -ODIN_ERR_PARSE || rc == -ODIN_ERR_LIMIT ||
          rc == -ODIN_ERR_UNAVAILABLE);
    check(h.body.len <= h.max_body);
    if (rc == 1) {
        const uint8_t *msg;
        size_t n;
        if (agent_gpu_h2_message(&h, &msg, &n, &err) == 0) {
            check(msg >= (const uint8_t *)h.body.p && msg + n <= (const uint8_t *)h.body.p +
                                                                 h.body.len);
            check_podres(msg, n);
        }
    }
    agent_gpu_h2_fini(&h);
}

static int on_field(odin_str name, odin_str value, void *ctx)
{
    (void)ctx;
    check(name.len <= 2 * AGENT_GPU_HPACK_MAX_STRING);
    check(value.len <= 2 * AGENT_GPU_HPACK_MAX_STRING);
    return 0;
}

static void fuzz_hpack(const uint8_t *p, size_t len)
{
    agent_gpu_hpack h;
    agent_gpu_hpack_init(&h);
    for (int i = 0; i < 2; i++) {
        int rc = agent_gpu_hpack_decode(&h, p, len, on_field, NULL, NULL);
        check(rc == 0 || rc == -ODIN_ERR_PARSE || rc == -ODIN_ERR_LIMIT);
        check(h.bytes <= h.max_bytes && h.n <= h.cap);
    }
    agent_gpu_hpack_fini(&h);
}

static void fuzz_cgroup(const uint8_t *p, size_t len)
{
    agent_cgroup_pod pod;
    memset(&pod, 0, sizeof(pod));
    if (agent_cgroup_pod_parse_file((odin_str){(const char *)p, len}, &pod)) {
        check(strlen(pod.pod_uid) == 36);
        check(strlen(pod.container_id) < AGENT_CGROUP_CONTAINER_ID_LEN);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    /* An exact-size copy: a read past the end is caught by AddressSanitizer. */
    uint8_t *buf = malloc(size - 1 ? size - 1 : 1);
    check(buf != NULL);
    memcpy(buf, data + 1, size - 1);
    switch (data[0] % 4) {
    case 0: fuzz_h2(buf, size - 1); break;
    case 1: check_podres(buf, size - 1); break;
    case 2: fuzz_hpack(buf, size - 1); break;
    default: fuzz_cgroup(buf, size - 1); break;
    }
    free(buf);
    return 0;
}

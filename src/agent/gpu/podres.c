/* The kubelet pod-resources API v1: List over the kubelet's Unix socket (gRPC), decoded into
 * the NVIDIA devices each container holds; and the device-id shapes device plugins use.
 * Messages and field numbers: kubernetes pkg/kubelet/apis/podresources/v1/api.proto
 * (dcgm.md §2.3). */
#include "agent/gpu/podres.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Field numbers of the messages we read; every other field is skipped. */
enum {
    LIST_RESPONSE_POD_RESOURCES = 1, /* ListPodResourcesResponse.pod_resources */
    POD_NAME = 1,                    /* PodResources */
    POD_NAMESPACE = 2,
    POD_CONTAINERS = 3,
    CONTAINER_NAME = 1,              /* ContainerResources */
    CONTAINER_DEVICES = 2,
    DEVICES_RESOURCE_NAME = 1,       /* ContainerDevices */
    DEVICES_DEVICE_IDS = 2,
};

void agent_gpu_podres_fini(agent_gpu_podres *r)
{
    free(r->v);
    memset(r, 0, sizeof(*r));
}

bool agent_gpu_podres_is_gpu_resource(odin_str name)
{
    /* matches dcgm-exporter 4.x: nvidia.com/gpu, or the MIG resources of the mixed strategy */
    return odin_str_eq_c(name, "nvidia.com/gpu") || odin_str_has_prefix(name, "nvidia.com/mig-");
}

/* Copies a string field into dst (cap bytes with the NUL); LIMIT when it does not fit. */
static int copy_field(char *dst, size_t cap, const agent_gpu_pb_field *f, const char *what,
                      odin_err *err)
{
    if (f->wire != AGENT_GPU_PB_LEN) {
        return odin_err_set(err, ODIN_ERR_PARSE, "pod-resources: %s is not a string", what);
    }
    if (f->nbytes >= cap) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "pod-resources: %s of %zu bytes (limit %zu)",
                            what, f->nbytes, cap - 1);
    }
    for (size_t i = 0; i < f->nbytes; i++) {
        if (f->bytes[i] == '\0') {
            return odin_err_set(err, ODIN_ERR_PARSE, "pod-resources: %s holds a NUL byte", what);
        }
    }
    memcpy(dst, f->bytes, f->nbytes);
    dst[f->nbytes] = '\0';
    return 0;
}

/* ContainerDevices: the ids of one resource; GPU resources only become entries. */
static int decode_devices(const agent_gpu_pb_field *msg, const agent_gpu_podres_entry *owner,
                          agent_gpu_podres *out, odin_err *err)
{
    agent_gpu_pb pb;
    agent_gpu_pb_field f;
    odin_str resource = {"", 0};
    int rc;
    agent_gpu_pb_init(&pb, msg->bytes, msg->nbytes);
    while ((rc = agent_gpu_pb_next(&pb, &f, err)) == 1) {
        if (f.num == DEVICES_RESOURCE_NAME && f.wire == AGENT_GPU_PB_LEN) {
            resource = (odin_str){(const char *)f.bytes, f.nbytes};
        }
    }
    if (rc < 0 || !agent_gpu_podres_is_gpu_resource(resource)) {
        return rc;
    }
    agent_gpu_pb_init(&pb, msg->bytes, msg->nbytes);
    while ((rc = agent_gpu_pb_next(&pb, &f, err)) == 1) {
        if (f.num != DEVICES_DEVICE_IDS) {
            continue;
        }
        if (out->n == AGENT_GPU_PODRES_MAX_ENTRIES) {
            return odin_err_set(err, ODIN_ERR_LIMIT, "pod-resources: more than %d GPU devices",
                                AGENT_GPU_PODRES_MAX_ENTRIES);
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 16;
            out->v = odin_realloc(out->v, out->cap * sizeof(*out->v));
        }
        agent_gpu_podres_entry *e = &out->v[out->n];
        *e = *owner;
        int c = copy_field(e->device_id, sizeof(e->device_id), &f, "device id", err);
        if (c < 0) {
            return c;
        }
        out->n++;
    }
    return rc;
}

/* ContainerResources: the name first (it may follow the devices on the wire), then devices. */
static int decode_container(const agent_gpu_pb_field *msg, agent_gpu_podres_entry *owner,
                            agent_gpu_podres *out, odin_err *err)
{
    agent_gpu_pb pb;
    agent_gpu_pb_field f;
    int rc;
    owner->container[0] = '\0';
    agent_gpu_pb_init(&pb, msg->bytes, msg->nbytes);
    while ((rc = agent_gpu_pb_next(&pb, &f, err)) == 1) {
        if (f.num == CONTAINER_NAME) {
            int c = copy_field(owner->container, sizeof(owner->container), &f, "container name",
                               err);
            if (c < 0) {
                return c;
            }
        }
    }
    if (rc < 0) {
        return rc;
    }
    agent_gpu_pb_init(&pb, msg->bytes, msg->nbytes);
    while ((rc = agent_gpu_pb_next(&pb, &f, err)) == 1) {
        if (f.num == CONTAINER_DEVICES && f.wire == AGENT_GPU_PB_LEN) {
            int c = decode_devices(&f, owner, out, err);
            if (c < 0) {
                return c;
            }
        }
    }
    return rc;
}

static int decode_pod(const agent_gpu_pb_field *msg, agent_gpu_podres *out, odin_err *err)
{
    agent_gpu_podres_entry owner;
    memset(&owner, 0, sizeof(owner));
    agent_gpu_pb pb;
    agent_gpu_pb_field f;
    int rc;
    agent_gpu_pb_init(&pb, msg->bytes, msg->nbytes);
    while ((rc = agent_gpu_pb_next(&pb, &f, err)) == 1) {
        int c = 0;
        if (f.num == POD_NAME) {
            c = copy_field(owner.pod, sizeof(owner.pod), &f, "pod name", err);
        } else if (f.num == POD_NAMESPACE) {
            c = copy_field(owner.ns, sizeof(owner.ns), &f, "pod namespace", err);
        }
        if (c < 0) {
            return c;
        }
    }
    if (rc < 0) {
        return rc;
    }
    agent_gpu_pb_init(&pb, msg->bytes, msg->nbytes);
    while ((rc = agent_gpu_pb_next(&pb, &f, err)) == 1) {
        if (f.num == POD_CONTAINERS && f.wire == AGENT_GPU_PB_LEN) {
            int c = decode_container(&f, &owner, out, err);
            if (c < 0) {
                return c;
            }
        }
    }
    return rc;
}

int agent_gpu_podres_decode(const uint8_t *p, size_t len, agent_gpu_podres *out, odin_err *err)
{
    agent_gpu_pb pb;
    agent_gpu_pb_field f;
    int rc;
    agent_gpu_pb_init(&pb, p, len);
    while ((rc = agent_gpu_pb_next(&pb, &f, err)) == 1) {
        if (f.num == LIST_RESPONSE_POD_RESOURCES && f.wire == AGENT_GPU_PB_LEN) {
            int prc = decode_pod(&f, out, err);
            if (prc < 0) {
                return prc;
            }
        }
    }
    return rc;
}

/* ---- Device ids ---------------------------------------------------------------------------- */

static bool take_uint(odin_str *s, unsigned *out)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < s->len && i < 9 && s->p[i] >= '0' && s->p[i] <= '9') {
        v = v * 10 + (uint64_t)(s->p[i] - '0');
        i++;
    }
    if (i == 0) {
        return false;
    }
    *out = (unsigned)v;
    s->p += i;
    s->len -= i;
    return true;
}

agent_gpu_devid agent_gpu_devid_parse(odin_str id)
{
    agent_gpu_devid d = {AGENT_GPU_DEVID_UNKNOWN, {"", 0}, 0, 0};
    for (size_t i = 0; i + 1 < id.len; i++) {
        if (id.p[i] == ':' && id.p[i + 1] == ':') {
            id.len = i; /* "::N": a replica of a shared GPU (time-slicing, MPS) */
            break;
        }
    }
    if (odin_str_has_prefix(id, "MIG-GPU-")) {
        odin_str rest = {id.p + 4, id.len - 4};
        odin_str uuid = odin_str_cut(&rest, '/');
        if (take_uint(&rest, &d.gi) && uuid.len) {
            d.kind = AGENT_GPU_DEVID_MIG_OLD;
            d.uuid = uuid;
        }
        return d;
    }
    if (odin_str_has_prefix(id, "GPU-") || odin_str_has_prefix(id, "MIG-")) {
        d.kind = AGENT_GPU_DEVID_UUID;
        d.uuid = id;
        return d;
    }
    if (!odin_str_has_prefix(id, "nvidia")) {
        return d;
    }
    odin_str rest = {id.p + 6, id.len - 6};
    if (!take_uint(&rest, &d.index)) {
        return d;
    }
    if (rest.len == 0 || odin_str_has_prefix(rest, "/vgpu")) {
        d.kind = AGENT_GPU_DEVID_INDEX; /* GKE "nvidia0/vgpu1" shares the whole GPU */
        return d;
    }
    if (odin_str_has_prefix(rest, "/gi")) {
        rest.p += 3;
        rest.len -= 3;
        if (take_uint(&rest, &d.gi) && (rest.len == 0 || odin_str_has_prefix(rest, "/vgpu"))) {
            d.kind = AGENT_GPU_DEVID_GKE_MIG;
        }
    }
    return d;
}

/* ---- The call ------------------------------------------------------------------------------ */

static int remaining_ms(int64_t deadline_ns)
{
    int64_t left = (deadline_ns - odin_mono_ns()) / 1000000;
    return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

static int connect_socket(const char *path, int64_t deadline_ns, odin_err *err)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof(sa.sun_path)) {
        return odin_err_set(err, ODIN_ERR_INVALID, "%.64s: socket path too long", path);
    }
    memcpy(sa.sun_path, path, n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return odin_err_errno(err, errno, "socket");
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        return fd;
    }
    int e = errno;
    if (e == EINPROGRESS || e == EAGAIN) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        socklen_t sl = sizeof(e);
        if (poll(&pfd, 1, remaining_ms(deadline_ns)) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == 0 && e == 0) {
            return fd;
        }
        e = e ? e : ETIMEDOUT;
    }
    close(fd);
    if (e == ENOENT) {
        return odin_err_set(err, ODIN_ERR_NOTFOUND, "%s: no such socket", path);
    }
    return odin_err_errno(err, e, "connect %s", path);
}

/* Writes what h queued and reads until stream 1 ends or the deadline passes. */
static int exchange(int fd, agent_gpu_h2 *h, int64_t deadline_ns, odin_err *err)
{
    uint8_t buf[16384];
    size_t sent = 0;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN | (sent < h->out.len ? POLLOUT : 0), 0};
        int ms = remaining_ms(deadline_ns);
        int pr = ms > 0 ? poll(&pfd, 1, ms) : 0;
        if (pr == 0) {
            return odin_err_set(err, ODIN_ERR_TIMEOUT, "pod-resources: no answer in time");
        }
        if (pr < 0) {
            if (errno == EINTR) {
                continue;
            }
            return odin_err_errno(err, errno, "poll");
        }
        if ((pfd.revents & POLLOUT) && sent < h->out.len) {
            ssize_t w = send(fd, h->out.p + sent, h->out.len - sent, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                return odin_err_errno(err, errno, "pod-resources: send");
            }
            sent += w > 0 ? (size_t)w : 0;
        }
        if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
            continue;
        }
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0) {
            return odin_err_set(err, ODIN_ERR_UNAVAILABLE,
                                "pod-resources: connection closed before the answer ended");
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            return odin_err_errno(err, errno, "pod-resources: recv");
        }
        int rc = agent_gpu_h2_feed(h, buf, (size_t)r, err);
        if (rc != 0) {
            return rc < 0 ? rc : 0;
        }
    }
}

int agent_gpu_podres_list(const char *socket_path, int64_t timeout_ms, agent_gpu_podres *out,
                          odin_err *err)
{
    out->n = 0;
    int64_t deadline = odin_mono_ns() + timeout_ms * 1000000;
    int fd = connect_socket(socket_path, deadline, err);
    if (fd < 0) {
        return fd;
    }
    agent_gpu_h2 h;
    /* ListPodResourcesRequest is empty: a zero-length message */
    agent_gpu_h2_init(&h, "/v1.PodResourcesLister/List", NULL, 0, AGENT_GPU_PODRES_MAX_BODY);
    int rc = exchange(fd, &h, deadline, err);
    const uint8_t *msg = NULL;
    size_t len = 0;
    if (rc == 0) {
        rc = agent_gpu_h2_message(&h, &msg, &len, err);
    }
    if (rc == 0) {
        rc = agent_gpu_podres_decode(msg, len, out, err);
    }
    agent_gpu_h2_fini(&h);
    close(fd);
    return rc < 0 ? rc : 0;
}

/* Kubernetes attribution for the gpu collector: the kubelet's pod-resources answer, refreshed on
 * the sampler thread every refresh period (never per scrape: dcgm-exporter issue #599), and a
 * cache of pid -> pod from /proc/<pid>/cgroup for the process source and per-process series. */
#include "agent/gpu/gpu_int.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_PIDS = 4096, CGROUP_FILE_MAX = 65536 };

typedef struct {
    unsigned pid;
    int state; /* 1 in a pod, 0 not, -1 unknown */
    agent_cgroup_pod cg;
    int64_t read_ms;
} pid_entry;

/* Owned by the sampler; sampler thread only. */
struct agent_gpu_pods {
    agent_gpu_pods_opts opts;
    char *socket, *procfs;
    agent_gpu_podres podres;
    int podres_up;        /* -1 not used, 0 failing, 1 answered */
    int64_t next_ms;      /* monotonic: next pod-resources List */
    char last_err[256];   /* last failure logged, so each is logged once */
    pid_entry *pids;
    size_t npids;
};

static int64_t mono_ms(void)
{
    return odin_mono_ns() / 1000000;
}

agent_gpu_pods *agent_gpu_pods_new(const agent_gpu_pods_opts *o)
{
    agent_gpu_pods *p = odin_calloc(1, sizeof(*p));
    p->opts = *o;
    p->socket = odin_strdup(o->socket ? o->socket : "");
    p->procfs = odin_strdup(o->procfs && o->procfs[0] ? o->procfs : "/proc");
    p->opts.socket = p->socket;
    p->opts.procfs = p->procfs;
    p->podres_up = o->enabled && o->source != AGENT_GPU_K8S_PROCESS ? 0 : -1;
    p->pids = odin_calloc(MAX_PIDS, sizeof(*p->pids));
    return p;
}

void agent_gpu_pods_free(agent_gpu_pods *p)
{
    if (!p) {
        return;
    }
    agent_gpu_podres_fini(&p->podres);
    free(p->socket);
    free(p->procfs);
    free(p->pids);
    free(p);
}

static void refresh_podres(agent_gpu_pods *p)
{
    odin_err err;
    odin_err_clear(&err);
    int rc = agent_gpu_podres_list(p->socket, 5000, &p->podres, &err);
    if (rc == 0) {
        if (p->podres_up != 1) {
            odin_strbuf n;
            odin_strbuf_init(&n, 32);
            odin_strbuf_put_u64(&n, p->podres.n);
            odin_log(ODIN_LOG_INFO, "gpu", "kubelet pod-resources answered: GPU pod labels on",
                     "socket", p->socket, "gpu_devices", n.p, NULL);
            odin_strbuf_fini(&n);
        }
        p->podres_up = 1;
        p->last_err[0] = '\0';
        return;
    }
    p->podres.n = 0; /* stale labels are worse than none */
    p->podres_up = 0;
    if (strcmp(p->last_err, err.msg) != 0) {
        memcpy(p->last_err, err.msg, sizeof(p->last_err));
        /* a missing socket is the usual "not on Kubernetes / not mounted" case: info */
        odin_log(rc == -ODIN_ERR_NOTFOUND ? ODIN_LOG_INFO : ODIN_LOG_WARN, "gpu",
                 "kubelet pod-resources unavailable: GPU series carry no pod labels", "err",
                 err.msg, NULL);
    }
}

void agent_gpu_pods_tick(agent_gpu_pods *p)
{
    if (!p->opts.enabled) {
        return;
    }
    int64_t now = mono_ms();
    if (now < p->next_ms) {
        return;
    }
    p->next_ms = now + p->opts.refresh_ms;
    if (p->opts.source != AGENT_GPU_K8S_PROCESS) {
        refresh_podres(p);
    }
    /* forget pids read more than a period ago: a reused pid is re-read */
    size_t k = 0;
    for (size_t i = 0; i < p->npids; i++) {
        if (now - p->pids[i].read_ms < p->opts.refresh_ms) {
            p->pids[k++] = p->pids[i];
        }
    }
    p->npids = k;
}

int agent_gpu_pods_podres_up(const agent_gpu_pods *p)
{
    return p->podres_up;
}

bool agent_gpu_pods_use_process(const agent_gpu_pods *p)
{
    return p->opts.enabled && (p->opts.source == AGENT_GPU_K8S_PROCESS ||
                               (p->opts.source == AGENT_GPU_K8S_AUTO && p->podres_up != 1));
}

static bool str_eq_c(odin_str a, const char *b)
{
    return b && b[0] && odin_str_eq_c(a, b);
}

const agent_gpu_podres_entry *agent_gpu_pods_device(const agent_gpu_pods *p, const char *uuid,
                                                    unsigned index, const char *mig_uuid,
                                                    bool mig, unsigned gi)
{
    const agent_gpu_podres_entry *found = NULL;
    for (size_t i = 0; i < p->podres.n; i++) {
        const agent_gpu_podres_entry *e = &p->podres.v[i];
        agent_gpu_devid d = agent_gpu_devid_parse(odin_str_c(e->device_id));
        bool hit = false;
        switch (d.kind) {
        case AGENT_GPU_DEVID_UUID: hit = mig ? str_eq_c(d.uuid, mig_uuid) : str_eq_c(d.uuid, uuid);
            break;
        case AGENT_GPU_DEVID_MIG_OLD: hit = mig && d.gi == gi && str_eq_c(d.uuid, uuid); break;
        case AGENT_GPU_DEVID_INDEX: hit = !mig && d.index == index; break;
        case AGENT_GPU_DEVID_GKE_MIG: hit = mig && d.index == index && d.gi == gi; break;
        default: break;
        }
        if (hit) {
            found = e; /* matches dcgm-exporter without virtual GPUs: the last one wins */
        }
    }
    return found;
}

static int read_pid(const agent_gpu_pods *p, unsigned pid, agent_cgroup_pod *out)
{
    odin_strbuf path, text;
    odin_strbuf_init(&path, 4096);
    odin_strbuf_init(&text, 0);
    odin_strbuf_printf(&path, "%s/%u/cgroup", p->procfs, pid);
    odin_err err;
    odin_err_clear(&err);
    int state = -1;
    if (odin_strbuf_ok(&path) && odin_read_file(path.p, &text, CGROUP_FILE_MAX, &err) == 0) {
        state = agent_cgroup_pod_parse_file((odin_str){text.p, text.len}, out) ? 1 : 0;
    }
    odin_strbuf_fini(&path);
    odin_strbuf_fini(&text);
    return state;
}

int agent_gpu_pods_pid(agent_gpu_pods *p, unsigned pid, agent_cgroup_pod *out)
{
    for (size_t i = 0; i < p->npids; i++) {
        if (p->pids[i].pid == pid) {
            *out = p->pids[i].cg;
            return p->pids[i].state;
        }
    }
    pid_entry e;
    memset(&e, 0, sizeof(e));
    e.pid = pid;
    e.read_ms = mono_ms();
    e.state = read_pid(p, pid, &e.cg);
    if (p->npids < MAX_PIDS) {
        p->pids[p->npids++] = e;
    }
    *out = e.cg;
    return e.state;
}

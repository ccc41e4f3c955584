/* gpu: dcgm-exporter's GPU metrics (DCGM_FI_*) from NVML loaded at run time, served from the
 * sampler's cache so a scrape never waits on the driver. docs/gpu.md says what differs. */
#include "agent/gpu/gpu_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const agent_flag_def gpu_flags[] = {
    {"collector.gpu.nvml-library", NULL,
     "Path of libnvidia-ml.so.1 (default: found through the library search path).", false, false},
    {"collector.gpu.counters-file", NULL,
     "Fields to serve, in dcgm-exporter's counters CSV format (dcgm-exporter's -f); default: its "
     "default-counters.csv.",
     false, false},
    {"collector.gpu.interval", "1s", "How often NVML is sampled; scrapes serve the last sample.",
     false, false},
    {"collector.gpu.slow-field-interval", "10s",
     "How often a field whose NVML call takes over 1 ms (e.g. total energy) is read; its last "
     "value is served in between. 0s reads it every sample.",
     false, false},
    {"collector.gpu.hostname-label", "Hostname",
     "Name of the host label (dcgm-exporter releases use Hostname, its HEAD hostname); empty "
     "omits it.",
     false, false},
    {"collector.gpu.hostname", NULL,
     "Value of the host label (default: $NODE_NAME, else the host name).", false, false},
    {"collector.gpu.processes", "true",
     "Serve per-process GPU memory and SM utilisation (odin_gpu_process_*).", true, false},
    {"collector.gpu.kubernetes", "false",
     "Add pod, namespace and container labels of the container holding each GPU "
     "(dcgm-exporter's DCGM_EXPORTER_KUBERNETES).",
     true, false},
    {"collector.gpu.kubernetes-source", "auto",
     "Where pod labels come from: pod-resources (the kubelet's socket), process (NVML's process "
     "lists and /proc/<pid>/cgroup: pod_uid and container_id only), or auto (pod-resources, "
     "else process).",
     false, false},
    {"collector.gpu.pod-resources-socket", "/var/lib/kubelet/pod-resources/kubelet.sock",
     "The kubelet's pod-resources socket.", false, false},
    {"collector.gpu.kubernetes-refresh-interval", "10s",
     "How often the pod mapping is re-read (on the sampling thread, never per scrape).", false,
     false},
    {NULL, NULL, NULL, false, false},
};

static const agent_desc d_up = {
    "odin_gpu_up", "Whether the GPU answers NVML (0 after GPU_IS_LOST until the agent restarts).",
    EXPFMT_GAUGE, {"gpu", "UUID", "pci_bus_id", "device", "modelName", NULL}};
static const agent_desc d_duration = {"odin_gpu_sample_duration_seconds",
                                      "Time the last NVML sample of all GPUs took.", EXPFMT_GAUGE,
                                      {NULL}};
static const agent_desc d_age = {"odin_gpu_sample_timestamp_seconds",
                                 "Wall time of the sample being served.", EXPFMT_GAUGE, {NULL}};
static const agent_desc d_podres_up = {
    "odin_gpu_pod_resources_up",
    "Whether the last kubelet pod-resources List answered (0: GPU series lack pod labels).",
    EXPFMT_GAUGE, {NULL}};
static const char *const h_proc_mem = "GPU memory a process holds, in bytes (NVML running "
                                      "process lists; processes on a GPU now only).";
static const char *const h_proc_sm = "Percent of the last sample window in which the process "
                                     "ran kernels on the GPU (nvmlDeviceGetProcessUtilization).";

/* Owned by the agent: made by gpu_init, freed by gpu_fini. Fixed after init; the cache it serves
 * lives in the sampler under the sampler's lock. */
typedef struct {
    agent_gpu_counters counters;
    char *host_label; /* NULL: no host label */
    char *host_value;
    bool kubernetes;
    agent_gpu_sampler *sampler;
} gpu_state;

/* Label names in dcgm-exporter's order; the writer sorts them as client_golang would. */
static const char *const id_names[AGENT_GPU_NIDS] = {
    "gpu", "UUID", "pci_bus_id", "device", "modelName", "GPU_I_PROFILE", "GPU_I_ID",
};

typedef struct {
    agent_scrape *sc;
    const gpu_state *st;
    int rc;
    odin_err *err;
} gpu_emit_ctx;

enum { MAX_LABELS = AGENT_GPU_NIDS + 1 + AGENT_GPU_MAX_FIELDS + 8 };

/* Identity labels of an entity and the host label. */
static size_t id_labels(const gpu_emit_ctx *c, const agent_gpu_entity *e, const char **names,
                        const char **values)
{
    size_t n = 0;
    for (size_t i = 0; i < AGENT_GPU_NIDS; i++) {
        if (i >= AGENT_GPU_ID_GI_PROFILE && !e->mig) {
            break;
        }
        names[n] = id_names[i];
        values[n++] = e->id[i];
    }
    if (c->st->host_label) {
        names[n] = c->st->host_label;
        values[n++] = c->st->host_value;
    }
    return n;
}

/* pod/namespace/container when a mapping exists (dcgm-exporter 4.x adds them only then). */
static size_t pod_labels(const agent_gpu_entity *e, const char **names, const char **values)
{
    size_t n = 0;
    if (e->pod[0]) {
        names[n] = "pod";
        values[n++] = e->pod;
        names[n] = "namespace";
        values[n++] = e->ns;
        names[n] = "container";
        values[n++] = e->container;
    }
    return n;
}

static size_t cgroup_labels(const agent_cgroup_pod *cg, const char **names, const char **values)
{
    size_t n = 0;
    if (cg->pod_uid[0]) {
        names[n] = "pod_uid";
        values[n++] = cg->pod_uid;
    }
    if (cg->container_id[0]) {
        names[n] = "container_id";
        values[n++] = cg->container_id;
    }
    return n;
}

static void emit_entity(gpu_emit_ctx *c, const agent_gpu_entity *e)
{
    const char *names[MAX_LABELS];
    const char *values[MAX_LABELS];
    size_t n = id_labels(c, e, names, values);
    n += pod_labels(e, names + n, values + n);
    agent_cgroup_pod cg;
    memcpy(cg.pod_uid, e->pod_uid, sizeof(cg.pod_uid));
    memcpy(cg.container_id, e->container_id, sizeof(cg.container_id));
    n += cgroup_labels(&cg, names + n, values + n);
    for (size_t i = 0; i < c->st->counters.nlabels; i++) {
        int f = c->st->counters.labels[i].field;
        names[n] = agent_gpu_fields[f].name;
        values[n++] = e->labels[f];
    }
    for (size_t i = 0; i < c->st->counters.nmetrics; i++) {
        const agent_gpu_counter *m = &c->st->counters.metrics[i];
        if (!(e->have & (1ull << m->field))) {
            continue; /* not supported, no permission, or not read this time: omitted */
        }
        agent_emit_dyn(c->sc, agent_gpu_fields[m->field].name, m->help, m->type,
                       e->values[m->field], n, names, values);
    }
}

/* Per-process series. Pod labels: the process's own cgroup gives pod_uid and container_id; the
 * names of the GPU's container are added when the process is in a pod, or when its cgroup
 * cannot be read (the agent runs in another pid namespace) and the GPU has a holder. */
static void emit_proc(gpu_emit_ctx *c, const agent_gpu_snapshot *snap, const agent_gpu_proc *p)
{
    const agent_gpu_entity *e = &snap->entities[p->entity];
    const char *names[MAX_LABELS];
    const char *values[MAX_LABELS];
    size_t n = id_labels(c, e, names, values);
    char pid[16];
    size_t k = sizeof(pid) - 1;
    pid[k] = '\0';
    unsigned v = p->pid;
    do {
        pid[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v && k);
    names[n] = "pid";
    values[n++] = pid + k;
    if (c->st->kubernetes && (p->in_pod || !p->cgroup_known)) {
        n += pod_labels(e, names + n, values + n);
    }
    if (c->st->kubernetes && p->in_pod) {
        n += cgroup_labels(&p->cg, names + n, values + n);
    }
    if (p->have_mem) {
        agent_emit_dyn(c->sc, "odin_gpu_process_memory_used_bytes", h_proc_mem, EXPFMT_GAUGE,
                       p->mem_bytes, n, names, values);
    }
    if (p->have_sm) {
        agent_emit_dyn(c->sc, "odin_gpu_process_sm_util_percent", h_proc_sm, EXPFMT_GAUGE,
                       p->sm_util, n, names, values);
    }
}

static void emit_snapshot(const agent_gpu_snapshot *snap, void *arg)
{
    gpu_emit_ctx *c = arg;
    if (snap->state != AGENT_GPU_READY) {
        c->rc = odin_err_set(c->err, ODIN_ERR_UNAVAILABLE, "%s",
                             snap->state == AGENT_GPU_STARTING ? "first NVML sample not taken yet"
                                                               : snap->reason);
        return;
    }
    for (size_t i = 0; i < snap->nentities; i++) {
        const agent_gpu_entity *e = &snap->entities[i];
        if (e->is_parent) {
            const char *ids[AGENT_GPU_ID_GI_PROFILE];
            for (size_t k = 0; k < AGENT_GPU_ID_GI_PROFILE; k++) {
                ids[k] = e->id[k];
            }
            agent_emit(c->sc, &d_up, e->lost ? 0 : 1, ids);
        }
        emit_entity(c, e);
    }
    for (size_t i = 0; i < snap->nprocs; i++) {
        emit_proc(c, snap, &snap->procs[i]);
    }
    if (snap->podres_up >= 0) {
        agent_emit(c->sc, &d_podres_up, snap->podres_up, NULL);
    }
    agent_emit(c->sc, &d_duration, snap->duration_s, NULL);
    agent_emit(c->sc, &d_age, (double)snap->sampled_ms / 1000, NULL);
}

static int gpu_collect(agent_scrape *sc, void *state, odin_err *err)
{
    gpu_state *st = state;
    gpu_emit_ctx c = {sc, st, 0, err};
    agent_gpu_sampler_read(st->sampler, emit_snapshot, &c);
    return c.rc;
}

static char *host_value(const agent *ag)
{
    const char *v = agent_flag(ag, "collector.gpu.hostname");
    if (v && v[0]) {
        return odin_strdup(v);
    }
    v = getenv("NODE_NAME"); /* matches dcgm-exporter: the Kubernetes node name wins */
    if (v && v[0]) {
        return odin_strdup(v);
    }
    char buf[256];
    if (gethostname(buf, sizeof(buf)) != 0) {
        return odin_strdup("");
    }
    buf[sizeof(buf) - 1] = '\0';
    return odin_strdup(buf);
}

static void gpu_fini(void *state)
{
    gpu_state *st = state;
    if (!st) {
        return;
    }
    agent_gpu_sampler_free(st->sampler);
    agent_gpu_counters_fini(&st->counters);
    free(st->host_label);
    free(st->host_value);
    free(st);
}

static int parse_interval(const agent *ag, int64_t *ms, int64_t *slow_ms, odin_err *err)
{
    const char *v = agent_flag(ag, "collector.gpu.interval");
    if (odin_parse_duration_ms(odin_str_c(v), ms) < 0 || *ms < 100) {
        /* GPM needs samples at least 100 ms apart */
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "--collector.gpu.interval: want a duration of at least 100ms, got "
                            "\"%.64s\"",
                            v);
    }
    v = agent_flag(ag, "collector.gpu.slow-field-interval");
    if (odin_parse_duration_ms(odin_str_c(v), slow_ms) < 0 || *slow_ms < 0) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "--collector.gpu.slow-field-interval: want a duration, got \"%.64s\"",
                            v);
    }
    return 0;
}

static int parse_pods(const agent *ag, agent_gpu_pods_opts *o, odin_err *err)
{
    o->enabled = agent_flag_bool(ag, "collector.gpu.kubernetes");
    o->socket = agent_flag(ag, "collector.gpu.pod-resources-socket");
    o->procfs = agent_flag(ag, "path.procfs");
    const char *src = agent_flag(ag, "collector.gpu.kubernetes-source");
    static const char *const names[] = {"auto", "pod-resources", "process"};
    static const agent_gpu_k8s_source sources[] = {
        AGENT_GPU_K8S_AUTO, AGENT_GPU_K8S_POD_RESOURCES, AGENT_GPU_K8S_PROCESS};
    size_t i = 0;
    while (i < ODIN_ARRAY_LEN(names) && strcmp(src ? src : "", names[i]) != 0) {
        i++;
    }
    if (i == ODIN_ARRAY_LEN(names)) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "--collector.gpu.kubernetes-source: want pod-resources, process or "
                            "auto, got \"%.64s\"",
                            src ? src : "");
    }
    o->source = sources[i];
    const char *r = agent_flag(ag, "collector.gpu.kubernetes-refresh-interval");
    if (odin_parse_duration_ms(odin_str_c(r ? r : ""), &o->refresh_ms) < 0 ||
        o->refresh_ms < 100) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "--collector.gpu.kubernetes-refresh-interval: want a duration of at "
                            "least 100ms, got \"%.64s\"",
                            r ? r : "");
    }
    return 0;
}

static int gpu_init(agent *ag, void **state, odin_err *err)
{
    int64_t interval_ms, slow_ms;
    if (parse_interval(ag, &interval_ms, &slow_ms, err) < 0) {
        return -ODIN_ERR_INVALID;
    }
    agent_gpu_pods_opts pods;
    memset(&pods, 0, sizeof(pods));
    if (parse_pods(ag, &pods, err) < 0) {
        return -ODIN_ERR_INVALID;
    }
    const char *label = agent_flag(ag, "collector.gpu.hostname-label");
    if (label && label[0] && !odin_label_name_valid(odin_str_c(label))) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "--collector.gpu.hostname-label: \"%.64s\" is not a label name", label);
    }
    gpu_state *st = odin_calloc(1, sizeof(*st));
    char *skipped = NULL;
    int rc = agent_gpu_counters_load(agent_flag(ag, "collector.gpu.counters-file"), &st->counters,
                                     &skipped, err);
    if (rc < 0) {
        free(st);
        return rc;
    }
    if (skipped) {
        odin_log(ODIN_LOG_WARN, "gpu", "counters not available from NVML, skipped", "fields",
                 skipped, NULL);
        free(skipped);
    }
    if (label && label[0]) {
        st->host_label = odin_strdup(label);
        st->host_value = host_value(ag);
    }
    st->kubernetes = pods.enabled;
    agent_gpu_sampler_opts o = {
        .library = agent_flag(ag, "collector.gpu.nvml-library"),
        .interval_ms = interval_ms,
        .slow_interval_ms = slow_ms,
        .wanted = st->counters.wanted,
        .processes = agent_flag_bool(ag, "collector.gpu.processes"),
        .pods = pods,
    };
    st->sampler = agent_gpu_sampler_new(&o);
    if (!st->sampler) {
        gpu_fini(st);
        return odin_err_set(err, ODIN_ERR_INTERNAL, "cannot start the GPU sampling thread");
    }
    *state = st;
    return 0;
}

const agent_collector_def agent_collector_gpu = {
    .name = "gpu",
    .default_on = true,
    .flags = gpu_flags,
    .init = gpu_init,
    .collect = gpu_collect,
    .fini = gpu_fini,
};

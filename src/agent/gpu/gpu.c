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
    {"collector.gpu.hostname-label", "Hostname",
     "Name of the host label (dcgm-exporter releases use Hostname, its HEAD hostname); empty "
     "omits it.",
     false, false},
    {"collector.gpu.hostname", NULL,
     "Value of the host label (default: $NODE_NAME, else the host name).", false, false},
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

/* Owned by the agent: made by gpu_init, freed by gpu_fini. Fixed after init; the cache it serves
 * lives in the sampler under the sampler's lock. */
typedef struct {
    agent_gpu_counters counters;
    char *host_label; /* NULL: no host label */
    char *host_value;
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

static void emit_entity(gpu_emit_ctx *c, const agent_gpu_entity *e)
{
    const char *names[AGENT_GPU_NIDS + 1 + AGENT_GPU_MAX_FIELDS];
    const char *values[AGENT_GPU_NIDS + 1 + AGENT_GPU_MAX_FIELDS];
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

static int parse_interval(const agent *ag, int64_t *ms, odin_err *err)
{
    const char *v = agent_flag(ag, "collector.gpu.interval");
    if (odin_parse_duration_ms(odin_str_c(v), ms) < 0 || *ms < 100) {
        /* GPM needs samples at least 100 ms apart */
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "--collector.gpu.interval: want a duration of at least 100ms, got "
                            "\"%.64s\"",
                            v);
    }
    return 0;
}

static int gpu_init(agent *ag, void **state, odin_err *err)
{
    int64_t interval_ms;
    if (parse_interval(ag, &interval_ms, err) < 0) {
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
    agent_gpu_sampler_opts o = {
        .library = agent_flag(ag, "collector.gpu.nvml-library"),
        .interval_ms = interval_ms,
        .wanted = st->counters.wanted,
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

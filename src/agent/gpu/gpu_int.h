/* Private to src/agent/gpu/: the DCGM fields we can serve from NVML, the counters file that
 * chooses them (dcgm-exporter's CSV format), and the sampler that reads NVML on its own timer and
 * keeps the latest values for the collector to serve.
 *
 * Threads: the sampler runs one thread of its own; the collector reads its snapshot under the
 * sampler's lock (agent_gpu_sampler_read). Lock order: the agent's scrape lock, then the sampler's
 * lock; the sampler thread takes only its own. */
#ifndef ODIN_AGENT_GPU_GPU_INT_H
#define ODIN_AGENT_GPU_GPU_INT_H

#include "agent/agent_int.h"
#include "agent/cgroup_pod.h"
#include "agent/gpu/podres.h"

/* ---- Fields (fields.c) ----------------------------------------------------------------------- */

/* How a field is read. One NVML call may serve several fields (utilisation gives GPU and memory
 * copy; remapped rows gives three), so the sampler groups by source. */
typedef enum {
    AGENT_GPU_SRC_CLOCK,       /* nvmlDeviceGetClockInfo(arg = clock type), MHz */
    AGENT_GPU_SRC_TEMP,        /* nvmlDeviceGetTemperature(GPU), C */
    AGENT_GPU_SRC_POWER,       /* nvmlDeviceGetPowerUsage, mW -> W */
    AGENT_GPU_SRC_ENERGY,      /* nvmlDeviceGetTotalEnergyConsumption, mJ */
    AGENT_GPU_SRC_PCIE_REPLAY, /* nvmlDeviceGetPcieReplayCounter */
    AGENT_GPU_SRC_UTIL_GPU,    /* nvmlDeviceGetUtilizationRates .gpu, % */
    AGENT_GPU_SRC_UTIL_MEM,    /* nvmlDeviceGetUtilizationRates .memory, % */
    AGENT_GPU_SRC_ENC,         /* nvmlDeviceGetEncoderUtilization, % */
    AGENT_GPU_SRC_DEC,         /* nvmlDeviceGetDecoderUtilization, % */
    AGENT_GPU_SRC_XID,         /* last XID from NVML events */
    AGENT_GPU_SRC_FB_FREE,     /* nvmlDeviceGetMemoryInfo[_v2], bytes -> MiB */
    AGENT_GPU_SRC_FB_USED,
    AGENT_GPU_SRC_FB_RESERVED, /* _v2 only */
    AGENT_GPU_SRC_FV,          /* nvmlDeviceGetFieldValues(arg = NVML_FI_DEV_*) */
    AGENT_GPU_SRC_NVLINK_BW,   /* field values 138+139, rate as DCGM publishes it */
    AGENT_GPU_SRC_VGPU_LICENSE, /* nvmlDeviceGetGridLicensableFeatures_v4 */
    AGENT_GPU_SRC_REMAP_UNC,   /* nvmlDeviceGetRemappedRows */
    AGENT_GPU_SRC_REMAP_COR,
    AGENT_GPU_SRC_REMAP_FAILURE,
    AGENT_GPU_SRC_GPM,         /* GPM metric arg (Hopper+), % -> ratio unless scale says */
    AGENT_GPU_SRC_LABEL_DRIVER, /* label fields: strings */
    AGENT_GPU_SRC_LABEL_NVML,
    AGENT_GPU_SRC_LABEL_SERIAL,
    AGENT_GPU_SRC_LABEL_VBIOS,
    AGENT_GPU_SRC_LABEL_INFOROM,       /* arg = NVML_INFOROM_* */
    AGENT_GPU_SRC_LABEL_INFOROM_IMAGE,
} agent_gpu_source;

typedef struct {
    const char *name;     /* DCGM field name, which dcgm-exporter uses as the metric name */
    agent_gpu_source src;
    unsigned arg;
    double div;           /* the exported value is the raw NVML value divided by div */
    bool per_instance;    /* under MIG read from the MIG device (else the parent's value) */
    bool is_label;        /* string field: only valid as a "label" line of the counters file */
} agent_gpu_field;

/* The table, in a fixed order; a field's index is its identity everywhere below. */
extern const agent_gpu_field agent_gpu_fields[];
extern const size_t agent_gpu_nfields;
enum { AGENT_GPU_MAX_FIELDS = 64, AGENT_GPU_LABEL_LEN = 96 };

/* Index of the field with that DCGM name, or -1. */
int agent_gpu_field_find(odin_str name);

/* ---- Counters file (counters.c) -------------------------------------------------------------- */

typedef struct {
    int field;        /* index into agent_gpu_fields */
    expfmt_type type;
    char *help;       /* heap, owned by the counters set */
} agent_gpu_counter;

/* What to serve: metrics in file order, then the label fields. Owned by the collector state;
 * freed by agent_gpu_counters_fini. */
typedef struct {
    agent_gpu_counter *metrics;
    size_t nmetrics;
    agent_gpu_counter *labels;
    size_t nlabels;
    uint64_t wanted; /* bit i: field i is served (metric or label) */
} agent_gpu_counters;

/* Parses dcgm-exporter's CSV ("FIELD, type, help"; '#' comments; fields trimmed). A malformed
 * line is -ODIN_ERR_PARSE with "<source>:<line>: ..."; a field NVML cannot give is skipped and
 * named in *skipped (heap string, caller frees; NULL when none). */
int agent_gpu_counters_parse(odin_str text, const char *source, agent_gpu_counters *out,
                             char **skipped, odin_err *err);
/* The file at path, or dcgm-exporter's default-counters.csv built in when path is NULL/empty. */
int agent_gpu_counters_load(const char *path, agent_gpu_counters *out, char **skipped,
                            odin_err *err);
void agent_gpu_counters_fini(agent_gpu_counters *c);

/* ---- Sampler (sampler.c) --------------------------------------------------------------------- */

typedef enum {
    AGENT_GPU_STARTING,    /* no sample yet */
    AGENT_GPU_UNAVAILABLE, /* no library, no driver or no GPU: reason says which */
    AGENT_GPU_READY,
} agent_gpu_state;

/* Identity labels of a series, in dcgm-exporter's order. MIG entities have the last two. */
enum {
    AGENT_GPU_ID_GPU,
    AGENT_GPU_ID_UUID,
    AGENT_GPU_ID_PCI_BUS_ID,
    AGENT_GPU_ID_DEVICE,
    AGENT_GPU_ID_MODEL,
    AGENT_GPU_ID_GI_PROFILE,
    AGENT_GPU_ID_GI_ID,
    AGENT_GPU_NIDS,
};

/* One series owner: a whole GPU, or one GPU instance of a GPU in MIG mode. */
typedef struct {
    char id[AGENT_GPU_NIDS][AGENT_GPU_LABEL_LEN];
    bool mig;
    bool lost;       /* GPU_IS_LOST or a reset is required: no values, up = 0 */
    bool is_parent;  /* first entity of its GPU: carries the GPU's up gauge */
    uint64_t have;   /* bit i: values[i] holds field i */
    double values[AGENT_GPU_MAX_FIELDS];
    char labels[AGENT_GPU_MAX_FIELDS][AGENT_GPU_LABEL_LEN]; /* label fields, by field index */
    /* Kubernetes (--collector.gpu.kubernetes): the container holding this GPU or instance per
     * pod-resources (empty: none known), or, from the process source, the one pod and container
     * whose processes run on it (empty: none, or several). */
    char pod[AGENT_GPU_K8S_NAME_LEN];
    char ns[AGENT_GPU_K8S_NAME_LEN];
    char container[AGENT_GPU_K8S_NAME_LEN];
    char pod_uid[AGENT_CGROUP_POD_UID_LEN];
    char container_id[AGENT_CGROUP_CONTAINER_ID_LEN];
} agent_gpu_entity;

/* One process using a GPU (or MIG instance) at sample time. */
typedef struct {
    size_t entity;   /* index into the snapshot's entities */
    unsigned pid;
    bool have_mem, have_sm;
    double mem_bytes; /* framebuffer the process holds */
    double sm_util;   /* percent of the last sample window its kernels ran */
    bool in_pod;      /* its cgroup is a kubelet pod's: pod_uid/container_id valid */
    bool cgroup_known; /* /proc/<pid>/cgroup could be read */
    agent_cgroup_pod cg;
} agent_gpu_proc;

/* The latest complete sample. Only valid inside agent_gpu_sampler_read's callback. */
typedef struct {
    agent_gpu_state state;
    char reason[256];
    agent_gpu_entity *entities;
    size_t nentities;
    size_t cap;
    int64_t sampled_ms; /* wall time of the sample */
    double duration_s;  /* how long the NVML reads took */
    agent_gpu_proc *procs; /* processes on the GPUs, bounded by AGENT_GPU_MAX_PROCS */
    size_t nprocs, procs_cap;
    int podres_up;      /* -1: pod-resources not used; else whether the last List worked */
} agent_gpu_snapshot;

enum { AGENT_GPU_MAX_PROCS = 1024, AGENT_GPU_MAX_UNIT_PROCS = 256 };

/* ---- Kubernetes mapping (pods.c) ------------------------------------------------------------- */

typedef enum {
    AGENT_GPU_K8S_AUTO,          /* pod-resources when it answers, else the process source */
    AGENT_GPU_K8S_POD_RESOURCES, /* kubelet pod-resources List only */
    AGENT_GPU_K8S_PROCESS,       /* NVML process lists mapped through /proc/<pid>/cgroup only */
} agent_gpu_k8s_source;

typedef struct {
    bool enabled;                /* --collector.gpu.kubernetes */
    agent_gpu_k8s_source source;
    const char *socket;          /* pod-resources socket path */
    const char *procfs;          /* --path.procfs */
    int64_t refresh_ms;          /* how often the mapping is re-read */
} agent_gpu_pods_opts;

/* Pod-resources answer and pid -> cgroup cache. Owned by the sampler, sampler thread only. */
typedef struct agent_gpu_pods agent_gpu_pods;

agent_gpu_pods *agent_gpu_pods_new(const agent_gpu_pods_opts *o);
void agent_gpu_pods_free(agent_gpu_pods *p);
/* Called once per tick: re-reads pod-resources when due (logging a change of state once) and
 * forgets cached pids not seen for a refresh period. Never called on a scrape. */
void agent_gpu_pods_tick(agent_gpu_pods *p);
/* -1 when pod-resources is not used, else 1/0 for the last List. */
int agent_gpu_pods_podres_up(const agent_gpu_pods *p);
/* True when GPU labels come from the process source (process mode, or auto with pod-resources
 * failing). */
bool agent_gpu_pods_use_process(const agent_gpu_pods *p);
/* The container pod-resources says holds a GPU (uuid, index; mig_uuid/gi for a GPU instance,
 * NULL/0 otherwise). Last match wins, as dcgm-exporter. NULL when none; valid until the next
 * agent_gpu_pods_tick. */
const agent_gpu_podres_entry *agent_gpu_pods_device(const agent_gpu_pods *p, const char *uuid,
                                                    unsigned index, const char *mig_uuid,
                                                    bool mig, unsigned gi);
/* A pid's pod from /proc/<pid>/cgroup (cached for a refresh period): 1 in a pod (out filled),
 * 0 not in a pod, -1 unknown (no such /proc entry: another pid namespace). */
int agent_gpu_pods_pid(agent_gpu_pods *p, unsigned pid, agent_cgroup_pod *out);

/* ---- Sampler options ------------------------------------------------------------------------- */

typedef struct {
    const char *library;     /* NULL: libnvidia-ml.so.1 through the search path */
    int64_t interval_ms;
    int64_t slow_interval_ms; /* how often a slow single-value call is read; 0: every sample */
    uint64_t wanted;         /* fields to read (agent_gpu_counters.wanted) */
    bool processes;          /* read per-process memory and utilisation */
    agent_gpu_pods_opts pods;
} agent_gpu_sampler_opts;

typedef struct agent_gpu_sampler agent_gpu_sampler;

/* Starts the sampling thread and waits up to 2 s for its first sample, so the first scrape after
 * start has data. Never fails for want of NVML (that is a state, not an error); NULL only when
 * the thread cannot be created. Owned by the
 * caller: agent_gpu_sampler_free stops and joins the thread and unloads NVML. */
agent_gpu_sampler *agent_gpu_sampler_new(const agent_gpu_sampler_opts *o);
void agent_gpu_sampler_free(agent_gpu_sampler *s);
/* Runs fn on the latest snapshot with the sampler's lock held; fn must not call NVML. */
void agent_gpu_sampler_read(agent_gpu_sampler *s,
                            void (*fn)(const agent_gpu_snapshot *snap, void *ctx), void *ctx);

#endif

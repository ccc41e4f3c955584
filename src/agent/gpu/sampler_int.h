/* Private to the GPU sampler's files (sampler.c: thread, enumeration, API; read.c: field reads
 * and entities; procs.c: processes and pod attribution): the per-GPU state the sampler thread
 * keeps, and the helpers the three share. Everything here is touched by the sampler thread only,
 * except the fields struct agent_gpu_sampler marks as guarded by its lock. */
#ifndef ODIN_AGENT_GPU_SAMPLER_INT_H
#define ODIN_AGENT_GPU_SAMPLER_INT_H

#include "agent/gpu/gpu_int.h"
#include "agent/gpu/nvml.h"

#include <pthread.h>

/* After a failed load, NVML is retried this often: a driver installed after the agent started
 * (dcgm-exporter issue #523) is picked up without a restart. */
enum { RETRY_MS = 30000, MAX_EVENTS_PER_TICK = 64, FIRST_SAMPLE_WAIT_MS = 2000 };

/* A single-value call that takes longer than this on two reads in a row is "slow" and is read at
 * most every opts.slow_interval_ms, its last value served in between. On an H100 with driver 580
 * nvmlDeviceGetTotalEnergyConsumption takes ~3 ms (the power and temperature reads ~1 us): at a
 * 1 s interval it was half of the sampler's CPU. Two reads, because a first call is often slow. */
enum { SLOW_CALL_NS = 1000000, NSIMPLE = AGENT_GPU_SRC_DEC + 1 };

/* The pacing state of one single-value source of one GPU. Sampler thread only. */
typedef struct {
    int64_t last_ns; /* what the last read cost */
    bool slow;       /* the last two reads both cost over SLOW_CALL_NS */
    int64_t next_ms; /* monotonic: when a slow source is read again */
    uint64_t mask;   /* fields the last read gave (0: it failed) */
    double value;
} gpu_paced;

/* One sampling unit: a whole GPU, or one MIG device of it. Sampler thread only. */
typedef struct {
    nvml_device h;
    unsigned gi_id;
    char uuid[NVML_UUID_BUFFER_SIZE]; /* a MIG device's own "MIG-…" UUID (pod-resources ids) */
    char gi_profile[32];
    uint64_t unsupported; /* verdicts for per-instance fields read through h */
    bool gpm_ok;
    bool gpm_have_prev;
    nvml_gpm_sample gpm[2];
    int gpm_cur;
} gpu_unit;

/* One physical GPU. Sampler thread only. */
typedef struct {
    nvml_device h;
    char id[AGENT_GPU_NIDS][AGENT_GPU_LABEL_LEN]; /* identity labels, MIG ones empty */
    char (*labels)[AGENT_GPU_LABEL_LEN];          /* per-device label fields, by field index */
    uint64_t unsupported; /* fields whose NVML call said NOT_SUPPORTED / NO_PERMISSION / absent */
    bool lost;
    bool lost_logged;
    bool xid_registered;
    double xid; /* last XID seen, 0 until one arrives */
    unsigned long long nvl_prev_kib;
    long long nvl_prev_us;
    bool nvl_have_prev;
    double nvl_rate;
    gpu_unit whole; /* the GPU itself */
    gpu_unit *mig;  /* MIG devices when MIG mode is on and instances exist */
    size_t nmig;
    unsigned index;                  /* NVML index */
    size_t first_entity;             /* this tick: the GPU's entity; its MIG entities follow */
    unsigned long long util_last_ts; /* newest process-utilisation sample seen, microseconds */
    gpu_paced paced[NSIMPLE];        /* by source, for read_simple's sources */
} gpu_dev;

/* Owned by the collector state; agent_gpu_sampler_free stops the thread and frees it.
 * `opts` and `thread` are fixed after _new. The fields from `lib` to `back` are touched only by
 * the sampler thread (and by _free after the join). `lock` guards `stop`, `published` and
 * `front`; `cond` signals both a stop request and the first published sample. */
struct agent_gpu_sampler {
    agent_gpu_sampler_opts opts;
    pthread_t thread;

    nvml_lib lib;
    bool ready;            /* NVML loaded and GPUs enumerated */
    int64_t retry_at_ms;   /* monotonic; next load attempt when not ready */
    char last_reason[256]; /* last unavailability logged, so each reason is logged once */
    gpu_dev *devs;
    size_t ndevs;
    nvml_event_set events;
    char driver[NVML_VERSION_BUFFER_SIZE];
    char nvml_version[NVML_VERSION_BUFFER_SIZE];
    nvml_gpm_metrics_get *gpm_get;         /* 13 KB, reused every tick */
    nvml_process_info *pbuf;               /* AGENT_GPU_MAX_UNIT_PROCS, reused */
    nvml_process_utilization_sample *ubuf; /* AGENT_GPU_MAX_UNIT_PROCS, reused */
    agent_gpu_pods *pods;
    agent_gpu_snapshot back;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    bool published;
    agent_gpu_snapshot front;
};

/* ---- Shared helpers (sampler.c, read.c, procs.c) ----------------------------------------------
 */

int64_t agent_gpu_mono_ms(void);
void agent_gpu_copy_str(char *dst, size_t cap, const char *src);
void agent_gpu_fmt_uint(char *out, size_t cap, unsigned long long v);
/* The fields of source src that are wanted and not known unsupported. */
uint64_t agent_gpu_wanted_src(const agent_gpu_sampler *s, agent_gpu_source src, uint64_t unsup);
/* Classifies an NVML result: true on success; marks a lost GPU or caches a permanent verdict. */
bool agent_gpu_check(gpu_dev *d, uint64_t *unsup, uint64_t mask, nvml_return rc);
/* Stores raw (scaled per field) for every field of mask in e. */
void agent_gpu_put(agent_gpu_entity *e, uint64_t mask, double raw);
agent_gpu_entity *agent_gpu_entity_add(agent_gpu_snapshot *snap);
/* Reads GPU d (and its MIG instances) into the back buffer's entities. */
void agent_gpu_sample_dev(agent_gpu_sampler *s, gpu_dev *d);
/* Reads d's running processes into the back buffer (when opts.processes). */
void agent_gpu_read_dev_procs(agent_gpu_sampler *s, gpu_dev *d);
/* Puts pod labels on the back buffer's entities and processes. */
void agent_gpu_attribute(agent_gpu_sampler *s);

#endif

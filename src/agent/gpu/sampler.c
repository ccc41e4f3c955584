/* The GPU sampler: a thread that reads NVML every interval into a back buffer and publishes it
 * under the lock, so a scrape only copies the latest values and never waits on NVML (a hung driver
 * stalls this thread, not /metrics). Also loads NVML, enumerates GPUs and MIG instances, keeps
 * per-GPU verdicts on unsupported fields, and drains XID events. */
#include "agent/gpu/gpu_int.h"
#include "agent/gpu/nvml.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    int64_t last_ns;  /* what the last read cost */
    bool slow;        /* the last two reads both cost over SLOW_CALL_NS */
    int64_t next_ms;  /* monotonic: when a slow source is read again */
    uint64_t mask;    /* fields the last read gave (0: it failed) */
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
    char (*labels)[AGENT_GPU_LABEL_LEN];           /* per-device label fields, by field index */
    uint64_t unsupported; /* fields whose NVML call said NOT_SUPPORTED / NO_PERMISSION / absent */
    bool lost;
    bool lost_logged;
    bool xid_registered;
    double xid;           /* last XID seen, 0 until one arrives */
    unsigned long long nvl_prev_kib;
    long long nvl_prev_us;
    bool nvl_have_prev;
    double nvl_rate;
    gpu_unit whole;       /* the GPU itself */
    gpu_unit *mig;        /* MIG devices when MIG mode is on and instances exist */
    size_t nmig;
    unsigned index;       /* NVML index */
    size_t first_entity;  /* this tick: the GPU's entity; its MIG entities follow */
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
    bool ready;               /* NVML loaded and GPUs enumerated */
    int64_t retry_at_ms;      /* monotonic; next load attempt when not ready */
    char last_reason[256];    /* last unavailability logged, so each reason is logged once */
    gpu_dev *devs;
    size_t ndevs;
    nvml_event_set events;
    char driver[NVML_VERSION_BUFFER_SIZE];
    char nvml_version[NVML_VERSION_BUFFER_SIZE];
    nvml_gpm_metrics_get *gpm_get; /* 13 KB, reused every tick */
    nvml_process_info *pbuf;                  /* AGENT_GPU_MAX_UNIT_PROCS, reused */
    nvml_process_utilization_sample *ubuf;    /* AGENT_GPU_MAX_UNIT_PROCS, reused */
    agent_gpu_pods *pods;
    agent_gpu_snapshot back;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    bool published;
    agent_gpu_snapshot front;
};

static int64_t mono_ms(void)
{
    return odin_mono_ns() / 1000000;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void fmt_uint(char *out, size_t cap, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < sizeof(tmp));
    size_t k = 0;
    while (n && k + 1 < cap) {
        out[k++] = tmp[--n];
    }
    out[k] = '\0';
}

static uint64_t wanted_src(const agent_gpu_sampler *s, agent_gpu_source src, uint64_t unsup)
{
    uint64_t m = 0;
    for (size_t i = 0; i < agent_gpu_nfields; i++) {
        if (agent_gpu_fields[i].src == src) {
            m |= 1ull << i;
        }
    }
    return m & s->opts.wanted & ~unsup;
}

/* Classifies a call's result. A lost GPU stops being read (until the agent restarts, as NVML
 * needs a reset); a permanent verdict is cached for the fields in mask so they are not retried
 * every tick; anything else (a timeout, a busy driver) just omits the value this time. */
static bool check(gpu_dev *d, uint64_t *unsup, uint64_t mask, nvml_return rc)
{
    if (rc == NVML_SUCCESS) {
        return true;
    }
    if (rc == NVML_ERROR_GPU_IS_LOST || rc == NVML_ERROR_RESET_REQUIRED) {
        d->lost = true;
    } else if (nvml_is_permanent(rc)) {
        *unsup |= mask;
    }
    return false;
}

/* ---- Reading one unit ------------------------------------------------------------------------ */

static void put(agent_gpu_entity *e, uint64_t mask, double raw)
{
    for (size_t i = 0; i < agent_gpu_nfields; i++) {
        if (mask & (1ull << i)) {
            double v = raw / agent_gpu_fields[i].div;
            agent_gpu_source src = agent_gpu_fields[i].src;
            if (src >= AGENT_GPU_SRC_FB_FREE && src <= AGENT_GPU_SRC_FB_RESERVED) {
                v = floor(v); /* DCGM divides integers: MiB are truncated */
            } else if (src == AGENT_GPU_SRC_GPM && agent_gpu_fields[i].div > 1) {
                /* matches dcgm-exporter, which prints doubles with %f: six decimals, so 95.9 %
                 * is 0.959 rather than 0.9590000000000001 */
                v = round(v * 1e6) / 1e6;
            }
            e->values[i] = v;
            e->have |= 1ull << i;
        }
    }
}

static double fv_value(const nvml_field_value *fv)
{
    if (fv->field_id == NVML_FI_DEV_MEMORY_TEMP) {
        return fv->value.ui; /* matches DCGM 4.6: a driver bug reports this as DOUBLE */
    }
    switch (fv->value_type) {
    case NVML_VALUE_TYPE_DOUBLE: return fv->value.d;
    case NVML_VALUE_TYPE_UNSIGNED_INT: return fv->value.ui;
    case NVML_VALUE_TYPE_UNSIGNED_LONG: return (double)fv->value.ul;
    case NVML_VALUE_TYPE_SIGNED_LONG_LONG: return (double)fv->value.sll;
    case NVML_VALUE_TYPE_SIGNED_INT: return fv->value.si;
    case NVML_VALUE_TYPE_UNSIGNED_SHORT: return fv->value.us;
    default: return (double)fv->value.ull;
    }
}

/* NVLink throughput as DCGM publishes DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL: the KiB counters of
 * all links, RX plus TX, turned into (delta / seconds / 1000); 0 on the first sample. */
static void nvlink_rate(gpu_dev *d, const nvml_field_value *fv, agent_gpu_entity *e,
                        uint64_t mask)
{
    if (fv[0].ret != NVML_SUCCESS || fv[1].ret != NVML_SUCCESS) {
        check(d, &d->unsupported, mask, fv[0].ret != NVML_SUCCESS ? fv[0].ret : fv[1].ret);
        return;
    }
    unsigned long long sum = fv[0].value.ull + fv[1].value.ull;
    long long ts = fv[0].timestamp;
    if (d->nvl_have_prev && ts > d->nvl_prev_us && sum >= d->nvl_prev_kib) {
        double dt_s = (double)(ts - d->nvl_prev_us) / 1e6;
        d->nvl_rate = floor((double)(sum - d->nvl_prev_kib) / dt_s / 1000);
    }
    d->nvl_prev_kib = sum;
    d->nvl_prev_us = ts;
    d->nvl_have_prev = true;
    put(e, mask, d->nvl_rate);
}

static void read_field_values(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e)
{
    uint64_t fvmask = wanted_src(s, AGENT_GPU_SRC_FV, d->unsupported);
    uint64_t nvl = wanted_src(s, AGENT_GPU_SRC_NVLINK_BW, d->unsupported);
    nvml_field_value fv[AGENT_GPU_MAX_FIELDS + 2];
    int field_of[AGENT_GPU_MAX_FIELDS + 2];
    int n = 0;
    memset(fv, 0, sizeof(fv));
    for (size_t i = 0; i < agent_gpu_nfields; i++) {
        if (fvmask & (1ull << i)) {
            field_of[n] = (int)i;
            fv[n++].field_id = agent_gpu_fields[i].arg;
        }
    }
    int nvl_at = n;
    if (nvl) {
        fv[n].field_id = NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX;
        fv[n++].scope_id = UINT32_MAX;
        fv[n].field_id = NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX;
        fv[n++].scope_id = UINT32_MAX;
    }
    if (n == 0) {
        return;
    }
    nvml_return rc = s->lib.device_get_field_values
                         ? s->lib.device_get_field_values(d->h, n, fv)
                         : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!check(d, &d->unsupported, fvmask | nvl, rc)) {
        return;
    }
    for (int k = 0; k < nvl_at; k++) {
        uint64_t bit = 1ull << field_of[k];
        if (!check(d, &d->unsupported, bit, fv[k].ret)) {
            continue;
        }
        double v = fv_value(&fv[k]);
        if (fv[k].field_id == NVML_FI_DEV_MEMORY_TEMP && v > 200) {
            continue; /* matches DCGM: readings over 200 C are invalid */
        }
        put(e, bit, v);
    }
    if (nvl) {
        nvlink_rate(d, &fv[nvl_at], e, nvl);
    }
}

/* Reads a unsigned via fn when any field of src is wanted. */
static void read_simple(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e,
                        agent_gpu_source src)
{
    uint64_t m = wanted_src(s, src, d->unsupported);
    if (!m) {
        return;
    }
    const nvml_lib *l = &s->lib;
    unsigned u = 0, period = 0;
    unsigned long long ull = 0;
    nvml_return rc = NVML_ERROR_FUNCTION_NOT_FOUND;
    double v = 0;
    switch (src) {
    case AGENT_GPU_SRC_TEMP:
        rc = l->device_get_temperature ? l->device_get_temperature(d->h, NVML_TEMPERATURE_GPU, &u)
                                       : rc;
        if (rc == NVML_SUCCESS && u > 200) {
            return; /* matches DCGM: readings over 200 C are invalid */
        }
        v = u;
        break;
    case AGENT_GPU_SRC_POWER:
        rc = l->device_get_power_usage ? l->device_get_power_usage(d->h, &u) : rc;
        v = u;
        break;
    case AGENT_GPU_SRC_ENERGY:
        rc = l->device_get_total_energy_consumption
                 ? l->device_get_total_energy_consumption(d->h, &ull)
                 : rc;
        v = (double)ull;
        break;
    case AGENT_GPU_SRC_PCIE_REPLAY:
        rc = l->device_get_pcie_replay_counter ? l->device_get_pcie_replay_counter(d->h, &u) : rc;
        v = u;
        break;
    case AGENT_GPU_SRC_ENC:
        rc = l->device_get_encoder_utilization
                 ? l->device_get_encoder_utilization(d->h, &u, &period)
                 : rc;
        v = u;
        break;
    case AGENT_GPU_SRC_DEC:
        rc = l->device_get_decoder_utilization
                 ? l->device_get_decoder_utilization(d->h, &u, &period)
                 : rc;
        v = u;
        break;
    default:
        return;
    }
    gpu_paced *p = &d->paced[src];
    p->mask = 0;
    if (check(d, &d->unsupported, m, rc)) {
        put(e, m, v);
        p->mask = m;
        p->value = v;
    }
}

/* read_simple, paced: a slow source is read every opts.slow_interval_ms and its last value served
 * in between (DCGM does the same for every field at its watch interval, 30 s in dcgm-exporter). */
static void read_simple_paced(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e,
                              agent_gpu_source src)
{
    gpu_paced *p = &d->paced[src];
    int64_t now = mono_ms();
    if (p->slow && s->opts.slow_interval_ms > 0 && now < p->next_ms) {
        uint64_t m = p->mask & s->opts.wanted & ~d->unsupported;
        if (m) {
            put(e, m, p->value);
        }
        return;
    }
    int64_t t0 = odin_mono_ns();
    read_simple(s, d, e, src);
    int64_t cost = odin_mono_ns() - t0;
    p->slow = cost > SLOW_CALL_NS && p->last_ns > SLOW_CALL_NS;
    p->last_ns = cost;
    p->next_ms = now + s->opts.slow_interval_ms;
}

static void read_clocks(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e)
{
    uint64_t m = wanted_src(s, AGENT_GPU_SRC_CLOCK, d->unsupported);
    for (size_t i = 0; m && i < agent_gpu_nfields; i++) {
        if (!(m & (1ull << i))) {
            continue;
        }
        unsigned mhz = 0;
        nvml_return rc = s->lib.device_get_clock_info
                             ? s->lib.device_get_clock_info(d->h, (int)agent_gpu_fields[i].arg, &mhz)
                             : NVML_ERROR_FUNCTION_NOT_FOUND;
        if (check(d, &d->unsupported, 1ull << i, rc)) {
            put(e, 1ull << i, mhz);
        }
    }
}

static void read_util(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e)
{
    uint64_t mg = wanted_src(s, AGENT_GPU_SRC_UTIL_GPU, d->unsupported);
    uint64_t mm = wanted_src(s, AGENT_GPU_SRC_UTIL_MEM, d->unsupported);
    if (!(mg | mm)) {
        return;
    }
    nvml_utilization u;
    nvml_return rc = s->lib.device_get_utilization_rates
                         ? s->lib.device_get_utilization_rates(d->h, &u)
                         : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (check(d, &d->unsupported, mg | mm, rc)) {
        put(e, mg, u.gpu);
        put(e, mm, u.memory);
    }
}

static void read_remap(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e)
{
    uint64_t mu = wanted_src(s, AGENT_GPU_SRC_REMAP_UNC, d->unsupported);
    uint64_t mc = wanted_src(s, AGENT_GPU_SRC_REMAP_COR, d->unsupported);
    uint64_t mf = wanted_src(s, AGENT_GPU_SRC_REMAP_FAILURE, d->unsupported);
    if (!(mu | mc | mf)) {
        return;
    }
    unsigned cor = 0, unc = 0, pending = 0, failed = 0;
    nvml_return rc = s->lib.device_get_remapped_rows
                         ? s->lib.device_get_remapped_rows(d->h, &cor, &unc, &pending, &failed)
                         : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (check(d, &d->unsupported, mu | mc | mf, rc)) {
        put(e, mu, unc);
        put(e, mc, cor);
        put(e, mf, failed ? 1 : 0);
    }
}

static void read_license(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e)
{
    uint64_t m = wanted_src(s, AGENT_GPU_SRC_VGPU_LICENSE, d->unsupported);
    if (!m) {
        return;
    }
    nvml_grid_licensable_features g;
    memset(&g, 0, sizeof(g));
    nvml_return rc = s->lib.device_get_grid_licensable_features_v4
                         ? s->lib.device_get_grid_licensable_features_v4(d->h, &g)
                         : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!check(d, &d->unsupported, m, rc)) {
        return;
    }
    /* DCGM: 0 unless licensing is supported and the vGPU feature is in a licensed state */
    double v = 0;
    unsigned n = g.licensable_features_count < 3 ? g.licensable_features_count : 3;
    for (unsigned i = 0; g.is_grid_license_supported && i < n; i++) {
        if (g.features[i].feature_code == NVML_GRID_LICENSE_FEATURE_CODE_VGPU) {
            v = g.features[i].feature_state > 0 ? 1 : 0;
        }
    }
    put(e, m, v);
}

/* Memory of a unit: a MIG device reports its own framebuffer. */
static void read_memory(const agent_gpu_sampler *s, gpu_dev *d, gpu_unit *u, agent_gpu_entity *e)
{
    uint64_t mf = wanted_src(s, AGENT_GPU_SRC_FB_FREE, u->unsupported);
    uint64_t mu = wanted_src(s, AGENT_GPU_SRC_FB_USED, u->unsupported);
    uint64_t mr = wanted_src(s, AGENT_GPU_SRC_FB_RESERVED, u->unsupported);
    if (!(mf | mu | mr)) {
        return;
    }
    if (s->lib.device_get_memory_info_v2) {
        nvml_memory_v2 m2 = {.version = NVML_MEMORY_V2_VERSION};
        nvml_return rc = s->lib.device_get_memory_info_v2(u->h, &m2);
        if (rc == NVML_SUCCESS) {
            put(e, mf, (double)m2.free);
            put(e, mu, (double)m2.used);
            put(e, mr, (double)m2.reserved);
            return;
        }
        if (!nvml_is_permanent(rc) && rc != NVML_ERROR_ARGUMENT_VERSION_MISMATCH) {
            check(d, &u->unsupported, 0, rc);
            return;
        }
    }
    /* Drivers before R510: the v1 struct, whose `used` includes the reserved memory, and no
     * reserved figure (DCGM does the same). */
    u->unsupported |= mr;
    nvml_memory m1;
    nvml_return rc = s->lib.device_get_memory_info ? s->lib.device_get_memory_info(u->h, &m1)
                                                   : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (check(d, &u->unsupported, mf | mu, rc)) {
        put(e, mf, (double)m1.free);
        put(e, mu, (double)m1.used);
    }
}

/* GPM (Hopper and newer): metrics are computed between this tick's sample and the last one. */
static void read_gpm(agent_gpu_sampler *s, gpu_dev *d, gpu_unit *u, bool mig, agent_gpu_entity *e)
{
    uint64_t m = wanted_src(s, AGENT_GPU_SRC_GPM, u->unsupported);
    if (!m || !u->gpm_ok) {
        return;
    }
    nvml_gpm_sample cur = u->gpm[u->gpm_cur];
    nvml_return rc = NVML_ERROR_FUNCTION_NOT_FOUND;
    if (mig && s->lib.gpm_mig_sample_get) {
        rc = s->lib.gpm_mig_sample_get(d->h, u->gi_id, cur);
    } else if (!mig && s->lib.gpm_sample_get) {
        rc = s->lib.gpm_sample_get(u->h, cur);
    }
    if (!check(d, &u->unsupported, m, rc)) {
        u->gpm_have_prev = false;
        return;
    }
    bool have_prev = u->gpm_have_prev;
    u->gpm_have_prev = true;
    u->gpm_cur ^= 1;
    if (!have_prev) {
        return;
    }
    nvml_gpm_metrics_get *g = s->gpm_get;
    memset(g, 0, offsetof(nvml_gpm_metrics_get, metrics));
    g->version = NVML_GPM_METRICS_GET_VERSION;
    g->sample1 = u->gpm[u->gpm_cur]; /* the older one: cur was flipped above */
    g->sample2 = cur;
    int field_of[AGENT_GPU_MAX_FIELDS];
    for (size_t i = 0; i < agent_gpu_nfields; i++) {
        if (m & (1ull << i)) {
            memset(&g->metrics[g->num_metrics], 0, sizeof(g->metrics[0]));
            field_of[g->num_metrics] = (int)i;
            g->metrics[g->num_metrics++].metric_id = agent_gpu_fields[i].arg;
        }
    }
    rc = s->lib.gpm_metrics_get ? s->lib.gpm_metrics_get(g) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!check(d, &u->unsupported, m, rc)) {
        return;
    }
    for (unsigned k = 0; k < g->num_metrics; k++) {
        uint64_t bit = 1ull << field_of[k];
        if (check(d, &u->unsupported, bit, g->metrics[k].ret) && !isnan(g->metrics[k].value)) {
            put(e, bit, g->metrics[k].value);
        }
    }
}

/* ---- Entities ------------------------------------------------------------------------------- */

static agent_gpu_entity *entity_add(agent_gpu_snapshot *snap)
{
    if (snap->nentities == snap->cap) {
        snap->cap = snap->cap ? snap->cap * 2 : 8;
        snap->entities = odin_realloc(snap->entities, snap->cap * sizeof(*snap->entities));
    }
    agent_gpu_entity *e = &snap->entities[snap->nentities++];
    e->have = 0;
    e->mig = false;
    e->lost = false;
    e->is_parent = false;
    e->pod[0] = e->ns[0] = e->container[0] = e->pod_uid[0] = e->container_id[0] = '\0';
    return e;
}

static void entity_labels(const agent_gpu_sampler *s, const gpu_dev *d, agent_gpu_entity *e)
{
    memcpy(e->id, d->id, sizeof(e->id));
    for (size_t i = 0; i < agent_gpu_nfields; i++) {
        if (!agent_gpu_fields[i].is_label || !(s->opts.wanted & (1ull << i))) {
            continue;
        }
        agent_gpu_source src = agent_gpu_fields[i].src;
        const char *v = src == AGENT_GPU_SRC_LABEL_DRIVER  ? s->driver
                        : src == AGENT_GPU_SRC_LABEL_NVML ? s->nvml_version
                                                          : d->labels[i];
        copy_str(e->labels[i], AGENT_GPU_LABEL_LEN, v);
    }
}

static void sample_dev(agent_gpu_sampler *s, gpu_dev *d)
{
    d->first_entity = s->back.nentities;
    agent_gpu_entity *e = entity_add(&s->back);
    entity_labels(s, d, e);
    e->is_parent = true;
    if (!d->lost) {
        read_clocks(s, d, e);
        static const agent_gpu_source simple[] = {
            AGENT_GPU_SRC_TEMP, AGENT_GPU_SRC_POWER, AGENT_GPU_SRC_ENERGY,
            AGENT_GPU_SRC_PCIE_REPLAY, AGENT_GPU_SRC_ENC, AGENT_GPU_SRC_DEC,
        };
        for (size_t i = 0; i < ODIN_ARRAY_LEN(simple); i++) {
            read_simple_paced(s, d, e, simple[i]);
        }
        read_util(s, d, e);
        read_field_values(s, d, e);
        read_license(s, d, e);
        read_remap(s, d, e);
        uint64_t xm = wanted_src(s, AGENT_GPU_SRC_XID, 0);
        if (d->xid_registered && xm) {
            put(e, xm, d->xid);
        }
        if (!d->nmig) {
            read_memory(s, d, &d->whole, e);
            read_gpm(s, d, &d->whole, false, e);
        }
    }
    if (d->lost) {
        e->have = 0;
        e->lost = true;
        return;
    }
    if (!d->nmig) {
        return;
    }
    /* MIG: one entity per GPU instance, with the GPU's device-level values (as DCGM reports
     * them for a GPU-instance entity) and its own memory and GPM values. The parent entity
     * then only carries the GPU's up gauge. */
    size_t parent = s->back.nentities - 1;
    for (size_t k = 0; k < d->nmig && !d->lost; k++) {
        agent_gpu_entity *m = entity_add(&s->back);
        agent_gpu_entity *p = &s->back.entities[parent]; /* entity_add may move the array */
        memcpy(m->values, p->values, sizeof(m->values));
        memcpy(m->labels, p->labels, sizeof(m->labels));
        memcpy(m->id, p->id, sizeof(m->id));
        m->have = p->have;
        m->mig = true;
        copy_str(m->id[AGENT_GPU_ID_GI_PROFILE], AGENT_GPU_LABEL_LEN, d->mig[k].gi_profile);
        fmt_uint(m->id[AGENT_GPU_ID_GI_ID], AGENT_GPU_LABEL_LEN, d->mig[k].gi_id);
        read_memory(s, d, &d->mig[k], m);
        read_gpm(s, d, &d->mig[k], true, m);
    }
    s->back.entities[parent].have = 0;
    if (d->lost) {
        s->back.nentities = parent + 1;
        s->back.entities[parent].lost = true;
    }
}

/* ---- Processes and Kubernetes attribution -------------------------------------------------- */

static agent_gpu_proc *proc_for(agent_gpu_snapshot *snap, size_t from, unsigned pid, bool add)
{
    for (size_t i = from; i < snap->nprocs; i++) {
        if (snap->procs[i].pid == pid) {
            return &snap->procs[i];
        }
    }
    if (!add || snap->nprocs == AGENT_GPU_MAX_PROCS) {
        return NULL; /* bounded: a node with more GPU processes loses the excess series */
    }
    if (snap->nprocs == snap->procs_cap) {
        snap->procs_cap = snap->procs_cap ? snap->procs_cap * 2 : 16;
        snap->procs = odin_realloc(snap->procs, snap->procs_cap * sizeof(*snap->procs));
    }
    agent_gpu_proc *p = &snap->procs[snap->nprocs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    return p;
}

/* Per-process utilisation (whole GPUs only: NVML has none under MIG). A process with no sample
 * since the last tick ran no kernel in that window: 0. */
static void read_proc_util(agent_gpu_sampler *s, gpu_dev *d, size_t from)
{
    if (!s->lib.device_get_process_utilization || s->back.nprocs == from) {
        return;
    }
    unsigned n = AGENT_GPU_MAX_UNIT_PROCS;
    nvml_return rc = s->lib.device_get_process_utilization(d->h, s->ubuf, &n, d->util_last_ts);
    if (rc != NVML_SUCCESS && rc != NVML_ERROR_NOT_FOUND) {
        return; /* NOT_SUPPORTED (MIG, old GPUs), INSUFFICIENT_SIZE: no utilisation series */
    }
    unsigned long long newest = d->util_last_ts;
    unsigned long long *best = odin_calloc(s->back.nprocs - from, sizeof(*best));
    for (unsigned i = 0; rc == NVML_SUCCESS && i < n && i < AGENT_GPU_MAX_UNIT_PROCS; i++) {
        const nvml_process_utilization_sample *u = &s->ubuf[i];
        agent_gpu_proc *p = proc_for(&s->back, from, u->pid, false);
        newest = u->time_stamp > newest ? u->time_stamp : newest;
        if (p && u->time_stamp >= best[p - s->back.procs - from]) {
            best[p - s->back.procs - from] = u->time_stamp;
            p->sm_util = u->sm_util <= 100 ? u->sm_util : 100;
            p->have_sm = true;
        }
    }
    free(best);
    d->util_last_ts = newest;
    for (size_t i = from; i < s->back.nprocs; i++) {
        s->back.procs[i].have_sm = true; /* those without a sample keep sm_util 0 */
    }
}

/* Compute and graphics processes of one unit (a GPU, or a MIG device), merged by pid. */
static void read_unit_procs(agent_gpu_sampler *s, nvml_device h, size_t entity)
{
    nvml_return (*const calls[2])(nvml_device, unsigned *, nvml_process_info *) = {
        s->lib.device_get_compute_running_processes_v3,
        s->lib.device_get_graphics_running_processes_v3,
    };
    size_t from = s->back.nprocs;
    for (int k = 0; k < 2; k++) {
        unsigned n = AGENT_GPU_MAX_UNIT_PROCS;
        if (!calls[k] || calls[k](h, &n, s->pbuf) != NVML_SUCCESS) {
            continue; /* INSUFFICIENT_SIZE past 256 processes: none rather than some */
        }
        for (unsigned i = 0; i < n && i < AGENT_GPU_MAX_UNIT_PROCS; i++) {
            agent_gpu_proc *p = proc_for(&s->back, from, s->pbuf[i].pid, true);
            if (!p) {
                break;
            }
            p->entity = entity;
            if (!p->have_mem && s->pbuf[i].used_gpu_memory != NVML_VALUE_NOT_AVAILABLE) {
                p->mem_bytes = (double)s->pbuf[i].used_gpu_memory;
                p->have_mem = true;
            }
        }
    }
    if (!s->opts.pods.enabled) {
        return;
    }
    for (size_t i = from; i < s->back.nprocs; i++) {
        agent_gpu_proc *p = &s->back.procs[i];
        int st = agent_gpu_pods_pid(s->pods, p->pid, &p->cg);
        p->in_pod = st == 1;
        p->cgroup_known = st >= 0;
    }
}

static void read_dev_procs(agent_gpu_sampler *s, gpu_dev *d)
{
    if (d->lost || (!s->opts.processes && !agent_gpu_pods_use_process(s->pods))) {
        return;
    }
    if (!d->nmig) {
        size_t from = s->back.nprocs;
        read_unit_procs(s, d->h, d->first_entity);
        read_proc_util(s, d, from);
        return;
    }
    for (size_t k = 0; k < d->nmig; k++) {
        read_unit_procs(s, d->mig[k].h, d->first_entity + 1 + k);
    }
}

static void set_pod(agent_gpu_entity *e, const agent_gpu_podres_entry *p)
{
    copy_str(e->pod, sizeof(e->pod), p->pod);
    copy_str(e->ns, sizeof(e->ns), p->ns);
    copy_str(e->container, sizeof(e->container), p->container);
}

/* The process source names a GPU's container only when all its pod processes share one. */
static void attribute_by_process(agent_gpu_snapshot *snap)
{
    for (size_t i = 0; i < snap->nprocs; i++) {
        const agent_gpu_proc *p = &snap->procs[i];
        agent_gpu_entity *e = &snap->entities[p->entity];
        if (!p->in_pod || e->container_id[0] == '-') {
            continue;
        }
        if (!e->pod_uid[0]) {
            copy_str(e->pod_uid, sizeof(e->pod_uid), p->cg.pod_uid);
            copy_str(e->container_id, sizeof(e->container_id), p->cg.container_id);
        } else if (strcmp(e->pod_uid, p->cg.pod_uid) != 0 ||
                   strcmp(e->container_id, p->cg.container_id) != 0) {
            e->container_id[0] = '-'; /* several containers: marked, cleared below */
        }
    }
    for (size_t i = 0; i < snap->nentities; i++) {
        if (snap->entities[i].container_id[0] == '-') {
            snap->entities[i].pod_uid[0] = snap->entities[i].container_id[0] = '\0';
        }
    }
}

static void attribute(agent_gpu_sampler *s)
{
    if (!s->opts.pods.enabled) {
        return;
    }
    for (size_t i = 0; i < s->ndevs; i++) {
        const gpu_dev *d = &s->devs[i];
        if (d->lost) {
            continue;
        }
        const agent_gpu_podres_entry *p;
        if (!d->nmig) {
            p = agent_gpu_pods_device(s->pods, d->id[AGENT_GPU_ID_UUID], d->index, NULL, false, 0);
            if (p) {
                set_pod(&s->back.entities[d->first_entity], p);
            }
            continue;
        }
        for (size_t k = 0; k < d->nmig; k++) {
            p = agent_gpu_pods_device(s->pods, d->id[AGENT_GPU_ID_UUID], d->index, d->mig[k].uuid,
                                      true, d->mig[k].gi_id);
            if (p) {
                set_pod(&s->back.entities[d->first_entity + 1 + k], p);
            }
        }
    }
    if (agent_gpu_pods_use_process(s->pods)) {
        attribute_by_process(&s->back);
    }
}

/* ---- Enumeration ----------------------------------------------------------------------------- */

static void read_label(const agent_gpu_sampler *s, gpu_dev *d, size_t f)
{
    const nvml_lib *l = &s->lib;
    char *out = d->labels[f];
    nvml_return rc = NVML_ERROR_FUNCTION_NOT_FOUND;
    switch (agent_gpu_fields[f].src) {
    case AGENT_GPU_SRC_LABEL_SERIAL:
        rc = l->device_get_serial ? l->device_get_serial(d->h, out, AGENT_GPU_LABEL_LEN) : rc;
        break;
    case AGENT_GPU_SRC_LABEL_VBIOS:
        rc = l->device_get_vbios_version
                 ? l->device_get_vbios_version(d->h, out, AGENT_GPU_LABEL_LEN)
                 : rc;
        break;
    case AGENT_GPU_SRC_LABEL_INFOROM:
        rc = l->device_get_inforom_version
                 ? l->device_get_inforom_version(d->h, (int)agent_gpu_fields[f].arg, out,
                                                 AGENT_GPU_LABEL_LEN)
                 : rc;
        break;
    case AGENT_GPU_SRC_LABEL_INFOROM_IMAGE:
        rc = l->device_get_inforom_image_version
                 ? l->device_get_inforom_image_version(d->h, out, AGENT_GPU_LABEL_LEN)
                 : rc;
        break;
    default:
        return;
    }
    out[AGENT_GPU_LABEL_LEN - 1] = '\0';
    if (rc != NVML_SUCCESS) {
        out[0] = '\0'; /* dcgm-exporter skips blank values: the label is then empty */
    }
}

/* "<slices>g.<GiB rounded up>gb", the profile name DCGM builds (dcgm.md §2.4). */
static void mig_profile(const agent_gpu_sampler *s, gpu_unit *u)
{
    nvml_device_attributes a;
    u->gi_profile[0] = '\0';
    if (!s->lib.device_get_attributes_v2 ||
        s->lib.device_get_attributes_v2(u->h, &a) != NVML_SUCCESS) {
        return;
    }
    odin_strbuf b;
    odin_strbuf_init(&b, sizeof(u->gi_profile));
    odin_strbuf_printf(&b, "%ug.%llugb", a.gpu_instance_slice_count,
                       (a.memory_size_mb + 1023) / 1024);
    if (odin_strbuf_ok(&b)) {
        copy_str(u->gi_profile, sizeof(u->gi_profile), b.p);
    }
    odin_strbuf_fini(&b);
}

static void gpm_setup(const agent_gpu_sampler *s, gpu_dev *d, gpu_unit *u)
{
    if (!wanted_src(s, AGENT_GPU_SRC_GPM, 0) || !s->lib.gpm_query_device_support ||
        !s->lib.gpm_sample_alloc) {
        return;
    }
    nvml_gpm_support sup = {.version = NVML_GPM_SUPPORT_VERSION};
    if (s->lib.gpm_query_device_support(d->h, &sup) != NVML_SUCCESS || !sup.is_supported_device) {
        return;
    }
    if (s->lib.gpm_sample_alloc(&u->gpm[0]) != NVML_SUCCESS) {
        return;
    }
    if (s->lib.gpm_sample_alloc(&u->gpm[1]) != NVML_SUCCESS) {
        s->lib.gpm_sample_free(u->gpm[0]);
        u->gpm[0] = NULL;
        return;
    }
    u->gpm_ok = true;
}

static void gpm_release(const agent_gpu_sampler *s, gpu_unit *u)
{
    for (int i = 0; i < 2; i++) {
        if (u->gpm[i] && s->lib.gpm_sample_free) {
            s->lib.gpm_sample_free(u->gpm[i]);
        }
        u->gpm[i] = NULL;
    }
    u->gpm_ok = false;
}

static void enumerate_mig(agent_gpu_sampler *s, gpu_dev *d)
{
    const nvml_lib *l = &s->lib;
    unsigned cur = 0, pending = 0, max = 0;
    if (!l->device_get_mig_mode || l->device_get_mig_mode(d->h, &cur, &pending) != NVML_SUCCESS ||
        cur != NVML_DEVICE_MIG_ENABLE || !l->device_get_max_mig_device_count ||
        l->device_get_max_mig_device_count(d->h, &max) != NVML_SUCCESS || max == 0 ||
        !l->device_get_mig_device_handle_by_index || !l->device_get_gpu_instance_id) {
        return;
    }
    d->mig = odin_calloc(max, sizeof(*d->mig));
    for (unsigned i = 0; i < max; i++) {
        gpu_unit *u = &d->mig[d->nmig];
        if (l->device_get_mig_device_handle_by_index(d->h, i, &u->h) != NVML_SUCCESS ||
            l->device_get_gpu_instance_id(u->h, &u->gi_id) != NVML_SUCCESS) {
            continue; /* NOT_FOUND: an empty slot */
        }
        if (!l->device_get_uuid ||
            l->device_get_uuid(u->h, u->uuid, sizeof(u->uuid)) != NVML_SUCCESS) {
            u->uuid[0] = '\0';
        }
        u->uuid[sizeof(u->uuid) - 1] = '\0';
        mig_profile(s, u);
        gpm_setup(s, d, u);
        d->nmig++;
    }
}

static void register_xid(agent_gpu_sampler *s, gpu_dev *d)
{
    const nvml_lib *l = &s->lib;
    if (!wanted_src(s, AGENT_GPU_SRC_XID, 0) || !l->event_set_create || !l->device_register_events ||
        !l->event_set_wait_v2) {
        return;
    }
    if (!s->events && l->event_set_create(&s->events) != NVML_SUCCESS) {
        s->events = NULL;
        return;
    }
    unsigned long long types = 0;
    if (l->device_get_supported_event_types &&
        (l->device_get_supported_event_types(d->h, &types) != NVML_SUCCESS ||
         !(types & NVML_EVENT_TYPE_XID_CRITICAL_ERROR))) {
        return;
    }
    d->xid_registered =
        l->device_register_events(d->h, NVML_EVENT_TYPE_XID_CRITICAL_ERROR, s->events) ==
        NVML_SUCCESS;
}

static bool dev_init(agent_gpu_sampler *s, gpu_dev *d, unsigned index)
{
    const nvml_lib *l = &s->lib;
    nvml_pci_info pci;
    memset(&pci, 0, sizeof(pci));
    if (l->device_get_handle_by_index_v2(index, &d->h) != NVML_SUCCESS) {
        return false;
    }
    d->index = index;
    fmt_uint(d->id[AGENT_GPU_ID_GPU], AGENT_GPU_LABEL_LEN, index);
    odin_strbuf b;
    odin_strbuf_init(&b, AGENT_GPU_LABEL_LEN);
    odin_strbuf_printf(&b, "nvidia%u", index);
    copy_str(d->id[AGENT_GPU_ID_DEVICE], AGENT_GPU_LABEL_LEN, b.p);
    odin_strbuf_fini(&b);
    if (l->device_get_uuid) {
        l->device_get_uuid(d->h, d->id[AGENT_GPU_ID_UUID], AGENT_GPU_LABEL_LEN);
    }
    if (l->device_get_name) {
        l->device_get_name(d->h, d->id[AGENT_GPU_ID_MODEL], AGENT_GPU_LABEL_LEN);
    }
    if (l->device_get_pci_info_v3 && l->device_get_pci_info_v3(d->h, &pci) == NVML_SUCCESS) {
        pci.bus_id[sizeof(pci.bus_id) - 1] = '\0';
        copy_str(d->id[AGENT_GPU_ID_PCI_BUS_ID], AGENT_GPU_LABEL_LEN, pci.bus_id);
    }
    for (size_t i = 0; i < AGENT_GPU_NIDS; i++) {
        d->id[i][AGENT_GPU_LABEL_LEN - 1] = '\0';
    }
    d->labels = odin_calloc(agent_gpu_nfields, sizeof(*d->labels));
    for (size_t f = 0; f < agent_gpu_nfields; f++) {
        if (agent_gpu_fields[f].is_label && (s->opts.wanted & (1ull << f))) {
            read_label(s, d, f);
        }
    }
    d->whole.h = d->h;
    enumerate_mig(s, d);
    if (!d->nmig) {
        gpm_setup(s, d, &d->whole);
    }
    register_xid(s, d);
    return true;
}

static void devs_free(agent_gpu_sampler *s)
{
    for (size_t i = 0; i < s->ndevs; i++) {
        gpu_dev *d = &s->devs[i];
        for (size_t k = 0; k < d->nmig; k++) {
            gpm_release(s, &d->mig[k]);
        }
        gpm_release(s, &d->whole);
        free(d->mig);
        free(d->labels);
    }
    free(s->devs);
    s->devs = NULL;
    s->ndevs = 0;
    if (s->events && s->lib.event_set_free) {
        s->lib.event_set_free(s->events);
    }
    s->events = NULL;
}

static int enumerate(agent_gpu_sampler *s, odin_err *err)
{
    const nvml_lib *l = &s->lib;
    unsigned count = 0;
    if (!l->device_get_count_v2 || !l->device_get_handle_by_index_v2) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE,
                            "NVML library lacks nvmlDeviceGetCount_v2 (driver older than R470?)");
    }
    nvml_return rc = l->device_get_count_v2(&count);
    if (rc != NVML_SUCCESS) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "nvmlDeviceGetCount_v2: %s",
                            nvml_error_string(l, rc));
    }
    if (count == 0) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "no NVIDIA GPU found");
    }
    s->driver[0] = s->nvml_version[0] = '\0';
    if (l->system_get_driver_version &&
        l->system_get_driver_version(s->driver, sizeof(s->driver)) != NVML_SUCCESS) {
        s->driver[0] = '\0';
    }
    if (l->system_get_nvml_version &&
        l->system_get_nvml_version(s->nvml_version, sizeof(s->nvml_version)) != NVML_SUCCESS) {
        s->nvml_version[0] = '\0';
    }
    s->driver[sizeof(s->driver) - 1] = s->nvml_version[sizeof(s->nvml_version) - 1] = '\0';
    s->devs = odin_calloc(count, sizeof(*s->devs));
    for (unsigned i = 0; i < count; i++) {
        if (dev_init(s, &s->devs[s->ndevs], i)) {
            s->ndevs++;
        } else {
            odin_log(ODIN_LOG_WARN, "gpu", "cannot open GPU, skipping it", "index",
                     s->devs[s->ndevs].id[AGENT_GPU_ID_GPU], NULL);
        }
    }
    if (s->ndevs == 0) {
        devs_free(s);
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "no NVIDIA GPU could be opened");
    }
    return 0;
}

/* Loads NVML and enumerates; on failure records why in the back snapshot and logs it once. */
static void load(agent_gpu_sampler *s)
{
    odin_err err = {0};
    int rc = nvml_open(&s->lib, s->opts.library, &err);
    if (rc == 0) {
        rc = enumerate(s, &err);
    }
    if (rc == 0) {
        s->ready = true;
        s->last_reason[0] = '\0';
        odin_strbuf n;
        odin_strbuf_init(&n, 32);
        odin_strbuf_put_u64(&n, s->ndevs);
        odin_log(ODIN_LOG_INFO, "gpu", "NVML loaded", "gpus", n.p, "driver", s->driver, NULL);
        odin_strbuf_fini(&n);
        return;
    }
    nvml_close(&s->lib);
    s->retry_at_ms = mono_ms() + RETRY_MS;
    s->back.state = AGENT_GPU_UNAVAILABLE;
    copy_str(s->back.reason, sizeof(s->back.reason), err.msg);
    if (strcmp(s->last_reason, err.msg) != 0) {
        copy_str(s->last_reason, sizeof(s->last_reason), err.msg);
        odin_log(ODIN_LOG_INFO, "gpu", "GPU metrics unavailable", "err", err.msg, NULL);
    }
}

/* Drains pending XID events without waiting (timeout 0), so XIDs reach the same sample. */
static void drain_events(agent_gpu_sampler *s)
{
    for (int i = 0; s->events && i < MAX_EVENTS_PER_TICK; i++) {
        nvml_event_data ev;
        memset(&ev, 0, sizeof(ev));
        if (s->lib.event_set_wait_v2(s->events, &ev, 0) != NVML_SUCCESS) {
            return; /* NVML_ERROR_TIMEOUT: no more events */
        }
        if (!(ev.event_type & NVML_EVENT_TYPE_XID_CRITICAL_ERROR)) {
            continue;
        }
        for (size_t k = 0; k < s->ndevs; k++) {
            if (s->devs[k].h == ev.device) {
                s->devs[k].xid = (double)ev.event_data;
            }
        }
    }
}

static void tick(agent_gpu_sampler *s)
{
    int64_t t0 = odin_mono_ns();
    s->back.nentities = 0;
    if (!s->ready) {
        if (mono_ms() < s->retry_at_ms) {
            return; /* keeps the reason of the last attempt */
        }
        load(s);
        if (!s->ready) {
            return;
        }
    }
    drain_events(s);
    agent_gpu_pods_tick(s->pods);
    s->back.nprocs = 0;
    for (size_t i = 0; i < s->ndevs; i++) {
        gpu_dev *d = &s->devs[i];
        sample_dev(s, d);
        if (d->lost && !d->lost_logged) {
            d->lost_logged = true;
            odin_log(ODIN_LOG_WARN, "gpu", "GPU lost: its metrics are no longer served", "gpu",
                     d->id[AGENT_GPU_ID_GPU], "uuid", d->id[AGENT_GPU_ID_UUID], NULL);
        }
        read_dev_procs(s, d);
    }
    attribute(s);
    s->back.podres_up = agent_gpu_pods_podres_up(s->pods);
    s->back.state = AGENT_GPU_READY;
    s->back.reason[0] = '\0';
    s->back.sampled_ms = odin_now_ms();
    s->back.duration_s = (double)(odin_mono_ns() - t0) / 1e9;
}

/* ---- Thread and public API ----------------------------------------------------------------- */

static void *sampler_main(void *arg)
{
    agent_gpu_sampler *s = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        tick(s);
        pthread_mutex_lock(&s->lock);
        agent_gpu_snapshot t = s->front;
        s->front = s->back;
        s->back = t;
        s->published = true;
        pthread_cond_broadcast(&s->cond);
        /* keep the state and reason of the published sample for the next tick to start from */
        s->back.state = s->front.state;
        memcpy(s->back.reason, s->front.reason, sizeof(s->back.reason));
        int64_t ns = (int64_t)next.tv_nsec + (s->opts.interval_ms % 1000) * 1000000;
        next.tv_sec += (time_t)(s->opts.interval_ms / 1000 + ns / 1000000000);
        next.tv_nsec = (long)(ns % 1000000000);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec + 1) {
            next = now; /* fell behind (a slow driver): do not fire a burst of catch-up ticks */
        }
        while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &next) == 0) {
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

agent_gpu_sampler *agent_gpu_sampler_new(const agent_gpu_sampler_opts *o)
{
    agent_gpu_sampler *s = odin_calloc(1, sizeof(*s));
    s->opts = *o;
    s->gpm_get = odin_calloc(1, sizeof(*s->gpm_get));
    s->pbuf = odin_calloc(AGENT_GPU_MAX_UNIT_PROCS, sizeof(*s->pbuf));
    s->ubuf = odin_calloc(AGENT_GPU_MAX_UNIT_PROCS, sizeof(*s->ubuf));
    s->pods = agent_gpu_pods_new(&o->pods);
    s->front.podres_up = s->back.podres_up = -1;
    s->front.state = s->back.state = AGENT_GPU_STARTING;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, sampler_main, s) != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        agent_gpu_pods_free(s->pods);
        free(s->pbuf);
        free(s->ubuf);
        free(s->gpm_get);
        free(s);
        return NULL;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += FIRST_SAMPLE_WAIT_MS / 1000;
    pthread_mutex_lock(&s->lock);
    while (!s->published && pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0) {
    }
    pthread_mutex_unlock(&s->lock);
    return s;
}

void agent_gpu_sampler_free(agent_gpu_sampler *s)
{
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    devs_free(s);
    nvml_close(&s->lib);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s->front.entities);
    free(s->back.entities);
    free(s->front.procs);
    free(s->back.procs);
    agent_gpu_pods_free(s->pods);
    free(s->pbuf);
    free(s->ubuf);
    free(s->gpm_get);
    free(s);
}

void agent_gpu_sampler_read(agent_gpu_sampler *s,
                            void (*fn)(const agent_gpu_snapshot *snap, void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->lock);
    fn(&s->front, ctx);
    pthread_mutex_unlock(&s->lock);
}

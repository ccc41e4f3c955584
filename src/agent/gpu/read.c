/* Reading one GPU (and its MIG instances) from NVML into the sampler's back buffer: every field
 * source, the pacing of slow calls, and the entities (one per GPU or GPU instance) a sample holds.
 * Sampler thread only. */
#include "agent/gpu/sampler_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Reading one unit ------------------------------------------------------------------------ */

void agent_gpu_put(agent_gpu_entity *e, uint64_t mask, double raw)
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
    case NVML_VALUE_TYPE_DOUBLE:
        return fv->value.d;
    case NVML_VALUE_TYPE_UNSIGNED_INT:
        return fv->value.ui;
    case NVML_VALUE_TYPE_UNSIGNED_LONG:
        return (double)fv->value.ul;
    case NVML_VALUE_TYPE_SIGNED_LONG_LONG:
        return (double)fv->value.sll;
    case NVML_VALUE_TYPE_SIGNED_INT:
        return fv->value.si;
    case NVML_VALUE_TYPE_UNSIGNED_SHORT:
        return fv->value.us;
    default:
        return (double)fv->value.ull;
    }
}

/* NVLink throughput as DCGM publishes DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL: the KiB counters of
 * all links, RX plus TX, turned into (delta / seconds / 1000); 0 on the first sample. */
static void nvlink_rate(gpu_dev *d, const nvml_field_value *fv, agent_gpu_entity *e, uint64_t mask)
{
    if (fv[0].ret != NVML_SUCCESS || fv[1].ret != NVML_SUCCESS) {
        agent_gpu_check(d, &d->unsupported, mask,
                        fv[0].ret != NVML_SUCCESS ? fv[0].ret : fv[1].ret);
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
    agent_gpu_put(e, mask, d->nvl_rate);
}

static void read_field_values(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e)
{
    uint64_t fvmask = agent_gpu_wanted_src(s, AGENT_GPU_SRC_FV, d->unsupported);
    uint64_t nvl = agent_gpu_wanted_src(s, AGENT_GPU_SRC_NVLINK_BW, d->unsupported);
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
    nvml_return rc = s->lib.device_get_field_values ? s->lib.device_get_field_values(d->h, n, fv)
                                                    : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!agent_gpu_check(d, &d->unsupported, fvmask | nvl, rc)) {
        return;
    }
    for (int k = 0; k < nvl_at; k++) {
        uint64_t bit = 1ull << field_of[k];
        if (!agent_gpu_check(d, &d->unsupported, bit, fv[k].ret)) {
            continue;
        }
        double v = fv_value(&fv[k]);
        if (fv[k].field_id == NVML_FI_DEV_MEMORY_TEMP && v > 200) {
            continue; /* matches DCGM: readings over 200 C are invalid */
        }
        agent_gpu_put(e, bit, v);
    }
    if (nvl) {
        nvlink_rate(d, &fv[nvl_at], e, nvl);
    }
}

/* Reads a unsigned via fn when any field of src is wanted. */
static void read_simple(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e,
                        agent_gpu_source src)
{
    uint64_t m = agent_gpu_wanted_src(s, src, d->unsupported);
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
    if (agent_gpu_check(d, &d->unsupported, m, rc)) {
        agent_gpu_put(e, m, v);
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
    int64_t now = agent_gpu_mono_ms();
    if (p->slow && s->opts.slow_interval_ms > 0 && now < p->next_ms) {
        uint64_t m = p->mask & s->opts.wanted & ~d->unsupported;
        if (m) {
            agent_gpu_put(e, m, p->value);
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
    uint64_t m = agent_gpu_wanted_src(s, AGENT_GPU_SRC_CLOCK, d->unsupported);
    for (size_t i = 0; m && i < agent_gpu_nfields; i++) {
        if (!(m & (1ull << i))) {
            continue;
        }
        unsigned mhz = 0;
        nvml_return rc =
            s->lib.device_get_clock_info
                ? s->lib.device_get_clock_info(d->h, (int)agent_gpu_fields[i].arg, &mhz)
                : NVML_ERROR_FUNCTION_NOT_FOUND;
        if (agent_gpu_check(d, &d->unsupported, 1ull << i, rc)) {
            agent_gpu_put(e, 1ull << i, mhz);
        }
    }
}

static void read_util(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e)
{
    uint64_t mg = agent_gpu_wanted_src(s, AGENT_GPU_SRC_UTIL_GPU, d->unsupported);
    uint64_t mm = agent_gpu_wanted_src(s, AGENT_GPU_SRC_UTIL_MEM, d->unsupported);
    if (!(mg | mm)) {
        return;
    }
    nvml_utilization u;
    nvml_return rc = s->lib.device_get_utilization_rates
                         ? s->lib.device_get_utilization_rates(d->h, &u)
                         : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (agent_gpu_check(d, &d->unsupported, mg | mm, rc)) {
        agent_gpu_put(e, mg, u.gpu);
        agent_gpu_put(e, mm, u.memory);
    }
}

static void read_remap(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e)
{
    uint64_t mu = agent_gpu_wanted_src(s, AGENT_GPU_SRC_REMAP_UNC, d->unsupported);
    uint64_t mc = agent_gpu_wanted_src(s, AGENT_GPU_SRC_REMAP_COR, d->unsupported);
    uint64_t mf = agent_gpu_wanted_src(s, AGENT_GPU_SRC_REMAP_FAILURE, d->unsupported);
    if (!(mu | mc | mf)) {
        return;
    }
    unsigned cor = 0, unc = 0, pending = 0, failed = 0;
    nvml_return rc = s->lib.device_get_remapped_rows
                         ? s->lib.device_get_remapped_rows(d->h, &cor, &unc, &pending, &failed)
                         : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (agent_gpu_check(d, &d->unsupported, mu | mc | mf, rc)) {
        agent_gpu_put(e, mu, unc);
        agent_gpu_put(e, mc, cor);
        agent_gpu_put(e, mf, failed ? 1 : 0);
    }
}

static void read_license(const agent_gpu_sampler *s, gpu_dev *d, agent_gpu_entity *e)
{
    uint64_t m = agent_gpu_wanted_src(s, AGENT_GPU_SRC_VGPU_LICENSE, d->unsupported);
    if (!m) {
        return;
    }
    nvml_grid_licensable_features g;
    memset(&g, 0, sizeof(g));
    nvml_return rc = s->lib.device_get_grid_licensable_features_v4
                         ? s->lib.device_get_grid_licensable_features_v4(d->h, &g)
                         : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!agent_gpu_check(d, &d->unsupported, m, rc)) {
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
    agent_gpu_put(e, m, v);
}

/* Memory of a unit: a MIG device reports its own framebuffer. */
static void read_memory(const agent_gpu_sampler *s, gpu_dev *d, gpu_unit *u, agent_gpu_entity *e)
{
    uint64_t mf = agent_gpu_wanted_src(s, AGENT_GPU_SRC_FB_FREE, u->unsupported);
    uint64_t mu = agent_gpu_wanted_src(s, AGENT_GPU_SRC_FB_USED, u->unsupported);
    uint64_t mr = agent_gpu_wanted_src(s, AGENT_GPU_SRC_FB_RESERVED, u->unsupported);
    if (!(mf | mu | mr)) {
        return;
    }
    if (s->lib.device_get_memory_info_v2) {
        nvml_memory_v2 m2 = {.version = NVML_MEMORY_V2_VERSION};
        nvml_return rc = s->lib.device_get_memory_info_v2(u->h, &m2);
        if (rc == NVML_SUCCESS) {
            agent_gpu_put(e, mf, (double)m2.free);
            agent_gpu_put(e, mu, (double)m2.used);
            agent_gpu_put(e, mr, (double)m2.reserved);
            return;
        }
        if (!nvml_is_permanent(rc) && rc != NVML_ERROR_ARGUMENT_VERSION_MISMATCH) {
            agent_gpu_check(d, &u->unsupported, 0, rc);
            return;
        }
    }
    /* Drivers before R510: the v1 struct, whose `used` includes the reserved memory, and no
     * reserved figure (DCGM does the same). */
    u->unsupported |= mr;
    nvml_memory m1;
    nvml_return rc = s->lib.device_get_memory_info ? s->lib.device_get_memory_info(u->h, &m1)
                                                   : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (agent_gpu_check(d, &u->unsupported, mf | mu, rc)) {
        agent_gpu_put(e, mf, (double)m1.free);
        agent_gpu_put(e, mu, (double)m1.used);
    }
}

/* GPM (Hopper and newer): metrics are computed between this tick's sample and the last one. */
static void read_gpm(agent_gpu_sampler *s, gpu_dev *d, gpu_unit *u, bool mig, agent_gpu_entity *e)
{
    uint64_t m = agent_gpu_wanted_src(s, AGENT_GPU_SRC_GPM, u->unsupported);
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
    if (!agent_gpu_check(d, &u->unsupported, m, rc)) {
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
    if (!agent_gpu_check(d, &u->unsupported, m, rc)) {
        return;
    }
    for (unsigned k = 0; k < g->num_metrics; k++) {
        uint64_t bit = 1ull << field_of[k];
        if (agent_gpu_check(d, &u->unsupported, bit, g->metrics[k].ret) &&
            !isnan(g->metrics[k].value)) {
            agent_gpu_put(e, bit, g->metrics[k].value);
        }
    }
}

/* ---- Entities ------------------------------------------------------------------------------- */

agent_gpu_entity *agent_gpu_entity_add(agent_gpu_snapshot *snap)
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
        const char *v = src == AGENT_GPU_SRC_LABEL_DRIVER ? s->driver
                        : src == AGENT_GPU_SRC_LABEL_NVML ? s->nvml_version
                                                          : d->labels[i];
        agent_gpu_copy_str(e->labels[i], AGENT_GPU_LABEL_LEN, v);
    }
}

void agent_gpu_sample_dev(agent_gpu_sampler *s, gpu_dev *d)
{
    d->first_entity = s->back.nentities;
    agent_gpu_entity *e = agent_gpu_entity_add(&s->back);
    entity_labels(s, d, e);
    e->is_parent = true;
    if (!d->lost) {
        read_clocks(s, d, e);
        static const agent_gpu_source simple[] = {
            AGENT_GPU_SRC_TEMP,        AGENT_GPU_SRC_POWER, AGENT_GPU_SRC_ENERGY,
            AGENT_GPU_SRC_PCIE_REPLAY, AGENT_GPU_SRC_ENC,   AGENT_GPU_SRC_DEC,
        };
        for (size_t i = 0; i < ODIN_ARRAY_LEN(simple); i++) {
            read_simple_paced(s, d, e, simple[i]);
        }
        read_util(s, d, e);
        read_field_values(s, d, e);
        read_license(s, d, e);
        read_remap(s, d, e);
        uint64_t xm = agent_gpu_wanted_src(s, AGENT_GPU_SRC_XID, 0);
        if (d->xid_registered && xm) {
            agent_gpu_put(e, xm, d->xid);
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
        agent_gpu_entity *m = agent_gpu_entity_add(&s->back);
        agent_gpu_entity *p = &s->back.entities[parent]; /* entity_add may move the array */
        memcpy(m->values, p->values, sizeof(m->values));
        memcpy(m->labels, p->labels, sizeof(m->labels));
        memcpy(m->id, p->id, sizeof(m->id));
        m->have = p->have;
        m->mig = true;
        agent_gpu_copy_str(m->id[AGENT_GPU_ID_GI_PROFILE], AGENT_GPU_LABEL_LEN,
                           d->mig[k].gi_profile);
        agent_gpu_fmt_uint(m->id[AGENT_GPU_ID_GI_ID], AGENT_GPU_LABEL_LEN, d->mig[k].gi_id);
        read_memory(s, d, &d->mig[k], m);
        read_gpm(s, d, &d->mig[k], true, m);
    }
    s->back.entities[parent].have = 0;
    if (d->lost) {
        s->back.nentities = parent + 1;
        s->back.entities[parent].lost = true;
    }
}

/* The GPU sampler: a thread that reads NVML every interval into a back buffer and publishes it
 * under the lock, so a scrape only copies the latest values and never waits on NVML (a hung driver
 * stalls this thread, not /metrics). Here: loading NVML, enumerating GPUs and MIG instances, XID
 * events, the thread and the public API; the reads are in read.c, processes and pods in procs.c. */
#include "agent/gpu/sampler_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t agent_gpu_mono_ms(void)
{
    return odin_mono_ns() / 1000000;
}

void agent_gpu_copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void agent_gpu_fmt_uint(char *out, size_t cap, unsigned long long v)
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

uint64_t agent_gpu_wanted_src(const agent_gpu_sampler *s, agent_gpu_source src, uint64_t unsup)
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
bool agent_gpu_check(gpu_dev *d, uint64_t *unsup, uint64_t mask, nvml_return rc)
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
        agent_gpu_copy_str(u->gi_profile, sizeof(u->gi_profile), b.p);
    }
    odin_strbuf_fini(&b);
}

static void gpm_setup(const agent_gpu_sampler *s, gpu_dev *d, gpu_unit *u)
{
    if (!agent_gpu_wanted_src(s, AGENT_GPU_SRC_GPM, 0) || !s->lib.gpm_query_device_support ||
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
    if (!agent_gpu_wanted_src(s, AGENT_GPU_SRC_XID, 0) || !l->event_set_create || !l->device_register_events ||
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
    agent_gpu_fmt_uint(d->id[AGENT_GPU_ID_GPU], AGENT_GPU_LABEL_LEN, index);
    odin_strbuf b;
    odin_strbuf_init(&b, AGENT_GPU_LABEL_LEN);
    odin_strbuf_printf(&b, "nvidia%u", index);
    agent_gpu_copy_str(d->id[AGENT_GPU_ID_DEVICE], AGENT_GPU_LABEL_LEN, b.p);
    odin_strbuf_fini(&b);
    if (l->device_get_uuid) {
        l->device_get_uuid(d->h, d->id[AGENT_GPU_ID_UUID], AGENT_GPU_LABEL_LEN);
    }
    if (l->device_get_name) {
        l->device_get_name(d->h, d->id[AGENT_GPU_ID_MODEL], AGENT_GPU_LABEL_LEN);
    }
    if (l->device_get_pci_info_v3 && l->device_get_pci_info_v3(d->h, &pci) == NVML_SUCCESS) {
        pci.bus_id[sizeof(pci.bus_id) - 1] = '\0';
        agent_gpu_copy_str(d->id[AGENT_GPU_ID_PCI_BUS_ID], AGENT_GPU_LABEL_LEN, pci.bus_id);
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
    s->retry_at_ms = agent_gpu_mono_ms() + RETRY_MS;
    s->back.state = AGENT_GPU_UNAVAILABLE;
    agent_gpu_copy_str(s->back.reason, sizeof(s->back.reason), err.msg);
    if (strcmp(s->last_reason, err.msg) != 0) {
        agent_gpu_copy_str(s->last_reason, sizeof(s->last_reason), err.msg);
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
        if (agent_gpu_mono_ms() < s->retry_at_ms) {
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
        agent_gpu_sample_dev(s, d);
        if (d->lost && !d->lost_logged) {
            d->lost_logged = true;
            odin_log(ODIN_LOG_WARN, "gpu", "GPU lost: its metrics are no longer served", "gpu",
                     d->id[AGENT_GPU_ID_GPU], "uuid", d->id[AGENT_GPU_ID_UUID], NULL);
        }
        agent_gpu_read_dev_procs(s, d);
    }
    agent_gpu_attribute(s);
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

/* A fake libnvidia-ml.so.1 for tests without a GPU: implements the NVML calls Odin's gpu collector
 * makes, with GPUs, values and failures read from the file named by $FAKE_NVML_SCRIPT at
 * nvmlInit_v2. Built with -DFAKE_NVML_OLD_DRIVER it lacks the symbols older drivers lack
 * (nvmlDeviceGetMemoryInfo_v2, GPM, remapped rows, vGPU licensing, nvmlEventSetWait_v2).
 *
 * Script lines (# comments):
 *   driver <version>              nvml <version>            gpus <n>
 *   fail <nvmlSymbol> <code>      the call fails with that nvmlReturn_t for every GPU
 *   gpu <i> uuid|name|pci|serial|vbios <text...>
 *   gpu <i> sm_clock|mem_clock|video_clock|temp|power_mw|energy_mj|pcie_replay|enc|dec <n>
 *   gpu <i> energy_call_us <n>    each energy read takes n microseconds and counts 1 mJ more
 *   gpu <i> util <gpu%> <mem%>     gpu <i> mem <total> <free> <used> <reserved>   (bytes)
 *   gpu <i> fv <NVML field id> <value>   gpu <i> remap <cor> <unc> <pending> <failed>
 *   gpu <i> license <supported 0|1> <vgpu state>    gpu <i> xid <n>   (one event, delivered once)
 *   gpu <i> gpm 1                 gpu <i> gpm_metric <id> <value>
 *   gpu <i> fail <nvmlSymbol> <code>
 *   gpu <i> lost_file <path>      every call on the GPU returns GPU_IS_LOST once <path> exists
 *   gpu <i> mig <n>               MIG mode on with n GPU instances
 *   mig <i> <k> gi <id> slices <s> mem_mb <m>   mig <i> <k> mem ...   mig <i> <k> gpm_metric ...
 *   mig <i> <k> uuid MIG-<uuid>   the MIG device's own UUID
 *   gpu <i> proc <pid> <mem bytes|na> compute|graphics [sm <percent>]   a running process (also
 *                                 "mig <i> <k> proc ..."); sm gives it a utilisation sample
 * Test code: not part of Odin, so it may use libc freely. */
#include "agent/gpu/nvml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#define MAX_GPUS 16
#define MAX_MIG 7
#define MAX_FAILS 32
#define MAX_FV 32
#define MAX_GPM 16
#define MAX_PROCS 16
#define NOT_SET (-1.0)

typedef struct {
    char name[64];
    nvml_return code;
} fake_fail;

typedef struct fake_dev {
    struct fake_dev *parent;
    unsigned gi_id, slices;
    unsigned long long mem_mb;
    char uuid[96], name[96], pci[32], serial[32], vbios[32];
    double sm_clock, mem_clock, video_clock, temp, power_mw, energy_mj, pcie_replay, enc, dec;
    unsigned energy_call_us; /* 0: instant and constant */
    double util_gpu, util_mem;
    bool have_mem;
    unsigned long long mem[4]; /* total free used reserved */
    unsigned fv_id[MAX_FV];
    double fv_val[MAX_FV];
    int nfv;
    bool have_remap;
    unsigned remap[4];
    bool have_license;
    int license_supported;
    unsigned license_state;
    unsigned xid;
    bool xid_pending;
    bool registered;
    bool gpm;
    unsigned gpm_id[MAX_GPM];
    double gpm_val[MAX_GPM];
    int ngpm;
    fake_fail fails[MAX_FAILS];
    int nfails;
    char lost_file[256];
    struct fake_dev *mig;
    unsigned nmig;
    unsigned proc_pid[MAX_PROCS];
    unsigned long long proc_mem[MAX_PROCS];
    bool proc_graphics[MAX_PROCS];
    double proc_sm[MAX_PROCS]; /* NOT_SET: no utilisation sample */
    int nproc;
} fake_dev;

static fake_dev gpus[MAX_GPUS];
static fake_dev migs[MAX_GPUS][MAX_MIG];
static unsigned ngpus;
static char driver[80] = "000.00", nvml_ver[80] = "00.000.00";
static fake_fail global_fails[MAX_FAILS];
static int nglobal_fails;
static bool inited;

static void dev_reset(fake_dev *d)
{
    memset(d, 0, sizeof(*d));
    d->sm_clock = d->mem_clock = d->video_clock = d->temp = d->power_mw = d->energy_mj = NOT_SET;
    d->pcie_replay = d->enc = d->dec = d->util_gpu = d->util_mem = NOT_SET;
}

static void add_fail(fake_fail *v, int *n, const char *name, const char *code)
{
    if (*n >= MAX_FAILS) {
        return;
    }
    snprintf(v[*n].name, sizeof(v[*n].name), "%s", name);
    v[*n].code = (nvml_return)strtol(code, NULL, 10);
    (*n)++;
}

static double num(const char *s)
{
    return s ? strtod(s, NULL) : 0;
}

static void set_text(char *dst, size_t cap, char **tok, int ntok, int from)
{
    dst[0] = '\0';
    size_t len = 0;
    for (int i = from; i < ntok; i++) {
        int w = snprintf(dst + len, cap - len, "%s%s", i > from ? " " : "", tok[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            break;
        }
        len += (size_t)w;
    }
}

/* Applies "key values..." to a device (GPU or MIG instance). */
static void dev_set(fake_dev *d, char **t, int n)
{
    const char *k = t[0];
    const char *v = n > 1 ? t[1] : NULL;
    if (!strcmp(k, "uuid")) set_text(d->uuid, sizeof(d->uuid), t, n, 1);
    else if (!strcmp(k, "name")) set_text(d->name, sizeof(d->name), t, n, 1);
    else if (!strcmp(k, "pci")) set_text(d->pci, sizeof(d->pci), t, n, 1);
    else if (!strcmp(k, "serial")) set_text(d->serial, sizeof(d->serial), t, n, 1);
    else if (!strcmp(k, "vbios")) set_text(d->vbios, sizeof(d->vbios), t, n, 1);
    else if (!strcmp(k, "sm_clock")) d->sm_clock = num(v);
    else if (!strcmp(k, "mem_clock")) d->mem_clock = num(v);
    else if (!strcmp(k, "video_clock")) d->video_clock = num(v);
    else if (!strcmp(k, "temp")) d->temp = num(v);
    else if (!strcmp(k, "power_mw")) d->power_mw = num(v);
    else if (!strcmp(k, "energy_mj")) d->energy_mj = num(v);
    else if (!strcmp(k, "energy_call_us")) d->energy_call_us = (unsigned)num(v);
    else if (!strcmp(k, "pcie_replay")) d->pcie_replay = num(v);
    else if (!strcmp(k, "enc")) d->enc = num(v);
    else if (!strcmp(k, "dec")) d->dec = num(v);
    else if (!strcmp(k, "util") && n >= 3) {
        d->util_gpu = num(t[1]);
        d->util_mem = num(t[2]);
    } else if (!strcmp(k, "mem") && n >= 5) {
        d->have_mem = true;
        for (int i = 0; i < 4; i++) {
            d->mem[i] = strtoull(t[i + 1], NULL, 10);
        }
    } else if (!strcmp(k, "fv") && n >= 3 && d->nfv < MAX_FV) {
        d->fv_id[d->nfv] = (unsigned)num(t[1]);
        d->fv_val[d->nfv++] = num(t[2]);
    } else if (!strcmp(k, "remap") && n >= 5) {
        d->have_remap = true;
        for (int i = 0; i < 4; i++) {
            d->remap[i] = (unsigned)num(t[i + 1]);
        }
    } else if (!strcmp(k, "license") && n >= 3) {
        d->have_license = true;
        d->license_supported = (int)num(t[1]);
        d->license_state = (unsigned)num(t[2]);
    } else if (!strcmp(k, "xid")) {
        d->xid = (unsigned)num(v);
        d->xid_pending = true;
    } else if (!strcmp(k, "gpm")) d->gpm = num(v) != 0;
    else if (!strcmp(k, "gpm_metric") && n >= 3 && d->ngpm < MAX_GPM) {
        d->gpm_id[d->ngpm] = (unsigned)num(t[1]);
        d->gpm_val[d->ngpm++] = num(t[2]);
    } else if (!strcmp(k, "fail") && n >= 3) add_fail(d->fails, &d->nfails, t[1], t[2]);
    else if (!strcmp(k, "lost_file")) set_text(d->lost_file, sizeof(d->lost_file), t, n, 1);
    else if (!strcmp(k, "proc") && n >= 4 && d->nproc < MAX_PROCS) {
        int i = d->nproc++;
        d->proc_pid[i] = (unsigned)num(t[1]);
        d->proc_mem[i] = !strcmp(t[2], "na") ? NVML_VALUE_NOT_AVAILABLE : strtoull(t[2], NULL, 10);
        d->proc_graphics[i] = !strcmp(t[3], "graphics");
        d->proc_sm[i] = n >= 6 && !strcmp(t[4], "sm") ? num(t[5]) : NOT_SET;
    } else if (!strcmp(k, "mig")) d->nmig = (unsigned)num(v) > MAX_MIG ? MAX_MIG : (unsigned)num(v);
    else if (!strcmp(k, "gi")) {
        /* gi <id> slices <s> mem_mb <m> */
        d->gi_id = (unsigned)num(v);
        for (int i = 2; i + 1 < n; i += 2) {
            if (!strcmp(t[i], "slices")) d->slices = (unsigned)num(t[i + 1]);
            if (!strcmp(t[i], "mem_mb")) d->mem_mb = (unsigned long long)num(t[i + 1]);
        }
    }
}

static void load_script(void)
{
    ngpus = 0;
    nglobal_fails = 0;
    for (int i = 0; i < MAX_GPUS; i++) {
        dev_reset(&gpus[i]);
        for (int k = 0; k < MAX_MIG; k++) {
            dev_reset(&migs[i][k]);
            migs[i][k].parent = &gpus[i];
        }
        gpus[i].mig = migs[i];
    }
    const char *path = getenv("FAKE_NVML_SCRIPT");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        return;
    }
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        char *t[32];
        int n = 0;
        for (char *p = strtok(line, " \t\r\n"); p && n < 32; p = strtok(NULL, " \t\r\n")) {
            t[n++] = p;
        }
        if (n == 0 || t[0][0] == '#') {
            continue;
        }
        if (!strcmp(t[0], "driver") && n > 1) snprintf(driver, sizeof(driver), "%s", t[1]);
        else if (!strcmp(t[0], "nvml") && n > 1) snprintf(nvml_ver, sizeof(nvml_ver), "%s", t[1]);
        else if (!strcmp(t[0], "gpus") && n > 1) ngpus = (unsigned)num(t[1]) % (MAX_GPUS + 1);
        else if (!strcmp(t[0], "fail") && n > 2) add_fail(global_fails, &nglobal_fails, t[1], t[2]);
        else if (!strcmp(t[0], "gpu") && n > 2) {
            unsigned i = (unsigned)num(t[1]);
            if (i < MAX_GPUS) dev_set(&gpus[i], t + 2, n - 2);
        } else if (!strcmp(t[0], "mig") && n > 3) {
            unsigned i = (unsigned)num(t[1]), k = (unsigned)num(t[2]);
            if (i < MAX_GPUS && k < MAX_MIG) dev_set(&migs[i][k], t + 3, n - 3);
        }
    }
    fclose(f);
}

/* The scripted result of a call on a device: lost, a scripted failure, or success. */
static nvml_return outcome(const fake_dev *d, const char *call)
{
    if (!inited) {
        return NVML_ERROR_UNINITIALIZED;
    }
    for (int i = 0; i < nglobal_fails; i++) {
        if (!strcmp(global_fails[i].name, call)) {
            return global_fails[i].code;
        }
    }
    if (!d) {
        return NVML_SUCCESS;
    }
    const fake_dev *g = d->parent ? d->parent : d;
    struct stat st;
    if (g->lost_file[0] && stat(g->lost_file, &st) == 0) {
        return NVML_ERROR_GPU_IS_LOST;
    }
    for (int k = 0; k < 2; k++) {
        const fake_dev *x = k == 0 ? d : g;
        for (int i = 0; i < x->nfails; i++) {
            if (!strcmp(x->fails[i].name, call)) {
                return x->fails[i].code;
            }
        }
    }
    return NVML_SUCCESS;
}

static fake_dev *dev_of(nvml_device h)
{
    return (fake_dev *)h;
}

static nvml_return copy_out(const char *src, char *buf, unsigned len)
{
    if (strlen(src) + 1 > len) {
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    memcpy(buf, src, strlen(src) + 1);
    return NVML_SUCCESS;
}

/* A scalar reading: NOT_SUPPORTED when the script did not give it. */
static nvml_return scalar(nvml_device h, const char *call, double v, double *out)
{
    nvml_return rc = outcome(dev_of(h), call);
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    if (v == NOT_SET) {
        return NVML_ERROR_NOT_SUPPORTED;
    }
    *out = v;
    return NVML_SUCCESS;
}

#define EXPORT __attribute__((visibility("default")))

EXPORT nvml_return nvmlInit_v2(void)
{
    load_script();
    inited = true;
    nvml_return rc = outcome(NULL, "nvmlInit_v2");
    if (rc != NVML_SUCCESS) {
        inited = false;
    }
    return rc;
}

EXPORT nvml_return nvmlShutdown(void)
{
    inited = false;
    return NVML_SUCCESS;
}

EXPORT const char *nvmlErrorString(nvml_return rc)
{
    static char buf[64];
    snprintf(buf, sizeof(buf), "fake NVML error %d", rc);
    return rc == NVML_ERROR_DRIVER_NOT_LOADED ? "Driver Not Loaded" : buf;
}

EXPORT nvml_return nvmlSystemGetDriverVersion(char *buf, unsigned len)
{
    nvml_return rc = outcome(NULL, "nvmlSystemGetDriverVersion");
    return rc ? rc : copy_out(driver, buf, len);
}

EXPORT nvml_return nvmlSystemGetNVMLVersion(char *buf, unsigned len)
{
    nvml_return rc = outcome(NULL, "nvmlSystemGetNVMLVersion");
    return rc ? rc : copy_out(nvml_ver, buf, len);
}

EXPORT nvml_return nvmlDeviceGetCount_v2(unsigned *n)
{
    nvml_return rc = outcome(NULL, "nvmlDeviceGetCount_v2");
    if (rc == NVML_SUCCESS) {
        *n = ngpus;
    }
    return rc;
}

EXPORT nvml_return nvmlDeviceGetHandleByIndex_v2(unsigned i, nvml_device *h)
{
    if (i >= ngpus) {
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    nvml_return rc = outcome(&gpus[i], "nvmlDeviceGetHandleByIndex_v2");
    if (rc == NVML_SUCCESS) {
        *h = (nvml_device)&gpus[i];
    }
    return rc;
}

EXPORT nvml_return nvmlDeviceGetUUID(nvml_device h, char *buf, unsigned len)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetUUID");
    return rc ? rc : copy_out(dev_of(h)->uuid, buf, len);
}

EXPORT nvml_return nvmlDeviceGetName(nvml_device h, char *buf, unsigned len)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetName");
    return rc ? rc : copy_out(dev_of(h)->name, buf, len);
}

EXPORT nvml_return nvmlDeviceGetSerial(nvml_device h, char *buf, unsigned len)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetSerial");
    if (rc == NVML_SUCCESS && !dev_of(h)->serial[0]) {
        return NVML_ERROR_NOT_SUPPORTED;
    }
    return rc ? rc : copy_out(dev_of(h)->serial, buf, len);
}

EXPORT nvml_return nvmlDeviceGetVbiosVersion(nvml_device h, char *buf, unsigned len)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetVbiosVersion");
    if (rc == NVML_SUCCESS && !dev_of(h)->vbios[0]) {
        return NVML_ERROR_NOT_SUPPORTED;
    }
    return rc ? rc : copy_out(dev_of(h)->vbios, buf, len);
}

EXPORT nvml_return nvmlDeviceGetInforomVersion(nvml_device h, int obj, char *buf, unsigned len)
{
    (void)obj;
    (void)buf;
    (void)len;
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetInforomVersion");
    return rc ? rc : NVML_ERROR_NOT_SUPPORTED;
}

EXPORT nvml_return nvmlDeviceGetInforomImageVersion(nvml_device h, char *buf, unsigned len)
{
    (void)buf;
    (void)len;
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetInforomImageVersion");
    return rc ? rc : NVML_ERROR_NOT_SUPPORTED;
}

EXPORT nvml_return nvmlDeviceGetPciInfo_v3(nvml_device h, nvml_pci_info *p)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetPciInfo_v3");
    if (rc == NVML_SUCCESS) {
        memset(p, 0, sizeof(*p));
        snprintf(p->bus_id, sizeof(p->bus_id), "%s", dev_of(h)->pci);
    }
    return rc;
}

EXPORT nvml_return nvmlDeviceGetClockInfo(nvml_device h, int type, unsigned *mhz)
{
    const fake_dev *d = dev_of(h);
    double v = type == NVML_CLOCK_SM ? d->sm_clock
               : type == NVML_CLOCK_MEM ? d->mem_clock
               : type == NVML_CLOCK_VIDEO ? d->video_clock
                                          : NOT_SET;
    double out = 0;
    nvml_return rc = scalar(h, "nvmlDeviceGetClockInfo", v, &out);
    *mhz = (unsigned)out;
    return rc;
}

EXPORT nvml_return nvmlDeviceGetTemperature(nvml_device h, int sensor, unsigned *t)
{
    double out = 0;
    nvml_return rc = scalar(h, "nvmlDeviceGetTemperature", sensor == 0 ? dev_of(h)->temp : NOT_SET,
                            &out);
    *t = (unsigned)out;
    return rc;
}

EXPORT nvml_return nvmlDeviceGetPowerUsage(nvml_device h, unsigned *mw)
{
    double out = 0;
    nvml_return rc = scalar(h, "nvmlDeviceGetPowerUsage", dev_of(h)->power_mw, &out);
    *mw = (unsigned)out;
    return rc;
}

EXPORT nvml_return nvmlDeviceGetTotalEnergyConsumption(nvml_device h, unsigned long long *mj)
{
    double out = 0;
    fake_dev *d = dev_of(h);
    nvml_return rc = scalar(h, "nvmlDeviceGetTotalEnergyConsumption", d->energy_mj, &out);
    *mj = (unsigned long long)out;
    if (d->energy_call_us && rc == NVML_SUCCESS) {
        /* a slow driver call, as on real H100s (about 3 ms), whose value shows each read */
        struct timespec ts = {0, (long)d->energy_call_us * 1000};
        nanosleep(&ts, NULL);
        d->energy_mj += 1;
    }
    return rc;
}

EXPORT nvml_return nvmlDeviceGetPcieReplayCounter(nvml_device h, unsigned *v)
{
    double out = 0;
    nvml_return rc = scalar(h, "nvmlDeviceGetPcieReplayCounter", dev_of(h)->pcie_replay, &out);
    *v = (unsigned)out;
    return rc;
}

EXPORT nvml_return nvmlDeviceGetUtilizationRates(nvml_device h, nvml_utilization *u)
{
    double g = 0, m = 0;
    nvml_return rc = scalar(h, "nvmlDeviceGetUtilizationRates", dev_of(h)->util_gpu, &g);
    if (rc == NVML_SUCCESS) {
        m = dev_of(h)->util_mem;
        u->gpu = (unsigned)g;
        u->memory = (unsigned)m;
    }
    return rc;
}

EXPORT nvml_return nvmlDeviceGetEncoderUtilization(nvml_device h, unsigned *u, unsigned *period)
{
    double out = 0;
    nvml_return rc = scalar(h, "nvmlDeviceGetEncoderUtilization", dev_of(h)->enc, &out);
    *u = (unsigned)out;
    *period = 167000;
    return rc;
}

EXPORT nvml_return nvmlDeviceGetDecoderUtilization(nvml_device h, unsigned *u, unsigned *period)
{
    double out = 0;
    nvml_return rc = scalar(h, "nvmlDeviceGetDecoderUtilization", dev_of(h)->dec, &out);
    *u = (unsigned)out;
    *period = 167000;
    return rc;
}

EXPORT nvml_return nvmlDeviceGetMemoryInfo(nvml_device h, nvml_memory *m)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetMemoryInfo");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    const fake_dev *d = dev_of(h);
    if (!d->have_mem) {
        return NVML_ERROR_NOT_SUPPORTED;
    }
    m->total = d->mem[0];
    m->free = d->mem[1];
    m->used = d->mem[2] + d->mem[3]; /* v1 counts reserved memory as used */
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD_DRIVER
EXPORT nvml_return nvmlDeviceGetMemoryInfo_v2(nvml_device h, nvml_memory_v2 *m)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetMemoryInfo_v2");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    if (m->version != NVML_MEMORY_V2_VERSION) {
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    }
    const fake_dev *d = dev_of(h);
    if (!d->have_mem) {
        return NVML_ERROR_NOT_SUPPORTED;
    }
    m->total = d->mem[0];
    m->free = d->mem[1];
    m->used = d->mem[2];
    m->reserved = d->mem[3];
    return NVML_SUCCESS;
}
#endif

EXPORT nvml_return nvmlDeviceGetFieldValues(nvml_device h, int n, nvml_field_value *fv)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetFieldValues");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    const fake_dev *d = dev_of(h);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    for (int i = 0; i < n; i++) {
        fv[i].ret = NVML_ERROR_NOT_SUPPORTED;
        fv[i].timestamp = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
        for (int k = 0; k < d->nfv; k++) {
            if (d->fv_id[k] == fv[i].field_id) {
                fv[i].ret = NVML_SUCCESS;
                fv[i].value_type = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
                fv[i].value.ull = (unsigned long long)d->fv_val[k];
                if (fv[i].field_id == NVML_FI_DEV_MEMORY_TEMP) {
                    fv[i].value_type = NVML_VALUE_TYPE_UNSIGNED_INT;
                    fv[i].value.ull = 0;
                    fv[i].value.ui = (unsigned)d->fv_val[k];
                }
            }
        }
    }
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD_DRIVER
EXPORT nvml_return nvmlDeviceGetGridLicensableFeatures_v4(nvml_device h,
                                                          nvml_grid_licensable_features *g)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetGridLicensableFeatures_v4");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    const fake_dev *d = dev_of(h);
    if (!d->have_license) {
        return NVML_ERROR_NOT_SUPPORTED;
    }
    memset(g, 0, sizeof(*g));
    g->is_grid_license_supported = d->license_supported;
    g->licensable_features_count = 1;
    g->features[0].feature_code = NVML_GRID_LICENSE_FEATURE_CODE_VGPU;
    g->features[0].feature_state = d->license_state;
    return NVML_SUCCESS;
}

EXPORT nvml_return nvmlDeviceGetRemappedRows(nvml_device h, unsigned *cor, unsigned *unc,
                                             unsigned *pending, unsigned *failed)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetRemappedRows");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    const fake_dev *d = dev_of(h);
    if (!d->have_remap) {
        return NVML_ERROR_NOT_SUPPORTED;
    }
    *cor = d->remap[0];
    *unc = d->remap[1];
    *pending = d->remap[2];
    *failed = d->remap[3];
    return NVML_SUCCESS;
}
#endif

/* ---- Events ---------------------------------------------------------------------------------- */

static int event_set_token;

EXPORT nvml_return nvmlEventSetCreate(nvml_event_set *set)
{
    nvml_return rc = outcome(NULL, "nvmlEventSetCreate");
    if (rc == NVML_SUCCESS) {
        *set = (nvml_event_set)&event_set_token;
    }
    return rc;
}

EXPORT nvml_return nvmlEventSetFree(nvml_event_set set)
{
    (void)set;
    return NVML_SUCCESS;
}

EXPORT nvml_return nvmlDeviceGetSupportedEventTypes(nvml_device h, unsigned long long *types)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetSupportedEventTypes");
    if (rc == NVML_SUCCESS) {
        *types = NVML_EVENT_TYPE_XID_CRITICAL_ERROR | 0x1 | 0x2;
    }
    return rc;
}

EXPORT nvml_return nvmlDeviceRegisterEvents(nvml_device h, unsigned long long types,
                                            nvml_event_set set)
{
    (void)set;
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceRegisterEvents");
    if (rc == NVML_SUCCESS && (types & NVML_EVENT_TYPE_XID_CRITICAL_ERROR)) {
        dev_of(h)->registered = true;
    }
    return rc;
}

#ifndef FAKE_NVML_OLD_DRIVER
EXPORT nvml_return nvmlEventSetWait_v2(nvml_event_set set, nvml_event_data *ev, unsigned ms)
{
    (void)set;
    (void)ms;
    nvml_return rc = outcome(NULL, "nvmlEventSetWait_v2");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    for (unsigned i = 0; i < ngpus; i++) {
        if (gpus[i].registered && gpus[i].xid_pending) {
            gpus[i].xid_pending = false;
            memset(ev, 0, sizeof(*ev));
            ev->device = (nvml_device)&gpus[i];
            ev->event_type = NVML_EVENT_TYPE_XID_CRITICAL_ERROR;
            ev->event_data = gpus[i].xid;
            ev->gpu_instance_id = ev->compute_instance_id = 0xFFFFFFFFu;
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_TIMEOUT;
}
#endif

/* ---- MIG ------------------------------------------------------------------------------------- */

EXPORT nvml_return nvmlDeviceGetMigMode(nvml_device h, unsigned *cur, unsigned *pending)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetMigMode");
    if (rc == NVML_SUCCESS) {
        *cur = *pending = dev_of(h)->nmig ? NVML_DEVICE_MIG_ENABLE : NVML_DEVICE_MIG_DISABLE;
    }
    return rc;
}

EXPORT nvml_return nvmlDeviceGetMaxMigDeviceCount(nvml_device h, unsigned *n)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetMaxMigDeviceCount");
    if (rc == NVML_SUCCESS) {
        *n = dev_of(h)->nmig ? MAX_MIG : 0;
    }
    return rc;
}

EXPORT nvml_return nvmlDeviceGetMigDeviceHandleByIndex(nvml_device h, unsigned i, nvml_device *m)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetMigDeviceHandleByIndex");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    if (i >= dev_of(h)->nmig) {
        return NVML_ERROR_NOT_FOUND;
    }
    *m = (nvml_device)&dev_of(h)->mig[i];
    return NVML_SUCCESS;
}

EXPORT nvml_return nvmlDeviceGetGpuInstanceId(nvml_device h, unsigned *id)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetGpuInstanceId");
    if (rc == NVML_SUCCESS) {
        if (!dev_of(h)->parent) {
            return NVML_ERROR_INVALID_ARGUMENT;
        }
        *id = dev_of(h)->gi_id;
    }
    return rc;
}

EXPORT nvml_return nvmlDeviceGetAttributes_v2(nvml_device h, nvml_device_attributes *a)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetAttributes_v2");
    if (rc == NVML_SUCCESS) {
        memset(a, 0, sizeof(*a));
        a->gpu_instance_slice_count = dev_of(h)->slices;
        a->memory_size_mb = dev_of(h)->mem_mb;
    }
    return rc;
}

static nvml_return running(nvml_device h, const char *call, bool graphics, unsigned *n,
                           nvml_process_info *p)
{
    nvml_return rc = outcome(dev_of(h), call);
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    const fake_dev *d = dev_of(h);
    unsigned count = 0;
    for (int i = 0; i < d->nproc; i++) {
        count += d->proc_graphics[i] == graphics;
    }
    if (*n < count || (!p && count)) {
        *n = count;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    unsigned k = 0;
    for (int i = 0; i < d->nproc; i++) {
        if (d->proc_graphics[i] != graphics) {
            continue;
        }
        memset(&p[k], 0, sizeof(p[k]));
        p[k].pid = d->proc_pid[i];
        p[k].used_gpu_memory = d->proc_mem[i];
        p[k].gpu_instance_id = p[k].compute_instance_id = d->parent ? d->gi_id : 0xFFFFFFFFu;
        k++;
    }
    *n = count;
    return NVML_SUCCESS;
}

EXPORT nvml_return nvmlDeviceGetComputeRunningProcesses_v3(nvml_device h, unsigned *n,
                                                           nvml_process_info *p)
{
    return running(h, "nvmlDeviceGetComputeRunningProcesses_v3", false, n, p);
}

EXPORT nvml_return nvmlDeviceGetGraphicsRunningProcesses_v3(nvml_device h, unsigned *n,
                                                            nvml_process_info *p)
{
    return running(h, "nvmlDeviceGetGraphicsRunningProcesses_v3", true, n, p);
}

/* Every call is a fresh window: each scripted process reports its sm percent once per call. */
EXPORT nvml_return nvmlDeviceGetProcessUtilization(nvml_device h,
                                                   nvml_process_utilization_sample *u,
                                                   unsigned *n, unsigned long long last)
{
    nvml_return rc = outcome(dev_of(h), "nvmlDeviceGetProcessUtilization");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    const fake_dev *d = dev_of(h);
    if (d->parent) {
        return NVML_ERROR_NOT_SUPPORTED; /* as NVML under MIG */
    }
    unsigned count = 0;
    for (int i = 0; i < d->nproc; i++) {
        count += d->proc_sm[i] != NOT_SET;
    }
    if (count == 0) {
        return NVML_ERROR_NOT_FOUND;
    }
    if (!u || *n < count) {
        *n = count;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    unsigned long long now = (unsigned long long)tv.tv_sec * 1000000 + (unsigned long long)tv.tv_usec;
    if (now <= last) {
        now = last + 1;
    }
    unsigned k = 0;
    for (int i = 0; i < d->nproc; i++) {
        if (d->proc_sm[i] == NOT_SET) {
            continue;
        }
        memset(&u[k], 0, sizeof(u[k]));
        u[k].pid = d->proc_pid[i];
        u[k].time_stamp = now;
        u[k].sm_util = (unsigned)d->proc_sm[i];
        k++;
    }
    *n = count;
    return NVML_SUCCESS;
}

/* ---- GPM ------------------------------------------------------------------------------------- */

#ifndef FAKE_NVML_OLD_DRIVER
typedef struct {
    fake_dev *dev;
} fake_gpm_sample;

EXPORT nvml_return nvmlGpmQueryDeviceSupport(nvml_device h, nvml_gpm_support *s)
{
    nvml_return rc = outcome(dev_of(h), "nvmlGpmQueryDeviceSupport");
    if (rc == NVML_SUCCESS) {
        s->is_supported_device = dev_of(h)->gpm;
    }
    return rc;
}

EXPORT nvml_return nvmlGpmSampleAlloc(nvml_gpm_sample *s)
{
    *s = (nvml_gpm_sample)calloc(1, sizeof(fake_gpm_sample));
    return *s ? NVML_SUCCESS : NVML_ERROR_MEMORY;
}

EXPORT nvml_return nvmlGpmSampleFree(nvml_gpm_sample s)
{
    free(s);
    return NVML_SUCCESS;
}

EXPORT nvml_return nvmlGpmSampleGet(nvml_device h, nvml_gpm_sample s)
{
    nvml_return rc = outcome(dev_of(h), "nvmlGpmSampleGet");
    if (rc == NVML_SUCCESS) {
        ((fake_gpm_sample *)s)->dev = dev_of(h);
    }
    return rc;
}

EXPORT nvml_return nvmlGpmMigSampleGet(nvml_device h, unsigned gi, nvml_gpm_sample s)
{
    nvml_return rc = outcome(dev_of(h), "nvmlGpmMigSampleGet");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    for (unsigned k = 0; k < dev_of(h)->nmig; k++) {
        if (dev_of(h)->mig[k].gi_id == gi) {
            ((fake_gpm_sample *)s)->dev = &dev_of(h)->mig[k];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

EXPORT nvml_return nvmlGpmMetricsGet(nvml_gpm_metrics_get *g)
{
    if (g->version != NVML_GPM_METRICS_GET_VERSION || !g->sample1 || !g->sample2) {
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    const fake_dev *d = ((fake_gpm_sample *)g->sample2)->dev;
    nvml_return rc = outcome(d, "nvmlGpmMetricsGet");
    if (rc != NVML_SUCCESS) {
        return rc;
    }
    for (unsigned i = 0; i < g->num_metrics && i < NVML_GPM_METRIC_MAX; i++) {
        g->metrics[i].ret = NVML_ERROR_NOT_SUPPORTED;
        for (int k = 0; k < d->ngpm; k++) {
            if (d->gpm_id[k] == g->metrics[i].metric_id) {
                g->metrics[i].ret = NVML_SUCCESS;
                g->metrics[i].value = d->gpm_val[k];
            }
        }
    }
    return NVML_SUCCESS;
}
#endif

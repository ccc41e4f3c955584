/* What NVML itself costs, apart from Odin: the memory nvmlInit takes (with flags 0 and NO_ATTACH,
 * each in a fresh child) and the time of the calls that go to the GPU rather than the driver's
 * cache (median, min and max of 21 calls on GPU 0). Used for the pacing of slow calls in
 * src/agent/gpu/sampler.c; numbers in bench/RESULTS.md.
 * Build and run on an NVIDIA machine: cc -O2 -o nvml_probe bench/nvml_probe.c -ldl && ./nvml_probe */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* nvmlFieldValue_t: 40 bytes (see src/agent/gpu/nvml.h) */
typedef struct { unsigned id, scope; long long ts, lat; int vt, ret; unsigned long long v; } fvv;
static long rss_kb(const char *key) {
    char line[256]; long v = -1; FILE *f = fopen("/proc/self/status", "r");
    while (fgets(line, sizeof line, f)) if (!strncmp(line, key, strlen(key))) v = atol(line + strlen(key) + 1);
    fclose(f); return v;
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
void *h; void *dev;
#define SYM(n) dlsym(h, n)
static void timeit(const char *name, int (*call)(void)) {
    double t[21]; int rc = 0;
    for (int i = 0; i < 21; i++) { double a = now(); rc = call(); t[i] = now() - a; }
    qsort(t, 21, sizeof(double), cmp);
    printf("  %-44s rc=%d median %8.1f us  min %8.1f  max %8.1f\n", name, rc, t[10], t[0], t[20]);
}
static int c_energy(void) { unsigned long long e; return ((int (*)(void *, unsigned long long *))SYM("nvmlDeviceGetTotalEnergyConsumption"))(dev, &e); }
static int c_power(void) { unsigned p; return ((int (*)(void *, unsigned *))SYM("nvmlDeviceGetPowerUsage"))(dev, &p); }
static int c_temp(void) { unsigned p; return ((int (*)(void *, int, unsigned *))SYM("nvmlDeviceGetTemperature"))(dev, 0, &p); }
static int c_replay(void) { unsigned p; return ((int (*)(void *, unsigned *))SYM("nvmlDeviceGetPcieReplayCounter"))(dev, &p); }
static int fv1(unsigned id) { fvv f; memset(&f, 0, sizeof f); f.id = id; int rc = ((int (*)(void *, int, fvv *))SYM("nvmlDeviceGetFieldValues"))(dev, 1, &f); return rc ? rc : f.ret; }
static int c_fv_energy(void) { return fv1(83); }
static int c_fv_memtemp(void) { return fv1(82); }
static int c_fv_thermal_viol(void) { return fv1(75); }
static int c_fv_power_viol(void) { return fv1(74); }
int main(void) {
    h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    if (!h || !SYM("nvmlInitWithFlags") || !SYM("nvmlDeviceGetHandleByIndex_v2")) {
        printf("no usable libnvidia-ml.so.1: %s\n", h ? "symbols missing" : dlerror());
        return 77;
    }
    int (*initf)(unsigned) = (int (*)(unsigned))SYM("nvmlInitWithFlags");
    int (*byidx)(unsigned, void **) = (int (*)(unsigned, void **))SYM("nvmlDeviceGetHandleByIndex_v2");
    unsigned flags[] = {0, 2};
    for (int k = 0; k < 2; k++) {
        pid_t p = fork();
        if (p == 0) {
            long a0 = rss_kb("RssAnon"), r0 = rss_kb("VmRSS");
            int rc = initf(flags[k]);
            long a1 = rss_kb("RssAnon"), r1 = rss_kb("VmRSS");
            int rc2 = byidx(0, &dev); unsigned t; int rc3 = ((int (*)(void *, int, unsigned *))SYM("nvmlDeviceGetTemperature"))(dev, 0, &t);
            printf("flags=%u init rc=%d anon %ld->%ld kB rss %ld->%ld kB; after handle(rc=%d)+temp(rc=%d, %u C): anon %ld rss %ld\n",
                   flags[k], rc, a0, a1, r0, r1, rc2, rc3, t, rss_kb("RssAnon"), rss_kb("VmRSS"));
            fflush(stdout); _exit(0);
        }
        waitpid(p, NULL, 0);
    }
    ((int (*)(void))SYM("nvmlInit_v2"))();
    byidx(0, &dev);
    printf("call costs (GPU idle):\n");
    timeit("nvmlDeviceGetTotalEnergyConsumption", c_energy);
    timeit("nvmlDeviceGetFieldValues(TOTAL_ENERGY 83)", c_fv_energy);
    timeit("nvmlDeviceGetPowerUsage", c_power);
    timeit("nvmlDeviceGetTemperature", c_temp);
    timeit("nvmlDeviceGetPcieReplayCounter", c_replay);
    timeit("nvmlDeviceGetFieldValues(MEMORY_TEMP 82)", c_fv_memtemp);
    timeit("nvmlDeviceGetFieldValues(THERMAL_VIOL 75)", c_fv_thermal_viol);
    timeit("nvmlDeviceGetFieldValues(POWER_VIOL 74)", c_fv_power_viol);
    return 0;
}

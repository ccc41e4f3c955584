/* Private helpers shared by the cpu, cpufreq and stat collectors: the /proc/stat parser, the
 * sysfs cpuN directory test, the kernel's cpu-list format ("1,3-5") and the cpufreq switch. */
#ifndef ODIN_AGENT_CPU_UTIL_H
#define ODIN_AGENT_CPU_UTIL_H

#include "agent/agent_int.h"

/* Columns of a "cpuN" line in /proc/stat, in file order. */
enum {
    CPU_UTIL_USER,
    CPU_UTIL_NICE,
    CPU_UTIL_SYSTEM,
    CPU_UTIL_IDLE,
    CPU_UTIL_IOWAIT,
    CPU_UTIL_IRQ,
    CPU_UTIL_SOFTIRQ,
    CPU_UTIL_STEAL,
    CPU_UTIL_GUEST,
    CPU_UTIL_GUEST_NICE,
    CPU_UTIL_NMODES
};

/* One cpuN line; v[] already in seconds (ticks / 100.0, USER_HZ as procfs assumes). */
typedef struct {
    int64_t id;
    double v[CPU_UTIL_NMODES];
} cpu_util_cpustat;

/* /proc/stat as procfs.Stat parses it. cpus points into scrape memory, in file order (the kernel
 * never repeats a cpu). */
typedef struct {
    uint64_t boot_time, intr, ctxt, forks, procs_running, procs_blocked;
    uint64_t softirq[10]; /* hi timer net_tx net_rx block block_iopoll tasklet sched hrtimer rcu */
    cpu_util_cpustat *cpus;
    size_t ncpus;
} cpu_util_stat;

/* Reads and parses <procfs>/stat. -ODIN_ERR_NOTFOUND when missing, -ODIN_ERR_PARSE on a bad
 * line (the whole file is rejected, as procfs does). */
int cpu_util_read_stat(agent_scrape *sc, cpu_util_stat *st, odin_err *err);

/* True for names matched by the glob "cpu[0-9]*". */
bool cpu_util_is_cpu_dir(const char *name);

/* Parses a kernel cpu list ("0-3,8,10-11", trailing newline allowed) as sysfs.parseCPURange:
 * the ids go to a heap array (*out, caller frees; NULL when empty). */
int cpu_util_parse_list(odin_str s, uint16_t **out, size_t *n);

/* node_exporter emits node_cpu_frequency_hertz from /proc/cpuinfo only while the cpufreq collector
 * is enabled. The framework has no query for that, so cpufreq's init records its agent here. */
void cpu_util_set_cpufreq_agent(const agent *ag);
bool cpu_util_cpufreq_enabled(const agent *ag);

#endif

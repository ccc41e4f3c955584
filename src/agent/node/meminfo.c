/* meminfo: node_memory_<Field>_bytes from <procfs>/meminfo, for the fixed list of fields current
 * node_exporter knows (through the procfs library); other lines are parsed but not exported. */
#include "agent/proc_util.h"

/* One exported field: the kernel's key (without ':') and the metric suffix. `raw` fields
 * (HugePages_*) are exported unscaled, the others in bytes (a kB unit multiplies by 1024). */
typedef struct {
    const char *key;
    const char *metric;
    bool raw;
} meminfo_field;

static const meminfo_field fields[] = {
    {"Active", "Active_bytes", false},
    {"Active(anon)", "Active_anon_bytes", false},
    {"Active(file)", "Active_file_bytes", false},
    {"AnonHugePages", "AnonHugePages_bytes", false},
    {"AnonPages", "AnonPages_bytes", false},
    {"Bounce", "Bounce_bytes", false},
    {"Buffers", "Buffers_bytes", false},
    {"Cached", "Cached_bytes", false},
    {"CmaFree", "CmaFree_bytes", false},
    {"CmaTotal", "CmaTotal_bytes", false},
    {"CommitLimit", "CommitLimit_bytes", false},
    {"Committed_AS", "Committed_AS_bytes", false},
    {"DirectMap1G", "DirectMap1G_bytes", false},
    {"DirectMap2M", "DirectMap2M_bytes", false},
    {"DirectMap4k", "DirectMap4k_bytes", false},
    {"Dirty", "Dirty_bytes", false},
    {"HardwareCorrupted", "HardwareCorrupted_bytes", false},
    {"Hugepagesize", "Hugepagesize_bytes", false},
    {"Inactive", "Inactive_bytes", false},
    {"Inactive(anon)", "Inactive_anon_bytes", false},
    {"Inactive(file)", "Inactive_file_bytes", false},
    {"KernelStack", "KernelStack_bytes", false},
    {"Mapped", "Mapped_bytes", false},
    {"MemAvailable", "MemAvailable_bytes", false},
    {"MemFree", "MemFree_bytes", false},
    {"MemTotal", "MemTotal_bytes", false},
    {"Mlocked", "Mlocked_bytes", false},
    {"NFS_Unstable", "NFS_Unstable_bytes", false},
    {"PageTables", "PageTables_bytes", false},
    {"Percpu", "Percpu_bytes", false},
    {"SReclaimable", "SReclaimable_bytes", false},
    {"SUnreclaim", "SUnreclaim_bytes", false},
    {"Shmem", "Shmem_bytes", false},
    {"ShmemHugePages", "ShmemHugePages_bytes", false},
    {"ShmemPmdMapped", "ShmemPmdMapped_bytes", false},
    {"Slab", "Slab_bytes", false},
    {"SwapCached", "SwapCached_bytes", false},
    {"SwapFree", "SwapFree_bytes", false},
    {"SwapTotal", "SwapTotal_bytes", false},
    {"Unevictable", "Unevictable_bytes", false},
    {"VmallocChunk", "VmallocChunk_bytes", false},
    {"VmallocTotal", "VmallocTotal_bytes", false},
    {"VmallocUsed", "VmallocUsed_bytes", false},
    {"Writeback", "Writeback_bytes", false},
    {"WritebackTmp", "WritebackTmp_bytes", false},
    {"Zswap", "Zswap_bytes", false},
    {"Zswapped", "Zswapped_bytes", false},
    {"HugePages_Free", "HugePages_Free", true},
    {"HugePages_Rsvd", "HugePages_Rsvd", true},
    {"HugePages_Surp", "HugePages_Surp", true},
    {"HugePages_Total", "HugePages_Total", true},
};

#define NFIELDS ODIN_ARRAY_LEN(fields)

static int meminfo_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char *path = agent_path(sc, AGENT_PROC, "meminfo");
    odin_str text, line;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    bool have[NFIELDS] = {0};
    double value[NFIELDS];
    for (int ln = 1; proc_next_line(&text, &line); ln++) {
        odin_str *f;
        size_t n = proc_fields(sc, line, &f);
        uint64_t val, bytes;
        if (n < 2) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: malformed line", path, ln);
        }
        if (proc_parse_uint(f[1], 0, &val) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: invalid value \"%.*s\"", path, ln,
                                (int)(f[1].len > 64 ? 64 : f[1].len), f[1].p);
        }
        if (n == 2) {
            bytes = val;
        } else if (n == 3) {
            if (!odin_str_eq_c(f[2], "kB")) {
                return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: unsupported unit \"%.*s\"", path,
                                    ln, (int)(f[2].len > 64 ? 64 : f[2].len), f[2].p);
            }
            bytes = val * 1024u; /* wraps like Go's uint64 arithmetic */
        } else {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: malformed line", path, ln);
        }
        if (f[0].len < 1 || f[0].p[f[0].len - 1] != ':') {
            continue;
        }
        odin_str key = {f[0].p, f[0].len - 1};
        for (size_t i = 0; i < NFIELDS; i++) {
            if (odin_str_eq_c(key, fields[i].key)) {
                have[i] = true;
                value[i] = (double)(fields[i].raw ? val : bytes);
                break;
            }
        }
    }
    odin_arena *a = agent_scrape_arena(sc);
    for (size_t i = 0; i < NFIELDS; i++) {
        if (!have[i]) {
            continue;
        }
        const char *name = odin_arena_printf(a, "node_memory_%s", fields[i].metric);
        const char *help = odin_arena_printf(a, "Memory information field %s.", fields[i].metric);
        agent_emit_dyn(sc, name, help, EXPFMT_GAUGE, value[i], 0, NULL, NULL);
    }
    return 0;
}

const agent_collector_def agent_collector_meminfo = {
    .name = "meminfo",
    .default_on = true,
    .collect = meminfo_collect,
};

/* meminfo: node_memory_<Field>_bytes from <procfs>/meminfo, for the fixed list of fields current
 * node_exporter knows (through the procfs library); other lines are parsed but not exported. */
#include "agent/proc_util.h"

#include <string.h>

/* One exported field: the kernel's key (without ':') and the metric suffix. `raw` fields
 * (HugePages_*) are exported unscaled, the others in bytes (a kB unit multiplies by 1024). */
typedef struct {
    const char *key;
    size_t key_len;
    agent_desc desc; /* node_memory_<metric>, help "Memory information field <metric>." */
    bool raw;
} meminfo_field;

/* Names and help made by the preprocessor: no formatting or copying per scrape. */
#define F(key, metric, raw)                                                                        \
    {                                                                                              \
        key, sizeof(key) - 1,                                                                      \
            {"node_memory_" metric, "Memory information field " metric ".", EXPFMT_GAUGE, {0}},    \
            raw                                                                                    \
    }

static const meminfo_field fields[] = {
    F("Active", "Active_bytes", false),
    F("Active(anon)", "Active_anon_bytes", false),
    F("Active(file)", "Active_file_bytes", false),
    F("AnonHugePages", "AnonHugePages_bytes", false),
    F("AnonPages", "AnonPages_bytes", false),
    F("Bounce", "Bounce_bytes", false),
    F("Buffers", "Buffers_bytes", false),
    F("Cached", "Cached_bytes", false),
    F("CmaFree", "CmaFree_bytes", false),
    F("CmaTotal", "CmaTotal_bytes", false),
    F("CommitLimit", "CommitLimit_bytes", false),
    F("Committed_AS", "Committed_AS_bytes", false),
    F("DirectMap1G", "DirectMap1G_bytes", false),
    F("DirectMap2M", "DirectMap2M_bytes", false),
    F("DirectMap4k", "DirectMap4k_bytes", false),
    F("Dirty", "Dirty_bytes", false),
    F("HardwareCorrupted", "HardwareCorrupted_bytes", false),
    F("Hugepagesize", "Hugepagesize_bytes", false),
    F("Inactive", "Inactive_bytes", false),
    F("Inactive(anon)", "Inactive_anon_bytes", false),
    F("Inactive(file)", "Inactive_file_bytes", false),
    F("KernelStack", "KernelStack_bytes", false),
    F("Mapped", "Mapped_bytes", false),
    F("MemAvailable", "MemAvailable_bytes", false),
    F("MemFree", "MemFree_bytes", false),
    F("MemTotal", "MemTotal_bytes", false),
    F("Mlocked", "Mlocked_bytes", false),
    F("NFS_Unstable", "NFS_Unstable_bytes", false),
    F("PageTables", "PageTables_bytes", false),
    F("Percpu", "Percpu_bytes", false),
    F("SReclaimable", "SReclaimable_bytes", false),
    F("SUnreclaim", "SUnreclaim_bytes", false),
    F("Shmem", "Shmem_bytes", false),
    F("ShmemHugePages", "ShmemHugePages_bytes", false),
    F("ShmemPmdMapped", "ShmemPmdMapped_bytes", false),
    F("Slab", "Slab_bytes", false),
    F("SwapCached", "SwapCached_bytes", false),
    F("SwapFree", "SwapFree_bytes", false),
    F("SwapTotal", "SwapTotal_bytes", false),
    F("Unevictable", "Unevictable_bytes", false),
    F("VmallocChunk", "VmallocChunk_bytes", false),
    F("VmallocTotal", "VmallocTotal_bytes", false),
    F("VmallocUsed", "VmallocUsed_bytes", false),
    F("Writeback", "Writeback_bytes", false),
    F("WritebackTmp", "WritebackTmp_bytes", false),
    F("Zswap", "Zswap_bytes", false),
    F("Zswapped", "Zswapped_bytes", false),
    F("HugePages_Free", "HugePages_Free", true),
    F("HugePages_Rsvd", "HugePages_Rsvd", true),
    F("HugePages_Surp", "HugePages_Surp", true),
    F("HugePages_Total", "HugePages_Total", true),
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
            if (key.len == fields[i].key_len && memcmp(key.p, fields[i].key, key.len) == 0) {
                have[i] = true;
                value[i] = (double)(fields[i].raw ? val : bytes);
                break;
            }
        }
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        if (have[i]) {
            agent_emit(sc, &fields[i].desc, value[i], NULL);
        }
    }
    return 0;
}

const agent_collector_def agent_collector_meminfo = {
    .name = "meminfo",
    .default_on = true,
    .collect = meminfo_collect,
};

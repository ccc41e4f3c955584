/* nvme: node_nvme_info per controller and node_nvme_namespace_* per namespace from
 * <sysfs>/class/nvme/<ctrl>/ and its nvme<N>n<M>/ namespace directories. */
#include "agent/agent_int.h"
#include "agent/storage_util.h"

#include <string.h>

static const agent_desc d_info = {
    "node_nvme_info",
    "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
    EXPFMT_GAUGE,
    {"device", "firmware_revision", "model", "serial", "state", "cntlid", NULL},
};
static const agent_desc d_ns_info = {
    "node_nvme_namespace_info",
    "Information about NVMe namespaces. Value is always 1",
    EXPFMT_GAUGE,
    {"device", "nsid", "ana_state", NULL},
};
static const agent_desc d_ns_capacity = {
    "node_nvme_namespace_capacity_bytes",
    "Capacity of the NVMe namespace in bytes. Computed as namespace_size * "
    "namespace_logical_block_size",
    EXPFMT_GAUGE,
    {"device", "nsid", NULL},
};
static const agent_desc d_ns_size = {
    "node_nvme_namespace_size_bytes",
    "Size of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/size",
    EXPFMT_GAUGE,
    {"device", "nsid", NULL},
};
static const agent_desc d_ns_used = {
    "node_nvme_namespace_used_bytes",
    "Used space of the NVMe namespace in bytes. Available in "
    "/sys/class/nvme/<device>/<namespace>/nuse",
    EXPFMT_GAUGE,
    {"device", "nsid", NULL},
};
static const agent_desc d_ns_lbs = {
    "node_nvme_namespace_logical_block_size_bytes",
    "Logical block size of the NVMe namespace in bytes. Usually 4Kb. Available in "
    "/sys/class/nvme/<device>/<namespace>/queue/logical_block_size",
    EXPFMT_GAUGE,
    {"device", "nsid", NULL},
};

typedef struct {
    const char *id;
    const char *ana_state;
    uint64_t used, size, lbs; /* blocks, blocks, bytes per block */
} nvme_ns;

/* The namespace id from a directory name, as the unanchored `nvme\d+n(\d+)` finds it: the first
 * "nvme<digits>n<digits>" anywhere in the name. NULL when there is none. */
static const char *namespace_id(agent_scrape *sc, const char *name)
{
    for (const char *p = strstr(name, "nvme"); p; p = strstr(p + 1, "nvme")) {
        const char *q = p + 4;
        if (*q < '0' || *q > '9') {
            continue;
        }
        while (*q >= '0' && *q <= '9') {
            q++;
        }
        if (*q != 'n' || q[1] < '0' || q[1] > '9') {
            continue;
        }
        q++;
        size_t n = 0;
        while (q[n] >= '0' && q[n] <= '9') {
            n++;
        }
        return agent_strdup(sc, (odin_str){q, n});
    }
    return NULL;
}

/* A numeric namespace attribute; unparsable text counts as 0, as in procfs. */
static int ns_number(agent_scrape *sc, const char *path, uint64_t *out, odin_err *err)
{
    odin_str s;
    int rc = storage_sys_read(sc, path, &s, err);
    if (rc < 0) {
        odin_err_prefix(err, "failed to read file: ");
        return rc;
    }
    if (odin_parse_u64(s, out) < 0) {
        *out = 0;
    }
    return 0;
}

static int read_namespace(agent_scrape *sc, const char *ctrl, const char *dir, nvme_ns *ns,
                          odin_err *err)
{
    static const char *const files[] = {"nuse", "size", "queue/logical_block_size"};
    uint64_t *dst[] = {&ns->used, &ns->size, &ns->lbs};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(files); i++) {
        const char *path = agent_path(sc, AGENT_SYS, "class/nvme/%s/%s/%s", ctrl, dir, files[i]);
        int rc = ns_number(sc, path, dst[i], err);
        if (rc < 0) {
            return rc;
        }
    }
    odin_str s;
    odin_err ignored = {0};
    ns->ana_state = "unknown"; /* ana_state is optional */
    if (storage_sys_read(sc, agent_path(sc, AGENT_SYS, "class/nvme/%s/%s/ana_state", ctrl, dir), &s,
                         &ignored) == 0) {
        ns->ana_state = agent_strdup(sc, s);
    }
    return 0;
}

static void emit_namespace(agent_scrape *sc, const char *ctrl, const nvme_ns *ns)
{
    const char *iv[] = {ctrl, ns->id, ns->ana_state};
    agent_emit(sc, &d_ns_info, 1.0, iv);
    const char *v[] = {ctrl, ns->id};
    /* unsigned products wrap as Go's uint64 arithmetic does */
    uint64_t bytes = ns->size * ns->lbs;
    agent_emit(sc, &d_ns_capacity, (double)bytes, v);
    agent_emit(sc, &d_ns_size, (double)bytes, v);
    agent_emit(sc, &d_ns_used, (double)(ns->used * ns->lbs), v);
    agent_emit(sc, &d_ns_lbs, (double)ns->lbs, v);
}

typedef struct {
    const char *name;
    const char *vals[5]; /* firmware_rev, model, serial, state, cntlid */
    nvme_ns *ns;
    size_t nns;
} nvme_ctrl;

/* Reads one controller's attributes and namespaces; a missing attribute is an error. */
static int read_ctrl(agent_scrape *sc, nvme_ctrl *c, odin_err *err)
{
    static const char *const attrs[] = {"firmware_rev", "model", "serial", "state", "cntlid"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(attrs); i++) {
        odin_str s;
        const char *path = agent_path(sc, AGENT_SYS, "class/nvme/%s/%s", c->name, attrs[i]);
        int rc = storage_sys_read(sc, path, &s, err);
        if (rc < 0) {
            odin_err_prefix(err, "failed to read file: ");
            return rc;
        }
        c->vals[i] = agent_strdup(sc, s);
    }
    const char **names;
    size_t n;
    int rc =
        agent_list_dir(sc, agent_path(sc, AGENT_SYS, "class/nvme/%s", c->name), &names, &n, err);
    if (rc < 0) {
        odin_err_prefix(err, "failed to list NVMe namespaces: ");
        return rc;
    }
    c->ns = odin_arena_zalloc(agent_scrape_arena(sc), (n ? n : 1) * sizeof(*c->ns));
    if (!c->ns) {
        odin_oom();
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = namespace_id(sc, names[i]);
        if (!id) {
            continue;
        }
        c->ns[c->nns].id = id;
        rc = read_namespace(sc, c->name, names[i], &c->ns[c->nns], err);
        if (rc < 0) {
            return rc;
        }
        c->nns++;
    }
    return 0;
}

/* Everything is read before anything is emitted: one failing controller fails the collector
 * with no output, as procfs' NVMeClass returns nothing on error. */
static int nvme_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char **names;
    size_t n;
    int rc = agent_list_dir(sc, agent_path(sc, AGENT_SYS, "class/nvme"), &names, &n, err);
    if (rc == -ODIN_ERR_NOTFOUND) {
        return -ODIN_ERR_UNAVAILABLE; /* node_exporter's ErrNoData: no NVMe class */
    }
    if (rc < 0) {
        odin_err_prefix(err, "error obtaining NVMe class info: ");
        return rc;
    }
    nvme_ctrl *ctrls = odin_arena_zalloc(agent_scrape_arena(sc), (n ? n : 1) * sizeof(*ctrls));
    if (!ctrls) {
        odin_oom();
    }
    for (size_t i = 0; i < n; i++) {
        ctrls[i].name = names[i];
        rc = read_ctrl(sc, &ctrls[i], err);
        if (rc == -ODIN_ERR_NOTFOUND) {
            return -ODIN_ERR_UNAVAILABLE; /* node_exporter: ErrNoData for any missing file */
        }
        if (rc < 0) {
            odin_err_prefix(err, "error obtaining NVMe class info: ");
            return rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const nvme_ctrl *c = &ctrls[i];
        const char *iv[] = {c->name, c->vals[0], c->vals[1], c->vals[2], c->vals[3], c->vals[4]};
        agent_emit(sc, &d_info, 1.0, iv);
        for (size_t k = 0; k < c->nns; k++) {
            emit_namespace(sc, c->name, &c->ns[k]);
        }
    }
    return 0;
}

const agent_collector_def agent_collector_nvme = {
    .name = "nvme",
    .default_on = true,
    .collect = nvme_collect,
};

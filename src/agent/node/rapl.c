/* rapl: node_rapl_<zone>_joules_total{index,path} from <sysfs>/class/powercap/<zone>/energy_uj,
 * or node_rapl_joules_total{index,path,rapl_zone} with --collector.rapl.enable-zone-label. */
#include "agent/sysfs_util.h"

#include <errno.h>
#include <string.h>

static const agent_flag_def rapl_flags[] = {
    {"collector.rapl.enable-zone-label", "false",
     "Enables service unit metric unit_start_time_seconds", true, false},
    {NULL, NULL, NULL, false, false},
};

static const agent_desc d_joules = {"node_rapl_joules_total",
                                    "Current RAPL value in joules",
                                    EXPFMT_COUNTER,
                                    {"index", "path", "rapl_zone", NULL}};

typedef struct {
    const char *name;
    int64_t index;
    const char *path;
} rapl_zone;

/* node_exporter's SanitizeMetricName: each run of `_*[^0-9A-Za-z_]+_*` becomes one "_". */
static const char *sanitize(agent_scrape *sc, const char *s)
{
    size_t n = strlen(s);
    char *out = odin_arena_alloc(agent_scrape_arena(sc), n + 1);
    if (!out) {
        odin_oom();
    }
    size_t w = 0, i = 0;
#define VALID(c)                                                                                   \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') ||     \
     (c) == '_')
    while (i < n) {
        if (VALID(s[i]) && s[i] != '_') {
            out[w++] = s[i++];
            continue;
        }
        size_t j = i;
        while (j < n && s[j] == '_') {
            j++;
        }
        if (j < n && !VALID(s[j])) {
            while (j < n && !VALID(s[j])) {
                j++;
            }
            while (j < n && s[j] == '_') {
                j++;
            }
            out[w++] = '_';
        } else {
            memcpy(out + w, s + i, j - i);
            w += j - i;
        }
        i = j;
    }
#undef VALID
    out[w] = '\0';
    return out;
}

/* procfs' ReadUintFromFile: whole file, trimmed, decimal. */
static int read_uint(agent_scrape *sc, const char *path, uint64_t *v, int *errnum)
{
    odin_str text;
    if (agent_sysfs_read_all(sc, path, &text, errnum) < 0) {
        return -1;
    }
    if (odin_parse_u64(odin_str_trim(text), v) < 0) {
        *errnum = 0;
        return -1;
    }
    return 0;
}

/* Name-based index as procfs computes it: "package-0" is package with index 0; otherwise the
 * count of earlier zones with that name. */
static int64_t zone_index(agent_scrape *sc, odin_map *counts, const char **name)
{
    odin_str s = odin_str_c(*name);
    odin_str rest = s;
    odin_str head = odin_str_cut(&rest, '-');
    int64_t idx;
    if (head.len < s.len && !memchr(rest.p, '-', rest.len) && odin_parse_i64(rest, &idx) == 0) {
        *name = agent_strdup(sc, head);
        return idx;
    }
    int64_t *c = odin_map_get(counts, *name, strlen(*name));
    return c ? *c : 0;
}

static int rapl_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    bool zone_label = agent_flag_bool(agent_scrape_agent(sc), "collector.rapl.enable-zone-label");
    const char *dir = agent_sysfs_clean_path(sc, agent_path(sc, AGENT_SYS, "class/powercap"));
    const char **names;
    size_t n;
    int rc = agent_list_dir(sc, dir, &names, &n, err);
    if (rc == -ODIN_ERR_NOTFOUND) {
        return -ODIN_ERR_UNAVAILABLE;
    }
    if (rc < 0) {
        return rc;
    }
    rapl_zone *zones = odin_arena_zalloc(agent_scrape_arena(sc), (n + 1) * sizeof(*zones));
    if (!zones) {
        odin_oom();
    }
    size_t nz = 0;
    odin_map counts; /* name -> next index, values in scrape memory */
    odin_map_init(&counts);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *zdir = agent_sysfs_join(sc, dir, names[i]);
        odin_str text;
        int e;
        if (agent_sysfs_read_all(sc, agent_sysfs_join(sc, zdir, "name"), &text, &e) < 0) {
            continue;
        }
        const char *name = agent_strdup(sc, odin_str_trim(text));
        int64_t idx = zone_index(sc, &counts, &name);
        uint64_t max_uj;
        const char *mpath = agent_sysfs_join(sc, zdir, "max_energy_range_uj");
        if (read_uint(sc, mpath, &max_uj, &e) < 0) {
            if (e == ENOENT || e == EACCES) {
                rc = -ODIN_ERR_UNAVAILABLE;
                odin_err_set(err, ODIN_ERR_UNAVAILABLE, "%s: cannot read", mpath);
            } else {
                rc = odin_err_set(err, e ? ODIN_ERR_IO : ODIN_ERR_PARSE, "%s: cannot read", mpath);
            }
            break;
        }
        zones[nz++] = (rapl_zone){name, idx, zdir};
        int64_t *next = odin_arena_alloc(agent_scrape_arena(sc), sizeof(*next));
        if (!next) {
            odin_oom();
        }
        *next = idx + 1;
        odin_map_put(&counts, name, strlen(name), next);
    }
    odin_map_fini(&counts);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < nz; i++) {
        uint64_t uj;
        int e;
        const char *epath = agent_sysfs_join(sc, zones[i].path, "energy_uj");
        if (read_uint(sc, epath, &uj, &e) < 0) {
            if (e == EACCES || e == EPERM) {
                return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "%s: permission denied", epath);
            }
            return odin_err_set(err, e ? ODIN_ERR_IO : ODIN_ERR_PARSE, "%s: cannot read", epath);
        }
        double joules = (double)uj / 1000000.0;
        const char *index = agent_fmt_i64(sc, zones[i].index);
        if (zone_label) {
            const char *labels[3] = {index, zones[i].path, zones[i].name};
            agent_emit(sc, &d_joules, joules, labels);
        } else {
            const char *mname = odin_arena_printf(
                agent_scrape_arena(sc), "node_rapl_%s_joules_total", sanitize(sc, zones[i].name));
            const char *help = odin_arena_printf(agent_scrape_arena(sc),
                                                 "Current RAPL %s value in joules", zones[i].name);
            static const char *const lnames[2] = {"index", "path"};
            const char *labels[2] = {index, zones[i].path};
            agent_emit_dyn(sc, mname, help, EXPFMT_COUNTER, joules, 2, lnames, labels);
        }
    }
    return 0;
}

const agent_collector_def agent_collector_rapl = {
    .name = "rapl",
    .default_on = true,
    .flags = rapl_flags,
    .collect = rapl_collect,
};

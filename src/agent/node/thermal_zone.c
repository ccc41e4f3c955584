/* thermal_zone: node_thermal_zone_temp{zone,type} from <sysfs>/class/thermal/thermal_zoneN and
 * node_cooling_device_{cur,max}_state{name,type} from cooling_deviceN, as node_exporter. */
#include "agent/sysfs_util.h"

static const agent_desc d_zone_temp = {
    "node_thermal_zone_temp", "Zone temperature in Celsius", EXPFMT_GAUGE, {"zone", "type", NULL}};
static const agent_desc d_cur_state = {"node_cooling_device_cur_state",
                                       "Current throttle state of the cooling device",
                                       EXPFMT_GAUGE,
                                       {"name", "type", NULL}};
static const agent_desc d_max_state = {"node_cooling_device_max_state",
                                       "Maximum throttle state of the cooling device",
                                       EXPFMT_GAUGE,
                                       {"name", "type", NULL}};

/* filepath.Glob("<prefix>[0-9]*"): the entry starts with prefix followed by a digit. */
static bool glob_match(const char *name, odin_str prefix)
{
    odin_str s = odin_str_c(name);
    return odin_str_has_prefix(s, prefix.p) && s.len > prefix.len && s.p[prefix.len] >= '0' &&
           s.p[prefix.len] <= '9';
}

static void emit_zone(agent_scrape *sc, const char *dir, const char *id)
{
    odin_str type = {"", 0}, text;
    int e;
    if (agent_sysfs_read(sc, agent_sysfs_join(sc, dir, "type"), &text, &e) == 0) {
        type = text;
    }
    /* A zone whose temp cannot be read still reports, with 0 (procfs keeps the error aside). */
    int64_t temp = 0;
    if (agent_sysfs_read(sc, agent_sysfs_join(sc, dir, "temp"), &text, &e) == 0 &&
        odin_parse_i64(text, &temp) < 0) {
        temp = 0;
    }
    const char *labels[2] = {id, agent_strdup(sc, type)};
    agent_emit(sc, &d_zone_temp, (double)temp / 1000.0, labels);
}

/* Reads one cooling device: 1 when it was read, 0 when an ignorable error skips it, negative on
 * a fatal error. */
static int read_cooling(agent_scrape *sc, const char *dir, odin_str *type, int64_t *max,
                        int64_t *cur, odin_err *err)
{
    static const char *const files[3] = {"type", "max_state", "cur_state"};
    for (int i = 0; i < 3; i++) {
        const char *path = agent_sysfs_join(sc, dir, files[i]);
        odin_str text;
        int e;
        if (agent_sysfs_read(sc, path, &text, &e) < 0) {
            if (agent_sysfs_ignorable(e)) {
                return 0;
            }
            return odin_err_errno(err, e, "read %s", path);
        }
        if (i == 0) {
            *type = text;
            continue;
        }
        int64_t *dst = i == 1 ? max : cur;
        if (odin_parse_i64(text, dst) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: not an integer: \"%.64s\"", path, text.p);
        }
    }
    return 1;
}

static int thermal_zone_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char *base = agent_path(sc, AGENT_SYS, "class/thermal");
    const char **names;
    size_t n;
    odin_err ignored;
    if (agent_list_dir(sc, base, &names, &n, &ignored) < 0) {
        /* Glob on a missing directory matches nothing, which is not an error upstream. */
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (glob_match(names[i], ODIN_STR("thermal_zone"))) {
            emit_zone(sc, agent_sysfs_join(sc, base, names[i]), names[i] + 12);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!glob_match(names[i], ODIN_STR("cooling_device"))) {
            continue;
        }
        odin_str type = {"", 0};
        int64_t max = 0, cur = 0;
        const char *dir = agent_sysfs_join(sc, base, names[i]);
        int rc = read_cooling(sc, dir, &type, &max, &cur, err);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            continue;
        }
        const char *labels[2] = {names[i] + 14, agent_strdup(sc, type)};
        agent_emit(sc, &d_cur_state, (double)cur, labels);
        agent_emit(sc, &d_max_state, (double)max, labels);
    }
    return 0;
}

const agent_collector_def agent_collector_thermal_zone = {
    .name = "thermal_zone",
    .default_on = true,
    .collect = thermal_zone_collect,
};

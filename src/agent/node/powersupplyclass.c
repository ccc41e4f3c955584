/* powersupplyclass: node_power_supply_<attr>{power_supply} and node_power_supply_info from
 * the attribute files of <sysfs>/class/power_supply/<name>, as node_exporter (values in uA, uV,
 * uWh, uW become A, V, Wh, W; temperatures in tenths of a degree become degrees Celsius). */
#include "agent/sysfs_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const agent_flag_def psu_flags[] = {
    {"collector.powersupply.ignored-supplies", "^$",
     "Regexp of power supplies to ignore for powersupplyclass collector.", false, false},
    {NULL, NULL, NULL, false, false},
};

enum { PS_RAW, PS_MICRO, PS_DECI, PS_LABEL, PS_UNUSED };

/* One attribute file: its metric (or info label) name and how its value is scaled. */
typedef struct {
    const char *file;
    const char *metric; /* metric suffix, or the info label name for PS_LABEL */
    int kind;
} ps_attr;

static const ps_attr attrs[] = {
    {"authentic", "authentic", PS_RAW},
    {"calibrate", "calibrate", PS_RAW},
    {"capacity", "capacity", PS_RAW},
    {"capacity_alert_max", "capacity_alert_max", PS_RAW},
    {"capacity_alert_min", "capacity_alert_min", PS_RAW},
    {"capacity_level", "capacity_level", PS_LABEL},
    {"charge_avg", NULL, PS_UNUSED},
    {"charge_control_limit", "charge_control_limit", PS_MICRO},
    {"charge_control_limit_max", "charge_control_limit_max", PS_MICRO},
    {"charge_counter", "charge_counter", PS_MICRO},
    {"charge_empty", "charge_empty", PS_MICRO},
    {"charge_empty_design", "charge_empty_design", PS_MICRO},
    {"charge_full", "charge_full", PS_MICRO},
    {"charge_full_design", "charge_full_design", PS_MICRO},
    {"charge_now", "charge_ampere", PS_MICRO},
    {"charge_term_current", "charge_term_current", PS_MICRO},
    {"charge_type", "charge_type", PS_LABEL},
    {"constant_charge_current", "constant_charge_current", PS_MICRO},
    {"constant_charge_current_max", "constant_charge_current_max", PS_MICRO},
    {"constant_charge_voltage", "constant_charge_voltage", PS_MICRO},
    {"constant_charge_voltage_max", "constant_charge_voltage_max", PS_MICRO},
    {"current_avg", NULL, PS_UNUSED},
    {"current_boot", "current_boot", PS_MICRO},
    {"current_max", "current_max", PS_MICRO},
    {"current_now", "current_ampere", PS_MICRO},
    {"cycle_count", "cyclecount", PS_RAW},
    {"energy_avg", NULL, PS_UNUSED},
    {"energy_empty", "energy_empty", PS_MICRO},
    {"energy_empty_design", "energy_empty_design", PS_MICRO},
    {"energy_full", "energy_full", PS_MICRO},
    {"energy_full_design", "energy_full_design", PS_MICRO},
    {"energy_now", "energy_watthour", PS_MICRO},
    {"health", "health", PS_LABEL},
    {"input_current_limit", "input_current_limit", PS_MICRO},
    {"manufacturer", "manufacturer", PS_LABEL},
    {"model_name", "model_name", PS_LABEL},
    {"online", "online", PS_RAW},
    {"power_avg", NULL, PS_UNUSED},
    {"power_now", "power_watt", PS_MICRO},
    {"precharge_current", "precharge_current", PS_MICRO},
    {"present", "present", PS_RAW},
    {"scope", "scope", PS_LABEL},
    {"serial_number", "serial_number", PS_LABEL},
    {"status", "status", PS_LABEL},
    {"technology", "technology", PS_LABEL},
    {"temp", "temp_celsius", PS_DECI},
    {"temp_alert_max", "temp_alert_max_celsius", PS_DECI},
    {"temp_alert_min", "temp_alert_min_celsius", PS_DECI},
    {"temp_ambient", "temp_ambient_celsius", PS_DECI},
    {"temp_ambient_max", "temp_ambient_max_celsius", PS_DECI},
    {"temp_ambient_min", "temp_ambient_min_celsius", PS_DECI},
    {"temp_max", "temp_max_celsius", PS_DECI},
    {"temp_min", "temp_min_celsius", PS_DECI},
    {"time_to_empty_avg", NULL, PS_UNUSED},
    {"time_to_empty_now", "time_to_empty_seconds", PS_RAW},
    {"time_to_full_avg", NULL, PS_UNUSED},
    {"time_to_full_now", "time_to_full_seconds", PS_RAW},
    {"type", "type", PS_LABEL},
    {"usb_type", "usb_type", PS_LABEL},
    {"voltage_avg", NULL, PS_UNUSED},
    {"voltage_boot", "voltage_boot", PS_MICRO},
    {"voltage_max", "voltage_max", PS_MICRO},
    {"voltage_max_design", "voltage_max_design", PS_MICRO},
    {"voltage_min", "voltage_min", PS_MICRO},
    {"voltage_min_design", "voltage_min_design", PS_MICRO},
    {"voltage_now", "voltage_volt", PS_MICRO},
    {"voltage_ocv", "voltage_ocv", PS_MICRO},
};
enum { NATTR = sizeof(attrs) / sizeof(attrs[0]) };

typedef struct {
    const char *name;
    bool has[NATTR];
    int64_t num[NATTR];
    odin_str text[NATTR];
} ps_supply;

typedef struct {
    agent_regex *ignored;
} psu_state;

static int attr_find(const char *file)
{
    for (int i = 0; i < NATTR; i++) {
        if (strcmp(attrs[i].file, file) == 0) {
            return i;
        }
    }
    return -1;
}

static int parse_supply(agent_scrape *sc, const char *dir, ps_supply *ps, odin_err *err)
{
    const char **files;
    size_t n;
    int rc = agent_list_dir(sc, dir, &files, &n, err);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        const char *path = agent_sysfs_join(sc, dir, files[i]);
        if (agent_sysfs_lstat_type(path) != AGENT_FT_REG) {
            continue;
        }
        odin_str value;
        int e;
        if (agent_sysfs_read(sc, path, &value, &e) < 0) {
            if (e == ENOENT || e == EOPNOTSUPP || e == ENODEV) {
                continue;
            }
            return odin_err_errno(err, e, "failed to read file %s", path);
        }
        int a = attr_find(files[i]);
        if (a < 0) {
            continue;
        }
        if (attrs[a].kind == PS_LABEL) {
            ps->text[a] = value;
            continue;
        }
        if (agent_sysfs_parse_i64(value, &ps->num[a]) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: not an integer: \"%.64s\"", path,
                                value.p);
        }
        ps->has[a] = true;
    }
    return 0;
}

static void emit_supply(agent_scrape *sc, const ps_supply *ps)
{
    odin_arena *ar = agent_scrape_arena(sc);
    static const char *const lname[1] = {"power_supply"};
    const char *lval[1] = {ps->name};
    for (int a = 0; a < NATTR; a++) {
        int k = attrs[a].kind;
        if (!ps->has[a] || (k != PS_RAW && k != PS_MICRO && k != PS_DECI)) {
            continue;
        }
        double v = (double)ps->num[a];
        if (k == PS_MICRO) {
            v = v / 1e6;
        } else if (k == PS_DECI) {
            v = v / 10.0;
        }
        const char *name = odin_arena_printf(ar, "node_power_supply_%s", attrs[a].metric);
        const char *help = odin_arena_printf(
            ar, "%s value of /sys/class/power_supply/<power_supply>.", attrs[a].metric);
        agent_emit_dyn(sc, name, help, EXPFMT_GAUGE, v, 1, lname, lval);
    }
    const char *names[NATTR + 1], *values[NATTR + 1];
    size_t nl = 0;
    names[nl] = "power_supply";
    values[nl++] = agent_valid_utf8(sc, odin_str_c(ps->name));
    for (int a = 0; a < NATTR; a++) {
        if (attrs[a].kind == PS_LABEL && ps->text[a].len > 0) {
            names[nl] = attrs[a].metric;
            values[nl++] = agent_valid_utf8(sc, ps->text[a]);
        }
    }
    agent_emit_dyn(sc, "node_power_supply_info", "info of /sys/class/power_supply/<power_supply>.",
                   EXPFMT_GAUGE, 1.0, nl, names, values);
}

static int psu_collect(agent_scrape *sc, void *state, odin_err *err)
{
    psu_state *st = state;
    agent_sysfs_class cl;
    int rc = agent_sysfs_class_list(sc, "class/power_supply", &cl, err);
    if (rc < 0) {
        return rc;
    }
    ps_supply *ps = agent_sysfs_class_items(sc, &cl, sizeof(*ps));
    /* Every supply is parsed before anything is emitted: one bad file fails the collector. */
    for (size_t i = 0; i < cl.n; i++) {
        ps[i].name = cl.names[i];
        rc = parse_supply(sc, agent_sysfs_join(sc, cl.base, cl.names[i]), &ps[i], err);
        if (rc == -ODIN_ERR_NOTFOUND) {
            return -ODIN_ERR_UNAVAILABLE;
        }
        if (rc < 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < cl.n; i++) {
        if (st->ignored && agent_regex_match(st->ignored, cl.names[i], strlen(cl.names[i]))) {
            continue;
        }
        emit_supply(sc, &ps[i]);
    }
    return 0;
}

static int psu_init(agent *ag, void **state, odin_err *err)
{
    psu_state *st = odin_calloc(1, sizeof(*st));
    const char *pat = agent_flag(ag, "collector.powersupply.ignored-supplies");
    if (pat && !(st->ignored = agent_regex_new(pat, false, err))) {
        free(st);
        odin_err_prefix(err, "collector.powersupply.ignored-supplies: ");
        return -ODIN_ERR_INVALID;
    }
    *state = st;
    return 0;
}

static void psu_fini(void *state)
{
    psu_state *st = state;
    if (st) {
        agent_regex_free(st->ignored);
        free(st);
    }
}

const agent_collector_def agent_collector_powersupplyclass = {
    .name = "powersupplyclass",
    .default_on = true,
    .flags = psu_flags,
    .init = psu_init,
    .collect = psu_collect,
    .fini = psu_fini,
};

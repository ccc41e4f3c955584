/* hwmon: node_hwmon_* sensor readings from <sysfs>/class/hwmon/hwmonN/ (and its device/
 * directory), named and scaled as node_exporter does (lm-sensors' sysfs interface). */
#include "agent/sysfs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const agent_flag_def hwmon_flags[] = {
    {"collector.hwmon.chip-include", NULL,
     "Regexp of hwmon chip to include (mutually exclusive to device-exclude).", false, false},
    {"collector.hwmon.chip-exclude", NULL,
     "Regexp of hwmon chip to exclude (mutually exclusive to device-include).", false, false},
    {"collector.hwmon.sensor-include", NULL,
     "Regexp of hwmon sensor to include (mutually exclusive to sensor-exclude).", false, false},
    {"collector.hwmon.sensor-exclude", NULL,
     "Regexp of hwmon sensor to exclude (mutually exclusive to sensor-include).", false, false},
    {NULL, NULL, NULL, false, false},
};

static const char *const sensor_types[] = {
    "vrm",  "beep_enable", "update_interval", "in",     "cpu",      "fan",       "pwm",
    "temp", "curr",        "power",           "energy", "humidity", "intrusion", "freq",
};

typedef struct {
    agent_filter chips;
    agent_filter sensors;
} hwmon_state;

/* One property file of a sensor ("input", "max", "" for a bare "fan1"). */
typedef struct {
    const char *prop;
    const char *value;
} hw_prop;

typedef struct {
    const char *name; /* "temp1" */
    hw_prop *props;
    size_t nprops, cap;
} hw_sensor;

typedef struct {
    hw_sensor *v;
    size_t n, cap;
} hw_data;

/* node_exporter's cleanMetricName: lower case, every rune outside [a-z0-9:_] becomes "_", then
 * leading and trailing "_" are trimmed. */
static const char *clean_name(agent_scrape *sc, odin_str s)
{
    char *out = odin_arena_alloc(agent_scrape_arena(sc), s.len + 1);
    if (!out) {
        odin_oom();
    }
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s.p;
    for (size_t i = 0; i < s.len;) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z') {
                c = (unsigned char)(c - 'A' + 'a');
            }
            bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '_';
            out[w++] = ok ? (char)c : '_';
            i++;
            continue;
        }
        size_t l = odin_utf8_len(p + i, s.len - i, NULL); /* an invalid byte alone */
        i += l ? l : 1;
        out[w++] = '_';
    }
    size_t a = 0;
    while (a < w && out[a] == '_') {
        a++;
    }
    while (w > a && out[w - 1] == '_') {
        w--;
    }
    out[w] = '\0';
    return out + a;
}

/* Splits a file name as ^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$ with Go's
 * leftmost-first preferences. */
static bool explode(const char *name, odin_str *type, odin_str *id, odin_str *prop)
{
    size_t n = strlen(name), t = 0;
    while (t < n && !(name[t] >= '0' && name[t] <= '9')) {
        t++;
    }
    if (t == 0) {
        return false;
    }
    size_t d = t;
    while (d < n && name[d] >= '0' && name[d] <= '9') {
        d++;
    }
    if (d == n || (name[d] == '_' && d + 1 < n)) {
        *type = (odin_str){name, t};
        *id = (odin_str){name + t, d - t};
        *prop = d == n ? (odin_str){"", 0} : (odin_str){name + d + 1, n - d - 1};
        return true;
    }
    /* a shorter type ending just before an underscore, with no id */
    for (size_t k = t - 1; k >= 1; k--) {
        if (name[k] == '_' && k + 1 < n) {
            *type = (odin_str){name, k};
            *id = (odin_str){"", 0};
            *prop = (odin_str){name + k + 1, n - k - 1};
            return true;
        }
    }
    return false;
}

static bool known_type(odin_str type)
{
    for (size_t i = 0; i < sizeof(sensor_types) / sizeof(sensor_types[0]); i++) {
        if (odin_str_eq_c(type, sensor_types[i])) {
            return true;
        }
    }
    return false;
}

static void *grow(agent_scrape *sc, void *old, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) {
        return old;
    }
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = odin_arena_alloc(agent_scrape_arena(sc), nc * size);
    if (!p) {
        odin_oom();
    }
    if (n) {
        memcpy(p, old, n * size);
    }
    *cap = nc;
    return p;
}

static void data_set(agent_scrape *sc, hw_data *d, const char *sensor, const char *prop,
                     const char *value)
{
    hw_sensor *s = NULL;
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->v[i].name, sensor) == 0) {
            s = &d->v[i];
            break;
        }
    }
    if (!s) {
        d->v = grow(sc, d->v, d->n, &d->cap, sizeof(*d->v));
        s = &d->v[d->n++];
        *s = (hw_sensor){sensor, NULL, 0, 0};
    }
    for (size_t i = 0; i < s->nprops; i++) {
        if (strcmp(s->props[i].prop, prop) == 0) {
            s->props[i].value = value;
            return;
        }
    }
    s->props = grow(sc, s->props, s->nprops, &s->cap, sizeof(*s->props));
    s->props[s->nprops++] = (hw_prop){prop, value};
}

static const char *sensor_get(const hw_sensor *s, const char *prop)
{
    for (size_t i = 0; i < s->nprops; i++) {
        if (strcmp(s->props[i].prop, prop) == 0) {
            return s->props[i].value;
        }
    }
    return NULL;
}

/* Reads at most 128 bytes with one read(2), trimming only newlines, as node_exporter's hwmon. */
static int read_value(agent_scrape *sc, const char *path, const char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    char buf[128];
    ssize_t n;
    do {
        n = read(fd, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0) {
        return -1;
    }
    size_t a = 0, b = (size_t)n;
    while (a < b && buf[a] == '\n') {
        a++;
    }
    while (b > a && buf[b - 1] == '\n') {
        b--;
    }
    *out = agent_strdup(sc, (odin_str){buf + a, b - a});
    return 0;
}

static int collect_sensor_data(agent_scrape *sc, const char *dir, hw_data *d, odin_err *err)
{
    const char **files;
    size_t n;
    int rc = agent_list_dir(sc, dir, &files, &n, err);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        odin_str type, id, prop;
        if (!explode(files[i], &type, &id, &prop) || !known_type(type)) {
            continue;
        }
        int64_t num = 0;
        if (id.len > 0 && (odin_parse_i64(id, &num) < 0)) {
            continue;
        }
        const char *value;
        if (read_value(sc, agent_sysfs_join(sc, dir, files[i]), &value) < 0) {
            continue;
        }
        const char *sensor = odin_arena_printf(agent_scrape_arena(sc), "%.*s%lld", (int)type.len,
                                               type.p, (long long)num);
        data_set(sc, d, sensor, agent_strdup(sc, prop), value);
    }
    return 0;
}

static void emit(agent_scrape *sc, const char *name, const char *help, expfmt_type t, double v,
                 const char *chip, const char *sensor)
{
    static const char *const lnames[2] = {"chip", "sensor"};
    const char *lv[2] = {chip, sensor};
    agent_emit_dyn(sc, name, help, t, v, 2, lnames, lv);
}

static bool parse_float(const char *s, double *v)
{
    return s && odin_parse_double(odin_str_c(s), v) == 0;
}

static void emit_sensor(agent_scrape *sc, const char *chip, const hw_sensor *s)
{
    odin_arena *ar = agent_scrape_arena(sc);
    odin_str type, id, p0;
    explode(s->name, &type, &id, &p0);
    const char *stype = agent_strdup(sc, type);
    const char *label = sensor_get(s, "label");
    if (label) {
        static const char *const ln[3] = {"chip", "sensor", "label"};
        const char *lv[3] = {chip, s->name, agent_valid_utf8(sc, odin_str_c(label))};
        agent_emit_dyn(sc, "node_hwmon_sensor_label", "Label for given chip and sensor",
                       EXPFMT_GAUGE, 1.0, 3, ln, lv);
    }
    double v;
    const char *bare = sensor_get(s, "");
    if (strcmp(stype, "beep_enable") == 0) {
        emit(sc, "node_hwmon_beep_enabled", "Hardware beep enabled", EXPFMT_GAUGE,
             bare && strcmp(bare, "1") == 0 ? 1.0 : 0.0, chip, s->name);
        return;
    }
    if (strcmp(stype, "vrm") == 0) {
        if (parse_float(bare ? bare : "", &v)) {
            emit(sc, "node_hwmon_voltage_regulator_version", "Hardware voltage regulator",
                 EXPFMT_GAUGE, v, chip, s->name);
        }
        return;
    }
    if (strcmp(stype, "update_interval") == 0) {
        if (parse_float(bare ? bare : "", &v)) {
            emit(sc, "node_hwmon_update_interval_seconds", "Hardware monitor update interval",
                 EXPFMT_GAUGE, v * 0.001, chip, s->name);
        }
        return;
    }
    const char *prefix = odin_arena_printf(ar, "node_hwmon_%s", stype);
    for (size_t i = 0; i < s->nprops; i++) {
        const char *el = s->props[i].prop;
        if (strcmp(el, "label") == 0) {
            continue;
        }
        const char *name = prefix;
        if (strcmp(el, "input") == 0) {
            if (bare) {
                name = odin_arena_printf(ar, "%s_input", prefix);
            }
        } else if (*el) {
            name = odin_arena_printf(ar, "%s_%s", prefix, clean_name(sc, odin_str_c(el)));
        }
        if (!parse_float(s->props[i].value, &v)) {
            continue;
        }
#define IS(a, b) (strcmp((a), (b)) == 0)
        if (IS(el, "fault") || IS(el, "alarm")) {
            emit(sc, name, odin_arena_printf(ar, "Hardware sensor %s status (%s)", el, stype),
                 EXPFMT_GAUGE, v, chip, s->name);
        } else if (IS(el, "beep")) {
            emit(sc, odin_arena_printf(ar, "%s_enabled", name),
                 "Hardware monitor sensor has beeping enabled", EXPFMT_GAUGE, v, chip, s->name);
        } else if (IS(stype, "in") || IS(stype, "cpu")) {
            emit(sc, odin_arena_printf(ar, "%s_volts", name),
                 odin_arena_printf(ar, "Hardware monitor for voltage (%s)", el), EXPFMT_GAUGE,
                 v * 0.001, chip, s->name);
        } else if (IS(stype, "temp") && !IS(el, "type")) {
            emit(sc, odin_arena_printf(ar, "%s_celsius", name),
                 odin_arena_printf(ar, "Hardware monitor for temperature (%s)", *el ? el : "input"),
                 EXPFMT_GAUGE, v * 0.001, chip, s->name);
        } else if (IS(stype, "curr")) {
            emit(sc, odin_arena_printf(ar, "%s_amps", name),
                 odin_arena_printf(ar, "Hardware monitor for current (%s)", el), EXPFMT_GAUGE,
                 v * 0.001, chip, s->name);
        } else if (IS(stype, "energy")) {
            emit(sc, odin_arena_printf(ar, "%s_joule_total", name),
                 odin_arena_printf(ar, "Hardware monitor for joules used so far (%s)", el),
                 EXPFMT_COUNTER, v / 1000000.0, chip, s->name);
        } else if (IS(stype, "power") && IS(el, "accuracy")) {
            emit(sc, name, "Hardware monitor power meter accuracy, as a ratio", EXPFMT_GAUGE,
                 v / 1000000.0, chip, s->name);
        } else if (IS(stype, "power") &&
                   (IS(el, "average_interval") || IS(el, "average_interval_min") ||
                    IS(el, "average_interval_max"))) {
            emit(sc, odin_arena_printf(ar, "%s_seconds", name),
                 odin_arena_printf(ar, "Hardware monitor power usage update interval (%s)", el),
                 EXPFMT_GAUGE, v * 0.001, chip, s->name);
        } else if (IS(stype, "power")) {
            emit(sc, odin_arena_printf(ar, "%s_watt", name),
                 odin_arena_printf(ar, "Hardware monitor for power usage in watts (%s)", el),
                 EXPFMT_GAUGE, v / 1000000.0, chip, s->name);
        } else if (IS(stype, "humidity")) {
            emit(sc, name,
                 odin_arena_printf(ar,
                                   "Hardware monitor for humidity, as a ratio (multiply with "
                                   "100.0 to get the humidity as a percentage) (%s)",
                                   el),
                 EXPFMT_GAUGE, v / 1000000.0, chip, s->name);
        } else if (IS(stype, "fan") &&
                   (IS(el, "input") || IS(el, "min") || IS(el, "max") || IS(el, "target"))) {
            emit(sc, odin_arena_printf(ar, "%s_rpm", name),
                 odin_arena_printf(ar, "Hardware monitor for fan revolutions per minute (%s)", el),
                 EXPFMT_GAUGE, v, chip, s->name);
        } else if (IS(stype, "freq") && IS(el, "input")) {
            /* the sensor label replaces the sensor name in this family */
            if (label) {
                emit(sc, odin_arena_printf(ar, "%s_freq_mhz", name),
                     "Hardware monitor for GPU frequency in MHz", EXPFMT_GAUGE, v / 1000000.0, chip,
                     clean_name(sc, odin_str_c(label)));
            }
        } else {
            emit(sc, name, odin_arena_printf(ar, "Hardware monitor %s element %s", stype, el),
                 EXPFMT_GAUGE, v, chip, s->name);
        }
#undef IS
    }
}

static int update_chip(agent_scrape *sc, const hwmon_state *st, const char *dir, const char *chip,
                       odin_err *err)
{
    hw_data d = {NULL, 0, 0};
    int rc = collect_sensor_data(sc, dir, &d, err);
    if (rc < 0) {
        return rc;
    }
    const char *devdir = agent_sysfs_join(sc, dir, "device");
    if (agent_sysfs_exists(devdir) && (rc = collect_sensor_data(sc, devdir, &d, err)) < 0) {
        return rc;
    }
    odin_str raw;
    int e;
    if (agent_sysfs_read_all(sc, agent_sysfs_join(sc, dir, "name"), &raw, &e) == 0) {
        const char *human = clean_name(sc, raw);
        if (*human) {
            static const char *const ln[2] = {"chip", "chip_name"};
            const char *lv[2] = {chip, human};
            agent_emit_dyn(sc, "node_hwmon_chip_names",
                           "Annotation metric for human-readable chip names", EXPFMT_GAUGE, 1.0, 2,
                           ln, lv);
        }
    }
    for (size_t i = 0; i < d.n; i++) {
        const char *key = odin_arena_printf(agent_scrape_arena(sc), "%s;%s", chip, d.v[i].name);
        if (agent_filter_ignored(&st->sensors, key)) {
            continue;
        }
        emit_sensor(sc, chip, &d.v[i]);
    }
    return 0;
}

/* Last path element of p (after trailing slashes are dropped), and the one before it. */
static void last_two(const char *p, odin_str *last, odin_str *parent)
{
    size_t n = strlen(p);
    size_t e = n;
    size_t s = e;
    while (s > 0 && p[s - 1] != '/') {
        s--;
    }
    *last = (odin_str){p + s, e - s};
    size_t pe = s;
    while (pe > 0 && p[pe - 1] == '/') {
        pe--;
    }
    size_t ps = pe;
    while (ps > 0 && p[ps - 1] != '/') {
        ps--;
    }
    *parent = (odin_str){p + ps, pe - ps};
}

/* A stable chip name: <bus>_<device> from the device link, else the name file, else hwmonN. */
static const char *chip_base_name(agent_scrape *sc, const char *dir)
{
    char real[PATH_MAX];
    if (realpath(agent_sysfs_join(sc, dir, "device"), real)) {
        odin_str dev, type;
        last_two(real, &dev, &type);
        const char *cdev = clean_name(sc, dev), *ctype = clean_name(sc, type);
        if (*ctype && *cdev) {
            return odin_arena_printf(agent_scrape_arena(sc), "%s_%s", ctype, cdev);
        }
        if (*cdev) {
            return cdev;
        }
    }
    odin_str raw;
    int e;
    if (agent_sysfs_read_all(sc, agent_sysfs_join(sc, dir, "name"), &raw, &e) == 0 && raw.len) {
        const char *c = clean_name(sc, raw);
        if (*c) {
            return c;
        }
    }
    if (realpath(dir, real)) {
        odin_str last, parent;
        last_two(real, &last, &parent);
        const char *c = clean_name(sc, last);
        if (*c) {
            return c;
        }
    }
    return NULL;
}

typedef struct {
    const char *dir, *base, *name_file;
} hw_entry;

static int hwmon_collect(agent_scrape *sc, void *state, odin_err *err)
{
    hwmon_state *st = state;
    agent_sysfs_class cl;
    int rc = agent_sysfs_class_list(sc, "class/hwmon", &cl, err);
    if (rc < 0) {
        return rc;
    }
    hw_entry *ents = agent_sysfs_class_items(sc, &cl, sizeof(*ents));
    size_t ne = 0;
    for (size_t i = 0; i < cl.n; i++) {
        const char *dir = agent_sysfs_join(sc, cl.base, cl.names[i]);
        if (!agent_sysfs_is_dir(dir)) {
            continue;
        }
        const char *b = chip_base_name(sc, dir);
        if (!b) {
            continue;
        }
        odin_str raw;
        int e;
        const char *nf = "";
        if (agent_sysfs_read_all(sc, agent_sysfs_join(sc, dir, "name"), &raw, &e) == 0) {
            nf = agent_strdup(sc, odin_str_trim(raw));
        }
        ents[ne++] = (hw_entry){dir, b, nf};
    }
    /* Several hwmon nodes may share one device: such chips get the name file (or hwmonN when
     * that is ambiguous too) appended. */
    int last = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t same_base = 0, same_name = 0;
        for (size_t j = 0; j < ne; j++) {
            if (strcmp(ents[j].base, ents[i].base) == 0) {
                same_base++;
                if (strcmp(ents[j].name_file, ents[i].name_file) == 0) {
                    same_name++;
                }
            }
        }
        const char *chip = ents[i].base;
        if (same_base > 1) {
            const char *suffix = clean_name(sc, odin_str_c(ents[i].name_file));
            if (!*suffix || same_name > 1) {
                odin_str lastel, parent;
                last_two(ents[i].dir, &lastel, &parent);
                suffix = clean_name(sc, lastel);
            }
            chip = odin_arena_printf(agent_scrape_arena(sc), "%s_%s", ents[i].base, suffix);
        }
        if (agent_filter_ignored(&st->chips, chip)) {
            continue;
        }
        odin_err e2;
        odin_err_clear(&e2);
        rc = update_chip(sc, st, ents[i].dir, chip, &e2);
        if (rc < 0) {
            last = rc;
            *err = e2;
        }
    }
    return last;
}

static int hwmon_init(agent *ag, void **state, odin_err *err)
{
    hwmon_state *st = odin_calloc(1, sizeof(*st));
    int rc = agent_filter_init(&st->chips, agent_flag(ag, "collector.hwmon.chip-include"),
                               agent_flag(ag, "collector.hwmon.chip-exclude"),
                               "collector.hwmon.chip", err);
    if (rc == 0) {
        rc = agent_filter_init(&st->sensors, agent_flag(ag, "collector.hwmon.sensor-include"),
                               agent_flag(ag, "collector.hwmon.sensor-exclude"),
                               "collector.hwmon.sensor", err);
        if (rc < 0) {
            agent_filter_fini(&st->chips);
        }
    }
    if (rc < 0) {
        free(st);
        return rc;
    }
    *state = st;
    return 0;
}

static void hwmon_fini(void *state)
{
    hwmon_state *st = state;
    if (st) {
        agent_filter_fini(&st->chips);
        agent_filter_fini(&st->sensors);
        free(st);
    }
}

const agent_collector_def agent_collector_hwmon = {
    .name = "hwmon",
    .default_on = true,
    .flags = hwmon_flags,
    .init = hwmon_init,
    .collect = hwmon_collect,
    .fini = hwmon_fini,
};

/* time: node_time_seconds, node_time_zone_offset_seconds{time_zone} and the clocksources listed
 * under <sysfs>/devices/system/clocksource/clocksource<N>/. */
#include "agent/proc_util.h"

#include <time.h>

static const agent_desc d_now = {
    "node_time_seconds", "System time in seconds since epoch (1970).", EXPFMT_GAUGE, {NULL}};
static const agent_desc d_zone = {"node_time_zone_offset_seconds",
                                  "System time zone offset in seconds.",
                                  EXPFMT_GAUGE,
                                  {"time_zone", NULL}};
static const agent_desc d_avail = {
    "node_time_clocksource_available_info",
    "Available clocksources read from '/sys/devices/system/clocksource'.",
    EXPFMT_GAUGE,
    {"device", "clocksource", NULL}};
static const agent_desc d_current = {
    "node_time_clocksource_current_info",
    "Current clocksource read from '/sys/devices/system/clocksource'.",
    EXPFMT_GAUGE,
    {"device", "clocksource", NULL}};

/* procfs' SysReadFile: at most 4096 bytes, surrounding whitespace trimmed. */
static int sys_read(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    int rc = agent_read(sc, path, out, err);
    if (rc < 0) {
        return rc;
    }
    if (out->len > 4096) {
        out->len = 4096;
    }
    *out = odin_str_trim(*out);
    return 0;
}

static int time_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    agent_emit(sc, &d_now, (double)ns / 1e9, NULL);

    struct tm tm;
    time_t t = ts.tv_sec;
    const char *zone = "UTC";
    double off = 0;
    if (localtime_r(&t, &tm)) {
        zone = tm.tm_zone ? tm.tm_zone : "UTC";
        off = (double)tm.tm_gmtoff;
    }
    const char *zv[1] = {zone};
    agent_emit(sc, &d_zone, off, zv);

    /* filepath.Glob("clocksource[0-9]*"), sorted; the device label is the index in that list. */
    const char *dir = agent_path(sc, AGENT_SYS, "devices/system/clocksource");
    const char **names;
    size_t n;
    odin_err e = {0};
    if (agent_list_dir(sc, dir, &names, &n, &e) < 0) {
        return 0; /* an unreadable directory matches nothing */
    }
    int idx = 0;
    for (size_t i = 0; i < n; i++) {
        odin_str name = odin_str_c(names[i]);
        if (!odin_str_has_prefix(name, "clocksource") || name.len <= 11 || name.p[11] < '0' ||
            name.p[11] > '9') {
            continue;
        }
        odin_str avail, cur;
        int rc =
            sys_read(sc,
                     agent_path(sc, AGENT_SYS,
                                "devices/system/clocksource/%s/available_clocksource", names[i]),
                     &avail, err);
        if (rc == 0) {
            rc = sys_read(sc,
                          agent_path(sc, AGENT_SYS,
                                     "devices/system/clocksource/%s/current_clocksource", names[i]),
                          &cur, err);
        }
        if (rc < 0) {
            odin_err_prefix(err, "couldn't get clocksources: ");
            return rc;
        }
        const char *dev = agent_fmt_i64(sc, idx++);
        odin_str *f;
        size_t nf = proc_fields(sc, avail, &f);
        for (size_t k = 0; k < nf; k++) {
            const char *lv[2] = {dev, agent_strdup(sc, f[k])};
            agent_emit(sc, &d_avail, 1.0, lv);
        }
        const char *lc[2] = {dev, agent_strdup(sc, cur)};
        agent_emit(sc, &d_current, 1.0, lc);
    }
    return 0;
}

const agent_collector_def agent_collector_time = {
    .name = "time",
    .default_on = true,
    .collect = time_collect,
};

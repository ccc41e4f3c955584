/* cpufreq: per-cpu frequency limits, current frequencies and governors from
 * <sysfs>/devices/system/cpu/cpuN/cpufreq/ (kHz, exported as Hz), as procfs' SystemCpufreq reads
 * them: offline cpus skipped, unreadable frequency files left out. */
#include "agent/cpu_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const agent_desc d_cur = {"node_cpu_frequency_hertz",
                                 "Current CPU thread frequency in hertz.",
                                 EXPFMT_GAUGE,
                                 {"cpu", NULL}};
static const agent_desc d_avg = {"node_cpu_frequency_avg_hertz",
                                 "Average CPU thread frequency in hertz.",
                                 EXPFMT_GAUGE,
                                 {"cpu", NULL}};
static const agent_desc d_min = {"node_cpu_frequency_min_hertz",
                                 "Minimum CPU thread frequency in hertz.",
                                 EXPFMT_GAUGE,
                                 {"cpu", NULL}};
static const agent_desc d_max = {"node_cpu_frequency_max_hertz",
                                 "Maximum CPU thread frequency in hertz.",
                                 EXPFMT_GAUGE,
                                 {"cpu", NULL}};
static const agent_desc d_scur = {"node_cpu_scaling_frequency_hertz",
                                  "Current scaled CPU thread frequency in hertz.",
                                  EXPFMT_GAUGE,
                                  {"cpu", NULL}};
static const agent_desc d_smin = {"node_cpu_scaling_frequency_min_hertz",
                                  "Minimum scaled CPU thread frequency in hertz.",
                                  EXPFMT_GAUGE,
                                  {"cpu", NULL}};
static const agent_desc d_smax = {"node_cpu_scaling_frequency_max_hertz",
                                  "Maximum scaled CPU thread frequency in hertz.",
                                  EXPFMT_GAUGE,
                                  {"cpu", NULL}};
static const agent_desc d_gov = {"node_cpu_scaling_governor",
                                 "Current enabled CPU frequency governor.",
                                 EXPFMT_GAUGE,
                                 {"cpu", "governor", NULL}};

/* Frequency files in procfs' order, each with the metric it feeds (NULL: read, not exported). */
static const struct {
    const char *file;
    const agent_desc *desc;
} freq_files[] = {
    {"cpuinfo_cur_freq", &d_cur},         {"cpuinfo_avg_freq", &d_avg},
    {"cpuinfo_max_freq", &d_max},         {"cpuinfo_min_freq", &d_min},
    {"cpuinfo_transition_latency", NULL}, {"scaling_cur_freq", &d_scur},
    {"scaling_max_freq", &d_smax},        {"scaling_min_freq", &d_smin},
};
enum { NFREQ = sizeof(freq_files) / sizeof(freq_files[0]) };

/* Reads a file that may be absent or unreadable (procfs skips both). 1 when read, 0 when
 * skipped, negative on any other failure. */
static int read_optional(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    odin_err rerr = {0};
    int rc = agent_read(sc, path, out, &rerr);
    if (rc == 0) {
        return 1;
    }
    if (rc == -ODIN_ERR_NOTFOUND || (access(path, R_OK) != 0 && errno == EACCES)) {
        return 0;
    }
    return odin_err_set(err, -rc, "%s", rerr.msg);
}

/* util.SysReadFile: one read of at most 128 bytes, surrounding whitespace trimmed. */
static int sys_read_string(agent_scrape *sc, const char *path, odin_str *out, odin_err *err)
{
    int rc = agent_read(sc, path, out, err);
    if (rc < 0) {
        return rc;
    }
    if (out->len > 128) {
        out->len = 128;
    }
    *out = odin_str_trim(*out);
    return 0;
}

static int parse_uint(odin_str s, uint64_t *v, const char *path, odin_err *err)
{
    if (odin_parse_u64(s, v) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: not an unsigned integer: \"%.*s\"", path,
                            (int)(s.len > 64 ? 64 : s.len), s.p);
    }
    return 0;
}

/* The stats/ files are not exported, but procfs parses them and fails the collector when they
 * are malformed; we keep that behaviour. */
static int check_stats(agent_scrape *sc, const char *dir, odin_err *err)
{
    odin_str t;
    uint64_t v;
    const char *path = odin_arena_printf(agent_scrape_arena(sc), "%s/stats/total_trans", dir);
    int rc = read_optional(sc, path, &t, err);
    if (rc < 0 || (rc == 1 && parse_uint(odin_str_trim(t), &v, path, err) < 0)) {
        return -1;
    }
    path = odin_arena_printf(agent_scrape_arena(sc), "%s/stats/time_in_state", dir);
    rc = read_optional(sc, path, &t, err);
    if (rc < 0) {
        return rc;
    }
    while (rc == 1 && t.len) {
        odin_str line = odin_str_cut(&t, '\n');
        if (line.len == 0) {
            continue;
        }
        odin_str a = odin_str_field(&line), b = odin_str_field(&line);
        if (b.len == 0 || odin_str_field(&line).len != 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: unexpected number of fields", path);
        }
        if (parse_uint(a, &v, path, err) < 0 || parse_uint(b, &v, path, err) < 0) {
            return -ODIN_ERR_PARSE;
        }
    }
    path = odin_arena_printf(agent_scrape_arena(sc), "%s/stats/trans_table", dir);
    rc = read_optional(sc, path, &t, err);
    if (rc < 0) {
        return rc;
    }
    for (int i = 0; rc == 1 && t.len; i++) {
        odin_str line = odin_str_cut(&t, '\n');
        if (i == 0 || line.len == 0) {
            continue;
        }
        bool first = true;
        for (odin_str f = odin_str_field(&line); f.len; f = odin_str_field(&line)) {
            if (first && f.p[f.len - 1] == ':') {
                f.len--;
            }
            first = false;
            if (f.len && parse_uint(f, &v, path, err) < 0) {
                return -ODIN_ERR_PARSE;
            }
        }
    }
    return 0;
}

static bool is_offline(const uint16_t *off, size_t noff, const char *num)
{
    int64_t id;
    if (odin_parse_i64(odin_str_c(num), &id) < 0) {
        return false;
    }
    for (size_t i = 0; i < noff; i++) {
        if (off[i] == (uint16_t)id) {
            return true;
        }
    }
    return false;
}

/* One cpu's readings, kept until every cpu has been read: procfs fails the whole collector on
 * any bad file, so nothing is emitted before all of them parsed. */
typedef struct {
    const char *num;
    bool have[NFREQ];
    uint64_t val[NFREQ];
    odin_str avail, gov;
} freq_cpu;

static int read_cpu(agent_scrape *sc, const char *dir, freq_cpu *fc, odin_err *err)
{
    for (size_t i = 0; i < NFREQ; i++) {
        const char *path =
            odin_arena_printf(agent_scrape_arena(sc), "%s/%s", dir, freq_files[i].file);
        odin_str t;
        int rc = read_optional(sc, path, &t, err);
        if (rc < 0) {
            return rc;
        }
        if (rc == 1) {
            if (parse_uint(odin_str_trim(t), &fc->val[i], path, err) < 0) {
                return -ODIN_ERR_PARSE;
            }
            fc->have[i] = true;
        }
    }
    static const char *const str_files[] = {"scaling_available_governors", "scaling_driver",
                                            "scaling_governor", "related_cpus", "scaling_setspeed"};
    odin_str str[5];
    for (size_t i = 0; i < 5; i++) {
        const char *path = odin_arena_printf(agent_scrape_arena(sc), "%s/%s", dir, str_files[i]);
        int rc = sys_read_string(sc, path, &str[i], err);
        if (rc < 0) {
            return rc;
        }
    }
    fc->avail = str[0];
    fc->gov = str[2];
    return check_stats(sc, dir, err);
}

static void emit_cpu(agent_scrape *sc, const freq_cpu *fc)
{
    const char *v[] = {fc->num, NULL};
    for (size_t i = 0; i < NFREQ; i++) {
        if (fc->have[i] && freq_files[i].desc) {
            agent_emit(sc, freq_files[i].desc, (double)fc->val[i] * 1000.0, v);
        }
    }
    /* Split on every single space, as strings.Split: "a  b" has an empty governor. */
    odin_str gov = fc->gov;
    const char *p = fc->avail.p, *end = fc->avail.p + fc->avail.len;
    while (gov.len) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        odin_str g = {p, sp ? (size_t)(sp - p) : (size_t)(end - p)};
        v[1] = agent_strdup(sc, g);
        agent_emit(sc, &d_gov, odin_str_eq(g, gov) ? 1 : 0, v);
        if (!sp) {
            break;
        }
        p = sp + 1;
    }
}

static int cpufreq_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char *base = agent_path(sc, AGENT_SYS, "devices/system/cpu");
    const char **names = NULL;
    size_t n = 0;
    odin_err lerr = {0};
    int rc = agent_list_dir(sc, base, &names, &n, &lerr);
    if (rc < 0 && rc != -ODIN_ERR_NOTFOUND) {
        return odin_err_set(err, -rc, "%s", lerr.msg);
    }
    const char *offpath = agent_path(sc, AGENT_SYS, "devices/system/cpu/offline");
    odin_str off;
    rc = agent_read(sc, offpath, &off, err);
    if (rc < 0) {
        return rc;
    }
    uint16_t *offline = NULL;
    size_t noff = 0;
    if (odin_str_trim(off).len && cpu_util_parse_list(off, &offline, &noff) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: invalid cpu range", offpath);
    }
    freq_cpu *fcs = odin_arena_zalloc(agent_scrape_arena(sc), (n ? n : 1) * sizeof(*fcs));
    if (!fcs) {
        odin_oom();
    }
    size_t ncpu = 0, nfc = 0;
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!cpu_util_is_cpu_dir(names[i])) {
            continue;
        }
        const char *num = names[i] + 3;
        if (is_offline(offline, noff, num)) {
            continue;
        }
        ncpu++;
        const char *dir =
            odin_arena_printf(agent_scrape_arena(sc), "%s/%s/cpufreq", base, names[i]);
        struct stat stb;
        int e = -agent_stat(sc, dir, &stb); /* per CPU per scrape where there is no cpufreq */
        if (e == ENOENT || e == ENOTDIR) {
            continue;
        }
        if (e) {
            rc = odin_err_errno(err, e, "stat %s", dir);
            break;
        }
        fcs[nfc].num = num;
        rc = read_cpu(sc, dir, &fcs[nfc++], err);
    }
    free(offline);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < nfc; i++) {
        emit_cpu(sc, &fcs[i]);
    }
    if (ncpu == 0) {
        return odin_err_set(err, ODIN_ERR_NOTFOUND, "%s: could not find any cpufreq files", base);
    }
    return 0;
}

static int cpufreq_init(agent *ag, void **state, odin_err *err)
{
    (void)err;
    cpu_util_set_cpufreq_agent(ag);
    *state = ag;
    return 0;
}

static void cpufreq_fini(void *state)
{
    if (cpu_util_cpufreq_enabled(state)) {
        cpu_util_set_cpufreq_agent(NULL);
    }
}

const agent_collector_def agent_collector_cpufreq = {
    .name = "cpufreq",
    .default_on = true,
    .init = cpufreq_init,
    .collect = cpufreq_collect,
    .fini = cpufreq_fini,
};

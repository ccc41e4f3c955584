/* cpu: per-cpu time from <procfs>/stat (node_cpu_seconds_total, node_cpu_guest_seconds_total),
 * thermal throttle counts, isolated and online cpus from sysfs, and with --collector.cpu.info the
 * /proc/cpuinfo facts (node_cpu_info, node_cpu_frequency_hertz, flag and bug info). Counters are
 * kept monotonic across scrapes as node_exporter does, so hotplug cannot make them go back. */
#include "agent/cpu_util.h"
#include "agent/sysfs_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const agent_desc d_seconds = {"node_cpu_seconds_total",
                                     "Seconds the CPUs spent in each mode.",
                                     EXPFMT_COUNTER,
                                     {"cpu", "mode", NULL}};
static const agent_desc d_guest = {"node_cpu_guest_seconds_total",
                                   "Seconds the CPUs spent in guests (VMs) for each mode.",
                                   EXPFMT_COUNTER,
                                   {"cpu", "mode", NULL}};
static const agent_desc d_info = {"node_cpu_info",
                                  "CPU information from /proc/cpuinfo.",
                                  EXPFMT_GAUGE,
                                  {"package", "core", "cpu", "vendor", "family", "model",
                                   "model_name", "microcode", "stepping", "cachesize", NULL}};
static const agent_desc d_freq = {"node_cpu_frequency_hertz",
                                  "CPU frequency in hertz from /proc/cpuinfo.",
                                  EXPFMT_GAUGE,
                                  {"package", "core", "cpu", NULL}};
static const agent_desc d_flag = {
    "node_cpu_flag_info",
    "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
    EXPFMT_GAUGE,
    {"flag", NULL}};
static const agent_desc d_bug = {
    "node_cpu_bug_info",
    "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
    EXPFMT_GAUGE,
    {"bug", NULL}};
static const agent_desc d_core_thr = {"node_cpu_core_throttles_total",
                                      "Number of times this CPU core has been throttled.",
                                      EXPFMT_COUNTER,
                                      {"package", "core", NULL}};
static const agent_desc d_pkg_thr = {"node_cpu_package_throttles_total",
                                     "Number of times this CPU package has been throttled.",
                                     EXPFMT_COUNTER,
                                     {"package", NULL}};
static const agent_desc d_isolated = {
    "node_cpu_isolated",
    "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
    EXPFMT_GAUGE,
    {"cpu", NULL}};
static const agent_desc d_online = {
    "node_cpu_online", "CPUs that are online and being scheduled.", EXPFMT_GAUGE, {"cpu", NULL}};

static const agent_flag_def cpu_flags[] = {
    {"collector.cpu.guest", "true", "Enables metric node_cpu_guest_seconds_total", true, false},
    {"collector.cpu.info", "false", "Enables metric cpu_info", true, false},
    {"collector.cpu.info.flags-include", NULL,
     "Filter the `flags` field in cpuInfo with a value that must be a regular expression", false,
     false},
    {"collector.cpu.info.bugs-include", NULL,
     "Filter the `bugs` field in cpuInfo with a value that must be a regular expression", false,
     false},
    {NULL, NULL, NULL, false, false},
};

/* Owned by the collector: made in cpu_init, freed by cpu_fini. */
typedef struct {
    bool info, guest;
    agent_regex *flags_re, *bugs_re;
    bool has_isolated; /* the isolated file existed at start */
    uint16_t *isolated;
    size_t nisolated;
    cpu_util_cpustat *stats; /* last exported values, sorted by id */
    size_t nstats;
    /* Topology ids (physical_package_id, core_id) of the CPU directories, kept while the set of
     * directories and the kernel's online mask stay what they were when read: a CPU's ids are
     * fixed while it is online, and going offline or coming back changes the mask. */
    char *topo_key; /* heap: the online mask, then each directory name, NUL-separated */
    size_t topo_key_len;
    struct cpu_topo *topo; /* heap, one per directory in listing order */
    size_t ntopo;
} cpu_state;

typedef struct cpu_topo {
    bool ok; /* both ids were read */
    uint64_t pkg, core;
} cpu_topo;

/* ---- /proc/cpuinfo (x86 layout, as procfs' parseCPUInfoX86) ------------------------------- */

typedef struct {
    uint64_t processor;
    odin_str vendor, family, model, model_name, stepping, microcode, cache_size, physical_id,
        core_id, flags, bugs;
    double mhz;
} cpuinfo;

/* strconv.ParseUint(s, 0, 32): 0x, 0o, 0b prefixes and a leading 0 for octal. */
static int parse_uint_base0(odin_str s, uint64_t *out)
{
    unsigned base = 10;
    if (s.len > 1 && s.p[0] == '0') {
        char c = s.p[1];
        if (c == 'x' || c == 'X') {
            base = 16;
            s.p += 2, s.len -= 2;
        } else if (c == 'o' || c == 'O') {
            base = 8;
            s.p += 2, s.len -= 2;
        } else if (c == 'b' || c == 'B') {
            base = 2;
            s.p += 2, s.len -= 2;
        } else {
            base = 8;
            s.p += 1, s.len -= 1;
        }
    }
    if (s.len == 0) {
        return -ODIN_ERR_PARSE;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 99;
        if (d >= base) {
            return -ODIN_ERR_PARSE;
        }
        v = v * base + d;
        if (v > UINT32_MAX) {
            return -ODIN_ERR_LIMIT;
        }
    }
    *out = v;
    return 0;
}

/* Splits "key<ws>: value" at the first ": "; false when the line has none. */
static bool split_kv(odin_str line, odin_str *key, odin_str *val)
{
    for (size_t i = 0; i + 1 < line.len; i++) {
        if (line.p[i] == ':' && line.p[i + 1] == ' ') {
            *key = odin_str_trim((odin_str){line.p, i});
            *val = (odin_str){line.p + i + 2, line.len - i - 2};
            return true;
        }
    }
    return false;
}

static int parse_cpuinfo(agent_scrape *sc, odin_str text, const char *path, cpuinfo **out,
                         size_t *n, odin_err *err)
{
    odin_str line = {NULL, 0};
    while (text.len) {
        line = odin_str_cut(&text, '\n');
        if (odin_str_trim(line).len) {
            break;
        }
        line.len = 0;
    }
    odin_str key, val;
    uint64_t u;
    if (!odin_str_has_prefix(line, "processor") || !memchr(line.p, ':', line.len) ||
        !split_kv(line, &key, &val) || parse_uint_base0(val, &u) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: cannot parse line \"%.*s\"", path,
                            (int)(line.len > 64 ? 64 : line.len), line.p);
    }
    size_t cap = 16, len = 1;
    odin_arena *a = agent_scrape_arena(sc);
    cpuinfo *v = odin_arena_zalloc(a, cap * sizeof(*v));
    if (!v) {
        odin_oom();
    }
    v[0].processor = u;
    while (text.len) {
        line = odin_str_cut(&text, '\n');
        if (!memchr(line.p, ':', line.len) || !split_kv(line, &key, &val)) {
            continue;
        }
        cpuinfo *c = &v[len - 1];
        int rc = 0;
        double d;
        if (odin_str_eq_c(key, "processor")) {
            if (len == cap) {
                cpuinfo *nv = odin_arena_zalloc(a, cap * 2 * sizeof(*v));
                if (!nv) {
                    odin_oom();
                }
                memcpy(nv, v, len * sizeof(*v));
                v = nv;
                cap *= 2;
            }
            c = &v[len++];
            rc = parse_uint_base0(val, &c->processor);
        } else if (odin_str_eq_c(key, "vendor") || odin_str_eq_c(key, "vendor_id")) {
            c->vendor = val;
        } else if (odin_str_eq_c(key, "cpu family")) {
            c->family = val;
        } else if (odin_str_eq_c(key, "model")) {
            c->model = val;
        } else if (odin_str_eq_c(key, "model name")) {
            c->model_name = val;
        } else if (odin_str_eq_c(key, "stepping")) {
            c->stepping = val;
        } else if (odin_str_eq_c(key, "microcode")) {
            c->microcode = val;
        } else if (odin_str_eq_c(key, "cpu MHz")) {
            rc = odin_parse_double(val, &c->mhz);
        } else if (odin_str_eq_c(key, "cache size")) {
            c->cache_size = val;
        } else if (odin_str_eq_c(key, "physical id")) {
            c->physical_id = val;
        } else if (odin_str_eq_c(key, "core id")) {
            c->core_id = val;
        } else if (odin_str_eq_c(key, "flags")) {
            c->flags = val;
        } else if (odin_str_eq_c(key, "bugs")) {
            c->bugs = val;
        } else if (odin_str_eq_c(key, "siblings") || odin_str_eq_c(key, "cpu cores") ||
                   odin_str_eq_c(key, "cpuid level") || odin_str_eq_c(key, "clflush size") ||
                   odin_str_eq_c(key, "cache_alignment")) {
            rc = parse_uint_base0(val, &u);
        } else if (odin_str_eq_c(key, "bogomips")) {
            rc = odin_parse_double(val, &d);
        }
        if (rc < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: cannot parse line \"%.*s\"", path,
                                (int)(line.len > 64 ? 64 : line.len), line.p);
        }
    }
    *out = v;
    *n = len;
    return 0;
}

static void emit_field_info(agent_scrape *sc, odin_str list, agent_regex *re, const agent_desc *d)
{
    if (!re) {
        return;
    }
    for (odin_str f = odin_str_field(&list); f.len; f = odin_str_field(&list)) {
        if (agent_regex_match(re, f.p, f.len)) {
            const char *v[] = {agent_strdup(sc, f)};
            agent_emit(sc, d, 1, v);
        }
    }
}

static int update_info(agent_scrape *sc, cpu_state *st, odin_err *err)
{
    const char *path = agent_path(sc, AGENT_PROC, "cpuinfo");
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    cpuinfo *ci = NULL;
    size_t n = 0;
    rc = parse_cpuinfo(sc, text, path, &ci, &n, err);
    if (rc < 0) {
        return rc;
    }
    bool freq = cpu_util_cpufreq_enabled(agent_scrape_agent(sc));
    for (size_t i = 0; i < n; i++) {
        const cpuinfo *c = &ci[i];
        const char *cpu = agent_fmt_i64(sc, (int64_t)c->processor);
        const char *pkg = agent_strdup(sc, c->physical_id);
        const char *core = agent_strdup(sc, c->core_id);
        const char *v[] = {pkg,
                           core,
                           cpu,
                           agent_strdup(sc, c->vendor),
                           agent_strdup(sc, c->family),
                           agent_strdup(sc, c->model),
                           agent_strdup(sc, c->model_name),
                           agent_strdup(sc, c->microcode),
                           agent_strdup(sc, c->stepping),
                           agent_strdup(sc, c->cache_size)};
        agent_emit(sc, &d_info, 1, v);
        if (freq) {
            agent_emit(sc, &d_freq, c->mhz * 1e6, v);
        }
    }
    emit_field_info(sc, ci[0].flags, st->flags_re, &d_flag);
    emit_field_info(sc, ci[0].bugs, st->bugs_re, &d_bug);
    return 0;
}

/* ---- /proc/stat ---------------------------------------------------------------------------- */

static const char *const mode_names[8] = {"user",   "nice", "system",  "idle",
                                          "iowait", "irq",  "softirq", "steal"};

static const cpu_util_cpustat *find_stat(const cpu_state *st, int64_t id)
{
    size_t lo = 0, hi = st->nstats;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->stats[mid].id == id) {
            return &st->stats[mid];
        }
        if (st->stats[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static int stat_cmp(const void *a, const void *b)
{
    int64_t x = ((const cpu_util_cpustat *)a)->id, y = ((const cpu_util_cpustat *)b)->id;
    return (x > y) - (x < y);
}

/* node_exporter's updateCPUStats: each counter only moves forward, a big jump back of idle means
 * the cpu was replugged and restarts it, and cpus gone from /proc/stat are dropped. */
static void update_stats(cpu_state *st, const cpu_util_stat *now)
{
    cpu_util_cpustat *next = odin_calloc(now->ncpus ? now->ncpus : 1, sizeof(*next));
    size_t nn = 0;
    for (size_t i = 0; i < now->ncpus; i++) {
        const cpu_util_cpustat *n = &now->cpus[i];
        bool dup = false;
        for (size_t j = 0; j < nn; j++) {
            if (next[j].id == n->id) {
                dup = true;
            }
        }
        const cpu_util_cpustat *old = find_stat(st, n->id);
        cpu_util_cpustat cur = {.id = n->id};
        if (old) {
            cur = *old;
        }
        if (cur.v[CPU_UTIL_IDLE] - n->v[CPU_UTIL_IDLE] >= 3.0) {
            memset(cur.v, 0, sizeof(cur.v));
        }
        for (int m = 0; m < CPU_UTIL_NMODES; m++) {
            if (n->v[m] >= cur.v[m]) {
                cur.v[m] = n->v[m];
            }
        }
        if (!dup) {
            next[nn++] = cur;
        }
    }
    qsort(next, nn, sizeof(*next), stat_cmp);
    free(st->stats);
    st->stats = next;
    st->nstats = nn;
}

static int update_stat(agent_scrape *sc, cpu_state *st, odin_err *err)
{
    cpu_util_stat now;
    int rc = cpu_util_read_stat(sc, &now, err);
    if (rc < 0) {
        return rc;
    }
    update_stats(st, &now);
    for (size_t i = 0; i < st->nstats; i++) {
        const cpu_util_cpustat *c = &st->stats[i];
        const char *cpu = agent_fmt_i64(sc, c->id);
        for (int m = 0; m < 8; m++) {
            const char *v[] = {cpu, mode_names[m]};
            agent_emit(sc, &d_seconds, c->v[m], v);
        }
        if (st->guest) {
            const char *vu[] = {cpu, "user"};
            agent_emit(sc, &d_guest, c->v[CPU_UTIL_GUEST], vu);
            const char *vn[] = {cpu, "nice"};
            agent_emit(sc, &d_guest, c->v[CPU_UTIL_GUEST_NICE], vn);
        }
    }
    return 0;
}

/* ---- sysfs: throttles, online -------------------------------------------------------------- */

/* node_exporter's readUintFromFile: whole file, whitespace trimmed, decimal. */
static bool read_uint(agent_scrape *sc, const char *path, uint64_t *v)
{
    odin_str s;
    odin_err e = {0};
    return agent_read(sc, path, &s, &e) == 0 && odin_parse_u64(odin_str_trim(s), v) == 0;
}

typedef struct {
    uint64_t pkg, core, count;
} throttle;

static throttle *find_throttle(throttle *v, size_t n, uint64_t pkg, uint64_t core)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].pkg == pkg && v[i].core == core) {
            return &v[i];
        }
    }
    return NULL;
}

/* The key of st->topo: <base>/online's text and the directory names. NULL when there is no
 * online file to go by (the ids are then read every scrape). */
static odin_str topo_key(agent_scrape *sc, const char *base, const char **cpus, size_t n)
{
    odin_str online;
    odin_err e = {0};
    if (agent_read(sc, agent_sysfs_join(sc, base, "online"), &online, &e) < 0) {
        return (odin_str){NULL, 0};
    }
    size_t len = online.len + 1;
    for (size_t i = 0; i < n; i++) {
        len += strlen(cpus[i]) + 1;
    }
    char *k = odin_arena_alloc(agent_scrape_arena(sc), len);
    if (!k) {
        odin_oom();
    }
    size_t o = 0;
    memcpy(k, online.p, online.len);
    o += online.len;
    k[o++] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(cpus[i]) + 1;
        memcpy(k + o, cpus[i], l);
        o += l;
    }
    return (odin_str){k, len};
}

/* The topology ids of each CPU directory: kept ones while the key holds, else read now. */
static const cpu_topo *topology(agent_scrape *sc, cpu_state *st, const char *base,
                                const char **cpus, size_t n)
{
    odin_str key = topo_key(sc, base, cpus, n);
    if (key.p && st->topo && key.len == st->topo_key_len &&
        memcmp(key.p, st->topo_key, key.len) == 0) {
        return st->topo;
    }
    odin_arena *a = agent_scrape_arena(sc);
    cpu_topo *t = odin_arena_zalloc(a, (n ? n : 1) * sizeof(*t));
    if (!t) {
        odin_oom();
    }
    for (size_t i = 0; i < n; i++) {
        const char *dir = agent_sysfs_join(sc, base, cpus[i]);
        t[i].ok =
            read_uint(sc, agent_sysfs_join(sc, dir, "topology/physical_package_id"), &t[i].pkg) &&
            read_uint(sc, agent_sysfs_join(sc, dir, "topology/core_id"), &t[i].core);
    }
    free(st->topo_key);
    free(st->topo);
    st->topo_key = NULL;
    st->topo = NULL;
    if (key.p) {
        st->topo_key = odin_malloc(key.len);
        memcpy(st->topo_key, key.p, key.len);
        st->topo_key_len = key.len;
        st->topo = odin_calloc(n ? n : 1, sizeof(*st->topo));
        memcpy(st->topo, t, n * sizeof(*t));
        st->ntopo = n;
    }
    return t;
}

static void update_throttle(agent_scrape *sc, cpu_state *st, const char *base, const char **cpus,
                            size_t n)
{
    odin_arena *a = agent_scrape_arena(sc);
    throttle *core = odin_arena_alloc(a, (n ? n : 1) * sizeof(*core));
    throttle *pkg = odin_arena_alloc(a, (n ? n : 1) * sizeof(*pkg));
    if (!core || !pkg) {
        odin_oom();
    }
    const cpu_topo *topo = topology(sc, st, base, cpus, n);
    size_t ncore = 0, npkg = 0;
    for (size_t i = 0; i < n; i++) {
        const char *dir = odin_arena_printf(a, "%s/%s", base, cpus[i]);
        uint64_t count;
        if (!topo[i].ok) {
            continue;
        }
        uint64_t p = topo[i].pkg, c = topo[i].core;
        if (!find_throttle(core, ncore, p, c) &&
            read_uint(sc, odin_arena_printf(a, "%s/thermal_throttle/core_throttle_count", dir),
                      &count)) {
            core[ncore++] = (throttle){p, c, count};
        }
        if (!find_throttle(pkg, npkg, p, 0) &&
            read_uint(sc, odin_arena_printf(a, "%s/thermal_throttle/package_throttle_count", dir),
                      &count)) {
            pkg[npkg++] = (throttle){p, 0, count};
        }
    }
    for (size_t i = 0; i < npkg; i++) {
        const char *v[] = {agent_fmt_i64(sc, (int64_t)pkg[i].pkg)};
        agent_emit(sc, &d_pkg_thr, (double)pkg[i].count, v);
    }
    for (size_t i = 0; i < ncore; i++) {
        const char *v[] = {agent_fmt_i64(sc, (int64_t)core[i].pkg),
                           agent_fmt_i64(sc, (int64_t)core[i].core)};
        agent_emit(sc, &d_core_thr, (double)core[i].count, v);
    }
}

static void update_online(agent_scrape *sc, const char *base, const char **cpus, size_t n)
{
    if (n == 0) {
        return;
    }
    odin_arena *a = agent_scrape_arena(sc);
    odin_str s;
    odin_err e = {0};
    if (agent_read(sc, odin_arena_printf(a, "%s/%s/online", base, cpus[0]), &s, &e) ==
        -ODIN_ERR_NOTFOUND) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        odin_err e2 = {0};
        bool on =
            agent_read(sc, odin_arena_printf(a, "%s/%s/online", base, cpus[i]), &s, &e2) == 0 &&
            odin_str_eq_c(odin_str_trim(s.len > 128 ? (odin_str){s.p, 128} : s), "1");
        const char *v[] = {cpus[i] + 3};
        agent_emit(sc, &d_online, on ? 1 : 0, v);
    }
}

static int cpu_collect(agent_scrape *sc, void *state, odin_err *err)
{
    cpu_state *st = state;
    int rc;
    if (st->info && (rc = update_info(sc, st, err)) < 0) {
        return rc;
    }
    if ((rc = update_stat(sc, st, err)) < 0) {
        return rc;
    }
    if (st->has_isolated) {
        for (size_t i = 0; i < st->nisolated; i++) {
            const char *v[] = {agent_fmt_i64(sc, st->isolated[i])};
            agent_emit(sc, &d_isolated, 1, v);
        }
    }
    const char *base = agent_path(sc, AGENT_SYS, "devices/system/cpu");
    const char **names = NULL;
    size_t n = 0;
    odin_err lerr = {0};
    if (agent_list_dir(sc, base, &names, &n, &lerr) < 0) {
        n = 0;
    }
    size_t ncpu = 0;
    for (size_t i = 0; i < n; i++) {
        if (cpu_util_is_cpu_dir(names[i])) {
            names[ncpu++] = names[i];
        }
    }
    update_throttle(sc, st, base, names, ncpu);
    update_online(sc, base, names, ncpu);
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void cpu_fini(void *state)
{
    cpu_state *st = state;
    if (!st) {
        return;
    }
    agent_regex_free(st->flags_re);
    agent_regex_free(st->bugs_re);
    free(st->isolated);
    free(st->stats);
    free(st->topo_key);
    free(st->topo);
    free(st);
}

/* Reads <sysfs>/devices/system/cpu/isolated once, as node_exporter does at start. */
static int load_isolated(agent *ag, cpu_state *st, odin_err *err)
{
    const char *sys = agent_flag(ag, "path.sysfs");
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_puts(&path, sys ? sys : "/sys");
    odin_strbuf_puts(&path, "/devices/system/cpu/isolated");
    odin_strbuf buf;
    odin_strbuf_init(&buf, 0);
    int rc = 0;
    if (access(path.p, F_OK) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
        goto out; /* no such file: no node_cpu_isolated */
    }
    rc = odin_read_file(path.p, &buf, 1 << 20, err);
    if (rc < 0) {
        odin_err_prefix(err, "unable to get isolated cpus: ");
        goto out;
    }
    if (cpu_util_parse_list((odin_str){buf.p, buf.len}, &st->isolated, &st->nisolated) < 0) {
        rc = odin_err_set(err, ODIN_ERR_PARSE, "%s: invalid cpu range \"%.64s\"", path.p, buf.p);
        goto out;
    }
    st->has_isolated = true;
out:
    odin_strbuf_fini(&buf);
    odin_strbuf_fini(&path);
    return rc;
}

static int cpu_init(agent *ag, void **state, odin_err *err)
{
    cpu_state *st = odin_calloc(1, sizeof(*st));
    st->guest = agent_flag_bool(ag, "collector.cpu.guest");
    st->info = agent_flag_bool(ag, "collector.cpu.info");
    const char *fi = agent_flag(ag, "collector.cpu.info.flags-include");
    const char *bi = agent_flag(ag, "collector.cpu.info.bugs-include");
    if ((fi && *fi) || (bi && *bi)) {
        st->info = true; /* as upstream: a filter implies --collector.cpu.info */
    }
    int rc = 0;
    if (fi && *fi && !(st->flags_re = agent_regex_new(fi, false, err))) {
        rc = -ODIN_ERR_INVALID;
    } else if (bi && *bi && !(st->bugs_re = agent_regex_new(bi, false, err))) {
        rc = -ODIN_ERR_INVALID;
    }
    if (rc < 0) {
        odin_err_prefix(err, "--collector.cpu.info.flags-include and "
                             "--collector.cpu.info.bugs-include must be regular expressions: ");
        cpu_fini(st);
        return rc;
    }
    rc = load_isolated(ag, st, err);
    if (rc < 0) {
        cpu_fini(st);
        return rc;
    }
    *state = st;
    return 0;
}

const agent_collector_def agent_collector_cpu = {
    .name = "cpu",
    .default_on = true,
    .flags = cpu_flags,
    .init = cpu_init,
    .collect = cpu_collect,
    .fini = cpu_fini,
};

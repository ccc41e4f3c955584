/* Helpers shared by the cpu, cpufreq and stat collectors (see cpu_util.h): /proc/stat parsing,
 * cpu directory names, cpu lists. No metrics are emitted here. */
#include "agent/cpu_util.h"

#include <stdlib.h>
#include <string.h>

static const agent *cpufreq_agent;

void cpu_util_set_cpufreq_agent(const agent *ag)
{
    cpufreq_agent = ag;
}

bool cpu_util_cpufreq_enabled(const agent *ag)
{
    return ag && cpufreq_agent == ag;
}

bool cpu_util_is_cpu_dir(const char *name)
{
    return strncmp(name, "cpu", 3) == 0 && name[3] >= '0' && name[3] <= '9';
}

/* "cpu" or "cpuN" line: name then up to ten tick counts, each a float as Go's %f reads it. */
static int parse_cpu_line(odin_str name, odin_str rest, cpu_util_cpustat *cs, bool *total,
                          const char *path, odin_err *err)
{
    memset(cs, 0, sizeof(*cs));
    for (int i = 0; i < CPU_UTIL_NMODES; i++) {
        odin_str f = odin_str_field(&rest);
        if (f.len == 0) {
            break;
        }
        if (odin_parse_double(f, &cs->v[i]) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: %.*s: not a number: \"%.*s\"", path,
                                (int)name.len, name.p, (int)(f.len > 64 ? 64 : f.len), f.p);
        }
    }
    for (int i = 0; i < CPU_UTIL_NMODES; i++) {
        cs->v[i] /= 100.0;
    }
    *total = name.len == 3;
    if (*total) {
        cs->id = -1;
        return 0;
    }
    odin_str num = {name.p + 3, name.len - 3};
    if (odin_parse_i64(num, &cs->id) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: bad cpu name \"%.*s\"", path,
                            (int)(name.len > 64 ? 64 : name.len), name.p);
    }
    return 0;
}

static int parse_u64_field(odin_str f, uint64_t *out, const char *path, const char *what,
                           odin_err *err)
{
    if (odin_parse_u64(f, out) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: %s: not an unsigned integer: \"%.*s\"", path,
                            what, (int)(f.len > 64 ? 64 : f.len), f.p);
    }
    return 0;
}

static int read_stat(agent_scrape *sc, cpu_util_stat *st, odin_err *err);

/* The cpu and stat collectors both parse /proc/stat: the second one in a scrape gets the first
 * one's result (a copy, with its own cpus array). */
int cpu_util_read_stat(agent_scrape *sc, cpu_util_stat *st, odin_err *err)
{
    static const char memo_key = 0;
    const cpu_util_stat *kept = agent_scrape_memo_get(sc, &memo_key);
    odin_arena *a = agent_scrape_arena(sc);
    if (kept) {
        *st = *kept;
        st->cpus = odin_arena_alloc(a, (kept->ncpus ? kept->ncpus : 1) * sizeof(*st->cpus));
        if (!st->cpus) {
            odin_oom();
        }
        if (kept->ncpus) {
            memcpy(st->cpus, kept->cpus, kept->ncpus * sizeof(*st->cpus));
        }
        return 0;
    }
    int rc = read_stat(sc, st, err);
    if (rc == 0) {
        cpu_util_stat *copy = odin_arena_alloc(a, sizeof(*copy));
        if (!copy) {
            odin_oom();
        }
        *copy = *st; /* with its own cpus array: the caller may change its copy */
        copy->cpus = odin_arena_alloc(a, (st->ncpus ? st->ncpus : 1) * sizeof(*copy->cpus));
        if (!copy->cpus) {
            odin_oom();
        }
        if (st->ncpus) {
            memcpy(copy->cpus, st->cpus, st->ncpus * sizeof(*copy->cpus));
        }
        agent_scrape_memo_put(sc, &memo_key, copy);
    }
    return rc;
}

static int read_stat(agent_scrape *sc, cpu_util_stat *st, odin_err *err)
{
    memset(st, 0, sizeof(*st));
    const char *path = agent_path(sc, AGENT_PROC, "stat");
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    size_t lines = 1;
    for (size_t i = 0; i < text.len; i++) {
        lines += text.p[i] == '\n';
    }
    st->cpus = odin_arena_alloc(agent_scrape_arena(sc), lines * sizeof(*st->cpus));
    if (!st->cpus) {
        odin_oom();
    }
    while (text.len) {
        odin_str line = odin_str_cut(&text, '\n');
        odin_str rest = line;
        odin_str key = odin_str_field(&rest);
        odin_str peek = rest;
        odin_str v1 = odin_str_field(&peek);
        if (v1.len == 0) {
            continue;
        }
        if (odin_str_eq_c(key, "btime")) {
            rc = parse_u64_field(v1, &st->boot_time, path, "btime", err);
        } else if (odin_str_eq_c(key, "intr")) {
            rc = parse_u64_field(v1, &st->intr, path, "intr", err);
            for (odin_str f = odin_str_field(&peek); rc == 0 && f.len; f = odin_str_field(&peek)) {
                uint64_t ignored;
                rc = parse_u64_field(f, &ignored, path, "intr", err);
            }
        } else if (odin_str_eq_c(key, "ctxt")) {
            rc = parse_u64_field(v1, &st->ctxt, path, "ctxt", err);
        } else if (odin_str_eq_c(key, "processes")) {
            rc = parse_u64_field(v1, &st->forks, path, "processes", err);
        } else if (odin_str_eq_c(key, "procs_running")) {
            rc = parse_u64_field(v1, &st->procs_running, path, "procs_running", err);
        } else if (odin_str_eq_c(key, "procs_blocked")) {
            rc = parse_u64_field(v1, &st->procs_blocked, path, "procs_blocked", err);
        } else if (odin_str_eq_c(key, "softirq")) {
            /* total, then exactly the ten vectors procfs knows; fewer is an error. */
            uint64_t total;
            rc = parse_u64_field(v1, &total, path, "softirq", err);
            for (int i = 0; rc == 0 && i < 10; i++) {
                odin_str f = odin_str_field(&peek);
                if (f.len == 0) {
                    return odin_err_set(err, ODIN_ERR_PARSE, "%s: softirq: %d of 10 vectors", path,
                                        i);
                }
                rc = parse_u64_field(f, &st->softirq[i], path, "softirq", err);
            }
        } else if (odin_str_has_prefix(key, "cpu")) {
            cpu_util_cpustat cs;
            bool total;
            rc = parse_cpu_line(key, rest, &cs, &total, path, err);
            if (rc == 0 && !total) {
                st->cpus[st->ncpus++] = cs;
            }
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int parse_int(odin_str s, int64_t *out)
{
    return odin_parse_i64(s, out);
}

int cpu_util_parse_list(odin_str s, uint16_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (s.len && s.p[s.len - 1] == '\n') {
        s.len--;
    }
    size_t cap = 0;
    while (s.len) {
        odin_str item = odin_str_cut(&s, ',');
        if (item.len == 0) {
            continue;
        }
        int64_t lo, hi;
        const char *dash = memchr(item.p, '-', item.len);
        if (dash) {
            odin_str a = {item.p, (size_t)(dash - item.p)};
            odin_str b = {dash + 1, item.len - (size_t)(dash - item.p) - 1};
            if (memchr(b.p, '-', b.len) || parse_int(a, &lo) < 0 || parse_int(b, &hi) < 0) {
                goto fail;
            }
        } else if (parse_int(item, &lo) < 0) {
            goto fail;
        } else {
            hi = lo;
        }
        if (hi - lo > 65536) {
            goto fail;
        }
        for (int64_t i = lo; i <= hi; i++) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                uint16_t *nv = realloc(*out, cap * sizeof(**out));
                if (!nv) {
                    odin_oom();
                }
                *out = nv;
            }
            (*out)[(*n)++] = (uint16_t)i;
        }
    }
    return 0;
fail:
    free(*out);
    *out = NULL;
    *n = 0;
    return -ODIN_ERR_PARSE;
}

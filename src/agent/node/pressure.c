/* pressure: pressure stall information from <procfs>/pressure/{cpu,io,memory,irq}, the "total="
 * microsecond counters of the "some" and "full" lines as seconds. */
#include "agent/agent_int.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static const agent_desc d_cpu = {"node_pressure_cpu_waiting_seconds_total",
                                 "Total time in seconds that processes have waited for CPU time",
                                 EXPFMT_COUNTER,
                                 {NULL}};
static const agent_desc d_io = {
    "node_pressure_io_waiting_seconds_total",
    "Total time in seconds that processes have waited due to IO congestion",
    EXPFMT_COUNTER,
    {NULL}};
static const agent_desc d_io_full = {
    "node_pressure_io_stalled_seconds_total",
    "Total time in seconds no process could make progress due to IO congestion",
    EXPFMT_COUNTER,
    {NULL}};
static const agent_desc d_mem = {"node_pressure_memory_waiting_seconds_total",
                                 "Total time in seconds that processes have waited for memory",
                                 EXPFMT_COUNTER,
                                 {NULL}};
static const agent_desc d_mem_full = {
    "node_pressure_memory_stalled_seconds_total",
    "Total time in seconds no process could make progress due to memory congestion",
    EXPFMT_COUNTER,
    {NULL}};
static const agent_desc d_irq_full = {
    "node_pressure_irq_stalled_seconds_total",
    "Total time in seconds no process could make progress due to IRQ congestion",
    EXPFMT_COUNTER,
    {NULL}};

typedef struct {
    bool has_some, has_full;
    uint64_t some_total, full_total;
} psi_stats;

/* "<kind> avg10=F avg60=F avg300=F total=N" */
static int parse_psi_line(odin_str rest, uint64_t *total)
{
    static const char *const keys[4] = {"avg10=", "avg60=", "avg300=", "total="};
    for (int i = 0; i < 4; i++) {
        odin_str f = odin_str_field(&rest);
        if (!odin_str_has_prefix(f, keys[i])) {
            return -ODIN_ERR_PARSE;
        }
        size_t kl = 0;
        while (keys[i][kl]) {
            kl++;
        }
        odin_str v = {f.p + kl, f.len - kl};
        if (i < 3) {
            double d;
            if (odin_parse_double(v, &d) < 0) {
                return -ODIN_ERR_PARSE;
            }
        } else {
            /* Go's %d stops at the first non-digit. */
            size_t n = 0;
            while (n < v.len && v.p[n] >= '0' && v.p[n] <= '9') {
                n++;
            }
            if (odin_parse_u64((odin_str){v.p, n}, total) < 0) {
                return -ODIN_ERR_PARSE;
            }
        }
    }
    return 0;
}

static int parse_psi(odin_str text, psi_stats *ps, const char *path, odin_err *err)
{
    *ps = (psi_stats){0};
    while (text.len) {
        odin_str line = odin_str_cut(&text, '\n');
        odin_str rest = line;
        odin_str kind = odin_str_cut(&rest, ' ');
        bool some = odin_str_eq_c(kind, "some");
        if (!some && !odin_str_eq_c(kind, "full")) {
            continue;
        }
        uint64_t total = 0;
        if (parse_psi_line(rest, &total) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: bad line \"%.*s\"", path,
                                (int)(line.len > 64 ? 64 : line.len), line.p);
        }
        if (some) {
            ps->has_some = true;
            ps->some_total = total;
        } else {
            ps->has_full = true;
            ps->full_total = total;
        }
    }
    return 0;
}

/* agent_read folds errno into ODIN_ERR_IO; PSI files fail with EOPNOTSUPP when the kernel was
 * booted with psi=0, which node_exporter treats as "no data". */
static bool psi_disabled(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == EOPNOTSUPP;
    }
    char c;
    ssize_t n = read(fd, &c, 1);
    int e = errno;
    close(fd);
    return n < 0 && e == EOPNOTSUPP;
}

static int pressure_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    static const char *const res[4] = {"cpu", "io", "memory", "irq"};
    int found = 0;
    for (int i = 0; i < 4; i++) {
        const char *path = agent_path(sc, AGENT_PROC, "pressure/%s", res[i]);
        odin_str text;
        odin_err rerr = {0};
        int rc = agent_read(sc, path, &text, &rerr);
        if (rc == -ODIN_ERR_NOTFOUND) {
            continue;
        }
        if (rc < 0) {
            if (psi_disabled(path)) {
                return odin_err_set(err, ODIN_ERR_UNAVAILABLE,
                                    "%s: pressure information is disabled (boot with psi=1)", path);
            }
            return odin_err_set(err, -rc, "failed to retrieve pressure stats: %s", rerr.msg);
        }
        psi_stats ps;
        rc = parse_psi(text, &ps, path, err);
        if (rc < 0) {
            return rc;
        }
        bool irq = i == 3, cpu = i == 0;
        if (!ps.has_some && !irq) {
            return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "%s: no 'some' line", path);
        }
        if (!ps.has_full && !cpu) {
            return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "%s: no 'full' line", path);
        }
        double some = (double)ps.some_total / 1000.0 / 1000.0;
        double full = (double)ps.full_total / 1000.0 / 1000.0;
        switch (i) {
        case 0:
            agent_emit(sc, &d_cpu, some, NULL);
            break;
        case 1:
            agent_emit(sc, &d_io, some, NULL);
            agent_emit(sc, &d_io_full, full, NULL);
            break;
        case 2:
            agent_emit(sc, &d_mem, some, NULL);
            agent_emit(sc, &d_mem_full, full, NULL);
            break;
        default:
            agent_emit(sc, &d_irq_full, full, NULL);
            break;
        }
        found++;
    }
    if (found == 0) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE,
                            "%s: pressure information is unavailable (needs Linux >= 4.20 with "
                            "CONFIG_PSI)",
                            agent_path(sc, AGENT_PROC, "pressure"));
    }
    return 0;
}

const agent_collector_def agent_collector_pressure = {
    .name = "pressure",
    .default_on = true,
    .collect = pressure_collect,
};

/* process_* metrics about the agent itself, under client_golang's names and help, read from
 * /proc/self (the real one: these describe this process, not the --path.procfs tree). */
#include "agent/core.h"

#include <string.h>

static const agent_desc d_cpu = {"process_cpu_seconds_total",
                                 "Total user and system CPU time spent in seconds.",
                                 EXPFMT_COUNTER, {NULL}};
static const agent_desc d_max_fds = {"process_max_fds", "Maximum number of open file descriptors.",
                                     EXPFMT_GAUGE, {NULL}};
static const agent_desc d_open_fds = {"process_open_fds", "Number of open file descriptors.",
                                      EXPFMT_GAUGE, {NULL}};
static const agent_desc d_rss = {"process_resident_memory_bytes", "Resident memory size in bytes.",
                                 EXPFMT_GAUGE, {NULL}};
static const agent_desc d_start = {"process_start_time_seconds",
                                   "Start time of the process since unix epoch in seconds.",
                                   EXPFMT_GAUGE, {NULL}};
static const agent_desc d_vsize = {"process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                   EXPFMT_GAUGE, {NULL}};
static const agent_desc d_vmax = {"process_virtual_memory_max_bytes",
                                  "Maximum amount of virtual memory available in bytes.",
                                  EXPFMT_GAUGE, {NULL}};

static const agent_desc d_net_rx = {"process_network_receive_bytes_total",
                                    "Number of bytes received by the process over the network.",
                                    EXPFMT_COUNTER, {NULL}};
static const agent_desc d_net_tx = {"process_network_transmit_bytes_total",
                                    "Number of bytes sent by the process over the network.",
                                    EXPFMT_COUNTER, {NULL}};

/* client_golang takes these from the IpExt InOctets/OutOctets of the process's network namespace
 * (/proc/self/net/netstat): a header line of names, then a line of values. Read under the name
 * /proc/net/netstat (a link to self/net), which the netstat collector reads with the default
 * --path.procfs: one path, so the scrape reads the file once (io.c). */
static void network_bytes(agent_scrape *sc)
{
    odin_str text;
    odin_err err = {0};
    if (agent_read(sc, "/proc/net/netstat", &text, &err) < 0) {
        return;
    }
    while (text.len) {
        odin_str names = odin_str_cut(&text, '\n');
        odin_str values = odin_str_cut(&text, '\n');
        if (!odin_str_has_prefix(names, "IpExt:")) {
            continue;
        }
        odin_str_field(&names);
        odin_str_field(&values);
        for (;;) {
            odin_str n = odin_str_field(&names), v = odin_str_field(&values);
            if (n.len == 0 || v.len == 0) {
                return;
            }
            double d;
            if (odin_parse_double(v, &d) < 0) {
                continue;
            }
            if (odin_str_eq_c(n, "InOctets")) {
                agent_emit(sc, &d_net_rx, d, NULL);
            } else if (odin_str_eq_c(n, "OutOctets")) {
                agent_emit(sc, &d_net_tx, d, NULL);
            }
        }
    }
}

void agent_process_collect(agent_scrape *sc, double start_time_s)
{
    odin_str statm = {NULL, 0};
    odin_err err = {0};
    if (agent_read(sc, "/proc/self/statm", &statm, &err) < 0) {
        statm = (odin_str){"", 0}; /* not read again: the values are left out, as before */
    }
    odin_process_stats ps;
    odin_process_stats_get(&ps, statm);
    agent_emit(sc, &d_cpu, ps.cpu_seconds, NULL);
    if (ps.max_fds >= 0) {
        agent_emit(sc, &d_max_fds, ps.max_fds, NULL);
    }
    agent_emit(sc, &d_open_fds, ps.open_fds, NULL);
    if (ps.rss_bytes >= 0) {
        agent_emit(sc, &d_rss, ps.rss_bytes, NULL);
        agent_emit(sc, &d_vsize, ps.vsize_bytes, NULL);
    }
    network_bytes(sc);
    agent_emit(sc, &d_start, start_time_s, NULL);
    if (ps.vmax_bytes >= 0) {
        agent_emit(sc, &d_vmax, ps.vmax_bytes, NULL);
    }
}

/* stat: kernel counters from <procfs>/stat (interrupts, context switches, forks, boot time,
 * runnable and blocked processes) and, with --collector.stat.softirq, softirqs per vector. */
#include "agent/cpu_util.h"

static const agent_desc d_intr = {
    "node_intr_total", "Total number of interrupts serviced.", EXPFMT_COUNTER, {NULL}};
static const agent_desc d_ctxt = {
    "node_context_switches_total", "Total number of context switches.", EXPFMT_COUNTER, {NULL}};
static const agent_desc d_forks = {
    "node_forks_total", "Total number of forks.", EXPFMT_COUNTER, {NULL}};
static const agent_desc d_btime = {
    "node_boot_time_seconds", "Node boot time, in unixtime.", EXPFMT_GAUGE, {NULL}};
static const agent_desc d_running = {
    "node_procs_running", "Number of processes in runnable state.", EXPFMT_GAUGE, {NULL}};
static const agent_desc d_blocked = {"node_procs_blocked",
                                     "Number of processes blocked waiting for I/O to complete.",
                                     EXPFMT_GAUGE,
                                     {NULL}};
static const agent_desc d_softirq = {
    "node_softirqs_total", "Number of softirq calls.", EXPFMT_COUNTER, {"vector", NULL}};

static const char *const softirq_names[10] = {"hi",      "timer",        "net_tx",  "net_rx",
                                              "block",   "block_iopoll", "tasklet", "sched",
                                              "hrtimer", "rcu"};

static const agent_flag_def stat_flags[] = {
    {"collector.stat.softirq", "false", "Export softirq calls per vector", true, false},
    {NULL, NULL, NULL, false, false},
};

static int stat_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    cpu_util_stat st;
    int rc = cpu_util_read_stat(sc, &st, err);
    if (rc < 0) {
        return rc;
    }
    agent_emit(sc, &d_intr, (double)st.intr, NULL);
    agent_emit(sc, &d_ctxt, (double)st.ctxt, NULL);
    agent_emit(sc, &d_forks, (double)st.forks, NULL);
    agent_emit(sc, &d_btime, (double)st.boot_time, NULL);
    agent_emit(sc, &d_running, (double)st.procs_running, NULL);
    agent_emit(sc, &d_blocked, (double)st.procs_blocked, NULL);
    if (agent_flag_bool(agent_scrape_agent(sc), "collector.stat.softirq")) {
        for (int i = 0; i < 10; i++) {
            const char *v[] = {softirq_names[i]};
            agent_emit(sc, &d_softirq, (double)st.softirq[i], v);
        }
    }
    return 0;
}

const agent_collector_def agent_collector_stat = {
    .name = "stat",
    .default_on = true,
    .flags = stat_flags,
    .collect = stat_collect,
};

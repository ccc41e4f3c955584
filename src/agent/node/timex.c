/* timex: node_timex_* from adjtimex(2) called read-only (modes 0): offset, frequency, error
 * bounds, status, PLL constant, tick, TAI offset, PPS statistics and the sync status. */
#include "agent/proc_util.h"

#include <errno.h>
#include <sys/timex.h>

#define TIMEX_ERROR_STATE 5 /* TIME_ERROR: clock not synchronized */
#define TIMEX_STA_NANO 0x2000
#define PPM16FRAC (1000000.0 * 65536.0)

enum {
    TX_SYNC,
    TX_OFFSET,
    TX_FREQ,
    TX_MAXERR,
    TX_ESTERR,
    TX_STATUS,
    TX_CONST,
    TX_TICK,
    TX_PPSFREQ,
    TX_JITTER,
    TX_SHIFT,
    TX_STABIL,
    TX_JITCNT,
    TX_CALCNT,
    TX_ERRCNT,
    TX_STBCNT,
    TX_TAI,
    TX_N
};

static const agent_desc descs[TX_N] = {
    [TX_SYNC] = {"node_timex_sync_status",
                 "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
                 EXPFMT_GAUGE,
                 {NULL}},
    [TX_OFFSET] = {"node_timex_offset_seconds",
                   "Time offset in between local system and reference clock.",
                   EXPFMT_GAUGE,
                   {NULL}},
    [TX_FREQ] = {"node_timex_frequency_adjustment_ratio",
                 "Local clock frequency adjustment.",
                 EXPFMT_GAUGE,
                 {NULL}},
    [TX_MAXERR] = {"node_timex_maxerror_seconds",
                   "Maximum error in seconds.",
                   EXPFMT_GAUGE,
                   {NULL}},
    [TX_ESTERR] = {"node_timex_estimated_error_seconds",
                   "Estimated error in seconds.",
                   EXPFMT_GAUGE,
                   {NULL}},
    [TX_STATUS] = {"node_timex_status", "Value of the status array bits.", EXPFMT_GAUGE, {NULL}},
    [TX_CONST] = {"node_timex_loop_time_constant",
                  "Phase-locked loop time constant.",
                  EXPFMT_GAUGE,
                  {NULL}},
    [TX_TICK] = {"node_timex_tick_seconds", "Seconds between clock ticks.", EXPFMT_GAUGE, {NULL}},
    [TX_PPSFREQ] = {"node_timex_pps_frequency_hertz",
                    "Pulse per second frequency.",
                    EXPFMT_GAUGE,
                    {NULL}},
    [TX_JITTER] = {"node_timex_pps_jitter_seconds",
                   "Pulse per second jitter.",
                   EXPFMT_GAUGE,
                   {NULL}},
    [TX_SHIFT] = {"node_timex_pps_shift_seconds",
                  "Pulse per second interval duration.",
                  EXPFMT_GAUGE,
                  {NULL}},
    [TX_STABIL] = {"node_timex_pps_stability_hertz",
                   "Pulse per second stability, average of recent frequency changes.",
                   EXPFMT_GAUGE,
                   {NULL}},
    [TX_JITCNT] = {"node_timex_pps_jitter_total",
                   "Pulse per second count of jitter limit exceeded events.",
                   EXPFMT_COUNTER,
                   {NULL}},
    [TX_CALCNT] = {"node_timex_pps_calibration_total",
                   "Pulse per second count of calibration intervals.",
                   EXPFMT_COUNTER,
                   {NULL}},
    [TX_ERRCNT] = {"node_timex_pps_error_total",
                   "Pulse per second count of calibration errors.",
                   EXPFMT_COUNTER,
                   {NULL}},
    [TX_STBCNT] = {"node_timex_pps_stability_exceeded_total",
                   "Pulse per second count of stability limit exceeded events.",
                   EXPFMT_COUNTER,
                   {NULL}},
    [TX_TAI] = {"node_timex_tai_offset_seconds",
                "International Atomic Time (TAI) offset.",
                EXPFMT_GAUGE,
                {NULL}},
};

static int timex_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    struct timex tx = {0};
    int st = adjtimex(&tx);
    if (st < 0) {
        int e = errno;
        if (e == EPERM || e == EACCES) {
            return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "adjtimex: not permitted");
        }
        odin_err_errno(err, e, "failed to retrieve adjtimex stats");
        return -ODIN_ERR_IO;
    }
    const double us = 1000000;
    double divisor = (tx.status & TIMEX_STA_NANO) ? 1000000000 : us;
    double v[TX_N];
    v[TX_SYNC] = st == TIMEX_ERROR_STATE ? 0 : 1;
    v[TX_OFFSET] = (double)tx.offset / divisor;
    v[TX_FREQ] = 1 + (double)tx.freq / PPM16FRAC;
    v[TX_MAXERR] = (double)tx.maxerror / us;
    v[TX_ESTERR] = (double)tx.esterror / us;
    v[TX_STATUS] = (double)tx.status;
    v[TX_CONST] = (double)tx.constant;
    v[TX_TICK] = (double)tx.tick / us;
    v[TX_PPSFREQ] = (double)tx.ppsfreq / PPM16FRAC;
    v[TX_JITTER] = (double)tx.jitter / divisor;
    v[TX_SHIFT] = (double)tx.shift;
    v[TX_STABIL] = (double)tx.stabil / PPM16FRAC;
    v[TX_JITCNT] = (double)tx.jitcnt;
    v[TX_CALCNT] = (double)tx.calcnt;
    v[TX_ERRCNT] = (double)tx.errcnt;
    v[TX_STBCNT] = (double)tx.stbcnt;
    v[TX_TAI] = (double)tx.tai;
    for (int i = 0; i < TX_N; i++) {
        agent_emit(sc, &descs[i], v[i], NULL);
    }
    return 0;
}

const agent_collector_def agent_collector_timex = {
    .name = "timex",
    .default_on = true,
    .collect = timex_collect,
};

/* infiniband: node_infiniband_* from <sysfs>/class/infiniband/<device>/{fw_ver,board_id,hca_type}
 * and ports/<n>/{state,phys_state,rate,counters,counters_ext,hw_counters}, as node_exporter. */
#include "agent/sysfs_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const agent_flag_def ib_flags[] = {
    {"collector.infiniband.device-include", NULL,
     "Regexp of infiniband devices to include (mutually exclusive to device-exclude).", false,
     false},
    {"collector.infiniband.device-exclude", NULL,
     "Regexp of infiniband devices to exclude (mutually exclusive to device-include).", false,
     false},
    {NULL, NULL, NULL, false, false},
};

enum { DIR_COUNTERS, DIR_EXT, DIR_HW };
enum { V_PLAIN, V_TIMES4, V_LIFESPAN };

/* One counter file: where it lives, the family it feeds and how its value is converted. */
typedef struct {
    int dir;
    const char *file;
    int conv;
    agent_desc desc;
} ib_counter;

#define C(dir, file, conv, name, help)                                                             \
    {                                                                                              \
        dir, file, conv,                                                                           \
        {                                                                                          \
            "node_infiniband_" name, help, EXPFMT_COUNTER,                                         \
            {                                                                                      \
                "device", "port", NULL                                                             \
            }                                                                                      \
        }                                                                                          \
    }
#define MLNX " The counters was added in MLNX_OFED 4.1"
#define MLNX5 " The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0"

static const ib_counter counters[] = {
    C(DIR_EXT, "port_multicast_rcv_packets", V_PLAIN, "legacy_multicast_packets_received_total",
      "Number of multicast packets received"),
    C(DIR_EXT, "port_multicast_xmit_packets", V_PLAIN, "legacy_multicast_packets_transmitted_total",
      "Number of multicast packets transmitted"),
    C(DIR_EXT, "port_rcv_data_64", V_TIMES4, "legacy_data_received_bytes_total",
      "Number of data octets received on all links"),
    C(DIR_EXT, "port_rcv_packets_64", V_PLAIN, "legacy_packets_received_total",
      "Number of data packets received on all links"),
    C(DIR_EXT, "port_unicast_rcv_packets", V_PLAIN, "legacy_unicast_packets_received_total",
      "Number of unicast packets received"),
    C(DIR_EXT, "port_unicast_xmit_packets", V_PLAIN, "legacy_unicast_packets_transmitted_total",
      "Number of unicast packets transmitted"),
    C(DIR_EXT, "port_xmit_data_64", V_TIMES4, "legacy_data_transmitted_bytes_total",
      "Number of data octets transmitted on all links"),
    C(DIR_EXT, "port_xmit_packets_64", V_PLAIN, "legacy_packets_transmitted_total",
      "Number of data packets received on all links"),
    C(DIR_COUNTERS, "excessive_buffer_overrun_errors", V_PLAIN,
      "excessive_buffer_overrun_errors_total",
      "Number of times that OverrunErrors consecutive flow control update periods occurred, each "
      "having at least one overrun error."),
    C(DIR_COUNTERS, "link_downed", V_PLAIN, "link_downed_total",
      "Number of times the link failed to recover from an error state and went down"),
    C(DIR_COUNTERS, "link_error_recovery", V_PLAIN, "link_error_recovery_total",
      "Number of times the link successfully recovered from an error state"),
    C(DIR_COUNTERS, "local_link_integrity_errors", V_PLAIN, "local_link_integrity_errors_total",
      "Number of times that the count of local physical errors exceeded the threshold specified "
      "by LocalPhyErrors."),
    C(DIR_COUNTERS, "multicast_rcv_packets", V_PLAIN, "multicast_packets_received_total",
      "Number of multicast packets received (including errors)"),
    C(DIR_COUNTERS, "multicast_xmit_packets", V_PLAIN, "multicast_packets_transmitted_total",
      "Number of multicast packets transmitted (including errors)"),
    C(DIR_COUNTERS, "port_rcv_constraint_errors", V_PLAIN, "port_constraint_errors_received_total",
      "Number of packets received on the switch physical port that are discarded"),
    C(DIR_COUNTERS, "port_xmit_constraint_errors", V_PLAIN,
      "port_constraint_errors_transmitted_total",
      "Number of packets not transmitted from the switch physical port"),
    C(DIR_COUNTERS, "port_rcv_data", V_TIMES4, "port_data_received_bytes_total",
      "Number of data octets received on all links"),
    C(DIR_COUNTERS, "port_xmit_data", V_TIMES4, "port_data_transmitted_bytes_total",
      "Number of data octets transmitted on all links"),
    C(DIR_COUNTERS, "port_rcv_discards", V_PLAIN, "port_discards_received_total",
      "Number of inbound packets discarded by the port because the port is down or congested"),
    C(DIR_COUNTERS, "port_xmit_discards", V_PLAIN, "port_discards_transmitted_total",
      "Number of outbound packets discarded by the port because the port is down or congested"),
    C(DIR_COUNTERS, "port_rcv_errors", V_PLAIN, "port_errors_received_total",
      "Number of packets containing an error that were received on this port"),
    C(DIR_COUNTERS, "port_rcv_packets", V_PLAIN, "port_packets_received_total",
      "Number of packets received on all VLs by this port (including errors)"),
    C(DIR_COUNTERS, "port_xmit_packets", V_PLAIN, "port_packets_transmitted_total",
      "Number of packets transmitted on all VLs from this port (including errors)"),
    C(DIR_COUNTERS, "port_xmit_wait", V_PLAIN, "port_transmit_wait_total",
      "Number of ticks during which the port had data to transmit but no data was sent during the "
      "entire tick"),
    C(DIR_COUNTERS, "unicast_rcv_packets", V_PLAIN, "unicast_packets_received_total",
      "Number of unicast packets received (including errors)"),
    C(DIR_COUNTERS, "unicast_xmit_packets", V_PLAIN, "unicast_packets_transmitted_total",
      "Number of unicast packets transmitted (including errors)"),
    C(DIR_COUNTERS, "port_rcv_remote_physical_errors", V_PLAIN,
      "port_receive_remote_physical_errors_total",
      "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port."),
    C(DIR_COUNTERS, "port_rcv_switch_relay_errors", V_PLAIN,
      "port_receive_switch_relay_errors_total",
      "Number of packets that could not be forwarded by the switch."),
    C(DIR_COUNTERS, "symbol_error", V_PLAIN, "symbol_error_total",
      "Number of minor link errors detected on one or more physical lanes."),
    C(DIR_COUNTERS, "VL15_dropped", V_PLAIN, "vl15_dropped_total",
      "Number of incoming VL15 packets dropped due to resource limitations."),
    {DIR_HW,
     "lifespan",
     V_LIFESPAN,
     {"node_infiniband_lifespan_seconds",
      "The maximum period in ms which defines the aging of the counter reads. Two consecutive "
      "reads within this period might return the same values.",
      EXPFMT_GAUGE,
      {"device", "port", NULL}}},
    C(DIR_HW, "duplicate_request", V_PLAIN, "duplicate_requests_packets_total",
      "The number of received packets. A duplicate request is a request that had been previously "
      "executed."),
    C(DIR_HW, "implied_nak_seq_err", V_PLAIN, "implied_nak_seq_errors_total",
      "The number of time the requested decided an ACK. with a PSN larger than the expected PSN "
      "for an RDMA read or response."),
    C(DIR_HW, "local_ack_timeout_err", V_PLAIN, "local_ack_timeout_errors_total",
      "The number of times QP's ack timer expired for RC, XRC, DCT QPs at the sender side. The QP "
      "retry limit was not exceed, therefore it is still recoverable error."),
    C(DIR_HW, "np_cnp_sent", V_PLAIN, "np_cnp_packets_sent_total",
      "The number of CNP packets sent by the Notification Point when it noticed congestion "
      "experienced in the RoCEv2 IP header (ECN bits)." MLNX),
    C(DIR_HW, "np_ecn_marked_roce_packets", V_PLAIN, "np_ecn_marked_roce_packets_received_total",
      "The number of RoCEv2 packets received by the notification point which were marked for "
      "experiencing the congestion (ECN bits where '11' on the ingress RoCE traffic) ." MLNX),
    C(DIR_HW, "out_of_buffer", V_PLAIN, "out_of_buffer_drops_total",
      "The number of drops occurred due to lack of WQE for the associated QPs."),
    C(DIR_HW, "out_of_sequence", V_PLAIN, "out_of_sequence_packets_received_total",
      "The number of out of sequence packets received."),
    C(DIR_HW, "packet_seq_err", V_PLAIN, "packet_sequence_errors_total",
      "The number of received NAK sequence error packets. The QP retry limit was not exceeded."),
    C(DIR_HW, "req_cqe_error", V_PLAIN, "req_cqes_errors_total",
      "The number of times requester detected CQEs completed with errors." MLNX),
    C(DIR_HW, "req_cqe_flush_error", V_PLAIN, "req_cqes_flush_errors_total",
      "The number of times requester detected CQEs completed with flushed errors." MLNX),
    C(DIR_HW, "req_remote_access_errors", V_PLAIN, "req_remote_access_errors_total",
      "The number of times requester detected remote access errors." MLNX),
    C(DIR_HW, "req_remote_invalid_request", V_PLAIN, "req_remote_invalid_request_errors_total",
      "The number of times requester detected remote invalid request errors." MLNX),
    C(DIR_HW, "resp_cqe_error", V_PLAIN, "resp_cqes_errors_total",
      "The number of times responder detected CQEs completed with errors." MLNX),
    C(DIR_HW, "resp_cqe_flush_error", V_PLAIN, "resp_cqes_flush_errors_total",
      "The number of times responder detected CQEs completed with flushed errors." MLNX),
    C(DIR_HW, "resp_local_length_error", V_PLAIN, "resp_local_length_errors_total",
      "The number of times responder detected local length errors." MLNX),
    C(DIR_HW, "resp_remote_access_errors", V_PLAIN, "resp_remote_access_errors_total",
      "The number of times responder detected remote access errors." MLNX),
    C(DIR_HW, "rnr_nak_retry_err", V_PLAIN, "rnr_nak_retry_packets_received_total",
      "The number of received RNR NAK packets. The QP retry limit was not exceeded."),
    C(DIR_HW, "roce_adp_retrans", V_PLAIN, "roce_adp_retransmits_total",
      "The number of adaptive retransmissions for RoCE traffic." MLNX5),
    C(DIR_HW, "roce_adp_retrans_to", V_PLAIN, "roce_adp_retransmits_timeout_total",
      "The number of times RoCE traffic reached timeout due to adaptive retransmission." MLNX5),
    C(DIR_HW, "roce_slow_restart", V_PLAIN, "roce_slow_restart_used_total",
      "The number of times RoCE slow restart was used." MLNX5),
    C(DIR_HW, "roce_slow_restart_cnps", V_PLAIN, "roce_slow_restart_cnps_total",
      "The number of times RoCE slow restart generated CNP packets." MLNX5),
    C(DIR_HW, "roce_slow_restart_trans", V_PLAIN, "roce_slow_restart_total",
      "The number of times RoCE slow restart changed state to slow restart." MLNX5),
    C(DIR_HW, "rp_cnp_handled", V_PLAIN, "rp_cnp_packets_handled_total",
      "The number of CNP packets handled by the Reaction Point HCA to throttle the transmission "
      "rate." MLNX),
    C(DIR_HW, "rp_cnp_ignored", V_PLAIN, "rp_cnp_ignored_packets_received_total",
      "The number of CNP packets received and ignored by the Reaction Point HCA. This counter "
      "should not raise if RoCE Congestion Control was enabled in the network. If this counter "
      "raise, verify that ECN was enabled on the adapter."),
    C(DIR_HW, "rx_atomic_requests", V_PLAIN, "rx_atomic_requests_total",
      "The number of received ATOMIC request for the associated QPs."),
    C(DIR_HW, "rx_dct_connect", V_PLAIN, "rx_dct_connect_requests_total",
      "The number of received connection requests for the associated DCTs."),
    C(DIR_HW, "rx_read_requests", V_PLAIN, "rx_read_requests_total",
      "The number of received READ requests for the associated QPs."),
    C(DIR_HW, "rx_write_requests", V_PLAIN, "rx_write_requests_total",
      "The number of received WRITE requests for the associated QPs."),
    C(DIR_HW, "rx_icrc_encapsulated", V_PLAIN, "rx_icrc_encapsulated_errors_total",
      "The number of RoCE packets with ICRC errors. This counter was added in MLNX_OFED 4.4 and "
      "kernel 4.19"),
};
enum { NCOUNTERS = sizeof(counters) / sizeof(counters[0]) };

static const agent_desc d_info = {
    "node_infiniband_info",
    "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
    EXPFMT_GAUGE,
    {"device", "board_id", "firmware_version", "hca_type", NULL}};
static const agent_desc d_state = {
    "node_infiniband_state_id",
    "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act "
    "defer)",
    EXPFMT_GAUGE,
    {"device", "port", NULL}};
static const agent_desc d_phys_state = {
    "node_infiniband_physical_state_id",
    "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: "
    "shift, 5: link up, 6: link error recover, 7: phytest)",
    EXPFMT_GAUGE,
    {"device", "port", NULL}};
static const agent_desc d_rate = {"node_infiniband_rate_bytes_per_second",
                                  "Maximum signal transfer rate",
                                  EXPFMT_GAUGE,
                                  {"device", "port", NULL}};

typedef struct {
    const char *port;
    uint64_t state, phys_state, rate;
    bool has[NCOUNTERS];
    uint64_t val[NCOUNTERS];
} ib_port;

typedef struct {
    const char *name, *board_id, *fw_ver, *hca_type;
    ib_port *ports;
    size_t nports;
} ib_device;

typedef struct {
    agent_filter filter;
} ib_state;

/* "<id>: <NAME>" as in ports/<n>/state and phys_state. */
static int parse_state(odin_str s, uint64_t *id)
{
    odin_str rest = s;
    odin_str head = odin_str_cut(&rest, ':');
    if (head.len == s.len || memchr(rest.p, ':', rest.len)) {
        return -ODIN_ERR_PARSE;
    }
    if (odin_parse_u64(odin_str_trim(head), id) < 0 || *id > UINT32_MAX) {
        return -ODIN_ERR_PARSE;
    }
    return 0;
}

/* "<Gb/s> Gb/sec (...)": the number, rounded to float32 as procfs parses it, times 125000000. */
static int parse_rate(odin_str s, uint64_t *rate)
{
    const char *sp = memchr(s.p, ' ', s.len);
    if (!sp) {
        return -ODIN_ERR_PARSE;
    }
    odin_str num = odin_str_trim((odin_str){s.p, (size_t)(sp - s.p)});
    char buf[64];
    if (num.len == 0 || num.len >= sizeof(buf)) {
        return -ODIN_ERR_PARSE;
    }
    memcpy(buf, num.p, num.len);
    buf[num.len] = '\0';
    char *end;
    errno = 0;
    float f = strtof(buf, &end);
    if (end != buf + num.len || errno == ERANGE) {
        return -ODIN_ERR_PARSE;
    }
    double v = (double)f * 125000000;
    *rate = v <= 0 ? 0 : (uint64_t)v;
    return 0;
}

static bool ignorable(int dir, int e)
{
    if (e == ENOENT || e == EACCES || e == EPERM || e == EOPNOTSUPP) {
        return true;
    }
    return dir == DIR_COUNTERS && e == EINVAL;
}

static int parse_counter_dir(agent_scrape *sc, const char *portdir, int dir, ib_port *p,
                             odin_err *err)
{
    static const char *const dirs[3] = {"counters", "counters_ext", "hw_counters"};
    const char *path = agent_sysfs_join(sc, portdir, dirs[dir]);
    const char **files;
    size_t n;
    int rc = agent_list_dir(sc, path, &files, &n, err);
    if (rc < 0) {
        if (dir == DIR_EXT && rc == -ODIN_ERR_NOTFOUND) {
            return 0;
        }
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        const char *fpath = agent_sysfs_join(sc, path, files[i]);
        if (agent_sysfs_lstat_type(fpath) != AGENT_FT_REG) {
            continue;
        }
        odin_str value;
        int e;
        if (agent_sysfs_read(sc, fpath, &value, &e) < 0) {
            if (ignorable(dir, e)) {
                continue;
            }
            return odin_err_errno(err, e, "failed to read file %s", fpath);
        }
        for (int c = 0; c < NCOUNTERS; c++) {
            if (counters[c].dir != dir || strcmp(counters[c].file, files[i]) != 0) {
                continue;
            }
            uint64_t v;
            if (agent_sysfs_parse_u64(value, &v) < 0) {
                odin_str s = value;
                bool no_pma = false;
                while (s.len >= 12) {
                    if (memcmp(s.p, "N/A (no PMA)", 12) == 0) {
                        no_pma = true;
                        break;
                    }
                    s.p++;
                    s.len--;
                }
                if (no_pma) {
                    break;
                }
                return odin_err_set(err, ODIN_ERR_PARSE, "%s: not a number: \"%.64s\"", fpath,
                                    value.p);
            }
            if (counters[c].conv == V_TIMES4) {
                v *= 4;
            }
            p->has[c] = true;
            p->val[c] = v;
            break;
        }
    }
    return 0;
}

static int parse_port(agent_scrape *sc, const char *devdir, const char *port, ib_port *p,
                      odin_err *err)
{
    uint64_t num;
    if (odin_parse_u64(odin_str_c(port), &num) < 0 || num > UINT32_MAX) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s/ports/%s: port is not a number", devdir, port);
    }
    p->port = agent_fmt_i64(sc, (int64_t)num);
    const char *dir = agent_sysfs_join(sc, agent_sysfs_join(sc, devdir, "ports"), port);
    odin_str text;
    int rc = agent_read(sc, agent_sysfs_join(sc, dir, "link_layer"), &text, err);
    if (rc < 0) {
        return rc;
    }
    const char *path = agent_sysfs_join(sc, dir, "state");
    if ((rc = agent_read(sc, path, &text, err)) < 0) {
        return rc;
    }
    if (parse_state(text, &p->state) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "could not parse state file %s", path);
    }
    path = agent_sysfs_join(sc, dir, "phys_state");
    if ((rc = agent_read(sc, path, &text, err)) < 0) {
        return rc;
    }
    if (parse_state(text, &p->phys_state) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "could not parse phys_state file %s", path);
    }
    path = agent_sysfs_join(sc, dir, "rate");
    if ((rc = agent_read(sc, path, &text, err)) < 0) {
        return rc;
    }
    if (parse_rate(text, &p->rate) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE, "could not parse rate file %s", path);
    }
    if (agent_sysfs_exists(agent_sysfs_join(sc, dir, "counters"))) {
        if ((rc = parse_counter_dir(sc, dir, DIR_COUNTERS, p, err)) < 0 ||
            (rc = parse_counter_dir(sc, dir, DIR_EXT, p, err)) < 0) {
            return rc;
        }
    }
    if (agent_sysfs_exists(agent_sysfs_join(sc, dir, "hw_counters"))) {
        if ((rc = parse_counter_dir(sc, dir, DIR_HW, p, err)) < 0) {
            return rc;
        }
    }
    return 0;
}

static int parse_device(agent_scrape *sc, const char *base, const char *name, ib_device *d,
                        odin_err *err)
{
    const char *dir = agent_sysfs_join(sc, base, name);
    d->name = name;
    d->board_id = d->hca_type = "";
    odin_str text;
    int e;
    const char *path = agent_sysfs_join(sc, dir, "fw_ver");
    if (agent_sysfs_read(sc, path, &text, &e) < 0) {
        if (e == ENOENT) {
            return odin_err_set(err, ODIN_ERR_NOTFOUND, "failed to read HCA firmware version %s",
                                path);
        }
        return odin_err_errno(err, e, "failed to read HCA firmware version %s", path);
    }
    d->fw_ver = text.p;
    static const char *const opt[3] = {"board_id", "hca_type", "node_guid"};
    for (int i = 0; i < 3; i++) {
        path = agent_sysfs_join(sc, dir, opt[i]);
        if (agent_sysfs_read(sc, path, &text, &e) < 0) {
            if (e == ENOENT) {
                continue;
            }
            return odin_err_errno(err, e, "failed to read file %s", path);
        }
        if (i == 0) {
            d->board_id = text.p;
        } else if (i == 1) {
            d->hca_type = text.p;
        }
    }
    const char **ports;
    size_t n;
    int rc = agent_list_dir(sc, agent_sysfs_join(sc, dir, "ports"), &ports, &n, err);
    if (rc < 0) {
        return rc;
    }
    d->ports = odin_arena_zalloc(agent_scrape_arena(sc), (n + 1) * sizeof(*d->ports));
    if (!d->ports) {
        odin_oom();
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = parse_port(sc, dir, ports[i], &d->ports[i], err)) < 0) {
            return rc;
        }
    }
    d->nports = n;
    return 0;
}

static void emit_device(agent_scrape *sc, const ib_device *d)
{
    const char *info[4] = {d->name, d->board_id, d->fw_ver, d->hca_type};
    agent_emit(sc, &d_info, 1.0, info);
    for (size_t i = 0; i < d->nports; i++) {
        const ib_port *p = &d->ports[i];
        const char *lv[2] = {d->name, p->port};
        agent_emit(sc, &d_state, (double)p->state, lv);
        agent_emit(sc, &d_phys_state, (double)p->phys_state, lv);
        agent_emit(sc, &d_rate, (double)p->rate, lv);
        for (int c = 0; c < NCOUNTERS; c++) {
            if (!p->has[c]) {
                continue;
            }
            uint64_t v = p->val[c];
            if (counters[c].conv == V_LIFESPAN) {
                v /= 1000;
            }
            agent_emit(sc, &counters[c].desc, (double)v, lv);
        }
    }
}

static int ib_collect(agent_scrape *sc, void *state, odin_err *err)
{
    ib_state *st = state;
    agent_sysfs_class cl;
    int rc = agent_sysfs_class_list(sc, "class/infiniband", &cl, err);
    if (rc < 0) {
        return rc;
    }
    ib_device *devs = agent_sysfs_class_items(sc, &cl, sizeof(*devs));
    /* All devices are read before any is emitted: one unreadable device fails the collector. */
    for (size_t i = 0; i < cl.n; i++) {
        rc = parse_device(sc, cl.base, cl.names[i], &devs[i], err);
        if (rc == -ODIN_ERR_NOTFOUND) {
            return -ODIN_ERR_UNAVAILABLE;
        }
        if (rc < 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < cl.n; i++) {
        if (!agent_filter_ignored(&st->filter, devs[i].name)) {
            emit_device(sc, &devs[i]);
        }
    }
    return 0;
}

static int ib_init(agent *ag, void **state, odin_err *err)
{
    ib_state *st = odin_calloc(1, sizeof(*st));
    int rc = agent_filter_init(&st->filter, agent_flag(ag, "collector.infiniband.device-include"),
                               agent_flag(ag, "collector.infiniband.device-exclude"),
                               "collector.infiniband", err);
    if (rc < 0) {
        free(st);
        return rc;
    }
    *state = st;
    return 0;
}

static void ib_fini(void *state)
{
    ib_state *st = state;
    if (st) {
        agent_filter_fini(&st->filter);
        free(st);
    }
}

const agent_collector_def agent_collector_infiniband = {
    .name = "infiniband",
    .default_on = true,
    .flags = ib_flags,
    .init = ib_init,
    .collect = ib_collect,
    .fini = ib_fini,
};

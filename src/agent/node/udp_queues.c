/* udp_queues: node_udp_queues{ip,queue}, the tx_queue and rx_queue columns of <procfs>/net/udp and
 * net/udp6 summed over all sockets. */
#include "agent/proc_util.h"

static const agent_desc d_queues = {
    "node_udp_queues",
    "Number of allocated memory in the kernel for UDP datagrams in bytes.",
    EXPFMT_GAUGE,
    {"queue", "ip", NULL}};

static bool hex_ip_ok(odin_str s)
{
    if (s.len != 8 && s.len != 32) {
        return false;
    }
    uint64_t v;
    for (size_t i = 0; i < s.len; i += 8) {
        if (proc_parse_uint((odin_str){s.p + i, 8}, 16, &v) < 0) {
            return false;
        }
    }
    return true;
}

/* "<hex ip>:<hex port>" as procfs checks it. */
static bool addr_ok(odin_str s)
{
    odin_str ip = odin_str_cut(&s, ':');
    uint64_t port;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] == ':') {
            return false;
        }
    }
    return hex_ip_ok(ip) && proc_parse_uint(s, 16, &port) == 0;
}

/* Validates one socket line as procfs does and adds its queues. */
static bool udp_line(odin_str *f, size_t n, uint64_t *tx, uint64_t *rx)
{
    if (n < 13) { /* upstream needs at least 10 columns and reads the 13th (drops) */
        return false;
    }
    uint64_t v, t, r;
    odin_str sl = f[0];
    odin_str sl_num = odin_str_cut(&sl, ':');
    for (size_t i = 0; i < sl.len; i++) {
        if (sl.p[i] == ':') {
            return false;
        }
    }
    if (f[0].len == sl_num.len || proc_parse_uint(sl_num, 0, &v) < 0) {
        return false;
    }
    if (!addr_ok(f[1]) || !addr_ok(f[2]) || proc_parse_uint(f[3], 16, &v) < 0) {
        return false;
    }
    odin_str q = f[4];
    odin_str qt = odin_str_cut(&q, ':');
    if (f[4].len == qt.len) {
        return false;
    }
    for (size_t i = 0; i < q.len; i++) {
        if (q.p[i] == ':') {
            return false;
        }
    }
    if (proc_parse_uint(qt, 16, &t) < 0 || proc_parse_uint(q, 16, &r) < 0) {
        return false;
    }
    if (proc_parse_uint(f[7], 0, &v) < 0 || proc_parse_uint(f[9], 0, &v) < 0 ||
        proc_parse_uint(f[12], 0, &v) < 0) {
        return false;
    }
    *tx += t;
    *rx += r;
    return true;
}

/* Longest line of net/udp and net/udp6 (their format in net/ipv4/udp.c and net/ipv6/datagram.c
 * with every field at its widest is about 210 bytes), with margin. */
enum { UDP_LINE_MAX = 512 };

static int udp_summary(agent_scrape *sc, const char *path, uint64_t *tx, uint64_t *rx,
                       odin_err *err)
{
    odin_str text, line;
    /* every read of these files walks the whole UDP hash table: skip the one that returns 0 */
    int rc = agent_read_seq(sc, path, UDP_LINE_MAX, &text, err);
    if (rc < 0) {
        return rc;
    }
    *tx = *rx = 0;
    proc_next_line(&text, &line); /* header */
    for (int ln = 2; proc_next_line(&text, &line); ln++) {
        odin_str *f;
        size_t n = proc_fields(sc, line, &f);
        if (!udp_line(f, n, tx, rx)) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: malformed socket line", path, ln);
        }
    }
    return 0;
}

static int udp_queues_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    static const char *const files[2] = {"net/udp", "net/udp6"};
    static const char *const ips[2] = {"v4", "v6"};
    int missing = 0;
    for (int i = 0; i < 2; i++) {
        uint64_t tx, rx;
        int rc = udp_summary(sc, agent_path(sc, AGENT_PROC, "%s", files[i]), &tx, &rx, err);
        if (rc == -ODIN_ERR_NOTFOUND) {
            odin_err_clear(err); /* that IP version is disabled */
            missing++;
            continue;
        }
        if (rc < 0) {
            odin_err_prefix(err, "couldn't get udp queued bytes: ");
            return rc;
        }
        const char *ltx[2] = {"tx", ips[i]}, *lrx[2] = {"rx", ips[i]};
        agent_emit(sc, &d_queues, (double)tx, ltx);
        agent_emit(sc, &d_queues, (double)rx, lrx);
    }
    if (missing == 2) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "%s and %s: not found",
                            agent_path(sc, AGENT_PROC, "net/udp"),
                            agent_path(sc, AGENT_PROC, "net/udp6"));
    }
    return 0;
}

const agent_collector_def agent_collector_udp_queues = {
    .name = "udp_queues",
    .default_on = true,
    .collect = udp_queues_collect,
};

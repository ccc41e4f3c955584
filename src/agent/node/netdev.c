/* netdev: node_network_{receive,transmit}_*_total{device} per interface, from rtnetlink
 * (RTM_GETLINK, IFLA_STATS64) by default or from <procfs>/net/dev with
 * --no-collector.netdev.netlink, renamed to /proc/net/dev's legacy names unless
 * --collector.netdev.enable-detailed-metrics; plus node_network_address_info with
 * --collector.netdev.address-info. */
#include "agent/rtnl.h"
#include "agent/sysfs_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const agent_flag_def netdev_flags[] = {
    {"collector.netdev.device-include", NULL,
     "Regexp of net devices to include (mutually exclusive to device-exclude).", false, false},
    {"collector.netdev.device-whitelist", NULL, "DEPRECATED: Use collector.netdev.device-include",
     false, false},
    {"collector.netdev.device-exclude", NULL,
     "Regexp of net devices to exclude (mutually exclusive to device-include).", false, false},
    {"collector.netdev.device-blacklist", NULL, "DEPRECATED: Use collector.netdev.device-exclude",
     false, false},
    {"collector.netdev.address-info", "false", "Collect address-info for every device", true,
     false},
    {"collector.netdev.enable-detailed-metrics", "false",
     "Use (incompatible) metric names that provide more detailed stats on Linux", true, false},
    {"collector.netdev.netlink", "true", "Use netlink to gather stats instead of /proc/net/dev.",
     true, false},
    {"collector.netdev.label-ifalias", "false", "Add ifAlias label", true, false},
    {NULL, NULL, NULL, false, false},
};

enum { MAX_KEYS = 48 }; /* 24 netlink keys plus 10 renames */

/* One interface's statistics as key/value pairs, keyed as node_exporter keys them. */
typedef struct {
    const char *dev;
    size_t n;
    const char *key[MAX_KEYS];
    uint64_t val[MAX_KEYS];
    bool live[MAX_KEYS];
} nd_stats;

/* A key's metric name and help, made once: keys are the literals below, so the pointer names
 * the key for the collector's life. */
typedef struct {
    const char *key;
    char *name, *help;
} nd_name;

enum { MAX_NAMES = 64 }; /* more keys than exist (24 + 16 + 10); past it, format per sample */

typedef struct {
    agent_filter filter;
    bool address_info, detailed, netlink, label_ifalias;
    nd_name names[MAX_NAMES];
    size_t nnames;
} nd_state;

static void put(nd_stats *s, const char *key, uint64_t v)
{
    if (s->n < MAX_KEYS) {
        s->key[s->n] = key;
        s->val[s->n] = v;
        s->live[s->n] = true;
        s->n++;
    }
}

/* Removes key and reports whether it was there. */
static bool pop(nd_stats *s, const char *key, uint64_t *v)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->live[i] && strcmp(s->key[i], key) == 0) {
            s->live[i] = false;
            *v = s->val[i];
            return true;
        }
    }
    *v = 0;
    return false;
}

static uint64_t popz(nd_stats *s, const char *key)
{
    uint64_t v;
    pop(s, key, &v);
    return v;
}

static void set(nd_stats *s, const char *key, uint64_t v)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->live[i] && strcmp(s->key[i], key) == 0) {
            s->val[i] = v;
            return;
        }
    }
    put(s, key, v);
}

/* The kernel's /proc/net/dev names and sums (net/core/net-procfs.c), as node_exporter's
 * legacy(). */
static void legacy(nd_stats *s)
{
    uint64_t v;
    if (pop(s, "receive_errors", &v)) {
        set(s, "receive_errs", v);
    }
    if (pop(s, "receive_dropped", &v)) {
        set(s, "receive_drop", v + popz(s, "receive_missed_errors"));
    }
    if (pop(s, "receive_fifo_errors", &v)) {
        set(s, "receive_fifo", v);
    }
    if (pop(s, "receive_frame_errors", &v)) {
        v += popz(s, "receive_length_errors");
        v += popz(s, "receive_over_errors");
        v += popz(s, "receive_crc_errors");
        set(s, "receive_frame", v);
    }
    if (pop(s, "multicast", &v)) {
        set(s, "receive_multicast", v);
    }
    if (pop(s, "transmit_errors", &v)) {
        set(s, "transmit_errs", v);
    }
    if (pop(s, "transmit_dropped", &v)) {
        set(s, "transmit_drop", v);
    }
    if (pop(s, "transmit_fifo_errors", &v)) {
        set(s, "transmit_fifo", v);
    }
    if (pop(s, "collisions", &v)) {
        set(s, "transmit_colls", v);
    }
    if (pop(s, "transmit_carrier_errors", &v)) {
        v += popz(s, "transmit_aborted_errors");
        v += popz(s, "transmit_heartbeat_errors");
        v += popz(s, "transmit_window_errors");
        set(s, "transmit_carrier", v);
    }
}

/* rtnl_link_stats64 field order (include/uapi/linux/if_link.h) and node_exporter's key for each. */
static const char *const nl_keys[AGENT_LINK_NSTATS] = {
    "receive_packets",
    "transmit_packets",
    "receive_bytes",
    "transmit_bytes",
    "receive_errors",
    "transmit_errors",
    "receive_dropped",
    "transmit_dropped",
    "multicast",
    "collisions",
    "receive_length_errors",
    "receive_over_errors",
    "receive_crc_errors",
    "receive_frame_errors",
    "receive_fifo_errors",
    "receive_missed_errors",
    "transmit_aborted_errors",
    "transmit_carrier_errors",
    "transmit_fifo_errors",
    "transmit_heartbeat_errors",
    "transmit_window_errors",
    "receive_compressed",
    "transmit_compressed",
    "receive_nohandler",
};

/* The scrape's link dump (shared with netclass) as key/value pairs; links without a name or stats
 * are left out. */
static int netlink_stats(agent_scrape *sc, nd_state *st, nd_stats **out, size_t *nout,
                         odin_err *err)
{
    const agent_link *links;
    size_t nl;
    int rc = agent_rtnl_links(sc, &links, &nl, err);
    if (rc < 0) {
        return rc;
    }
    *out = odin_arena_alloc(agent_scrape_arena(sc), (nl ? nl : 1) * sizeof(**out));
    if (!*out) {
        odin_oom();
    }
    *nout = 0;
    for (size_t i = 0; i < nl; i++) {
        const agent_link *l = &links[i];
        if (!(l->have & (AGENT_LINK_STATS64 | AGENT_LINK_STATS32)) ||
            agent_filter_ignored(&st->filter, l->name)) {
            continue;
        }
        nd_stats *s = &(*out)[(*nout)++];
        memset(s, 0, sizeof(*s));
        s->dev = l->name;
        for (size_t k = 0; k < AGENT_LINK_NSTATS; k++) {
            put(s, nl_keys[k], l->stats[k]);
        }
    }
    return 0;
}

static const char *const proc_keys[16] = {
    "receive_bytes",  "receive_packets",  "receive_errors",     "receive_dropped",
    "receive_fifo",   "receive_frame",    "receive_compressed", "receive_multicast",
    "transmit_bytes", "transmit_packets", "transmit_errors",    "transmit_dropped",
    "transmit_fifo",  "transmit_colls",   "transmit_carrier",   "transmit_compressed",
};

static int proc_stats(agent_scrape *sc, nd_state *st, nd_stats **out, size_t *nout, odin_err *err)
{
    const char *path = agent_path(sc, AGENT_PROC, "net/dev");
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    size_t lines = 1;
    for (size_t i = 0; i < text.len; i++) {
        lines += text.p[i] == '\n';
    }
    *out = odin_arena_zalloc(agent_scrape_arena(sc), lines * sizeof(**out));
    if (!*out) {
        odin_oom();
    }
    *nout = 0;
    for (size_t ln = 1; text.len > 0; ln++) {
        odin_str line = odin_str_cut(&text, '\n');
        if (ln <= 2) {
            continue;
        }
        size_t colon = line.len;
        for (size_t i = line.len; i > 0; i--) {
            if (line.p[i - 1] == ':') {
                colon = i - 1;
                break;
            }
        }
        if (colon == line.len) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%zu: invalid net/dev line, missing colon",
                                path, ln);
        }
        odin_str name = odin_str_trim((odin_str){line.p, colon});
        if (name.len == 0) {
            return odin_err_set(err, ODIN_ERR_PARSE,
                                "%s:%zu: invalid net/dev line, empty interface name", path, ln);
        }
        odin_str rest = {line.p + colon + 1, line.len - colon - 1};
        uint64_t v[16];
        for (int f = 0; f < 16; f++) {
            odin_str fld = odin_str_field(&rest);
            if (odin_parse_u64(fld, &v[f]) < 0) {
                return odin_err_set(err, ODIN_ERR_PARSE, "%s:%zu: field %d: not a number", path, ln,
                                    f + 1);
            }
        }
        const char *dev = agent_strdup(sc, name);
        if (agent_filter_ignored(&st->filter, dev)) {
            continue;
        }
        /* a repeated name replaces the earlier line, as a map keyed by name does */
        nd_stats *s = NULL;
        for (size_t i = 0; i < *nout; i++) {
            if (strcmp((*out)[i].dev, dev) == 0) {
                s = &(*out)[i];
            }
        }
        if (!s) {
            s = &(*out)[(*nout)++];
        }
        memset(s, 0, sizeof(*s));
        s->dev = dev;
        for (int f = 0; f < 16; f++) {
            put(s, proc_keys[f], v[f]);
        }
    }
    return 0;
}

/* ifalias of an interface in <sysfs>/class/net for --collector.netdev.label-ifalias: "" when the
 * file is unreadable, NULL (no label) when the interface is not there. */
static const char *ifalias_of(agent_scrape *sc, const char *dev)
{
    const char *dir = agent_path(sc, AGENT_SYS, "class/net/%s", dev);
    if (!agent_sysfs_is_dir(dir)) {
        return NULL;
    }
    odin_str text;
    int e;
    if (agent_sysfs_read(sc, agent_sysfs_join(sc, dir, "ifalias"), &text, &e) < 0) {
        return "";
    }
    return text.p;
}

static const char *scope_of(const unsigned char *ip, bool v4)
{
    if (v4) {
        bool loop = ip[0] == 127;
        bool ll_uni = ip[0] == 169 && ip[1] == 254;
        bool ll_multi = ip[0] == 224 && ip[1] == 0 && ip[2] == 0;
        if (loop || ll_uni || ll_multi) {
            return "link-local";
        }
        bool bcast = ip[0] == 255 && ip[1] == 255 && ip[2] == 255 && ip[3] == 255;
        bool unspec = !ip[0] && !ip[1] && !ip[2] && !ip[3];
        bool multi = (ip[0] & 0xf0) == 0xe0;
        return bcast || unspec || multi ? "" : "global";
    }
    static const unsigned char loop6[16] = {[15] = 1}, zero6[16] = {0};
    bool loop = memcmp(ip, loop6, 16) == 0;
    bool ll_uni = ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80;
    bool ll_multi = ip[0] == 0xff && (ip[1] & 0x0f) == 0x02;
    if (loop || ll_uni || ll_multi) {
        return "link-local";
    }
    if (ip[0] == 0xff && (ip[1] & 0x0f) == 0x01) {
        return "interface-local";
    }
    if (memcmp(ip, zero6, 16) == 0 || ip[0] == 0xff) {
        return "";
    }
    return "global";
}

static int mask_ones(const unsigned char *m, size_t n)
{
    int ones = 0;
    for (size_t i = 0; i < n; i++) {
        for (int b = 7; b >= 0; b--) {
            if (!(m[i] >> b & 1)) {
                return ones;
            }
            ones++;
        }
    }
    return ones;
}

static const agent_desc d_addr = {"node_network_address_info",
                                  "node network address by device",
                                  EXPFMT_GAUGE,
                                  {"device", "address", "netmask", "scope", NULL}};

static int address_info(agent_scrape *sc, const nd_state *st, odin_err *err)
{
    struct ifaddrs *ifa;
    if (getifaddrs(&ifa) < 0) {
        return odin_err_errno(err, errno, "could not get network interfaces");
    }
    for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
        if (!a->ifa_addr || !a->ifa_netmask || !a->ifa_name) {
            continue;
        }
        int fam = a->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6) {
            continue;
        }
        /* IPv4 alias labels ("eth0:1") belong to their interface */
        char ifname[IF_NAMESIZE];
        unsigned idx = if_nametoindex(a->ifa_name);
        const char *dev = idx && if_indextoname(idx, ifname) ? ifname : a->ifa_name;
        if (agent_filter_ignored(&st->filter, dev)) {
            continue;
        }
        unsigned char ip[16];
        char text[INET6_ADDRSTRLEN];
        bool v4 = fam == AF_INET;
        int ones;
        if (v4) {
            struct sockaddr_in sin, msk;
            memcpy(&sin, a->ifa_addr, sizeof(sin));
            memcpy(&msk, a->ifa_netmask, sizeof(msk));
            memcpy(ip, &sin.sin_addr, 4);
            ones = mask_ones((const unsigned char *)&msk.sin_addr, 4);
        } else {
            struct sockaddr_in6 sin6, msk6;
            memcpy(&sin6, a->ifa_addr, sizeof(sin6));
            memcpy(&msk6, a->ifa_netmask, sizeof(msk6));
            memcpy(ip, &sin6.sin6_addr, 16);
            ones = mask_ones((const unsigned char *)&msk6.sin6_addr, 16);
            static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
            if (memcmp(ip, mapped, 12) == 0) { /* Go prints v4-mapped addresses as IPv4 */
                memmove(ip, ip + 12, 4);
                v4 = true;
            }
        }
        if (!inet_ntop(v4 ? AF_INET : AF_INET6, ip, text, sizeof(text))) {
            continue;
        }
        const char *lv[4] = {agent_strdup(sc, odin_str_c(dev)), agent_strdup(sc, odin_str_c(text)),
                             agent_fmt_i64(sc, ones), scope_of(ip, v4)};
        agent_emit(sc, &d_addr, 1.0, lv);
    }
    freeifaddrs(ifa);
    return 0;
}

static void name_of(agent_scrape *sc, nd_state *st, const char *key, const char **name,
                    const char **help)
{
    for (size_t i = 0; i < st->nnames; i++) {
        if (st->names[i].key == key) {
            *name = st->names[i].name;
            *help = st->names[i].help;
            return;
        }
    }
    odin_arena *ar = agent_scrape_arena(sc);
    *name = odin_arena_printf(ar, "node_network_%s_total", key);
    *help = odin_arena_printf(ar, "Network device statistic %s.", key);
    if (!*name || !*help) {
        odin_oom();
    }
    if (st->nnames < MAX_NAMES) {
        nd_name *n = &st->names[st->nnames++];
        n->key = key;
        n->name = odin_strdup(*name);
        n->help = odin_strdup(*help);
    }
}

static int netdev_collect(agent_scrape *sc, void *state, odin_err *err)
{
    nd_state *st = state;
    nd_stats *devs = NULL;
    size_t n = 0;
    int rc =
        st->netlink ? netlink_stats(sc, st, &devs, &n, err) : proc_stats(sc, st, &devs, &n, err);
    if (rc < 0) {
        odin_err_prefix(err, "couldn't get netstats: ");
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        nd_stats *s = &devs[i];
        if (!st->detailed) {
            legacy(s);
        }
        const char *lnames[2] = {"device", "ifalias"};
        const char *lvals[2] = {s->dev, NULL};
        size_t nl = 1;
        if (st->label_ifalias && (lvals[1] = ifalias_of(sc, s->dev)) != NULL) {
            nl = 2;
        }
        for (size_t k = 0; k < s->n; k++) {
            if (!s->live[k]) {
                continue;
            }
            const char *name, *help;
            name_of(sc, st, s->key[k], &name, &help);
            agent_emit_dyn(sc, name, help, EXPFMT_COUNTER, (double)s->val[k], nl, lnames, lvals);
        }
    }
    if (st->address_info) {
        return address_info(sc, st, err);
    }
    return 0;
}

static int netdev_init(agent *ag, void **state, odin_err *err)
{
    const char *inc = agent_flag(ag, "collector.netdev.device-include");
    const char *exc = agent_flag(ag, "collector.netdev.device-exclude");
    const char *old_inc = agent_flag(ag, "collector.netdev.device-whitelist");
    const char *old_exc = agent_flag(ag, "collector.netdev.device-blacklist");
    if (old_inc && *old_inc) {
        if (inc && *inc) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "--collector.netdev.device-whitelist and "
                                "--collector.netdev.device-include are mutually exclusive");
        }
        odin_log(ODIN_LOG_WARN, "agent",
                 "--collector.netdev.device-whitelist is DEPRECATED and will be removed in 2.0.0, "
                 "use --collector.netdev.device-include",
                 NULL);
        inc = old_inc;
    }
    if (old_exc && *old_exc) {
        if (exc && *exc) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "--collector.netdev.device-blacklist and "
                                "--collector.netdev.device-exclude are mutually exclusive");
        }
        odin_log(ODIN_LOG_WARN, "agent",
                 "--collector.netdev.device-blacklist is DEPRECATED and will be removed in 2.0.0, "
                 "use --collector.netdev.device-exclude",
                 NULL);
        exc = old_exc;
    }
    nd_state *st = odin_calloc(1, sizeof(*st));
    int rc = agent_filter_init(&st->filter, inc, exc, "collector.netdev", err);
    if (rc < 0) {
        free(st);
        return rc;
    }
    st->address_info = agent_flag_bool(ag, "collector.netdev.address-info");
    st->detailed = agent_flag_bool(ag, "collector.netdev.enable-detailed-metrics");
    st->netlink = agent_flag_bool(ag, "collector.netdev.netlink");
    st->label_ifalias = agent_flag_bool(ag, "collector.netdev.label-ifalias");
    *state = st;
    return 0;
}

static void netdev_fini(void *state)
{
    nd_state *st = state;
    if (st) {
        agent_filter_fini(&st->filter);
        for (size_t i = 0; i < st->nnames; i++) {
            free(st->names[i].name);
            free(st->names[i].help);
        }
        free(st);
    }
}

const agent_collector_def agent_collector_netdev = {
    .name = "netdev",
    .default_on = true,
    .flags = netdev_flags,
    .init = netdev_init,
    .collect = netdev_collect,
    .fini = netdev_fini,
};

/* netclass: node_network_{info,up,mtu_bytes,speed_bytes,carrier,...}{device} from the attribute
 * files of <sysfs>/class/net/<iface>/, as node_exporter's sysfs path (the default). On the live
 * /sys, the attributes that rtnetlink carries come from the scrape's link dump instead (the same
 * values, one message per link instead of a read per attribute); the others are still read. */
#include "agent/rtnl.h"
#include "agent/sysfs_util.h"

#include <errno.h>
#include <linux/if.h>
#include <stdlib.h>
#include <string.h>

static const agent_flag_def netclass_flags[] = {
    {"collector.netclass.ignored-devices", "^$",
     "Regexp of net devices to ignore for netclass collector.", false, false},
    {"collector.netclass.ignore-invalid-speed", "false",
     "Ignore devices where the speed is invalid. This will be the default behavior in 2.x.", true,
     false},
    {NULL, NULL, NULL, false, false},
};

/* Integer attributes, in the order node_exporter pushes them. */
enum {
    A_ADDR_ASSIGN_TYPE,
    A_CARRIER,
    A_CARRIER_CHANGES,
    A_CARRIER_UP,
    A_CARRIER_DOWN,
    A_DEV_ID,
    A_DORMANT,
    A_FLAGS,
    A_IFINDEX,
    A_IFLINK,
    A_LINK_MODE,
    A_MTU,
    A_NAME_ASSIGN_TYPE,
    A_NETDEV_GROUP,
    A_SPEED,
    A_TX_QUEUE_LEN,
    A_TYPE,
    A_NUM,
};

typedef struct {
    const char *file;
    agent_desc desc; /* node_network_<metric>{device} */
} nc_attr;

/* Full names and help texts as literals: they were formatted per sample and scrape. */
#define NC_ATTR(file, metric, type)                                                                \
    {                                                                                              \
        file,                                                                                      \
        {                                                                                          \
            "node_network_" metric, "Network device property: " metric, type,                      \
            {                                                                                      \
                "device", NULL                                                                     \
            }                                                                                      \
        }                                                                                          \
    }

static const nc_attr attrs[A_NUM] = {
    [A_ADDR_ASSIGN_TYPE] = NC_ATTR("addr_assign_type", "address_assign_type", EXPFMT_GAUGE),
    [A_CARRIER] = NC_ATTR("carrier", "carrier", EXPFMT_GAUGE),
    [A_CARRIER_CHANGES] = NC_ATTR("carrier_changes", "carrier_changes_total", EXPFMT_COUNTER),
    [A_CARRIER_UP] = NC_ATTR("carrier_up_count", "carrier_up_changes_total", EXPFMT_COUNTER),
    [A_CARRIER_DOWN] = NC_ATTR("carrier_down_count", "carrier_down_changes_total", EXPFMT_COUNTER),
    [A_DEV_ID] = NC_ATTR("dev_id", "device_id", EXPFMT_GAUGE),
    [A_DORMANT] = NC_ATTR("dormant", "dormant", EXPFMT_GAUGE),
    [A_FLAGS] = NC_ATTR("flags", "flags", EXPFMT_GAUGE),
    [A_IFINDEX] = NC_ATTR("ifindex", "iface_id", EXPFMT_GAUGE),
    [A_IFLINK] = NC_ATTR("iflink", "iface_link", EXPFMT_GAUGE),
    [A_LINK_MODE] = NC_ATTR("link_mode", "iface_link_mode", EXPFMT_GAUGE),
    [A_MTU] = NC_ATTR("mtu", "mtu_bytes", EXPFMT_GAUGE),
    [A_NAME_ASSIGN_TYPE] = NC_ATTR("name_assign_type", "name_assign_type", EXPFMT_GAUGE),
    [A_NETDEV_GROUP] = NC_ATTR("netdev_group", "net_dev_group", EXPFMT_GAUGE),
    [A_SPEED] = NC_ATTR("speed", "speed_bytes", EXPFMT_GAUGE),
    [A_TX_QUEUE_LEN] = NC_ATTR("tx_queue_len", "transmit_queue_length", EXPFMT_GAUGE),
    [A_TYPE] = NC_ATTR("type", "protocol_type", EXPFMT_GAUGE),
};

enum { S_ADDRESS, S_BROADCAST, S_DUPLEX, S_IFALIAS, S_OPERSTATE, S_NUM };
static const char *const str_files[S_NUM] = {"address", "broadcast", "duplex", "ifalias",
                                             "operstate"};

typedef struct {
    const char *name;
    bool has[A_NUM];
    int64_t num[A_NUM];
    const char *str[S_NUM];
} nc_iface;

/* dev_id and name_assign_type of one network device, read once. Both are set when the device is
 * made (name_assign_type changes on a rename, which changes the name too), so for one name and
 * ifindex (a new device gets a new index) they stay what they were. Only kept for devices in
 * the link dump, where the index is known. */
typedef struct {
    char *name; /* heap */
    int32_t index;
    bool has[2];
    int64_t num[2];
    uint64_t seen; /* scrape count of the last use */
} nc_fixed;

enum { FIXED_MAX = 1024, FIXED_UNSEEN_SCRAPES = 3 };
static const int fixed_attrs[2] = {A_DEV_ID, A_NAME_ASSIGN_TYPE};

/* An entry of class/net as last listed: its name and inode number. */
typedef struct {
    char *name; /* heap */
    uint64_t ino;
} nc_entry;

typedef struct {
    agent_regex *ignored;
    bool ignore_invalid_speed;
    uint64_t scrapes;
    nc_fixed *fixed; /* heap, nfixed used of cap */
    size_t nfixed, cap;
    nc_entry *listed; /* heap, the last listing of class/net, sorted by name */
    size_t nlisted;
} nc_state;

static nc_fixed *fixed_find(nc_state *st, const agent_link *l)
{
    for (size_t i = 0; i < st->nfixed; i++) {
        if (st->fixed[i].index == l->index && strcmp(st->fixed[i].name, l->name) == 0) {
            st->fixed[i].seen = st->scrapes;
            return &st->fixed[i];
        }
    }
    return NULL;
}

static void fixed_add(nc_state *st, const agent_link *l, const nc_iface *ifc)
{
    if (st->nfixed == FIXED_MAX) {
        return;
    }
    if (st->nfixed == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 8;
        nc_fixed *n = odin_calloc(st->cap, sizeof(*n));
        if (st->nfixed) {
            memcpy(n, st->fixed, st->nfixed * sizeof(*n));
        }
        free(st->fixed);
        st->fixed = n;
    }
    nc_fixed *f = &st->fixed[st->nfixed++];
    f->name = odin_strdup(l->name);
    f->index = l->index;
    f->seen = st->scrapes;
    for (int i = 0; i < 2; i++) {
        f->has[i] = ifc->has[fixed_attrs[i]];
        f->num[i] = ifc->num[fixed_attrs[i]];
    }
}

/* Forgets devices not seen for a few scrapes (removed, renamed). */
static void fixed_sweep(nc_state *st)
{
    size_t w = 0;
    for (size_t r = 0; r < st->nfixed; r++) {
        if (st->scrapes - st->fixed[r].seen >= FIXED_UNSEEN_SCRAPES) {
            free(st->fixed[r].name);
        } else {
            st->fixed[w++] = st->fixed[r];
        }
    }
    st->nfixed = w;
}

static void listed_free(nc_state *st)
{
    for (size_t i = 0; i < st->nlisted; i++) {
        free(st->listed[i].name);
    }
    free(st->listed);
    st->listed = NULL;
    st->nlisted = 0;
}

/* Descriptors of attribute files are kept open between scrapes, and an open sysfs attribute
 * follows its device through a rename: after "eth0 -> old0, eth1 -> eth0" the descriptors kept
 * under class/net/eth0 read old0. The class entry of a device keeps its inode number through a
 * rename and a new entry gets a new one, so a name listed with another number than last time (or
 * not listed last time) now means another device, and what was kept under it is closed. One
 * merge of two sorted lists per scrape; the list is made again only when it changed. */
static void forget_moved(agent_scrape *sc, nc_state *st, const agent_sysfs_class *cl)
{
    bool same = cl->n == st->nlisted;
    size_t j = 0;
    for (size_t i = 0; i < cl->n; i++) {
        int c = 1;
        while (j < st->nlisted && (c = strcmp(st->listed[j].name, cl->names[i])) < 0) {
            j++;
        }
        if (j < st->nlisted && c == 0 && st->listed[j].ino == cl->inos[i]) {
            continue;
        }
        same = false;
        agent_files_forget(sc, agent_sysfs_join(sc, cl->base, cl->names[i]));
    }
    if (same) {
        return;
    }
    listed_free(st);
    st->listed = odin_calloc(cl->n ? cl->n : 1, sizeof(*st->listed));
    for (size_t i = 0; i < cl->n; i++) {
        st->listed[i] = (nc_entry){odin_strdup(cl->names[i]), cl->inos[i]};
    }
    st->nlisted = cl->n;
}

static const agent_desc d_up = {"node_network_up",
                                "Value is 1 if operstate is 'up', 0 otherwise.",
                                EXPFMT_GAUGE,
                                {"device", NULL}};
static const agent_desc d_info = {
    "node_network_info",
    "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
    EXPFMT_GAUGE,
    {"device", "address", "broadcast", "duplex", "operstate", "adminstate", "ifalias", NULL}};

/* One interface's reads: where they happen, whether any file was there, where errors go. */
typedef struct {
    agent_scrape *sc;
    const char *dir;
    bool found;
    odin_err *err;
} nc_reader;

/* Reads one attribute: 1 with its text in *value, 0 when it is missing or refuses reading
 * (EINVAL from `speed` of a down link), skipped as procfs skips it, or a negative error. */
static int read_attr(nc_reader *r, const char *file, odin_str *value)
{
    const char *path = agent_sysfs_join(r->sc, r->dir, file);
    int e;
    if (agent_sysfs_read(r->sc, path, value, &e) == 0) {
        r->found = true;
        return 1;
    }
    r->found = r->found || e != ENOENT;
    if (agent_sysfs_ignorable(e)) {
        return 0;
    }
    return odin_err_errno(r->err, e, "failed to read file %s", path);
}

/* Each attribute the link dump carries, as net-sysfs.c prints it: decimal with "%d" (an int in the
 * kernel, so u32 values print as int32), and EINVAL (skipped) from carrier and dormant while the
 * interface is not running. Running is read from IFF_UP, which the kernel sets and clears next to
 * the running bit under the same lock. false: read the file (an attribute this kernel's dump
 * lacks, or one netlink does not carry: addr_assign_type, dev_id, flags, which sysfs shows as
 * dev->flags where netlink shows dev_get_flags(), name_assign_type, speed). */
static bool link_num(const agent_link *l, int a, bool *has, int64_t *v)
{
    static const struct {
        int attr;
        uint32_t bit;
        size_t off;
    } u32s[] = {
        {A_CARRIER_CHANGES, AGENT_LINK_CARRIER_CHANGES, offsetof(agent_link, carrier_changes)},
        {A_CARRIER_UP, AGENT_LINK_CARRIER_UP, offsetof(agent_link, carrier_up)},
        {A_CARRIER_DOWN, AGENT_LINK_CARRIER_DOWN, offsetof(agent_link, carrier_down)},
        {A_MTU, AGENT_LINK_MTU, offsetof(agent_link, mtu)},
        {A_NETDEV_GROUP, AGENT_LINK_GROUP, offsetof(agent_link, group)},
        {A_TX_QUEUE_LEN, AGENT_LINK_TXQLEN, offsetof(agent_link, txqlen)},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(u32s); i++) {
        if (u32s[i].attr == a) {
            if (!(l->have & u32s[i].bit)) {
                return false;
            }
            uint32_t x;
            memcpy(&x, (const char *)l + u32s[i].off, sizeof(x));
            *has = true;
            *v = (int32_t)x;
            return true;
        }
    }
    bool running = (l->flags & IFF_UP) != 0;
    switch (a) {
    case A_CARRIER:
        if (!(l->have & AGENT_LINK_CARRIER)) {
            return false;
        }
        *has = running;
        *v = l->carrier != 0;
        return true;
    case A_DORMANT:
        *has = running;
        *v = (l->flags & IFF_DORMANT) != 0;
        return true;
    case A_IFINDEX:
        *has = true;
        *v = l->index;
        return true;
    case A_IFLINK: /* the kernel leaves IFLA_LINK out when it equals the index */
        *has = true;
        *v = l->have & AGENT_LINK_LINK ? (int32_t)l->link : l->index;
        return true;
    case A_LINK_MODE:
        *has = (l->have & AGENT_LINK_LINKMODE) != 0;
        *v = l->linkmode;
        return *has;
    case A_TYPE:
        *has = true;
        *v = l->type;
        return true;
    default:
        return false;
    }
}

/* sysfs_format_mac: lower-case hex bytes joined by ':' ("" for a device without an address). */
static const char *format_mac(agent_scrape *sc, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *out = odin_arena_alloc(agent_scrape_arena(sc), n * 3 + 1);
    if (!out) {
        odin_oom();
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) {
            out[o++] = ':';
        }
        out[o++] = hex[p[i] >> 4];
        out[o++] = hex[p[i] & 15];
    }
    out[o] = '\0';
    return out;
}

/* ifalias as agent_sysfs_read returns the file's "<alias>\n": its first 128 bytes, trimmed. */
static const char *sysfs_ifalias(agent_scrape *sc, const char *alias)
{
    size_t n = strlen(alias);
    return agent_strdup(sc, odin_str_trim((odin_str){alias, n < 128 ? n : 128}));
}

/* The string attributes from the link dump; NULL: read the file. */
static const char *link_str(agent_scrape *sc, const agent_link *l, int s)
{
    static const char *const operstates[] = {"unknown", "notpresent", "down", "lowerlayerdown",
                                             "testing", "dormant",    "up"};
    switch (s) {
    case S_ADDRESS:
        return format_mac(sc, l->address, l->address ? l->address_len : 0);
    case S_BROADCAST:
        return format_mac(sc, l->broadcast, l->broadcast ? l->broadcast_len : 0);
    case S_IFALIAS:
        return l->ifalias ? sysfs_ifalias(sc, l->ifalias) : "";
    case S_OPERSTATE:
        if (!(l->have & AGENT_LINK_OPERSTATE)) {
            return NULL;
        }
        /* out of range is EINVAL in sysfs: skipped, so empty */
        return l->operstate < ODIN_ARRAY_LEN(operstates) ? operstates[l->operstate] : "";
    default:
        return NULL;
    }
}

/* procfs lists the interface's directory and reads every file in it; only the attributes below
 * are exported, and a missing one is skipped either way, so each is read by name instead: the
 * listing cost as much as the reads. procfs also reads the attributes nobody exports; only
 * their hard read errors could change the outcome, which is not worth the syscalls. */
static int parse_iface(agent_scrape *sc, nc_state *st, const char *dir, const agent_link *link,
                       nc_iface *ifc, odin_err *err)
{
    nc_reader r = {.sc = sc, .dir = dir, .found = link != NULL, .err = err};
    odin_str value;
    const nc_fixed *fixed = link ? fixed_find(st, link) : NULL;
    if (link && !fixed) {
        /* a device not seen under this name and index: files kept open under the name may
         * belong to a device that was renamed away */
        agent_files_forget(sc, dir);
    }
    for (int a = 0; a < A_NUM; a++) {
        if (link && link_num(link, a, &ifc->has[a], &ifc->num[a])) {
            continue;
        }
        if (fixed && (a == fixed_attrs[0] || a == fixed_attrs[1])) {
            int i = a == fixed_attrs[0] ? 0 : 1;
            ifc->has[a] = fixed->has[i];
            ifc->num[a] = fixed->num[i];
            continue;
        }
        int rc = read_attr(&r, attrs[a].file, &value);
        if (rc < 0) {
            return rc;
        }
        if (rc > 0) {
            ifc->has[a] = agent_sysfs_parse_i64(value, &ifc->num[a]) == 0;
        }
    }
    for (int s = 0; s < S_NUM; s++) {
        if (link && (ifc->str[s] = link_str(sc, link, s)) != NULL) {
            continue;
        }
        int rc = read_attr(&r, str_files[s], &value);
        if (rc < 0) {
            return rc;
        }
        ifc->str[s] = rc > 0 ? value.p : "";
    }
    if (link && !fixed) {
        fixed_add(st, link, ifc); /* every read succeeded or was skippable */
    }
    if (!r.found && !agent_sysfs_is_dir(dir)) {
        /* the interface went away since class/net was listed, as a failed listing reported */
        return odin_err_set(err, ODIN_ERR_NOTFOUND, "opendir %s: no such directory", dir);
    }
    return 0;
}

static void emit_iface(agent_scrape *sc, const nc_state *st, const nc_iface *ifc)
{
    const char *dev[1] = {ifc->name};
    agent_emit(sc, &d_up, strcmp(ifc->str[S_OPERSTATE], "up") == 0 ? 1.0 : 0.0, dev);
    const char *admin = !ifc->has[A_FLAGS] ? "unknown" : (ifc->num[A_FLAGS] & 1) ? "up" : "down";
    const char *info[7] = {ifc->name,          ifc->str[S_ADDRESS],   ifc->str[S_BROADCAST],
                           ifc->str[S_DUPLEX], ifc->str[S_OPERSTATE], admin,
                           ifc->str[S_IFALIAS]};
    agent_emit(sc, &d_info, 1.0, info);
    for (int a = 0; a < A_NUM; a++) {
        if (!ifc->has[a]) {
            continue;
        }
        double v = (double)ifc->num[a];
        if (a == A_SPEED) {
            /* Some devices report -1 when the speed is unknown. */
            if (ifc->num[a] < 0 && st->ignore_invalid_speed) {
                continue;
            }
            /* int64 arithmetic as in Go: wraps on overflow, truncates toward zero */
            int64_t bits = (int64_t)((uint64_t)ifc->num[a] * 1000u * 1000u);
            v = (double)(bits / 8);
        }
        agent_emit(sc, &attrs[a].desc, v, dev);
    }
}

static int netclass_collect(agent_scrape *sc, void *state, odin_err *err)
{
    nc_state *st = state;
    st->scrapes++;
    fixed_sweep(st);
    agent_sysfs_class cl;
    int rc = agent_sysfs_class_list(sc, "class/net", &cl, err);
    if (rc < 0) {
        return rc;
    }
    forget_moved(sc, st, &cl);
    nc_iface *ifs = agent_sysfs_class_items(sc, &cl, sizeof(*ifs));
    size_t nif = 0;
    const agent_link *links = NULL;
    size_t nlinks = 0;
    if (agent_sysfs_is_live(agent_scrape_agent(sc))) {
        odin_err nl_err = {0};
        if (agent_rtnl_links(sc, &links, &nlinks, &nl_err) < 0) {
            nlinks = 0; /* every attribute from its file, as without netlink */
        }
    }
    /* Every interface is read before any is emitted: a hard read error fails the collector. */
    for (size_t i = 0; i < cl.n; i++) {
        const char *dir = agent_sysfs_join(sc, cl.base, cl.names[i]);
        /* A link in the dump is a device directory; any other entry may be a file */
        const agent_link *link = agent_rtnl_find(links, nlinks, cl.names[i]);
        if (!link && agent_sysfs_lstat_type(dir) == AGENT_FT_REG) {
            continue; /* bonding_masters */
        }
        if (st->ignored && agent_regex_match(st->ignored, cl.names[i], strlen(cl.names[i]))) {
            continue;
        }
        ifs[nif].name = cl.names[i];
        rc = parse_iface(sc, st, dir, link, &ifs[nif], err);
        if (rc == -ODIN_ERR_NOTFOUND) {
            return -ODIN_ERR_UNAVAILABLE;
        }
        if (rc < 0) {
            return rc;
        }
        nif++;
    }
    for (size_t i = 0; i < nif; i++) {
        emit_iface(sc, st, &ifs[i]);
    }
    return 0;
}

static int netclass_init(agent *ag, void **state, odin_err *err)
{
    nc_state *st = odin_calloc(1, sizeof(*st));
    const char *pat = agent_flag(ag, "collector.netclass.ignored-devices");
    if (pat && !(st->ignored = agent_regex_new(pat, false, err))) {
        free(st);
        odin_err_prefix(err, "collector.netclass.ignored-devices: ");
        return -ODIN_ERR_INVALID;
    }
    st->ignore_invalid_speed = agent_flag_bool(ag, "collector.netclass.ignore-invalid-speed");
    *state = st;
    return 0;
}

static void netclass_fini(void *state)
{
    nc_state *st = state;
    if (st) {
        agent_regex_free(st->ignored);
        for (size_t i = 0; i < st->nfixed; i++) {
            free(st->fixed[i].name);
        }
        free(st->fixed);
        listed_free(st);
        free(st);
    }
}

const agent_collector_def agent_collector_netclass = {
    .name = "netclass",
    .default_on = true,
    .flags = netclass_flags,
    .init = netclass_init,
    .collect = netclass_collect,
    .fini = netclass_fini,
};

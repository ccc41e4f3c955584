/* The scrape's rtnetlink link dump: one RTM_GETLINK request on a socket kept open across scrapes,
 * parsed once into agent_link records that netdev and netclass share. */
#include "agent/rtnl.h"
#include "agent/core.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A dump's messages come in skbs of at most 32 KiB (the kernel caps its dump allocation there);
 * a larger buffer leaves room for a kernel that raises it, and MSG_TRUNC catches one that does
 * beyond it. */
enum { RTNL_BUF = 64 << 10 };

struct agent_rtnl {
    int fd;       /* -1 until the first dump, and after a failed one */
    uint32_t seq; /* of the last request: replies to an abandoned dump are skipped */
    char *buf;    /* RTNL_BUF bytes */
    uint64_t gen; /* scrape generation of `links` */
    agent_link *links;
    size_t n, cap;
};

void agent_rtnl_free(agent_scrape *sc)
{
    struct agent_rtnl *r = sc->rtnl;
    if (!r) {
        return;
    }
    if (r->fd >= 0) {
        close(r->fd);
    }
    free(r->buf);
    free(r);
    sc->rtnl = NULL;
}

static uint32_t u32_at(const unsigned char *p, size_t len)
{
    uint32_t v = 0;
    if (len >= 4) {
        memcpy(&v, p, 4);
    }
    return v;
}

static void parse_stats(agent_link *l, const unsigned char *p, size_t len, bool wide)
{
    size_t w = wide ? 8 : 4;
    /* a short IFLA_STATS64 (an older kernel) leaves its missing counters 0, whatever came first */
    memset(l->stats, 0, sizeof(l->stats));
    for (size_t i = 0; i < AGENT_LINK_NSTATS && (i + 1) * w <= len; i++) {
        if (wide) {
            memcpy(&l->stats[i], p + i * 8, 8);
        } else {
            l->stats[i] = u32_at(p + i * 4, 4);
        }
    }
    l->have |= wide ? AGENT_LINK_STATS64 : AGENT_LINK_STATS32;
}

static const unsigned char *arena_bytes(agent_scrape *sc, const unsigned char *p, size_t n)
{
    return (const unsigned char *)agent_strdup(sc, (odin_str){(const char *)p, n});
}

/* One attribute into *l. A flat dispatch over the IFLA_* types the collectors use. */
static void parse_attr(agent_scrape *sc, agent_link *l, unsigned type, const unsigned char *d,
                       size_t dlen, bool *stats64_seen)
{
    static const struct {
        unsigned type;
        uint32_t bit;
        size_t off; /* of the uint32_t field in agent_link */
    } u32s[] = {
        {IFLA_MTU, AGENT_LINK_MTU, offsetof(agent_link, mtu)},
        {IFLA_TXQLEN, AGENT_LINK_TXQLEN, offsetof(agent_link, txqlen)},
        {IFLA_LINK, AGENT_LINK_LINK, offsetof(agent_link, link)},
        {IFLA_GROUP, AGENT_LINK_GROUP, offsetof(agent_link, group)},
        {IFLA_CARRIER_CHANGES, AGENT_LINK_CARRIER_CHANGES, offsetof(agent_link, carrier_changes)},
        {IFLA_CARRIER_UP_COUNT, AGENT_LINK_CARRIER_UP, offsetof(agent_link, carrier_up)},
        {IFLA_CARRIER_DOWN_COUNT, AGENT_LINK_CARRIER_DOWN, offsetof(agent_link, carrier_down)},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(u32s); i++) {
        if (u32s[i].type == type && dlen >= 4) {
            uint32_t v = u32_at(d, dlen);
            memcpy((char *)l + u32s[i].off, &v, sizeof(v));
            l->have |= u32s[i].bit;
            return;
        }
    }
    switch (type) {
    case IFLA_IFNAME:
        l->name = agent_strdup(sc, (odin_str){(const char *)d, strnlen((const char *)d, dlen)});
        break;
    case IFLA_IFALIAS:
        l->ifalias = agent_strdup(sc, (odin_str){(const char *)d, strnlen((const char *)d, dlen)});
        break;
    case IFLA_ADDRESS:
        l->address = arena_bytes(sc, d, dlen);
        l->address_len = dlen;
        break;
    case IFLA_BROADCAST:
        l->broadcast = arena_bytes(sc, d, dlen);
        l->broadcast_len = dlen;
        break;
    case IFLA_CARRIER:
    case IFLA_LINKMODE:
    case IFLA_OPERSTATE:
        if (dlen >= 1) {
            uint8_t *f = type == IFLA_CARRIER    ? &l->carrier
                         : type == IFLA_LINKMODE ? &l->linkmode
                                                 : &l->operstate;
            *f = d[0];
            l->have |= type == IFLA_CARRIER    ? AGENT_LINK_CARRIER
                       : type == IFLA_LINKMODE ? AGENT_LINK_LINKMODE
                                               : AGENT_LINK_OPERSTATE;
        }
        break;
    case IFLA_STATS64:
        parse_stats(l, d, dlen, true);
        *stats64_seen = true;
        break;
    case IFLA_STATS:
        if (!*stats64_seen) { /* the kernel sends both; the 64-bit one wins whatever the order */
            parse_stats(l, d, dlen, false);
        }
        break;
    default:
        break;
    }
}

bool agent_rtnl_parse_link(agent_scrape *sc, const unsigned char *p, size_t len, agent_link *out)
{
    memset(out, 0, sizeof(*out));
    struct ifinfomsg ifi;
    if (len < sizeof(ifi)) {
        return false;
    }
    memcpy(&ifi, p, sizeof(ifi));
    out->index = ifi.ifi_index;
    out->flags = ifi.ifi_flags;
    out->type = ifi.ifi_type;
    bool stats64_seen = false;
    size_t off = NLMSG_ALIGN(sizeof(ifi));
    while (off + sizeof(struct rtattr) <= len) {
        struct rtattr ra;
        memcpy(&ra, p + off, sizeof(ra));
        if (ra.rta_len < sizeof(ra) || ra.rta_len > len - off) {
            break;
        }
        parse_attr(sc, out, ra.rta_type & NLA_TYPE_MASK, p + off + RTA_LENGTH(0),
                   ra.rta_len - RTA_LENGTH(0), &stats64_seen);
        off += RTA_ALIGN(ra.rta_len);
    }
    if (stats64_seen) {
        out->have &= ~(uint32_t)AGENT_LINK_STATS32;
    }
    return out->name != NULL;
}

static int open_socket(struct agent_rtnl *r, odin_err *err)
{
    r->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (r->fd < 0) {
        return odin_err_errno(err, errno, "netlink socket");
    }
    return 0;
}

static int send_request(struct agent_rtnl *r, odin_err *err)
{
    struct {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
    } req;
    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    req.nh.nlmsg_type = RTM_GETLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = ++r->seq;
    req.ifi.ifi_family = AF_UNSPEC;
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    if (sendto(r->fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return odin_err_errno(err, errno, "netlink RTM_GETLINK");
    }
    return 0;
}

static void add_link(agent_scrape *sc, struct agent_rtnl *r, const agent_link *l)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        agent_link *v = odin_arena_alloc(&sc->arena, nc * sizeof(*v));
        if (!v) {
            odin_oom();
        }
        if (r->n) {
            memcpy(v, r->links, r->n * sizeof(*v));
        }
        r->links = v;
        r->cap = nc;
    }
    r->links[r->n++] = *l;
}

/* Walks one datagram's messages. 1 when the dump is done, 0 to read on, or a negative error. */
static int parse_datagram(agent_scrape *sc, struct agent_rtnl *r, size_t n, odin_err *err)
{
    size_t off = 0;
    while (off + sizeof(struct nlmsghdr) <= n) {
        struct nlmsghdr nh;
        memcpy(&nh, r->buf + off, sizeof(nh));
        if (nh.nlmsg_len < sizeof(nh) || nh.nlmsg_len > n - off) {
            return odin_err_set(err, ODIN_ERR_CORRUPT, "netlink: truncated message");
        }
        const unsigned char *payload = (const unsigned char *)r->buf + off + NLMSG_HDRLEN;
        size_t plen = nh.nlmsg_len - NLMSG_HDRLEN;
        off += NLMSG_ALIGN(nh.nlmsg_len);
        if (nh.nlmsg_seq != r->seq) {
            continue; /* left over from a dump abandoned after an error */
        }
        if (nh.nlmsg_type == NLMSG_DONE) {
            return 1;
        }
        if (nh.nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr ne;
            int code = EIO;
            if (plen >= sizeof(ne)) {
                memcpy(&ne, payload, sizeof(ne));
                code = ne.error < 0 ? -ne.error : EIO;
            }
            return odin_err_errno(err, code, "netlink RTM_GETLINK");
        }
        agent_link l;
        if (nh.nlmsg_type == RTM_NEWLINK && agent_rtnl_parse_link(sc, payload, plen, &l)) {
            add_link(sc, r, &l);
        }
    }
    return 0;
}

static int dump(agent_scrape *sc, struct agent_rtnl *r, odin_err *err)
{
    if (r->fd < 0 && open_socket(r, err) < 0) {
        return -ODIN_ERR_IO;
    }
    if (send_request(r, err) < 0) {
        return -ODIN_ERR_IO;
    }
    for (;;) {
        ssize_t n = recv(r->fd, r->buf, RTNL_BUF, MSG_TRUNC);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return odin_err_errno(err, errno, "netlink receive");
        }
        if (n == 0) {
            return 0; /* the kernel never closes a netlink socket; treat as the end */
        }
        if ((size_t)n > RTNL_BUF) {
            return odin_err_set(err, ODIN_ERR_LIMIT, "netlink: message of %zd bytes", n);
        }
        int rc = parse_datagram(sc, r, (size_t)n, err);
        if (rc != 0) {
            return rc < 0 ? rc : 0;
        }
    }
}

int agent_rtnl_links(agent_scrape *sc, const agent_link **links, size_t *n, odin_err *err)
{
    struct agent_rtnl *r = sc->rtnl;
    if (!r) {
        r = sc->rtnl = odin_calloc(1, sizeof(*r));
        r->fd = -1;
        r->buf = odin_malloc(RTNL_BUF);
    }
    if (r->gen != sc->generation) {
        r->links = NULL;
        r->n = r->cap = 0;
        int rc = dump(sc, r, err);
        if (rc < 0) {
            /* a fresh socket next time: the abandoned dump's replies would otherwise queue */
            if (r->fd >= 0) {
                close(r->fd);
                r->fd = -1;
            }
            return rc;
        }
        r->gen = sc->generation;
    }
    *links = r->links;
    *n = r->n;
    return 0;
}

const agent_link *agent_rtnl_find(const agent_link *links, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(links[i].name, name) == 0) {
            return &links[i];
        }
    }
    return NULL;
}

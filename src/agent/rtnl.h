/* Private to src/agent/: one rtnetlink link dump (RTM_GETLINK) per scrape, shared by the collectors
 * that describe network interfaces (netdev's counters, netclass's attributes). The kernel builds
 * every link's message in one pass, where sysfs costs one read per attribute.
 *
 * Threads: called from collectors, with the agent's scrape lock held. Memory: the links and their
 * strings live in the scrape arena until the next scrape begins. */
#ifndef ODIN_AGENT_RTNL_H
#define ODIN_AGENT_RTNL_H

#include "agent/agent_int.h"

/* Which optional attributes a link message carried (IFLA_*; older kernels lack some). */
enum {
    AGENT_LINK_MTU = 1u << 0,
    AGENT_LINK_TXQLEN = 1u << 1,
    AGENT_LINK_LINK = 1u << 2, /* IFLA_LINK: only sent when it differs from the index */
    AGENT_LINK_GROUP = 1u << 3,
    AGENT_LINK_CARRIER = 1u << 4,
    AGENT_LINK_CARRIER_CHANGES = 1u << 5,
    AGENT_LINK_CARRIER_UP = 1u << 6,
    AGENT_LINK_CARRIER_DOWN = 1u << 7,
    AGENT_LINK_LINKMODE = 1u << 8,
    AGENT_LINK_OPERSTATE = 1u << 9,
    AGENT_LINK_STATS64 = 1u << 10,
    AGENT_LINK_STATS32 = 1u << 11, /* stats[] holds the 32-bit counters, widened */
};

enum { AGENT_LINK_NSTATS = 24 }; /* struct rtnl_link_stats64 up to rx_nohandler */

/* One link as RTM_NEWLINK describes it. */
typedef struct {
    const char *name; /* IFLA_IFNAME */
    int32_t index;    /* ifi_index */
    uint32_t flags;   /* ifi_flags: dev_get_flags(), which is not sysfs' `flags` (dev->flags) */
    uint16_t type;    /* ifi_type (ARPHRD_*) */
    uint32_t have;    /* AGENT_LINK_* */
    uint32_t mtu, txqlen, link, group, carrier_changes, carrier_up, carrier_down;
    uint8_t carrier, linkmode, operstate;
    /* IFLA_ADDRESS / IFLA_BROADCAST: the kernel sends both only when addr_len > 0 */
    const unsigned char *address, *broadcast;
    size_t address_len, broadcast_len;
    const char *ifalias;               /* IFLA_IFALIAS, sent only when set; NULL otherwise */
    uint64_t stats[AGENT_LINK_NSTATS]; /* rtnl_link_stats64 order, when STATS64 or STATS32 */
} agent_link;

/* This scrape's links, in the kernel's order: dumped by the first caller in a scrape, shared by
 * the later ones. 0, or a negative code with err set (the next caller tries again). */
int agent_rtnl_links(agent_scrape *sc, const agent_link **links, size_t *n, odin_err *err);

/* The link named `name` in links, or NULL. */
const agent_link *agent_rtnl_find(const agent_link *links, size_t n, const char *name);

/* Parses one RTM_NEWLINK payload (the ifinfomsg and its attributes, `len` bytes) into *out with
 * strings in scrape memory. false when it is too short or has no name. Exposed for tests. */
bool agent_rtnl_parse_link(agent_scrape *sc, const unsigned char *p, size_t len, agent_link *out);

/* Closes the socket and frees the receive buffer (agent_scrape_fini). */
void agent_rtnl_free(agent_scrape *sc);

#endif

/* Unit tests for src/agent/rtnl.c: RTM_NEWLINK payloads built by hand (attributes present,
 * missing, truncated, both stats widths) and the live dump against if_nametoindex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include "agent/core.h"
#include "agent/rtnl.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>

/* A payload under construction: ifinfomsg, then attributes. */
typedef struct {
    unsigned char b[1024];
    size_t len;
} msg;

static void msg_init(msg *m, int index, unsigned flags, unsigned short type)
{
    memset(m, 0, sizeof(*m));
    struct ifinfomsg ifi = {
        .ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = flags, .ifi_type = type};
    memcpy(m->b, &ifi, sizeof(ifi));
    m->len = NLMSG_ALIGN(sizeof(ifi));
}

static void msg_attr(msg *m, unsigned short type, const void *data, size_t n)
{
    struct rtattr ra = {.rta_len = (unsigned short)RTA_LENGTH(n), .rta_type = type};
    memcpy(m->b + m->len, &ra, sizeof(ra));
    memcpy(m->b + m->len + RTA_LENGTH(0), data, n);
    m->len += RTA_ALIGN(ra.rta_len);
}

static void msg_u32(msg *m, unsigned short type, uint32_t v)
{
    msg_attr(m, type, &v, sizeof(v));
}

static void test_full_message(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    agent_scrape_begin(&sc);
    msg m;
    msg_init(&m, 7, 0x1003, 1);
    msg_attr(&m, IFLA_IFNAME, "eth7", 5);
    msg_u32(&m, IFLA_MTU, 9000);
    msg_u32(&m, IFLA_TXQLEN, 1000);
    msg_u32(&m, IFLA_GROUP, 0xffffffffu);
    msg_u32(&m, IFLA_CARRIER_CHANGES, 3);
    msg_u32(&m, IFLA_CARRIER_UP_COUNT, 2);
    msg_u32(&m, IFLA_CARRIER_DOWN_COUNT, 1);
    uint8_t one = 1, six = 6;
    msg_attr(&m, IFLA_CARRIER, &one, 1);
    msg_attr(&m, IFLA_OPERSTATE, &six, 1);
    const unsigned char mac[6] = {0x02, 0xfc, 0, 0, 0, 0x01};
    msg_attr(&m, IFLA_ADDRESS, mac, 6);
    msg_attr(&m, IFLA_IFALIAS, "uplink", 7);
    /* IFLA_STATS first, then IFLA_STATS64: the 64-bit counters win whatever the order */
    uint32_t s32[AGENT_LINK_NSTATS];
    uint64_t s64[AGENT_LINK_NSTATS];
    for (int i = 0; i < AGENT_LINK_NSTATS; i++) {
        s32[i] = 5;
        s64[i] = (1ull << 40) + (uint64_t)i;
    }
    msg_attr(&m, IFLA_STATS, s32, sizeof(s32));
    msg_attr(&m, IFLA_STATS64, s64, sizeof(s64));
    agent_link l;
    assert_true(agent_rtnl_parse_link(&sc, m.b, m.len, &l));
    assert_string_equal(l.name, "eth7");
    assert_int_equal(l.index, 7);
    assert_int_equal(l.flags, 0x1003);
    assert_int_equal(l.type, 1);
    assert_int_equal(l.mtu, 9000);
    assert_int_equal(l.txqlen, 1000);
    assert_int_equal(l.group, 0xffffffffu);
    assert_int_equal(l.carrier_changes, 3);
    assert_int_equal(l.carrier_up, 2);
    assert_int_equal(l.carrier_down, 1);
    assert_int_equal(l.carrier, 1);
    assert_int_equal(l.operstate, 6);
    assert_int_equal(l.address_len, 6);
    assert_memory_equal(l.address, mac, 6);
    assert_null(l.broadcast);
    assert_string_equal(l.ifalias, "uplink");
    assert_false(l.have & AGENT_LINK_LINK);
    assert_false(l.have & AGENT_LINK_LINKMODE);
    assert_true(l.have & AGENT_LINK_STATS64);
    assert_false(l.have & AGENT_LINK_STATS32);
    assert_true(l.stats[0] == (1ull << 40));
    assert_true(l.stats[23] == (1ull << 40) + 23);
    agent_scrape_fini(&sc);
}

typedef struct {
    const char *name;
    size_t cut;       /* bytes removed from the end of the payload */
    bool bad_rta_len; /* the last attribute claims more than is there */
    bool with_name;
    bool want_ok;
    uint32_t want_have; /* bits that must be set */
    uint32_t want_not;  /* bits that must be clear */
} parse_case;

static void test_partial_messages(void **state)
{
    (void)state;
    static const parse_case cases[] = {
        {"stats32 only, widened", 0, false, true, true, AGENT_LINK_STATS32 | AGENT_LINK_MTU,
         AGENT_LINK_STATS64},
        {"no name", 0, false, false, false, 0, 0},
        {"shorter than ifinfomsg", 1000, false, true, false, 0, 0},
        {"last attribute overruns the payload", 0, true, true, true, AGENT_LINK_MTU,
         AGENT_LINK_STATS32},
    };
    for (size_t c = 0; c < ODIN_ARRAY_LEN(cases); c++) {
        const parse_case *pc = &cases[c];
        agent_scrape sc;
        agent_scrape_init(&sc, NULL);
        agent_scrape_begin(&sc);
        msg m;
        msg_init(&m, 3, 0, 772);
        if (pc->with_name) {
            msg_attr(&m, IFLA_IFNAME, "lo", 3);
        }
        msg_u32(&m, IFLA_MTU, 65536);
        uint32_t s32[AGENT_LINK_NSTATS];
        for (int i = 0; i < AGENT_LINK_NSTATS; i++) {
            s32[i] = 0xfffffff0u + (uint32_t)i % 8;
        }
        size_t at = m.len;
        msg_attr(&m, IFLA_STATS, s32, sizeof(s32));
        if (pc->bad_rta_len) {
            m.len = at + RTA_LENGTH(8); /* the header still says the full length */
        }
        size_t len = pc->cut >= m.len ? 4 : m.len - pc->cut;
        agent_link l;
        bool ok = agent_rtnl_parse_link(&sc, m.b, len, &l);
        if (ok != pc->want_ok) {
            fail_msg("%s: parse returned %d", pc->name, ok);
        }
        if (ok && ((l.have & pc->want_have) != pc->want_have || (l.have & pc->want_not))) {
            fail_msg("%s: have=%#x", pc->name, l.have);
        }
        if (ok && (l.have & AGENT_LINK_STATS32) && l.stats[0] != 0xfffffff0u) {
            fail_msg("%s: stats[0]=%llu", pc->name, (unsigned long long)l.stats[0]);
        }
        agent_scrape_fini(&sc);
    }
}

static void test_live_dump_matches_kernel_names(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    /* twice per scrape (shared), over two scrapes (the kept socket) */
    for (int gen = 0; gen < 2; gen++) {
        agent_scrape_begin(&sc);
        const agent_link *a, *b;
        size_t na, nb;
        odin_err err = {0};
        assert_int_equal(agent_rtnl_links(&sc, &a, &na, &err), 0);
        assert_int_equal(agent_rtnl_links(&sc, &b, &nb, &err), 0);
        assert_ptr_equal(a, b);
        assert_int_equal(na, nb);
        assert_non_null(agent_rtnl_find(a, na, "lo"));
        assert_null(agent_rtnl_find(a, na, "no-such-link"));
        for (size_t i = 0; i < na; i++) {
            if ((int)if_nametoindex(a[i].name) != a[i].index) {
                fail_msg("%s: index %d, if_nametoindex %u", a[i].name, a[i].index,
                         if_nametoindex(a[i].name));
            }
        }
    }
    agent_scrape_fini(&sc);
}

int agent_rtnl_tests(void); /* called from main.c */

int agent_rtnl_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_message),
        cmocka_unit_test(test_partial_messages),
        cmocka_unit_test(test_live_dump_matches_kernel_names),
    };
    return cmocka_run_group_tests_name("agent_rtnl", tests, NULL, NULL);
}

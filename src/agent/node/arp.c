/* arp: node_arp_entries{device}, the number of IPv4 neighbour entries per interface, counted from
 * <procfs>/net/arp. --collector.arp.netlink is accepted; the file is read either way. */
#include "agent/proc_util.h"

#include <stdlib.h>
#include <string.h>

static const agent_flag_def arp_flags[] = {
    {"collector.arp.device-include", NULL,
     "Regexp of arp devices to include (mutually exclusive to device-exclude).", false, false},
    {"collector.arp.device-exclude", NULL,
     "Regexp of arp devices to exclude (mutually exclusive to device-include).", false, false},
    {"collector.arp.netlink", "true", "Use netlink to gather stats instead of /proc/net/arp.", true,
     false},
    {NULL, NULL, NULL, false, false},
};

static const agent_desc d_entries = {
    "node_arp_entries", "ARP entries by device", EXPFMT_GAUGE, {"device", NULL}};

/* Upstream's device filter for arp applies both patterns when both are given (no error). */
typedef struct {
    agent_regex *include;
    agent_regex *exclude;
} arp_state;

static void arp_fini(void *state)
{
    arp_state *st = state;
    if (st) {
        agent_regex_free(st->include);
        agent_regex_free(st->exclude);
        free(st);
    }
}

static int arp_init(agent *ag, void **state, odin_err *err)
{
    arp_state *st = odin_calloc(1, sizeof(*st));
    const char *inc = agent_flag(ag, "collector.arp.device-include");
    const char *exc = agent_flag(ag, "collector.arp.device-exclude");
    if (inc && *inc && !(st->include = agent_regex_new(inc, false, err))) {
        odin_err_prefix(err, "collector.arp.device-include: ");
        arp_fini(st);
        return -ODIN_ERR_INVALID;
    }
    if (exc && *exc && !(st->exclude = agent_regex_new(exc, false, err))) {
        odin_err_prefix(err, "collector.arp.device-exclude: ");
        arp_fini(st);
        return -ODIN_ERR_INVALID;
    }
    *state = st;
    return 0;
}

static bool hex2(const char *p)
{
    for (int i = 0; i < 2; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

/* Go's net.ParseMAC: 6, 8 or 20 bytes as xx:xx:.., xx-xx-.. or xxxx.xxxx.. */
static bool mac_ok(odin_str s)
{
    if (s.len < 14) {
        return false;
    }
    size_t n;
    if (s.p[2] == ':' || s.p[2] == '-') {
        if ((s.len + 1) % 3 != 0) {
            return false;
        }
        n = (s.len + 1) / 3;
        if (n != 6 && n != 8 && n != 20) {
            return false;
        }
        for (size_t i = 0, x = 0; i < n; i++, x += 3) {
            if (!hex2(s.p + x) || (i + 1 < n && s.p[x + 2] != s.p[2])) {
                return false;
            }
        }
        return true;
    }
    if (s.p[4] == '.') {
        if ((s.len + 1) % 5 != 0) {
            return false;
        }
        n = 2 * (s.len + 1) / 5;
        if (n != 6 && n != 8 && n != 20) {
            return false;
        }
        for (size_t i = 0, x = 0; i < n; i += 2, x += 5) {
            if (!hex2(s.p + x) || !hex2(s.p + x + 2) || (i + 2 < n && s.p[x + 4] != '.')) {
                return false;
            }
        }
        return true;
    }
    return false;
}

typedef struct {
    odin_str dev;
    uint32_t n;
} arp_count;

static int arp_collect(agent_scrape *sc, void *state, odin_err *err)
{
    const arp_state *st = state;
    const char *path = agent_path(sc, AGENT_PROC, "net/arp");
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        odin_err_prefix(err, "could not get ARP entries: ");
        return rc;
    }
    odin_str *lines;
    size_t nlines = proc_split(sc, text, '\n', &lines);
    arp_count *counts = odin_arena_alloc(agent_scrape_arena(sc), nlines * sizeof(*counts));
    if (!counts) {
        odin_oom();
    }
    size_t ndev = 0;
    for (size_t i = 0; i < nlines; i++) {
        odin_str *f;
        size_t n = proc_fields(sc, lines[i], &f);
        uint64_t flags;
        if (n == 0 || n == 9) { /* blank, or the header */
            continue;
        }
        if (n != 6) {
            return odin_err_set(
                err, ODIN_ERR_PARSE,
                "could not get ARP entries: %s:%zu: %zu columns found, but expected 6", path, i + 1,
                n);
        }
        if (!mac_ok(f[3]) || proc_parse_uint(f[2], 0, &flags) < 0 || flags > 255) {
            return odin_err_set(err, ODIN_ERR_PARSE,
                                "could not get ARP entries: %s:%zu: failed to parse ARP entry",
                                path, i + 1);
        }
        size_t d = 0;
        while (d < ndev && !odin_str_eq(counts[d].dev, f[5])) {
            d++;
        }
        if (d == ndev) {
            counts[ndev++] = (arp_count){f[5], 0};
        }
        counts[d].n++;
    }
    for (size_t d = 0; d < ndev; d++) {
        const char *dev = agent_strdup(sc, counts[d].dev);
        size_t len = counts[d].dev.len;
        if ((st->exclude && agent_regex_match(st->exclude, dev, len)) ||
            (st->include && !agent_regex_match(st->include, dev, len))) {
            continue;
        }
        const char *lv[1] = {dev};
        agent_emit(sc, &d_entries, (double)counts[d].n, lv);
    }
    return 0;
}

const agent_collector_def agent_collector_arp = {
    .name = "arp",
    .default_on = true,
    .flags = arp_flags,
    .init = arp_init,
    .collect = arp_collect,
    .fini = arp_fini,
};

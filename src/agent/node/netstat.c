/* netstat: node_netstat_<Protocol>_<Field> (untyped) from <procfs>/net/netstat, net/snmp and
 * net/snmp6, for the keys matching --collector.netstat.fields. */
#include "agent/proc_util.h"

#include <stdlib.h>
#include <string.h>

static const agent_flag_def netstat_flags[] = {
    {"collector.netstat.fields",
     "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|"
     "TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|"
     "Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"
     "Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$",
     "Regexp of fields to return for netstat collector.", false, false},
    {NULL, NULL, NULL, false, false},
};

/* One protocol's statistics: names[i] has the value values[i]. Upstream keeps them in maps, so a
 * later block of the same protocol replaces an earlier one and a later name wins in a block. */
typedef struct {
    odin_str proto;
    odin_str *names;
    odin_str *values;
    size_t n;
} ns_block;

typedef struct {
    ns_block *b;
    size_t n, cap;
} ns_blocks;

static ns_block *ns_add(agent_scrape *sc, ns_blocks *bs)
{
    if (bs->n == bs->cap) {
        size_t cap = bs->cap ? bs->cap * 2 : 16;
        ns_block *nb = odin_arena_alloc(agent_scrape_arena(sc), cap * sizeof(*nb));
        if (!nb) {
            odin_oom();
        }
        for (size_t i = 0; i < bs->n; i++) {
            nb[i] = bs->b[i];
        }
        bs->b = nb;
        bs->cap = cap;
    }
    ns_block *b = &bs->b[bs->n++];
    *b = (ns_block){0};
    return b;
}

/* net/netstat and net/snmp: pairs of lines "Proto: Name1 Name2 ..." / "Proto: v1 v2 ...",
 * split on single spaces. */
static int ns_parse_pairs(agent_scrape *sc, const char *path, ns_blocks *bs, odin_err *err)
{
    odin_str text, line;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        return rc;
    }
    while (proc_next_line(&text, &line)) {
        odin_str vline = {"", 0};
        proc_next_line(&text, &vline);
        odin_str *names, *values;
        size_t nn = proc_split(sc, line, ' ', &names);
        size_t nv = proc_split(sc, vline, ' ', &values);
        if (names[0].len == 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s: malformed header line", path);
        }
        odin_str proto = {names[0].p, names[0].len - 1};
        if (nn != nv) {
            return odin_err_set(err, ODIN_ERR_PARSE, "mismatch field count mismatch in %s: %.*s",
                                path, (int)proto.len, proto.p);
        }
        ns_block *b = ns_add(sc, bs);
        b->proto = proto;
        b->names = names + 1;
        b->values = values + 1;
        b->n = nn - 1;
    }
    return 0;
}

/* net/snmp6: "<Proto6><Name> <value>" per line; the protocol ends at the first '6'. */
static int ns_parse_snmp6(agent_scrape *sc, const char *path, ns_blocks *bs, odin_err *err)
{
    odin_str text, line;
    int rc = agent_read(sc, path, &text, err);
    if (rc == -ODIN_ERR_NOTFOUND) {
        odin_err_clear(err); /* IPv6 disabled */
        return 0;
    }
    if (rc < 0) {
        return rc;
    }
    size_t nlines = 0;
    for (odin_str t = text; proc_next_line(&t, &line);) {
        nlines++;
    }
    size_t first = bs->n;
    while (proc_next_line(&text, &line)) {
        odin_str *f;
        size_t n = proc_fields(sc, line, &f);
        if (n < 2) {
            continue;
        }
        size_t six = 0;
        while (six < f[0].len && f[0].p[six] != '6') {
            six++;
        }
        if (six == f[0].len) {
            continue;
        }
        odin_str proto = {f[0].p, six + 1};
        odin_str name = {f[0].p + six + 1, f[0].len - six - 1};
        ns_block *b = NULL;
        for (size_t i = first; i < bs->n; i++) {
            if (odin_str_eq(bs->b[i].proto, proto)) {
                b = &bs->b[i];
            }
        }
        if (!b) {
            b = ns_add(sc, bs);
            b->proto = proto;
            odin_arena *a = agent_scrape_arena(sc);
            b->names = odin_arena_alloc(a, nlines * sizeof(odin_str));
            b->values = odin_arena_alloc(a, nlines * sizeof(odin_str));
            if (!b->names || !b->values) {
                odin_oom();
            }
        }
        b->names[b->n] = name;
        b->values[b->n] = f[1];
        b->n++;
    }
    return 0;
}

/* Which fields of a block are exported depends only on its protocol and list of names (the
 * --collector.netstat.fields regex and the later-name-wins rule), and those lists change only
 * with the kernel; so the answer is kept per list, and a scrape compares ~400 names as one string
 * instead of matching each. */
typedef struct {
    char *key; /* the protocol, then each name, each followed by a NUL (heap) */
    size_t key_len;
    bool *export; /* per name (heap) */
} ns_shape;

enum { NS_SHAPES_MAX = 32 }; /* a handful of protocols; past this, start over */

typedef struct {
    agent_regex *re;
    ns_shape shapes[NS_SHAPES_MAX];
    size_t nshapes;
    agent_desc_cache descs; /* "<Proto>\0<Field>" -> descriptor of an exported field */
} ns_state;

static void shapes_clear(ns_state *st)
{
    for (size_t i = 0; i < st->nshapes; i++) {
        free(st->shapes[i].key);
        free(st->shapes[i].export);
    }
    st->nshapes = 0;
}

static odin_str shape_key(agent_scrape *sc, const ns_block *b)
{
    size_t len = b->proto.len + 1;
    for (size_t k = 0; k < b->n; k++) {
        len += b->names[k].len + 1;
    }
    char *p = odin_arena_alloc(agent_scrape_arena(sc), len);
    if (!p) {
        odin_oom();
    }
    size_t o = 0;
    memcpy(p, b->proto.p, b->proto.len);
    o += b->proto.len;
    p[o++] = '\0';
    for (size_t k = 0; k < b->n; k++) {
        memcpy(p + o, b->names[k].p, b->names[k].len);
        o += b->names[k].len;
        p[o++] = '\0';
    }
    return (odin_str){p, len};
}

/* The exported-field flags of b: kept from an earlier scrape, or decided now and kept. */
static const bool *shape_export(agent_scrape *sc, ns_state *st, const ns_block *b)
{
    odin_str key = shape_key(sc, b);
    for (size_t i = 0; i < st->nshapes; i++) {
        const ns_shape *sh = &st->shapes[i];
        if (sh->key_len == key.len && memcmp(sh->key, key.p, key.len) == 0) {
            return sh->export;
        }
    }
    if (st->nshapes == NS_SHAPES_MAX) {
        shapes_clear(st);
    }
    bool *ex = odin_calloc(b->n ? b->n : 1, sizeof(*ex));
    int pl = (int)b->proto.len;
    for (size_t k = 0; k < b->n; k++) {
        bool dup = false;
        for (size_t m = k + 1; m < b->n && !dup; m++) {
            dup = odin_str_eq(b->names[m], b->names[k]);
        }
        odin_str nm = b->names[k];
        /* "<Proto>_<Field>" built by hand */
        char name[256];
        size_t kl = (size_t)pl + 1 + nm.len;
        if (dup || kl >= sizeof(name)) {
            continue;
        }
        memcpy(name, b->proto.p, (size_t)pl);
        name[pl] = '_';
        memcpy(name + pl + 1, nm.p, nm.len);
        name[kl] = '\0';
        ex[k] = agent_regex_match(st->re, name, kl);
    }
    ns_shape *sh = &st->shapes[st->nshapes++];
    sh->key = odin_malloc(key.len);
    memcpy(sh->key, key.p, key.len);
    sh->key_len = key.len;
    sh->export = ex;
    return ex;
}

/* The descriptor of an exported field, made on its first sight. */
static const agent_desc *field_desc(agent_scrape *sc, ns_state *st, odin_str proto, odin_str nm)
{
    char kb[512];
    odin_str key = {kb, proto.len + 1 + nm.len};
    if (key.len > sizeof(kb)) {
        key.p = odin_arena_alloc(agent_scrape_arena(sc), key.len);
        if (!key.p) {
            odin_oom();
        }
    }
    char *k = (char *)key.p;
    memcpy(k, proto.p, proto.len);
    k[proto.len] = '\0';
    memcpy(k + proto.len + 1, nm.p, nm.len);
    const agent_desc *d = agent_desc_cache_get(&st->descs, key.p, key.len);
    if (d) {
        return d;
    }
    odin_arena *a = agent_scrape_arena(sc);
    int pl = (int)proto.len, nl = (int)nm.len;
    const char *name = odin_arena_printf(a, "node_netstat_%.*s_%.*s", pl, proto.p, nl, nm.p);
    const char *help = odin_arena_printf(a, "Statistic %.*s%.*s.", pl, proto.p, nl, nm.p);
    return agent_desc_cache_add(&st->descs, key.p, key.len, name, help, EXPFMT_UNTYPED);
}

static int netstat_init(agent *ag, void **state, odin_err *err)
{
    agent_regex *re = agent_regex_new(agent_flag(ag, "collector.netstat.fields"), false, err);
    if (!re) {
        odin_err_prefix(err, "collector.netstat.fields: ");
        return -ODIN_ERR_INVALID;
    }
    ns_state *st = odin_calloc(1, sizeof(*st));
    st->re = re;
    agent_desc_cache_init(&st->descs);
    *state = st;
    return 0;
}

static void netstat_fini(void *state)
{
    ns_state *st = state;
    if (st) {
        shapes_clear(st);
        agent_desc_cache_fini(&st->descs);
        agent_regex_free(st->re);
        free(st);
    }
}

static int netstat_collect(agent_scrape *sc, void *state, odin_err *err)
{
    ns_state *st = state;
    agent_desc_cache_begin(&st->descs);
    ns_blocks bs = {0};
    int rc = ns_parse_pairs(sc, agent_path(sc, AGENT_PROC, "net/netstat"), &bs, err);
    if (rc < 0) {
        odin_err_prefix(err, "couldn't get netstats: ");
        return rc;
    }
    rc = ns_parse_pairs(sc, agent_path(sc, AGENT_PROC, "net/snmp"), &bs, err);
    if (rc < 0) {
        odin_err_prefix(err, "couldn't get SNMP stats: ");
        return rc;
    }
    rc = ns_parse_snmp6(sc, agent_path(sc, AGENT_PROC, "net/snmp6"), &bs, err);
    if (rc < 0) {
        odin_err_prefix(err, "couldn't get SNMP6 stats: ");
        return rc;
    }
    for (size_t i = 0; i < bs.n; i++) {
        const ns_block *b = &bs.b[i];
        bool replaced = false;
        for (size_t j = i + 1; j < bs.n && !replaced; j++) {
            replaced = odin_str_eq(bs.b[j].proto, b->proto);
        }
        if (replaced) {
            continue;
        }
        const bool *export = shape_export(sc, st, b);
        int pl = (int)b->proto.len;
        for (size_t k = 0; k < b->n; k++) {
            if (!export[k]) {
                continue;
            }
            odin_str nm = b->names[k], vs = b->values[k];
            /* like node_exporter, only the exported fields are parsed as numbers */
            double v;
            if (proc_parse_float(vs, &v) < 0) {
                return odin_err_set(
                    err, ODIN_ERR_PARSE, "invalid value \"%.*s\" in netstats for %.*s%.*s",
                    (int)(vs.len > 64 ? 64 : vs.len), vs.p, pl, b->proto.p, (int)nm.len, nm.p);
            }
            agent_emit(sc, field_desc(sc, st, b->proto, nm), v, NULL);
        }
    }
    return 0;
}

const agent_collector_def agent_collector_netstat = {
    .name = "netstat",
    .default_on = true,
    .flags = netstat_flags,
    .init = netstat_init,
    .collect = netstat_collect,
    .fini = netstat_fini,
};

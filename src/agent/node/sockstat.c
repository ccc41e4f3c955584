/* sockstat: node_sockstat_<PROTO>_<state> from <procfs>/net/sockstat and net/sockstat6, plus
 * node_sockstat_sockets_used (IPv4 only) and <PROTO>_mem_bytes (pages times the page size). */
#include "agent/proc_util.h"

#include <stdlib.h>
#include <string.h>

/* Keys exported per protocol line, in procfs' NetSockstatProtocol order; "inuse" is always
 * exported (0 when absent), the others only when present. */
enum { SS_INUSE, SS_ORPHAN, SS_TW, SS_ALLOC, SS_MEM, SS_MEMORY, SS_NKEYS };
static const char *const ss_keys[SS_NKEYS] = {"inuse", "orphan", "tw", "alloc", "mem", "memory"};

typedef struct {
    odin_str proto;
    bool have[SS_NKEYS];
    int64_t v[SS_NKEYS];
} ss_proto;

typedef struct {
    bool present;   /* the file exists */
    bool have_used; /* a "sockets:" line was seen */
    int64_t used;
    ss_proto *protos;
    size_t nprotos;
} ss_file;

static int ss_parse(agent_scrape *sc, const char *path, ss_file *out, odin_err *err)
{
    odin_str text, line;
    *out = (ss_file){0};
    int rc = agent_read(sc, path, &text, err);
    if (rc == -ODIN_ERR_NOTFOUND) {
        odin_err_clear(err);
        return 0;
    }
    if (rc < 0) {
        return rc;
    }
    out->present = true;
    size_t cap = 0;
    for (odin_str t = text; proc_next_line(&t, &line);) {
        cap++;
    }
    out->protos = odin_arena_zalloc(agent_scrape_arena(sc), (cap ? cap : 1) * sizeof(ss_proto));
    if (!out->protos) {
        odin_oom();
    }
    for (int ln = 1; proc_next_line(&text, &line); ln++) {
        odin_str *f;
        size_t n = proc_split(sc, line, ' ', &f);
        if (n < 3) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: malformed sockstat line", path, ln);
        }
        if ((n - 1) % 2 != 0) {
            return odin_err_set(err, ODIN_ERR_PARSE,
                                "%s:%d: odd number of fields in key/value pairs", path, ln);
        }
        odin_str proto = f[0];
        if (proto.len > 0 && proto.p[proto.len - 1] == ':') {
            proto.len--;
        }
        bool sockets = odin_str_eq_c(proto, "sockets");
        ss_proto *p = &out->protos[out->nprotos];
        *p = (ss_proto){.proto = proto};
        bool have_used = false;
        int64_t used = 0;
        for (size_t i = 1; i + 1 < n; i += 2) {
            int64_t v;
            if (proc_parse_int(f[i + 1], 0, &v) < 0) {
                return odin_err_set(err, ODIN_ERR_PARSE, "%s:%d: invalid value \"%.*s\"", path, ln,
                                    (int)(f[i + 1].len > 64 ? 64 : f[i + 1].len), f[i + 1].p);
            }
            if (sockets) {
                if (odin_str_eq_c(f[i], "used")) {
                    have_used = true;
                    used = v;
                }
                continue;
            }
            for (int k = 0; k < SS_NKEYS; k++) {
                if (odin_str_eq_c(f[i], ss_keys[k])) {
                    p->have[k] = true;
                    p->v[k] = v;
                }
            }
        }
        if (sockets) {
            out->have_used = true;
            out->used = have_used ? used : 0;
        } else {
            p->have[SS_INUSE] = true;
            out->nprotos++;
        }
    }
    return 0;
}

/* The descriptor of node_sockstat_<proto>_<key>, made on its first sight. */
static const agent_desc *ss_desc(agent_scrape *sc, agent_desc_cache *descs, odin_str proto,
                                 const char *key)
{
    size_t kl = strlen(key), len = proto.len + 1 + kl;
    char *kb = odin_arena_alloc(agent_scrape_arena(sc), len);
    if (!kb) {
        odin_oom();
    }
    memcpy(kb, proto.p, proto.len);
    kb[proto.len] = '\0';
    memcpy(kb + proto.len + 1, key, kl);
    const agent_desc *d = agent_desc_cache_get(descs, kb, len);
    if (d) {
        return d;
    }
    odin_arena *a = agent_scrape_arena(sc);
    int pl = (int)proto.len;
    const char *name = odin_arena_printf(a, "node_sockstat_%.*s_%s", pl, proto.p, key);
    const char *help =
        odin_arena_printf(a, "Number of %.*s sockets in state %s.", pl, proto.p, key);
    return agent_desc_cache_add(descs, kb, len, name, help, EXPFMT_GAUGE);
}

static void ss_emit(agent_scrape *sc, agent_desc_cache *descs, const ss_file *s, bool ipv6,
                    int64_t page)
{
    if (!s->present) {
        return;
    }
    if (!ipv6 && s->have_used) {
        agent_emit_dyn(sc, "node_sockstat_sockets_used", "Number of IPv4 sockets in use.",
                       EXPFMT_GAUGE, (double)s->used, 0, NULL, NULL);
    }
    for (size_t i = 0; i < s->nprotos; i++) {
        const ss_proto *p = &s->protos[i];
        for (int k = 0; k <= SS_NKEYS; k++) {
            const char *key;
            int64_t v;
            if (k == SS_NKEYS) {
                if (!p->have[SS_MEM]) {
                    continue;
                }
                key = "mem_bytes";
                v = p->v[SS_MEM] * page;
            } else {
                if (!p->have[k]) {
                    continue;
                }
                key = ss_keys[k];
                v = p->v[k];
            }
            agent_emit(sc, ss_desc(sc, descs, p->proto, key), (double)v, NULL);
        }
    }
}

static int sockstat_init(agent *ag, void **state, odin_err *err)
{
    (void)ag;
    (void)err;
    agent_desc_cache *descs = odin_calloc(1, sizeof(*descs));
    agent_desc_cache_init(descs);
    *state = descs;
    return 0;
}

static void sockstat_fini(void *state)
{
    if (state) {
        agent_desc_cache_fini(state);
        free(state);
    }
}

static int sockstat_collect(agent_scrape *sc, void *state, odin_err *err)
{
    agent_desc_cache *descs = state;
    agent_desc_cache_begin(descs);
    ss_file s4, s6;
    /* A missing file means that IP version is disabled: skipped, as upstream. */
    int rc = ss_parse(sc, agent_path(sc, AGENT_PROC, "net/sockstat"), &s4, err);
    if (rc < 0) {
        odin_err_prefix(err, "failed to get IPv4 sockstat data: ");
        return rc;
    }
    rc = ss_parse(sc, agent_path(sc, AGENT_PROC, "net/sockstat6"), &s6, err);
    if (rc < 0) {
        odin_err_prefix(err, "failed to get IPv6 sockstat data: ");
        return rc;
    }
    int64_t page = proc_page_size();
    ss_emit(sc, descs, &s4, false, page);
    ss_emit(sc, descs, &s6, true, page);
    return 0;
}

const agent_collector_def agent_collector_sockstat = {
    .name = "sockstat",
    .default_on = true,
    .init = sockstat_init,
    .collect = sockstat_collect,
    .fini = sockstat_fini,
};

/* Descriptors for metrics named at run time (vmstat and netstat fields), made once per name and
 * kept by the collector: a scrape emits them through agent_emit, borrowing the kept strings,
 * instead of formatting the name and help and copying both for every sample. */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

/* One allocation per key: the entry, then the key's bytes. An exported key's descriptor is one
 * more allocation holding its name and help; most keys (vmstat's fields) are filtered out and
 * share `not_exported`. */
typedef struct agent_desc_entry {
    agent_desc *d; /* heap, or NULL for not_exported */
    size_t key_len;
    char key[];
} agent_desc_entry;

static const agent_desc not_exported = {NULL, NULL, EXPFMT_UNTYPED, {NULL}};

static const agent_desc *entry_desc(const agent_desc_entry *e)
{
    return e->d ? e->d : &not_exported;
}

/* Past this many names the cache starts over at the next begin: a kernel has a few hundred. */
enum { DESC_CACHE_MAX = 4096 };

void agent_desc_cache_init(agent_desc_cache *c)
{
    memset(c, 0, sizeof(*c));
    odin_map_init(&c->by_key);
}

static void clear_entries(agent_desc_cache *c)
{
    size_t pos = 0, kl;
    const void *k;
    void *v;
    while (odin_map_next(&c->by_key, &pos, &k, &kl, &v)) {
        agent_desc_entry *e = v;
        free(e->d);
        free(e);
    }
    odin_map_clear(&c->by_key);
    c->nseq = 0;
}

void agent_desc_cache_fini(agent_desc_cache *c)
{
    clear_entries(c);
    odin_map_fini(&c->by_key);
    free(c->seq);
    memset(c, 0, sizeof(*c));
}

void agent_desc_cache_begin(agent_desc_cache *c)
{
    /* safe here only: no family of this scrape borrows the strings yet */
    if (c->by_key.len > DESC_CACHE_MAX) {
        clear_entries(c);
    }
    c->cursor = 0;
}

static void seq_put(agent_desc_cache *c, agent_desc_entry *e)
{
    if (c->cursor == c->capseq) {
        size_t cap = c->capseq ? c->capseq * 2 : 64;
        agent_desc_entry **n = odin_calloc(cap, sizeof(*n));
        if (c->nseq) {
            memcpy(n, c->seq, c->nseq * sizeof(*n));
        }
        free(c->seq);
        c->seq = n;
        c->capseq = cap;
    }
    c->seq[c->cursor++] = e;
    if (c->cursor > c->nseq) {
        c->nseq = c->cursor;
    }
}

const agent_desc *agent_desc_cache_get(agent_desc_cache *c, const char *key, size_t key_len)
{
    /* a scrape asks for the names in the order the last one did: one comparison per name */
    if (c->cursor < c->nseq) {
        agent_desc_entry *e = c->seq[c->cursor];
        if (e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
            c->cursor++;
            return entry_desc(e);
        }
    }
    agent_desc_entry *e = odin_map_get(&c->by_key, key, key_len);
    if (!e) {
        return NULL;
    }
    seq_put(c, e);
    return entry_desc(e);
}

const agent_desc *agent_desc_cache_add(agent_desc_cache *c, const char *key, size_t key_len,
                                       const char *name, const char *help, expfmt_type type)
{
    agent_desc_entry *e = odin_malloc(sizeof(*e) + (key_len ? key_len : 1));
    e->d = NULL;
    e->key_len = key_len;
    if (key_len) {
        memcpy(e->key, key, key_len);
    }
    if (name) {
        size_t nl = strlen(name) + 1, hl = help ? strlen(help) + 1 : 1;
        e->d = odin_malloc(sizeof(*e->d) + nl + hl);
        memset(e->d, 0, sizeof(*e->d));
        char *strs = (char *)(e->d + 1);
        memcpy(strs, name, nl);
        if (help) {
            memcpy(strs + nl, help, hl);
        } else {
            strs[nl] = '\0';
        }
        e->d->name = strs;
        e->d->help = strs + nl;
        e->d->type = type;
    }
    odin_map_put(&c->by_key, e->key, key_len, e);
    seq_put(c, e);
    return entry_desc(e);
}

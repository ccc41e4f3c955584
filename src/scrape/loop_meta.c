/* Per-target metric metadata (HELP, TYPE, UNIT) as the scrape loop sees it, for /api/v1/metadata
 * and /api/v1/targets/metadata. An entry is rewritten only when its text changes, so an unchanged
 * target costs one lookup and compare per metadata line. */
#include <stdlib.h>
#include <string.h>

#include "scrape/loop_int.h"

/* Bounds what one target can make us keep: Prometheus keeps everything a target sends; a target
 * that sends a million HELP lines should not hold a million entries here. */
enum { META_MAX_FAMILIES = 20000, META_MAX_TEXT_BYTES = 4096 };

/* One family's metadata, owned by its table. help and unit are heap copies (NULL when empty). */
typedef struct {
    uint64_t seen_gen; /* worker thread only: the last pass that mentioned the family */
    expfmt_type type;
    char *help;
    size_t help_len;
    char *unit;
    size_t unit_len;
    size_t nlen;
    char name[];
} meta_entry;

void scrape_meta_init(scrape_meta_table *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    odin_map_init(&t->map);
}

static void entry_free(meta_entry *e)
{
    free(e->help);
    free(e->unit);
    free(e);
}

void scrape_meta_fini(scrape_meta_table *t)
{
    size_t pos = 0;
    const void *k;
    size_t kl;
    void *v;
    while (odin_map_next(&t->map, &pos, &k, &kl, &v)) {
        entry_free(v);
    }
    odin_map_fini(&t->map);
    pthread_mutex_destroy(&t->lock);
}

/* Replaces *dst with a heap copy of s. The table's lock is held. */
static void set_text_locked(char **dst, size_t *dlen, odin_str s)
{
    free(*dst);
    *dst = s.len > 0 ? odin_strndup(s.p, s.len) : NULL;
    *dlen = s.len;
}

static bool text_same(const char *have, size_t hlen, odin_str s)
{
    return hlen == s.len && (s.len == 0 || memcmp(have, s.p, s.len) == 0);
}

void scrape_meta_note(scrape_meta_table *t, const expfmt_entry *e, uint64_t gen)
{
    if (e->name.len == 0) {
        return;
    }
    odin_str text = e->text;
    if (text.len > META_MAX_TEXT_BYTES) {
        text.len = META_MAX_TEXT_BYTES;
    }
    meta_entry *m = odin_map_get(&t->map, e->name.p, e->name.len);
    if (m == NULL) {
        if (t->map.len >= META_MAX_FAMILIES) {
            return;
        }
        m = odin_calloc(1, sizeof *m + e->name.len);
        m->nlen = e->name.len;
        memcpy(m->name, e->name.p, e->name.len);
        m->type = EXPFMT_UNTYPED;
        pthread_mutex_lock(&t->lock);
        odin_map_put(&t->map, m->name, m->nlen, m);
        pthread_mutex_unlock(&t->lock);
    }
    m->seen_gen = gen;
    /* The worker is the only writer, so it reads without the lock and locks only to change. */
    switch (e->kind) {
    case EXPFMT_ENTRY_TYPE:
        if (m->type != e->type) {
            pthread_mutex_lock(&t->lock);
            m->type = e->type;
            pthread_mutex_unlock(&t->lock);
        }
        break;
    case EXPFMT_ENTRY_HELP:
        if (!text_same(m->help, m->help_len, text)) {
            pthread_mutex_lock(&t->lock);
            set_text_locked(&m->help, &m->help_len, text);
            pthread_mutex_unlock(&t->lock);
        }
        break;
    case EXPFMT_ENTRY_UNIT:
        if (!text_same(m->unit, m->unit_len, text)) {
            pthread_mutex_lock(&t->lock);
            set_text_locked(&m->unit, &m->unit_len, text);
            pthread_mutex_unlock(&t->lock);
        }
        break;
    default:
        break;
    }
}

void scrape_meta_sweep(scrape_meta_table *t, uint64_t gen)
{
    size_t pos = 0;
    const void *k;
    size_t kl;
    void *v;
    size_t stale = 0;
    while (odin_map_next(&t->map, &pos, &k, &kl, &v)) {
        stale += ((meta_entry *)v)->seen_gen != gen;
    }
    if (stale == 0) {
        return;
    }
    meta_entry **gone = odin_calloc(stale, sizeof *gone);
    size_t n = 0;
    pos = 0;
    while (odin_map_next(&t->map, &pos, &k, &kl, &v)) {
        if (((meta_entry *)v)->seen_gen != gen) {
            gone[n++] = v;
        }
    }
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        odin_map_del(&t->map, gone[i]->name, gone[i]->nlen);
    }
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        entry_free(gone[i]);
    }
    free(gone);
}

/* Prometheus' textparse.MetricType spelling (0.0.4 "untyped" is "unknown" there). */
static const char *type_name(expfmt_type t)
{
    switch (t) {
    case EXPFMT_COUNTER:
        return "counter";
    case EXPFMT_GAUGE:
        return "gauge";
    case EXPFMT_HISTOGRAM:
        return "histogram";
    case EXPFMT_SUMMARY:
        return "summary";
    case EXPFMT_GAUGE_HISTOGRAM:
        return "gaugehistogram";
    case EXPFMT_INFO:
        return "info";
    case EXPFMT_STATESET:
        return "stateset";
    default:
        return "unknown";
    }
}

static const char *arena_text(odin_arena *a, const char *p, size_t n)
{
    return n > 0 ? odin_arena_strndup(a, p, n) : "";
}

bool scrape_meta_collect(scrape_meta_table *t, odin_labels target, odin_arena *a,
                         scrape_metadata **v, size_t *n, size_t *cap)
{
    bool ok = true;
    pthread_mutex_lock(&t->lock);
    size_t pos = 0;
    const void *k;
    size_t kl;
    void *val;
    while (ok && odin_map_next(&t->map, &pos, &k, &kl, &val)) {
        meta_entry *m = val;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            scrape_metadata *nv = odin_arena_alloc(a, nc * sizeof *nv);
            if (nv == NULL) {
                ok = false;
                break;
            }
            if (*n > 0) {
                memcpy(nv, *v, *n * sizeof *nv);
            }
            *v = nv;
            *cap = nc;
        }
        (*v)[(*n)++] = (scrape_metadata){
            .target = target,
            .metric = odin_arena_strndup(a, m->name, m->nlen),
            .type = type_name(m->type),
            .help = arena_text(a, m->help, m->help_len),
            .unit = arena_text(a, m->unit, m->unit_len),
        };
        ok = (*v)[*n - 1].metric != NULL && (*v)[*n - 1].help != NULL && (*v)[*n - 1].unit != NULL;
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

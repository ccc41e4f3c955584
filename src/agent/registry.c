/* The per-scrape family builder: collectors add samples in any order, render() sorts families by
 * name and samples by label values (client_golang's gatherer does the same) and writes text. */
#include "agent/core.h"
#include "agent/rtnl.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    expfmt_family f; /* first member: agent_family() hands out &b->f */
    size_t cap;
    size_t it; /* position in the families map's iteration order, set by render */
} agent_family_build;

void agent_scrape_init(agent_scrape *sc, agent *ag)
{
    memset(sc, 0, sizeof(*sc));
    sc->ag = ag;
    odin_arena_init(&sc->arena, 256u << 20);
    odin_map_init(&sc->families);
    odin_map_init(&sc->files);
    odin_map_init(&sc->dirs);
    odin_map_init(&sc->absent);
    odin_strbuf_init(&sc->read_buf, 16u << 20);
}

void agent_scrape_fini(agent_scrape *sc)
{
    agent_files_close_all(sc);
    agent_absent_free_all(sc);
    agent_rtnl_free(sc);
    odin_arena_fini(&sc->arena);
    odin_map_fini(&sc->families);
    odin_map_fini(&sc->dirs);
    odin_strbuf_fini(&sc->read_buf);
    free(sc->order);
}

void agent_scrape_begin(agent_scrape *sc)
{
    sc->generation++;
    odin_arena_reset(&sc->arena);
    /* the maps' keys live in the arena just reset: clear them, keeping their tables */
    odin_map_clear(&sc->families);
    odin_map_clear(&sc->dirs);
}

agent *agent_scrape_agent(agent_scrape *sc)
{
    return sc->ag;
}

odin_arena *agent_scrape_arena(agent_scrape *sc)
{
    return &sc->arena;
}

/* Arena exhaustion is a broken cap, not bad input: 256 MiB of samples per scrape is beyond any
 * host, so it is treated like allocator failure. */
static void *scrape_alloc(agent_scrape *sc, size_t n)
{
    void *p = odin_arena_alloc(&sc->arena, n);
    if (!p) {
        odin_oom();
    }
    return p;
}

static odin_str scrape_copy(agent_scrape *sc, odin_str s)
{
    char *p = scrape_alloc(sc, s.len + 1);
    memcpy(p, s.p, s.len);
    p[s.len] = '\0';
    return (odin_str){p, s.len};
}

const char *agent_strdup(agent_scrape *sc, odin_str s)
{
    return scrape_copy(sc, s).p;
}

bool agent_family_exists(agent_scrape *sc, odin_str name)
{
    return odin_map_get(&sc->families, name.p, name.len) != NULL;
}

static expfmt_family *family_get(agent_scrape *sc, odin_str name, odin_str help, bool has_help,
                                 expfmt_type type, bool copy)
{
    agent_family_build *b = odin_map_get(&sc->families, name.p, name.len);
    if (b) {
        return &b->f;
    }
    b = scrape_alloc(sc, sizeof(*b));
    memset(b, 0, sizeof(*b));
    b->f.name = copy ? scrape_copy(sc, name) : name;
    b->f.help = copy ? scrape_copy(sc, help) : help;
    b->f.has_help = has_help;
    b->f.type = type;
    odin_map_put(&sc->families, b->f.name.p, b->f.name.len, b);
    return &b->f;
}

expfmt_family *agent_family(agent_scrape *sc, odin_str name, odin_str help, bool has_help,
                            expfmt_type type)
{
    return family_get(sc, name, help, has_help, type, true);
}

expfmt_sample *agent_family_add(agent_scrape *sc, expfmt_family *f)
{
    agent_family_build *b = (agent_family_build *)f;
    if (b->f.len == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 4;
        expfmt_sample *ns = scrape_alloc(sc, ncap * sizeof(*ns));
        if (b->f.len) {
            memcpy(ns, b->f.samples, b->f.len * sizeof(*ns));
        }
        b->f.samples = ns;
        b->cap = ncap;
    }
    expfmt_sample *s = &b->f.samples[b->f.len++];
    memset(s, 0, sizeof(*s));
    s->suffix = "";
    return s;
}

static void add_sample(agent_scrape *sc, expfmt_family *f, double value, size_t n,
                       const char *const *names, const char *const *values, bool copy_names)
{
    expfmt_sample *s = agent_family_add(sc, f);
    s->value = value;
    if (n == 0) {
        return;
    }
    odin_label *ls = scrape_alloc(sc, n * sizeof(*ls));
    for (size_t i = 0; i < n; i++) {
        odin_str nm = odin_str_c(names[i]);
        ls[i].name = copy_names ? scrape_copy(sc, nm) : nm;
        ls[i].value = scrape_copy(sc, odin_str_c(values[i] ? values[i] : ""));
    }
    odin_labels_sort(ls, n);
    s->labels = (odin_labels){ls, n};
}

/* client_golang refuses a metric whose family was already gathered with another help or type;
 * the first one stays, the newcomer is dropped. */
static bool family_consistent(const expfmt_family *f, odin_str help, expfmt_type type)
{
    return f->type == type && (!f->has_help || odin_str_eq(f->help, help));
}

void agent_emit(agent_scrape *sc, const agent_desc *d, double value, const char *const *values)
{
    /* a family's help and type are fixed once made, so the answer holds for the whole scrape */
    if (sc->emit_desc != d || sc->emit_gen != sc->generation) {
        size_t n = 0;
        while (n < ODIN_ARRAY_LEN(d->labels) && d->labels[n]) {
            n++;
        }
        odin_str help = odin_str_c(d->help);
        expfmt_family *f = family_get(sc, odin_str_c(d->name), help, true, d->type, false);
        sc->emit_desc = d;
        sc->emit_family = family_consistent(f, help, d->type) ? f : NULL;
        sc->emit_nlabels = n;
        sc->emit_gen = sc->generation;
    }
    if (sc->emit_family) {
        add_sample(sc, sc->emit_family, value, sc->emit_nlabels, d->labels, values, false);
    }
}

void agent_emit_dyn(agent_scrape *sc, const char *name, const char *help, expfmt_type type,
                    double value, size_t nlabels, const char *const *names,
                    const char *const *values)
{
    expfmt_family *f = family_get(sc, odin_str_c(name), odin_str_c(help), true, type, true);
    if (!family_consistent(f, odin_str_c(help), type)) {
        return;
    }
    add_sample(sc, f, value, nlabels, names, values, true);
}

static bool same_series(const expfmt_sample *a, const expfmt_sample *b)
{
    return odin_labels_cmp(a->labels, b->labels) == 0 && strcmp(a->suffix, b->suffix) == 0 &&
           odin_str_eq(a->extra.name, b->extra.name) && odin_str_eq(a->extra.value, b->extra.value);
}

/* A series collected twice is an error in client_golang, which keeps the first; sorting is
 * stable, so equal series are adjacent and in emission order. Histogram parts of one label set
 * (buckets, _sum, _count) differ by suffix or bucket label and all stay. */
static void drop_duplicates(expfmt_family *f)
{
    size_t w = 0;
    for (size_t r = 0; r < f->len; r++) {
        bool dup = false;
        for (size_t k = w; k > 0; k--) {
            if (odin_labels_cmp(f->samples[k - 1].labels, f->samples[r].labels) != 0) {
                break;
            }
            if (same_series(&f->samples[k - 1], &f->samples[r])) {
                dup = true;
                break;
            }
        }
        if (!dup) {
            f->samples[w++] = f->samples[r];
        }
    }
    f->len = w;
}

static int family_cmp(const void *a, const void *b)
{
    const expfmt_family *x = *(const expfmt_family *const *)a;
    const expfmt_family *y = *(const expfmt_family *const *)b;
    return odin_str_cmp(x->name, y->name);
}

/* Sorts fs (in map iteration order) by name: with the last scrape's permutation when it still
 * gives strictly ascending names (n-1 comparisons), else with qsort, keeping the new one. */
static void sort_families(agent_scrape *sc, expfmt_family **fs, size_t n)
{
    if (sc->norder == n) {
        expfmt_family **sorted = scrape_alloc(sc, n * sizeof(*sorted));
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            sorted[i] = fs[sc->order[i]];
            ok = i == 0 || family_cmp(&sorted[i - 1], &sorted[i]) < 0;
        }
        if (ok) {
            memcpy(fs, sorted, n * sizeof(*fs));
            return;
        }
    }
    qsort(fs, n, sizeof(*fs), family_cmp);
    if (sc->norder != n) {
        free(sc->order);
        sc->order = odin_calloc(n, sizeof(*sc->order));
        sc->norder = n;
    }
    for (size_t i = 0; i < n; i++) {
        sc->order[i] = ((const agent_family_build *)fs[i])->it;
    }
}

void agent_scrape_render(agent_scrape *sc, odin_strbuf *out)
{
    size_t n = sc->families.len;
    if (n == 0) {
        return;
    }
    expfmt_family **fs = scrape_alloc(sc, n * sizeof(*fs));
    size_t pos = 0, i = 0;
    const void *k;
    size_t kl;
    void *v;
    while (odin_map_next(&sc->families, &pos, &k, &kl, &v)) {
        ((agent_family_build *)v)->it = i;
        fs[i++] = v;
    }
    sort_families(sc, fs, n);
    for (i = 0; i < n; i++) {
        expfmt_sort_samples(fs[i]);
        drop_duplicates(fs[i]);
        expfmt_write_family(out, fs[i]);
    }
    agent_files_sweep(sc);
    agent_absent_sweep(sc);
}

/* The per-scrape family builder: collectors add samples in any order, render() sorts families by
 * name and samples by label values (client_golang's gatherer does the same) and writes text. */
#include "agent/core.h"
#include "agent/rtnl.h"

#include <stdlib.h>
#include <string.h>

/* A family kept across scrapes: its name (heap, also the families map's key) stays, the rest
 * (help, type, samples in the scrape arena) is set afresh by each scrape's first emission. */
typedef struct agent_family_build {
    expfmt_family f; /* first member: agent_family() hands out &b->f */
    char *name;      /* heap; f.name points here */
    size_t cap;
    size_t it;    /* position in the scrape's emission order, set by render */
    uint64_t gen; /* scrape count of the last emission */
} agent_family_build;

/* One entry of the descriptor sequence (core.h dseq). */
typedef struct agent_desc_family {
    const agent_desc *d;
    agent_family_build *b;
} agent_desc_family;

/* A family not emitted for this many scrapes is freed. */
enum { FAMILY_UNSEEN_SCRAPES = 8 };

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

static void family_free(agent_family_build *b)
{
    free(b->name);
    free(b);
}

void agent_scrape_fini(agent_scrape *sc)
{
    agent_files_close_all(sc);
    agent_absent_free_all(sc);
    agent_rtnl_free(sc);
    size_t pos = 0, kl;
    const void *k;
    void *v;
    while (odin_map_next(&sc->families, &pos, &k, &kl, &v)) {
        family_free(v);
    }
    odin_arena_fini(&sc->arena);
    odin_map_fini(&sc->families);
    odin_map_fini(&sc->dirs);
    odin_strbuf_fini(&sc->read_buf);
    free(sc->order);
    free(sc->dseq);
    free(sc->emitted);
}

void agent_scrape_begin(agent_scrape *sc)
{
    sc->generation++;
    odin_arena_reset(&sc->arena);
    /* the dirs map's keys live in the arena just reset: clear it, keeping its table */
    odin_map_clear(&sc->dirs);
    sc->nemitted = 0;
    sc->dcursor = 0;
}

void *agent_scrape_memo_get(agent_scrape *sc, const void *key)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(sc->memo_key); i++) {
        if (sc->memo_key[i] == key && sc->memo_gen[i] == sc->generation) {
            return sc->memo_val[i];
        }
    }
    return NULL;
}

void agent_scrape_memo_put(agent_scrape *sc, const void *key, void *value)
{
    size_t at = 0; /* the slot of key, else a slot of an older scrape, else the first */
    for (size_t i = 0; i < ODIN_ARRAY_LEN(sc->memo_key); i++) {
        if (sc->memo_key[i] == key) {
            at = i;
            break;
        }
        if (sc->memo_gen[i] != sc->generation) {
            at = i;
        }
    }
    sc->memo_key[at] = key;
    sc->memo_val[at] = value;
    sc->memo_gen[at] = sc->generation;
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

const char *agent_valid_utf8(agent_scrape *sc, odin_str s)
{
    if (odin_utf8_valid(s.p, s.len)) {
        return agent_strdup(sc, s);
    }
    char *out = scrape_alloc(sc, s.len * 3 + 1); /* every byte a 3-byte U+FFFD at worst */
    const unsigned char *p = (const unsigned char *)s.p;
    size_t o = 0;
    bool in_bad = false;
    for (size_t i = 0; i < s.len;) {
        size_t l = odin_utf8_len(p + i, s.len - i, NULL);
        if (l == 0) {
            if (!in_bad) {
                memcpy(out + o, "\xEF\xBF\xBD", 3);
                o += 3;
            }
            in_bad = true;
            i++;
            continue;
        }
        in_bad = false;
        memcpy(out + o, p + i, l);
        o += l;
        i += l;
    }
    out[o] = '\0';
    return out;
}

bool agent_family_exists(agent_scrape *sc, odin_str name)
{
    const agent_family_build *b = odin_map_get(&sc->families, name.p, name.len);
    return b && b->gen == sc->generation;
}

/* The scrape's first emission of b: no samples yet, help and type as this emitter says. */
static void family_start(agent_scrape *sc, agent_family_build *b, odin_str help, bool has_help,
                         expfmt_type type, bool copy)
{
    b->gen = sc->generation;
    b->f.help = copy ? scrape_copy(sc, help) : help;
    b->f.has_help = has_help;
    b->f.type = type;
    b->f.samples = NULL;
    b->f.len = 0;
    b->cap = 0;
    if (sc->nemitted == sc->capemitted) {
        size_t cap = sc->capemitted ? sc->capemitted * 2 : 256;
        agent_family_build **n = odin_calloc(cap, sizeof(*n));
        if (sc->nemitted) {
            memcpy(n, sc->emitted, sc->nemitted * sizeof(*n));
        }
        free(sc->emitted);
        sc->emitted = n;
        sc->capemitted = cap;
    }
    sc->emitted[sc->nemitted++] = b;
}

/* The kept family of that name, made when new; not started for this scrape. */
static agent_family_build *family_find(agent_scrape *sc, odin_str name)
{
    agent_family_build *b = odin_map_get(&sc->families, name.p, name.len);
    if (b) {
        return b;
    }
    b = odin_calloc(1, sizeof(*b));
    b->name = odin_strndup(name.p, name.len);
    b->f.name = (odin_str){b->name, name.len};
    odin_map_put(&sc->families, b->name, name.len, b);
    return b;
}

static expfmt_family *family_get(agent_scrape *sc, odin_str name, odin_str help, bool has_help,
                                 expfmt_type type, bool copy)
{
    agent_family_build *b = family_find(sc, name);
    if (b->gen != sc->generation) {
        family_start(sc, b, help, has_help, type, copy);
    }
    return &b->f;
}

/* Frees the families no scrape emitted lately (a textfile's metric gone, a device removed). */
static void families_sweep(agent_scrape *sc)
{
    if (sc->families.len == sc->nemitted) {
        return; /* every kept family was emitted in this scrape */
    }
    agent_family_build *stale[64];
    size_t n;
    do {
        size_t pos = 0, kl;
        const void *k;
        void *v;
        n = 0;
        while (n < ODIN_ARRAY_LEN(stale) && odin_map_next(&sc->families, &pos, &k, &kl, &v)) {
            agent_family_build *b = v;
            if (sc->generation - b->gen >= FAMILY_UNSEEN_SCRAPES) {
                stale[n++] = b;
            }
        }
        for (size_t i = 0; i < n; i++) {
            odin_map_del(&sc->families, stale[i]->name, stale[i]->f.name.len);
            family_free(stale[i]);
        }
        if (n) {
            sc->ndseq = 0; /* it may point at the freed ones */
        }
    } while (n == ODIN_ARRAY_LEN(stale));
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
                       const odin_str *names, const char *const *values, bool copy_names)
{
    expfmt_sample *s = agent_family_add(sc, f);
    s->value = value;
    if (n == 0) {
        return;
    }
    odin_label *ls = scrape_alloc(sc, n * sizeof(*ls));
    for (size_t i = 0; i < n; i++) {
        ls[i].name = copy_names ? scrape_copy(sc, names[i]) : names[i];
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

/* d's family: from the descriptor sequence when d comes where it came in the last scrape (and
 * still names that family: a descriptor made at run time may be freed and its address reused),
 * else by name, and then remembered at this place of the sequence. */
static agent_family_build *desc_family(agent_scrape *sc, const agent_desc *d)
{
    size_t at = sc->dcursor++;
    if (at < sc->ndseq && sc->dseq[at].d == d && strcmp(sc->dseq[at].b->name, d->name) == 0) {
        return sc->dseq[at].b;
    }
    agent_family_build *b = family_find(sc, odin_str_c(d->name));
    if (at >= sc->capdseq) {
        size_t cap = sc->capdseq ? sc->capdseq * 2 : 256;
        agent_desc_family *n = odin_calloc(cap, sizeof(*n));
        if (sc->ndseq) {
            memcpy(n, sc->dseq, sc->ndseq * sizeof(*n));
        }
        free(sc->dseq);
        sc->dseq = n;
        sc->capdseq = cap;
    }
    if (at > sc->ndseq) {
        at = sc->ndseq; /* the sequence has no gaps */
        sc->dcursor = at + 1;
    }
    sc->dseq[at] = (agent_desc_family){d, b};
    if (at == sc->ndseq) {
        sc->ndseq++;
    }
    return b;
}

void agent_emit(agent_scrape *sc, const agent_desc *d, double value, const char *const *values)
{
    /* a family's help and type are fixed once made, so the answer holds for the whole scrape */
    if (sc->emit_desc != d || sc->emit_gen != sc->generation) {
        size_t n = 0;
        while (n < ODIN_ARRAY_LEN(d->labels) && d->labels[n]) {
            sc->emit_lnames[n] = odin_str_c(d->labels[n]);
            n++;
        }
        odin_str help = odin_str_c(d->help);
        agent_family_build *b = desc_family(sc, d);
        if (b->gen != sc->generation) {
            family_start(sc, b, help, true, d->type, false);
        }
        sc->emit_desc = d;
        sc->emit_family = family_consistent(&b->f, help, d->type) ? &b->f : NULL;
        sc->emit_nlabels = n;
        sc->emit_gen = sc->generation;
    }
    if (sc->emit_family) {
        add_sample(sc, sc->emit_family, value, sc->emit_nlabels, sc->emit_lnames, values, false);
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
    odin_str ln[16];
    if (nlabels > ODIN_ARRAY_LEN(ln)) {
        nlabels = ODIN_ARRAY_LEN(ln); /* agent_desc's limit too; no collector comes near it */
    }
    for (size_t i = 0; i < nlabels; i++) {
        ln[i] = odin_str_c(names[i]);
    }
    add_sample(sc, f, value, nlabels, ln, values, true);
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

/* Sorts fs (in emission order) by name: with the last scrape's permutation when it still
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
    size_t n = sc->nemitted;
    if (n == 0) {
        families_sweep(sc);
        return;
    }
    expfmt_family **fs = scrape_alloc(sc, n * sizeof(*fs));
    size_t i;
    for (i = 0; i < n; i++) {
        sc->emitted[i]->it = i;
        fs[i] = &sc->emitted[i]->f;
    }
    sort_families(sc, fs, n);
    for (i = 0; i < n; i++) {
        expfmt_sort_samples(fs[i]);
        drop_duplicates(fs[i]);
        expfmt_write_family(out, fs[i]);
    }
    families_sweep(sc);
    agent_files_sweep(sc);
    agent_absent_sweep(sc);
}

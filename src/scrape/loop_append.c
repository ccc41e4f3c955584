/* Appending one scrape: parse the body, map each line to a tsdb series through the per-target
 * cache (keyed by the line's series text), apply honor_labels, metric relabeling and the
 * label limits on cache misses only, write stale markers for series that went away, and add the
 * report series (up, scrape_duration_seconds, ...) as Prometheus' scrapeLoop.append/report do. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt/expfmt.h"
#include "scrape/loop_int.h"

static const char *const report_names[5] = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
};

void scrape_cache_init(scrape_cache *c)
{
    memset(c, 0, sizeof *c);
}

struct scrape_series_block {
    scrape_series_block *next;
    size_t used, cap;
    unsigned char data[]; /* entries, each at a multiple of 4 */
};

/* Blocks double from the first (a target of a few series holds little) to the last size. */
enum { SERIES_BLOCK_FIRST = 1024, SERIES_BLOCK_MAX = 32 * 1024 };

static size_t entry_size(size_t rlen)
{
    return (offsetof(scrape_series, text) + rlen + 3) & ~(size_t)3;
}

static scrape_series_block *block_new(scrape_cache *c, size_t cap)
{
    scrape_series_block *b = odin_malloc(offsetof(scrape_series_block, data) + cap);
    b->next = c->blocks;
    b->used = 0;
    b->cap = cap;
    c->blocks = b;
    return b;
}

/* Room for an entry of `size` bytes (entry_size) at the end of the newest block, or of a new one. */
static scrape_series *entry_alloc(scrape_cache *c, size_t size)
{
    scrape_series_block *b = c->blocks;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = b == NULL ? SERIES_BLOCK_FIRST : 2 * b->cap;
        cap = cap < SERIES_BLOCK_MAX ? cap : SERIES_BLOCK_MAX;
        b = block_new(c, size > cap ? size : cap);
    }
    scrape_series *s = (scrape_series *)(void *)(b->data + b->used);
    b->used += size;
    return s;
}

size_t scrape_cache_bytes(const scrape_cache *c)
{
    size_t n = 0;
    for (const scrape_series_block *b = c->blocks; b != NULL; b = b->next) {
        n += b->cap;
    }
    return n;
}

static void blocks_free(scrape_series_block *b)
{
    while (b != NULL) {
        scrape_series_block *next = b->next;
        free(b);
        b = next;
    }
}

/* The table key: the text's hash with the format folded in, as identical text may parse
 * differently in the two formats. */
static uint32_t text_hash(const char *text, size_t len, bool om)
{
    uint64_t h = odin_hash(text, len) ^ (om ? 0x9E3779B97F4A7C15ULL : 0);
    return (uint32_t)(h ^ (h >> 32));
}

scrape_series *scrape_cache_get(const scrape_cache *c, const char *text, size_t len, bool om)
{
    if (c->table_len == 0) {
        return NULL;
    }
    uint32_t h = text_hash(text, len, om), mask = c->table_cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        scrape_series *s = c->table[i];
        if (s == NULL) {
            return NULL;
        }
        if (s->hash == h && s->rlen == len && s->raw_om == om && memcmp(s->text, text, len) == 0) {
            return s;
        }
    }
}

static void table_place(scrape_series **table, uint32_t cap, scrape_series *s)
{
    uint32_t i = s->hash & (cap - 1);
    while (table[i] != NULL) {
        i = (i + 1) & (cap - 1);
    }
    table[i] = s;
}

/* A table of cap slots holding the n entries of v (cap a power of two over n * 4 / 3). */
static void table_rebuild(scrape_cache *c, uint32_t cap, scrape_series **v, size_t n)
{
    scrape_series **t = odin_calloc(cap, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        table_place(t, cap, v[i]);
    }
    free(c->table);
    c->table = t;
    c->table_cap = cap;
    c->table_len = (uint32_t)n;
}

/* The smallest power of two (at least 64) that keeps n entries at most 3/4 of the slots. */
static uint32_t table_cap_for(size_t n)
{
    uint32_t cap = 64;
    while ((uint64_t)n * 4 > (uint64_t)cap * 3) {
        cap *= 2;
    }
    return cap;
}

/* Every entry, in table order, into a new array (*n of them). */
static scrape_series **table_entries(const scrape_cache *c, size_t *n)
{
    scrape_series **v = odin_malloc((c->table_len + 1) * sizeof *v);
    size_t k = 0;
    for (uint32_t i = 0; i < c->table_cap; i++) {
        if (c->table[i] != NULL) {
            v[k++] = c->table[i];
        }
    }
    *n = k;
    return v;
}

static void cache_add(scrape_cache *c, scrape_series *s)
{
    if ((uint64_t)(c->table_len + 1) * 4 > (uint64_t)c->table_cap * 3) {
        size_t n;
        scrape_series **v = table_entries(c, &n);
        table_rebuild(c, table_cap_for(n + 1), v, n);
        free(v);
    }
    table_place(c->table, c->table_cap, s);
    c->table_len++;
}

void scrape_cache_fini(scrape_cache *c)
{
    blocks_free(c->blocks);
    free(c->table);
    free(c->order);
    memset(c, 0, sizeof *c);
}

static void push(scrape_series ***v, size_t *n, size_t *cap, scrape_series *s)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = odin_realloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = s;
}

/* ---- Label handling on a cache miss ---------------------------------------------------------- */

typedef struct {
    odin_label *v;
    size_t len, cap;
    odin_arena *a;
} lset;

static void ls_add(lset *s, odin_str name, odin_str value)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        odin_label *v = odin_arena_alloc(s->a, cap * sizeof *v);
        if (v == NULL) {
            odin_oom();
        }
        if (s->len > 0) {
            memcpy(v, s->v, s->len * sizeof *v);
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->len++] = (odin_label){name, value};
}

static odin_label *ls_find(lset *s, odin_str name)
{
    for (size_t i = 0; i < s->len; i++) {
        if (odin_str_eq(s->v[i].name, name)) {
            return &s->v[i];
        }
    }
    return NULL;
}

/* honor_labels false: a scraped label that collides with a target label is kept as
 * exported_<name> (exported_exported_<name> if that is taken too), and the target's value wins. */
static void merge_target_labels(lset *s, odin_labels pub, bool honor)
{
    for (size_t i = 0; i < pub.len; i++) {
        odin_label *have = ls_find(s, pub.v[i].name);
        if (have != NULL && have->value.len > 0 && honor) {
            continue;
        }
        if (have != NULL && have->value.len > 0) {
            odin_str name = pub.v[i].name;
            char *ex;
            do {
                ex = odin_arena_printf(s->a, "exported_%.*s", (int)name.len, name.p);
                name = odin_str_c(ex);
            } while (ls_find(s, name) != NULL && ls_find(s, name)->value.len > 0);
            ls_add(s, name, have->value);
            have = ls_find(s, pub.v[i].name);
            have->value = pub.v[i].value;
            continue;
        }
        if (have != NULL) {
            have->value = pub.v[i].value;
        } else {
            ls_add(s, pub.v[i].name, pub.v[i].value);
        }
    }
}

static const char *check_limits(const scrape_job *job, odin_labels ls, odin_arena *a)
{
    const odin_str *mn = odin_labels_get(ls, "__name__");
    odin_str met = mn != NULL ? *mn : (odin_str){"", 0};
    int ml = (int)(met.len > 50 ? 50 : met.len);
    if (job->label_limit > 0 && ls.len > job->label_limit) {
        return odin_arena_printf(a,
                                 "label_limit exceeded (metric: %.*s, number of labels: %zu, "
                                 "limit: %llu)",
                                 ml, met.p, ls.len, (unsigned long long)job->label_limit);
    }
    for (size_t i = 0; i < ls.len; i++) {
        odin_str n = ls.v[i].name, v = ls.v[i].value;
        int nl = (int)(n.len > 50 ? 50 : n.len);
        if (job->label_name_length_limit > 0 && n.len > job->label_name_length_limit) {
            return odin_arena_printf(a,
                                     "label_name_length_limit exceeded (metric: %.*s, label name: "
                                     "%.*s, length: %zu, limit: %llu)",
                                     ml, met.p, nl, n.p, n.len,
                                     (unsigned long long)job->label_name_length_limit);
        }
        if (job->label_value_length_limit > 0 && v.len > job->label_value_length_limit) {
            return odin_arena_printf(a,
                                     "label_value_length_limit exceeded (metric: %.*s, label name: "
                                     "%.*s, value: \"%.*s\", length: %zu, limit: %llu)",
                                     ml, met.p, nl, n.p, (int)(v.len > 50 ? 50 : v.len), v.p, v.len,
                                     (unsigned long long)job->label_value_length_limit);
        }
    }
    return NULL;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    return s != NULL ? odin_hash_stable(s, strlen(s) + 1, h) : odin_hash_stable("", 0, h ^ 1);
}

/* A fingerprint of the settings a job's cached series depend on: honor_labels, the label limits
 * and every metric_relabel_configs rule (what Prometheus compares to decide whether a scrape
 * cache survives a reload). Never 0. */
static uint64_t series_settings_key(const scrape_job *job)
{
    uint64_t v[] = {job->honor_labels, job->label_limit, job->label_name_length_limit,
                    job->label_value_length_limit, job->nmetric_relabel};
    uint64_t h = odin_hash_stable(v, sizeof v, 0x736572696573);
    for (size_t i = 0; i < job->nmetric_relabel; i++) {
        const relabel_config *r = &job->metric_relabel[i];
        for (size_t k = 0; k < r->nsource_labels; k++) {
            h = hash_str(h, r->source_labels[k]);
        }
        uint64_t f[] = {r->nsource_labels, r->modulus, (uint64_t)r->action, r->legacy_validation};
        h = odin_hash_stable(f, sizeof f, h);
        h = hash_str(hash_str(hash_str(hash_str(h, r->separator), r->regex_text), r->target_label),
                     r->replacement);
    }
    return h | 1;
}

/* The final labels of a sample line (its own, the target's, metric relabeling), in the arena:
 * false when relabeling drops the series or a label limit is hit (*msg set then). */
static bool final_labels(scrape_loop *l, const scrape_job *job, const expfmt_entry *e,
                         odin_labels *out, const char **msg)
{
    odin_arena *a = &l->arena;
    lset s = {.a = a};
    if (e->name.len > 0) {
        ls_add(&s, ODIN_STR("__name__"), e->name);
    }
    for (size_t i = 0; i < e->nlabels; i++) {
        ls_add(&s, e->labels[i].name, e->labels[i].value);
    }
    merge_target_labels(&s, l->pub, job->honor_labels);
    size_t w = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.v[i].value.len > 0) {
            s.v[w++] = s.v[i];
        }
    }
    odin_labels_sort(s.v, w);
    odin_labels ls = {s.v, w};
    bool keep = ls.len > 0;
    if (keep && job->nmetric_relabel > 0) {
        keep = relabel_process(job->metric_relabel, job->nmetric_relabel, ls, a, &ls);
        keep = keep && ls.len > 0;
    }
    if (keep) {
        *msg = check_limits(job, ls, a);
        if (*msg != NULL) {
            l->faults.label_limit = true;
            return false;
        }
    }
    *out = keep ? ls : (odin_labels){NULL, 0};
    return keep;
}

/* Creates the cache entry for a line seen for the first time, *ls its labels (in the arena, for
 * this pass' append: the entry keeps only its tsdb ref). *msg is set on a limit error. */
static scrape_series *series_new(scrape_loop *l, const scrape_job *job, const expfmt_entry *e,
                                 bool om, odin_labels *ls, const char **msg)
{
    bool keep = final_labels(l, job, e, ls, msg);
    if (!keep && *msg != NULL) {
        return NULL;
    }
    if (e->series.len > UINT32_MAX) {
        *msg = "series text too long";
        return NULL;
    }
    scrape_series *se = entry_alloc(&l->cache, entry_size(e->series.len));
    memset(se, 0, offsetof(scrape_series, text));
    se->hash = text_hash(e->series.p, e->series.len, om);
    se->rlen = (uint32_t)e->series.len;
    se->nlen = (uint32_t)e->name.len;
    se->raw_om = om;
    memcpy(se->text, e->series.p, e->series.len);
    se->dropped = !keep;
    se->epoch = l->cfg_epoch;
    return se;
}

/* The final labels of the current line, its labels parsed first if the cache matched it
 * without: 1 with *ls, 0 when relabeling drops it, -1 with *msg on a parse or limit error. */
static int line_labels(scrape_loop *l, const scrape_job *job, expfmt_parser *p, expfmt_entry *e,
                       odin_labels *ls, const char **msg, odin_err *perr)
{
    if (expfmt_parser_labels(p, e, perr) < 0) {
        *msg = odin_arena_strdup(&l->arena, perr->msg);
        return -1;
    }
    bool keep = final_labels(l, job, e, ls, msg);
    return keep ? 1 : *msg != NULL ? -1 : 0;
}

/* An entry made under an earlier configuration whose series settings differ (metric relabeling,
 * honor_labels, label limits): its labels are worked out again from this line, and its ref
 * looked up again by them, as Prometheus starts a new scrape cache when such settings change. */
static int series_refresh(scrape_loop *l, const scrape_job *job, expfmt_parser *p, expfmt_entry *e,
                          scrape_series *se, odin_labels *ls, const char **msg, odin_err *perr)
{
    int rc = line_labels(l, job, p, e, ls, msg, perr);
    if (rc < 0) {
        return -1;
    }
    se->dropped = rc == 0;
    se->epoch = l->cfg_epoch;
    se->ref = 0;
    return 0;
}

/* The entry for sample line `pos`: last pass's entry at the same position when the line's
 * series text is the one that entry was created from, else the table's for that text; neither
 * needs the labels parsed (identical text parses identically, and an entry only ever comes from
 * text that parsed). Only a line new to the cache gets its labels parsed. Returns 1 with *out set
 * (NULL for a new series), or the parser's error for the line's labels. */
static int cache_lookup(scrape_cache *c, size_t pos, expfmt_parser *p, expfmt_entry *e, bool om,
                        scrape_series **out, odin_err *err)
{
    if (pos + 8 < c->norder) {
        /* the entry and the start of its text */
        const char *ahead = (const char *)c->order[pos + 8];
        __builtin_prefetch(ahead);
        __builtin_prefetch(ahead + 64);
    }
    scrape_series *s = pos < c->norder ? c->order[pos] : NULL;
    if (s != NULL && e->series_expected) {
        *out = s; /* the parser matched the line against this entry's text (expect_in_place) */
        return 1;
    }
    if (s != NULL && s->rlen == e->series.len && s->raw_om == om &&
        memcmp(s->text, e->series.p, s->rlen) == 0) {
        *out = s;
        return 1;
    }
    *out = scrape_cache_get(c, e->series.p, e->series.len, om);
    if (*out != NULL) {
        return 1;
    }
    int rc = expfmt_parser_labels(p, e, err);
    return rc < 0 ? rc : 1;
}

/* ---- Passes ------------------------------------------------------------------------------------
 */

/* tsdb_append through the entry's 32-bit ref. */
static int append_entry(tsdb_appender *app, scrape_series *s, odin_labels ls, int64_t t, double v,
                        odin_err *err)
{
    uint64_t ref = s->ref;
    int rc = tsdb_append(app, &ref, ls, t, v, err);
    s->ref = ref <= UINT32_MAX ? (uint32_t)ref : 0;
    return rc;
}

/* By ref alone: a series the head has dropped (no samples left in it) gets no marker, as
 * none of its samples is recent enough for one to hide. */
static void append_stale(tsdb_appender *app, scrape_series *s, int64_t ts)
{
    if (s->dropped || s->ref == 0) {
        return;
    }
    odin_err err;
    odin_err_clear(&err);
    /* An out-of-order marker (the series moved on) is expected and harmless. */
    (void)append_entry(app, s, (odin_labels){NULL, 0}, ts, tsdb_stale_nan(), &err);
}

/* Marks the series of the last good pass that the pass under way has not seen, `seen` of them
 * having been seen, by a walk over the table (only when some went: the order no longer holds
 * that pass's entries); each once (its seen_gen leaves prev_gen: a value no later pass gives,
 * save after 2^32 passes). */
static void mark_gone(scrape_cache *c, tsdb_appender *app, size_t seen, int64_t ts)
{
    for (uint32_t i = 0; seen < c->nprev && i < c->table_cap; i++) {
        scrape_series *s = c->table[i];
        if (s != NULL && s->seen_gen == c->prev_gen) {
            append_stale(app, s, ts);
            s->seen_gen = c->prev_gen - 1;
            seen++;
        }
    }
}

/* The pass for an empty or failed scrape: everything the last good pass saw goes stale. */
static void pass_empty(scrape_cache *c, tsdb_appender *app, int64_t ts)
{
    c->gen++;
    mark_gone(c, app, 0, ts);
    c->nprev = 0;
    c->prev_gen = c->gen; /* seen by no entry */
}

/* After a failed pass: the entries it saw get back what they had, so that the empty pass that
 * follows marks exactly the last good pass's series. */
static void unsee_pass(scrape_cache *c, uint32_t gen)
{
    for (size_t i = 0; i < c->npos; i++) {
        scrape_series *s = c->order[i];
        if (s->seen_gen == gen) {
            s->seen_gen = s->was_prev ? c->prev_gen : c->prev_gen - 1;
        }
    }
}

/* After a rolled-back pass, refs obtained during it may name nothing. */
static void forget_pass_refs(scrape_cache *c, uint32_t gen)
{
    for (uint32_t i = 0; i < c->table_cap; i++) {
        scrape_series *s = c->table[i];
        if (s != NULL && s->born_gen == gen) {
            s->ref = 0;
        }
    }
}

/* Drops entries the last pass did not see once they outnumber the live ones, so a target whose
 * series churn does not grow its cache without bound (Prometheus flushes its cache likewise).
 * After a good pass (gen): the survivors are exactly the entries of its order, which are copied
 * in that order into one new block; each old entry then holds its copy's address, which later
 * occurrences of it in the order (a series sent twice) take. */
static void evict(scrape_cache *c, size_t used)
{
    if (c->table_len <= 2 * used + 64) {
        return;
    }
    size_t bytes = 0, kept = 0;
    for (uint32_t i = 0; i < c->table_cap; i++) {
        scrape_series *s = c->table[i];
        if (s != NULL && s->used_gen == c->gen) {
            bytes += entry_size(s->rlen);
            kept++;
        }
    }
    scrape_series_block *old = c->blocks;
    c->blocks = NULL;
    scrape_series_block *nb = block_new(c, bytes > 0 ? bytes : SERIES_BLOCK_FIRST);
    scrape_series **v = odin_malloc((kept + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < c->norder; i++) {
        scrape_series *s = c->order[i], *ns;
        if (s->used_gen == c->gen) {
            size_t size = entry_size(s->rlen);
            ns = (scrape_series *)(void *)(nb->data + nb->used);
            nb->used += size;
            memcpy(ns, s, size);
            uintptr_t to = (uintptr_t)ns; /* over its ref and hash, which the copy keeps */
            memcpy(s, &to, sizeof to);
            s->used_gen = c->gen - 1;  /* moved */
            v[n++] = ns;
        } else {
            uintptr_t to;
            memcpy(&to, s, sizeof to);
            ns = (scrape_series *)to;
        }
        c->order[i] = ns;
    }
    blocks_free(old);
    table_rebuild(c, table_cap_for(n), v, n); /* smaller again after churn */
    free(v);
}

typedef struct {
    scrape_append_stats st;
    size_t used;
    const char *err;
} pass_result;

/* Hands the parser the series text of the entry at the next sample line's position, so that a
 * line repeating it is matched with one comparison instead of being scanned (0.0.4 only, and
 * only text that was parsed in that format). */
static void expect_in_place(scrape_cache *c, expfmt_parser *p, bool om)
{
    if (om || c->npos >= c->norder) {
        return;
    }
    const scrape_series *s = c->order[c->npos];
    if (!s->raw_om) {
        expfmt_parser_expect(p, s->text, s->rlen, s->nlen);
    }
}

static void count_refused(scrape_faults *f, const odin_err *err)
{
    switch (tsdb_reject_kind(err)) {
    case TSDB_REJECT_OUT_OF_ORDER:
        f->out_of_order++;
        break;
    case TSDB_REJECT_DUPLICATE:
        f->duplicate++;
        break;
    case TSDB_REJECT_OUT_OF_BOUNDS:
        f->out_of_bounds++;
        break;
    case TSDB_REJECT_NONE:
        break;
    }
}

/* One pass over a body. Returns 0, or -1 with r->err set (the caller rolls back). */
static int pass_body(scrape_loop *l, tsdb_appender *app, const scrape_job *job,
                     const scrape_fetch *f, int64_t ts, pass_result *r)
{
    scrape_cache *c = &l->cache;
    uint32_t gen = ++c->gen;
    c->ncur = 0;
    c->npos = 0;
    /* Without a usable Content-Type, fallback_scrape_protocol decides (Prometheus 3). */
    bool om = f->content_type != NULL && expfmt_is_openmetrics(f->content_type);
    if ((f->content_type == NULL || f->content_type[0] == '\0') &&
        job->fallback_scrape_protocol != NULL) {
        om = strncmp(job->fallback_scrape_protocol, "OpenMetrics", 11) == 0;
    }
    expfmt_parser_opts po = {.openmetrics = om, .lazy_labels = true};
    /* The loop keeps its parser, so a warm loop does not allocate one per scrape. */
    if (l->parser == NULL) {
        l->parser = expfmt_parser_new(f->body, f->len, &po);
    } else {
        expfmt_parser_reset(l->parser, f->body, f->len, &po);
    }
    expfmt_parser *p = l->parser;
    expfmt_entry e;
    odin_err perr;
    odin_err_clear(&perr);
    bool over_limit = false;
    /* series of the last good pass this pass saw again: when that is all of them, nothing goes
     * stale and the walk over its order (a cache miss per entry) is skipped */
    size_t prev_seen = 0;
    for (;;) {
        expect_in_place(c, p, om);
        int rc = expfmt_parser_next(p, &e, &perr);
        if (rc < 0) {
            r->err = r->err != NULL ? r->err : odin_arena_strdup(&l->arena, perr.msg);
        }
        if (rc != 1) {
            break;
        }
        if (e.kind != EXPFMT_ENTRY_SAMPLE) {
            scrape_meta_note(&l->meta, &e, gen);
            continue;
        }
        if (over_limit || r->err != NULL) {
            /* the rest is not appended but still parsed in full, so a bad line fails the scrape */
            if (expfmt_parser_labels(p, &e, &perr) < 0) {
                r->err = r->err != NULL ? r->err : odin_arena_strdup(&l->arena, perr.msg);
                break;
            }
            r->st.scraped++;
            continue;
        }
        if (c->npos + 4 < c->norder) {
            /* its entry was prefetched four lines ago; now warm its tsdb series */
            tsdb_appender_prefetch(app, c->order[c->npos + 4]->ref);
        }
        scrape_series *s;
        if (cache_lookup(c, c->npos, p, &e, om, &s, &perr) < 0) {
            r->err = odin_arena_strdup(&l->arena, perr.msg);
            break;
        }
        r->st.scraped++;
        odin_labels ls = {NULL, 0}; /* a cached series is appended by its ref alone */
        if (s != NULL && s->epoch != l->cfg_epoch) {
            if (series_refresh(l, job, p, &e, s, &ls, &r->err, &perr) < 0) {
                continue;
            }
            s->born_gen = gen; /* its new ref goes too if the pass is rolled back */
        }
        if (s == NULL) {
            s = series_new(l, job, &e, om, &ls, &r->err);
            if (s == NULL) {
                continue;
            }
            s->born_gen = gen;
            cache_add(c, s);
            if (!s->dropped) {
                r->st.series_added++;
            }
        }
        if (s->used_gen != gen) {
            s->used_gen = gen;
            r->used++;
        }
        push(&c->order, &c->npos, &c->order_cap, s); /* over the last pass's line */
        if (s->dropped) {
            continue;
        }
        r->st.added++;
        if (job->sample_limit > 0 && r->st.added > job->sample_limit) {
            over_limit = true;
            l->faults.sample_limit = true;
            continue;
        }
        bool explicit_t = job->honor_timestamps && e.has_t;
        int64_t t = explicit_t ? e.t_ms : ts;
        odin_err aerr;
        odin_err_clear(&aerr);
        /* Out-of-order and duplicate samples are dropped one by one, as in Prometheus. */
        int arc = append_entry(app, s, ls, t, e.value, &aerr);
        if (arc < 0 && aerr.code != ODIN_ERR_CONFLICT && ls.len == 0) {
            /* no ref, or the head dropped the series: its labels again, from this line */
            if (line_labels(l, job, p, &e, &ls, &r->err, &perr) <= 0) {
                continue;
            }
            odin_err_clear(&aerr);
            arc = append_entry(app, s, ls, t, e.value, &aerr);
        }
        if (arc < 0) {
            count_refused(&l->faults, &aerr);
        }
        if ((!explicit_t || job->track_timestamps_staleness) && s->seen_gen != gen) {
            s->was_prev = s->seen_gen == c->prev_gen;
            prev_seen += s->was_prev;
            s->seen_gen = gen;
            c->ncur++;
        }
    }
    if (over_limit && r->err == NULL) {
        r->err = "sample limit exceeded";
    }
    if (r->err != NULL) {
        forget_pass_refs(c, gen);
        unsee_pass(c, gen);
        c->norder = c->npos > c->norder ? c->npos : c->norder;
        c->npos = 0;
        return -1;
    }
    scrape_meta_sweep(&l->meta, gen);
    mark_gone(c, app, prev_seen, ts);
    /* eviction (after a good pass) frees exactly the entries this pass did not use, none of
     * which is in the order from here on */
    c->norder = c->npos;
    c->npos = 0;
    c->nprev = c->ncur;
    c->ncur = 0;
    c->prev_gen = gen;
    return 0;
}

/* The report series carry the target's labels and nothing from the scrape. */
static void append_report(scrape_loop *l, tsdb_appender *app, int64_t ts, const double vals[5])
{
    odin_label *v = odin_arena_alloc(&l->arena, (l->pub.len + 1) * sizeof *v);
    if (v == NULL) {
        odin_oom();
    }
    for (size_t i = 0; i < 5; i++) {
        size_t n = 0;
        bool placed = false;
        for (size_t j = 0; j < l->pub.len; j++) {
            if (!placed && odin_str_cmp(ODIN_STR("__name__"), l->pub.v[j].name) < 0) {
                v[n++] = (odin_label){ODIN_STR("__name__"), odin_str_c(report_names[i])};
                placed = true;
            }
            v[n++] = l->pub.v[j];
        }
        if (!placed) {
            v[n++] = (odin_label){ODIN_STR("__name__"), odin_str_c(report_names[i])};
        }
        odin_err err;
        odin_err_clear(&err);
        (void)tsdb_append(app, &l->cache.report_refs[i], (odin_labels){v, n}, ts, vals[i], &err);
    }
}

const char *scrape_loop_append(scrape_loop *l, tsdb *db, const scrape_job *job,
                               const scrape_fetch *f, int64_t ts, int64_t start_mono_ns,
                               double *duration_s)
{
    tsdb_appender *app = tsdb_appender_new(db);
    /* targets repeat themselves: room for the last pass' sample lines and the report series at
     * once, rather than doubling the buffer five times in a 2000-sample scrape */
    tsdb_appender_reserve(app, l->cache.norder + 5);
    pass_result r;
    memset(&r, 0, sizeof r);
    memset(&l->faults, 0, sizeof l->faults);
    uint64_t key = series_settings_key(job);
    if (key != l->cache_key) {
        l->cache_key = key;
        l->cfg_epoch++;
    }
    const char *err = f->err;
    if (f->ok) {
        if (pass_body(l, app, job, f, ts, &r) < 0) {
            tsdb_appender_rollback(app);
            app = tsdb_appender_new(db);
            pass_empty(&l->cache, app, ts);
            err = r.err;
        } else {
            evict(&l->cache, r.used);
        }
    } else {
        pass_empty(&l->cache, app, ts);
    }
    double dur = (double)(odin_mono_ns() - start_mono_ns) / 1e9;
    double vals[5] = {err == NULL ? 1 : 0, dur, (double)r.st.scraped, (double)r.st.added,
                      (double)r.st.series_added};
    append_report(l, app, ts, vals);
    odin_err cerr;
    odin_err_clear(&cerr);
    if (tsdb_appender_commit(app, &cerr) < 0) {
        odin_log(ODIN_LOG_WARN, "scrape", "Scrape commit failed", "target", l->url, "err", cerr.msg,
                 NULL);
    }
    *duration_s = dur;
    return err;
}

void scrape_loop_write_stale(scrape_loop *l, tsdb *db, int64_t ts)
{
    tsdb_appender *app = tsdb_appender_new(db);
    pass_empty(&l->cache, app, ts);
    double stale = tsdb_stale_nan();
    double vals[5] = {stale, stale, stale, stale, stale};
    append_report(l, app, ts, vals);
    odin_err err;
    odin_err_clear(&err);
    if (tsdb_appender_commit(app, &err) < 0) {
        odin_log(ODIN_LOG_WARN, "scrape", "Writing stale markers failed", "target", l->url, "err",
                 err.msg, NULL);
    }
}

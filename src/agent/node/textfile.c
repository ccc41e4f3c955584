/* textfile: re-exports the metrics of every *.prom file in --collector.textfile.directory (globs,
 * repeatable), plus node_textfile_mtime_seconds{file} and node_textfile_scrape_error, as
 * node_exporter 1.12's textfile collector does. Parsing into families is textfile_util.c. */
#include "agent/agent_int.h"
#include "agent/textfile_util.h"

#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const agent_desc d_mtime = {"node_textfile_mtime_seconds",
                                   "Unixtime mtime of textfiles successfully read.",
                                   EXPFMT_GAUGE,
                                   {"file", NULL}};
static const agent_desc d_error = {"node_textfile_scrape_error",
                                   "1 if there was an error opening or reading a file, 0 otherwise",
                                   EXPFMT_GAUGE,
                                   {NULL}};

/* What the collector knows about one metric name across files: the first HELP seen (and the
 * conflicting one, which makes later files' families rejected too, as upstream), and the files
 * whose families of that name were kept (for "Metric read from a, b"). */
typedef struct {
    bool has_help;
    odin_str help;
    odin_str help_conflict;
    const char **files;
    size_t nfiles;
    size_t cap_files;
    const char *default_help;
} tf_name;

typedef struct {
    const agent_tf_family *f;
    tf_name *n;
} tf_kept;

typedef struct {
    const char *path;
    double mtime;
} tf_mtime;

typedef struct {
    agent_scrape *sc;
    odin_arena *a;
    bool errored;
    odin_map names; /* metric name -> tf_name */
    tf_kept *kept;
    size_t nkept, cap_kept;
    tf_mtime *mtimes;
    size_t nmtimes, cap_mtimes;
    odin_map seen;    /* name + label set already exported (client_golang's duplicate check) */
    odin_map touched; /* output families whose existing samples were added to `seen` */
} tf_run;

static void *grow(odin_arena *a, void *v, size_t len, size_t *cap, size_t elem)
{
    if (len < *cap) {
        return v;
    }
    size_t ncap = *cap ? *cap * 2 : 8;
    void *nv = odin_arena_alloc(a, ncap * elem);
    if (!nv) {
        odin_oom(); /* scrape arena cap: see registry.c */
    }
    if (len) {
        memcpy(nv, v, len * elem);
    }
    *cap = ncap;
    return nv;
}

static void log_error(const char *msg, const char *key, const char *val, const char *err)
{
    odin_log(ODIN_LOG_ERROR, "agent", msg, "collector", "textfile", key, val, "err", err, NULL);
}

/* ---- Finding files ------------------------------------------------------------------------- */

static bool has_glob_meta(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static bool is_dot_entry(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    return strcmp(base, ".") == 0 || strcmp(base, "..") == 0;
}

/* filepath.Glob, falling back to the pattern itself when it matches nothing or is not a
 * pattern (upstream then lets ReadDir report a missing directory). Go's '*' matches a leading
 * dot, hence GLOB_PERIOD; Go lists no "." or "..", hence the filter. */
static void expand(tf_run *r, const char *pattern, const char ***paths, size_t *n, size_t *cap)
{
    glob_t g;
    memset(&g, 0, sizeof(g));
    size_t before = *n;
    if (pattern[0] && glob(pattern, GLOB_PERIOD, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            if (has_glob_meta(pattern) && is_dot_entry(g.gl_pathv[i])) {
                continue;
            }
            *paths = grow(r->a, *paths, *n, cap, sizeof(**paths));
            (*paths)[(*n)++] = odin_arena_strdup(r->a, g.gl_pathv[i]);
        }
    }
    globfree(&g);
    if (*n == before) {
        *paths = grow(r->a, *paths, *n, cap, sizeof(**paths));
        (*paths)[(*n)++] = pattern;
    }
}

/* ---- Reading files ------------------------------------------------------------------------- */

static tf_name *name_get(tf_run *r, odin_str name)
{
    tf_name *n = odin_map_get(&r->names, name.p, name.len);
    if (!n) {
        n = odin_arena_zalloc(r->a, sizeof(*n));
        if (!n) {
            odin_oom();
        }
        odin_map_put(&r->names, name.p, name.len, n);
    }
    return n;
}

/* Upstream's help bookkeeping, kept with its quirk: once a name saw a conflicting HELP, every
 * later family of that name is rejected too. A rejected family makes the scrape error 1. */
static void keep_family(tf_run *r, const agent_tf_family *f, const char *path)
{
    tf_name *n = name_get(r, f->name);
    if (n->has_help &&
        ((f->has_help && !odin_str_eq(n->help, f->help)) || n->help_conflict.len > 0)) {
        n->help_conflict = f->has_help ? f->help : (odin_str){"", 0};
        r->errored = true;
        odin_log(ODIN_LOG_ERROR, "agent", "inconsistent metric help text", "collector", "textfile",
                 "metric", agent_strdup(r->sc, f->name), "original_help_text",
                 agent_strdup(r->sc, n->help), "new_help_text",
                 f->has_help ? agent_strdup(r->sc, f->help) : "", "file",
                 n->nfiles ? n->files[0] : path, NULL);
        return;
    }
    if (f->has_help) {
        n->has_help = true;
        n->help = f->help;
        n->help_conflict = (odin_str){"", 0};
    }
    n->files = grow(r->a, n->files, n->nfiles, &n->cap_files, sizeof(*n->files));
    n->files[n->nfiles++] = path;
    r->kept = grow(r->a, r->kept, r->nkept, &r->cap_kept, sizeof(*r->kept));
    r->kept[r->nkept++] = (tf_kept){f, n};
}

/* Go's float64(ModTime().UnixNano() / 1e9): whole seconds, truncated toward zero. */
static double mtime_seconds(const struct stat *st)
{
    int64_t s = (int64_t)st->st_mtim.tv_sec;
    if (s < 0 && st->st_mtim.tv_nsec > 0) {
        s++;
    }
    return (double)s;
}

static void process_file(tf_run *r, const char *path)
{
    odin_err err = {0};
    odin_str text;
    agent_tf_file file;
    if (agent_read(r->sc, path, &text, &err) < 0 ||
        agent_tf_parse(r->a, path, text, &file, &err) < 0) {
        r->errored = true;
        log_error("failed to collect textfile data", "file", path, err.msg);
        return;
    }
    if (file.has_timestamps) {
        r->errored = true;
        log_error("failed to collect textfile data", "file", path,
                  "textfile contains unsupported client-side timestamps, skipping entire file");
        return;
    }
    for (size_t i = 0; i < file.len; i++) {
        keep_family(r, file.v[i], path);
    }
    /* stat only after the file parsed, so a broken file never looks fresh (as upstream) */
    struct stat st;
    if (stat(path, &st) != 0) {
        r->errored = true;
        log_error("failed to collect textfile data", "file", path, "stat failed");
        return;
    }
    for (size_t i = 0; i < r->nmtimes; i++) {
        if (strcmp(r->mtimes[i].path, path) == 0) {
            r->mtimes[i].mtime = mtime_seconds(&st); /* a directory given twice: a map upstream */
            return;
        }
    }
    r->mtimes = grow(r->a, r->mtimes, r->nmtimes, &r->cap_mtimes, sizeof(*r->mtimes));
    r->mtimes[r->nmtimes++] = (tf_mtime){path, mtime_seconds(&st)};
}

static void process_dir(tf_run *r, const char *dir)
{
    if (dir[0] == '\0') {
        return; /* the flag's default: no directory, and no error (as upstream) */
    }
    const char **names;
    size_t n;
    odin_err err = {0};
    if (agent_list_dir(r->sc, dir, &names, &n, &err) < 0) {
        r->errored = true;
        log_error("failed to read textfile collector directory", "path", dir, err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (odin_str_has_suffix(odin_str_c(names[i]), ".prom")) {
            process_file(r, agent_tf_join(r->a, dir, names[i]));
        }
    }
}

/* ---- Exporting ----------------------------------------------------------------------------- */

static const char *default_help(tf_run *r, tf_name *n)
{
    if (!n->default_help) {
        odin_strbuf b;
        odin_strbuf_init(&b, 1u << 20);
        odin_strbuf_puts(&b, "Metric read from ");
        for (size_t i = 0; i < n->nfiles; i++) {
            odin_strbuf_puts(&b, i ? ", " : "");
            odin_strbuf_puts(&b, n->files[i]);
        }
        size_t len;
        char *s = odin_strbuf_take(&b, &len);
        n->default_help = agent_strdup(r->sc, (odin_str){s, len});
        free(s);
        odin_strbuf_fini(&b);
    }
    return n->default_help;
}

static odin_str series_key(tf_run *r, odin_str name, const odin_label *ls, size_t n)
{
    size_t len = name.len + 1;
    for (size_t i = 0; i < n; i++) {
        len += ls[i].name.len + ls[i].value.len + 2;
    }
    char *k = odin_arena_alloc(r->a, len);
    if (!k) {
        odin_oom();
    }
    size_t pos = 0;
    memcpy(k, name.p, name.len);
    pos += name.len;
    k[pos++] = '\xff';
    for (size_t i = 0; i < n; i++) {
        memcpy(k + pos, ls[i].name.p, ls[i].name.len);
        pos += ls[i].name.len;
        k[pos++] = '\xfe';
        memcpy(k + pos, ls[i].value.p, ls[i].value.len);
        pos += ls[i].value.len;
        k[pos++] = '\xff';
    }
    return (odin_str){k, pos};
}

/* Samples another collector already put in this family count as exported, so a textfile series
 * repeating one of them is dropped as client_golang drops "collected before" duplicates. */
static void seed_seen(tf_run *r, const expfmt_family *fam)
{
    if (odin_map_get(&r->touched, fam->name.p, fam->name.len)) {
        return;
    }
    odin_map_put(&r->touched, fam->name.p, fam->name.len, (void *)fam);
    for (size_t i = 0; i < fam->len; i++) {
        const expfmt_sample *s = &fam->samples[i];
        odin_str k = series_key(r, fam->name, s->labels.v, s->labels.len);
        odin_map_put(&r->seen, k.p, k.len, (void *)fam);
    }
}

/* The family's label names (union over its metrics): convertMetricFamily gives every metric all
 * of them, "" where absent. */
static size_t label_union(tf_run *r, const agent_tf_family *f, odin_str **out)
{
    size_t n = 0, cap = 0;
    odin_str *names = NULL;
    for (size_t i = 0; i < f->len; i++) {
        for (size_t j = 0; j < f->metrics[i].nlabels; j++) {
            odin_str nm = f->metrics[i].labels[j].name;
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++) {
                dup = odin_str_eq(names[k], nm);
            }
            if (!dup) {
                names = grow(r->a, names, n, &cap, sizeof(*names));
                names[n++] = nm;
            }
        }
    }
    *out = names;
    return n;
}

static odin_labels metric_labels(tf_run *r, const agent_tf_metric *m, const odin_str *all,
                                 size_t nall)
{
    odin_label *ls = odin_arena_alloc(r->a, (nall ? nall : 1) * sizeof(*ls));
    if (!ls) {
        odin_oom();
    }
    size_t n = 0;
    for (size_t i = 0; i < m->nlabels; i++) {
        ls[n++] = m->labels[i];
    }
    for (size_t i = 0; i < nall; i++) {
        bool present = false;
        for (size_t j = 0; j < m->nlabels && !present; j++) {
            present = odin_str_eq(m->labels[j].name, all[i]);
        }
        if (!present) {
            ls[n++] = (odin_label){all[i], {"", 0}};
        }
    }
    odin_labels_sort(ls, n);
    return (odin_labels){ls, n};
}

static void add(tf_run *r, expfmt_family *fam, odin_labels ls, const char *suffix,
                const char *extra, double bound, double value)
{
    expfmt_sample *s = agent_family_add(r->sc, fam);
    s->labels = ls;
    s->suffix = suffix;
    s->value = value;
    if (extra) {
        s->extra = (odin_label){odin_str_c(extra), odin_str_c(agent_fmt_double(r->sc, bound))};
    }
}

static int point_cmp(const void *x, const void *y)
{
    const agent_tf_point *a = x, *b = y;
    if (isnan(a->bound) || isnan(b->bound)) {
        return isnan(a->bound) - isnan(b->bound);
    }
    return (a->bound > b->bound) - (a->bound < b->bound);
}

/* Quantiles and buckets went through a Go map keyed by bound (the last line wins) and come out
 * sorted by bound (client_golang's const summary and histogram). */
static size_t points_sorted(tf_run *r, const agent_tf_metric *m, agent_tf_point **out)
{
    agent_tf_point *v = odin_arena_alloc(r->a, (m->npoints ? m->npoints : 1) * sizeof(*v));
    if (!v) {
        odin_oom();
    }
    size_t n = 0;
    for (size_t i = 0; i < m->npoints; i++) {
        size_t j = 0;
        while (j < n && v[j].bound != m->points[i].bound) {
            j++;
        }
        v[j] = m->points[i];
        n += j == n;
    }
    qsort(v, n, sizeof(*v), point_cmp);
    *out = v;
    return n;
}

static void export_metric(tf_run *r, expfmt_family *fam, expfmt_type type, const agent_tf_metric *m,
                          odin_labels ls)
{
    if (type != EXPFMT_SUMMARY && type != EXPFMT_HISTOGRAM) {
        add(r, fam, ls, "", NULL, 0, m->value);
        return;
    }
    agent_tf_point *pts;
    size_t n = points_sorted(r, m, &pts);
    if (type == EXPFMT_SUMMARY) {
        for (size_t i = 0; i < n; i++) {
            add(r, fam, ls, "", "quantile", pts[i].bound, pts[i].value);
        }
        add(r, fam, ls, "_sum", NULL, 0, m->sum);
        add(r, fam, ls, "_count", NULL, 0, m->count);
        return;
    }
    /* node_exporter reads integer counts only: a histogram with any fractional count is all 0 */
    bool inf_seen = false;
    for (size_t i = 0; i < n; i++) {
        add(r, fam, ls, "_bucket", "le", pts[i].bound, m->float_counts ? 0 : pts[i].value);
        inf_seen = inf_seen || (isinf(pts[i].bound) && pts[i].bound > 0);
    }
    double count = m->float_counts ? 0 : m->count;
    if (!inf_seen) {
        add(r, fam, ls, "_bucket", "le", INFINITY, count);
    }
    add(r, fam, ls, "_sum", NULL, 0, m->sum);
    add(r, fam, ls, "_count", NULL, 0, count);
}

static expfmt_type existing_type(tf_run *r, odin_str name, bool *found)
{
    *found = agent_family_exists(r->sc, name);
    if (!*found) {
        return EXPFMT_UNTYPED;
    }
    return agent_family(r->sc, name, (odin_str){"", 0}, false, EXPFMT_UNTYPED)->type;
}

static bool exists_with_suffix(tf_run *r, odin_str name, const char *suffix)
{
    odin_str full = odin_str_c(odin_arena_printf(r->a, "%.*s%s", (int)name.len, name.p, suffix));
    return agent_family_exists(r->sc, full);
}

/* client_golang's checkSuffixCollisions, run when a metric would start a new family: foo_count
 * or foo_sum next to a summary or histogram foo (foo_bucket next to a histogram), and the
 * reverse, are refused. */
static bool suffix_collision(tf_run *r, odin_str name, expfmt_type type)
{
    static const char *const suffixes[] = {"_count", "_sum", "_bucket"};
    for (size_t i = 0; i < 3; i++) {
        if (!odin_str_has_suffix(name, suffixes[i])) {
            continue;
        }
        odin_str base = {name.p, name.len - strlen(suffixes[i])};
        bool found;
        expfmt_type t = existing_type(r, base, &found);
        if (found && ((t == EXPFMT_SUMMARY && i != 2) || t == EXPFMT_HISTOGRAM)) {
            return true;
        }
        break;
    }
    if (type == EXPFMT_SUMMARY || type == EXPFMT_HISTOGRAM) {
        if (exists_with_suffix(r, name, "_count") || exists_with_suffix(r, name, "_sum")) {
            return true;
        }
    }
    return type == EXPFMT_HISTOGRAM && exists_with_suffix(r, name, "_bucket");
}

/* One file's family into the scrape, with the registry's checks: a family already exported
 * under another HELP or TYPE keeps it and this one is dropped; repeated series are dropped. */
static void export_family(tf_run *r, const tf_kept *k)
{
    const agent_tf_family *f = k->f;
    odin_str help = f->has_help ? f->help : odin_str_c(default_help(r, k->n));
    if (f->type != EXPFMT_COUNTER && f->type != EXPFMT_GAUGE && f->type != EXPFMT_UNTYPED &&
        f->type != EXPFMT_SUMMARY && f->type != EXPFMT_HISTOGRAM) {
        log_error("unsupported metric type in textfile", "metric", agent_strdup(r->sc, f->name),
                  expfmt_type_name(f->type));
        r->errored = true;
        return;
    }
    if (!agent_family_exists(r->sc, f->name) && suffix_collision(r, f->name, f->type)) {
        odin_log(ODIN_LOG_DEBUG, "agent", "textfile metric collides with a summary or histogram",
                 "metric", agent_strdup(r->sc, f->name), NULL);
        return;
    }
    expfmt_family *fam = agent_family(r->sc, f->name, help, true, f->type);
    seed_seen(r, fam);
    if (fam->type != f->type || !fam->has_help || !odin_str_eq(fam->help, help)) {
        odin_log(ODIN_LOG_DEBUG, "agent", "textfile metric collides with an exported family",
                 "metric", agent_strdup(r->sc, f->name), NULL);
        return;
    }
    odin_str *all;
    size_t nall = label_union(r, f, &all);
    for (size_t i = 0; i < f->len; i++) {
        odin_labels ls = metric_labels(r, &f->metrics[i], all, nall);
        odin_str key = series_key(r, f->name, ls.v, ls.len);
        if (odin_map_get(&r->seen, key.p, key.len)) {
            odin_log(ODIN_LOG_DEBUG, "agent", "textfile series collected before, dropped", "metric",
                     agent_strdup(r->sc, f->name), NULL);
            continue;
        }
        odin_map_put(&r->seen, key.p, key.len, fam);
        export_metric(r, fam, f->type, &f->metrics[i], ls);
    }
}

static int textfile_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    (void)err;
    tf_run r = {.sc = sc, .a = agent_scrape_arena(sc)};
    odin_map_init(&r.names);
    odin_map_init(&r.seen);
    odin_map_init(&r.touched);
    const char *const *patterns;
    size_t np = agent_flag_all(agent_scrape_agent(sc), "collector.textfile.directory", &patterns);
    const char **dirs = NULL;
    size_t nd = 0, cap = 0;
    for (size_t i = 0; i < np; i++) {
        expand(&r, patterns[i], &dirs, &nd, &cap);
    }
    for (size_t i = 0; i < nd; i++) {
        process_dir(&r, dirs[i]);
    }
    for (size_t i = 0; i < r.nkept; i++) {
        export_family(&r, &r.kept[i]);
    }
    for (size_t i = 0; i < r.nmtimes; i++) {
        agent_emit(sc, &d_mtime, r.mtimes[i].mtime, &r.mtimes[i].path);
    }
    agent_emit(sc, &d_error, r.errored ? 1 : 0, NULL);
    odin_map_fini(&r.names);
    odin_map_fini(&r.seen);
    odin_map_fini(&r.touched);
    return 0;
}

static const agent_flag_def textfile_flags[] = {
    {.name = "collector.textfile.directory",
     .def = "",
     .help = "Directory to read text files with metrics from, supports glob matching. (repeatable)",
     .repeatable = true},
    {NULL, NULL, NULL, false, false},
};

const agent_collector_def agent_collector_textfile = {
    .name = "textfile",
    .default_on = true,
    .flags = textfile_flags,
    .collect = textfile_collect,
};

/* file_sd_configs: target groups read from JSON or YAML files matched by globs. Each provider
 * polls the files' metadata (mtime, size, inode) every second and re-reads on change, and re-reads
 * everything every refresh_interval, standing in for Prometheus' fsnotify watch plus refresh.
 * A file that fails to read or parse keeps its previous groups, as in Prometheus. */
#include <glob.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <yaml.h>

#include "discovery/provider.h"

enum { POLL_MS = 1000 };

/* ---- YAML --------------------------------------------------------------------------------- */

static int yfail(const char *path, const yaml_node_t *n, const char *reason, odin_err *err)
{
    return odin_err_set(err, ODIN_ERR_PARSE, "%s:%zu:%zu: %s", path,
                        n != NULL ? n->start_mark.line + 1 : 0,
                        n != NULL ? n->start_mark.column + 1 : 0, reason);
}

static const yaml_node_t *ynode(yaml_document_t *d, int id)
{
    return yaml_document_get_node(d, id);
}

static bool yscalar(const yaml_node_t *n, const char **s, size_t *len)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE) {
        return false;
    }
    *s = (const char *)n->data.scalar.value;
    *len = n->data.scalar.length;
    return true;
}

static bool ynull(const yaml_node_t *n)
{
    const char *s;
    size_t len;
    if (!yscalar(n, &s, &len) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    return len == 0 || (len == 1 && s[0] == '~') || (len == 4 && memcmp(s, "null", 4) == 0);
}

static int ytargets(yaml_document_t *d, const yaml_node_t *n, discovery_group *g, const char *path,
                    odin_err *err)
{
    if (ynull(n)) {
        return 0;
    }
    if (n == NULL || n->type != YAML_SEQUENCE_NODE) {
        return yfail(path, n, "targets must be a list of strings", err);
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        const char *s;
        size_t len;
        if (!yscalar(ynode(d, *it), &s, &len)) {
            return yfail(path, ynode(d, *it), "target must be a string", err);
        }
        g->targets = odin_realloc(g->targets, (g->ntargets + 1) * sizeof *g->targets);
        g->targets[g->ntargets++] = odin_strndup(s, len);
    }
    return 0;
}

static int ylabels(yaml_document_t *d, const yaml_node_t *n, discovery_group *g, const char *path,
                   odin_err *err)
{
    if (ynull(n)) {
        return 0;
    }
    if (n == NULL || n->type != YAML_MAPPING_NODE) {
        return yfail(path, n, "labels must be a map of strings", err);
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k, *v;
        size_t kl, vl;
        if (!yscalar(ynode(d, p->key), &k, &kl) || !yscalar(ynode(d, p->value), &v, &vl)) {
            return yfail(path, ynode(d, p->key), "label name and value must be strings", err);
        }
        odin_str name = {k, kl};
        if (!odin_label_name_valid(name)) {
            return yfail(path, ynode(d, p->key), "invalid label name", err);
        }
        for (size_t i = 0; i < g->nlabels; i++) {
            if (odin_str_eq(g->labels[i].name, name)) {
                return yfail(path, ynode(d, p->key), "duplicate label name", err);
            }
        }
        g->labels = odin_realloc(g->labels, (g->nlabels + 1) * sizeof *g->labels);
        g->labels[g->nlabels].name = (odin_str){odin_strndup(k, kl), kl};
        g->labels[g->nlabels].value = (odin_str){odin_strndup(v, vl), vl};
        g->nlabels++;
    }
    return 0;
}

static int ygroup(yaml_document_t *d, const yaml_node_t *n, discovery_group *g, const char *path,
                  odin_err *err)
{
    if (n == NULL || n->type != YAML_MAPPING_NODE) {
        return yfail(path, n, "a target group must be a map", err);
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k;
        size_t kl;
        if (!yscalar(ynode(d, p->key), &k, &kl)) {
            return yfail(path, ynode(d, p->key), "keys must be strings", err);
        }
        int rc = 0;
        if (kl == 7 && memcmp(k, "targets", 7) == 0) {
            rc = ytargets(d, ynode(d, p->value), g, path, err);
        } else if (kl == 6 && memcmp(k, "labels", 6) == 0) {
            rc = ylabels(d, ynode(d, p->value), g, path, err);
        } else {
            rc = yfail(path, ynode(d, p->key), "unknown field in target group", err);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int yaml_parse_groups(const char *buf, size_t len, const char *path, discovery_group **out,
                             size_t *n, odin_err *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        odin_oom();
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = odin_err_set(err, ODIN_ERR_PARSE, "%s:%zu:%zu: yaml: %s", path,
                              parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                              parser.problem != NULL ? parser.problem : "invalid document");
        yaml_parser_delete(&parser);
        return rc;
    }
    discovery_group *gs = NULL;
    size_t ng = 0;
    int rc = 0;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL || ynull(root)) {
        goto done;
    }
    if (root->type != YAML_SEQUENCE_NODE) {
        rc = yfail(path, root, "expected a list of target groups", err);
        goto done;
    }
    for (yaml_node_item_t *it = root->data.sequence.items.start; it < root->data.sequence.items.top;
         it++) {
        gs = odin_realloc(gs, (ng + 1) * sizeof *gs);
        memset(&gs[ng], 0, sizeof gs[ng]);
        ng++;
        rc = ygroup(&doc, ynode(&doc, *it), &gs[ng - 1], path, err);
        if (rc < 0) {
            goto done;
        }
    }
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc < 0) {
        discovery_groups_free(gs, ng);
        return rc;
    }
    *out = gs;
    *n = ng;
    return 0;
}

/* ---- Parsing one file --------------------------------------------------------------------- */

int discovery_file_parse(const char *buf, size_t len, bool yaml, const char *path,
                         discovery_group **out, size_t *n, odin_err *err)
{
    *out = NULL;
    *n = 0;
    if (len > DISCOVERY_FILE_MAX_BYTES) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "%s: file larger than %u bytes", path,
                            DISCOVERY_FILE_MAX_BYTES);
    }
    discovery_group *gs = NULL;
    size_t ng = 0;
    int rc = yaml ? yaml_parse_groups(buf, len, path, &gs, &ng, err)
                  : discovery_json_parse_groups(buf, len, path, &gs, &ng, err);
    if (rc < 0) {
        return rc;
    }
    size_t plen = strlen(path);
    odin_arena a;
    odin_arena_init(&a, 0);
    for (size_t i = 0; i < ng; i++) {
        discovery_group *g = &gs[i];
        bool have = false;
        for (size_t j = 0; j < g->nlabels; j++) {
            if (odin_str_eq_c(g->labels[j].name, "__meta_filepath")) {
                free((void *)g->labels[j].value.p);
                g->labels[j].value = (odin_str){odin_strdup(path), plen};
                have = true;
            }
        }
        if (!have) {
            g->labels = odin_realloc(g->labels, (g->nlabels + 1) * sizeof *g->labels);
            g->labels[g->nlabels].name = (odin_str){odin_strdup("__meta_filepath"), 15};
            g->labels[g->nlabels].value = (odin_str){odin_strdup(path), plen};
            g->nlabels++;
        }
        g->source = odin_strdup(odin_arena_printf(&a, "%s:%zu", path, i));
        odin_arena_reset(&a);
    }
    odin_arena_fini(&a);
    *out = gs;
    *n = ng;
    return 0;
}

/* ---- Provider ------------------------------------------------------------------------------ */

typedef struct {
    char *path;
    struct timespec mtime;
    off_t size;
    ino_t ino;
    discovery_group *groups;
    size_t ngroups;
} watched_file;

/* Globs and refresh interval are fixed after start; `stop` is guarded by `lock`; the file list
 * belongs to the provider's thread. */
typedef struct {
    discovery_provider base;
    discovery_sink *sink;
    char **globs;
    size_t nglobs;
    int64_t refresh_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    watched_file *files;
    size_t nfiles;
    int64_t last_full_ms;
} file_provider;

static bool has_suffix(const char *s, const char *suf)
{
    return odin_str_has_suffix(odin_str_c(s), suf);
}

static void file_read(watched_file *f)
{
    bool yaml = has_suffix(f->path, ".yml") || has_suffix(f->path, ".yaml");
    if (!yaml && !has_suffix(f->path, ".json")) {
        odin_log(ODIN_LOG_ERROR, "discovery", "Target file needs a .json, .yml or .yaml name",
                 "file", f->path, NULL);
        return;
    }
    odin_err err;
    odin_err_clear(&err);
    odin_strbuf buf;
    odin_strbuf_init(&buf, 0); /* odin_read_file enforces the cap */
    discovery_group *gs = NULL;
    size_t ng = 0;
    if (odin_read_file(f->path, &buf, DISCOVERY_FILE_MAX_BYTES, &err) < 0 ||
        discovery_file_parse(buf.p != NULL ? buf.p : "", buf.len, yaml, f->path, &gs, &ng, &err) <
            0) {
        odin_log(ODIN_LOG_ERROR, "discovery", "Error reading target file", "file", f->path, "err",
                 err.msg, NULL);
        odin_strbuf_fini(&buf);
        return;
    }
    odin_strbuf_fini(&buf);
    discovery_groups_free(f->groups, f->ngroups);
    f->groups = gs;
    f->ngroups = ng;
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists matching paths, sorted and unique. */
static char **expand_globs(file_provider *p, size_t *n)
{
    char **out = NULL;
    size_t len = 0;
    for (size_t i = 0; i < p->nglobs; i++) {
        glob_t g;
        memset(&g, 0, sizeof g);
        if (glob(p->globs[i], 0, NULL, &g) == 0) {
            out = odin_realloc(out, (len + g.gl_pathc + 1) * sizeof *out);
            for (size_t j = 0; j < g.gl_pathc; j++) {
                out[len++] = odin_strdup(g.gl_pathv[j]);
            }
        }
        globfree(&g);
    }
    if (len > 1) {
        qsort(out, len, sizeof *out, path_cmp);
    }
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        if (w > 0 && strcmp(out[w - 1], out[i]) == 0) {
            free(out[i]);
            continue;
        }
        out[w++] = out[i];
    }
    *n = w;
    return out;
}

static watched_file *find_file(file_provider *p, const char *path)
{
    for (size_t i = 0; i < p->nfiles; i++) {
        if (strcmp(p->files[i].path, path) == 0) {
            return &p->files[i];
        }
    }
    return NULL;
}

static void report(file_provider *p)
{
    size_t total = 0;
    for (size_t i = 0; i < p->nfiles; i++) {
        total += p->files[i].ngroups;
    }
    /* Shallow concatenation: the sink deep-copies. */
    discovery_group *all = total > 0 ? odin_calloc(total, sizeof *all) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < p->nfiles; i++) {
        for (size_t j = 0; j < p->files[i].ngroups; j++) {
            all[k++] = p->files[i].groups[j];
        }
    }
    discovery_sink_update(p->sink, all, total);
    free(all);
}

/* One pass: re-lists the globs and re-reads new, changed (or, when full, all) files. */
static void refresh(file_provider *p, bool full)
{
    size_t npaths = 0;
    char **paths = expand_globs(p, &npaths);
    watched_file *next = npaths > 0 ? odin_calloc(npaths, sizeof *next) : NULL;
    bool changed = npaths != p->nfiles;
    for (size_t i = 0; i < npaths; i++) {
        watched_file *old = find_file(p, paths[i]);
        watched_file *f = &next[i];
        if (old != NULL) {
            *f = *old;
            old->path = NULL;
            old->groups = NULL;
            old->ngroups = 0;
            free(paths[i]);
        } else {
            f->path = paths[i];
            changed = true;
        }
        struct stat st;
        if (stat(f->path, &st) != 0) {
            continue;
        }
        bool same = old != NULL && st.st_mtim.tv_sec == f->mtime.tv_sec &&
                    st.st_mtim.tv_nsec == f->mtime.tv_nsec && st.st_size == f->size &&
                    st.st_ino == f->ino;
        if (same && !full) {
            continue;
        }
        f->mtime = st.st_mtim;
        f->size = st.st_size;
        f->ino = st.st_ino;
        file_read(f);
        changed = true;
    }
    free(paths);
    for (size_t i = 0; i < p->nfiles; i++) {
        if (p->files[i].path != NULL) {
            changed = true;
        }
        free(p->files[i].path);
        discovery_groups_free(p->files[i].groups, p->files[i].ngroups);
    }
    free(p->files);
    p->files = next;
    p->nfiles = npaths;
    if (changed) {
        report(p);
    }
}

static void *file_main(void *arg)
{
    file_provider *p = arg;
    int64_t poll_ms = p->refresh_ms > 0 && p->refresh_ms < POLL_MS ? p->refresh_ms : POLL_MS;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(poll_ms / 1000);
        ts.tv_nsec += (long)(poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0) {
        }
        bool stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop) {
            return NULL;
        }
        int64_t now = odin_now_ms();
        bool full = p->refresh_ms > 0 && now - p->last_full_ms >= p->refresh_ms;
        if (full) {
            p->last_full_ms = now;
        }
        refresh(p, full);
    }
}

static discovery_provider *file_start(const void *cfg, discovery_sink *sink, odin_err *err)
{
    const discovery_file_config *c = cfg;
    file_provider *p = odin_calloc(1, sizeof *p);
    p->base.ops = &discovery_file_ops;
    p->sink = sink;
    p->refresh_ms = c->refresh_interval_ms > 0 ? c->refresh_interval_ms : 5 * 60 * 1000;
    p->nglobs = c->nfiles;
    p->globs = c->nfiles > 0 ? odin_calloc(c->nfiles, sizeof *p->globs) : NULL;
    for (size_t i = 0; i < c->nfiles; i++) {
        p->globs[i] = odin_strdup(c->files[i]);
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    /* The first read happens here so the set's first update already carries the files. */
    p->last_full_ms = odin_now_ms();
    refresh(p, true);
    if (p->nfiles == 0) {
        report(p);
    }
    if (pthread_create(&p->thread, NULL, file_main, p) != 0) {
        odin_err_set(err, ODIN_ERR_INTERNAL, "file_sd: cannot start a thread");
        odin_oom();
    }
    return &p->base;
}

static void file_stop(discovery_provider *base)
{
    file_provider *p = (file_provider *)base;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->nfiles; i++) {
        free(p->files[i].path);
        discovery_groups_free(p->files[i].groups, p->files[i].ngroups);
    }
    free(p->files);
    for (size_t i = 0; i < p->nglobs; i++) {
        free(p->globs[i]);
    }
    free(p->globs);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const discovery_provider_ops discovery_file_ops = {
    .name = "file",
    .start = file_start,
    .stop = file_stop,
};

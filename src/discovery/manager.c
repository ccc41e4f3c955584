/* The discovery manager: runs the providers of every named set (a job), keeps each provider's
 * latest groups, and tells the consumer the set's full group list when it changes, coalescing
 * bursts of changes (Prometheus' discovery manager does the same with its update ticker). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "discovery/provider.h"

/* Provider updates within this window reach the consumer as one call. Prometheus waits 5s;
 * a shorter wait costs little here because the consumer only diffs targets. */
enum { DEBOUNCE_MS = 250 };

/* The kubernetes provider plugs in here once src/discovery/kubernetes.c exists:
 * `&discovery_kubernetes_ops` (declared in provider.h next to the others). */
static const discovery_provider_ops *const provider_kubernetes = &discovery_kubernetes_ops;

typedef struct dset dset;

/* One provider's slot. Fields `m` and `set` never change; `groups`/`n` are guarded by m->lock. */
struct discovery_sink {
    discovery_manager *m;
    dset *set;
    discovery_group *groups;
    size_t n;
};

/* One named set. name, fingerprint, providers and sinks are fixed once the set is published;
 * `dirty` is guarded by m->lock. Owned by the manager. */
struct dset {
    char *name;
    char *fingerprint;
    discovery_provider **providers;
    discovery_sink **sinks;
    size_t nproviders;
    bool dirty;
};

/* Lock order: apply_lock, then cb_lock, then lock. Providers take only `lock` (through their
 * sink). The consumer is called with cb_lock held (that is what serializes it) and never with
 * `lock` held. */
struct discovery_manager {
    discovery_update_fn fn;     /* fixed */
    void *ctx;                  /* fixed */
    pthread_t sender;           /* fixed */
    pthread_mutex_t apply_lock; /* serializes apply and free */
    pthread_mutex_t cb_lock;
    pthread_mutex_t lock; /* guards sets, nsets, stopping, every dset.dirty and sink groups */
    pthread_cond_t cond;
    dset **sets;
    size_t nsets;
    bool stopping;
};

/* ---- Groups ---------------------------------------------------------------------------------- */

static odin_str str_dup(odin_str s)
{
    return (odin_str){odin_strndup(s.p != NULL ? s.p : "", s.len), s.len};
}

static odin_label *labels_dup(const odin_label *v, size_t n)
{
    if (v == NULL || n == 0) {
        return NULL;
    }
    odin_label *out = odin_calloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].name = str_dup(v[i].name);
        out[i].value = str_dup(v[i].value);
    }
    return out;
}

void discovery_group_copy(discovery_group *dst, const discovery_group *src)
{
    memset(dst, 0, sizeof *dst);
    dst->ntargets = src->ntargets;
    if (src->ntargets > 0) {
        dst->targets = odin_calloc(src->ntargets, sizeof *dst->targets);
        for (size_t i = 0; i < src->ntargets; i++) {
            dst->targets[i] = odin_strdup(src->targets[i] != NULL ? src->targets[i] : "");
        }
    }
    if (src->target_labels != NULL && src->ntargets > 0) {
        dst->target_labels = odin_calloc(src->ntargets, sizeof *dst->target_labels);
        dst->ntarget_labels = odin_calloc(src->ntargets, sizeof *dst->ntarget_labels);
        for (size_t i = 0; i < src->ntargets; i++) {
            size_t n = src->ntarget_labels != NULL ? src->ntarget_labels[i] : 0;
            dst->target_labels[i] = labels_dup(src->target_labels[i], n);
            dst->ntarget_labels[i] = dst->target_labels[i] != NULL ? n : 0;
        }
    }
    dst->labels = labels_dup(src->labels, src->nlabels);
    dst->nlabels = dst->labels != NULL ? src->nlabels : 0;
    dst->source = src->source != NULL ? odin_strdup(src->source) : NULL;
}

void discovery_group_clear(discovery_group *g)
{
    discovery_group_fini(g);
}

void discovery_groups_free(discovery_group *g, size_t n)
{
    for (size_t i = 0; g != NULL && i < n; i++) {
        discovery_group_clear(&g[i]);
    }
    free(g);
}

/* ---- Config fingerprints ----------------------------------------------------------------------
 * A set keeps running across a reload when its config is unchanged. The old config is freed by
 * then, so each set keeps a canonical serialization of its config to compare against. */

static void fp_str(odin_strbuf *b, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    odin_strbuf_put_u64(b, n);
    odin_strbuf_putc(b, s != NULL ? ':' : '~');
    odin_strbuf_put(b, s != NULL ? s : "", n);
}

static void fp_ostr(odin_strbuf *b, odin_str s)
{
    odin_strbuf_put_u64(b, s.len);
    odin_strbuf_putc(b, ':');
    odin_strbuf_put(b, s.p != NULL ? s.p : "", s.len);
}

static void fp_labels(odin_strbuf *b, const odin_label *v, size_t n)
{
    odin_strbuf_putc(b, '{');
    for (size_t i = 0; v != NULL && i < n; i++) {
        fp_ostr(b, v[i].name);
        fp_ostr(b, v[i].value);
    }
    odin_strbuf_putc(b, '}');
}

static void fp_http(odin_strbuf *b, const http_client_config *h)
{
    const char *strs[] = {h->tls.ca_file,      h->tls.cert_file,         h->tls.key_file,
                          h->tls.server_name,  h->tls.min_version,       h->basic_username,
                          h->basic_password,   h->basic_password_file,   h->auth_type,
                          h->auth_credentials, h->auth_credentials_file, h->proxy_url};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(strs); i++) {
        fp_str(b, strs[i]);
    }
    odin_strbuf_putc(b, h->tls.insecure_skip_verify ? '1' : '0');
    odin_strbuf_putc(b, h->has_basic_auth ? '1' : '0');
    odin_strbuf_putc(b, h->has_authorization ? '1' : '0');
    odin_strbuf_putc(b, h->follow_redirects ? '1' : '0');
}

static char *config_fingerprint(const discovery_config *c)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (size_t i = 0; i < c->nstatic; i++) {
        const discovery_group *g = &c->static_groups[i];
        odin_strbuf_puts(&b, "S");
        for (size_t j = 0; j < g->ntargets; j++) {
            fp_str(&b, g->targets[j]);
            if (g->target_labels != NULL && g->ntarget_labels != NULL) {
                fp_labels(&b, g->target_labels[j], g->ntarget_labels[j]);
            }
        }
        fp_labels(&b, g->labels, g->nlabels);
        fp_str(&b, g->source);
    }
    for (size_t i = 0; i < c->nfiles; i++) {
        odin_strbuf_puts(&b, "F");
        for (size_t j = 0; j < c->files[i].nfiles; j++) {
            fp_str(&b, c->files[i].files[j]);
        }
        odin_strbuf_putc(&b, '@');
        odin_strbuf_put_i64(&b, c->files[i].refresh_interval_ms);
    }
    for (size_t i = 0; i < c->nk8s; i++) {
        const discovery_k8s_config *k = &c->k8s[i];
        odin_strbuf_puts(&b, "K");
        odin_strbuf_put_i64(&b, (int64_t)k->role);
        fp_str(&b, k->api_server);
        for (size_t j = 0; j < k->nnamespaces; j++) {
            fp_str(&b, k->namespaces[j]);
        }
        odin_strbuf_putc(&b, k->own_namespace ? '1' : '0');
        odin_strbuf_putc(&b, k->attach_node_metadata ? '1' : '0');
        for (size_t j = 0; j < k->nselectors; j++) {
            fp_str(&b, k->selectors[j].role);
            fp_str(&b, k->selectors[j].label);
            fp_str(&b, k->selectors[j].field);
        }
        fp_http(&b, &k->http);
    }
    if (b.p == NULL) {
        odin_strbuf_puts(&b, "");
    }
    return odin_strbuf_take(&b, NULL);
}

/* ---- Sets -------------------------------------------------------------------------------------
 */

void discovery_sink_update(discovery_sink *s, const discovery_group *groups, size_t n)
{
    discovery_group *copy = n > 0 ? odin_calloc(n, sizeof *copy) : NULL;
    for (size_t i = 0; i < n; i++) {
        discovery_group_copy(&copy[i], &groups[i]);
    }
    discovery_manager *m = s->m;
    pthread_mutex_lock(&m->lock);
    discovery_group *old = s->groups;
    size_t nold = s->n;
    s->groups = copy;
    s->n = n;
    s->set->dirty = true;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    discovery_groups_free(old, nold);
}

static void set_add_provider(discovery_manager *m, dset *s, const discovery_provider_ops *ops,
                             const void *cfg)
{
    discovery_sink *sink = odin_calloc(1, sizeof *sink);
    sink->m = m;
    sink->set = s;
    odin_err err;
    odin_err_clear(&err);
    discovery_provider *p = ops->start(cfg, sink, &err);
    if (p == NULL) {
        odin_log(ODIN_LOG_ERROR, "discovery", "Cannot start discovery provider", "set", s->name,
                 "provider", ops->name, "err", err.msg, NULL);
        free(sink);
        return;
    }
    s->providers = odin_realloc(s->providers, (s->nproviders + 1) * sizeof *s->providers);
    s->sinks = odin_realloc(s->sinks, (s->nproviders + 1) * sizeof *s->sinks);
    s->providers[s->nproviders] = p;
    s->sinks[s->nproviders] = sink;
    s->nproviders++;
}

static dset *set_start(discovery_manager *m, const char *name, const discovery_config *cfg,
                       char *fingerprint)
{
    dset *s = odin_calloc(1, sizeof *s);
    s->name = odin_strdup(name);
    s->fingerprint = fingerprint;
    if (cfg->nstatic > 0) {
        set_add_provider(m, s, &discovery_static_ops, cfg);
    }
    for (size_t i = 0; i < cfg->nfiles; i++) {
        set_add_provider(m, s, &discovery_file_ops, &cfg->files[i]);
    }
    for (size_t i = 0; i < cfg->nk8s; i++) {
        set_add_provider(m, s, provider_kubernetes, &cfg->k8s[i]);
    }
    return s;
}

/* Stops the providers (no lock held: a provider may be waiting for m->lock) and frees the set. */
static void set_free(dset *s)
{
    for (size_t i = 0; i < s->nproviders; i++) {
        s->providers[i]->ops->stop(s->providers[i]);
        discovery_groups_free(s->sinks[i]->groups, s->sinks[i]->n);
        free(s->sinks[i]);
    }
    free(s->providers);
    free(s->sinks);
    free(s->name);
    free(s->fingerprint);
    free(s);
}

/* Copies the set's groups (all providers, in provider order); m->lock held. */
static discovery_group *set_collect_locked(dset *s, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < s->nproviders; i++) {
        total += s->sinks[i]->n;
    }
    *n = total;
    if (total == 0) {
        return NULL;
    }
    discovery_group *out = odin_calloc(total, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < s->nproviders; i++) {
        for (size_t j = 0; j < s->sinks[i]->n; j++) {
            discovery_group_copy(&out[k++], &s->sinks[i]->groups[j]);
        }
    }
    return out;
}

/* Delivers one set's current groups to the consumer; cb_lock held by the caller. The set must
 * stay alive meanwhile (apply_lock held, or the set is still published). */
static void deliver_locked_cb(discovery_manager *m, dset *s)
{
    pthread_mutex_lock(&m->lock);
    s->dirty = false;
    size_t n = 0;
    discovery_group *g = set_collect_locked(s, &n);
    pthread_mutex_unlock(&m->lock);
    m->fn(m->ctx, s->name, g, n);
    discovery_groups_free(g, n);
}

/* ---- Sender thread ----------------------------------------------------------------------------
 */

static bool any_dirty_locked(const discovery_manager *m)
{
    for (size_t i = 0; i < m->nsets; i++) {
        if (m->sets[i]->dirty) {
            return true;
        }
    }
    return false;
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *sender_main(void *arg)
{
    discovery_manager *m = arg;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        while (!m->stopping && !any_dirty_locked(m)) {
            pthread_cond_wait(&m->cond, &m->lock);
        }
        /* Let a burst of updates settle into one delivery. */
        struct timespec ts;
        deadline_in(&ts, DEBOUNCE_MS);
        while (!m->stopping && pthread_cond_timedwait(&m->cond, &m->lock, &ts) == 0) {
        }
        bool stop = m->stopping;
        pthread_mutex_unlock(&m->lock);
        if (stop) {
            return NULL;
        }
        /* apply_lock keeps the set list from being torn down while we deliver. */
        pthread_mutex_lock(&m->apply_lock);
        pthread_mutex_lock(&m->cb_lock);
        for (size_t i = 0; i < m->nsets; i++) {
            pthread_mutex_lock(&m->lock);
            bool dirty = m->sets[i]->dirty;
            pthread_mutex_unlock(&m->lock);
            if (dirty) {
                deliver_locked_cb(m, m->sets[i]);
            }
        }
        pthread_mutex_unlock(&m->cb_lock);
        pthread_mutex_unlock(&m->apply_lock);
    }
}

/* ---- Public -----------------------------------------------------------------------------------
 */

discovery_manager *discovery_manager_new(discovery_update_fn fn, void *ctx)
{
    discovery_manager *m = odin_calloc(1, sizeof *m);
    m->fn = fn;
    m->ctx = ctx;
    pthread_mutex_init(&m->apply_lock, NULL);
    pthread_mutex_init(&m->cb_lock, NULL);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    if (pthread_create(&m->sender, NULL, sender_main, m) != 0) {
        odin_oom();
    }
    return m;
}

int discovery_manager_apply(discovery_manager *m, const char *const *names,
                            const discovery_config *const *cfgs, size_t n, odin_err *err)
{
    (void)err;
    pthread_mutex_lock(&m->apply_lock);
    dset **next = n > 0 ? odin_calloc(n, sizeof *next) : NULL;
    bool *fresh = n > 0 ? odin_calloc(n, sizeof *fresh) : NULL;
    bool *kept = m->nsets > 0 ? odin_calloc(m->nsets, sizeof *kept) : NULL;
    for (size_t i = 0; i < n; i++) {
        char *fp = config_fingerprint(cfgs[i]);
        for (size_t j = 0; j < m->nsets && next[i] == NULL; j++) {
            if (!kept[j] && strcmp(m->sets[j]->name, names[i]) == 0 &&
                strcmp(m->sets[j]->fingerprint, fp) == 0) {
                next[i] = m->sets[j];
                kept[j] = true;
            }
        }
        if (next[i] != NULL) {
            free(fp);
            continue;
        }
        next[i] = set_start(m, names[i], cfgs[i], fp);
        fresh[i] = true;
    }
    pthread_mutex_lock(&m->lock);
    dset **old = m->sets;
    size_t nold = m->nsets;
    m->sets = next;
    m->nsets = n;
    pthread_mutex_unlock(&m->lock);
    for (size_t j = 0; j < nold; j++) {
        if (!kept[j]) {
            set_free(old[j]);
        }
    }
    /* New and changed sets are reported at once, so static targets start without a delay. */
    pthread_mutex_lock(&m->cb_lock);
    for (size_t i = 0; i < n; i++) {
        if (fresh[i]) {
            deliver_locked_cb(m, next[i]);
        }
    }
    pthread_mutex_unlock(&m->cb_lock);
    free(old);
    free(fresh);
    free(kept);
    pthread_mutex_unlock(&m->apply_lock);
    return 0;
}

void discovery_manager_free(discovery_manager *m)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->sender, NULL);
    for (size_t i = 0; i < m->nsets; i++) {
        set_free(m->sets[i]);
    }
    free(m->sets);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->cb_lock);
    pthread_mutex_destroy(&m->apply_lock);
    free(m);
}

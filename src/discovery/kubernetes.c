/* The Kubernetes discovery provider: reads the config (api_server or in-cluster), starts one
 * watch thread per resource kind and namespace plus a builder thread that turns the cache into
 * target groups and reports them, and plugs into the manager through discovery_kubernetes_ops. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "discovery/kubernetes.h"

/* Events arriving within this window become one rebuild: a relist or a rollout delivers many. */
enum { COALESCE_MS = 100 };
/* The builder's arena cap: the groups of one rebuild. */
#define BUILD_ARENA_CAP ((size_t)1 << 30)
#define SECRET_MAX_BYTES ((size_t)64 << 10)

static char *dup_or_null(const char *s)
{
    return s != NULL ? odin_strdup(s) : NULL;
}

/* ---- Client settings ---------------------------------------------------------------------------- */

static void client_from_http(k8s_client *cl, const http_client_config *h)
{
    cl->ca_file = dup_or_null(h->tls.ca_file);
    cl->cert_file = dup_or_null(h->tls.cert_file);
    cl->key_file = dup_or_null(h->tls.key_file);
    cl->ca_pem = dup_or_null(h->tls.ca);
    cl->cert_pem = dup_or_null(h->tls.cert);
    cl->key_pem = dup_or_null(h->tls.key);
    cl->insecure_skip_verify = h->tls.insecure_skip_verify;
    cl->min_version = dup_or_null(h->tls.min_version);
    cl->proxy_url = dup_or_null(h->proxy_url);
    cl->follow_redirects = h->follow_redirects;
    cl->has_basic_auth = h->has_basic_auth;
    cl->basic_username = dup_or_null(h->basic_username);
    cl->basic_username_file = dup_or_null(h->basic_username_file);
    cl->basic_password = dup_or_null(h->basic_password);
    cl->basic_password_file = dup_or_null(h->basic_password_file);
    cl->has_authorization = h->has_authorization;
    cl->auth_type = dup_or_null(h->auth_type);
    cl->auth_credentials = dup_or_null(h->auth_credentials);
    cl->auth_credentials_file = dup_or_null(h->auth_credentials_file);
}

/* rest.InClusterConfig: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the service
 * account's CA and token (re-read at each request, as client-go re-reads a rotated token). */
static int client_in_cluster(k8s_client *cl, const discovery_k8s_config *cfg, const char *sa_dir,
                             const char *(*getenv_fn)(const char *), odin_err *err)
{
    const char *host = getenv_fn("KUBERNETES_SERVICE_HOST");
    const char *port = getenv_fn("KUBERNETES_SERVICE_PORT");
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "kubernetes_sd_configs: unable to load in-cluster configuration, "
                            "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined");
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    bool v6 = strchr(host, ':') != NULL;
    odin_strbuf_printf(&b, v6 ? "https://[%s]:%s" : "https://%s:%s", host, port);
    cl->base_url = odin_strbuf_take(&b, NULL);
    odin_strbuf_printf(&b, "%s/ca.crt", sa_dir);
    cl->ca_file = odin_strbuf_take(&b, NULL);
    odin_strbuf_printf(&b, "%s/token", sa_dir);
    cl->auth_credentials_file = odin_strbuf_take(&b, NULL);
    cl->has_authorization = true;
    cl->follow_redirects = true;
    if (!cfg->own_namespace) {
        return 0;
    }
    odin_strbuf_printf(&b, "%s/namespace", sa_dir);
    char *path = odin_strbuf_take(&b, NULL);
    odin_strbuf content;
    odin_strbuf_init(&content, 0);
    int rc = odin_read_file(path, &content, SECRET_MAX_BYTES, err);
    odin_str ns = odin_str_trim((odin_str){content.p != NULL ? content.p : "", content.len});
    if (rc < 0) {
        odin_err_prefix(err, "kubernetes_sd_configs: could not determine the pod's namespace: ");
    } else if (ns.len == 0) {
        rc = odin_err_set(err, ODIN_ERR_INVALID,
                          "kubernetes_sd_configs: could not read own namespace name (empty file)");
    } else {
        cl->own_namespace = odin_strndup(ns.p, ns.len);
    }
    odin_strbuf_fini(&content);
    free(path);
    return rc;
}

int k8s_client_init(k8s_client *cl, const discovery_k8s_config *cfg, const char *sa_dir,
                    const char *(*getenv_fn)(const char *), odin_err *err)
{
    memset(cl, 0, sizeof *cl);
    int rc;
    if (cfg->kubeconfig_file != NULL && cfg->kubeconfig_file[0] != '\0') {
        rc = k8s_client_from_kubeconfig(cl, cfg->kubeconfig_file, err);
    } else if (cfg->api_server == NULL || cfg->api_server[0] == '\0') {
        rc = client_in_cluster(cl, cfg, sa_dir, getenv_fn, err);
    } else {
        size_t n = strlen(cfg->api_server);
        while (n > 0 && cfg->api_server[n - 1] == '/') {
            n--;
        }
        cl->base_url = odin_strndup(cfg->api_server, n);
        client_from_http(cl, &cfg->http);
        rc = 0;
    }
    if (rc < 0) {
        k8s_client_fini(cl);
    }
    return rc;
}

static void free_secret(char *s)
{
    if (s != NULL) {
        /* volatile writes: the compiler may not drop a wipe of memory about to be freed */
        volatile char *v = s;
        while (*v != '\0') {
            *v++ = '\0';
        }
        free(s);
    }
}

void k8s_client_fini(k8s_client *cl)
{
    free(cl->base_url);
    free(cl->ca_file);
    free(cl->cert_file);
    free(cl->key_file);
    free(cl->ca_pem);
    free(cl->cert_pem);
    free_secret(cl->key_pem);
    free(cl->min_version);
    free(cl->proxy_url);
    free(cl->basic_username);
    free(cl->basic_username_file);
    free_secret(cl->basic_password);
    free(cl->basic_password_file);
    free(cl->auth_type);
    free_secret(cl->auth_credentials);
    free(cl->auth_credentials_file);
    free(cl->own_namespace);
    memset(cl, 0, sizeof *cl);
}

/* ---- Watches ------------------------------------------------------------------------------------ */

static const char *const role_names[] = {
    [DISCOVERY_K8S_NODE] = "node",         [DISCOVERY_K8S_POD] = "pod",
    [DISCOVERY_K8S_SERVICE] = "service",   [DISCOVERY_K8S_ENDPOINTS] = "endpoints",
    [DISCOVERY_K8S_ENDPOINTSLICE] = "endpointslice", [DISCOVERY_K8S_INGRESS] = "ingress",
};

/* The selector role that filters a resource (mapSelector: the last selector of a role wins). */
static const discovery_k8s_selector *selector_for(const discovery_k8s_config *cfg, k8s_resource r)
{
    static const discovery_k8s_role by_res[] = {
        [K8S_RES_NODES] = DISCOVERY_K8S_NODE,
        [K8S_RES_PODS] = DISCOVERY_K8S_POD,
        [K8S_RES_SERVICES] = DISCOVERY_K8S_SERVICE,
        [K8S_RES_ENDPOINTS] = DISCOVERY_K8S_ENDPOINTS,
        [K8S_RES_ENDPOINTSLICES] = DISCOVERY_K8S_ENDPOINTSLICE,
        [K8S_RES_INGRESSES] = DISCOVERY_K8S_INGRESS,
    };
    if (r == K8S_RES_NAMESPACES) {
        return NULL;
    }
    const discovery_k8s_selector *found = NULL;
    for (size_t i = 0; i < cfg->nselectors; i++) {
        const char *role = cfg->selectors[i].role;
        if (role != NULL && strcmp(role, role_names[by_res[r]]) == 0) {
            found = &cfg->selectors[i];
        }
    }
    return found;
}

static void add_watch(k8s_provider *p, const discovery_k8s_config *cfg, k8s_resource r,
                      const char *ns)
{
    p->watches = odin_realloc(p->watches, (p->nwatches + 1) * sizeof *p->watches);
    k8s_watch *w = &p->watches[p->nwatches];
    memset(w, 0, sizeof *w);
    w->index = (int)p->nwatches;
    w->res = r;
    w->ns = ns != NULL ? odin_strdup(ns) : NULL;
    const discovery_k8s_selector *sel = selector_for(cfg, r);
    if (sel != NULL && sel->label != NULL && sel->label[0] != '\0') {
        w->label_selector = odin_strdup(sel->label);
    }
    if (sel != NULL && sel->field != NULL && sel->field[0] != '\0') {
        w->field_selector = odin_strdup(sel->field);
    }
    p->nwatches++;
}

/* getNamespaces, then a watch per namespaced kind and namespace; cluster-scoped kinds once. */
static void plan_watches(k8s_provider *p, const discovery_k8s_config *cfg)
{
    const char **names = odin_calloc(cfg->nnamespaces + 1, sizeof *names);
    size_t nn = 0;
    for (size_t i = 0; i < cfg->nnamespaces; i++) {
        names[nn++] = cfg->namespaces[i];
    }
    if (cfg->own_namespace && p->client.own_namespace != NULL) {
        names[nn++] = p->client.own_namespace;
    }
    unsigned want = k8s_role_resources(p->role, &p->opts);
    for (int r = 0; r < K8S_RES_COUNT; r++) {
        if ((want & (1u << r)) == 0) {
            continue;
        }
        if (r == K8S_RES_NODES || r == K8S_RES_NAMESPACES || nn == 0) {
            add_watch(p, cfg, (k8s_resource)r, NULL);
            continue;
        }
        for (size_t i = 0; i < nn; i++) {
            add_watch(p, cfg, (k8s_resource)r, names[i]);
        }
    }
    free(names);
    for (size_t i = 0; i < p->nwatches; i++) {
        p->watches[i].p = p;
    }
}

bool k8s_provider_sleep(k8s_provider *p, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    while (!atomic_load(&p->stopping)) {
        if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return !atomic_load(&p->stopping);
}

/* ---- Builder ------------------------------------------------------------------------------------ */

static bool ready_locked(const k8s_provider *p)
{
    if (!p->dirty) {
        return false;
    }
    for (size_t i = 0; i < p->nwatches; i++) {
        if (!p->watches[i].synced) {
            return false;
        }
    }
    return true;
}

static uint64_t mix(uint64_t h, const void *s, size_t n)
{
    return (h ^ odin_hash(s, n)) * 0x100000001b3ull + n;
}

/* A digest of the groups, to skip reporting a rebuild that changed nothing (a node heartbeat, a
 * pod's status churn outside the labels). Order matters; a reordering only costs a report. */
static uint64_t groups_digest(const discovery_group *g, size_t n)
{
    uint64_t h = 1469598103934665603ull + n;
    for (size_t i = 0; i < n; i++) {
        h = mix(h, g[i].source, strlen(g[i].source));
        for (size_t k = 0; k < g[i].nlabels; k++) {
            h = mix(h, g[i].labels[k].name.p, g[i].labels[k].name.len);
            h = mix(h, g[i].labels[k].value.p, g[i].labels[k].value.len);
        }
        for (size_t t = 0; t < g[i].ntargets; t++) {
            for (size_t k = 0; k < g[i].ntarget_labels[t]; k++) {
                h = mix(h, g[i].target_labels[t][k].name.p, g[i].target_labels[t][k].name.len);
                h = mix(h, g[i].target_labels[t][k].value.p, g[i].target_labels[t][k].value.len);
            }
            h = mix(h, "|", 1);
        }
        h = mix(h, "#", 1);
    }
    return h;
}

static void *builder_main(void *arg)
{
    k8s_provider *p = arg;
    odin_arena arena;
    odin_arena_init(&arena, BUILD_ARENA_CAP);
    bool reported = false;
    uint64_t last = 0;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!atomic_load(&p->stopping) && !ready_locked(p)) {
            pthread_cond_wait(&p->cond, &p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        if (!k8s_provider_sleep(p, COALESCE_MS)) {
            break;
        }
        pthread_mutex_lock(&p->lock);
        if (!ready_locked(p)) {
            pthread_mutex_unlock(&p->lock);
            continue;
        }
        p->dirty = false;
        discovery_group *groups;
        size_t n;
        odin_err err;
        odin_err_clear(&err);
        int rc = k8s_build_groups(p->role, &p->cache, &p->opts, &arena, &groups, &n, &err);
        pthread_mutex_unlock(&p->lock);
        if (rc < 0) {
            odin_log(ODIN_LOG_ERROR, "discovery", "Cannot build Kubernetes target groups", "role",
                     role_names[p->role], "err", err.msg, NULL);
        } else {
            uint64_t d = groups_digest(groups, n);
            if (!reported || d != last) {
                p->update(p->ctx, groups, n);
                reported = true;
                last = d;
            }
        }
        odin_arena_reset(&arena);
    }
    odin_arena_fini(&arena);
    return NULL;
}

/* ---- Lifecycle ---------------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* curl_global_init is not thread-safe in the libcurl we build against; once, before any watch. */
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static const char *env_get(const char *name)
{
    return getenv(name);
}

k8s_provider *k8s_provider_start(const discovery_k8s_config *cfg, k8s_update_fn update,
                                 void *ctx, odin_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    k8s_provider *p = odin_calloc(1, sizeof *p);
    if (k8s_client_init(&p->client, cfg, K8S_SERVICEACCOUNT_DIR, env_get, err) < 0) {
        free(p);
        return NULL;
    }
    p->role = cfg->role;
    p->opts = (k8s_build_opts){
        .attach_node = cfg->attach_node_metadata &&
                       (cfg->role == DISCOVERY_K8S_POD || cfg->role == DISCOVERY_K8S_ENDPOINTS ||
                        cfg->role == DISCOVERY_K8S_ENDPOINTSLICE),
        .attach_namespace = cfg->attach_namespace_metadata && cfg->role != DISCOVERY_K8S_NODE,
    };
    p->update = update;
    p->ctx = ctx;
    atomic_init(&p->stopping, false);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    k8s_cache_init(&p->cache);
    plan_watches(p, cfg);
    odin_log(ODIN_LOG_INFO, "discovery", "Starting Kubernetes discovery", "role",
             role_names[p->role], "api_server", p->client.base_url, NULL);
    for (size_t i = 0; i < p->nwatches; i++) {
        k8s_watch *w = &p->watches[i];
        if (pthread_create(&w->thread, NULL, k8s_watch_main, w) != 0) {
            odin_err_errno(err, errno, "kubernetes_sd_configs: cannot start a watch thread");
            k8s_provider_stop(p);
            return NULL;
        }
        w->started = true;
    }
    if (pthread_create(&p->builder, NULL, builder_main, p) != 0) {
        odin_err_errno(err, errno, "kubernetes_sd_configs: cannot start the builder thread");
        k8s_provider_stop(p);
        return NULL;
    }
    p->builder_started = true;
    return p;
}

void k8s_provider_stop(k8s_provider *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stopping, true);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->nwatches; i++) {
        if (p->watches[i].started) {
            pthread_join(p->watches[i].thread, NULL);
        }
    }
    if (p->builder_started) {
        pthread_join(p->builder, NULL);
    }
    for (size_t i = 0; i < p->nwatches; i++) {
        k8s_watch *w = &p->watches[i];
        free(w->ns);
        free(w->label_selector);
        free(w->field_selector);
        free(w->rv);
    }
    free(p->watches);
    k8s_cache_fini(&p->cache);
    k8s_client_fini(&p->client);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- provider.h glue ---------------------------------------------------------------------------- */

static void sink_update(void *ctx, const discovery_group *groups, size_t n)
{
    discovery_sink_update(ctx, groups, n);
}

static discovery_provider *ops_start(const void *cfg, discovery_sink *sink, odin_err *err)
{
    k8s_provider *p = k8s_provider_start(cfg, sink_update, sink, err);
    if (p == NULL) {
        return NULL;
    }
    p->base.ops = &discovery_kubernetes_ops;
    return &p->base;
}

static void ops_stop(discovery_provider *base)
{
    /* base is the first member of k8s_provider */
    k8s_provider_stop((k8s_provider *)base);
}

const discovery_provider_ops discovery_kubernetes_ops = {
    .name = "kubernetes",
    .start = ops_start,
    .stop = ops_stop,
};

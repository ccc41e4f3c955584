/* Private to src/discovery/: Kubernetes service discovery. kubernetes.c runs a provider (config,
 * threads, the provider.h glue), kubernetes_watch.c lists and watches one resource over HTTP,
 * kubernetes_cache.c keeps the objects seen, kubernetes_roles.c turns them into target groups with
 * Prometheus' __meta_kubernetes_* labels.
 *
 * Threads: a provider runs one thread per watch (resource kind x namespace) doing blocking libcurl
 * transfers, and one builder thread that rebuilds the groups and calls `update`. They share the
 * provider's cache under the provider's one mutex (k8s_provider.lock); no other lock exists, and
 * `update` is called with no lock held.
 * Ownership: the cache owns its objects; groups handed to `update` live in the builder's arena and
 * are valid only during the call. */
#ifndef ODIN_DISCOVERY_KUBERNETES_H
#define ODIN_DISCOVERY_KUBERNETES_H

#include <pthread.h>
#include <stdatomic.h>

#include "discovery/k8s_json.h"
#include "discovery/provider.h"

/* ---- Resources ------------------------------------------------------------------------------ */

typedef enum {
    K8S_RES_NODES,
    K8S_RES_PODS,
    K8S_RES_SERVICES,
    K8S_RES_ENDPOINTS,
    K8S_RES_ENDPOINTSLICES,
    K8S_RES_INGRESSES,
    K8S_RES_NAMESPACES,
    K8S_RES_COUNT,
} k8s_resource;

/* "pods", "endpointslices", ...: the resource's plural as in its API path. */
const char *k8s_resource_name(k8s_resource r);
/* API path for listing/watching r in namespace ns (NULL or "" = all namespaces):
 * "/api/v1/namespaces/<ns>/pods", "/apis/discovery.k8s.io/v1/endpointslices", ...
 * Cluster-scoped resources ignore ns. Returned string is heap-owned by the caller. */
char *k8s_resource_path(k8s_resource r, const char *ns);

/* ---- Cache ------------------------------------------------------------------------------------ */

/* One object as last seen. Owned by its k8s_cache; `obj` is a k8s_json_clone block. */
typedef struct {
    char *key;        /* "namespace/name", or "name" for cluster-scoped kinds; heap */
    size_t klen;
    int owner;        /* index of the watch that delivered it: a relist replaces only its own */
    k8s_json *obj;
} k8s_object;

/* Objects by kind, keyed by k8s_object.key. Not locked itself: the provider guards it with its
 * mutex; unit tests use it from one thread. */
typedef struct {
    odin_map objs[K8S_RES_COUNT];
} k8s_cache;

void k8s_cache_init(k8s_cache *c);
void k8s_cache_fini(k8s_cache *c);
/* Stores a clone of obj (metadata.managedFields dropped) under its namespace/name; replaces an
 * older version. Objects without metadata.name are ignored (returns false). */
bool k8s_cache_put(k8s_cache *c, k8s_resource r, int owner, const k8s_json *obj);
/* Removes the object named by obj's metadata; false when it was not there. */
bool k8s_cache_del(k8s_cache *c, k8s_resource r, const k8s_json *obj);
/* Removes every object of kind r that `owner` delivered (before a relist replaces them). */
void k8s_cache_drop_owner(k8s_cache *c, k8s_resource r, int owner);
/* Replaces the objects `owner` delivered with those in fresh->objs[r] (moved, fresh's map is left
 * empty): the atomic swap of a completed relist. */
void k8s_cache_replace_owner(k8s_cache *c, k8s_resource r, int owner, k8s_cache *fresh);
/* Looks up "ns/name" (ns NULL for cluster-scoped kinds); NULL when unknown. */
const k8s_json *k8s_cache_find(const k8s_cache *c, k8s_resource r, odin_str ns, odin_str name);

/* ---- Roles -------------------------------------------------------------------------------------- */

typedef struct {
    bool attach_node;      /* attach_metadata.node: node labels on pod/endpoints targets */
    bool attach_namespace; /* attach_metadata.namespace: namespace labels on groups */
} k8s_build_opts;

/* Which resources a role watches: bit (1u << k8s_resource) set for each. */
unsigned k8s_role_resources(discovery_k8s_role role, const k8s_build_opts *o);

/* Builds the complete group list of `role` from the cache, as Prometheus' role discoverers would,
 * with every string and array allocated from `a`. Groups are in no particular order. Returns 0, or
 * -ODIN_ERR_LIMIT when the arena's cap is crossed. */
int k8s_build_groups(discovery_k8s_role role, const k8s_cache *c, const k8s_build_opts *o,
                     odin_arena *a, discovery_group **out, size_t *n, odin_err *err);

/* Appends strutil.SanitizeLabelName(name): every character outside [a-zA-Z0-9_] becomes one '_'.
 * Matches Prometheus: Go's regexp works on runes, so a multi-byte UTF-8 character gives one '_'
 * and each byte of invalid UTF-8 gives one. */
void k8s_sanitize_label_name(odin_strbuf *b, odin_str name);

/* ---- Client settings ---------------------------------------------------------------------------- */

/* Where and how to reach the API server; owned by the provider, fixed after start. Secrets are
 * read from files at each request (a rotated token is picked up) and never logged. */
typedef struct {
    char *base_url;            /* "https://10.0.0.1:443", no trailing slash */
    char *ca_file, *cert_file, *key_file;
    char *ca_pem, *cert_pem, *key_pem;
    bool insecure_skip_verify;
    char *min_version;
    char *proxy_url;
    bool follow_redirects;
    bool has_basic_auth;
    char *basic_username, *basic_username_file, *basic_password, *basic_password_file;
    bool has_authorization;
    char *auth_type;           /* default "Bearer" */
    char *auth_credentials, *auth_credentials_file;
    char *own_namespace;       /* in-cluster only: the pod's namespace, else NULL */
} k8s_client;

/* Fills cl from cfg: api_server plus its HTTP client settings, or the in-cluster service account
 * when api_server is NULL. `sa_dir` is the service account directory
 * (K8S_SERVICEACCOUNT_DIR in production) and `getenv_fn` reads KUBERNETES_SERVICE_HOST/PORT
 * (getenv in production); both are parameters so tests can point them elsewhere.
 * With kubeconfig_file set, the settings come from that file instead (k8s_client_from_kubeconfig).
 * Errors: ODIN_ERR_INVALID (no in-cluster environment, unusable kubeconfig), ODIN_ERR_IO (namespace
 * or kubeconfig file unreadable), ODIN_ERR_PARSE (kubeconfig YAML). */
int k8s_client_init(k8s_client *cl, const discovery_k8s_config *cfg, const char *sa_dir,
                    const char *(*getenv_fn)(const char *), odin_err *err);
void k8s_client_fini(k8s_client *cl);

/* Fills cl from the current context of the kubeconfig at `path` (kubeconfig.c): its cluster's
 * server, certificate authority (file or data) and insecure-skip-tls-verify, and its user's client
 * certificate and key (file or data), token or tokenFile, or username and password. Relative file
 * names are relative to the kubeconfig's directory. Errors name the file and, for YAML, the line;
 * exec and auth-provider plugins are ODIN_ERR_INVALID. On error cl may be partly filled: the caller
 * finishes it with k8s_client_fini. */
int k8s_client_from_kubeconfig(k8s_client *cl, const char *path, odin_err *err);

#define K8S_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* ---- Provider ----------------------------------------------------------------------------------- */

typedef struct k8s_provider k8s_provider;

typedef void (*k8s_update_fn)(void *ctx, const discovery_group *groups, size_t n);

/* Starts discovery for cfg (borrowed during the call; what is kept is copied). `update` is called
 * from the provider's builder thread with the complete current list of groups once every watch has
 * listed, then whenever the list changes; never two calls at once, never after stop returns.
 * NULL with err on a bad config (see k8s_client_init). */
k8s_provider *k8s_provider_start(const discovery_k8s_config *cfg, k8s_update_fn update,
                                 void *ctx, odin_err *err);
/* Cancels transfers in flight, joins every thread and frees the provider. NULL is fine. */
void k8s_provider_stop(k8s_provider *p);

/* The provider.h face of the above: cfg is a const discovery_k8s_config *. */
extern const discovery_provider_ops discovery_kubernetes_ops;

/* ---- Provider internals (kubernetes.c, kubernetes_watch.c) ---------------------------------------- */

/* One list/watch loop: a resource kind in one namespace (or all). Owned by its provider. */
typedef struct k8s_watch {
    /* fixed after start */
    struct k8s_provider *p;
    int index;                    /* cache owner id */
    k8s_resource res;
    char *ns;                     /* NULL: all namespaces (or cluster-scoped) */
    char *label_selector;         /* NULL: none */
    char *field_selector;
    pthread_t thread;
    bool started;
    /* guarded by p->lock */
    bool synced;                  /* listed at least once */
    /* used by the watch's own thread only */
    char *rv;                     /* resourceVersion to watch from, heap */
    bool failing;                 /* last attempt failed (logged once per state change) */
    char last_err[256];           /* the failure last logged */
    int64_t backoff_ms;
} k8s_watch;

struct k8s_provider {
    discovery_provider base;      /* first, for provider.h */
    /* fixed after start */
    discovery_k8s_role role;
    k8s_build_opts opts;
    k8s_client client;
    k8s_update_fn update;
    void *ctx;
    k8s_watch *watches;
    size_t nwatches;
    pthread_t builder;
    bool builder_started;
    /* set once by stop; read without the lock by transfer callbacks (seq_cst) */
    atomic_bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t cond;          /* signalled on dirty, sync and stop */
    /* guarded by lock */
    k8s_cache cache;
    bool dirty;
};

/* Runs a watch's list/watch loop until the provider stops; the thread entry point. */
void *k8s_watch_main(void *arg);
/* Waits up to ms or until the provider stops; returns false when stopping. */
bool k8s_provider_sleep(k8s_provider *p, int64_t ms);

#endif

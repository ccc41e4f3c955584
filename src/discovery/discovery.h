/* Service discovery: turns static lists, files and the Kubernetes API into target groups, each a
 * list of addresses with labels (__address__ and __meta_* as Prometheus makes them), and tells the
 * scrape manager (or the notifier) whenever a job's groups change.
 *
 * Threads: the manager runs each provider on its own thread and calls the update callback from
 * those threads, serialized by the manager's lock; the callback must copy what it keeps.
 * Ownership: configs are owned by the caller (the loaded prometheus.yml) and borrowed until the
 * next apply or free; groups passed to the callback are valid only during the call. */
#ifndef ODIN_DISCOVERY_DISCOVERY_H
#define ODIN_DISCOVERY_DISCOVERY_H

#include "base/base.h"
#include "http/http.h"

/* A target group: addresses sharing labels. For static_configs, labels are the group's `labels`;
 * for discovered groups, each target carries its own labels (targets[i] is the __address__ and
 * target_labels[i] its full label set) as Prometheus' targetgroup.Group does. */
typedef struct {
    char **targets;             /* __address__ values */
    size_t ntargets;
    odin_label **target_labels; /* per target extra labels (may be NULL), owned */
    size_t *ntarget_labels;
    odin_label *labels;         /* group labels, owned strings */
    size_t nlabels;
    char *source;               /* unique id of the group within its provider */
} discovery_group;

void discovery_group_fini(discovery_group *g);

typedef struct {
    char **files;               /* globs */
    size_t nfiles;
    int64_t refresh_interval_ms; /* default 5m */
} discovery_file_config;

typedef enum {
    DISCOVERY_K8S_NODE, DISCOVERY_K8S_POD, DISCOVERY_K8S_SERVICE, DISCOVERY_K8S_ENDPOINTS,
    DISCOVERY_K8S_ENDPOINTSLICE, DISCOVERY_K8S_INGRESS,
} discovery_k8s_role;

typedef struct {
    char *role, *label, *field;
} discovery_k8s_selector;

typedef struct {
    discovery_k8s_role role;
    char *api_server;           /* NULL: in-cluster (service account token and CA, env host/port) */
    char **namespaces;          /* namespaces.names; none = all */
    size_t nnamespaces;
    bool own_namespace;
    discovery_k8s_selector *selectors;
    size_t nselectors;
    bool attach_node_metadata;
    http_client_config http;
    char *kubeconfig_file;      /* NULL: api_server or in-cluster; exclusive with api_server */
    bool attach_namespace_metadata; /* attach_metadata.namespace */
} discovery_k8s_config;

/* Everything a job (or an alertmanager set) discovers from. */
typedef struct {
    discovery_group *static_groups;
    size_t nstatic;
    discovery_file_config *files;
    size_t nfiles;
    discovery_k8s_config *k8s;
    size_t nk8s;
} discovery_config;

void discovery_config_fini(discovery_config *c);

typedef struct discovery_manager discovery_manager;

/* Called with the full current list of groups of one named set (a job) whenever it changes. */
typedef void (*discovery_update_fn)(void *ctx, const char *set_name, const discovery_group *groups,
                                    size_t n);

discovery_manager *discovery_manager_new(discovery_update_fn fn, void *ctx);
/* Replaces the sets being discovered: names[i] discovers from cfgs[i]. Unchanged sets keep running;
 * static groups are reported at once. */
int discovery_manager_apply(discovery_manager *m, const char *const *names,
                            const discovery_config *const *cfgs, size_t n, odin_err *err);
void discovery_manager_free(discovery_manager *m);

#endif

/* Decoding of service discovery settings inside a job or an alertmanager set: static_configs,
 * file_sd_configs and kubernetes_sd_configs with Prometheus' checks; the other SD mechanisms
 * Prometheus has are refused as not supported. */
#include "scrape/config_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- static_configs -------------------------------------------------------------------------- */

typedef struct {
    char **targets;
    size_t ntargets;
    odin_label *labels;
    size_t nlabels;
} static_group;

static int dec_group_labels(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    static_group *g = obj;
    return scrape_dec_labels(d, n, true, &g->labels, &g->nlabels);
}

static const scrape_field group_fields[] = {
    {"targets", SCRAPE_F_STRINGS, offsetof(static_group, targets), offsetof(static_group, ntargets),
     NULL},
    {"labels", SCRAPE_F_FN, 0, 0, dec_group_labels},
};

static int dec_static(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    discovery_config *sd = obj;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SEQ) {
        return scrape_dec_fail(d, n, "expected a list of target groups");
    }
    sd->static_groups =
        odin_realloc(sd->static_groups, (sd->nstatic + n->n + 1) * sizeof(*sd->static_groups));
    for (size_t i = 0; i < n->n; i++) {
        static_group g = {0};
        scrape_fieldset fs = {group_fields, ODIN_ARRAY_LEN(group_fields), &g, 0};
        size_t old = scrape_dec_push_index(d, i);
        int rc = scrape_dec_fields(d, n->v[i], "static config", &fs, 1);
        scrape_dec_pop(d, old);
        discovery_group *dg = &sd->static_groups[sd->nstatic++];
        *dg = (discovery_group){
            .targets = g.targets, .ntargets = g.ntargets, .labels = g.labels, .nlabels = g.nlabels};
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        odin_strbuf_put_u64(&b, sd->nstatic - 1); /* matches Prometheus: source is the index */
        dg->source = odin_strbuf_take(&b, NULL);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- file_sd_configs ------------------------------------------------------------------------- */

static const scrape_field file_fields[] = {
    {"files", SCRAPE_F_STRINGS, offsetof(discovery_file_config, files),
     offsetof(discovery_file_config, nfiles), NULL},
    {"refresh_interval", SCRAPE_F_DURATION, offsetof(discovery_file_config, refresh_interval_ms), 0,
     NULL},
};

/* Prometheus' patFileSDName: at most one '*' and only in the last path element; a json or yaml
 * extension. */
static bool file_sd_name_ok(const char *s)
{
    const char *star = strchr(s, '*');
    if (star && (strchr(star + 1, '*') || strchr(star, '/'))) {
        return false;
    }
    static const char *const exts[] = {".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"};
    odin_str str = odin_str_c(s);
    for (size_t i = 0; i < ODIN_ARRAY_LEN(exts); i++) {
        if (odin_str_has_suffix(str, exts[i])) {
            return true;
        }
    }
    return false;
}

static int dec_file_one(scrape_dec *d, const odin_yaml_node *n, discovery_file_config *f)
{
    f->refresh_interval_ms = 5 * 60 * 1000;
    scrape_fieldset fs = {file_fields, ODIN_ARRAY_LEN(file_fields), f, 0};
    int rc = scrape_dec_fields(d, n, "file_sd config", &fs, 1);
    if (rc < 0) {
        return rc;
    }
    if (f->nfiles == 0) {
        return scrape_dec_fail(d, n,
                               "file service discovery config must contain at least one "
                               "path name");
    }
    for (size_t i = 0; i < f->nfiles; i++) {
        if (!file_sd_name_ok(f->files[i])) {
            return scrape_dec_fail(d, n,
                                   "path name \"%.64s\" is not valid for file discovery "
                                   "(want *.json, *.yml or *.yaml)",
                                   f->files[i]);
        }
    }
    return 0;
}

static int dec_files(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    discovery_config *sd = obj;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SEQ) {
        return scrape_dec_fail(d, n, "expected a list of file_sd configs");
    }
    sd->files = odin_realloc(sd->files, (sd->nfiles + n->n + 1) * sizeof(*sd->files));
    for (size_t i = 0; i < n->n; i++) {
        discovery_file_config *f = &sd->files[sd->nfiles++];
        *f = (discovery_file_config){0};
        size_t old = scrape_dec_push_index(d, i);
        int rc = dec_file_one(d, n->v[i], f);
        scrape_dec_pop(d, old);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- kubernetes_sd_configs ------------------------------------------------------------------- */

static const char *const k8s_roles[] = {
    [DISCOVERY_K8S_NODE] = "node",
    [DISCOVERY_K8S_POD] = "pod",
    [DISCOVERY_K8S_SERVICE] = "service",
    [DISCOVERY_K8S_ENDPOINTS] = "endpoints",
    [DISCOVERY_K8S_ENDPOINTSLICE] = "endpointslice",
    [DISCOVERY_K8S_INGRESS] = "ingress",
};

static int k8s_role_parse(const char *s)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(k8s_roles); i++) {
        if (strcmp(s, k8s_roles[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

typedef struct {
    discovery_k8s_config k;
    scrape_cfg_http hd;
    bool has_role;
} k8s_dec;

static int dec_role(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    k8s_dec *kd = obj;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    int r = n->kind == ODIN_YAML_SCALAR ? k8s_role_parse(n->s) : -1;
    if (r < 0) {
        return scrape_dec_fail(d, n, "unknown Kubernetes SD role \"%.64s\"",
                               n->kind == ODIN_YAML_SCALAR ? n->s : "");
    }
    kd->k.role = (discovery_k8s_role)r;
    kd->has_role = true;
    return 0;
}

#define K8S(field) offsetof(k8s_dec, k.field)

static const scrape_field ns_fields[] = {
    {"own_namespace", SCRAPE_F_BOOL, K8S(own_namespace), 0, NULL},
    {"names", SCRAPE_F_STRINGS, K8S(namespaces), K8S(nnamespaces), NULL},
};

static int dec_namespaces(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_fieldset fs = {ns_fields, ODIN_ARRAY_LEN(ns_fields), obj, 0};
    return scrape_dec_fields(d, n, "namespaces", &fs, 1);
}

static const scrape_field meta_fields[] = {
    {"node", SCRAPE_F_BOOL, K8S(attach_node_metadata), 0, NULL},
    {"namespace", SCRAPE_F_BOOL, K8S(attach_namespace_metadata), 0, NULL},
    {"deployment", SCRAPE_F_REJECT, 0, 0, NULL},
    {"job", SCRAPE_F_REJECT, 0, 0, NULL},
    {"cronjob", SCRAPE_F_REJECT, 0, 0, NULL},
};

static int dec_meta(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_fieldset fs = {meta_fields, ODIN_ARRAY_LEN(meta_fields), obj, 0};
    return scrape_dec_fields(d, n, "attach_metadata", &fs, 1);
}

#define SEL(field) offsetof(discovery_k8s_selector, field)

static const scrape_field sel_fields[] = {
    {"role", SCRAPE_F_STRING, SEL(role), 0, NULL},
    {"label", SCRAPE_F_STRING, SEL(label), 0, NULL},
    {"field", SCRAPE_F_STRING, SEL(field), 0, NULL},
};

static int dec_selectors(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    discovery_k8s_config *k = &((k8s_dec *)obj)->k;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SEQ) {
        return scrape_dec_fail(d, n, "expected a list of selectors");
    }
    k->selectors = odin_calloc(n->n + 1, sizeof(*k->selectors));
    for (size_t i = 0; i < n->n; i++) {
        discovery_k8s_selector *s = &k->selectors[k->nselectors++];
        scrape_fieldset fs = {sel_fields, ODIN_ARRAY_LEN(sel_fields), s, 0};
        size_t old = scrape_dec_push_index(d, i);
        int rc = scrape_dec_fields(d, n->v[i], "selector", &fs, 1);
        if (rc == 0 && (s->role == NULL || k8s_role_parse(s->role) < 0)) {
            rc = scrape_dec_fail(d, n->v[i],
                                 "selector role \"%.64s\" is not one of pod, "
                                 "service, endpoints, endpointslice, node, ingress",
                                 s->role ? s->role : "");
        }
        scrape_dec_pop(d, old);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static const scrape_field k8s_fields[] = {
    {"role", SCRAPE_F_FN, 0, 0, dec_role},
    {"api_server", SCRAPE_F_STRING, K8S(api_server), 0, NULL},
    {"kubeconfig_file", SCRAPE_F_STRING, K8S(kubeconfig_file), 0, NULL},
    {"namespaces", SCRAPE_F_FN, 0, 0, dec_namespaces},
    {"selectors", SCRAPE_F_FN, 0, 0, dec_selectors},
    {"attach_metadata", SCRAPE_F_FN, 0, 0, dec_meta},
};

/* Which selector roles each role accepts (Prometheus' allowedSelectors). */
static bool selector_allowed(discovery_k8s_role role, int sel)
{
    switch (role) {
    case DISCOVERY_K8S_POD:
        return sel == DISCOVERY_K8S_POD || sel == DISCOVERY_K8S_NODE;
    case DISCOVERY_K8S_ENDPOINTS:
    case DISCOVERY_K8S_ENDPOINTSLICE:
        return sel == DISCOVERY_K8S_POD || sel == DISCOVERY_K8S_SERVICE || sel == (int)role;
    default:
        return sel == (int)role;
    }
}

static int k8s_validate(scrape_dec *d, const odin_yaml_node *n, const k8s_dec *kd)
{
    const discovery_k8s_config *k = &kd->k;
    bool api = k->api_server && *k->api_server, kc = k->kubeconfig_file && *k->kubeconfig_file;
    if (!kd->has_role) {
        return scrape_dec_fail(d, n,
                               "role missing (one of: pod, service, endpoints, "
                               "endpointslice, node, ingress)");
    }
    if (api && kc) {
        return scrape_dec_fail(d, n,
                               "cannot use 'kubeconfig_file' and 'api_server' "
                               "simultaneously");
    }
    bool custom = scrape_cfg_http_customized(&k->http);
    if (kc && custom) {
        return scrape_dec_fail(d, n,
                               "cannot use a custom HTTP client configuration together "
                               "with 'kubeconfig_file'");
    }
    if (!api && !kc && custom) {
        return scrape_dec_fail(d, n,
                               "to use custom HTTP client configuration please provide the "
                               "'api_server' URL explicitly");
    }
    if ((api || kc) && k->own_namespace) {
        return scrape_dec_fail(d, n,
                               "cannot use '%s' and 'namespaces.own_namespace' "
                               "simultaneously",
                               api ? "api_server" : "kubeconfig_file");
    }
    for (size_t i = 0; i < k->nselectors; i++) {
        int sel = k8s_role_parse(k->selectors[i].role);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(k->selectors[j].role, k->selectors[i].role) == 0) {
                return scrape_dec_fail(d, n, "duplicated selector role: %s", k->selectors[i].role);
            }
        }
        if (!selector_allowed(k->role, sel)) {
            return scrape_dec_fail(d, n, "%s role does not support %s selectors",
                                   k8s_roles[k->role], k->selectors[i].role);
        }
    }
    return 0;
}

static int dec_k8s_one(scrape_dec *d, const odin_yaml_node *n, discovery_k8s_config *out)
{
    k8s_dec kd = {0};
    scrape_cfg_http_init(&kd.hd, true);
    scrape_fieldset sets[] = {
        {k8s_fields, ODIN_ARRAY_LEN(k8s_fields), &kd, 0},
        {scrape_cfg_http_fields, scrape_cfg_nhttp_fields, &kd.hd, 0},
    };
    int rc = scrape_dec_fields(d, n, "kubernetes_sd config", sets, ODIN_ARRAY_LEN(sets));
    if (rc == 0) {
        rc = scrape_cfg_http_finish(d, n, &kd.hd, &kd.k.http);
    } else {
        free(kd.hd.bearer_token);
        free(kd.hd.bearer_token_file);
        http_client_config_fini(&kd.hd.h);
    }
    if (rc == 0) {
        rc = k8s_validate(d, n, &kd);
    }
    *out = kd.k; /* freed with the job, also on failure */
    return rc;
}

static int dec_k8s(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    discovery_config *sd = obj;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SEQ) {
        return scrape_dec_fail(d, n, "expected a list of kubernetes_sd configs");
    }
    sd->k8s = odin_realloc(sd->k8s, (sd->nk8s + n->n + 1) * sizeof(*sd->k8s));
    for (size_t i = 0; i < n->n; i++) {
        size_t old = scrape_dec_push_index(d, i);
        int rc = dec_k8s_one(d, n->v[i], &sd->k8s[sd->nk8s++]);
        scrape_dec_pop(d, old);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

const scrape_field scrape_sd_fields[] = {
    {"static_configs", SCRAPE_F_FN, 0, 0, dec_static},
    {"file_sd_configs", SCRAPE_F_FN, 0, 0, dec_files},
    {"kubernetes_sd_configs", SCRAPE_F_FN, 0, 0, dec_k8s},
    {"azure_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"consul_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"digitalocean_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"docker_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"dockerswarm_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"dns_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"ec2_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"eureka_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"gce_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"hetzner_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"http_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"ionos_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"kuma_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"lightsail_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"linode_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"marathon_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"nerve_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"nomad_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"openstack_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"ovhcloud_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"puppetdb_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"scaleway_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"serverset_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"stackit_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"triton_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"uyuni_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
    {"vultr_sd_configs", SCRAPE_F_REJECT, 0, 0, NULL},
};
const size_t scrape_nsd_fields = ODIN_ARRAY_LEN(scrape_sd_fields);

/* Prometheus refuses URLs as static targets unless relabeling could rewrite them. */
int scrape_sd_finish(scrape_dec *d, const odin_yaml_node *n, discovery_config *sd, bool has_relabel)
{
    (void)sd;
    const odin_yaml_node *st = odin_yaml_get(n, "static_configs");
    if (has_relabel || st == NULL || st->kind != ODIN_YAML_SEQ) {
        return 0;
    }
    for (size_t i = 0; i < st->n; i++) {
        const odin_yaml_node *t = odin_yaml_get(st->v[i], "targets");
        for (size_t j = 0; t && t->kind == ODIN_YAML_SEQ && j < t->n; j++) {
            const odin_yaml_node *x = t->v[j];
            if (x->kind == ODIN_YAML_SCALAR && memchr(x->s, '/', x->len)) {
                size_t o1 = scrape_dec_push_key(d, "static_configs");
                scrape_dec_push_index(d, i);
                scrape_dec_push_key(d, "targets");
                scrape_dec_push_index(d, j);
                int rc = scrape_dec_fail(d, x, "\"%.64s\" is not a valid hostname", x->s);
                scrape_dec_pop(d, o1);
                return rc;
            }
        }
    }
    return 0;
}

/* Target groups for each Kubernetes SD role (node, pod, service, endpoints, endpointslice,
 * ingress) built from the provider's cache, with exactly the __meta_kubernetes_* labels and group
 * sources Prometheus' discovery/kubernetes makes (matches Prometheus 3.x, main of 2026-08). */
#include <stdlib.h>
#include <string.h>

#include "discovery/kubernetes.h"

#define META "__meta_kubernetes_"

/* ---- Label set scratch ----------------------------------------------------------------------
 * A label set under construction: a heap vector reused across targets; names and values point at
 * literals or at arena copies, never at the cache (which changes once the lock is dropped). */

typedef struct {
    odin_arena *a;
    bool *oom;
    odin_label *v;
    size_t n, cap;
} lset;

static odin_str arena_str(odin_arena *a, bool *oom, odin_str s)
{
    char *p = odin_arena_strndup(a, s.p != NULL ? s.p : "", s.len);
    if (p == NULL) {
        *oom = true;
        return (odin_str){"", 0};
    }
    return (odin_str){p, s.len};
}

/* Sets name (borrowed: a literal or arena text) to a copy of value; a later set wins, as Go's
 * map assignment and LabelSet.Merge do. */
static void ls_set(lset *l, odin_str name, odin_str value)
{
    odin_str v = arena_str(l->a, l->oom, value);
    for (size_t i = 0; i < l->n; i++) {
        if (odin_str_eq(l->v[i].name, name)) {
            l->v[i].value = v;
            return;
        }
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->v = odin_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (odin_label){name, v};
}

static void ls_setc(lset *l, const char *name, odin_str value)
{
    ls_set(l, odin_str_c(name), value);
}

static void ls_setcc(lset *l, const char *name, const char *value)
{
    ls_set(l, odin_str_c(name), odin_str_c(value));
}

/* Copies the other set's labels into l (LabelSet.Merge: the other's values win). */
static void ls_merge(lset *l, const lset *other)
{
    for (size_t i = 0; i < other->n; i++) {
        ls_set(l, other->v[i].name, other->v[i].value);
    }
}

void k8s_sanitize_label_name(odin_strbuf *b, odin_str name)
{
    size_t i = 0;
    while (i < name.len) {
        unsigned char c = (unsigned char)name.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_';
        if (ok) {
            odin_strbuf_putc(b, (char)c);
            i++;
            continue;
        }
        odin_strbuf_putc(b, '_');
        /* one '_' per rune: skip a whole valid UTF-8 sequence, or one byte of an invalid one */
        size_t len = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 1;
        if (c >= 0xF5 || i + len > name.len) {
            len = 1;
        }
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)name.p[i + k] & 0xC0) != 0x80) {
                len = 1;
                break;
            }
        }
        i += len;
    }
}

/* prefix + sanitized(name) as an arena string. */
static odin_str label_name(lset *l, const char *prefix, odin_str name)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_puts(&b, prefix);
    k8s_sanitize_label_name(&b, name);
    odin_str out = arena_str(l->a, l->oom, (odin_str){b.p, b.len});
    odin_strbuf_fini(&b);
    return out;
}

/* addObjectAnnotationsAndLabels: <kind>_label_*, _labelpresent_*, _annotation_*,
 * _annotationpresent_* from metadata.labels and metadata.annotations. */
static void ls_object_labels(lset *l, const char *kind, const k8s_json *meta)
{
    static const char *const which[] = {"labels", "annotations"};
    static const char *const singular[] = {"label", "annotation"};
    for (size_t w = 0; w < 2; w++) {
        const k8s_json *m = k8s_json_get(meta, which[w]);
        for (size_t i = 0; i < k8s_json_len(m, K8S_JSON_OBJECT); i++) {
            char prefix[96];
            odin_strbuf pb;
            odin_strbuf_init(&pb, sizeof prefix);
            odin_strbuf_printf(&pb, META "%s_%s_", kind, singular[w]);
            ls_set(l, label_name(l, pb.p, m->keys[i]), k8s_json_str(&m->v[i]));
            odin_strbuf_reset(&pb);
            odin_strbuf_printf(&pb, META "%s_%spresent_", kind, singular[w]);
            ls_set(l, label_name(l, pb.p, m->keys[i]), ODIN_STR("true"));
            odin_strbuf_fini(&pb);
        }
    }
}

/* addObjectMetaLabels: <kind>_name plus labels and annotations. */
static void ls_object_meta(lset *l, const char *kind, const k8s_json *obj)
{
    const k8s_json *meta = k8s_json_get(obj, "metadata");
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b, META "%s_name", kind);
    ls_set(l, arena_str(l->a, l->oom, (odin_str){b.p, b.len}),
           k8s_json_str(k8s_json_get(meta, "name")));
    odin_strbuf_fini(&b);
    ls_object_labels(l, kind, meta);
}

/* ---- Group scratch ------------------------------------------------------------------------------ */

typedef struct {
    odin_arena *a;
    bool oom;
    discovery_group *groups; /* heap vector; copied into the arena at the end */
    size_t ngroups, gcap;
    char **targets;          /* current group's targets, heap vectors */
    odin_label **tlabels;
    size_t *ntlabels;
    size_t nt, tcap;
    lset glabels;            /* current group's labels */
    lset t;                  /* target being built */
    lset extra;              /* pod / node / namespace labels to merge */
    const k8s_cache *c;
    const k8s_build_opts *o;
} gbuild;

static void gb_begin(gbuild *b, const char *kind, odin_str ns, odin_str name)
{
    b->nt = 0;
    b->glabels.n = 0;
    if (b->ngroups == b->gcap) {
        b->gcap = b->gcap ? b->gcap * 2 : 64;
        b->groups = odin_realloc(b->groups, b->gcap * sizeof *b->groups);
    }
    discovery_group *g = &b->groups[b->ngroups++];
    memset(g, 0, sizeof *g);
    g->source = ns.p != NULL
                    ? odin_arena_printf(b->a, "%s/%.*s/%.*s", kind, (int)ns.len, ns.p,
                                        (int)name.len, name.p)
                    : odin_arena_printf(b->a, "%s/%.*s", kind, (int)name.len, name.p);
    if (g->source == NULL) {
        b->oom = true;
    }
}

static odin_label *commit_labels(gbuild *b, const lset *l)
{
    if (l->n == 0) {
        return NULL;
    }
    odin_label *v = odin_arena_alloc(b->a, l->n * sizeof *v);
    if (v == NULL) {
        b->oom = true;
        return NULL;
    }
    memcpy(v, l->v, l->n * sizeof *v);
    return v;
}

/* Adds the target in b->t (its __address__ among its labels) to the current group. */
static void gb_add_target(gbuild *b)
{
    if (b->nt == b->tcap) {
        b->tcap = b->tcap ? b->tcap * 2 : 16;
        b->targets = odin_realloc(b->targets, b->tcap * sizeof *b->targets);
        b->tlabels = odin_realloc(b->tlabels, b->tcap * sizeof *b->tlabels);
        b->ntlabels = odin_realloc(b->ntlabels, b->tcap * sizeof *b->ntlabels);
    }
    const odin_str *addr = NULL;
    for (size_t i = 0; i < b->t.n; i++) {
        if (odin_str_eq_c(b->t.v[i].name, "__address__")) {
            addr = &b->t.v[i].value;
        }
    }
    b->targets[b->nt] = addr != NULL ? (char *)addr->p : "";
    b->tlabels[b->nt] = commit_labels(b, &b->t);
    b->ntlabels[b->nt] = b->tlabels[b->nt] != NULL ? b->t.n : 0;
    b->nt++;
    b->t.n = 0;
}

static void gb_end(gbuild *b)
{
    discovery_group *g = &b->groups[b->ngroups - 1];
    g->labels = commit_labels(b, &b->glabels);
    g->nlabels = g->labels != NULL ? b->glabels.n : 0;
    b->glabels.n = 0;
    if (b->nt == 0) {
        return;
    }
    g->targets = odin_arena_alloc(b->a, b->nt * sizeof *g->targets);
    g->target_labels = odin_arena_alloc(b->a, b->nt * sizeof *g->target_labels);
    g->ntarget_labels = odin_arena_alloc(b->a, b->nt * sizeof *g->ntarget_labels);
    if (g->targets == NULL || g->target_labels == NULL || g->ntarget_labels == NULL) {
        b->oom = true;
        memset(g, 0, sizeof *g);
        return;
    }
    memcpy(g->targets, b->targets, b->nt * sizeof *g->targets);
    memcpy(g->target_labels, b->tlabels, b->nt * sizeof *g->target_labels);
    memcpy(g->ntarget_labels, b->ntlabels, b->nt * sizeof *g->ntarget_labels);
    g->ntargets = b->nt;
}

/* ---- Helpers ------------------------------------------------------------------------------------ */

static odin_str meta_str(const k8s_json *obj, const char *field)
{
    return k8s_json_str(k8s_json_get(k8s_json_get(obj, "metadata"), field));
}

/* net.JoinHostPort(host, port) into the arena. */
static odin_str join_host_port(gbuild *b, odin_str host, int64_t port)
{
    bool v6 = memchr(host.p, ':', host.len) != NULL;
    char *s = odin_arena_printf(b->a, v6 ? "[%.*s]:%lld" : "%.*s:%lld", (int)host.len, host.p,
                                (long long)port);
    if (s == NULL) {
        b->oom = true;
        return (odin_str){"", 0};
    }
    return odin_str_c(s);
}

static odin_str num_str(gbuild *b, int64_t v)
{
    char *s = odin_arena_printf(b->a, "%lld", (long long)v);
    if (s == NULL) {
        b->oom = true;
        return (odin_str){"", 0};
    }
    return odin_str_c(s);
}

/* strings.ToLower for the ASCII these values use (condition types and statuses). */
static odin_str lower(gbuild *b, odin_str s)
{
    char *p = odin_arena_strndup(b->a, s.p, s.len);
    if (p == NULL) {
        b->oom = true;
        return (odin_str){"", 0};
    }
    for (size_t i = 0; i < s.len; i++) {
        if (p[i] >= 'A' && p[i] <= 'Z') {
            p[i] = (char)(p[i] - 'A' + 'a');
        }
    }
    return (odin_str){p, s.len};
}

/* addNamespaceLabels: when attach_metadata.namespace is on and the namespace is known. */
static void add_namespace_labels(gbuild *b, lset *l, odin_str ns)
{
    if (!b->o->attach_namespace) {
        return;
    }
    const k8s_json *n = k8s_cache_find(b->c, K8S_RES_NAMESPACES, (odin_str){NULL, 0}, ns);
    if (n != NULL) {
        ls_object_labels(l, "namespace", k8s_json_get(n, "metadata"));
    }
}

/* addNodeLabels: node_name and the node's labels and annotations, when the node is known. */
static void add_node_labels(gbuild *b, lset *l, odin_str node)
{
    const k8s_json *n = k8s_cache_find(b->c, K8S_RES_NODES, (odin_str){NULL, 0}, node);
    if (n != NULL) {
        b->extra.n = 0;
        ls_object_meta(&b->extra, "node", n);
        ls_merge(l, &b->extra);
    }
}

/* ---- node --------------------------------------------------------------------------------------- */

/* nodeAddress: the first address of the first type present in Prometheus' priority order. */
static const k8s_json *node_address(const k8s_json *addrs)
{
    static const char *const prio[] = {"InternalIP",   "InternalDNS", "ExternalIP",
                                       "ExternalDNS",  "LegacyHostIP", "Hostname"};
    for (size_t p = 0; p < ODIN_ARRAY_LEN(prio); p++) {
        for (size_t i = 0; i < k8s_json_len(addrs, K8S_JSON_ARRAY); i++) {
            if (odin_str_eq_c(k8s_json_str(k8s_json_get(&addrs->v[i], "type")), prio[p])) {
                return k8s_json_get(&addrs->v[i], "address");
            }
        }
    }
    return NULL;
}

static void build_node(gbuild *b, const k8s_json *node)
{
    odin_str name = meta_str(node, "name");
    const k8s_json *addrs = k8s_json_path(node, "status.addresses");
    const k8s_json *addr = node_address(addrs);
    if (addr == NULL) {
        /* Prometheus sends nothing for such a node; it is logged at debug: it repeats on every
         * rebuild and the node usually gains addresses moments later */
        if (odin_log_enabled(ODIN_LOG_DEBUG)) {
            char *n = odin_strndup(name.p, name.len);
            odin_log(ODIN_LOG_DEBUG, "discovery", "No node address found", "node", n, NULL);
            free(n);
        }
        return;
    }
    gb_begin(b, "node", (odin_str){NULL, 0}, name);
    lset *g = &b->glabels;
    ls_setc(g, META "node_provider_id", k8s_json_str(k8s_json_path(node, "spec.providerID")));
    const k8s_json *conds = k8s_json_path(node, "status.conditions");
    for (size_t i = 0; i < k8s_json_len(conds, K8S_JSON_ARRAY); i++) {
        odin_str type = lower(b, k8s_json_str(k8s_json_get(&conds->v[i], "type")));
        odin_str status = lower(b, k8s_json_str(k8s_json_get(&conds->v[i], "status")));
        ls_set(g, label_name(g, META "node_condition_", type), status);
    }
    ls_object_meta(g, "node", node);

    int64_t port = 0;
    k8s_json_i64(k8s_json_path(node, "status.daemonEndpoints.kubeletEndpoint.Port"), &port);
    ls_setc(&b->t, "__address__", join_host_port(b, k8s_json_str(addr), port));
    ls_setc(&b->t, "instance", name);
    /* the first address of each type */
    for (size_t i = k8s_json_len(addrs, K8S_JSON_ARRAY); i > 0; i--) {
        const k8s_json *a = &addrs->v[i - 1];
        odin_str ln = label_name(&b->t, META "node_address_", k8s_json_str(k8s_json_get(a, "type")));
        ls_set(&b->t, ln, k8s_json_str(k8s_json_get(a, "address")));
    }
    gb_add_target(b);
    gb_end(b);
}

/* ---- pod ---------------------------------------------------------------------------------------- */

static odin_str pod_ready(const k8s_json *pod)
{
    const k8s_json *conds = k8s_json_path(pod, "status.conditions");
    for (size_t i = 0; i < k8s_json_len(conds, K8S_JSON_ARRAY); i++) {
        if (odin_str_eq_c(k8s_json_str(k8s_json_get(&conds->v[i], "type")), "Ready")) {
            return k8s_json_str(k8s_json_get(&conds->v[i], "status"));
        }
    }
    return ODIN_STR("Unknown");
}

/* podLabels: everything a pod contributes to a target or group (not the namespace). */
static void pod_labels(gbuild *b, lset *l, const k8s_json *pod)
{
    ls_setc(l, META "pod_ip", k8s_json_str(k8s_json_path(pod, "status.podIP")));
    ls_setc(l, META "pod_ready", lower(b, pod_ready(pod)));
    ls_setc(l, META "pod_phase", k8s_json_str(k8s_json_path(pod, "status.phase")));
    ls_setc(l, META "pod_node_name", k8s_json_str(k8s_json_path(pod, "spec.nodeName")));
    ls_setc(l, META "pod_host_ip", k8s_json_str(k8s_json_path(pod, "status.hostIP")));
    ls_setc(l, META "pod_uid", meta_str(pod, "uid"));
    ls_object_meta(l, "pod", pod);
    const k8s_json *owners = k8s_json_path(pod, "metadata.ownerReferences");
    for (size_t i = 0; i < k8s_json_len(owners, K8S_JSON_ARRAY); i++) {
        const k8s_json *ref = &owners->v[i];
        if (!k8s_json_bool(k8s_json_get(ref, "controller"), NULL)) {
            continue;
        }
        odin_str kind = k8s_json_str(k8s_json_get(ref, "kind"));
        odin_str name = k8s_json_str(k8s_json_get(ref, "name"));
        if (kind.len > 0) {
            ls_setc(l, META "pod_controller_kind", kind);
        }
        if (name.len > 0) {
            ls_setc(l, META "pod_controller_name", name);
        }
        break;
    }
}

/* The i-th of spec.containers followed by spec.initContainers; NULL past the end. */
static const k8s_json *pod_container(const k8s_json *pod, size_t i, bool *init)
{
    const k8s_json *cs = k8s_json_path(pod, "spec.containers");
    const k8s_json *ics = k8s_json_path(pod, "spec.initContainers");
    size_t nc = k8s_json_len(cs, K8S_JSON_ARRAY);
    *init = i >= nc;
    if (i < nc) {
        return &cs->v[i];
    }
    i -= nc;
    return i < k8s_json_len(ics, K8S_JSON_ARRAY) ? &ics->v[i] : NULL;
}

static odin_str container_id(const k8s_json *pod, odin_str cname, bool init)
{
    const k8s_json *st =
        k8s_json_path(pod, init ? "status.initContainerStatuses" : "status.containerStatuses");
    for (size_t i = 0; i < k8s_json_len(st, K8S_JSON_ARRAY); i++) {
        if (odin_str_eq(k8s_json_str(k8s_json_get(&st->v[i], "name")), cname)) {
            return k8s_json_str(k8s_json_get(&st->v[i], "containerID"));
        }
    }
    return (odin_str){"", 0};
}

static void pod_container_labels(gbuild *b, const k8s_json *c, bool init)
{
    ls_setc(&b->t, META "pod_container_name", k8s_json_str(k8s_json_get(c, "name")));
    ls_setc(&b->t, META "pod_container_image", k8s_json_str(k8s_json_get(c, "image")));
    ls_setcc(&b->t, META "pod_container_init", init ? "true" : "false");
}

static void build_pod(gbuild *b, const k8s_json *pod)
{
    odin_str ns = meta_str(pod, "namespace");
    gb_begin(b, "pod", ns, meta_str(pod, "name"));
    odin_str ip = k8s_json_str(k8s_json_path(pod, "status.podIP"));
    odin_str node = k8s_json_str(k8s_json_path(pod, "spec.nodeName"));
    bool node_known =
        !b->o->attach_node ||
        k8s_cache_find(b->c, K8S_RES_NODES, (odin_str){NULL, 0}, node) != NULL;
    if (ip.len == 0 || !node_known) {
        gb_end(b); /* Prometheus keeps the group, empty, until the pod has an IP (and node) */
        return;
    }
    pod_labels(b, &b->glabels, pod);
    ls_setc(&b->glabels, META "namespace", ns);
    if (b->o->attach_node) {
        add_node_labels(b, &b->glabels, node);
    }
    add_namespace_labels(b, &b->glabels, ns);

    bool init;
    const k8s_json *c;
    for (size_t i = 0; (c = pod_container(pod, i, &init)) != NULL; i++) {
        odin_str cname = k8s_json_str(k8s_json_get(c, "name"));
        odin_str cid = container_id(pod, cname, init);
        const k8s_json *ports = k8s_json_get(c, "ports");
        size_t np = k8s_json_len(ports, K8S_JSON_ARRAY);
        if (np == 0) {
            ls_setc(&b->t, "__address__", ip);
            pod_container_labels(b, c, init);
            ls_setc(&b->t, META "pod_container_id", cid);
            gb_add_target(b);
            continue;
        }
        for (size_t p = 0; p < np; p++) {
            int64_t port = 0;
            k8s_json_i64(k8s_json_get(&ports->v[p], "containerPort"), &port);
            ls_setc(&b->t, "__address__", join_host_port(b, ip, port));
            pod_container_labels(b, c, init);
            ls_setc(&b->t, META "pod_container_id", cid);
            ls_setc(&b->t, META "pod_container_port_number", num_str(b, port));
            ls_setc(&b->t, META "pod_container_port_name",
                    k8s_json_str(k8s_json_get(&ports->v[p], "name")));
            ls_setc(&b->t, META "pod_container_port_protocol",
                    k8s_json_str(k8s_json_get(&ports->v[p], "protocol")));
            gb_add_target(b);
        }
    }
    gb_end(b);
}

/* ---- service ------------------------------------------------------------------------------------ */

static void service_labels(lset *l, const k8s_json *svc)
{
    ls_setc(l, META "namespace", meta_str(svc, "namespace"));
    ls_object_meta(l, "service", svc);
}

static odin_str lb_ips(gbuild *b, const k8s_json *svc)
{
    const k8s_json *ing = k8s_json_path(svc, "status.loadBalancer.ingress");
    odin_strbuf s;
    odin_strbuf_init(&s, 0);
    for (size_t i = 0; i < k8s_json_len(ing, K8S_JSON_ARRAY); i++) {
        odin_str ip = k8s_json_str(k8s_json_get(&ing->v[i], "ip"));
        if (ip.len > 0) {
            if (s.len > 0) {
                odin_strbuf_putc(&s, ',');
            }
            odin_strbuf_putstr(&s, ip);
        }
    }
    odin_str out = s.len > 0 ? arena_str(b->a, &b->oom, (odin_str){s.p, s.len})
                             : k8s_json_str(k8s_json_path(svc, "spec.loadBalancerIP"));
    odin_strbuf_fini(&s);
    return out;
}

static void build_service(gbuild *b, const k8s_json *svc)
{
    odin_str ns = meta_str(svc, "namespace");
    odin_str name = meta_str(svc, "name");
    gb_begin(b, "svc", ns, name);
    service_labels(&b->glabels, svc);
    add_namespace_labels(b, &b->glabels, ns);
    odin_str type = k8s_json_str(k8s_json_path(svc, "spec.type"));
    const k8s_json *ports = k8s_json_path(svc, "spec.ports");
    for (size_t i = 0; i < k8s_json_len(ports, K8S_JSON_ARRAY); i++) {
        const k8s_json *p = &ports->v[i];
        int64_t port = 0;
        k8s_json_i64(k8s_json_get(p, "port"), &port);
        char *host = odin_arena_printf(b->a, "%.*s.%.*s.svc", (int)name.len, name.p, (int)ns.len,
                                       ns.p);
        ls_setc(&b->t, "__address__", join_host_port(b, odin_str_c(host ? host : ""), port));
        ls_setc(&b->t, META "service_port_name", k8s_json_str(k8s_json_get(p, "name")));
        ls_setc(&b->t, META "service_port_number", num_str(b, port));
        ls_setc(&b->t, META "service_port_protocol", k8s_json_str(k8s_json_get(p, "protocol")));
        ls_setc(&b->t, META "service_type", type);
        if (odin_str_eq_c(type, "ExternalName")) {
            ls_setc(&b->t, META "service_external_name",
                    k8s_json_str(k8s_json_path(svc, "spec.externalName")));
        } else {
            ls_setc(&b->t, META "service_cluster_ip",
                    k8s_json_str(k8s_json_path(svc, "spec.clusterIP")));
        }
        if (odin_str_eq_c(type, "LoadBalancer")) {
            ls_setc(&b->t, META "service_loadbalancer_ip", lb_ips(b, svc));
        }
        gb_add_target(b);
    }
    gb_end(b);
}

/* ---- endpoints and endpointslice: shared pod handling ------------------------------------------ */

/* A pod an endpoint pointed at, and the ports it was seen with (seenPods in Prometheus). */
typedef struct {
    const k8s_json *pod;
    int64_t *ports;
    size_t nports;
} seen_pod;

typedef struct {
    seen_pod *v;
    size_t n;
} seen_pods;

static seen_pod *seen_get(seen_pods *s, const k8s_json *pod)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].pod == pod) {
            return &s->v[i];
        }
    }
    s->v = odin_realloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n] = (seen_pod){pod, NULL, 0};
    return &s->v[s->n++];
}

static void seen_add_port(seen_pod *sp, bool has_port, int64_t port)
{
    if (!has_port) {
        return; /* a port-less EndpointPort never matches a container port */
    }
    sp->ports = odin_realloc(sp->ports, (sp->nports + 1) * sizeof *sp->ports);
    sp->ports[sp->nports++] = port;
}

static void seen_free(seen_pods *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].ports);
    }
    free(s->v);
}

/* resolvePodRef: the pod a targetRef of kind Pod names, when known. */
static const k8s_json *resolve_pod(gbuild *b, const k8s_json *ref)
{
    if (!odin_str_eq_c(k8s_json_str(k8s_json_get(ref, "kind")), "Pod")) {
        return NULL;
    }
    return k8s_cache_find(b->c, K8S_RES_PODS, k8s_json_str(k8s_json_get(ref, "namespace")),
                          k8s_json_str(k8s_json_get(ref, "name")));
}

/* Merges the pod's labels into b->t and the container labels of the container port equal to
 * `port` (the last container wins, as Prometheus' inner-loop break leaves it). `proto` is the
 * protocol Prometheus reports: the endpoint's for endpoints, the container's for slices. */
static void endpoint_pod_labels(gbuild *b, const k8s_json *pod, bool has_port, int64_t port,
                                odin_str ep_proto, bool use_ep_proto)
{
    b->extra.n = 0;
    pod_labels(b, &b->extra, pod);
    ls_merge(&b->t, &b->extra);
    bool init;
    const k8s_json *c;
    for (size_t i = 0; has_port && (c = pod_container(pod, i, &init)) != NULL; i++) {
        const k8s_json *ports = k8s_json_get(c, "ports");
        for (size_t p = 0; p < k8s_json_len(ports, K8S_JSON_ARRAY); p++) {
            int64_t cport = 0;
            k8s_json_i64(k8s_json_get(&ports->v[p], "containerPort"), &cport);
            if (cport != port) {
                continue;
            }
            pod_container_labels(b, c, init);
            ls_setc(&b->t, META "pod_container_port_name",
                    k8s_json_str(k8s_json_get(&ports->v[p], "name")));
            ls_setc(&b->t, META "pod_container_port_number", num_str(b, port));
            ls_setc(&b->t, META "pod_container_port_protocol",
                    use_ep_proto ? ep_proto : k8s_json_str(k8s_json_get(&ports->v[p], "protocol")));
            break;
        }
    }
}

/* Targets for the container ports of seen pods that no endpoint port covered. */
static void seen_pod_targets(gbuild *b, const seen_pods *s)
{
    for (size_t k = 0; k < s->n; k++) {
        const seen_pod *sp = &s->v[k];
        odin_str ip = k8s_json_str(k8s_json_path(sp->pod, "status.podIP"));
        if (ip.len == 0) {
            continue;
        }
        bool init;
        const k8s_json *c;
        for (size_t i = 0; (c = pod_container(sp->pod, i, &init)) != NULL; i++) {
            const k8s_json *ports = k8s_json_get(c, "ports");
            for (size_t p = 0; p < k8s_json_len(ports, K8S_JSON_ARRAY); p++) {
                int64_t cport = 0;
                k8s_json_i64(k8s_json_get(&ports->v[p], "containerPort"), &cport);
                bool seen = false;
                for (size_t j = 0; j < sp->nports && !seen; j++) {
                    seen = sp->ports[j] == cport;
                }
                if (seen) {
                    continue;
                }
                ls_setc(&b->t, "__address__", join_host_port(b, ip, cport));
                pod_container_labels(b, c, init);
                ls_setc(&b->t, META "pod_container_port_name",
                        k8s_json_str(k8s_json_get(&ports->v[p], "name")));
                ls_setc(&b->t, META "pod_container_port_number", num_str(b, cport));
                ls_setc(&b->t, META "pod_container_port_protocol",
                        k8s_json_str(k8s_json_get(&ports->v[p], "protocol")));
                b->extra.n = 0;
                pod_labels(b, &b->extra, sp->pod);
                ls_merge(&b->t, &b->extra);
                gb_add_target(b);
            }
        }
    }
}

/* ---- endpoints ------------------------------------------------------------------------------------ */

static void endpoints_target(gbuild *b, const k8s_json *addr, const k8s_json *port,
                             const char *ready, seen_pods *seen)
{
    int64_t pnum = 0;
    k8s_json_i64(k8s_json_get(port, "port"), &pnum);
    odin_str proto = k8s_json_str(k8s_json_get(port, "protocol"));
    ls_setc(&b->t, "__address__", join_host_port(b, k8s_json_str(k8s_json_get(addr, "ip")), pnum));
    ls_setc(&b->t, META "endpoint_port_name", k8s_json_str(k8s_json_get(port, "name")));
    ls_setc(&b->t, META "endpoint_port_protocol", proto);
    ls_setcc(&b->t, META "endpoint_ready", ready);
    const k8s_json *ref = k8s_json_get(addr, "targetRef");
    if (ref != NULL && ref->type == K8S_JSON_OBJECT) {
        ls_setc(&b->t, META "endpoint_address_target_kind", k8s_json_str(k8s_json_get(ref, "kind")));
        ls_setc(&b->t, META "endpoint_address_target_name", k8s_json_str(k8s_json_get(ref, "name")));
    }
    const k8s_json *node = k8s_json_get(addr, "nodeName");
    if (k8s_json_is_str(node)) {
        ls_setc(&b->t, META "endpoint_node_name", k8s_json_str(node));
    }
    odin_str host = k8s_json_str(k8s_json_get(addr, "hostname"));
    if (host.len > 0) {
        ls_setc(&b->t, META "endpoint_hostname", host);
    }
    if (b->o->attach_node) {
        if (k8s_json_is_str(node)) {
            add_node_labels(b, &b->t, k8s_json_str(node));
        } else if (odin_str_eq_c(k8s_json_str(k8s_json_get(ref, "kind")), "Node")) {
            add_node_labels(b, &b->t, k8s_json_str(k8s_json_get(ref, "name")));
        }
    }
    const k8s_json *pod = resolve_pod(b, ref);
    if (pod != NULL) {
        seen_pod *sp = seen_get(seen, pod);
        endpoint_pod_labels(b, pod, true, pnum, proto, true);
        seen_add_port(sp, true, pnum);
    }
    gb_add_target(b);
}

static void build_endpoints(gbuild *b, const k8s_json *eps)
{
    odin_str ns = meta_str(eps, "namespace");
    odin_str name = meta_str(eps, "name");
    gb_begin(b, "endpoints", ns, name);
    ls_setc(&b->glabels, META "namespace", ns);
    const k8s_json *svc = k8s_cache_find(b->c, K8S_RES_SERVICES, ns, name);
    if (svc != NULL) {
        service_labels(&b->glabels, svc);
    }
    ls_object_meta(&b->glabels, "endpoints", eps);
    add_namespace_labels(b, &b->glabels, ns);

    seen_pods seen = {0};
    const k8s_json *subsets = k8s_json_get(eps, "subsets");
    for (size_t s = 0; s < k8s_json_len(subsets, K8S_JSON_ARRAY); s++) {
        const k8s_json *ss = &subsets->v[s];
        const k8s_json *ports = k8s_json_get(ss, "ports");
        const k8s_json *ready = k8s_json_get(ss, "addresses");
        const k8s_json *notready = k8s_json_get(ss, "notReadyAddresses");
        for (size_t p = 0; p < k8s_json_len(ports, K8S_JSON_ARRAY); p++) {
            for (size_t a = 0; a < k8s_json_len(ready, K8S_JSON_ARRAY); a++) {
                endpoints_target(b, &ready->v[a], &ports->v[p], "true", &seen);
            }
            for (size_t a = 0; a < k8s_json_len(notready, K8S_JSON_ARRAY); a++) {
                endpoints_target(b, &notready->v[a], &ports->v[p], "false", &seen);
            }
        }
    }
    seen_pod_targets(b, &seen);
    seen_free(&seen);
    gb_end(b);
}

/* ---- endpointslice ------------------------------------------------------------------------------ */

static void set_if_str(gbuild *b, const char *name, const k8s_json *v)
{
    if (k8s_json_is_str(v)) {
        ls_setc(&b->t, name, k8s_json_str(v));
    }
}

static void set_if_bool(gbuild *b, const char *name, const k8s_json *v)
{
    bool present;
    bool val = k8s_json_bool(v, &present);
    if (present) {
        ls_setcc(&b->t, name, val ? "true" : "false");
    }
}

static void slice_target(gbuild *b, const k8s_json *addr, const k8s_json *ep, const k8s_json *port,
                         seen_pods *seen)
{
    int64_t pnum = 0;
    bool has_port = k8s_json_i64(k8s_json_get(port, "port"), &pnum);
    ls_setc(&b->t, "__address__",
            has_port ? join_host_port(b, k8s_json_str(addr), pnum) : k8s_json_str(addr));
    set_if_str(b, META "endpointslice_port_name", k8s_json_get(port, "name"));
    set_if_str(b, META "endpointslice_port_protocol", k8s_json_get(port, "protocol"));
    if (has_port) {
        ls_setc(&b->t, META "endpointslice_port", num_str(b, pnum));
    }
    set_if_str(b, META "endpointslice_port_app_protocol", k8s_json_get(port, "appProtocol"));
    const k8s_json *cond = k8s_json_get(ep, "conditions");
    set_if_bool(b, META "endpointslice_endpoint_conditions_ready", k8s_json_get(cond, "ready"));
    set_if_bool(b, META "endpointslice_endpoint_conditions_serving", k8s_json_get(cond, "serving"));
    set_if_bool(b, META "endpointslice_endpoint_conditions_terminating",
                k8s_json_get(cond, "terminating"));
    set_if_str(b, META "endpointslice_endpoint_hostname", k8s_json_get(ep, "hostname"));
    const k8s_json *ref = k8s_json_get(ep, "targetRef");
    if (ref != NULL && ref->type == K8S_JSON_OBJECT) {
        ls_setc(&b->t, META "endpointslice_address_target_kind",
                k8s_json_str(k8s_json_get(ref, "kind")));
        ls_setc(&b->t, META "endpointslice_address_target_name",
                k8s_json_str(k8s_json_get(ref, "name")));
    }
    const k8s_json *node = k8s_json_get(ep, "nodeName");
    set_if_str(b, META "endpointslice_endpoint_node_name", node);
    set_if_str(b, META "endpointslice_endpoint_zone", k8s_json_get(ep, "zone"));
    const k8s_json *topo = k8s_json_get(ep, "deprecatedTopology");
    for (size_t i = 0; i < k8s_json_len(topo, K8S_JSON_OBJECT); i++) {
        ls_set(&b->t, label_name(&b->t, META "endpointslice_endpoint_topology_", topo->keys[i]),
               k8s_json_str(&topo->v[i]));
        ls_set(&b->t,
               label_name(&b->t, META "endpointslice_endpoint_topology_present_", topo->keys[i]),
               ODIN_STR("true"));
    }
    if (b->o->attach_node) {
        if (odin_str_eq_c(k8s_json_str(k8s_json_get(ref, "kind")), "Node")) {
            add_node_labels(b, &b->t, k8s_json_str(k8s_json_get(ref, "name")));
        } else if (k8s_json_is_str(node)) {
            add_node_labels(b, &b->t, k8s_json_str(node));
        }
    }
    const k8s_json *pod = resolve_pod(b, ref);
    if (pod != NULL) {
        seen_pod *sp = seen_get(seen, pod);
        endpoint_pod_labels(b, pod, has_port, pnum, (odin_str){"", 0}, false);
        seen_add_port(sp, has_port, pnum);
    }
    gb_add_target(b);
}

/* nonPrimaryIPFamilySlice: a dual-stack service's slice of its secondary family has no targets. */
static bool non_primary_family(const k8s_json *svc, const k8s_json *eps)
{
    odin_str policy = k8s_json_str(k8s_json_path(svc, "spec.ipFamilyPolicy"));
    if (!odin_str_eq_c(policy, "PreferDualStack") && !odin_str_eq_c(policy, "RequireDualStack")) {
        return false;
    }
    const k8s_json *fams = k8s_json_path(svc, "spec.ipFamilies");
    if (k8s_json_len(fams, K8S_JSON_ARRAY) == 0) {
        return false;
    }
    return !odin_str_eq(k8s_json_str(k8s_json_get(eps, "addressType")), k8s_json_str(&fams->v[0]));
}

static void build_endpointslice(gbuild *b, const k8s_json *eps)
{
    odin_str ns = meta_str(eps, "namespace");
    gb_begin(b, "endpointslice", ns, meta_str(eps, "name"));
    ls_setc(&b->glabels, META "namespace", ns);
    ls_setc(&b->glabels, META "endpointslice_address_type",
            k8s_json_str(k8s_json_get(eps, "addressType")));
    ls_object_meta(&b->glabels, "endpointslice", eps);
    const k8s_json *svcname = k8s_json_path(eps, "metadata.labels");
    svcname = k8s_json_get(svcname, "kubernetes.io/service-name");
    const k8s_json *svc = k8s_json_is_str(svcname)
                              ? k8s_cache_find(b->c, K8S_RES_SERVICES, ns, k8s_json_str(svcname))
                              : NULL;
    if (svc != NULL) {
        service_labels(&b->glabels, svc);
    }
    add_namespace_labels(b, &b->glabels, ns);
    if (svc != NULL && non_primary_family(svc, eps)) {
        gb_end(b);
        return;
    }
    seen_pods seen = {0};
    const k8s_json *eplist = k8s_json_get(eps, "endpoints");
    const k8s_json *ports = k8s_json_get(eps, "ports");
    for (size_t e = 0; e < k8s_json_len(eplist, K8S_JSON_ARRAY); e++) {
        const k8s_json *ep = &eplist->v[e];
        const k8s_json *addrs = k8s_json_get(ep, "addresses");
        for (size_t p = 0; p < k8s_json_len(ports, K8S_JSON_ARRAY); p++) {
            for (size_t a = 0; a < k8s_json_len(addrs, K8S_JSON_ARRAY); a++) {
                slice_target(b, &addrs->v[a], ep, &ports->v[p], &seen);
            }
        }
    }
    seen_pod_targets(b, &seen);
    seen_free(&seen);
    gb_end(b);
}

/* ---- ingress ------------------------------------------------------------------------------------ */

/* matchesHostnamePattern: exact, or a leading "*" label matching any one label. */
static bool host_matches(odin_str pattern, odin_str host)
{
    if (odin_str_eq(pattern, host)) {
        return true;
    }
    if (pattern.len < 1 || pattern.p[0] != '*' || (pattern.len > 1 && pattern.p[1] != '.')) {
        return false;
    }
    /* same number of labels and equal after the first */
    const char *hd = memchr(host.p, '.', host.len);
    odin_str prest = {pattern.p + 1, pattern.len - 1};
    odin_str hrest = hd != NULL ? (odin_str){hd, host.len - (size_t)(hd - host.p)}
                                : (odin_str){"", 0};
    return odin_str_eq(prest, hrest);
}

static bool ingress_tls(const k8s_json *ing, odin_str host)
{
    const k8s_json *tls = k8s_json_path(ing, "spec.tls");
    for (size_t i = 0; i < k8s_json_len(tls, K8S_JSON_ARRAY); i++) {
        const k8s_json *hosts = k8s_json_get(&tls->v[i], "hosts");
        for (size_t h = 0; h < k8s_json_len(hosts, K8S_JSON_ARRAY); h++) {
            if (host_matches(k8s_json_str(&hosts->v[h]), host)) {
                return true;
            }
        }
    }
    return false;
}

static void ingress_target(gbuild *b, odin_str host, const char *scheme, odin_str path)
{
    ls_setc(&b->t, "__address__", host);
    ls_setcc(&b->t, META "ingress_scheme", scheme);
    ls_setc(&b->t, META "ingress_host", host);
    ls_setc(&b->t, META "ingress_path", path.len > 0 ? path : ODIN_STR("/"));
    gb_add_target(b);
}

static void build_ingress(gbuild *b, const k8s_json *ing)
{
    odin_str ns = meta_str(ing, "namespace");
    gb_begin(b, "ingress", ns, meta_str(ing, "name"));
    ls_setc(&b->glabels, META "namespace", ns);
    const k8s_json *cls = k8s_json_path(ing, "spec.ingressClassName");
    if (k8s_json_is_str(cls)) {
        ls_setc(&b->glabels, META "ingress_class_name", k8s_json_str(cls));
    }
    ls_object_meta(&b->glabels, "ingress", ing);
    add_namespace_labels(b, &b->glabels, ns);
    const k8s_json *rules = k8s_json_path(ing, "spec.rules");
    for (size_t r = 0; r < k8s_json_len(rules, K8S_JSON_ARRAY); r++) {
        const k8s_json *rule = &rules->v[r];
        odin_str host = k8s_json_str(k8s_json_get(rule, "host"));
        const char *scheme = ingress_tls(ing, host) ? "https" : "http";
        const k8s_json *http = k8s_json_get(rule, "http");
        if (http == NULL || http->type != K8S_JSON_OBJECT) {
            ingress_target(b, host, scheme, ODIN_STR("/")); /* no http rule: path "/" */
            continue;
        }
        const k8s_json *paths = k8s_json_get(http, "paths");
        for (size_t p = 0; p < k8s_json_len(paths, K8S_JSON_ARRAY); p++) {
            ingress_target(b, host, scheme, k8s_json_str(k8s_json_get(&paths->v[p], "path")));
        }
    }
    gb_end(b);
}

/* ---- Entry points ------------------------------------------------------------------------------- */

unsigned k8s_role_resources(discovery_k8s_role role, const k8s_build_opts *o)
{
    unsigned ns = o->attach_namespace ? 1u << K8S_RES_NAMESPACES : 0;
    unsigned node = o->attach_node ? 1u << K8S_RES_NODES : 0;
    switch (role) {
    case DISCOVERY_K8S_NODE:
        return 1u << K8S_RES_NODES;
    case DISCOVERY_K8S_POD:
        return 1u << K8S_RES_PODS | node | ns;
    case DISCOVERY_K8S_SERVICE:
        return 1u << K8S_RES_SERVICES | ns;
    case DISCOVERY_K8S_ENDPOINTS:
        return 1u << K8S_RES_ENDPOINTS | 1u << K8S_RES_SERVICES | 1u << K8S_RES_PODS | node | ns;
    case DISCOVERY_K8S_ENDPOINTSLICE:
        return 1u << K8S_RES_ENDPOINTSLICES | 1u << K8S_RES_SERVICES | 1u << K8S_RES_PODS | node |
               ns;
    case DISCOVERY_K8S_INGRESS:
        return 1u << K8S_RES_INGRESSES | ns;
    }
    return 0;
}

int k8s_build_groups(discovery_k8s_role role, const k8s_cache *c, const k8s_build_opts *o,
                     odin_arena *a, discovery_group **out, size_t *n, odin_err *err)
{
    static const k8s_resource primary[] = {
        [DISCOVERY_K8S_NODE] = K8S_RES_NODES,
        [DISCOVERY_K8S_POD] = K8S_RES_PODS,
        [DISCOVERY_K8S_SERVICE] = K8S_RES_SERVICES,
        [DISCOVERY_K8S_ENDPOINTS] = K8S_RES_ENDPOINTS,
        [DISCOVERY_K8S_ENDPOINTSLICE] = K8S_RES_ENDPOINTSLICES,
        [DISCOVERY_K8S_INGRESS] = K8S_RES_INGRESSES,
    };
    static void (*const build[])(gbuild *, const k8s_json *) = {
        [DISCOVERY_K8S_NODE] = build_node,
        [DISCOVERY_K8S_POD] = build_pod,
        [DISCOVERY_K8S_SERVICE] = build_service,
        [DISCOVERY_K8S_ENDPOINTS] = build_endpoints,
        [DISCOVERY_K8S_ENDPOINTSLICE] = build_endpointslice,
        [DISCOVERY_K8S_INGRESS] = build_ingress,
    };
    gbuild b = {.a = a, .c = c, .o = o};
    b.glabels = (lset){.a = a, .oom = &b.oom};
    b.t = (lset){.a = a, .oom = &b.oom};
    b.extra = (lset){.a = a, .oom = &b.oom};
    size_t pos = 0;
    const void *k;
    size_t kl;
    void *v;
    while (odin_map_next(&c->objs[primary[role]], &pos, &k, &kl, &v)) {
        build[role](&b, ((const k8s_object *)v)->obj);
    }
    *out = NULL;
    *n = 0;
    int rc = 0;
    if (b.oom) {
        rc = odin_err_set(err, ODIN_ERR_LIMIT, "kubernetes: target groups exceed the memory cap");
    } else if (b.ngroups > 0) {
        *out = odin_arena_alloc(a, b.ngroups * sizeof **out);
        if (*out == NULL) {
            rc = odin_err_set(err, ODIN_ERR_LIMIT, "kubernetes: target groups exceed the memory cap");
        } else {
            memcpy(*out, b.groups, b.ngroups * sizeof **out);
            *n = b.ngroups;
        }
    }
    free(b.groups);
    free(b.targets);
    free(b.tlabels);
    free(b.ntlabels);
    free(b.glabels.v);
    free(b.t.v);
    free(b.extra.v);
    return rc;
}

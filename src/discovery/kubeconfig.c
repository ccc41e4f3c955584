/* kubernetes_sd_configs.kubeconfig_file: the API server and credentials of a kubeconfig's current
 * context, as client-go's clientcmd.BuildConfigFromFlags("", file) picks them (what Prometheus
 * does). This is how a server outside the cluster reaches it, for example with the file K3s writes
 * to /etc/rancher/k3s/k3s.yaml.
 *
 * The YAML is read with libyaml into the discovery module's JSON tree (mappings become objects,
 * sequences arrays, scalars strings), then the current context's cluster and user are looked up.
 * Relative file names in the kubeconfig are relative to its own directory, as clientcmd resolves
 * them. Credential plugins (exec, auth-provider) are refused with an error naming the user. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "discovery/kubernetes.h"

#define KUBECONFIG_MAX_BYTES ((size_t)16 << 20)

typedef struct {
    yaml_parser_t parser;
    odin_arena *a;
    const char *path;
    odin_err *err;
} kc_reader;

static int kc_fail_at(kc_reader *r, const yaml_mark_t *m, const char *what)
{
    return odin_err_set(r->err, ODIN_ERR_PARSE, "kubeconfig %s:%zu:%zu: %s", r->path, m->line + 1,
                        m->column + 1, what);
}

static int kc_next(kc_reader *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->parser, ev)) {
        const char *problem = r->parser.problem != NULL ? r->parser.problem : "invalid YAML";
        return kc_fail_at(r, &r->parser.problem_mark, problem);
    }
    return 0;
}

/* Plain scalars that YAML reads as null. */
static bool kc_plain_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    const char *v = (const char *)ev->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static int kc_node(kc_reader *r, yaml_event_t *ev, int depth, k8s_json **out);

/* Reads the items of a sequence or the pairs of a mapping whose start event was just consumed. */
static int kc_collection(kc_reader *r, bool mapping, int depth, k8s_json *into)
{
    size_t n = 0, cap = 0;
    k8s_json *items = NULL;
    odin_str *keys = NULL;
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if ((rc = kc_next(r, &ev)) < 0) {
            break;
        }
        yaml_event_type_t end = mapping ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            break;
        }
        if (n == cap) {
            cap = cap == 0 ? 8 : cap * 2;
            items = odin_realloc(items, cap * sizeof *items);
            keys = mapping ? odin_realloc(keys, cap * sizeof *keys) : NULL;
        }
        if (mapping) {
            if (ev.type != YAML_SCALAR_EVENT) {
                rc = kc_fail_at(r, &ev.start_mark, "mapping keys must be plain strings");
                yaml_event_delete(&ev);
                break;
            }
            size_t len = ev.data.scalar.length;
            keys[n] = (odin_str){odin_arena_strndup(r->a, (const char *)ev.data.scalar.value, len),
                                 len};
            yaml_event_delete(&ev);
            if ((rc = kc_next(r, &ev)) < 0) {
                break;
            }
        }
        k8s_json *v = NULL;
        rc = kc_node(r, &ev, depth + 1, &v);
        yaml_event_delete(&ev);
        if (rc < 0) {
            break;
        }
        items[n++] = *v;
    }
    if (rc == 0) {
        into->n = n;
        into->v = odin_arena_alloc(r->a, (n > 0 ? n : 1) * sizeof *items);
        if (n > 0) {
            memcpy(into->v, items, n * sizeof *items);
        }
        if (mapping) {
            into->keys = odin_arena_alloc(r->a, (n > 0 ? n : 1) * sizeof *keys);
            if (n > 0) {
                memcpy(into->keys, keys, n * sizeof *keys);
            }
        }
    }
    free(items);
    free(keys);
    return rc;
}

/* Builds the value whose first event is ev (the caller deletes ev). */
static int kc_node(kc_reader *r, yaml_event_t *ev, int depth, k8s_json **out)
{
    if (depth > K8S_JSON_MAX_DEPTH) {
        return kc_fail_at(r, &ev->start_mark, "nested too deeply");
    }
    k8s_json *v = odin_arena_zalloc(r->a, sizeof *v);
    *out = v;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (kc_plain_null(ev)) {
            v->type = K8S_JSON_NULL;
            return 0;
        }
        v->type = K8S_JSON_STRING;
        v->s.len = ev->data.scalar.length;
        v->s.p = odin_arena_strndup(r->a, (const char *)ev->data.scalar.value, v->s.len);
        return 0;
    case YAML_SEQUENCE_START_EVENT:
        v->type = K8S_JSON_ARRAY;
        return kc_collection(r, false, depth, v);
    case YAML_MAPPING_START_EVENT:
        v->type = K8S_JSON_OBJECT;
        return kc_collection(r, true, depth, v);
    case YAML_ALIAS_EVENT:
        return kc_fail_at(r, &ev->start_mark, "YAML aliases are not supported in a kubeconfig");
    default:
        return kc_fail_at(r, &ev->start_mark, "unexpected YAML event");
    }
}

/* The first document of text as a tree in r->a; an empty file is an empty object. */
static int kc_parse(kc_reader *r, const char *text, size_t len, k8s_json **root)
{
    if (!yaml_parser_initialize(&r->parser)) {
        odin_oom();
    }
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, len);
    *root = NULL;
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if ((rc = kc_next(r, &ev)) < 0) {
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        rc = kc_node(r, &ev, 0, root);
        yaml_event_delete(&ev);
        if (rc < 0) {
            break;
        }
    }
    yaml_parser_delete(&r->parser);
    if (rc == 0 && *root == NULL) {
        *root = odin_arena_zalloc(r->a, sizeof **root);
        (*root)->type = K8S_JSON_OBJECT;
    }
    if (rc == 0 && (*root)->type != K8S_JSON_OBJECT) {
        rc = odin_err_set(r->err, ODIN_ERR_PARSE, "kubeconfig %s: the document is not a mapping",
                          r->path);
    }
    return rc;
}

/* ---- Lookups ------------------------------------------------------------------------------------ */

/* The `field` mapping of the entry of list `list` (clusters, users, contexts) named `name`. */
static const k8s_json *kc_named(const k8s_json *root, const char *list, odin_str name,
                                const char *field)
{
    const k8s_json *l = k8s_json_get(root, list);
    const k8s_json *found = NULL;
    for (size_t i = 0; i < k8s_json_len(l, K8S_JSON_ARRAY); i++) {
        if (odin_str_eq(k8s_json_str(k8s_json_get(&l->v[i], "name")), name)) {
            found = k8s_json_get(&l->v[i], field); /* the last entry of a name wins */
            if (found == NULL) {
                static const k8s_json empty = {.type = K8S_JSON_OBJECT};
                found = &empty;
            }
        }
    }
    return found;
}

static char *kc_string(const k8s_json *obj, const char *key)
{
    odin_str s = k8s_json_str(k8s_json_get(obj, key));
    return s.len > 0 ? odin_strndup(s.p, s.len) : NULL;
}

/* A file name from the kubeconfig, made relative to the kubeconfig's directory. */
static char *kc_path(const k8s_json *obj, const char *key, const char *dir)
{
    odin_str s = k8s_json_str(k8s_json_get(obj, key));
    if (s.len == 0) {
        return NULL;
    }
    if (s.p[0] == '/' || dir == NULL) {
        return odin_strndup(s.p, s.len);
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b, "%s/%.*s", dir, (int)s.len, s.p);
    return odin_strbuf_take(&b, NULL);
}

/* Decodes `key` of obj into *out when present; an error names the field. */
static int kc_data(const k8s_json *obj, const char *key, const char *what, char **out,
                   const char *path, odin_err *err)
{
    odin_str s = k8s_json_str(k8s_json_get(obj, key));
    if (s.len == 0) {
        return 0;
    }
    *out = odin_base64_decode(s, NULL);
    if (*out == NULL) {
        return odin_err_set(err, ODIN_ERR_INVALID, "kubeconfig %s: %s: %s is not valid base64",
                            path, what, key);
    }
    return 0;
}

static bool kc_bool(const k8s_json *obj, const char *key)
{
    odin_str s = k8s_json_str(k8s_json_get(obj, key));
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (odin_str_eq(s, odin_str_c(yes[i]))) {
            return true;
        }
    }
    return false;
}

static bool kc_has(const k8s_json *obj, const char *key)
{
    const k8s_json *v = k8s_json_get(obj, key);
    return v != NULL && v->type != K8S_JSON_NULL && !(v->type == K8S_JSON_STRING && v->s.len == 0);
}

static int kc_cluster(k8s_client *cl, const k8s_json *c, const char *what, const char *dir,
                      const char *path, odin_err *err)
{
    odin_str server = k8s_json_str(k8s_json_get(c, "server"));
    while (server.len > 0 && server.p[server.len - 1] == '/') {
        server.len--;
    }
    if (server.len == 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "kubeconfig %s: %s has no server", path, what);
    }
    if (kc_has(c, "certificate-authority") && kc_has(c, "certificate-authority-data")) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "kubeconfig %s: %s sets both certificate-authority and "
                            "certificate-authority-data",
                            path, what);
    }
    if (kc_has(c, "tls-server-name")) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "kubeconfig %s: %s: tls-server-name is not supported", path, what);
    }
    cl->base_url = odin_strndup(server.p, server.len);
    cl->ca_file = kc_path(c, "certificate-authority", dir);
    cl->insecure_skip_verify = kc_bool(c, "insecure-skip-tls-verify");
    if (cl->insecure_skip_verify && (kc_has(c, "certificate-authority") ||
                                     kc_has(c, "certificate-authority-data"))) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "kubeconfig %s: %s sets a certificate authority together with "
                            "insecure-skip-tls-verify",
                            path, what);
    }
    cl->proxy_url = kc_string(c, "proxy-url");
    return kc_data(c, "certificate-authority-data", what, &cl->ca_pem, path, err);
}

static int kc_user(k8s_client *cl, const k8s_json *u, const char *what, const char *dir,
                   const char *path, odin_err *err)
{
    if (kc_has(u, "exec") || kc_has(u, "auth-provider")) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "kubeconfig %s: %s uses a credential plugin (%s), which is not "
                            "supported; use token, tokenFile, username/password or a client "
                            "certificate",
                            path, what, kc_has(u, "exec") ? "exec" : "auth-provider");
    }
    if (kc_has(u, "as") || kc_has(u, "as-groups") || kc_has(u, "as-uid")) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "kubeconfig %s: %s: impersonation (as) is not supported", path, what);
    }
    bool cert = kc_has(u, "client-certificate") || kc_has(u, "client-certificate-data");
    bool key = kc_has(u, "client-key") || kc_has(u, "client-key-data");
    bool token = kc_has(u, "token") || kc_has(u, "tokenFile");
    bool basic = kc_has(u, "username") || kc_has(u, "password");
    const char *clash = NULL;
    if (kc_has(u, "client-certificate") && kc_has(u, "client-certificate-data")) {
        clash = "both client-certificate and client-certificate-data";
    } else if (kc_has(u, "client-key") && kc_has(u, "client-key-data")) {
        clash = "both client-key and client-key-data";
    } else if (cert != key) {
        clash = cert ? "a client certificate without a client key"
                     : "a client key without a client certificate";
    } else if (token && basic) {
        clash = "both a token and a username/password; only one is allowed";
    }
    if (clash != NULL) {
        return odin_err_set(err, ODIN_ERR_INVALID, "kubeconfig %s: %s sets %s", path, what, clash);
    }
    cl->cert_file = kc_path(u, "client-certificate", dir);
    cl->key_file = kc_path(u, "client-key", dir);
    if (kc_has(u, "token")) { /* the token wins over tokenFile when both are given */
        cl->has_authorization = true;
        cl->auth_credentials = kc_string(u, "token");
    } else if (kc_has(u, "tokenFile")) {
        cl->has_authorization = true;
        cl->auth_credentials_file = kc_path(u, "tokenFile", dir);
    }
    if (basic) {
        cl->has_basic_auth = true;
        cl->basic_username = kc_string(u, "username");
        cl->basic_password = kc_string(u, "password");
    }
    int rc = kc_data(u, "client-certificate-data", what, &cl->cert_pem, path, err);
    if (rc == 0) {
        rc = kc_data(u, "client-key-data", what, &cl->key_pem, path, err);
    }
    return rc;
}

/* A heap string from a format (freed by the caller). */
static char *kc_printf(const char *fmt, ...) ODIN_PRINTF(1, 2);
static char *kc_printf(const char *fmt, ...)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    return odin_strbuf_take(&b, NULL);
}

static int kc_apply(k8s_client *cl, const k8s_json *root, const char *dir, const char *path,
                    odin_err *err)
{
    odin_str cur = k8s_json_str(k8s_json_get(root, "current-context"));
    if (cur.len == 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "kubeconfig %s: current-context is not set",
                            path);
    }
    const k8s_json *ctx = kc_named(root, "contexts", cur, "context");
    if (ctx == NULL) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "kubeconfig %s: context \"%.*s\" (current-context) is not defined",
                            path, (int)cur.len, cur.p);
    }
    odin_str cname = k8s_json_str(k8s_json_get(ctx, "cluster"));
    odin_str uname = k8s_json_str(k8s_json_get(ctx, "user"));
    const k8s_json *cluster = kc_named(root, "clusters", cname, "cluster");
    if (cname.len == 0 || cluster == NULL) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "kubeconfig %s: cluster \"%.*s\" of context \"%.*s\" is not defined",
                            path, (int)cname.len, cname.p, (int)cur.len, cur.p);
    }
    const k8s_json *user = NULL;
    if (uname.len > 0 && (user = kc_named(root, "users", uname, "user")) == NULL) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "kubeconfig %s: user \"%.*s\" of context \"%.*s\" is not defined",
                            path, (int)uname.len, uname.p, (int)cur.len, cur.p);
    }
    char *what = kc_printf("cluster \"%.*s\"", (int)cname.len, cname.p);
    int rc = kc_cluster(cl, cluster, what, dir, path, err);
    free(what);
    if (rc == 0 && user != NULL) {
        what = kc_printf("user \"%.*s\"", (int)uname.len, uname.p);
        rc = kc_user(cl, user, what, dir, path, err);
        free(what);
    }
    return rc;
}

int k8s_client_from_kubeconfig(k8s_client *cl, const char *path, odin_err *err)
{
    odin_strbuf text;
    odin_strbuf_init(&text, 0);
    int rc = odin_read_file(path, &text, KUBECONFIG_MAX_BYTES, err);
    if (rc < 0) {
        odin_err_prefix(err, "kubernetes_sd_configs: kubeconfig_file: ");
        odin_strbuf_fini(&text);
        return rc;
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? NULL
                              : odin_strndup(path, slash == path ? 1 : (size_t)(slash - path));
    odin_arena a;
    odin_arena_init(&a, 0);
    kc_reader r = {.a = &a, .path = path, .err = err};
    k8s_json *root = NULL;
    rc = kc_parse(&r, text.p != NULL ? text.p : "", text.len, &root);
    if (rc == 0) {
        rc = kc_apply(cl, root, dir != NULL && strcmp(dir, "/") == 0 ? "" : dir, path, err);
    }
    cl->follow_redirects = true;
    /* the file's bytes may hold a token or a private key */
    if (text.p != NULL) {
        memset(text.p, 0, text.len);
    }
    odin_strbuf_fini(&text);
    odin_arena_fini(&a);
    free(dir);
    return rc;
}

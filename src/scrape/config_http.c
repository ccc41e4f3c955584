/* Decoding of the settings many sections share: Prometheus' HTTP client block (tls_config,
 * basic_auth, authorization, bearer_token[_file], proxy) with its validation, and relabel_configs
 * lists. Secret values (password, credentials, bearer_token, key) never enter a message. */
#include "scrape/config_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HD(field) offsetof(scrape_cfg_http, field)
#define TLS(field) offsetof(http_tls_config, field)

/* ---- tls_config ------------------------------------------------------------------------------ */

static const scrape_field tls_fields[] = {
    {"ca", SCRAPE_F_STRING, TLS(ca), 0, NULL},
    {"cert", SCRAPE_F_STRING, TLS(cert), 0, NULL},
    {"key", SCRAPE_F_STRING, TLS(key), 0, NULL},
    {"ca_file", SCRAPE_F_STRING, TLS(ca_file), 0, NULL},
    {"cert_file", SCRAPE_F_STRING, TLS(cert_file), 0, NULL},
    {"key_file", SCRAPE_F_STRING, TLS(key_file), 0, NULL},
    {"ca_ref", SCRAPE_F_REJECT, 0, 0, NULL},
    {"cert_ref", SCRAPE_F_REJECT, 0, 0, NULL},
    {"key_ref", SCRAPE_F_REJECT, 0, 0, NULL},
    {"server_name", SCRAPE_F_STRING, TLS(server_name), 0, NULL},
    {"insecure_skip_verify", SCRAPE_F_BOOL, TLS(insecure_skip_verify), 0, NULL},
    {"min_version", SCRAPE_F_STRING, TLS(min_version), 0, NULL},
    {"max_version", SCRAPE_F_STRING, TLS(max_version), 0, NULL},
};

static bool set(const char *s)
{
    return s != NULL && *s != '\0';
}

static bool tls_version_ok(const char *v)
{
    return v == NULL || strcmp(v, "TLS10") == 0 || strcmp(v, "TLS11") == 0 ||
           strcmp(v, "TLS12") == 0 || strcmp(v, "TLS13") == 0;
}

static int dec_tls(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    http_tls_config *t = &((scrape_cfg_http *)obj)->h.tls;
    scrape_fieldset fs = {tls_fields, ODIN_ARRAY_LEN(tls_fields), t, 0};
    int rc = scrape_dec_fields(d, n, "tls_config", &fs, 1);
    if (rc < 0) {
        return rc;
    }
    if (set(t->ca) && set(t->ca_file)) {
        return scrape_dec_fail(d, n, "at most one of ca and ca_file must be configured");
    }
    if (set(t->cert) && set(t->cert_file)) {
        return scrape_dec_fail(d, n, "at most one of cert and cert_file must be configured");
    }
    if (set(t->key) && set(t->key_file)) {
        return scrape_dec_fail(d, n, "at most one of key and key_file must be configured");
    }
    bool cert = set(t->cert) || set(t->cert_file), key = set(t->key) || set(t->key_file);
    if (cert != key) {
        return scrape_dec_fail(d, n,
                               cert ? "exactly one of key or key_file must be configured "
                                      "when a client certificate is configured"
                                    : "exactly one of cert or cert_file must be configured "
                                      "when a client key is configured");
    }
    if (!tls_version_ok(t->min_version) || !tls_version_ok(t->max_version)) {
        return scrape_dec_fail(d, n, "unknown TLS version (use TLS10, TLS11, TLS12 or TLS13)");
    }
    return 0;
}

/* ---- basic_auth, authorization --------------------------------------------------------------- */

#define HC(field) offsetof(http_client_config, field)

static const scrape_field basic_fields[] = {
    {"username", SCRAPE_F_STRING, HC(basic_username), 0, NULL},
    {"username_file", SCRAPE_F_STRING, HC(basic_username_file), 0, NULL},
    {"username_ref", SCRAPE_F_REJECT, 0, 0, NULL},
    {"password", SCRAPE_F_STRING, HC(basic_password), 0, NULL},
    {"password_file", SCRAPE_F_STRING, HC(basic_password_file), 0, NULL},
    {"password_ref", SCRAPE_F_REJECT, 0, 0, NULL},
};

static int dec_basic(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    http_client_config *h = &((scrape_cfg_http *)obj)->h;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    scrape_fieldset fs = {basic_fields, ODIN_ARRAY_LEN(basic_fields), h, 0};
    int rc = scrape_dec_fields(d, n, "basic_auth", &fs, 1);
    if (rc < 0) {
        return rc;
    }
    h->has_basic_auth = true;
    if (set(h->basic_username) && set(h->basic_username_file)) {
        return scrape_dec_fail(d, n,
                               "at most one of basic_auth username and username_file must "
                               "be configured");
    }
    if (set(h->basic_password) && set(h->basic_password_file)) {
        return scrape_dec_fail(d, n,
                               "at most one of basic_auth password and password_file must "
                               "be configured");
    }
    return 0;
}

static const scrape_field auth_fields[] = {
    {"type", SCRAPE_F_STRING, HC(auth_type), 0, NULL},
    {"credentials", SCRAPE_F_STRING, HC(auth_credentials), 0, NULL},
    {"credentials_file", SCRAPE_F_STRING, HC(auth_credentials_file), 0, NULL},
    {"credentials_ref", SCRAPE_F_REJECT, 0, 0, NULL},
};

static int dec_auth(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    http_client_config *h = &((scrape_cfg_http *)obj)->h;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    scrape_fieldset fs = {auth_fields, ODIN_ARRAY_LEN(auth_fields), h, 0};
    int rc = scrape_dec_fields(d, n, "authorization", &fs, 1);
    if (rc < 0) {
        return rc;
    }
    h->has_authorization = true;
    if (set(h->auth_credentials) && set(h->auth_credentials_file)) {
        return scrape_dec_fail(d, n,
                               "at most one of authorization credentials & credentials_file "
                               "must be configured");
    }
    /* matches Prometheus: surrounding blanks are ignored, empty means Bearer */
    odin_str t = odin_str_trim(odin_str_c(h->auth_type ? h->auth_type : ""));
    char *type = odin_strndup(t.len ? t.p : "Bearer", t.len ? t.len : 6);
    free(h->auth_type);
    h->auth_type = type;
    if (strcasecmp(type, "basic") == 0) {
        return scrape_dec_fail(d, n,
                               "authorization type cannot be set to \"basic\", use "
                               "\"basic_auth\" instead");
    }
    return 0;
}

/* ---- The inline block ------------------------------------------------------------------------ */

const scrape_field scrape_cfg_http_fields[] = {
    {"basic_auth", SCRAPE_F_FN, 0, 0, dec_basic},
    {"authorization", SCRAPE_F_FN, 0, 0, dec_auth},
    {"bearer_token", SCRAPE_F_STRING, HD(bearer_token), 0, NULL},
    {"bearer_token_file", SCRAPE_F_STRING, HD(bearer_token_file), 0, NULL},
    {"tls_config", SCRAPE_F_FN, 0, 0, dec_tls},
    {"proxy_url", SCRAPE_F_STRING, HD(h.proxy_url), 0, NULL},
    {"no_proxy", SCRAPE_F_STRING, HD(h.no_proxy), 0, NULL},
    {"proxy_from_environment", SCRAPE_F_BOOL, HD(h.proxy_from_environment), 0, NULL},
    {"follow_redirects", SCRAPE_F_BOOL, HD(h.follow_redirects), 0, NULL},
    {"enable_http2", SCRAPE_F_BOOL, HD(h.enable_http2), 0, NULL},
    {"oauth2", SCRAPE_F_REJECT, 0, 0, NULL},
    {"proxy_connect_header", SCRAPE_F_REJECT, 0, 0, NULL},
    {"http_headers", SCRAPE_F_REJECT, 0, 0, NULL},
};
const size_t scrape_cfg_nhttp_fields = ODIN_ARRAY_LEN(scrape_cfg_http_fields);

void scrape_cfg_http_init(scrape_cfg_http *hd, bool enable_http2)
{
    *hd = (scrape_cfg_http){0};
    hd->h.follow_redirects = true;
    hd->h.enable_http2 = enable_http2;
}

static int http_validate(scrape_dec *d, const odin_yaml_node *n, scrape_cfg_http *hd)
{
    http_client_config *h = &hd->h;
    bool bt = set(hd->bearer_token), btf = set(hd->bearer_token_file);
    if (bt && btf) {
        return scrape_dec_fail(d, n,
                               "at most one of bearer_token & bearer_token_file must be "
                               "configured");
    }
    if (h->has_basic_auth && (bt || btf)) {
        return scrape_dec_fail(d, n,
                               "at most one of basic_auth, oauth2, bearer_token & "
                               "bearer_token_file must be configured");
    }
    if (h->has_authorization && (bt || btf)) {
        return scrape_dec_fail(d, n,
                               "authorization is not compatible with bearer_token & "
                               "bearer_token_file");
    }
    if (h->has_authorization && h->has_basic_auth) {
        return scrape_dec_fail(d, n,
                               "at most one of basic_auth, oauth2 & authorization must be "
                               "configured");
    }
    if (h->proxy_from_environment && set(h->proxy_url)) {
        return scrape_dec_fail(d, n,
                               "if proxy_from_environment is configured, proxy_url must "
                               "not be configured");
    }
    if (h->proxy_from_environment && set(h->no_proxy)) {
        return scrape_dec_fail(d, n,
                               "if proxy_from_environment is configured, no_proxy must "
                               "not be configured");
    }
    if (!set(h->proxy_url) && set(h->no_proxy)) {
        return scrape_dec_fail(d, n,
                               "if no_proxy is configured, proxy_url must also be "
                               "configured");
    }
    if (bt || btf) {
        /* matches Prometheus: bearer_token[_file] is authorization with type Bearer */
        h->has_authorization = true;
        h->auth_type = odin_strdup("Bearer");
        h->auth_credentials = bt ? hd->bearer_token : NULL;
        h->auth_credentials_file = btf ? hd->bearer_token_file : NULL;
        hd->bearer_token = bt ? NULL : hd->bearer_token;
        hd->bearer_token_file = btf ? NULL : hd->bearer_token_file;
    }
    return 0;
}

int scrape_cfg_http_finish(scrape_dec *d, const odin_yaml_node *n, scrape_cfg_http *hd,
                           http_client_config *out)
{
    int rc = http_validate(d, n, hd);
    free(hd->bearer_token);
    free(hd->bearer_token_file);
    hd->bearer_token = hd->bearer_token_file = NULL;
    if (rc < 0) {
        http_client_config_fini(&hd->h);
        return rc;
    }
    http_client_config_fini(out);
    *out = hd->h;
    hd->h = (http_client_config){0};
    return 0;
}

bool scrape_cfg_http_customized(const http_client_config *h)
{
    const http_tls_config *t = &h->tls;
    return set(t->ca_file) || set(t->cert_file) || set(t->key_file) || set(t->server_name) ||
           t->insecure_skip_verify || set(t->min_version) || set(t->max_version) || set(t->ca) ||
           set(t->cert) || set(t->key) || h->has_basic_auth || h->has_authorization ||
           set(h->proxy_url) || set(h->no_proxy) || h->proxy_from_environment ||
           !h->follow_redirects || !h->enable_http2;
}

/* ---- relabel_configs ------------------------------------------------------------------------- */

#define RC(field) offsetof(relabel_config, field)

static int dec_source_labels(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    relabel_config *rc = obj;
    int r = scrape_dec_strings(d, n, &rc->source_labels, &rc->nsource_labels);
    for (size_t i = 0; r == 0 && i < rc->nsource_labels; i++) {
        if (!scrape_label_name_ok(odin_str_c(rc->source_labels[i]), d->legacy_names)) {
            size_t old = scrape_dec_push_index(d, i);
            r = scrape_dec_fail(d, n->v[i], "\"%.64s\" is not a valid label name",
                                rc->source_labels[i]);
            scrape_dec_pop(d, old);
        }
    }
    if (r == 0 && rc->source_labels == NULL && n->kind == ODIN_YAML_SEQ) {
        rc->source_labels = odin_calloc(1, sizeof(char *)); /* given, even if empty */
    }
    return r;
}

static int dec_regex(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    relabel_config *rc = obj;
    int r = scrape_dec_string(d, n, &rc->regex_text);
    if (r < 0 || rc->regex_text == NULL) {
        return r;
    }
    odin_err e;
    odin_err_clear(&e);
    scrape_regex_free(rc->regex);
    rc->regex = scrape_regex_compile(rc->regex_text, &e);
    return rc->regex ? 0 : scrape_dec_fail(d, n, "%s", e.msg);
}

static int dec_action(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    relabel_config *rc = obj;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SCALAR || !scrape_relabel_action_parse(n->s, &rc->action)) {
        return scrape_dec_fail(d, n, "unknown relabel action \"%.64s\"",
                               n->kind == ODIN_YAML_SCALAR ? n->s : "");
    }
    return 0;
}

static const scrape_field relabel_fields[] = {
    {"source_labels", SCRAPE_F_FN, 0, 0, dec_source_labels},
    {"separator", SCRAPE_F_STRING, RC(separator), 0, NULL},
    {"regex", SCRAPE_F_FN, 0, 0, dec_regex},
    {"modulus", SCRAPE_F_U64, RC(modulus), 0, NULL},
    {"target_label", SCRAPE_F_STRING, RC(target_label), 0, NULL},
    {"replacement", SCRAPE_F_STRING, RC(replacement), 0, NULL},
    {"action", SCRAPE_F_FN, 0, 0, dec_action},
};

static int dec_relabel(scrape_dec *d, const odin_yaml_node *n, relabel_config *rc)
{
    if (odin_yaml_is_null(n)) {
        return scrape_dec_fail(d, n, "empty or null relabeling rule");
    }
    *rc = (relabel_config){.action = RELABEL_REPLACE, .legacy_validation = d->legacy_names};
    scrape_fieldset fs = {relabel_fields, ODIN_ARRAY_LEN(relabel_fields), rc, 0};
    int r = scrape_dec_fields(d, n, "relabel config", &fs, 1);
    if (r < 0) {
        return r;
    }
    odin_err e;
    odin_err_clear(&e);
    if (relabel_config_finish(rc, &e) < 0) {
        return scrape_dec_fail(d, n, "%s", e.msg);
    }
    return 0;
}

int scrape_dec_relabels(scrape_dec *d, const odin_yaml_node *n, relabel_config **out, size_t *nout)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SEQ) {
        return scrape_dec_fail(d, n, "expected a list of relabel configs");
    }
    relabel_config *v = odin_calloc(n->n ? n->n : 1, sizeof(*v));
    int r = 0;
    size_t k = 0;
    for (; k < n->n && r == 0; k++) {
        size_t old = scrape_dec_push_index(d, k);
        r = dec_relabel(d, n->v[k], &v[k]);
        scrape_dec_pop(d, old);
    }
    if (r < 0) {
        for (size_t i = 0; i < k; i++) {
            relabel_config_fini(&v[i]);
        }
        free(v);
        return r;
    }
    for (size_t i = 0; i < *nout; i++) {
        relabel_config_fini(&(*out)[i]);
    }
    free(*out);
    *out = v;
    *nout = k;
    return 0;
}

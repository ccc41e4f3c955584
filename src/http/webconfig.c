/* The web configuration file of Prometheus' exporter toolkit (--web.config.file), which Prometheus
 * and node_exporter read: TLS for the listener, basic-auth users with bcrypt hashes, extra response
 * headers and a rate limit. Loading and checking it here; the checks on each request are in
 * webauth.c and the TLS set-up in server_mhd.c. */
#include "http/server_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Headers the toolkit lets a web config add, and the only values it accepts for some of them
 * (an empty list: any value). */
static const struct {
    const char *name;
    const char *values[3];
} allowed_headers[HTTP_WEB_MAX_HEADERS] = {
    {"Strict-Transport-Security", {NULL}},
    {"X-Content-Type-Options", {"nosniff", NULL}},
    {"X-Frame-Options", {"deny", "sameorigin", NULL}},
    {"X-XSS-Protection", {NULL}},
    {"Content-Security-Policy", {NULL}},
};

typedef struct {
    const char *name; /* the file, for messages */
    odin_err *err;
    bool read_files; /* read the certificate and key (false: check the fields only) */
} web_dec;

static int fail(web_dec *d, const odin_yaml_node *n, const char *fmt, ...) ODIN_PRINTF(3, 4);

static int fail(web_dec *d, const odin_yaml_node *n, const char *fmt, ...)
{
    odin_strbuf msg;
    odin_strbuf_init(&msg, 1024);
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_vprintf(&msg, fmt, ap);
    va_end(ap);
    int rc = n != NULL ? odin_err_set(d->err, ODIN_ERR_INVALID, "%s:%zu:%zu: %s", d->name, n->line,
                                      n->col, msg.p)
                       : odin_err_set(d->err, ODIN_ERR_INVALID, "%s: %s", d->name, msg.p);
    odin_strbuf_fini(&msg);
    return rc;
}

static bool key_is(const odin_yaml_node *k, const char *s)
{
    return k->kind == ODIN_YAML_SCALAR && k->len == strlen(s) && memcmp(k->s, s, k->len) == 0;
}

/* A string field; a null node leaves *out as it is. */
static int dec_string(web_dec *d, const odin_yaml_node *n, const char *field, char **out)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SCALAR || strlen(n->s) != n->len) {
        return fail(d, n, "%s: want a string", field);
    }
    free(*out);
    *out = odin_strdup(n->s);
    return 0;
}

static int dec_bool(web_dec *d, const odin_yaml_node *n, const char *field, bool *out)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind == ODIN_YAML_SCALAR && !n->quoted) {
        odin_str s = {n->s, n->len};
        if (odin_str_eq_c(s, "true") || odin_str_eq_c(s, "True") || odin_str_eq_c(s, "TRUE")) {
            *out = true;
            return 0;
        }
        if (odin_str_eq_c(s, "false") || odin_str_eq_c(s, "False") || odin_str_eq_c(s, "FALSE")) {
            *out = false;
            return 0;
        }
    }
    return fail(d, n, "%s: want true or false", field);
}

static bool is_map(const odin_yaml_node *n)
{
    return n != NULL && n->kind == ODIN_YAML_MAP;
}

/* A key given twice in one mapping is an error, as in Go's strict YAML decoding (and a second
 * value must not silently replace the first). */
static int no_duplicate_keys(web_dec *d, const odin_yaml_node *n)
{
    for (size_t i = 0; i < n->n; i++) {
        const odin_yaml_node *k = n->v[2 * i];
        for (size_t j = 0; j < i; j++) {
            const odin_yaml_node *o = n->v[2 * j];
            if (k->kind == ODIN_YAML_SCALAR && o->kind == ODIN_YAML_SCALAR && k->len == o->len &&
                memcmp(k->s, o->s, k->len) == 0) {
                return fail(d, k, "key \"%s\" already set in map", k->s);
            }
        }
    }
    return 0;
}

/* A file path relative to the web config's directory, as the toolkit joins them. */
static char *join_dir(const char *config_path, const char *p)
{
    if (p == NULL || p[0] == '\0' || p[0] == '/') {
        return p ? odin_strdup(p) : NULL;
    }
    const char *slash = strrchr(config_path, '/');
    if (slash == NULL) {
        return odin_strdup(p);
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b, "%.*s/%s", (int)(slash - config_path), config_path, p);
    return odin_strbuf_take(&b, NULL);
}

/* "TLS10".."TLS13" to GnuTLS' name; NULL when unknown. */
static const char *tls_version(const char *v)
{
    static const char *const names[][2] = {
        {"TLS10", "VERS-TLS1.0"},
        {"TLS11", "VERS-TLS1.1"},
        {"TLS12", "VERS-TLS1.2"},
        {"TLS13", "VERS-TLS1.3"},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(names); i++) {
        if (strcmp(v, names[i][0]) == 0) {
            return names[i][1];
        }
    }
    return NULL;
}

/* A certificate or key: inline text, else the file (relative to the web config's directory). */
static int pem(web_dec *d, const char *config_path, const char *inline_text, const char *file,
               char **out)
{
    if (inline_text != NULL) {
        *out = odin_strdup(inline_text);
        return 0;
    }
    char *p = join_dir(config_path, file);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    int rc = odin_read_file(p, &b, 1 << 20, d->err);
    free(p);
    if (rc < 0) {
        odin_strbuf_fini(&b);
        return rc;
    }
    *out = odin_strbuf_take(&b, NULL);
    return 0;
}

/* What the TLS section says, before the files are read. */
typedef struct {
    char *cert, *key, *cert_file, *key_file;
    char *client_auth_type, *client_ca_file, *client_ca;
    char *min_version, *max_version;
    bool prefer_server_cipher_suites;
    const odin_yaml_node *ciphers, *curves, *sans; /* refused when non-empty */
} web_tls;

static void web_tls_fini(web_tls *t)
{
    free(t->cert);
    free(t->key);
    free(t->cert_file);
    free(t->key_file);
    free(t->client_auth_type);
    free(t->client_ca_file);
    free(t->client_ca);
    free(t->min_version);
    free(t->max_version);
}

static int dec_tls_fields(web_dec *d, const odin_yaml_node *n, web_tls *t)
{
    static const char *const strings[] = {
        "cert",           "key",       "cert_file",   "key_file",    "client_auth_type",
        "client_ca_file", "client_ca", "min_version", "max_version",
    };
    char **slots[] = {
        &t->cert,           &t->key,       &t->cert_file,   &t->key_file,    &t->client_auth_type,
        &t->client_ca_file, &t->client_ca, &t->min_version, &t->max_version,
    };
    for (size_t i = 0; i < n->n; i++) {
        const odin_yaml_node *k = n->v[2 * i], *v = n->v[2 * i + 1];
        bool known = false;
        for (size_t j = 0; j < ODIN_ARRAY_LEN(strings) && !known; j++) {
            if (key_is(k, strings[j])) {
                known = true;
                if (dec_string(d, v, strings[j], slots[j]) < 0) {
                    return -ODIN_ERR_INVALID;
                }
            }
        }
        if (known) {
            continue;
        }
        if (key_is(k, "prefer_server_cipher_suites")) {
            if (dec_bool(d, v, "tls_server_config.prefer_server_cipher_suites",
                         &t->prefer_server_cipher_suites) < 0) {
                return -ODIN_ERR_INVALID;
            }
        } else if (key_is(k, "cipher_suites")) {
            t->ciphers = v;
        } else if (key_is(k, "curve_preferences")) {
            t->curves = v;
        } else if (key_is(k, "client_allowed_sans")) {
            t->sans = v;
        } else {
            return fail(d, k, "field %.*s not found in type web.TLSConfig", (int)k->len, k->s);
        }
    }
    return 0;
}

/* The start of every section decoder: 0 when n is null (nothing to do), 1 when n is a mapping
 * without repeated keys to walk, or an error naming what wanted a mapping. */
static int open_map(web_dec *d, const odin_yaml_node *n, const char *what)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (!is_map(n)) {
        return fail(d, n, "%s: want a mapping", what);
    }
    return no_duplicate_keys(d, n) < 0 ? -ODIN_ERR_INVALID : 1;
}

static bool empty_list(const odin_yaml_node *n)
{
    return n == NULL || odin_yaml_is_null(n) || (n->kind == ODIN_YAML_SEQ && n->n == 0);
}

/* Checks the TLS section and reads its certificate and key into s. */
static int finish_tls(web_dec *d, const odin_yaml_node *n, web_tls *t, const char *path,
                      http_web_settings *s)
{
    bool enabled = t->cert || t->key || t->cert_file || t->key_file || t->client_ca_file ||
                   t->client_ca || t->client_auth_type;
    if (!enabled) {
        return 0;
    }
    if (!t->cert && !t->cert_file) {
        return fail(d, n, "tls_server_config: missing one of cert or cert_file");
    }
    if (!t->key && !t->key_file) {
        return fail(d, n, "tls_server_config: missing one of key or key_file");
    }
    if ((t->cert && t->cert_file) || (t->key && t->key_file)) {
        return fail(d, n, "tls_server_config: cert/cert_file and key/key_file are exclusive");
    }
    if (t->client_auth_type && t->client_auth_type[0] &&
        strcmp(t->client_auth_type, "NoClientCert") != 0) {
        return fail(d, n,
                    "tls_server_config.client_auth_type: %s is not supported (client "
                    "certificates are not verified by Odin; only NoClientCert)",
                    t->client_auth_type);
    }
    if (t->client_ca_file || t->client_ca) {
        return fail(d, n,
                    "tls_server_config: client CAs have been configured without a client "
                    "auth policy");
    }
    if (!empty_list(t->ciphers) || !empty_list(t->curves) || !empty_list(t->sans)) {
        const odin_yaml_node *at = !empty_list(t->ciphers)  ? t->ciphers
                                   : !empty_list(t->curves) ? t->curves
                                                            : t->sans;
        return fail(d, at,
                    "tls_server_config: cipher_suites, curve_preferences and "
                    "client_allowed_sans are not supported (GnuTLS' NORMAL set is used)");
    }
    const char *min = tls_version(t->min_version ? t->min_version : "TLS12");
    const char *max = tls_version(t->max_version ? t->max_version : "TLS13");
    if (min == NULL || max == NULL) {
        return fail(d, n,
                    "tls_server_config: unknown TLS version %s (want TLS10, TLS11, TLS12 "
                    "or TLS13)",
                    min == NULL ? t->min_version : t->max_version);
    }
    if (strcmp(min, max) > 0) {
        return fail(d, n, "tls_server_config: min_version is above max_version");
    }
    /* GnuTLS priority: its NORMAL set, protocol versions narrowed to [min, max]. */
    odin_strbuf pr;
    odin_strbuf_init(&pr, 0);
    odin_strbuf_puts(&pr, "NORMAL:-VERS-ALL");
    static const char *const order[] = {"VERS-TLS1.0", "VERS-TLS1.1", "VERS-TLS1.2", "VERS-TLS1.3"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(order); i++) {
        if (strcmp(order[i], min) >= 0 && strcmp(order[i], max) <= 0) {
            odin_strbuf_printf(&pr, ":+%s", order[i]);
        }
    }
    s->tls_priorities = odin_strbuf_take(&pr, NULL);
    s->tls = true;
    if (!d->read_files) {
        return 0;
    }
    int rc = pem(d, path, t->cert, t->cert_file, &s->tls_cert);
    return rc < 0 ? rc : pem(d, path, t->key, t->key_file, &s->tls_key);
}

static int dec_tls(web_dec *d, const odin_yaml_node *n, const char *path, http_web_settings *s)
{
    int open = open_map(d, n, "tls_server_config");
    if (open <= 0) {
        return open;
    }
    web_tls t = {0};
    int rc = dec_tls_fields(d, n, &t);
    if (rc == 0) {
        rc = finish_tls(d, n, &t, path, s);
    }
    web_tls_fini(&t);
    return rc;
}

static int dec_headers(web_dec *d, const odin_yaml_node *n, http_web_settings *s)
{
    int open = open_map(d, n, "http_server_config.headers");
    if (open <= 0) {
        return open;
    }
    for (size_t i = 0; i < n->n; i++) {
        const odin_yaml_node *k = n->v[2 * i], *v = n->v[2 * i + 1];
        size_t h = 0;
        while (h < HTTP_WEB_MAX_HEADERS && !key_is(k, allowed_headers[h].name)) {
            h++;
        }
        if (h == HTTP_WEB_MAX_HEADERS) {
            return fail(d, k, "HTTP header \"%.*s\" can not be configured", (int)k->len, k->s);
        }
        char *value = NULL;
        if (dec_string(d, v, "http_server_config.headers", &value) < 0) {
            return -ODIN_ERR_INVALID;
        }
        if (value == NULL) {
            value = odin_strdup("");
        }
        bool ok = allowed_headers[h].values[0] == NULL;
        for (size_t j = 0; !ok && allowed_headers[h].values[j]; j++) {
            ok = strcmp(value, allowed_headers[h].values[j]) == 0;
        }
        if (!ok || strpbrk(value, "\r\n") != NULL) {
            int r = fail(d, v, "invalid value for %s: \"%s\"", allowed_headers[h].name, value);
            free(value);
            return r;
        }
        free(s->header_values[h]);
        s->header_values[h] = value;
    }
    return 0;
}

static int dec_http(web_dec *d, const odin_yaml_node *n, http_web_settings *s)
{
    int open = open_map(d, n, "http_server_config");
    if (open <= 0) {
        return open;
    }
    for (size_t i = 0; i < n->n; i++) {
        const odin_yaml_node *k = n->v[2 * i], *v = n->v[2 * i + 1];
        if (key_is(k, "http2")) {
            bool http2 = true; /* accepted; Odin serves HTTP/1.1 (docs/api.md) */
            if (dec_bool(d, v, "http_server_config.http2", &http2) < 0) {
                return -ODIN_ERR_INVALID;
            }
        } else if (key_is(k, "headers")) {
            if (dec_headers(d, v, s) < 0) {
                return -ODIN_ERR_INVALID;
            }
        } else {
            return fail(d, k, "field %.*s not found in type web.HTTPConfig", (int)k->len, k->s);
        }
    }
    return 0;
}

/* A bcrypt hash as Go's bcrypt.Cost accepts it: $2a$, $2b$, $2x$ or $2y$, a two-digit cost of 4
 * to 31, and 53 characters of salt and hash. */
static bool is_bcrypt(const char *h)
{
    if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || strchr("abxy", h[2]) == NULL ||
        h[2] == '\0' || h[3] != '$' || h[6] != '$') {
        return false;
    }
    if (h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9') {
        return false;
    }
    int cost = (h[4] - '0') * 10 + (h[5] - '0');
    return cost >= 4 && cost <= 31;
}

static int dec_users(web_dec *d, const odin_yaml_node *n, http_web_settings *s)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (!is_map(n)) {
        return fail(d, n, "basic_auth_users: want a mapping of user name to bcrypt hash");
    }
    s->users = odin_calloc(n->n ? n->n : 1, sizeof *s->users);
    for (size_t i = 0; i < n->n; i++) {
        const odin_yaml_node *k = n->v[2 * i], *v = n->v[2 * i + 1];
        if (k->kind != ODIN_YAML_SCALAR || strlen(k->s) != k->len) {
            return fail(d, k, "basic_auth_users: a user name must be a string");
        }
        char *hash = NULL;
        if (dec_string(d, v, "basic_auth_users", &hash) < 0) {
            return -ODIN_ERR_INVALID;
        }
        if (hash == NULL || !is_bcrypt(hash)) {
            free(hash);
            return fail(d, v,
                        "basic_auth_users: the password of user \"%s\" is not a bcrypt "
                        "hash",
                        k->s);
        }
        for (size_t j = 0; j < s->nusers; j++) {
            if (strcmp(s->users[j].name, k->s) == 0) {
                free(hash);
                return fail(d, k, "basic_auth_users: user \"%s\" is listed twice", k->s);
            }
        }
        s->users[s->nusers].name = odin_strdup(k->s);
        s->users[s->nusers].hash = hash;
        s->nusers++;
    }
    return 0;
}

static int dec_rate(web_dec *d, const odin_yaml_node *n, http_web_settings *s)
{
    int open = open_map(d, n, "rate_limit");
    if (open <= 0) {
        return open;
    }
    for (size_t i = 0; i < n->n; i++) {
        const odin_yaml_node *k = n->v[2 * i], *v = n->v[2 * i + 1];
        if (key_is(k, "interval")) {
            if (v->kind != ODIN_YAML_SCALAR ||
                odin_parse_duration_ms((odin_str){v->s, v->len}, &s->rate_interval_ms) < 0) {
                return fail(d, v, "rate_limit.interval: want a duration");
            }
        } else if (key_is(k, "burst")) {
            int64_t b = 0;
            if (v->kind != ODIN_YAML_SCALAR || odin_parse_i64((odin_str){v->s, v->len}, &b) < 0 ||
                b < 0 || b > 1000000000) {
                return fail(d, v, "rate_limit.burst: want a non-negative integer");
            }
            s->rate_burst = (int)b;
        } else {
            return fail(d, k, "field %.*s not found in type web.RateLimiterConfig", (int)k->len,
                        k->s);
        }
    }
    return 0;
}

void http_web_settings_fini(http_web_settings *s)
{
    for (size_t i = 0; i < s->nusers; i++) {
        free(s->users[i].name);
        free(s->users[i].hash);
    }
    free(s->users);
    for (size_t i = 0; i < HTTP_WEB_MAX_HEADERS; i++) {
        free(s->header_values[i]);
    }
    free(s->tls_cert);
    if (s->tls_key != NULL) {
        memset(s->tls_key, 0, strlen(s->tls_key)); /* a private key: not left in freed memory */
        free(s->tls_key);
    }
    free(s->tls_priorities);
    memset(s, 0, sizeof *s);
}

const char *http_web_header_name(size_t i)
{
    return i < HTTP_WEB_MAX_HEADERS ? allowed_headers[i].name : NULL;
}

int http_web_settings_load(const char *path, http_web_settings *out, odin_err *err)
{
    memset(out, 0, sizeof *out);
    odin_strbuf text;
    odin_strbuf_init(&text, 0);
    int rc = odin_read_file(path, &text, 1 << 20, err);
    if (rc == 0) {
        rc = http_web_settings_parse(text.p, text.len, path, true, out, err);
    }
    odin_strbuf_fini(&text);
    return rc;
}

int http_web_settings_parse(const char *text, size_t len, const char *path, bool read_files,
                            http_web_settings *out, odin_err *err)
{
    memset(out, 0, sizeof *out);
    odin_yaml_doc doc;
    int rc = odin_yaml_parse(&doc, text, len, path, err);
    web_dec d = {.name = path, .err = err, .read_files = read_files};
    const odin_yaml_node *root = doc.root;
    if (rc == 0 && root != NULL && !odin_yaml_is_null(root) && !is_map(root)) {
        rc = fail(&d, root, "want a mapping at the top level");
    }
    if (rc == 0 && is_map(root)) {
        rc = no_duplicate_keys(&d, root);
    }
    for (size_t i = 0; rc == 0 && root != NULL && is_map(root) && i < root->n; i++) {
        const odin_yaml_node *k = root->v[2 * i], *v = root->v[2 * i + 1];
        if (key_is(k, "tls_server_config")) {
            rc = dec_tls(&d, v, path, out);
        } else if (key_is(k, "http_server_config")) {
            rc = dec_http(&d, v, out);
        } else if (key_is(k, "basic_auth_users")) {
            rc = dec_users(&d, v, out);
        } else if (key_is(k, "rate_limit")) {
            rc = dec_rate(&d, v, out);
        } else {
            rc = fail(&d, k, "field %.*s not found in type web.Config", (int)k->len, k->s);
        }
    }
    odin_yaml_doc_fini(&doc);
    if (rc < 0) {
        http_web_settings_fini(out);
    }
    return rc;
}

int http_web_config_check(const char *path, bool *tls, odin_err *err)
{
    http_web_settings s;
    int rc = http_web_settings_load(path, &s, err);
    if (rc == 0) {
        if (tls != NULL) {
            *tls = s.tls;
        }
        http_web_settings_fini(&s);
    }
    return rc;
}

/* Releasing an http_client_config (tls_config, basic_auth, authorization, proxy settings) that the
 * config loader filled with heap strings. */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

/* Secrets are wiped before their memory goes back to the allocator. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void http_client_config_fini(http_client_config *c)
{
    if (c == NULL) {
        return;
    }
    http_tls_config *t = &c->tls;
    free(t->ca_file);
    free(t->cert_file);
    free(t->key_file);
    free(t->server_name);
    free(t->min_version);
    free(t->max_version);
    free(t->ca);
    free(t->cert);
    free_secret(t->key);
    free(c->basic_username);
    free_secret(c->basic_password);
    free(c->basic_password_file);
    free(c->basic_username_file);
    free(c->auth_type);
    free_secret(c->auth_credentials);
    free(c->auth_credentials_file);
    free(c->proxy_url);
    free(c->no_proxy);
    *c = (http_client_config){0};
}

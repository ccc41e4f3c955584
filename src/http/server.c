/* The public server calls: start picks the backend and opens the listen socket both share;
 * routes go to the shared router; stop hands over to the backend's stop. */
#include <stdlib.h>
#include <string.h>

#include "http/server_int.h"

static void server_free(http_server *s)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i].method);
        free(s->routes[i].path);
    }
    free(s->routes);
    free(s->address);
    http_web_free(s->web);
    pthread_mutex_destroy(&s->gate_mu);
    pthread_cond_destroy(&s->gate_cv);
    free(s);
}

http_server *http_server_start(const http_server_opts *opts, odin_err *err)
{
    http_web *web = NULL;
    if (opts->web_config_file != NULL && opts->web_config_file[0] != '\0') {
        web = http_web_new(opts->web_config_file, err);
        if (web == NULL) {
            return NULL;
        }
    }
    int fd = http_listen_open(opts->listen_address, err);
    if (fd < 0) {
        http_web_free(web);
        return NULL;
    }
    http_server *s = odin_calloc(1, sizeof *s);
    s->web = web;
    s->backend = opts->backend;
    if (web != NULL && http_web_start_settings(web)->tls) {
        s->backend = HTTP_BACKEND_MHD; /* TLS comes from libmicrohttpd's GnuTLS */
    }
    s->address = odin_strdup(opts->listen_address);
    s->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : HTTP_DEFAULT_TIMEOUT_S;
    s->max_body_bytes =
        opts->max_body_bytes > 0 ? opts->max_body_bytes : HTTP_DEFAULT_MAX_BODY_BYTES;
    s->port = http_bound_port(fd);
    atomic_init(&s->stopping, false);
    atomic_init(&s->gated, opts->gated);
    pthread_mutex_init(&s->gate_mu, NULL);
    pthread_cond_init(&s->gate_cv, NULL);
    int rc = s->backend == HTTP_BACKEND_SMALL ? http_small_start(s, fd, opts->threads, err)
                                              : http_mhd_start(s, fd, opts->threads, err);
    if (rc < 0) {
        server_free(s);
        return NULL;
    }
    return s;
}

void http_server_open(http_server *s)
{
    pthread_mutex_lock(&s->gate_mu);
    atomic_store(&s->gated, false);
    pthread_cond_broadcast(&s->gate_cv);
    pthread_mutex_unlock(&s->gate_mu);
}

void http_server_wait_open(http_server *s)
{
    pthread_mutex_lock(&s->gate_mu);
    while (atomic_load(&s->gated)) {
        pthread_cond_wait(&s->gate_cv, &s->gate_mu);
    }
    pthread_mutex_unlock(&s->gate_mu);
}

int http_server_port(const http_server *s)
{
    return s->port;
}

void http_server_stop(http_server *s)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->stopping, true);
    http_server_open(s); /* a request waiting at the gate then finds whatever routes there are */
    if (s->backend == HTTP_BACKEND_SMALL) {
        http_small_stop(s);
    } else {
        http_mhd_stop(s);
    }
    server_free(s);
}

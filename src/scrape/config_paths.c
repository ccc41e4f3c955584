/* Relative file names in prometheus.yml (file_sd globs, TLS and credential files) resolved against
 * the config file's directory at load time, as Prometheus' config.SetDirectory does, so the
 * scrape loops and discovery open the files the user meant whatever the working directory. */
#include "scrape/config_int.h"

#include <stdlib.h>
#include <string.h>

/* Go's config.JoinDir: "" and absolute paths stay; others become dir/path. dir "" or "." keeps
 * the path as written (Go's filepath.Join(".", p) is p, cleaned). */
static void join_dir(const char *dir, char **path)
{
    if (*path == NULL || (*path)[0] == '\0' || (*path)[0] == '/' || dir[0] == '\0' ||
        strcmp(dir, ".") == 0) {
        return;
    }
    const char *p = *path;
    while (p[0] == '.' && p[1] == '/') {
        p += 2; /* "./x" joins as "x", as filepath.Clean does */
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_puts(&b, dir);
    if (dir[strlen(dir) - 1] != '/') {
        odin_strbuf_putc(&b, '/');
    }
    odin_strbuf_puts(&b, p);
    char *joined = odin_strbuf_take(&b, NULL);
    free(*path);
    *path = joined;
}

static void resolve_http(const char *dir, http_client_config *h)
{
    join_dir(dir, &h->tls.ca_file);
    join_dir(dir, &h->tls.cert_file);
    join_dir(dir, &h->tls.key_file);
    join_dir(dir, &h->basic_password_file);
    join_dir(dir, &h->basic_username_file);
    join_dir(dir, &h->auth_credentials_file); /* also bearer_token_file */
}

static void resolve_sd(const char *dir, discovery_config *sd)
{
    for (size_t i = 0; i < sd->nfiles; i++) {
        for (size_t k = 0; k < sd->files[i].nfiles; k++) {
            join_dir(dir, &sd->files[i].files[k]);
        }
    }
    for (size_t i = 0; i < sd->nk8s; i++) {
        join_dir(dir, &sd->k8s[i].kubeconfig_file);
        resolve_http(dir, &sd->k8s[i].http);
    }
}

void scrape_config_resolve_paths(scrape_config *c, const char *config_path)
{
    const char *slash = strrchr(config_path, '/');
    if (slash == NULL) {
        return; /* the file is in the working directory: relative names already mean the same */
    }
    char *dir = odin_strndup(config_path, slash == config_path ? 1 : (size_t)(slash - config_path));
    for (size_t i = 0; i < c->njobs; i++) {
        resolve_http(dir, &c->jobs[i].http);
        resolve_sd(dir, &c->jobs[i].sd);
    }
    for (size_t i = 0; i < c->nalertmanagers; i++) {
        resolve_http(dir, &c->alertmanagers[i].http);
        resolve_sd(dir, &c->alertmanagers[i].sd);
    }
    for (size_t i = 0; i < c->nremote_write; i++) {
        resolve_http(dir, &c->remote_write[i].http);
    }
    free(dir);
}

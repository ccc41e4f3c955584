/* Releasing discovery configs and target groups; they are built by the config loader
 * (src/scrape/) and by the providers, and freed here so every owner frees them the same way. */
#include "discovery/discovery.h"

#include <stdlib.h>

static void free_labels(odin_label *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)v[i].name.p);
        free((char *)v[i].value.p);
    }
    free(v);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

void discovery_group_fini(discovery_group *g)
{
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < g->ntargets; i++) {
        if (g->target_labels) {
            free_labels(g->target_labels[i], g->ntarget_labels ? g->ntarget_labels[i] : 0);
        }
    }
    free_strings(g->targets, g->ntargets);
    free(g->target_labels);
    free(g->ntarget_labels);
    free_labels(g->labels, g->nlabels);
    free(g->source);
    *g = (discovery_group){0};
}

static void k8s_fini(discovery_k8s_config *k)
{
    free(k->api_server);
    free_strings(k->namespaces, k->nnamespaces);
    for (size_t i = 0; i < k->nselectors; i++) {
        free(k->selectors[i].role);
        free(k->selectors[i].label);
        free(k->selectors[i].field);
    }
    free(k->selectors);
    http_client_config_fini(&k->http);
    free(k->kubeconfig_file);
    *k = (discovery_k8s_config){0};
}

void discovery_config_fini(discovery_config *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nstatic; i++) {
        discovery_group_fini(&c->static_groups[i]);
    }
    free(c->static_groups);
    for (size_t i = 0; i < c->nfiles; i++) {
        free_strings(c->files[i].files, c->files[i].nfiles);
    }
    free(c->files);
    for (size_t i = 0; i < c->nk8s; i++) {
        k8s_fini(&c->k8s[i]);
    }
    free(c->k8s);
    *c = (discovery_config){0};
}

/* Test tool for Kubernetes discovery: starts one provider against the API server given on the
 * command line and prints every update until SIGTERM/SIGINT (or --count updates), as
 *   update <ngroups>
 *   {"source":"...","labels":{...},"targets":[{...},...]}   one group per line, by source
 *   end
 * with label names sorted. Driven by tests/e2e/test_k8s_sd.py. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/kubernetes.h"

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static long updates_left = -1;

static void json_str(odin_strbuf *b, odin_str s)
{
    odin_strbuf_putc(b, '"');
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '"' || c == '\\') {
            odin_strbuf_putc(b, '\\');
            odin_strbuf_putc(b, (char)c);
        } else if (c < 0x20) {
            odin_strbuf_printf(b, "\\u%04x", c);
        } else {
            odin_strbuf_putc(b, (char)c);
        }
    }
    odin_strbuf_putc(b, '"');
}

static void json_labels(odin_strbuf *b, const odin_label *v, size_t n)
{
    odin_label *s = n > 0 ? odin_calloc(n, sizeof *s) : NULL;
    if (n > 0) {
        memcpy(s, v, n * sizeof *s);
    }
    odin_labels_sort(s, n);
    odin_strbuf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            odin_strbuf_putc(b, ',');
        }
        json_str(b, s[i].name);
        odin_strbuf_putc(b, ':');
        json_str(b, s[i].value);
    }
    odin_strbuf_putc(b, '}');
    free(s);
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_update(void *ctx, const discovery_group *g, size_t n)
{
    (void)ctx;
    char **lines = odin_calloc(n + 1, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        odin_strbuf_puts(&b, "{\"source\":");
        json_str(&b, odin_str_c(g[i].source));
        odin_strbuf_puts(&b, ",\"labels\":");
        json_labels(&b, g[i].labels, g[i].nlabels);
        odin_strbuf_puts(&b, ",\"targets\":[");
        for (size_t t = 0; t < g[i].ntargets; t++) {
            if (t > 0) {
                odin_strbuf_putc(&b, ',');
            }
            json_labels(&b, g[i].target_labels[t], g[i].ntarget_labels[t]);
        }
        odin_strbuf_puts(&b, "]}");
        lines[i] = odin_strbuf_take(&b, NULL);
    }
    qsort(lines, n, sizeof *lines, cmp_line);
    pthread_mutex_lock(&out_lock);
    printf("update %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        printf("%s\n", lines[i]);
        free(lines[i]);
    }
    printf("end\n");
    fflush(stdout);
    if (updates_left > 0) {
        updates_left--; /* main polls it */
    }
    pthread_mutex_unlock(&out_lock);
    free(lines);
}

static int role_parse(const char *s)
{
    static const char *const names[] = {"node", "pod", "service", "endpoints", "endpointslice",
                                        "ingress"};
    for (int i = 0; i < 6; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static void usage(void)
{
    fputs("usage: k8s_sd --role R (--api-server URL | --kubeconfig F) [--namespace N]...\n"
          "  [--own-namespace]\n"
          "  [--selector role:label:field]... [--bearer-token-file F] [--basic-auth U:P]\n"
          "  [--ca-file F] [--insecure] [--attach-node] [--attach-namespace] [--count N]\n",
          stderr);
    exit(2);
}

/* Parses argv into cfg; strings are heap copies freed by discovery_config_fini's helpers. */
static void parse_args(int argc, char **argv, discovery_k8s_config *cfg)
{
    cfg->http.follow_redirects = true;
    int role = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--role") == 0 || strcmp(a, "--api-server") == 0 ||
                     strcmp(a, "--namespace") == 0 || strcmp(a, "--selector") == 0 ||
                     strcmp(a, "--bearer-token-file") == 0 || strcmp(a, "--basic-auth") == 0 ||
                     strcmp(a, "--ca-file") == 0 || strcmp(a, "--count") == 0 ||
                     strcmp(a, "--kubeconfig") == 0;
        if (takes && v == NULL) {
            usage();
        }
        if (strcmp(a, "--role") == 0) {
            role = role_parse(v);
        } else if (strcmp(a, "--api-server") == 0) {
            cfg->api_server = odin_strdup(v);
        } else if (strcmp(a, "--namespace") == 0) {
            cfg->namespaces = odin_realloc(cfg->namespaces, (cfg->nnamespaces + 1) * sizeof(char *));
            cfg->namespaces[cfg->nnamespaces++] = odin_strdup(v);
        } else if (strcmp(a, "--selector") == 0) {
            odin_str s = odin_str_c(v);
            odin_str r = odin_str_cut(&s, ':');
            odin_str l = odin_str_cut(&s, ':');
            cfg->selectors = odin_realloc(cfg->selectors, (cfg->nselectors + 1) * sizeof *cfg->selectors);
            cfg->selectors[cfg->nselectors++] = (discovery_k8s_selector){
                odin_strndup(r.p, r.len), l.len ? odin_strndup(l.p, l.len) : NULL,
                s.len ? odin_strndup(s.p, s.len) : NULL};
        } else if (strcmp(a, "--bearer-token-file") == 0) {
            cfg->http.has_authorization = true;
            cfg->http.auth_credentials_file = odin_strdup(v);
        } else if (strcmp(a, "--basic-auth") == 0) {
            odin_str s = odin_str_c(v);
            odin_str u = odin_str_cut(&s, ':');
            cfg->http.has_basic_auth = true;
            cfg->http.basic_username = odin_strndup(u.p, u.len);
            cfg->http.basic_password = odin_strndup(s.p, s.len);
        } else if (strcmp(a, "--kubeconfig") == 0) {
            cfg->kubeconfig_file = odin_strdup(v);
        } else if (strcmp(a, "--ca-file") == 0) {
            cfg->http.tls.ca_file = odin_strdup(v);
        } else if (strcmp(a, "--insecure") == 0) {
            cfg->http.tls.insecure_skip_verify = true;
        } else if (strcmp(a, "--own-namespace") == 0) {
            cfg->own_namespace = true;
        } else if (strcmp(a, "--attach-node") == 0) {
            cfg->attach_node_metadata = true;
        } else if (strcmp(a, "--attach-namespace") == 0) {
            cfg->attach_namespace_metadata = true;
        } else if (strcmp(a, "--count") == 0) {
            int64_t n;
            if (odin_parse_i64(odin_str_c(v), &n) < 0) {
                usage();
            }
            updates_left = (long)n;
        } else {
            usage();
        }
        i += takes;
    }
    if (role < 0) {
        usage();
    }
    cfg->role = (discovery_k8s_role)role;
}

int main(int argc, char **argv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts: only sigwait sees them */
    discovery_config all = {0};
    all.k8s = odin_calloc(1, sizeof *all.k8s);
    all.nk8s = 1;
    parse_args(argc, argv, &all.k8s[0]);
    odin_err err;
    odin_err_clear(&err);
    k8s_provider *p = k8s_provider_start(&all.k8s[0], on_update, NULL, &err);
    if (p == NULL) {
        fprintf(stderr, "k8s_sd: %s\n", err.msg);
        discovery_config_fini(&all);
        return 1;
    }
    if (updates_left > 0) {
        for (;;) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            siginfo_t si;
            if (sigtimedwait(&set, &si, &ts) > 0) {
                break;
            }
            pthread_mutex_lock(&out_lock);
            bool done = updates_left == 0;
            pthread_mutex_unlock(&out_lock);
            if (done) {
                break;
            }
        }
    } else {
        int sig;
        sigwait(&set, &sig);
    }
    k8s_provider_stop(p);
    discovery_config_fini(&all);
    return 0;
}

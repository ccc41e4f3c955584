/* `odin up`: the whole stack in one process for a laptop or a single node: the server with an
 * embedded configuration that scrapes itself and an in-process agent, data under ./data. */
#include "agent/agent.h"
#include "http/http.h"
#include "server/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The same jobs the seed's cluster config names, pointed at this process's two listeners. */
static const char embedded_config[] =
    "global:\n"
    "  scrape_interval: 15s\n"
    "  evaluation_interval: 15s\n"
    "scrape_configs:\n"
    "  - job_name: prometheus\n"
    "    static_configs:\n"
    "      - targets: ['%s']\n"
    "  - job_name: node-exporter\n"
    "    static_configs:\n"
    "      - targets: ['%s']\n";

/* A listen address as a scrape target: a wildcard or empty host becomes localhost. */
static char *target_of(const char *listen)
{
    const char *colon = strrchr(listen, ':');
    const char *port = colon ? colon + 1 : listen;
    size_t hl = colon ? (size_t)(colon - listen) : 0;
    bool wildcard = hl == 0 || (hl == 7 && strncmp(listen, "0.0.0.0", 7) == 0) ||
                    (hl == 4 && strncmp(listen, "[::]", 4) == 0);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    if (wildcard) {
        odin_strbuf_printf(&b, "localhost:%s", port);
    } else {
        odin_strbuf_puts(&b, listen);
    }
    return odin_strbuf_take(&b, NULL);
}

static const char *flag_value(char **argv, int argc, const char *name, const char *def)
{
    size_t n = strlen(name);
    const char *v = def;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
            v = argv[i] + n + 1;
        } else if (strcmp(argv[i], name) == 0 && i + 1 < argc) {
            v = argv[i + 1];
        }
    }
    return v;
}

int server_up_main(int argc, char **argv)
{
    /* agent flags: --agent.<flag> are passed to the in-process agent without the prefix */
    char **agent_argv = odin_calloc((size_t)argc + 3, sizeof(char *));
    char **server_argv = odin_calloc((size_t)argc + 5, sizeof(char *));
    int na = 0, ns = 0;
    agent_argv[na++] = "agent";
    server_argv[ns++] = "up";
    bool has_path = false, has_agent_listen = false, has_listen = false;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--agent.", 8) == 0) {
            char *a = odin_malloc(strlen(argv[i]) + 1);
            memcpy(a, "--", 2);
            memcpy(a + 2, argv[i] + 8, strlen(argv[i] + 8) + 1);
            agent_argv[na++] = a;
            has_agent_listen |= strncmp(a, "--web.listen-address", 20) == 0;
        } else {
            server_argv[ns++] = argv[i];
            has_path |= strncmp(argv[i], "--storage.tsdb.path", 19) == 0;
            has_listen |= strncmp(argv[i], "--web.listen-address", 20) == 0;
        }
    }
    if (!has_path) {
        server_argv[ns++] = "--storage.tsdb.path=data";
    }
    if (!has_agent_listen) {
        agent_argv[na++] = odin_strdup("--web.listen-address=:9100");
    }
    if (!has_listen) {
        server_argv[ns++] = "--web.listen-address=:9090";
    }
    http_signals_block();
    odin_err err = {0};
    agent *ag = agent_new(na, agent_argv, &err);
    int rc = 2;
    if (!ag) {
        fprintf(stderr, "odin up: agent: %s\n", err.msg);
        goto out;
    }
    if (agent_start(ag, &err) < 0) {
        fprintf(stderr, "odin up: agent: %s\n", err.msg);
        goto out;
    }
    char *self = target_of(flag_value(server_argv, ns, "--web.listen-address", ":9090"));
    char *node = target_of(flag_value(agent_argv, na, "--web.listen-address", ":9100"));
    odin_strbuf cfg;
    odin_strbuf_init(&cfg, 0);
    odin_strbuf_printf(&cfg, embedded_config, self, node);
    rc = server_up_run(cfg.p, ns, server_argv);
    odin_strbuf_fini(&cfg);
    free(self);
    free(node);
out:
    agent_free(ag);
    for (int i = 1; i < na; i++) {
        free(agent_argv[i]);
    }
    free(agent_argv);
    free(server_argv);
    return rc;
}

/* `odin up`: the whole stack in one process for a laptop or a single node: the server with an
 * embedded configuration that scrapes itself and an in-process agent, data under ./data. */
#include "agent/agent.h"
#include "http/http.h"
#include "server/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The same jobs the seed's cluster config names, pointed at this machine. */
static const char embedded_config[] =
    "global:\n"
    "  scrape_interval: 15s\n"
    "  evaluation_interval: 15s\n"
    "scrape_configs:\n"
    "  - job_name: prometheus\n"
    "    static_configs:\n"
    "      - targets: ['localhost:9090']\n"
    "  - job_name: node-exporter\n"
    "    static_configs:\n"
    "      - targets: ['localhost:9100']\n";

int server_up_main(int argc, char **argv)
{
    /* agent flags: --agent.<flag> are passed to the in-process agent without the prefix */
    char **agent_argv = odin_calloc((size_t)argc + 3, sizeof(char *));
    char **server_argv = odin_calloc((size_t)argc + 4, sizeof(char *));
    int na = 0, ns = 0;
    agent_argv[na++] = "agent";
    server_argv[ns++] = "up";
    bool has_path = false, has_agent_listen = false;
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
        }
    }
    if (!has_path) {
        server_argv[ns++] = "--storage.tsdb.path=data";
    }
    if (!has_agent_listen) {
        agent_argv[na++] = odin_strdup("--web.listen-address=:9100");
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
    rc = server_up_run(embedded_config, ns, server_argv);
out:
    agent_free(ag);
    for (int i = 1; i < na; i++) {
        free(agent_argv[i]);
    }
    free(agent_argv);
    free(server_argv);
    return rc;
}

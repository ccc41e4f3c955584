/* odin: one binary, several roles. This file only dispatches to them. */
#include "agent/agent.h"
#include "base/base.h"
#include "cli/cli.h"
#include "promql/promql.h"
#include "scrape/scrape.h"
#include "server/server.h"
#include "tsdb/tsdb.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: odin <role> [flags]\n"
    "\n"
    "roles:\n"
    "  up                  the whole stack in one process: server on :9090, agent on :9100\n"
    "  server              Prometheus-compatible server (prometheus.yml, storage, PromQL API)\n"
    "  agent               per-node metrics (node_exporter's and dcgm-exporter's names) on :9100\n"
    "  check config FILE   validate prometheus.yml files\n"
    "  check web-config FILE  validate --web.config.file files (TLS, basic auth)\n"
    "  promqltest FILE...  run PromQL test scripts (the upstream .test format)\n"
    "  tsdb dump|analyze|import  inspect or backfill a data directory\n"
    "  query instant|range|series|labels URL ...  query a Prometheus-compatible server\n"
    "\n"
    "  odin --version      print the version\n"
    "  odin <role> --help  flags of a role\n";

/* `odin promqltest FILE...`: every file's failures, then one closing line for all of them. */
static int promqltest_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: odin promqltest FILE...\n", stderr);
        return 2;
    }
    int passed = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        odin_strbuf out;
        odin_strbuf_init(&out, 0);
        int p = 0, f = 0;
        promql_test_run_file(argv[i], &out, &p, &f);
        fwrite(out.p ? out.p : "", 1, out.len, stdout);
        odin_strbuf_fini(&out);
        passed += p;
        failed += f;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *role = argv[1];
    if (strcmp(role, "--version") == 0 || strcmp(role, "version") == 0) {
        printf("odin, version %s\n", ODIN_VERSION);
        return 0;
    }
    if (strcmp(role, "agent") == 0) {
        return agent_main(argc - 1, argv + 1);
    }
    if (strcmp(role, "server") == 0) {
        return server_main(argc - 1, argv + 1);
    }
    if (strcmp(role, "up") == 0) {
        return server_up_main(argc - 1, argv + 1);
    }
    if (strcmp(role, "promqltest") == 0) {
        return promqltest_main(argc - 1, argv + 1);
    }
    if (strcmp(role, "query") == 0) {
        return cli_query_main(argc - 1, argv + 1);
    }
    if (strcmp(role, "tsdb") == 0) {
        return tsdb_cli_main(argc - 1, argv + 1);
    }
    if (strcmp(role, "check") == 0 && argc >= 3 && strcmp(argv[2], "config") == 0) {
        return scrape_check_config_main(argc - 2, argv + 2);
    }
    if (strcmp(role, "check") == 0 && argc >= 3 && strcmp(argv[2], "web-config") == 0) {
        return cli_check_web_config_main(argc - 2, argv + 2);
    }
    fprintf(stderr, "odin: unknown role \"%s\"\n\n%s", role, usage);
    return 2;
}

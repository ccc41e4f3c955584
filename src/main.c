/* odin: one binary, several roles. This file only dispatches to them. */
#include "agent/agent.h"
#include "base/base.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: odin <role> [flags]\n"
    "\n"
    "roles:\n"
    "  agent     per-node metrics (node_exporter's names) on :9100\n"
    "\n"
    "  odin --version    print the version\n"
    "  odin <role> --help  flags of a role\n";

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("odin, version %s\n", ODIN_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "agent") == 0) {
        return agent_main(argc - 1, argv + 1);
    }
    fprintf(stderr, "odin: unknown role \"%s\"\n\n%s", argv[1], usage);
    return 2;
}

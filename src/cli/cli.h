/* Client-side commands of the odin binary that talk to a Prometheus-compatible server over HTTP
 * (today: `odin query`, promtool's `query` subcommands). They run on the calling thread, print
 * results on stdout and errors on stderr, and own nothing past their return. */
#ifndef ODIN_CLI_CLI_H
#define ODIN_CLI_CLI_H

/* `odin query instant|range|series|labels [flags] URL ...`, with promtool 2.42's arguments and
 * output (`-o promql|json`). argv[0] is "query". Returns the process exit code: 0 on success,
 * 1 when the server answered an error or could not be reached, or on a usage error
 * (promtool's codes). Not
 * thread-safe with other libcurl users that have not called curl_global_init. */
int cli_query_main(int argc, char **argv);

/* `odin check web-config FILE...` (promtool check web-config): "FILE SUCCESS" on stdout or
 * "FILE FAILED: reason" on stderr for each; 1 when any failed. argv[0] is "web-config". */
int cli_check_web_config_main(int argc, char **argv);

#endif

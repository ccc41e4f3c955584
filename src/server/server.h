/* The server role: `odin server` (Prometheus' flags and prometheus.yml) and `odin up` (server and
 * agent in one process with an embedded configuration). Top of the module order: it wires tsdb,
 * promql, web, scrape and discovery together and owns the process's signal handling. */
#ifndef ODIN_SERVER_SERVER_H
#define ODIN_SERVER_SERVER_H

/* `odin server [flags]`: runs until SIGTERM/SIGINT; SIGHUP reloads the configuration. Exit code. */
int server_main(int argc, char **argv);
/* `odin up [flags]`: the local quick start. */
int server_up_main(int argc, char **argv);

#endif

/* The per-node agent: host metrics under node_exporter's names served on /metrics.
 * One agent instance per process; `odin up` embeds it next to the server. */
#ifndef ODIN_AGENT_AGENT_H
#define ODIN_AGENT_AGENT_H

#include "base/base.h"

typedef struct agent agent;

/* `odin agent [flags]`: parses node_exporter's flags, serves until SIGTERM/SIGINT. Exit code. */
int agent_main(int argc, char **argv);

/* Builds an agent from command-line style flags (argv[0] is skipped). NULL with err on a bad
 * flag or a collector that cannot start. Freed by agent_free. */
agent *agent_new(int argc, char **argv, odin_err *err);
void agent_free(agent *ag);
/* Runs every enabled collector once and appends the exposition text (format 0.0.4) to out.
 * Thread-safe: scrapes are serialized by the agent's lock. */
void agent_scrape_text(agent *ag, odin_strbuf *out);
/* Serves /metrics and the landing page on --web.listen-address until agent_stop (or agent_free).
 * Returns 0, or a negative code with err naming the address. */
int agent_start(agent *ag, odin_err *err);
void agent_stop(agent *ag);

#endif

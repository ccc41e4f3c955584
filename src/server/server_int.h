/* Private to src/server/: flags and the running server's parts. */
#ifndef ODIN_SERVER_SERVER_INT_H
#define ODIN_SERVER_SERVER_INT_H

#include "base/base.h"
#include "scrape/scrape.h"
#include "server/server.h"
#include "tsdb/tsdb.h"

typedef struct {
    const char *name;
    const char *def;
    const char *help;
    bool is_bool;
} server_flag_def;

/* Values point into argv or the definitions: valid for the process's lifetime. */
typedef struct {
    const char **values;
    bool *given;
    size_t n;
} server_flags;

const server_flag_def *server_flag_defs(void);
int server_flags_parse(server_flags *f, int argc, char **argv, odin_err *err);
void server_flags_fini(server_flags *f);
const char *server_flag(const server_flags *f, const char *name);
bool server_flag_bool(const server_flags *f, const char *name);
bool server_flag_given(const server_flags *f, const char *name);
void server_flags_usage(odin_strbuf *out, const char *role);
int server_parse_bytes(const char *s, uint64_t *out);
/* self_metrics.c: what the server's /metrics shows about itself. */
typedef struct {
    double start_time_s;
    bool ready;
    bool reload_ok;          /* the last configuration load */
    double reload_ok_time_s; /* the last one that succeeded (0: none) */
    tsdb_stats tsdb;
    scrape_stats scrape;
} server_self;

/* Appends the server's own metric families in text format 0.0.4, in name order. */
void server_self_metrics(odin_strbuf *out, const server_self *in);

/* server.c: runs the server with a configuration given as text (`odin up`); the caller has
 * blocked signals. */
int server_up_run(const char *config_text, int argc, char **argv);

#endif

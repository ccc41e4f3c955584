/* Private to the agent's core files (agent.c, flags.c, registry.c, io.c): the agent instance and
 * the scrape context. Collectors go through agent_int.h only. */
#ifndef ODIN_AGENT_CORE_H
#define ODIN_AGENT_CORE_H

#include "agent/agent_int.h"

#include <pthread.h>

/* A flag as given on the command line. */
typedef struct {
    const agent_flag_def *def;
    const char **values; /* heap array of borrowed argv strings */
    size_t len;
} agent_flag_value;

typedef struct {
    const agent_collector_def *def;
    void *state;
    bool enabled;
} agent_collector;

struct agent_scrape {
    agent *ag;
    odin_arena arena;
    /* name -> agent_family_build (heap, with its key): families are kept across scrapes, and a
     * scrape's first emission of one starts it afresh (registry.c) */
    odin_map families;
    struct agent_family_build **emitted; /* heap: this scrape's families, in first-emission */
    size_t nemitted, capemitted;         /* order; kept for its capacity */
    /* agent_emit's descriptors in the order the last scrape met them, with their families: a
     * scrape meets them in the same order, so the family is found without hashing its name */
    struct agent_desc_family *dseq; /* heap, ndseq used of capdseq */
    size_t ndseq, capdseq, dcursor;
    odin_strbuf read_buf;
    odin_map files;      /* path -> agent_cached_file: descriptors kept open across scrapes */
    odin_map dirs;       /* path -> this scrape's listing of it (keys and values in `arena`) */
    odin_map absent;     /* path -> when it was last found missing (absent.c) */
    uint64_t generation; /* scrape count, for closing descriptors no longer read */
    struct agent_rtnl
        *rtnl; /* rtnl.c: netlink socket and this scrape's link dump; NULL until used */
    /* agent_emit's last descriptor in scrape emit_gen, its family (NULL: its samples are dropped)
     * and label count: collectors emit runs of one descriptor */
    /* render's sorting permutation of the scrape's emission order (heap, norder entries): a
     * scrape emits the same families in the same order, so the last permutation, checked, sorts
     * them again */
    size_t *order;
    size_t norder;
    const agent_desc *emit_desc;
    expfmt_family *emit_family;
    size_t emit_nlabels;
    odin_str emit_lnames[16]; /* emit_desc's label names with their lengths */
    uint64_t emit_gen;
    /* agent_scrape_memo: values kept for the rest of one scrape (generation memo_gen[i]) */
    const void *memo_key[4];
    void *memo_val[4];
    uint64_t memo_gen[4];
};

/* Owned by whoever called agent_new; freed by agent_free. Fields above `lock` are fixed after
 * agent_new; the scrape context is used only with `lock` held. */
struct agent {
    agent_flag_value *flags; /* one entry per known flag, in definition order */
    size_t nflags;
    agent_collector *collectors;
    size_t ncollectors;
    const char *procfs, *sysfs, *rootfs, *udev;
    bool sysfs_live; /* agent_sysfs_is_live; tests clear it to compare with the file path */
    double start_time_s;
    char goarch[65]; /* build info's goarch, from uname once: the machine does not change */
    struct http_server *http; /* while serving: agent_start to agent_stop */
    struct agent_http *served;
    /* set by agent_main before serving, then fixed: the agent is alone in its process (not in
     * `odin up`), so it may drop the process's unused file pages */
    bool own_process;
    pthread_mutex_t lock;
    agent_scrape scrape;
};

/* flags.c */
int agent_flags_parse(agent *ag, int argc, char **argv, odin_err *err);
void agent_flags_free(agent *ag);
void agent_flags_usage(odin_strbuf *out);

/* registry.c */
void agent_scrape_init(agent_scrape *sc, agent *ag);
void agent_scrape_fini(agent_scrape *sc);
void agent_scrape_begin(agent_scrape *sc);
/* Sorts and renders every family emitted since begin. */
void agent_scrape_render(agent_scrape *sc, odin_strbuf *out);

/* io.c: true when path names want, ignoring trailing slashes ("/sys/" is "/sys"). */
bool agent_path_is(const char *path, const char *want);
/* io.c: closes cached descriptors unused for a few scrapes; all of them at fini. */
void agent_files_sweep(agent_scrape *sc);
void agent_files_close_all(agent_scrape *sc);

/* absent.c: paths found missing (ENOENT, ENOTDIR) are answered from memory until
 * AGENT_ABSENT_RECHECK_SCRAPES scrapes have passed since the last real lookup. check returns the
 * errno to report, or 0 when the caller must look the path up and then note the outcome (errnum
 * 0 when found). sweep forgets paths nobody asked about lately; free_all is for fini. */
enum { AGENT_ABSENT_RECHECK_SCRAPES = 8 };
int agent_absent_check(agent_scrape *sc, const char *path, size_t plen);
void agent_absent_note(agent_scrape *sc, const char *path, size_t plen, int errnum);
void agent_absent_sweep(agent_scrape *sc);
void agent_absent_free_all(agent_scrape *sc);

/* process.c: process_* metrics of the agent itself, as client_golang's process collector. */
void agent_process_collect(agent_scrape *sc, double start_time_s);

#endif

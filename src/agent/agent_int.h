/* Private to src/agent/: the collector interface, the per-scrape family builder, flag lookup and
 * file helpers that every collector uses. A collector is one file defining
 *     const agent_collector_def agent_collector_<name> = { ... };
 * at the start of a line; CMake finds these definitions and generates the collector table.
 *
 * Threads: collect() runs with the agent's scrape lock held, one collector at a time, so collector
 * state needs no lock of its own. Memory: everything a collector emits is copied into the scrape's
 * arena; state made in init() is owned by the collector and freed by its fini(). */
#ifndef ODIN_AGENT_AGENT_INT_H
#define ODIN_AGENT_AGENT_INT_H

#include "agent/agent.h"
#include "expfmt/expfmt.h"

typedef struct agent_scrape agent_scrape;
struct stat;
typedef struct agent_regex agent_regex;

/* A flag a collector (or the agent) accepts, spelled as node_exporter spells it, without "--". */
typedef struct {
    const char *name; /* "collector.netdev.device-include" */
    const char *def;  /* default value, NULL when unset; "true"/"false" for booleans */
    const char *help;
    bool is_bool;    /* accepts --name, --no-name, --name=true|false */
    bool repeatable; /* may be given several times (agent_flag_all) */
} agent_flag_def;

typedef struct {
    const char *name; /* "cpu": --collector.cpu / --no-collector.cpu */
    bool default_on;  /* on unless --no-collector.<name> or --collector.disable-defaults */
    const agent_flag_def *flags; /* ends with an entry whose name is NULL; may be NULL */
    /* Optional: prepares state from flags. Nonzero fails agent start with err's message. */
    int (*init)(agent *ag, void **state, odin_err *err);
    /* Emits this collector's samples. A negative return marks the collector failed
     * (node_scrape_collector_success 0) and its message is logged; what it emitted still serves.
     * Return -ODIN_ERR_UNAVAILABLE when the source is absent (logged at debug only, as
     * node_exporter's ErrNoData). */
    int (*collect)(agent_scrape *sc, void *state, odin_err *err);
    void (*fini)(void *state); /* optional */
} agent_collector_def;

/* Generated table, NULL-terminated, sorted by name. */
extern const agent_collector_def *const agent_collectors[];

/* ---- Flags (flags.c) ------------------------------------------------------------------------ */

/* Value of a flag (the last one given, or its default); NULL when unset. */
const char *agent_flag(const agent *ag, const char *name);
bool agent_flag_bool(const agent *ag, const char *name);
/* Every value of a repeatable flag in command-line order, or the default alone. Returns the count;
 * *out points into the agent and stays valid for its lifetime. */
size_t agent_flag_all(const agent *ag, const char *name, const char *const **out);

/* True when the named collector is enabled in this agent (some collectors change what they emit
 * when another one runs, as node_exporter's cpu and cpufreq do). */
bool agent_collector_enabled(const agent *ag, const char *name);

/* ---- Emitting samples (registry.c) ---------------------------------------------------------- */

/* A metric described once, as client_golang's Desc: name, help, type, label names.
 * Strings are static (borrowed for the scrape); labels end at the first NULL (at most 15). */
typedef struct {
    const char *name;
    const char *help;
    expfmt_type type;
    const char *labels[16];
} agent_desc;

/* Adds one sample of a described metric; values[i] is the value of d->labels[i] (copied). */
void agent_emit(agent_scrape *sc, const agent_desc *d, double value, const char *const *values);
/* Same with a name, help and label names made at run time (all copied). */
void agent_emit_dyn(agent_scrape *sc, const char *name, const char *help, expfmt_type type,
                    double value, size_t nlabels, const char *const *names,
                    const char *const *values);
/* Descriptors of metrics named at run time, kept by a collector across scrapes (desc_cache.c):
 * get answers a key (any bytes that determine the name and help) asked before, quickest when the
 * keys come in the same order as in the last scrape; NULL: unknown, make it with add (name and
 * help are copied; a NULL name remembers a key whose metric is not exported). The descriptors have
 * no labels and stay valid until begin or fini. Call begin at the start of each collect, before
 * anything of this scrape borrows the descriptors. */
typedef struct agent_desc_entry agent_desc_entry;
typedef struct {
    odin_map by_key;        /* key -> agent_desc_entry (heap) */
    agent_desc_entry **seq; /* the order of the last scrape's requests */
    size_t nseq, capseq, cursor;
} agent_desc_cache;

void agent_desc_cache_init(agent_desc_cache *c);
void agent_desc_cache_fini(agent_desc_cache *c);
void agent_desc_cache_begin(agent_desc_cache *c);
const agent_desc *agent_desc_cache_get(agent_desc_cache *c, const char *key, size_t key_len);
const agent_desc *agent_desc_cache_add(agent_desc_cache *c, const char *key, size_t key_len,
                                       const char *name, const char *help, expfmt_type type);

/* Lower level, for families read from text (textfile): finds or adds a family (strings copied) and
 * appends a zeroed sample whose labels and extra label the caller fills with arena memory. */
expfmt_family *agent_family(agent_scrape *sc, odin_str name, odin_str help, bool has_help,
                            expfmt_type type);
expfmt_sample *agent_family_add(agent_scrape *sc, expfmt_family *f);
/* True when a family of that name was already emitted in this scrape. */
bool agent_family_exists(agent_scrape *sc, odin_str name);

/* A value (in scrape memory) remembered for the rest of this scrape under key, an address
 * that names it (a static of the caller): two collectors that parse the same file (/proc/stat)
 * parse it once. get returns NULL when nothing was put in this scrape; a few keys only. */
void *agent_scrape_memo_get(agent_scrape *sc, const void *key);
void agent_scrape_memo_put(agent_scrape *sc, const void *key, void *value);

agent *agent_scrape_agent(agent_scrape *sc);
odin_arena *agent_scrape_arena(agent_scrape *sc);

/* ---- Files (io.c) --------------------------------------------------------------------------- */

typedef enum { AGENT_PROC, AGENT_SYS, AGENT_ROOT, AGENT_UDEV } agent_root;

/* "<root>/<formatted rel>" in scrape memory, from --path.procfs, --path.sysfs, --path.rootfs,
 * --path.udev.data. */
const char *agent_path(agent_scrape *sc, agent_root root, const char *fmt, ...) ODIN_PRINTF(3, 4);
/* True when --path.sysfs is the live /sys of this host (spelled "/sys", the default): collectors
 * may then take values from the kernel by other means (rtnetlink) where sysfs would print the
 * same. Any other root, such as a test tree, is read as files. */
bool agent_sysfs_is_live(const agent *ag);
/* Reads a whole file into scrape memory (NUL-terminated, at most 16 MiB). A missing file is
 * -ODIN_ERR_NOTFOUND, other failures -ODIN_ERR_IO; both with err naming the path. */
int agent_read(agent_scrape *sc, const char *path, odin_str *out, odin_err *err);
/* The same without messages: 0, or -errno (ENOENT, EACCES, ...), for collectors that act on the
 * exact failure as node_exporter does. Reads at most max bytes (max 16 MiB). */
int agent_read_raw(agent_scrape *sc, const char *path, size_t max, odin_str *out);
/* agent_read for a procfs file of lines at most max_line bytes long (a bound the kernel's format
 * guarantees, newline included): a read that ends well short of a page is taken as the end,
 * without the read that returns 0 (see io.c). Other files are read as agent_read reads them. */
int agent_read_seq(agent_scrape *sc, const char *path, size_t max_line, odin_str *out,
                   odin_err *err);
/* agent_read for a mount table (/proc/<pid>/mountinfo). On procfs the previous scrape's text is
 * returned again while the kernel reports no change of the mount namespace (mount, umount, move,
 * remount); other files (test trees) are read every time. */
int agent_read_mounts(agent_scrape *sc, const char *path, odin_str *out, odin_err *err);
/* Closes the kept descriptors of files under dir ("<dir>/..."). A kept descriptor of a sysfs
 * attribute follows its device through a rename, so when a name comes to mean another device,
 * the descriptors opened under the old meaning must go. */
void agent_files_forget(agent_scrape *sc, const char *dir);
/* Reads a one-line sysfs attribute with the trailing newline and spaces removed. */
int agent_read_line(agent_scrape *sc, const char *path, odin_str *out, odin_err *err);
/* Reads a sysfs attribute holding one integer (decimal, with optional sign). */
int agent_read_i64(agent_scrape *sc, const char *path, int64_t *out, odin_err *err);
int agent_read_u64(agent_scrape *sc, const char *path, uint64_t *out, odin_err *err);
/* Directory entries (without . and ..) sorted bytewise, in scrape memory. Missing directory is
 * -ODIN_ERR_NOTFOUND. */
int agent_list_dir(agent_scrape *sc, const char *path, const char ***names, size_t *n,
                   odin_err *err);
/* agent_list_dir with each entry's inode number (d_ino) beside its name, in scrape memory. A
 * sysfs entry keeps its inode number through a rename and a new entry gets a new one, so a name
 * whose number changed now means another object. */
int agent_list_dir_inos(agent_scrape *sc, const char *path, const char ***names,
                        const uint64_t **inos, size_t *n, odin_err *err);
/* stat(2) with the agent's memory of missing paths: 0, or -errno; ENOENT and ENOTDIR are
 * answered from memory for the next AGENT_ABSENT_RECHECK_SCRAPES scrapes, as agent_read does. */
int agent_stat(agent_scrape *sc, const char *path, struct stat *st);
/* Target of a symlink, in scrape memory; NULL when not a link. */
const char *agent_readlink(agent_scrape *sc, const char *path);
/* Formats a double as Go's %g shortest form into scrape memory (for label values). */
const char *agent_fmt_double(agent_scrape *sc, double v);
const char *agent_fmt_i64(agent_scrape *sc, int64_t v);
/* NUL-terminated copy of s in scrape memory. */
const char *agent_strdup(agent_scrape *sc, odin_str s);
/* Go's strings.ToValidUTF8(s, "\uFFFD"): each run of invalid bytes becomes one U+FFFD. A
 * NUL-terminated string in scrape memory (s itself copied when already valid). */
const char *agent_valid_utf8(agent_scrape *sc, odin_str s);

/* ---- Resident file pages (file_pages.c) ------------------------------------------------------ */

/* Unmaps (MADV_DONTNEED) the pages of read-only private file mappings that hold no private pages
 * and stops read-ahead on them (MADV_RANDOM), so that mostly pages the agent runs come back into
 * its RSS. Safe with other threads running: their pages fault back in from the file. */
void agent_drop_unused_file_pages(void);

/* ---- Regular expressions (regex.c) ----------------------------------------------------------- */

/* Go RE2 syntax as node_exporter's filters use it, compiled with PCRE2 (interpreted, memoised).
 * `anchored` wraps the pattern as ^(?:...)$. Owned by the caller: agent_regex_free. */
agent_regex *agent_regex_new(const char *pattern, bool anchored, odin_err *err);
void agent_regex_free(agent_regex *re);
/* Answers from the regex's memo of names seen before, else from PCRE2 (and remembers). Not
 * thread-safe: collectors call it under the agent's scrape lock. */
bool agent_regex_match(agent_regex *re, const char *s, size_t len);
/* The same answer from PCRE2 alone, bypassing the memo (tests compare the two). */
bool agent_regex_match_direct(const agent_regex *re, const char *s, size_t len);

/* node_exporter's device filter: include and exclude patterns (unanchored, as Go's MatchString);
 * an empty pattern means none. Giving both is an error, as upstream. */
typedef struct {
    agent_regex *include;
    agent_regex *exclude;
} agent_filter;

int agent_filter_init(agent_filter *f, const char *include, const char *exclude, const char *what,
                      odin_err *err);
void agent_filter_fini(agent_filter *f);
/* True when the name is filtered out (excluded, or not included). */
bool agent_filter_ignored(const agent_filter *f, const char *name);

#endif

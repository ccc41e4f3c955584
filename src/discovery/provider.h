/* Private to src/discovery/: the interface every discovery mechanism (static, file, kubernetes)
 * implements so the manager can run it, plus the file format readers and group helpers that the
 * providers and the fuzz target share. */
#ifndef ODIN_DISCOVERY_PROVIDER_H
#define ODIN_DISCOVERY_PROVIDER_H

#include "discovery/discovery.h"

/* ---- Provider interface ----------------------------------------------------------------------
 *
 * A provider turns one config entry (one static_configs list, one file_sd_configs entry, one
 * kubernetes_sd_configs entry) into groups. The manager starts it with `start`, and the provider
 * reports its complete current list of groups through discovery_sink_update whenever it changes,
 * from any thread it likes (its own, usually), as often as it likes: the manager keeps only the
 * latest list and coalesces updates (debounce) before telling the set's consumer.
 *
 * Contract:
 *  - start(cfg, sink, err): cfg is borrowed only during the call; the provider copies what it
 *    keeps (the loaded config is freed on the next reload while an unchanged provider keeps
 *    running). It may call discovery_sink_update before returning; groups reported that way are
 *    delivered with the set's first update (static groups use this to appear at once). Returns
 *    the provider (its struct begins with `discovery_provider`) or NULL with err.
 *  - stop(p): stops the provider's threads, waits for them and frees it. No call to the sink may
 *    happen after stop returns. Called without any manager lock held, so a provider blocked in
 *    discovery_sink_update finishes first.
 *
 * Registering a new mechanism (kubernetes): define a `const discovery_provider_ops` in its own
 * file and add it to the kubernetes slot of manager.c's provider list (see provider_kubernetes
 * there); nothing else in the manager changes. */

typedef struct discovery_sink discovery_sink; /* manager side, opaque to providers */
typedef struct discovery_provider discovery_provider;

typedef struct {
    const char *name; /* "static", "file", "kubernetes": used in log lines */
    discovery_provider *(*start)(const void *cfg, discovery_sink *sink, odin_err *err);
    void (*stop)(discovery_provider *p);
} discovery_provider_ops;

/* The first member of every provider's own struct. */
struct discovery_provider {
    const discovery_provider_ops *ops;
};

/* Replaces the provider's current groups with a deep copy of groups[0..n). Thread-safe (takes
 * the manager's state lock briefly; never calls the consumer). */
void discovery_sink_update(discovery_sink *s, const discovery_group *groups, size_t n);

extern const discovery_provider_ops discovery_static_ops; /* cfg: const discovery_config * */
extern const discovery_provider_ops discovery_file_ops;   /* cfg: const discovery_file_config * */
extern const discovery_provider_ops discovery_kubernetes_ops; /* cfg: const discovery_k8s_config * */

/* ---- Groups (manager.c) ------------------------------------------------------------------- */

/* Deep-copies src into dst (every string and array heap-owned by dst). */
void discovery_group_copy(discovery_group *dst, const discovery_group *src);
/* Frees what discovery_group_copy or the file reader allocated and zeroes g. */
void discovery_group_clear(discovery_group *g);
void discovery_groups_free(discovery_group *g, size_t n);

/* ---- Target files (file.c, json.c) ------------------------------------------------------------
 */

/* Deeper JSON nesting than this is an error (STYLE.md 2.6). */
#define DISCOVERY_JSON_MAX_DEPTH 32
/* Target files larger than this are refused. */
#define DISCOVERY_FILE_MAX_BYTES (64u << 20)

/* Parses the content of one file_sd target file: a list of {targets: [...], labels: {...}} in JSON
 * (yaml false) or YAML. Every group gets the label __meta_filepath=path and the source
 * "path:index", as Prometheus' file discovery does. On success *out is a heap array freed with
 * discovery_groups_free. Errors are ODIN_ERR_PARSE/INVALID/LIMIT naming path and position. */
int discovery_file_parse(const char *buf, size_t len, bool yaml, const char *path,
                         discovery_group **out, size_t *n, odin_err *err);

/* The JSON half of discovery_file_parse (json.c). */
int discovery_json_parse_groups(const char *buf, size_t len, const char *path,
                                discovery_group **out, size_t *n, odin_err *err);

#endif

/* Private to src/discovery/: a small JSON DOM for Kubernetes API objects (list responses, watch
 * events). Parsing is bounded by the buffer's end and by K8S_JSON_MAX_DEPTH; it does not validate
 * UTF-8 beyond what JSON's grammar needs (invalid \u surrogates become U+FFFD, as Go's decoder).
 *
 * Threads: none of its own; a parsed tree is read-only and may be shared once built.
 * Ownership: k8s_json_parse allocates the whole tree from the caller's arena; k8s_json_clone
 * returns one heap block that the caller frees with free(). */
#ifndef ODIN_DISCOVERY_K8S_JSON_H
#define ODIN_DISCOVERY_K8S_JSON_H

#include "base/base.h"

/* Deeper nesting is ODIN_ERR_LIMIT. Kubernetes objects (managedFields included) stay well below. */
#define K8S_JSON_MAX_DEPTH 64

typedef enum {
    K8S_JSON_NULL,
    K8S_JSON_FALSE,
    K8S_JSON_TRUE,
    K8S_JSON_NUMBER,
    K8S_JSON_STRING,
    K8S_JSON_ARRAY,
    K8S_JSON_OBJECT,
} k8s_json_type;

/* One value. Strings hold the unescaped bytes (not NUL-terminated), numbers their source text.
 * Arrays have n items in v; objects n members, keys[i] naming v[i], in document order. */
typedef struct k8s_json k8s_json;
struct k8s_json {
    k8s_json_type type;
    size_t n;
    odin_str s;
    odin_str *keys;
    k8s_json *v;
};

/* Parses exactly one JSON value (surrounding whitespace allowed) from buf[0..len). The tree and its
 * strings live in arena `a`. Errors: ODIN_ERR_PARSE ("offset N: reason"), ODIN_ERR_LIMIT (depth,
 * or the arena's cap). */
int k8s_json_parse(const char *buf, size_t len, odin_arena *a, k8s_json **out, odin_err *err);

/* Member `key` of an object; NULL when v is NULL, not an object, or lacks it (last one wins on
 * duplicates, as Go's decoder). */
const k8s_json *k8s_json_get(const k8s_json *v, const char *key);
/* Follows a dotted path of member names ("status.podIP"); NULL when any step is missing. */
const k8s_json *k8s_json_path(const k8s_json *v, const char *path);
/* The string value, or an empty string when v is NULL or not a string. */
odin_str k8s_json_str(const k8s_json *v);
/* True when v is a string (possibly empty): tells an absent optional field from an empty one. */
bool k8s_json_is_str(const k8s_json *v);
/* Array items / object members count; 0 for anything else. Items are v->v[0..n). */
size_t k8s_json_len(const k8s_json *v, k8s_json_type want);
/* Integer value of a number; 0 with false when absent, fractional or out of range. */
bool k8s_json_i64(const k8s_json *v, int64_t *out);
/* true/false values; false for anything else. `present` (may be NULL) says whether it was a bool. */
bool k8s_json_bool(const k8s_json *v, bool *present);

/* JSON's \uXXXX escape at *p (just after the 'u'), joined with a following \u low surrogate; lone
 * surrogates become U+FFFD, as Go's decoder makes them. Advances *p; false when the hex is bad.
 * Shared with the file_sd reader (json.c). */
bool k8s_json_unicode_escape(const char **p, const char *end, uint32_t *cp);

/* Deep copy into one heap block (free() it). Members named in `skip` (NULL-terminated list, may be
 * NULL) are left out at every level: the provider drops metadata.managedFields this way. */
k8s_json *k8s_json_clone(const k8s_json *v, const char *const *skip);

#endif

/* The toolkit every module uses: errors, strings, arenas, a hash map, label sets, logging, time and
 * number formatting. Declarations only; each part lives in its own file in src/base/.
 * Nothing here takes a lock unless its comment says so; the logger is safe from any thread. */
#ifndef ODIN_BASE_BASE_H
#define ODIN_BASE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ODIN_PRINTF(fmt_idx, args_idx) __attribute__((format(printf, fmt_idx, args_idx)))
#define ODIN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Errors (err.c) ------------------------------------------------------------------------- */

/* One status vocabulary for the whole program. Functions return 0 or one of these negated.
 * New codes go last; none is renumbered. */
typedef enum {
    ODIN_OK = 0,
    ODIN_ERR_PARSE = 1, /* input text is malformed: fix the file or payload named in the message */
    ODIN_ERR_INVALID = 2, /* well-formed but not allowed (unknown flag, bad value, wrong type) */
    ODIN_ERR_LIMIT =
        3, /* a configured cap was crossed (size, count, depth): raise it or shrink input */
    ODIN_ERR_NOTFOUND = 4, /* a named file, series or route does not exist */
    ODIN_ERR_CONFLICT = 5, /* out-of-order or duplicate sample, or a name already taken */
    ODIN_ERR_IO = 6, /* the OS refused a read, write or socket call; errno text is in the message */
    ODIN_ERR_CORRUPT =
        7, /* on-disk data fails a check: the file is named, it is skipped or repaired */
    ODIN_ERR_TIMEOUT = 8,      /* a deadline passed */
    ODIN_ERR_CANCELED = 9,     /* shutdown or the caller asked to stop */
    ODIN_ERR_UNAVAILABLE = 10, /* a needed facility is absent (library, device, kernel file) */
    ODIN_ERR_INTERNAL = 11,    /* a bug: report it with the message */
} odin_code;

/* The detailed error a failing call leaves for its caller. Caller-owned, usually on the stack.
 * Only the first failure is kept: later odin_err_set calls on a set error are ignored, so the
 * innermost, most specific message wins (as curl's error buffer). */
typedef struct {
    int code;      /* odin_code, 0 when no error */
    char msg[256]; /* "input:line:col: field: reason" */
} odin_err;

void odin_err_clear(odin_err *err);
/* Sets code and message (printf-style) unless err already holds one; returns -code. err may be
 * NULL. */
int odin_err_set(odin_err *err, int code, const char *fmt, ...) ODIN_PRINTF(3, 4);
/* Prepends context ("loading x: ") to an existing message. */
void odin_err_prefix(odin_err *err, const char *fmt, ...) ODIN_PRINTF(2, 3);
/* Sets ODIN_ERR_IO with "<what>: <strerror(errnum)>"; returns -ODIN_ERR_IO. */
int odin_err_errno(odin_err *err, int errnum, const char *fmt, ...) ODIN_PRINTF(3, 4);
const char *odin_code_name(int code);

/* Logs and aborts; the only allocation failure that is not returned (STYLE.md 2.5). */
_Noreturn void odin_oom(void);
_Noreturn void odin_assert_fail(const char *file, int line, const char *expr);
#define ODIN_ASSERT(x) ((x) ? (void)0 : odin_assert_fail(__FILE__, __LINE__, #x))

/* malloc family that never returns NULL (odin_oom on failure). */
void *odin_malloc(size_t n);
void *odin_calloc(size_t count, size_t size);
void *odin_realloc(void *p, size_t n);
char *odin_strdup(const char *s);
char *odin_strndup(const char *s, size_t n);

/* ---- Strings (str.c) ------------------------------------------------------------------------ */

/* Borrowed text: pointer plus length, not NUL-terminated, not owning. */
typedef struct {
    const char *p;
    size_t len;
} odin_str;

#define ODIN_STR(lit) ((odin_str){(lit), sizeof(lit) - 1})
odin_str odin_str_c(const char *s);
bool odin_str_eq(odin_str a, odin_str b);
bool odin_str_eq_c(odin_str a, const char *s);
bool odin_str_has_prefix(odin_str s, const char *prefix);
bool odin_str_has_suffix(odin_str s, const char *suffix);
int odin_str_cmp(odin_str a, odin_str b); /* bytewise, shorter first on a common prefix */
odin_str odin_str_trim(odin_str s);       /* strips ASCII whitespace at both ends */
/* Splits off the text before the first `sep` (or all of s) and advances s past it. */
odin_str odin_str_cut(odin_str *s, char sep);
/* Splits off the next run of non-blank characters, skipping spaces and tabs; len 0 at the end. */
odin_str odin_str_field(odin_str *s);
/* Standard base64 with padding; CR and LF are skipped, as Go's decoder does. A malloc'd,
 * NUL-terminated copy of the bytes (which may hold NULs: *len, when len is not NULL), or NULL when
 * s is malformed. */
char *odin_base64_decode(odin_str s, size_t *len);
/* The value of a hexadecimal digit (either case), or -1. */
int odin_hex_digit(char c);

/* Growable, capped, always NUL-terminated buffer. Heap-owned by the strbuf: free with _fini.
 * When an append would pass `cap_bytes` (0 = 1 GiB) the buffer stays as it was, `overflow`
 * is set, and the append is dropped; callers check odin_strbuf_ok() once at the end. */
typedef struct {
    char *p;
    size_t len;
    size_t alloc;
    size_t cap_bytes;
    bool overflow;
} odin_strbuf;

void odin_strbuf_init(odin_strbuf *b, size_t cap_bytes);
void odin_strbuf_fini(odin_strbuf *b);
void odin_strbuf_reset(odin_strbuf *b); /* len 0, keeps memory */
bool odin_strbuf_ok(const odin_strbuf *b);
void odin_strbuf_put(odin_strbuf *b, const void *p, size_t n);
void odin_strbuf_puts(odin_strbuf *b, const char *s);
void odin_strbuf_putc(odin_strbuf *b, char c);
void odin_strbuf_putstr(odin_strbuf *b, odin_str s);
void odin_strbuf_printf(odin_strbuf *b, const char *fmt, ...) ODIN_PRINTF(2, 3);
void odin_strbuf_vprintf(odin_strbuf *b, const char *fmt, va_list ap) ODIN_PRINTF(2, 0);
void odin_strbuf_put_i64(odin_strbuf *b, int64_t v);
void odin_strbuf_put_u64(odin_strbuf *b, uint64_t v);
/* Appends v as Go's strconv.FormatFloat(v, 'g', -1, 64) with Prometheus' special cases
 * (NaN, +Inf, -Inf), the form every exposition format and API answer uses. */
void odin_strbuf_put_double(odin_strbuf *b, double v);
/* Ensures room for n more bytes and returns the write position; commit with _advance. */
char *odin_strbuf_reserve(odin_strbuf *b, size_t n);
void odin_strbuf_advance(odin_strbuf *b, size_t n);
/* Takes the heap buffer out (caller frees); the strbuf is left empty. */
char *odin_strbuf_take(odin_strbuf *b, size_t *len);

/* ---- Numbers (num.c) ------------------------------------------------------------------------ */

/* Formats v as Go's 'g' shortest round-trip into out (at least 32 bytes); returns the length. */
size_t odin_format_double(double v, char *out);
/* The same shortest digits, in exponent form only when the decimal exponent of the first digit is
 * below exp_lo or at least exp_hi (Go's 'g' is -4, 6; Prometheus' JSON -6, 21). Fixed notation can
 * take 330 bytes: out must be large enough for the range asked. */
size_t odin_format_double_exp(double v, int exp_lo, int exp_hi, char *out);
/* Parsers over (pointer, length): the whole text must be the number. 0 or -ODIN_ERR_PARSE /
 * -ODIN_ERR_LIMIT (out of range). Doubles accept Go/Prometheus spellings: NaN, +Inf, -Inf, Inf. */
int odin_parse_double(odin_str s, double *out);
int odin_parse_i64(odin_str s, int64_t *out);
int odin_parse_u64(odin_str s, uint64_t *out);
/* Unsigned integer in base 16 (no 0x prefix). */
int odin_parse_hex_u64(odin_str s, uint64_t *out);

/* ---- Arena (arena.c) ------------------------------------------------------------------------ */

/* Bump allocator for one unit of work (request, scrape, query). Memory comes in blocks that are
 * kept across odin_arena_reset, so a reused arena stops calling malloc once warm.
 * Growth is capped by `cap_bytes` (0 = unlimited): past it odin_arena_alloc returns NULL and
 * sets `overflow`. Not thread-safe: one arena, one thread at a time. */
typedef struct odin_arena_block odin_arena_block;
typedef struct odin_arena_cleanup odin_arena_cleanup;
typedef struct {
    odin_arena_block *head;  /* block being filled */
    odin_arena_block *spare; /* blocks kept from before the last reset */
    odin_arena_cleanup *cleanups;
    size_t used_bytes; /* bytes handed out since the last reset */
    size_t held_bytes; /* bytes of all blocks owned */
    size_t cap_bytes;
    bool overflow;
} odin_arena;

void odin_arena_init(odin_arena *a, size_t cap_bytes);
void odin_arena_fini(odin_arena *a);
/* Runs cleanups, rewinds; keeps up to one large block's worth of memory for reuse. */
void odin_arena_reset(odin_arena *a);
/* 16-byte aligned; NULL only when cap_bytes would be passed. */
void *odin_arena_alloc(odin_arena *a, size_t n);
void *odin_arena_zalloc(odin_arena *a, size_t n);
char *odin_arena_strdup(odin_arena *a, const char *s);
char *odin_arena_strndup(odin_arena *a, const char *s, size_t n);
char *odin_arena_printf(odin_arena *a, const char *fmt, ...) ODIN_PRINTF(2, 3);
char *odin_arena_vprintf(odin_arena *a, const char *fmt, va_list ap) ODIN_PRINTF(2, 0);
/* Runs fn(arg) at the next reset or fini, latest first (for fds and handles). Never fails, even
 * past the arena's cap (the record is allocated apart from the arena). */
void odin_arena_on_reset(odin_arena *a, void (*fn)(void *), void *arg);

/* ---- Hash map (hashmap.c) ------------------------------------------------------------------- */

/* Open-addressing map from byte-string keys to pointers. Keys are borrowed: the caller keeps
 * them alive while they are in the map (usually they live in the value). Grows by doubling. */
typedef struct {
    struct odin_map_slot *slots;
    size_t cap; /* power of two */
    size_t len;
} odin_map;

uint64_t odin_hash(const void *p, size_t n); /* 64-bit, seeded per process: not for disk formats */
uint64_t odin_hash_stable(const void *p, size_t n,
                          uint64_t seed); /* same result in every process */
void odin_map_init(odin_map *m);
void odin_map_fini(odin_map *m);
void *odin_map_get(const odin_map *m, const void *key, size_t klen);
/* Inserts or replaces; returns the previous value or NULL. */
void *odin_map_put(odin_map *m, const void *key, size_t klen, void *value);
void *odin_map_del(odin_map *m, const void *key, size_t klen);
/* Removes every entry, keeping the table's memory. */
void odin_map_clear(odin_map *m);
/* Iteration: start with *pos = 0; returns false at the end. Do not modify the map meanwhile. */
bool odin_map_next(const odin_map *m, size_t *pos, const void **key, size_t *klen, void **value);

/* ---- UTF-8 (utf8.c) ------------------------------------------------------------------------- */
/* Go's rules (unicode/utf8): no overlong forms, no surrogates, nothing past U+10FFFF. */

/* Length (1-4) of the valid UTF-8 sequence at the start of p's n bytes (n >= 1), its code point
 * in *cp when cp is not NULL; 0 when they do not start one (Go's DecodeRune gives RuneError, 1). */
size_t odin_utf8_len(const void *p, size_t n, uint32_t *cp);
/* Whether all n bytes of s are valid UTF-8 (Go's utf8.Valid). */
bool odin_utf8_valid(const char *s, size_t n);
/* Writes code point cp (at most U+10FFFF) as UTF-8 to out (room for 4); returns the bytes. */
size_t odin_utf8_encode(uint32_t cp, char *out);
/* Appends code point cp (at most U+10FFFF) as UTF-8. */
void odin_strbuf_put_utf8(odin_strbuf *b, uint32_t cp);

/* ---- Labels (labels.c) ---------------------------------------------------------------------- */

typedef struct {
    odin_str name;
    odin_str value;
} odin_label;

/* A label set sorted by name, names unique. Storage belongs to whoever built it. */
typedef struct {
    odin_label *v;
    size_t len;
} odin_labels;

/* Sorts by name (insertion sort: label sets are small). */
void odin_labels_sort(odin_label *v, size_t n);
int odin_labels_cmp(odin_labels a, odin_labels b);
const odin_str *odin_labels_get(odin_labels ls, const char *name);
bool odin_label_name_valid(odin_str s);  /* [a-zA-Z_][a-zA-Z0-9_]* */
bool odin_metric_name_valid(odin_str s); /* [a-zA-Z_:][a-zA-Z0-9_:]* */
/* Appends a label value with the exposition escapes: backslash, double quote, newline. */
void odin_strbuf_put_label_value(odin_strbuf *b, odin_str v);

/* ---- Go's quoting (goquote.c) -----------------------------------------------------------------
 */

/* Go's strconv.Quote of s: double quotes, Go's escapes, bytes that are not UTF-8 as \xNN. */
void odin_strbuf_put_go_quote(odin_strbuf *b, odin_str s);
/* One rune as strconv writes it inside `quote` ('"' or '\''), without the quotes. */
void odin_strbuf_put_go_rune(odin_strbuf *b, uint32_t r, char quote);
/* Prometheus' labels.String(): {a="b", c="d"}, values quoted as strconv.Quote. */
void odin_strbuf_put_go_labels(odin_strbuf *b, odin_labels ls);

/* ---- Logging (log.c) ------------------------------------------------------------------------ */

typedef enum { ODIN_LOG_DEBUG, ODIN_LOG_INFO, ODIN_LOG_WARN, ODIN_LOG_ERROR } odin_log_level;

/* Set once at start from --log.level; "debug", "info", "warn" or "error". */
int odin_log_set_level(const char *name);
bool odin_log_enabled(odin_log_level level);
/* Writes one logfmt line to stderr: ts=... level=... component=... msg="..." then the fields, which
 * the caller gives as alternating key and value C strings ending with NULL. Thread-safe. */
void odin_log(odin_log_level level, const char *component, const char *msg, ...);
/* Appends `key=value` to a line being built, quoting the value when logfmt needs it. */
void odin_logfmt_pair(odin_strbuf *b, const char *key, const char *value);

/* ---- Time (time.c) -------------------------------------------------------------------------- */

int64_t odin_now_ms(void);     /* wall clock, ms since the epoch */
double odin_now_s(void);       /* wall clock, seconds since the epoch with fractions */
int64_t odin_mono_ns(void);    /* monotonic clock */
double odin_cpu_seconds(void); /* this process's user+system CPU time */
/* RFC 3339 with milliseconds in UTC, as Prometheus prints times. out holds 32 bytes. */
void odin_format_rfc3339(int64_t t_ms, char *out);
/* Prometheus durations: 1h30m, 15s, 500ms, 2d, 1w, 1y (units y w d h m s ms, descending). */
int odin_parse_duration_ms(odin_str s, int64_t *out_ms);

/* ---- Libraries opened on first use (dl_*.c) ------------------------------------------------- */

/* Opens libmicrohttpd (dl_mhd.c) if not yet done, so the MHD_* functions work. 0, or -1 with a
 * message naming the library in err (cap bytes); every later call gives the same answer. */
int odin_mhd_load(char *err, size_t cap);

/* ---- Whole-buffer gzip through libdeflate (dl_deflate.c) ----------------------------------- */

/* A libdeflate compressor (an opaque pointer); the library is opened on first use.
 * odin_gzipper_new is NULL when libdeflate.so.0 is missing or memory is short: callers fall back
 * to zlib. odin_gzipper_preload opens the library now (false when it is missing), for a process
 * that trims its library pages once after set-up. */
typedef void odin_gzipper;
bool odin_gzipper_preload(void);
odin_gzipper *odin_gzipper_new(int level);
/* Output bytes that always suffice for len bytes of input. */
size_t odin_gzipper_bound(odin_gzipper *g, size_t len);
/* A complete gzip member of in[0..len) in out; its size, or 0 when cap was too small. */
size_t odin_gzipper_compress(odin_gzipper *g, const void *in, size_t len, void *out, size_t cap);
void odin_gzipper_free(odin_gzipper *g);

/* ---- YAML document tree (yaml.c) ------------------------------------------------------------ */

/* libyaml's events built into a tree whose nodes know their line and column, so configuration
 * loaders (prometheus.yml, web config files) can name where a bad value sits. */

/* Deeper nesting than this is an error, never a deep recursion (STYLE.md 2.6). */
#define ODIN_YAML_MAX_DEPTH 64
/* Nodes a document may expand to counting aliases at every use: stops "billion laughs". */
#define ODIN_YAML_MAX_NODES 1000000

typedef enum {
    ODIN_YAML_NULL,
    ODIN_YAML_SCALAR,
    ODIN_YAML_SEQ,
    ODIN_YAML_MAP,
} odin_yaml_kind;

typedef struct odin_yaml_node odin_yaml_node;
/* One node; all memory belongs to the document's arena. */
struct odin_yaml_node {
    odin_yaml_kind kind;
    bool quoted;      /* scalar was quoted, a block scalar or tagged !!str */
    size_t line, col; /* 1-based position of the node's first character */
    const char *s;    /* scalar text, NUL-terminated (may contain NULs: use len) */
    size_t len;
    odin_yaml_node **v; /* seq: n items; map: n pairs, key v[2i] and value v[2i+1] */
    size_t n;
    size_t weight; /* nodes in this subtree counting alias repeats */
};

typedef struct {
    odin_arena arena;
    odin_yaml_node *root; /* NULL for an empty document */
} odin_yaml_doc;

/* Parses the first document of text. Errors are ODIN_ERR_PARSE ("name:line:col: yaml: ...") or
 * ODIN_ERR_LIMIT (depth, size). The doc must be finished with odin_yaml_doc_fini either way. */
int odin_yaml_parse(odin_yaml_doc *doc, const char *text, size_t len, const char *name,
                    odin_err *err);
void odin_yaml_doc_fini(odin_yaml_doc *doc);
/* A plain scalar spelled as YAML null ("", "~", "null"), or an explicit null node. */
bool odin_yaml_is_null(const odin_yaml_node *n);

/* The value of key in mapping n, or NULL. */
const odin_yaml_node *odin_yaml_get(const odin_yaml_node *n, const char *key);

/* ---- Summaries (summary.c) ------------------------------------------------------------------ */

/* A Prometheus summary metric's state: the observations of the last max_age_ms (at most cap of
 * them, the oldest dropped first) for exact quantiles, and the sum and count of all. Any thread. */
typedef struct odin_summary odin_summary;

odin_summary *odin_summary_new(size_t cap, int64_t max_age_ms);
void odin_summary_free(odin_summary *s);
void odin_summary_observe(odin_summary *s, double v);
/* The nq quantiles qs (0..1, nearest rank) of the window into out (NaN when it is empty), and the
 * sum and count since it was made. */
void odin_summary_read(odin_summary *s, const double *qs, size_t nq, double *out, double *sum,
                       uint64_t *count);

/* ---- This process (procself.c) -------------------------------------------------------------- */

/* client_golang's process collector: process_cpu_seconds_total, process_open_fds, ... */
typedef struct {
    double cpu_seconds;
    double open_fds, max_fds;      /* max_fds: -1 when unknown; unlimited is 2^64 */
    double rss_bytes, vsize_bytes; /* -1 when /proc/self/statm could not be read */
    double vmax_bytes;             /* RLIMIT_AS, as max_fds */
} odin_process_stats;

/* statm: the text of /proc/self/statm when the caller has read it already, or {NULL, 0}. */
void odin_process_stats_get(odin_process_stats *out, odin_str statm);
/* Open descriptors: the size of /proc/self/fd (Linux 6.2+), else its listing. */
double odin_open_fds(void);
double odin_open_fds_listed(void);

/* ---- Files (file.c) ------------------------------------------------------------------------- */

/* Reads a whole file into buf (reset first; NUL-terminated). Files over cap_bytes are an error. */
int odin_read_file(const char *path, odin_strbuf *buf, size_t cap_bytes, odin_err *err);
/* Removes a file or a directory with everything below it (no symlinks followed); 0 or -errno. */
int odin_remove_tree(const char *path);
/* Bytes of regular files below path (0 when absent). */
uint64_t odin_tree_size(const char *path);
/* Writes data to path atomically: a temporary file in the same directory, fsync, rename. */
int odin_write_file_atomic(const char *path, const void *data, size_t len, odin_err *err);

#endif

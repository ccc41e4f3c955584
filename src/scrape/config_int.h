/* Private to src/scrape/: the typed
 * decoders that turn its nodes into config fields with "file:line:col: path: reason" errors, and
 * the section decoders shared by config.c, config_job.c and config_http.c. */
#ifndef ODIN_SCRAPE_CONFIG_INT_H
#define ODIN_SCRAPE_CONFIG_INT_H

#include "scrape/scrape.h"

/* ---- Decoding (config_dec.c) ----------------------------------------------------------------- */

/* Walk state: names the input and the field being decoded, for messages. */
typedef struct {
    const char *name; /* input name (file) */
    odin_err *err;
    char path[200]; /* "scrape_configs[1].relabel_configs[0]" */
    size_t path_len;
    bool legacy_names; /* global metric_name_validation_scheme: legacy */
} scrape_dec;

/* Sets err to "name:line:col: path: reason" (once) and returns -ODIN_ERR_INVALID. */
int scrape_dec_fail(scrape_dec *d, const odin_yaml_node *n, const char *fmt, ...) ODIN_PRINTF(3, 4);
/* Path building: push returns the old length for pop. */
size_t scrape_dec_push_key(scrape_dec *d, const char *key);
size_t scrape_dec_push_index(scrape_dec *d, size_t i);
void scrape_dec_pop(scrape_dec *d, size_t old_len);

/* Typed decoders. A null node leaves *out unchanged and succeeds (Go's yaml does the same). */
int scrape_dec_string(scrape_dec *d, const odin_yaml_node *n, char **out);
int scrape_dec_bool(scrape_dec *d, const odin_yaml_node *n, bool *out);
int scrape_dec_u64(scrape_dec *d, const odin_yaml_node *n, uint64_t *out);
int scrape_dec_int(scrape_dec *d, const odin_yaml_node *n, int *out);
int scrape_dec_double(scrape_dec *d, const odin_yaml_node *n, double *out);
int scrape_dec_duration(scrape_dec *d, const odin_yaml_node *n, int64_t *out_ms);
/* Base-2 sizes as Prometheus' body_size_limit: 512KB, 10MB, 1GiB, 0. */
int scrape_dec_size(scrape_dec *d, const odin_yaml_node *n, uint64_t *out_bytes);
int scrape_dec_strings(scrape_dec *d, const odin_yaml_node *n, char ***out, size_t *nout);
/* A map of label names to values; names checked when check_names (legacy or UTF-8 by d). */
int scrape_dec_labels(scrape_dec *d, const odin_yaml_node *n, bool check_names, odin_label **out,
                      size_t *nout);
/* Label names under Prometheus 3's UTF-8 scheme (non-empty valid UTF-8) or the legacy one. */
bool scrape_label_name_ok(odin_str s, bool legacy);
/* Parses s as a Base2Bytes size; 0 or -ODIN_ERR_PARSE. Exposed for tests. */
int scrape_parse_size(odin_str s, uint64_t *out_bytes);

/* Table-driven mapping decoder: each key of the mapping must be in one of the sets. */
typedef enum {
    SCRAPE_F_STRING,
    SCRAPE_F_BOOL,
    SCRAPE_F_U64,
    SCRAPE_F_INT,
    SCRAPE_F_DOUBLE,
    SCRAPE_F_DURATION,
    SCRAPE_F_SIZE,
    SCRAPE_F_STRINGS,
    SCRAPE_F_FN,
    SCRAPE_F_REJECT,
} scrape_field_kind;

typedef struct {
    const char *key;
    scrape_field_kind kind;
    size_t off;  /* offsetof the field in the set's object */
    size_t off2; /* SCRAPE_F_STRINGS: offsetof the count */
    /* SCRAPE_F_FN: decodes the value into obj. SCRAPE_F_REJECT: fn unused, key refused. */
    int (*fn)(scrape_dec *d, const odin_yaml_node *n, void *obj);
} scrape_field;

typedef struct {
    const scrape_field *fields;
    size_t nfields;
    void *obj;
    uint64_t seen; /* out: bit i set when fields[i] was present (i < 64) */
} scrape_fieldset;

int scrape_dec_fields(scrape_dec *d, const odin_yaml_node *n, const char *type,
                      scrape_fieldset *sets, size_t nsets);
/* Index of key in a set, for testing its seen bit. */
bool scrape_fieldset_seen(const scrape_fieldset *s, const char *key);

/* ---- Sections (config_http.c, config_job.c) -------------------------------------------------- */

/* The inline HTTP client keys, decoded into a scrape_cfg_http placed beside a section's own keys
 * (its fieldset's obj); bearer_token[_file] wait there until finish folds them into
 * authorization, as Prometheus' HTTPClientConfig.Validate does. */
typedef struct {
    http_client_config h;
    char *bearer_token, *bearer_token_file;
} scrape_cfg_http;

extern const scrape_field scrape_cfg_http_fields[];
extern const size_t scrape_cfg_nhttp_fields;
void scrape_cfg_http_init(scrape_cfg_http *hd, bool enable_http2);
/* Validates hd (messages name n's position) and moves it into out; hd is consumed either way. */
int scrape_cfg_http_finish(scrape_dec *d, const odin_yaml_node *n, scrape_cfg_http *hd,
                           http_client_config *out);
/* True when any http setting differs from the defaults (kubernetes_sd_configs checks it). */
bool scrape_cfg_http_customized(const http_client_config *h);

/* relabel_configs lists. */
int scrape_dec_relabels(scrape_dec *d, const odin_yaml_node *n, relabel_config **out, size_t *nout);
/* static_configs, file_sd_configs and kubernetes_sd_configs keys, for inline use. */
extern const scrape_field scrape_sd_fields[];
extern const size_t scrape_nsd_fields;

/* The global section as jobs inherit it. */
typedef struct {
    int64_t scrape_interval_ms, scrape_timeout_ms, evaluation_interval_ms, rule_query_offset_ms;
    char **scrape_protocols;
    size_t nscrape_protocols;
    char *query_log_file, *scrape_failure_log_file;
    odin_label *external_labels;
    size_t nexternal_labels;
    uint64_t body_size_limit, sample_limit, target_limit, label_limit, label_name_length_limit,
        label_value_length_limit, keep_dropped_targets;
    char *metric_name_validation_scheme, *metric_name_escaping_scheme;
    bool scrape_native_histograms, convert_classic_histograms_to_nhcb,
        always_scrape_classic_histograms, extra_scrape_metrics;
} scrape_globals;

/* Checks a scrape_protocols list as Prometheus does (known names, no duplicates). */
int scrape_check_protocols(scrape_dec *d, const odin_yaml_node *n, char **v, size_t nv);
/* Decodes scrape_configs into c->jobs (globals applied, names unique). */
int scrape_dec_jobs(scrape_dec *d, const odin_yaml_node *n, const scrape_globals *g,
                    scrape_config *c);
void scrape_job_fini(scrape_job *j);
/* alerting and remote_write (config_remote.c). */
int scrape_dec_alerting(scrape_dec *d, const odin_yaml_node *n, scrape_config *c);
int scrape_dec_remote_writes(scrape_dec *d, const odin_yaml_node *n, scrape_config *c);
void scrape_alertmanager_fini(scrape_alertmanager *am);
void scrape_remote_write_fini(scrape_remote_write *rw);
/* Decodes an sd set (static/file/kubernetes keys) finishing checks after the mapping is read. */
int scrape_sd_finish(scrape_dec *d, const odin_yaml_node *n, discovery_config *sd,
                     bool has_relabel);

/* ---- Regexes and relabel helpers (relabel.c) ------------------------------------------------- */

/* Compiles text anchored at both ends as Prometheus does ("^(?s:" text ")$"), with PCRE2 in UTF
 * mode. NULL with err "bad regex: <reason> at offset N" (no file position: callers add it). */
scrape_regex *scrape_regex_compile(const char *text, odin_err *err);
void scrape_regex_free(scrape_regex *re);
/* Whole-string match; thread-safe. */
bool scrape_regex_match(const scrape_regex *re, odin_str s);
/* Parses an action name, case-insensitively as Prometheus does; false when unknown. */
bool scrape_relabel_action_parse(const char *s, relabel_action *out);
const char *scrape_relabel_action_name(relabel_action a);

/* ---- MD5 (md5.c) ----------------------------------------------------------------------------- */

/* RFC 1321 digest of p[0..n). Used by hashmod, which must agree with Prometheus bit for bit. */
/* config_paths.c: joins relative file_sd globs, TLS, password, credentials and bearer token files
 * (jobs, alertmanagers, remote_write) to the directory of config_path, as Prometheus' SetDirectory.
 * rule_files and query_log_file stay as written (their users join them). */
void scrape_config_resolve_paths(scrape_config *c, const char *config_path);

void scrape_md5(const void *p, size_t n, unsigned char out[16]);

#endif

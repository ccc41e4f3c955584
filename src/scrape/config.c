/* prometheus.yml: loading, the top-level sections (global, alerting, rule_files, storage,
 * remote_write) and freeing. Jobs are decoded in config_job.c, discovery in config_sd.c, the
 * shared HTTP and relabel blocks in config_http.c, the YAML tree in config_yaml.c. */
#include "scrape/config_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MAX_BYTES (64u * 1024 * 1024)

/* ---- global ---------------------------------------------------------------------------------- */

#define GL(field) offsetof(scrape_globals, field)

static const scrape_field global_fields[] = {
    {"scrape_interval", SCRAPE_F_DURATION, GL(scrape_interval_ms), 0, NULL},
    {"scrape_timeout", SCRAPE_F_DURATION, GL(scrape_timeout_ms), 0, NULL},
    {"scrape_protocols", SCRAPE_F_STRINGS, GL(scrape_protocols), GL(nscrape_protocols), NULL},
    {"evaluation_interval", SCRAPE_F_DURATION, GL(evaluation_interval_ms), 0, NULL},
    {"rule_query_offset", SCRAPE_F_DURATION, GL(rule_query_offset_ms), 0, NULL},
    {"query_log_file", SCRAPE_F_STRING, GL(query_log_file), 0, NULL},
    {"scrape_failure_log_file", SCRAPE_F_STRING, GL(scrape_failure_log_file), 0, NULL},
    {"external_labels", SCRAPE_F_FN, 0, 0, NULL}, /* decoded after the validation scheme */
    {"body_size_limit", SCRAPE_F_SIZE, GL(body_size_limit), 0, NULL},
    {"sample_limit", SCRAPE_F_U64, GL(sample_limit), 0, NULL},
    {"target_limit", SCRAPE_F_U64, GL(target_limit), 0, NULL},
    {"label_limit", SCRAPE_F_U64, GL(label_limit), 0, NULL},
    {"label_name_length_limit", SCRAPE_F_U64, GL(label_name_length_limit), 0, NULL},
    {"label_value_length_limit", SCRAPE_F_U64, GL(label_value_length_limit), 0, NULL},
    {"keep_dropped_targets", SCRAPE_F_U64, GL(keep_dropped_targets), 0, NULL},
    {"metric_name_validation_scheme", SCRAPE_F_STRING, GL(metric_name_validation_scheme), 0, NULL},
    {"metric_name_escaping_scheme", SCRAPE_F_STRING, GL(metric_name_escaping_scheme), 0, NULL},
    {"scrape_native_histograms", SCRAPE_F_BOOL, GL(scrape_native_histograms), 0, NULL},
    {"convert_classic_histograms_to_nhcb", SCRAPE_F_BOOL, GL(convert_classic_histograms_to_nhcb), 0,
     NULL},
    {"always_scrape_classic_histograms", SCRAPE_F_BOOL, GL(always_scrape_classic_histograms), 0,
     NULL},
    {"extra_scrape_metrics", SCRAPE_F_BOOL, GL(extra_scrape_metrics), 0, NULL},
};

static int skip_node(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    (void)d, (void)n, (void)obj;
    return 0;
}

/* Go's os.Expand over an external label value: $$ is "$", ${name} and $name read the
 * environment, bad syntax is dropped, a lone $ stays. Prometheus does this at load. */
static char *expand_env(const char *s)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_puts(&b, "");
    for (size_t i = 0; s[i]; i++) {
        if (s[i] != '$' || s[i + 1] == '\0') {
            odin_strbuf_putc(&b, s[i]);
            continue;
        }
        const char *r = s + i + 1;
        char name[256];
        size_t nlen = 0, w = 0;
        if (*r == '{') {
            const char *close = strchr(r, '}');
            w = close ? (size_t)(close - r) + 1 : 1;
            nlen = close ? (size_t)(close - r) - 1 : 0;
            if (nlen >= sizeof(name)) {
                nlen = 0;
            }
            memcpy(name, r + 1, nlen);
        } else if (strchr("*#$@!?-0123456789", *r)) {
            name[0] = *r, nlen = 1, w = 1;
        } else {
            while (nlen < sizeof(name) - 1 &&
                   (r[nlen] == '_' || (r[nlen] >= '0' && r[nlen] <= '9') ||
                    (r[nlen] >= 'a' && r[nlen] <= 'z') || (r[nlen] >= 'A' && r[nlen] <= 'Z'))) {
                name[nlen] = r[nlen];
                nlen++;
            }
            w = nlen;
        }
        name[nlen] = '\0';
        if (nlen == 0 && w == 0) {
            odin_strbuf_putc(&b, '$');
            continue;
        }
        i += w;
        if (nlen == 1 && name[0] == '$') {
            odin_strbuf_putc(&b, '$');
        } else if (nlen > 0) {
            const char *v = getenv(name);
            if (v == NULL || *v == '\0') {
                odin_log(ODIN_LOG_WARN, "scrape", "empty environment variable", "name", name,
                         (char *)NULL);
            }
            odin_strbuf_puts(&b, v ? v : "");
        }
    }
    return odin_strbuf_take(&b, NULL);
}

static int dec_global(scrape_dec *d, const odin_yaml_node *n, scrape_globals *g)
{
    scrape_fieldset fs = {global_fields, ODIN_ARRAY_LEN(global_fields), g, 0};
    /* skip_node stands in for external_labels until the scheme is known */
    scrape_field fields[ODIN_ARRAY_LEN(global_fields)];
    memcpy(fields, global_fields, sizeof(fields));
    for (size_t i = 0; i < ODIN_ARRAY_LEN(fields); i++) {
        if (fields[i].kind == SCRAPE_F_FN) {
            fields[i].fn = skip_node;
        }
    }
    fs.fields = fields;
    int rc = scrape_dec_fields(d, n, "global config", &fs, 1);
    if (rc < 0) {
        return rc;
    }
    const char *v = g->metric_name_validation_scheme;
    if (v == NULL || *v == '\0' || (strcmp(v, "utf8") != 0 && strcmp(v, "legacy") != 0)) {
        free(g->metric_name_validation_scheme); /* matches Prometheus: unknown means utf8 */
        g->metric_name_validation_scheme = odin_strdup("utf8");
    }
    d->legacy_names = strcmp(g->metric_name_validation_scheme, "legacy") == 0;
    const odin_yaml_node *el = odin_yaml_get(n, "external_labels");
    if (el) {
        size_t old = scrape_dec_push_key(d, "external_labels");
        rc = scrape_dec_labels(d, el, true, &g->external_labels, &g->nexternal_labels);
        scrape_dec_pop(d, old);
        for (size_t i = 0; rc == 0 && i < g->nexternal_labels; i++) {
            char *x = expand_env(g->external_labels[i].value.p);
            free((char *)g->external_labels[i].value.p);
            g->external_labels[i].value = odin_str_c(x);
        }
        if (rc < 0) {
            return rc;
        }
    }
    if (g->scrape_interval_ms == 0) {
        g->scrape_interval_ms = 60000;
    }
    if (g->scrape_timeout_ms > g->scrape_interval_ms) {
        return scrape_dec_fail(d, n, "global scrape timeout greater than scrape interval");
    }
    if (g->scrape_timeout_ms == 0) {
        g->scrape_timeout_ms = g->scrape_interval_ms < 10000 ? g->scrape_interval_ms : 10000;
    }
    if (g->evaluation_interval_ms == 0) {
        g->evaluation_interval_ms = 60000;
    }
    if (g->scrape_protocols) {
        size_t old = scrape_dec_push_key(d, "scrape_protocols");
        rc = scrape_check_protocols(d, odin_yaml_get(n, "scrape_protocols"), g->scrape_protocols,
                                    g->nscrape_protocols);
        scrape_dec_pop(d, old);
        if (rc < 0) {
            return rc;
        }
    }
    const char *e = g->metric_name_escaping_scheme;
    if (e && strcmp(e, "allow-utf-8") != 0 && strcmp(e, "underscores") != 0 &&
        strcmp(e, "dots") != 0 && strcmp(e, "values") != 0) {
        return scrape_dec_fail(d, n,
                               "unknown global name escaping method specified, must be one "
                               "of 'allow-utf-8', 'underscores', 'dots', or 'values', got "
                               "\"%.64s\"",
                               e);
    }
    return 0;
}

static void globals_fini(scrape_globals *g)
{
    for (size_t i = 0; i < g->nscrape_protocols; i++) {
        free(g->scrape_protocols[i]);
    }
    free(g->scrape_protocols);
    free(g->query_log_file);
    free(g->scrape_failure_log_file);
    for (size_t i = 0; i < g->nexternal_labels; i++) {
        free((char *)g->external_labels[i].name.p);
        free((char *)g->external_labels[i].value.p);
    }
    free(g->external_labels);
    free(g->metric_name_validation_scheme);
    free(g->metric_name_escaping_scheme);
}

/* Moves what scrape_config keeps out of g. */
static void globals_take(scrape_config *c, scrape_globals *g)
{
    c->scrape_interval_ms = g->scrape_interval_ms;
    c->scrape_timeout_ms = g->scrape_timeout_ms;
    c->evaluation_interval_ms = g->evaluation_interval_ms;
    c->rule_query_offset_ms = g->rule_query_offset_ms;
    c->external_labels = g->external_labels, g->external_labels = NULL;
    c->nexternal_labels = g->nexternal_labels, g->nexternal_labels = 0;
    c->query_log_file = g->query_log_file, g->query_log_file = NULL;
    c->scrape_failure_log_file = g->scrape_failure_log_file, g->scrape_failure_log_file = NULL;
    c->scrape_protocols = g->scrape_protocols, g->scrape_protocols = NULL;
    c->nscrape_protocols = g->nscrape_protocols, g->nscrape_protocols = 0;
    c->metric_name_validation_scheme = g->metric_name_validation_scheme;
    g->metric_name_validation_scheme = NULL;
}

/* ---- storage --------------------------------------------------------------------------------- */

static const scrape_field retention_fields[] = {
    {"time", SCRAPE_F_DURATION, offsetof(scrape_config, retention_time_ms), 0, NULL},
    {"size", SCRAPE_F_SIZE, offsetof(scrape_config, retention_size_bytes), 0, NULL},
    {"percentage", SCRAPE_F_REJECT, 0, 0, NULL},
};

static int dec_retention(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_fieldset fs = {retention_fields, ODIN_ARRAY_LEN(retention_fields), obj, 0};
    return scrape_dec_fields(d, n, "retention config", &fs, 1);
}

static const scrape_field tsdb_fields[] = {
    {"out_of_order_time_window", SCRAPE_F_DURATION,
     offsetof(scrape_config, out_of_order_time_window_ms), 0, NULL},
    {"retention", SCRAPE_F_FN, 0, 0, dec_retention},
    {"stale_series_compaction_threshold", SCRAPE_F_REJECT, 0, 0, NULL},
    {"chunk_encoding", SCRAPE_F_REJECT, 0, 0, NULL},
};

static int dec_tsdb(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_fieldset fs = {tsdb_fields, ODIN_ARRAY_LEN(tsdb_fields), obj, 0};
    return scrape_dec_fields(d, n, "tsdb config", &fs, 1);
}

static const scrape_field exemplar_fields[] = {
    {"max_exemplars", SCRAPE_F_U64, offsetof(scrape_config, max_exemplars), 0, NULL},
};

static int dec_exemplars(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_fieldset fs = {exemplar_fields, ODIN_ARRAY_LEN(exemplar_fields), obj, 0};
    return scrape_dec_fields(d, n, "exemplars config", &fs, 1);
}

static const scrape_field storage_fields[] = {
    {"tsdb", SCRAPE_F_FN, 0, 0, dec_tsdb},
    {"exemplars", SCRAPE_F_FN, 0, 0, dec_exemplars},
};

static int dec_storage(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_fieldset fs = {storage_fields, ODIN_ARRAY_LEN(storage_fields), obj, 0};
    return scrape_dec_fields(d, n, "storage config", &fs, 1);
}

/* ---- runtime (accepted: Go's GC tuning has no meaning here) ---------------------------------- */

static const scrape_field runtime_fields[] = {
    {"gogc", SCRAPE_F_FN, 0, 0, skip_node},
};

static int dec_runtime(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_fieldset fs = {runtime_fields, ODIN_ARRAY_LEN(runtime_fields), obj, 0};
    return scrape_dec_fields(d, n, "runtime config", &fs, 1);
}

/* ---- rule_files ------------------------------------------------------------------------------ */

/* Prometheus' patRulePath: at most one '*', and only in the last path element. */
static bool rule_path_ok(const char *s)
{
    const char *star = strchr(s, '*');
    return star == NULL || (strchr(star + 1, '*') == NULL && strchr(star, '/') == NULL);
}

static int dec_rule_files(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_config *c = obj;
    int rc = scrape_dec_strings(d, n, &c->rule_files, &c->nrule_files);
    for (size_t i = 0; rc == 0 && i < c->nrule_files; i++) {
        if (!rule_path_ok(c->rule_files[i])) {
            size_t old = scrape_dec_push_index(d, i);
            rc = scrape_dec_fail(d, n->v[i], "invalid rule file path \"%.64s\"", c->rule_files[i]);
            scrape_dec_pop(d, old);
        }
    }
    return rc;
}

/* ---- top level ------------------------------------------------------------------------------- */

/* Keys are first checked, then decoded in dependency order (global before jobs). */
static const scrape_field top_fields[] = {
    {"global", SCRAPE_F_FN, 0, 0, skip_node},
    {"runtime", SCRAPE_F_FN, 0, 0, dec_runtime},
    {"alerting", SCRAPE_F_FN, 0, 0, skip_node},
    {"rule_files", SCRAPE_F_FN, 0, 0, dec_rule_files},
    {"scrape_configs", SCRAPE_F_FN, 0, 0, skip_node},
    {"storage", SCRAPE_F_FN, 0, 0, dec_storage},
    {"remote_write", SCRAPE_F_FN, 0, 0, skip_node},
    {"scrape_config_files", SCRAPE_F_REJECT, 0, 0, NULL},
    {"remote_read", SCRAPE_F_REJECT, 0, 0, NULL},
    {"tracing", SCRAPE_F_REJECT, 0, 0, NULL},
    {"otlp", SCRAPE_F_REJECT, 0, 0, NULL},
};

static int dec_section(scrape_dec *d, const odin_yaml_node *root, const char *key,
                       int (*fn)(scrape_dec *, const odin_yaml_node *, scrape_config *),
                       scrape_config *c)
{
    const odin_yaml_node *n = odin_yaml_get(root, key);
    if (n == NULL) {
        return 0;
    }
    size_t old = scrape_dec_push_key(d, key);
    int rc = fn(d, n, c);
    scrape_dec_pop(d, old);
    return rc;
}

static int dec_root(scrape_dec *d, const odin_yaml_node *root, scrape_config *c)
{
    scrape_globals g = {0};
    scrape_fieldset fs = {top_fields, ODIN_ARRAY_LEN(top_fields), c, 0};
    int rc = scrape_dec_fields(d, root, "the configuration file", &fs, 1);
    const odin_yaml_node *gn = odin_yaml_get(root, "global");
    if (rc == 0) {
        size_t old = scrape_dec_push_key(d, "global");
        rc = dec_global(d, gn, &g);
        scrape_dec_pop(d, old);
    }
    if (rc == 0) {
        const odin_yaml_node *jn = odin_yaml_get(root, "scrape_configs");
        size_t old = scrape_dec_push_key(d, "scrape_configs");
        rc = scrape_dec_jobs(d, jn, &g, c);
        scrape_dec_pop(d, old);
    }
    if (rc == 0) {
        rc = dec_section(d, root, "alerting", scrape_dec_alerting, c);
    }
    if (rc == 0) {
        rc = dec_section(d, root, "remote_write", scrape_dec_remote_writes, c);
    }
    globals_take(c, &g);
    globals_fini(&g);
    return rc;
}

scrape_config *scrape_config_parse(const char *text, size_t len, const char *name, odin_err *err)
{
    scrape_config *c = odin_calloc(1, sizeof(*c));
    c->scrape_interval_ms = 60000;
    c->scrape_timeout_ms = 10000;
    c->evaluation_interval_ms = 60000;
    c->max_exemplars = 100000;
    c->text = odin_strndup(text, len);
    odin_yaml_doc doc;
    int rc = odin_yaml_parse(&doc, text, len, name, err);
    if (rc == 0) {
        scrape_dec d = {.name = name, .err = err};
        if (doc.root) {
            rc = dec_root(&d, doc.root, c);
        } else {
            scrape_globals g = {0};
            rc = dec_global(&d, NULL, &g);
            globals_take(c, &g);
            globals_fini(&g);
        }
    }
    odin_yaml_doc_fini(&doc);
    if (rc < 0) {
        scrape_config_free(c);
        return NULL;
    }
    return c;
}

scrape_config *scrape_config_load(const char *path, odin_err *err)
{
    odin_strbuf buf;
    odin_strbuf_init(&buf, CONFIG_MAX_BYTES + 1);
    if (odin_read_file(path, &buf, CONFIG_MAX_BYTES, err) < 0) {
        odin_strbuf_fini(&buf);
        return NULL;
    }
    scrape_config *c = scrape_config_parse(buf.p ? buf.p : "", buf.len, path, err);
    odin_strbuf_fini(&buf);
    if (c) {
        c->path = odin_strdup(path);
        scrape_config_resolve_paths(c, path);
    }
    return c;
}

static void free_relabels(relabel_config *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        relabel_config_fini(&v[i]);
    }
    free(v);
}

void scrape_config_free(scrape_config *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nexternal_labels; i++) {
        free((char *)c->external_labels[i].name.p);
        free((char *)c->external_labels[i].value.p);
    }
    free(c->external_labels);
    free(c->query_log_file);
    for (size_t i = 0; i < c->nalertmanagers; i++) {
        scrape_alertmanager_fini(&c->alertmanagers[i]);
    }
    free(c->alertmanagers);
    free_relabels(c->alert_relabel, c->nalert_relabel);
    for (size_t i = 0; i < c->nrule_files; i++) {
        free(c->rule_files[i]);
    }
    free(c->rule_files);
    for (size_t i = 0; i < c->njobs; i++) {
        scrape_job_fini(&c->jobs[i]);
    }
    free(c->jobs);
    for (size_t i = 0; i < c->nremote_write; i++) {
        scrape_remote_write_fini(&c->remote_write[i]);
    }
    free(c->remote_write);
    free(c->text);
    free(c->path);
    free(c->scrape_failure_log_file);
    for (size_t i = 0; i < c->nscrape_protocols; i++) {
        free(c->scrape_protocols[i]);
    }
    free(c->scrape_protocols);
    free(c->metric_name_validation_scheme);
    free(c);
}

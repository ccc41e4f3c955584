/* Decoding of scrape_configs: every ScrapeConfig field of Prometheus 3, the inline HTTP client and
 * discovery blocks, then Prometheus' Validate (globals inherited, timeout within interval,
 * protocols, name validation schemes, relabel rules) and unique job names. */
#include "scrape/config_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JOB(field) offsetof(scrape_job, field)

static int dec_params(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_job *j = obj;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_MAP) {
        return scrape_dec_fail(d, n, "expected a mapping of parameter names to value lists");
    }
    for (size_t i = 0; i < n->n; i++) {
        const odin_yaml_node *k = n->v[2 * i];
        char **vals = NULL;
        size_t nvals = 0;
        if (k->kind != ODIN_YAML_SCALAR) {
            return scrape_dec_fail(d, k, "parameter names must be strings");
        }
        size_t old = scrape_dec_push_key(d, k->s);
        int rc = scrape_dec_strings(d, n->v[2 * i + 1], &vals, &nvals);
        scrape_dec_pop(d, old);
        if (rc < 0) {
            return rc;
        }
        j->params = odin_realloc(j->params, (j->nparams + nvals + 1) * sizeof(*j->params));
        for (size_t v = 0; v < nvals; v++) {
            j->params[j->nparams++] =
                (odin_label){{odin_strndup(k->s, k->len), k->len}, {vals[v], strlen(vals[v])}};
        }
        free(vals);
    }
    return 0;
}

static int dec_job_relabel(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_job *j = obj;
    return scrape_dec_relabels(d, n, &j->relabel, &j->nrelabel);
}

static int dec_job_metric_relabel(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_job *j = obj;
    return scrape_dec_relabels(d, n, &j->metric_relabel, &j->nmetric_relabel);
}

/* Order matters: the indices of fields inherited from global are looked up by name. */
static const scrape_field job_fields[] = {
    {"job_name", SCRAPE_F_STRING, JOB(job_name), 0, NULL},
    {"honor_labels", SCRAPE_F_BOOL, JOB(honor_labels), 0, NULL},
    {"honor_timestamps", SCRAPE_F_BOOL, JOB(honor_timestamps), 0, NULL},
    {"track_timestamps_staleness", SCRAPE_F_BOOL, JOB(track_timestamps_staleness), 0, NULL},
    {"params", SCRAPE_F_FN, 0, 0, dec_params},
    {"scrape_interval", SCRAPE_F_DURATION, JOB(scrape_interval_ms), 0, NULL},
    {"scrape_timeout", SCRAPE_F_DURATION, JOB(scrape_timeout_ms), 0, NULL},
    {"scrape_protocols", SCRAPE_F_STRINGS, JOB(scrape_protocols), JOB(nscrape_protocols), NULL},
    {"fallback_scrape_protocol", SCRAPE_F_STRING, JOB(fallback_scrape_protocol), 0, NULL},
    {"scrape_native_histograms", SCRAPE_F_BOOL, JOB(scrape_native_histograms), 0, NULL},
    {"always_scrape_classic_histograms", SCRAPE_F_BOOL, JOB(always_scrape_classic_histograms), 0,
     NULL},
    {"convert_classic_histograms_to_nhcb", SCRAPE_F_BOOL, JOB(convert_classic_histograms_to_nhcb),
     0, NULL},
    {"scrape_failure_log_file", SCRAPE_F_STRING, JOB(scrape_failure_log_file), 0, NULL},
    {"metrics_path", SCRAPE_F_STRING, JOB(metrics_path), 0, NULL},
    {"scheme", SCRAPE_F_STRING, JOB(scheme), 0, NULL},
    {"enable_compression", SCRAPE_F_BOOL, JOB(enable_compression), 0, NULL},
    {"body_size_limit", SCRAPE_F_SIZE, JOB(body_size_limit), 0, NULL},
    {"sample_limit", SCRAPE_F_U64, JOB(sample_limit), 0, NULL},
    {"target_limit", SCRAPE_F_U64, JOB(target_limit), 0, NULL},
    {"label_limit", SCRAPE_F_U64, JOB(label_limit), 0, NULL},
    {"label_name_length_limit", SCRAPE_F_U64, JOB(label_name_length_limit), 0, NULL},
    {"label_value_length_limit", SCRAPE_F_U64, JOB(label_value_length_limit), 0, NULL},
    {"native_histogram_bucket_limit", SCRAPE_F_U64, JOB(native_histogram_bucket_limit), 0, NULL},
    {"native_histogram_min_bucket_factor", SCRAPE_F_DOUBLE, JOB(native_histogram_min_bucket_factor),
     0, NULL},
    {"keep_dropped_targets", SCRAPE_F_U64, JOB(keep_dropped_targets), 0, NULL},
    {"metric_name_validation_scheme", SCRAPE_F_STRING, JOB(metric_name_validation_scheme), 0, NULL},
    {"metric_name_escaping_scheme", SCRAPE_F_STRING, JOB(metric_name_escaping_scheme), 0, NULL},
    {"extra_scrape_metrics", SCRAPE_F_BOOL, JOB(extra_scrape_metrics), 0, NULL},
    {"relabel_configs", SCRAPE_F_FN, 0, 0, dec_job_relabel},
    {"metric_relabel_configs", SCRAPE_F_FN, 0, 0, dec_job_metric_relabel},
};

static const char *const known_protocols[] = {
    "PrometheusProto",      "PrometheusText0.0.4",  "PrometheusText1.0.0",
    "OpenMetricsText0.0.1", "OpenMetricsText1.0.0",
};

static bool protocol_known(const char *p)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(known_protocols); i++) {
        if (strcmp(p, known_protocols[i]) == 0) {
            return true;
        }
    }
    return false;
}

int scrape_check_protocols(scrape_dec *d, const odin_yaml_node *n, char **v, size_t nv)
{
    if (nv == 0) {
        return scrape_dec_fail(d, n, "scrape_protocols cannot be empty");
    }
    for (size_t i = 0; i < nv; i++) {
        if (!protocol_known(v[i])) {
            return scrape_dec_fail(d, n,
                                   "unknown scrape protocol \"%.64s\", supported: "
                                   "OpenMetricsText0.0.1, OpenMetricsText1.0.0, PrometheusProto, "
                                   "PrometheusText0.0.4, PrometheusText1.0.0",
                                   v[i]);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(v[i], v[j]) == 0) {
                return scrape_dec_fail(d, n, "duplicated protocol in scrape_protocols: %s", v[i]);
            }
        }
    }
    return 0;
}

static char **strings_dup(char *const *v, size_t n)
{
    char **out = odin_calloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        out[i] = odin_strdup(v[i]);
    }
    return out;
}

static void set_default_protocols(scrape_job *j, const scrape_globals *g)
{
    static const char *const text_first[] = {"OpenMetricsText1.0.0", "OpenMetricsText0.0.1",
                                             "PrometheusText1.0.0", "PrometheusText0.0.4"};
    static const char *const proto_first[] = {"PrometheusProto", "OpenMetricsText1.0.0",
                                              "OpenMetricsText0.0.1", "PrometheusText1.0.0",
                                              "PrometheusText0.0.4"};
    if (g->scrape_protocols) {
        j->scrape_protocols = strings_dup(g->scrape_protocols, g->nscrape_protocols);
        j->nscrape_protocols = g->nscrape_protocols;
        return;
    }
    const char *const *v = j->scrape_native_histograms ? proto_first : text_first;
    size_t n =
        j->scrape_native_histograms ? ODIN_ARRAY_LEN(proto_first) : ODIN_ARRAY_LEN(text_first);
    j->scrape_protocols = strings_dup((char *const *)v, n);
    j->nscrape_protocols = n;
}

static bool escaping_known(const char *s)
{
    return strcmp(s, "allow-utf-8") == 0 || strcmp(s, "underscores") == 0 ||
           strcmp(s, "dots") == 0 || strcmp(s, "values") == 0;
}

/* Prometheus' name validation and escaping schemes, defaults from global then the job. */
static int check_schemes(scrape_dec *d, const odin_yaml_node *n, scrape_job *j,
                         const scrape_globals *g, bool local_unset)
{
    const char *v = j->metric_name_validation_scheme;
    if (strcmp(v, "utf8") != 0 && strcmp(v, "legacy") != 0) {
        return scrape_dec_fail(d, n,
                               "unknown scrape config name validation method specified, "
                               "must be either '', 'legacy' or 'utf8', got %.64s",
                               v);
    }
    if (j->metric_name_escaping_scheme == NULL) {
        const char *e = strcmp(v, "legacy") == 0 ? "underscores" : "allow-utf-8";
        if (local_unset && g->metric_name_escaping_scheme) {
            e = g->metric_name_escaping_scheme;
        }
        j->metric_name_escaping_scheme = odin_strdup(e);
    }
    const char *e = j->metric_name_escaping_scheme;
    if (!escaping_known(e)) {
        return scrape_dec_fail(d, n,
                               "unknown scrape config name escaping method specified, "
                               "must be one of 'allow-utf-8', 'underscores', 'dots', or "
                               "'values', got \"%.64s\"",
                               e);
    }
    if (strcmp(e, "allow-utf-8") == 0 && strcmp(v, "utf8") != 0) {
        return scrape_dec_fail(d, n,
                               "utf8 metric names requested but validation scheme is not "
                               "set to UTF8");
    }
    return 0;
}

static void inherit_u64(uint64_t *job, uint64_t global)
{
    if (*job == 0) {
        *job = global;
    }
}

static void inherit(scrape_job *j, const scrape_globals *g, const scrape_fieldset *fs)
{
    if (!scrape_fieldset_seen(fs, "scrape_interval") || j->scrape_interval_ms == 0) {
        j->scrape_interval_ms = g->scrape_interval_ms;
    }
    inherit_u64(&j->body_size_limit, g->body_size_limit);
    inherit_u64(&j->sample_limit, g->sample_limit);
    inherit_u64(&j->target_limit, g->target_limit);
    inherit_u64(&j->label_limit, g->label_limit);
    inherit_u64(&j->label_name_length_limit, g->label_name_length_limit);
    inherit_u64(&j->label_value_length_limit, g->label_value_length_limit);
    inherit_u64(&j->keep_dropped_targets, g->keep_dropped_targets);
    if (j->scrape_failure_log_file == NULL && g->scrape_failure_log_file) {
        j->scrape_failure_log_file = odin_strdup(g->scrape_failure_log_file);
    }
    if (!scrape_fieldset_seen(fs, "scrape_native_histograms")) {
        j->scrape_native_histograms = g->scrape_native_histograms;
    }
    if (!scrape_fieldset_seen(fs, "extra_scrape_metrics")) {
        j->extra_scrape_metrics = g->extra_scrape_metrics;
    }
    if (!scrape_fieldset_seen(fs, "convert_classic_histograms_to_nhcb")) {
        j->convert_classic_histograms_to_nhcb = g->convert_classic_histograms_to_nhcb;
    }
    if (!scrape_fieldset_seen(fs, "always_scrape_classic_histograms")) {
        j->always_scrape_classic_histograms = g->always_scrape_classic_histograms;
    }
    if (j->metrics_path == NULL) {
        j->metrics_path = odin_strdup("/metrics");
    }
    if (j->scheme == NULL) {
        j->scheme = odin_strdup("http");
    }
}

/* Prometheus' ScrapeConfig.Validate, after the mapping is read. */
static int job_validate(scrape_dec *d, const odin_yaml_node *n, scrape_job *j,
                        const scrape_globals *g, const scrape_fieldset *fs)
{
    if (j->job_name == NULL || *j->job_name == '\0') {
        return scrape_dec_fail(d, n, "job_name is empty");
    }
    inherit(j, g, fs);
    if (j->scrape_timeout_ms > j->scrape_interval_ms) {
        return scrape_dec_fail(d, n,
                               "scrape timeout greater than scrape interval for scrape "
                               "config with job name \"%.64s\"",
                               j->job_name);
    }
    if (j->scrape_timeout_ms == 0) {
        j->scrape_timeout_ms = g->scrape_timeout_ms < j->scrape_interval_ms ? g->scrape_timeout_ms
                                                                            : j->scrape_interval_ms;
    }
    if (j->scrape_protocols == NULL) {
        set_default_protocols(j, g);
    }
    const odin_yaml_node *pn = odin_yaml_get(n, "scrape_protocols");
    int rc = scrape_check_protocols(d, pn ? pn : n, j->scrape_protocols, j->nscrape_protocols);
    if (rc < 0) {
        return rc;
    }
    if (j->fallback_scrape_protocol && !protocol_known(j->fallback_scrape_protocol)) {
        return scrape_dec_fail(d, n,
                               "invalid fallback_scrape_protocol \"%.64s\" for scrape "
                               "config with job name \"%.64s\"",
                               j->fallback_scrape_protocol, j->job_name);
    }
    bool local_unset = j->metric_name_validation_scheme == NULL;
    if (local_unset) {
        j->metric_name_validation_scheme = odin_strdup(g->metric_name_validation_scheme);
    }
    rc = check_schemes(d, n, j, g, local_unset);
    if (rc < 0) {
        return rc;
    }
    return scrape_sd_finish(d, n, &j->sd, j->nrelabel > 0);
}

static int dec_job(scrape_dec *d, const odin_yaml_node *n, const scrape_globals *g, scrape_job *j)
{
    if (odin_yaml_is_null(n)) {
        return scrape_dec_fail(d, n, "empty or null scrape config section");
    }
    *j = (scrape_job){.honor_timestamps = true, .enable_compression = true, .line = n->line};
    /* the job's own name validation scheme governs its relabel rules, wherever it is written */
    bool saved = d->legacy_names;
    const odin_yaml_node *vs = odin_yaml_get(n, "metric_name_validation_scheme");
    if (vs && vs->kind == ODIN_YAML_SCALAR && !odin_yaml_is_null(vs)) {
        d->legacy_names = strcmp(vs->s, "legacy") == 0;
    }
    scrape_cfg_http hd;
    scrape_cfg_http_init(&hd, true);
    scrape_fieldset sets[] = {
        {job_fields, ODIN_ARRAY_LEN(job_fields), j, 0},
        {scrape_cfg_http_fields, scrape_cfg_nhttp_fields, &hd, 0},
        {scrape_sd_fields, scrape_nsd_fields, &j->sd, 0},
    };
    int rc = scrape_dec_fields(d, n, "scrape config", sets, ODIN_ARRAY_LEN(sets));
    if (rc == 0) {
        rc = scrape_cfg_http_finish(d, n, &hd, &j->http);
    } else {
        free(hd.bearer_token);
        free(hd.bearer_token_file);
        http_client_config_fini(&hd.h);
    }
    if (rc == 0) {
        rc = job_validate(d, n, j, g, &sets[0]);
    }
    d->legacy_names = saved;
    return rc;
}

int scrape_dec_jobs(scrape_dec *d, const odin_yaml_node *n, const scrape_globals *g,
                    scrape_config *c)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SEQ) {
        return scrape_dec_fail(d, n, "expected a list of scrape configs");
    }
    c->jobs = odin_calloc(n->n + 1, sizeof(*c->jobs));
    for (size_t i = 0; i < n->n; i++) {
        size_t old = scrape_dec_push_index(d, i);
        scrape_job *j = &c->jobs[c->njobs++];
        int rc = dec_job(d, n->v[i], g, j);
        for (size_t k = 0; rc == 0 && k + 1 < c->njobs; k++) {
            if (strcmp(c->jobs[k].job_name, j->job_name) == 0) {
                rc = scrape_dec_fail(d, n->v[i],
                                     "found multiple scrape configs with job name "
                                     "\"%.64s\"",
                                     j->job_name);
            }
        }
        scrape_dec_pop(d, old);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static void free_labels(odin_label *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)v[i].name.p);
        free((char *)v[i].value.p);
    }
    free(v);
}

static void free_relabels(relabel_config *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        relabel_config_fini(&v[i]);
    }
    free(v);
}

void scrape_job_fini(scrape_job *j)
{
    free(j->job_name);
    free(j->metrics_path);
    free(j->scheme);
    free_labels(j->params, j->nparams);
    http_client_config_fini(&j->http);
    discovery_config_fini(&j->sd);
    free_relabels(j->relabel, j->nrelabel);
    free_relabels(j->metric_relabel, j->nmetric_relabel);
    for (size_t i = 0; i < j->nscrape_protocols; i++) {
        free(j->scrape_protocols[i]);
    }
    free(j->scrape_protocols);
    free(j->fallback_scrape_protocol);
    free(j->metric_name_validation_scheme);
    free(j->metric_name_escaping_scheme);
    free(j->scrape_failure_log_file);
    *j = (scrape_job){0};
}

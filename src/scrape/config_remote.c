/* Decoding of the sections that send data out: alerting (alertmanagers, alert_relabel_configs)
 * and remote_write (url, headers, queue and metadata settings, HTTP client), with Prometheus'
 * defaults and checks. */
#include "scrape/config_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void free_relabels(relabel_config *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        relabel_config_fini(&v[i]);
    }
    free(v);
}

/* ---- alerting -------------------------------------------------------------------------------- */

#define AM(field) offsetof(scrape_alertmanager, field)

static int dec_api_version(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_alertmanager *am = obj;
    char *v = NULL;
    int rc = scrape_dec_string(d, n, &v);
    if (rc == 0 && v && strcmp(v, "v2") != 0) {
        rc = scrape_dec_fail(d, n,
                             "expected Alertmanager api version to be one of [v2] but got "
                             "%.64s",
                             v);
    }
    if (rc == 0 && v) {
        free(am->api_version);
        am->api_version = v;
        v = NULL;
    }
    free(v);
    return rc;
}

static int dec_am_relabel(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_alertmanager *am = obj;
    return scrape_dec_relabels(d, n, &am->relabel, &am->nrelabel);
}

static int dec_am_alert_relabel(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_alertmanager *am = obj;
    return scrape_dec_relabels(d, n, &am->alert_relabel, &am->nalert_relabel);
}

static const scrape_field am_fields[] = {
    {"scheme", SCRAPE_F_STRING, AM(scheme), 0, NULL},
    {"path_prefix", SCRAPE_F_STRING, AM(path_prefix), 0, NULL},
    {"timeout", SCRAPE_F_DURATION, AM(timeout_ms), 0, NULL},
    {"api_version", SCRAPE_F_FN, 0, 0, dec_api_version},
    {"relabel_configs", SCRAPE_F_FN, 0, 0, dec_am_relabel},
    {"alert_relabel_configs", SCRAPE_F_FN, 0, 0, dec_am_alert_relabel},
    {"sigv4", SCRAPE_F_REJECT, 0, 0, NULL},
};

static int dec_am(scrape_dec *d, const odin_yaml_node *n, scrape_alertmanager *am)
{
    *am = (scrape_alertmanager){.scheme = odin_strdup("http"),
                                .path_prefix = odin_strdup(""),
                                .api_version = odin_strdup("v2"),
                                .timeout_ms = 10000};
    if (odin_yaml_is_null(n)) {
        return scrape_dec_fail(d, n, "empty or null alertmanager config");
    }
    scrape_cfg_http hd;
    scrape_cfg_http_init(&hd, true);
    scrape_fieldset sets[] = {
        {am_fields, ODIN_ARRAY_LEN(am_fields), am, 0},
        {scrape_cfg_http_fields, scrape_cfg_nhttp_fields, &hd, 0},
        {scrape_sd_fields, scrape_nsd_fields, &am->sd, 0},
    };
    int rc = scrape_dec_fields(d, n, "alertmanager config", sets, ODIN_ARRAY_LEN(sets));
    if (rc < 0) {
        free(hd.bearer_token);
        free(hd.bearer_token_file);
        http_client_config_fini(&hd.h);
        return rc;
    }
    rc = scrape_cfg_http_finish(d, n, &hd, &am->http);
    if (rc == 0) {
        rc = scrape_sd_finish(d, n, &am->sd, am->nrelabel > 0);
    }
    return rc;
}

static int dec_alertmanagers(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_config *c = obj;
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SEQ) {
        return scrape_dec_fail(d, n, "expected a list of alertmanager configs");
    }
    c->alertmanagers = odin_calloc(n->n + 1, sizeof(*c->alertmanagers));
    for (size_t i = 0; i < n->n; i++) {
        size_t old = scrape_dec_push_index(d, i);
        int rc = dec_am(d, n->v[i], &c->alertmanagers[c->nalertmanagers++]);
        scrape_dec_pop(d, old);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int dec_alert_relabel(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_config *c = obj;
    return scrape_dec_relabels(d, n, &c->alert_relabel, &c->nalert_relabel);
}

static const scrape_field alerting_fields[] = {
    {"alert_relabel_configs", SCRAPE_F_FN, 0, 0, dec_alert_relabel},
    {"alertmanagers", SCRAPE_F_FN, 0, 0, dec_alertmanagers},
};

int scrape_dec_alerting(scrape_dec *d, const odin_yaml_node *n, scrape_config *c)
{
    scrape_fieldset fs = {alerting_fields, ODIN_ARRAY_LEN(alerting_fields), c, 0};
    return scrape_dec_fields(d, n, "alerting config", &fs, 1);
}

void scrape_alertmanager_fini(scrape_alertmanager *am)
{
    discovery_config_fini(&am->sd);
    free(am->scheme);
    free(am->path_prefix);
    free(am->api_version);
    free_relabels(am->relabel, am->nrelabel);
    free_relabels(am->alert_relabel, am->nalert_relabel);
    http_client_config_fini(&am->http);
    *am = (scrape_alertmanager){0};
}

/* ---- remote_write ---------------------------------------------------------------------------- */

#define RW(field) offsetof(scrape_remote_write, field)

/* Headers Prometheus reserves for itself (config.go reservedHeaders). */
static const char *const reserved_headers[] = {
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
};

static int dec_headers(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_remote_write *rw = obj;
    int rc = scrape_dec_labels(d, n, false, &rw->headers, &rw->nheaders);
    for (size_t i = 0; rc == 0 && i < rw->nheaders; i++) {
        const char *h = rw->headers[i].name.p;
        if (strcasecmp(h, "authorization") == 0) {
            return scrape_dec_fail(d, n,
                                   "authorization header must be changed via the "
                                   "basic_auth or authorization parameter");
        }
        for (size_t k = 0; k < ODIN_ARRAY_LEN(reserved_headers); k++) {
            if (strcasecmp(h, reserved_headers[k]) == 0) {
                return scrape_dec_fail(d, n, "%.64s is a reserved header. It must not be changed",
                                       h);
            }
        }
    }
    return rc;
}

static int dec_write_relabel(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_remote_write *rw = obj;
    return scrape_dec_relabels(d, n, &rw->write_relabel, &rw->nwrite_relabel);
}

static const scrape_field queue_fields[] = {
    {"capacity", SCRAPE_F_INT, RW(capacity), 0, NULL},
    {"max_shards", SCRAPE_F_INT, RW(max_shards), 0, NULL},
    {"min_shards", SCRAPE_F_INT, RW(min_shards), 0, NULL},
    {"max_samples_per_send", SCRAPE_F_INT, RW(max_samples_per_send), 0, NULL},
    {"batch_send_deadline", SCRAPE_F_DURATION, RW(batch_send_deadline_ms), 0, NULL},
    {"min_backoff", SCRAPE_F_DURATION, RW(min_backoff_ms), 0, NULL},
    {"max_backoff", SCRAPE_F_DURATION, RW(max_backoff_ms), 0, NULL},
    {"retry_on_http_429", SCRAPE_F_BOOL, RW(retry_on_http_429), 0, NULL},
    {"sample_age_limit", SCRAPE_F_DURATION, RW(sample_age_limit_ms), 0, NULL},
};

static int dec_queue(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_remote_write *rw = obj;
    scrape_fieldset fs = {queue_fields, ODIN_ARRAY_LEN(queue_fields), rw, 0};
    int rc = scrape_dec_fields(d, n, "queue config", &fs, 1);
    if (rc < 0) {
        return rc;
    }
    const char *bad = rw->max_shards <= 0   ? "remote write queue max_shards must be positive"
                      : rw->min_shards <= 0 ? "remote write queue min_shards must be positive"
                      : rw->min_shards > rw->max_shards
                          ? "remote write queue min_shards must not be greater than max_shards"
                      : rw->max_samples_per_send <= 0
                          ? "remote write queue max_samples_per_send must be positive"
                      : rw->capacity <= 0 ? "remote write queue capacity must be positive"
                      : rw->max_backoff_ms < rw->min_backoff_ms
                          ? "remote write queue max_backoff must not be less than min_backoff"
                          : NULL;
    return bad ? scrape_dec_fail(d, n, "%s", bad) : 0;
}

static const scrape_field metadata_fields[] = {
    {"send", SCRAPE_F_BOOL, RW(metadata_send), 0, NULL},
    {"send_interval", SCRAPE_F_DURATION, RW(metadata_send_interval_ms), 0, NULL},
    {"max_samples_per_send", SCRAPE_F_INT, RW(metadata_max_samples_per_send), 0, NULL},
};

static int dec_metadata(scrape_dec *d, const odin_yaml_node *n, void *obj)
{
    scrape_fieldset fs = {metadata_fields, ODIN_ARRAY_LEN(metadata_fields), obj, 0};
    return scrape_dec_fields(d, n, "metadata config", &fs, 1);
}

static const scrape_field rw_fields[] = {
    {"url", SCRAPE_F_STRING, RW(url), 0, NULL},
    {"remote_timeout", SCRAPE_F_DURATION, RW(remote_timeout_ms), 0, NULL},
    {"headers", SCRAPE_F_FN, 0, 0, dec_headers},
    {"write_relabel_configs", SCRAPE_F_FN, 0, 0, dec_write_relabel},
    {"name", SCRAPE_F_STRING, RW(name), 0, NULL},
    {"send_exemplars", SCRAPE_F_BOOL, RW(send_exemplars), 0, NULL},
    {"send_native_histograms", SCRAPE_F_BOOL, RW(send_native_histograms), 0, NULL},
    {"round_robin_dns", SCRAPE_F_BOOL, RW(round_robin_dns), 0, NULL},
    {"protobuf_message", SCRAPE_F_STRING, RW(protobuf_message), 0, NULL},
    {"queue_config", SCRAPE_F_FN, 0, 0, dec_queue},
    {"metadata_config", SCRAPE_F_FN, 0, 0, dec_metadata},
    {"failed_request_logging", SCRAPE_F_REJECT, 0, 0, NULL},
    {"sigv4", SCRAPE_F_REJECT, 0, 0, NULL},
    {"azuread", SCRAPE_F_REJECT, 0, 0, NULL},
    {"google_iam", SCRAPE_F_REJECT, 0, 0, NULL},
};

static int dec_rw(scrape_dec *d, const odin_yaml_node *n, scrape_remote_write *rw)
{
    *rw = (scrape_remote_write){
        .remote_timeout_ms = 30000,
        .capacity = 10000,
        .max_shards = 50,
        .min_shards = 1,
        .max_samples_per_send = 2000,
        .batch_send_deadline_ms = 5000,
        .min_backoff_ms = 30,
        .max_backoff_ms = 5000,
        .metadata_send = true,
        .metadata_send_interval_ms = 60000,
        .metadata_max_samples_per_send = 2000,
        .protobuf_message = odin_strdup("prometheus.WriteRequest"),
    };
    if (odin_yaml_is_null(n)) {
        return scrape_dec_fail(d, n, "empty or null remote write config section");
    }
    scrape_cfg_http hd;
    scrape_cfg_http_init(&hd, false); /* matches Prometheus: no HTTP/2 for remote write */
    scrape_fieldset sets[] = {
        {rw_fields, ODIN_ARRAY_LEN(rw_fields), rw, 0},
        {scrape_cfg_http_fields, scrape_cfg_nhttp_fields, &hd, 0},
    };
    int rc = scrape_dec_fields(d, n, "remote write config", sets, ODIN_ARRAY_LEN(sets));
    if (rc < 0) {
        free(hd.bearer_token);
        free(hd.bearer_token_file);
        http_client_config_fini(&hd.h);
        return rc;
    }
    rc = scrape_cfg_http_finish(d, n, &hd, &rw->http);
    if (rc == 0 && (rw->url == NULL || *rw->url == '\0')) {
        rc = scrape_dec_fail(d, n, "url for remote_write is empty");
    }
    if (rc == 0 && strcmp(rw->protobuf_message, "prometheus.WriteRequest") != 0 &&
        strcmp(rw->protobuf_message, "io.prometheus.write.v2.Request") != 0) {
        rc = scrape_dec_fail(d, n, "invalid protobuf_message value: unknown type \"%.64s\"",
                             rw->protobuf_message);
    }
    return rc;
}

int scrape_dec_remote_writes(scrape_dec *d, const odin_yaml_node *n, scrape_config *c)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SEQ) {
        return scrape_dec_fail(d, n, "expected a list of remote write configs");
    }
    c->remote_write = odin_calloc(n->n + 1, sizeof(*c->remote_write));
    for (size_t i = 0; i < n->n; i++) {
        size_t old = scrape_dec_push_index(d, i);
        scrape_remote_write *rw = &c->remote_write[c->nremote_write++];
        int rc = dec_rw(d, n->v[i], rw);
        for (size_t k = 0; rc == 0 && rw->name && *rw->name && k + 1 < c->nremote_write; k++) {
            const char *other = c->remote_write[k].name;
            if (other && strcmp(other, rw->name) == 0) {
                rc = scrape_dec_fail(d, n->v[i],
                                     "found multiple remote write configs with job "
                                     "name \"%.64s\"",
                                     rw->name);
            }
        }
        scrape_dec_pop(d, old);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

void scrape_remote_write_fini(scrape_remote_write *rw)
{
    free(rw->url);
    free(rw->name);
    for (size_t i = 0; i < rw->nheaders; i++) {
        free((char *)rw->headers[i].name.p);
        free((char *)rw->headers[i].value.p);
    }
    free(rw->headers);
    free_relabels(rw->write_relabel, rw->nwrite_relabel);
    http_client_config_fini(&rw->http);
    free(rw->protobuf_message);
    *rw = (scrape_remote_write){0};
}

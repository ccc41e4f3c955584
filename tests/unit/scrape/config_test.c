/* Unit tests for the prometheus.yml loader (src/scrape/config*.c): the seed's configs load with
 * Prometheus' defaults, the whole accepted schema decodes, and bad files fail with
 * "file:line:col: path: reason" messages that never show secrets. */
#include <cmocka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "scrape/config_int.h"

#include <stdlib.h>
#include <string.h>

int scrape_config_tests(void);

static char *fixture(const char *name)
{
    const char *src = getenv("ODIN_SOURCE_DIR");
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_printf(&b, "%s/tests/fixtures/scrape/%s", src ? src : ".", name);
    return odin_strbuf_take(&b, NULL);
}

static scrape_config *load_fixture(const char *name, odin_err *err)
{
    char *path = fixture(name);
    odin_err_clear(err);
    scrape_config *c = scrape_config_load(path, err);
    free(path);
    return c;
}

static scrape_config *parse(const char *text, odin_err *err)
{
    odin_err_clear(err);
    return scrape_config_parse(text, strlen(text), "prometheus.yml", err);
}

static const scrape_job *job(const scrape_config *c, const char *name)
{
    for (size_t i = 0; i < c->njobs; i++) {
        if (strcmp(c->jobs[i].job_name, name) == 0) {
            return &c->jobs[i];
        }
    }
    fail_msg("no job %s", name);
    return NULL;
}

static void test_seed_configmap(void **state)
{
    (void)state;
    odin_err err;
    scrape_config *c = load_fixture("seed_full.yml", &err);
    if (c == NULL) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(c->scrape_interval_ms, 15000);
    assert_int_equal(c->scrape_timeout_ms, 10000);
    assert_int_equal(c->evaluation_interval_ms, 15000);
    assert_int_equal(c->nalertmanagers, 1);
    assert_int_equal(c->alertmanagers[0].sd.nstatic, 1);
    assert_int_equal(c->alertmanagers[0].sd.static_groups[0].ntargets, 0);
    assert_int_equal(c->njobs, 6);
    const scrape_job *p = job(c, "prometheus");
    assert_int_equal(p->scrape_interval_ms, 15000);
    assert_int_equal(p->scrape_timeout_ms, 10000);
    assert_string_equal(p->metrics_path, "/metrics");
    assert_string_equal(p->scheme, "http");
    assert_true(p->honor_timestamps && p->enable_compression && !p->honor_labels);
    assert_string_equal(p->sd.static_groups[0].targets[0], "localhost:9090");
    assert_string_equal(p->sd.static_groups[0].source, "0");
    assert_int_equal(p->nscrape_protocols, 4);
    assert_string_equal(p->scrape_protocols[0], "OpenMetricsText1.0.0");
    const scrape_job *api = job(c, "kubernetes-apiservers");
    assert_string_equal(api->scheme, "https");
    assert_int_equal(api->sd.nk8s, 1);
    assert_int_equal(api->sd.k8s[0].role, DISCOVERY_K8S_ENDPOINTS);
    assert_null(api->sd.k8s[0].api_server);
    assert_string_equal(api->http.tls.ca_file,
                        "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
    assert_true(api->http.has_authorization);
    assert_string_equal(api->http.auth_type, "Bearer");
    assert_string_equal(api->http.auth_credentials_file,
                        "/var/run/secrets/kubernetes.io/serviceaccount/token");
    assert_int_equal(api->nrelabel, 1);
    assert_int_equal(api->relabel[0].action, RELABEL_KEEP);
    assert_int_equal(api->relabel[0].nsource_labels, 3);
    assert_int_equal(job(c, "kubernetes-nodes")->relabel[0].action, RELABEL_LABELMAP);
    assert_string_equal(job(c, "node-exporter")->relabel[1].target_label, "node");
    assert_int_equal(job(c, "nvidia-dcgm")->sd.k8s[0].role, DISCOVERY_K8S_POD);
    assert_non_null(strstr(c->text, "kubernetes-apiservers"));
    assert_non_null(strstr(c->path, "seed_full.yml"));
    scrape_config_free(c);

    c = load_fixture("seed_configmap.yml", &err);
    if (c == NULL) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(c->njobs, 3);
    scrape_config_free(c);
}

static void test_full_schema(void **state)
{
    (void)state;
    odin_err err;
    scrape_config *c = load_fixture("full.yml", &err);
    if (c == NULL) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(c->nexternal_labels, 2);
    assert_true(odin_str_eq_c(c->external_labels[0].name, "cluster"));
    assert_true(odin_str_eq_c(c->external_labels[0].value, "prod"));
    assert_string_equal(c->query_log_file, "query.log");
    assert_int_equal(c->nrule_files, 2);
    assert_string_equal(c->rule_files[0], "rules/*.yml");
    assert_int_equal(c->nalert_relabel, 1);
    const scrape_alertmanager *am = &c->alertmanagers[0];
    assert_string_equal(am->scheme, "https");
    assert_string_equal(am->path_prefix, "/am");
    assert_int_equal(am->timeout_ms, 5000);
    assert_true(am->http.has_basic_auth);
    assert_string_equal(am->http.basic_password_file, "/etc/am/pass");
    assert_int_equal(am->sd.nfiles, 1);
    assert_int_equal(am->sd.files[0].refresh_interval_ms, 300000);
    const scrape_job *n = job(c, "node");
    assert_int_equal(n->scrape_interval_ms, 10000);
    assert_int_equal(n->scrape_timeout_ms, 10000); /* min(global 20s, interval) */
    assert_int_equal(n->body_size_limit, 10 * 1024 * 1024);
    assert_int_equal(n->sample_limit, 5000);
    assert_int_equal(n->nparams, 2);
    assert_true(odin_str_eq_c(n->params[1].value, "meminfo"));
    assert_true(n->honor_labels && !n->honor_timestamps && !n->enable_compression);
    assert_string_equal(n->http.auth_type, "Bearer");
    assert_true(n->http.tls.insecure_skip_verify);
    assert_true(odin_str_eq_c(n->sd.static_groups[0].labels[0].value, "prod"));
    assert_int_equal(n->sd.files[0].refresh_interval_ms, 60000);
    assert_int_equal(n->nmetric_relabel, 1);
    const scrape_job *k = job(c, "k8s");
    assert_int_equal(k->scrape_interval_ms, 30000);
    assert_int_equal(k->scrape_timeout_ms, 20000);
    assert_string_equal(k->sd.k8s[0].api_server, "https://k8s.example:6443");
    assert_string_equal(k->sd.k8s[0].http.auth_credentials_file, "/var/run/token");
    assert_int_equal(k->sd.k8s[0].nnamespaces, 2);
    assert_string_equal(k->sd.k8s[0].selectors[0].label, "app=web");
    assert_true(k->sd.k8s[0].attach_node_metadata);
    assert_int_equal(k->relabel[0].modulus, 4);
    const scrape_remote_write *rw = &c->remote_write[0];
    assert_string_equal(rw->url, "https://mimir.example/api/v1/push");
    assert_int_equal(rw->remote_timeout_ms, 10000);
    assert_int_equal(rw->max_shards, 10);
    assert_int_equal(rw->min_shards, 1);
    assert_int_equal(rw->capacity, 2500);
    assert_false(rw->http.enable_http2);
    assert_int_equal(rw->nheaders, 1);
    assert_int_equal(c->out_of_order_time_window_ms, 30 * 60000);
    scrape_config_free(c);
}

static void test_empty_and_defaults(void **state)
{
    (void)state;
    odin_err err;
    const char *texts[] = {"", "global:\n", "# only a comment\n", "global: {}\nscrape_configs:\n"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(texts); i++) {
        scrape_config *c = parse(texts[i], &err);
        if (c == NULL) {
            fail_msg("case %zu: %s", i, err.msg);
        }
        assert_int_equal(c->scrape_interval_ms, 60000);
        assert_int_equal(c->scrape_timeout_ms, 10000);
        assert_int_equal(c->evaluation_interval_ms, 60000);
        assert_int_equal(c->njobs, 0);
        scrape_config_free(c);
    }
    /* a 5s global interval caps the default timeout */
    scrape_config *c =
        parse("global: {scrape_interval: 5s}\nscrape_configs: [{job_name: a}]\n", &err);
    assert_non_null(c);
    assert_int_equal(c->scrape_timeout_ms, 5000);
    assert_int_equal(c->jobs[0].scrape_timeout_ms, 5000);
    scrape_config_free(c);
}

typedef struct {
    const char *name;
    const char *text;
    const char *msg; /* the whole expected message, or a fragment when partial */
    bool partial;
} err_case;

static const err_case err_cases[] = {
    {"unknown top-level", "globl:\n  x: 1\n",
     "prometheus.yml:1:1: globl: unknown field in the "
     "configuration file",
     false},
    {"unknown job field", "scrape_configs:\n  - job_name: a\n    foo: 1\n",
     "prometheus.yml:3:5: scrape_configs[0].foo: unknown field in scrape config", false},
    {"timeout over interval",
     "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n"
     "    scrape_timeout: 6s\n",
     "prometheus.yml:2:5: scrape_configs[0]: scrape timeout greater "
     "than scrape interval for scrape config with job name \"a\"",
     false},
    {"global timeout over interval", "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
     "global: global scrape timeout greater than scrape interval", true},
    {"job_name required", "scrape_configs:\n  - scrape_interval: 5s\n", "job_name is empty", true},
    {"duplicate job", "scrape_configs:\n  - job_name: a\n  - job_name: a\n",
     "prometheus.yml:3:5: scrape_configs[1]: found multiple scrape configs with job name \"a\"",
     false},
    {"null job", "scrape_configs:\n  -\n", "empty or null scrape config section", true},
    {"bad duration", "global:\n  scrape_interval: 15 seconds\n",
     "prometheus.yml:2:20: "
     "global.scrape_interval: not a valid duration string: \"15 seconds\"",
     false},
    {"bad size", "scrape_configs: [{job_name: a, body_size_limit: 10XB}]",
     "scrape_configs[0].body_size_limit: not a valid size", true},
    {"bad bool", "scrape_configs: [{job_name: a, honor_labels: maybe}]",
     "honor_labels: expected a boolean", true},
    {"wrong type", "scrape_configs:\n  job_name: a\n", "scrape_configs: expected a list", true},
    {"duplicate key", "scrape_configs:\n  - job_name: a\n    job_name: b\n",
     "scrape_configs[0].job_name: field given twice", true},
    {"url target",
     "scrape_configs: [{job_name: a, static_configs: [{targets: "
     "['http://x:9100']}]}]",
     "static_configs[0].targets[0]: \"http://x:9100\" is not a valid "
     "hostname",
     true},
    {"k8s role missing", "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{}]}]",
     "role missing", true},
    {"k8s role unknown", "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: pods}]}]",
     "unknown Kubernetes SD role \"pods\"", true},
    {"k8s http needs api_server",
     "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: "
     "pod, bearer_token_file: /t}]}]",
     "please provide the 'api_server' URL explicitly", true},
    {"k8s selector role",
     "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: node, "
     "selectors: [{role: pod}]}]}]",
     "node role does not support pod selectors", true},
    {"file_sd extension", "scrape_configs: [{job_name: a, file_sd_configs: [{files: [x.txt]}]}]",
     "path name \"x.txt\" is not valid for file discovery", true},
    {"file_sd empty", "scrape_configs: [{job_name: a, file_sd_configs: [{refresh_interval: 1m}]}]",
     "must contain at least one path name", true},
    {"bearer and authorization",
     "scrape_configs: [{job_name: a, bearer_token_file: /t, "
     "authorization: {credentials_file: /c}}]",
     "authorization is not compatible with "
     "bearer_token & bearer_token_file",
     true},
    {"basic and bearer",
     "scrape_configs: [{job_name: a, bearer_token_file: /t, "
     "basic_auth: {username: u}}]",
     "at most one of basic_auth, oauth2, bearer_token & "
     "bearer_token_file must be configured",
     true},
    {"authorization basic", "scrape_configs: [{job_name: a, authorization: {type: Basic}}]",
     "authorization type cannot be set to \"basic\"", true},
    {"tls cert without key", "scrape_configs: [{job_name: a, tls_config: {cert_file: /c}}]",
     "exactly one of key or key_file must be configured", true},
    {"remote_write url", "remote_write: [{name: x}]",
     "remote_write[0]: url for remote_write is "
     "empty",
     true},
    {"remote_write shards",
     "remote_write: [{url: 'http://x', queue_config: {min_shards: 5, "
     "max_shards: 2}}]",
     "min_shards must not be greater than max_shards", true},
    {"remote_write reserved header",
     "remote_write: [{url: 'http://x', headers: "
     "{Content-Type: x}}]",
     "Content-Type is a reserved header", true},
    {"remote_read refused", "remote_read: [{url: 'http://x'}]",
     "remote_read: not supported by "
     "Odin",
     true},
    {"oauth2 refused", "scrape_configs: [{job_name: a, oauth2: {client_id: x}}]",
     "scrape_configs[0].oauth2: not supported by Odin", true},
    {"consul refused", "scrape_configs: [{job_name: a, consul_sd_configs: [{}]}]",
     "consul_sd_configs: not supported by Odin", true},
    {"api version", "alerting: {alertmanagers: [{api_version: v1}]}",
     "api version to be one of "
     "[v2] but got v1",
     true},
    {"rule file glob", "rule_files: ['a/*/b.yml']", "invalid rule file path", true},
    {"bad protocol", "global: {scrape_protocols: [Foo]}", "unknown scrape protocol \"Foo\"", true},
    {"external label name",
     "global: {metric_name_validation_scheme: legacy, external_labels: "
     "{'a-b': x}}",
     "\"a-b\" is not a valid label name", true},
    {"yaml syntax", "global:\n  a: [\n", "prometheus.yml:3:1: yaml:", true},
    {"tab indent", "global:\n\tscrape_interval: 1s\n", "prometheus.yml:2:1: yaml:", true},
    {"unknown anchor", "global: *nope\n", "unknown anchor", true},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(err_cases); i++) {
        const err_case *tc = &err_cases[i];
        odin_err err;
        scrape_config *c = parse(tc->text, &err);
        if (c != NULL) {
            scrape_config_free(c);
            fail_msg("%s: loaded, want error", tc->name);
        }
        bool ok = tc->partial ? strstr(err.msg, tc->msg) != NULL : strcmp(err.msg, tc->msg) == 0;
        if (!ok || strncmp(err.msg, "prometheus.yml:", 15) != 0) {
            fail_msg("%s: got \"%s\", want \"%s\"", tc->name, err.msg, tc->msg);
        }
    }
}

static void test_fixture_errors(void **state)
{
    (void)state;
    static const struct {
        const char *file, *msg;
    } v[] = {
        {"bad_unknown_field.yml", ":7:5: scrape_configs[0].scrape_intervall: unknown field"},
        {"bad_timeout.yml", ":2:5: scrape_configs[0]: scrape timeout greater than scrape"},
        {"bad_duplicate_job.yml", ":3:5: scrape_configs[1]: found multiple scrape configs"},
        {"bad_secret.yml", ":2:5: scrape_configs[0]: at most one of basic_auth"},
        {"bad_yaml.yml", "bad_yaml.yml:3:"},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(v); i++) {
        odin_err err;
        scrape_config *c = load_fixture(v[i].file, &err);
        assert_null(c);
        if (strstr(err.msg, v[i].msg) == NULL) {
            fail_msg("%s: %s", v[i].file, err.msg);
        }
        assert_null(strstr(err.msg, "hunter2"));
    }
    odin_err err;
    char *missing = fixture("does_not_exist.yml");
    odin_err_clear(&err);
    assert_null(scrape_config_load(missing, &err));
    assert_int_not_equal(err.code, 0);
    free(missing);
}

static void test_secrets_not_echoed(void **state)
{
    (void)state;
    static const char *texts[] = {
        "scrape_configs: [{job_name: a, basic_auth: {password: [s3cr3t-value]}}]",
        "scrape_configs: [{job_name: a, authorization: {credentials: {x: s3cr3t-value}}}]",
        "scrape_configs: [{job_name: a, bearer_token: s3cr3t-value, bearer_token_file: /x}]",
        "scrape_configs: [{job_name: a, tls_config: {key: s3cr3t-value}}]",
        ("remote_write: [{url: 'http://x', basic_auth: {password: s3cr3t-value}, "
         "authorization: {credentials: s3cr3t-value}}]"),
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(texts); i++) {
        odin_err err;
        assert_null(parse(texts[i], &err));
        assert_int_not_equal(err.code, 0);
        if (strstr(err.msg, "s3cr3t") != NULL) {
            fail_msg("case %zu leaks: %s", i, err.msg);
        }
    }
}

static void test_depth_and_aliases(void **state)
{
    (void)state;
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (int i = 0; i < 200; i++) {
        odin_strbuf_putc(&b, '[');
    }
    odin_err err;
    assert_null(parse(b.p, &err));
    assert_int_equal(err.code, ODIN_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "nesting deeper than 64"));
    odin_strbuf_fini(&b);

    /* billion laughs: each level doubles the expanded size */
    odin_strbuf_init(&b, 0);
    odin_strbuf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 30; i++) {
        odin_strbuf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1,
                           i - 1);
    }
    assert_null(parse(b.p, &err));
    assert_int_equal(err.code, ODIN_ERR_LIMIT);
    odin_strbuf_fini(&b);

    /* ordinary anchors work */
    scrape_config *c = parse("scrape_configs:\n  - job_name: a\n    static_configs: &t\n"
                             "      - targets: [x:1]\n  - job_name: b\n    static_configs: *t\n",
                             &err);
    if (c == NULL) {
        fail_msg("%s", err.msg);
    }
    assert_string_equal(c->jobs[1].sd.static_groups[0].targets[0], "x:1");
    scrape_config_free(c);
}

static void test_external_label_env(void **state)
{
    (void)state;
    setenv("ODIN_TEST_CLUSTER", "blue", 1);
    odin_err err;
    scrape_config *c =
        parse("global:\n  external_labels:\n    c: ${ODIN_TEST_CLUSTER}-$$x\n", &err);
    assert_non_null(c);
    assert_true(odin_str_eq_c(c->external_labels[0].value, "blue-$x"));
    scrape_config_free(c);
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t v;
        bool ok;
    } v[] = {
        {"0", 0, true},
        {"10MB", 10485760, true},
        {"1KiB", 1024, true},
        {"512B", 512, true},
        {"1GB512MB", 1610612736, true},
        {"1.5KB", 1536, true},
        {"10", 0, false},
        {"MB", 0, false},
        {"10mb", 0, false},
        {"", 0, false},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(v); i++) {
        uint64_t got = 0;
        int rc = scrape_parse_size(odin_str_c(v[i].s), &got);
        if ((rc == 0) != v[i].ok || (v[i].ok && got != v[i].v)) {
            fail_msg("size %s: rc %d got %llu", v[i].s, rc, (unsigned long long)got);
        }
    }
}

static void test_check_command(void **state)
{
    (void)state;
    char *good = fixture("seed_full.yml");
    char *bad = fixture("bad_timeout.yml");
    char *argv_good[] = {"config", good, NULL};
    char *argv_bad[] = {"config", good, bad, NULL};
    assert_int_equal(scrape_check_config_main(2, argv_good), 0);
    assert_int_equal(scrape_check_config_main(3, argv_bad), 1);
    char *argv_none[] = {"config", NULL};
    assert_int_equal(scrape_check_config_main(1, argv_none), 1);
    free(good);
    free(bad);
}

int scrape_config_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_configmap),
        cmocka_unit_test(test_full_schema),
        cmocka_unit_test(test_empty_and_defaults),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_fixture_errors),
        cmocka_unit_test(test_secrets_not_echoed),
        cmocka_unit_test(test_depth_and_aliases),
        cmocka_unit_test(test_external_label_env),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_check_command),
    };
    return cmocka_run_group_tests_name("scrape_config", tests, NULL, NULL);
}

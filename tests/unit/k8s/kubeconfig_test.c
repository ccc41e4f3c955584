/* Tests for src/discovery/kubeconfig.c: kubeconfig files as K3s and kubectl write them (data
 * fields in base64, relative file names, tokens), and the errors for unusable ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "discovery/kubernetes.h"
#include "k8s_test.h"

static char kc_dir[] = "/tmp/kubeconfig-test-XXXXXX";

static char *write_kubeconfig(const char *name, const char *text)
{
    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/%s", kc_dir, name);
    FILE *f = fopen(p.p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return odin_strbuf_take(&p, NULL);
}

/* Loads text through k8s_client_init's kubeconfig_file path; returns its code, err set. */
static int load(const char *text, k8s_client *cl, odin_err *err)
{
    char *path = write_kubeconfig("config.yaml", text);
    discovery_k8s_config cfg = {.role = DISCOVERY_K8S_POD, .kubeconfig_file = path};
    odin_err_clear(err);
    int rc = k8s_client_init(cl, &cfg, "/nonexistent", NULL, err);
    unlink(path);
    free(path);
    return rc;
}

/* What K3s writes: one cluster, user and context named default, everything inline in base64. */
static const char k3s_yaml[] =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg==\n"
    "    server: https://127.0.0.1:6443/\n"
    "  name: default\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: default\n"
    "    user: default\n"
    "  name: default\n"
    "current-context: default\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: default\n"
    "  user:\n"
    "    client-certificate-data: Q0VSVA==\n"
    "    client-key-data: S0VZ\n";

void test_kubeconfig_k3s(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(kc_dir));
    k8s_client cl;
    odin_err err;
    assert_int_equal(load(k3s_yaml, &cl, &err), 0);
    assert_string_equal(cl.base_url, "https://127.0.0.1:6443");
    assert_string_equal(cl.ca_pem, "-----BEGIN CERTIFICATE-----\nCA\n");
    assert_string_equal(cl.cert_pem, "CERT");
    assert_string_equal(cl.key_pem, "KEY");
    assert_null(cl.ca_file);
    assert_false(cl.has_authorization);
    assert_false(cl.insecure_skip_verify);
    assert_null(cl.own_namespace); /* as Prometheus: own_namespace needs the in-cluster files */
    k8s_client_fini(&cl);
}

void test_kubeconfig_context_and_files(void **state)
{
    (void)state;
    /* Several contexts: the current one picks the second cluster and a tokenFile user; relative
     * names resolve against the kubeconfig's directory; quoted scalars and flow style work. */
    static const char text[] =
        "clusters:\n"
        "- name: a\n"
        "  cluster: {server: 'https://a.example:6443'}\n"
        "- name: b\n"
        "  cluster:\n"
        "    server: \"http://10.0.0.2:8080\"\n"
        "    certificate-authority: certs/ca.pem\n"
        "    proxy-url: http://proxy:3128\n"
        "users:\n"
        "- {name: tok, user: {tokenFile: secrets/token}}\n"
        "- name: abs\n"
        "  user:\n"
        "    client-certificate: /etc/k/cert.pem\n"
        "    client-key: key.pem\n"
        "contexts:\n"
        "- name: one\n"
        "  context: {cluster: a, user: abs}\n"
        "- name: two\n"
        "  context: {cluster: b, user: tok, namespace: monitoring}\n"
        "current-context: two\n";
    k8s_client cl;
    odin_err err;
    assert_int_equal(load(text, &cl, &err), 0);
    assert_string_equal(cl.base_url, "http://10.0.0.2:8080");
    char want[256];
    snprintf(want, sizeof want, "%s/certs/ca.pem", kc_dir);
    assert_string_equal(cl.ca_file, want);
    snprintf(want, sizeof want, "%s/secrets/token", kc_dir);
    assert_string_equal(cl.auth_credentials_file, want);
    assert_true(cl.has_authorization);
    assert_null(cl.auth_credentials);
    assert_string_equal(cl.proxy_url, "http://proxy:3128");
    k8s_client_fini(&cl);

    static const char other[] =
        "clusters: [{name: a, cluster: {server: 'https://a:1', insecure-skip-tls-verify: true}}]\n"
        "users:\n"
        "- name: abs\n"
        "  user: {client-certificate: /etc/k/cert.pem, client-key: key.pem, token: t0k}\n"
        "contexts: [{name: one, context: {cluster: a, user: abs}}]\n"
        "current-context: one\n";
    assert_int_equal(load(other, &cl, &err), 0);
    assert_true(cl.insecure_skip_verify);
    assert_string_equal(cl.cert_file, "/etc/k/cert.pem");
    snprintf(want, sizeof want, "%s/key.pem", kc_dir);
    assert_string_equal(cl.key_file, want);
    assert_string_equal(cl.auth_credentials, "t0k");
    k8s_client_fini(&cl);

    /* username and password; a context without a user */
    static const char basic[] =
        "clusters: [{name: a, cluster: {server: 'https://a:1'}}]\n"
        "users: [{name: u, user: {username: admin, password: s3cret}}]\n"
        "contexts: [{name: c, context: {cluster: a, user: u}}, {name: n, context: {cluster: a}}]\n"
        "current-context: c\n";
    assert_int_equal(load(basic, &cl, &err), 0);
    assert_true(cl.has_basic_auth);
    assert_string_equal(cl.basic_username, "admin");
    assert_string_equal(cl.basic_password, "s3cret");
    k8s_client_fini(&cl);
}

void test_kubeconfig_errors(void **state)
{
    (void)state;
    static const char head[] = "clusters: [{name: a, cluster: {server: 'https://a:1'}}]\n"
                               "contexts: [{name: c, context: {cluster: a, user: u}}]\n"
                               "current-context: c\n";
    static const struct {
        const char *users; /* appended to head, or a whole file when it starts with '!' */
        int code;
        const char *want; /* in the message */
    } cases[] = {
        {"users: [{name: u, user: {exec: {command: aws}}}]\n", ODIN_ERR_INVALID,
         "credential plugin (exec)"},
        {"users: [{name: u, user: {auth-provider: {name: gcp}}}]\n", ODIN_ERR_INVALID,
         "auth-provider"},
        {"users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]\n", ODIN_ERR_INVALID,
         "without a client key"},
        {"users: [{name: u, user: {token: a, username: b}}]\n", ODIN_ERR_INVALID, "only one"},
        {"users: [{name: u, user: {client-key-data: 'not base64!', client-certificate: c}}]\n",
         ODIN_ERR_INVALID, "client-key-data is not valid base64"},
        {"users: [{name: other, user: {}}]\n", ODIN_ERR_INVALID, "user \"u\" of context \"c\""},
        {"!clusters: []\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: x}}]\n",
         ODIN_ERR_INVALID, "cluster \"x\" of context \"c\" is not defined"},
        {"!clusters: [{name: a, cluster: {}}]\ncurrent-context: c\n"
         "contexts: [{name: c, context: {cluster: a}}]\n",
         ODIN_ERR_INVALID, "cluster \"a\" has no server"},
        {"!clusters: [{name: a, cluster: {server: 'https://a:1', certificate-authority: x,\n"
         "  certificate-authority-data: eA==}}]\n"
         "current-context: c\ncontexts: [{name: c, context: {cluster: a}}]\n",
         ODIN_ERR_INVALID, "both certificate-authority"},
        {"!apiVersion: v1\nkind: Config\n", ODIN_ERR_INVALID, "current-context is not set"},
        {"!current-context: nope\n", ODIN_ERR_INVALID, "context \"nope\""},
        {"!clusters:\n  - name: a\n  cluster: [\n", ODIN_ERR_PARSE, "config.yaml:"},
        {"!- just\n- a list\n", ODIN_ERR_PARSE, "not a mapping"},
        {"!a: &x 1\nb: *x\n", ODIN_ERR_PARSE, "aliases"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        odin_strbuf t;
        odin_strbuf_init(&t, 0);
        if (cases[i].users[0] == '!') {
            odin_strbuf_puts(&t, cases[i].users + 1);
        } else {
            odin_strbuf_puts(&t, head);
            odin_strbuf_puts(&t, cases[i].users);
        }
        k8s_client cl;
        odin_err err;
        int rc = load(t.p, &cl, &err);
        if (rc != -cases[i].code || strstr(err.msg, cases[i].want) == NULL ||
            strstr(err.msg, "config.yaml") == NULL) {
            fail_msg("case %zu: rc %d, message \"%s\", want %d with \"%s\"", i, rc, err.msg,
                     -cases[i].code, cases[i].want);
        }
        assert_null(cl.base_url); /* k8s_client_init finished the partial client */
        odin_strbuf_fini(&t);
    }
    k8s_client cl;
    odin_err err;
    discovery_k8s_config cfg = {.kubeconfig_file = "/nonexistent/kubeconfig"};
    odin_err_clear(&err);
    assert_int_equal(k8s_client_init(&cl, &cfg, "/nonexistent", NULL, &err), -ODIN_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/kubeconfig"));
    rmdir(kc_dir);
}

/* Tests for src/discovery/kubernetes*.c that need no network: label name sanitizing, in-cluster
 * settings, API paths, and group building from the cache across a relist. Role label sets are
 * checked end to end by tests/e2e/test_k8s_sd.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "discovery/kubernetes.h"
#include "k8s_test.h"

void test_sanitize_label_name(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"app", "app"},
        {"app.kubernetes.io/name", "app_kubernetes_io_name"},
        {"na\xc3\xafve", "na_ve"},           /* one rune, one '_' (Go regexp on runes) */
        {"\xe2\x82\xac", "_"},
        {"\xf0\x9f\x98\x80x", "_x"},
        {"bad\xff\xfe", "bad__"},            /* invalid bytes: one each */
        {"trunc\xe2\x82", "trunc__"},
        {"", ""},
        {"9-a", "9_a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        k8s_sanitize_label_name(&b, odin_str_c(cases[i].in));
        odin_strbuf_putc(&b, '\0');
        if (strcmp(b.p, cases[i].want) != 0) {
            fail_msg("case %zu: got %s want %s", i, b.p, cases[i].want);
        }
        odin_strbuf_fini(&b);
    }
}

static const char *env_host;

static const char *fake_env(const char *name)
{
    if (strcmp(name, "KUBERNETES_SERVICE_HOST") == 0) {
        return env_host;
    }
    return strcmp(name, "KUBERNETES_SERVICE_PORT") == 0 ? "6443" : NULL;
}

void test_client_in_cluster(void **state)
{
    (void)state;
    char dir[] = "/tmp/k8s-sa-XXXXXX";
    assert_non_null(mkdtemp(dir));
    discovery_k8s_config cfg = {.role = DISCOVERY_K8S_POD, .own_namespace = true};
    k8s_client cl;
    odin_err err;

    odin_err_clear(&err);
    env_host = NULL;
    assert_int_equal(k8s_client_init(&cl, &cfg, dir, fake_env, &err), -ODIN_ERR_INVALID);
    assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_HOST"));

    env_host = "fd00::1";
    odin_err_clear(&err);
    assert_true(k8s_client_init(&cl, &cfg, dir, fake_env, &err) < 0); /* no namespace file */
    assert_non_null(strstr(err.msg, "namespace"));

    odin_strbuf p;
    odin_strbuf_init(&p, 0);
    odin_strbuf_printf(&p, "%s/namespace", dir);
    odin_err_clear(&err);
    assert_int_equal(odin_write_file_atomic(p.p, "monitoring\n", 11, &err), 0);
    assert_int_equal(k8s_client_init(&cl, &cfg, dir, fake_env, &err), 0);
    assert_string_equal(cl.base_url, "https://[fd00::1]:6443");
    assert_string_equal(cl.own_namespace, "monitoring");
    assert_true(cl.has_authorization);
    assert_non_null(strstr(cl.auth_credentials_file, "/token"));
    assert_non_null(strstr(cl.ca_file, "/ca.crt"));
    k8s_client_fini(&cl);
    unlink(p.p);
    odin_strbuf_fini(&p);
    rmdir(dir);

    discovery_k8s_config kc = {.kubeconfig_file = "/x"}; /* wins over in-cluster; absent here */
    odin_err_clear(&err);
    assert_int_equal(k8s_client_init(&cl, &kc, dir, fake_env, &err), -ODIN_ERR_IO);

    discovery_k8s_config api = {.api_server = "https://k8s.example:6443//"};
    odin_err_clear(&err);
    assert_int_equal(k8s_client_init(&cl, &api, dir, fake_env, &err), 0);
    assert_string_equal(cl.base_url, "https://k8s.example:6443");
    k8s_client_fini(&cl);
}

void test_resource_paths(void **state)
{
    (void)state;
    static const struct {
        k8s_resource r;
        const char *ns, *want;
    } cases[] = {
        {K8S_RES_PODS, NULL, "/api/v1/pods"},
        {K8S_RES_PODS, "kube-system", "/api/v1/namespaces/kube-system/pods"},
        {K8S_RES_NODES, "x", "/api/v1/nodes"},
        {K8S_RES_ENDPOINTSLICES, "a", "/apis/discovery.k8s.io/v1/namespaces/a/endpointslices"},
        {K8S_RES_INGRESSES, "", "/apis/networking.k8s.io/v1/ingresses"},
        {K8S_RES_SERVICES, "a/b", "/api/v1/namespaces/a%2Fb/services"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = k8s_resource_path(cases[i].r, cases[i].ns);
        assert_string_equal(p, cases[i].want);
        free(p);
    }
}

static void put(k8s_cache *into, k8s_resource r, const char *json)
{
    odin_arena a;
    odin_arena_init(&a, 0);
    k8s_json *v;
    assert_int_equal(k8s_json_parse(json, strlen(json), &a, &v, NULL), 0);
    assert_true(k8s_cache_put(into, r, 0, v));
    odin_arena_fini(&a);
}

static size_t build(const k8s_cache *c, discovery_k8s_role role, discovery_group **g,
                    odin_arena *a)
{
    k8s_build_opts o = {0};
    size_t n;
    assert_int_equal(k8s_build_groups(role, c, &o, a, g, &n, NULL), 0);
    return n;
}

void test_build_pod_and_relist(void **state)
{
    (void)state;
    k8s_cache c, fresh;
    k8s_cache_init(&c);
    k8s_cache_init(&fresh);
    put(&c, K8S_RES_PODS,
        "{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\",\"labels\":{\"a.b\":\"1\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80}]}]},"
        "\"status\":{\"podIP\":\"10.0.0.1\"}}");
    odin_arena a;
    odin_arena_init(&a, 0);
    discovery_group *g;
    assert_int_equal(build(&c, DISCOVERY_K8S_POD, &g, &a), 1);
    assert_string_equal(g[0].source, "pod/n/p");
    assert_int_equal(g[0].ntargets, 1);
    assert_string_equal(g[0].targets[0], "10.0.0.1:80");
    odin_labels ls = {g[0].labels, g[0].nlabels};
    const odin_str *v = odin_labels_get(ls, "__meta_kubernetes_pod_label_a_b");
    assert_non_null(v);
    assert_true(odin_str_eq_c(*v, "1"));
    v = odin_labels_get(ls, "__meta_kubernetes_pod_ready");
    assert_true(v != NULL && odin_str_eq_c(*v, "unknown"));

    /* a relist replaces the owner's objects as a whole */
    put(&fresh, K8S_RES_PODS,
        "{\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},\"status\":{\"podIP\":\"10.0.0.2\"}}");
    k8s_cache_replace_owner(&c, K8S_RES_PODS, 0, &fresh);
    odin_arena_reset(&a);
    assert_int_equal(build(&c, DISCOVERY_K8S_POD, &g, &a), 1);
    assert_string_equal(g[0].source, "pod/n/q");
    assert_int_equal(g[0].ntargets, 0); /* no containers: no targets */

    /* a tiny arena cap is ODIN_ERR_LIMIT, not a crash */
    odin_arena small;
    odin_arena_init(&small, 32);
    k8s_build_opts o = {0};
    size_t n;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(k8s_build_groups(DISCOVERY_K8S_POD, &c, &o, &small, &g, &n, &err),
                     -ODIN_ERR_LIMIT);
    odin_arena_fini(&small);
    odin_arena_fini(&a);
    k8s_cache_fini(&fresh);
    k8s_cache_fini(&c);
}

/* libFuzzer target for the Kubernetes JSON DOM (src/discovery/k8s_json.c) and the role builders
 * behind it: parses the input, and when it parses, clones it, stores it in a cache as every
 * resource kind (and every item of "items") and builds every role's groups, with a roomy and a
 * tiny arena. A broken claim aborts, so the fuzzer reports it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/kubernetes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static void build_all(const k8s_cache *c, size_t cap)
{
    for (int attach = 0; attach < 2; attach++) {
        k8s_build_opts o = {.attach_node = attach, .attach_namespace = attach};
        for (int role = 0; role <= DISCOVERY_K8S_INGRESS; role++) {
            odin_arena a;
            odin_arena_init(&a, cap);
            discovery_group *g;
            size_t n;
            odin_err err;
            odin_err_clear(&err);
            int rc = k8s_build_groups((discovery_k8s_role)role, c, &o, &a, &g, &n, &err);
            check(rc == 0 || rc == -ODIN_ERR_LIMIT);
            for (size_t i = 0; rc == 0 && i < n; i++) {
                check(g[i].source != NULL);
                for (size_t t = 0; t < g[i].ntargets; t++) {
                    check(g[i].targets[t] != NULL);
                }
            }
            odin_arena_fini(&a);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    odin_arena a;
    odin_arena_init(&a, 8u << 20);
    k8s_json *root;
    odin_err err;
    odin_err_clear(&err);
    int rc = k8s_json_parse(buf, size, &a, &root, &err);
    check(rc == 0 || rc == -ODIN_ERR_PARSE || rc == -ODIN_ERR_LIMIT);
    if (rc == 0) {
        k8s_json *copy = k8s_json_clone(root, NULL);
        check(copy->type == root->type && copy->n == root->n);
        free(copy);
        k8s_cache c;
        k8s_cache_init(&c);
        const k8s_json *items = k8s_json_get(root, "items");
        for (int r = 0; r < K8S_RES_COUNT; r++) {
            k8s_cache_put(&c, (k8s_resource)r, 0, root);
            for (size_t i = 0; i < k8s_json_len(items, K8S_JSON_ARRAY); i++) {
                k8s_cache_put(&c, (k8s_resource)r, 1, &items->v[i]);
            }
        }
        build_all(&c, 0);
        build_all(&c, 256);
        k8s_cache_drop_owner(&c, K8S_RES_PODS, 1);
        k8s_cache_fini(&c);
    } else {
        check(strncmp(err.msg, "offset ", 7) == 0);
    }
    odin_arena_fini(&a);
    free(buf);
    return 0;
}

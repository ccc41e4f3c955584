/* cmocka runner for the Kubernetes discovery unit tests (src/discovery/k8s_json.c and
 * kubernetes*.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "k8s_test.h"

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_parse_cases),
        cmocka_unit_test(test_json_depth_limit),
        cmocka_unit_test(test_json_clone_skips),
        cmocka_unit_test(test_sanitize_label_name),
        cmocka_unit_test(test_client_in_cluster),
        cmocka_unit_test(test_resource_paths),
        cmocka_unit_test(test_kubeconfig_k3s),
        cmocka_unit_test(test_kubeconfig_context_and_files),
        cmocka_unit_test(test_kubeconfig_errors),
        cmocka_unit_test(test_build_pod_and_relist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

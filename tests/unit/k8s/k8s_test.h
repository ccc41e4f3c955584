/* Test declarations shared by the files of the k8s unit test binary. */
#ifndef ODIN_TESTS_K8S_TEST_H
#define ODIN_TESTS_K8S_TEST_H

void test_json_parse_cases(void **state);
void test_json_depth_limit(void **state);
void test_json_clone_skips(void **state);
void test_sanitize_label_name(void **state);
void test_client_in_cluster(void **state);
void test_resource_paths(void **state);
void test_kubeconfig_k3s(void **state);
void test_kubeconfig_context_and_files(void **state);
void test_kubeconfig_errors(void **state);
void test_build_pod_and_relist(void **state);

#endif

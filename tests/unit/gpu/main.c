/* Runs the gpu collector's test groups (src/agent/gpu/ and the cgroup-to-pod parser it uses). */
int agent_gpu_hpack_tests(void);
int agent_gpu_pb_tests(void);
int agent_gpu_podres_tests(void);
int agent_cgroup_pod_tests(void);

int main(void)
{
    int (*const groups[])(void) = {agent_gpu_hpack_tests, agent_gpu_pb_tests,
                                   agent_gpu_podres_tests, agent_cgroup_pod_tests};
    int f = 0;
    for (unsigned i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        f += groups[i]();
    }
    return f != 0;
}

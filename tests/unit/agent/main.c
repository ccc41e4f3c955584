/* Runs the agent's test groups; a group whose file is not built in is skipped. */
int agent_cpu_tests(void) __attribute__((weak));
int agent_sysfs_util_tests(void) __attribute__((weak));
int agent_io_tests(void) __attribute__((weak));
int agent_process_tests(void) __attribute__((weak));
int agent_regex_tests(void) __attribute__((weak));
int agent_file_pages_tests(void) __attribute__((weak));
int agent_rtnl_tests(void) __attribute__((weak));
int agent_registry_tests(void) __attribute__((weak));
int agent_os_tests(void) __attribute__((weak));
int agent_desc_cache_tests(void) __attribute__((weak));

int main(void)
{
    int (*const groups[])(void) = {
        agent_cpu_tests,   agent_sysfs_util_tests, agent_io_tests,   agent_process_tests,
        agent_regex_tests, agent_file_pages_tests, agent_rtnl_tests, agent_registry_tests,
        agent_os_tests,    agent_desc_cache_tests};
    int f = 0;
    for (unsigned i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (groups[i]) {
            f += groups[i]();
        }
    }
    return f != 0;
}

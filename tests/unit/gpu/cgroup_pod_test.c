/* Unit tests for src/agent/cgroup_pod.c (kept with the gpu tests, its first user): the kubelet's
 * cgroup layouts under both drivers and cgroup versions, and paths that are not pods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>
#include <string.h>

#include "agent/cgroup_pod.h"

#define UID "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
#define UID_ "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0"
#define CID "4d3c2b1a00112233445566778899aabbccddeeff00112233445566778899aabb"

static void test_paths(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *path;
        bool pod;
        const char *cid;
    } cases[] = {
        {"systemd burstable containerd",
         "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
         ".slice/cri-containerd-" CID ".scope",
         true, CID},
        {"systemd guaranteed crio", "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID ".scope",
         true, CID},
        {"systemd besteffort docker",
         "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
         ".slice/docker-" CID ".scope",
         true, CID},
        {"cgroupfs burstable", "/kubepods/burstable/pod" UID "/" CID, true, CID},
        {"cgroupfs guaranteed", "/kubepods/pod" UID "/" CID, true, CID},
        {"kind prefix",
         "/system.slice/docker-1234.scope/kubelet.slice/kubepods.slice/kubepods-pod" UID_
         ".slice/cri-containerd-" CID ".scope",
         true, CID},
        {"pod level only", "/kubepods/burstable/pod" UID, true, ""},
        {"conmon scope", "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-" CID ".scope",
         true, ""},
        {"host session", "/user.slice/user-1000.slice/session-3.scope", false, ""},
        {"pod outside kubepods", "/pod" UID "/" CID, false, ""},
        {"short uid", "/kubepods/pod0f1e2d3c/" CID, false, ""},
        {"root", "/", false, ""},
        {"empty", "", false, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        agent_cgroup_pod p;
        memset(&p, 0, sizeof(p));
        bool got = agent_cgroup_pod_parse_path(odin_str_c(cases[i].path), &p);
        if (got != cases[i].pod || (got && (strcmp(p.pod_uid, UID) != 0 ||
                                            strcmp(p.container_id, cases[i].cid) != 0))) {
            fail_msg("%s: got %d uid %s cid %s", cases[i].name, got, p.pod_uid, p.container_id);
        }
    }
}

static void test_files(void **state)
{
    (void)state;
    agent_cgroup_pod p;
    memset(&p, 0, sizeof(p));
    /* v1 hierarchies before the v2 line: the v2 line wins when it names a pod */
    const char *v1 = "12:pids:/kubepods/besteffort/pod" UID "/" CID "\n"
                     "1:name=systemd:/kubepods/besteffort/pod" UID "/" CID "\n0::/\n";
    assert_true(agent_cgroup_pod_parse_file(odin_str_c(v1), &p));
    assert_string_equal(p.container_id, CID);
    const char *v2 = "0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" CID
                     ".scope\n";
    memset(&p, 0, sizeof(p));
    assert_true(agent_cgroup_pod_parse_file(odin_str_c(v2), &p));
    assert_string_equal(p.pod_uid, UID);
    assert_false(agent_cgroup_pod_parse_file(odin_str_c("0::/init.scope\n"), &p));
    assert_false(agent_cgroup_pod_parse_file(odin_str_c("garbage"), &p));
}

int agent_cgroup_pod_tests(void); /* called from main.c */

int agent_cgroup_pod_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests_name("cgroup_pod", tests, NULL, NULL);
}

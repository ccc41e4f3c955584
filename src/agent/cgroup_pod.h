/* Which Kubernetes pod and container a process belongs to, read from its cgroup path as the
 * kubelet lays cgroups out (systemd and cgroupfs drivers, cgroup v1 and v2). Shared by the gpu
 * collector (NVML's process lists) and the container collectors.
 *
 * Threads: pure functions, callable from any thread. Memory: results are copied into the
 * caller's agent_cgroup_pod; inputs are borrowed. */
#ifndef ODIN_AGENT_CGROUP_POD_H
#define ODIN_AGENT_CGROUP_POD_H

#include "base/base.h"

enum {
    AGENT_CGROUP_POD_UID_LEN = 37,       /* 36-character UUID plus NUL */
    AGENT_CGROUP_CONTAINER_ID_LEN = 129, /* runtimes use 64 hex digits; room for others */
};

/* A process's pod: pod_uid in the API's form (dashes, "0f1e…-…"), container_id as the runtime
 * names it (containerd, CRI-O and Docker: 64 hex digits). container_id is empty for a process in
 * the pod's own cgroup (the sandbox/pause level). */
typedef struct {
    char pod_uid[AGENT_CGROUP_POD_UID_LEN];
    char container_id[AGENT_CGROUP_CONTAINER_ID_LEN];
} agent_cgroup_pod;

/* Parses one cgroup path. Recognised, under any prefix (kind, nested runtimes):
 *   systemd: .../kubepods[-<qos>].slice/kubepods-[<qos>-]pod<uid with _>.slice/<rt>-<id>.scope
 *            with <rt> cri-containerd, crio or docker ("crio-conmon-" scopes are not containers)
 *   cgroupfs: .../kubepods/[<qos>/]pod<uid>/<id>
 * Returns true and fills out when the path is inside a pod; false otherwise (out untouched). */
bool agent_cgroup_pod_parse_path(odin_str path, agent_cgroup_pod *out);
/* Parses the text of /proc/<pid>/cgroup ("id:controllers:path" lines, v1 and v2): the first line
 * whose path is inside a pod wins, the v2 line ("0::") first. */
bool agent_cgroup_pod_parse_file(odin_str text, agent_cgroup_pod *out);

#endif

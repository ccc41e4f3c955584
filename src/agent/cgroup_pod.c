/* cgroup path -> (pod UID, container id), for the kubelet's systemd and cgroupfs layouts. Pure
 * string work on (pointer, length) input: no file access here. */
#include "agent/cgroup_pod.h"

#include <string.h>

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A pod UID is a UUID: 8-4-4-4-12 hex digits, dashes written as `sep` (systemd escapes '-' as
 * '_' inside slice names). Copies it with dashes into out. */
static bool take_uid(odin_str s, char sep, char *out)
{
    if (s.len != 36) {
        return false;
    }
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s.p[i] != sep : !is_hex(s.p[i])) {
            return false;
        }
        out[i] = dash ? '-' : s.p[i];
    }
    out[36] = '\0';
    return true;
}

static bool take_container_id(odin_str s, char *out)
{
    if (s.len == 0 || s.len >= AGENT_CGROUP_CONTAINER_ID_LEN) {
        return false;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (!is_hex(s.p[i])) {
            return false;
        }
    }
    memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    return true;
}

/* "kubepods-burstable-pod<uid>.slice", "kubepods-pod<uid>.slice" (systemd) or "pod<uid>"
 * (cgroupfs): the pod UID, or false. */
static bool pod_segment(odin_str seg, char *uid)
{
    if (odin_str_has_prefix(seg, "kubepods") && odin_str_has_suffix(seg, ".slice")) {
        seg.len -= 6;
        if (seg.len < 40 || memcmp(seg.p + seg.len - 40, "-pod", 4) != 0) {
            return false;
        }
        return take_uid((odin_str){seg.p + seg.len - 36, 36}, '_', uid);
    }
    if (odin_str_has_prefix(seg, "pod")) {
        return take_uid((odin_str){seg.p + 3, seg.len - 3}, '-', uid);
    }
    return false;
}

/* The container level below the pod: "<runtime>-<id>.scope" (systemd) or "<id>" (cgroupfs). */
static bool container_segment(odin_str seg, char *id)
{
    static const char *const prefixes[] = {"cri-containerd-", "crio-", "docker-", "containerd-"};
    if (!odin_str_has_suffix(seg, ".scope")) {
        return take_container_id(seg, id);
    }
    seg.len -= 6;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        if (seg.len > n && memcmp(seg.p, prefixes[i], n) == 0) {
            return take_container_id((odin_str){seg.p + n, seg.len - n}, id);
        }
    }
    return false;
}

bool agent_cgroup_pod_parse_path(odin_str path, agent_cgroup_pod *out)
{
    agent_cgroup_pod r;
    memset(&r, 0, sizeof(r));
    bool in_kubepods = false;
    odin_str rest = path;
    while (rest.len) {
        odin_str seg = odin_str_cut(&rest, '/');
        if (odin_str_has_prefix(seg, "kubepods")) {
            in_kubepods = true; /* "kubepods", "kubepods.slice", "kubepods-besteffort.slice" */
        }
        if (!in_kubepods || !pod_segment(seg, r.pod_uid)) {
            continue;
        }
        odin_str next = odin_str_cut(&rest, '/');
        if (next.len && !container_segment(next, r.container_id)) {
            r.container_id[0] = '\0'; /* e.g. crio-conmon-<id>.scope: the pod, no container */
        }
        *out = r;
        return true;
    }
    return false;
}

bool agent_cgroup_pod_parse_file(odin_str text, agent_cgroup_pod *out)
{
    /* two passes: the unified (v2) line first, then any v1 hierarchy */
    for (int pass = 0; pass < 2; pass++) {
        odin_str rest = text;
        while (rest.len) {
            odin_str line = odin_str_cut(&rest, '\n');
            odin_str id = odin_str_cut(&line, ':');
            odin_str controllers = odin_str_cut(&line, ':');
            bool v2 = odin_str_eq_c(id, "0") && controllers.len == 0;
            if ((pass == 0) != v2) {
                continue;
            }
            if (agent_cgroup_pod_parse_path(odin_str_trim(line), out)) {
                return true;
            }
        }
    }
    return false;
}

"""Kubernetes pod attribution and per-process series of the gpu collector, against the fake
libnvidia-ml.so.1 (tests/fake-nvml/) and a fake kubelet pod-resources server (fake_podres.py):
pod/namespace/container from pod-resources (whole GPU and MIG, shared-GPU "::N" ids), the
process source (pod_uid/container_id from /proc/<pid>/cgroup), the fallback of auto when the
socket is missing (logged once), and a failing gRPC answer.

Needs FAKE_NVML_LIB (ctest sets it). Goldens in tests/fake-nvml/golden/pods_*.prom; rewrite
with ODIN_UPDATE_GOLDEN=1 and review the diff."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402
import fake_podres  # noqa: E402
import test_gpu_fake as gf  # noqa: E402

POD_UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
POD_UID_B = "11112222-3333-4444-5555-666677778888"
CID = "a" * 64
CID_B = "b" * 64
CGROUPS = {
    # cgroup v2, systemd driver, containerd
    4242: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
          "cri-containerd-%s.scope\n" % (POD_UID.replace("-", "_"), CID),
    # a host process
    777: "0::/user.slice/user-1000.slice/session-3.scope\n",
    # cgroup v1, cgroupfs driver
    5151: "12:pids:/kubepods/besteffort/pod%s/%s\n11:memory:/kubepods/besteffort/pod%s/%s\n"
          "0::/\n" % (POD_UID_B, CID_B, POD_UID_B, CID_B),
}


def make_procfs(tmp):
    root = os.path.join(tmp, "proc")
    for pid, text in CGROUPS.items():
        os.makedirs(os.path.join(root, str(pid)), exist_ok=True)
        with open(os.path.join(root, str(pid), "cgroup"), "w") as f:
            f.write(text)
    return root


def counters(tmp):
    path = os.path.join(tmp, "pods-counters.csv")
    with open(path, "w") as f:
        f.write("DCGM_FI_DEV_GPU_TEMP, gauge, Temperature.\nDCGM_FI_DEV_FB_USED, gauge, Used.\n")
    return path


def lines(text):
    return [l for l in gf.gpu_lines(text)]


def run(odin, lib, tmp, extra, pred):
    script = gf.script("pods.txt", tmp)
    args = ["--collector.gpu.counters-file=" + counters(tmp), "--path.procfs=" + make_procfs(tmp),
            "--collector.gpu.kubernetes-refresh-interval=200ms"] + extra
    a = gf.start(odin, lib, script, args)
    a.__enter__()
    text = gf.wait_for(a, pred)
    return a, text


def test_pod_resources(odin, lib, tmp):
    sock = os.path.join(tmp, "kubelet.sock")
    server = fake_podres.FakePodResources(sock, fake_podres.EXAMPLE_PODS).start()
    try:
        a, text = run(odin, lib, tmp, ["--collector.gpu.kubernetes",
                                       "--collector.gpu.pod-resources-socket=" + sock],
                      lambda t: 'pod="notebook"' in t and "odin_gpu_process_sm_util" in t)
        try:
            gf.golden("pods_podres.prom", lines(text))
            gf.check("odin_gpu_pod_resources_up 1" in text, "pod-resources up")
            hdrs, body = server.requests[0]
            gf.check(hdrs.get(":method") == "POST" and hdrs.get("te") == "trailers" and
                     hdrs.get("content-type") == "application/grpc",
                     "request headers, got %r" % hdrs)
            gf.check(body == b"\x00\x00\x00\x00\x00", "empty gRPC request, got %r" % body)
        finally:
            a.__exit__(None, None, None)
    finally:
        server.stop()


def test_process_source(odin, lib, tmp):
    a, text = run(odin, lib, tmp, ["--collector.gpu.kubernetes",
                                   "--collector.gpu.kubernetes-source=process"],
                  lambda t: "odin_gpu_process_sm_util" in t and "pod_uid" in t)
    try:
        gf.golden("pods_process.prom", lines(text))
        gf.check("odin_gpu_pod_resources_up" not in text, "no pod-resources gauge in process mode")
    finally:
        a.__exit__(None, None, None)


def test_socket_missing(odin, lib, tmp):
    sock = os.path.join(tmp, "nope", "kubelet.sock")
    a, text = run(odin, lib, tmp, ["--collector.gpu.kubernetes",
                                   "--collector.gpu.pod-resources-socket=" + sock],
                  lambda t: "pod_uid" in t)
    try:
        import time
        time.sleep(0.6)  # several refreshes
        text = a.scrape()
        gf.check("odin_gpu_pod_resources_up 0" in text, "pod-resources down")
        gf.check('pod="' not in text, "no pod names without pod-resources")
        gf.check('container_id="%s"' % CID in text, "auto falls back to the process source")
        log = a.output()
        gf.check(log.count("pod-resources unavailable") == 1,
                 "missing socket logged once, got:\n" + log)
        gf.check("no such socket" in log, "log says the socket is missing")
    finally:
        a.__exit__(None, None, None)
    a, text = run(odin, lib, tmp, ["--collector.gpu.kubernetes",
                                   "--collector.gpu.kubernetes-source=pod-resources",
                                   "--collector.gpu.pod-resources-socket=" + sock],
                  lambda t: "odin_gpu_pod_resources_up 0" in t)
    try:
        dcgm = "\n".join(l for l in text.splitlines() if l.startswith("DCGM_"))
        gf.check("pod_uid" not in dcgm and 'pod="' not in dcgm,
                 "pod-resources source: GPU series lack pod labels when the socket is missing")
        gf.check("DCGM_FI_DEV_GPU_TEMP{" in text, "GPU series still served")
    finally:
        a.__exit__(None, None, None)


def test_grpc_error(odin, lib, tmp):
    sock = os.path.join(tmp, "err.sock")
    server = fake_podres.FakePodResources(sock, [], grpc_status=7,
                                          grpc_message="permission denied").start()
    try:
        a, text = run(odin, lib, tmp, ["--collector.gpu.kubernetes",
                                       "--collector.gpu.kubernetes-source=pod-resources",
                                       "--collector.gpu.pod-resources-socket=" + sock],
                      lambda t: "odin_gpu_pod_resources_up 0" in t)
        try:
            log = a.output()
            gf.check("status 7: permission denied" in log, "gRPC status logged, got:\n" + log)
            gf.check('pod="' not in text, "no labels after a failed List")
        finally:
            a.__exit__(None, None, None)
    finally:
        server.stop()


def test_no_kubernetes(odin, lib, tmp):
    a, text = run(odin, lib, tmp, [], lambda t: "odin_gpu_process_sm_util" in t)
    try:
        gf.check("pod_uid" not in text and 'pod="' not in text, "no pod labels by default")
        gf.check('odin_gpu_process_memory_used_bytes{' in text, "per-process memory served")
    finally:
        a.__exit__(None, None, None)


def main():
    lib = os.environ.get("FAKE_NVML_LIB")
    if not lib:
        odintest.skip("FAKE_NVML_LIB is unset (ctest sets it to the fake libnvidia-ml.so.1)")
    lib = os.path.abspath(lib)
    odin = odintest.odin_bin()
    tmp = odintest.tempdir("odin-gpu-pods-")
    test_pod_resources(odin, lib, tmp)
    test_process_source(odin, lib, tmp)
    test_socket_missing(odin, lib, tmp)
    test_grpc_error(odin, lib, tmp)
    test_no_kubernetes(odin, lib, tmp)
    if gf.failures:
        print("%d failure(s)" % len(gf.failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()

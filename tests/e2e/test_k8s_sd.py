"""End-to-end test of Kubernetes service discovery: the k8s_sd tool (tests/tools/k8s_sd.c) runs one
provider against tests/e2e/fake_kube_api.py and prints its updates; each role's groups are
compared with golden label sets written from Prometheus' discovery/kubernetes behaviour. Then watch
events, 410 Gone relists (as a watch ERROR event and as an HTTP status), auth failures with token
rotation, 403s, namespaces and selectors are exercised. HTTPS when openssl is installed."""
import base64
import copy
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_kube_api  # noqa: E402
import odintest  # noqa: E402

M = "__meta_kubernetes_"
TOOL = os.environ.get("K8S_SD_TOOL")

# ---- cluster objects ------------------------------------------------------------------------

NODES = [
    {"metadata": {"name": "node1", "labels": {"kubernetes.io/hostname": "node1",
                                              "topology.kubernetes.io/zone": "eu-1a"},
                  "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
     "spec": {"providerID": "aws:///eu-1a/i-1"},
     "status": {"addresses": [{"type": "ExternalIP", "address": "203.0.113.5"},
                              {"type": "InternalIP", "address": "10.0.0.1"},
                              {"type": "InternalIP", "address": "10.0.0.9"},
                              {"type": "Hostname", "address": "node1"}],
                "conditions": [{"type": "Ready", "status": "True"},
                               {"type": "MemoryPressure", "status": "False"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}},
    {"metadata": {"name": "node2"},
     "status": {"addresses": [{"type": "Hostname", "address": "node2"},
                              {"type": "InternalIP", "address": "fd00::2"}]}},
    {"metadata": {"name": "node3"}, "status": {}},  # no address: Prometheus makes no group
]

POD_WEB0 = {
    "metadata": {"name": "web-0", "namespace": "default", "uid": "uid-1",
                 "labels": {"app": "web", "app.kubernetes.io/na\u00efve": "x"},
                 "annotations": {"prometheus.io/scrape": "true"},
                 "ownerReferences": [{"kind": "Node", "name": "n", "controller": False},
                                     {"kind": "StatefulSet", "name": "web", "controller": True}],
                 "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:metadata": {}}}]},
    "spec": {"nodeName": "node1",
             "containers": [{"name": "app", "image": "img:1",
                             "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                                       {"name": "metrics", "containerPort": 9090,
                                        "protocol": "TCP"}]},
                            {"name": "sidecar", "image": "side:1"}],
             "initContainers": [{"name": "init", "image": "init:1"}]},
    "status": {"phase": "Running", "podIP": "10.1.0.5", "hostIP": "10.0.0.1",
               "conditions": [{"type": "Initialized", "status": "True"},
                              {"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "app", "containerID": "containerd://a"},
                                     {"name": "sidecar", "containerID": "containerd://s"}],
               "initContainerStatuses": [{"name": "init", "containerID": "containerd://i"}]}}
POD_PENDING = {"metadata": {"name": "pending", "namespace": "default", "uid": "uid-2"},
               "spec": {"containers": [{"name": "c", "image": "i"}]},
               "status": {"phase": "Pending"}}
POD_OTHER = {"metadata": {"name": "x", "namespace": "other", "uid": "uid-3"},
             "spec": {"containers": [{"name": "c", "image": "i"}]},
             "status": {"phase": "Running", "podIP": "10.1.0.77"}}

SERVICES = [
    {"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
     "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
              "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}},
    {"metadata": {"name": "ext", "namespace": "default"},
     "spec": {"type": "ExternalName", "externalName": "example.com",
              "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}},
    {"metadata": {"name": "lb", "namespace": "default"},
     "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11",
              "ports": [{"name": "", "port": 8443, "protocol": "TCP"}]},
     "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example"},
                                             {"ip": "5.6.7.8"}]}}},
]

ENDPOINTS = [{
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "subsets": [{"addresses": [{"ip": "10.1.0.5", "nodeName": "node1",
                                "targetRef": {"kind": "Pod", "name": "web-0",
                                              "namespace": "default"}},
                               {"ip": "10.1.0.99", "hostname": "h1"}],
                 "notReadyAddresses": [{"ip": "10.1.0.7"}],
                 "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}]

SLICES = [{
    "metadata": {"name": "web-abc", "namespace": "default",
                 "labels": {"kubernetes.io/service-name": "web"}},
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.1.0.5"],
                   "conditions": {"ready": True, "serving": True, "terminating": False},
                   "nodeName": "node1", "zone": "eu-1a",
                   "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default"}},
                  {"addresses": ["10.1.0.8"], "conditions": {"ready": False},
                   "deprecatedTopology": {"topology.kubernetes.io/region": "eu"}}],
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]}]

INGRESSES = [{
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["*.example.com"]}],
             "rules": [{"host": "a.example.com",
                        "http": {"paths": [{"path": "/api"}, {"path": ""}]}},
                       {"host": "b.test"}]}}]

# ---- golden label sets (Prometheus' discovery/kubernetes) -------------------------------------

POD_WEB0_LABELS = {
    M + "pod_name": "web-0", M + "pod_ip": "10.1.0.5", M + "pod_ready": "true",
    M + "pod_phase": "Running", M + "pod_node_name": "node1", M + "pod_host_ip": "10.0.0.1",
    M + "pod_uid": "uid-1", M + "pod_label_app": "web", M + "pod_labelpresent_app": "true",
    M + "pod_label_app_kubernetes_io_na_ve": "x",
    M + "pod_labelpresent_app_kubernetes_io_na_ve": "true",
    M + "pod_annotation_prometheus_io_scrape": "true",
    M + "pod_annotationpresent_prometheus_io_scrape": "true",
    M + "pod_controller_kind": "StatefulSet", M + "pod_controller_name": "web",
}
SVC_WEB_LABELS = {M + "namespace": "default", M + "service_name": "web",
                  M + "service_label_app": "web", M + "service_labelpresent_app": "true"}


def t(**kw):
    return {k.replace("M_", M): v for k, v in kw.items()}


def app_port(port, name, init="false"):
    return t(M_pod_container_name="app", M_pod_container_image="img:1",
             M_pod_container_port_name=name, M_pod_container_port_number=str(port),
             M_pod_container_port_protocol="TCP", M_pod_container_init=init)


GOLDEN = {
    "node": {
        "node/node1": (
            {M + "node_provider_id": "aws:///eu-1a/i-1", M + "node_condition_ready": "true",
             M + "node_condition_memorypressure": "false", M + "node_name": "node1",
             M + "node_label_kubernetes_io_hostname": "node1",
             M + "node_labelpresent_kubernetes_io_hostname": "true",
             M + "node_label_topology_kubernetes_io_zone": "eu-1a",
             M + "node_labelpresent_topology_kubernetes_io_zone": "true",
             M + "node_annotation_node_alpha_kubernetes_io_ttl": "0",
             M + "node_annotationpresent_node_alpha_kubernetes_io_ttl": "true"},
            [{"__address__": "10.0.0.1:10250", "instance": "node1",
              M + "node_address_ExternalIP": "203.0.113.5",
              M + "node_address_InternalIP": "10.0.0.1",
              M + "node_address_Hostname": "node1"}]),
        "node/node2": (
            {M + "node_provider_id": "", M + "node_name": "node2"},
            [{"__address__": "[fd00::2]:0", "instance": "node2",
              M + "node_address_InternalIP": "fd00::2", M + "node_address_Hostname": "node2"}]),
    },
    "pod": {
        "pod/default/web-0": (
            dict(POD_WEB0_LABELS, **{M + "namespace": "default"}),
            [dict(app_port(8080, "http"), __address__="10.1.0.5:8080",
                  **{M + "pod_container_id": "containerd://a"}),
             dict(app_port(9090, "metrics"), __address__="10.1.0.5:9090",
                  **{M + "pod_container_id": "containerd://a"}),
             dict(__address__="10.1.0.5", **t(M_pod_container_name="sidecar",
                                              M_pod_container_id="containerd://s",
                                              M_pod_container_image="side:1",
                                              M_pod_container_init="false")),
             dict(__address__="10.1.0.5", **t(M_pod_container_name="init",
                                              M_pod_container_id="containerd://i",
                                              M_pod_container_image="init:1",
                                              M_pod_container_init="true"))]),
        "pod/default/pending": ({}, []),
    },
    "service": {
        "svc/default/web": (SVC_WEB_LABELS, [dict(__address__="web.default.svc:80", **t(
            M_service_port_name="http", M_service_port_number="80",
            M_service_port_protocol="TCP", M_service_type="ClusterIP",
            M_service_cluster_ip="10.96.0.10"))]),
        "svc/default/ext": ({M + "namespace": "default", M + "service_name": "ext"},
                            [dict(__address__="ext.default.svc:443", **t(
                                M_service_port_name="https", M_service_port_number="443",
                                M_service_port_protocol="TCP", M_service_type="ExternalName",
                                M_service_external_name="example.com"))]),
        "svc/default/lb": ({M + "namespace": "default", M + "service_name": "lb"},
                           [dict(__address__="lb.default.svc:8443", **t(
                               M_service_port_name="", M_service_port_number="8443",
                               M_service_port_protocol="TCP", M_service_type="LoadBalancer",
                               M_service_cluster_ip="10.96.0.11",
                               M_service_loadbalancer_ip="1.2.3.4,5.6.7.8"))]),
    },
    "endpoints": {
        "endpoints/default/web": (
            dict(SVC_WEB_LABELS, **{M + "endpoints_name": "web", M + "endpoints_label_app": "web",
                                    M + "endpoints_labelpresent_app": "true"}),
            [dict(POD_WEB0_LABELS, __address__="10.1.0.5:8080", **app_port(8080, "http"), **t(
                M_endpoint_port_name="http", M_endpoint_port_protocol="TCP",
                M_endpoint_ready="true", M_endpoint_address_target_kind="Pod",
                M_endpoint_address_target_name="web-0", M_endpoint_node_name="node1")),
             dict(__address__="10.1.0.99:8080", **t(
                 M_endpoint_port_name="http", M_endpoint_port_protocol="TCP",
                 M_endpoint_ready="true", M_endpoint_hostname="h1")),
             dict(__address__="10.1.0.7:8080", **t(
                 M_endpoint_port_name="http", M_endpoint_port_protocol="TCP",
                 M_endpoint_ready="false")),
             dict(POD_WEB0_LABELS, __address__="10.1.0.5:9090", **app_port(9090, "metrics"))]),
    },
    "endpointslice": {
        "endpointslice/default/web-abc": (
            dict(SVC_WEB_LABELS, **{
                M + "endpointslice_address_type": "IPv4", M + "endpointslice_name": "web-abc",
                M + "endpointslice_label_kubernetes_io_service_name": "web",
                M + "endpointslice_labelpresent_kubernetes_io_service_name": "true"}),
            [dict(POD_WEB0_LABELS, __address__="10.1.0.5:8080", **app_port(8080, "http"), **t(
                M_endpointslice_port_name="http", M_endpointslice_port_protocol="TCP",
                M_endpointslice_port="8080", M_endpointslice_port_app_protocol="http",
                M_endpointslice_endpoint_conditions_ready="true",
                M_endpointslice_endpoint_conditions_serving="true",
                M_endpointslice_endpoint_conditions_terminating="false",
                M_endpointslice_address_target_kind="Pod",
                M_endpointslice_address_target_name="web-0",
                M_endpointslice_endpoint_node_name="node1",
                M_endpointslice_endpoint_zone="eu-1a")),
             dict(__address__="10.1.0.8:8080", **t(
                 M_endpointslice_port_name="http", M_endpointslice_port_protocol="TCP",
                 M_endpointslice_port="8080", M_endpointslice_port_app_protocol="http",
                 M_endpointslice_endpoint_conditions_ready="false",
                 M_endpointslice_endpoint_topology_topology_kubernetes_io_region="eu",
                 M_endpointslice_endpoint_topology_present_topology_kubernetes_io_region="true")),
             dict(POD_WEB0_LABELS, __address__="10.1.0.5:9090", **app_port(9090, "metrics"))]),
    },
    "ingress": {
        "ingress/default/web": (
            {M + "namespace": "default", M + "ingress_class_name": "nginx",
             M + "ingress_name": "web"},
            [dict(__address__="a.example.com", **t(M_ingress_scheme="https",
                                                   M_ingress_host="a.example.com",
                                                   M_ingress_path="/api")),
             dict(__address__="a.example.com", **t(M_ingress_scheme="https",
                                                   M_ingress_host="a.example.com",
                                                   M_ingress_path="/")),
             dict(__address__="b.test", **t(M_ingress_scheme="http", M_ingress_host="b.test",
                                            M_ingress_path="/"))]),
    },
}


def load(fake):
    for n in NODES:
        fake.put("nodes", copy.deepcopy(n))
    for p in (POD_WEB0, POD_PENDING, POD_OTHER):
        fake.put("pods", copy.deepcopy(p))
    for s in SERVICES:
        fake.put("services", copy.deepcopy(s))
    for e in ENDPOINTS:
        fake.put("endpoints", copy.deepcopy(e))
    for s in SLICES:
        fake.put("endpointslices", copy.deepcopy(s))
    for i in INGRESSES:
        fake.put("ingresses", copy.deepcopy(i))


def canon(groups):
    """source -> (labels, sorted targets) for order-insensitive comparison."""
    out = {}
    for g in groups:
        targets = sorted(json.dumps(x, sort_keys=True) for x in g["targets"])
        out[g["source"]] = (json.dumps(g["labels"], sort_keys=True), targets)
    return out


def canon_golden(golden):
    return canon([{"source": s, "labels": l, "targets": ts} for s, (l, ts) in golden.items()])


class Tool:
    def __init__(self, fake, role, *args, token_file=None, ca=None):
        cmd = [TOOL, "--role", role]
        if fake is not None:
            cmd += ["--api-server", fake.url]
        if token_file:
            cmd += ["--bearer-token-file", token_file]
        if ca:
            cmd += ["--ca-file", ca]
        cmd += list(args)
        self.errpath = os.path.join(odintest.tempdir("k8s-sd-"), "stderr")
        self.err = open(self.errpath, "w")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.last = None
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_update(self, timeout):
        deadline = time.monotonic() + timeout
        groups, n = None, None
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("k8s_sd exited: " + self.stderr())
            line = line.rstrip("\n")
            if line.startswith("update "):
                groups, n = [], int(line.split()[1])
            elif line == "end":
                assert len(groups) == n, "update announced %d groups, got %d" % (n, len(groups))
                self.last = groups
                return groups
            else:
                groups.append(json.loads(line))
        return None

    def wait_for(self, pred, timeout=20, what="update"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            g = self.next_update(deadline - time.monotonic())
            if g is not None and pred(canon(g)):
                return canon(g)
        raise AssertionError("no %s within %ss; last update: %s\nstderr: %s" %
                             (what, timeout, json.dumps(self.last, indent=1), self.stderr()))

    def stderr(self):
        self.err.flush()
        with open(self.errpath) as f:
            return f.read()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=20)
        self.err.close()
        assert rc == 0, "k8s_sd exited with %d: %s" % (rc, self.stderr())


def diff(want, got):
    lines = []
    for s in sorted(set(want) | set(got)):
        if want.get(s) != got.get(s):
            lines.append("group %s\n  want %s\n  got  %s" % (s, want.get(s), got.get(s)))
    return "\n".join(lines)


def check_roles(fake, tls):
    for role, golden in GOLDEN.items():
        tool = Tool(fake, role, "--namespace", "default", **tls)
        want = canon_golden(golden)
        try:
            tool.wait_for(lambda got: got == want, what="golden groups of role " + role)
        except AssertionError:
            print("FAIL: role %s\n%s" % (role, diff(want, canon(tool.last or []))))
            raise
        tool.stop()
        print("ok: role %s matches its golden label sets" % role)


def check_dynamics(fake, tls):
    tool = Tool(fake, "pod", **tls)
    tool.wait_for(lambda g: "pod/other/x" in g and "pod/default/web-0" in g, what="all namespaces")
    # MODIFIED
    pod = copy.deepcopy(POD_WEB0)
    pod["metadata"]["labels"]["app"] = "web2"
    fake.put("pods", pod)
    tool.wait_for(lambda g: '"web2"' in g.get("pod/default/web-0", ("",))[0], what="MODIFIED")
    # DELETED
    fake.delete("pods", "default", "pending")
    tool.wait_for(lambda g: "pod/default/pending" not in g, what="DELETED")
    # 410 Gone as a watch ERROR event: relist, and what changed meanwhile appears
    lists_before = sum(1 for m, p in fake.requests if "watch=" not in p and "/pods" in p)
    fake.expire()
    fake.put("pods", dict(copy.deepcopy(POD_OTHER), metadata={"name": "y", "namespace": "other"}))
    tool.wait_for(lambda g: "pod/other/y" in g, what="relist after 410 event")
    lists_after = sum(1 for m, p in fake.requests if "watch=" not in p and "/pods" in p)
    assert lists_after > lists_before, "no relist after 410 Gone"
    # 410 Gone as an HTTP status on the next watch
    fake.gone_status_once = True
    time.sleep(fake.watch_hold_s * 2)
    fake.put("pods", dict(copy.deepcopy(POD_OTHER), metadata={"name": "z", "namespace": "other"}))
    tool.wait_for(lambda g: "pod/other/z" in g, what="relist after HTTP 410")
    watches = [p for m, p in fake.requests if "watch=1" in p]
    assert all("allowWatchBookmarks=true" in p and "resourceVersion=" in p for p in watches)
    tool.stop()
    print("ok: watch events, bookmarks, 410 relists")


def check_selectors(fake, tls):
    tool = Tool(fake, "pod", "--namespace", "default", "--selector", "pod:app=web2:", **tls)
    g = tool.wait_for(lambda g: "pod/default/web-0" in g, what="selected pod")
    assert set(g) == {"pod/default/web-0"}, sorted(g)
    tool.stop()
    reqs = [p for m, p in fake.requests if "labelSelector=app%3Dweb2" in p]
    assert reqs and all("/namespaces/default/pods" in p for p in reqs), reqs
    print("ok: namespaces and label selectors")


def check_auth(tls_cert):
    d = odintest.tempdir("k8s-auth-")
    fake = fake_kube_api.FakeKube(token="secret-token", cert=tls_cert).start()
    load(fake)
    tok = os.path.join(d, "token")
    with open(tok, "w") as f:
        f.write("wrong-token\n")
    tls = {"token_file": tok, "ca": tls_cert[0] if tls_cert else None}
    tool = Tool(fake, "service", "--namespace", "default", **tls)
    deadline = time.monotonic() + 15
    while "401" not in tool.stderr() and time.monotonic() < deadline:
        time.sleep(0.1)
    err = tool.stderr()
    assert "401" in err, err
    assert "wrong-token" not in err and "secret-token" not in err, "a token was logged"
    # a rotated token file is read at the next request
    with open(tok, "w") as f:
        f.write("secret-token\n")
    tool.wait_for(lambda g: "svc/default/web" in g, timeout=40, what="recovery after 401")
    assert "succeed again" in tool.stderr()
    tool.stop()
    # 403 Forbidden names the resource; the watch recovers once allowed
    fake.forbidden.add("ingresses")
    tool = Tool(fake, "ingress", "--namespace", "default", **tls)
    deadline = time.monotonic() + 15
    while "403" not in tool.stderr() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "forbidden" in tool.stderr(), tool.stderr()
    fake.forbidden.clear()
    tool.wait_for(lambda g: "ingress/default/web" in g, timeout=40, what="recovery after 403")
    tool.stop()
    fake.stop()
    print("ok: 401 and 403 are logged without secrets, token rotation recovers")


def check_kubeconfig(tls_cert):
    """kubeconfig_file instead of api_server: the current context's server, CA (inline, base64) and
    token reach a server that demands them; a credential plugin is refused by name."""
    d = odintest.tempdir("k8s-kubeconfig-")
    fake = fake_kube_api.FakeKube(token="kc-token", cert=tls_cert).start()
    load(fake)
    ca = ""
    if tls_cert:
        with open(tls_cert[0], "rb") as f:
            ca = "    certificate-authority-data: %s\n" % base64.b64encode(f.read()).decode()
    with open(os.path.join(d, "token"), "w") as f:
        f.write("kc-token\n")
    path = os.path.join(d, "kubeconfig.yaml")
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\n"
                "clusters:\n- name: other\n  cluster: {server: 'https://192.0.2.1:1'}\n"
                "- name: test\n  cluster:\n    server: %s\n%s"
                "users:\n- name: me\n  user:\n    tokenFile: token\n"
                "contexts:\n- name: a\n  context: {cluster: other, user: me}\n"
                "- name: b\n  context: {cluster: test, user: me}\n"
                "current-context: b\n" % (fake.url, ca))
    tool = Tool(None, "service", "--namespace", "default", "--kubeconfig", path)
    tool.wait_for(lambda g: "svc/default/web" in g, timeout=30, what="services via kubeconfig")
    assert "kc-token" not in tool.stderr(), "the token was logged"
    tool.stop()
    with open(path, "w") as f:
        f.write("clusters: [{name: c, cluster: {server: '%s'}}]\n"
                "users: [{name: u, user: {exec: {command: get-token}}}]\n"
                "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                "current-context: x\n" % fake.url)
    p = subprocess.run([TOOL, "--role", "pod", "--kubeconfig", path], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 1 and "credential plugin (exec)" in p.stderr and path in p.stderr, \
        p.stderr
    fake.stop()
    print("ok: kubeconfig_file (current context, inline CA, relative tokenFile; exec refused)")


def main():
    if not TOOL or not os.path.exists(TOOL):
        odintest.skip("K8S_SD_TOOL is not set (build tests/tools/k8s_sd.c)")
    cert = fake_kube_api.make_cert(odintest.tempdir("k8s-tls-"))
    print("transport: %s" % ("https" if cert else "http (openssl not found)"))
    fake = fake_kube_api.FakeKube(cert=cert, page_size=2, watch_hold_s=0.5).start()
    load(fake)
    tls = {"ca": cert[0] if cert else None}
    check_roles(fake, tls)
    check_dynamics(fake, tls)
    check_selectors(fake, tls)
    fake.stop()
    check_auth(cert)
    check_kubeconfig(cert)
    print("PASS")


if __name__ == "__main__":
    main()

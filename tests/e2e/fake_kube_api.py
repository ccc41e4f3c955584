"""A fake Kubernetes API server for the discovery tests (standard library only).

Serves list responses (with limit/continue paging) and watch streams (chunked JSON lines of
ADDED/MODIFIED/DELETED/BOOKMARK/ERROR events) for core/v1 nodes, pods, services, endpoints,
namespaces, discovery.k8s.io/v1 endpointslices and networking.k8s.io/v1 ingresses. The test drives
it in-process: put()/delete() change objects, expire() makes every older resourceVersion answer
410 Gone, token/forbidden control auth. HTTPS when given a certificate (make_cert() creates a
self-signed one with openssl when that is installed)."""
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESOURCES = {
    ("api/v1", "nodes"): ("NodeList", False),
    ("api/v1", "pods"): ("PodList", True),
    ("api/v1", "services"): ("ServiceList", True),
    ("api/v1", "endpoints"): ("EndpointsList", True),
    ("api/v1", "namespaces"): ("NamespaceList", False),
    ("apis/discovery.k8s.io/v1", "endpointslices"): ("EndpointSliceList", True),
    ("apis/networking.k8s.io/v1", "ingresses"): ("IngressList", True),
}


def make_cert(directory):
    """Writes a self-signed cert/key for 127.0.0.1; returns (cert, key) or None without openssl."""
    if shutil.which("openssl") is None:
        return None
    cert = os.path.join(directory, "apiserver.crt")
    key = os.path.join(directory, "apiserver.key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (cert, key) if r.returncode == 0 else None


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class FakeKube:
    def __init__(self, token=None, cert=None, page_size=None, watch_hold_s=1.0):
        self.lock = threading.Condition()
        self.rv = 100
        self.min_rv = 0            # watches from below this get 410 Gone
        self.objects = {}          # (resource, ns, name) -> object
        self.events = []           # (rv, resource, type, object)
        self.token = token         # expected bearer token; None = no auth
        self.forbidden = set()     # resources answering 403
        self.page_size = page_size  # server-side cap on list pages
        self.watch_hold_s = watch_hold_s
        self.requests = []         # (method, path with query) seen, for assertions
        self.gone_status_once = False  # next watch answers HTTP 410 instead of an ERROR event
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.scheme = "http"
        if cert is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert[0], cert[1])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.server.server_address[1])

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- state changes, called by the test ----

    def put(self, resource, obj):
        meta = obj.setdefault("metadata", {})
        key = (resource, meta.get("namespace", ""), meta["name"])
        with self.lock:
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            kind = "MODIFIED" if key in self.objects else "ADDED"
            self.objects[key] = json.loads(json.dumps(obj))
            self.events.append((self.rv, resource, kind, self.objects[key]))
            self.lock.notify_all()

    def delete(self, resource, namespace, name):
        with self.lock:
            obj = self.objects.pop((resource, namespace or "", name))
            self.rv += 1
            obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=str(self.rv)))
            self.events.append((self.rv, resource, "DELETED", obj))
            self.lock.notify_all()

    def expire(self):
        """Every resourceVersion handed out so far becomes too old to watch from."""
        with self.lock:
            self.rv += 1
            self.min_rv = self.rv
            self.events = []
            self.lock.notify_all()

    # ---- HTTP ----

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                fake.requests.append(("GET", self.path))
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                route = fake._route(u.path)
                if route is None:
                    return self.send_json(404, status(404, "NotFound", "the server could not "
                                                      "find the requested resource"))
                resource, ns = route
                if fake.token is not None:
                    if self.headers.get("Authorization") != "Bearer " + fake.token:
                        return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
                if resource in fake.forbidden:
                    return self.send_json(403, status(
                        403, "Forbidden", '%s is forbidden: User "system:serviceaccount:'
                        'monitoring:odin" cannot list resource "%s"' % (resource, resource)))
                if q.get("watch") in ("1", "true"):
                    return self.watch(resource, ns, q)
                return self.list(resource, ns, q)

            def list(self, resource, ns, q):
                with fake.lock:
                    items = fake._select(resource, ns, q)
                    rv = fake.rv
                limit = int(q.get("limit", "0") or 0)
                if fake.page_size:
                    limit = min(limit or fake.page_size, fake.page_size)
                start = int(q.get("continue", "0") or 0)
                page = items[start:start + limit] if limit else items[start:]
                meta = {"resourceVersion": str(rv)}
                if limit and start + limit < len(items):
                    meta["continue"] = str(start + limit)
                kind = [v[0] for k, v in RESOURCES.items() if k[1] == resource][0]
                self.send_json(200, {"kind": kind, "apiVersion": "v1", "metadata": meta,
                                     "items": page})

            def chunk(self, obj):
                data = (json.dumps(obj) + "\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def watch(self, resource, ns, q):
                since = int(q.get("resourceVersion", "0") or 0)
                with fake.lock:
                    if fake.gone_status_once:
                        fake.gone_status_once = False
                        return self.send_json(410, status(410, "Expired", "too old resource "
                                                          "version: %d" % since))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self.stream(resource, ns, q, since)
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass

            def stream(self, resource, ns, q, since):
                deadline = time.monotonic() + fake.watch_hold_s
                while True:
                    with fake.lock:
                        if since < fake.min_rv:
                            self.chunk({"type": "ERROR", "object": status(
                                410, "Expired", "too old resource version: %d (%d)" %
                                (since, fake.min_rv))})
                            return
                        todo = [e for e in fake.events if e[0] > since and e[1] == resource and
                                fake._matches(e[3], ns, q)]
                        if not todo:
                            left = deadline - time.monotonic()
                            if left <= 0:
                                break
                            fake.lock.wait(min(left, 0.2))
                            continue
                    for rv, _, kind, obj in todo:
                        self.chunk({"type": kind, "object": obj})
                        since = rv
                if q.get("allowWatchBookmarks") == "true":
                    with fake.lock:
                        rv = fake.rv
                    self.chunk({"type": "BOOKMARK", "object": {
                        "kind": "Pod", "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(rv),
                                     "annotations": {"k8s.io/initial-events-end": "true"}}}})

        return Handler

    def _route(self, path):
        parts = [p for p in path.split("/") if p]
        for (prefix, res), (_, namespaced) in RESOURCES.items():
            pp = prefix.split("/")
            if parts[:len(pp)] != pp:
                continue
            rest = parts[len(pp):]
            if rest == [res]:
                return res, None
            if namespaced and len(rest) == 3 and rest[0] == "namespaces" and rest[2] == res:
                return res, rest[1]
        return None

    def _matches(self, obj, ns, q):
        meta = obj.get("metadata", {})
        if ns is not None and meta.get("namespace") != ns:
            return False
        for term in filter(None, q.get("labelSelector", "").split(",")):
            k, _, v = term.partition("=")
            if meta.get("labels", {}).get(k) != v:
                return False
        for term in filter(None, q.get("fieldSelector", "").split(",")):
            k, _, v = term.partition("=")
            cur = obj
            for step in k.split("."):
                cur = cur.get(step, {}) if isinstance(cur, dict) else {}
            if cur != v:
                return False
        return True

    def _select(self, resource, ns, q):
        return [o for (r, _, _), o in sorted(self.objects.items())
                if r == resource and self._matches(o, ns, q)]

"""Shared helpers for Odin's end-to-end tests: find the binary and the conformance data, start and
always stop processes on free loopback ports, scrape over HTTP. Standard library only."""
import atexit
import http.server
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request

SKIP = 77  # ctest's SKIP_RETURN_CODE for these tests


def source_dir():
    return os.environ.get("ODIN_SOURCE_DIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def odin_bin():
    path = os.environ.get("ODIN_BIN") or os.path.join(source_dir(), "build", "odin")
    if not os.path.exists(path):
        print("FAIL: odin binary not found at %s (set ODIN_BIN)" % path)
        sys.exit(1)
    return os.path.abspath(path)


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(SKIP)


def conformance_dir(name):
    """../shared/conformance/<name> beside the repository; skips the test when absent."""
    path = os.path.join(os.path.dirname(source_dir()), "shared", "conformance", name)
    if not os.path.isdir(path):
        skip("conformance data %s is absent" % path)
    return path


def tempdir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path


def untar(archive, dest):
    with tarfile.open(archive) as t:
        if hasattr(tarfile, "data_filter"):
            t.extractall(dest, filter="tar")
        else:
            t.extractall(dest)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def agent_flags(odin):
    """Flag names (without --) that `odin agent --help` lists, including collector switches."""
    out = subprocess.run([odin, "agent", "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    names = set()
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("--"):
            continue
        name = line[2:].split("=", 1)[0].split()[0]
        if name.startswith("[no-]"):
            name = name[5:]
        names.add(name)
    return names


def http_get(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, dict(r.headers), r.read()


def serve_text(make_body):
    """A scrape target on a free loopback port, served from a thread: each GET answers
    make_body() (a str) as text format 0.0.4. Returns (server, port); call server.shutdown()."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = make_body().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


class Process:
    """Starts a server process on a free port, waits until `ready_path` answers, and always stops
    it (SIGTERM, then SIGKILL) on exit from the with-block."""

    def __init__(self, argv, port, ready_path="/", cwd=None, env=None):
        self.argv = argv
        self.port = port
        self.ready_path = ready_path
        self.cwd = cwd
        self.env = env
        self.proc = None
        self.log = None

    def __enter__(self):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        atexit.register(self.stop)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d:\n%s" % (self.argv[0], self.proc.returncode,
                                                               self.output()))
            try:
                http_get(self.url(self.ready_path), timeout=2)
                return self
            except Exception:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not answer on port %d:\n%s" % (self.argv[0], self.port,
                                                                   self.output()))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def output(self):
        if not self.log:
            return ""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def __exit__(self, exc_type, exc, tb):
        rc = self.stop()
        if exc_type is not None:
            # the process' own account (a sanitizer report, a crash, its log) of what went wrong
            sys.stderr.write("%s exited with %s; its output:\n%s\n" % (self.argv[0], rc,
                                                                      self.output()[-20000:]))
        return False


class Agent(Process):
    """`odin agent` with the given arguments (args[0] == "agent") on a free loopback port."""

    def __init__(self, odin, args, cwd=None):
        port = free_port()
        argv = [odin] + list(args) + ["--web.listen-address=127.0.0.1:%d" % port]
        super().__init__(argv, port, "/", cwd=cwd)

    def scrape(self, path="/metrics"):
        status, _, body = http_get(self.url(path))
        if status != 200:
            raise RuntimeError("scrape returned %d" % status)
        return body.decode("utf-8")

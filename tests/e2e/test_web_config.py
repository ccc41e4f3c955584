#!/usr/bin/env python3
"""--web.config.file (Prometheus' exporter-toolkit web config) on `odin agent` and `odin server`:
basic auth against bcrypt hashes, extra headers, the file re-read when it changes (500 while it is
broken), rate limit, TLS with a version floor, and `odin check web-config` naming file:line:col."""
import base64
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

# bcrypt (cost 4) of "odin-test-password" and of "second-password"
ALICE = "$2b$04$c4AgLgOi9iOWm.O7HXTMIO19FoNtcuqwCu/7H85nU/YzBLtMdN9ry"
SECOND = "$2b$04$u4LEfSNhhY/0mdh2dPgNEezo7dSJEyvNc09ITHCqpa3r/xtg2sC2q"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def request(url, user=None, password=None, context=None):
    """(status, headers, body) for a GET, whatever the status."""
    headers = {}
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        headers["Authorization"] = "Basic " + token
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def start(argv, url, context=None):
    """Starts argv and waits until url answers with any HTTP status."""
    log = open(os.path.join(TMP, "proc.log"), "w+")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline:
        if p.poll() is not None:
            log.seek(0)
            raise RuntimeError("%s exited with %d:\n%s" % (argv, p.returncode, log.read()))
        try:
            request(url, context=context)
            return p
        except (urllib.error.URLError, ConnectionError, ssl.SSLError, OSError):
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("%s did not answer" % argv)


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def write(path, text):
    # a new inode and mtime, so the server sees the change however fast the test is
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def test_agent_basic_auth(odin):
    web = os.path.join(TMP, "web.yml")
    write(web, "basic_auth_users:\n  alice: %s\n"
               "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
               "    X-Content-Type-Options: nosniff\n" % ALICE)
    port = odintest.free_port()
    url = "http://127.0.0.1:%d/metrics" % port
    p = start([odin, "agent", "--collector.disable-defaults", "--collector.loadavg",
               "--web.listen-address=127.0.0.1:%d" % port, "--web.config.file=" + web], url)
    try:
        st, h, _ = request(url)
        check(st == 401, "no credentials: 401, got %d" % st)
        check(h.get("WWW-Authenticate") == "Basic", "401 asks for Basic auth")
        check(h.get("X-Frame-Options") == "deny" and h.get("X-Content-Type-Options") == "nosniff",
              "configured headers on the 401 too")
        st, h, body = request(url, "alice", "odin-test-password")
        check(st == 200 and b"node_load1 " in body, "right password: 200 with metrics, got %d" % st)
        check(h.get("X-Frame-Options") == "deny", "configured headers on the 200")
        st, _, _ = request(url, "alice", "odin-test-password")
        check(st == 200, "cached verdict: 200 again")
        st, _, _ = request(url, "alice", "wrong")
        check(st == 401, "wrong password: 401, got %d" % st)
        st, _, _ = request(url, "mallory", "odin-test-password")
        check(st == 401, "unknown user: 401, got %d" % st)

        # the file is read again when it changes: alice removed, no auth at all
        write(web, "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n")
        st, h, _ = request(url)
        check(st == 200 and h.get("X-Frame-Options") == "sameorigin",
              "after the change: no auth, new header value (got %d)" % st)
        # a broken file: 500 until it is fixed, as the toolkit does
        write(web, "basic_auth_users:\n  alice: not-a-hash\n")
        st, _, _ = request(url, "alice", "odin-test-password")
        check(st == 500, "broken file: 500, got %d" % st)
        write(web, "basic_auth_users:\n  alice: %s\n" % ALICE)
        st, _, _ = request(url, "alice", "odin-test-password")
        check(st == 200, "fixed file: 200, got %d" % st)
        st, _, _ = request(url)
        check(st == 401, "fixed file: auth again, got %d" % st)
        # rewritten in place with the same size at once: the bytes differ, so it is taken in
        with open(web, "w") as f:
            f.write("basic_auth_users:\n  alice: %s\n" % SECOND)
        st, _, _ = request(url, "alice", "odin-test-password")
        check(st == 401, "same-size rewrite: the old password stops working, got %d" % st)
        st, _, _ = request(url, "alice", "second-password")
        check(st == 200, "same-size rewrite: the new password works, got %d" % st)
    finally:
        stop(p)
        print("agent log:\n" + open(os.path.join(TMP, "proc.log")).read()[-2000:])


def test_rate_limit(odin):
    web = os.path.join(TMP, "rate.yml")
    write(web, "rate_limit:\n  interval: 1h\n  burst: 2\n")
    port = odintest.free_port()
    url = "http://127.0.0.1:%d/metrics" % port
    p = start([odin, "agent", "--collector.disable-defaults", "--collector.loadavg",
               "--web.listen-address=127.0.0.1:%d" % port, "--web.config.file=" + web],
              "http://127.0.0.1:%d/-/ready" % port)
    try:
        # start() used at least one token; a burst of 2 then allows at most one more
        codes = [request(url)[0] for _ in range(3)]
        check(codes.count(429) >= 2 and set(codes) <= {200, 429},
              "burst 2 per hour: the extra requests get 429, got %r" % codes)
    finally:
        stop(p)


def make_cert():
    key, cert = os.path.join(TMP, "key.pem"), os.path.join(TMP, "cert.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl: " + r.stderr)
    return cert


def test_server_tls(odin):
    cert = make_cert()
    web = os.path.join(TMP, "tls.yml")
    # relative paths are joined with the config file's directory, as the toolkit does
    write(web, "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
               "  min_version: TLS13\n"
               "basic_auth_users:\n  alice: %s\n" % ALICE)
    cfg = os.path.join(TMP, "prometheus.yml")
    write(cfg, "global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = odintest.free_port()
    ctx = ssl.create_default_context(cafile=cert)
    base = "https://localhost:%d" % port
    p = start([odin, "server", "--config.file=" + cfg, "--web.config.file=" + web,
               "--storage.tsdb.path=" + os.path.join(TMP, "data"),
               "--web.listen-address=127.0.0.1:%d" % port], base + "/-/ready", ctx)
    try:
        st, _, _ = request(base + "/api/v1/query?query=1", context=ctx)
        check(st == 401, "TLS without credentials: 401, got %d" % st)
        st, _, body = request(base + "/api/v1/query?query=1%2B1", "alice", "odin-test-password",
                              context=ctx)
        check(st == 200 and b'"2"' in body, "TLS query with credentials answers 2, got %d" % st)
        old = ssl.create_default_context(cafile=cert)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            request(base + "/-/ready", context=old)
            check(False, "a TLS 1.2 client is refused under min_version TLS13")
        except (urllib.error.URLError, ssl.SSLError, ConnectionError):
            pass
        try:
            request("http://127.0.0.1:%d/-/ready" % port)
            check(False, "plain HTTP is refused on a TLS listener")
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
    finally:
        stop(p)


def test_check_web_config(odin):
    good = os.path.join(TMP, "good.yml")
    write(good, "basic_auth_users:\n  alice: %s\n" % ALICE)
    cases = {
        "bad_hash.yml": ("basic_auth_users:\n  bob: secret\n", ":2:8:"),
        "bad_field.yml": ("tls_server_config:\n  cert_file: c\n  key_file: k\n  nope: 1\n",
                          ":4:3:"),
        "bad_header.yml": ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
                           ":3:22:"),
        "client_certs.yml": ("tls_server_config:\n  cert_file: c\n  key_file: k\n"
                             "  client_auth_type: RequireAndVerifyClientCert\n", ":2:3:"),
        "top.yml": ("basic_auth: {}\n", ":1:1:"),
        "twice.yml": ("rate_limit:\n  burst: 1\nrate_limit:\n  burst: 2\n", ":3:1:"),
    }
    r = subprocess.run([odin, "check", "web-config", good], capture_output=True, text=True)
    check(r.returncode == 0 and (good + " SUCCESS") in r.stdout,
          "check web-config accepts a good file: %d %r" % (r.returncode, r.stdout + r.stderr))
    for name, (text, where) in cases.items():
        path = os.path.join(TMP, name)
        write(path, text)
        r = subprocess.run([odin, "check", "web-config", path], capture_output=True, text=True)
        check(r.returncode == 1 and (path + where) in r.stderr,
              "%s rejected naming %s: %d %r" % (name, where, r.returncode, r.stderr))
    # the agent refuses to start on a bad file, naming it
    r = subprocess.run([odin, "agent", "--web.listen-address=127.0.0.1:0",
                        "--web.config.file=" + os.path.join(TMP, "bad_hash.yml")],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "bad_hash.yml:2:8" in r.stderr,
          "agent refuses a bad web config: %d %r" % (r.returncode, r.stderr[-300:]))


def main():
    global TMP
    odin = odintest.odin_bin()
    TMP = odintest.tempdir("odin-webcfg-")
    test_check_web_config(odin)
    test_agent_basic_auth(odin)
    test_rate_limit(odin)
    if shutil.which("openssl"):
        test_server_tls(odin)
    else:
        failures.append("openssl is not installed: the TLS case cannot run (scripts/setup "
                        "installs it)")
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("ok")


TMP = None
if __name__ == "__main__":
    main()

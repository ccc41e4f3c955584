#!/usr/bin/env python3
"""/federate, /api/v1/metadata, /api/v1/targets/metadata and /api/v1/status/tsdb of `odin server`
scraping `odin agent` and a fixed exposition file; when Debian's prometheus is installed it
scrapes the same targets with the same config and the answers are compared structurally (values
of changing metrics and timestamps aside)."""
import json
import os
import shutil
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

FIXED = """# HELP fixed_requests_total Requests served.\\nSecond line with \\\\ backslash.
# TYPE fixed_requests_total counter
fixed_requests_total{code="200",path="/a"} 12
fixed_requests_total{code="500",path="/a"} 1e+06
# HELP fixed_temp_celsius Temperature.
# TYPE fixed_temp_celsius gauge
fixed_temp_celsius{sensor="a b\\"c"} -3.25
fixed_temp_celsius{sensor="nan"} NaN
fixed_temp_celsius{sensor="inf"} +Inf
# TYPE fixed_untyped untyped
fixed_untyped{instance="own"} 0.000123
fixed_help_only 7
# HELP fixed_help_only Only a help line.
"""


def get(proc, path, **params):
    url = proc.url(path)
    if params:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    return odintest.http_get(url)


def api(proc, path, **params):
    _, _, body = get(proc, path, **params)
    doc = json.loads(body)
    if doc.get("status") != "success":
        raise AssertionError("%s: %s" % (path, body[:300]))
    return doc["data"]


def wait_for(what, fn, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - polls until the server answers
            last = e
        time.sleep(0.3)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def parse_federate(text):
    """[(family, [(labels-as-written, value, has_ts)])] in output order; TYPE lines checked."""
    fams = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert typ == "untyped", line
            fams.append((name, []))
            continue
        assert not line.startswith("#"), line
        head, _, rest = line.rpartition("} ")
        name, _, labels = head.partition("{")
        value, ts = rest.split(" ")
        assert fams and fams[-1][0] == name, line
        int(ts)
        fams[-1][1].append((labels, value))
    return fams


def shape(fams, keep_values):
    """Families in order, each a sorted list of its lines (labels, and values of fixed_*)."""
    out = []
    for name, lines in fams:
        vals = keep_values and name.startswith("fixed_")
        out.append((name, sorted((lb, v if vals else "") for lb, v in lines)))
    return out


class Server(odintest.Process):
    def __init__(self, odin, config, data):
        port = odintest.free_port()
        argv = [odin, "server", "--config.file=" + config, "--storage.tsdb.path=" + data,
                "--web.listen-address=127.0.0.1:%d" % port]
        super().__init__(argv, port, "/-/ready")


class Prometheus(odintest.Process):
    def __init__(self, config, data):
        port = odintest.free_port()
        argv = [PROMETHEUS, "--config.file=" + config, "--storage.tsdb.path=" + data,
                "--web.listen-address=127.0.0.1:%d" % port]
        super().__init__(argv, port, "/-/ready")


def check_odin(srv, problems):
    status, headers, body = get(srv, "/federate")
    if status != 200 or body != b"":
        problems.append("no match[]: %d %r" % (status, body[:100]))
    try:
        get(srv, "/federate", **{"match[]": "{"})
        problems.append("bad match[] was accepted")
    except Exception as e:  # noqa: BLE001
        if getattr(e, "code", 0) != 400:
            problems.append("bad match[]: %r" % e)
    status, headers, body = get(srv, "/federate", **{"match[]": "{job=\"fixed\"}"})
    ctype = headers.get("Content-Type", "")
    if ctype != "text/plain; version=0.0.4; charset=utf-8":
        problems.append("federate content type %r" % ctype)
    text = body.decode()
    for want in (',job="fixed",sensor="a b\\"c",site="test"} -3.25 ',
                 'fixed_requests_total{code="500",instance="',
                 'fixed_untyped{exported_instance="own",instance="', 'site="test"} 0.000123 ',
                 ' 1e+06 ', ' NaN ', ' +Inf '):
        if want not in text:
            problems.append("federate lacks %r:\n%s" % (want, text[:2000]))
    md = api(srv, "/api/v1/metadata")
    want = {"fixed_requests_total": [{"type": "counter",
                                      "help": "Requests served.\nSecond line with \\ backslash.",
                                      "unit": ""}],
            "fixed_help_only": [{"type": "unknown", "help": "Only a help line.", "unit": ""}],
            "fixed_untyped": [{"type": "unknown", "help": "", "unit": ""}]}
    for k, v in want.items():
        if md.get(k) != v:
            problems.append("metadata %s: %r, want %r" % (k, md.get(k), v))
    if "up" in md or api(srv, "/api/v1/metadata", metric="up") != {}:
        problems.append("metadata has up")
    tm = api(srv, "/api/v1/targets/metadata", match_target='{job="fixed"}',
             metric="fixed_temp_celsius")
    if tm != [{"target": tm[0]["target"] if tm else None, "type": "gauge", "help": "Temperature.",
               "unit": ""}] or "metric" in (tm[0] if tm else {}):
        problems.append("targets/metadata: %r" % tm)


def compare_tsdb_status(a, b, prom_version, problems):
    """The head's cardinality as both count it: equal totals, and in each top-10 list the same
    values, with the same names above the lowest value (Prometheus orders ties at random).
    memoryInBytesByLabelName is Prometheus 2.45's (bytes of each value times its series); before
    2.45 Prometheus summed the bytes of the distinct values, so it is compared from 2.45 on."""
    for k in ("numSeries", "numLabelPairs"):
        if a["headStats"][k] != b["headStats"][k]:
            problems.append("status/tsdb %s: odin %r, prometheus %r" %
                            (k, a["headStats"][k], b["headStats"][k]))
    keys = ["seriesCountByMetricName", "labelValueCountByLabelName", "seriesCountByLabelValuePair"]
    if prom_version >= (2, 45):
        keys.append("memoryInBytesByLabelName")
    for k in keys:
        va, vb = [e["value"] for e in a[k]], [e["value"] for e in b[k]]
        low = min(va + vb) if va + vb else 0
        na = {e["name"]: e["value"] for e in a[k] if e["value"] > low}
        nb = {e["name"]: e["value"] for e in b[k] if e["value"] > low}
        if va != vb or na != nb:
            problems.append("status/tsdb %s differs:\nodin %s\nprom %s" % (k, a[k], b[k]))


def compare(srv, prom, problems):
    for path, params in (("/api/v1/metadata", {}),
                         ("/api/v1/metadata", {"metric": "fixed_temp_celsius"}),
                         ("/api/v1/metadata", {"limit": "2"})):
        a, b = api(srv, path, **params), api(prom, path, **params)
        if params.get("limit"):
            a, b = len(a), len(b)
        if a != b:
            problems.append("%s %r differs:\nodin %s\nprom %s" % (path, params, str(a)[:1500],
                                                                 str(b)[:1500]))

    def tmkey(x):
        return json.dumps(x, sort_keys=True)
    a = sorted(map(tmkey, api(srv, "/api/v1/targets/metadata")))
    b = sorted(map(tmkey, api(prom, "/api/v1/targets/metadata")))
    if a != b:
        diff = sorted(set(a) ^ set(b))[:10]
        problems.append("targets/metadata differs: %s" % "\n".join(diff))
    version = tuple(int(x) for x in
                    api(prom, "/api/v1/status/buildinfo")["version"].split(".")[:2])
    compare_tsdb_status(api(srv, "/api/v1/status/tsdb"), api(prom, "/api/v1/status/tsdb"),
                        version, problems)
    for sel in ('{job=~"fixed|agent"}', '{__name__=~"fixed_.*|up"}', 'up'):
        q = {"match[]": [sel, '{__name__="up"}']}
        fa = shape(parse_federate(get(srv, "/federate", **q)[2].decode()), True)
        fb = shape(parse_federate(get(prom, "/federate", **q)[2].decode()), True)
        if fa != fb:
            na, nb = [f[0] for f in fa], [f[0] for f in fb]
            if na != nb:
                problems.append("federate %s families differ:\nodin %s\nprom %s" % (sel, na, nb))
            for x, y in zip(fa, fb):
                if x != y:
                    problems.append("federate %s family %s differs:\nodin %s\nprom %s" %
                                    (sel, x[0], x[1][:5], y[1][:5]))
                    break


def main():
    odin = odintest.odin_bin()
    work = odintest.tempdir("odin-federate-")
    fixed, fixed_port = odintest.serve_text(lambda: FIXED)
    problems = []
    with odintest.Agent(odin, ["agent"]) as agent:
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global: {scrape_interval: 1s, external_labels: {site: test}}\n"
                    "scrape_configs:\n"
                    "  - job_name: agent\n"
                    "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                    "  - job_name: fixed\n"
                    "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                    % (agent.port, fixed_port))
        with Server(odin, config, os.path.join(work, "odin")) as srv:
            wait_for("odin scrapes", lambda: "fixed_temp_celsius" in api(srv, "/api/v1/metadata"))
            check_odin(srv, problems)
            if os.path.exists(PROMETHEUS):
                with Prometheus(config, os.path.join(work, "prom")) as prom:
                    wait_for("prometheus scrapes",
                             lambda: "fixed_temp_celsius" in api(prom, "/api/v1/metadata"))
                    time.sleep(2.5)
                    compare(srv, prom, problems)
            else:
                print("note: %s absent, no comparison with Prometheus" % PROMETHEUS)
            if srv.stop() not in (0, None):
                problems.append("server exit code %r:\n%s" % (srv.proc.returncode, srv.output()))
    fixed.shutdown()
    for p in problems:
        print("FAIL: " + p)
    if problems:
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

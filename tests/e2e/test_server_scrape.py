#!/usr/bin/env python3
"""`odin server` scrapes `odin agent`, Debian's node_exporter and a target that goes down and comes
back; /api/v1/targets shows health and lastError as Prometheus would, `up` goes 1 -> 0 -> 1, stale
markers end the vanished target's series, the seed's checks answer, libcurl is never loaded for
plain-HTTP targets, and data survives a restart."""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"


def api(server, path, **params):
    url = server.url(path)
    if params:
        url += "?" + urllib.parse.urlencode(params)
    status, _, body = odintest.http_get(url)
    doc = json.loads(body)
    if doc.get("status") != "success":
        raise AssertionError("%s: %s" % (path, body[:300]))
    return doc["data"]


def query(server, q):
    return api(server, "/api/v1/query", query=q)["result"]


def wait_for(what, fn, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - a test polls until the server answers
            last = e
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class Server(odintest.Process):
    def __init__(self, odin, config, data):
        port = odintest.free_port()
        argv = [odin, "server", "--config.file=" + config, "--storage.tsdb.path=" + data,
                "--web.listen-address=127.0.0.1:%d" % port, "--web.enable-lifecycle"]
        super().__init__(argv, port, "/-/ready")


def main():
    odin = odintest.odin_bin()
    work = odintest.tempdir("odin-server-")
    data = os.path.join(work, "data")
    problems = []
    checks = 0

    flaky_port = odintest.free_port()
    ne_port = odintest.free_port()
    have_ne = os.path.exists(NODE_EXPORTER)
    with odintest.Agent(odin, ["agent", "--collector.disable-defaults", "--collector.loadavg",
                               "--collector.meminfo", "--collector.cpu"]) as agent:
        targets = ["127.0.0.1:%d" % agent.port]
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\n"
                    "scrape_configs:\n"
                    "  - job_name: odin-agent\n    static_configs:\n"
                    "      - targets: ['%s']\n" % targets[0])
            f.write("  - job_name: flaky\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % flaky_port)
            if have_ne:
                f.write("  - job_name: node-exporter\n    static_configs:\n"
                        "      - targets: ['127.0.0.1:%d']\n" % ne_port)
        ne = None
        if have_ne:
            ne = odintest.Process([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % ne_port,
                                   "--collector.disable-defaults", "--collector.loadavg"],
                                  ne_port, "/metrics")
            ne.__enter__()
        try:
            with Server(odin, config, data) as srv:
                # the seed's first check
                status, _, body = odintest.http_get(srv.url("/-/healthy"))
                checks += 1
                if status != 200:
                    problems.append("/-/healthy answered %d" % status)

                def health(job):
                    for t in api(srv, "/api/v1/targets")["activeTargets"]:
                        if t["labels"].get("job") == job:
                            return t
                    return None

                agent_t = wait_for("agent target up",
                                   lambda: (health("odin-agent") or {}).get("health") == "up"
                                   and health("odin-agent"))
                checks += 1
                if agent_t["scrapeUrl"] != "http://%s/metrics" % targets[0]:
                    problems.append("scrapeUrl %r" % agent_t["scrapeUrl"])
                flaky = wait_for("flaky target down",
                                 lambda: (health("flaky") or {}).get("health") == "down"
                                 and health("flaky"))
                checks += 1
                if "connection refused" not in flaky["lastError"] and \
                        "Connection refused" not in flaky["lastError"]:
                    problems.append("flaky lastError: %r" % flaky["lastError"])
                if not flaky["lastError"].startswith('Get "http://127.0.0.1:%d/metrics"'
                                                     % flaky_port):
                    problems.append("lastError lacks Prometheus' prefix: %r" % flaky["lastError"])
                # the seed's second check: every target listed
                n = len(api(srv, "/api/v1/targets")["activeTargets"])
                checks += 1
                if n != (3 if have_ne else 2):
                    problems.append("activeTargets: %d" % n)
                # up 0 for the down target, 1 for the agent
                checks += 1
                up = {r["metric"]["job"]: r["value"][1] for r in
                      wait_for("up series", lambda: len(query(srv, "up")) >= 2 and query(srv, "up"))}
                if up.get("odin-agent") != "1" or up.get("flaky") != "0":
                    problems.append("up: %r" % up)
                if have_ne:
                    checks += 1
                    wait_for("node_exporter up",
                             lambda: (health("node-exporter") or {}).get("health") == "up")
                    r = wait_for("node_exporter's load",
                                 lambda: query(srv, 'node_load1{job="node-exporter"}'))
                    if not r:
                        problems.append("no node_load1 from node_exporter")
                # the flaky target comes up
                flaky_srv = odintest.Agent(odin, ["agent", "--collector.disable-defaults",
                                                  "--collector.loadavg"])
                flaky_srv.port = flaky_port
                flaky_srv.argv[-1] = "--web.listen-address=127.0.0.1:%d" % flaky_port
                with flaky_srv:
                    checks += 1
                    wait_for("flaky up", lambda: (health("flaky") or {}).get("health") == "up")
                    wait_for("flaky up=1", lambda: any(r["value"][1] == "1" for r in
                                                       query(srv, 'up{job="flaky"}')))
                    wait_for("flaky load1",
                             lambda: query(srv, 'node_load1{job="flaky"}'))
                # it went away again: its series end with a stale marker, so an instant query
                # no longer returns them though the lookback window still covers old samples
                checks += 1
                wait_for("flaky down again", lambda: (health("flaky") or {}).get("health") == "down")
                time.sleep(1.5)
                if query(srv, 'node_load1{job="flaky"}'):
                    problems.append("node_load1 of the vanished target is not stale")
                # synthetic series
                checks += 1
                for name in ("scrape_duration_seconds", "scrape_samples_scraped",
                             "scrape_samples_post_metric_relabeling", "scrape_series_added"):
                    if not query(srv, '%s{job="odin-agent"}' % name):
                        problems.append("missing %s" % name)
                # every target is plain HTTP at an IP address: Odin's own client scraped them
                # all, so libcurl (and the TLS libraries it pulls in) was never loaded
                checks += 1
                with open("/proc/%d/maps" % srv.proc.pid) as f:
                    maps = f.read()
                if "libcurl" in maps:
                    problems.append("libcurl is mapped though no scrape needed it")
                # a range query over what was scraped
                checks += 1
                now = time.time()
                rng = api(srv, "/api/v1/query_range", query='up{job="odin-agent"}',
                          start=str(now - 30), end=str(now), step="1")
                if rng["resultType"] != "matrix" or not rng["result"] or \
                        len(rng["result"][0]["values"]) < 3:
                    problems.append("range query: %r" % rng)
                before = query(srv, 'count_over_time(up{job="odin-agent"}[1h])')
            # data persists across a restart
            checks += 1
            with Server(odin, config, data) as srv:
                after = wait_for("data after restart",
                                 lambda: query(srv, 'count_over_time(up{job="odin-agent"}[1h])'))
                if not before or float(after[0]["value"][1]) < float(before[0]["value"][1]):
                    problems.append("after restart: %r before %r" % (after, before))
        finally:
            if ne:
                ne.__exit__(None, None, None)
    for p in problems:
        print("FAIL: " + p)
    print("%d passed, %d failed" % (checks - len(problems), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

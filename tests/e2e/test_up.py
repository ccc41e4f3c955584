#!/usr/bin/env python3
"""`odin up`: the quick start runs the server and an in-process agent, scrapes both, and keeps its
data in ./data of the directory it was started in."""
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402


def main():
    odin = odintest.odin_bin()
    work = odintest.tempdir("odin-up-")
    port, agent_port = odintest.free_port(), odintest.free_port()
    # wildcard listen addresses, as the defaults are: the targets become localhost:PORT
    argv = [odin, "up", "--web.listen-address=:%d" % port,
            "--agent.web.listen-address=:%d" % agent_port]
    problems = []
    with odintest.Process(argv, port, "/-/ready", cwd=work) as up:
        deadline = time.time() + 40
        health = {}
        while time.time() < deadline:
            doc = json.loads(odintest.http_get(up.url("/api/v1/targets"))[2])
            health = {t["labels"]["job"]: t["health"] for t in doc["data"]["activeTargets"]}
            if health and all(h == "up" for h in health.values()):
                break
            time.sleep(0.5)
        if health != {"prometheus": "up", "node-exporter": "up"}:
            problems.append("targets: %r" % health)
        q = urllib.parse.urlencode({"query": 'node_memory_MemTotal_bytes{job="node-exporter"}'})
        doc = json.loads(odintest.http_get(up.url("/api/v1/query?" + q))[2])
        if not doc["data"]["result"]:
            problems.append("no node_memory_MemTotal_bytes")
        status, _, body = odintest.http_get("http://127.0.0.1:%d/metrics" % agent_port)
        if status != 200 or b"node_load1" not in body:
            problems.append("agent /metrics: %d" % status)
        doc = json.loads(odintest.http_get(up.url("/api/v1/targets"))[2])
        instances = sorted(t["labels"]["instance"] for t in doc["data"]["activeTargets"])
        if instances != sorted(["localhost:%d" % port, "localhost:%d" % agent_port]):
            problems.append("instances: %r" % instances)
        # localhost is the loopback address to Odin's own client: libcurl (and the TLS
        # libraries it pulls in) is not loaded for the embedded targets
        with open("/proc/%d/maps" % up.proc.pid) as f:
            if "libcurl" in f.read():
                problems.append("libcurl is mapped though no scrape needed it")
    if not os.path.isdir(os.path.join(work, "data", "wal")):
        problems.append("no ./data/wal")
    for p in problems:
        print("FAIL: " + p)
    print("%d passed, %d failed" % (4 - len(problems), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Moving between Prometheus 2.42 and Odin on the same data directory, both ways.

1. Prometheus scrapes `odin agent` every second with 20s blocks (the hidden
   --storage.tsdb.min-block-duration flag), so its directory holds blocks, a WAL with a checkpoint
   and m-mapped head chunks. A query set is answered by Prometheus, Prometheus is stopped, and
   `odin server` on the same directory must answer the same (labels, values, timestamps); nothing
   Odin could not read may be gone from the directory afterwards.
2. `odin server` scrapes the agent with 20s blocks and external labels, answers the query set and is
   stopped; promtool tsdb analyze and dump read its directory (dump equals `odin tsdb dump`, blocks
   carry the thanos section, the WAL holds snappy records), and Prometheus 2.42 started on it
   answers the same as Odin did, replaying that WAL.

Skips (77) when prometheus or promtool is missing."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

PROMETHEUS = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
PROMTOOL = os.environ.get("PROMTOOL_BIN", "/usr/bin/promtool")
SCRAPE_SECONDS = float(os.environ.get("MIGRATION_SCRAPE_SECONDS", "50"))
BLOCK = "20s"

INSTANT = [
    "up",
    "count(up)",
    "scrape_samples_scraped",
    "timestamp(up)",
    "node_load1",
    "rate(node_cpu_seconds_total[15s])",
    "sum by (mode) (rate(node_cpu_seconds_total[15s]))",
    "count_over_time(up[10m])",
    "count_over_time(node_cpu_seconds_total[10m])",
    "max_over_time(node_memory_MemFree_bytes[10m])",
    "{job=\"agent\"}[10m]",  # every raw sample of the run
]
RANGE = [
    "up",
    "sum by (mode) (rate(node_cpu_seconds_total[10s]))",
    "count_over_time(node_load1[5s])",
    "node_memory_MemFree_bytes",
]


def prometheus_present():
    return os.path.exists(PROMETHEUS) and os.path.exists(PROMTOOL)


def write_config(path, target, external=None):
    lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s"]
    if external:
        lines.append("  external_labels:")
        lines += ["    %s: %s" % kv for kv in sorted(external.items())]
    if target:
        lines += ["scrape_configs:", "  - job_name: agent", "    static_configs:",
                  "      - targets: ['%s']" % target]
    else:
        lines.append("scrape_configs: []")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def prometheus(config, data, extra=()):
    port = odintest.free_port()
    argv = [PROMETHEUS, "--config.file=" + config, "--storage.tsdb.path=" + data,
            "--web.listen-address=127.0.0.1:%d" % port] + list(extra)
    return odintest.Process(argv, port, "/-/ready")


def odin_server(odin, config, data, extra=()):
    port = odintest.free_port()
    argv = [odin, "server", "--config.file=" + config, "--storage.tsdb.path=" + data,
            "--web.listen-address=127.0.0.1:%d" % port] + list(extra)
    return odintest.Process(argv, port, "/-/ready")


def api(proc, path, params):
    url = proc.url(path) + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        _, _, body = odintest.http_get(url, timeout=30)
    except urllib.error.HTTPError as e:
        raise AssertionError("%s: HTTP %d: %s" % (url, e.code, e.read()[:300]))
    doc = json.loads(body)
    if doc.get("status") != "success":
        raise AssertionError("%s: %s" % (url, body[:300]))
    return doc["data"]


def normalize(data):
    """Orders what the API leaves unordered: vector and matrix elements, series lists."""
    if isinstance(data, dict) and "result" in data:
        res = data["result"]
        if isinstance(res, list):
            res = sorted(res, key=lambda e: json.dumps(e.get("metric"), sort_keys=True))
        return {"resultType": data["resultType"], "result": res}
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return sorted(data, key=lambda e: json.dumps(e, sort_keys=True))
    return data


def query_set(proc, start, end):
    """{name: normalized answer} for instant queries at three times, range queries and the
    metadata endpoints over [start, end] (seconds, end = the last scrape).

    Every evaluation time sits 0.3 s after a scrape, so no range window starts exactly on a
    sample: Prometheus 2.42 includes a sample on the left edge of a range, 3.x and Odin do not."""
    out = {}
    n = int(end - start)
    first = end - n + 0.3
    for q in INSTANT:
        for t in (end + 0.3, end - n // 2 + 0.3, first + 12):
            out["query %s @%.3f" % (q, t)] = normalize(api(proc, "/api/v1/query",
                                                           {"query": q, "time": "%.3f" % t}))
    start = first
    for q in RANGE:
        out["query_range " + q] = normalize(api(proc, "/api/v1/query_range", {
            "query": q, "start": "%.3f" % start, "end": "%.3f" % end, "step": "2"}))
    span = {"start": "%.3f" % start, "end": "%.3f" % end}
    out["labels"] = api(proc, "/api/v1/labels", span)
    for name in ("__name__", "mode", "job"):
        out["label " + name] = api(proc, "/api/v1/label/%s/values" % name, span)
    out["series"] = normalize(api(proc, "/api/v1/series",
                                  dict(span, **{"match[]": ["up", "node_load1"]})))
    return out


def last_sample_time(proc):
    res = api(proc, "/api/v1/query", {"query": "max(timestamp(up))"})["result"]
    if not res:
        raise AssertionError("no up samples yet")
    return float(res[0]["value"][1])


def compare(name_a, a, name_b, b):
    bad = [k for k in a if a[k] != b.get(k)]
    for k in bad[:5]:
        print("MISMATCH %s\n  %s: %s\n  %s: %s" % (k, name_a, json.dumps(a[k])[:600], name_b,
                                                  json.dumps(b.get(k))[:600]))
    if bad:
        raise AssertionError("%d of %d answers differ between %s and %s" % (len(bad), len(a),
                                                                              name_a, name_b))
    samples = sum(len(s["values"]) for k, v in a.items() if k.startswith("query {job")
                  for s in v["result"])
    print("ok: %d answers equal (%d raw samples compared)" % (len(a), samples))


def tree(path):
    out = set()
    for root, _, files in os.walk(path):
        for f in files:
            out.add(os.path.relpath(os.path.join(root, f), path))
    return out


def wait_scraping(proc, seconds):
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            last_sample_time(proc)
            break
        except AssertionError:
            time.sleep(0.5)
    time.sleep(seconds)


def prometheus_to_odin(odin, agent, work):
    data = os.path.join(work, "prom-data")
    cfg = os.path.join(work, "prom.yml")
    write_config(cfg, "127.0.0.1:%d" % agent.port)
    flags = ["--storage.tsdb.min-block-duration=" + BLOCK,
             "--storage.tsdb.max-block-duration=" + BLOCK]
    start = time.time()
    with prometheus(cfg, data, flags) as prom:
        wait_scraping(prom, SCRAPE_SECONDS)
        end = last_sample_time(prom)
        want = query_set(prom, start, end)
    before = tree(data)
    blocks = [d for d in os.listdir(data) if len(d) == 26]
    print("prometheus wrote %d blocks; wal: %s; chunks_head: %s" % (
        len(blocks), sorted(os.listdir(os.path.join(data, "wal"))),
        sorted(os.listdir(os.path.join(data, "chunks_head")))))
    empty = os.path.join(work, "empty.yml")
    write_config(empty, None)
    with odin_server(odin, empty, data) as srv:
        got = query_set(srv, start, end)
        log = srv.output()
    if "WAL replay completed" not in log:
        raise AssertionError("odin did not replay the WAL:\n" + log)
    print("\n".join(l for l in log.splitlines() if "component=tsdb" in l))
    compare("prometheus", want, "odin", got)
    after = tree(data)
    gone = sorted(p for p in before - after
                  if not (p.startswith("chunks_head/") and os.path.exists(
                      os.path.join(data, "chunks_head.from-prometheus", p[len("chunks_head/"):]))))
    if gone:
        raise AssertionError("odin removed files from the Prometheus directory: %s" % gone)
    if not blocks:
        print("note: Prometheus cut no block within the run; only the WAL path was covered")


def dump_lines(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("%s failed: %s" % (argv, r.stderr[-2000:]))
    return sorted(l for l in r.stdout.splitlines() if l.strip())


def wal_records(data):
    """(snappy, plain) record counts over the WAL's segments and checkpoints, from the fragment
    headers (docs/format/wal.md): a record starts with a full (1) or first (2) fragment."""
    counts = [0, 0]
    for root, _, files in os.walk(os.path.join(data, "wal")):
        for name in files:
            if not name.isdigit():
                continue
            with open(os.path.join(root, name), "rb") as f:
                seg = f.read()
            off = 0
            while off + 7 <= len(seg):
                t = seg[off]
                if t == 0:
                    off = (off // 32768 + 1) * 32768
                    continue
                if t & 7 in (1, 2):
                    counts[0 if t & 8 else 1] += 1
                off += 7 + (seg[off + 1] << 8 | seg[off + 2])
    return counts


def odin_to_prometheus(odin, agent, work):
    data = os.path.join(work, "odin-data")
    cfg = os.path.join(work, "odin.yml")
    write_config(cfg, "127.0.0.1:%d" % agent.port, {"cluster": "c1", "replica": "a"})
    flags = ["--storage.tsdb.min-block-duration=" + BLOCK,
             "--storage.tsdb.max-block-duration=" + BLOCK]
    start = time.time()
    with odin_server(odin, cfg, data, flags) as srv:
        # the compactor runs once a minute: stay past its first run so blocks are cut
        wait_scraping(srv, max(SCRAPE_SECONDS, 65))
        end = last_sample_time(srv)
        want = query_set(srv, start, end)
    blocks = sorted(d for d in os.listdir(data) if len(d) == 26)
    if not blocks:
        raise AssertionError("odin cut no block in %s" % os.listdir(data))
    for b in blocks:
        with open(os.path.join(data, b, "meta.json")) as f:
            meta = json.load(f)
        thanos = meta.get("thanos", {})
        if thanos.get("labels") != {"cluster": "c1", "replica": "a"} or \
                thanos.get("downsample") != {"resolution": 0}:
            raise AssertionError("%s/meta.json: thanos section %r" % (b, thanos))
    print("odin wrote %d blocks with the thanos section" % len(blocks))
    # Prometheus must replay Odin's snappy records (written by default, as Prometheus does)
    snappy, plain = wal_records(data)
    if snappy == 0:
        raise AssertionError("no snappy-compressed WAL record in %s (%d plain)" % (data, plain))
    print("odin's WAL: %d snappy records, %d plain" % (snappy, plain))
    r = subprocess.run([PROMTOOL, "tsdb", "analyze", data], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0 or "Block ID" not in r.stdout:
        raise AssertionError("promtool tsdb analyze failed: %s%s" % (r.stdout[-1000:], r.stderr))
    theirs = dump_lines([PROMTOOL, "tsdb", "dump", data])
    ours = dump_lines([odin, "tsdb", "dump", data])
    if theirs != ours:
        diff = sorted(set(theirs) ^ set(ours))[:10]
        raise AssertionError("promtool dump (%d lines) != odin tsdb dump (%d lines): %s" % (
            len(theirs), len(ours), diff))
    print("ok: promtool tsdb dump == odin tsdb dump (%d samples)" % len(ours))
    empty = os.path.join(work, "empty.yml")
    write_config(empty, None)
    with prometheus(empty, data) as prom:
        got = query_set(prom, start, end)
    compare("odin", want, "prometheus", got)


def main():
    if not prometheus_present():
        odintest.skip("prometheus or promtool is not installed")
    odin = odintest.odin_bin()
    work = odintest.tempdir("odin-migration-")
    flags = odintest.agent_flags(odin)
    args = ["agent"]
    if "collector.disable-defaults" in flags:
        args.append("--collector.disable-defaults")
        args += ["--collector." + c for c in ("cpu", "loadavg", "meminfo", "stat")
                 if "collector." + c in flags]
    with odintest.Agent(odin, args) as agent:
        prometheus_to_odin(odin, agent, work)
        odin_to_prometheus(odin, agent, work)
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("FAIL: %s" % e)
        sys.exit(1)

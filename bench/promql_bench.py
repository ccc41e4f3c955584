#!/usr/bin/env python3
"""bench/promql: Odin's PromQL engine and API side by side with Debian's Prometheus 2.42 on the
same backfilled data, in one run. Generates one OpenMetrics file, backfills it with `promtool tsdb
create-blocks-from openmetrics` and `odin tsdb import`, starts both servers on loopback, and times
each query N times through the HTTP API.

Cases (the goals from the PromQL issue):
- `sum by (host) (rate(gpu_metric_1[5m]))` over 4000 series, instant (Prometheus: 18-29 ms)
- `count({__name__=~"gpu_metric_.*"})` over 200k series, instant, with the RSS it adds
- 1 h range queries at 15 s step: the DCGM dashboard's panels and Node Exporter Full's top panels
Latency is the client's wall time from sending the POST to having read the whole answer; the
client's JSON decoding is left out unless --with-parse. Reports median latency per case,
Odin/Prometheus ratios, and the RSS added by a case (peak RSS
during its runs, VmHWM reset through /proc/PID/clear_refs, minus RSS before), as Markdown.

usage: bench/promql_bench.py [--runs N] [--hosts H] [--out FILE] [--only TEXT] [--data DIR]
                             [--odin-only] [--with-parse]
   ODIN_BIN=build/odin by default; --out appends the Markdown table to FILE. --data DIR keeps the
   backfilled blocks in DIR and reuses them on later runs (each run works on a copy, so the servers
   never change the kept data); --odin-only skips Prometheus (for quick iterations: no ratios)."""
import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import odintest  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
STEP = 15
GPUS = 8
BIG_NAMES = 50          # gpu_metric_0..49 x hosts x 8 gpus = 200k series at 500 hosts
DCGM_NODES = 32
NODE_NODES = 20
NODE_CPUS = 16
CPU_MODES = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]


def gen(path, t_end, hosts, seed=7):
    """Writes the OpenMetrics file; returns its sample count."""
    rnd = random.Random(seed)
    n = 0
    with open(path, "w") as f:
        w = f.write
        # 200k-series set: 2 minutes of samples (enough for an instant selector); gpu_metric_1
        # gets 10 minutes so rate(...[5m]) has data
        for m in range(BIG_NAMES):
            w("# TYPE gpu_metric_%d gauge\n" % m)
            span = 600 if m == 1 else 120
            for h in range(hosts):
                for g in range(GPUS):
                    ls = ('gpu_metric_%d{host="host%03d",gpu="%d",uuid="GPU-%03d-%d",'
                          'model="H100",job="gpu",instance="host%03d:9400"}' % (m, h, g, h, g, h))
                    v = rnd.uniform(0, 1000)
                    for t in range(t_end - span + STEP, t_end + 1, STEP):
                        v += rnd.uniform(0, 10)
                        w("%s %.3f %d\n" % (ls, v, t))
                        n += 1
        # DCGM: 75 minutes for 32 nodes x 8 GPUs
        for name, lo, hi in (("DCGM_FI_DEV_GPU_TEMP", 30, 90), ("DCGM_FI_DEV_GPU_UTIL", 0, 100),
                             ("DCGM_FI_DEV_POWER_USAGE", 60, 700),
                             ("DCGM_FI_DEV_FB_USED", 0, 80000), ("DCGM_FI_DEV_FB_FREE", 0, 80000),
                             ("DCGM_FI_DEV_SM_CLOCK", 200, 1980)):
            w("# TYPE %s gauge\n" % name)
            for h in range(DCGM_NODES):
                for g in range(GPUS):
                    ls = ('%s{gpu="%d",UUID="GPU-%02d-%d",device="nvidia%d",modelName="NVIDIA H100",'
                          'Hostname="node%02d",instance="node%02d:9400",job="dcgm"}'
                          % (name, g, h, g, g, h, h))
                    v = rnd.uniform(lo, hi)
                    for t in range(t_end - 75 * 60 + STEP, t_end + 1, STEP):
                        v = min(hi, max(lo, v + rnd.uniform(-1, 1) * (hi - lo) / 40))
                        w("%s %d %d\n" % (ls, int(v), t) if name != "DCGM_FI_DEV_POWER_USAGE"
                          else "%s %.3f %d\n" % (ls, v, t))
                        n += 1
        n += gen_node(w, rnd, t_end)
        w("# EOF\n")
    return n


def gen_node(w, rnd, t_end):
    """Node Exporter Full's top-panel metrics for NODE_NODES nodes, 75 minutes."""
    n = 0
    times = list(range(t_end - 75 * 60 + STEP, t_end + 1, STEP))

    def series(name, labels, kind, lo, hi):
        nonlocal n
        for node in range(NODE_NODES):
            for ls in labels:
                full = dict(ls, instance="node%02d:9100" % node, job="node")
                lab = ",".join('%s="%s"' % kv for kv in sorted(full.items()))
                v = rnd.uniform(lo, hi)
                for t in times:
                    if kind == "counter":
                        v += rnd.uniform(0, hi / 100)
                    else:
                        v = min(hi, max(lo, v + rnd.uniform(-1, 1) * (hi - lo) / 100))
                    w("%s{%s} %.3f %d\n" % (name, lab, v, t))
                    n += 1

    w("# TYPE node_cpu_seconds counter\n")
    series("node_cpu_seconds_total", [{"cpu": str(c), "mode": m} for c in range(NODE_CPUS)
                                      for m in CPU_MODES], "counter", 0, 15)
    for mem in ("MemTotal", "MemFree", "MemAvailable", "Cached", "Buffers", "SReclaimable",
                "SwapTotal", "SwapFree"):
        w("# TYPE node_memory_%s_bytes gauge\n" % mem)
        series("node_memory_%s_bytes" % mem, [{}], "gauge", 1e9, 6e10)
    w("# TYPE node_load1 gauge\n")
    series("node_load1", [{}], "gauge", 0, 16)
    fs = [{"device": "/dev/nvme0n1p%d" % i, "fstype": "ext4", "mountpoint": mp}
          for i, mp in enumerate(["/", "/data", "/boot"])]
    for name in ("node_filesystem_size_bytes", "node_filesystem_avail_bytes"):
        w("# TYPE %s gauge\n" % name)
        series(name, fs, "gauge", 1e10, 1e12)
    for d in ("receive", "transmit"):
        w("# TYPE node_network_%s_bytes counter\n" % d)
        series("node_network_%s_bytes_total" % d, [{"device": x} for x in ("eth0", "eth1", "lo")],
               "counter", 0, 1e8)
    return n


def panels(hosts):
    """(name, kind, expr) with kind 'instant' or 'range'; dashboard variables substituted as
    Grafana would for 'All' ($instance, $gpu), one node ($node, $job) and $__rate_interval = 1m
    (4 x the 15 s scrape interval, Grafana's floor for a 1 h range at 15 s)."""
    inst = "(" + "|".join("node%02d:9400" % h for h in range(DCGM_NODES)) + ")"
    gpu = "(" + "|".join(str(g) for g in range(GPUS)) + ")"
    sel = '{instance=~"%s", gpu=~"%s"}' % (inst, gpu)
    cases = [
        ("sum by (host) rate[5m], %d series" % (hosts * GPUS), "instant",
         "sum by (host) (rate(gpu_metric_1[5m]))"),
        ("count over %dk series" % (BIG_NAMES * hosts * GPUS // 1000), "instant",
         'count({__name__=~"gpu_metric_.*"})'),
        ("topk(5), %d series" % (hosts * GPUS), "instant", "topk(5, gpu_metric_3)"),
    ]
    for title, expr in (("GPU Temperature", "DCGM_FI_DEV_GPU_TEMP" + sel),
                        ("GPU Avg. Temp", "avg(DCGM_FI_DEV_GPU_TEMP%s)" % sel),
                        ("GPU Power Usage", "DCGM_FI_DEV_POWER_USAGE" + sel),
                        ("GPU Power Total", "sum(DCGM_FI_DEV_POWER_USAGE%s)" % sel),
                        ("GPU SM Clocks", "DCGM_FI_DEV_SM_CLOCK%s * 1000000" % sel),
                        ("GPU Utilization", "DCGM_FI_DEV_GPU_UTIL" + sel),
                        ("GPU Framebuffer Mem Used", "DCGM_FI_DEV_FB_USED" + sel),
                        ("GPU FB Used %", "DCGM_FI_DEV_FB_USED%s / (DCGM_FI_DEV_FB_USED%s + "
                         "DCGM_FI_DEV_FB_FREE%s) * 100" % (sel, sel, sel))):
        cases.append(("dcgm: " + title, "range", expr))
    n = '{instance="node03:9100",job="node"}'
    nm = n[:-1]
    for title, expr in (
            ("CPU Busy", '100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle",instance='
                         '"node03:9100",job="node"}[1m])))'),
            ("Sys Load", "scalar(node_load1%s) * 100 / count(count(node_cpu_seconds_total%s) "
                         "by (cpu))" % (n, n)),
            ("RAM Used", "clamp_min((1 - (node_memory_MemAvailable_bytes%s / "
                         "node_memory_MemTotal_bytes%s)) * 100, 0)" % (n, n)),
            ("Root FS Used", '((node_filesystem_size_bytes%s, mountpoint="/", fstype!="rootfs"} - '
                             'node_filesystem_avail_bytes%s, mountpoint="/", fstype!="rootfs"}) / '
                             'node_filesystem_size_bytes%s, mountpoint="/", fstype!="rootfs"}) * 100'
                             % (nm, nm, nm)),
            ("CPU Basic: system", 'avg(rate(node_cpu_seconds_total%s, mode="system"}[1m]))' % nm),
            ("CPU Basic: irqs", 'avg(sum without(mode) (rate(node_cpu_seconds_total%s, '
                                'mode=~".*irq"}[1m])))' % nm),
            ("Memory Basic: used", "node_memory_MemTotal_bytes%s - node_memory_MemFree_bytes%s - "
                                   "(node_memory_Cached_bytes%s + node_memory_Buffers_bytes%s + "
                                   "node_memory_SReclaimable_bytes%s)" % (n, n, n, n, n)),
            ("Network Traffic Basic", "rate(node_network_receive_bytes_total%s[1m])*8" % n),
            ("Disk Space Used Basic", "((node_filesystem_size_bytes%s, device!~'rootfs'} - "
                                      "node_filesystem_avail_bytes%s, device!~'rootfs'}) / "
                                      "node_filesystem_size_bytes%s, device!~'rootfs'}) * 100"
                                      % (nm, nm, nm))):
        cases.append(("node: " + title, "range", expr))
    return cases


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid):
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def post(base, path, params, with_parse=True):
    """The answer and the seconds from sending the request to having read the whole body (plus
    decoding its JSON when with_parse: the client's work, which Python does slowly enough to
    hide the servers' difference on 1 MB answers)."""
    req = urllib.request.Request(base + path, data=urllib.parse.urlencode(params).encode(),
                                 method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as r:
        body = r.read()
    t1 = time.perf_counter()
    ans = json.loads(body)
    t2 = time.perf_counter()
    if ans.get("status") != "success":
        raise RuntimeError("%s: %s" % (params["query"], ans))
    return ans, (t2 if with_parse else t1) - t0


def measure(proc, kind, expr, t_end, runs, with_parse):
    """(median seconds, RSS added in KiB, result size) of `runs` timed runs after one warm-up."""
    if kind == "instant":
        path, params = "/api/v1/query", {"query": expr, "time": t_end}
    else:
        path, params = "/api/v1/query_range", {"query": expr, "start": t_end - 3600,
                                               "end": t_end, "step": STEP}
    base = proc.url("")
    before = rss_kb(proc.proc.pid)
    peak_ok = reset_peak(proc.proc.pid)
    ans, _ = post(base, path, params)
    times = [post(base, path, params, with_parse)[1] for _ in range(runs)]
    peak = rss_kb(proc.proc.pid, "VmHWM" if peak_ok else "VmRSS")
    return statistics.median(times), max(0, peak - before), len(ans["data"]["result"])


class Server(odintest.Process):
    """A server that may need minutes to open its data (WAL replay): waits up to 10 minutes."""

    def __enter__(self):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 600
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited:\n%s" % (self.argv[0], self.output()))
            try:
                odintest.http_get(self.url(self.ready_path), timeout=2)
                return self
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("%s not ready:\n%s" % (self.argv[0], self.output()))


def backfill(odin, work, hosts, pdir, odir):
    """Generates the data and backfills both servers' directories; returns the end time (s)."""
    t_end = (int(time.time()) // 60) * 60 - 120
    om = os.path.join(work, "data.om")
    t0 = time.time()
    n = gen(om, t_end, hosts)
    print("generated %d samples (%.0f MB) in %.0fs" % (n, os.path.getsize(om) / 1e6,
                                                      time.time() - t0), flush=True)
    for argv in ([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", om, pdir],
                 [odin, "tsdb", "import", om, odir]):
        t0 = time.time()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        print("%s: %.0fs" % (" ".join(argv[:3]), time.time() - t0), flush=True)
    os.unlink(om)
    return t_end


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--hosts", type=int, default=500, help="hosts of 8 GPUs in the big set")
    ap.add_argument("--out", help="append the Markdown table to this file")
    ap.add_argument("--only", help="substring of the case names to run")
    ap.add_argument("--data", help="keep the backfilled data here and reuse it on later runs")
    ap.add_argument("--odin-only", action="store_true", help="measure Odin alone (no ratios)")
    ap.add_argument("--with-parse", action="store_true",
                    help="include the client's JSON decoding in the latency (the method of the "
                         "first bench/promql sections)")
    args = ap.parse_args()
    odin = os.path.abspath(os.environ.get("ODIN_BIN") or
                           os.path.join(odintest.source_dir(), "build", "odin"))
    work = odintest.tempdir("odin-promql-bench-")
    pdir, odir = os.path.join(work, "prom"), os.path.join(work, "odin")
    kept = args.data and os.path.exists(os.path.join(args.data, "t_end"))
    if kept:
        with open(os.path.join(args.data, "t_end")) as f:
            t_end, hosts = (int(x) for x in f.read().split())
        if hosts != args.hosts:
            sys.exit("%s holds data for --hosts %d" % (args.data, hosts))
        for name in ("prom", "odin"):
            shutil.copytree(os.path.join(args.data, name), os.path.join(work, name))
        print("reusing the data in %s" % args.data, flush=True)
    else:
        t_end = backfill(odin, work, args.hosts, pdir, odir)
        if args.data:
            os.makedirs(args.data, exist_ok=True)
            for name in ("prom", "odin"):
                shutil.copytree(os.path.join(work, name), os.path.join(args.data, name))
            with open(os.path.join(args.data, "t_end"), "w") as f:
                f.write("%d %d\n" % (t_end, args.hosts))
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global: {scrape_interval: 15s}\n")
    pport, oport = odintest.free_port(), odintest.free_port()
    common = ["--config.file=" + cfg, "--storage.tsdb.retention.time=100y"]
    rows = []
    with contextlib.ExitStack() as stack:
        prom = None if args.odin_only else stack.enter_context(Server(
            [PROMETHEUS, "--storage.tsdb.path=" + pdir,
             "--web.listen-address=127.0.0.1:%d" % pport] + common, pport, "/-/ready", cwd=work))
        osrv = stack.enter_context(Server(
            [odin, "server", "--storage.tsdb.path=" + odir,
             "--web.listen-address=127.0.0.1:%d" % oport] + common, oport, "/-/ready", cwd=work))
        print("RSS at start: prometheus %.0f MiB, odin %.0f MiB" % (
            rss_kb(prom.proc.pid) / 1024 if prom else 0, rss_kb(osrv.proc.pid) / 1024),
            flush=True)
        for name, kind, expr in panels(args.hosts):
            if args.only and args.only not in name:
                continue
            p = (measure(prom, kind, expr, t_end, args.runs, args.with_parse) if prom
                 else (float("nan"), 0, 0))
            o = measure(osrv, kind, expr, t_end, args.runs, args.with_parse)
            rows.append((name, kind, expr, p, o))
            print("%-34s prom %8.2f ms %7.0f MiB | odin %8.2f ms %7.1f MiB | %5.1fx faster" % (
                name, p[0] * 1e3, p[1] / 1024, o[0] * 1e3, o[1] / 1024, p[0] / o[0]),
                flush=True)
    table = ["| case | kind | series out | Prometheus 2.42 median | Odin median | speed-up "
             "(Prom/Odin) | RSS added Prom | RSS added Odin |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, kind, _, p, o in rows:
        table.append("| %s | %s | %d | %.2f ms | %.2f ms | %.1fx | %.1f MiB | %.1f MiB |" % (
            name, kind, o[2], p[0] * 1e3, o[0] * 1e3, p[0] / o[0], p[1] / 1024, o[1] / 1024))
    print("\n".join(table))
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(table) + "\n")


if __name__ == "__main__":
    main()

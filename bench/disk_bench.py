#!/usr/bin/env python3
"""Bytes per sample on disk: Odin (XOR and Odin chunk encodings) against Prometheus 2.42 on the
same OpenMetrics input, at block lengths users see (2 h blocks cut from the head and the larger
blocks compaction makes of them).

How the data is made (nothing here is random noise without a source):
  1. Calibration: the local prometheus-node-exporter is scraped --record-scrapes times, 15 s apart
     (or scrapes saved earlier are read from --calibration DIR). Per series this gives the real
     value, its real changes per 15 s, the quantum of those changes (gcd of the scaled-integer
     steps: 4096-byte pages, 1/100 s ticks, ...) and how the exporter forms the double (k/10^e,
     k*10^-e, or a float no decimal scale reproduces).
  2. Node series: for every host, each captured series continues for --hours at 15 s: counters add
     a real 15 s change drawn at random from the captured ones, scaled by a log-normal factor
     (sigma 0.4) and, 3 % of the time, a burst of 3-10x, rounded to the quantum; counters that
     did not move while captured get a rare increment; gauges that did not move stay constant;
     the others walk by captured steps with random sign, pulled back toward their start value.
     Series with a `cpu` label are replicated to --cpus CPUs (the capture machine has few).
  3. DCGM series (dcgm-exporter's default fields, --gpus per host, its label set): each GPU
     alternates busy and idle phases (exponential, mean 40 and 15 minutes); utilization,
     clocks, temperatures, power (3 decimals), energy counter (mJ), memory used, profiling
     ratios (6 decimals, as dcgm-exporter's %f) and PCIe byte rates follow the phase.
  4. Timestamps: every target scrapes every 15 s from its own offset in the interval, on the tick
     (as Prometheus and Odin pin them) but for --late-pct percent of scrapes, 3-50 ms late (a
     loaded server); the last sample is just before the newest 2 h boundary.

Then the same file is backfilled by `promtool tsdb create-blocks-from openmetrics` (2 h blocks,
which a Prometheus 2.42 server then compacts, as it would after a backfill), `odin tsdb import`
and `odin tsdb import --chunk-encoding=odin` (each cuts 2 h blocks and compacts them), and every
block directory is measured (`du -b` equivalent: bytes of all its files) against its
meta.json's numSamples.

  ODIN_BIN=build/odin python3 bench/disk_bench.py --hosts 3 --hours 24
"""
import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

STEP_MS = 15000
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?$')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record(n, out_dir):
    """n real scrapes of the local node exporter, 15 s apart, saved as scrape_I.txt."""
    port = free_port()
    ne = subprocess.Popen([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % port],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        nxt = time.time()
        for i in range(n):
            time.sleep(max(0.0, nxt - time.time()))
            body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
            with open(os.path.join(out_dir, "scrape_%d.txt" % i), "wb") as f:
                f.write(body)
            nxt += STEP_MS / 1000
    finally:
        ne.terminate()
        ne.wait()


def parse_scrape(path):
    out = {}
    with open(path) as f:
        for ln in f:
            if not ln.strip() or ln.startswith("#"):
                continue
            m = LINE.match(ln.strip())
            if not m:
                continue
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def parse_types(path):
    types = {}
    with open(path) as f:
        for ln in f:
            if ln.startswith("# TYPE "):
                _, _, name, kind = ln.split()[:4]
                types[name] = kind
    return types


def value_form(vals):
    """How the exporter forms its doubles: ('div', e) when every v == k / 10^e, ('mul', e) when
    v == k * 10^-e, else ('float', None)."""
    for e in range(0, 10):
        p = 10 ** e
        if all(round(v * p) / p == v for v in vals):
            return ("div", e)
        if all(round(v * p) * (10.0 ** -e) == v for v in vals):
            return ("mul", e)
    return ("float", None)


class Model:
    """One captured series: kind, start, real 15 s changes and their quantum."""

    def __init__(self, name, labels, kind, vals):
        self.name, self.labels, self.kind = name, labels, kind
        self.form, self.e = value_form(vals)
        if any(math.isnan(v) or math.isinf(v) for v in vals):
            self.form = "const"
        if self.form in ("div", "mul"):
            p = 10 ** self.e
            ks = [round(v * p) for v in vals]
            d = [b - a for a, b in zip(ks, ks[1:])]
            g = 0
            for x in d:
                g = math.gcd(g, abs(x))
            self.k0, self.deltas, self.quantum = ks[0], d, g or 1
        else:
            self.v0 = vals[0]
            self.deltas = [b - a for a, b in zip(vals, vals[1:])]
        self.v_first = vals[0]
        self.moving = any(x != 0 for x in self.deltas)
        self.monotone = self.moving and (all(x >= 0 for x in self.deltas)
                                         or all(x <= 0 for x in self.deltas))

    def fmt(self, k):
        if self.form == "div":
            return repr(k / 10 ** self.e) if self.e else repr(float(k))
        return repr(k * (10.0 ** -self.e))

    def series(self, rnd, n):
        """n values as strings."""
        if self.form == "const":
            return ["%r" % self.v_first] * n
        counter = self.kind == "counter" or self.monotone
        if self.form == "float":
            v = self.v0 * (rnd.uniform(0.5, 2) if counter and self.v0 > 0 else 1)
            out = []
            spread = max(abs(x) for x in self.deltas) * 10 if self.moving else 0
            for _ in range(n):
                out.append(repr(v))
                if not self.moving:
                    continue
                d = rnd.choice(self.deltas) * rnd.lognormvariate(0, 0.4)
                if not counter:
                    d = abs(d) * (-1 if v - self.v0 > spread * rnd.random() else 1) \
                        * (1 if rnd.random() < 0.5 or abs(v - self.v0) > spread / 2 else -1)
                v += d
            return out
        q = self.quantum
        k = self.k0
        if counter and k > 0:
            k = max(0, round(k * rnd.uniform(0.5, 2) / q) * q)
        out = []
        spread = max(abs(x) for x in self.deltas) * 10 if self.moving else 0
        for _ in range(n):
            out.append(self.fmt(k))
            if not self.moving:
                if counter and rnd.random() < 0.002:
                    k += q
                continue
            base = rnd.choice(self.deltas)
            f = rnd.lognormvariate(0, 0.4)
            if rnd.random() < 0.03:
                f *= rnd.uniform(3, 10)
            d = round(abs(base) * f / q) * q
            if counter:
                k += d if base >= 0 else -d
            else:
                toward = -1 if k > self.k0 else 1
                sign = toward if abs(k - self.k0) > spread * rnd.random() else rnd.choice((-1, 1))
                k += sign * d
                if self.k0 >= 0 and k < 0:
                    k = 0
        return out


def labels_with(labels, extra):
    inner = labels[1:-1] if labels else ""
    parts = [p for p in [inner, extra] if p]
    return "{" + ",".join(parts) + "}"


def node_models(cal_dir, cpus):
    files = sorted((f for f in os.listdir(cal_dir) if re.match(r"scrape_\d+\.txt$", f)),
                   key=lambda f: int(f[7:-4]))
    if len(files) < 2:
        sys.exit("disk_bench: need at least 2 scrapes in %s" % cal_dir)
    scrapes = [parse_scrape(os.path.join(cal_dir, f)) for f in files]
    types = parse_types(os.path.join(cal_dir, files[0]))
    keys = [k for k in scrapes[0] if all(k in s for s in scrapes)]
    models = []
    cpu_re = re.compile(r'cpu="(\d+)"')
    real_cpus = 1 + max((int(m.group(1)) for k in keys for m in [cpu_re.search(k[1])] if m),
                        default=0)
    for name, labels in keys:
        base = re.sub(r"_(total|sum|count|bucket)$", "", name)
        kind = types.get(name) or types.get(base) or "untyped"
        if kind in ("summary", "histogram") and not name.endswith(("_sum", "_count", "_bucket")):
            kind = "gauge"
        elif kind in ("summary", "histogram"):
            kind = "counter"
        vals = [s[(name, labels)] for s in scrapes]
        m = cpu_re.search(labels)
        if m and cpus > real_cpus:
            if int(m.group(1)) != 0:
                continue
            for c in range(cpus):
                models.append(Model(name, cpu_re.sub('cpu="%d"' % c, labels), kind, vals))
            continue
        models.append(Model(name, labels, kind, vals))
    return models


def dcgm_series(rnd, n, host, gpu):
    """dcgm-exporter's default fields for one GPU over n scrapes: {name: [values]}."""
    busy, left = rnd.random() < 0.7, 0
    out = {k: [] for k in DCGM_FIELDS}
    temp, mtemp, energy, nvlink = 32.0, 30.0, rnd.randrange(10 ** 9, 10 ** 11), 0
    fb_used = 0
    for _ in range(n):
        if left <= 0:
            busy = not busy
            left = int(rnd.expovariate(1 / (160 if busy else 60))) + 1
            fb_used = rnd.randrange(30000, 78000) if busy else rnd.choice((0, 0, 3, 517))
        left -= 1
        util = min(100, max(0, int(rnd.gauss(93, 6)))) if busy else 0
        temp += ((66 if busy else 32) - temp) * 0.15 + rnd.gauss(0, 0.6)
        mtemp += ((58 if busy else 30) - mtemp) * 0.1 + rnd.gauss(0, 0.4)
        power = round(rnd.gauss(560, 70), 3) if busy else round(rnd.gauss(71, 1.5), 3)
        energy += int(power * 15 * 1000)
        if busy and rnd.random() < 0.1:
            fb_used = min(81559, max(0, fb_used + rnd.randrange(-2048, 2048)))
        gr = min(1.0, max(0.0, rnd.gauss(0.93, 0.05))) if busy else 0.0
        nvlink += rnd.randrange(10 ** 6, 10 ** 8) if busy else 0
        vals = {
            "DCGM_FI_DEV_SM_CLOCK": (1980 if rnd.random() < 0.8 else 1755 + 15 * rnd.randrange(15))
            if busy else 345,
            "DCGM_FI_DEV_MEM_CLOCK": 2619,
            "DCGM_FI_DEV_MEMORY_TEMP": int(round(mtemp)),
            "DCGM_FI_DEV_GPU_TEMP": int(round(temp)),
            "DCGM_FI_DEV_POWER_USAGE": "%.6f" % power,
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": energy,
            "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": 0,
            "DCGM_FI_DEV_GPU_UTIL": util,
            "DCGM_FI_DEV_MEM_COPY_UTIL": min(100, max(0, int(rnd.gauss(45, 10)))) if busy else 0,
            "DCGM_FI_DEV_ENC_UTIL": 0,
            "DCGM_FI_DEV_DEC_UTIL": 0,
            "DCGM_FI_DEV_XID_ERRORS": 0,
            "DCGM_FI_DEV_FB_FREE": 81559 - fb_used,
            "DCGM_FI_DEV_FB_USED": fb_used,
            "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": nvlink,
            "DCGM_FI_DEV_VGPU_LICENSE_STATUS": 0,
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": 0,
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": 0,
            "DCGM_FI_DEV_ROW_REMAP_FAILURE": 0,
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "%.6f" % gr,
            "DCGM_FI_PROF_SM_ACTIVE": "%.6f" % (gr * rnd.uniform(0.85, 0.98)),
            "DCGM_FI_PROF_SM_OCCUPANCY": "%.6f" % (gr * rnd.uniform(0.3, 0.5)),
            "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": "%.6f" % (gr * rnd.uniform(0.3, 0.6)),
            "DCGM_FI_PROF_DRAM_ACTIVE": "%.6f" % (gr * rnd.uniform(0.2, 0.5)),
            "DCGM_FI_PROF_PCIE_TX_BYTES": rnd.randrange(10 ** 7, 10 ** 9) if busy
            else rnd.randrange(10 ** 4, 10 ** 5),
            "DCGM_FI_PROF_PCIE_RX_BYTES": rnd.randrange(10 ** 7, 10 ** 9) if busy
            else rnd.randrange(10 ** 4, 10 ** 5),
        }
        for k, v in vals.items():
            out[k].append(str(v))
    return out


DCGM_FIELDS = [
    "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP",
    "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL",
    "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL", "DCGM_FI_DEV_XID_ERRORS",
    "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_ROW_REMAP_FAILURE",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_SM_OCCUPANCY",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE",
    "DCGM_FI_PROF_PCIE_TX_BYTES", "DCGM_FI_PROF_PCIE_RX_BYTES",
]


def scrape_times(rnd, t0, n, late_pct):
    """A target's n scrape timestamps (OpenMetrics seconds): on the 15 s tick, but late_pct % of
    them 3-50 ms late, past the 2 ms within which Prometheus and Odin pin a scrape to its tick
    (a loaded server's late wake-ups)."""
    out = []
    for i in range(n):
        t = t0 + i * STEP_MS
        if late_pct and rnd.random() * 100 < late_pct:
            t += rnd.randrange(3, 51)
        out.append("%.3f" % (t / 1000))
    return out


def generate(path, models, hosts, gpus, hours, seed, late_pct=0.0):
    """Writes the OpenMetrics file, one metric name after another (OpenMetrics keeps a family's
    samples together); returns (series, samples, t_end_ms)."""
    n = hours * 3600 * 1000 // STEP_MS
    block = 2 * 3600 * 1000
    t_end = (int(time.time() * 1000) // block) * block - 1
    t0 = t_end - (n - 1) * STEP_MS
    offsets = [random.Random(seed * 1000 + h).randrange(STEP_MS) - STEP_MS for h in range(hosts)]
    by_name = {}
    for i, m in enumerate(models):
        by_name.setdefault(m.name, []).append(i)
    series = samples = 0
    with open(path, "w") as f:
        w = f.write
        for name, idx in by_name.items():
            for h in range(hosts):
                ts = scrape_times(random.Random("%d/ts/%d" % (seed, h)), t0 + offsets[h], n,
                                  late_pct)
                extra = 'instance="node%02d:9100",job="node"' % h
                for i in idx:
                    m = models[i]
                    rnd = random.Random("%d/%d/%d" % (seed, h, i))
                    ls = name + labels_with(m.labels, extra)
                    w("".join("%s %s %s\n" % (ls, v, t) for v, t in zip(m.series(rnd, n), ts)))
                    series += 1
                    samples += n
        gpu_vals = {}
        for h in range(hosts):
            for g in range(gpus):
                gpu_vals[(h, g)] = dcgm_series(random.Random("%d/gpu/%d/%d" % (seed, h, g)), n,
                                               h, g)
        for field in DCGM_FIELDS:
            for h in range(hosts):
                ts = scrape_times(random.Random("%d/gts/%d" % (seed, h)),
                                  t0 + offsets[h] + 1000, n, late_pct)
                for g in range(gpus):
                    ls = ('%s{DCGM_FI_DRIVER_VERSION="535.129.03",Hostname="node%02d",'
                          'UUID="GPU-%08x-%04x-4%03x-a%03x-%012x",device="nvidia%d",gpu="%d",'
                          'instance="node%02d:9400",job="dcgm",modelName="NVIDIA H100 80GB HBM3",'
                          'pci_bus_id="00000000:%02X:00.0"}'
                          % (field, h, h * 7919 + g, g, h, g, h * 1000003 + g, g, g, h, 0x18 + g))
                    w("".join("%s %s %s\n" % (ls, v, t)
                              for v, t in zip(gpu_vals[(h, g)][field], ts)))
                    series += 1
                    samples += n
        w("# EOF\n")
    return series, samples, t_end


def block_dirs(d):
    out = []
    for e in sorted(os.listdir(d)):
        p = os.path.join(d, e)
        if len(e) == 26 and os.path.isfile(os.path.join(p, "meta.json")):
            out.append(p)
    return out


def dir_bytes(p):
    total = 0
    for root, _, files in os.walk(p):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def measure(d):
    """Per block: (range_h, level, series, samples, chunks, index bytes, chunk bytes, total)."""
    rows = []
    for p in block_dirs(d):
        meta = json.load(open(os.path.join(p, "meta.json")))
        st = meta["stats"]
        chunks = dir_bytes(os.path.join(p, "chunks"))
        rows.append(((meta["maxTime"] - meta["minTime"]) / 3600000, meta["compaction"]["level"],
                     st["numSeries"], st["numSamples"], st["numChunks"],
                     os.path.getsize(os.path.join(p, "index")), chunks, dir_bytes(p)))
    return rows


def run(argv, **kw):
    t = time.time()
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("disk_bench: %s failed (%d):\n%s%s" % (argv[0], r.returncode, r.stdout[-2000:],
                                                        r.stderr[-2000:]))
    return time.time() - t


def prometheus_compact(d, settle_s):
    """Starts Prometheus 2.42 on the backfilled directory with no targets and waits until its
    compactor leaves the block set unchanged (its first compaction runs a minute after start)."""
    cfg = os.path.join(d, "..", "prom-empty.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = free_port()
    p = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + d,
                          "--storage.tsdb.retention.time=3650d",
                          "--web.listen-address=127.0.0.1:%d" % port],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        last, stable_since = None, time.time()
        deadline = time.time() + 600
        while time.time() < deadline:
            time.sleep(5)
            cur = tuple(os.path.basename(b) for b in block_dirs(d))
            if cur != last:
                last, stable_since = cur, time.time()
            elif time.time() - stable_since > settle_s:
                break
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)


def summarize(rows, pred):
    sel = [r for r in rows if pred(r)]
    if not sel:
        return None
    s = [sum(r[i] for r in sel) for i in range(2, 8)]
    series, samples, chunks, index, chunkb, total = s
    return {"blocks": len(sel), "series": series, "samples": samples,
            "samples_per_chunk": samples / max(1, chunks), "index_Bps": index / samples,
            "chunk_Bps": chunkb / samples, "block_Bps": total / samples,
            "index_B_per_series": index / max(1, series)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=3)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=32)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--late-pct", type=float, default=0.0,
                    help="percent of scrapes whose timestamp is 3-50 ms off the tick")
    ap.add_argument("--record-scrapes", type=int, default=9)
    ap.add_argument("--calibration", help="directory with scrape_0.txt.. (skips recording)")
    ap.add_argument("--work", help="keep files here instead of a temporary directory")
    ap.add_argument("--prom-settle", type=float, default=90)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--reuse", action="store_true",
                    help="keep data.om and Prometheus' blocks already in --work")
    ap.add_argument("--before-bin", help="another odin binary to measure too (rows 'before')")
    args = ap.parse_args()
    odin = os.environ.get("ODIN_BIN", "build/odin")
    work = args.work or tempfile.mkdtemp(prefix="disk_bench.")
    os.makedirs(work, exist_ok=True)
    cal = args.calibration
    if not cal:
        cal = os.path.join(work, "calibration")
        os.makedirs(cal, exist_ok=True)
        print("recording %d node_exporter scrapes, 15 s apart" % args.record_scrapes, flush=True)
        record(args.record_scrapes, cal)
    models = node_models(cal, args.cpus)
    om = os.path.join(work, "data.om")
    t = time.time()
    if args.reuse and os.path.exists(om):
        series, samples = 0, 0
    else:
        series, samples, _ = generate(om, models, args.hosts, args.gpus, args.hours, args.seed,
                                       args.late_pct)
    forms = {}
    for m in models:
        forms[m.form] = forms.get(m.form, 0) + 1
    print("generated %d series (%d node models per host: %s), %d samples, %.0f MB in %.0f s"
          % (series, len(models), forms, samples, os.path.getsize(om) / 1e6, time.time() - t),
          flush=True)
    results = {}
    pdir = os.path.join(work, "prometheus")
    if not (args.reuse and os.path.isdir(pdir)):
        shutil.rmtree(pdir, ignore_errors=True)
        dt = run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", om, pdir], timeout=3600)
        print("promtool backfill: %.0f s" % dt, flush=True)
        prometheus_compact(pdir, args.prom_settle)
    results["Prometheus 2.42"] = measure(pdir)
    runs = [("Odin, XOR (default)", odin, []),
            ("Odin, --chunk-encoding=odin", odin, ["--chunk-encoding=odin"])]
    if args.before_bin:
        runs[1:1] = [("Odin, XOR, before", args.before_bin, []),
                     ("Odin, odin encoding, before", args.before_bin, ["--chunk-encoding=odin"])]
    for i, (label, binary, extra) in enumerate(runs):
        d = os.path.join(work, "odin-%d" % i)
        shutil.rmtree(d, ignore_errors=True)
        dt = run([binary, "tsdb", "import"] + extra + [om, d], timeout=3600)
        print("%s import: %.0f s" % (label, dt), flush=True)
        results[label] = measure(d)
    out = {}
    print("\n| writer | blocks | range | series | samples | samples/chunk | chunk B/sample "
          "| index B/sample | index B/series | block B/sample |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, rows in results.items():
        for what, pred in (("2 h", lambda r: r[1] == 1),
                           ("compacted", lambda r: r[1] > 1),
                           ("all", lambda r: True)):
            s = summarize(rows, pred)
            if not s:
                continue
            out.setdefault(label, {})[what] = s
            ranges = sorted({"%.0f h" % r[0] for r in rows if pred(r)})
            print("| %s | %d | %s | %d | %d | %.1f | %.3f | %.3f | %.0f | %.3f |"
                  % (label, s["blocks"], ", ".join(ranges) if what != "all" else "all",
                     s["series"], s["samples"], s["samples_per_chunk"], s["chunk_Bps"],
                     s["index_Bps"], s["index_B_per_series"], s["block_Bps"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "series": series, "samples": samples,
                       "results": out, "blocks": results}, f, indent=1)


if __name__ == "__main__":
    main()

"""Differential PromQL test: the same generated data backfilled into Debian's Prometheus 2.42
(`promtool tsdb create-blocks-from openmetrics`) and into Odin (`odin tsdb import`), then a few
hundred generated queries sent as instant and range queries to both HTTP APIs; results must have
the same series, values equal within a relative 1e-9 (NaN equals NaN), and the same order where
order is defined (sort, sort_desc, topk, bottomk; matrices compared sorted by labels).

Odin follows Prometheus 3.x, so the data and queries avoid the 2.x/3.x differences by construction
(docs/promql.md):
- left-open windows: samples sit 7 s off a 15 s grid and every evaluation time, range, offset, @
  time and subquery step is a multiple of 15 s (subquery steps of whole minutes, evaluation times
  at :30), so no sample or subquery point ever falls on a window edge;
- rate's zero-point extrapolation cutoff (3.x): counters start high and reset to a value large
  against the increase of any window, so the zero point is never inside the extrapolation;
- holt_winters / double_exponential_smoothing, atan2 and delayed __name__ removal (3.x): not used;
  no query reads __name__ after a function, and no regex on __name__ feeds a function;
- stale markers cannot be written in OpenMetrics, so series ending early, starting late and gaps
  longer than the lookback delta stand in for them (both servers then apply the 5 m lookback);
- topk/bottomk/sort ties (order unspecified): values are random doubles, so there are none.
Skips (77) when prometheus or promtool is missing. Both servers are always stopped."""
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
SEED = 20261126
STEP_S = 15           # sample interval
OFFSET_S = 7          # samples sit at grid + 7 s
SPAN_S = 2 * 3600     # two hours of data
INSTANCES = ["i%d" % i for i in range(10)]

# expr -> reason: queries whose results are known to differ between 2.42 and Odin (3.x
# semantics). Each listed query may differ; one that starts agreeing is reported, not failed.
KNOWN_DIFFERENCES = {}


def series_window(inst, t0):
    """(start, end, gaps) in seconds for a series of this instance: the special cases stand in
    for stale markers (see the module comment)."""
    start, end, gaps = t0, t0 + SPAN_S, []
    if inst == "i9":
        end = t0 + 80 * 60          # ends early
    elif inst == "i8":
        start = t0 + 30 * 60        # starts late
    elif inst == "i7":
        gaps = [(t0 + 40 * 60, t0 + 55 * 60)]   # longer than the lookback delta
    elif inst == "i6":
        gaps = [(t0 + 62 * 60, t0 + 64 * 60)]   # shorter than the lookback delta
    return start, end, gaps


def timestamps(inst, t0):
    start, end, gaps = series_window(inst, t0)
    t = t0 + OFFSET_S
    while t < end:
        if t >= start and not any(a <= t < b for a, b in gaps):
            yield t
        t += STEP_S


def fmt_labels(d):
    return ",".join('%s="%s"' % (k, v) for k, v in d.items())


def generate(t0):
    """OpenMetrics text: families contiguous, each series in time order."""
    rnd = random.Random(SEED)
    out = []

    def counter(name, label_sets):
        out.append("# TYPE %s counter" % name)
        for ls in label_sets:
            v = rnd.uniform(5000, 20000)
            for t in timestamps(ls["instance"], t0):
                if rnd.random() < 0.01:
                    v = rnd.uniform(2000, 4000)   # reset, still far above a window's increase
                else:
                    v += rnd.uniform(0, 20)
                out.append("%s_total{%s} %r %d" % (name, fmt_labels(ls), v, t))

    def gauge(name, label_sets, lo, hi):
        out.append("# TYPE %s gauge" % name)
        for ls in label_sets:
            v = rnd.uniform(lo, hi)
            for t in timestamps(ls["instance"], t0):
                v = min(hi, max(lo, v + rnd.uniform(-1, 1) * (hi - lo) / 50))
                out.append("%s{%s} %r %d" % (name, fmt_labels(ls), v, t))

    def histogram(name, label_sets, bounds):
        out.append("# TYPE %s histogram" % name)
        for ls in label_sets:
            counts = [rnd.uniform(100, 1000) for _ in bounds]
            total = rnd.uniform(100, 1000)
            for t in timestamps(ls["instance"], t0):
                if rnd.random() < 0.005:
                    counts = [c / 10 for c in counts]   # reset of the whole histogram
                    total /= 10
                for i in range(len(bounds)):
                    counts[i] += rnd.uniform(0, 5)
                total += rnd.uniform(0, 10)
                cum = 0.0
                for b, c in zip(bounds, counts):
                    cum += c
                    out.append("%s_bucket{%s,le=\"%s\"} %r %d" % (name, fmt_labels(ls), b, cum, t))
                out.append("%s_sum{%s} %r %d" % (name, fmt_labels(ls), total, t))
                out.append("%s_count{%s} %r %d" % (name, fmt_labels(ls), cum, t))

    counter("http_requests", [{"job": j, "instance": i, "code": c}
                              for j in ("api", "web") for i in INSTANCES for c in ("200", "500")])
    counter("cpu_seconds", [{"instance": i, "mode": m}
                            for i in INSTANCES for m in ("user", "system", "idle", "iowait")])
    gauge("temperature_celsius", [{"instance": i, "zone": z} for i in INSTANCES
                                  for z in ("a", "b", "c")], 20, 90)
    gauge("memory_bytes", [{"instance": i, "type": t} for i in INSTANCES
                           for t in ("used", "free")], 1e8, 8e9)
    histogram("request_duration_seconds", [{"job": j, "instance": i} for j in ("api", "web")
                                           for i in INSTANCES[:5] + ["i7", "i9"]],
              ["0.05", "0.1", "0.5", "1", "5", "+Inf"])
    out.append("# EOF")
    return "\n".join(out) + "\n"


def queries(t0):
    """A deterministic list of (expr, ordered) pairs; ordered says the result order is defined."""
    rnd = random.Random(SEED + 1)
    counters = ['http_requests_total', 'http_requests_total{code="500"}',
                'cpu_seconds_total{mode!="idle"}', 'http_requests_total{job=~"a.*"}']
    gauges = ['temperature_celsius', 'memory_bytes{type="used"}',
              'temperature_celsius{zone=~"a|b"}']
    ranges = ["1m", "5m", "10m", "30m"]
    groupings = ["", " by (instance)", " without (instance)", " by (job)", " by (zone)"]
    q = []

    for f in ("rate", "irate", "increase", "resets", "changes"):
        for c in counters:
            q.append("%s(%s[%s])" % (f, c, rnd.choice(ranges)))
    for f in ("delta", "idelta", "deriv", "avg_over_time", "min_over_time", "max_over_time",
              "sum_over_time", "count_over_time", "last_over_time", "stddev_over_time",
              "stdvar_over_time", "present_over_time", "changes", "resets"):
        for g in gauges:
            q.append("%s(%s[%s])" % (f, g, rnd.choice(ranges)))
    for g in gauges:
        q.append("quantile_over_time(%s, %s[%s])" % (rnd.choice(["0", "0.5", "0.9", "1"]), g,
                                                     rnd.choice(ranges)))
        q.append("predict_linear(%s[%s], 600)" % (g, rnd.choice(ranges)))
    for agg in ("sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"):
        for g in groupings:
            inner = rnd.choice(["rate(http_requests_total[5m])", "temperature_celsius",
                                "increase(cpu_seconds_total[10m])", "memory_bytes",
                                "irate(http_requests_total[1m])"])
            q.append("%s%s (%s)" % (agg, g, inner))
    for k in ("topk", "bottomk"):
        for inner in ("temperature_celsius", "rate(http_requests_total[5m])",
                      "memory_bytes{type=\"free\"}"):
            q.append("%s(3, %s)" % (k, inner))
        q.append("%s by (instance) (1, temperature_celsius)" % k)
    for phi in ("0.1", "0.5", "0.99"):
        q.append("quantile(%s, rate(http_requests_total[5m]))" % phi)
        q.append("quantile by (job) (%s, rate(http_requests_total[5m]))" % phi)
    q += ['count_values("value", round(temperature_celsius / 10))',
          'count_values by (zone) ("t", floor(temperature_celsius / 20))']
    for phi in ("0.5", "0.9", "0.99"):
        for by in ("le", "le, job", "le, instance"):
            q.append("histogram_quantile(%s, sum by (%s) (rate(request_duration_seconds_bucket"
                     "[5m])))" % (phi, by))
    q += ["histogram_quantile(0.9, rate(request_duration_seconds_bucket[10m]))",
          "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
          "sum by (job) (rate(request_duration_seconds_sum[5m])) / sum by (job) "
          "(rate(request_duration_seconds_count[5m]))"]
    # binary operators and vector matching
    q += ['rate(http_requests_total{code="500"}[5m]) / ignoring(code) '
          'rate(http_requests_total{code="200"}[5m])',
          'sum by (instance) (rate(http_requests_total{code="500"}[5m])) / on(instance) '
          'sum by (instance) (rate(http_requests_total[5m]))',
          'cpu_seconds_total / on(instance) group_left sum by (instance) (cpu_seconds_total)',
          'rate(cpu_seconds_total[5m]) * on(instance) group_left(type) memory_bytes{type="free"}',
          'memory_bytes{type="used"} / on(instance) sum by (instance) (memory_bytes)',
          'memory_bytes{type="used"} / ignoring(type) memory_bytes{type="free"}',
          'sum by (instance) (memory_bytes) - on(instance) group_right memory_bytes',
          'temperature_celsius{zone="a"} - ignoring(zone) temperature_celsius{zone="b"}',
          '2 * temperature_celsius', 'temperature_celsius - scalar(avg(temperature_celsius))',
          '-temperature_celsius', 'temperature_celsius % 7', 'temperature_celsius ^ 2',
          'memory_bytes / 1024 / 1024', '1 - rate(cpu_seconds_total{mode="idle"}[5m])',
          '(temperature_celsius + 3) * 2 - 1', 'scalar(sum(memory_bytes)) / 1e9']
    for op in ("==", "!=", ">", "<", ">=", "<="):
        q.append("temperature_celsius %s %s" % (op, rnd.choice(["40", "50", "60"])))
        q.append("temperature_celsius %s bool 55" % op)
        q.append('temperature_celsius{zone="a"} %s ignoring(zone) temperature_celsius{zone="b"}'
                 % op)
        q.append('temperature_celsius{zone="a"} %s bool on(instance) temperature_celsius{zone="c"}'
                 % op)
        q.append("rate(http_requests_total[5m]) %s 0.5" % op)
    q += ['temperature_celsius{zone="a"} and on(instance) memory_bytes{type="used"} > 4e9',
          'temperature_celsius{zone="a"} or temperature_celsius{zone="b"} > 60',
          'temperature_celsius unless temperature_celsius > 50',
          'memory_bytes{type="used"} unless on(instance) temperature_celsius{zone="a"} > 60',
          'rate(http_requests_total[5m]) and ignoring(code) rate(http_requests_total[5m]) > 0.6',
          '(temperature_celsius > 30) or on(instance) vector(1)',
          'sum(rate(http_requests_total[5m])) or vector(0)']
    # subqueries, offset, @
    q += ["max_over_time(rate(http_requests_total[5m])[30m:1m])",
          "avg_over_time(sum by (instance) (temperature_celsius)[10m:1m])",
          "deriv(avg(temperature_celsius)[20m:2m])",
          "min_over_time(temperature_celsius[15m:1m] offset 5m)",
          "rate(sum by (job) (http_requests_total)[10m:1m])",
          "max_over_time(deriv(memory_bytes[5m])[30m:2m])",
          "sum_over_time(count(temperature_celsius > 50)[20m:1m])",
          "rate(http_requests_total[5m] offset 10m)",
          "temperature_celsius offset 30m", "sum(memory_bytes offset 1h)",
          "temperature_celsius - temperature_celsius offset 15m",
          "temperature_celsius @ %d" % (t0 + 3630),
          "rate(http_requests_total[5m] @ %d)" % (t0 + 5430),
          "sum(temperature_celsius @ start())", "max(memory_bytes @ end())",
          "rate(http_requests_total[5m] @ end() offset 5m)",
          "avg_over_time(temperature_celsius[10m] @ %d offset -5m)" % (t0 + 1830)]
    # label functions, math, misc
    q += ['label_replace(temperature_celsius, "host", "$1", "instance", "i(.*)")',
          'label_replace(rate(http_requests_total[5m]), "status", "${1}xx", "code", "(.).*")',
          'sum by (host) (label_replace(memory_bytes, "host", "h-$1", "instance", "(.*)"))',
          'label_join(temperature_celsius, "iz", "/", "instance", "zone")',
          'label_replace(temperature_celsius, "zone", "", "zone", "a")']
    for f in ("abs", "ceil", "floor", "round", "sqrt", "ln", "log2", "log10", "exp", "sgn",
              "sin", "cos", "tanh", "deg", "rad"):
        inner = "temperature_celsius / 10" if f != "sgn" else "delta(temperature_celsius[5m])"
        q.append("%s(%s)" % (f, inner))
    q += ["round(temperature_celsius, 0.5)", "clamp(temperature_celsius, 40, 60)",
          "clamp_min(temperature_celsius, 50)", "clamp_max(temperature_celsius, 50)",
          "sqrt(delta(temperature_celsius[5m]))", "ln(delta(temperature_celsius[10m]))",
          "timestamp(temperature_celsius)", "time()", "time() - timestamp(memory_bytes)",
          "minute(timestamp(temperature_celsius{zone=\"a\"}))", "hour()", "day_of_week()",
          "vector(time())", "scalar(count(temperature_celsius))", "absent(nonexistent_metric)",
          'absent(temperature_celsius{instance="nope"})', "absent_over_time(nonexistent[5m])",
          'absent_over_time(temperature_celsius{instance="i9"}[10m])',
          "sort(temperature_celsius)", "sort_desc(rate(http_requests_total[5m]))",
          "sort_desc(sum by (instance) (memory_bytes))", "count(temperature_celsius > 60)",
          "memory_bytes[5m]", "rate(http_requests_total[5m])[10m:1m]",
          'sum without (code, job) (increase(http_requests_total[30m]))',
          'max by (instance) (temperature_celsius) > on(instance) group_left '
          'min by (instance) (temperature_celsius)']
    return [(e, is_ordered(e)) for e in q]


def is_ordered(expr):
    """Order is defined only at the top: sort, sort_desc, topk/bottomk without grouping."""
    if expr.startswith(("sort(", "sort_desc(")):
        return True
    return expr.startswith(("topk(", "bottomk("))


def eval_times(t0):
    """Instant times (all at :30, see the module comment) and the range (start, end, step)."""
    instants = [t0 + 30 * 60 + 30, t0 + 47 * 60 + 30, t0 + 63 * 60 + 30, t0 + 75 * 60 + 30,
                t0 + 118 * 60 + 30, t0 + SPAN_S + 2 * 60 + 30]
    return instants, (t0 + 20 * 60 + 30, t0 + SPAN_S + 4 * 60 + 30, 60)


def api(base, path, params):
    data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(base + path, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b'{"status":"error","error":"http %d"}' % e.code)


def normalize(answer):
    if answer.get("status") != "success":
        return ("error", None)
    d = answer["data"]
    rt, res = d["resultType"], d["result"]
    if rt in ("scalar", "string"):
        return (rt, (res[0], res[1]))
    if rt == "vector":
        return (rt, [(tuple(sorted(s["metric"].items())), [s["value"]]) for s in res])
    return (rt, [(tuple(sorted(s["metric"].items())), s.get("values", [])) for s in res])


def same_value(a, b):
    fa, fb = float(a), float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return fa == fb or math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-12)


def compare(p, o, ordered):
    """None when equal, else a short description of the first difference."""
    if p[0] != o[0]:
        return "result type %s vs %s" % (p[0], o[0])
    if p[0] == "error":
        return None
    if p[0] in ("scalar", "string"):
        ok = p[1][0] == o[1][0] and (p[1][1] == o[1][1] if p[0] == "string"
                                     else same_value(p[1][1], o[1][1]))
        return None if ok else "scalar %s vs %s" % (p[1], o[1])
    ps, os_ = p[1], o[1]
    if not ordered or p[0] == "matrix":
        ps, os_ = sorted(ps), sorted(os_)
    if len(ps) != len(os_):
        only_p = {s[0] for s in ps} - {s[0] for s in os_}
        only_o = {s[0] for s in os_} - {s[0] for s in ps}
        return "%d vs %d series; only prometheus: %s; only odin: %s" % (
            len(ps), len(os_), sorted(only_p)[:2], sorted(only_o)[:2])
    for (lp, vp), (lo, vo) in zip(ps, os_):
        if lp != lo:
            return "labels %s vs %s" % (dict(lp), dict(lo))
        if len(vp) != len(vo):
            return "%s: %d vs %d points" % (dict(lp), len(vp), len(vo))
        for (tp, xp), (to, xo) in zip(vp, vo):
            if tp != to or not same_value(xp, xo):
                return "%s: [%s, %s] vs [%s, %s]" % (dict(lp), tp, xp, to, xo)
    return None


CLI_CASES = [
    ["instant", "--time={t}", "{url}", 'sort_desc(sum by (instance) (memory_bytes))'],
    ["instant", "--time={t}", "{url}", "scalar(count(temperature_celsius))"],
    ["instant", "--time={t}", "{url}", 'label_replace(vector(1e-7), "a", "<&>", "", "")'],
    ["range", "--start={s}", "--end={e}", "--step=5m", "{url}", "avg by (zone) (temperature_celsius)"],
    ["range", "--start={s}", "--end={e}", "{url}", 'rate(http_requests_total{instance="i9"}[5m])'],
    ["series", "--match=memory_bytes", "--match=up", "{url}"],
    ["labels", "{url}", "instance"],
    ["instant", "{url}", "sum(rate(nosuch[5m]"],
]


def fill(arg, subst):
    for k, v in subst.items():
        arg = arg.replace(k, str(v))
    return arg


def check_cli(odin, prom_url, t0):
    """`odin query` against Prometheus must print what `promtool query` prints, in both formats
    (only when this build has the role; main.c dispatches it)."""
    if subprocess.run([odin, "query", "--help"], capture_output=True).returncode != 0:
        print("NOTE: odin has no query role yet; odin query not compared with promtool query")
        return []
    instants, (start, end, _) = eval_times(t0)
    problems = []
    for case in CLI_CASES:
        for fmt in ("promql", "json"):
            args = ["-o", fmt] + [fill(a, {"{t}": instants[0], "{s}": start, "{e}": end,
                                           "{url}": prom_url}) for a in case]
            want = subprocess.run([PROMTOOL, "query"] + args, capture_output=True, text=True,
                                  timeout=60)
            got = subprocess.run([odin, "query"] + args, capture_output=True, text=True,
                                 timeout=60)
            if (want.returncode, want.stdout, want.stderr) != (got.returncode, got.stdout,
                                                               got.stderr):
                problems.append("odin query %s: rc %d vs %d, stdout %r vs %r, stderr %r vs %r" % (
                    " ".join(args), want.returncode, got.returncode, want.stdout[:200],
                    got.stdout[:200], want.stderr[:200], got.stderr[:200]))
    return problems


def backfill(odin, om, prom_dir, odin_dir):
    r = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", om, prom_dir],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("promtool backfill failed:\n" + r.stdout + r.stderr)
    r = subprocess.run([odin, "tsdb", "import", om, odin_dir], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError("odin tsdb import failed:\n" + r.stdout + r.stderr)


def run_queries(prom, odin_srv, t0):
    instants, (start, end, step) = eval_times(t0)
    total = equal = known = 0
    failures, now_equal = [], []
    stats = {"error": 0, "empty": 0}
    qs = queries(t0)
    for expr, ordered in qs:
        calls = [("/api/v1/query", {"query": expr, "time": t}, ordered) for t in instants]
        calls.append(("/api/v1/query_range", {"query": expr, "start": start, "end": end,
                                              "step": step}, False))
        for path, params, ord_ in calls:
            total += 1
            p = normalize(api(prom.url(""), path, params))
            o = normalize(api(odin_srv.url(""), path, params))
            diff = compare(p, o, ord_)
            if p[0] == "error":
                stats["error"] += 1
            elif p[0] in ("vector", "matrix") and not p[1]:
                stats["empty"] += 1
            kind = "range" if "start" in params else "instant@%d" % (params["time"] - t0)
            if diff is None:
                equal += 1
                if expr in KNOWN_DIFFERENCES:
                    now_equal.append(expr)
            elif expr in KNOWN_DIFFERENCES:
                known += 1
            else:
                failures.append("%s [%s]: %s" % (expr, kind, diff))
    return len(qs), total, equal, known, failures, sorted(set(now_equal)), stats


def main():
    for tool in (PROMETHEUS, PROMTOOL):
        if not os.path.exists(tool):
            odintest.skip("%s is not installed" % tool)
    odin = odintest.odin_bin()
    work = odintest.tempdir("odin-promql-diff-")
    # whole hours, the newest sample two hours ago: recent enough for any retention, and old
    # enough that nothing lands in a Prometheus head
    t0 = (int(time.time()) // 3600) * 3600 - 4 * 3600
    om = os.path.join(work, "data.om")
    with open(om, "w") as f:
        f.write(generate(t0))
    prom_dir, odin_dir = os.path.join(work, "prom"), os.path.join(work, "odin")
    backfill(odin, om, prom_dir, odin_dir)
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global: {scrape_interval: 15s, evaluation_interval: 15s}\n")
    pport, oport = odintest.free_port(), odintest.free_port()
    prom_argv = [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + prom_dir,
                 "--web.listen-address=127.0.0.1:%d" % pport,
                 "--storage.tsdb.retention.time=100y"]
    odin_argv = [odin, "server", "--config.file=" + cfg, "--storage.tsdb.path=" + odin_dir,
                 "--web.listen-address=127.0.0.1:%d" % oport,
                 "--storage.tsdb.retention.time=100y"]
    with odintest.Process(prom_argv, pport, "/-/ready", cwd=work) as prom, \
            odintest.Process(odin_argv, oport, "/-/ready", cwd=work) as odin_srv:
        nq, total, equal, known, failures, now_equal, stats = run_queries(prom, odin_srv, t0)
        failures += check_cli(odin, prom.url(""), t0)
    print("%d queries, %d evaluations (instant at 6 times + 1 range each): %d equal, "
          "%d known differences, %d different; Prometheus answered %d errors (Odin too) and %d "
          "empty results" % (nq, total, equal, known, len(failures), stats["error"],
                             stats["empty"]))
    # a broken setup (no data, every query an error on both sides) must not pass as "equal"
    if stats["error"] + stats["empty"] > total // 10:
        failures.append("too many errors or empty results: the data or the servers are broken")
    for e in now_equal:
        print("NOTE: listed as a known difference but now equal: %s" % e)
    for f in failures[:40]:
        print("DIFF: " + f)
    if len(failures) > 40:
        print("... and %d more" % (len(failures) - 40))
    if failures:
        print("FAIL")
        sys.exit(1)
    print("PASS")
    shutil.rmtree(work, True)


if __name__ == "__main__":
    main()

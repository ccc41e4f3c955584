#!/usr/bin/env python3
"""Runs node_exporter's textfile collector test table against the real `odin agent`.

For each upstream case (collector/textfile_test.go) the agent is started with only the textfile
collector and the case's --collector.textfile.directory values, /metrics is scraped once, and the
textfile families are compared with the case's expected .out file byte for byte. Upstream's test
registers the textfile collector alone, so its .out holds every family that collector exports;
we drop the families the agent itself adds (node_scrape_collector_*, build info, process_*,
promhttp_*) unless the .out names them. Upstream pins node_textfile_mtime_seconds to 1; we check
that the real value is a positive whole number and then write 1.

Environment: ODIN_BIN (the odin binary, default <repo>/build/odin), ODIN_SOURCE_DIR (repo root,
default two levels above this file). The fixtures come from ../shared/conformance relative to the
repo root; without them the test exits 77 (SKIP). Python standard library only.
"""
import difflib
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

# (case name, directory flag values, expected output) as in upstream's TestTextfileCollector.
CASES = [
    ("no_metric_files", ["fixtures/textfile/no_metric_files"], "no_metric_files.out"),
    ("two_metric_files", ["fixtures/textfile/two_metric_files"], "two_metric_files.out"),
    ("nonexistent_path", ["fixtures/textfile/nonexistent_path"], "nonexistent_path.out"),
    ("client_side_timestamp", ["fixtures/textfile/client_side_timestamp"],
     "client_side_timestamp.out"),
    ("different_metric_types", ["fixtures/textfile/different_metric_types"],
     "different_metric_types.out"),
    ("inconsistent_metrics", ["fixtures/textfile/inconsistent_metrics"],
     "inconsistent_metrics.out"),
    ("histogram", ["fixtures/textfile/histogram"], "histogram.out"),
    ("histogram_extra_dimension", ["fixtures/textfile/histogram_extra_dimension"],
     "histogram_extra_dimension.out"),
    ("summary", ["fixtures/textfile/summary"], "summary.out"),
    ("summary_extra_dimension", ["fixtures/textfile/summary_extra_dimension"],
     "summary_extra_dimension.out"),
    ("two_directories", ["fixtures/textfile/histogram_extra_dimension",
                         "fixtures/textfile/summary_extra_dimension"],
     "glob_extra_dimension.out"),
    ("glob_extra_dimension", ["fixtures/textfile/*_extra_dimension"], "glob_extra_dimension.out"),
    ("metrics_merge_empty_help", ["fixtures/textfile/metrics_merge_empty_help"],
     "metrics_merge_empty_help.out"),
    ("metrics_merge_no_help", ["fixtures/textfile/metrics_merge_no_help"],
     "metrics_merge_no_help.out"),
    ("metrics_merge_same_help", ["fixtures/textfile/metrics_merge_same_help"],
     "metrics_merge_same_help.out"),
    ("metrics_merge_different_help", ["fixtures/textfile/metrics_merge_different_help"],
     "metrics_merge_different_help.out"),
]

# Families the agent adds on its own; upstream's test registry has none of them.
AGENT_OWN = re.compile(r"^(node_scrape_collector_|node_exporter_build_info$|process_|promhttp_)")
MTIME = re.compile(r'^(node_textfile_mtime_seconds\{file="[^"]*"\}) (\S+)$')
START_TIMEOUT_S = 10.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def families(text):
    """Splits exposition text into (family name, lines) blocks in order."""
    blocks = []
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            name = line.split(" ", 3)[2]
            if not blocks or blocks[-1][0] != name:
                blocks.append((name, []))
        elif not blocks:
            blocks.append(("", []))
        blocks[-1][1].append(line)
    return blocks


def normalize(text, expected_names):
    """Keeps the textfile families and pins mtime values to 1; returns (text, problems)."""
    out, problems = [], []
    for name, lines in families(text):
        if AGENT_OWN.match(name) and name not in expected_names:
            continue
        for line in lines:
            m = MTIME.match(line)
            if m:
                try:
                    v = float(m.group(2))
                    if v <= 0 or v != int(v):
                        problems.append("mtime not a positive whole number: " + line)
                except ValueError:
                    problems.append("mtime not a number: " + line)
                line = m.group(1) + " 1"
            out.append(line)
    return "".join(l + "\n" for l in out), problems


def scrape(port, proc):
    deadline = time.monotonic() + START_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("agent exited with status %d before serving" % proc.returncode)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                return r.read().decode("utf-8")
        except OSError as e:
            last = e
            time.sleep(0.05)
    raise RuntimeError("agent did not answer on port %d within %.0fs: %s"
                       % (port, START_TIMEOUT_S, last))


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_case(odin, work, dirs, expected, verbose):
    port = free_port()
    args = [odin, "agent", "--collector.disable-defaults", "--collector.textfile"]
    args += ["--collector.textfile.directory=" + d for d in dirs]
    args += ["--web.listen-address=127.0.0.1:%d" % port]
    log_path = os.path.join(work, "agent-%d.log" % port)
    if verbose:
        print("run: " + " ".join(args[1:]))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, cwd=work, stdout=log, stderr=subprocess.STDOUT)
        try:
            body = scrape(port, proc)
        except RuntimeError as e:
            with open(log_path, "rb") as f:
                return False, "%s\n%s" % (e, f.read().decode("utf-8", "replace"))
        finally:
            stop(proc)
    names = {n for n, _ in families(expected)}
    got, problems = normalize(body, names)
    if got == expected and not problems:
        return True, ""
    diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True),
                                        "expected", "odin"))
    return False, "\n".join(problems) + ("\n" if problems else "") + diff


def main():
    verbose = "-v" in sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.environ.get("ODIN_SOURCE_DIR") or os.path.dirname(os.path.dirname(here))
    conformance = os.path.join(source, "..", "shared", "conformance")
    tarball = os.path.join(conformance, "node_exporter", "textfile.tar.gz")
    if not os.path.isdir(conformance) or not os.path.isfile(tarball):
        print("SKIP: %s not found (node_exporter textfile fixtures are read from "
              "../shared/conformance relative to the repository root)" % tarball)
        return 77
    odin = os.environ.get("ODIN_BIN") or os.path.join(source, "build", "odin")
    if not os.access(odin, os.X_OK):
        print("FAIL: odin binary not found at %s (set ODIN_BIN)" % odin)
        return 1
    odin = os.path.abspath(odin)

    work = tempfile.mkdtemp(prefix="odin-textfile-")
    try:
        fixtures = os.path.join(work, "fixtures")
        os.makedirs(fixtures)
        with tarfile.open(tarball) as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(fixtures, filter="data")
            else:
                t.extractall(fixtures)
        results = []
        for name, dirs, out in CASES:
            with open(os.path.join(fixtures, "textfile", out), encoding="utf-8") as f:
                expected = f.read()
            ok, detail = run_case(odin, work, dirs, expected, verbose)
            results.append((name, ok, detail))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(n) for n, _, _ in results)
    print("%-*s  result" % (width, "case"))
    for name, ok, _ in results:
        print("%-*s  %s" % (width, name, "pass" if ok else "FAIL"))
    failed = [(n, d) for n, ok, d in results if not ok]
    for name, detail in failed:
        print("\n--- %s ---\n%s" % (name, detail))
    print("\n%d of %d cases pass" % (len(results) - len(failed), len(results)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

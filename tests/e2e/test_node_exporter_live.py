#!/usr/bin/env python3
"""Runs Debian's node_exporter (1.5) and `odin agent` side by side on this machine and checks that
the families both expose agree in names and label names, and that stable values agree: MemTotal,
filesystem sizes, the CPU count and the boot time.

node_exporter 1.5 predates some label changes that Odin follows (newer node_exporter); those are
listed in KNOWN_LABEL_CHANGES with the version that made them."""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"

# family -> label names added after 1.5.0 (node-exporter.md section 1)
KNOWN_LABEL_CHANGES = {
    "node_filesystem_avail_bytes": {"device_error"},
    "node_filesystem_files": {"device_error"},
    "node_filesystem_files_free": {"device_error"},
    "node_filesystem_free_bytes": {"device_error"},
    "node_filesystem_readonly": {"device_error"},
    "node_filesystem_size_bytes": {"device_error"},
    "node_filesystem_device_error": {"device_error"},
    "node_disk_info": {"rotational"},
    "node_network_info": {"adminstate"},
    "node_exporter_build_info": {"tags"},
}
# Debian patches some defaults (mount points under /mnt excluded, lo excluded); both exporters get
# upstream's values explicitly so they look at the same things.
MOUNT_EXCLUDE = ("^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+"
                 "|var/lib/containers/storage/.+)($|/)")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(body):
    """{family: {"type": t, "samples": [(name, {labels}, value)]}}"""
    fams = {}
    types = {}
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, t = line.split(" ", 3)
            types[name] = t
            fams.setdefault(name, [])
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError("unparsable line: " + line)
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in types:
                fam = name[: -len(suffix)]
        fams.setdefault(fam, []).append((name, dict(LABEL.findall(labels)), float(value)))
    return fams


def label_names(samples):
    names = set()
    for _, labels, _ in samples:
        names |= set(labels)
    return names


def main():
    odin = odintest.odin_bin()
    if not os.path.exists(NODE_EXPORTER):
        odintest.skip("Debian's prometheus-node-exporter is not installed (scripts/setup installs it)")
    ne_port = odintest.free_port()
    common = ["--no-collector.textfile",
              "--collector.filesystem.mount-points-exclude=" + MOUNT_EXCLUDE]
    ne_argv = [NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % ne_port,
               "--no-collector.systemd", "--collector.netdev.device-exclude=^lo$"] + common
    with odintest.Process(ne_argv, ne_port, "/metrics") as ne, \
            odintest.Agent(odin, ["agent", "--collector.netdev.device-exclude=^lo$"] + common) as ag:
        theirs = parse(odintest.http_get(ne.url("/metrics"))[2].decode())
        ours = parse(ag.scrape())

    problems = []
    both = sorted(f for f in set(theirs) & set(ours)
                  if not f.startswith(("go_", "promhttp_", "process_", "node_scrape_")))
    for fam in both:
        a, b = label_names(theirs[fam]), label_names(ours[fam])
        extra = b - a - KNOWN_LABEL_CHANGES.get(fam, set())
        if extra or (a - b):
            problems.append("%s: labels differ: node_exporter %s, odin %s" % (fam, sorted(a),
                                                                              sorted(b)))

    def single(fams, name):
        samples = fams.get(name, [])
        if len(samples) != 1:
            raise AssertionError("%s: expected one sample, got %d" % (name, len(samples)))
        return samples[0][2]

    for fam in ("node_memory_MemTotal_bytes", "node_boot_time_seconds"):
        if fam not in ours:
            problems.append("%s missing from odin" % fam)
            continue
        if single(theirs, fam) != single(ours, fam):
            problems.append("%s: node_exporter %r, odin %r" % (fam, single(theirs, fam),
                                                               single(ours, fam)))

    def cpus(fams):
        return {s[1].get("cpu") for s in fams.get("node_cpu_seconds_total", [])}

    if cpus(theirs) != cpus(ours):
        problems.append("CPU sets differ: %s vs %s" % (sorted(cpus(theirs)), sorted(cpus(ours))))

    def sizes(fams):
        return {s[1]["mountpoint"]: s[2] for s in fams.get("node_filesystem_size_bytes", [])}

    ts, os_ = sizes(theirs), sizes(ours)
    if not os_:
        problems.append("odin exposes no node_filesystem_size_bytes")
    for mp in sorted(set(ts) | set(os_)):
        if ts.get(mp) != os_.get(mp):
            problems.append("filesystem size of %s: node_exporter %r, odin %r" % (mp, ts.get(mp),
                                                                                  os_.get(mp)))

    only_theirs = sorted(f for f in set(theirs) - set(ours) if not f.startswith(("go_",)))
    only_ours = sorted(set(ours) - set(theirs))
    print("families in both: %d; only node_exporter 1.5: %d; only odin: %d" % (
        len(both), len(only_theirs), len(only_ours)))
    for f in only_theirs:
        print("  only node_exporter: " + f)
    for f in only_ours:
        print("  only odin: " + f)
    for p in problems:
        print("FAIL: " + p)
    print("%d passed, %d failed" % (len(both) + 4 - len(problems), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

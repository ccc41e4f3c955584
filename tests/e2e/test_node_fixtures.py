#!/usr/bin/env python3
"""Runs `odin agent` on node_exporter's own end-to-end fixtures and compares its output with
upstream's e2e-output.txt, family by family, byte for byte. Prints a per-collector table.

Fails when a collector the agent must provide (REQUIRED) is missing, when an expected line of an
implemented collector is absent or differs, or when the agent emits a line upstream does not."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

# The collectors the agent provides (the foundation issue's list).
REQUIRED = """arp conntrack cpu cpufreq diskstats edac entropy filefd filesystem hwmon infiniband
loadavg mdadm meminfo netclass netdev netstat nvme os powersupplyclass pressure rapl schedstat
sockstat softnet stat textfile thermal_zone time timex udp_queues uname vmstat""".split()

# Upstream's e2e flags (SOURCE.md). A flag is passed only when our binary knows it, as upstream's
# script does for older builds.
ENABLE = """arp bcache bcachefs bonding btrfs buddyinfo cgroups conntrack cpu cpufreq
cpu_vulnerabilities diskstats dmi drbd edac entropy fibrechannel filefd hwmon infiniband interrupts
ipvs kernel_hung ksmd lnstat loadavg mdadm meminfo meminfo_numa mountstats netdev netstat nfs nfsd
pcidevice pressure processes qdisc rapl schedstat slabinfo sockstat softirqs stat sysctl textfile
thermal_zone udp_queues vmstat watchdog wifi xfrm xfs zfs zoneinfo""".split()
DISABLE = ["selinux", "filesystem", "timex", "uname"]
# Odin's own collectors that node_exporter lacks stay off, as upstream's run has only its own.
ODIN_ONLY = ["gpu", "container"]
OPTIONS = [
    "--collector.cpu.info",
    "--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$",
    "--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$",
    "--collector.arp.device-exclude=nope",
    "--no-collector.arp.netlink",
    "--collector.bcache.priorityStats",
    "--collector.hwmon.chip-include=(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)",
    "--collector.netclass.ignore-invalid-speed",
    "--collector.netclass.ignored-devices=(dmz|int)",
    "--collector.netdev.device-include=lo",
    "--collector.qdisc.device-include=(wlan0|eth0)",
    "--collector.stat.softirq",
    "--collector.sysctl.include-info=kernel.seccomp.actions_avail",
    "--collector.sysctl.include=fs.file-nr",
    "--collector.sysctl.include=fs.file-nr:total,current,max",
    "--collector.sysctl.include=kernel.threads-max",
    "--collector.textfile.directory=collector/fixtures/textfile/two_metric_files/",
]
DROP = re.compile(r"^(go_|node_exporter_build_info|node_scrape_collector_duration_seconds|process_"
                  r"|node_textfile_mtime_seconds|node_time_(zone|seconds)"
                  r"|node_network_(receive|transmit)_(bytes|packets)_total)")

# Which collector a family belongs to: exact names first, then the longest matching prefix.
EXACT = {
    "node_cpu_frequency_hertz": "cpu+cpufreq",  # cpu.info and cpufreq share this family
    "node_cpu_frequency_max_hertz": "cpufreq", "node_cpu_frequency_min_hertz": "cpufreq",
    "node_cpu_scaling_frequency_hertz": "cpufreq", "node_cpu_scaling_frequency_max_hertz": "cpufreq",
    "node_cpu_scaling_frequency_min_hertz": "cpufreq", "node_cpu_scaling_governor": "cpufreq",
    "node_cpu_vulnerabilities_info": "cpu_vulnerabilities",
    "node_boot_time_seconds": "stat", "node_context_switches_total": "stat",
    "node_forks_total": "stat", "node_intr_total": "stat", "node_procs_blocked": "stat",
    "node_procs_running": "stat", "node_softirqs_total": "stat",
    "node_softirqs_functions_total": "softirqs", "node_cooling_device_cur_state": "thermal_zone",
    "node_cooling_device_max_state": "thermal_zone", "node_udp_queues": "udp_queues",
    "node_kernel_hung_tasks_total": "kernel_hung",
}
PREFIX = [
    ("node_cpu_", "cpu"), ("node_load", "loadavg"), ("node_memory_numa_", "meminfo_numa"),
    ("node_memory_", "meminfo"), ("node_vmstat_", "vmstat"), ("node_disk_", "diskstats"),
    ("node_filesystem_", "filesystem"), ("node_md_", "mdadm"), ("node_nvme_", "nvme"),
    ("node_edac_", "edac"), ("node_netstat_", "netstat"), ("node_sockstat_", "sockstat"),
    ("node_filefd_", "filefd"), ("node_entropy_", "entropy"), ("node_nf_conntrack_", "conntrack"),
    ("node_arp_", "arp"), ("node_time_", "time"), ("node_timex_", "timex"),
    ("node_uname_", "uname"), ("node_os_", "os"), ("node_hwmon_", "hwmon"),
    ("node_thermal_zone_", "thermal_zone"), ("node_infiniband_", "infiniband"),
    ("node_power_supply_", "powersupplyclass"), ("node_rapl_", "rapl"),
    ("node_schedstat_", "schedstat"), ("node_softnet_", "softnet"), ("node_pressure_", "pressure"),
    ("node_textfile_", "textfile"), ("testmetric", "textfile"), ("node_network_", "netclass"),
    ("node_scrape_", "self"), ("node_exporter_", "self"), ("process_", "self"),
    ("promhttp_", "self"), ("go_", "go"),
]
NETDEV = re.compile(r"^node_network_(receive|transmit)_\w+_total$")


def owner(family):
    if family in EXACT:
        return EXACT[family]
    if NETDEV.match(family) and family != "node_network_transmit_queue_length":
        return "netdev"
    best = ""
    who = "other"
    for prefix, name in PREFIX:
        if family.startswith(prefix) and len(prefix) > len(best):
            best, who = prefix, name
    if who == "other" and family.startswith("node_"):
        who = family.split("_")[1]
    return who


def families(lines):
    """Groups exposition lines into {family: [lines]} in order of appearance."""
    out = {}
    current = None
    for line in lines:
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            current = line.split(" ", 3)[2]
            out.setdefault(current, [])
        elif not line or line.startswith("#"):
            continue
        out.setdefault(current, [])
        out[current].append(line)
    return out


def main():
    conf = odintest.conformance_dir("node_exporter")
    odin = odintest.odin_bin()
    work = odintest.tempdir("odin-node-fixtures-")
    fixtures = os.path.join(work, "collector", "fixtures")
    os.makedirs(fixtures)
    for name in ["proc", "sys", "udev", "textfile", "usr"]:
        odintest.untar(os.path.join(conf, name + ".tar.gz"), fixtures)

    known = odintest.agent_flags(odin)
    known_collectors = {f[len("collector."):] for f in known if f.startswith("collector.")
                        and "." not in f[len("collector."):]}
    args = ["agent",
            "--path.rootfs=collector/fixtures",
            "--path.procfs=collector/fixtures/proc",
            "--path.sysfs=collector/fixtures/sys",
            "--path.udev.data=collector/fixtures/udev/data",
            "--log.level=debug"]
    args += ["--collector." + c for c in ENABLE if c in known_collectors]
    args += ["--no-collector." + c for c in DISABLE + ODIN_ONLY if c in known_collectors]
    for opt in OPTIONS:
        name = opt.split("=", 1)[0][2:]
        if name.startswith("no-"):
            name = name[3:]
        if name in known:
            args.append(opt)

    with odintest.Agent(odin, args, cwd=work) as agent:
        body = agent.scrape()
        # later scrapes run on kept state (descriptors, absent paths, netstat's field lists):
        # on a tree that does not change they must print the same
        agent.scrape()
        later = agent.scrape()

    got_lines = [l for l in body.splitlines() if not DROP.match(l)]
    # netdev reads the live lo; the handler counts its requests
    moving = ("node_network_", "promhttp_metric_handler_requests_total")
    later_lines = [l for l in later.splitlines() if not DROP.match(l)
                   and not l.startswith(moving)]
    with open(os.path.join(conf, "e2e-output.txt"), encoding="utf-8") as f:
        want_lines = [l for l in f.read().splitlines() if not DROP.match(l)]
    got = families(got_lines)
    want = families(want_lines)
    implemented = set(re.findall(r'node_scrape_collector_success\{collector="([^"]+)"\} 1',
                                 body))
    implemented |= set(re.findall(r'node_scrape_collector_success\{collector="([^"]+)"\} 0',
                                  body))

    stats = {}
    problems = []
    first_lines = [l for l in got_lines if not l.startswith(moving)]
    for line in sorted(set(first_lines) ^ set(later_lines)):
        problems.append("third scrape %s: %s" % ("lacks" if line in first_lines else "adds",
                                                line))

    def stat(who):
        return stats.setdefault(who, {"expected": 0, "matched": 0, "missing": 0, "extra": 0})

    for fam, lines in want.items():
        who = owner(fam)
        owners = who.split("+")
        if who == "go" or not any(o in implemented or o == "self" for o in owners):
            continue
        if not all(o in implemented or o == "self" for o in owners):
            continue
        got_set = set(got.get(fam, []))
        for line in lines:
            if fam == "node_scrape_collector_success" or fam == "node_scrape_collector_duration_seconds":
                m = re.search(r'collector="([^"]+)"', line)
                if m and m.group(1) not in implemented:
                    continue
            s = stat(who)
            s["expected"] += 1
            if line in got_set:
                s["matched"] += 1
            elif who == "netdev" and not line.startswith("#") and \
                    any(g.rsplit(" ", 1)[0] == line.rsplit(" ", 1)[0] for g in got_set):
                # netdev reads the live host's lo, as upstream's does: names and labels only
                s["matched"] += 1
            else:
                s["missing"] += 1
                problems.append("missing  [%s] %s" % (who, line))
    for fam, lines in got.items():
        who = owner(fam)
        want_set = set(want.get(fam, []))
        for line in lines:
            if line in want_set or who == "go":
                continue
            if who == "netdev" and any(w.rsplit(" ", 1)[0] == line.rsplit(" ", 1)[0]
                                       for w in want_set):
                continue
            stat(who)["extra"] += 1
            problems.append("extra    [%s] %s" % (who, line))

    print("%-20s %9s %8s %8s %6s" % ("collector", "expected", "matched", "missing", "extra"))
    for who in sorted(stats):
        s = stats[who]
        print("%-20s %9d %8d %8d %6d" % (who, s["expected"], s["matched"], s["missing"],
                                         s["extra"]))
    # collectors disabled for the fixture run (host-dependent) only need to exist
    not_impl = [c for c in REQUIRED if c not in implemented
                and not (c in DISABLE and c in known_collectors)]
    for c in not_impl:
        problems.append("collector %s is not implemented" % c)
    verbose = "-v" in sys.argv
    for p in problems[: None if verbose else 60]:
        print(p)
    if len(problems) > 60 and not verbose:
        print("... %d more (run with -v)" % (len(problems) - 60))
    total = sum(s["expected"] for s in stats.values())
    matched = sum(s["matched"] for s in stats.values())
    print("%d of %d expected lines matched; %d problems" % (matched, total, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

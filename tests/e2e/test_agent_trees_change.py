#!/usr/bin/env python3
"""One `odin agent` kept running on a small procfs/sysfs tree that changes between scrapes: what
the agent keeps from scrape to scrape (topology ids of the CPUs, listings, descriptors) must follow
the changes.

- cpu: the topology ids are kept while the CPU directories and the online mask stay the same; a
  CPU brought back with other ids (mask changed) and a CPU directory added show their new ids.
- netclass: a device directory renamed and another one renamed to its old name (eth0 -> old0,
  eth1 -> eth0) reports each device's values under its new name."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

STAT = """cpu  1 2 3 4 5 6 7 8 9 10
cpu0 1 2 3 4 5 6 7 8 9 10
cpu1 1 2 3 4 5 6 7 8 9 10
intr 0
ctxt 0
btime 0
processes 0
procs_running 1
procs_blocked 0
"""


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def add_cpu(sys_root, n, pkg, core, count):
    d = "devices/system/cpu/cpu%d/" % n
    write(sys_root, d + "topology/physical_package_id", "%d\n" % pkg)
    write(sys_root, d + "topology/core_id", "%d\n" % core)
    write(sys_root, d + "thermal_throttle/core_throttle_count", "%d\n" % count)
    write(sys_root, d + "thermal_throttle/package_throttle_count", "7\n")


def lines(agent, prefixes):
    return sorted(ln for ln in agent.scrape().splitlines() if ln.startswith(prefixes))


def check(what, got, want):
    if got != sorted(want):
        print("FAIL: %s" % what)
        for ln in sorted(set(got) ^ set(want)):
            print("  %s %s" % ("got " if ln in got else "want", ln))
        return 1
    print("%s: ok" % what)
    return 0


def main():
    odin = odintest.odin_bin()
    root = odintest.tempdir("odin-trees-")
    proc, sys_root = os.path.join(root, "proc"), os.path.join(root, "sys")
    write(proc, "stat", STAT)
    write(sys_root, "devices/system/cpu/online", "0-1\n")
    add_cpu(sys_root, 0, 0, 0, 1)
    add_cpu(sys_root, 1, 0, 1, 2)
    for dev, mtu in (("eth0", 1500), ("eth1", 9000)):
        write(sys_root, "class/net/%s/mtu" % dev, "%d\n" % mtu)
    args = ["agent", "--collector.disable-defaults", "--collector.cpu", "--collector.netclass",
            "--path.procfs=" + proc, "--path.sysfs=" + sys_root]
    thr = ("node_cpu_core_throttles_total",)
    mtu = ("node_network_mtu_bytes",)
    failed = 0
    with odintest.Agent(odin, args) as ag:
        for _ in range(2):  # the second scrape runs on what the first one kept
            failed += check("cpu topology", lines(ag, thr), [
                'node_cpu_core_throttles_total{core="0",package="0"} 1',
                'node_cpu_core_throttles_total{core="1",package="0"} 2'])
        # cpu1 went offline and came back as another core: the mask changed in between
        write(sys_root, "devices/system/cpu/online", "0\n")
        add_cpu(sys_root, 1, 1, 4, 5)
        failed += check("cpu topology after the online mask changed", lines(ag, thr), [
            'node_cpu_core_throttles_total{core="0",package="0"} 1',
            'node_cpu_core_throttles_total{core="4",package="1"} 5'])
        add_cpu(sys_root, 2, 2, 0, 3)
        failed += check("cpu topology after a CPU directory was added", lines(ag, thr), [
            'node_cpu_core_throttles_total{core="0",package="0"} 1',
            'node_cpu_core_throttles_total{core="4",package="1"} 5',
            'node_cpu_core_throttles_total{core="0",package="2"} 3'])

        failed += check("netclass", lines(ag, mtu), [
            'node_network_mtu_bytes{device="eth0"} 1500',
            'node_network_mtu_bytes{device="eth1"} 9000'])
        net = os.path.join(sys_root, "class", "net")
        os.rename(os.path.join(net, "eth0"), os.path.join(net, "old0"))
        os.rename(os.path.join(net, "eth1"), os.path.join(net, "eth0"))
        failed += check("netclass after renames", lines(ag, mtu), [
            'node_network_mtu_bytes{device="eth0"} 9000',
            'node_network_mtu_bytes{device="old0"} 1500'])
    print("FAIL" if failed else "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

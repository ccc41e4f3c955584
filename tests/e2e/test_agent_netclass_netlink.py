#!/usr/bin/env python3
"""netclass on the live /sys takes most attributes from the rtnetlink link dump; it must print what
the attribute files print. Runs `odin agent` with only netclass twice on this host, once with
--path.sysfs=/sys (link dump) and once with --path.sysfs=/sys/. (another spelling of the same tree,
which reads every file), and compares the node_network_* samples byte for byte.

As root with unshare(1) and ip(8), it also builds a network namespace with its own sysfs and the
cases a plain host lacks (veth pairs up and down, a bridge whose port is promiscuous through the
bridge, an explicitly promiscuous link, aliases with spaces and one longer than sysfs' 128-byte
read, a changed MTU) and compares there, with both agents kept running while links are renamed,
deleted and made again under an old name (the link-dump agent keeps dev_id and name_assign_type
per name and index; the file reader keeps attribute descriptors open, which follow a renamed
device, so it must reopen them when a name comes to mean another device). Without root that part is reported and skipped."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402


def agent(odin, sysfs):
    return odintest.Agent(odin, ["agent", "--collector.disable-defaults", "--collector.netclass",
                                 "--path.sysfs=" + sysfs])


def netclass_lines(ag):
    ag.scrape()  # the second scrape runs on what the first one kept
    return [ln for ln in ag.scrape().splitlines() if ln.startswith("node_network_")]


def compare(nl_agent, files_agent, where):
    """Compares the two paths; counters may move between the two scrapes, so a difference is
    retried before it counts."""
    for _ in range(3):
        nl = netclass_lines(nl_agent)
        files = netclass_lines(files_agent)
        if nl == files:
            break
    if not nl:
        print("FAIL: %s: no node_network_* samples" % where)
        return 1
    if nl != files:
        print("FAIL: %s: link dump and files differ" % where)
        for ln in sorted(set(nl) ^ set(files)):
            print("  %s %s" % ("netlink" if ln in nl else "files  ", ln))
        return 1
    print("%s: %d samples identical" % (where, len(nl)))
    return 0


NETNS_SETUP = [
    "mount -t sysfs sysfs /sys",
    "ip link set lo up",
    "ip link add veth0 type veth peer name veth1",
    "ip link set veth0 up",
    "ip link set veth0 alias '  alias with spaces  '",
    "ip link set veth0 promisc on",
    "ip link set veth0 mtu 9000",
    "ip link add veth2 type veth peer name veth3",
    "ip link set veth2 alias '" + "x" * 130 + " y'",
    "ip link add br0 type bridge",
    "ip link set veth2 master br0",
    "ip link set br0 up",
    "ip link set veth2 up",
    "ip link set veth3 up",
]


NETNS_CHANGES = [
    "ip link set veth1 name renamed1",
    "ip link del veth2",
    "ip link add veth2 type veth peer name veth3",
    "ip link set veth2 up",
    # another device under a name already seen: its name_assign_type is "renamed"
    "ip link set veth0 down",
    "ip link set veth0 name old0",
    "ip link set veth3 name veth0",
]


def run_all(cmds):
    for cmd in cmds:
        r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
        if r.returncode != 0:
            print("netns: step failed, part skipped: %s: %s" % (cmd, r.stderr.strip()))
            return False
    return True


def in_netns(odin):
    if not run_all(NETNS_SETUP):
        return 0
    with agent(odin, "/sys") as nl, agent(odin, "/sys/.") as files:
        failed = compare(nl, files, "network namespace")
        if not run_all(NETNS_CHANGES):
            return failed
        # the file reader keeps running: a kept descriptor of a renamed device's attribute still
        # reads that device, so it must notice that a name now lists another directory entry
        # (old0 was veth0, with MTU 9000; veth0 is now the former veth3)
        failed += compare(nl, files, "network namespace, links renamed and made again")
        with agent(odin, "/sys/.") as fresh:
            failed += compare(nl, fresh, "network namespace, a fresh file reader")
    return failed


def main():
    odin = odintest.odin_bin()
    if len(sys.argv) > 1 and sys.argv[1] == "--in-netns":
        return in_netns(odin)
    if not os.path.isdir("/sys/class/net"):
        odintest.skip("/sys/class/net is absent")
    with agent(odin, "/sys") as nl, agent(odin, "/sys/.") as files:
        failed = compare(nl, files, "host")
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
        r = subprocess.run(["unshare", "-n", "-m", sys.executable, os.path.abspath(__file__),
                            "--in-netns"], capture_output=True, text=True)
        sys.stdout.write(r.stdout + r.stderr)
        failed += r.returncode != 0
    else:
        print("netns part skipped: needs root, unshare and ip")
    print("%s" % ("FAIL" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

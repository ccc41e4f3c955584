#!/usr/bin/env python3
"""Cost of GPU collection: runs `odin agent` with the gpu collector (plus the defaults, so the
figure is the whole agent) against the fake libnvidia-ml.so.1 with 8 GPUs sampled every second,
scrapes it every 15 s like Prometheus, and reports the agent's CPU (% of one core, from
/proc/<pid>/stat utime+stime) and RSS (VmRSS). Goal: <= 1 % of a core, <= 10 MB.

usage: FAKE_NVML_LIB=build/tests/fake-nvml/libnvidia-ml.so.1 bench/gpu_bench.py [seconds=60]
The fake answers instantly, so this measures Odin's own cost (sampling, caching, serving); real
NVML calls add driver time, which odin_gpu_sample_duration_seconds reports on a real machine."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import odintest  # noqa: E402

GPU = """gpu {i} uuid GPU-{i:08d}-0000-0000-0000-000000000000
gpu {i} name NVIDIA H100 80GB HBM3
gpu {i} pci 00000000:{bus:02X}:00.0
gpu {i} sm_clock 1980
gpu {i} mem_clock 2619
gpu {i} temp 45
gpu {i} fv 82 50
gpu {i} power_mw 350000
gpu {i} energy_mj 987654321
gpu {i} pcie_replay 0
gpu {i} util 87 40
gpu {i} enc 0
gpu {i} dec 0
gpu {i} mem 85520809984 84167000064 1048576000 305233920
gpu {i} fv 138 1000
gpu {i} fv 139 2000
gpu {i} remap 0 0 0 0
gpu {i} license 0 0
gpu {i} gpm 1
gpu {i} gpm_metric 1 95.9
gpu {i} gpm_metric 5 12.5
gpu {i} gpm_metric 10 33
gpu {i} gpm_metric 20 100
gpu {i} gpm_metric 21 2.5
"""


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run(odin, lib, script, seconds, gpu_on):
    os.environ["FAKE_NVML_SCRIPT"] = script
    args = ["agent", "--collector.gpu.nvml-library=" + lib, "--collector.gpu.interval=1s"]
    if not gpu_on:
        args.append("--no-collector.gpu")
    with odintest.Agent(odin, args) as a:
        pid = a.proc.pid
        series = sum(1 for l in a.scrape().splitlines() if l.startswith("DCGM_"))
        time.sleep(2)
        c0, t0 = proc_cpu_s(pid), time.time()
        while time.time() - t0 < seconds:
            a.scrape()
            time.sleep(min(15, max(0, seconds - (time.time() - t0))))
        cpu = (proc_cpu_s(pid) - c0) / (time.time() - t0) * 100
        return cpu, proc_rss_kb(pid) / 1024, series


def main():
    lib = os.environ.get("FAKE_NVML_LIB")
    if not lib:
        print("set FAKE_NVML_LIB to the fake libnvidia-ml.so.1 (built with the tests)")
        sys.exit(2)
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    odin = odintest.odin_bin()
    tmp = odintest.tempdir("odin-gpu-bench-")
    script = os.path.join(tmp, "eight.txt")
    with open(script, "w") as f:
        f.write("driver 570.86.15\ngpus 8\n")
        for i in range(8):
            f.write(GPU.format(i=i, bus=0x18 + 0x10 * i))
    lib = os.path.abspath(lib)
    base_cpu, base_rss, _ = run(odin, lib, script, seconds, False)
    cpu, rss, series = run(odin, lib, script, seconds, True)
    print("agent without gpu collector: cpu %.3f %% of a core, rss %.1f MB" % (base_cpu, base_rss))
    print("agent with 8 fake GPUs at 1 s: cpu %.3f %% of a core, rss %.1f MB, %d DCGM series"
          % (cpu, rss, series))
    print("gpu collector share: cpu %+.3f %%, rss %+.1f MB" % (cpu - base_cpu, rss - base_rss))
    ok = cpu <= 1.0 and rss <= 10.0
    print("goal (whole agent <= 1 %% of a core and <= 10 MB): %s" % ("met" if ok else "NOT met"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

#!/bin/sh
# The real-GPU run: on a machine with an NVIDIA GPU and nvidia-smi, it
#  1. runs scripts/gpu-check with the GPU idle,
#  2. puts the GPU under load (a bf16 matrix-product loop, when python3 has torch) and runs it again,
#  3. scrapes every field Odin knows (all DCGM_FI_DEV_* and DCGM_FI_PROF_* of src/agent/gpu/fields.c)
#     plus the per-process series while the load runs, so the GPM profiling fields can be read,
#  4. measures the agent's own cost with only the gpu collector at the default 1 s sampling:
#     CPU seconds over a fixed window (scraped every 5 s) and RSS.
# usage: bench/gpu_real.sh path/to/odin OUTDIR
# Output: OUTDIR/{idle,load}.txt (gpu-check), prof.txt (a whole scrape), cost.txt; all also on stdout.
set -u
odin=$(readlink -f "$1")
out=$2
root=$(dirname "$(dirname "$(readlink -f "$0")")")
mkdir -p "$out"

nvidia-smi -L
nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.current,power.limit --format=csv

echo "== gpu-check, idle"
python3 "$root/scripts/gpu-check" "$odin" 2>&1 | tee "$out/idle.txt"

load_pid=
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    python3 - <<'EOF' &
import time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
end = time.time() + 40
while time.time() < end:
    for _ in range(20):
        b = a @ a
    torch.cuda.synchronize()
EOF
    load_pid=$!
    sleep 8
    echo "== gpu-check, under a bf16 matrix-product load"
    python3 "$root/scripts/gpu-check" "$odin" 2>&1 | tee "$out/load.txt"
else
    echo "== no torch with CUDA here: no load run"
fi

echo "== every known field and the per-process series"
counters="$out/all-counters.csv"
grep -o '"DCGM_FI_\(DEV\|PROF\)_[A-Z0-9_]*"' "$root/src/agent/gpu/fields.c" | tr -d '"' | sort -u |
    sed 's/$/, gauge, all-fields run/' >"$counters"
echo "DCGM_FI_DRIVER_VERSION, label, Driver Version" >>"$counters"
port=19431
"$odin" agent --collector.disable-defaults --collector.gpu --collector.gpu.processes \
    --collector.gpu.counters-file="$counters" --web.listen-address=127.0.0.1:$port \
    >"$out/prof-agent.log" 2>&1 &
agent=$!
sleep 4
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics').read().decode())" \
    >"$out/prof.txt"
kill $agent; wait $agent 2>/dev/null
cat "$out/prof-agent.log"
grep -E '^(DCGM_FI_PROF_|DCGM_FI_DEV_(POWER_USAGE|GPU_UTIL|SM_CLOCK|FB_USED)|odin_gpu_process_)' "$out/prof.txt"
echo "series served: $(grep -c '^DCGM_' "$out/prof.txt") DCGM, $(grep -c '^odin_gpu_process' "$out/prof.txt") per-process"
[ -n "$load_pid" ] && wait "$load_pid"

echo "== cost of the agent, gpu collector only, 1 s sampling, 30 s window, idle GPU"
"$odin" agent --collector.disable-defaults --collector.gpu --web.listen-address=127.0.0.1:$port \
    >/dev/null 2>&1 &
agent=$!
sleep 2
t0=$(awk '{print $14+$15}' /proc/$agent/stat)
for i in 1 2 3 4 5 6; do
    sleep 5
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/metrics').read()"
done
t1=$(awk '{print $14+$15}' /proc/$agent/stat)
hz=$(getconf CLK_TCK)
{
    echo "cpu: $(( t1 - t0 )) ticks of 1/$hz s in 30 s = $(awk -v d=$(( t1 - t0 )) -v hz=$hz 'BEGIN{printf "%.3f", 100*d/hz/30}') % of a core"
    grep -E '^(VmRSS|VmHWM)' /proc/$agent/status
    python3 -c "import urllib.request; print(''.join(l+'\n' for l in urllib.request.urlopen('http://127.0.0.1:$port/metrics').read().decode().splitlines() if l.startswith('odin_gpu_sample_duration')))"
} | tee "$out/cost.txt"
kill $agent; wait $agent 2>/dev/null

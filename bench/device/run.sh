#!/usr/bin/env bash
# On a lent GPU machine (JAX, NumPyro there; no .NET): the blog's network with NumPyro on CPU and GPU, and with bnn
# on the same machine's CPU, one after the other. Expects, in the git-ignored folder device/ of the working tree:
#   device/rt.tar.xz   the .NET runtime  (tar -C /usr/share/dotnet -cJf device/rt.tar.xz dotnet host/fxr shared/Microsoft.NETCore.App)
#   device/bnn.tar.xz  bnn without TorchSharp (dotnet publish src/Cli -c Release -r linux-x64 --self-contained false -p:BnnWithoutTorch=true)
# Results go to $OUT (or bench/results/device).
set -u
cd "$(dirname "$0")/../.."
out=${OUT:-bench/results/device}
mkdir -p "$out" /tmp/dotnet /tmp/bnn
tar -C /tmp/dotnet -xJf device/rt.tar.xz && tar -C /tmp/bnn -xJf device/bnn.tar.xz
export DOTNET_ROOT=/tmp/dotnet PYTHONUNBUFFERED=1
bnn() { /tmp/dotnet/dotnet /tmp/bnn/bnn.dll "$@"; }
{ nproc; grep -m1 'model name' /proc/cpuinfo; nvidia-smi -L; python3 -c 'import jax, numpyro; print("jax", jax.__version__, "numpyro", numpyro.__version__)'; } >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

echo "== bnn, 4 chains in parallel"
timeout 150 /tmp/dotnet/dotnet /tmp/bnn/bnn.dll sample models/blog_mlp_pytorch.onnx --data models/blog_data.csv \
  --features x --target y --seed 2021 --parallel-chains 4 --no-progress --out "$out/bnn_blog" >"$out/bnn.txt" 2>"$out/bnn.log"
tail -n 5 "$out/bnn.txt"; tail -n 1 "$out/bnn.log"

echo "== NumPyro, CPU, 4 chains parallel"
timeout 200 python3 bench/numpyro/blog_numpyro.py models/blog_data.csv "$out/numpyro_cpu" --platform cpu 2>"$out/numpyro_cpu.log" | tail -n 1
echo "== NumPyro, GPU, 4 chains vectorized, 500 + 500"
timeout 150 python3 bench/numpyro/blog_numpyro.py models/blog_data.csv "$out/numpyro_gpu" --platform gpu --warmup 500 --draws 500 2>"$out/numpyro_gpu.log" | tail -n 1

for f in numpyro_cpu numpyro_gpu; do
  if [ -f "$out/$f.draws.csv" ]; then
    bnn summary "$out/$f.draws.csv" --format csv >"$out/$f.summary.csv" 2>/dev/null
    gzip -f "$out/$f.draws.csv"
  fi
done
python3 - "$out" <<'PY'
import csv, json, sys, os
out = sys.argv[1]
def pred(path):
    rows = list(csv.DictReader(open(path)))
    mu = [r for r in rows if r["variable"].startswith("mu[")]
    return min(float(r["ess_bulk"]) for r in mu), max(float(r["rhat"]) for r in mu)
res = []
if os.path.exists(f"{out}/bnn_blog/run.json"):
    run = json.load(open(f"{out}/bnn_blog/run.json")); e, r = pred(f"{out}/bnn_blog/summary.csv")
    res.append(("bnn cpu", run["timing"]["total_seconds"], e, r))
for f in ("numpyro_cpu", "numpyro_gpu"):
    if os.path.exists(f"{out}/{f}.summary.csv"):
        j = json.load(open(f"{out}/{f}.json")); e, r = pred(f"{out}/{f}.summary.csv")
        res.append((f"{f} ({j['warmup']}+{j['draws']})", j["wall_seconds_incl_compile"], e, r))
print("| run | wall s | min predictive bulk-ESS | max R-hat | ESS/s |")
for name, wall, e, r in res:
    print(f"| {name} | {wall:.1f} | {e:.0f} | {r:.3f} | {e / wall:.1f} |")
PY

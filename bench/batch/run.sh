#!/usr/bin/env bash
# The 12 jobs of bench/batch/jobs.csv (the blog's network and the linear regression, two priors, three seeds each)
# run by `bnn batch` on this machine one after another (--parallel 1), then two at a time (--parallel 2), from
# scratch each time: wall time, load average before and after, and the index. Results: BENCHMARKS.md, "Batch jobs".
# Usage: bench/batch/run.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build src/Cli -c Release -v q -nologo >/dev/null
bnn=(dotnet "$PWD/src/Cli/bin/Release/net10.0/bnn.dll")
out=${1:-$(mktemp -d)}
mkdir -p "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
for parallel in 1 2; do
  rm -rf "$out/parallel-$parallel"
  echo "before --parallel $parallel: $(uptime)"
  TIMEFORMAT="bnn batch bench/batch/jobs.csv --parallel $parallel: %R s wall, %U s user + %S s system CPU"
  time (nice -n 5 "${bnn[@]}" batch bench/batch/jobs.csv --out "$out/parallel-$parallel" --parallel "$parallel" > "$out/parallel-$parallel.log" || true)
  echo "after  --parallel $parallel: $(uptime)"
  tail -n 13 "$out/parallel-$parallel.log"
done

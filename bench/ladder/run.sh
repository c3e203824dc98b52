#!/usr/bin/env bash
# The size ladder: five networks from the blog's toy to ~21k weights, each timed per value + gradient of the full log
# posterior on the compiled engine and on TorchSharp (libtorch eager), in float64 and float32, against one core's
# measured FMA peak; then `bnn sample` end to end on each rung. One command from a clean clone:
#   bench/ladder/run.sh [--no-sample]
# Installs the Debian packages it needs when missing (python3-torch, python3-onnx, python3-sklearn, r-cran-mass;
# needs root). Makes its fixtures itself (bench/ladder/make_fixtures.py; nothing large is committed).
# Results: bench/ladder/results/ (ladder.md is the table for BENCHMARKS.md).
# Sampling: rungs 1–2 with the defaults (4 chains × (1000 warmup + 1000 draws), two chains at a time); rungs 3–5 with
# a stated shorter run (LADDER_SHORT, default 2 chains × (300 + 300)), since the default run would take hours on two
# shared cores there.
set -euo pipefail
cd "$(dirname "$0")/../.."
sample=1
if [[ "${1:-}" == "--no-sample" ]]; then sample=0; fi
out=bench/ladder/results
mkdir -p "$out"
short=${LADDER_SHORT:-"--chains 2 --warmup 300 --draws 300"}
seconds=${LADDER_SECONDS:-3}

missing=()
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing+=(python3-torch)
/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1 || missing+=(python3-onnx)
/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1 || missing+=(python3-sklearn)
Rscript -e 'library(MASS)' >/dev/null 2>&1 || missing+=(r-cran-mass)
if [[ ${#missing[@]} -gt 0 ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

fixtures=$out/fixtures
[[ -f $fixtures/rungs.tsv ]] || /usr/bin/python3 bench/ladder/make_fixtures.py "$fixtures"

dotnet build bench/Benchmarks -c Release -v q -nologo >/dev/null
dotnet build src/Cli -c Release -v q -nologo >/dev/null
timing() { dotnet bench/Benchmarks/bin/Release/net10.0/Bnn.Onnx.Benchmarks.dll "$@"; }
bnn() { dotnet src/Cli/bin/Release/net10.0/bnn.dll "$@"; }

{
  echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "cores	$(nproc)"
  echo "date	$(date -u '+%F %H:%M UTC')"
  echo "uptime_before	$(uptime | sed 's/.*load average: //')"
} >"$out/machine.tsv"

echo "== FMA peak of one core"
timing fma-peak | tee "$out/fma.tsv"

tail -n +2 "$fixtures/rungs.tsv" | while IFS=$'\t' read -r rung name onnx csv features target likelihood rows macs; do
  echo "== rung $rung: $name (N = $rows)"
  timing ladder "$fixtures/$onnx" "$fixtures/$csv" "$likelihood" "$seconds" 1 2 | tee "$out/rung$rung.timing.tsv"
done

if [[ $sample == 1 ]]; then
  tail -n +2 "$fixtures/rungs.tsv" | while IFS=$'\t' read -r rung name onnx csv features target likelihood rows macs; do
    settings="--chains 4 --warmup 1000 --draws 1000"
    if [[ $rung -ge 3 ]]; then settings=$short; fi
    feat=()
    if [[ -n $features ]]; then feat=(--features "$features"); fi
    echo "== bnn sample rung $rung: $settings"
    # shellcheck disable=SC2086
    nice -n 5 dotnet src/Cli/bin/Release/net10.0/bnn.dll sample "$fixtures/$onnx" --data "$fixtures/$csv" "${feat[@]}" --target "$target" \
      --likelihood "$likelihood" $settings --seed 2026 --backend cpu --no-progress --out "$out/rung$rung" \
      >"$out/rung$rung.sample.txt" 2>"$out/rung$rung.sample.log" || true
    echo "$settings" >"$out/rung$rung.settings"
    head -n 1 "$out/rung$rung.sample.txt"
    grep -E '^(converged|NOT converged)' "$out/rung$rung.sample.txt" || true
  done
fi
echo "uptime_after	$(uptime | sed 's/.*load average: //')" >>"$out/machine.tsv"

/usr/bin/python3 bench/ladder/report.py "$out" | tee "$out/ladder.md"

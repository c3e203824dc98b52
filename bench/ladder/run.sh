#!/usr/bin/env bash
# The size ladder: five networks from the blog's toy to ~21k weights, each timed per value + gradient of the full log
# posterior on the compiled engine and on TorchSharp (libtorch eager), in float64 and float32, against one core's
# measured FMA peak; then `bnn sample` end to end on each rung. One command from a clean clone:
#   bench/ladder/run.sh [--no-sample]
# Installs the Debian packages it needs when missing (python3-torch, python3-onnx, python3-sklearn, r-cran-mass;
# needs root). Makes its fixtures itself (bench/ladder/make_fixtures.py; nothing large is committed).
# Results: bench/ladder/results/ (ladder.md is the table for BENCHMARKS.md).
# Sampling (`bnn sample --backend cpu`, default threads per chain): rungs 1–3 with the defaults (4 chains × (1000 warmup
# + 1000 draws), two chains at a time), rung 4 with 2 chains × (200 + 200), rung 5 with 1 chain × (100 + 100) and
# max depth 8 (the default run would take hours there). LADDER_QUICK=1 shortens every rung (for a loaded machine):
# rungs 1–2 2 chains × (300 + 300), rung 3 2 chains × (150 + 150) depth 8, rung 4 1 chain × (50 + 50) depth 6,
# rung 5 1 chain × (25 + 25) depth 5.
# LADDER_SECONDS: seconds of timing per configuration (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
sample=1
if [[ "${1:-}" == "--no-sample" ]]; then sample=0; fi
out=bench/ladder/results
mkdir -p "$out"
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
    if [[ ${LADDER_QUICK:-0} == 1 ]]; then
      case $rung in
        1|2) settings="--chains 2 --warmup 300 --draws 300" ;;
        3) settings="--chains 2 --warmup 150 --draws 150 --max-depth 8" ;;
        4) settings="--chains 1 --warmup 50 --draws 50 --max-depth 6" ;;
        *) settings="--chains 1 --warmup 25 --draws 25 --max-depth 5" ;;
      esac
    else
      case $rung in
        1|2|3) settings="--chains 4 --warmup 1000 --draws 1000" ;;
        4) settings="--chains 2 --warmup 200 --draws 200" ;;
        *) settings="--chains 1 --warmup 100 --draws 100 --max-depth 8" ;;
      esac
    fi
    feat=()
    if [[ $features != "-" ]]; then feat=(--features "$features"); fi
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

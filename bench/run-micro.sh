#!/usr/bin/env bash
# The BenchmarkDotNet benchmarks, all in one run (one process, in-process toolchain so the build's libstdc++ fix
# applies to TorchSharp): log density + gradient on both backends, the sampler's own cost per leapfrog, and the
# packed ensemble against member files. Results: BenchmarkDotNet.Artifacts/results/*.md
#   bench/run-micro.sh [extra BenchmarkDotNet arguments, e.g. --filter '*Compiled*']
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/Benchmarks -c Release -v q -nologo >/dev/null
cd bench/Benchmarks/bin/Release/net10.0
if [[ $# -eq 0 ]]; then set -- --filter '*'; fi
dotnet Bnn.Onnx.Benchmarks.dll --job short --inProcess "$@"

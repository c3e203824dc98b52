#!/usr/bin/env bash
# The side-by-side benchmark: the blog's linear regression and network sampled by bnn and by Stan (rstan), on the
# same machine, one after the other, with the same chains (4), warmup (1000), draws (1000), priors and data, two
# chains at a time on two cores. For the network it also measures each of bnn's levers separately:
# the gradient-based metric adaptation, starting at the trained weights, and float32 arithmetic.
#   bench/run.sh [--skip-stan]
# Installs rstan and posterior from Debian's packages when missing (needs root). Results: bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
skip_stan=0
if [[ "${1:-}" == "--skip-stan" ]]; then skip_stan=1; fi
out=bench/results
mkdir -p "$out"

if [[ $skip_stan == 0 ]] && ! Rscript -e 'library(rstan); library(posterior)' >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-cran-rstan r-cran-posterior >/dev/null
fi

dotnet build src/Cli -c Release -v q -nologo >/dev/null
bnn() { dotnet src/Cli/bin/Release/net10.0/bnn.dll "$@"; }
data=models/blog_data.csv
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GB; $(date -u +%F)"

sample() { # name model extra-options…
  local name=$1 model=$2; shift 2
  echo "== bnn $name $*"
  bnn sample "$model" --data "$data" --features x --target y --chains 4 --warmup 1000 --draws 1000 \
    --seed 2021 --parallel-chains 2 --no-progress --out "$out/$name" "$@" >"$out/$name.txt" 2>"$out/$name.log" || true
  head -n 1 "$out/$name.txt"
}
stan() { # name stanfile
  echo "== Stan $1"
  Rscript bench/stan/run_stan.R "$2" "$data" 2021 4 1000 1000 >"$out/$1.stan.json" 2>"$out/$1.stan.log"
}

sample linreg models/linreg_pytorch.onnx
sample blog models/blog_mlp_pytorch.onnx
sample blog_gradient_metric models/blog_mlp_pytorch.onnx --metric-adaptation gradient
sample blog_init_onnx models/blog_mlp_pytorch.onnx --init onnx
sample blog_float32 models/blog_mlp_pytorch.onnx --precision float32
if [[ $skip_stan == 0 ]]; then
  stan linreg bench/stan/linreg.stan
  stan blog bench/stan/blog_mlp.stan
  python3 bench/compare.py "$out/linreg" "$out/linreg.stan.json" "linear regression" | tee "$out/linreg.compare.md"
  for run in blog blog_gradient_metric blog_init_onnx blog_float32; do
    python3 bench/compare.py "$out/$run" "$out/blog.stan.json" "$run" | tee "$out/$run.compare.md"
  done
fi

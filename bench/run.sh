#!/usr/bin/env bash
# The side-by-side benchmark: the blog's network and linear regression sampled by bnn and by Stan (rstan), on the
# same machine, one after the other, with the same chains, warmup, draws, priors and data.
#   bench/run.sh [--skip-stan] [extra bnn sample options…]
# Installs rstan and posterior from Debian's packages when missing (needs root). Results: bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
skip_stan=0
if [[ "${1:-}" == "--skip-stan" ]]; then skip_stan=1; shift; fi
extra=("$@")
out=bench/results
mkdir -p "$out"

if [[ $skip_stan == 0 ]] && ! Rscript -e 'library(rstan); library(posterior)' >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-cran-rstan r-cran-posterior >/dev/null
fi

dotnet build src/Cli -c Release -v q -nologo >/dev/null
bnn="dotnet src/Cli/bin/Release/net10.0/bnn.dll"
data=models/blog_data.csv

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GB"
for case in linreg:models/linreg_pytorch.onnx:bench/stan/linreg.stan blog:models/blog_mlp_pytorch.onnx:bench/stan/blog_mlp.stan; do
  IFS=: read -r name model stanfile <<<"$case"
  echo "== $name: bnn"
  $bnn sample "$model" --data "$data" --features x --target y --chains 4 --warmup 1000 --draws 1000 \
    --seed 2021 --parallel-chains 2 --no-progress --out "$out/$name" "${extra[@]}" >"$out/$name.bnn.txt" 2>"$out/$name.bnn.log"
  tail -n 4 "$out/$name.bnn.txt"
  if [[ $skip_stan == 0 ]]; then
    echo "== $name: Stan"
    Rscript bench/stan/run_stan.R "$stanfile" "$data" 2021 4 1000 1000 >"$out/$name.stan.json" 2>"$out/$name.stan.log"
    python3 bench/compare.py "$out/$name" "$out/$name.stan.json" "$name" | tee "$out/$name.compare.md"
  fi
done

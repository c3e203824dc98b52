#!/usr/bin/env bash
# Gradients per effective draw: each sampler lever alone, on three networks, 4 chains, seed 2021, two chains at a time.
#   bench/efficiency/run.sh [CHAINS] [WARMUP] [DRAWS]          (defaults: 4 chains, 1000 + 1000)
# RUNS (space-separated names from the list below) picks a subset; DEPTH_CAP caps --max-depth of the boston and
# digits runs (their gradients cost ~50× the blog network's); SBC=N also runs the simulation-based calibration
# with N replications per metric (tests/GraphToPotential.Tests, MetricSbcTests). SEED (default 2021) reruns with
# another seed into RUN_seedSEED.
#   blog_*    the blog's 1→5→10→1 softplus network on models/blog_data.csv (82 parameters with σ)
#   boston_*  13→50→1 ReLU on 455 rows of MASS's Boston, normal likelihood (752 parameters with σ)
#   digits_*  64→16→10 tanh on 400 rows of sklearn's digits, categorical likelihood (1,210 parameters)
#   digits_sumzero_*  the same network with its output layer on the sum-zero subspace of the logits (1,193 sampled)
#   diabetes_*  10→8→1 tanh on sklearn's diabetes (442 rows), normal likelihood (98 parameters with σ)
#   cpus_*  6→12 SiLU→(12 softplus, skip)→1 on MASS's cpus (209 rows), normal likelihood (254 parameters with σ)
# A run named *_integrate* adds --integrate-output (the output layer integrated out exactly; not digits);
# *_depthN sets --max-depth N and *_warmupN --warmup N.
# BNN (default src/Cli/bin/Release/net10.0/bnn.dll, built first) runs another copy of the tool, e.g. one copied
# aside so that rebuilding the tree does not touch the runs in progress.
# Needs /usr/bin/python3 with python3-torch, python3-onnx, python3-sklearn and Rscript with r-cran-mass (fixtures).
# Runs go to bench/efficiency/work/ (ignored); the table to bench/efficiency/results.md (or RESULTS). The machine may be shared:
# every bnn process runs under `nice -n 5`, and ESS per gradient, the figure to decide by, does not depend on load.
set -euo pipefail
cd "$(dirname "$0")/../.."
chains=${1:-4} warmup=${2:-1000} draws=${3:-1000}
cap=${DEPTH_CAP:-10} seed=${SEED:-2021}
work=bench/efficiency/work
mkdir -p "$work/runs"
if [[ -z ${BNN:-} ]]; then dotnet build src/Cli -c Release -v q -nologo >/dev/null; fi
bnn() { nice -n 5 dotnet "${BNN:-src/Cli/bin/Release/net10.0/bnn.dll}" "$@"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u '+%F %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ ! -f $work/models/digits.onnx || ! -f $work/models/diabetes.onnx || ! -f $work/models/digits_sumzero.onnx || ! -f $work/models/cpus.onnx ]]; then
  nice -n 5 /usr/bin/python3 bench/efficiency/make_models.py "$work/models" 2>&1 | grep -v -i warning || true
fi

all="blog_diag blog_lowrank blog_dense blog_diag_depth7 blog_diag_depth8 blog_diag_depth9 blog_lowrank_depth7
     blog_lowrank_depth8 blog_lowrank_depth9 boston_diag boston_lowrank digits_diag digits_lowrank
     blog_integrate blog_integrate_lowrank blog_integrate_lowrank_depth9 boston_integrate boston_integrate_lowrank
     blog_diag_warmup500 blog_integrate_warmup500 blog_integrate_warmup250 blog_integrate_warmup150
     diabetes_diag diabetes_integrate digits_sumzero_diag cpus_diag cpus_integrate"
for run in ${RUNS:-$all}; do
  case $run in
    blog_*) args=(models/blog_mlp_pytorch.onnx --data models/blog_data.csv --features x --target y); depth=10 ;;
    boston_*) args=("$work/models/boston.onnx" --data "$work/models/boston.csv"); depth=$cap ;;
    digits_sumzero_*) args=("$work/models/digits_sumzero.onnx" --data "$work/models/digits.csv" --likelihood categorical --freeze 'sumzero.*'); depth=$cap ;;
    digits_*) args=("$work/models/digits.onnx" --data "$work/models/digits.csv" --likelihood categorical); depth=$cap ;;
    diabetes_*) args=("$work/models/diabetes.onnx" --data "$work/models/diabetes.csv"); depth=10 ;;
    cpus_*) args=("$work/models/cpus.onnx" --data "$work/models/cpus.csv"); depth=10 ;;
    *) echo "unknown run $run"; exit 2 ;;
  esac
  metric=diag
  case $run in *lowrank*) metric=low-rank ;; *dense*) metric=dense ;; esac
  case $run in *_depth*) depth=${run##*_depth}; depth=${depth%%_*} ;; esac
  w=$warmup
  case $run in *_warmup*) w=${run##*_warmup}; w=${w%%_*} ;; esac
  integrate=()
  case $run in *_integrate*) integrate=(--integrate-output) ;; esac
  out=$work/runs/$run
  if [[ $seed != 2021 ]]; then out=${out}_seed$seed; fi
  rm -rf "$out"
  echo "== $run: ${integrate[*]} --metric $metric --max-depth $depth, $chains chains x ($w + $draws), load $(cut -d' ' -f1 /proc/loadavg)"
  bnn sample "${args[@]}" "${integrate[@]}" --metric "$metric" --max-depth "$depth" --chains "$chains" --warmup "$w" --draws "$draws" \
    --seed "$seed" --parallel-chains 2 --no-progress --out "$out" >"$out.txt" 2>"$out.log" || echo "   failed: see $out.log"
done
/usr/bin/python3 bench/efficiency/summarize.py $(for r in $all; do echo "$work/runs/$r"; done) $work/runs/*_seed*/ \
  | tee "${RESULTS:-bench/efficiency/results.md}"

if [[ -n ${SBC:-} ]]; then
  BNN_SBC_REPLICATIONS=$SBC nice -n 5 dotnet test tests/GraphToPotential.Tests -c Release --filter "FullyQualifiedName~MetricSbcTests" \
    --logger "console;verbosity=detailed" 2>&1 | grep -E "replications|Passed|Failed" | tee bench/efficiency/sbc.txt
fi

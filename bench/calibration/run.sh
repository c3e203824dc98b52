#!/usr/bin/env bash
# Calibration on real tables: for each table and random split, the trained network's own weights (the point
# estimate) against the posterior under the default N(0,1) prior, the fan-in prior and the hierarchical prior, scored
# by `bnn evaluate` on the held-out quarter of the rows.
#   bench/calibration/run.sh [SPLITS] [CHAINS] [WARMUP] [DRAWS]     (defaults: 4 splits, 4 chains, 400 + 400)
# SPLITS is a count (seeds 1..N) or a range A-B (seeds A..B, to add splits to a table already run).
# TABLES and PRIORS (space-separated) pick a subset, e.g. TABLES="wine" PRIORS="3" adds --prior-scale 3 runs beside
# the ones already there; the summary covers every run under the work folder, plus the rows of results.csv that no
# run there replaces. Tables: breast_cancer wine digits diabetes boston. A prior token is --prior-scale's value,
# optionally with "+out=S" (the output layer's weight normal(0,S)) and/or "+last" (the hidden layer frozen at its
# trained weights, --freeze '0.*': a posterior over the output layer only) and/or "+hid=F" (the hidden layer's weight
# 0.weight gets the prior F: t3:S student_t(3,0,S), l:B laplace(0,B), n:S normal(0,S)), e.g. PRIORS="1 3+last 1+hid=t3:0.3+out=3".
# Needs /usr/bin/python3 with python3-torch, python3-onnx, python3-sklearn and Rscript with r-cran-mass.
# Fixtures and runs go to bench/calibration/work/ (ignored); the table goes to bench/calibration/results.{csv,md}.
set -euo pipefail
set -f   # prior_args echoes the glob 0.* for --freeze: no pathname expansion
cd "$(dirname "$0")/../.."
splits=${1:-4} chains=${2:-4} warmup=${3:-400} draws=${4:-400}
if [[ $splits == *-* ]]; then split_seeds=$(seq "${splits%-*}" "${splits#*-}"); else split_seeds=$(seq 1 "$splits"); fi
tables=${TABLES:-breast_cancer wine digits diabetes boston} priors=${PRIORS:-1 fan-in hierarchical}
work=bench/calibration/work
mkdir -p "$work/runs"
# BNN=path/to/bnn.dll runs a bnn built elsewhere (e.g. a copy, while the sources change) instead of building src/Cli.
if [[ -z ${BNN:-} ]]; then dotnet build src/Cli -c Release -v q -nologo >/dev/null; fi
bnn_dll=${BNN:-src/Cli/bin/Release/net10.0/bnn.dll}
bnn() { dotnet "$bnn_dll" "$@"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GB; $(date -u '+%F %H:%M UTC')"
echo "settings: $splits splits, $chains chains x ($warmup warmup + $draws draws), 2 chains at a time"
TABLES="$tables" /usr/bin/python3 bench/calibration/make_tables.py "$work/tables" $split_seeds 2>&1 | grep -v -i warning || true

# A prior token is --prior-scale's value (1, 3, fan-in, hierarchical:2, ...), optionally followed by "+out=S": the
# output layer's weight (2.weight in every fixture) gets normal(0,S) through --prior; "+last": the hidden layer
# (0.weight, 0.bias) is frozen at its trained values and only the output layer is sampled.
prior_args() {
  local token=$1 scale=${1%%+*} out
  echo "--prior-scale $scale"
  if [[ $token == *+out=* ]]; then out=${token##*+out=}; echo "--prior 2.weight=normal(0,${out%%+*})"; fi
  if [[ $token == *+hid=* ]]; then
    local hid=${token##*+hid=}; hid=${hid%%+*}
    case ${hid%%:*} in
      t*) echo "--prior 0.weight=student_t(${hid%%:*},0,${hid#*:})" | sed 's/student_t(t/student_t(/' ;;
      l) echo "--prior 0.weight=laplace(0,${hid#*:})" ;;
      n) echo "--prior 0.weight=normal(0,${hid#*:})" ;;
    esac
  fi
  if [[ $token == *+last* ]]; then echo "--freeze 0.*"; fi
}

for split in $split_seeds; do   # split by split, so that a cut-short run still has whole splits
  for table in $tables; do
    d=$work/tables/${table}_s$split
    likelihood=$(cat "$d/likelihood")
    for prior in $priors; do
      run=$work/runs/${table}_s${split}_${prior}
      rm -rf "$run"
      start=$(date +%s.%N)
      status=0
      # shellcheck disable=SC2046
      bnn sample "$d/model.onnx" --data "$d/train.csv" --likelihood "$likelihood" $(prior_args "$prior") \
        --chains "$chains" --warmup "$warmup" --draws "$draws" --seed "$split" --parallel-chains 2 --no-progress \
        --out "$run" >"$run.txt" 2>"$run.log" || status=$?
      end=$(date +%s.%N)
      echo "$end - $start" | bc >"$run.wall"
      if [[ $status == 0 ]]; then
        bnn evaluate "$run" --data "$d/test.csv" >"$run.eval.txt" 2>&1 || echo "evaluate failed: $run"
      fi
      echo "$table split $split prior $prior: $(cat "$run.wall") s, $(grep -i 'converged' "$run.txt" | tail -n 1)"
    done
  done
done
/usr/bin/python3 bench/calibration/summarize.py "$work/runs" bench/calibration/results

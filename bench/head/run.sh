#!/usr/bin/env bash
# A Bayesian head on frozen backbones: time to compute the features and to sample, against sampling the same head as a
# standalone model on precomputed features, and held-out accuracy/NLL/ECE (or RMSE/LPD) of the posterior head against the
# trained network (`bnn evaluate`'s point estimate: the file's own weights).
#
#   bench/head/run.sh [CHAINS] [WARMUP] [DRAWS] [OUT]      (defaults 2 150 150 /tmp/bnn-head-bench)
#
# Needs a Release build (dotnet build Bnn.Onnx.sln -c Release) and /usr/bin/python3 with python3-torch and python3-onnx
# (for the standalone heads, bench/head/standalone.py). Writes OUT/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
CHAINS=${1:-2}; WARMUP=${2:-150}; DRAWS=${3:-150}; OUT=${4:-/tmp/bnn-head-bench}
BNN="dotnet src/Cli/bin/Release/net10.0/bnn.dll"
mkdir -p "$OUT"
/usr/bin/python3 bench/head/standalone.py "$OUT/standalone" 2>/dev/null
COMMON=(--chains "$CHAINS" --warmup "$WARMUP" --draws "$DRAWS" --seed 2026 --no-progress)

run() { # name model data target likelihood test [options…]
  local name=$1 model=$2 data=$3 target=$4 likelihood=$5 test=$6; shift 6
  $BNN sample "$model" --data "$data" --target "$target" --likelihood "$likelihood" "${COMMON[@]}" "$@" --out "$OUT/$name" > "$OUT/$name.log" 2>&1 || true
  if [ -n "$test" ]; then $BNN evaluate "$OUT/$name" --data "$test" >> "$OUT/$name.log" 2>&1 || true; fi
}

run cnn models/head/digits_cnn_op13.onnx models/head/digits_train.csv label categorical models/head/digits_test.csv --freeze 'conv*'
run cnn_standalone "$OUT/standalone/digits_cnn_op13_head.onnx" "$OUT/standalone/digits_cnn_op13_features_train.csv" label categorical ""
run transformer models/head/digits_transformer_op14.onnx models/head/digits_train.csv label categorical models/head/digits_test.csv --sample 'head.*'
run resnorm models/head/diabetes_resnorm_op17.onnx models/head/diabetes_train.csv y normal models/head/diabetes_test.csv --sample 'head.*'
run resnorm_standalone "$OUT/standalone/diabetes_resnorm_op17_head.onnx" "$OUT/standalone/diabetes_resnorm_op17_features_train.csv" y normal ""

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name, file):
    path = os.path.join(out, name, file)
    return json.load(open(path)) if os.path.exists(path) else None
rows = ["| run | features (s) | sampling (s): warmup + draws | gradient evaluations | divergences | posterior | trained network |",
        "| --- | --- | --- | --- | --- | --- | --- |"]
for name in ["cnn", "cnn_standalone", "transformer", "resnorm", "resnorm_standalone"]:
    r, e = load(name, "run.json"), load(name, "evaluation.json")
    if r is None:
        rows.append("| %s | failed, see %s.log | | | | | |" % (name, name)); continue
    t, f = r["timing"], r.get("frozen")
    def score(s):
        if s is None: return ""
        if "accuracy" in s: return "acc %.3f, NLL %.3f, ECE %.3f" % (s["accuracy"], s["nll"], s["ece"])
        cover = next(i["coverage"] for i in s["intervals"] if i["level"] == 0.9)
        return "RMSE %.3f, LPD %.3f, 90%% coverage %.2f" % (s["rmse"], s["mean_log_predictive_density"], cover)
    rows.append("| %s | %s | %.1f + %.1f | %d | %d | %s | %s |" % (
        name, "%.2f" % f["feature_seconds"] if f else "(precomputed)", t["warmup_seconds"], t["sampling_seconds"],
        r["gradient_evaluations"]["total"], r["divergences"],
        score(e["posterior"]) if e else "", score(e["point_estimate"]) if e else ""))
open(os.path.join(out, "results.md"), "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY

#!/usr/bin/env python3
"""Side-by-side table of a `bnn sample` run directory and a Stan result (run_stan.R's JSON line).

Usage: compare.py RUN_DIR STAN.json LABEL
Prints a Markdown table (wall time, gradients, µs per gradient, ESS of the predictive mean, lp__ and sigma,
predictive ESS per second, ratios) and checks that both agree within Monte Carlo error.
Standard library only.
"""
import csv
import json
import math
import sys

run_dir, stan_path, label = sys.argv[1], sys.argv[2], sys.argv[3]
run = json.load(open(f"{run_dir}/run.json"))
rows = {r["variable"]: r for r in csv.DictReader(open(f"{run_dir}/summary.csv"))}
stan = json.loads(open(stan_path).read().strip().splitlines()[-1])

pred = [r for name, r in rows.items() if name.startswith("mu[")]
pred.sort(key=lambda r: int(r["variable"][3:-1]))
ours = {
    "wall": run["timing"]["total_seconds"],
    "sampling": run["timing"]["sampling_seconds"],
    "grads": run["gradient_evaluations"]["total"],
    "pred_ess": min(float(r["ess_bulk"]) for r in pred),
    "pred_rhat": max(float(r["rhat"]) for r in pred),
    "lp_ess": float(rows["lp__"]["ess_bulk"]),
    "sigma": float(rows["sigma"]["mean"]),
    "sigma_sd": float(rows["sigma"]["sd"]),
    "sigma_ess": float(rows["sigma"]["ess_bulk"]),
    "divergences": run["divergences"],
}
theirs = {
    "wall": stan["sampling_seconds"],
    "grads": stan["gradient_evaluations"],
    "pred_ess": stan["pred_min_ess_bulk"],
    "pred_rhat": stan["pred_max_rhat"],
    "lp_ess": stan["lp_ess_bulk"],
    "sigma": stan["sigma_mean"],
    "sigma_sd": stan["sigma_sd"],
    "sigma_ess": stan["sigma_ess_bulk"],
    "divergences": stan["divergences"],
}
cores = 2
for d in (ours, theirs):
    d["us_per_grad"] = d["wall"] * cores / d["grads"] * 1e6
    d["ess_per_s"] = d["pred_ess"] / d["wall"]

def fmt(v):
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"

lines = [f"| {label} | bnn | Stan | bnn / Stan |", "|---|---:|---:|---:|"]
for key, name, better_high in [
    ("wall", "wall time, s (sampling incl. warmup)", False),
    ("grads", "gradient evaluations", False),
    ("us_per_grad", "µs per gradient (per core)", False),
    ("pred_ess", "min bulk-ESS, predictive mean", True),
    ("pred_rhat", "max R-hat, predictive mean", None),
    ("lp_ess", "bulk-ESS lp__", True),
    ("sigma_ess", "bulk-ESS sigma", True),
    ("sigma", "sigma mean", None),
    ("sigma_sd", "sigma sd", None),
    ("divergences", "divergences after warmup", None),
    ("ess_per_s", "predictive ESS per wall second", True),
]:
    a, b = ours[key], theirs[key]
    ratio = f"{a / b:.2f}" if b else "-"
    lines.append(f"| {name} | {fmt(a)} | {fmt(b)} | {ratio} |")
print("\n".join(lines))
speedup = ours["ess_per_s"] / theirs["ess_per_s"]
print(f"\npredictive ESS per second: bnn / Stan = {speedup:.1f}x")

# Agreement within Monte Carlo error: |mean_bnn - mean_stan| <= 4 sqrt(mcse_bnn^2 + mcse_stan^2) at every point.
worst = 0.0
for r, m, se in zip(pred, stan["pred_mean"], stan["pred_mcse"]):
    z = abs(float(r["mean"]) - m) / math.hypot(float(r["mcse_mean"]), se)
    worst = max(worst, z)
zs = abs(ours["sigma"] - theirs["sigma"]) / math.hypot(float(rows["sigma"]["mcse_mean"]), stan["sigma_mcse"])
print(f"agreement: worst predictive-mean difference {worst:.2f} MCSE over {len(pred)} points; sigma {zs:.2f} MCSE "
      f"({'OK' if worst <= 4 and zs <= 4 else 'DISAGREE'})")

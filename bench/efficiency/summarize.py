#!/usr/bin/env python3
"""One Markdown row per `bnn sample` run directory of the efficiency benchmark.

Usage: summarize.py RUN_DIR [RUN_DIR ...]
Columns: gradients (warmup included), min bulk-ESS over the predictive means mu[...] and bulk-ESS of lp__, each per
1,000 gradients and per second, divergences after warmup, share of transitions at the maximum tree depth, mean
leapfrog steps per draw after warmup, max R-hat (predictive means and lp__), and the mean adapted step size.
Standard library only.
"""
import csv
import json
import os
import sys


def row(run_dir):
    run = json.load(open(os.path.join(run_dir, "run.json")))
    rows = {r["variable"]: r for r in csv.DictReader(open(os.path.join(run_dir, "summary.csv")))}
    pred = [r for name, r in rows.items() if name.startswith("mu[")]
    grads = run["gradient_evaluations"]
    wall = run["timing"]["total_seconds"]
    settings = run["settings"]
    chains, draws = settings["chains"], settings["draws"]
    pred_ess = min(float(r["ess_bulk"]) for r in pred)
    lp_ess = float(rows["lp__"]["ess_bulk"])
    rhat = max(float(r["rhat"]) for r in pred + [rows["lp__"]])
    steps = [c["step_size"] for c in run["chains"]]
    return {
        "run": os.path.basename(run_dir.rstrip("/")),
        "metric": settings["metric"],
        "depth": settings["max_depth"],
        "iters": f"{chains}×({settings['warmup']}+{draws})",
        "grads": grads["total"],
        "pred_ess": pred_ess,
        "pred_per_kgrad": 1000 * pred_ess / grads["total"],
        "lp_per_kgrad": 1000 * lp_ess / grads["total"],
        "lp_ess": lp_ess,
        "pred_per_s": pred_ess / wall,
        "wall": wall,
        "div": run["divergences"],
        "sat": 100.0 * run["treedepth_saturations"] / (chains * draws),
        "leapfrog": grads["sampling"] / (chains * draws),
        "rhat": rhat,
        "step": sum(steps) / len(steps),
    }


def main():
    print("| run | metric | max depth | chains × (warmup + draws) | gradients | min pred. bulk-ESS | pred. ESS / 1k grad | "
          "lp__ bulk-ESS | lp__ ESS / 1k grad | pred. ESS / s | wall s | divergences | % at max depth | "
          "leapfrog / draw | max R-hat | step size |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in sys.argv[1:]:
        if not os.path.exists(os.path.join(d, "run.json")):
            continue
        status = json.load(open(os.path.join(d, "run.json"))).get("status")
        if status != "completed":
            print(f"skipped {d}: run status {status}", file=sys.stderr)
            continue
        r = row(d)
        print(f"| {r['run']} | {r['metric']} | {r['depth']} | {r['iters']} | {r['grads']:,} | {r['pred_ess']:,.0f} | "
              f"{r['pred_per_kgrad']:.3f} | {r['lp_ess']:,.0f} | {r['lp_per_kgrad']:.3f} | {r['pred_per_s']:.2f} | "
              f"{r['wall']:,.0f} | {r['div']} | {r['sat']:.0f} | {r['leapfrog']:,.0f} | {r['rhat']:.3f} | {r['step']:.2g} |")


if __name__ == "__main__":
    main()

"""Collects bench/calibration's runs into a per-run CSV and a markdown table (means over splits, and the goal check:
classification NLL_post <= NLL_point and ECE_post <= ECE_point + 0.01; regression LPD_post >= LPD_point).
    summarize.py RUNS_DIR OUT_PREFIX"""
import csv
import glob
import json
import math
import os
import re
import sys
from collections import defaultdict

TABLES = ["breast_cancer", "wine", "diabetes", "boston"]
PRIORS = ["1", "fan-in", "hierarchical"]
PRIOR_NAMES = {"1": "N(0,1) (default)", "fan-in": "fan-in", "hierarchical": "hierarchical"}


def prior_order(p):
    return PRIORS.index(p) if p in PRIORS else len(PRIORS) + hash(p) % 1000


def interval(metrics, level):
    for i in metrics.get("intervals", []):
        if abs(i["level"] - level) < 1e-9 or abs(i["level"] - 100 * level) < 1e-9:
            return i["coverage"]
    return math.nan


def row_of(path):
    name = os.path.basename(path)
    m = re.match(r"(.+?)_s(\d+)_(.+)$", name)
    table, split, prior = m.group(1), int(m.group(2)), m.group(3)
    row = {"table": table, "split": split, "prior": prior}
    row["wall_s"] = float(open(path + ".wall").read().strip() or "nan")
    text = open(path + ".txt").read() if os.path.exists(path + ".txt") else ""
    verdict = [line for line in text.splitlines() if "converged" in line.lower()]
    row["verdict"] = verdict[-1].strip() if verdict else "sample failed"
    row["converged"] = bool(verdict) and not verdict[-1].lower().startswith("not")
    rhats = []
    if os.path.exists(os.path.join(path, "summary.csv")):
        with open(os.path.join(path, "summary.csv")) as f:
            for r in csv.DictReader(f):
                try:
                    rhats.append(float(r["rhat"]))
                except ValueError:
                    pass
    row["max_rhat"] = max((r for r in rhats if not math.isnan(r)), default=math.nan)
    # the verdict's R-hat: the worst over lp__ and the predictive means (the weights themselves are not identified)
    found = re.search(r"R-hat ([0-9.]+)", row["verdict"])
    row["verdict_rhat"] = float(found.group(1)) if found else math.nan
    ev = os.path.join(path, "evaluation.json")
    if not os.path.exists(ev):
        return row
    e = json.load(open(ev))
    row["likelihood"] = e["likelihood"]
    for who, key in (("post", "posterior"), ("point", "point_estimate")):
        m = e[key]
        if e["likelihood"] == "normal":
            row[f"rmse_{who}"] = m["rmse"]
            row[f"lpd_{who}"] = m["mean_log_predictive_density"]
            row[f"cov90_{who}"] = interval(m, 0.9)
        else:
            for k in ("accuracy", "nll", "ece", "brier"):
                row[f"{k}_{who}"] = m[k]
    if e["likelihood"] == "normal":
        row["goal_met"] = row["lpd_post"] >= row["lpd_point"]
    else:
        row["goal_met"] = row["nll_post"] <= row["nll_point"] and row["ece_post"] <= row["ece_point"] + 0.01
    return row


def mean(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return sum(xs) / len(xs) if xs else math.nan


def main():
    runs, out = sys.argv[1], sys.argv[2]
    rows = [row_of(p) for p in sorted(glob.glob(os.path.join(runs, "*"))) if os.path.isdir(p) and os.path.exists(p + ".wall")]
    rows = [r for r in rows if "likelihood" in r or r["verdict"] == "sample failed"]
    cols = ["table", "split", "prior", "likelihood", "wall_s", "converged", "verdict_rhat", "max_rhat", "verdict", "goal_met",
            "rmse_point", "rmse_post", "lpd_point", "lpd_post", "cov90_point", "cov90_post",
            "accuracy_point", "accuracy_post", "nll_point", "nll_post", "ece_point", "ece_post",
            "brier_point", "brier_post"]
    with open(out + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in sorted(rows, key=lambda r: (TABLES.index(r["table"]), prior_order(r["prior"]), r["split"])):
            w.writerow(r)

    groups = defaultdict(list)
    for r in rows:
        groups[(r["table"], r["prior"])].append(r)
    priors = sorted({r["prior"] for r in rows}, key=lambda p: (prior_order(p), p))
    lines = []
    f3 = lambda x: "—" if isinstance(x, float) and math.isnan(x) else f"{x:.3f}"
    for kind, tables in (("classification", ["breast_cancer", "wine"]), ("regression", ["diabetes", "boston"])):
        if kind == "classification":
            lines.append("| table | weights | splits | accuracy | NLL | ECE | Brier | goal met (splits) | converged (splits) | verdict R-hat (worst) | wall s (mean) |")
        else:
            lines.append("| table | weights | splits | RMSE | mean LPD | 90% coverage | goal met (splits) | converged (splits) | verdict R-hat (worst) | wall s (mean) |")
        lines.append("|" + "---|" * (11 if kind == "classification" else 10))
        for t in tables:
            all_t = [r for p in priors for r in groups.get((t, p), []) if "likelihood" in r]
            if not all_t:
                continue
            # the point estimate: one per split (identical across priors)
            per_split = {r["split"]: r for r in all_t}
            pts = list(per_split.values())
            if kind == "classification":
                lines.append(f"| {t} | point estimate | {len(pts)} | {f3(mean(r['accuracy_point'] for r in pts))} | "
                             f"{f3(mean(r['nll_point'] for r in pts))} | {f3(mean(r['ece_point'] for r in pts))} | "
                             f"{f3(mean(r['brier_point'] for r in pts))} | | | | |")
            else:
                lines.append(f"| {t} | point estimate | {len(pts)} | {f3(mean(r['rmse_point'] for r in pts))} | "
                             f"{f3(mean(r['lpd_point'] for r in pts))} | {f3(mean(r['cov90_point'] for r in pts))} | | | | |")
            for p in priors:
                g = groups.get((t, p), [])
                if not g:
                    continue
                ok = [r for r in g if "likelihood" in r]
                n = len(g)
                goal = f"{sum(r['goal_met'] for r in ok)}/{n}"
                conv = f"{sum(r['converged'] for r in g)}/{n}"
                rh = f3(max((r["verdict_rhat"] for r in g if not math.isnan(r["verdict_rhat"])), default=math.nan))
                wall = f"{mean(r['wall_s'] for r in g):.1f}"
                name = f"posterior, {PRIOR_NAMES.get(p, '--prior-scale ' + p)}"
                if kind == "classification":
                    lines.append(f"| {t} | {name} | {n} | {f3(mean(r['accuracy_post'] for r in ok))} | "
                                 f"{f3(mean(r['nll_post'] for r in ok))} | {f3(mean(r['ece_post'] for r in ok))} | "
                                 f"{f3(mean(r['brier_post'] for r in ok))} | {goal} | {conv} | {rh} | {wall} |")
                else:
                    lines.append(f"| {t} | {name} | {n} | {f3(mean(r['rmse_post'] for r in ok))} | "
                                 f"{f3(mean(r['lpd_post'] for r in ok))} | {f3(mean(r['cov90_post'] for r in ok))} | "
                                 f"{goal} | {conv} | {rh} | {wall} |")
        lines.append("")
    with open(out + ".md", "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

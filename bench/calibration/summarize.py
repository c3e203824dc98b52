"""Collects bench/calibration's runs into a per-run CSV and a markdown table (means over splits, and the goal check:
classification NLL_post <= NLL_point and ECE_post <= ECE_point + 0.01; regression LPD_post >= LPD_point).
Beside the means: the paired difference to the point estimate on the same split (posterior minus point; mean and
standard error over splits, and on how many splits the posterior is better), since a split's test rows are few, and
for classification the confidence gap (mean top-class confidence minus accuracy: below zero is underconfident).
    summarize.py RUNS_DIR OUT_PREFIX
Rows of an existing OUT_PREFIX.csv whose (table, split, prior) has no run under RUNS_DIR are kept, so that runs added
later (another prior, more splits) extend the table instead of replacing it."""
import csv
import glob
import json
import math
import os
import re
import sys
from collections import defaultdict

TABLES = ["breast_cancer", "wine", "digits", "diabetes", "boston"]
PRIORS = ["1", "fan-in", "hierarchical"]
PRIOR_NAMES = {"1": "N(0,1) (default)", "fan-in": "fan-in", "hierarchical": "hierarchical"}


def prior_order(p):
    """The three named priors first, then the rest by their token (str's hash() differs between runs)."""
    return (PRIORS.index(p), "") if p in PRIORS else (len(PRIORS), p)


def prior_name(p):
    """A run's prior token as words: SCALE[+out=S][+hid=F][+last] (see run.sh)."""
    if p in PRIOR_NAMES:
        return PRIOR_NAMES[p]
    scale, *extras = p.split("+")
    name = PRIOR_NAMES.get(scale, ("--prior-scale " + scale) if scale else "")
    families = {"t": "student_t({nu},0,{s})", "l": "laplace(0,{s})", "n": "normal(0,{s})"}
    for e in extras:
        if e.startswith("out="):
            name += f", output weights normal(0,{e[4:]})"
        elif e.startswith("hid="):
            kind, _, s = e[4:].partition(":")
            name += ", hidden weights " + families[kind[0]].format(nu=kind[1:], s=s)
    return ("last layer (hidden layer frozen), " if "last" in extras else "") + name


def confidence_gap(metrics):
    bins = [b for b in metrics.get("reliability", []) if b["count"]]
    n = sum(b["count"] for b in bins)
    return sum(b["count"] * b["confidence"] for b in bins) / n - metrics["accuracy"] if n else math.nan


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
    rec = os.path.join(path, "run.json")
    if os.path.exists(rec):  # the sampling cost that does not depend on the machine's load
        row["gradient_evals"] = json.load(open(rec)).get("gradient_evaluations", {}).get("total", math.nan)
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
            row[f"gap_{who}"] = confidence_gap(m)
    if e["likelihood"] == "normal":
        row["goal_met"] = row["lpd_post"] >= row["lpd_point"]
    else:
        row["goal_met"] = row["nll_post"] <= row["nll_point"] and row["ece_post"] <= row["ece_point"] + 0.01
    return row


def finite(xs):
    return [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]


def mean(xs):
    xs = finite(xs)
    return sum(xs) / len(xs) if xs else math.nan


def sd(xs):
    xs = finite(xs)
    if len(xs) < 2:
        return math.nan
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def paired(rows, key, better_low):
    """posterior minus point estimate on each split: 'mean ± se (k/n better)'."""
    d = finite([r[f"{key}_post"] - r[f"{key}_point"] for r in rows if f"{key}_post" in r])
    if not d:
        return "—"
    se = sd(d) / math.sqrt(len(d)) if len(d) > 1 else math.nan
    wins = sum((x < 0) if better_low else (x > 0) for x in d)
    se_text = "" if math.isnan(se) else f" ± {se:.3f}"
    return f"{mean(d):+.3f}{se_text} ({wins}/{len(d)})"


def earlier_rows(path):
    """The per-run rows of an earlier results CSV, with numbers and flags parsed back."""
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            row = {}
            for k, v in r.items():
                if v in ("", None):
                    continue
                if k in ("table", "prior", "likelihood", "verdict"):
                    row[k] = v
                elif k in ("converged", "goal_met"):
                    row[k] = v == "True"
                elif k == "split":
                    row[k] = int(v)
                else:
                    row[k] = float(v)
            for k in ("verdict_rhat", "gap_point", "gap_post", "gradient_evals"):  # absent from rows written before these columns
                row.setdefault(k, math.nan)
            rows.append(row)
    return rows


def main():
    runs, out = sys.argv[1], sys.argv[2]
    rows = [row_of(p) for p in sorted(glob.glob(os.path.join(runs, "*"))) if os.path.isdir(p) and os.path.exists(p + ".wall")]
    rows = [r for r in rows if "likelihood" in r or r["verdict"] == "sample failed"]
    have = {(r["table"], r["split"], r["prior"]) for r in rows}
    rows += [r for r in earlier_rows(out + ".csv") if (r["table"], r["split"], r["prior"]) not in have]
    cols = ["table", "split", "prior", "likelihood", "wall_s", "gradient_evals", "converged", "verdict_rhat", "max_rhat", "verdict", "goal_met",
            "rmse_point", "rmse_post", "lpd_point", "lpd_post", "cov90_point", "cov90_post",
            "accuracy_point", "accuracy_post", "nll_point", "nll_post", "ece_point", "ece_post",
            "brier_point", "brier_post", "gap_point", "gap_post"]
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
    msd = lambda xs: "—" if math.isnan(mean(xs)) else f"{mean(xs):.3f}" + ("" if math.isnan(sd(xs)) else f" ({sd(xs):.3f})")
    for kind, tables in (("classification", ["breast_cancer", "wine", "digits"]), ("regression", ["diabetes", "boston"])):
        if kind == "classification":
            header = ["table", "weights", "splits", "accuracy", "NLL (sd)", "ΔNLL vs point (better)", "ECE (sd)",
                      "ΔECE vs point (better)", "confidence − accuracy", "Brier"]
        else:
            header = ["table", "weights", "splits", "RMSE", "mean LPD (sd)", "ΔLPD vs point (better)", "90% coverage"]
        header += ["goal met (splits)", "converged (splits)", "verdict R-hat (worst)", "gradient evals (mean)", "wall s (mean)"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        if not any(r["table"] in tables for r in rows):
            continue
        for t in tables:
            all_t = [r for p in priors for r in groups.get((t, p), []) if "likelihood" in r]
            if not all_t:
                continue
            # the point estimate: one per split (identical across priors)
            per_split = {r["split"]: r for r in all_t}
            pts = list(per_split.values())
            if kind == "classification":
                cells = [f3(mean(r['accuracy_point'] for r in pts)), msd([r['nll_point'] for r in pts]), "",
                         msd([r['ece_point'] for r in pts]), "", f3(mean(r['gap_point'] for r in pts)),
                         f3(mean(r['brier_point'] for r in pts))]
            else:
                cells = [f3(mean(r['rmse_point'] for r in pts)), msd([r['lpd_point'] for r in pts]), "",
                         f3(mean(r['cov90_point'] for r in pts))]
            lines.append("| " + " | ".join([t, "point estimate", str(len(pts))] + cells + [""] * 5) + " |")
            for p in priors:
                g = sorted(groups.get((t, p), []), key=lambda r: r["split"])
                if not g:
                    continue
                ok = [r for r in g if "likelihood" in r]
                n = len(g)
                goal = f"{sum(r['goal_met'] for r in ok)}/{n}"
                conv = f"{sum(r['converged'] for r in g)}/{n}"
                rh = f3(max((r["verdict_rhat"] for r in g if not math.isnan(r["verdict_rhat"])), default=math.nan))
                wall = f"{mean(r['wall_s'] for r in g):.1f}"
                ge = mean(r.get("gradient_evals", math.nan) for r in g)
                grads = "—" if math.isnan(ge) else f"{ge / 1000:.0f}k"
                if kind == "classification":
                    cells = [f3(mean(r['accuracy_post'] for r in ok)), msd([r['nll_post'] for r in ok]),
                             paired(ok, "nll", True), msd([r['ece_post'] for r in ok]), paired(ok, "ece", True),
                             f3(mean(r['gap_post'] for r in ok)), f3(mean(r['brier_post'] for r in ok))]
                else:
                    cells = [f3(mean(r['rmse_post'] for r in ok)), msd([r['lpd_post'] for r in ok]),
                             paired(ok, "lpd", False), f3(mean(r['cov90_post'] for r in ok))]
                lines.append("| " + " | ".join([t, f"posterior, {prior_name(p)}", str(n)] + cells + [goal, conv, rh, grads, wall]) + " |")
        lines.append("")
    with open(out + ".md", "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Agreement of two `bnn sample` runs of the same model: for σ and every predictive mean mu[...], the difference of
the posterior means in combined Monte Carlo standard errors, |m_a − m_b| / sqrt(mcse_a² + mcse_b²).

Usage: agree.py RUN_A RUN_B
Prints the worst predictive mean, how many exceed 4, and σ (mean, sd and the same ratio) of both runs.
Standard library only.
"""
import csv
import math
import os
import sys


def summary(run_dir):
    return {r["variable"]: r for r in csv.DictReader(open(os.path.join(run_dir, "summary.csv")))}


def ratio(a, b):
    return abs(float(a["mean"]) - float(b["mean"])) / math.hypot(float(a["mcse_mean"]), float(b["mcse_mean"]))


def main():
    a, b = summary(sys.argv[1]), summary(sys.argv[2])
    mus = [k for k in a if k.startswith("mu[") and k in b]
    ratios = sorted(((ratio(a[k], b[k]), k) for k in mus), reverse=True)
    worst, name = ratios[0]
    print(f"predictive means: {len(mus)} compared, worst {worst:.2f} combined MCSE ({name}), "
          f"{sum(r > 4 for r, _ in ratios)} above 4")
    s_a, s_b = a["sigma"], b["sigma"]
    print(f"sigma: {float(s_a['mean']):.4f} (sd {float(s_a['sd']):.4f}) vs {float(s_b['mean']):.4f} "
          f"(sd {float(s_b['sd']):.4f}), {ratio(s_a, s_b):.2f} combined MCSE")


if __name__ == "__main__":
    main()

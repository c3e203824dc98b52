"""The ladder's markdown tables from bench/ladder/run.sh's results directory.

    python3 bench/ladder/report.py RESULTS_DIR
"""
import json
import os
import re
import statistics
import sys


def read_tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def main():
    out = sys.argv[1]
    machine = dict(read_tsv(os.path.join(out, "machine.tsv")))
    peaks = {name: float(rate) for name, rate in read_tsv(os.path.join(out, "fma.tsv"))}
    rungs = read_tsv(os.path.join(out, "fixtures", "rungs.tsv"))
    header, rungs = rungs[0], [dict(zip(rungs[0], r)) for r in rungs[1:]]

    print("Machine: %s, %s cores; %s. Load average (1, 5, 15 min) before: %s; after: %s (a shared machine: other work "
          "ran alongside, so every figure is a median of 15 batches and the ratios come from one run)."
          % (machine["cpu"], machine["cores"], machine["date"], machine["uptime_before"], machine.get("uptime_after", "n/a")))
    print()
    print("One core's measured FMA peak: float64 %.1f G multiply-adds/s (256-bit vectors; %.1f G with 512-bit), "
          "float32 %.1f G (%.1f G with 512-bit). The floor of a rung is its multiply-adds ÷ the 256-bit peak of its "
          "precision; where AVX-512 is accelerated the engine's matrix kernels run 512-bit tiles, so the last column "
          "also gives the fraction of the 512-bit floor (the tighter bound there)."
          % (peaks["float64x4"] / 1e9, peaks["float64x8"] / 1e9, peaks["float32x8"] / 1e9, peaks["float32x16"] / 1e9))
    print()
    print("µs per value + gradient of the full log posterior (median of 15 batches): wall clock, and process CPU time "
          "per call (the steadier figure on a loaded machine: it leaves out the time spent waiting for a core). "
          "% of floor and the TorchSharp ratio use CPU time; the 2-thread speed-up can only use wall time.")
    print()
    print("| rung | network, data | N | multiply-adds per gradient | precision | compiled µs wall / CPU | floor µs | % of floor | "
          "TorchSharp µs wall / CPU | TorchSharp ÷ compiled (CPU) | compiled 2 threads µs wall | 1 → 2 threads (wall) | % of 512-bit floor |")
    print("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    f64 = {}
    for r in rungs:
        timing = read_tsv(os.path.join(out, "rung%s.timing.tsv" % r["rung"]))
        t = {(row[0], row[1], int(row[2])): (float(row[3]), float(row[5])) for row in timing}
        macs = int(r["macs"])
        for precision, peak, wide in (("float64", peaks["float64x4"], peaks["float64x8"]), ("float32", peaks["float32x8"], peaks["float32x16"])):
            w1, c1 = t[("compiled", precision, 1)]
            two = t.get(("compiled", precision, 2))
            tw, tc = t[("torchsharp", precision, 1)]
            floor = macs / peak * 1e6
            if precision == "float64":
                f64[r["rung"]] = c1
            extra = ""
            if precision == "float32":
                extra = " (%.2f× float64)" % (f64[r["rung"]] / c1)
            wide_floor = "%.0f%%" % (100 * macs / wide * 1e6 / c1) if wide == wide else "n/a"
            print("| %s | %s | %s | %s | %s | %.1f / %.1f%s | %.1f | %.0f%% | %.1f / %.1f | %.1f× | %s | %s | %s |" % (
                r["rung"], r["name"], f"{int(r['rows']):,}", f"{macs:,}", precision, w1, c1, extra, floor, 100 * floor / c1,
                tw, tc, tc / c1, "%.1f" % two[0] if two else "", "%.2f×" % (w1 / two[0]) if two else "", wide_floor))
    print()
    print("| rung | bnn sample settings | wall s | gradients | gradients/s | divergences | verdict |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for r in rungs:
        run = os.path.join(out, "rung%s" % r["rung"], "run.json")
        if not os.path.exists(run):
            continue
        with open(run) as f:
            record = json.load(f)
        with open(os.path.join(out, "rung%s.settings" % r["rung"])) as f:
            settings = f.read().strip()
        with open(os.path.join(out, "rung%s.sample.txt" % r["rung"])) as f:
            text = f.read()
        verdict = next((line for line in text.splitlines() if re.match(r"^(converged|NOT converged)", line)), "no verdict")
        wall = record["timing"]["total_seconds"]
        grads = record["gradient_evaluations"]["total"]
        print("| %s | `%s`, %s | %.1f | %s | %s | %s | %s |" % (
            r["rung"], settings, record.get("precision", ""), wall, f"{grads:,}", f"{grads / wall:,.0f}",
            record.get("divergences", ""), verdict.replace("|", "/")))


if __name__ == "__main__":
    main()

"""Real tables the bench scripts share (read from the Debian packages that ship them) and how they write them."""
import csv
import io
import subprocess

import numpy as np


def boston():
    """R's MASS::Boston (r-cran-mass): the 13 features and the target medv, 506 rows, as floats."""
    text = subprocess.run(["Rscript", "-e", "library(MASS); write.csv(Boston, stdout(), row.names=FALSE)"],
                          check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(text)))
    data = np.array(rows[1:], dtype=float)
    return data[:, :-1], data[:, -1]


def cpus():
    """R's MASS::cpus (r-cran-mass): the 6 numeric machine features (syct, mmin, mmax, cach, chmin, chmax) and the
    published performance perf, 209 rows, as floats."""
    text = subprocess.run(["Rscript", "-e", "library(MASS); write.csv(cpus[, 2:8], stdout(), row.names=FALSE)"],
                          check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(text)))
    data = np.array(rows[1:], dtype=float)
    return data[:, :-1], data[:, -1]


def write_csv(path, x, y, integer_target):
    """A table as the bench runs read it: features x0..x{p-1} then y, 6 significant digits (y an integer label when
    integer_target)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"x{i}" for i in range(x.shape[1])] + ["y"])
        for row, t in zip(x, y):
            w.writerow([f"{v:.6g}" for v in row] + [int(t) if integer_target else f"{t:.6g}"])

"""Real tables the bench scripts share, read from the Debian packages that ship them."""
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

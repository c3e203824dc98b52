"""Makes the calibration benchmark's fixtures: for each real table and split seed, a standardised train/test split
(CSV, features x0..x{p-1}, target y) and a small tanh network trained on the training rows by PyTorch and exported to
ONNX. Regression targets are standardised with the training rows' mean and sd as well.
    make_tables.py OUT_DIR SEED [SEED ...]
Tables: breast_cancer (sklearn, binary), wine (sklearn, 3 classes), diabetes (sklearn, regression) and Boston
(R's MASS, regression, read through Rscript)."""
import csv
import io
import os
import subprocess
import sys

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split

HIDDEN = 16
EPOCHS = 400


def boston():
    text = subprocess.run(["Rscript", "-e", "library(MASS); write.csv(Boston, stdout(), row.names=FALSE)"],
                          check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(text)))
    data = np.array(rows[1:], dtype=float)
    return data[:, :-1], data[:, -1]


def tables():
    bc = datasets.load_breast_cancer()
    wine = datasets.load_wine()
    diab = datasets.load_diabetes()
    bx, by = boston()
    # name, X, y, likelihood, outputs
    return [("breast_cancer", bc.data, bc.target, "bernoulli", 1),
            ("wine", wine.data, wine.target, "categorical", 3),
            ("diabetes", diab.data, diab.target, "normal", 1),
            ("boston", bx, by, "normal", 1)]


def write_csv(path, x, y, integer_target):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"x{i}" for i in range(x.shape[1])] + ["y"])
        for row, t in zip(x, y):
            w.writerow([f"{v:.6g}" for v in row] + [int(t) if integer_target else f"{t:.6g}"])


def main():
    out, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
    for name, x, y, likelihood, outputs in tables():
        for seed in seeds:
            stratify = y if likelihood != "normal" else None
            xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=stratify)
            mu, sd = xtr.mean(0), xtr.std(0)
            sd[sd == 0] = 1
            xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
            if likelihood == "normal":
                ym, ys = ytr.mean(), ytr.std()
                ytr, yte = (ytr - ym) / ys, (yte - ym) / ys
            d = os.path.join(out, f"{name}_s{seed}")
            os.makedirs(d, exist_ok=True)
            write_csv(os.path.join(d, "train.csv"), xtr, ytr, likelihood != "normal")
            write_csv(os.path.join(d, "test.csv"), xte, yte, likelihood != "normal")

            torch.manual_seed(seed)
            net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.Tanh(),
                                      torch.nn.Linear(HIDDEN, outputs)).double()
            opt = torch.optim.Adam(net.parameters(), lr=0.01)
            xt = torch.tensor(xtr)
            if likelihood == "normal":
                loss_fn, yt = torch.nn.MSELoss(), torch.tensor(ytr).reshape(-1, 1)
            elif likelihood == "bernoulli":
                loss_fn, yt = torch.nn.BCEWithLogitsLoss(), torch.tensor(ytr, dtype=torch.double).reshape(-1, 1)
            else:
                loss_fn, yt = torch.nn.CrossEntropyLoss(), torch.tensor(ytr, dtype=torch.long)
            for _ in range(EPOCHS):  # full batch, no regularisation: the point estimate a user would start from
                opt.zero_grad()
                loss = loss_fn(net(xt), yt)
                loss.backward()
                opt.step()
            net = net.float()
            torch.onnx.export(net, torch.zeros(1, x.shape[1]), os.path.join(d, "model.onnx"),
                              input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                              opset_version=13)
            with open(os.path.join(d, "likelihood"), "w") as f:
                f.write(likelihood + "\n")
            print(f"{d}: {likelihood}, train {len(ytr)}, test {len(yte)}, final train loss {loss.item():.4f}")


if __name__ == "__main__":
    main()

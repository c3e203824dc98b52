"""Makes the calibration benchmark's fixtures: for each real table and split seed, a standardised train/test split
(CSV, features x0..x{p-1}, target y) and a small tanh network trained on the training rows by PyTorch and exported to
ONNX. Regression targets are standardised with the training rows' mean and sd as well.
    make_tables.py OUT_DIR SEED [SEED ...]
    TABLES="wine digits" make_tables.py ...    (a subset; fixtures already made are kept: the script is seeded)
Tables: breast_cancer (sklearn, binary), wine (sklearn, 3 classes), digits (sklearn, 8x8 images, 10 classes),
diabetes (sklearn, regression) and Boston (R's MASS, regression, read through Rscript)."""
import os
import sys

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from real_tables import boston, write_csv  # noqa: E402

HIDDEN = 16
EPOCHS = 400


def tables():
    # name, loader of (X, y), likelihood, outputs
    return [("breast_cancer", lambda: datasets.load_breast_cancer(return_X_y=True), "bernoulli", 1),
            ("wine", lambda: datasets.load_wine(return_X_y=True), "categorical", 3),
            ("digits", lambda: datasets.load_digits(return_X_y=True), "categorical", 10),
            ("diabetes", lambda: datasets.load_diabetes(return_X_y=True), "normal", 1),
            ("boston", boston, "normal", 1)]


def main():
    out, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
    wanted = os.environ.get("TABLES", "").split()
    for name, load, likelihood, outputs in tables():
        if wanted and name not in wanted:
            continue
        todo = [seed for seed in seeds if not os.path.exists(os.path.join(out, f"{name}_s{seed}", "model.onnx"))]
        if not todo:
            continue
        x, y = load()
        for seed in todo:
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

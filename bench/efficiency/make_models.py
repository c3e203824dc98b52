"""Makes the efficiency benchmark's two real-table fixtures: standardised training rows (CSV, features x0..x{p-1},
target y) and a network trained on them by PyTorch, exported to ONNX.
    make_models.py OUT_DIR
boston: MASS's Boston (read through Rscript), 455 of its 506 rows (seed 1), 13→50→1 ReLU, normal likelihood.
digits: sklearn's digits, ROWS rows (stratified, seed 1; default 400), 64→16→10 tanh, categorical likelihood."""
import os
import sys

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from real_tables import boston, write_csv  # noqa: E402


def fit_and_export(path, x, y, hidden, activation, outputs, classification, epochs=400):
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), activation,
                              torch.nn.Linear(hidden, outputs)).double()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xt = torch.tensor(x)
    if classification:
        loss_fn, yt = torch.nn.CrossEntropyLoss(), torch.tensor(y, dtype=torch.long)
    else:
        loss_fn, yt = torch.nn.MSELoss(), torch.tensor(y).reshape(-1, 1)
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
    net = net.float()
    torch.onnx.export(net, torch.zeros(1, x.shape[1]), path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
    return loss.item()


def main():
    out = sys.argv[1]
    rows = int(os.environ.get("ROWS", "400"))
    os.makedirs(out, exist_ok=True)

    x, y = boston()
    x, _, y, _ = train_test_split(x, y, test_size=51, random_state=1)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    write_csv(os.path.join(out, "boston.csv"), x, y, False)
    loss = fit_and_export(os.path.join(out, "boston.onnx"), x, y, 50, torch.nn.ReLU(), 1, False)
    print(f"boston: {len(y)} rows, 13→50→1 ReLU, final train MSE {loss:.4f}")

    digits = datasets.load_digits()
    x, _, y, _ = train_test_split(digits.data, digits.target, train_size=rows, random_state=1, stratify=digits.target)
    sd = x.std(0)
    sd[sd == 0] = 1
    x = (x - x.mean(0)) / sd
    write_csv(os.path.join(out, "digits.csv"), x, y, True)
    loss = fit_and_export(os.path.join(out, "digits.onnx"), x, y, 16, torch.nn.Tanh(), 10, True)
    print(f"digits: {len(y)} rows, 64→16→10 tanh, final train cross-entropy {loss:.4f}")


if __name__ == "__main__":
    main()

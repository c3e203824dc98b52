"""Makes the efficiency benchmark's two real-table fixtures: standardised training rows (CSV, features x0..x{p-1},
target y) and a network trained on them by PyTorch, exported to ONNX.
    make_models.py OUT_DIR
boston: MASS's Boston (read through Rscript), 455 of its 506 rows (seed 1), 13→50→1 ReLU, normal likelihood.
digits: sklearn's digits, ROWS rows (stratified, seed 1; default 400), 64→16→10 tanh, categorical likelihood.
digits_sumzero: the same trained network with its output layer written on the sum-zero subspace of the 10 logits:
    16→9 (sampled) then a fixed 9→10 orthonormal Helmert basis (initializer "sumzero.basis", frozen when sampled).
    Softmax ignores a common shift of the logits, and under isotropic N(0, 1) priors that shift's component of the
    output weights is independent of the data, so this samples the same predictive with 17 fewer directions.
diabetes: sklearn's diabetes (all 442 rows), 10→8→1 tanh, normal likelihood.
cpus: MASS's cpus (209 rows; log1p of the 6 features and log perf, standardised), 6→12 SiLU, then a softplus layer
    12→12 added back to its input (a skip connection), then 12→1; normal likelihood."""
import os
import sys

import numpy as np
import onnx
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from real_tables import boston, cpus, write_csv  # noqa: E402


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
    return loss.item(), net


class SkipNet(torch.nn.Module):
    """in→h SiLU, then h + softplus(h→h), then h→1: a residual block, exported as Gemm, Sigmoid·Mul, Softplus, Add."""

    def __init__(self, inputs, hidden):
        super().__init__()
        self.a = torch.nn.Linear(inputs, hidden)
        self.b = torch.nn.Linear(hidden, hidden)
        self.out = torch.nn.Linear(hidden, 1)

    def forward(self, v):
        h = torch.nn.functional.silu(self.a(v))
        return self.out(h + torch.nn.functional.softplus(self.b(h)))


def fit_skip(path, x, y, hidden, epochs=500):
    torch.manual_seed(3)
    net = SkipNet(x.shape[1], hidden).double()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xt, yt = torch.tensor(x), torch.tensor(y).reshape(-1, 1)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xt), yt)
        loss.backward()
        opt.step()
    torch.onnx.export(net.float(), torch.zeros(1, x.shape[1]), path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17)
    return loss.item()


def sumzero(path, trained):
    """The trained classifier with its output layer on the sum-zero subspace (see the module's docstring)."""
    k = trained[2].out_features
    basis = np.zeros((k, k - 1))
    for j in range(1, k):
        basis[:j, j - 1] = 1.0 / np.sqrt(j * (j + 1))
        basis[j, j - 1] = -j / np.sqrt(j * (j + 1))
    net = torch.nn.Sequential(torch.nn.Linear(trained[0].in_features, trained[0].out_features), torch.nn.Tanh(),
                              torch.nn.Linear(trained[2].in_features, k - 1), torch.nn.Linear(k - 1, k, bias=False))
    with torch.no_grad():
        net[0].weight[:] = trained[0].weight
        net[0].bias[:] = trained[0].bias
        net[2].weight[:] = torch.tensor(basis.T @ trained[2].weight.double().numpy())
        net[2].bias[:] = torch.tensor(basis.T @ trained[2].bias.double().numpy())
        net[3].weight[:] = torch.tensor(basis)
    torch.onnx.export(net, torch.zeros(1, trained[0].in_features), path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=13)
    model = onnx.load(path)
    for init in model.graph.initializer:
        if list(init.dims) == [k - 1, k]:
            old, init.name = init.name, "sumzero.basis"
            for node in model.graph.node:
                node.input[:] = ["sumzero.basis" if i == old else i for i in node.input]
    onnx.save(model, path)


def main():
    out = sys.argv[1]
    rows = int(os.environ.get("ROWS", "400"))
    os.makedirs(out, exist_ok=True)

    x, y = boston()
    x, _, y, _ = train_test_split(x, y, test_size=51, random_state=1)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    write_csv(os.path.join(out, "boston.csv"), x, y, False)
    loss, _ = fit_and_export(os.path.join(out, "boston.onnx"), x, y, 50, torch.nn.ReLU(), 1, False)
    print(f"boston: {len(y)} rows, 13→50→1 ReLU, final train MSE {loss:.4f}")

    digits = datasets.load_digits()
    x, _, y, _ = train_test_split(digits.data, digits.target, train_size=rows, random_state=1, stratify=digits.target)
    sd = x.std(0)
    sd[sd == 0] = 1
    x = (x - x.mean(0)) / sd
    write_csv(os.path.join(out, "digits.csv"), x, y, True)
    loss, net = fit_and_export(os.path.join(out, "digits.onnx"), x, y, 16, torch.nn.Tanh(), 10, True)
    print(f"digits: {len(y)} rows, 64→16→10 tanh, final train cross-entropy {loss:.4f}")
    sumzero(os.path.join(out, "digits_sumzero.onnx"), net)

    x, y = datasets.load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    write_csv(os.path.join(out, "diabetes.csv"), x, y, False)
    loss, _ = fit_and_export(os.path.join(out, "diabetes.onnx"), x, y, 8, torch.nn.Tanh(), 1, False)
    print(f"diabetes: {len(y)} rows, 10→8→1 tanh, final train MSE {loss:.4f}")

    x, y = cpus()
    x, y = np.log1p(x), np.log(y)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    write_csv(os.path.join(out, "cpus.csv"), x, y, False)
    loss = fit_skip(os.path.join(out, "cpus.onnx"), x, y, 12)
    print(f"cpus: {len(y)} rows, 6→12→(12, skip)→1 SiLU/softplus, final train MSE {loss:.4f}")


if __name__ == "__main__":
    main()

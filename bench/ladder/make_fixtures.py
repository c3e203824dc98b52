"""The size ladder's fixtures: five networks trained by PyTorch and exported to ONNX, with their data tables.

    python3 bench/ladder/make_fixtures.py OUT_DIR

Writes OUT_DIR/rungN.onnx, OUT_DIR/rungN.csv (header x0..x{K-1},y; 9 significant digits, exact in float32) and
OUT_DIR/rungs.tsv (rung, name, onnx, csv, features ("-": every column but the target), target, likelihood, rows,
multiply-adds per gradient). Seeded:
reruns give the same tables; the weights depend on PyTorch's kernels only through training.

1. the blog's 1→5→10→1 softplus MLP on its 100 points (models/blog_mlp_pytorch.onnx, models/blog_data.csv);
2. 13→50→1 ReLU on Boston housing (R's MASS::Boston, 506 rows, 13 features, medv), the UCI regression benchmark's
   network, trained on a seeded 90% split (455 rows), features and target standardised;
3. 64→16→10 tanh classifier on scikit-learn's bundled digits (8×8 pixels / 16), an 80% split (1,437 rows),
   categorical likelihood on the logits;
4. 8→64→64→1 softplus on N = 10,000 synthetic rows;
5. 32→128→128→1 ReLU on N = 20,000 synthetic rows (20,865 weights).
"""
import os
import shutil
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from real_tables import boston  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def mlp(widths, activation):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(activation())
    return torch.nn.Sequential(*layers)


def train(module, x, y, loss_fn, steps, lr=0.01):
    """Full-batch Adam."""
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y)
    yt = yt.long() if yt.dtype == torch.int64 else yt.float()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(module(xt), yt)
        loss.backward()
        opt.step()
    return float(loss)


def export(module, out, name, width):
    module = module.eval()
    path = os.path.join(out, name + ".onnx")
    torch.onnx.export(module, torch.zeros(2, width), path, opset_version=17, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))
    return path


def write_table(out, name, x, y):
    path = os.path.join(out, name + ".csv")
    k = x.shape[1]
    with open(path, "w") as f:
        f.write(",".join(["x%d" % i for i in range(k)] + ["y"]) + "\n")
        for row, target in zip(x.astype(np.float32), y):
            f.write(",".join("%.9g" % v for v in row) + ",%.9g\n" % target)
    return path


def macs(widths, rows):
    """Multiply-adds of one value + gradient: forward Σ K·N, weight gradient Σ K·N, input gradient Σ K·N but the first layer's."""
    layers = [widths[i] * widths[i + 1] for i in range(len(widths) - 1)]
    return rows * (2 * sum(layers) + sum(layers[1:]))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2026)
    torch.set_num_threads(2)
    rows = []

    # 1: the blog's network and data, as committed.
    shutil.copy(os.path.join(ROOT, "models", "blog_mlp_pytorch.onnx"), os.path.join(out, "rung1.onnx"))
    shutil.copy(os.path.join(ROOT, "models", "blog_data.csv"), os.path.join(out, "rung1.csv"))
    rows.append((1, "1→5→10→1 softplus, blog data", "rung1.onnx", "rung1.csv", "x", "y", "normal", 100, macs([1, 5, 10, 1], 100)))

    # 2: Boston housing, 13→50→1 ReLU.
    rng = np.random.default_rng(2)
    x, y = boston()
    idx = rng.permutation(len(y))[:455]
    x, y = x[idx], y[idx]
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    net = mlp([13, 50, 1], torch.nn.ReLU)
    train(net, x, y[:, None], torch.nn.functional.mse_loss, 800)
    export(net, out, "rung2", 13)
    write_table(out, "rung2", x, y)
    rows.append((2, "13→50→1 ReLU, Boston housing (MASS)", "rung2.onnx", "rung2.csv", "-", "y", "normal", 455, macs([13, 50, 1], 455)))

    # 3: digits, 64→16→10 tanh, categorical.
    from sklearn.datasets import load_digits
    digits = load_digits()
    rng = np.random.default_rng(3)
    idx = rng.permutation(len(digits.target))[:1437]
    x, labels = digits.data[idx] / 16.0, digits.target[idx]
    net = mlp([64, 16, 10], torch.nn.Tanh)
    train(net, x, labels.astype(np.int64), torch.nn.functional.cross_entropy, 600)
    export(net, out, "rung3", 64)
    write_table(out, "rung3", x, labels.astype(np.float64))
    rows.append((3, "64→16→10 tanh classifier, digits (sklearn)", "rung3.onnx", "rung3.csv", "-", "y", "categorical", 1437, macs([64, 16, 10], 1437)))

    # 4 and 5: synthetic regressions.
    for rung, widths, act, n, steps in ((4, [8, 64, 64, 1], torch.nn.Softplus, 10_000, 120),
                                       (5, [32, 128, 128, 1], torch.nn.ReLU, 20_000, 40)):
        rng = np.random.default_rng(rung)
        k = widths[0]
        x = rng.standard_normal((n, k))
        a = rng.standard_normal((k, 4)) / np.sqrt(k)
        h = x @ a
        y = np.sin(h[:, 0]) + 0.5 * np.tanh(h[:, 1] * h[:, 2]) + 0.3 * h[:, 3] + 0.1 * rng.standard_normal(n)
        net = mlp(widths, act)
        train(net, x, y[:, None], torch.nn.functional.mse_loss, steps, lr=0.02)
        export(net, out, "rung%d" % rung, k)
        write_table(out, "rung%d" % rung, x, y)
        label = "%s %s, synthetic" % ("→".join(map(str, widths)), "softplus" if act is torch.nn.Softplus else "ReLU")
        rows.append((rung, label, "rung%d.onnx" % rung, "rung%d.csv" % rung, "-", "y", "normal", n, macs(widths, n)))

    with open(os.path.join(out, "rungs.tsv"), "w") as f:
        f.write("rung\tname\tonnx\tcsv\tfeatures\ttarget\tlikelihood\trows\tmacs\n")
        for r in rows:
            f.write("\t".join(str(v) for v in r) + "\n")


if __name__ == "__main__":
    main()

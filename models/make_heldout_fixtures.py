#!/usr/bin/python3
"""Builds the held-out evaluation fixture in models/: a noisy 3-feature regression split into training and test
rows, and a network trained by PyTorch on the training rows only.

Run from anywhere with Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy:

    /usr/bin/python3 models/make_heldout_fixtures.py

Seeded, so a rerun reproduces the same data and weights. CSV conventions as in make_fixtures.py.
"""
import numpy as np
import onnx
import torch

from fixture_io import HERE, path, write_rows

torch.set_num_threads(1)


def write_table(name, header, rows):
    with open(path(name), "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join("%.17g" % v for v in row) + "\n")


# y = sin(2 x1) + 0.5 x2 x3 + 0.3 ε on 300 rows: the first 200 train, the last 100 are held out.
rng = np.random.default_rng(17)
x = rng.normal(size=(300, 3)).astype(np.float32)
y = (np.sin(2 * x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.3 * rng.normal(size=300)).astype(np.float32)
header = ["x1", "x2", "x3", "y"]
write_table("noisy3_train.csv", header, np.column_stack([x[:200], y[:200]]))
write_table("noisy3_test.csv", header, np.column_stack([x[200:], y[200:]]))

# 3 -> 16 tanh -> 1, trained on the training rows to a small training error (it overfits a little).
torch.manual_seed(18)
net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
opt = torch.optim.Adam(net.parameters(), lr=0.01)
xt, yt = torch.from_numpy(x[:200]), torch.from_numpy(y[:200, None])
for _ in range(3000):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(net(xt), yt)
    loss.backward()
    opt.step()
net.eval()
name = "noisy3_tanh_pytorch"
torch.onnx.export(net, xt[:3], path(name + ".onnx"), opset_version=17, input_names=["x"], output_names=["y"],
                  dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
onnx.checker.check_model(onnx.load(path(name + ".onnx")))
with torch.no_grad():
    write_rows(name + ".input.csv", x[200:220])
    write_rows(name + ".output.csv", net(torch.from_numpy(x[200:220])).numpy())
    train_rmse = float(torch.sqrt(loss))
    test_rmse = float(torch.sqrt(torch.nn.functional.mse_loss(net(torch.from_numpy(x[200:])), torch.from_numpy(y[200:, None]))))
print(f"{name}: training RMSE {train_rmse:.4f}, test RMSE {test_rmse:.4f}; fixtures written to {HERE}")

#!/usr/bin/python3
"""Builds the sequence-shaped fixture in models/: a PyTorch model whose input has a symbolic non-batch dimension.

Run from anywhere with Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy:

    /usr/bin/python3 models/make_sequence_fixture.py

Seeded, so a rerun reproduces the same files. The network reads x [batch, seq, 1]: a per-timestep Linear(1, 4),
tanh, the mean over the sequence axis (ReduceMean) and a Linear(4, 1). It is exported with dynamic axes
{0: 'batch', 1: 'seq'}, so the file declares x as [batch, seq, 1] and any sequence length works. Expected outputs come
from the PyTorch module, for sequences of length 5 (the training length) and 7. CSV inputs: no header, one sample
per row, the sequence in order; outputs one value per row; 17 significant digits.
"""
import numpy as np
import onnx
import torch

from fixture_io import path, write_rows

NAME = "sequence_mean_pytorch"
torch.set_num_threads(1)


class SequenceMean(torch.nn.Module):
    """y = Linear(4, 1)(mean_t tanh(Linear(1, 4)(x_t)))."""

    def __init__(self):
        super().__init__()
        self.step = torch.nn.Linear(1, 4)
        self.head = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.head(torch.tanh(self.step(x)).mean(dim=1))


def predict(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x[:, :, None])).numpy()


rng = np.random.default_rng(12)
torch.manual_seed(12)

# Training data: 80 sequences of length 5, target = mean of sin(1.5·x_t) plus noise.
rows, length = 80, 5
x = rng.normal(size=(rows, length)).astype(np.float32)
y = (np.sin(1.5 * x).mean(axis=1) + 0.1 * rng.normal(size=rows)).astype(np.float32)
with open(path("sequence_data.csv"), "w") as f:
    f.write(",".join(["t%d" % t for t in range(length)] + ["y"]) + "\n")
    for xi, yi in zip(x, y):
        f.write(",".join("%.17g" % v for v in list(xi) + [yi]) + "\n")

model = SequenceMean()
opt = torch.optim.Adam(model.parameters(), lr=0.02)
xt, yt = torch.from_numpy(x[:, :, None]), torch.from_numpy(y[:, None])
for _ in range(800):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(xt), yt)
    loss.backward()
    opt.step()
model.eval()

torch.onnx.export(model, xt[:3], path(NAME + ".onnx"), opset_version=17, input_names=["x"], output_names=["y"],
                  dynamic_axes={"x": {0: "batch", 1: "seq"}, "y": {0: "batch"}})
onnx.checker.check_model(onnx.load(path(NAME + ".onnx")))

# Expected outputs for sequences of the training length (5) and of length 7.
for suffix, width in (("", 5), (".seq7", 7)):
    inputs = rng.normal(size=(6, width)).astype(np.float32)
    write_rows(NAME + suffix + ".input.csv", inputs)
    write_rows(NAME + suffix + ".output.csv", predict(model, inputs))
print("final training MSE %.4f" % loss.item())

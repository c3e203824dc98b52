#!/usr/bin/python3
"""Builds the skip-connection fixtures in models/ and their expected outputs.

Run from anywhere with Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy:

    /usr/bin/python3 models/make_skip_fixtures.py

Each network concatenates a hidden layer with its own input (a skip connection, `torch.cat([h, x], dim=1)`, which
PyTorch exports as `Concat(axis=1)`) before the output layer: a regressor trained briefly on `blog_data.csv` and a
three-class classifier trained briefly on `multiclass_data.csv`, each exported at opsets 13 and 17. Everything is
seeded, so a rerun reproduces the same weights. Expected outputs come from the PyTorch module. CSV outputs: no header,
one sample per row, 17 significant digits.
"""
import numpy as np
import torch

from fixture_io import export_with, path, write_rows, save_expected, train

torch.set_num_threads(1)


def read_table(name):
    data = np.loadtxt(path(name), delimiter=",", skiprows=1, dtype=np.float64)
    with open(path(name)) as f:
        header = f.readline().strip().split(",")
    return header, data


class SkipNet(torch.nn.Module):
    """x → Linear → activation → cat([h, x]) → Linear."""

    def __init__(self, n_in, n_hidden, n_out, activation):
        super().__init__()
        self.hidden = torch.nn.Linear(n_in, n_hidden)
        self.activation = activation
        self.out = torch.nn.Linear(n_hidden + n_in, n_out)

    def forward(self, x):
        h = self.activation(self.hidden(x))
        return self.out(torch.cat([h, x], dim=1))


# Regressor on the blog's data: 1 → 6 tanh, cat with x → 7 → 1.
_, blog = read_table("blog_data.csv")
xr = blog[:, [0]].astype(np.float32)
yr = blog[:, [2]].astype(np.float32)
torch.manual_seed(21)
regressor = SkipNet(1, 6, 1, torch.nn.Tanh())
train(regressor, xr, yr, torch.nn.MSELoss(), 400)
grid = np.linspace(-1.2, 1.2, 13, dtype=np.float32)[:, None]
for opset in (13, 17):
    name = "skip_regressor_op%d" % opset
    export_with(regressor, name, torch.from_numpy(xr[:3]), opset, "Concat")
    save_expected(name, regressor, grid)

# Classifier on the three-class data: 4 → 8 relu, cat with x → 12 → 3 logits.
_, multi = read_table("multiclass_data.csv")
xm = multi[:, :4].astype(np.float32)
ym = multi[:, 4].astype(np.int64)
torch.manual_seed(22)
classifier = SkipNet(4, 8, 3, torch.nn.ReLU())
train(classifier, xm, ym, torch.nn.CrossEntropyLoss(), 300)
for opset in (13, 17):
    name = "skip_classifier_op%d" % opset
    export_with(classifier, name, torch.from_numpy(xm[:3]), opset, "Concat", output_name="logits")
    save_expected(name, classifier, xm[::6])

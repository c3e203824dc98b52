#!/usr/bin/python3
"""Builds the activation fixtures in models/ and their expected outputs.

Run from anywhere with Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy:

    /usr/bin/python3 models/make_activation_fixtures.py

One small regressor per activation that PyTorch exports as a single ONNX operator of its own: Linear(1, 8) →
activation → Linear(8, 1), trained briefly on `blog_data.csv`. `torch.nn.Hardswish` is `HardSwish` at opset 17 and
`HardSigmoid` times its input at opset 13, so it is exported at both; `torch.nn.CELU(alpha=0.7)` is `Celu` at both,
so only at opset 17. Everything is seeded, so a rerun reproduces the same weights. Expected outputs come from the
PyTorch module on a grid that crosses each activation's kinks. CSV outputs: no header, one sample per row,
17 significant digits.
"""
import numpy as np
import torch

from fixture_io import export_with, path, save_expected, train

torch.set_num_threads(1)


blog = np.loadtxt(path("blog_data.csv"), delimiter=",", skiprows=1, dtype=np.float64)
x = blog[:, [0]].astype(np.float32)
y = blog[:, [2]].astype(np.float32)
grid = np.linspace(-1.5, 1.5, 25, dtype=np.float32)[:, None]

# (file stem, seed, activation, [(opset, the op the exporter writes)])
networks = [
    ("hardswish_pytorch", 31, torch.nn.Hardswish(), [(13, "HardSigmoid"), (17, "HardSwish")]),
    ("celu_pytorch", 32, torch.nn.CELU(alpha=0.7), [(17, "Celu")]),
]
for stem, seed, activation, forms in networks:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), activation, torch.nn.Linear(8, 1))
    with torch.no_grad():
        net[0].weight.mul_(4.0)  # pre-activations span both sides of the kinks at ±3 and 0
    train(net, x, y, torch.nn.MSELoss(), 300)
    for opset, op_type in forms:
        name = "%s_op%d" % (stem, opset)
        export_with(net, name, torch.from_numpy(x[:3]), opset, op_type)
        save_expected(name, net, grid)

#!/usr/bin/python3
"""Builds the normalisation and parametric-activation fixtures in models/ and their expected outputs.

Run from anywhere with Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy:

    /usr/bin/python3 models/make_layer_fixtures.py

- `layernorm_mlp_op17`: 4 → 16 Linear → LayerNorm(16) → ReLU → Linear(16, 1), exported at opset 17 (one
  LayerNormalization node whose scale and bias are trained).
- `layernorm_nobias_op17`: 4 → 8 Linear → LayerNorm(8) with its bias held at zero → Tanh → Linear(8, 1), opset 17,
  with the bias input then dropped from the LayerNormalization node (PyTorch 1.13 has no `bias=False`, and its
  export of `elementwise_affine=False` leaves the required scale input empty, which the ONNX checker rejects).
- `prelu_shared_op13`, `prelu_shared_op17`: 4 → 8 Linear → PReLU (one slope) → Linear(8, 1).
- `prelu_channel_op13`, `prelu_channel_op17`: 4 → 8 Linear → PReLU(8) (a slope per channel) → Linear(8, 1).

Each is trained briefly on `layer_data.csv` (64 seeded normal draws of x1..x4 and a smooth target y, written here) so the weights are not the
initial ones (PReLU slopes and LayerNorm scales move away from 0.25 and 1). Everything is seeded, so a rerun
reproduces the same files. Expected outputs come from the PyTorch module.
"""
import numpy as np
import onnx
import torch

from fixture_io import export_with, path, write_rows, save_expected, train

torch.set_num_threads(1)


rng = np.random.default_rng(17)
x = rng.normal(size=(64, 4)).astype(np.float32)
y = (np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] - 0.3 * np.abs(x[:, 3]))[:, None].astype(np.float32)
grid = rng.normal(size=(12, 4)).astype(np.float32) * 1.5
with open(path("layer_data.csv"), "w") as f:
    f.write("x1,x2,x3,x4,y\n")
    for row in np.hstack([x, y]).astype(np.float64):
        f.write(",".join("%.17g" % v for v in row) + "\n")

torch.manual_seed(31)
net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.LayerNorm(16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
train(net, x, y, torch.nn.MSELoss(), 200)
export_with(net, "layernorm_mlp_op17", torch.from_numpy(x[:3]), 17, "LayerNormalization")
save_expected("layernorm_mlp_op17", net, grid)

torch.manual_seed(32)
net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
torch.nn.init.zeros_(net[1].bias)
net[1].bias.requires_grad_(False)
train(net, x, y, torch.nn.MSELoss(), 200)
export_with(net, "layernorm_nobias_op17", torch.from_numpy(x[:3]), 17, "LayerNormalization")
model = onnx.load(path("layernorm_nobias_op17.onnx"))
node = next(n for n in model.graph.node if n.op_type == "LayerNormalization")
bias = node.input[2]
del node.input[2]
kept = [t for t in model.graph.initializer if t.name != bias]
del model.graph.initializer[:]
model.graph.initializer.extend(kept)
onnx.checker.check_model(model)
onnx.save(model, path("layernorm_nobias_op17.onnx"))
save_expected("layernorm_nobias_op17", net, grid)

for kind, slopes in (("shared", 1), ("channel", 8)):
    torch.manual_seed(33 + slopes)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.PReLU(slopes), torch.nn.Linear(8, 1))
    train(net, x, y, torch.nn.MSELoss(), 200)
    for opset in (13, 17):
        name = "prelu_%s_op%d" % (kind, opset)
        export_with(net, name, torch.from_numpy(x[:3]), opset, "PRelu")
        save_expected(name, net, grid)

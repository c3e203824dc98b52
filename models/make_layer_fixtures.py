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

- `layernorm_mlp_op13`: the `layernorm_mlp_op17` network at opset 13, where the exporter writes LayerNorm as
  ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add.
- `layernorm_noaffine_op13`: `nn.LayerNorm(8, elementwise_affine=False)` at opset 13 (at opset 17 PyTorch 1.13 fails
  to export it: the LayerNormalization scale input is left empty).
- `rmsnorm_mlp_op17`: a hand-written RMSNorm module (x · rsqrt(mean(x²) + ε) · weight), as the exporter writes it.
- `groupnorm_mlp_op17`: `nn.GroupNorm(2, 8)` over the hidden features seen as `[batch, 8, 1]`, which PyTorch 1.13
  writes as Reshape → InstanceNormalization → Reshape to Shape(x) → Mul → Add (it refuses a `[batch, 8]` input).
- `residual_layernorm_gelu_op13`, `_op17`: x → Linear(4,16) → h; h + Linear(GELU(LayerNorm(h))) → LayerNorm →
  Linear(16,1): a residual block (Add of the block and its input).
- `prelu_skip_op17`: x → Linear(4,8) → PReLU(8) → h; PReLU(Linear(8,8)(h)) + h → Linear(8,1).
- `batchnorm_classifier_op17`: 4 → Linear(4,16) → BatchNorm1d(16) → ReLU → Linear(16,3) logits, trained on
  `multiclass_data.csv` (running statistics from training; the exported file is in inference mode).
- `structure_mlp_op17`: Linear(4,8) without bias (MatMul) → Dropout → ReLU → AlphaDropout → Identity → view as
  [batch,2,4] (`nn.Unflatten` does not export in PyTorch 1.13; `view` writes Reshape) → Flatten → Linear(8,1).
  Dropout, AlphaDropout and Identity leave no node in an inference export.
- `untrained_norms_op17`: 4 → Linear(4,8) → LayerNorm(8) → ReLU → Linear(8,8) → BatchNorm1d(8) → LayerNorm(8) →
  Linear(8,1) at its initial weights: the exporter stores the equal scales, shifts and running statistics once and
  writes the others as Identity of the first.

Where a network's opset-13 export has the same nodes as its opset-17 export, only the opset-17 file is kept (the
script checks the nodes are the same). Each is trained briefly on `layer_data.csv` (64 seeded normal draws of x1..x4 and a smooth target y, written here) so the weights are not the
initial ones (PReLU slopes and LayerNorm scales move away from 0.25 and 1). Everything is seeded, so a rerun
reproduces the same files. Expected outputs come from the PyTorch module.
"""
import os

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


def op_types(name):
    return [n.op_type for n in onnx.load(path(name + ".onnx")).graph.node]


def export_both(net, stem, op_type, inputs, example):
    """Exports at opsets 17 and 13 with expected outputs; drops the opset-13 file when its nodes are the opset-17 file's."""
    export_with(net, stem + "_op17", example, 17, op_type)
    save_expected(stem + "_op17", net, inputs)
    export_with(net, stem + "_op13", example, 13, op_type)
    if op_types(stem + "_op13") == op_types(stem + "_op17"):
        os.remove(path(stem + "_op13.onnx"))
    else:
        save_expected(stem + "_op13", net, inputs)


class RMSNorm(torch.nn.Module):
    """RMS normalisation as it is usually written by hand: x · rsqrt(mean(x²) + ε) · weight."""

    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class GroupNormFeatures(torch.nn.Module):
    """GroupNorm over the features of a [batch, C] value, seen as [batch, C, 1]."""

    def __init__(self, groups, channels):
        super().__init__()
        self.norm = torch.nn.GroupNorm(groups, channels)

    def forward(self, x):
        return self.norm(x.unsqueeze(-1)).squeeze(-1)


class ResidualLayerNormGelu(torch.nn.Module):
    def __init__(self, n_in, width):
        super().__init__()
        self.embed = torch.nn.Linear(n_in, width)
        self.norm = torch.nn.LayerNorm(width)
        self.act = torch.nn.GELU()
        self.block = torch.nn.Linear(width, width)
        self.final_norm = torch.nn.LayerNorm(width)
        self.head = torch.nn.Linear(width, 1)

    def forward(self, x):
        h = self.embed(x)
        h = h + self.block(self.act(self.norm(h)))
        return self.head(self.final_norm(h))


class PReluSkip(torch.nn.Module):
    def __init__(self, n_in, width):
        super().__init__()
        self.embed = torch.nn.Linear(n_in, width)
        self.act1 = torch.nn.PReLU(width)
        self.block = torch.nn.Linear(width, width)
        self.act2 = torch.nn.PReLU(width)
        self.head = torch.nn.Linear(width, 1)

    def forward(self, x):
        h = self.act1(self.embed(x))
        return self.head(self.act2(self.block(h)) + h)


class Structure(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(4, 8, bias=False)
        self.dropout = torch.nn.Dropout(0.2)
        self.alpha_dropout = torch.nn.AlphaDropout(0.1)
        self.identity = torch.nn.Identity()
        self.flatten = torch.nn.Flatten()
        self.out = torch.nn.Linear(8, 1)

    def forward(self, x):
        h = self.identity(self.alpha_dropout(torch.relu(self.dropout(self.hidden(x)))))
        return self.out(self.flatten(h.view(-1, 2, 4)))


torch.manual_seed(31)
net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.LayerNorm(16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
train(net, x, y, torch.nn.MSELoss(), 200)
export_with(net, "layernorm_mlp_op13", torch.from_numpy(x[:3]), 13, "ReduceMean")
save_expected("layernorm_mlp_op13", net, grid)

torch.manual_seed(41)
net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8, elementwise_affine=False), torch.nn.Tanh(), torch.nn.Linear(8, 1))
train(net, x, y, torch.nn.MSELoss(), 200)
export_with(net, "layernorm_noaffine_op13", torch.from_numpy(x[:3]), 13, "ReduceMean")
save_expected("layernorm_noaffine_op13", net, grid)

torch.manual_seed(42)
net = torch.nn.Sequential(torch.nn.Linear(4, 8), RMSNorm(8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
train(net, x, y, torch.nn.MSELoss(), 200)
export_both(net, "rmsnorm_mlp", "ReduceMean", grid, torch.from_numpy(x[:3]))

torch.manual_seed(43)
net = torch.nn.Sequential(torch.nn.Linear(4, 8), GroupNormFeatures(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
train(net, x, y, torch.nn.MSELoss(), 200)
export_both(net, "groupnorm_mlp", "InstanceNormalization", grid, torch.from_numpy(x[:3]))

torch.manual_seed(44)
net = ResidualLayerNormGelu(4, 16)
train(net, x, y, torch.nn.MSELoss(), 200)
export_both(net, "residual_layernorm_gelu", "Erf", grid, torch.from_numpy(x[:3]))

torch.manual_seed(45)
net = PReluSkip(4, 8)
train(net, x, y, torch.nn.MSELoss(), 200)
export_both(net, "prelu_skip", "PRelu", grid, torch.from_numpy(x[:3]))

torch.manual_seed(46)
net = Structure()
train(net, x, y, torch.nn.MSELoss(), 200)
export_both(net, "structure_mlp", "Flatten", grid, torch.from_numpy(x[:3]))

multi = np.loadtxt(path("multiclass_data.csv"), delimiter=",", skiprows=1, dtype=np.float64)
xm = multi[:, :4].astype(np.float32)
ym = multi[:, 4].astype(np.int64)
torch.manual_seed(47)
net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
opt = torch.optim.Adam(net.parameters(), lr=0.01)
for _ in range(200):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(xm)), torch.from_numpy(ym))
    loss.backward()
    opt.step()
net.eval()
export_both(net, "batchnorm_classifier", "BatchNormalization", xm[::8], torch.from_numpy(xm[:3]))

# An untrained network, as exported to sample from scratch: the LayerNorm and BatchNorm scales (ones), shifts and
# running statistics are equal tensors, which the exporter stores once and writes as Identity of the first.
torch.manual_seed(48)
net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.ReLU(), torch.nn.Linear(8, 8),
                          torch.nn.BatchNorm1d(8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 1))
net.eval()
export_both(net, "untrained_norms", "Identity", grid, torch.from_numpy(x[:3]))

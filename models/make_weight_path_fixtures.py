#!/usr/bin/python3
"""Builds the fixtures whose weights reach their layer through other nodes, and their expected outputs.

Run from anywhere with Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy:

    /usr/bin/python3 models/make_weight_path_fixtures.py

Seeded, so a rerun reproduces the same files. Reads models/regression8_data.csv (written by make_fixtures.py).

* step_mlp_op{13,17}_{folded,unfolded}: one trained 8 -> 16 tanh -> 1 network whose Linear layers see a
  [batch, 1, 8] tensor (the input with a length-1 step axis added), so torch.onnx.export writes MatMul + Add rather
  than Gemm. With do_constant_folding=True the transposed weights are folded into new initializers named
  onnx::MatMul_N ([in, out]) beside hidden.bias / out.bias; with do_constant_folding=False the stored weights
  hidden.weight / out.weight ([out, in]) reach the MatMul through a Transpose node. All four files compute the same
  function.
* weight_paths_pytorch: parameters that reach their layer through Reshape, Transpose, Squeeze, Unsqueeze, Flatten,
  Cast, Identity and Mul / Div by a constant, exported with do_constant_folding=False. The Identity nodes are
  inserted after export (torch elides them); they do not change the function.

CSV outputs: no header, one sample per row, 17 significant digits.
"""
import numpy as np
import onnx
import torch
from onnx import helper

from fixture_io import path, write_rows, save_expected, train

torch.set_num_threads(1)


def export_torch(module, name, example, opset, folding):
    module.eval()
    torch.onnx.export(module, example, path(name + ".onnx"), opset_version=opset, do_constant_folding=folding,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path(name + ".onnx")))


data = np.loadtxt(path("regression8_data.csv"), delimiter=",", skiprows=1, dtype=np.float32)
x8, y8 = data[:, :8].copy(), data[:, 8:9].copy()


# --------------------------------------------------------------------------- one network, four exports
class StepMlp(torch.nn.Module):
    """8 -> 16 tanh -> 1 applied to a length-1 step axis: nn.Linear on a 3-D tensor exports as MatMul + Add."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(8, 16)
        self.out = torch.nn.Linear(16, 1)

    def forward(self, x):
        h = torch.tanh(self.hidden(x.unsqueeze(1)))
        return self.out(h).flatten(1)


torch.manual_seed(11)
step = train(StepMlp(), x8, y8, torch.nn.functional.mse_loss, 600)
for opset in (13, 17):
    for folding in (True, False):
        name = f"step_mlp_op{opset}_{'folded' if folding else 'unfolded'}"
        export_torch(step, name, torch.from_numpy(x8[:3]), opset, folding)
        save_expected(name, step, x8[:20])


# --------------------------------------------------------------------------- parameters through shape and cast ops
class WeightPaths(torch.nn.Module):
    """8 -> 16 tanh -> 1 whose parameters are stored in other shapes and reshaped, cast and scaled on every call."""

    def __init__(self):
        super().__init__()
        self.w1 = torch.nn.Parameter(0.3 * torch.randn(16 * 8))  # flat [128] -> [16, 8] -> transposed -> MatMul
        self.b1 = torch.nn.Parameter(torch.zeros(1, 16))  # [1, 16] -> Squeeze -> Add
        self.w2 = torch.nn.Parameter(0.3 * torch.randn(16))  # [16] -> float64 -> float32 -> Unsqueeze -> * 0.5
        self.b2 = torch.nn.Parameter(torch.zeros(1, 1))  # [1, 1] -> Flatten -> / 4 -> Add

    def forward(self, x):
        w1 = self.w1.reshape(16, 8).t()
        h = torch.tanh(x @ w1 + self.b1.squeeze(0))
        w2 = self.w2.double().float().unsqueeze(1) * 0.5
        return h @ w2 + torch.flatten(self.b2, 1) / 4.0


torch.manual_seed(12)
paths = train(WeightPaths(), x8, y8, torch.nn.functional.mse_loss, 600)
export_torch(paths, "weight_paths_pytorch", torch.from_numpy(x8[:3]), 17, folding=False)

# An Identity between each bias and its Add (exporters write these for aliased tensors).
model = onnx.load(path("weight_paths_pytorch.onnx"))
graph = model.graph
for node in list(graph.node):
    if node.op_type != "Add":
        continue
    for i, name in enumerate(node.input):
        producer = next((n for n in graph.node if name in n.output), None)
        if producer is not None and producer.op_type in ("Squeeze", "Div"):
            alias = name + "_identity"
            at = list(graph.node).index(node)
            graph.node.insert(at, helper.make_node("Identity", [name], [alias], name=node.name + "_identity_" + str(i)))
            node.input[i] = alias
onnx.checker.check_model(model)
onnx.save(model, path("weight_paths_pytorch.onnx"))
save_expected("weight_paths_pytorch", paths, x8[:20])

"""What the fixture scripts in models/ share: paths beside this file, CSV rows, expected outputs, training.

CSV outputs: no header, one sample per row, 17 significant digits (a 1-D array is one value per row).
"""
import os

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def write_rows(name, rows):
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim == 1:
        rows = rows[:, None]
    with open(path(name), "w") as f:
        for row in rows:
            f.write(",".join("%.17g" % v for v in row) + "\n")


def save_expected(name, module_or_fn, inputs):
    """Writes NAME.input.csv and NAME.output.csv: the inputs (as float32) and what the module or function gives."""
    x = np.asarray(inputs, dtype=np.float32)
    if isinstance(module_or_fn, torch.nn.Module):
        with torch.no_grad():
            y = module_or_fn(torch.from_numpy(x)).numpy()
    else:
        y = module_or_fn(x)
    write_rows(name + ".input.csv", x)
    write_rows(name + ".output.csv", y)


def train(module, x, y, loss_fn, steps, lr=0.01):
    """Full-batch Adam on (x, y) for `steps` steps."""
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(module(xt), yt)
        loss.backward()
        opt.step()
    return module


def export_with(module, name, example, opset, op_type, output_name="y"):
    """torch.onnx.export with a dynamic batch axis, checked by onnx and required to hold an `op_type` node."""
    module.eval()
    torch.onnx.export(module, example, path(name + ".onnx"), opset_version=opset,
                      input_names=["x"], output_names=[output_name],
                      dynamic_axes={"x": {0: "batch"}, output_name: {0: "batch"}})
    model = onnx.load(path(name + ".onnx"))
    onnx.checker.check_model(model)
    assert any(n.op_type == op_type for n in model.graph.node), name + ": no " + op_type + " node"

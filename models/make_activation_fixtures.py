#!/usr/bin/python3
"""Builds the activation fixtures in models/ and their expected outputs.

Run from anywhere with Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy:

    /usr/bin/python3 models/make_activation_fixtures.py

One small regressor per activation of `torch.nn`: Linear(1, 8) → activation → Linear(8, 1), trained briefly on
`blog_data.csv`, whether PyTorch exports the activation as one ONNX operator or as its own decomposition (GELU as
Erf or Tanh arithmetic, Softshrink and Hardshrink as Greater/Less/Where, Mish as Softplus·Tanh, ...). `torch.nn.Hardswish` is `HardSwish` at opset 17 and
`HardSigmoid` times its input at opset 13, so it is exported at both; `torch.nn.CELU(alpha=0.7)` is `Celu` at both,
so only at opset 17. The other activations are exported at opsets 17 and 13, and the opset-13 file is kept only
where its nodes differ from the opset-17 file's (for every activation below PyTorch 1.13 writes the same nodes at both
opsets, which the script checks). `torch.nn.Threshold` exports only with threshold = value = 0, as `Relu` (checked
against the ReLU network's nodes; no file of its own). Everything is seeded, so a rerun reproduces the same weights. Expected outputs come from the
PyTorch module on a grid that crosses each activation's kinks. CSV outputs: no header, one sample per row,
17 significant digits.
"""
import os

import numpy as np
import onnx
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


def op_types(name):
    return [n.op_type for n in onnx.load(path(name + ".onnx")).graph.node]


# (file stem, seed, activation, the op the exporter writes that the fixture is about)
decomposed = [
    ("relu_pytorch", 41, torch.nn.ReLU(), "Relu"),
    ("relu6_pytorch", 42, torch.nn.ReLU6(), "Clip"),
    ("leakyrelu_pytorch", 43, torch.nn.LeakyReLU(0.1), "LeakyRelu"),
    ("rrelu_pytorch", 44, torch.nn.RReLU(0.1, 0.3), "LeakyRelu"),
    ("elu_pytorch", 45, torch.nn.ELU(0.8), "Elu"),
    ("selu_pytorch", 46, torch.nn.SELU(), "Selu"),
    ("gelu_pytorch", 47, torch.nn.GELU(), "Erf"),
    ("gelu_tanh_pytorch", 48, torch.nn.GELU(approximate="tanh"), "Tanh"),
    ("silu_pytorch", 49, torch.nn.SiLU(), "Sigmoid"),
    ("mish_pytorch", 50, torch.nn.Mish(), "Softplus"),
    ("hardsigmoid_pytorch", 51, torch.nn.Hardsigmoid(), "HardSigmoid"),
    ("hardtanh_pytorch", 52, torch.nn.Hardtanh(-0.5, 0.8), "Clip"),
    ("softplus_pytorch", 53, torch.nn.Softplus(), "Softplus"),
    # beta is written as Mul and Div around Softplus; the exporter drops threshold (the file is log(1 + e^(βx))/β
    # everywhere), so the default threshold of 20 keeps the module and the file within e^-20/β of each other.
    ("softplus_beta_pytorch", 54, torch.nn.Softplus(beta=2.0), "Softplus"),
    ("softsign_pytorch", 55, torch.nn.Softsign(), "Abs"),
    ("softshrink_pytorch", 56, torch.nn.Softshrink(0.5), "Greater"),
    ("hardshrink_pytorch", 57, torch.nn.Hardshrink(0.5), "Greater"),
    ("tanhshrink_pytorch", 58, torch.nn.Tanhshrink(), "Tanh"),
    ("sigmoid_pytorch", 59, torch.nn.Sigmoid(), "Sigmoid"),
    ("logsigmoid_pytorch", 60, torch.nn.LogSigmoid(), "Log"),
    ("tanh_pytorch", 61, torch.nn.Tanh(), "Tanh"),
    ("softmax_pytorch", 62, torch.nn.Softmax(dim=-1), "Softmax"),
    ("logsoftmax_pytorch", 63, torch.nn.LogSoftmax(dim=-1), "LogSoftmax"),
]
for stem, seed, activation, op_type in decomposed:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), activation, torch.nn.Linear(8, 1))
    with torch.no_grad():
        net[0].weight.mul_(4.0)
    train(net, x, y, torch.nn.MSELoss(), 300)
    name17, name13 = stem + "_op17", stem + "_op13"
    export_with(net, name17, torch.from_numpy(x[:3]), 17, op_type)
    save_expected(name17, net, grid)
    export_with(net, name13, torch.from_numpy(x[:3]), 13, op_type)
    if op_types(name13) == op_types(name17):
        os.remove(path(name13 + ".onnx"))
    else:
        save_expected(name13, net, grid)

# torch.nn.Threshold: only threshold = value = 0 exports, and then as the ReLU network's nodes.
threshold = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Threshold(0.0, 0.0), torch.nn.Linear(8, 1))
export_with(threshold, "threshold_pytorch_op17", torch.from_numpy(x[:3]), 17, "Relu")
assert op_types("threshold_pytorch_op17") == op_types("relu_pytorch_op17")
os.remove(path("threshold_pytorch_op17.onnx"))
for value in (0.0, -0.2):
    try:
        torch.onnx.export(torch.nn.Threshold(0.1, value), torch.zeros(2, 3), os.devnull, opset_version=17)
        raise AssertionError("torch.nn.Threshold(0.1, %g) exported" % value)
    except torch.onnx.errors.OnnxExporterError:
        pass

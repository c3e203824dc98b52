#!/usr/bin/python3
"""Builds the small ONNX fixtures in models/ and their expected outputs.

Run from anywhere with Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy:

    /usr/bin/python3 models/make_fixtures.py

Everything is seeded, so a rerun reproduces the same weights. PyTorch-layout models are exported with
torch.onnx.export and their expected outputs come from the PyTorch module. Flax-layout models (Dense kernel
[in, out]) are written with onnx.helper the way jax2onnx lays them out, and their expected outputs are computed
with NumPy in float32 from the very weights stored in the file. CSV outputs: no header, one sample per row,
17 significant digits.
"""
import os
import shutil

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from fixture_io import HERE, path, write_rows, save_expected, train

SHARED_DATA = os.path.join(HERE, "..", "..", "shared", "reference", "seed", "data.csv")
torch.set_num_threads(1)


def write_table(name, header, rows):
    with open(path(name), "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(("%d" % v) if float(v).is_integer() and h == "y" else "%.17g" % v
                             for h, v in zip(header, row)) + "\n")


def export_torch(module, name, example, opset, input_name="x", output_name="y", **kwargs):
    module.eval()
    torch.onnx.export(module, example, path(name + ".onnx"), opset_version=opset,
                      input_names=[input_name], output_names=[output_name],
                      dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}}, **kwargs)
    onnx.checker.check_model(onnx.load(path(name + ".onnx")))


def softplus(z):
    return np.logaddexp(np.float32(0), z).astype(np.float32)


def tensor(name, array, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name)


def flax_model(name, nodes, initializers, input_name, output_name, n_in, n_out, producer="bnn-onnx-fixtures"):
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["B", n_in])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["B", n_out])], initializers)
    model = helper.make_model(graph, producer_name=producer, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path(name + ".onnx"))


# --------------------------------------------------------------------------- the blog's data
shutil.copyfile(SHARED_DATA, path("blog_data.csv"))
blog = np.loadtxt(path("blog_data.csv"), delimiter=",", skiprows=1, dtype=np.float32)
blog_x, blog_y = blog[:, :1], blog[:, 2:3]
grid = np.linspace(-2, 2, 21, dtype=np.float32)[:, None]
mse = torch.nn.MSELoss()

# --------------------------------------------------------------------------- blog 1 -> 5 -> 10 -> 1 softplus MLP
torch.manual_seed(0)
mlp = torch.nn.Sequential(torch.nn.Linear(1, 5), torch.nn.Softplus(), torch.nn.Linear(5, 10), torch.nn.Softplus(),
                          torch.nn.Linear(10, 1))
train(mlp, blog_x, blog_y, mse, 1500)
export_torch(mlp, "blog_mlp_pytorch", torch.from_numpy(grid[:3]), 17)
save_expected("blog_mlp_pytorch", mlp, grid)

# Opset 9 with the initializers also listed as graph inputs (what older exporters wrote).
export_torch(mlp, "blog_mlp_pytorch_opset9", torch.from_numpy(grid[:3]), 9, keep_initializers_as_inputs=True)
save_expected("blog_mlp_pytorch_opset9", mlp, grid)

# Flax layout: Dense kernels [in, out] = the PyTorch weights transposed.
W = [mlp[i].weight.detach().numpy().T.copy() for i in (0, 2, 4)]
b = [mlp[i].bias.detach().numpy().copy() for i in (0, 2, 4)]


def blog_numpy(x):
    h = softplus(x @ W[0] + b[0])
    h = softplus(h @ W[1] + b[1])
    return h @ W[2] + b[2]


# Gemm transB=0 with Flax's parameter paths as names.
nodes, inits, prev = [], [], "x"
for k in range(3):
    inits += [tensor(f"params/Dense_{k}/kernel", W[k]), tensor(f"params/Dense_{k}/bias", b[k])]
    out = "y" if k == 2 else f"dense_{k}"
    nodes.append(helper.make_node("Gemm", [prev, f"params/Dense_{k}/kernel", f"params/Dense_{k}/bias"], [out],
                                  name=f"Dense_{k}", transB=0))
    if k < 2:
        nodes.append(helper.make_node("Softplus", [out], [f"act_{k}"], name=f"softplus_{k}"))
        prev = f"act_{k}"
flax_model("blog_mlp_flax_gemm", nodes, inits, "x", "y", 1, 1)
save_expected("blog_mlp_flax_gemm", blog_numpy, grid)

# MatMul + Add with the bias on the left and jax2onnx's opaque names.
nodes, inits, prev = [], [], "in_0"
for k in range(3):
    inits += [tensor(f"const_{2 * k}", W[k]), tensor(f"const_{2 * k + 1}", b[k])]
    nodes.append(helper.make_node("MatMul", [prev, f"const_{2 * k}"], [f"mm_{k}"], name=f"MatMul_{k}"))
    out = "out_0" if k == 2 else f"dense_{k}"
    nodes.append(helper.make_node("Add", [f"const_{2 * k + 1}", f"mm_{k}"], [out], name=f"Add_{k}"))
    if k < 2:
        nodes.append(helper.make_node("Softplus", [out], [f"act_{k}"], name=f"Softplus_{k}"))
        prev = f"act_{k}"
flax_model("blog_mlp_flax_matmul", nodes, inits, "in_0", "out_0", 1, 1, producer="jax2onnx-style")
save_expected("blog_mlp_flax_matmul", blog_numpy, grid)

# --------------------------------------------------------------------------- blog linear regression, one Gemm 1 -> 1
torch.manual_seed(1)
linreg = torch.nn.Linear(1, 1)
train(linreg, blog_x, blog_y, mse, 800, lr=0.05)
export_torch(linreg, "linreg_pytorch", torch.from_numpy(grid[:3]), 17)
save_expected("linreg_pytorch", linreg, grid)
beta = linreg.weight.detach().numpy().T.copy()
alpha = linreg.bias.detach().numpy().copy()

flax_model("linreg_flax_gemm", [helper.make_node("Gemm", ["x", "params/Dense_0/kernel", "params/Dense_0/bias"], ["y"],
                                                 name="Dense_0", transB=0)],
           [tensor("params/Dense_0/kernel", beta), tensor("params/Dense_0/bias", alpha)], "x", "y", 1, 1)
save_expected("linreg_flax_gemm", lambda x: x @ beta + alpha, grid)

flax_model("linreg_flax_matmul", [helper.make_node("MatMul", ["in_0", "const_0"], ["mm"], name="MatMul_0"),
                                  helper.make_node("Add", ["const_1", "mm"], ["out_0"], name="Add_0")],
           [tensor("const_0", beta), tensor("const_1", alpha)], "in_0", "out_0", 1, 1, producer="jax2onnx-style")
save_expected("linreg_flax_matmul", lambda x: x @ beta + alpha, grid)

# --------------------------------------------------------------------------- classifiers
rng = np.random.default_rng(2)


class Classifier(torch.nn.Module):
    def __init__(self, n_in, n_hidden, n_out, activation, softmax=False):
        super().__init__()
        self.hidden = torch.nn.Linear(n_in, n_hidden)
        self.activation = activation
        self.out = torch.nn.Linear(n_hidden, n_out)
        self.softmax = softmax

    def forward(self, x):
        z = self.out(self.activation(self.hidden(x)))
        return torch.softmax(z, dim=1) if self.softmax else z


# Binary: two features, target 1 inside a noisy circle; the network ends in one logit.
xb = rng.normal(size=(100, 2)).astype(np.float32)
yb = ((xb ** 2).sum(axis=1) + 0.3 * rng.normal(size=100) < 1.4).astype(np.float32)
write_table("binary_data.csv", ["x1", "x2", "y"], np.column_stack([xb, yb]))
torch.manual_seed(3)
binary = Classifier(2, 8, 1, torch.nn.Tanh())
train(binary, xb, yb[:, None], torch.nn.BCEWithLogitsLoss(), 600)
export_torch(binary, "binary_logit_pytorch", torch.from_numpy(xb[:3]), 17, output_name="logit")
save_expected("binary_logit_pytorch", binary, xb[:20])

# Three classes in four features: Gaussian blobs; logits, and the same weights ending in Softmax.
centres = np.array([[2, 0, 0, 1], [-1, 2, 0, -1], [-1, -2, 1, 0]], dtype=np.float32)
ym = np.repeat(np.arange(3), 30)
xm = (centres[ym] + rng.normal(size=(90, 4))).astype(np.float32)
write_table("multiclass_data.csv", ["x1", "x2", "x3", "x4", "y"], np.column_stack([xm, ym]))
torch.manual_seed(4)
multi = Classifier(4, 16, 3, torch.nn.ReLU())
train(multi, xm, torch.from_numpy(ym).long().numpy(), lambda z, t: torch.nn.functional.cross_entropy(z, t.long()), 500)
export_torch(multi, "multiclass_logits_pytorch", torch.from_numpy(xm[:3]), 17, output_name="logits")
save_expected("multiclass_logits_pytorch", multi, xm[::6])
multi_softmax = Classifier(4, 16, 3, torch.nn.ReLU(), softmax=True)
multi_softmax.load_state_dict(multi.state_dict())
export_torch(multi_softmax, "multiclass_softmax_pytorch", torch.from_numpy(xm[:3]), 17, output_name="probs")
save_expected("multiclass_softmax_pytorch", multi_softmax, xm[::6])

# --------------------------------------------------------------------------- 8 -> 16 -> 1 regressions
xr = rng.normal(size=(100, 8)).astype(np.float32)
wr = rng.normal(size=8).astype(np.float32)
yr = (np.tanh(xr @ wr / 3) + 0.1 * xr[:, 0] ** 2 + 0.1 * rng.normal(size=100)).astype(np.float32)
write_table("regression8_data.csv", [f"x{i + 1}" for i in range(8)] + ["y"], np.column_stack([xr, yr]))
for name, activation, seed in (("regression8_tanh_pytorch", torch.nn.Tanh(), 5),
                               ("regression8_relu_pytorch", torch.nn.ReLU(), 6)):
    torch.manual_seed(seed)
    net = Classifier(8, 16, 1, activation)
    train(net, xr, yr[:, None], mse, 600)
    export_torch(net, name, torch.from_numpy(xr[:3]), 13)
    save_expected(name, net, xr[:20])

# --------------------------------------------------------------------------- weights in an external data file
torch.manual_seed(7)
ext = torch.nn.Sequential(torch.nn.Linear(1, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
export_torch(ext, "external_data_pytorch", torch.from_numpy(grid[:3]), 17)
model = onnx.load(path("external_data_pytorch.onnx"))
if os.path.exists(path("external_data_pytorch.weights")):
    os.remove(path("external_data_pytorch.weights"))
onnx.save_model(model, path("external_data_pytorch.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                location="external_data_pytorch.weights", size_threshold=0)
onnx.checker.check_model(path("external_data_pytorch.onnx"))
save_expected("external_data_pytorch", ext, grid)

# --------------------------------------------------------------------------- float16 weights, cast up to float32
rng16 = np.random.default_rng(8)
w1 = rng16.normal(size=(5, 1)).astype(np.float16)
b1 = (0.1 * rng16.normal(size=5)).astype(np.float16)
w2 = rng16.normal(size=(1, 5)).astype(np.float16)
b2 = (0.1 * rng16.normal(size=1)).astype(np.float16)
nodes = [helper.make_node("Cast", [n], [n + "_f32"], name=f"cast_{n.replace('.', '_')}", to=TensorProto.FLOAT)
         for n in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")]
nodes += [helper.make_node("Gemm", ["x", "fc1.weight_f32", "fc1.bias_f32"], ["h"], name="fc1", transB=1),
          helper.make_node("Tanh", ["h"], ["a"], name="tanh"),
          helper.make_node("Gemm", ["a", "fc2.weight_f32", "fc2.bias_f32"], ["y"], name="fc2", transB=1)]
graph = helper.make_graph(nodes, "float16_weights", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])],
                          [tensor("fc1.weight", w1, np.float16), tensor("fc1.bias", b1, np.float16),
                           tensor("fc2.weight", w2, np.float16), tensor("fc2.bias", b2, np.float16)])
model = helper.make_model(graph, producer_name="bnn-onnx-fixtures", opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, path("float16_weights.onnx"))
f32 = [a.astype(np.float32) for a in (w1, b1, w2, b2)]
save_expected("float16_weights", lambda x: np.tanh(x @ f32[0].T + f32[1]) @ f32[2].T + f32[3], grid)

print("fixtures written to", HERE)

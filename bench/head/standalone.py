#!/usr/bin/python3
"""The sampled heads of two frozen-backbone fixtures as standalone models, for bench/head/run.sh.

    /usr/bin/python3 bench/head/standalone.py OUT_DIR

For `digits_cnn_op13` (head fc1 → Tanh → fc2 after the convolutions) and `diabetes_resnorm_op17` (head.0 → Tanh →
head.2 after the residual LayerNorm block), writes into OUT_DIR:
- `<name>_head.onnx`: the head cut from the model file by onnx.utils.extract_model (input: the feature tensor);
- `<name>_features_train.csv`: the backbone's features of the training rows (computed by PyTorch from the weights
  stored in the model file, float32), header f0..f{k-1} and the target column.
"""
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import onnx.utils
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "models", "head")
out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def weights(name):
    model = onnx.load(os.path.join(MODELS, name + ".onnx"))
    return {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in model.graph.initializer}


def table(name):
    data = np.loadtxt(os.path.join(MODELS, name), delimiter=",", skiprows=1, dtype=np.float64)
    return torch.from_numpy(data[:, :-1].astype(np.float32)), data[:, -1]


def write(name, features, target, label):
    with open(os.path.join(out, name), "w") as f:
        f.write(",".join(["f%d" % i for i in range(features.shape[1])] + [label]) + "\n")
        for row, y in zip(features.numpy().astype(np.float64), target):
            f.write(",".join("%.9g" % v for v in row) + "," + ("%.17g" % y) + "\n")


def cut(name, feature):
    onnx.utils.extract_model(os.path.join(MODELS, name + ".onnx"), os.path.join(out, name + "_head.onnx"), [feature], ["y"])


with torch.no_grad():
    w = weights("digits_cnn_op13")
    x, y = table("digits_train.csv")
    h = torch.max_pool2d(torch.relu(torch.conv2d(x.reshape(-1, 1, 8, 8), w["conv1.weight"], w["conv1.bias"], padding=1)), 2)
    h = torch.max_pool2d(torch.relu(torch.conv2d(h, w["conv2.weight"], w["conv2.bias"], padding=1)), 2)
    write("digits_cnn_op13_features_train.csv", torch.flatten(h, 1), y, "label")
    cut("digits_cnn_op13", "/Flatten_output_0")

    w = weights("diabetes_resnorm_op17")
    x, y = table("diabetes_train.csv")
    h = torch.nn.functional.linear(x, w["embed.weight"], w["embed.bias"])
    h = h + torch.relu(torch.nn.functional.linear(h, w["block.weight"], w["block.bias"]))
    h = torch.nn.functional.layer_norm(h, (16,), w["norm.weight"], w["norm.bias"])
    write("diabetes_resnorm_op17_features_train.csv", h, y, "y")
    cut("diabetes_resnorm_op17", "/norm/LayerNormalization_output_0")

#!/usr/bin/python3
"""Builds the frozen-backbone fixtures in models/head/: networks whose trained backbone ONNX Runtime evaluates once and
whose last layers are sampled (`bnn sample --freeze`).

Run from anywhere with Debian's python3-torch (1.13), python3-onnx (1.12), python3-numpy and python3-sklearn:

    /usr/bin/python3 models/make_head_fixtures.py

- `digits_train.csv`, `digits_test.csv`: sklearn's 8×8 digits (pixel / 16), header `p0..p63,label`; a seeded
  shuffle, the first 400 rows for training, the next 300 held out.
- `digits_cnn_op13`: input `x [batch,1,8,8]`; `conv1` Conv(1→4, 3×3, pad 1) → ReLU → MaxPool(2) → `conv2` Conv(4→8,
  3×3, pad 1) → ReLU → MaxPool(2) → Flatten (32) → `fc1` Linear(32, 8) → Tanh → `fc2` Linear(8, 10), logits.
- `digits_transformer_op14`: input `x [batch,8,8]`, the image's rows as 8 tokens of 8 values; `embed` Linear(8, 16)
  plus a learned `position [8,16]` → one `nn.TransformerEncoderLayer` (`encoder`, d_model 16, 2 heads, feed-forward
  32, ReLU, no dropout, batch first) → mean over tokens → `head.0` Linear(16, 8) → Tanh → `head.2` Linear(8, 10).
- `diabetes_train.csv`, `diabetes_test.csv`: sklearn's diabetes table, features and target standardised, header
  `age,…,s6,y`; 300 training rows, 142 held out.
- `diabetes_resnorm_op17`: input `x [batch,10]`; `embed` Linear(10, 16) → h + ReLU(`block` Linear(16, 16)(h)) →
  `norm` LayerNorm(16) → `head.0` Linear(16, 8) → Tanh → `head.2` Linear(8, 1).

Each is trained briefly with Adam on its training rows only. Expected outputs (`.input.csv`, `.output.csv`) are the
PyTorch module's on the first 8 held-out rows. Everything is seeded, so a rerun reproduces the same files.
"""
import numpy as np
import onnx
import torch
from sklearn.datasets import load_diabetes, load_digits

from fixture_io import export_with, path, save_expected, train, write_rows

torch.set_num_threads(1)

# The files go to models/head/: their backbones hold ops no sampling backend runs, so the checks that import every
# models/*.onnx as a whole leave them out.
HEAD = "head/"


def write_table(name, header, x, y, fmt):
    with open(path(name), "w") as f:
        f.write(",".join(header) + "\n")
        for row, label in zip(x, y):
            f.write(",".join(fmt % v for v in row) + "," + (fmt % label) + "\n")


def save_expected_images(name, module, inputs):
    """NAME.input.csv holds each input flattened to one row (row-major, as `bnn predict` reads it)."""
    x = np.asarray(inputs, dtype=np.float32)
    with torch.no_grad():
        y = module(torch.from_numpy(x)).numpy()
    write_rows(name + ".input.csv", x.reshape(len(x), -1))
    write_rows(name + ".output.csv", y)


# ---------------------------------------------------------------- digits

digits = load_digits()
order = np.random.default_rng(19).permutation(len(digits.target))
pixels = (digits.data[order] / 16.0).astype(np.float32)
labels = digits.target[order].astype(np.int64)
x_train, y_train = pixels[:400], labels[:400]
x_test, y_test = pixels[400:700], labels[400:700]
header = ["p%d" % i for i in range(64)] + ["label"]
write_table(HEAD + "digits_train.csv", header, x_train, y_train, "%.17g")
write_table(HEAD + "digits_test.csv", header, x_test, y_test, "%.17g")


class DigitsCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.fc1 = torch.nn.Linear(32, 8)
        self.fc2 = torch.nn.Linear(8, 10)

    def forward(self, x):
        h = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = torch.max_pool2d(torch.relu(self.conv2(h)), 2)
        return self.fc2(torch.tanh(self.fc1(torch.flatten(h, 1))))


class DigitsTransformer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(8, 16)
        self.position = torch.nn.Parameter(0.1 * torch.randn(8, 16))
        # A callable activation keeps PyTorch 1.13 off its fused inference path, which the exporter cannot write.
        self.encoder = torch.nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0,
                                                        activation=lambda h: torch.relu(h), batch_first=True)
        self.head = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 10))

    def forward(self, x):
        h = self.encoder(self.embed(x) + self.position)
        return self.head(h.mean(dim=1))


torch.manual_seed(19)
cnn = DigitsCnn()
images = x_train.reshape(-1, 1, 8, 8)
train(cnn, images, y_train, torch.nn.CrossEntropyLoss(), 300, lr=0.02)
export_with(cnn, HEAD + "digits_cnn_op13", torch.from_numpy(images[:3]), 13, "Conv")
save_expected_images(HEAD + "digits_cnn_op13", cnn, x_test[:8].reshape(-1, 1, 8, 8))

torch.manual_seed(20)
transformer = DigitsTransformer()
rows = x_train.reshape(-1, 8, 8)
train(transformer, rows, y_train, torch.nn.CrossEntropyLoss(), 300, lr=0.01)
export_with(transformer, HEAD + "digits_transformer_op14", torch.from_numpy(rows[:3]), 14, "Softmax")
save_expected_images(HEAD + "digits_transformer_op14", transformer, x_test[:8].reshape(-1, 8, 8))

# ---------------------------------------------------------------- diabetes


class ResNormRegressor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(10, 16)
        self.block = torch.nn.Linear(16, 16)
        self.norm = torch.nn.LayerNorm(16)
        self.head = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def forward(self, x):
        h = self.embed(x)
        h = self.norm(h + torch.relu(self.block(h)))
        return self.head(h)


diabetes = load_diabetes()
order = np.random.default_rng(23).permutation(len(diabetes.target))
features = diabetes.data[order]
target = diabetes.target[order]
features = (features - features[:300].mean(0)) / features[:300].std(0)
target = (target - target[:300].mean()) / target[:300].std()
features, target = features.astype(np.float32), target.astype(np.float32)
header = list(diabetes.feature_names) + ["y"]
write_table(HEAD + "diabetes_train.csv", header, features[:300], target[:300], "%.9g")
write_table(HEAD + "diabetes_test.csv", header, features[300:], target[300:], "%.9g")

torch.manual_seed(23)
regressor = ResNormRegressor()
train(regressor, features[:300], target[:300, None], torch.nn.MSELoss(), 60, lr=0.01)
export_with(regressor, HEAD + "diabetes_resnorm_op17", torch.from_numpy(features[:3]), 17, "LayerNormalization")
save_expected(HEAD + "diabetes_resnorm_op17", regressor, features[300:308])

for name in ["digits_cnn_op13", "digits_transformer_op14", "diabetes_resnorm_op17"]:
    model = onnx.load(path(HEAD + name + ".onnx"))
    print(name, sorted({n.op_type for n in model.graph.node}), [t.name for t in model.graph.initializer])
with torch.no_grad():
    accuracy = lambda m, x: float((m(torch.from_numpy(x)).argmax(1).numpy() == y_test).mean())
    print("test accuracy: cnn %.3f, transformer %.3f" % (accuracy(cnn, x_test.reshape(-1, 1, 8, 8)),
                                                         accuracy(transformer, x_test.reshape(-1, 8, 8))))
    rmse = float(((regressor(torch.from_numpy(features[300:]))[:, 0] - torch.from_numpy(target[300:])) ** 2).mean().sqrt())
    print("diabetes test RMSE (standardised): %.3f" % rmse)

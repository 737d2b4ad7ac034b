"""Train, prune to 1/2 kernel sparsity and quantize a small CNN on scikit-learn's digits.

Reproduces ``models/data/digits_cnn.npz`` (the int8 network the accelerator runs, plus the
int8 test set) and ``reports/digits_cnn.json`` (accuracies and per-layer activation
density). Needs ``pip install torch==2.13.0 scikit-learn`` (not part of the test set-up):

    .venv/bin/python scripts/train_digits_cnn.py

The int8 accuracy is measured with the project's golden model (sense_models.network), so
it is what the hardware computes, bit for bit.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from sense_models.network import QuantLayer, channel_density, forward, save_network
from sense_models.network import accuracy as network_accuracy
from sense_models.sparsity import check_half_sparse, prune

REPO = Path(__file__).resolve().parent.parent
GROUP = 4
SEED = 2026


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv2d(1, 16, 3, padding=1),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.Conv2d(32, 32, 3, stride=2, padding=1),
        ])
        self.fc = nn.Conv2d(32, 10, 2)  # 2x2 maps: the classifier as a convolution

    def forward(self, x, keep=False):
        acts = []
        for conv in self.convs:
            acts.append(x)
            x = torch.relu(conv(x))
        acts.append(x)
        out = self.fc(x).flatten(1)
        return (out, acts) if keep else out

    def layers(self):
        return list(self.convs) + [self.fc]


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train(model, x, y, epochs, masks=None):
    torch.manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            batch = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
            if masks is not None:
                with torch.no_grad():
                    for layer, mask in zip(model.layers(), masks):
                        layer.weight.mul_(mask)


def half_sparsity_masks(model):
    """1/2 sparsity in groups of G along each kernel's reduction order (c, r, s)."""
    masks = []
    for layer in model.layers():
        w = layer.weight.detach().numpy()
        k = w.shape[0]
        matrix = (w.reshape(k, -1).T * 1e6).round().astype(np.int64)  # (T, K), magnitudes
        kept = prune(matrix, GROUP) != 0
        masks.append(torch.tensor(kept.T.reshape(w.shape), dtype=torch.float32))
    return masks


def quantize(model, x_calib):
    """Power-of-two int8 quantization: the output stage only shifts."""
    with torch.no_grad():
        _, acts = model(x_calib, keep=True)
    in_scale = 1.0 / 127  # inputs are 0..1 mapped to 0..127
    layers = []
    for n, layer in enumerate(model.layers()):
        w = layer.weight.detach().numpy()
        w_exp = math.ceil(math.log2(np.abs(w).max() / 127))
        w_scale = 2.0 ** w_exp
        wq = np.clip(np.round(w / w_scale), -128, 127).astype(np.int64)
        acc_scale = in_scale * w_scale
        bias = np.round(layer.bias.detach().numpy() / acc_scale).astype(np.int64)
        last = n == len(model.layers()) - 1
        if last:
            layers.append(QuantLayer(f"layer{n}", wq, bias, 0, layer.stride[0],
                                     layer.padding[0], relu=False))
            break
        out_max = float(acts[n + 1].max())  # ReLU output range on the calibration set
        shift = max(0, math.ceil(math.log2(out_max / 127 / acc_scale)))
        layers.append(QuantLayer(f"layer{n}", wq, bias, shift, layer.stride[0],
                                 layer.padding[0]))
        in_scale = acc_scale * 2.0 ** shift
    return layers


def int8_images(x):
    return np.clip(np.round(x.numpy() * 127), 0, 127).astype(np.int64)


def main():
    digits = load_digits()
    x = digits.images.astype(np.float32) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=SEED, stratify=digits.target)
    xt = torch.tensor(x_train)[:, None]
    xv = torch.tensor(x_test)[:, None]
    yt = torch.tensor(y_train)
    yv = torch.tensor(y_test)

    torch.manual_seed(SEED)
    model = DigitsCNN()
    train(model, xt, yt, epochs=40)
    dense_acc = accuracy(model, xv, yv)
    masks = half_sparsity_masks(model)
    with torch.no_grad():
        for layer, mask in zip(model.layers(), masks):
            layer.weight.mul_(mask)
    pruned_before_ft = accuracy(model, xv, yv)
    train(model, xt, yt, epochs=20, masks=masks)
    pruned_acc = accuracy(model, xv, yv)

    layers = quantize(model, xt)
    for layer in layers:
        check_half_sparse(layer.matrix, GROUP)
    images = int8_images(xv)
    int8_acc = network_accuracy(layers, images, y_test)

    train_images = int8_images(xt)
    densities = []
    for n in range(len(layers)):
        maps = [forward(layers, image, keep=True)[1][n] for image in train_images[:300]]
        density = channel_density(maps)
        densities.append({"layer": layers[n].name, "channels": int(len(density)),
                          "mean_density": float(density.mean()),
                          "min_density": float(density.min()),
                          "max_density": float(density.max()),
                          "dead_channels": int((density == 0).sum()),
                          "per_channel": [round(float(d), 4) for d in density]})

    out = REPO / "models" / "data" / "digits_cnn.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_network(out, layers, images=images.astype(np.int8), labels=y_test.astype(np.int64))
    report = {"dataset": "scikit-learn digits (8x8), 80/20 stratified split, seed 2026",
              "group": GROUP, "accuracy": {"dense_float": dense_acc,
                                           "pruned_float_before_finetune": pruned_before_ft,
                                           "pruned_float": pruned_acc, "int8": int8_acc},
              "layers": [{"name": l.name, "weights": list(l.weights.shape), "shift": l.shift,
                          "stride": l.stride, "padding": l.padding} for l in layers],
              "activation_density": densities,
              "command": "python scripts/train_digits_cnn.py"}
    (REPO / "reports" / "digits_cnn.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["accuracy"], indent=1))
    for d in densities:
        print(f"{d['layer']}: input density mean {d['mean_density']:.2f}, "
              f"min {d['min_density']:.2f}, max {d['max_density']:.2f}, "
              f"dead {d['dead_channels']}/{d['channels']}")


if __name__ == "__main__":
    main()

"""An int8 CNN as the accelerator runs it: conv layers lowered to ``X @ W`` plus the output stage.

The network is a list of :class:`QuantLayer`; :func:`forward` runs it with the golden
integer arithmetic (:func:`sense_models.golden.conv2d` and
:func:`sense_models.quant.requantize`), bit for bit what the hardware computes.
A fully connected layer is a convolution whose kernel covers the whole input.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .golden import conv2d
from .intmath import wrap
from .quant import requantize

__all__ = ["QuantLayer", "forward", "accuracy", "load_network", "save_network",
           "channel_density", "DIGITS_CNN"]

#: The trained 1/2-sparse int8 digits CNN and its test set (docs/network.md).
DIGITS_CNN = Path(__file__).resolve().parent / "data" / "digits_cnn.npz"


@dataclasses.dataclass(frozen=True)
class QuantLayer:
    """One int8 layer: ``weights (K, C, kh, kw)`` int8, ``bias (K,)`` int32, output shift."""
    name: str
    weights: np.ndarray
    bias: np.ndarray
    shift: int
    stride: int = 1
    padding: int = 0
    relu: bool = True

    @property
    def matrix(self):
        """``W`` (T, K) as the array sees it: ``t = (c * kh + r) * kw + s``."""
        return self.weights.reshape(self.weights.shape[0], -1).T


def forward(layers, image, *, keep=False):
    """Run ``image`` (C, H, W int8) through ``layers``; the last layer's outputs are the logits.

    With ``keep=True`` returns ``(logits, inputs)`` where ``inputs[i]`` is layer ``i``'s
    input feature map (for activation statistics).
    """
    x = np.asarray(image, dtype=np.int64)
    inputs = []
    for n, layer in enumerate(layers):
        inputs.append(x)
        acc = conv2d(x, layer.weights, stride=layer.stride, padding=layer.padding)
        if n == len(layers) - 1:  # the classifier: logits are the raw (biased) sums
            x = wrap(acc.reshape(acc.shape[0], -1)[:, 0] + layer.bias, 32)
            break
        x = requantize(np.moveaxis(acc, 0, -1), layer.bias, layer.shift,
                       relu=layer.relu).transpose(2, 0, 1)
    return (x, inputs) if keep else x


def accuracy(layers, images, labels):
    """Fraction of ``images`` whose largest logit is their label."""
    predictions = [int(np.argmax(forward(layers, image))) for image in images]
    return float(np.mean(np.array(predictions) == np.asarray(labels)))


def channel_density(feature_maps):
    """Fraction of non-zero values per channel over a batch of ``(C, H, W)`` maps."""
    stacked = np.stack([np.asarray(f) for f in feature_maps])  # (N, C, H, W)
    return (stacked != 0).mean(axis=(0, 2, 3))


def save_network(path, layers, **extra):
    arrays = {}
    for n, layer in enumerate(layers):
        arrays[f"l{n}_weights"] = layer.weights.astype(np.int8)
        arrays[f"l{n}_bias"] = layer.bias.astype(np.int32)
        arrays[f"l{n}_meta"] = np.array([layer.shift, layer.stride, layer.padding,
                                         int(layer.relu)], dtype=np.int64)
    names = np.array([layer.name for layer in layers])
    np.savez_compressed(path, names=names, **arrays, **{f"x_{k}": v for k, v in extra.items()})


def load_network(path):
    """``(layers, extra arrays)`` from :func:`save_network`'s file."""
    data = np.load(Path(path))
    layers = []
    for n, name in enumerate(data["names"]):
        shift, stride, padding, relu = (int(v) for v in data[f"l{n}_meta"])
        layers.append(QuantLayer(str(name), data[f"l{n}_weights"].astype(np.int64),
                                 data[f"l{n}_bias"].astype(np.int64), shift, stride, padding,
                                 bool(relu)))
    return layers, {k[2:]: data[k] for k in data.files if k.startswith("x_")}

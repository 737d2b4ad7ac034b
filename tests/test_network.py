"""The trained int8 digits CNN (models/data/digits_cnn.npz) and the output stage."""

import json

import numpy as np
import pytest

from amaranth_tb import run_core
from sense_models.config import ArrayConfig
from sense_models.golden import im2col
from sense_models.network import accuracy as network_accuracy
from sense_models.network import DIGITS_CNN, channel_density, forward, load_network
from sense_models.quant import requantize
from sense_models.sparsity import check_half_sparse
from sense_models.tiling import results_to_matrix, schedule_layer
from sense_verif.runner import REPO

NETWORK = DIGITS_CNN
REPORT = json.loads((REPO / "reports" / "digits_cnn.json").read_text())


def test_requantize_rounds_saturates_and_wraps():
    acc = np.array([[5, 6, -7, 1000, 2**31 - 1]])
    assert requantize(acc, [0, 0, 0, 0, 1], 2).tolist() == [[1, 2, 0, 127, 0]]
    assert requantize(acc, [0] * 5, 1, relu=False).tolist() == [[3, 3, -3, 127, 127]]
    with pytest.raises(ValueError, match="shift must be a non-negative integer, not -1"):
        requantize(acc, [0] * 5, -1)


def test_every_layer_keeps_half_of_every_group():
    layers, _ = load_network(NETWORK)
    for layer in layers:
        check_half_sparse(layer.matrix, REPORT["group"])
        t, k = layer.matrix.shape
        assert np.count_nonzero(layer.matrix) <= (-(-t // 4) * 2) * k


def test_int8_accuracy_is_the_recorded_one():
    layers, extra = load_network(NETWORK)
    accuracy = network_accuracy(layers, extra["images"], extra["labels"])
    assert accuracy == pytest.approx(REPORT["accuracy"]["int8"], abs=1e-12)
    assert accuracy > 0.95


def test_activation_statistics_show_dead_channels():
    layers, extra = load_network(NETWORK)
    maps = [forward(layers, image, keep=True)[1][2] for image in extra["images"][:50]]
    density = channel_density(maps)
    assert density.shape == (32,) and np.any(density == 0) and np.any(density > 0.5)


def test_a_network_layer_through_the_core_is_bit_exact():
    """Layer 1 of the network (16 -> 32 channels, 3x3, stride 2) on the Amaranth-simulated core."""
    layers, extra = load_network(NETWORK)
    _, inputs = forward(layers, extra["images"][0], keep=True)
    layer = layers[1]
    x = im2col(inputs[1], 3, stride=layer.stride, padding=layer.padding)
    config = ArrayConfig(rows=2, cols=8, group=4, acc_depth=16)
    s = schedule_layer(config, x, layer.matrix)
    fields, _, _ = run_core(config, s)
    got = results_to_matrix(s.tiling, fields["value"])
    assert np.array_equal(got, s.expected)
    # and the output stage on top gives the next layer's input
    nxt = requantize(got, layer.bias, layer.shift).T.reshape(inputs[2].shape)
    assert np.array_equal(nxt, inputs[2])


def test_rearranged_accuracy_is_the_recorded_one():
    """The bench's figure for the network re-pruned in its clustered channel order."""
    from sense_verif.bench_ifm import rearranged_accuracy
    bench = json.loads((REPO / "reports" / "bench.json").read_text())["ifm_sparsity"]
    assert rearranged_accuracy(ArrayConfig.from_dict(bench["config"])) == pytest.approx(
        bench["digits_int8_accuracy_rearranged"], abs=1e-12)

"""Channel rearrangement models: permutation checks, clustering, and what they change."""

import numpy as np
import pytest

from sense_models.golden import im2col, matmul
from sense_models.network import DIGITS_CNN, channel_density, forward, load_network
from sense_models.rearrange import (check_permutation, cluster_by_density, permute_layer,
                                    reduction_order, zero_operands, zero_vectors)
from sense_models.sparsity import prune


@pytest.mark.parametrize("table, text", [
    ([0, 1, 1], "missing [2], repeated [1]"),
    ([0, 1, 3], "missing [2], out of range [3]"),
    ([0, 1], "needs 3 entries"),
])
def test_bad_tables_are_rejected(table, text):
    with pytest.raises(ValueError) as info:
        check_permutation(np.array(table), 3)
    assert text in str(info.value)


def test_clustering_groups_similar_densities_dead_last():
    density = np.array([0.9, 0.0, 0.5, 0.91, 0.0, 0.52])
    assert cluster_by_density(density).tolist() == [3, 0, 5, 2, 1, 4]


def test_permuted_layer_gives_the_same_result():
    rng = np.random.default_rng(1)
    ifm = rng.integers(0, 50, (6, 5, 5)) * (rng.random((6, 1, 1)) < 0.6)
    weights = rng.integers(-128, 128, (4, 6, 3, 3))
    x = im2col(ifm, 3, padding=1)
    w = weights.reshape(4, -1).T
    table = rng.permutation(6)
    xp, wp = permute_layer(x, w, table, 9)
    assert np.array_equal(matmul(xp, wp), matmul(x, w))
    assert reduction_order(table, 9)[:9].tolist() == list(range(table[0] * 9, table[0] * 9 + 9))


def test_zero_counts():
    x = np.array([[0, 0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]])
    assert zero_vectors(x, 4).tolist() == [[True, False], [True, True]]
    w = prune(np.arange(1, 17).reshape(8, 2), 4)  # keeps t = 2, 3, 6, 7 of each group
    assert zero_operands(x, w, 4) == (16, 16)
    x[0, 3] = 5
    assert zero_operands(x, w, 4) == (14, 16)


def test_rearrangement_on_the_trained_network_makes_more_tiles_all_zero():
    """Layer 3 of the digits CNN (7 dead input channels): whole zero tiles appear."""
    layers, extra = load_network(DIGITS_CNN)
    maps = [forward(layers, image, keep=True)[1][3] for image in extra["images"][:100]]
    table = cluster_by_density(channel_density(maps))
    x = np.concatenate([im2col(m, 2) for m in maps])  # the classifier's lowered inputs
    tile = 32  # an 8x8 array with G=4: 8 channels of the 2x2 classifier per tile
    before = zero_vectors(x, tile).mean()
    after = zero_vectors(permute_layer(x, layers[3].matrix, table, 4)[0], tile).mean()
    assert after > before


def test_zero_operands_when_the_last_groups_select_early_elements():
    x = np.arange(1, 9)[None, :] * np.array([[1], [0]])  # pixel 1 all zero
    w = np.zeros((8, 3), dtype=np.int64)
    w[[0, 1, 4, 5]] = 1  # every group keeps its first two elements
    assert zero_operands(x, w, 4) == (12, 24)

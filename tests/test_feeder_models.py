"""The feeder's host side: table planning, the packer, bad input, the golden issue model."""

import numpy as np
import pytest

from sense_models.config import ArrayConfig
from sense_models.cycle_model import feeder_cycles
from sense_models.feeder import pack_for_feeder, plan_feeder, schedule_feeder
from sense_models.tiling import issue_plan
from sense_models.golden import matmul
from sense_models.rearrange import reduction_order, zero_operands, zero_vectors
from sense_models.sparsity import check_half_sparse, prune
from sense_models.workloads import FEEDER_CASES, feeder_layer

CONFIG = ArrayConfig(rows=4, cols=4, group=4, acc_depth=16, feeder=True, feeder_tiles=8)


def _wanted_tiles(channels, kernel_area, reduction, tr):
    order = reduction_order(channels, kernel_area)
    order = np.concatenate([order, np.arange(reduction, -(-reduction // tr) * tr)])
    return [set(order[i:i + tr].tolist()) for i in range(0, len(order), tr)]


@pytest.mark.parametrize("seed", range(12))
def test_plan_puts_each_element_in_the_tile_its_channel_order_gives(seed):
    rng = np.random.default_rng(seed)
    kernel_area = int(rng.choice([1, 3, 9]))
    channels = int(rng.integers(2, CONFIG.feeder_tiles * CONFIG.tile_reduction // kernel_area))
    table = rng.permutation(channels)
    plan = plan_feeder(CONFIG, table, kernel_area, channels * kernel_area)
    tr = CONFIG.tile_reduction
    assert sorted(plan.order.tolist()) == list(range(len(plan.order)))
    got = [set(plan.order[i:i + tr].tolist()) for i in range(0, len(plan.order), tr)]
    assert got == _wanted_tiles(table, kernel_area, channels * kernel_area, tr)
    # The table the host loads realises exactly that order, one element per lane per beat.
    for t in range(plan.reduction_tiles):
        assert sorted(plan.lanes[t].tolist()) == list(range(tr))
        for lane in range(tr):
            assert plan.order[plan.tiles[t, lane] * tr + lane] == t * tr + plan.lanes[t, lane]


def test_a_permutation_within_lanes_keeps_its_order():
    plan = plan_feeder(CONFIG, np.arange(5), 16, 80)
    assert np.array_equal(plan.order, np.arange(80))
    assert np.array_equal(plan.tiles, np.repeat(np.arange(5)[:, None], 16, axis=1))


@pytest.mark.parametrize("table, message", [
    ([0, 1, 1, 3], r"missing \[2\], repeated \[1\]"),
    ([0, 1, 2, 4], r"missing \[3\], out of range \[4\]"),
    ([0, 1, 2], "needs 4 entries"),
    ([0.0, 1.0, 2.0, 3.0], "holds integers"),
])
def test_a_table_that_is_not_a_permutation_is_rejected(table, message):
    with pytest.raises(ValueError, match=message):
        plan_feeder(CONFIG, np.array(table), 9, 36)


def test_layers_the_feeder_cannot_hold_are_rejected():
    tr = CONFIG.tile_reduction
    with pytest.raises(ValueError, match="holds 8"):
        plan_feeder(CONFIG, np.arange(9 * tr), 1, 9 * tr)
    with pytest.raises(ValueError, match="whole number of channels"):
        plan_feeder(CONFIG, np.arange(4), 9, 35)
    with pytest.raises(ValueError, match="no IFM feeder"):
        plan_feeder(ArrayConfig(), np.arange(4), 1, 4)


def test_weights_packed_for_another_permutation_are_rejected():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (3, 36))
    w = rng.integers(-5, 5, (36, 4))
    packed = pack_for_feeder(CONFIG, w, plan_feeder(CONFIG, [0, 1, 2, 3], 9, 36))
    with pytest.raises(ValueError, match=r"packed for channel order \[0, 1, 2, 3\].*"
                                         r"table to load is for \[3, 2, 1, 0\]"):
        schedule_feeder(CONFIG, x, packed, plan_feeder(CONFIG, [3, 2, 1, 0], 9, 36))
    with pytest.raises(TypeError, match="pack_for_feeder"):
        schedule_feeder(CONFIG, x, w, plan_feeder(CONFIG, [3, 2, 1, 0], 9, 36))


def test_operands_that_do_not_fit_and_foreign_plans_are_rejected():
    rng = np.random.default_rng(4)
    plan = plan_feeder(CONFIG, [1, 0, 2, 3], 9, 36)
    packed = pack_for_feeder(CONFIG, rng.integers(-5, 5, (36, 4)), plan)
    with pytest.raises(TypeError, match="X must hold integers"):
        schedule_feeder(CONFIG, rng.integers(0, 5, (3, 36)) + 0.7, packed, plan)
    with pytest.raises(ValueError, match="does not fit signed 8 bits"):
        schedule_feeder(CONFIG, np.full((3, 36), 300), packed, plan)
    dense = ArrayConfig(rows=4, cols=4, group=4, sparse=False, acc_depth=16, feeder=True)
    dense_plan = plan_feeder(dense, [1, 0, 2, 3], 9, 36)
    with pytest.raises(TypeError, match="W must hold integers"):
        pack_for_feeder(dense, rng.random((36, 4)), dense_plan)
    with pytest.raises(ValueError, match="plan it for this configuration"):
        pack_for_feeder(CONFIG, rng.integers(-5, 5, (36, 4)), dense_plan)  # tiles of 8, not 16
    small = ArrayConfig(rows=4, cols=4, group=4, acc_depth=16, feeder=True, feeder_tiles=2)
    with pytest.raises(ValueError, match="up to 2 tiles of 16"):
        schedule_feeder(small, rng.integers(0, 5, (3, 36)), packed, plan)  # 3 tiles


def test_the_packer_prunes_in_the_rearranged_order():
    rng = np.random.default_rng(1)
    w = prune(rng.integers(-100, 100, (64, 6)), CONFIG.group)  # 1/2 sparse in the original order
    plan = plan_feeder(CONFIG, rng.permutation(64), 1, 64)
    with pytest.raises(ValueError, match="non-zero weights"):
        pack_for_feeder(CONFIG, w, plan, prune_weights=False)
    packed = pack_for_feeder(CONFIG, w, plan)
    check_half_sparse(packed.matrix, CONFIG.group)
    assert np.array_equal(packed.matrix, prune(w[plan.order], CONFIG.group))


def test_rearranging_both_operands_keeps_the_product():
    config = ArrayConfig(rows=4, cols=4, group=4, sparse=False, acc_depth=16, feeder=True,
                         feeder_tiles=8)  # dense: nothing is pruned
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (9, 45))
    w = rng.integers(-128, 128, (45, 5))
    plan = plan_feeder(config, rng.permutation(5), 9, 45)
    s = schedule_feeder(config, x, pack_for_feeder(config, w, plan), plan)
    assert np.array_equal(s.expected, matmul(x, w, acc_width=config.acc_width))


def test_issue_plan():
    nonzero = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0], [1, 1, 1]], dtype=bool)
    pixels, first, last = issue_plan(nonzero, 0, False)
    assert pixels.tolist() == [0, 3] and first.tolist() == [True, True] \
        and last.tolist() == [False, False]
    pixels, first, last = issue_plan(nonzero, 1, False)
    assert pixels.tolist() == [2, 3] and first.tolist() == [True, False] \
        and last.tolist() == [True, False]
    # the final pass also finishes the all-zero pixel, once
    pixels, first, last = issue_plan(nonzero, 2, True)
    assert pixels.tolist() == [0, 1, 3] and first.tolist() == [False, True, False] \
        and last.tolist() == [True, True, True]
    # nothing to issue: pixel 0's zero vector, neither first nor last
    pixels, first, last = issue_plan(nonzero[[0, 3]] & False, 1, False)
    assert pixels.tolist() == [0] and not first[0] and not last[0]
    pixels, first, last = issue_plan(nonzero, 1, False, dense=True)
    assert pixels.tolist() == [0, 1, 2, 3] and not first.any() and not last.any()


@pytest.mark.parametrize("case", FEEDER_CASES)
def test_counters_and_cycles_are_consistent(case):
    rng = np.random.default_rng(3)
    x, w, channels, kernel_area = feeder_layer(CONFIG, rng, case)
    plan = plan_feeder(CONFIG, channels, kernel_area, x.shape[1])
    packed = pack_for_feeder(CONFIG, w, plan)
    skip = schedule_feeder(CONFIG, x, packed, plan)
    dense = schedule_feeder(CONFIG, x, packed, plan, dense=True)
    assert np.array_equal(skip.expected, dense.expected)
    tiling = skip.tiling
    passes = tiling.kernel_tiles * tiling.reduction_tiles
    assert np.array_equal(skip.stats["issued"] + skip.stats["skipped"],
                          np.repeat(skip.groups, passes))
    assert not dense.stats["skipped"].any()
    assert feeder_cycles(CONFIG, skip) <= feeder_cycles(CONFIG, dense)
    assert type(feeder_cycles(CONFIG, skip)) is int  # the bench writes it to JSON
    # Independently of the issue model: each pixel goes out once per non-zero rearranged
    # tile (once if it has none), per kernel tile; a pass with nothing sends one placeholder.
    xr = np.pad(x, ((0, 0), (0, len(plan.order) - x.shape[1])))[:, plan.order]
    nonzero = ~zero_vectors(xr, CONFIG.tile_reduction)
    real = np.maximum(nonzero.sum(axis=1), 1).sum() * tiling.kernel_tiles
    placeholders = np.count_nonzero(skip.stats["issued"] == 1) - sum(
        1 for pt in range(tiling.pixel_tiles) for kt in range(tiling.kernel_tiles)
        for rt in range(tiling.reduction_tiles)
        if (nonzero[tiling.pixel_tile(pt)][:, rt].sum()
            + (rt == tiling.reduction_tiles - 1)
            * (~nonzero[tiling.pixel_tile(pt)].any(axis=1)).sum()) == 1)
    assert skip.stats["issued"].sum() == real + placeholders
    # Skipping off, the gated multiplies are the layer's zero operands, once per kernel tile
    # (sense_models.rearrange.zero_operands, another golden function).
    w_tiles = np.pad(packed.matrix, ((0, 0), (0, -packed.matrix.shape[1] % CONFIG.cols)))
    assert dense.stats["gated"].sum() == zero_operands(xr, w_tiles, CONFIG.group)[0]
    if case == "no_zeros":
        assert not skip.stats["skipped"].any()
    if case == "single_nonzero":
        assert skip.stats["skipped"].sum() > 0

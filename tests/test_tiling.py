import numpy as np
import pytest

from sense_models.config import ArrayConfig
from sense_models.cycle_model import ideal_cycles, layer_cycles, pass_timings
from sense_models.golden import pe_sum
from sense_models.tiling import results_to_matrix, schedule_layer, tile_layer
from sense_models.workloads import SHAPE_CASES, random_layer


@pytest.mark.parametrize("config", [ArrayConfig(rows=3, cols=2, group=4, acc_depth=4),
                                    ArrayConfig(rows=2, cols=3, group=8, sparse=False,
                                                acc_depth=8)], ids=lambda c: c.name)
@pytest.mark.parametrize("case", SHAPE_CASES)
def test_schedule_replayed_tile_by_tile_gives_the_golden_result(config, case):
    """Replay the stream contents through per-PE arithmetic: the tiling loses nothing."""
    rng = np.random.default_rng(7)
    x, w = random_layer(config, rng, case)
    s = schedule_layer(config, x, w)
    acc = {}
    beats = []
    wv = s.weights["value"].reshape(-1, config.rows, config.cols, config.mults_per_pe)
    wi = s.weights["index"].reshape(wv.shape) if config.sparse else None
    start = 0
    for n, count in enumerate(s.tiling.pass_pixels):
        for b in range(start, start + count):
            psum = np.zeros(config.cols, dtype=np.int64)
            for i in range(config.rows):
                psum = pe_sum(np.broadcast_to(s.pixels["data"][b, i], (config.cols, config.row_span)),
                              psum, wv[n, i], None if wi is None else wi[n, i],
                              acc_width=config.acc_width)
            tag = s.pixels["tag"][b]
            total = psum + (0 if s.pixels["first"][b] else acc[tag])
            acc[tag] = total
            if s.pixels["last"][b]:
                beats.append(total)
        assert s.pixels["end"][start + count - 1] == 1
        start += count
    assert np.array_equal(results_to_matrix(s.tiling, np.array(beats)), s.expected)


def test_tiling_counts_ragged_edges():
    c = ArrayConfig(rows=4, cols=4, group=4, acc_depth=16)
    t = tile_layer(c, pixels=33, reduction=17, kernels=9)
    assert (t.reduction_tiles, t.kernel_tiles, t.pixel_tiles) == (2, 3, 3)
    assert t.pass_pixels == [16, 16, 16, 16, 1, 1] * 3
    with pytest.raises(ValueError, match="pixels = 0"):
        tile_layer(c, pixels=0, reduction=1, kernels=1)


def test_cycle_model_back_to_back_passes():
    c = ArrayConfig(rows=4, cols=3)
    # first tile loads in rows cycles, then passes of >= rows + cols - 1 vectors stream back to back
    t = pass_timings(c, [20, 20, 20])
    assert [p.issue_start for p in t] == [4, 24, 44]
    assert layer_cycles(c, [20, 20, 20]) == 4 + 60 + c.latency
    # short passes are limited by the weight loads and the bank drain
    t = pass_timings(c, [1, 1, 1])
    assert [p.load_start for p in t] == [0, 4, 8]
    assert [p.issue_start for p in t] == [4, 8, 12]
    assert ideal_cycles(c, 4 * 3 * 2 * 2 * 60) == 60


def test_cycle_model_rejects_empty_pass():
    with pytest.raises(ValueError, match="pass 1 issues 0 pixel vectors"):
        pass_timings(ArrayConfig(), [3, 0])

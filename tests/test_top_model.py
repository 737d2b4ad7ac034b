"""The cycle model of ``sense_top`` (its exactness against the RTL is checked by
``verif/test_top.py`` under steady traffic) and the shared pass schedule."""

import dataclasses

import numpy as np
import pytest

from sense_models.config import ArrayConfig
from sense_models.driver import CycleBackend, Driver, lower, plan_layer
from sense_models.network import QuantLayer
from sense_models.packets import PacketType
from sense_models.sparsity import prune
from sense_models.tiling import Tiling, schedule_passes
from sense_models.top_model import job_cycles, top_cycles

BASE = dict(rows=4, cols=4, group=4, acc_depth=8)
CONFIGS = [
    ArrayConfig(**BASE, bus_width=64),
    ArrayConfig(**BASE, abft="both", bus_width=128),
    ArrayConfig(**BASE, feeder=True, feeder_tiles=8, abft="both", bus_width=128),
    ArrayConfig(**BASE, feeder=True, feeder_tiles=8, bus_width=512),
]


def _layer(config, rng, *, kernels=6, channels=4, kernel=3, size=5, images=2):
    w = rng.integers(-128, 128, (kernels, channels * kernel * kernel))
    w = prune(w.T, config.group).T if config.sparse else w
    layer = QuantLayer("l", w.reshape(kernels, channels, kernel, kernel),
                       rng.integers(-100, 100, kernels), 6, stride=1, padding=1, relu=True)
    x = rng.integers(-128, 128, (images, channels, size, size))
    x[rng.random(x.shape) < 0.5] = 0
    return layer, x


def _job(config, rng, raw=False, **shape):
    layer, images = _layer(config, rng, **shape)
    x, _ = lower(layer, images)
    return plan_layer(config, layer, x, raw=raw)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_bounds(config):
    """No faster than the bus (a word per cycle) nor than the core with ideal streams."""
    rng = np.random.default_rng(3)
    for raw in (False, True):
        job = _job(config, rng, raw=raw)
        timing = top_cycles(config, job.packets,
                            issue=job.schedule.issue if config.feeder else None)
        core = CycleBackend().execute(job).core_cycles
        assert timing.words_in == sum(len(p) for p in job.packets)
        assert timing.out_beats == job.result_beats
        assert timing.cycles >= timing.words_in
        assert timing.cycles >= core
        assert timing.words_out == job.bytes_out // (config.bus_width // 8)


def test_bus_bound_streamed_layer():
    """A streamed layer whose pixel vectors take several words runs at the bus's pace: the
    input stalls only while a weight tile waits for a free bank."""
    config = ArrayConfig(**BASE, bus_width=64)
    job = _job(config, np.random.default_rng(4), kernels=4, channels=8, size=6)
    timing = top_cycles(config, job.packets)
    assert timing.cycles - timing.words_in < 0.1 * timing.cycles
    wide = dataclasses.replace(config, bus_width=512)
    wide_job = _job(wide, np.random.default_rng(4), kernels=4, channels=8, size=6)
    assert job_cycles(wide_job) < timing.cycles  # fewer words per vector: faster


def test_raw_results_stall_the_core():
    """Raw results take more words than int8 ones: the sender's pace stalls the core."""
    config = ArrayConfig(**BASE, feeder=True, feeder_tiles=8, abft="both", bus_width=64)
    rng = np.random.default_rng(5)
    int8, raw = (job_cycles(_job(config, np.random.default_rng(5), raw=r)) for r in (0, 1))
    assert raw > int8


def test_driver_reports_both_models():
    config = CONFIGS[2]
    layer, images = _layer(config, np.random.default_rng(6))
    driver = Driver(config, CycleBackend())
    driver.run_layer(layer, images)
    job, result = driver.log[-1]
    assert result.cycles == result.model_cycles == job_cycles(job)
    assert result.core_cycles < result.model_cycles


def test_a_stream_that_cannot_finish_is_reported():
    """Without pass commands the feeder never issues and the weights wait for a bank
    forever: an error, not a hang."""
    config = CONFIGS[2]
    job = _job(config, np.random.default_rng(7))
    kinds = [PacketType(int(p[0][0])) for p in job.packets]
    packets = [p for p, k in zip(job.packets, kinds) if k != PacketType.PASSES]
    with pytest.raises(RuntimeError, match="did not finish"):
        top_cycles(config, packets, issue=job.schedule.issue, limit=20_000)
    with pytest.raises(ValueError, match="issue order"):
        top_cycles(config, job.packets)


@pytest.mark.parametrize("dense", [True, False])
def test_schedule_passes_release_every_result_once(dense):
    """Both issue policies release each pixel of each kernel tile exactly once, and skipping
    issues no vector that is zero (except a placeholder or a zero pixel's final one)."""
    config = ArrayConfig(**BASE)
    rng = np.random.default_rng(8)
    tiling = Tiling(config, 19, 3 * config.tile_reduction, 6)
    nonzero = rng.random((19, 3)) < 0.4
    passes = schedule_passes(config, tiling, tiling.passes, nonzero, dense=dense)
    released = {}
    for p in passes:
        for tag in p.results:
            key = (p.kernel_tile, p.pixels.start + int(tag))
            released[key] = released.get(key, 0) + 1
        if not dense and len(p.issued) and p.first.any() | p.last.any():
            local = nonzero[p.pixels.start:p.pixels.stop]
            zero_pixel = ~local.any(axis=1)
            assert all(local[t, p.reduction_tile] or (p.final and zero_pixel[t])
                       for t in p.issued)
    assert set(released) == {(kt, px) for kt in range(2) for px in range(19)}
    assert set(released.values()) == {1}
    issued = sum(len(p.issued) for p in passes)
    assert (issued == 19 * 3 * 2) if dense else issued < 19 * 3 * 2

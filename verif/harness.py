"""Long simulations without Python on the per-cycle path: the ``sense_bench`` harness.

``hdl/sense_bench.v`` wraps the generated core with stream memories, LFSR-driven stalls and
a cycle counter. The host writes a layer's beats as ``$readmemh`` files, the simulation runs
on its own until ``done``, and the results come back in bulk. Jobs are JSON dicts::

    {"name": ..., "pixels": P, "reduction": T, "kernels": K, "seed": s,
     "relu": true, "source_stall": 0.0, "sink_stall": 0.0, "corrupt_expected": false}
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from sense_models.formats import pixel_format, result_format, weight_format
from sense_models.tiling import results_to_matrix, schedule_layer, tile_layer
from sense_models.workloads import random_activations, random_weights

__all__ = ["HARNESS", "job_layer", "harness_depths", "BenchHarness"]

HARNESS = Path(__file__).resolve().parent / "hdl" / "sense_bench.v"


def job_layer(job, config):
    """``(X, W)`` of a job: seeded activations and weights pruned to the configured group.

    The weights are pruned with the group size even for the dense baseline, so the sparse
    array and its dense baseline compute the very same layer.
    """
    rng = np.random.default_rng(job["seed"])
    x = random_activations(rng, job["pixels"], job["reduction"], relu=job.get("relu", True),
                           width=config.ifm_width)
    w = random_weights(rng, job["reduction"], job["kernels"], group=config.group,
                       width=config.weight_width)
    return x, w


def _pow2(n):
    return 1 << max(4, (max(1, n) - 1).bit_length())


def harness_depths(config, jobs):
    """Memory depths (powers of two) that hold the largest job's beats."""
    weights = pixels = results = 1
    for job in jobs:
        t = tile_layer(config, job["pixels"], job["reduction"], job["kernels"])
        weights = max(weights, len(t.passes) * config.rows)
        pixels = max(pixels, sum(t.pass_pixels))
        results = max(results, t.kernel_tiles * t.pixels)
    return {"WEIGHT_DEPTH": _pow2(weights), "PIXEL_DEPTH": _pow2(pixels),
            "RESULT_DEPTH": _pow2(results)}


def harness_parameters(config, jobs):
    return {"WEIGHT_W": weight_format(config).width, "PIXEL_W": pixel_format(config).width,
            "RESULT_W": result_format(config).width, **harness_depths(config, jobs)}


class BenchHarness:
    """cocotb driver of ``sense_bench``: load, run to ``done``, dump, compare in bulk."""

    def __init__(self, dut, config, workdir="."):
        import cocotb
        from cocotb.clock import Clock
        self.dut = dut
        self.config = config
        self.workdir = Path(workdir)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        for name in ("load", "start", "dump"):
            getattr(dut, name).value = 0

    async def _pulse(self, signal):
        from cocotb.triggers import RisingEdge
        signal.value = 1
        await RisingEdge(self.dut.clk)
        signal.value = 0
        await RisingEdge(self.dut.clk)

    async def run(self, job):
        """Run one job; returns a record with cycles, model and wall-clock numbers."""
        from cocotb.triggers import ClockCycles, RisingEdge
        config, dut = self.config, self.dut
        x, w = job_layer(job, config)
        schedule = schedule_layer(config, x, w)
        (self.workdir / "bench_weights.hex").write_text(
            weight_format(config).to_hex(**schedule.weights))
        (self.workdir / "bench_pixels.hex").write_text(
            pixel_format(config).to_hex(**schedule.pixels))
        n_results = len(schedule.results["tag"])
        dut.n_weights.value = len(schedule.weights["value"])
        dut.n_pixels.value = len(schedule.pixels["tag"])
        dut.n_results.value = n_results
        dut.source_stall.value = int(job.get("source_stall", 0.0) * 65536)
        dut.sink_stall.value = int(job.get("sink_stall", 0.0) * 65536)
        dut.lfsr_seed.value = job["seed"] & 0xFFFFFFFF or 1
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await self._pulse(dut.load)
        started = time.perf_counter()
        await self._pulse(dut.start)
        if not dut.done.value:
            await RisingEdge(dut.done)
        wall = time.perf_counter() - started
        cycles = int(dut.cycles.value)
        await self._pulse(dut.dump)
        fields = result_format(config).from_hex((self.workdir / "bench_results.hex").read_text())
        got = results_to_matrix(schedule.tiling, fields["value"])
        expected = schedule.expected.copy()
        if job.get("corrupt_expected"):  # proves the bulk comparison can fail
            expected[-1, -1] += 1
        mismatches = int(np.count_nonzero(got != expected))
        tags_ok = bool(np.array_equal(fields["tag"], schedule.results["tag"]))
        return {"cycles": cycles, "wall_s": wall, "mismatches": mismatches, "tags_ok": tags_ok,
                "outputs": int(schedule.expected.size), "tiling": schedule.tiling}


def load_jobs():
    return json.loads(Path(os.environ["SENSE_JOBS"]).read_text())

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

from sense_models.cycle_model import check_done_cycles, tiling_cycles
from sense_models.formats import (fault_format, pixel_format, result_format, status_format,
                                  weight_format)
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
                           width=config.ifm_width, zero_fraction=job.get("zero_fraction"))
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
    parameters = {"WEIGHT_W": weight_format(config).width, "PIXEL_W": pixel_format(config).width,
                  "RESULT_W": result_format(config).width, **harness_depths(config, jobs)}
    if config.abft != "none":
        parameters["STATUS_W"] = status_format(config).width
    if config.faults:
        parameters["FAULT_W"] = fault_format(config).width
    return parameters


def harness_defines(config):
    defines = {}
    if config.abft != "none":
        defines["SENSE_STATUS"] = 1
    if config.faults:
        defines["SENSE_FAULTS"] = 1
    return defines


def _stall(job, key):
    value = float(job.get(key, 0.0))
    if not 0.0 <= value < 1.0:
        raise ValueError(f"job {job.get('name')!r}: {key} must be in [0, 1), not {value}")
    return value


class BenchHarness:
    """cocotb driver of ``sense_bench``: load, run to ``done``, dump, compare in bulk."""

    def __init__(self, dut, config, workdir="."):
        from cocotb.clock import Clock
        self.dut = dut
        self.config = config
        self.workdir = Path(workdir)
        self._schedule = None
        Clock(dut.clk, 10, unit="ns").start()
        for name in ("load", "start", "dump"):
            getattr(dut, name).value = 0

    async def _pulse(self, signal):
        from cocotb.triggers import RisingEdge
        signal.value = 1
        await RisingEdge(self.dut.clk)
        signal.value = 0
        await RisingEdge(self.dut.clk)

    async def run(self, job, *, layer=None, fault=None, reload=True):
        """Run one job; returns a JSON-able record: cycles, model cycles, wall clock, checks.

        ``layer`` overrides the job's ``(X, W)``; ``fault`` (fault-injection builds) is a dict
        of :func:`sense_models.formats.fault_format` fields with ``start`` counted from the
        job's cycle 0. ABFT builds add the final ``status`` fields to the record.
        ``reload=False`` reuses the stream memories of the previous run (same job and layer):
        a reset does not clear them.
        """
        from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
        config, dut = self.config, self.dut
        source_stall, sink_stall = _stall(job, "source_stall"), _stall(job, "sink_stall")
        x, w = layer if layer is not None else job_layer(job, config)
        load = reload or self._schedule is None
        if load:
            self._schedule = schedule_layer(config, x, w)
            (self.workdir / "bench_weights.hex").write_text(
                weight_format(config).to_hex(**self._schedule.weights))
            (self.workdir / "bench_pixels.hex").write_text(
                pixel_format(config).to_hex(**self._schedule.pixels))
        schedule = self._schedule
        n_results = len(schedule.results["tag"])
        dut.n_weights.value = len(schedule.weights["value"])
        dut.n_pixels.value = len(schedule.pixels["tag"])
        dut.n_results.value = n_results
        dut.source_stall.value = int(source_stall * 65536)
        dut.sink_stall.value = int(sink_stall * 65536)
        dut.lfsr_seed.value = job["seed"] & 0xFFFFFFFF
        if config.faults:
            dut.fault.value = fault_format(config).pack(
                **{k: [v] for k, v in (fault or {"site": 0, "bit": 0, "mode": 0,
                                                 "start": 0}).items()})[0]
        model = tiling_cycles(config, schedule.tiling)
        limit = int(model / (1 - max(source_stall, sink_stall)) ** 2) + 10_000
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        if load:
            await self._pulse(dut.load)
        started = time.perf_counter()
        await self._pulse(dut.start)
        if not dut.done.value:
            await with_timeout(RisingEdge(dut.done), 10 * limit, "ns")  # a hang fails, named
        wall = time.perf_counter() - started
        cycles = int(dut.cycles.value)
        # Let the last pass's checks finish, and watch for result beats beyond the last.
        await ClockCycles(dut.clk, check_done_cycles(config, schedule.tiling)
                          - model + 4)
        status = None
        if config.abft != "none":
            status = {k: int(v[0]) for k, v in
                      status_format(config).unpack([dut.status.value.to_unsigned()]).items()}
        extra = bool(dut.extra.value)
        await self._pulse(dut.dump)
        fields = result_format(config).from_hex((self.workdir / "bench_results.hex").read_text())
        got = results_to_matrix(schedule.tiling, fields["value"])
        expected = schedule.expected.copy()
        if job.get("corrupt_expected"):  # proves the bulk comparison can fail
            expected[-1, -1] += 1
        mismatches = int(np.count_nonzero(got != expected))
        tags_ok = bool(np.array_equal(fields["tag"], schedule.results["tag"]))
        return {"cycles": cycles, "model_cycles": model, "origin": int(dut.origin.value),
                "wall_s": wall, "mismatches": mismatches, "tags_ok": tags_ok,
                "extra_beats": extra, "outputs": int(schedule.expected.size),
                "dense_macs": schedule.tiling.dense_macs, "status": status}


def load_jobs():
    return json.loads(Path(os.environ["SENSE_JOBS"]).read_text())

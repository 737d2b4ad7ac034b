"""Long simulations without Python on the per-cycle path: the ``sense_bench`` harness.

``hdl/sense_bench.v`` wraps the generated core with stream memories, LFSR-driven stalls and
a cycle counter. The host writes a layer's beats as ``$readmemh`` files, the simulation runs
on its own until ``done``, and the results come back in bulk. Jobs are JSON dicts::

    {"name": ..., "pixels": P, "reduction": T, "kernels": K, "seed": s,
     "relu": true, "source_stall": 0.0, "sink_stall": 0.0, "corrupt_expected": false}
"""

from __future__ import annotations

import dataclasses
import hashlib
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

__all__ = ["HARNESS", "job_layer", "harness_depths", "common_ports", "PreparedRun", "prepare_run",
           "finish_run", "job_record", "job_failures", "BenchHarness"]

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


def common_ports(config, job, fault):
    """The ports both harnesses share: stalls (x/65536), LFSR seed, and on fault-injection
    builds the packed ``fault`` (none: mode 0)."""
    ports = {"source_stall": int(_stall(job, "source_stall") * 65536),
             "sink_stall": int(_stall(job, "sink_stall") * 65536),
             "lfsr_seed": job["seed"] & 0xFFFFFFFF}
    if config.faults:
        ports["fault"] = int(fault_format(config).pack(
            **{k: [v] for k, v in (fault or {"site": 0, "bit": 0, "mode": 0,
                                             "start": 0}).items()})[0])
    return ports


@dataclasses.dataclass
class PreparedRun:
    """One run of a job, ready for either driver of ``sense_bench``.

    ``ports`` are the harness inputs to set (name -> integer); ``limit`` is the cycle budget
    after ``start`` (beyond it the run hung); ``settle`` the cycles to wait after ``done``
    before reading the status and looking for extra beats; ``load`` says whether the stream
    memories must be (re)loaded from the hex files written to the work directory.
    """

    schedule: object
    ports: dict
    model: int
    limit: int
    settle: int
    load: bool


def prepare_run(config, job, workdir, *, layer=None, fault=None, schedule=None):
    """Schedule ``job`` (or reuse ``schedule``: no reload), write its hex files, set its ports.

    ``layer`` overrides the job's ``(X, W)``; ``fault`` (fault-injection builds) is a dict
    of :func:`sense_models.formats.fault_format` fields with ``start`` counted from the job's
    cycle 0.
    """
    source_stall, sink_stall = _stall(job, "source_stall"), _stall(job, "sink_stall")
    load = schedule is None
    if load:
        x, w = layer if layer is not None else job_layer(job, config)
        schedule = schedule_layer(config, x, w)
        workdir = Path(workdir)
        for name, fmt, beats in (("weights", weight_format, schedule.weights),
                                 ("pixels", pixel_format, schedule.pixels)):
            (workdir / f"bench_{name}.hex").write_text(fmt(config).to_hex(**beats))
    ports = {"n_weights": len(schedule.weights["value"]),
             "n_pixels": len(schedule.pixels["tag"]), "n_results": len(schedule.results["tag"]),
             **common_ports(config, job, fault)}
    model = tiling_cycles(config, schedule.tiling)
    return PreparedRun(
        schedule=schedule, ports=ports, model=model,
        limit=int(model / (1 - max(source_stall, sink_stall)) ** 2) + 10_000,
        # Let the last pass's checks finish, and watch for result beats beyond the last.
        settle=check_done_cycles(config, schedule.tiling) - model + 4, load=load)


def finish_run(config, job, run, *, cycles, origin, status, extra, results_hex, wall,
               hung=False):
    """The record of a finished run: cycles, model cycles, wall clock, checks in bulk.

    ``status`` is the raw status word (ABFT builds) and ``results_hex`` the dump's text;
    ``results_sha256`` lets two drivers' runs be compared without keeping the results. A
    run that ``hung`` counts every output as wrong.
    """
    schedule = run.schedule
    record = {"cycles": cycles, "model_cycles": run.model, "origin": origin, "wall_s": wall,
              "hung": hung, "extra_beats": extra, "outputs": int(schedule.expected.size),
              "dense_macs": schedule.tiling.dense_macs, "status": None,
              "results_sha256": hashlib.sha256(results_hex.encode()).hexdigest()}
    if config.abft != "none":
        record["status"] = {k: int(v[0])
                            for k, v in status_format(config).unpack([status]).items()}
    if hung:
        return {**record, "mismatches": record["outputs"], "tags_ok": False}
    fields = result_format(config).from_hex(results_hex)
    got = results_to_matrix(schedule.tiling, fields["value"])
    expected = schedule.expected.copy()
    if job.get("corrupt_expected"):  # proves the bulk comparison can fail
        expected[-1, -1] += 1
    return {**record, "mismatches": int(np.count_nonzero(got != expected)),
            "tags_ok": bool(np.array_equal(fields["tag"], schedule.results["tag"]))}


def job_record(job, run):
    """A job's report record: the job, its run, and the simulation speed from start to done."""
    return {**job, **run,
            "sim_cycles_per_s": run["cycles"] / run["wall_s"] if run["wall_s"] else None}


def job_failures(job, run):
    """What is wrong with a fault-free ``run`` of ``job``: every job must be bit-exact, free
    of alarms and extra beats, and steady-traffic jobs cycle-exact with the cycle model."""
    failures = []
    name = job["name"]
    if run.get("hung"):
        failures.append(f"{name}: no result after {run['cycles']} cycles (the core hung)")
    if run["extra_beats"]:
        failures.append(f"{name}: the core emitted more result beats than expected")
    if run["status"] and run["status"]["error"]:
        failures.append(f"{name}: false ABFT alarm in a fault-free run: {run['status']}")
    if run["mismatches"] or not run["tags_ok"]:
        failures.append(f"{name}: {run['mismatches']} outputs differ from the golden "
                        f"model (tags {'ok' if run['tags_ok'] else 'wrong'})")
    steady = not job.get("source_stall") and not job.get("sink_stall")
    if steady and run["cycles"] != run["model_cycles"]:
        failures.append(f"{name}: RTL {run['cycles']} cycles, model {run['model_cycles']}")
    return failures


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
        """Run one job (see :func:`prepare_run`); returns :func:`finish_run`'s record.

        ``reload=False`` reuses the stream memories of the previous run (same job and layer):
        a reset does not clear them. The sequence is the one ``cpp/bench_main.cpp`` follows.
        """
        from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
        config, dut = self.config, self.dut
        run = prepare_run(config, job, self.workdir, layer=layer, fault=fault,
                          schedule=None if reload else self._schedule)
        self._schedule = run.schedule
        for name, value in run.ports.items():
            getattr(dut, name).value = value
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        if run.load:
            await self._pulse(dut.load)
        started = time.perf_counter()
        await self._pulse(dut.start)
        hung = False
        if not dut.done.value:  # at most ``limit`` cycles, as the C++ driver: a hang is a record
            try:
                await with_timeout(RisingEdge(dut.done), 10 * run.limit, "ns")
            except SimTimeoutError:
                hung = True
        wall = time.perf_counter() - started
        cycles = int(dut.cycles.value)
        await ClockCycles(dut.clk, run.settle)
        status = dut.status.value.to_unsigned() if config.abft != "none" else None
        extra = bool(dut.extra.value)
        await self._pulse(dut.dump)
        return finish_run(config, job, run, cycles=cycles, origin=int(dut.origin.value),
                          status=status, extra=extra, wall=wall, hung=hung,
                          results_hex=(self.workdir / "bench_results.hex").read_text())


def load_jobs():
    return json.loads(Path(os.environ["SENSE_JOBS"]).read_text())

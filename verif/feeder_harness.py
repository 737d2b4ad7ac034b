"""Long simulations of a feeder build without Python on the per-cycle path.

The feeder counterpart of :mod:`sense_verif.harness`: ``hdl/sense_feeder_bench.v`` wraps a
``feeder=True`` core with memories for its four input streams (table, IFM, pass commands,
weights) and its two outputs (results, per-pass counters), LFSR-driven stalls and a cycle
counter. Jobs are the same JSON dicts as the streamed harness's; the layer goes through the
identity channel table (kernel area 1), and a job may zero whole reduction tiles of some
pixels (``zero_tiles``) so that the feeder skips vectors, issues ``first`` vectors in later
passes and, with ``abft="both"``, holds vectors whose tags run ahead of a drain.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from sense_models.cycle_model import feeder_cycles
from sense_models.feeder import pack_for_feeder, plan_feeder, schedule_feeder
from sense_models.formats import (fault_format, ifm_format, pass_format, result_format,
                                  stats_format, status_format, table_format, weight_format)

from .harness import PreparedRun, _pow2, _stall, common_ports, job_layer

__all__ = ["FEEDER_HARNESS", "feeder_job_layer", "feeder_harness_parameters",
           "prepare_feeder_run", "finish_feeder_run", "FeederBenchHarness"]

FEEDER_HARNESS = Path(__file__).resolve().parent / "hdl" / "sense_feeder_bench.v"


def feeder_job_layer(job, config):
    """``(X, W)`` of a job on a feeder build: :func:`sense_verif.harness.job_layer`, then, with
    ``zero_tiles``, every third pixel zero over one of its reduction tiles (and pixel 1 zero
    everywhere but its last tile), so the feeder skips."""
    x, w = job_layer(job, config)
    if job.get("zero_tiles"):
        x = x.copy()
        tr = config.tile_reduction
        tiles = -(-x.shape[1] // tr)
        for p in range(0, x.shape[0], 3):
            t = (p // 3) % tiles
            x[p, t * tr:(t + 1) * tr] = 0
        if x.shape[0] > 1 and tiles > 1:
            x[1, :(tiles - 1) * tr] = 0
    return x, w


def _schedule(config, x, w):
    plan = plan_feeder(config, np.arange(x.shape[1]), 1, x.shape[1])
    return schedule_feeder(config, x, pack_for_feeder(config, w, plan), plan)


def feeder_harness_parameters(config, jobs):
    """Widths and memory depths (powers of two) that hold the largest job's beats."""
    depths = {"TABLE_DEPTH": 1, "IFM_DEPTH": 1, "PASS_DEPTH": 1, "WEIGHT_DEPTH": 1,
              "RESULT_DEPTH": 1, "STATS_DEPTH": 1}
    for job in jobs:
        s = _schedule(config, *feeder_job_layer(job, config))
        for name, beats in (("TABLE", s.table["last"]), ("IFM", s.ifm["end"]),
                            ("PASS", s.passes["tile"]), ("WEIGHT", s.weights["value"]),
                            ("RESULT", s.results["tag"]), ("STATS", s.stats["issued"])):
            depths[f"{name}_DEPTH"] = max(depths[f"{name}_DEPTH"], _pow2(len(beats)))
    parameters = {"TABLE_W": table_format(config).width, "IFM_W": ifm_format(config).width,
                  "PASS_W": pass_format(config).width, "WEIGHT_W": weight_format(config).width,
                  "RESULT_W": result_format(config).width, "STATS_W": stats_format(config).width,
                  **depths}
    if config.abft != "none":
        parameters["STATUS_W"] = status_format(config).width
    if config.faults:
        parameters["FAULT_W"] = fault_format(config).width
    return parameters


def prepare_feeder_run(config, job, workdir, *, layer=None, fault=None, schedule=None):
    """:func:`sense_verif.harness.prepare_run` for the feeder harness: schedule ``job`` (or
    reuse ``schedule``: no reload), write its hex files, set its ports."""
    source_stall, sink_stall = _stall(job, "source_stall"), _stall(job, "sink_stall")
    load = schedule is None
    if load:
        x, w = layer if layer is not None else feeder_job_layer(job, config)
        schedule = _schedule(config, x, w)
        for name, fmt, beats in (("table", table_format, schedule.table),
                                 ("ifm", ifm_format, schedule.ifm),
                                 ("passes", pass_format, schedule.passes),
                                 ("weights", weight_format, schedule.weights)):
            (Path(workdir) / f"bench_{name}.hex").write_text(fmt(config).to_hex(**beats))
    s = schedule
    ports = {"n_table": len(s.table["last"]), "n_ifm": len(s.ifm["end"]),
             "n_passes": len(s.passes["tile"]), "n_weights": len(s.weights["value"]),
             "n_results": len(s.results["tag"]), "n_stats": len(s.stats["issued"]),
             **common_ports(config, job, fault)}
    model = feeder_cycles(config, s)
    return PreparedRun(schedule=s, ports=ports, model=model,
                       limit=int(model / (1 - max(source_stall, sink_stall)) ** 2) + 10_000,
                       # Let the last pass's checks finish, and watch for beats beyond the last.
                       settle=config.latency + 4, load=load)


def finish_feeder_run(config, job, run, *, cycles, origin, status, extra, results_hex,
                      stats_hex, wall, hung=False, fault=None):
    """The record of a finished feeder run (:func:`sense_verif.harness.finish_run`'s, plus
    ``stats_ok``). Result beats are compared beat by beat with the schedule's (values and
    tags, in the order the build emits them). Counter beats count as outputs in fault-free
    runs only: a fault in the array may legitimately change the gated-multiply count without
    touching a result."""
    s = run.schedule
    record = {"cycles": cycles, "model_cycles": run.model, "origin": origin, "wall_s": wall,
              "extra_beats": extra, "hung": hung, "outputs": int(s.expected.size),
              "status": None,
              "results_sha256": hashlib.sha256((results_hex + stats_hex).encode()).hexdigest()}
    if config.abft != "none":
        record["status"] = {k: int(v[0])
                            for k, v in status_format(config).unpack([status]).items()}
    if hung:
        return {**record, "mismatches": int(s.expected.size), "tags_ok": False,
                "stats_ok": False}
    n_results = len(s.results["tag"])
    got = result_format(config).from_hex(results_hex)
    counters = stats_format(config).from_hex(stats_hex)
    values = np.asarray(got["value"]).reshape(n_results, -1)
    expected = np.asarray(s.results["value"]).reshape(n_results, -1).copy()
    if job.get("corrupt_expected"):  # proves the bulk comparison can fail
        expected[-1, -1] += 1
    mismatches = int(np.count_nonzero(values != expected))
    stats_ok = all(np.array_equal(counters[k], s.stats[k]) for k in s.stats)
    if fault is None and not stats_ok:
        mismatches += 1
    return {**record, "mismatches": mismatches,
            "tags_ok": bool(np.array_equal(got["tag"], s.results["tag"])), "stats_ok": stats_ok}


class FeederBenchHarness:
    """cocotb driver of ``sense_feeder_bench``: load, run to ``done``, dump, compare in bulk.

    :meth:`run` returns :func:`finish_feeder_run`'s record; the sequence is the one
    ``cpp/bench_main.cpp`` follows for a feeder build.
    """

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
        from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
        config, dut = self.config, self.dut
        run = prepare_feeder_run(config, job, self.workdir, layer=layer, fault=fault,
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
        if not dut.done.value:
            try:
                await with_timeout(RisingEdge(dut.done), 10 * run.limit, "ns")
            except SimTimeoutError:  # a fault stopped the core: counted as wrong outputs
                hung = True
        wall = time.perf_counter() - started
        cycles = int(dut.cycles.value)
        await ClockCycles(dut.clk, run.settle)
        status = dut.status.value.to_unsigned() if config.abft != "none" else None
        extra = bool(dut.extra.value)
        await self._pulse(dut.dump)
        return finish_feeder_run(
            config, job, run, cycles=cycles, origin=int(dut.origin.value), status=status,
            extra=extra, wall=wall, hung=hung, fault=fault,
            results_hex=(self.workdir / "bench_results.hex").read_text(),
            stats_hex=(self.workdir / "bench_stats.hex").read_text())

"""Testbench of a feeder build of the SenseCore: drivers, monitors, models, scoreboard.

The host-side :func:`sense_models.feeder.schedule_feeder` is both the drivers' program (table,
IFM, pass commands, weights) and the golden answer (result beats in order, per-pass
counters); :func:`sense_models.cycle_model.feeder_cycles` is the cycle model.
"""

from __future__ import annotations

import numpy as np

from sense_models.cycle_model import feeder_cycles
from sense_models.feeder import pack_for_feeder, plan_feeder, schedule_feeder
from sense_models.formats import (ifm_format, pass_format, result_format, stats_format,
                                  status_format, table_format, weight_format)

from .streams import Clocked, StreamSink, StreamSource
from .tb_core import CoreTB

__all__ = ["FeederScoreboard", "FeederTB"]


class FeederScoreboard:
    """Compares result beats (in order, with tags) and per-pass counters with the models."""

    def __init__(self, schedule):
        self.results = dict(schedule.results)
        self.stats = dict(schedule.stats)

    def check(self, results, stats):
        for name, got, expected in (("result", results, self.results),
                                    ("counter", stats, self.stats)):
            beats = len(next(iter(expected.values())))
            if len(next(iter(got.values()))) != beats:
                raise AssertionError(f"got {len(next(iter(got.values())))} {name} beats, "
                                     f"expected {beats}")
            for field, want in expected.items():
                bad = np.flatnonzero(np.any(np.asarray(got[field]).reshape(beats, -1)
                                            != np.asarray(want).reshape(beats, -1), axis=1))
                if bad.size:
                    b = int(bad[0])
                    raise AssertionError(
                        f"{bad.size} {name} beats differ from the golden model in {field!r}; "
                        f"first: beat {b} has {got[field][b]}, expected {want[b]}")


class _Outputs:
    """Several sinks as one for :class:`Clocked`: one "beat" once each has its count; an
    extra beat on any of them afterwards is an error; the cycle is the latest last beat."""

    def __init__(self, expected):
        self._expected = expected
        self.name = "+".join(sink.name for sink in expected)

    @property
    def words(self):
        return [1] if all(len(s.words) >= n for s, n in self._expected.items()) else []

    @property
    def cycles(self):
        return [max(s.cycles[-1] for s in self._expected if s.cycles)]

    def commit(self, cycle):
        return any([s.commit(cycle) for s in self._expected])  # a list: commit every one

    def drive(self):
        for s in self._expected:
            s.drive()

    def sample(self):
        for s in self._expected:
            s.sample()

    def force_ready(self):
        for s in self._expected:
            s.force_ready()

    def valid_now(self):
        return any(s.valid_now() for s in self._expected)


class FeederTB(CoreTB):
    """Clock, reset and the five streams of a feeder build."""

    def ports(self):
        ports = [("weights__payload", weight_format), ("ifm__payload", ifm_format),
                 ("table__payload", table_format), ("passes__payload", pass_format),
                 ("results__payload", result_format), ("stats__payload", stats_format)]
        if self.config.abft != "none":
            ports.append(("status", status_format))
        return ports

    async def reset(self):
        if self.config.abft != "none":
            self.dut.clear_status.value = 0
        await super().reset()

    def schedule(self, x, w, channels, kernel_area, *, dense=False):
        """Plan, pack and schedule a layer as the host software does."""
        plan = plan_feeder(self.config, channels, kernel_area, x.shape[1])
        return schedule_feeder(self.config, x, pack_for_feeder(self.config, w, plan), plan,
                               dense=dense)

    async def run_schedule(self, schedule, *, rng, idle=0.0, backpressure=0.0, corrupt=None,
                           reset=True, stats_backpressure=None, clean=True):
        """Stream one layer and check it; returns ``(rtl_cycles, model_cycles)``.

        ``corrupt`` names an expected field to make wrong (``value``, ``tag``, ``issued``,
        ``skipped`` or ``gated``), to show that its comparison fails. ``reset=False`` runs the
        layer on the state the previous one left. ``stats_backpressure`` holds the counters
        back on their own (default: as the results). ``clean=False`` (a run with corrupted
        checksums) leaves the ABFT status to the caller.
        """
        cfg = self.config
        scoreboard = FeederScoreboard(schedule)
        if corrupt:
            for group in (scoreboard.results, scoreboard.stats):
                if corrupt in group:
                    group[corrupt] = np.asarray(group[corrupt]).copy()
                    group[corrupt].reshape(len(group[corrupt]), -1)[-1, -1] += 1
        model = feeder_cycles(cfg, schedule)
        sources = [
            StreamSource(self.dut, "table", table_format(cfg).pack(**schedule.table),
                         rng=rng, idle=idle),
            StreamSource(self.dut, "ifm", ifm_format(cfg).pack(**schedule.ifm), rng=rng,
                         idle=idle),
            StreamSource(self.dut, "passes", pass_format(cfg).pack(**schedule.passes), rng=rng,
                         idle=idle),
            StreamSource(self.dut, "weights", weight_format(cfg).pack(**schedule.weights),
                         rng=rng, idle=idle),
        ]
        if stats_backpressure is None:
            stats_backpressure = backpressure
        stats = StreamSink(self.dut, "stats", rng=rng, backpressure=stats_backpressure)
        results = StreamSink(self.dut, "results", rng=rng, backpressure=backpressure)
        if reset:
            await self.reset()
        held = max(backpressure, stats_backpressure)
        stretch = 1 + 4 * (idle + held) / max(1e-9, 1 - max(idle, held))
        # The run ends when both outputs have all their beats: the counters come last
        # without correction, but with it the drain outlasts them, and under back-pressure
        # either may be last (the counters wait in their FIFO).
        both = _Outputs({results: len(schedule.results["tag"]),
                         stats: len(schedule.stats["issued"])})
        cycles = await Clocked(self.dut.clk, sources, both).run(
            1, max_cycles=int(model * stretch) + 1000, quiet=cfg.latency + 2)
        scoreboard.check(result_format(cfg).unpack(results.words),
                         stats_format(cfg).unpack(stats.words))
        if clean and cfg.abft != "none":  # the last counters leave after the last check
            status = status_format(cfg).unpack([self.dut.status.value.to_unsigned()])
            status = {k: int(v[0]) for k, v in status.items()}
            assert not status["error"], f"ABFT alarm in a fault-free run: {status}"
        return cycles, model

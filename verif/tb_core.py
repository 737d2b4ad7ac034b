"""Testbench of the SenseCore: drivers, monitor, golden model and scoreboard as separate pieces.

The host-side :func:`sense_models.tiling.schedule_layer` is the driver's program and the
golden model's answer; :class:`Scoreboard` compares bit for bit and names every mismatch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zlib

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from sense_models.config import ArrayConfig
from sense_models.cycle_model import tiling_cycles
from sense_models.formats import pixel_format, result_format, status_format, weight_format
from sense_models.protocol import protocol_format
from sense_models.tiling import results_to_matrix, schedule_layer

from .streams import Clocked, StreamSink, StreamSource

__all__ = ["env_config", "case_rng", "Scoreboard", "CoreTB"]


def env_config():
    """The configuration the runner built this RTL from (``SENSE_CONFIG``)."""
    return ArrayConfig.from_dict(json.loads(os.environ["SENSE_CONFIG"]))


def case_rng(*names):
    """A NumPy generator seeded from ``SENSE_SEED`` (or cocotb's seed) and the case names.

    The seed is logged; ``SENSE_SEED=<seed>`` reproduces the run.
    """
    seed = int(os.environ.get("SENSE_SEED", cocotb.RANDOM_SEED))
    cocotb.log.info("seed %d (reproduce with SENSE_SEED=%d)", seed, seed)
    return np.random.default_rng([seed, zlib.crc32("/".join(map(str, names)).encode())])


class Scoreboard:
    """Compares result beats with the golden model and reports every mismatch by location."""

    def __init__(self, schedule):
        self._schedule = schedule
        self.expected_tags = schedule.results["tag"]
        self.expected = schedule.expected

    def check(self, values, tags):
        tiling = self._schedule.tiling
        if len(tags) != len(self.expected_tags):
            raise AssertionError(f"got {len(tags)} result beats, expected {len(self.expected_tags)}")
        bad_tags = np.flatnonzero(np.asarray(tags) != self.expected_tags)
        if bad_tags.size:
            b = int(bad_tags[0])
            raise AssertionError(f"result beat {b} has tag {tags[b]}, expected {self.expected_tags[b]}")
        got = results_to_matrix(tiling, values)
        wrong = np.argwhere(got != self.expected)
        if wrong.size:
            lines = [f"Y[p={p}, k={k}] = {got[p, k]}, expected {self.expected[p, k]}"
                     for p, k in wrong[:10]]
            raise AssertionError(f"{len(wrong)} of {self.expected.size} outputs differ from the "
                                 f"golden model:\n  " + "\n  ".join(lines))


class CoreTB:
    """Clock, reset and streams of one SenseCore DUT."""

    def __init__(self, dut, config=None):
        self.dut = dut
        self.config = config or env_config()
        self._width_check()
        Clock(dut.clk, 10, unit="ns").start()

    def ports(self):
        """``(DUT signal, format)`` of every payload, checked against the model at start."""
        ports = [("weights__payload", weight_format), ("pixels__payload", pixel_format),
                 ("results__payload", result_format)]
        if self.config.abft != "none":
            ports.append(("status", status_format))
        if not self.config.feeder:
            ports.append(("protocol", lambda config: protocol_format(config.acc_depth)))
        return ports

    def _width_check(self):
        for prefix, fmt in self.ports():
            width = len(getattr(self.dut, prefix))
            if width != fmt(self.config).width:
                raise RuntimeError(f"{prefix} payload is {width} bits in the RTL but "
                                   f"{fmt(self.config).width} in the model: stale build?")

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0

    def protocol_status(self):
        """The ``protocol`` port's fields (streamed builds) as a dict of ints."""
        fmt = protocol_format(self.config.acc_depth)
        fields = fmt.unpack([self.dut.protocol.value.to_unsigned()])
        return {key: int(value[0]) for key, value in fields.items()}

    async def run_layer(self, x, w, *, rng, idle=0.0, backpressure=0.0, corrupt=False,
                        clean=True, streams=None):
        """Stream one layer, check it bit-exact; returns ``(rtl_cycles, model_cycles)``.

        ``clean=False`` (a run with an injected fault) leaves the ABFT status to the caller.
        ``streams`` replaces the schedule's stream beats (``{"weights": ..., "pixels":
        ...}``, either or both), e.g. with corrupted checksums; the outputs are still
        checked against the layer's.
        """
        schedule = schedule_layer(self.config, x, w)
        if streams:
            schedule = dataclasses.replace(schedule, **streams)
        scoreboard = Scoreboard(schedule)
        if corrupt:  # proves the comparison can fail: one expected output is made wrong
            scoreboard.expected = scoreboard.expected.copy()
            scoreboard.expected[-1, -1] += 1
        model = tiling_cycles(self.config, schedule.tiling)
        sources = [
            StreamSource(self.dut, "weights", weight_format(self.config).pack(**schedule.weights),
                         rng=rng, idle=idle),
            StreamSource(self.dut, "pixels", pixel_format(self.config).pack(**schedule.pixels),
                         rng=rng, idle=idle),
        ]
        sink = StreamSink(self.dut, "results", rng=rng, backpressure=backpressure)
        await self.reset()
        stretch = 1 + 4 * (idle + backpressure) / max(1e-9, 1 - max(idle, backpressure))
        cycles = await Clocked(self.dut.clk, sources, sink).run(
            len(schedule.results["tag"]), max_cycles=int(model * stretch) + 1000,
            quiet=self.config.latency + self.config.check_digits + 2)
        fields = result_format(self.config).unpack(sink.words)
        scoreboard.check(fields["value"], fields["tag"])
        if clean and self.config.abft != "none":  # the quiet period let the last checks finish
            status = status_format(self.config).unpack([self.dut.status.value.to_unsigned()])
            status = {k: int(v[0]) for k, v in status.items()}
            assert not status["error"], f"ABFT alarm in a fault-free run: {status}"
        if not self.config.feeder:  # a well-formed layer breaks no rule and leaves none open
            protocol = self.protocol_status()
            assert not protocol["error"] and not protocol["open"], \
                f"protocol status after a well-formed layer: {protocol}"
        return cycles, model

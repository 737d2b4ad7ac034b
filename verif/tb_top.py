"""Testbench of ``sense_top`` with cocotbext-axi, and the driver's RTL back-end.

:class:`TopTB` owns the clock, the reset and the three bus agents: an ``AxiStreamSource``
on ``s_axis`` (the host's packets), an ``AxiStreamSink`` on ``m_axis`` (the results) and an
``AxiLiteMaster`` on ``s_axil`` (the registers). :class:`RtlBackend` is the host driver's
back-end (:mod:`sense_models.driver`): it streams a layer's packets, collects its result
beats and hands them back to the driver, which checks and reassembles them.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame,
                           AxiStreamSink, AxiStreamSource)

from sense_models.driver import LayerResult
from sense_models.packets import result_wire
from sense_models.regmap import register_map

from .tb_core import env_config

__all__ = ["TopTB", "RtlBackend", "gaps"]


def gaps(rng, probability):
    """A cocotbext-axi pause generator: pause each cycle with ``probability``."""
    if not probability:
        return None
    return iter(lambda: bool(rng.random() < probability), None)


class TopTB:
    """Clock, reset and the bus agents of ``sense_top``."""

    def __init__(self, dut, *, config=None):
        self.dut = dut
        self.config = config or env_config()
        self.regmap = register_map(self.config)
        self.cycle = 0
        self.first_in = None   # cycle of the first s_axis word taken since mark()
        self.last_out = None   # cycle of the last m_axis word taken
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        cocotb.start_soon(self._count())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        for agent in (self.source, self.sink, self.axil.write_if, self.axil.read_if):
            agent.log.setLevel("WARNING")

    async def _count(self):
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            self.cycle += 1
            # Sampled at the edge, as the bus agents do: a word moved in this cycle.
            if self.first_in is None and dut.s_axis_tvalid.value and dut.s_axis_tready.value:
                self.first_in = self.cycle
            if dut.m_axis_tvalid.value and dut.m_axis_tready.value:
                self.last_out = self.cycle

    def mark(self):
        """Start timing: the next word taken on ``s_axis`` is the first one counted."""
        self.first_in = self.last_out = None

    def timed_cycles(self):
        """Cycles from the first word taken after :meth:`mark` to the last result word
        taken, both included (what :mod:`sense_models.top_model` predicts)."""
        return self.last_out - self.first_in + 1

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    def traffic(self, rng, *, idle=0.0, backpressure=0.0):
        """Random ``TVALID`` gaps on the input and ``TREADY`` gaps on the output."""
        self.source.set_pause_generator(gaps(rng, idle))
        self.sink.set_pause_generator(gaps(rng, backpressure))

    # -- registers ------------------------------------------------------------------------

    def offset(self, name):
        return self.regmap[name].offset

    async def read(self, name):
        """A register's value (64-bit counters: low word, then high word)."""
        register = self.regmap[name]
        low = await self.axil.read_dword(register.offset)
        if register.width == 64:
            high = await self.axil.read_dword(register.offset + 4)
            return low | (high << 32)
        return low

    async def fields(self, name):
        """A register's fields as a dict."""
        register = self.regmap[name]
        value = await self.read(name)
        return {f.name: (value >> f.lsb) & ((1 << f.width) - 1) for f in register.fields}

    async def write(self, name, **fields):
        register = self.regmap[name]
        await self.axil.write_dword(register.offset, register.pack(fields))

    async def start(self):
        await self.write("CONTROL", run=1)

    async def soft_reset(self):
        await self.write("COMMAND", soft_reset=1)
        await ClockCycles(self.dut.clk, 2)

    async def counters(self):
        """Every 64-bit performance counter, by register name."""
        return {r.name: await self.read(r.name) for r in self.regmap if r.width == 64}

    async def clear_status(self):
        await self.write("COMMAND", clear_status=1)

    # -- streams --------------------------------------------------------------------------

    async def send(self, packets):
        """Queue packets (uint8 word arrays) on ``s_axis``; each one ends with ``TLAST``."""
        for words in packets:
            await self.source.send(AxiStreamFrame(np.asarray(words, np.uint8).tobytes()))

    def abort_input(self):
        """What a host does to its DMA before a soft reset: drop the queued packets and the
        one in progress (through the agent's own reset handling, as on a bus reset)."""
        self.source.clear()
        self.source._handle_reset(True)
        self.source._handle_reset(False)

    async def receive(self, nbytes, *, timeout):
        """``nbytes`` of results from ``m_axis`` (whole frames), or ``AssertionError`` after
        ``timeout`` cycles without the last of them."""
        data = bytearray()
        deadline = self.cycle + timeout
        while len(data) < nbytes:
            if self.cycle > deadline:
                raise AssertionError(f"timeout: {len(data)} of {nbytes} result bytes after "
                                     f"{timeout} cycles")
            if self.sink.empty():
                await RisingEdge(self.dut.clk)
                continue
            frame = self.sink.recv_nowait()
            data += bytes(frame.tdata)
        if len(data) != nbytes:
            raise AssertionError(f"got {len(data)} result bytes, expected {nbytes}")
        return np.frombuffer(bytes(data), dtype=np.uint8)


class RtlBackend:
    """The driver's back-end on ``sense_top`` in simulation.

    ``execute(job)`` streams the layer's packets, collects its result bytes, and returns
    the reassembled output with the cycles from the first word taken to the last result
    word taken (:meth:`TopTB.timed_cycles`). ``check`` (default on) compares with the job's expected output and names
    the first difference; ``corrupt`` flips one expected value first, to show the check
    can fail.
    """

    def __init__(self, tb, *, check=True, corrupt=False, timeout_factor=20):
        self.tb = tb
        self.check = check
        self.corrupt = corrupt
        self.timeout_factor = timeout_factor

    async def execute(self, job):
        tb, cfg = self.tb, self.tb.config
        wire = result_wire(cfg, job.raw)
        nbytes = job.bytes_out
        budget = self.timeout_factor * (job.bytes_in + nbytes) // (cfg.bus_width // 8) + 5000
        tb.mark()
        sender = cocotb.start_soon(tb.send(job.packets))
        raw = await tb.receive(nbytes, timeout=budget)
        await sender
        await RisingEdge(tb.dut.clk)  # the monitor has seen the last word's edge
        cycles = tb.timed_cycles()
        values, tags = wire.unpack(raw, cfg.bus_width)
        output = job.assemble(values, tags)
        if self.check:
            expected = job.expected.copy()
            if self.corrupt:
                expected[-1, -1] += 1
            wrong = np.argwhere(output != expected)
            if wrong.size:
                p, k = (int(i) for i in wrong[0])
                raise AssertionError(
                    f"layer {job.name}: {len(wrong)} outputs differ from the golden model; "
                    f"first: pixel {p} kernel {k} is {output[p, k]}, expected {expected[p, k]}")
        return LayerResult(output, cycles=cycles)


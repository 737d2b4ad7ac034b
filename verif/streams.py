"""Cycle-based valid/ready stream driver and sink for cocotb.

Python stays off the hot path as far as cocotb allows: one coroutine steps every stream of
a testbench once per clock (:class:`Clocked`), each stream touching only the signals that
change. The protocol is Amaranth's ``lib.stream``: once ``valid`` is raised with a payload,
both hold until the transfer.
"""

from __future__ import annotations

from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["StreamSource", "StreamSink", "Clocked"]


class _StreamPort:
    """The three signals of one stream port of a DUT, ``<prefix>__{valid,ready,payload}``."""

    def __init__(self, dut, prefix):
        self.name = prefix
        self._valid = getattr(dut, f"{prefix}__valid")
        self._ready = getattr(dut, f"{prefix}__ready")
        self._payload = getattr(dut, f"{prefix}__payload")


class StreamSource(_StreamPort):
    """Drives ``<prefix>__valid``/``__payload`` from a list of beat integers.

    ``idle`` is the probability of an idle cycle between two beats (random source stalls).
    """

    def __init__(self, dut, prefix, words, *, rng, idle=0.0):
        super().__init__(dut, prefix)
        self._words = words
        self._rng = rng
        self._idle = idle
        self.sent = 0
        self._offered = False
        self._fire = False
        self._valid_now = False
        self._valid.value = 0

    @property
    def done(self):
        return self.sent == len(self._words)

    def commit(self):
        """At the clock edge: the sampled transfer happened."""
        if self._fire:
            self.sent += 1
            self._offered = False
        return self._fire

    def drive(self):
        if self._offered:
            return
        if self.done or (self._idle and self._rng.random() < self._idle):
            if self._valid_now:
                self._valid.value = 0
                self._valid_now = False
            return
        self._payload.value = self._words[self.sent]
        self._valid.value = 1
        self._valid_now = self._offered = True

    def sample(self):
        """In the read-only phase: will the coming edge transfer a beat?"""
        self._fire = self._offered and bool(self._ready.value)


class StreamSink(_StreamPort):
    """Accepts beats on ``<prefix>__valid``/``__ready``, with random back-pressure."""

    def __init__(self, dut, prefix, *, rng, backpressure=0.0):
        super().__init__(dut, prefix)
        self._rng = rng
        self._backpressure = backpressure
        self._ready_now = 1
        self._pending = None
        self.words = []
        self.cycles = []
        self._ready.value = 1

    def commit(self, cycle):
        if self._pending is not None:
            self.words.append(self._pending)
            self.cycles.append(cycle)
            self._pending = None
            return True
        return False

    def drive(self):
        ready = 0 if self._backpressure and self._rng.random() < self._backpressure else 1
        if ready != self._ready_now:
            self._ready.value = ready
            self._ready_now = ready

    def sample(self):
        if self._ready_now and self._valid.value:
            self._pending = self._payload.value.to_unsigned()

    def force_ready(self):
        self._ready.value = self._ready_now = 1

    def valid_now(self):
        return bool(self._valid.value)


class Clocked:
    """Steps sources and sinks once per cycle until ``expected`` beats reached the sink and
    every source has sent all its beats.

    ``others`` are further sinks, stepped alike (they collect what they get).

    Cycle 0 is the first cycle in which the sources drive. After the last expected beat the
    sink stays ready for ``quiet`` more cycles and any further beat is an error (a core
    that emits too many results fails). Raises ``TimeoutError`` naming every stream's
    progress when nothing moves for ``stall_limit`` cycles or ``max_cycles`` pass.
    """

    def __init__(self, clk, sources, sink, others=()):
        self._clk = clk
        self._sources = sources
        self._sink = sink
        self._others = list(others)

    async def _step(self, cycle):
        """One clock: commit what transferred, drive the next cycle; returns whether any
        beat moved."""
        await RisingEdge(self._clk)
        moved = self._sink.commit(cycle)
        for other in self._others:
            moved |= other.commit(cycle)
        for source in self._sources:
            moved |= source.commit()
        for source in self._sources:
            source.drive()
        for sink in [self._sink] + self._others:
            sink.drive()
        await ReadOnly()
        for source in self._sources:
            source.sample()
        for sink in [self._sink] + self._others:
            sink.sample()
        return moved

    def _progress(self):
        return ", ".join(f"{s.name} {s.sent}/{len(s._words)}" for s in self._sources)

    async def run_until_idle(self, *, idle, max_cycles):
        """Step until no beat has moved for ``idle`` cycles (a stream that stopped, or a
        core waiting for one); returns the cycles stepped. ``TimeoutError`` after
        ``max_cycles``: something still moves, so nothing waits."""
        cycle = last_move = 0
        while cycle - last_move <= idle:
            if await self._step(cycle - 1):
                last_move = cycle
            cycle += 1
            if cycle > max_cycles:
                raise TimeoutError(f"still moving at cycle {cycle}: {self._progress()}")
        await RisingEdge(self._clk)  # leave the read-only phase
        return cycle

    async def run(self, expected, *, max_cycles, stall_limit=2000, quiet=0):
        cycle = -1
        last_move = 0
        # Until the sink has every beat and every source has sent all of its own: a layer's
        # results can all be out while its last checksum digits still wait in a gappy source.
        while len(self._sink.words) < expected or not all(s.done for s in self._sources):
            moved = await self._step(cycle)
            cycle += 1
            if moved:
                last_move = cycle
            if cycle - last_move > stall_limit or cycle > max_cycles:
                raise TimeoutError(
                    f"hang at cycle {cycle}: {self._progress()}, {self._sink.name} "
                    f"{len(self._sink.words)}/{expected} beats")
        await RisingEdge(self._clk)  # leave the read-only phase; sources are done: drop valid
        for source in self._sources:
            source.drive()
        cycles = self._sink.cycles[-1] + 1
        self._sink.force_ready()
        for _ in range(quiet):
            await RisingEdge(self._clk)
            await ReadOnly()
            if self._sink.valid_now():
                raise AssertionError(f"{self._sink.name}: an extra beat after the expected "
                                     f"{expected}")
        if quiet:
            await RisingEdge(self._clk)
        return cycles

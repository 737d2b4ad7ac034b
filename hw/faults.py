"""Fault-injection instrumentation: controllable fault sites in the generated RTL.

A build with ``ArrayConfig.faults`` passes a :class:`FaultSites` to every block, and each
block routes the signals of its fault sites through it. Without the option every block gets
:data:`NO_FAULTS`, whose hooks return the signal untouched, so the RTL is the same as a build
that never heard of fault injection.

The fault model, per site (selected at run time by ``fault.site``, bit ``fault.bit``):

* stuck-at-0 / stuck-at-1 (``mode`` 1 / 2): the bit reads as 0 / 1 for every consumer,
  from cycle ``fault.start`` on;
* bit flip (``mode`` 3), in one cycle: the first from ``fault.start`` on in which the
  pipeline advances. A combinational site (multiplier, adder) delivers the inverted bit
  for that cycle; a register site has its stored bit inverted, which persists until the
  register is next written (a single-event upset; registers written every cycle hold it
  for one cycle).
"""

from __future__ import annotations

import copy

from amaranth.hdl import Const, Module, Signal, Value
from amaranth.lib import data

__all__ = ["SITE_CLASSES", "FEEDER_SITE_CLASSES", "STUCK_AT_0", "STUCK_AT_1", "FLIP", "FaultSites",
           "NO_FAULTS"]

#: The IFM feeder's site classes (feeder builds only): its pixel buffers, its
#: channel-permutation table, its zero flags.
FEEDER_SITE_CLASSES = ("feeder_buffer", "feeder_table", "feeder_flags")
#: Site classes, as the campaign reports them.
SITE_CLASSES = ("multiplier", "adder", "psum_register", "ifm_register", "weight_register",
                "index_register", "accumulator", "checker", "skew_register", "deskew_register",
                "metadata", "bank_control", "drain_sequencer", "correction") + FEEDER_SITE_CLASSES

_STUCK0, _STUCK1, _FLIP = 1, 2, 3
STUCK_AT_0, STUCK_AT_1, FLIP = _STUCK0, _STUCK1, _FLIP  # the fault port's ``mode``


class _NoFaults:
    enabled = False

    def wire(self, m, value, *, kind, block, name):
        return value

    def register(self, m, register, *, kind, block, name):
        return register

    def stepping(self, enable):
        return self


NO_FAULTS = _NoFaults()


class FaultSites:
    """The registry of one fault-injection build: numbers sites and builds their injectors.

    ``control`` (the core's ``fault`` port), ``cycle`` (cycles since reset) and ``flip_now``
    are driven by :class:`sense_hw.core.SenseCore`. ``flip_now`` is high in the one cycle a
    flip takes effect: the first cycle from ``start`` on in which the pipeline advances (a
    flip during a back-pressure stall would otherwise be lost). ``sites`` lists every site in
    numbering order, for the manifest and the campaign.
    """

    enabled = True

    def __init__(self, control, cycle, flip_now):
        self.control = control
        self.cycle = cycle
        self.flip_now = flip_now
        self.sites = []

    def _select(self, m, width, kind, block, name):
        if kind not in SITE_CLASSES:
            raise ValueError(f"unknown fault site class {kind!r}")
        if width > 1 << len(self.control.bit):
            raise ValueError(f"fault site {name!r} has {width} bits, more than the fault port's "
                             f"bit field ({len(self.control.bit)} bits) can select")
        number = len(self.sites)
        self.sites.append({"site": number, "class": kind, "block": block, "signal": name,
                           "width": width})
        hit = Signal(name=f"fault_hit_{name}")
        started = self.cycle >= self.control.start
        m.d.comb += hit.eq((self.control.site == number) & (self.control.mode != 0) & started)
        mask = Signal(width, name=f"fault_mask_{name}")
        m.d.comb += mask.eq(Const(1, width) << self.control.bit)
        return hit, mask

    def stepping(self, enable):
        """The registry as seen by a block that keeps running while the pipeline stalls (the
        feeder): the same sites and numbering, but a flip takes effect only in the cycle
        ``enable`` (the pipeline's advance) is high too, as in the blocks the stall stops.
        Otherwise ``flip_now``, high in every stalled cycle until the pipeline advances,
        would upset such a block's register once per cycle (an even count undoing itself).
        """
        view = copy.copy(self)
        view.flip_now = self.flip_now & enable
        return view

    def wire(self, m: Module, value, *, kind, block, name):
        """``value`` as its consumers see it, through a combinational fault site."""
        src = Value.cast(value)
        hit, mask = self._select(m, len(src), kind, block, name)
        out = Signal(src.shape(), name=f"{name}_faulty")
        mode = self.control.mode
        m.d.comb += out.eq(src)
        with m.If(hit & (mode == _STUCK0)):
            m.d.comb += out.eq(src & ~mask)
        with m.If(hit & (mode == _STUCK1)):
            m.d.comb += out.eq(src | mask)
        with m.If(hit & self.flip_now):
            m.d.comb += out.eq(src ^ mask)
        return _like(value, out)

    def register(self, m: Module, register, *, kind, block, name):
        """A register site: stuck-at on what it drives, a flip upsets its stored state.

        Call before the register's own ``m.d.sync`` assignments: a write in the upset cycle
        then wins over the upset, as it would in hardware, and otherwise the flipped bit
        stays stored. Consumers see the flipped bit from the upset cycle on.
        """
        reg = Value.cast(register)
        hit, mask = self._select(m, len(reg), kind, block, name)
        mode = self.control.mode
        upset = Signal(name=f"fault_upset_{name}")
        m.d.comb += upset.eq(hit & self.flip_now)
        with m.If(upset):
            m.d.sync += reg.eq(reg ^ mask)
        out = Signal(reg.shape(), name=f"{name}_faulty")
        m.d.comb += out.eq(reg)
        with m.If(upset):
            m.d.comb += out.eq(reg ^ mask)
        with m.If(hit & (mode == _STUCK0)):
            m.d.comb += out.eq(reg & ~mask)
        with m.If(hit & (mode == _STUCK1)):
            m.d.comb += out.eq(reg | mask)
        return _like(register, out)


def _like(original, value):
    """``value`` with the layout of ``original`` when that is a ``data.View``."""
    return data.View(original.shape(), value) if isinstance(original, data.View) else value

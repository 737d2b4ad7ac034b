"""Deliberately broken blocks, to show that the testbenches catch a wrong design.

Each mutant is one realistic RTL bug, made by overriding one method of a block class
(``mock.patch.object``) while the generator runs: a hook the block has for that reason
(``ProcessingElement.select``, ``ColumnAccumulator.start_value``, ...) or an ``elaborate``
that re-wires one connection after the original ran. ``make mutants``
(:mod:`sense_verif.mutation`) builds each one and runs the regression suites that
exercise its block; docs/flow.md says how to add one.
"""

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from unittest import mock

from amaranth.hdl import Const, Mux, Signal

from sense_hw.abft import ColumnChecker
from sense_hw.accumulator import ColumnAccumulator
from sense_hw.array import PERow, SystolicArray
from sense_hw.core import SenseCore, SenseEngine
from sense_hw.feeder import IfmFeeder
from sense_hw.hierarchy import placed
from sense_hw.output_stage import OutputStage
from sense_hw.packet_rx import PacketReceiver
from sense_hw.pe import ProcessingElement
from sense_models.abft import DIGIT_BITS

from .configs import ABFT_FAULT_CONFIGS, CORE_CONFIGS, FEEDER_CONFIGS, PE_CONFIGS, TOP_CONFIGS

__all__ = ["Mutant", "MUTANTS", "SUITES", "mutant"]

#: suite name -> (configuration, top, cocotb module): regression suites a mutant runs.
SUITES = {
    "pe": (PE_CONFIGS[1], "pe", "sense_verif.test_pe"),
    "core": (CORE_CONFIGS[0], "core", "sense_verif.test_core"),
    "dense": (CORE_CONFIGS[4], "core", "sense_verif.test_core"),
    "abft": (CORE_CONFIGS[5], "core", "sense_verif.test_core"),
    "kernel": (CORE_CONFIGS[7], "core", "sense_verif.test_core"),
    "abft_faults": (ABFT_FAULT_CONFIGS[0], "core", "sense_verif.test_abft"),
    "feeder": (FEEDER_CONFIGS[0], "core", "sense_verif.test_feeder"),
    "top": (TOP_CONFIGS[1], "axi", "sense_verif.test_top"),
    "top_full": (TOP_CONFIGS[0], "axi", "sense_verif.test_top"),
}


@dataclass(frozen=True)
class Mutant:
    """One bug: ``patches`` are ``(class, attribute, replacement)``; ``suites`` (names in
    :data:`SUITES`) run in order until a test fails. ``equivalent`` says why no test can
    tell the mutant from the design, for a mutant that is expected to survive."""

    name: str
    block: str
    description: str
    patches: tuple
    suites: tuple
    equivalent: str = field(default="")


def _rewired(cls, rewire):
    """``cls.elaborate``, then ``rewire(self, m)`` re-drives one connection: a later
    assignment in the same module wins, as a wrong connection would."""
    original = cls.elaborate

    def elaborate(self, platform):
        m = original(self, platform)
        rewire(self, m)
        return m
    return elaborate


def _rows(self, m):
    """``(row index, PERow)`` of a :class:`SystolicArray` being elaborated."""
    return [(i, placed(m, f"row{i}")) for i in range(self.config.rows)]


def _row_pes(self, m):
    """``(column, PE)`` of a :class:`PERow` being elaborated."""
    return [(j, placed(m, f"pe_c{j}")) for j in range(self.config.cols)]


def _psum_from_above_left(self, m):
    rows = _rows(self, m)
    for (_, above), (i, row) in zip(rows, rows[1:]):
        for j in range(1, self.config.cols):
            m.d.comb += row.psum_in[j].eq(above.psum_out[j - 1])


def _bank_from_left_edge(self, m):
    for j, pe in _row_pes(self, m):
        if j:
            m.d.comb += pe.bank_in.eq(self.bank_in)


def _valid_from_left_edge(self, m):
    for j, pe in _row_pes(self, m):
        if j:
            m.d.comb += pe.valid_in.eq(self.valid_in)


def _checksum_after_forward(self, m):
    # column 0's forwarding register, as the checksum PE would see it behind that PE
    for i, _ in _rows(self, m):
        forwarded = Signal.like(self.x_in[i], name=f"x_fwd_r{i}", reset_less=True)
        m.d.sync += forwarded.eq(self.x_in[i])
        m.d.comb += placed(m, f"pe_r{i}_cs").x_in.eq(forwarded)


def _every_row_written(self, m):
    for i, row in _rows(self, m):
        m.d.comb += row.w_en.eq(self.w_en)


def _other_bank_written(self, m):
    for i, row in _rows(self, m):
        m.d.comb += row.w_bank.eq(~self.w_bank)


def _clear_unwired(self, m):
    m.d.comb += placed(m, "engine").clear_status.eq(0)


def _clear_not_held(self, m):
    m.d.comb += placed(m, "engine").clear_status.eq(self.clear_status)


def _inputs_always_ready(self, m):
    m.d.comb += placed(m, "engine").advance.eq(1)


def _highest_set(bits):
    """``(any, index)`` of the highest set bit of ``bits``."""
    index = Const(0, max(1, (len(bits) - 1).bit_length()))
    for p in range(len(bits)):
        index = Mux(bits[p], p, index)
    return bits.any(), index


def _pass_stats_not_restarted(self, m, array, out):
    """``SenseEngine._pass_stats`` whose gated counts never restart at a pass's end."""
    gated = [Signal(32, name=f"gated_bank{b}") for b in range(2)]
    report = out.valid & out.end
    for b in range(2):
        m.d.sync += gated[b].eq(gated[b] + array.gated[b])
    m.d.comb += [self.stats.valid.eq(report),
                 self.stats.payload.issued.eq(out.issued),
                 self.stats.payload.skipped.eq(out.skipped),
                 self.stats.payload.gated.eq(Mux(out.bank, gated[1], gated[0]))]


def _passes_counting_digits(self, m, checker, j):
    """``SenseEngine._checked_passes`` counting every checksum digit, not every pass."""
    count = Signal(16, name=f"passes_checked_c{j}")
    with m.If(checker.valid & checker.check):
        m.d.sync += count.eq(count + 1)
    return count


def _outputs_ignoring_fifo(self, m, engine, advance):
    """``SenseCore._outputs`` whose pipeline advances while the counter FIFO is full."""
    original_outputs(self, m, engine, advance)
    m.d.comb += [advance.eq(~engine.results.valid | self.results.ready),
                 self.results.valid.eq(engine.results.valid)]


original_outputs = SenseCore._outputs


def _unpack_swapping_flags(payload, wire, beat, derived):
    """``PacketReceiver._unpack`` with the derived IFM ``last`` and ``end`` swapped."""
    from amaranth.hdl import Cat
    return original_unpack(payload, wire, beat, Cat(derived[1], derived[0], derived[2]))


original_unpack = PacketReceiver._unpack

PE = ProcessingElement
_M = Mutant
MUTANTS = {m.name: m for m in [
    # -- processing element --------------------------------------------------------------------
    _M("no_index", "pe", "the PE ignores its stationary indices: lane m multiplies x_in[m]",
       ((PE, "select", lambda self, lane, index: self.x_in[lane]),), ("pe", "core")),
    _M("pe_unsigned_ifm", "pe", "the selected IFM value is multiplied as unsigned",
       ((PE, "select", lambda self, lane, index:
         (self.x_in[lane] if index is None else self.x_in[index]).as_unsigned()),),
       ("pe", "core")),
    _M("pe_writes_both_banks", "pe", "a weight write ignores w_bank and overwrites both banks",
       ((PE, "writes_bank", lambda self, bank: self.w_en),), ("pe", "core")),
    _M("pe_drops_last_lane", "pe", "the adder tree leaves out the last multiplier's product",
       ((PE, "partial_sum", lambda self, products: self.psum_in + sum(products[:-1])),),
       ("pe", "core")),
    _M("pe_gates_on_weight", "pe", "zero-operand gating tests the weight instead of the IFM "
       "value (results stay right, the gated counts do not)",
       ((PE, "gates", lambda self, operand, weight: weight == 0),), ("feeder",)),
    # -- array wiring --------------------------------------------------------------------------
    _M("array_psum_diagonal", "array", "a PE below row 0 takes its partial sum from the PE "
       "above-left instead of the one above",
       ((SystolicArray, "elaborate", _rewired(SystolicArray, _psum_from_above_left)),), ("core",)),
    _M("array_bank_not_forwarded", "array", "PEs right of column 0 take the weight bank from "
       "the left edge, not forwarded with the IFM values",
       ((PERow, "elaborate", _rewired(PERow, _bank_from_left_edge)),), ("core",)),
    _M("array_valid_not_forwarded", "array", "feeder builds: PEs right of column 0 take the "
       "issued-vector flag from the left edge (gated counts shift by a cycle per column)",
       ((PERow, "elaborate", _rewired(PERow, _valid_from_left_edge)),), ("feeder",)),
    _M("checksum_after_forward", "abft checker", "the kernel checksum column takes the IFM "
       "values after column 0's forwarding register, one cycle late",
       ((SystolicArray, "elaborate", _rewired(SystolicArray, _checksum_after_forward)),), ("kernel", "abft")),
    # -- weight loader -------------------------------------------------------------------------
    _M("loader_all_rows", "weight loader", "the row decoder is missing: a weight beat is "
       "written into every PE row",
       ((SystolicArray, "elaborate", _rewired(SystolicArray, _every_row_written)),),
       ("core",)),
    _M("loader_wrong_bank", "weight loader", "weights are written into the bank being "
       "computed with, not the free one",
       ((SystolicArray, "elaborate", _rewired(SystolicArray, _other_bank_written)),),
       ("core",)),
    _M("loader_ignores_drain", "weight loader", "a bank takes new weights as soon as its pass "
       "is issued, while its last vectors still pass the right-hand columns",
       ((SenseEngine, "_weights_ready", lambda self, full, drain: self.advance & ~full),),
       ("core", "dense")),
    # -- skew and deskew -----------------------------------------------------------------------
    _M("skew_one_short", "skew", "the IFM skew has one register too few per row",
       ((SenseEngine, "_skew", lambda self, row: row),), ("core",)),
    _M("skew_last_row_late", "skew", "the last row's skew has one register too many",
       ((SenseEngine, "_skew", lambda self, row: row + 1 + (row == self.config.rows - 1)),),
       ("core",)),
    _M("deskew_reversed", "deskew", "the result deskew delays the columns in reverse order",
       ((SenseEngine, "_deskew", lambda self, column: column),), ("core",)),
    # -- accumulators --------------------------------------------------------------------------
    _M("acc_ignores_first", "accumulator", "a pixel's first vector adds to the stored sum "
       "instead of starting from zero",
       ((ColumnAccumulator, "start_value", lambda self, stored: stored),), ("core",)),
    _M("acc_restarts_on_last", "accumulator", "the sum restarts on the pixel's last vector "
       "instead of its first",
       ((ColumnAccumulator, "start_value", lambda self, stored: Mux(self.last, 0, stored)),),
       ("core",)),
    _M("acc_stores_last", "accumulator", "the accumulator also writes the total of a pixel's "
       "last vector back",
       ((ColumnAccumulator, "stores", lambda self: self.valid),), ("core", "abft"),
       equivalent="the stored total is never read: the next vector of that tag is the next "
                  "pixel tile's first, which starts from zero (start_value) instead of the "
                  "stored sum, and its write replaces the value; with abft='both' last is "
                  "already forced low, so every vector stores anyway"),
    # -- IFM feeder ----------------------------------------------------------------------------
    _M("feeder_keeps_lanes", "feeder", "the feeder ignores the table's lane column: every "
       "element stays in its lane",
       ((IfmFeeder, "source_lane", lambda self, lane, entry: lane),), ("feeder",)),
    _M("feeder_highest_first", "feeder", "a pass issues its live pixels highest first",
       ((IfmFeeder, "pick", lambda self, remaining: _highest_set(remaining)),), ("feeder",)),
    _M("feeder_gated_not_restarted", "feeder", "the per-pass gated-multiply counters never "
       "restart at a pass's end",
       ((SenseEngine, "_pass_stats", _pass_stats_not_restarted),), ("feeder",)),
    # -- ABFT checkers -------------------------------------------------------------------------
    _M("checker_digit_weight", "abft checker", "checksum digit k is weighed 2**(7(k+1)) "
       "instead of 2**(7k)",
       ((ColumnChecker, "digit_shift", lambda self, k: DIGIT_BITS * (k + 1)),),
       ("abft", "abft_faults")),
    _M("checker_sign_only", "abft checker", "the pixel-side check flags only negative "
       "syndromes (a sign test for a non-zero test)",
       ((ColumnChecker, "flags", lambda self, syndrome: syndrome < 0),),
       ("abft", "abft_faults")),
    _M("checker_narrow_compare", "abft checker", "the pixel-side check compares only the "
       "syndrome's low 16 bits with zero",
       ((ColumnChecker, "flags", lambda self, syndrome: syndrome[:16] != 0),),
       ("abft", "abft_faults")),
    # -- correction ----------------------------------------------------------------------------
    _M("correct_adds_syndrome", "correction", "the correction adds the syndrome instead of "
       "subtracting it",
       ((SenseEngine, "_corrected", lambda self, value, syndrome: value + syndrome),),
       ("abft", "abft_faults")),
    _M("correct_never", "correction", "the correction never fires (the located column's "
       "syndrome is compared with the wrong sign)",
       ((SenseEngine, "_fixes", lambda self, emit, located, syndrome:
         emit & (located.count == 1) & (syndrome == -located.syndrome) & (syndrome != 0)),),
       ("abft", "abft_faults")),
    _M("correct_without_nonzero", "correction", "the correction drops its 'kernel syndrome "
       "non-zero' term",
       ((SenseEngine, "_fixes", lambda self, emit, located, syndrome:
         emit & (located.count == 1) & (syndrome == located.syndrome)),),
       ("abft", "abft_faults"),
       equivalent="a located column always has a non-zero syndrome (a checker flags only a "
                  "non-zero one), so syndrome == located.syndrome already implies it; a "
                  "fault that zeroes the stored summary's syndrome makes the fix subtract 0"),
    # -- status --------------------------------------------------------------------------------
    _M("status_pass_counts_digits", "status", "the pass number of the first pixel-side "
       "mismatch counts checksum digits, not passes",
       ((SenseEngine, "_checked_passes", _passes_counting_digits),), ("abft", "abft_faults")),
    _M("status_clear_ignored", "status", "clear_status is not wired to the engine",
       ((SenseCore, "elaborate", _rewired(SenseCore, _clear_unwired)),),
       ("abft", "abft_faults")),
    _M("status_clear_lost_in_stall", "status", "a clear_status pulse during an output stall "
       "is lost (not held until the pipeline advances)",
       ((SenseCore, "elaborate", _rewired(SenseCore, _clear_not_held)),), ("abft", "abft_faults")),
    # -- handshakes ----------------------------------------------------------------------------
    _M("inputs_ignore_stall", "handshake", "the input streams' ready ignores the output stall "
       "(beats are taken while the pipeline holds)",
       ((SenseCore, "elaborate", _rewired(SenseCore, _inputs_always_ready)),),
       ("core",)),
    _M("stats_fifo_ignored", "handshake", "feeder builds: the pipeline advances while the "
       "counter FIFO is full, so counter beats are lost",
       ((SenseCore, "_outputs", _outputs_ignoring_fifo),), ("feeder",)),
    # -- output stage and packet receiver (sense_top) ------------------------------------------
    _M("out_truncates", "output stage", "the rounding shift truncates instead of rounding "
       "half up",
       ((OutputStage, "rounding", lambda self, y, half, shift: y >> shift),), ("top",)),
    _M("out_wraps", "output stage", "the output stage wraps instead of saturating",
       ((OutputStage, "saturate", lambda self, value, hi, lo: value),), ("top",)),
    _M("rx_ifm_flags_swapped", "packet receiver", "the receiver derives an IFM beat's last "
       "and end flags into each other's place",
       ((PacketReceiver, "_unpack", staticmethod(_unpack_swapping_flags)),), ("top_full",)),
]}


@contextmanager
def mutant(name):
    """While active, the generator builds the named mutant instead of the real design."""
    with ExitStack() as stack:
        for cls, attribute, replacement in MUTANTS[name].patches:
            stack.enter_context(mock.patch.object(cls, attribute, replacement))
        yield

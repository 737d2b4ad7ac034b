"""cocotb tests of the ABFT checks on a fault-injection build with ``abft="both"``.

The fault-free regression proves the checks raise no false alarm; these inject faults at
named sites and check what the checks must then do: a single upset in a data column is
located, corrected (the outputs stay bit-exact) and reported with matching syndromes; a
stuck multiplier is reported in its column from the first pass; ``clear_status`` clears
the status even when pulsed while the outputs stall; an upset of the control state's second
copy is a control error, and its count saturates.
"""

import json
import os
from pathlib import Path

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from sense_models.formats import fault_format, status_format
from sense_models.workloads import random_layer

from .tb_core import CoreTB, case_rng

STUCK_AT_1, FLIP = 2, 3
#: Upset bits: a low one, and one above 16 (a comparator narrower than the syndrome misses it).
UPSET_BITS = (3, 20)


def site(config, block, signal):
    """The fault site number of ``block``'s ``signal`` (the build's manifest lists them)."""
    manifest = json.loads((Path.cwd() / "rtl" / "manifest.json").read_text())
    for entry in manifest["fault_sites"]:
        if entry["block"] == block and entry["signal"] == signal:
            return entry["site"]
    raise LookupError(f"no fault site {block}.{signal} in {config.name}")


def status(tb):
    word = tb.dut.status.value.to_unsigned()
    return {k: int(v[0]) for k, v in status_format(tb.config).unpack([word]).items()}


#: The status's saturating counts (``control_errors`` only with ``abft="both"``).
STATUS_COUNTS = ("pixel_errors", "kernel_errors", "corrected", "control_errors")


def set_status_counts(engine, config, value):
    """Every count of :data:`STATUS_COUNTS` the build has set to ``value`` in ``engine``'s
    status register, through the simulator (the other fields keep theirs); returns the
    names set. A layer cannot reach the counts' high bits: 2**16 mismatches."""
    fmt = status_format(config)
    register = engine.status
    word = register.value.to_unsigned()
    names = [f.name for f in fmt.fields if f.name in STATUS_COUNTS]
    for name in names:
        offset, bits = fmt.offset(name), fmt[name].bits
        word = word & ~(((1 << bits) - 1) << offset) | (value << offset)
    register.value = word
    return names


async def upset_data_psum(engine, config, column, delta, vector):
    """At the ``vector``-th data vector (not a checksum digit) that leaves the bottom PE of
    ``column`` after the call, add ``delta`` to its partial sum through the simulator (a
    single-event upset in a build without fault sites): both checks see it."""
    clk = engine.clk
    checker = getattr(engine, f"check_c{column}")
    seen = 0
    while seen <= vector:
        await RisingEdge(clk)
        seen += int(checker.valid.value) == 1 and int(checker.check.value) == 0
    await FallingEdge(clk)
    bottom = getattr(engine.array, f"row{config.rows - 1}")
    psum = getattr(bottom, f"pe_c{column}").psum_out
    psum.value = (psum.value.to_unsigned() + delta) % (1 << len(psum))


def data_upsets(config):
    """``(column, delta)`` of the upsets the correction tests make: plus and minus one in
    every column (a syndrome of -1 sets every bit of the tile summary it passes through),
    then a high bit each way."""
    return [(j, sign) for j in range(config.cols) for sign in (1, -1)] + \
        [(0, 1 << (config.acc_width - 2)), (config.cols - 1, -(1 << (config.acc_width // 2)))]


async def faulted_run(tb, x, w, fault, *, rng, backpressure=0.0):
    """One layer with ``fault`` active; returns ``(outputs bit-exact, status)``."""
    tb.dut.fault.value = int(fault_format(tb.config).pack(
        **{k: [v] for k, v in fault.items()})[0])
    tb.dut.clear_status.value = 0
    try:
        await tb.run_layer(x, w, rng=rng, backpressure=backpressure, clean=False)
        exact = True
    except AssertionError as error:
        if "differ from the golden model" not in str(error):
            raise
        exact = False
    return exact, status(tb)


@cocotb.test()
async def test_single_upset_is_corrected(dut):
    """Upsets of a bottom-row partial sum of column 1, one start cycle after another: the
    outputs stay exact, and every corrected run reports column 1 and equal syndromes of
    plus or minus ``2**bit``; each bit gets corrected at least once."""
    tb = CoreTB(dut)
    cfg, rng = tb.config, case_rng("abft-upset")
    x, w = random_layer(cfg, rng, "exact")
    number = site(cfg, f"pe_r{cfg.rows - 1}_c1", "psum_reg")
    for bit in UPSET_BITS:
        corrected = 0
        for start in range(20, 36):
            fault = {"site": number, "bit": bit, "mode": FLIP, "start": start}
            exact, got = await faulted_run(tb, x, w, fault, rng=rng)
            assert exact, f"silent data corruption: {fault}, status {got}"
            if got["corrected"]:
                corrected += 1
                assert got["corrected"] == 1 and got["error"], got
                assert (got["pixel_errors"], got["kernel_errors"]) == (1, 1), got
                assert got["pixel_column"] == 1, got
                assert got["pixel_syndrome"] == got["kernel_syndrome"], got
                assert abs(got["pixel_syndrome"]) == 1 << bit, got
        dut._log.info("bit %d: %d of 16 upsets corrected", bit, corrected)
        assert corrected, f"no upset of bit {bit} was corrected"


@cocotb.test()
async def test_stuck_multiplier_is_reported(dut):
    """A multiplier of the last column stuck at 1 on bit 0 from reset: the first pixel-side
    mismatch is in that column and in pass 0 (zero products turn into ones there), the
    kernel side sees it too, and the outputs are wrong (nothing to correct it with)."""
    tb = CoreTB(dut)
    cfg, rng = tb.config, case_rng("abft-stuck")
    x, w = random_layer(cfg, rng, "exact")
    column = cfg.cols - 1
    fault = {"site": site(cfg, f"pe_r0_c{column}", "product0"), "bit": 0, "mode": STUCK_AT_1,
             "start": 0}
    exact, got = await faulted_run(tb, x, w, fault, rng=rng)
    assert not exact and got["error"], got
    assert got["pixel_column"] == column and got["pixel_pass"] == 0, got
    assert got["pixel_errors"] > 0 and got["kernel_errors"] > 0, got


@cocotb.test()
async def test_clear_status_during_a_stall(dut):
    """After a corrected upset, ``clear_status`` pulsed in a cycle the outputs stall clears
    every status field (it waits for the pipeline to advance, it is not lost)."""
    tb = CoreTB(dut)
    cfg, rng = tb.config, case_rng("abft-clear")
    x, w = random_layer(cfg, rng, "exact")
    number = site(cfg, f"pe_r{cfg.rows - 1}_c1", "psum_reg")
    stalled_clears = 0
    for start in range(20, 36):
        cleared = {"stalled": False}
        watcher = cocotb.start_soon(_clear_when_stalled(tb, cleared))
        fault = {"site": number, "bit": UPSET_BITS[0], "mode": FLIP, "start": start}
        exact, got = await faulted_run(tb, x, w, fault, rng=rng, backpressure=0.5)
        watcher.cancel()
        assert exact, f"silent data corruption: {fault}"
        if not cleared["stalled"]:
            continue
        stalled_clears += 1
        assert not any(got.values()), f"status left after a clear during a stall: {got}"
    dut._log.info("%d of 16 runs cleared the status during a stall", stalled_clears)
    assert stalled_clears, "no run had a stalled cycle after its correction"


async def _clear_when_stalled(tb, cleared):
    """Pulse ``clear_status`` for one cycle in which a result waits for ``ready``, once the
    run's correction has been counted."""
    dut = tb.dut
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        stall = dut.results__valid.value == 1 and dut.results__ready.value == 0
        if stall and status(tb)["corrected"]:
            break
    await FallingEdge(dut.clk)
    dut.clear_status.value = 1
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.clear_status.value = 0
    cleared["stalled"] = True


async def _preset_after_reset(tb, cycle, counts):
    """Once the run's reset is over: the cycle count at ``cycle``, every status count at
    ``counts`` (the fault's start is compared with the cycle count: it moves with it)."""
    await FallingEdge(tb.dut.rst)
    tb.dut.cycle.value = cycle
    set_status_counts(tb.dut.engine, tb.config, counts)


@cocotb.test()
async def test_control_state_upsets(dut):
    """The second copy of the bank state holds nothing the data uses: a flip of it (bank
    0's drain count) is a control error for the cycles until both copies have counted
    down, with no data error, no correction and exact outputs, and ``clear_status`` then
    clears every field; stuck (the issue bank's copy), it keeps the copies apart and
    ``control_errors`` saturates at 0xFFFF instead of wrapping (the counts start there).
    The cycle count starts from bit patterns and the fault's start moves with it: a flip
    is flagged in the cycle it happens or just after."""
    tb = CoreTB(dut)
    cfg, rng = tb.config, case_rng("abft-control")
    x, w = random_layer(cfg, rng, "exact")
    wrong = int(os.environ.get("SENSE_CORRUPT_EXPECTED", "0") == "1")
    number = site(cfg, "engine", "issue_bank_shadow")
    drain = site(cfg, "engine", "bank0_drain_shadow")
    for cycle, counts, fault in (
            (0xAAAA_AAAA, 0, {"site": drain, "bit": 0, "mode": FLIP}),
            (0x5555_5555, 0, {"site": drain, "bit": 0, "mode": FLIP}),
            (0xFFFF_0000, 0xFFFF, {"site": number, "bit": 0, "mode": STUCK_AT_1})):
        fault["start"] = (cycle + 20) % (1 << 32)
        preset = cocotb.start_soon(_preset_after_reset(tb, cycle, counts))
        exact, got = await faulted_run(tb, x, w, fault, rng=rng)
        await preset
        dut._log.info("%s from cycle %#x, counts from %#x: %s", fault, cycle, counts, got)
        assert exact and got["error"], f"{fault}: exact {exact}, status {got}"
        data = ("pixel_errors", "kernel_errors", "corrected")
        assert all(got[name] == counts for name in data), got
        if counts:
            assert got["control_errors"] == 0xFFFF - wrong, got
        else:
            assert 1 <= got["control_errors"] + wrong <= cfg.cols, got
        # a flip disagrees at once; a stuck copy once the bank it copies leaves that value
        soon = 4 if fault["mode"] == FLIP else 500
        assert 0 <= got["first_cycle"] - fault["start"] <= soon, got
        if counts:  # a stuck copy keeps disagreeing: nothing to clear
            continue
        dut.clear_status.value = 1
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.clear_status.value = 0
        await ClockCycles(dut.clk, 3)
        assert not any(status(tb).values()), f"clear_status left {status(tb)}"

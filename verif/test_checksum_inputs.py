"""cocotb tests of the ABFT checks against checksums that do not match the data.

The fault-free regression shows the checks stay quiet; a fault-injection build shows they
ring on a fault in the array. These run on the ordinary (uninstrumented) builds: the host
supplies the checksums (the pixel side's digit vectors on the ``pixels`` stream, the kernel
side's checksum weights on the ``weights`` stream), so a corrupted checksum is an error the
check must report, in the right pass, with a syndrome that is a multiple of the corruption,
while the outputs stay exact and nothing is "corrected" (only one side disagrees). The
status counts preset to 0xFFFF must saturate and ``clear_status`` clear the whole status;
on builds that correct, an upset of a data vector's partial sum (written through the
simulator) must be located and corrected.
"""

import dataclasses
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from sense_models.tiling import schedule_layer
from sense_models.workloads import feeder_layer, random_layer

from .tb_core import CoreTB, case_rng, env_config
from .tb_feeder import FeederTB
from .test_abft import data_upsets, set_status_counts, status, upset_data_psum

#: Corrupted runs per checked side: each with another pass, digit and value.
RUNS = 8

#: What the status counters start from in each run (32-bit cycle and result-beat counts,
#: 16-bit pass counts): their high bits would otherwise need 2**16 passes or 2**32 cycles.
#: The status must report the preset plus the run's own count.
PRESETS = ((0, 0), (0xFFFF_0000, 0xFF00), (0xAAAA_AAAA, 0xAAAA), (0x5555_5555, 0x5555))


async def preset_counters(dut, wide, narrow):
    """Once the run's reset is over, start the core's cycle count, the engine's result-beat
    count and its per-column pass counts from ``wide``/``narrow`` (through the simulator,
    as a fault injector writes a flip-flop). Returns the names preset."""
    await FallingEdge(dut.rst)
    handles = {"cycle": getattr(dut, "cycle", None),
               "beats": getattr(dut.engine, "beats", None),
               **{f"passes_checked_c{j}": getattr(dut.engine, f"passes_checked_c{j}", None)
                  for j in range(env_config().cols)}}
    for name, handle in handles.items():
        if handle is not None:
            handle.value = narrow if name.startswith("passes") else wide
    return {name for name, handle in handles.items() if handle is not None}


def _pass_of(pixels, beat):
    """The pass (counted from 0) that pixel beat ``beat`` belongs to."""
    return int(np.count_nonzero(pixels["end"][:beat]))


def corrupt_digits(config, pixels, rng):
    """The pixel beats with every element of one digit vector changed; returns ``(pixels,
    pass, smallest change)``. Digits stay in their range (the top one signed)."""
    beats = {key: value.copy() for key, value in pixels.items()}
    beat = int(rng.choice(np.flatnonzero(beats["check"])))
    top = beats["digit"][beat] == config.check_digits - 1
    lo, hi = (-128, 127) if top else (0, 127)
    old = beats["data"][beat]
    new = rng.integers(lo, hi + 1, old.shape)
    new[new == old] = np.where(old[new == old] == hi, lo, hi)  # every element changes
    beats["data"][beat] = new
    return beats, _pass_of(beats, beat), int(np.abs(new - old).min())


def corrupt_checksum_weights(config, weights, rng):
    """The weight beats with every kernel-checksum weight changed by plus or minus
    ``delta`` (one row alone may only meet padding, whose activations are 0), each within
    its field; returns ``(weights, delta)``."""
    beats = {key: value.copy() for key, value in weights.items()}
    limit = 1 << (config.checksum_weight_width - 1)
    old = np.asarray(beats["checksum"], dtype=np.int64)  # no wrap in a narrow dtype
    delta = 1 << int(rng.integers(0, config.weight_width))
    up = old + delta < limit  # the field is more than twice delta wide: one way fits
    new = np.where(up, old + delta, old - delta)
    assert ((new >= -limit) & (new < limit)).all(), f"checksum weights {old} +- {delta}"
    beats["checksum"] = new
    return beats, delta


async def corrupted_run(tb, layer, rng, streams, presets=(0, 0)):
    """One layer with replaced streams and the counters preset: the outputs must be exact;
    returns the status and the names of the counters preset."""
    preset = cocotb.start_soon(preset_counters(tb.dut, *presets))
    if tb.config.feeder:
        await tb.run_schedule(dataclasses.replace(layer, **streams), rng=rng, clean=False)
    else:
        await tb.run_layer(*layer, rng=rng, clean=False, streams=streams)
    return status(tb), await preset


def new_layer(tb, rng):
    """A layer and its schedule: ``(x, w)`` on a streamed build, the feeder's schedule of
    a layer without zeros on a feeder build (every vector carries the changed checksum)."""
    if tb.config.feeder:
        x, w, channels, kernel_area = feeder_layer(tb.config, rng, "no_zeros")
        schedule = tb.schedule(x, w, channels, kernel_area)
        return schedule, schedule
    x, w = random_layer(tb.config, rng, "exact")
    return (x, w), schedule_layer(tb.config, x, w)


@cocotb.test()
async def test_corrupted_checksums_raise_the_alarm(dut):
    """Streamed pixel-side builds: a changed digit vector raises a pixel-side error in its
    pass (feeder builds make their digits themselves).
    Kernel-side builds: changed checksum weights raise kernel-side errors whose syndrome
    is a multiple of the change. Neither touches the outputs or counts a correction."""
    tb = FeederTB(dut) if env_config().feeder else CoreTB(dut)
    cfg, rng = tb.config, case_rng("checksum-inputs")
    assert cfg.abft != "none", f"{cfg.name} has no checks"
    wrong = int(os.environ.get("SENSE_CORRUPT_EXPECTED", "0") == "1")  # the test can fail
    for run in range(RUNS):
        layer, schedule = new_layer(tb, rng)
        wide, narrow = presets = PRESETS[run % len(PRESETS)]
        if cfg.pixel_check and not cfg.feeder:  # the feeder makes its own digits
            pixels, bad_pass, _ = corrupt_digits(cfg, schedule.pixels, rng)
            got, preset = await corrupted_run(tb, layer, rng, {"pixels": pixels}, presets)
            dut._log.info("digits of pass %d changed: %s", bad_pass, got)
            assert got["error"] and got["pixel_errors"] >= 1, got
            first = (narrow if "passes_checked_c0" in preset else 0) + bad_pass
            assert got["pixel_pass"] == first + wrong, f"pass {bad_pass}: {got}"
            assert got["pixel_syndrome"] != 0 and got["kernel_errors"] == 0, got
            assert got["corrected"] == 0, f"a pixel-side error alone was corrected: {got}"
            _check_counts(got, preset, wide, ("first_cycle",))
        if cfg.kernel_check:
            weights, delta = corrupt_checksum_weights(cfg, schedule.weights, rng)
            got, preset = await corrupted_run(tb, layer, rng, {"weights": weights}, presets)
            dut._log.info("checksum weights changed by %d: %s", delta, got)
            assert got["error"] and got["kernel_errors"] >= 1, got
            assert got["kernel_syndrome"] % delta == 0 and got["kernel_syndrome"] != 0, \
                f"change {delta}: {got}"
            assert got["pixel_errors"] == wrong and got["corrected"] == 0, got
            _check_counts(got, preset, wide, ("first_cycle", "kernel_beat"))


def _check_counts(got, preset, wide, fields):
    """The status's cycle and beat fields count on from the preset, within one layer."""
    for field in fields:
        counter = {"first_cycle": "cycle", "kernel_beat": "beats"}[field]
        start = wide if counter in preset else 0
        assert 0 <= got[field] - start < 100_000, \
            f"{field} {got[field]:#x} does not count on from {start:#x}: {got}"


#: Cycles after reset at which the checker upsets land, one run each: from the first pass
#: to the last digits of the layer (an upset between passes is overwritten: no alarm).
UPSET_CYCLES = tuple(range(8, 72, 4))


async def upset_checker(dut, column, delta, cycle):
    """``cycle`` cycles after the run's reset, add ``delta`` to column ``column``'s
    running difference (a single-event upset of the checker's register)."""
    await FallingEdge(dut.rst)
    await ClockCycles(dut.clk, cycle)
    await FallingEdge(dut.clk)
    difference = getattr(dut.engine, f"check_c{column}").difference
    width = len(difference)
    value = difference.value.to_signed() + delta
    difference.value = (value + (1 << width)) % (1 << width)


@cocotb.test()
async def test_checker_upset_is_reported_in_its_column(dut):
    """Pixel-side builds, the feeder's too: an upset of one column checker's running
    difference is a pixel-side error of exactly that column, with the upset as its
    syndrome; the outputs stay exact and nothing is corrected (the kernel side, if any,
    agrees with the data)."""
    tb = FeederTB(dut) if env_config().feeder else CoreTB(dut)
    cfg, rng = tb.config, case_rng("checker-upset")
    if not cfg.pixel_check:
        return
    wrong = int(os.environ.get("SENSE_CORRUPT_EXPECTED", "0") == "1")
    reported = 0
    for run, cycle in enumerate(UPSET_CYCLES):
        layer, _ = new_layer(tb, rng)
        column = run % cfg.cols
        delta = (-1) ** run * (1 << (run * 7 % (cfg.acc_width - 1)))
        upset = cocotb.start_soon(upset_checker(dut, column, delta, cycle))
        got, _ = await corrupted_run(tb, layer, rng, {})
        await upset
        dut._log.info("column %d %+d at cycle %d: %s", column, delta, cycle, got)
        if not got["error"]:
            continue
        reported += 1
        assert (got["pixel_errors"], got["pixel_column"]) == (1, column + wrong), got
        assert got["pixel_syndrome"] == delta and got["kernel_errors"] == 0, got
        assert got["corrected"] == 0, got
    assert reported >= len(UPSET_CYCLES) // 2, \
        f"only {reported} of {len(UPSET_CYCLES)} checker upsets were reported"


async def saturate_counts(tb):
    """Once the run's reset is over, every status count at its saturation value."""
    await FallingEdge(tb.dut.rst)
    return set_status_counts(tb.dut.engine, tb.config, 0xFFFF)


async def clear_status(tb):
    """Pulse the core's ``clear_status`` for a cycle; returns the status a few cycles on
    (the clear waits for a cycle the engine advances; the core is idle here)."""
    await FallingEdge(tb.dut.clk)
    tb.dut.clear_status.value = 1
    await RisingEdge(tb.dut.clk)
    await FallingEdge(tb.dut.clk)
    tb.dut.clear_status.value = 0
    await ClockCycles(tb.dut.clk, 3)
    return status(tb)


@cocotb.test()
async def test_counts_saturate_and_clear(dut):
    """Every saturating count of the status starts a run with corrupted checksums at
    0xFFFF (through the simulator, after the reset), the cycle, beat and pass counters at
    bit patterns: the mismatches leave the counts at 0xFFFF (they saturate, they do not
    wrap), flag the error in a cycle counted on from the preset, and record no first
    mismatch (the counts say earlier ones were seen). ``clear_status`` then clears the
    whole status word. The counts' bits go both ways, which 2**16 mismatches would take."""
    tb = FeederTB(dut) if env_config().feeder else CoreTB(dut)
    cfg, rng = tb.config, case_rng("status-saturate")
    wrong = int(os.environ.get("SENSE_CORRUPT_EXPECTED", "0") == "1")
    # One side per run: both at once could look like one located error and be "corrected".
    sides = ["pixels"] * (cfg.pixel_check and not cfg.feeder) + ["weights"] * cfg.kernel_check
    for run, presets in enumerate(PRESETS[2:]):
        layer, schedule = new_layer(tb, rng)
        side = sides[run % len(sides)] if sides else None
        streams = {}
        if side == "pixels":
            streams["pixels"] = corrupt_digits(cfg, schedule.pixels, rng)[0]
        elif side == "weights":
            streams["weights"] = corrupt_checksum_weights(cfg, schedule.weights, rng)[0]
        else:  # the feeder makes its own digits: checker upsets instead, one mid-pass
            for cycle in UPSET_CYCLES[2::3]:
                cocotb.start_soon(upset_checker(dut, 0, 1, cycle))
        saturated = cocotb.start_soon(saturate_counts(tb))
        got, preset = await corrupted_run(tb, layer, rng, streams, presets)
        names = await saturated
        dut._log.info("counts %s preset to 0xFFFF: %s", names, got)
        assert got["error"], f"no mismatch flagged: {got}"
        assert all(got[name] == 0xFFFF - wrong for name in names), got
        assert got["pixel_pass"] == got["pixel_syndrome"] == 0, got
        assert got["kernel_beat"] == got["kernel_syndrome"] == 0, got
        _check_counts(got, preset, presets[0], ("first_cycle",))
        cleared = await clear_status(tb)
        assert not any(cleared.values()), f"clear_status left {cleared}"


@cocotb.test()
async def test_data_upset_is_corrected(dut):
    """Builds that correct (``abft="both"``, the feeder's too): an upset of a data vector's
    partial sum at the bottom of a column, through the simulator, is one pixel-side and
    one kernel-side error with equal syndromes of plus or minus the upset, located in
    that column and corrected: the outputs stay exact."""
    tb = FeederTB(dut) if env_config().feeder else CoreTB(dut)
    cfg, rng = tb.config, case_rng("data-upset")
    if not cfg.corrects:
        return
    wrong = int(os.environ.get("SENSE_CORRUPT_EXPECTED", "0") == "1")
    for run, (column, delta) in enumerate(data_upsets(cfg)):
        layer, _ = new_layer(tb, rng)
        upset = cocotb.start_soon(upset_data_psum(dut.engine, cfg, column, delta, run % 3))
        got, _ = await corrupted_run(tb, layer, rng, {})
        await upset
        dut._log.info("column %d %+d: %s", column, delta, got)
        assert (got["corrected"], got["pixel_errors"], got["kernel_errors"]) == \
            (1, 1, 1 + wrong), got
        assert got["pixel_column"] == column and abs(got["pixel_syndrome"]) == abs(delta), got
        assert got["kernel_syndrome"] == got["pixel_syndrome"], got

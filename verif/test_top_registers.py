"""cocotb tests of ``sense_top``'s register file and counters beyond what a few layers reach.

The 64-bit counters would need 2**32 events before their high words change, so the tests
preset them through the simulator (a write to the counter flip-flops, as a fault injector
would): a bit pattern must read back unchanged through the low/high word pair, and a
counter preset to all ones must wrap to exactly the events of one layer (the carry crosses
all 64 bits). AW and W handshakes come in either order, with every ``prot`` value, and
byte reads at unaligned addresses. Streamed builds also take every malformed pixel
sequence of :data:`sense_models.workloads.MALFORMED_CASES` as packets and report the
model's code in PROTOCOL; builds with the pixel-side check report a checker upset in the
ABFT registers; builds that correct report a corrected data upset and a control-state
upset there; feeder builds' gated-multiply counts carry through all 32 bits into
GATED_MULTS.
"""

import dataclasses
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiProt

from sense_hw.top import COUNTERS
from sense_models.driver import Driver, _streamed_packets, lower, plan_layer
from sense_models.network import QuantLayer
from sense_models.protocol import check_pixel_stream
from sense_models.workloads import MALFORMED_CASES, malformed_pixels

from .tb_core import case_rng
from .tb_top import RtlBackend
from .test_abft import data_upsets, set_status_counts, upset_data_psum
from .test_top import expect_clean, random_layer, started

#: Walking and alternating patterns: every bit of a 64-bit counter both ways.
PATTERNS = (0xAAAA_AAAA_5555_5555, 0x5555_5555_AAAA_AAAA, (1 << 64) - 1, 0,
            0x8000_0001_8000_0001, 0x0123_4567_89AB_CDEF)

ALL_ONES = (1 << 64) - 1

#: Starting points of the core's 32-bit cycle count and 16-bit pass counts.
PRESET_COUNTS = ((0xFFFF_0000, 0xFF00), (0x5555_0000, 0x5500), (0xAAAA_0000, 0xAA00),
                 (0, 0))


def _corrupt():
    """``SENSE_CORRUPT_EXPECTED=1`` makes every expectation one off (the tests must fail)."""
    return int(os.environ.get("SENSE_CORRUPT_EXPECTED", "0") == "1")


def counter_flop(dut, name):
    """The flip-flop of counter ``name``: Amaranth names it after the register-file port it
    drives (``regs_<name>``) where that port is its only reader, else after the counter."""
    for candidate in (f"regs_{name}", name):
        if hasattr(dut, candidate):
            return getattr(dut, candidate)
    raise AttributeError(f"no flip-flop for counter {name}")


def preset(tb, value):
    """Write ``value`` into every counter flip-flop (takes effect in this cycle)."""
    for name in COUNTERS:
        counter_flop(tb.dut, name).value = value


@cocotb.test()
async def test_counter_bits_read_back(dut):
    """Idle counters preset to bit patterns read back exactly, low word then high word."""
    tb = await started(dut)
    for pattern in PATTERNS:
        await RisingEdge(dut.clk)
        preset(tb, pattern)
        await RisingEdge(dut.clk)
        got = await tb.counters()
        want = pattern + _corrupt()
        assert all(value == want for value in got.values()), \
            f"preset {pattern:#018x}: read " + ", ".join(f"{k} {v:#x}" for k, v in got.items())


@cocotb.test()
async def test_counters_wrap_after_all_ones(dut):
    """Counters preset to all ones, then one layer: each wraps to its event count less one
    (LAYERS_DONE to 0, PACKETS_IN to the packets less one); one that saw no event stays at
    all ones. A carry lost at any bit leaves a value of 2**32 or more."""
    rng = case_rng("top-wrap")
    tb = await started(dut)
    await RisingEdge(dut.clk)
    preset(tb, ALL_ONES)
    driver = Driver(tb.config, RtlBackend(tb))
    await driver.run_layer_async(*random_layer(tb.config, rng, "wrap"))
    job, _ = driver.log[-1]
    counters = await tb.counters()
    assert counters["LAYERS_DONE"] == 0 + _corrupt(), counters
    assert counters["PACKETS_IN"] == len(job.packets) - 1, counters
    for name, value in counters.items():
        assert value == ALL_ONES or value < 1 << 32, \
            f"{name} = {value:#x}: the wrap did not carry through all 64 bits"
    assert counters["BUSY_CYCLES"] < 1 << 32, "BUSY_CYCLES did not count"
    await expect_clean(tb)


@cocotb.test()
async def test_write_channel_orders(dut):
    """A write whose W comes after its AW, one whose AW comes after its W, under every
    ``prot``: each lands once and reads back; byte reads at every lane give its bytes."""
    tb = await started(dut)
    control = tb.offset("CONTROL")
    channels = {"aw_first": tb.axil.write_if.w_channel, "w_first": tb.axil.write_if.aw_channel}
    value = 1
    for prot in range(8):
        for order, held in channels.items():
            value ^= 1
            held.pause = True
            write = cocotb.start_soon(tb.axil.write(control, value.to_bytes(4, "little"),
                                                    prot=AxiProt(prot)))
            await ClockCycles(dut.clk, 4)
            assert not write.done(), f"{order}: the write finished with half of it held"
            held.pause = False
            await write
            word = await tb.axil.read(control, 4, prot=AxiProt(prot))
            assert int.from_bytes(word.data, "little") == value + _corrupt(), \
                f"{order}, prot {prot}: CONTROL reads {word.data.hex()}, wrote {value}"
    identity = (await tb.axil.read(tb.offset("ID"), 4)).data
    for lane in range(4):
        byte = await tb.axil.read(tb.offset("ID") + lane, 1)
        assert byte.data[0] == identity[lane] + _corrupt(), \
            f"byte {lane} of ID reads {byte.data.hex()}, the word {identity.hex()}"


#: Cases that stop before their broken beat when sent as packets, and what the core waits
#: for: an extra ``end`` closes the pass early, so the core wants the next pass's weights,
#: which the host sends after the rest of this pixel packet (the core's own streams, in
#: :mod:`sense_verif.test_protocol`, reach the broken beat).
WAITING = {"extra_end": "wait_weights"}


def _protocol_layer(config):
    """A 1x1 convolution with two reduction tiles, two kernel tiles and a pixel tile of at
    least two pixels: every malformed case breaks a rule of the pass structure."""
    rng = np.random.default_rng(7)
    channels, kernels = 2 * config.tile_reduction, 2 * config.cols
    weights = rng.integers(-128, 128, (kernels, channels, 1, 1))
    if config.sparse:
        from sense_models.sparsity import prune
        weights = prune(weights.reshape(kernels, -1).T, config.group).T.reshape(weights.shape)
    side = max(2, int(np.ceil(np.sqrt(min(config.acc_depth, 8)))))
    images = rng.integers(-128, 128, (1, channels, side, side))
    return QuantLayer("malformed", weights, np.zeros(kernels, int), 4), images


@cocotb.test()
async def test_malformed_pixel_packets(dut):
    """Streamed builds: each malformed pixel sequence, sent as packets, leaves the code the
    model gives in PROTOCOL and STATUS.error (or, for :data:`WAITING`, says what the core
    waits for); a soft reset clears it and a clean layer follows. Feeder builds generate
    their own pixel stream: nothing to send."""
    tb = await started(dut)
    cfg = tb.config
    if cfg.feeder:
        return
    layer, images = _protocol_layer(cfg)
    job = plan_layer(cfg, layer, lower(layer, images)[0])
    for case in MALFORMED_CASES:
        beats = malformed_pixels(job.schedule.pixels, case)
        want, _ = check_pixel_stream(beats, depth=cfg.acc_depth, digits=cfg.check_digits)
        assert want, f"{case}: the layer breaks no rule, the test cannot see the check"
        broken = dataclasses.replace(job.schedule, pixels=beats)
        packets, _ = _streamed_packets(cfg, layer, broken, raw=False)
        sender = cocotb.start_soon(tb.send(packets))
        await ClockCycles(dut.clk, 40 * sum(len(p) for p in packets) + 200)
        protocol = await tb.fields("PROTOCOL")
        if case in WAITING:
            assert not protocol["error"] and protocol[WAITING[case]] + _corrupt() == 1, \
                f"{case}: PROTOCOL {protocol}, expected no error and {WAITING[case]}"
        else:
            assert protocol["error"] and protocol["code"] == int(want) + _corrupt(), \
                f"{case}: PROTOCOL {protocol}, the model says {want!r}"
            assert (await tb.fields("STATUS"))["error"], f"{case}: STATUS.error is clear"
        sender.cancel()
        tb.abort_input()
        await tb.soft_reset()
        tb.sink.clear()
        assert await tb.read("PROTOCOL") == 0, f"{case}: the soft reset left PROTOCOL set"
        await tb.start()
        dut._log.info("%s: code %d (%s)", case, want, want.name)
    await Driver(cfg, RtlBackend(tb)).run_layer_async(*random_layer(cfg, case_rng("top-mal"),
                                                                    "after"))
    await expect_clean(tb)


async def _upset_checker(dut, column, delta):
    """At the column checker's second pixel vector of a pass (its running difference is
    then mid-pass), add ``delta`` to that difference: a single-event upset."""
    checker = getattr(dut.core.engine, f"check_c{column}")
    seen = 0
    while seen < 2:
        await RisingEdge(dut.clk)
        seen += int(checker.valid.value) == 1 and int(checker.check.value) == 0
    await FallingEdge(dut.clk)
    difference = checker.difference
    width = len(difference)
    difference.value = (difference.value.to_signed() + delta) % (1 << width)


@cocotb.test()
async def test_abft_status_registers(dut):
    """Builds with the pixel-side check: an upset of one column checker's running
    difference in the middle of a layer (the core's cycle and pass counts started from bit
    patterns) shows in STATUS.abft_error and the ABFT registers, read through the bus: one
    pixel-side error, its column, its syndrome, its pass and cycle counted on from the
    presets, nothing corrected; the layer stays exact; COMMAND.clear_status clears them."""
    tb = await started(dut)
    cfg = tb.config
    if not cfg.pixel_check:
        return
    rng = case_rng("top-abft")
    wrong = _corrupt()
    for run in range(6):
        column = run % cfg.cols
        delta = (-1) ** run * (1 << (run * 11 % 31))
        wide, narrow = PRESET_COUNTS[run % len(PRESET_COUNTS)]
        await RisingEdge(dut.clk)
        dut.core.cycle.value = wide
        for j in range(cfg.cols):
            getattr(dut.core.engine, f"passes_checked_c{j}").value = narrow
        await _layer_with_upset(tb, _upset_checker(dut, column, delta), rng, f"upset{run}")
        status, counts = await tb.fields("STATUS"), await tb.fields("ABFT_COUNTS")
        where = await tb.fields("ABFT_PIXEL")
        syndrome = await tb.read("ABFT_PIXEL_SYNDROME")
        first = await tb.read("ABFT_FIRST_CYCLE")
        dut._log.info("column %d %+d: %s %s %s syndrome %#x first cycle %#x", column, delta,
                      status, counts, where, syndrome, first)
        assert status["abft_error"] and not status["error"], status
        assert counts == {"pixel_errors": 1, "kernel_errors": 0}, counts
        assert where["column"] == column + wrong and where["pixel_pass"] >= narrow, where
        assert syndrome == delta % (1 << 32), f"syndrome {syndrome:#x}, upset {delta:+d}"
        assert 0 <= first - wide < 1 << 20, f"first cycle {first:#x}, preset {wide:#x}"
        assert await tb.read("ABFT_CORRECTED") == 0
        await tb.clear_status()
        for name in ("ABFT_COUNTS", "ABFT_PIXEL", "ABFT_PIXEL_SYNDROME", "ABFT_FIRST_CYCLE"):
            assert await tb.read(name) == 0, f"{name} not cleared"
        assert not (await tb.fields("STATUS"))["abft_error"]


async def _layer_with_upset(tb, upset, rng, name):
    """A random layer while ``upset`` waits for its vector; a layer that skips so many
    zero vectors that the upset's vector never comes is replaced by another (the upset
    would wait for ever)."""
    upset = cocotb.start_soon(upset)
    while True:
        await Driver(tb.config, RtlBackend(tb)).run_layer_async(
            *random_layer(tb.config, rng, name))
        if upset.done():
            return
        tb.dut._log.info("%s: the layer ended before the upset, another one", name)


async def _upset_shadow(dut, cycles):
    """``cycles`` cycles on, flip bit 0 of the second copy of bank 0's drain count: the
    copies disagree until both have counted down, and nothing else reads the copy."""
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    shadow = dut.core.engine.bank0_drain_shadow
    shadow.value = shadow.value.to_unsigned() ^ 1


async def _abft_registers(tb):
    names = ("STATUS", "ABFT_COUNTS", "ABFT_PIXEL", "ABFT_CORRECTED")
    got = {name: await tb.fields(name) for name in names}
    for name in ("ABFT_PIXEL_SYNDROME", "ABFT_KERNEL_BEAT", "ABFT_KERNEL_SYNDROME"):
        got[name] = await tb.read(name)
    return got


def _signed(value, bits=32):
    return value - (1 << bits) if value >> (bits - 1) else value


@cocotb.test()
async def test_corrections_and_control_checks(dut):
    """Builds that correct (``abft="both"``): an upset of a data vector's partial sum at the
    bottom of a column is one pixel-side and one kernel-side error with equal syndromes of
    plus or minus the upset, corrected in that column (the layer stays exact);
    a flip of the second copy of the bank state is a control error and nothing else; the
    saturating counts preset to 0xFFFF stay there; COMMAND.clear_status clears them all."""
    tb = await started(dut)
    cfg = tb.config
    if not cfg.corrects:
        return
    rng = case_rng("top-correct")
    wrong = _corrupt()
    for run, (column, delta) in enumerate(data_upsets(cfg)):
        await _layer_with_upset(tb, upset_data_psum(dut.core.engine, cfg, column, delta,
                                                    run % 3), rng, f"fix{run}")
        got = await _abft_registers(tb)
        dut._log.info("column %d %+d: %s", column, delta, got)
        assert got["ABFT_CORRECTED"] == {"corrected": 1 + wrong, "control_errors": 0}, got
        assert got["ABFT_COUNTS"] == {"pixel_errors": 1, "kernel_errors": 1}, got
        assert got["ABFT_PIXEL"]["column"] == column, got
        syndrome = _signed(got["ABFT_PIXEL_SYNDROME"])
        assert abs(syndrome) == abs(delta), got
        assert _signed(got["ABFT_KERNEL_SYNDROME"]) == syndrome, got
        await tb.clear_status()
    for run, counts in enumerate((0, 0xFFFF)):
        upset = cocotb.start_soon(_upset_shadow(dut, 30 + 7 * run))
        if counts:
            await FallingEdge(dut.clk)
            set_status_counts(dut.core.engine, cfg, counts)
        await Driver(cfg, RtlBackend(tb)).run_layer_async(
            *random_layer(cfg, rng, f"control{run}"))
        await upset
        got = await _abft_registers(tb)
        dut._log.info("shadow upset, counts from %#x: %s", counts, got)
        assert got["STATUS"]["abft_error"] and not got["STATUS"]["error"], got
        control = got["ABFT_CORRECTED"]["control_errors"]
        if counts:  # saturated, not wrapped
            assert got["ABFT_CORRECTED"] == {"corrected": counts,
                                             "control_errors": counts + wrong}, got
            assert got["ABFT_COUNTS"] == {"pixel_errors": counts, "kernel_errors": counts}
        else:  # the copies agree again once both drain counts are back at 0
            assert 1 <= control - wrong <= cfg.cols, got
            assert got["ABFT_COUNTS"] == {"pixel_errors": 0, "kernel_errors": 0}, got
        await tb.clear_status()
        got = await _abft_registers(tb)
        assert not got["STATUS"]["abft_error"], got
        assert not any(got["ABFT_CORRECTED"].values()) and not any(got["ABFT_COUNTS"].values())


@cocotb.test()
async def test_gated_counts_carry(dut):
    """Feeder builds: before each layer a bit pattern is added to the 32-bit gated-multiply
    count of the bank the layer's first pass uses, through the simulator (a layer gates a
    few thousand multiplies): GATED_MULTS must grow by the model's count plus the
    pattern, which that pass reports through the core's counter FIFO."""
    tb = await started(dut)
    cfg = tb.config
    if not cfg.feeder:
        return
    rng = case_rng("top-gated")
    driver = Driver(cfg, RtlBackend(tb))
    for run, offset in enumerate((0xAAAA_AAAA, 0x5555_5555, 0xAAAA_AAAA, 0x5555_5555,
                                  0xFFFF_0000, 0x0000_FFFF)):
        before = (await tb.counters())["GATED_MULTS"]
        await FallingEdge(dut.clk)  # idle: the last layer's counts have all left
        engine = dut.core.engine
        count = getattr(engine, f"gated_bank{int(engine.issue_bank.value)}")
        count.value = (count.value.to_unsigned() + offset) % (1 << 32)
        logged = len(driver.log)
        await driver.run_layer_async(*random_layer(cfg, rng, f"gated{run}"))
        jobs = [job for job, _ in driver.log[logged:]]
        want = sum(int(job.schedule.stats["gated"].sum()) for job in jobs) + offset + _corrupt()
        got = (await tb.counters())["GATED_MULTS"] - before
        assert got == want, f"GATED_MULTS grew by {got:#x}, expected {want:#x}"
    await expect_clean(tb)

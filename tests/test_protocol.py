"""The pixels-stream protocol: its model (sense_models.protocol) and the RTL checker."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from sense_hw.protocol import PixelProtocolChecker
from sense_models.config import ArrayConfig
from sense_models.protocol import ProtocolError as E
from sense_models.protocol import check_pixel_stream
from sense_models.tiling import schedule_layer
from sense_models.workloads import (MALFORMED_CASES, SHAPE_CASES, malformed_pixels,
                                    protocol_layer, random_layer)

CONFIGS = [
    ArrayConfig(rows=4, cols=4, group=4, acc_depth=16),
    ArrayConfig(rows=2, cols=3, group=2, acc_depth=8, abft="pixel", sparse=False),
    ArrayConfig(rows=3, cols=3, group=4, acc_depth=16, abft="both"),
]

#: The code each malformed case gives: without / with the pixel-side check's digits.
EXPECTED = {
    "first_never": (E.NOT_OPEN, E.NOT_OPEN),
    "end_never": (E.FLAGS_MIXED, E.DIGITS),
    "tags_zero": (E.TAG_ORDER, E.TAG_ORDER),
    "last_every_pass": (E.NOT_OPEN, E.NOT_OPEN),
    "last_never": (E.UNREAD, E.UNREAD),
    "extra_end": (E.UNREAD, E.DIGITS),
}


def check(config, beats):
    return check_pixel_stream(beats, depth=config.acc_depth, digits=config.check_digits)


def layer_beats(config, seed, case=None):
    rng = np.random.default_rng(seed)
    x, w = random_layer(config, rng, case) if case else protocol_layer(config, rng)
    return schedule_layer(config, x, w).pixels


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("case", SHAPE_CASES)
def test_schedules_keep_the_protocol(config, case):
    assert check(config, layer_beats(config, 1, case)) == (E.NONE, 0)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("case", MALFORMED_CASES)
def test_each_malformed_sequence_breaks_its_rule(config, case):
    code, left_open = check(config, malformed_pixels(layer_beats(config, 2), case))
    assert code == EXPECTED[case][config.check_digits > 0]
    if case == "last_never":  # nothing is ever emitted: the status shows what waits
        assert left_open > 0


def run_checker(config, beats):
    """``(code or 0, open)`` of the RTL checker after taking ``beats`` one per cycle."""
    dut = PixelProtocolChecker(depth=config.acc_depth, digits=config.check_digits)
    fields = ("tag", "first", "last", "end") + (("check", "digit") if config.check_digits
                                                 else ())
    out = {}

    async def testbench(ctx):
        for i in range(len(beats["tag"])):
            ctx.set(dut.take, 1)
            for name in fields:  # the beat's end flag is the checker's pass_end port
                port = "pass_end" if name == "end" else name
                ctx.set(getattr(dut, port), int(beats[name][i]))
            await ctx.tick()
        ctx.set(dut.take, 0)
        await ctx.tick()
        status = dut.status
        out["code"] = ctx.get(status.code) if ctx.get(status.error) else 0
        out["open"] = ctx.get(status.open)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return out["code"], out["open"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_rtl_checker_equals_the_model(config):
    """Well-formed, each malformed case, and random corruptions of flags and tags."""
    rng = np.random.default_rng(7)
    base = layer_beats(config, 3)
    streams = [base] + [malformed_pixels(base, case) for case in MALFORMED_CASES]
    for _ in range(12):
        broken = {key: np.array(value, copy=True) for key, value in base.items()}
        i = int(rng.integers(len(broken["tag"])))
        name = str(rng.choice([k for k in ("tag", "first", "last", "end", "digit")
                               if k in broken]))
        broken[name][i] = rng.integers(0, 2) if name != "tag" else rng.integers(config.acc_depth)
        if name == "digit":
            broken[name][i] %= max(1, config.check_digits)
        streams.append(broken)
    codes = set()
    for beats in streams:
        want = check(config, beats)
        assert run_checker(config, beats) == want
        codes.add(want[0])
    assert len(codes) >= 4  # the comparison saw several different codes, not only 0


def test_checker_rejects_bad_parameters():
    with pytest.raises(ValueError, match="depth must be a positive integer, not 0"):
        PixelProtocolChecker(depth=0)
    with pytest.raises(ValueError, match="digits must be a non-negative integer, not -1"):
        PixelProtocolChecker(depth=4, digits=-1)

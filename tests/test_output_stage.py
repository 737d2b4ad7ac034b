"""The output stage (``sense_hw.output_stage``) on Amaranth's simulator, against ``requantize``."""

import gc
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, UnusedElaboratable
from amaranth.lib import wiring
from amaranth.sim import Simulator

from sense_hw.core import SenseCore
from sense_hw.layouts import bus_layout, quant_layout, result_layout
from sense_hw.output_stage import OutputStage
from sense_models.config import ArrayConfig
from sense_models.formats import BusFormat, Field, quant_format, result_format
from sense_models.intmath import wrap
from sense_models.quant import requantize
from sense_verif.lint import lint

FIELDS = ("value", "tag", "raw", "last", "final")

#: Narrow widths: wrap-around, saturation and shifts past ``acc_width`` are all frequent.
NARROW = dict(cols=3, acc_width=12, out_width=5, tag_width=3)
WIDE = dict(cols=2, acc_width=32, out_width=8, tag_width=8)


def stage(widths):
    return OutputStage(**widths)


def formats(dut):
    shape = SimpleNamespace(cols=dut.cols, acc_width=dut.acc_width, tag_width=dut.tag_width)
    out = BusFormat((
        Field("value", dut.acc_width, (dut.cols,), signed=True),
        Field("tag", dut.tag_width),
        Field("raw", 1),
        Field("last", 1),
        Field("final", 1),
    ))
    return quant_format(shape), result_format(shape), out


def random_values(rng, width, shape, extremes=0.3):
    """Uniform signed ``width``-bit values, a fraction ``extremes`` from the range's ends."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    ends = np.array([lo, lo + 1, -1, 0, 1, hi - 1, hi])
    values = rng.integers(lo, hi + 1, shape)
    return np.where(rng.random(shape) < extremes, rng.choice(ends, shape), values)


def random_traffic(dut, rng, sets):
    """Parameter sets (dicts of ``quant_format`` fields) with ``beats`` random result beats each.

    ``sets`` is a list of partial dicts; missing fields are drawn at random.
    """
    shift_bits = formats(dut)[0]["shift"].width
    full = []
    for i, given in enumerate(sets):
        p = {
            "bias": random_values(rng, dut.acc_width, dut.cols),
            "shift": int(rng.integers(0, 1 << shift_bits)),
            "beats": int(rng.integers(1, 6)),
            "relu": int(rng.integers(2)),
            "raw": int(rng.random() < 0.15),
            "final": int(i == len(sets) - 1 or rng.random() < 0.3),
        }
        p.update(given)
        full.append(p)
    total = sum(p["beats"] for p in full)
    results = {"value": random_values(rng, dut.acc_width, (total, dut.cols)),
               "tag": rng.integers(0, 1 << dut.tag_width, total)}
    return full, results


def corners(dut, sets, results):
    """How often the traffic wraps ``acc + bias``, ties in rounding, saturates each way."""
    a, hi = dut.acc_width, (1 << (dut.out_width - 1)) - 1
    counts = dict.fromkeys(("wrap", "tie", "relu", "sat_hi", "sat_lo", "raw"), 0)
    value = expected_out(dut, sets, results)["value"]
    start = 0
    for p in sets:
        stop = start + p["beats"]
        if p["raw"]:
            counts["raw"] += p["beats"]
            start = stop
            continue
        total = results["value"][start:stop] + p["bias"]
        counts["wrap"] += np.count_nonzero((total >= 1 << (a - 1)) | (total < -(1 << (a - 1))))
        if p["shift"]:
            half = 1 << (p["shift"] - 1)
            counts["tie"] += np.count_nonzero(total % (2 * half) == half)
        if p["relu"]:
            counts["relu"] += np.count_nonzero(wrap(total, a) < 0)
        counts["sat_hi"] += np.count_nonzero(value[start:stop] == hi)
        counts["sat_lo"] += np.count_nonzero(value[start:stop] == -hi - 1)
        start = stop
    return counts


def expected_out(dut, sets, results):
    """What ``out`` carries, beat by beat: the golden model's requantization and the flags."""
    out = {name: [] for name in FIELDS}
    start = 0
    for p in sets:
        acc = results["value"][start:start + p["beats"]]
        if p["raw"]:
            value = acc
        else:
            value = requantize(acc, p["bias"], p["shift"], relu=bool(p["relu"]),
                               acc_width=dut.acc_width, out_width=dut.out_width)
        last = np.arange(p["beats"]) == p["beats"] - 1
        out["value"].extend(value)
        out["tag"].extend(results["tag"][start:start + p["beats"]])
        out["raw"].extend([p["raw"]] * p["beats"])
        out["last"].extend(last.astype(int))
        out["final"].extend((last & bool(p["final"])).astype(int))
        start += p["beats"]
    return {name: np.array(v, dtype=np.int64).reshape(len(v), -1) if name == "value"
            else np.array(v, dtype=np.int64) for name, v in out.items()}


def compare(got, expected):
    """Raise ``AssertionError`` naming the first beat and field where ``got`` differs."""
    n_got, n_exp = len(got["tag"]), len(expected["tag"])
    for beat in range(min(n_got, n_exp)):
        for name in FIELDS:
            g, e = np.asarray(got[name][beat]), np.asarray(expected[name][beat])
            if not np.array_equal(g, e):
                raise AssertionError(f"beat {beat}, field {name}: got {g.tolist()}, "
                                     f"expected {e.tolist()}")
    if n_got != n_exp:
        raise AssertionError(f"got {n_got} beats, expected {n_exp}")


def run(dut, sets, results, *, rng=None, gap=0.3, max_cycles=20_000, trace=None):
    """Offer every set and result beat at once; returns the ``out`` fields received.

    With ``rng``, each source idles and ``out`` is not ready with probability ``gap`` per
    cycle, independently. Checks the stream rules on the way: a beat held on ``out`` stays
    unchanged, a result is taken only within a loaded set's ``beats``, a set only once the
    previous one's beats are all taken. ``trace`` (a list) gets per cycle
    ``(params taken, result taken, out taken, busy)``.
    """
    fmt_params, fmt_results, fmt_out = formats(dut)
    words = {"params": fmt_params.pack(**{k: [p[k] for p in sets] for k in sets[0]}),
             "results": fmt_results.pack(**results)}
    bounds = np.cumsum([0] + [p["beats"] for p in sets])
    expected_beats = int(bounds[-1])
    received = []

    async def testbench(ctx):
        sent = dict.fromkeys(words, 0)
        held = None
        cycle = 0
        while len(received) < expected_beats or ctx.get(dut.busy):
            if cycle >= max_cycles:
                raise TimeoutError(f"{len(received)} of {expected_beats} beats after "
                                   f"{max_cycles} cycles")
            ctx.set(dut.out.ready, rng is None or rng.random() >= gap)
            taken = {}
            for name, beats in words.items():
                port = getattr(dut, name)
                valid = sent[name] < len(beats)
                if rng is not None and not ctx.get(port.valid):  # an offered beat is held
                    valid = valid and rng.random() >= gap
                ctx.set(port.valid, valid)
                if valid:
                    ctx.set(port.payload.as_value(), beats[sent[name]])
                taken[name] = bool(valid and ctx.get(port.ready))
            if taken["results"]:
                assert sent["results"] < bounds[sent["params"]], \
                    f"cycle {cycle}: result {sent['results']} taken with no set loaded"
            if taken["params"] and sent["params"]:
                done = sent["results"] + taken["results"]
                assert done == bounds[sent["params"]], \
                    f"cycle {cycle}: set {sent['params']} taken after {done} results"
            valid, ready = ctx.get(dut.out.valid), ctx.get(dut.out.ready)
            payload = ctx.get(dut.out.payload.as_value())
            if held is not None:
                assert valid and payload == held, f"cycle {cycle}: a held out beat changed"
            held = payload if valid and not ready else None
            if valid and ready:
                received.append(payload)
            if trace is not None:
                trace.append((taken["params"], taken["results"], bool(valid and ready),
                              bool(ctx.get(dut.busy))))
            await ctx.tick()
            for name in words:
                sent[name] += taken[name]
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return fmt_out.unpack(received)


# -- bit-exactness under random traffic -----------------------------------------------------

@pytest.mark.parametrize("widths", [NARROW, WIDE], ids=["narrow", "wide"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_sets_under_random_gaps(widths, seed):
    dut = stage(widths)
    rng = np.random.default_rng(seed)
    sets, results = random_traffic(dut, rng, [{} for _ in range(24)])
    if widths is NARROW:
        assert all(corners(dut, sets, results).values()), corners(dut, sets, results)
    got = run(dut, sets, results, rng=rng)
    compare(got, expected_out(dut, sets, results))


def test_every_shift_with_and_without_relu_and_raw():
    """Every value the shift field can hold (past ``acc_width - 1`` too), extreme operands."""
    dut = stage(NARROW)
    rng = np.random.default_rng(3)
    shifts = range(1 << formats(dut)[0]["shift"].width)
    given = [{"shift": s, "relu": relu, "raw": 0, "beats": 4} for s in shifts for relu in (0, 1)]
    given += [{"raw": 1, "beats": 3}, {"raw": 1, "relu": 1, "beats": 1}]
    sets, results = random_traffic(dut, rng, given)
    results["value"] = random_values(rng, dut.acc_width, results["value"].shape, extremes=0.6)
    assert all(corners(dut, sets, results).values()), corners(dut, sets, results)
    got = run(dut, sets, results, rng=rng, gap=0.2)
    compare(got, expected_out(dut, sets, results))


def test_hand_checked_values():
    dut = OutputStage(cols=4, acc_width=8, out_width=4, tag_width=1)
    sets = [
        # 127 + 1 wraps to -128: -16 after >> 3, saturated to -8; 5 >> 1 rounds up to 3
        {"bias": [1, 0, 0, 0], "shift": 3, "beats": 1, "relu": 0, "raw": 0, "final": 0},
        {"bias": [0, 0, -2, 0], "shift": 1, "beats": 1, "relu": 0, "raw": 0, "final": 0},
        # ReLU after the wrap: 127 + 1 = -128 -> 0
        {"bias": [1, 0, 0, 0], "shift": 0, "beats": 1, "relu": 1, "raw": 0, "final": 1},
        {"bias": [9, 9, 9, 9], "shift": 7, "beats": 1, "relu": 1, "raw": 1, "final": 1},
    ]
    results = {"value": np.array([[127, 20, 0, -100], [5, -5, 7, -3],
                                  [127, -1, 3, 9], [127, -128, 0, -1]]),
               "tag": np.array([0, 1, 0, 1])}
    got = run(dut, sets, results)
    assert got["value"].tolist() == [[-8, 3, 0, -8], [3, -2, 3, -1], [0, 0, 3, 7],
                                     [127, -128, 0, -1]]
    assert got["last"].tolist() == [1, 1, 1, 1]
    assert got["final"].tolist() == [0, 0, 1, 1]
    assert got["raw"].tolist() == [0, 0, 0, 1]
    compare(got, expected_out(dut, sets, results))


# -- timing ---------------------------------------------------------------------------------

def test_full_throughput_back_to_back_sets_and_latency():
    dut = stage(NARROW)
    rng = np.random.default_rng(4)
    sets, results = random_traffic(dut, rng, [{"beats": b} for b in (1, 3, 1, 1, 2, 5)])
    trace = []
    got = run(dut, sets, results, trace=trace)
    compare(got, expected_out(dut, sets, results))
    params, taken, out, busy = (np.array(column) for column in zip(*trace))
    beats = len(results["tag"])
    first = 1  # the first set is taken in cycle 0; a set must be loaded before a result
    assert np.flatnonzero(taken).tolist() == list(range(first, first + beats))
    assert np.flatnonzero(out).tolist() == list(range(first + 2, first + 2 + beats))
    # each later set is taken with its predecessor's last beat
    assert np.flatnonzero(params).tolist() == [0] + [first + b - 1 for b in
                                                     np.cumsum([p["beats"] for p in sets])[:-1]]
    assert not busy[0] and busy[1:first + 2 + beats].all() and not busy[first + 2 + beats:].any()


def test_results_wait_for_a_parameter_set():
    dut = stage(NARROW)
    ready = []

    async def testbench(ctx):
        ctx.set(dut.results.valid, 1)
        ctx.set(dut.out.ready, 1)
        for _ in range(5):
            ready.append(ctx.get(dut.results.ready))
            assert not ctx.get(dut.busy)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert ready == [0] * 5


def test_zero_beats_trips_the_simulation_assertion():
    dut = stage(NARROW)
    fmt = formats(dut)[0]
    word = fmt.pack(bias=[[0] * dut.cols], shift=[0], beats=[0], relu=[0], raw=[0], final=[1])

    async def testbench(ctx):
        ctx.set(dut.params.payload.as_value(), word[0])
        ctx.set(dut.params.valid, 1)
        for _ in range(3):
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    with pytest.raises(AssertionError, match="beats = 0"):
        sim.run()


# -- the comparison can fail ------------------------------------------------------------------

@pytest.mark.parametrize("field", FIELDS)
def test_compare_catches_a_wrong_expected_value(field):
    dut = stage(NARROW)
    rng = np.random.default_rng(6)
    sets, results = random_traffic(dut, rng, [{"raw": 0}, {"raw": 1}, {}])
    got = run(dut, sets, results, rng=rng)
    expected = expected_out(dut, sets, results)
    compare(got, expected)
    beat = len(expected["tag"]) - 1
    if field == "value":
        expected[field][beat, -1] += 1
    else:
        expected[field][beat] ^= 1
    with pytest.raises(AssertionError, match=f"beat {beat}, field {field}"):
        compare(got, expected)
    with pytest.raises(AssertionError, match="beats"):
        compare(got, {k: v[:-1] for k, v in expected.items()})


def test_a_saturation_bug_in_the_hardware_is_caught():
    """A stage built one bit too wide saturates too late: the comparison must see it."""
    dut = stage(NARROW)
    wrong = stage({**NARROW, "out_width": NARROW["out_width"] + 1})
    rng = np.random.default_rng(7)
    sets, results = random_traffic(dut, rng, [{"raw": 0} for _ in range(8)])
    compare(run(dut, sets, results), expected_out(dut, sets, results))
    with pytest.raises(AssertionError, match="field value"):
        compare(run(wrong, sets, results), expected_out(dut, sets, results))


# -- interface ------------------------------------------------------------------------------

@pytest.mark.parametrize("config", [ArrayConfig(), ArrayConfig(rows=2, cols=3, acc_depth=4),
                                    ArrayConfig(cols=5, ifm_width=4, weight_width=4,
                                                acc_width=20, acc_depth=64)],
                         ids=lambda c: c.name)
def test_layouts_match_the_config_and_connect_to_the_core(config):
    dut = OutputStage(cols=config.cols, acc_width=config.acc_width, out_width=config.ifm_width,
                      tag_width=config.tag_width)
    assert dut.params.payload.shape() == quant_layout(config)
    assert dut.results.payload.shape() == result_layout(config)
    assert dut.out.payload.shape() == bus_layout(formats(dut)[2])
    assert list(dut.out.payload.shape().members) == list(FIELDS)
    assert len(dut.busy) == 1
    m = Module()
    core = SenseCore(config=config)
    wiring.connect(m, core.results, dut.results)
    m.submodules.core, m.submodules.stage = core, dut
    for unbuilt in (m, core, dut):  # only connected, never elaborated
        unbuilt._MustUse__silence = True


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(cols=0), ValueError, "cols must be at least 1, not 0"),
    (dict(cols=2.0), TypeError, "cols must be an int, not 2.0"),
    (dict(cols=True), TypeError, "cols must be an int, not True"),
    (dict(acc_width=1), ValueError, "acc_width must be at least 2, not 1"),
    (dict(acc_width="32"), TypeError, "acc_width must be an int, not '32'"),
    (dict(out_width=0), ValueError, r"out_width must be in \[1, 12\], not 0"),
    (dict(out_width=13), ValueError, r"out_width must be in \[1, 12\], not 13"),
    (dict(tag_width=0), ValueError, "tag_width must be at least 1, not 0"),
    (dict(tag_width=None), TypeError, "tag_width must be an int, not None"),
])
def test_bad_parameters_raise(kwargs, error, message):
    with pytest.raises(error, match=message):
        OutputStage(**{**NARROW, **kwargs})


def test_parameters_are_keyword_only_and_required():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(TypeError):
            OutputStage(3, 12, 5, 3)
        with pytest.raises(TypeError):
            OutputStage(cols=3, acc_width=12, out_width=5)
        gc.collect()  # the half-built instances warn when they are collected


@pytest.mark.parametrize("widths", [NARROW, WIDE, dict(cols=1, acc_width=2, out_width=1,
                                                         tag_width=1)],
                         ids=["narrow", "wide", "tiny"])
def test_verilog_is_lint_clean(tmp_path, widths):
    path = tmp_path / "sense_output_stage.v"
    path.write_text(verilog.convert(stage(widths), name="sense_output_stage", emit_src=False))
    assert lint(path) == []

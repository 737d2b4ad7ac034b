"""Drive a SenseCore in Amaranth's simulator from a host-side Schedule (no back-pressure)."""

from amaranth.sim import Simulator

from sense_hw.core import SenseCore
from sense_models.cycle_model import check_done_cycles
from sense_models.formats import (fault_format, ifm_format, pass_format, pixel_format,
                                  result_format, stats_format, status_format, table_format,
                                  weight_format)


def fault_sites(config):
    """The fault sites of a fault-injection :class:`SenseCore` (numbered as it elaborates)."""
    from amaranth.back import rtlil
    core = SenseCore(config=config)
    rtlil.convert(core)
    return core.fault_sites


def run_core(config, schedule, *, max_cycles=100_000, fault=None, stall=()):
    """Stream ``schedule`` through a SenseCore; returns (result fields, cycles, status).

    ``status`` (ABFT builds) is read once the last pass's checks are complete; ``fault`` is a
    dict of :func:`sense_models.formats.fault_format` fields for fault-injection builds;
    ``stall`` lists the cycles in which the result stream is not ready (the cycle count is
    then not the model's).
    """
    dut = SenseCore(config=config)
    weight_words = weight_format(config).pack(**schedule.weights)
    pixel_words = pixel_format(config).pack(**schedule.pixels)
    expected_beats = len(schedule.results["tag"])
    words = []
    cycles = [None]
    status = [None]
    settle = check_done_cycles(config, schedule.tiling) + 4

    async def testbench(ctx):
        wi = pi = cycle = 0
        ctx.set(dut.results.ready, 1)
        if fault is not None:
            ctx.set(dut.fault.as_value(), fault_format(config).pack(
                **{k: [v] for k, v in fault.items()})[0])
        while len(words) < expected_beats:
            if cycle >= max_cycles:
                raise TimeoutError(f"no result after {max_cycles} cycles")
            ctx.set(dut.results.ready, cycle not in stall)
            ctx.set(dut.weights.valid, wi < len(weight_words))
            if wi < len(weight_words):
                ctx.set(dut.weights.payload.as_value(), weight_words[wi])
            ctx.set(dut.pixels.valid, pi < len(pixel_words))
            if pi < len(pixel_words):
                ctx.set(dut.pixels.payload.as_value(), pixel_words[pi])
            w_ok = ctx.get(dut.weights.valid) and ctx.get(dut.weights.ready)
            p_ok = ctx.get(dut.pixels.valid) and ctx.get(dut.pixels.ready)
            if ctx.get(dut.results.valid) and ctx.get(dut.results.ready):
                words.append(ctx.get(dut.results.payload.as_value()))
            await ctx.tick()
            wi += w_ok
            pi += p_ok
            cycle += 1
        cycles[0] = cycle
        if config.abft != "none":
            while cycle < settle:
                await ctx.tick()
                cycle += 1
            status[0] = status_format(config).unpack([ctx.get(dut.status.as_value())])


    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return result_format(config).unpack(words), cycles[0], status[0]


def run_feeder_core(config, schedule, *, max_cycles=100_000, stall=(), fault=None, rng=None):
    """Stream a :class:`sense_models.feeder.FeederSchedule` (or a list of them, one layer
    after the other, every stream offered at once) through a feeder build.

    Returns ``(result fields, stats fields, cycles, status)``; ``cycles`` counts up to and
    including the cycle the last pass's counters came out, when ``status`` (ABFT builds) is
    read. Every stream is offered from cycle 0 (the feeder takes the IFM only once the table
    is loaded); with ``abft="both"`` the results that leave after it are collected as well
    (the last tile drains once its checks are complete). ``stall`` lists cycles in which
    neither output stream is ready; ``fault`` is as for :func:`run_core`. With ``rng``,
    each source idles and each output stream is not ready with probability 0.3 per cycle,
    independently.
    """
    dut = SenseCore(config=config)
    layers = schedule if isinstance(schedule, (list, tuple)) else [schedule]
    formats = {"table": table_format, "ifm": ifm_format, "passes": pass_format,
               "weights": weight_format}
    words = {name: sum((fmt(config).pack(**getattr(s, name)) for s in layers), [])
             for name, fmt in formats.items()}
    passes = len(words["passes"])
    results, stats = [], []
    cycles = [None]
    status = [None]

    async def testbench(ctx):
        sent = dict.fromkeys(words, 0)
        cycle = 0
        if fault is not None:
            ctx.set(dut.fault.as_value(), fault_format(config).pack(
                **{k: [v] for k, v in fault.items()})[0])
        while len(stats) < passes:
            if cycle >= max_cycles:
                raise TimeoutError(f"{len(stats)} of {passes} passes done after {max_cycles} "
                                   f"cycles")
            for port in (dut.results, dut.stats):
                ctx.set(port.ready, cycle not in stall and (rng is None or rng.random() > 0.3))
            accepted = {}
            for name, beats in words.items():
                port = getattr(dut, name)
                valid = sent[name] < len(beats)
                if rng is not None and not ctx.get(port.valid):  # hold an offered beat
                    valid = valid and rng.random() > 0.3
                ctx.set(port.valid, valid)
                if valid:
                    ctx.set(port.payload.as_value(), beats[sent[name]])
                accepted[name] = valid and ctx.get(port.ready)
            for port, seen in ((dut.results, results), (dut.stats, stats)):
                if ctx.get(port.valid) and ctx.get(port.ready):
                    seen.append(ctx.get(port.payload.as_value()))
            await ctx.tick()
            for name in words:
                sent[name] += accepted[name]
            cycle += 1
        cycles[0] = cycle
        if config.corrects:
            # The last pixel tile's results leave after its last pass's counters (once its
            # checks are complete), and the outgoing beats' own check reports two cycles
            # after the last one: collect them, then let that check settle.
            left = config.latency + config.acc_depth + 8
            while left:
                ctx.set(dut.results.ready, 1)
                if ctx.get(dut.results.valid):
                    results.append(ctx.get(dut.results.payload.as_value()))
                    left = max(left, 4)
                await ctx.tick()
                left -= 1
        if config.abft != "none":
            status[0] = status_format(config).unpack([ctx.get(dut.status.as_value())])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return (result_format(config).unpack(results), stats_format(config).unpack(stats),
            cycles[0], status[0])

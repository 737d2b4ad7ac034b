"""Drive a SenseCore in Amaranth's simulator from a host-side Schedule (no back-pressure)."""

from amaranth.sim import Simulator

from sense_hw.core import SenseCore
from sense_models.formats import pixel_format, result_format, weight_format


def run_core(config, schedule, *, max_cycles=100_000):
    """Stream ``schedule`` through a SenseCore; returns (result fields dict, cycles)."""
    dut = SenseCore(config=config)
    weight_words = weight_format(config).pack(**schedule.weights)
    pixel_words = pixel_format(config).pack(**schedule.pixels)
    expected_beats = len(schedule.results["tag"])
    words = []
    cycles = [None]

    async def testbench(ctx):
        wi = pi = cycle = 0
        ctx.set(dut.results.ready, 1)
        while len(words) < expected_beats:
            if cycle >= max_cycles:
                raise TimeoutError(f"no result after {max_cycles} cycles")
            ctx.set(dut.weights.valid, wi < len(weight_words))
            if wi < len(weight_words):
                ctx.set(dut.weights.payload.as_value(), weight_words[wi])
            ctx.set(dut.pixels.valid, pi < len(pixel_words))
            if pi < len(pixel_words):
                ctx.set(dut.pixels.payload.as_value(), pixel_words[pi])
            w_ok = ctx.get(dut.weights.valid) and ctx.get(dut.weights.ready)
            p_ok = ctx.get(dut.pixels.valid) and ctx.get(dut.pixels.ready)
            if ctx.get(dut.results.valid):
                words.append(ctx.get(dut.results.payload.as_value()))
            await ctx.tick()
            wi += w_ok
            pi += p_ok
            cycle += 1
        cycles[0] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return result_format(config).unpack(words), cycles[0]

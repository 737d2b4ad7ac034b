"""cocotb tests of the core's check of its own ``pixels`` stream (streamed builds).

Each malformed flag sequence of :data:`sense_models.workloads.MALFORMED_CASES` goes through
the core: the core never locks up (it takes what it is given, or waits for a stream that
stopped and says which), the protocol status reports the code the model
(:func:`sense_models.protocol.check_pixel_stream`) gives, and after a reset a fresh layer
runs bit-exact with a clean status.
"""

import os

import cocotb

from sense_models.formats import pixel_format, weight_format
from sense_models.protocol import ProtocolError, check_pixel_stream
from sense_models.tiling import schedule_layer
from sense_models.workloads import MALFORMED_CASES, malformed_pixels, protocol_layer

from .streams import Clocked, StreamSink, StreamSource
from .tb_core import CoreTB, case_rng


@cocotb.test()
@cocotb.parametrize(case=MALFORMED_CASES)
async def test_malformed_pixels(dut, case):
    """A broken sequence: the model's code, no lock-up, then a clean layer after reset."""
    tb = CoreTB(dut)
    config = tb.config
    rng = case_rng("protocol", case)
    schedule = schedule_layer(config, *protocol_layer(config, rng))
    beats = malformed_pixels(schedule.pixels, case)
    want, want_open = check_pixel_stream(beats, depth=config.acc_depth,
                                         digits=config.check_digits)
    if os.environ.get("SENSE_CORRUPT_EXPECTED") == "1":
        want = ProtocolError((want % 6) + 1)  # shows the comparison can fail
    sources = [StreamSource(dut, "weights", weight_format(config).pack(**schedule.weights),
                            rng=rng),
               StreamSource(dut, "pixels", pixel_format(config).pack(**beats), rng=rng)]
    sink = StreamSink(dut, "results", rng=rng)
    await tb.reset()
    clocked = Clocked(dut.clk, sources, sink)
    await clocked.run_until_idle(idle=config.latency + 2 * config.acc_depth + 20,
                                 max_cycles=50_000)
    status = tb.protocol_status()
    dut._log.info("%s: %s, %d/%d pixel beats taken, %d results", case, status,
                  sources[1].sent, len(beats["tag"]), len(sink.words))
    assert status["error"] == 1 and status["code"] == want, \
        f"{case}: protocol status {status}, the model says code {want!r}"
    if sources[1].sent < len(beats["tag"]):  # the core waits: the status must say for what
        assert status["wait_weights"] or status["wait_results"], \
            f"{case}: pixels left untaken and the status names no stream: {status}"
    elif sources[0].sent == len(schedule.weights["value"]):
        assert status["open"] == want_open, f"{case}: {status['open']} open, model {want_open}"
    cycles, model = await tb.run_layer(*protocol_layer(config, rng), rng=rng)
    status = tb.protocol_status()
    assert status["error"] == 0 and status["open"] == 0, \
        f"after reset a clean layer left the protocol status {status}"
    assert cycles == model, f"after {case} and reset: {cycles} cycles, the model says {model}"


@cocotb.test()
async def test_stopped_stream_names_what_it_waits_for(dut):
    """Pixels cut short in a pass: no error, the accumulators stay open, the core waits
    for pixels; weights cut short: it waits for weights."""
    tb = CoreTB(dut)
    config = tb.config
    rng = case_rng("protocol", "stopped")
    schedule = schedule_layer(config, *protocol_layer(config, rng))
    words = pixel_format(config).pack(**schedule.pixels)
    first_pass = int(schedule.pixels["end"].argmax()) + 1
    for weights_cut, pixels_cut, waits in ((None, first_pass + 1, "wait_pixels"),
                                           (config.rows, None, "wait_weights")):
        await tb.reset()
        weights = weight_format(config).pack(**schedule.weights)[:weights_cut]
        sources = [StreamSource(dut, "weights", weights, rng=rng),
                   StreamSource(dut, "pixels", words[:pixels_cut], rng=rng)]
        await Clocked(dut.clk, sources, StreamSink(dut, "results", rng=rng)).run_until_idle(
            idle=config.latency + 20, max_cycles=50_000)
        status = tb.protocol_status()
        assert status["error"] == 0 and status[waits] == 1, f"{waits}: {status}"
        if waits == "wait_pixels":
            assert status["open"] > 0, status

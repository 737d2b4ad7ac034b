"""cocotb tests of ``sense_top`` through its AXI ports, with the host driver's RTL back-end."""

import dataclasses
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from sense_hw.axil import OKAY, SLVERR
from sense_models.driver import Driver, _streamed_packets, lower, plan_layer
from sense_models.network import QuantLayer
from sense_models.packets import PacketError, PacketType, header
from sense_models.protocol import ProtocolError
from sense_models.sparsity import prune
from sense_models.top_model import job_cycles
from sense_models.workloads import malformed_pixels

from .tb_core import case_rng
from .tb_top import RtlBackend, TopTB

#: (input gap probability, output back-pressure probability)
TRAFFIC = {"steady": (0.0, 0.0), "random": (0.3, 0.3)}


def random_layer(config, rng, name):
    """A random int8 conv layer that fits ``config`` (1/2-sparse weights in the natural
    order), and a small batch of ReLU-like input maps for it."""
    limit = config.feeder_tiles * config.tile_reduction if config.feeder else 1 << 12
    while True:
        kernel = int(rng.choice([1, 2, 3]))
        channels = int(rng.integers(1, 9))
        if channels * kernel * kernel <= limit:
            break
    kernels = int(rng.integers(2, 2 * config.cols + 2))
    size = int(rng.integers(kernel, kernel + 4))
    weights = rng.integers(-128, 128, (kernels, channels, kernel, kernel))
    matrix = prune(weights.reshape(kernels, -1).T, config.group) if config.sparse \
        else weights.reshape(kernels, -1).T
    weights = matrix.T.reshape(weights.shape)
    layer = QuantLayer(name, weights, rng.integers(-2000, 2000, kernels),
                       int(rng.integers(0, 12)), stride=int(rng.integers(1, 3)),
                       padding=int(rng.integers(0, 2)) if kernel > 1 else 0,
                       relu=bool(rng.integers(0, 2)))
    images = rng.integers(-128, 128, (int(rng.integers(1, 4)), channels, size, size))
    images[rng.random(images.shape) < 0.5] = 0
    images[:, rng.random(channels) < 0.25] = 0  # dead channels: whole vectors to skip
    return layer, images


async def started(dut, rng=None, *, traffic="steady"):
    tb = TopTB(dut)
    if rng is not None:
        tb.traffic(rng, idle=TRAFFIC[traffic][0], backpressure=TRAFFIC[traffic][1])
    await tb.reset()
    await tb.start()
    return tb


async def expect_clean(tb):
    status = await tb.fields("STATUS")
    assert not status["error"], f"packet error {PacketError(status['error_code']).name}"
    assert not status["abft_error"], "ABFT alarm in a fault-free run"


@cocotb.test()
@cocotb.parametrize(traffic=tuple(TRAFFIC))
async def test_layers_back_to_back(dut, traffic):
    """Random layers of different shapes back to back through the driver: bit-exact, the
    counters equal the models', registers read while the layers run; under steady traffic
    every layer takes the cycles :mod:`sense_models.top_model` predicts."""
    rng = case_rng("top-layers", traffic)
    tb = await started(dut, rng, traffic=traffic)
    driver = Driver(tb.config, RtlBackend(tb))
    reads = []

    async def poll():
        while True:
            reads.append(await tb.fields("STATUS"))
            await tb.counters()

    poller = cocotb.start_soon(poll())
    count = int(os.environ.get("SENSE_LAYERS", "3"))
    for n in range(count):
        layer, images = random_layer(tb.config, rng, f"layer{n}")
        raw = bool(rng.integers(0, 2))
        await driver.run_layer_async(layer, images, raw=raw)
        job, result = driver.log[-1]
        dut._log.info("%s: X%s -> %s (%s), %d cycles, %d bytes in, %d out", job.name,
                      job.expected.shape, job.out_shape, "raw" if raw else "int8",
                      result.cycles, job.bytes_in, job.bytes_out)
        if traffic == "steady":  # register reads beside the layer do not disturb it
            predicted = job_cycles(job)
            assert result.cycles == predicted, \
                f"{job.name}: {result.cycles} cycles, the model of sense_top says {predicted}"
    poller.cancel()
    assert any(r["busy"] for r in reads), "STATUS.busy was never seen while layers ran"
    await expect_clean(tb)
    counters = await tb.counters()
    jobs = [job for job, _ in driver.log]
    assert counters["LAYERS_DONE"] == count
    assert counters["PACKETS_IN"] == sum(len(job.packets) for job in jobs)
    if tb.config.feeder:
        for key, name in (("issued", "VECTORS_ISSUED"), ("skipped", "VECTORS_SKIPPED"),
                          ("gated", "GATED_MULTS")):
            want = sum(int(job.schedule.stats[key].sum()) for job in jobs)
            assert counters[name] == want, f"{name} is {counters[name]}, the model says {want}"


@cocotb.test()
async def test_identity_registers(dut):
    """ID, version and the configuration read back; writes to read-only registers do nothing."""
    tb = await started(dut)
    cfg = tb.config
    assert await tb.read("ID") == 0x53454E53
    config0 = await tb.fields("CONFIG0")
    assert (config0["rows"], config0["cols"], config0["group"]) == (cfg.rows, cfg.cols,
                                                                    cfg.group)
    assert (config0["feeder"], config0["pixel_check"], config0["kernel_check"]) == \
        (cfg.feeder, cfg.pixel_check, cfg.kernel_check)
    config1 = await tb.fields("CONFIG1")
    assert config1["bus_bytes"] == cfg.bus_width // 8 and config1["acc_width"] == cfg.acc_width
    assert (await tb.fields("CONFIG2"))["acc_depth"] == cfg.acc_depth
    await tb.axil.write_dword(tb.offset("ID"), 0)
    assert await tb.read("ID") == 0x53454E53


@cocotb.test()
async def test_register_map(dut):
    """Every word of the register window: mapped ones read OKAY and their read-only bits
    ignore writes (byte strobes too); unmapped ones answer SLVERR and read as 0."""
    tb = TopTB(dut)
    await tb.reset()
    window = range(0, 1 << len(dut.s_axil_araddr), 4)
    words = {r.offset + 4 * i: r for r in tb.regmap for i in range(r.width // 32)}
    before = {}
    for offset in window:
        response = await tb.axil.read(offset, 4)
        value = int.from_bytes(response.data, "little")
        if offset in words:
            assert int(response.resp) == OKAY, \
                f"{words[offset].name} ({offset:#x}): read answered {response.resp}"
            before[offset] = value
        else:
            assert (int(response.resp), value) == (SLVERR, 0), \
                f"unmapped word {offset:#x}: {response.resp}, {value:#x}"
    for offset, register in words.items():
        if register.access != "ro":
            continue
        for lane in range(4):  # one byte at a time: every strobe
            await tb.axil.write(offset + lane, b"\xff")
        await tb.axil.write(offset, b"\xff" * 4)
    for offset in sorted(set(window) - set(words)):
        response = await tb.axil.write(offset, b"\xff" * 4)
        assert int(response.resp) == SLVERR, f"unmapped word {offset:#x} took a write"
    for offset, value in before.items():
        if words[offset].access == "ro":
            now = await tb.axil.read_dword(offset)
            assert now == value, f"{words[offset].name} changed from {value:#x} to " \
                f"{now:#x} on writes to a read-only register"
    await tb.axil.write(tb.offset("CONTROL") + 1, b"\xff")  # bits 8-15: no field
    await tb.axil.write(tb.offset("CONTROL"), b"\x01")
    assert (await tb.fields("CONTROL"))["run"] == 1
    await tb.axil.write(tb.offset("CONTROL"), b"\x00")
    assert (await tb.fields("CONTROL"))["run"] == 0


def _bad_packets(config, job):
    """``{case: (packets, code)}``: each a malformed packet and the error it must raise."""
    width = config.bus_width // 8
    weights = job.packets[[i for i, p in enumerate(job.packets)
                           if p[0, 0] == PacketType.WEIGHTS][0]]
    cases = {
        "unknown_type": ([header(0x7E, 1, config.bus_width)[None].repeat(2, 0)],
                         PacketError.UNKNOWN_TYPE),
        "zero_count": ([np.concatenate([header(PacketType.WEIGHTS, 0, config.bus_width)[None],
                                        weights[1:]])], PacketError.BAD_COUNT),
        "short": ([weights[:-1]], PacketError.SHORT),
        "long": ([np.concatenate([weights, np.zeros((2, width), np.uint8)])], PacketError.LONG),
        "bad_keep": ([header(PacketType.WEIGHTS, 1, config.bus_width)[:-1]],
                     PacketError.BAD_KEEP),
    }
    if config.feeder:
        cases["table_too_long"] = ([np.concatenate([
            header(PacketType.TABLE, config.feeder_tiles + 1, config.bus_width)[None],
            np.zeros((4, width), np.uint8)])], PacketError.BAD_COUNT)
    return cases


@cocotb.test()
async def test_bad_packets(dut):
    """Each malformed packet sets the sticky error with its code, is dropped up to its
    TLAST without hanging the bus, and the layer around it (or after it) stays exact."""
    rng = case_rng("top-bad")
    tb = await started(dut)
    cfg = tb.config
    layer, images = random_layer(cfg, rng, "victim")
    x, shape = lower(layer, images)
    if cfg.feeder:  # IFM before its table: right after reset, the table is not loaded
        job = plan_layer(cfg, layer, x)
        ifm = [p for p in job.packets if p[0, 0] == PacketType.IFM][0]
        await tb.send([ifm])
        await tb.source.wait()
        status = await tb.fields("STATUS")
        assert status["error"] and status["error_code"] == PacketError.IFM_BEFORE_TABLE, status
        await tb.clear_status()
    for case, (bad, code) in _bad_packets(cfg, plan_layer(cfg, layer, x)).items():
        job = plan_layer(cfg, layer, x, name=f"around {case}")
        if case in ("short", "long"):
            # Their declared beats have reached the core: they go between layers, and a
            # soft reset (which also clears the error) recovers.
            await tb.send(bad)
            await tb.source.wait()
            await ClockCycles(dut.clk, 10)
            await _expect_error(tb, case, code)
            await tb.soft_reset()
            await tb.start()
        else:  # dropped whole: it goes into the middle of the layer
            middle = len(job.packets) // 2
            job.packets[middle:middle] = bad
        await RtlBackend(tb).execute(job)
        if case not in ("short", "long"):
            await _expect_error(tb, case, code)
        await tb.clear_status()
        assert not (await tb.fields("STATUS"))["error"], f"{case}: clear_status did not clear"
        dut._log.info("%s: code %d (%s), layer still bit-exact", case, code, code.name)


async def _expect_error(tb, case, code):
    status = await tb.fields("STATUS")
    assert status["error"], f"{case}: no error raised"
    assert status["error_code"] == code, \
        f"{case}: error code {status['error_code']}, expected {int(code)} ({code.name})"


@cocotb.test()
async def test_pixel_protocol_register(dut):
    """Streamed builds: pixel packets whose vectors never set ``first`` pass the packet
    checks but break the core's pass rules: PROTOCOL and STATUS.error say so, a soft reset
    clears them, and the next layer is exact. Feeder builds read PROTOCOL as 0."""
    rng = case_rng("top-protocol")
    tb = await started(dut)
    cfg = tb.config
    if cfg.feeder:
        assert await tb.read("PROTOCOL") == 0
        return
    layer, images = random_layer(cfg, rng, "broken")
    job = plan_layer(cfg, layer, lower(layer, images)[0])
    broken = dataclasses.replace(job.schedule,
                                 pixels=malformed_pixels(job.schedule.pixels, "first_never"))
    packets, _ = _streamed_packets(cfg, layer, broken, raw=False)
    await tb.send(packets)
    # every vector still reaches the array: as many results as the layer has, all wrong
    await tb.receive(job.bytes_out, timeout=20 * (job.bytes_in + job.bytes_out) + 5000)
    protocol = await tb.fields("PROTOCOL")
    assert protocol["error"] and protocol["code"] == ProtocolError.NOT_OPEN, protocol
    status = await tb.fields("STATUS")
    assert status["error"] and status["error_code"] == 0, status  # not a packet error
    await tb.soft_reset()
    assert await tb.read("PROTOCOL") == 0, "the soft reset left the protocol status"
    await tb.start()
    await Driver(cfg, RtlBackend(tb)).run_layer_async(*random_layer(cfg, rng, "after"))
    await expect_clean(tb)
    assert (await tb.fields("PROTOCOL"))["error"] == 0


@cocotb.test()
async def test_soft_reset_mid_layer(dut):
    """A soft reset in the middle of a layer, then a fresh layer: nothing stale leaks into
    its results or its counters."""
    rng = case_rng("top-reset")
    tb = await started(dut)
    cfg = tb.config
    first, images = random_layer(cfg, rng, "interrupted")
    x, _ = lower(first, images)
    job = plan_layer(cfg, first, x)
    tb.sink.pause = True  # results pile up inside: the layer is caught in flight
    first_pass = next(i for i, p in enumerate(job.packets)
                      if p[0, 0] in (PacketType.PASSES, PacketType.PIXELS))
    cut = max(len(job.packets) // 2, first_pass + 1)
    await tb.send(job.packets[:cut])
    await ClockCycles(dut.clk, 20 * sum(len(p) for p in job.packets[:cut]) + 200)
    assert (await tb.fields("STATUS"))["busy"], "the interrupted layer was not in flight"
    tb.abort_input()
    await tb.soft_reset()
    tb.sink.pause = False
    await ClockCycles(dut.clk, 10)
    assert tb.sink.empty(), "results left the accelerator while it was held"
    counters = await tb.counters()
    assert not any(counters.values()), f"counters not cleared by the soft reset: {counters}"
    await tb.start()
    layer, images = random_layer(cfg, rng, "fresh")
    driver = Driver(cfg, RtlBackend(tb))
    await driver.run_layer_async(layer, images)
    fresh, _ = driver.log[-1]
    counters = await tb.counters()
    assert counters["LAYERS_DONE"] == 1 and counters["PACKETS_IN"] == len(fresh.packets), \
        counters
    if cfg.feeder:
        assert counters["VECTORS_ISSUED"] == int(fresh.schedule.stats["issued"].sum())
    await expect_clean(tb)


@cocotb.test()
async def test_check_catches_a_wrong_answer(dut):
    """The back-end's comparison fails on one wrong expected value."""
    rng = case_rng("top-corrupt")
    tb = await started(dut)
    layer, images = random_layer(tb.config, rng, "corrupt")
    try:
        await Driver(tb.config, RtlBackend(tb, corrupt=True)).run_layer_async(layer, images)
    except AssertionError as error:
        assert "differ from the golden model" in str(error), error
    else:
        raise AssertionError("a wrong expected value went unnoticed")


"""The AXI4-Lite register file on Amaranth's simulator, against a Python model of the map.

A bus-functional master (:class:`Master`) drives the five channels, optionally with random
valid gaps on AW, W, AR and random ready gaps on B, R, and checks the slave's side of the
protocol on every transfer: response latency, responses held stable until accepted, one
transfer outstanding. :class:`Model` says what software should read and what the hardware
ports should show.
"""

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from sense_hw.axil import OKAY, SLVERR, AxiLiteRegisters, AxiLiteSignature, register_layout
from sense_models.config import ArrayConfig
from sense_models.regmap import Field, Register, RegisterMap, register_map

#: Cycles from the (later) request handshake to the response's valid (the docstring's figure).
LATENCY = 1
ORDERS = ("aw_first", "w_first", "together")

ACCEL = register_map(ArrayConfig())
# A small map with what the accelerator's lacks: a multi-byte rw register with a gap and a
# reset value, a multi-bit w1p register, an unmapped hole (0x0C) and unmapped words above.
SMALL = RegisterMap([
    Register("CTRL", 0x00, "rw", (Field("a", 0, 8, "a"), Field("b", 12, 12, "b"),
                                  Field("c", 31, 1, "c")), "ctrl", reset=0x8000_1005),
    Register("GO", 0x04, "w1p", (Field("x", 0, 1, "x"), Field("y", 8, 4, "y"),
                                 Field("z", 28, 4, "z")), "go"),
    Register("STAT", 0x08, "ro", (Field("s", 4, 20, "s"),), "stat"),
    Register("CNT", 0x10, "ro", (Field("count", 0, 64, "count"),), "cnt", width=64),
])


def counter_value(index, cycle):
    """What counter ``index`` holds in ``cycle``: counter 0 counts by one from 2**32 - 2 (its
    low word carries into the high word in cycle 2); the others carry every few cycles."""
    if index == 0:
        return 0xFFFF_FFFE + cycle
    return (0xFFFF_FFF0 * index + cycle * (0x1_0000_0001 + index * 0x0777_7777)) % 2**64


class Model:
    """The register file as software and the hardware ports should see it."""

    def __init__(self, regmap, ro_values):
        self.regmap = regmap
        self.ro = ro_values  # 32-bit ro register name -> value; counters: counter_value
        self.rw = {r.name: r.reset for r in regmap if r.access == "rw"}
        self.snapshot = {}
        self.counters = [r.name for r in regmap if r.width == 64]

    def word(self, addr):
        for offset, register, half in self.regmap.words():
            if offset == addr & ~3:
                return register, half
        return None, None

    def live(self, register, cycle):
        if register.width == 64:
            return counter_value(self.counters.index(register.name), cycle)
        return self.ro[register.name]

    def write(self, addr, data, strb):
        """The response and the w1p pulse ``(name, value)`` (or ``None``) of a write."""
        register, _ = self.word(addr)
        if register is None:
            return SLVERR, None
        bytes_ = sum(0xFF << 8 * i for i in range(4) if strb >> i & 1)
        written = data & bytes_ & register.mask
        if register.access == "rw":
            self.rw[register.name] = self.rw[register.name] & ~bytes_ | written
        if register.access == "w1p" and written:
            return OKAY, (register.name, written)
        return OKAY, None

    def read(self, addr, cycle):
        """``(data, resp)`` of a read whose AR handshake was in ``cycle``."""
        register, half = self.word(addr)
        if register is None:
            return 0, SLVERR
        if register.access == "rw":
            return self.rw[register.name], OKAY
        if register.access == "w1p":
            return 0, OKAY
        if register.width == 64:
            if half == 1:
                return self.snapshot.get(register.name, 0), OKAY
            value = self.live(register, cycle)
            self.snapshot[register.name] = value >> 32
            return value & 0xFFFF_FFFF, OKAY
        return self.ro[register.name], OKAY


def ro_values(regmap, rng):
    return {r.name: int(rng.integers(0, 2**32)) & r.mask
            for r in regmap if r.access == "ro" and r.width == 32}


class Master:
    """An AXI4-Lite master on the slave's write channels, its read channels, or both.

    Every cycle passes through :meth:`step`, which records the ``watch``ed ports in
    ``trace`` and sets each counter input to :func:`counter_value` of the coming cycle.
    With ``rng``, each master valid waits and each master ready is low with probability
    ``idle`` in a cycle (a raised valid is held until its handshake, as AXI requires).
    """

    def __init__(self, dut, ctx, *, rng=None, idle=0.3, watch=(), counters=()):
        self.dut, self.ctx, self.rng, self.idle = dut, ctx, rng, idle
        self.watch = watch
        self.counters = counters
        self.cycle = 0
        self.trace = []
        self._drive()

    def _gap(self):
        return self.rng is not None and self.rng.random() < self.idle

    def _drive(self):
        for index, port in enumerate(self.counters):
            self.ctx.set(port, counter_value(index, self.cycle))

    async def step(self, cycles=1):
        for _ in range(cycles):
            self.trace.append({name: self.ctx.get(port) for name, port in self.watch})
            await self.ctx.tick()
            self.cycle += 1
            self._drive()

    async def _response(self, valid, ready, payload, start):
        """Accept a response; checks it rises ``LATENCY`` after ``start`` and holds."""
        ctx = self.ctx
        seen = None
        while True:
            up = not self._gap()
            ctx.set(ready, up)
            if ctx.get(valid):
                now = tuple(ctx.get(p) for p in payload)
                if seen is None:
                    assert self.cycle == start + LATENCY, (
                        f"response valid in cycle {self.cycle}, handshake in {start}")
                    seen = now
                assert now == seen, f"response changed while waiting: {seen} -> {now}"
            else:
                assert seen is None, f"valid dropped before ready in cycle {self.cycle}"
                assert self.cycle < start + LATENCY, f"no response in cycle {self.cycle}"
            await self.step()
            if seen is not None and up:
                ctx.set(ready, 0)
                return seen

    async def write(self, addr, data, strb=0xF, order="together"):
        """One write; returns ``(bresp, cycle of bvalid)``."""
        d, ctx = self.dut, self.ctx
        left = {"aw": True, "w": True}
        up = {"aw": False, "w": False}
        last = None
        while any(left.values()):
            channels = {"aw": (d.awvalid, d.awready), "w": (d.wvalid, d.wready)}
            for name, (valid, ready) in channels.items():
                other = "w" if name == "aw" else "aw"
                allowed = left[name] and not (order == f"{other}_first" and left[other])
                up[name] = allowed and (up[name] or not self._gap())
                ctx.set(valid, up[name])
            # the address and data wires carry junk while not valid: the slave must not
            # take them then
            ctx.set(d.awaddr, addr if up["aw"] else addr ^ 0x3C)
            ctx.set(d.awprot, 0b010)
            ctx.set(d.wdata, data if up["w"] else ~data & 0xFFFF_FFFF)
            ctx.set(d.wstrb, strb if up["w"] else ~strb & 0xF)
            ctx.set(d.bready, not self._gap())
            assert not ctx.get(d.bvalid), f"bvalid before the write, cycle {self.cycle}"
            fired = {name: up[name] and ctx.get(ready) for name, (_, ready) in channels.items()}
            if any(fired.values()):
                last = self.cycle
            await self.step()
            for name in fired:
                if fired[name]:
                    left[name] = up[name] = False
                    ctx.set(channels[name][0], 0)
        (resp,) = await self._response(d.bvalid, d.bready, (d.bresp,), last)
        return resp, last + LATENCY

    async def read(self, addr):
        """One read; returns ``(rdata, rresp, cycle of the AR handshake)``."""
        d, ctx = self.dut, self.ctx
        up = False
        while True:
            up = up or not self._gap()
            ctx.set(d.arvalid, up)
            ctx.set(d.araddr, addr if up else addr ^ 0x14)
            ctx.set(d.arprot, 0)
            ctx.set(d.rready, not self._gap())
            assert not ctx.get(d.rvalid), f"rvalid before the read, cycle {self.cycle}"
            fired = up and ctx.get(d.arready)
            start = self.cycle
            await self.step()
            if fired:
                ctx.set(d.arvalid, 0)
                break
        data, resp = await self._response(d.rvalid, d.rready, (d.rdata, d.rresp), start)
        return data, resp, start


def simulate(dut, *testbenches):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    sim.run()


def counter_ports(dut, regmap):
    return [getattr(dut, r.name.lower()) for r in regmap if r.width == 64]


def set_ro(ctx, dut, values):
    for name, value in values.items():
        ctx.set(getattr(dut, name.lower()).as_value(), value)


# -- tests ---------------------------------------------------------------------------------


def test_interface():
    dut = AxiLiteRegisters(regmap=ACCEL)
    members = dut.signature.members
    bus = AxiLiteSignature(addr_width=8).flip().members
    assert list(members)[:19] == list(bus) == [
        "awaddr", "awprot", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready",
        "bresp", "bvalid", "bready", "araddr", "arprot", "arvalid", "arready", "rdata",
        "rresp", "rvalid", "rready"]
    for name in ("awaddr", "wdata", "wstrb", "wvalid", "bready", "araddr", "rready"):
        assert members[name].flow.name == "In", name
    for name in ("awready", "wready", "bresp", "bvalid", "arready", "rdata", "rvalid"):
        assert members[name].flow.name == "Out", name
    assert members["wdata"].shape == 32 and members["awaddr"].shape == 8
    assert members["control"].flow.name == "Out" and members["command"].flow.name == "Out"
    assert members["status"].flow.name == "In"
    assert members["status"].shape == register_layout(ACCEL["STATUS"])
    assert members["busy_cycles"].flow.name == "In" and members["busy_cycles"].shape == 64
    assert [f for f, _ in members["abft_pixel"].shape] == ["pixel_pass", "column", "_24"]
    assert dut.status.error_code.shape().width == 8
    ports = [line.split()[-1].rstrip(";") for line in verilog.convert(dut).splitlines()
             if line.lstrip().startswith(("input", "output"))]
    assert set(ports) == set(members) | {"clk", "rst"}


def test_construction_errors():
    with pytest.raises(TypeError, match="regmap must be a RegisterMap"):
        AxiLiteRegisters(regmap=list(ACCEL))
    with pytest.raises(ValueError, match=r"addr_width must be an integer from 8 \(the map ends "
                                         r"at 0x88\) to 32, not 7"):
        AxiLiteRegisters(regmap=ACCEL, addr_width=7)
    clash = RegisterMap([Register("RDATA", 0, "ro", (Field("x", 0, 1),))])
    with pytest.raises(ValueError, match="register RDATA: member name 'rdata' is taken"):
        AxiLiteRegisters(regmap=clash)


@pytest.mark.parametrize("regmap", [ACCEL, SMALL], ids=["accel", "small"])
def test_reads_of_every_word(regmap):
    """ro values, rw resets, w1p zeros, both halves of every counter, and the words around."""
    rng = np.random.default_rng(1)
    dut = AxiLiteRegisters(regmap=regmap, addr_width=8)
    values = ro_values(regmap, rng)
    model = Model(regmap, values)

    async def testbench(ctx):
        set_ro(ctx, dut, values)
        bus = Master(dut, ctx, counters=counter_ports(dut, regmap))
        for addr in range(0, 0x100, 4):
            data, resp, cycle = await bus.read(addr)
            assert (data, resp) == model.read(addr, cycle), hex(addr)

    simulate(dut, testbench)


@pytest.mark.parametrize("order", ORDERS)
def test_rw_writes_with_byte_strobes_and_w1p_pulses(order):
    rng = np.random.default_rng(ORDERS.index(order))
    dut = AxiLiteRegisters(regmap=SMALL, addr_width=6)
    model = Model(SMALL, ro_values(SMALL, rng))
    watch = [("CTRL", dut.ctrl.as_value()), ("GO", dut.go.as_value())]

    async def testbench(ctx):
        set_ro(ctx, dut, model.ro)
        bus = Master(dut, ctx, watch=watch)
        pulses = []
        for strb in [0xF, 0x0, 0x1, 0x2, 0x4, 0x8, 0x5, 0xA, 0xF] + list(range(16)):
            data = int(rng.integers(0, 2**32))
            for addr in (0x0, 0x4):
                old = model.rw["CTRL"]
                resp, cycle = await bus.write(addr, data, strb, order)
                expected, pulse = model.write(addr, data, strb)
                assert resp == expected
                if pulse:
                    pulses.append((cycle, pulse[1]))
                # the new value shows in the cycle the response does, not before
                assert bus.trace[cycle - 1]["CTRL"] == old
                assert bus.trace[cycle]["CTRL"] == model.rw["CTRL"]
            assert (await bus.read(0x0))[:2] == (model.rw["CTRL"], OKAY)
            assert (await bus.read(0x4))[:2] == (0, OKAY)
        await bus.step(2)
        seen = [(cycle, row["GO"]) for cycle, row in enumerate(bus.trace) if row["GO"]]
        assert seen == pulses
        assert len(pulses) > 10

    simulate(dut, testbench)


@pytest.mark.parametrize("regmap", [ACCEL, SMALL], ids=["accel", "small"])
@pytest.mark.parametrize("seed", range(3))
def test_random_traffic_on_all_channels(regmap, seed):
    """Random writes and reads anywhere, in every order, with gaps on all five channels."""
    rng = np.random.default_rng(100 + seed)
    dut = AxiLiteRegisters(regmap=regmap, addr_width=8)
    model = Model(regmap, ro_values(regmap, rng))
    outputs = [r for r in regmap if r.access != "ro"]
    watch = [(r.name, getattr(dut, r.name.lower()).as_value()) for r in outputs]
    counters = [r for r in regmap if r.width == 64]
    single = [a for a in range(0, 0x100, 4) if model.word(a)[0] not in counters]

    async def testbench(ctx):
        set_ro(ctx, dut, model.ro)
        bus = Master(dut, ctx, rng=rng, idle=0.4, watch=watch,
                     counters=counter_ports(dut, regmap))
        pulses = []
        for _ in range(120):
            addr = int(rng.integers(0, 64)) * 4
            if rng.random() < 0.2 and counters:  # a 64-bit read, other reads between
                base = counters[int(rng.integers(len(counters)))].offset
                low, resp, cycle = await bus.read(base)
                assert (low, resp) == model.read(base, cycle)
                if rng.random() < 0.5:
                    other = int(rng.choice(single))
                    data, resp, cycle = await bus.read(other)
                    assert (data, resp) == model.read(other, cycle), hex(other)
                high, resp, _ = await bus.read(base + 4)
                assert (high, resp) == model.read(base + 4, None)
            elif rng.random() < 0.5:
                data = int(rng.integers(0, 2**32))
                strb = int(rng.integers(0, 16)) if rng.random() < 0.5 else 0xF
                resp, cycle = await bus.write(addr, data, strb, ORDERS[rng.integers(3)])
                expected, pulse = model.write(addr, data, strb)
                assert resp == expected, hex(addr)
                if pulse:
                    pulses.append((cycle, pulse))
                for name, value in model.rw.items():
                    assert bus.trace[cycle][name] == value, name
            else:
                data, resp, cycle = await bus.read(addr)
                assert (data, resp) == model.read(addr, cycle), hex(addr)
        await bus.step(2)
        seen = [(cycle, (name, row[name])) for cycle, row in enumerate(bus.trace)
                for name in row if row[name] and name not in model.rw]
        assert seen == pulses

    simulate(dut, testbench)


def test_reads_and_writes_at_once():
    """A writer and a reader on their own channels at the same time, both with gaps."""
    dut = AxiLiteRegisters(regmap=SMALL, addr_width=6)
    rng = np.random.default_rng(7)
    model = Model(SMALL, ro_values(SMALL, rng))
    done = []

    async def writer(ctx):
        set_ro(ctx, dut, model.ro)
        bus = Master(dut, ctx, rng=np.random.default_rng(8))
        for i in range(40):
            addr = (0x0, 0x4, 0x8, 0xC, 0x20)[i % 5]
            data = int(rng.integers(0, 2**32))
            resp, _ = await bus.write(addr, data, 0xF, ORDERS[i % 3])
            assert resp == model.write(addr, data, 0xF)[0]
        assert ctx.get(dut.ctrl.as_value()) == model.rw["CTRL"]
        done.append("writer")

    async def reader(ctx):
        bus = Master(dut, ctx, rng=np.random.default_rng(9))
        await bus.step()
        for i in range(60):
            addr = (0x4, 0x8, 0xC, 0x30)[i % 4]
            data, resp, _ = await bus.read(addr)
            assert (data, resp) == model.read(addr, None), hex(addr)
        done.append("reader")

    simulate(dut, writer, reader)
    assert sorted(done) == ["reader", "writer"]


def test_unmapped_addresses_answer_slverr():
    dut = AxiLiteRegisters(regmap=ACCEL, addr_width=10)
    rng = np.random.default_rng(3)
    model = Model(ACCEL, ro_values(ACCEL, rng))

    async def testbench(ctx):
        set_ro(ctx, dut, model.ro)
        bus = Master(dut, ctx)
        for addr in (0x88, 0x8C, 0xFC, 0x100, 0x114, 0x3FC):
            assert (await bus.write(addr, 0xFFFF_FFFF))[0] == SLVERR, hex(addr)
            assert (await bus.read(addr))[:2] == (0, SLVERR), hex(addr)
        # an ro word ignores the write, answers OKAY; the rw word beside it is untouched
        for addr in (0x00, 0x1C, 0x40, 0x44):
            assert (await bus.write(addr, 0xFFFF_FFFF))[0] == OKAY
        assert (await bus.read(0x00))[:2] == (model.ro["ID"], OKAY)
        assert (await bus.read(0x14))[:2] == (0, OKAY)
        assert ctx.get(dut.control.run) == 0

    simulate(dut, testbench)


def _snapshot_run(live_high):
    """Read a counter low then high while it carries; ``live_high`` is a wrong model."""
    dut = AxiLiteRegisters(regmap=SMALL, addr_width=6)
    seen = {}

    async def testbench(ctx):
        bus = Master(dut, ctx, counters=counter_ports(dut, SMALL))
        low, _, cycle = await bus.read(0x10)
        high, _, later = await bus.read(0x14)
        value = counter_value(0, cycle)
        seen.update(low=low, high=high)
        # the low word carried between the two reads
        assert (cycle, later) == (0, 2) and counter_value(0, later) == 1 << 32
        assert low == value & 0xFFFF_FFFF == 0xFFFF_FFFE
        expected = (counter_value(0, later) if live_high else value) >> 32
        assert high == expected, f"high word {high}, expected {expected}"

    simulate(dut, testbench)
    return seen


def test_counter_high_word_is_the_snapshot_of_the_low_read():
    seen = _snapshot_run(live_high=False)
    assert seen["low"] != 0


def test_the_snapshot_check_fails_on_a_wrong_answer():
    """The check above is not vacuous: the answer of a slave without the snapshot fails."""
    with pytest.raises(AssertionError, match=r"high word 0, expected 1"):
        _snapshot_run(live_high=True)

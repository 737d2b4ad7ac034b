"""An AXI4-Lite register-file slave generated from a :class:`sense_models.regmap.RegisterMap`."""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from sense_models.regmap import WORD_BYTES, RegisterMap

__all__ = ["AxiLiteSignature", "AxiLiteRegisters", "register_layout", "OKAY", "SLVERR"]

OKAY = 0b00
SLVERR = 0b10
DATA_WIDTH = 32


class AxiLiteSignature(wiring.Signature):
    """AXI4-Lite with a 32-bit data bus, from the master's side (``.flip()`` for a slave).

    Members are the AXI signal names in lower case without the channel prefix ``s_axi_``;
    ``ACLK`` and ``ARESETn`` are the ``sync`` domain's clock and (inverted) reset.
    """

    def __init__(self, *, addr_width):
        if isinstance(addr_width, bool) or not isinstance(addr_width, int) or addr_width < 2:
            raise ValueError(f"addr_width must be an integer of at least 2, not {addr_width!r}")
        self._addr_width = addr_width
        super().__init__({
            "awaddr": Out(addr_width), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(DATA_WIDTH), "wstrb": Out(DATA_WIDTH // 8), "wvalid": Out(1),
            "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
            "rdata": In(DATA_WIDTH), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, AxiLiteSignature) and other.addr_width == self.addr_width

    def __repr__(self):
        return f"AxiLiteSignature(addr_width={self.addr_width})"


def register_layout(register):
    """The ``StructLayout`` of a 32-bit register: its fields, gaps filled by padding.

    Padding members are named ``_<lsb>`` (not reachable as attributes of a view).
    """
    members = {}
    position = 0
    for field in sorted(register.fields, key=lambda f: f.lsb):
        if field.lsb > position:
            members[f"_{position}"] = unsigned(field.lsb - position)
        members[field.name] = unsigned(field.width)
        position = field.lsb + field.width
    if position < register.width:
        members[f"_{position}"] = unsigned(register.width - position)
    return data.StructLayout(members)


class AxiLiteRegisters(wiring.Component):
    """The registers of ``regmap`` behind an AXI4-Lite slave (32-bit data, one outstanding
    read and one outstanding write).

    Words are decoded on ``addr[addr_width-1:2]`` (the low two bits and ``awprot``/``arprot``
    are ignored). A write to an ``ro`` word is ignored and answered OKAY; an address that
    maps no word is answered SLVERR, and a read of it returns 0. ``wstrb`` selects the bytes
    written to ``rw`` and ``w1p`` registers. No ready depends on a valid in the same cycle:
    ``awready``, ``wready`` and ``arready`` depend only on the slave's state.

    Parameters
    ----------
    regmap : RegisterMap
        Keyword-only.
    addr_width : int
        Keyword-only; byte-address bits, enough to reach every register (default 8).

    Members
    -------
    awaddr, awprot, awvalid, awready, wdata, wstrb, wvalid, wready, bresp, bvalid, bready, \
araddr, arprot, arvalid, arready, rdata, rresp, rvalid, rready
        The AXI4-Lite slave (:class:`AxiLiteSignature` flipped). Write: AW and W are taken
        in either order or together; ``bvalid`` rises **one cycle** after the later of the
        two handshakes and holds, with ``bresp``, until ``bready``. AW and W are not taken
        again until that response is accepted: at most one write every two cycles. Read:
        the value is sampled in the AR handshake cycle; ``rvalid`` rises **one cycle**
        later and holds, with ``rdata``/``rresp``, until ``rready``: at most one read every
        two cycles. Reads and writes proceed independently; a read whose AR handshake is
        in the cycle of a write's later handshake returns the value from before the write.
    <register> : In(register_layout) (``ro``), In(64) (64-bit ``ro``)
        One member per register, its name in lower case: the value the top drives, read
        by software. A 64-bit counter's high word is captured when its low word is read.
    <register> : Out(register_layout) (``rw``)
        The stored value, reset to the register's ``reset``; a write shows here in the
        cycle ``bvalid`` rises.
    <register> : Out(register_layout) (``w1p``)
        The written one bits of the fields for exactly one cycle, the cycle ``bvalid``
        rises; 0 otherwise.
    """

    verilog_name = "axil_registers"

    def __init__(self, *, regmap, addr_width=8):
        if not isinstance(regmap, RegisterMap):
            self._MustUse__silence = True  # never built: no "unused elaboratable" warning
            raise TypeError(f"regmap must be a RegisterMap, not {regmap!r}")
        if (isinstance(addr_width, bool) or not isinstance(addr_width, int)
                or not regmap.addr_width <= addr_width <= 32):
            self._MustUse__silence = True
            raise ValueError(f"addr_width must be an integer from {regmap.addr_width} (the map "
                             f"ends at {regmap.size:#x}) to 32, not {addr_width!r}")
        bus = AxiLiteSignature(addr_width=addr_width).flip()
        members = dict(bus.members.items())
        for register in regmap:
            name = register.name.lower()
            if name in members or name.startswith("_"):
                self._MustUse__silence = True
                raise ValueError(f"register {register.name}: member name {name!r} is taken "
                                 f"by the bus or is private")
            if register.width == 64:
                members[name] = In(64)
            elif register.access == "ro":
                members[name] = In(register_layout(register))
            else:
                members[name] = Out(register_layout(register),
                                    init=register.unpack(register.reset))
        self._regmap = regmap
        self._addr_width = addr_width
        super().__init__(members)

    @property
    def regmap(self):
        return self._regmap

    def elaborate(self, platform):
        m = Module()
        word_bits = self._addr_width - 2

        # Write: each address/data half waits in its holding register for the other, so the
        # channels can arrive in any order; both readies drop while a response is pending,
        # which is what keeps a single write outstanding.
        aw_held = Signal()
        aw_word = Signal(word_bits)
        w_held = Signal()
        w_data = Signal(DATA_WIDTH)
        w_strb = Signal(DATA_WIDTH // 8)
        m.d.comb += [
            self.awready.eq(~aw_held & ~self.bvalid),
            self.wready.eq(~w_held & ~self.bvalid),
        ]
        aw_fire = self.awvalid & self.awready
        w_fire = self.wvalid & self.wready
        # The half that arrives now is used directly, so the write takes effect one cycle
        # after the later handshake rather than two.
        word = Signal(word_bits)
        data_now = Signal(DATA_WIDTH)
        strb_now = Signal(DATA_WIDTH // 8)
        m.d.comb += [
            word.eq(Mux(aw_held, aw_word, self.awaddr[2:])),
            data_now.eq(Mux(w_held, w_data, self.wdata)),
            strb_now.eq(Mux(w_held, w_strb, self.wstrb)),
        ]
        write = Signal()
        m.d.comb += write.eq((aw_held | aw_fire) & (w_held | w_fire))
        byte_mask = Cat(*(bit.replicate(8) for bit in strb_now))

        with m.If(aw_fire):
            m.d.sync += [aw_held.eq(1), aw_word.eq(self.awaddr[2:])]
        with m.If(w_fire):
            m.d.sync += [w_held.eq(1), w_data.eq(self.wdata), w_strb.eq(self.wstrb)]
        with m.If(self.bvalid & self.bready):
            m.d.sync += self.bvalid.eq(0)

        # The writable registers store their fields only: each field is a flip-flop of its
        # own that drives the port, and the padding between fields is a constant 0.
        stored = {}
        for register in self._regmap:
            if register.access == "ro":
                continue
            port = getattr(self, register.name.lower())
            for f in register.fields:
                flop = Signal(f.width, name=f"{register.name.lower()}_{f.name}",
                              init=register.unpack(register.reset)[f.name])
                stored[register.name, f.name] = flop
                m.d.comb += getattr(port, f.name).eq(flop)
                if register.access == "w1p":
                    m.d.sync += flop.eq(0)

        with m.If(write):
            m.d.sync += [aw_held.eq(0), w_held.eq(0), self.bvalid.eq(1),
                         self.bresp.eq(SLVERR)]
            with m.Switch(word):
                for offset, register, half in self._regmap.words():
                    with m.Case(offset // WORD_BYTES):
                        m.d.sync += self.bresp.eq(OKAY)
                        for f in register.fields if register.access != "ro" else ():
                            flop, bits = stored[register.name, f.name], slice(f.lsb, f.msb + 1)
                            written = data_now[bits] & byte_mask[bits]
                            if register.access == "rw":
                                m.d.sync += flop.eq((flop & ~byte_mask[bits]) | written)
                            else:
                                m.d.sync += flop.eq(written)

        # Read: one response register; the high word of a 64-bit register is captured with
        # its low word so that a low-then-high read pair sees one value.
        snapshots = {register.name: Signal(DATA_WIDTH, name=f"{register.name.lower()}_hi")
                     for register in self._regmap if register.width == 64}
        m.d.comb += self.arready.eq(~self.rvalid)
        with m.If(self.rvalid & self.rready):
            m.d.sync += self.rvalid.eq(0)
        with m.If(self.arvalid & self.arready):
            m.d.sync += [self.rvalid.eq(1), self.rdata.eq(0), self.rresp.eq(SLVERR)]
            with m.Switch(self.araddr[2:]):
                for offset, register, half in self._regmap.words():
                    port = getattr(self, register.name.lower())
                    with m.Case(offset // WORD_BYTES):
                        m.d.sync += self.rresp.eq(OKAY)
                        if register.width == 64:
                            snapshot = snapshots[register.name]
                            if half == 0:
                                m.d.sync += [self.rdata.eq(port[:DATA_WIDTH]),
                                             snapshot.eq(port[DATA_WIDTH:])]
                            else:
                                m.d.sync += self.rdata.eq(snapshot)
                        elif register.access != "w1p":
                            m.d.sync += self.rdata.eq(port.as_value())
        return m

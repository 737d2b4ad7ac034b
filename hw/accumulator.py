"""Per-column accumulator: sums a pixel's tile sums across reduction tiles."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .component import ConfigComponent

__all__ = ["ColumnAccumulator"]


class ColumnAccumulator(ConfigComponent):
    """One column's partial results, ``acc_depth`` pixels deep, in a memory.

    A two-stage read-modify-write. The address is presented one cycle ahead (``rd_tag``) so
    the synchronous read lines up with the tile sum; the read port is transparent to the
    write port, so back-to-back vectors of the same pixel (a one-pixel pass) see each other.

    Members
    -------
    rd_tag : In(range(acc_depth))
        Tag of the vector whose ``psum`` arrives next cycle.
    valid, tag, first, last : In
        The vector whose ``psum`` is here now: ``first`` starts from zero instead of the
        stored sum; ``last`` sends the total to ``result`` instead of storing it.
    psum : In(signed(acc_width))
        The tile sum from the bottom of the column.
    result : Out(signed(acc_width))
        ``stored + psum`` (or ``psum`` when ``first``), registered: valid one cycle after a
        ``last`` vector. Throughput one vector per cycle.
    drain : In(1)
        With ``abft="both"`` only: ``result`` takes the stored sum read at ``rd_tag`` the
        cycle before (draining a held pixel tile) instead of ``stored + psum``.
    """

    verilog_name = "accumulator"

    def members(self, config):
        return {
            "rd_tag": In(range(config.acc_depth)),
            "valid": In(1),
            "tag": In(range(config.acc_depth)),
            "first": In(1),
            "last": In(1),
            "psum": In(signed(config.acc_width)),
            "result": Out(signed(config.acc_width)),
            **({"drain": In(1)} if config.corrects else {}),
        }

    def start_value(self, stored):
        """What the tile sum adds to: zero on a pixel's ``first`` vector, else ``stored``."""
        return Mux(self.first, 0, stored)

    def stores(self):
        """The sum is written back: every vector but a pixel's ``last``, whose total leaves."""
        return self.valid & ~self.last

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        m.submodules.sums = sums = Memory(shape=signed(cfg.acc_width), depth=cfg.acc_depth,
                                          init=[])
        write = sums.write_port()
        read = sums.read_port(transparent_for=(write,))

        total = Signal(signed(cfg.acc_width))
        m.d.comb += total.eq(self.start_value(read.data) + self.psum)
        # The checksum column's accumulator only feeds the kernel check: a checker site.
        kind = "checker" if self._name == "acc_cs" else "accumulator"
        total = self._faults.wire(m, total, kind=kind, block=self._name, name="total")
        m.d.comb += [
            read.addr.eq(self.rd_tag),
            write.addr.eq(self.tag),
            write.data.eq(total),
            write.en.eq(self.stores()),
        ]
        result = Signal.like(self.result, name="result_reg", reset_less=True)
        result_out = self._faults.register(m, result, kind=kind, block=self._name,
                                           name="result_reg")
        m.d.sync += result.eq(Mux(self.drain, read.data, total) if cfg.corrects else total)
        m.d.comb += self.result.eq(result_out)
        return m

"""The processing element: ``G/2`` multipliers with index-driven IFM selection."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from .component import ConfigComponent

__all__ = ["ProcessingElement"]


class ProcessingElement(ConfigComponent):
    """One (reduction group, kernel) pair of the current tile.

    Each cycle the PE takes one pixel's ``row_span`` IFM values from the left and passes them
    right, picks with its stationary indices the ``G/2`` values that meet its stationary
    weights (sparse; the dense baseline takes its ``G/2`` values in order), multiplies, adds
    the products to the partial sum from above and passes the sum down. Stationary weights are
    double-buffered: ``bank_in`` travels with the IFM values and selects the bank, so a new tile
    takes effect exactly when its first pixel vector reaches this PE, while the loader writes
    the other bank.

    Parameters
    ----------
    config : ArrayConfig
        ``group``, ``sparse`` and the widths are used.

    Members
    -------
    x_in : In(ArrayLayout(signed(ifm_width), row_span))
        IFM values from the left.
    bank_in : In(1)
        Weight bank that ``x_in`` is to meet.
    psum_in : In(signed(acc_width))
        Partial sum from the PE above (0 at the top row), ``pe_latency - 1`` cycles after
        the ``x_in`` it is to meet.
    x_out, bank_out : Out
        ``x_in`` and ``bank_in``, registered: to the PE on the right.
    psum_out : Out(signed(acc_width))
        ``psum_in + sum(w * x)``, wrapped to ``acc_width`` bits, registered: to the PE below.
    w_en, w_bank, w_value, w_index : In
        Weight write port: when ``w_en``, bank ``w_bank`` takes ``w_value`` (and, sparse,
        ``w_index``) at the clock edge.

    valid_in, valid_out : In(1), Out(1)
        Feeder builds only: ``x_in`` is an issued vector; registered to the right like ``x_in``.
    gated : Out(G/2)
        Feeder builds only: multiplier ``lane`` was gated for the vector now in its input
        registers (a valid vector whose selected IFM value is zero), registered: one cycle
        after ``x_in``, in step with ``bank_out``. A gated multiplier's weight input is forced
        to zero as well (operand isolation), so both its inputs stay at zero while it is gated.

    Latency: one cycle from ``x_in`` to ``x_out``; ``pe_latency`` (3) cycles from ``x_in`` to
    the ``psum_out`` it contributes to (the multiplier's input registers, its output register,
    then the partial sum's), which takes ``psum_in`` two cycles after ``x_in``: the rows below
    see their vector a cycle later and their sum from above a cycle later, so it arrives just
    in time. Throughput is one pixel vector per
    cycle.

    ``forwards=False`` tells a fault-injection build that nothing reads ``x_out`` (the last
    column, without a checksum column), so its IFM register is no fault site.
    """

    verilog_name = "pe"

    def __init__(self, *, config, faults=None, name=None, forwards=True):
        self._forwards = forwards
        super().__init__(config=config, faults=faults, name=name)

    def members(self, config):
        m = config.mults_per_pe
        ifm = data.ArrayLayout(signed(config.ifm_width), config.row_span)
        members = {
            "x_in": In(ifm),
            "bank_in": In(1),
            "psum_in": In(signed(config.acc_width)),
            "x_out": Out(ifm),
            "bank_out": Out(1),
            "psum_out": Out(signed(config.acc_width)),
            "w_en": In(1),
            "w_bank": In(1),
            "w_value": In(data.ArrayLayout(signed(config.weight_width), m)),
        }
        if config.sparse:
            members["w_index"] = In(data.ArrayLayout(unsigned(config.index_width), m))
        if config.feeder:
            members.update({"valid_in": In(1), "valid_out": Out(1), "gated": Out(m)})
        return members

    def select(self, lane, index):
        """The IFM value multiplier ``lane`` takes: ``x_in[index]`` (sparse), ``x_in[lane]``."""
        return self.x_in[lane] if index is None else self.x_in[index]

    def writes_bank(self, bank):
        """The weight port writes stationary bank ``bank`` this cycle."""
        return self.w_en & (self.w_bank == bank)

    def gates(self, operand, weight):
        """Multiplier gating: the selected IFM value is zero, so the product is."""
        return operand == 0

    def partial_sum(self, products):
        """What goes down to the PE below: the sum from above plus this PE's products."""
        return self.psum_in + sum(products)

    def elaborate(self, platform):
        cfg, faults, block = self._config, self._faults, self._name
        m = Module()

        banks = []
        for b in range(2):
            # Datapath registers carry no reset: nothing reads them before a valid write.
            value = Signal.like(self.w_value, name=f"w_value_b{b}", reset_less=True)
            index = Signal.like(self.w_index, name=f"w_index_b{b}", reset_less=True) \
                if cfg.sparse else None
            value_out = faults.register(m, value, kind="weight_register", block=block,
                                        name=f"w_value_b{b}")
            index_out = faults.register(m, index, kind="index_register", block=block,
                                        name=f"w_index_b{b}") if cfg.sparse else None
            with m.If(self.writes_bank(b)):
                m.d.sync += value.eq(self.w_value)
                if cfg.sparse:
                    m.d.sync += index.eq(self.w_index)
            banks.append((value_out, index_out))

        products = []
        if cfg.feeder:  # registered beside the operands: the row counts from flip-flops
            gated_reg = Signal(cfg.mults_per_pe, name="gated_reg")
            m.d.comb += self.gated.eq(gated_reg)
        for lane in range(cfg.mults_per_pe):
            weight = Mux(self.bank_in, banks[1][0][lane], banks[0][0][lane])
            index = Mux(self.bank_in, banks[1][1][lane], banks[0][1][lane]) if cfg.sparse \
                else None
            operand = self.select(lane, index)
            if cfg.feeder:  # zero-operand gating: both multiplier inputs held at zero
                gate = Signal(name=f"gate{lane}")
                isolated = Signal.like(weight, name=f"isolated_weight{lane}")
                m.d.comb += [gate.eq(self.gates(operand, weight)),
                             isolated.eq(Mux(gate, 0, weight))]
                m.d.sync += gated_reg[lane].eq(gate & self.valid_in)
                weight = isolated
            # The operand stage: bank select and index multiplexer end at the multiplier's
            # input registers (a DSP block's A and B registers), the multiplier at its output
            # register, the adder chain in the cycle after: three short cycles, not one long.
            weight_reg = Signal.like(weight, name=f"weight_reg{lane}", reset_less=True)
            operand_reg = Signal(signed(cfg.ifm_width), name=f"operand_reg{lane}",
                                 reset_less=True)
            weight_seen = faults.register(m, weight_reg, kind="multiplier", block=block,
                                          name=f"weight_reg{lane}")
            operand_seen = faults.register(m, operand_reg, kind="multiplier", block=block,
                                           name=f"operand_reg{lane}")
            m.d.sync += [weight_reg.eq(weight), operand_reg.eq(operand)]
            product = Signal(signed(cfg.ifm_width + cfg.weight_width), name=f"product{lane}")
            m.d.comb += product.eq(weight_seen * operand_seen)
            product = faults.wire(m, product, kind="multiplier", block=block,
                                  name=f"product{lane}")
            product_reg = Signal.like(product, name=f"product_reg{lane}", reset_less=True)
            products.append(faults.register(m, product_reg, kind="multiplier", block=block,
                                            name=f"product_reg{lane}"))
            m.d.sync += product_reg.eq(product)

        total = Signal.like(self.psum_out, name="psum_sum")
        m.d.comb += total.eq(self.partial_sum(products))
        total = faults.wire(m, total, kind="adder", block=block, name="psum_sum")

        x_reg = Signal.like(self.x_in, name="x_reg", reset_less=True)
        bank_reg = Signal(name="bank_reg", reset_less=True)
        psum_reg = Signal.like(self.psum_out, name="psum_reg", reset_less=True)
        x_out = faults.register(m, x_reg, kind="ifm_register", block=block, name="x_reg") \
            if self._forwards else x_reg
        psum_out = faults.register(m, psum_reg, kind="psum_register", block=block,
                                   name="psum_reg")
        m.d.sync += [x_reg.eq(self.x_in), bank_reg.eq(self.bank_in), psum_reg.eq(total)]
        m.d.comb += [self.x_out.eq(x_out), self.bank_out.eq(bank_reg), self.psum_out.eq(psum_out)]
        if cfg.feeder:
            valid_reg = Signal(name="valid_reg")
            m.d.sync += valid_reg.eq(self.valid_in)
            m.d.comb += self.valid_out.eq(valid_reg)
        return m

"""ABFT checker blocks: the kernel checksum PE and the per-column pixel-side checker."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from sense_models.abft import DIGIT_BITS

from .component import ConfigComponent

__all__ = ["ChecksumPE", "ColumnChecker"]


class ChecksumPE(ConfigComponent):
    """One row of the kernel checksum column: ``psum_out = psum_in + w_s . x_in``.

    ``w_s`` is dense over the row's ``row_span`` reduction elements (the kernels it sums
    keep different positions), so the PE has ``row_span`` multipliers of IFM x
    ``checksum_weight_width`` bits. Weights are double-buffered like the data PEs'.

    Members
    -------
    x_in, bank_in, psum_in : In
        As :class:`sense_hw.pe.ProcessingElement`; ``x_in`` and ``bank_in`` are the row's
        left-edge inputs, the same column 0 gets.
    psum_out : Out(signed(acc_width))
        Registered; as the data PEs', ``pe_latency`` cycles after ``x_in`` (the products are
        registered first), one vector per cycle.
    w_en, w_bank, w_value : In
        Weight write port; ``w_value`` holds the row's ``row_span`` checksum weights.
    """

    verilog_name = "checksum_pe"

    def members(self, config):
        return {
            "x_in": In(data.ArrayLayout(signed(config.ifm_width), config.row_span)),
            "bank_in": In(1),
            "psum_in": In(signed(config.acc_width)),
            "psum_out": Out(signed(config.acc_width)),
            "w_en": In(1),
            "w_bank": In(1),
            "w_value": In(data.ArrayLayout(signed(config.checksum_weight_width),
                                           config.row_span)),
        }

    def elaborate(self, platform):
        cfg = self.config
        m = Module()
        banks = []
        for b in range(2):
            value = Signal.like(self.w_value, name=f"w_value_b{b}", reset_less=True)
            banks.append(self._faults.register(m, value, kind="checker", block=self._name,
                                               name=f"w_value_b{b}"))
            with m.If(self.w_en & (self.w_bank == b)):
                m.d.sync += value.eq(self.w_value)
        products = []
        for lane in range(cfg.row_span):
            product = Signal(signed(cfg.ifm_width + cfg.checksum_weight_width),
                             name=f"product{lane}")
            # the data PEs' stages: operands registered, then the product, then the sum
            weight = Signal.like(banks[0][lane], name=f"weight_reg{lane}", reset_less=True)
            operand = Signal.like(self.x_in[lane], name=f"operand_reg{lane}", reset_less=True)
            weight_seen = self._faults.register(m, weight, kind="checker", block=self._name,
                                                name=f"weight_reg{lane}")
            operand_seen = self._faults.register(m, operand, kind="checker", block=self._name,
                                                 name=f"operand_reg{lane}")
            m.d.sync += [weight.eq(Mux(self.bank_in, banks[1][lane], banks[0][lane])),
                         operand.eq(self.x_in[lane])]
            m.d.comb += product.eq(weight_seen * operand_seen)
            product = self._faults.wire(m, product, kind="checker", block=self._name,
                                        name=f"product{lane}")
            product_reg = Signal.like(product, name=f"product_reg{lane}", reset_less=True)
            products.append(self._faults.register(m, product_reg, kind="checker",
                                                  block=self._name, name=f"product_reg{lane}"))
            m.d.sync += product_reg.eq(product)
        psum = Signal.like(self.psum_out, name="psum_reg", reset_less=True)
        psum_out = self._faults.register(m, psum, kind="checker", block=self._name,
                                         name="psum_reg")
        m.d.sync += psum.eq(self.psum_in + sum(products))
        m.d.comb += self.psum_out.eq(psum_out)
        return m


class ColumnChecker(ConfigComponent):
    """Pixel-side check of one column, once per pass.

    Keeps one running difference: plus the column's tile sums of the pass's pixel vectors,
    minus the tile sums of the checksum digit vectors shifted into place (digit ``k`` weighs
    ``2**(7k)``). After the last digit the difference is the syndrome, zero when the pass
    added up. One adder and one register per column.

    Members
    -------
    valid, check, digit, last_digit : In
        The vector whose tile sum is on ``psum`` now: a pixel vector (``check`` low) or
        checksum digit ``digit`` (``last_digit`` on the pass's last one).
    psum : In(signed(acc_width))
        The column's tile sum.
    mismatch : Out(1)
        One-cycle pulse, registered, the cycle after the last digit: the pass did not add up.
    syndrome : Out(signed(acc_width))
        Observed minus recombined checksum, with ``mismatch``.
    """

    verilog_name = "column_checker"

    def members(self, config):
        return {
            "valid": In(1),
            "check": In(1),
            "digit": In(range(max(2, config.check_digits))),
            "last_digit": In(1),
            "psum": In(signed(config.acc_width)),
            "mismatch": Out(1),
            "syndrome": Out(signed(config.acc_width)),
        }

    def digit_shift(self, k):
        """Bits digit ``k`` of the checksum pixel is shifted left by: it weighs ``2**(7k)``."""
        return DIGIT_BITS * k

    def flags(self, syndrome):
        """The pass did not add up."""
        return syndrome != 0

    def elaborate(self, platform):
        cfg = self.config
        m = Module()
        difference = Signal(signed(cfg.acc_width), name="difference")
        current = self._faults.register(m, difference, kind="checker", block=self._name,
                                        name="difference")
        shifted = Signal(signed(cfg.acc_width))
        with m.Switch(self.digit):
            for k in range(cfg.check_digits - 1):
                with m.Case(k):
                    m.d.comb += shifted.eq(self.psum.shift_left(self.digit_shift(k)))
            with m.Default():  # the top digit (and unused codes: lint-clean, full case)
                top = self.digit_shift(cfg.check_digits - 1)
                m.d.comb += shifted.eq(self.psum.shift_left(top))
        following = Signal(signed(cfg.acc_width))
        m.d.comb += following.eq(Mux(self.check, current - shifted, current + self.psum))
        m.d.sync += self.mismatch.eq(0)
        with m.If(self.valid):
            m.d.sync += difference.eq(following)
            with m.If(self.check & self.last_digit):
                m.d.sync += [difference.eq(0), self.mismatch.eq(self.flags(following)),
                             self.syndrome.eq(following)]
        return m

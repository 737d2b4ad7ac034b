"""The weight-stationary systolic array of processing elements."""

from amaranth.hdl import Module, Mux, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from .abft import ChecksumPE
from .component import ConfigComponent
from .hierarchy import place
from .layouts import weight_layout
from .pe import ProcessingElement

__all__ = ["PERow", "SystolicArray"]


def _gated_count(config, pes):
    """The shape of a count of gated multiplies over ``pes`` PEs."""
    return unsigned((pes * config.mults_per_pe).bit_length())


class PERow(ConfigComponent):
    """One row of ``cols`` PEs: IFM values flow right through it, partial sums pass down.

    The row is one Verilog module, instanced ``rows`` times: the array's module then holds
    ``rows`` instances instead of ``rows * cols``.

    Parameters
    ----------
    config : ArrayConfig
    row : int
        The row's index: names its PEs (``pe_r<row>_c<column>``) for fault-site labels.

    Members
    -------
    x_in : In(ArrayLayout(signed(ifm_width), row_span))
        IFM values at the row's left edge.
    bank_in : In(1)
        Weight bank travelling with ``x_in``.
    psum_in : In(ArrayLayout(signed(acc_width), cols))
        Per-column partial sums from the row above (zero for row 0).
    psum_out : Out(ArrayLayout(signed(acc_width), cols))
        Per-column partial sums to the row below, registered: column ``j``'s sum for a
        vector leaves ``j + pe_latency`` cycles after the vector entered ``x_in``.
    w_en, w_bank : In(1)
        Weight write: the row's PEs take ``w_value`` (and ``w_index``) into bank ``w_bank``.
    w_value : In(ArrayLayout(ArrayLayout(signed(weight_width), G/2), cols))
    w_index : In(ArrayLayout(ArrayLayout(unsigned(index_width), G/2), cols))
        Sparse builds only.
    valid_in : In(1)
        Feeder builds only: ``x_in`` is an issued vector.
    gated : Out(ArrayLayout(unsigned(...), 2))
        Feeder builds only: the row's gated multiplies by weight bank, registered: two
        cycles after the vectors that ``x_in`` carried when the PEs gated them.

    Throughput one pixel vector per cycle.
    """

    verilog_name = "pe_row"

    def __init__(self, *, config, row=0, faults=None, name=None):
        self._row = row
        super().__init__(config=config, faults=faults, name=name)

    def members(self, config):
        m = config.mults_per_pe
        acc = data.ArrayLayout(signed(config.acc_width), config.cols)
        members = {
            "x_in": In(data.ArrayLayout(signed(config.ifm_width), config.row_span)),
            "bank_in": In(1),
            "psum_in": In(acc),
            "psum_out": Out(acc),
            "w_en": In(1),
            "w_bank": In(1),
            "w_value": In(data.ArrayLayout(data.ArrayLayout(signed(config.weight_width), m),
                                           config.cols)),
        }
        if config.sparse:
            members["w_index"] = In(data.ArrayLayout(
                data.ArrayLayout(unsigned(config.index_width), m), config.cols))
        if config.feeder:
            members.update({"valid_in": In(1),
                            "gated": Out(data.ArrayLayout(_gated_count(config, config.cols),
                                                          2))})
        return members

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        pes = []
        for j in range(cfg.cols):
            name = f"pe_r{self._row}_c{j}"
            pe = ProcessingElement(config=cfg, faults=self._faults, name=name,
                                   forwards=j < cfg.cols - 1)
            place(m, f"pe_c{j}", pe)
            left = pes[-1] if pes else None
            m.d.comb += [
                pe.x_in.eq(self.x_in if left is None else left.x_out),
                pe.bank_in.eq(self.bank_in if left is None else left.bank_out),
                pe.psum_in.eq(self.psum_in[j]),
                pe.w_en.eq(self.w_en),
                pe.w_bank.eq(self.w_bank),
                pe.w_value.eq(self.w_value[j]),
                self.psum_out[j].eq(pe.psum_out),
            ]
            if cfg.sparse:
                m.d.comb += pe.w_index.eq(self.w_index[j])
            if cfg.feeder:
                m.d.comb += pe.valid_in.eq(self.valid_in if left is None else left.valid_out)
            pes.append(pe)
        if cfg.feeder:
            # A register per row: an array-wide count in one cycle limited a feeder build's
            # clock (make timing).
            counts = [(pe.bank_out, sum(pe.gated[k] for k in range(cfg.mults_per_pe)))
                      for pe in pes]
            for b in range(2):
                m.d.sync += self.gated[b].eq(sum(Mux(bank == b, count, 0)
                                                 for bank, count in counts))
        return m


class SystolicArray(ConfigComponent):
    """``rows x cols`` PEs: IFM values flow right, partial sums flow down.

    Row ``i`` covers reduction group ``i`` of the tile, column ``j`` kernel ``j``. The inputs
    must already be skewed: row ``i`` sees a pixel vector ``i`` cycles after row 0. Column
    ``j``'s sum for that vector leaves ``rows - 1 + j + pe_latency`` cycles after row 0 saw it.

    Members
    -------
    x_in : In(ArrayLayout(ArrayLayout(signed(ifm_width), row_span), rows))
        Per-row IFM values at the left edge.
    bank_in : In(rows)
        Per-row weight bank travelling with ``x_in``.
    psum_out : Out(ArrayLayout(signed(acc_width), cols))
        Per-column tile sums at the bottom edge.
    valid_in : In(rows)
        Feeder builds only: per-row "``x_in`` is an issued vector", skewed like ``x_in``.
    gated : Out(ArrayLayout(unsigned(...), 2))
        Feeder builds only: multiplies gated in the PEs working with weight bank 0 and
        bank 1, two cycles after the PEs gated them (the rows' registered counts, summed).
    check_psum_out : Out(signed(acc_width))
        With the kernel-side check only: the checksum column's ``w_s . x`` for the vector,
        in step with column 0's sum.
    w_en, w_row, w_bank : In
        Weight write: row ``w_row`` of bank ``w_bank`` takes ``w_data`` at the clock edge.
    w_data : In(weight_layout(config))
        One PE row of weights, ``[column][lane]``.
    """

    verilog_name = "array"

    def members(self, config):
        row = data.ArrayLayout(signed(config.ifm_width), config.row_span)
        members = {
            "x_in": In(data.ArrayLayout(row, config.rows)),
            "bank_in": In(config.rows),
            "psum_out": Out(data.ArrayLayout(signed(config.acc_width), config.cols)),
            "w_en": In(1),
            "w_row": In(range(config.rows)),
            "w_bank": In(1),
            "w_data": In(weight_layout(config)),
        }
        if config.kernel_check:
            members["check_psum_out"] = Out(signed(config.acc_width))
        if config.feeder:
            members.update({"valid_in": In(config.rows),
                            "gated": Out(data.ArrayLayout(
                                _gated_count(config, config.rows * config.cols), 2))})
        return members

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        rows = []
        for i in range(cfg.rows):
            row = PERow(config=cfg, row=i, faults=self._faults, name=f"pe_r{i}")
            place(m, f"row{i}", row)
            m.d.comb += [
                row.x_in.eq(self.x_in[i]),
                row.bank_in.eq(self.bank_in[i]),
                row.psum_in.eq(0 if i == 0 else rows[-1].psum_out),
                row.w_en.eq(self.w_en & (self.w_row == i)),
                row.w_bank.eq(self.w_bank),
                row.w_value.eq(self.w_data.value),
            ]
            if cfg.sparse:
                m.d.comb += row.w_index.eq(self.w_data.index)
            if cfg.feeder:
                m.d.comb += row.valid_in.eq(self.valid_in[i])
            rows.append(row)
        if cfg.feeder:
            for b in range(2):
                m.d.comb += self.gated[b].eq(sum(row.gated[b] for row in rows))
        m.d.comb += self.psum_out.eq(rows[-1].psum_out)
        if cfg.kernel_check:
            self._checksum_column(m)
        return m

    def _checksum_column(self, m):
        """The kernel checksum column, beside column 0 at the left edge.

        It takes the IFM values where they enter the array, not after the data columns'
        forwarding registers: a fault there then changes the data but not the checksum.
        """
        above = None
        for i in range(self._config.rows):
            pe = ChecksumPE(config=self._config, faults=self._faults, name=f"pe_r{i}_cs")
            place(m, f"pe_r{i}_cs", pe)
            m.d.comb += [
                pe.x_in.eq(self.x_in[i]),
                pe.bank_in.eq(self.bank_in[i]),
                pe.psum_in.eq(0 if above is None else above.psum_out),
                pe.w_en.eq(self.w_en & (self.w_row == i)),
                pe.w_bank.eq(self.w_bank),
                pe.w_value.eq(self.w_data.checksum),
            ]
            above = pe
        m.d.comb += self.check_psum_out.eq(above.psum_out)

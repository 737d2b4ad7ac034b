"""The weight-stationary systolic array of processing elements."""

from amaranth.hdl import Module, Mux, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from .abft import ChecksumPE
from .component import ConfigComponent
from .layouts import weight_layout
from .pe import ProcessingElement

__all__ = ["SystolicArray"]


class SystolicArray(ConfigComponent):
    """``rows x cols`` PEs: IFM values flow right, partial sums flow down.

    Row ``i`` covers reduction group ``i`` of the tile, column ``j`` kernel ``j``. The inputs
    must already be skewed: row ``i`` sees a pixel vector ``i`` cycles after row 0. Column
    ``j``'s sum for that vector leaves ``rows + j`` cycles after row 0 saw it.

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
        Feeder builds only: multiplies gated this cycle in the PEs working with weight
        bank 0 and bank 1.
    check_psum_out : Out(signed(acc_width))
        With the kernel-side check only: the checksum column's ``w_s . x`` for the vector,
        in step with column 0's sum.
    w_en, w_row, w_bank : In
        Weight write: row ``w_row`` of bank ``w_bank`` takes ``w_data`` at the clock edge.
    w_data : In(weight_layout(config))
        One PE row of weights, ``[column][lane]``.
    """

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
            count = unsigned(config.multipliers.bit_length())
            members.update({"valid_in": In(config.rows),
                            "gated": Out(data.ArrayLayout(count, 2))})
        return members

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        grid = [[ProcessingElement(config=cfg, faults=self._faults, name=f"pe_r{i}_c{j}",
                                   forwards=j < cfg.cols - 1)
                 for j in range(cfg.cols)] for i in range(cfg.rows)]
        for i, pe_row in enumerate(grid):
            for j, pe in enumerate(pe_row):
                m.submodules[f"pe_r{i}_c{j}"] = pe
                m.d.comb += [
                    pe.x_in.eq(self.x_in[i] if j == 0 else pe_row[j - 1].x_out),
                    pe.bank_in.eq(self.bank_in[i] if j == 0 else pe_row[j - 1].bank_out),
                    pe.psum_in.eq(0 if i == 0 else grid[i - 1][j].psum_out),
                    pe.w_en.eq(self.w_en & (self.w_row == i)),
                    pe.w_bank.eq(self.w_bank),
                    pe.w_value.eq(self.w_data.value[j]),
                ]
                if cfg.sparse:
                    m.d.comb += pe.w_index.eq(self.w_data.index[j])
                if cfg.feeder:
                    m.d.comb += pe.valid_in.eq(self.valid_in[i] if j == 0
                                               else pe_row[j - 1].valid_out)
        if cfg.feeder:
            counts = [(pe.bank_in, sum(pe.gated[k] for k in range(cfg.mults_per_pe)))
                      for pe_row in grid for pe in pe_row]
            for b in range(2):
                m.d.comb += self.gated[b].eq(sum(Mux(bank == b, count, 0)
                                                 for bank, count in counts))
        for j in range(cfg.cols):
            m.d.comb += self.psum_out[j].eq(grid[-1][j].psum_out)
        if cfg.kernel_check:
            self._checksum_column(m, grid)
        return m

    def _checksum_column(self, m, grid):
        """The kernel checksum column, beside column 0 at the left edge.

        It takes the IFM values where they enter the array, not after the data columns'
        forwarding registers: a fault there then changes the data but not the checksum.
        """
        above = None
        for i, pe_row in enumerate(grid):
            pe = ChecksumPE(config=self._config, faults=self._faults, name=f"pe_r{i}_cs")
            m.submodules[f"pe_r{i}_cs"] = pe
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

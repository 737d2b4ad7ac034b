"""The accelerator core: weight loader, IFM skew, array, accumulators, result deskew."""

from amaranth.hdl import Array, EnableInserter, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sense_models.config import ArrayConfig

from .accumulator import ColumnAccumulator
from .array import SystolicArray
from .layouts import pixel_layout, result_layout, weight_layout

__all__ = ["SenseEngine", "SenseCore"]


def _delay(m, value, cycles, name):
    """``value`` delayed by ``cycles`` registers (a list: index ``k`` is ``k`` cycles late)."""
    taps = [value]
    for k in range(1, cycles + 1):
        reg = Signal.like(value, name=f"{name}_d{k}")
        m.d.sync += reg.eq(taps[-1])
        taps.append(reg)
    return taps


class SenseEngine(wiring.Component):
    """The core's pipeline, stepping only when ``advance`` is high.

    See :class:`SenseCore`, which drives ``advance``; the members are the same plus ``advance``.
    """

    def __init__(self, *, config):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"config must be an ArrayConfig, not {config!r}")
        self._config = config
        super().__init__({
            "weights": In(stream.Signature(weight_layout(config))),
            "pixels": In(stream.Signature(pixel_layout(config))),
            "results": Out(stream.Signature(result_layout(config))),
            "advance": In(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        cfg = self._config
        rows, cols = cfg.rows, cfg.cols
        m = Module()
        m.submodules.array = array = SystolicArray(config=cfg)

        # -- weight banks: load one PE row per beat into the free bank --------------------------
        bank_full = Array(Signal(name=f"bank{b}_full") for b in range(2))
        bank_drain = Array(Signal(range(cols), name=f"bank{b}_drain") for b in range(2))
        load_bank = Signal()
        load_row = Signal(range(rows))
        issue_bank = Signal()

        m.d.comb += self.weights.ready.eq(
            self.advance & ~bank_full[load_bank] & (bank_drain[load_bank] == 0))
        m.d.comb += [
            array.w_en.eq(self.weights.valid & self.weights.ready),
            array.w_row.eq(load_row),
            array.w_bank.eq(load_bank),
            array.w_data.eq(self.weights.payload),
        ]
        for b in range(2):
            with m.If(bank_drain[b] != 0):
                m.d.sync += bank_drain[b].eq(bank_drain[b] - 1)
        with m.If(array.w_en):
            m.d.sync += load_row.eq(load_row + 1)
            with m.If(load_row == rows - 1):
                m.d.sync += [load_row.eq(0), bank_full[load_bank].eq(1), load_bank.eq(~load_bank)]

        # -- issue: accept a pixel vector when its weight tile is loaded -------------------------
        m.d.comb += self.pixels.ready.eq(self.advance & bank_full[issue_bank])
        accept = Signal()
        m.d.comb += accept.eq(self.pixels.valid & self.pixels.ready)
        pixel = self.pixels.payload
        with m.If(accept & pixel.end):
            # The bank is reloadable once this last vector has passed the last column.
            m.d.sync += [bank_full[issue_bank].eq(0), bank_drain[issue_bank].eq(cols - 1),
                         issue_bank.eq(~issue_bank)]

        # -- skew: row i sees the vector i + 1 cycles after acceptance --------------------------
        for i in range(rows):
            x = Signal.like(pixel.data[i], name=f"x_row{i}")
            m.d.comb += x.eq(Mux(accept, pixel.data[i], 0))
            x_taps = _delay(m, x, i + 1, f"x_row{i}")
            bank_taps = _delay(m, issue_bank, i + 1, f"bank_row{i}")
            m.d.comb += [array.x_in[i].eq(x_taps[-1]), array.bank_in[i].eq(bank_taps[-1])]

        # -- metadata travels beside the wavefront: down the rows, then along the columns -------
        meta = Signal(data.StructLayout({"valid": 1, "first": 1, "last": 1,
                                         "tag": range(cfg.acc_depth)}), name="meta")
        m.d.comb += [meta.valid.eq(accept), meta.first.eq(pixel.first),
                     meta.last.eq(pixel.last), meta.tag.eq(pixel.tag)]
        meta_taps = _delay(m, meta, rows + cols + 1, "meta")

        # -- accumulate per column, then deskew so a pixel's columns leave together -------------
        for j in range(cols):
            acc = ColumnAccumulator(config=cfg)
            m.submodules[f"acc_c{j}"] = acc
            here = meta_taps[rows + j + 1]
            m.d.comb += [
                acc.rd_tag.eq(meta_taps[rows + j].tag),
                acc.valid.eq(here.valid),
                acc.tag.eq(here.tag),
                acc.first.eq(here.first),
                acc.last.eq(here.last),
                acc.psum.eq(array.psum_out[j]),
            ]
            out_taps = _delay(m, acc.result, cols - 1 - j, f"result_c{j}")
            m.d.comb += self.results.payload.value[j].eq(out_taps[-1])

        out = meta_taps[rows + cols + 1]
        m.d.comb += [
            self.results.valid.eq(out.valid & out.last),
            self.results.payload.tag.eq(out.tag),
        ]
        return m


class SenseCore(wiring.Component):
    """A Sense-style sparse systolic CNN accelerator core.

    Computes ``Y = X @ W`` for one layer tiled as in :mod:`sense_models.tiling`: per pass, a
    weight tile (``rows`` beats on ``weights``) and the pixel vectors of one pixel tile (one
    beat each on ``pixels``); after the last reduction tile of a pixel tile, one beat per pixel
    on ``results``. Weight tiles are double-buffered, so the next tile loads while the current
    one computes, and consecutive passes stream back to back.

    Parameters
    ----------
    config : ArrayConfig
        The generator parameters.

    Members
    -------
    weights : In(stream.Signature(weight_layout(config)))
        One PE row of a weight tile per beat, row 0 first; ``rows`` beats make a tile.
        Accepted while a bank is free: at most one tile ahead of the pass being computed.
    pixels : In(stream.Signature(pixel_layout(config)))
        One pixel vector per beat (see :func:`sense_models.formats.pixel_format`). Accepted
        once the pass's weight tile is complete.
    results : Out(stream.Signature(result_layout(config)))
        One pixel's ``cols`` accumulated outputs per beat, in issue order, ``config.latency``
        cycles after its last pixel vector was accepted.

    Throughput is one pixel vector per cycle. Back-pressure on ``results`` stalls the whole
    pipeline (a common clock enable) while a result beat waits.
    """

    def __init__(self, *, config):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"config must be an ArrayConfig, not {config!r}")
        self._config = config
        super().__init__({
            "weights": In(stream.Signature(weight_layout(config))),
            "pixels": In(stream.Signature(pixel_layout(config))),
            "results": Out(stream.Signature(result_layout(config))),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        engine = SenseEngine(config=self._config)
        advance = Signal()
        m.submodules.engine = EnableInserter(advance)(engine)
        m.d.comb += advance.eq(~self.results.valid | self.results.ready)
        m.d.comb += engine.advance.eq(advance)
        wiring.connect(m, wiring.flipped(self.weights), engine.weights)
        wiring.connect(m, wiring.flipped(self.pixels), engine.pixels)
        wiring.connect(m, engine.results, wiring.flipped(self.results))
        return m

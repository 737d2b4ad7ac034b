"""The accelerator core: weight loader, IFM skew, array, accumulators, result deskew."""

from amaranth.hdl import EnableInserter, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .accumulator import ColumnAccumulator
from .array import SystolicArray
from .component import ConfigComponent
from .layouts import pixel_layout, result_layout, weight_layout

__all__ = ["SenseEngine", "SenseCore"]


def _delay(m, value, cycles, name, *, reset_less=True):
    """``value`` delayed by ``cycles`` registers (a list: index ``k`` is ``k`` cycles late).

    Datapath delays carry no reset; only control (``reset_less=False``) needs one.
    """
    taps = [value]
    for k in range(1, cycles + 1):
        reg = Signal.like(value, name=f"{name}_d{k}", reset_less=reset_less)
        m.d.sync += reg.eq(taps[-1])
        taps.append(reg)
    return taps


def _stream_members(config):
    return {
        "weights": In(stream.Signature(weight_layout(config))),
        "pixels": In(stream.Signature(pixel_layout(config))),
        "results": Out(stream.Signature(result_layout(config))),
    }


class SenseEngine(ConfigComponent):
    """The core's pipeline, stepping only when ``advance`` is high.

    See :class:`SenseCore`, which drives ``advance``; the members are the same plus ``advance``.
    """

    def members(self, config):
        return {**_stream_members(config), "advance": In(1)}

    def elaborate(self, platform):
        cfg = self._config
        rows, cols = cfg.rows, cfg.cols
        m = Module()
        m.submodules.array = array = SystolicArray(config=cfg)

        # -- weight banks -----------------------------------------------------------------------
        # A bank is free (``~full``, ``drain == 0``), then loaded one PE row per beat, then full
        # until the last pixel vector of its pass is issued, then draining until that vector
        # has passed the last column, which frees it again.
        load_bank = Signal()
        load_row = Signal(range(rows))
        issue_bank = Signal()
        pixel = self.pixels.payload
        accept = Signal()
        m.d.comb += accept.eq(self.pixels.valid & self.pixels.ready)
        m.d.comb += [
            array.w_en.eq(self.weights.valid & self.weights.ready),
            array.w_row.eq(load_row),
            array.w_bank.eq(load_bank),
            array.w_data.eq(self.weights.payload),
        ]
        with m.If(array.w_en):
            m.d.sync += load_row.eq(Mux(load_row == rows - 1, 0, load_row + 1))
            with m.If(load_row == rows - 1):
                m.d.sync += load_bank.eq(~load_bank)
        with m.If(accept & pixel.end):
            m.d.sync += issue_bank.eq(~issue_bank)

        for b in range(2):
            full = Signal(name=f"bank{b}_full")
            drain = Signal(range(cols), name=f"bank{b}_drain")
            with m.If(load_bank == b):
                m.d.comb += self.weights.ready.eq(self.advance & ~full & (drain == 0))
            with m.If(issue_bank == b):
                m.d.comb += self.pixels.ready.eq(self.advance & full)
            with m.If(drain != 0):
                m.d.sync += drain.eq(drain - 1)
            with m.If(array.w_en & (load_bank == b) & (load_row == rows - 1)):
                m.d.sync += full.eq(1)
            with m.If(accept & pixel.end & (issue_bank == b)):
                m.d.sync += [full.eq(0), drain.eq(cols - 1)]

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
        meta_taps = _delay(m, meta, rows + cols + 1, "meta", reset_less=False)

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


class SenseCore(ConfigComponent):
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

    def members(self, config):
        return _stream_members(config)

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

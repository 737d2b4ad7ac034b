"""The output stage: bias, ReLU, rounding right shift and saturation of the core's results."""

from types import SimpleNamespace

from amaranth.hdl import Assert, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sense_models.formats import quant_format, result_format

from .layouts import bus_layout

__all__ = ["OutputStage"]


def _check_width(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"at least {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, not {value}")


class OutputStage(wiring.Component):
    """Requantizes result beats, bit-exact with :func:`sense_models.quant.requantize`.

    Per kernel ``c``: ``saturate(round_half_up(relu?(wrap(acc[c] + bias[c])) / 2**shift))``
    to ``out_width`` signed bits, where the bias add wraps in ``acc_width`` bits and the
    rounding add is done in a wider intermediate, so it never overflows (any ``shift`` the
    field can hold is exact; a shift of ``acc_width`` or more gives 0).

    Parameters
    ----------
    cols : int
        Kernels per result beat (``ArrayConfig.cols``), at least 1.
    acc_width : int
        Accumulator width (``ArrayConfig.acc_width``), at least 2.
    out_width : int
        Activation width saturated to (``ArrayConfig.ifm_width``), 1 to ``acc_width``.
    tag_width : int
        Result tag width (``ArrayConfig.tag_width``), at least 1.

    All keyword-only; a non-int raises ``TypeError``, an out-of-range value ``ValueError``.

    Members
    -------
    params : In(stream.Signature(quant_layout(config)))
        One parameter set, taken when none is loaded or in the cycle its predecessor's last
        beat is taken (back to back, no bubble). It applies to the next ``beats`` result
        beats; ``beats`` must be at least 1 (the simulator asserts it; the hardware takes 0
        as 1).
    results : In(stream.Signature(result_layout(config)))
        The core's result beats: ``value`` (signed ``acc_width`` x ``cols``) and ``tag``.
        Ready only while a parameter set is loaded and the pipeline can move.
    out : Out(stream.Signature(StructLayout(value, tag, raw, last, final)))
        ``value`` (signed ``acc_width`` x ``cols``): the requantized value sign-extended, or
        with ``raw`` the unmodified accumulator (no bias, no ReLU, no shift); ``tag`` as
        received; ``raw`` of the set; ``last`` on a set's last beat; ``final`` on that beat
        when the set had ``final``. Registered.
    busy : Out(1)
        A parameter set is loaded or a beat is in the pipeline.

    Latency two cycles: a result taken at a clock edge is on ``out`` two edges later. Full
    throughput: one beat per cycle while ``out.ready`` is high. A beat held on ``out``
    stalls the whole pipeline (``results.ready`` falls with it).
    """

    verilog_name = "output_stage"

    def __init__(self, *, cols, acc_width, out_width, tag_width):
        try:
            _check_width("cols", cols, 1)
            _check_width("acc_width", acc_width, 2)
            _check_width("out_width", out_width, 1, acc_width)
            _check_width("tag_width", tag_width, 1)
        except (TypeError, ValueError):
            self._MustUse__silence = True  # never built: no "unused elaboratable" warning
            raise
        self.cols, self.acc_width, self.out_width, self.tag_width = (
            cols, acc_width, out_width, tag_width)
        # The shared formats read only these fields, so the layouts equal the config's.
        shape = SimpleNamespace(cols=cols, acc_width=acc_width, tag_width=tag_width)
        out_layout = data.StructLayout({
            "value": data.ArrayLayout(signed(acc_width), cols),
            "tag": unsigned(tag_width),
            "raw": unsigned(1),
            "last": unsigned(1),
            "final": unsigned(1),
        })
        super().__init__({
            "params": In(stream.Signature(bus_layout(quant_format(shape)))),
            "results": In(stream.Signature(bus_layout(result_format(shape)))),
            "out": Out(stream.Signature(out_layout)),
            "busy": Out(1),
        })

    def rounding(self, y, half, shift):
        """``y / 2**shift`` rounded half up (``half`` is ``2**shift / 2``)."""
        return (y + half) >> shift

    def saturate(self, value, hi, lo):
        """``value`` clamped to the activation range ``[lo, hi]``."""
        return Mux(value > hi, hi, Mux(value < lo, lo, value))

    def elaborate(self, platform):
        m = Module()
        cols, acc_width, out_width = self.cols, self.acc_width, self.out_width
        params, results, out = self.params, self.results, self.out
        shift_shape = params.payload.shift.shape()

        # -- the loaded parameter set --------------------------------------------------------
        loaded = Signal()
        remaining = Signal(32)
        bias = Signal.like(params.payload.bias, name="p_bias", reset_less=True)
        shift = Signal(shift_shape, name="p_shift", reset_less=True)
        relu = Signal(name="p_relu", reset_less=True)
        raw = Signal(name="p_raw", reset_less=True)
        final = Signal(name="p_final", reset_less=True)

        advance = Signal()
        take = Signal()
        last_beat = Signal()
        load = Signal()
        m.d.comb += [
            advance.eq(~out.valid | out.ready),
            results.ready.eq(loaded & advance),
            take.eq(results.valid & results.ready),
            # ``<=`` rather than ``==`` so that a (forbidden) beats = 0 cannot run for 2**32.
            last_beat.eq(remaining <= 1),
            params.ready.eq(~loaded | (take & last_beat)),
            load.eq(params.valid & params.ready),
        ]
        with m.If(take):
            m.d.sync += remaining.eq(remaining - 1)
            with m.If(last_beat):
                m.d.sync += loaded.eq(0)
        with m.If(load):  # after the take: a set taken back to back stays loaded
            m.d.sync += [
                loaded.eq(1),
                remaining.eq(params.payload.beats),
                bias.eq(params.payload.bias),
                shift.eq(params.payload.shift),
                relu.eq(params.payload.relu),
                raw.eq(params.payload.raw),
                final.eq(params.payload.final),
            ]
        m.d.sync += [
            Assert(~load | (params.payload.beats != 0),
                   "output stage: a parameter set with beats = 0"),
            Assert(~loaded | (remaining != 0), "output stage: a loaded set with no beats left"),
        ]

        # -- stage 1: bias (wrap-around) and ReLU --------------------------------------------
        s1_valid = Signal()
        s1_y = Signal(data.ArrayLayout(signed(acc_width), cols), name="s1_y", reset_less=True)
        s1_tag = Signal.like(results.payload.tag, name="s1_tag", reset_less=True)
        s1_shift = Signal(shift_shape, name="s1_shift", reset_less=True)
        s1_raw = Signal(name="s1_raw", reset_less=True)
        s1_last = Signal(name="s1_last", reset_less=True)
        s1_final = Signal(name="s1_final", reset_less=True)
        with m.If(advance):
            m.d.sync += s1_valid.eq(take)
        ys = []
        for c in range(cols):
            acc = results.payload.value[c]
            biased = Signal(signed(acc_width), name=f"biased{c}")
            m.d.comb += biased.eq(acc + bias[c])  # truncation to acc_width is the wrap
            ys.append(Mux(raw, acc, Mux(relu & biased[-1], 0, biased)))
        with m.If(take):
            m.d.sync += [s1_y[c].eq(y) for c, y in enumerate(ys)]
            m.d.sync += [
                s1_tag.eq(results.payload.tag),
                # Carried along: the next set may be loaded while this beat is in stage 1.
                s1_shift.eq(shift),
                s1_raw.eq(raw),
                s1_last.eq(last_beat),
                s1_final.eq(final & last_beat),
            ]

        # -- stage 2: rounding shift and saturation, into the output register -----------------
        # 2**shift / 2 for every value the field can hold; 0 for shift = 0 (no rounding).
        half = (Const(1, 1) << s1_shift) >> 1
        wide = max(acc_width, len(half)) + 1  # holds y + half exactly
        hi = (1 << (out_width - 1)) - 1
        lo = -hi - 1
        values = []
        for c in range(cols):
            rounded = Signal(signed(wide), name=f"rounded{c}")
            m.d.comb += rounded.eq(self.rounding(s1_y[c], half, s1_shift))
            saturated = self.saturate(rounded, hi, lo)
            values.append(Mux(s1_raw, s1_y[c], saturated))
        with m.If(advance):
            m.d.sync += out.valid.eq(s1_valid)
            with m.If(s1_valid):
                m.d.sync += [out.payload.value[c].eq(v) for c, v in enumerate(values)]
                m.d.sync += [
                    out.payload.tag.eq(s1_tag),
                    out.payload.raw.eq(s1_raw),
                    out.payload.last.eq(s1_last),
                    out.payload.final.eq(s1_final),
                ]

        m.d.comb += self.busy.eq(loaded | s1_valid | out.valid)
        return m

"""The result sender of ``sense_top``: output-stage beats onto one AXI4-Stream master."""

from amaranth.hdl import Cat, Const, Module, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sense_models.packets import BUS_WIDTHS, ResultWire

__all__ = ["ResultSender", "result_beat_layout"]


def result_beat_layout(*, cols, acc_width, tag_width):
    """What the output stage hands on: values (int8 sign-extended, or raw), tag, flags."""
    return data.StructLayout({
        "value": data.ArrayLayout(signed(acc_width), cols),
        "tag": unsigned(tag_width),
        "raw": 1,
        "last": 1,
        "final": 1,
    })


class ResultSender(wiring.Component):
    """Lays each result beat out as :class:`sense_models.packets.ResultWire` words.

    Parameters
    ----------
    bus_width : int
        ``TDATA`` bits.
    cols, acc_width, out_width, tag_width : int
        The result beat: ``cols`` values of ``out_width`` bits (int8 mode) or
        ``acc_width`` bits (raw mode), and a tag of at most 16 bits.

    Members
    -------
    beats : In(stream.Signature(result_beat_layout(...)))
        Result beats; ``last`` ends an output packet (``TLAST``).
    tdata, tkeep, tvalid, tready, tlast : AXI4-Stream master
        ``ceil(beat bytes / bus bytes)`` words per beat, the first one the cycle after the
        beat was taken; one beat per cycle when a beat fits a word and ``tready`` is high.
    beat_done : Out(1)
        One-cycle pulse when a beat's last word is taken; ``final_done`` when that beat
        was a layer's last (``final``).
    busy : Out(1)
        A beat is being sent.
    """

    verilog_name = "result_tx"

    def __init__(self, *, bus_width, cols, acc_width, out_width, tag_width):
        if bus_width not in BUS_WIDTHS:
            raise ValueError(f"bus_width must be one of {BUS_WIDTHS}, not {bus_width!r}")
        for name, value in (("cols", cols), ("acc_width", acc_width),
                            ("out_width", out_width), ("tag_width", tag_width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if tag_width > 16:
            raise ValueError(f"a result tag travels in two bytes: tag_width must be at most "
                             f"16, not {tag_width}")
        self._bus_width = bus_width
        self._wires = {False: ResultWire(cols, -(-out_width // 8)),
                       True: ResultWire(cols, -(-acc_width // 8))}
        self._out_width = out_width
        super().__init__({
            "beats": In(stream.Signature(result_beat_layout(
                cols=cols, acc_width=acc_width, tag_width=tag_width))),
            "tdata": Out(bus_width), "tkeep": Out(bus_width // 8), "tvalid": Out(1),
            "tready": In(1), "tlast": Out(1),
            "beat_done": Out(1), "final_done": Out(1), "busy": Out(1),
        })

    def _line(self, beat, raw):
        """The beat's bytes in one mode, as a value (values then the tag)."""
        wire = self._wires[raw]
        width = len(beat.value[0]) if raw else self._out_width
        values = [_sign_extend(Value.cast(v)[:width], 8 * wire.value_bytes)
                  for v in beat.value]
        tag = Value.cast(beat.tag)
        return Cat(*values, tag, Const(0, 8 * wire.tag_bytes - len(tag)))

    def elaborate(self, platform):
        m = Module()
        width = self._bus_width
        counts = {raw: wire.words(width) for raw, wire in self._wires.items()}
        line = Signal(max(counts.values()) * width, name="line")
        words = Signal(range(max(counts.values()) + 1), name="words_left")
        word = Signal(range(max(counts.values())), name="word_index")
        ends_packet = Signal()
        final = Signal()
        sending = words != 0
        beat = self.beats.payload
        last_word = words == 1
        taken = self.tvalid & self.tready
        m.d.comb += [
            self.tvalid.eq(sending),
            self.tkeep.eq((1 << (width // 8)) - 1),
            self.tlast.eq(last_word & ends_packet),
            self.busy.eq(sending),
            self.beats.ready.eq(~sending | (taken & last_word)),
            self.beat_done.eq(taken & last_word),
            self.final_done.eq(taken & last_word & final),
        ]
        for i in range(max(counts.values())):
            with m.If(word == i):
                m.d.comb += self.tdata.eq(line[i * width:(i + 1) * width])
        with m.If(taken):
            m.d.sync += [words.eq(words - 1), word.eq(word + 1)]
        with m.If(self.beats.valid & self.beats.ready):
            int8, raw = self._line(beat, False), self._line(beat, True)
            m.d.sync += [line.eq(int8), words.eq(counts[False]), word.eq(0),
                         ends_packet.eq(beat.last), final.eq(beat.final)]
            with m.If(beat.raw):
                m.d.sync += [line.eq(raw), words.eq(counts[True])]
        return m


def _sign_extend(bits, width):
    """``bits`` (two's complement) widened to ``width`` bits."""
    if len(bits) == width:
        return bits
    return Cat(bits, bits[-1].replicate(width - len(bits)))

"""The core's check of its own ``pixels`` stream: pass structure, tags, digits."""

from amaranth.hdl import Assert, C, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sense_models.protocol import ProtocolError, protocol_format

from .layouts import bus_layout

__all__ = ["PixelProtocolChecker", "protocol_layout"]


def protocol_layout(depth):
    """The checker's ``status`` (:func:`sense_models.protocol.protocol_format`)."""
    return bus_layout(protocol_format(depth))


class PixelProtocolChecker(wiring.Component):
    """Watches the ``pixels`` stream of a streamed build against the pass structure.

    The rules and the codes are those of :func:`sense_models.protocol.check_pixel_stream`,
    its golden model. The checker only observes: the engine takes every beat as before, so a
    broken sequence can never stop the stream; the first broken rule sets ``status.error``
    and ``status.code`` until reset, and the host reads them after the layer.

    Parameters
    ----------
    depth : int
        The number of accumulators (``acc_depth``): tags are ``0 .. depth - 1``.
    digits : int
        Checksum digit vectors closing each pass (``check_digits``; 0 without the
        pixel-side check).

    Members
    -------
    take : In(1)
        A ``pixels`` beat transfers this cycle (``valid & ready``).
    tag, first, last, pass_end, check, digit : In
        That beat's fields; ``pass_end`` is its ``end`` flag (``end`` is a Verilog keyword).
        ``check`` and ``digit`` are unused when ``digits`` is 0.
    pixels_valid, pixels_ready, weights_valid, weights_ready, results_valid, results_ready : In(1)
        The core's handshakes, for the ``wait_*`` bits of ``status``.
    status : Out(protocol_layout(depth))
        ``error`` and ``code`` are registered: set the cycle after the offending beat.
        ``open`` is registered; the ``wait_*`` bits are combinational from the handshakes:
        ``wait_pixels`` while accumulators are open or the engine would take a vector and
        none is offered; ``wait_weights`` while a vector is offered, not taken and no weight
        beat is offered; ``wait_results`` while a result waits for ``results_ready``.

    One beat per cycle, no latency on the stream (it is not in the data path). Since tags
    come in order, a few counters do: no state per accumulator.
    """

    verilog_name = "protocol_checker"

    def __init__(self, *, depth, digits=0):
        for name, value, least in (("depth", depth, 1), ("digits", digits, 0)):
            if not isinstance(value, int) or value < least:
                self._MustUse__silence = True  # never built: no "unused elaboratable" warning
                raise ValueError(f"{name} must be a {'positive' if least else 'non-negative'} "
                                 f"integer, not {value!r}")
        self._depth, self._digits = depth, digits
        super().__init__({
            "take": In(1),
            "tag": In(range(depth)),
            "first": In(1),
            "last": In(1),
            "pass_end": In(1),
            "check": In(1),
            "digit": In(max(1, (digits - 1).bit_length())),
            **{f"{stream}_{side}": In(1) for stream in ("pixels", "weights", "results")
               for side in ("valid", "ready")},
            "status": Out(protocol_layout(depth)),
        })

    def elaborate(self, platform):
        depth, digits = self._depth, self._digits
        m = Module()
        # Tags come in order, so the open accumulators are 0 .. open_count - 1.
        open_count = Signal(range(depth + 1))
        index = Signal(range(depth + 1))  # pixel vectors taken in this pass (saturating)
        pass_first = Signal(name="pass_first")
        pass_last = Signal(name="pass_last")
        digit_next = Signal(range(digits + 1), name="digit_next") if digits else None

        pixel = self.take & ~self.check if digits else self.take
        digit = self.take & self.check if digits else C(0, 1)
        opens = pixel & (index == 0)  # the pass's first vector: its flags are the pass's
        p_first = Mux(index == 0, self.first, pass_first)
        p_last = Mux(index == 0, self.last, pass_last)
        now_index = Mux(index == depth, depth, index + pixel)

        # In the model's order: the first rule that fails in a beat gives the code.
        rules = []
        if digits:
            last_digit = digit_next == digits - 1
            rules.append((digit & ((self.digit != digit_next) | (self.pass_end != last_digit))
                          | pixel & ((digit_next != 0) | self.pass_end), ProtocolError.DIGITS))
        rules += [
            (pixel & (index != 0) & ((self.first != pass_first) | (self.last != pass_last)),
             ProtocolError.FLAGS_MIXED),
            (opens & self.first & (open_count != 0), ProtocolError.UNREAD),
            (pixel & ~self.first & (self.tag >= open_count), ProtocolError.NOT_OPEN),
            (pixel & (self.tag != index), ProtocolError.TAG_ORDER),
            (self.take & self.pass_end & ((now_index == 0) | ~p_first & (now_index != open_count)),
             ProtocolError.PASS_INCOMPLETE),
        ]
        with m.If(~self.status.error):
            for n, (broken, code) in enumerate(rules):
                with (m.If if n == 0 else m.Elif)(broken):
                    m.d.sync += [self.status.error.eq(1), self.status.code.eq(code)]

        with m.If(pixel):
            m.d.sync += index.eq(now_index)
            with m.If(opens):
                m.d.sync += [pass_first.eq(self.first), pass_last.eq(self.last)]
        if digits:
            with m.If(digit):
                m.d.sync += digit_next.eq(digit_next + 1)
        with m.If(self.take & self.pass_end):  # the pass is over
            m.d.sync += index.eq(0)
            if digits:
                m.d.sync += digit_next.eq(0)
            with m.If((now_index != 0) & p_last):
                m.d.sync += open_count.eq(0)
            with m.Elif((now_index != 0) & p_first):
                m.d.sync += open_count.eq(now_index)

        status = self.status
        m.d.comb += [
            status.open.eq(open_count),
            status.wait_pixels.eq(~self.pixels_valid & ((open_count != 0) | self.pixels_ready)),
            status.wait_weights.eq(self.pixels_valid & ~self.pixels_ready & ~self.weights_valid),
            status.wait_results.eq(self.results_valid & ~self.results_ready),
            Assert((index <= depth) & (open_count <= depth),
                   "protocol checker: a count beyond the accumulators"),
        ]
        return m

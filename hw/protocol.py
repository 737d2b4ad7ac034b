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
    tag, first, last, end, check, digit : In
        That beat's fields (``check`` and ``digit`` unused when ``digits`` is 0).
    pixels_valid, pixels_ready, weights_valid, weights_ready, results_valid, results_ready : In(1)
        The core's handshakes, for ``status.waiting``.
    status : Out(protocol_layout(depth))
        ``error`` and ``code`` are registered: set the cycle after the offending beat.
        ``open`` is registered; the ``wait_*`` bits are combinational from the handshakes:
        ``wait_pixels`` while accumulators are open or the engine would take a vector and
        none is offered; ``wait_weights`` while a vector is offered, not taken and no weight
        beat is offered; ``wait_results`` while a result waits for ``results_ready``.

    One beat per cycle, no latency on the stream (it is not in the data path). Costs two
    flip-flops per accumulator (open, visited in this pass).
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
            "end": In(1),
            "check": In(1),
            "digit": In(max(1, (digits - 1).bit_length())),
            **{f"{stream}_{side}": In(1) for stream in ("pixels", "weights", "results")
               for side in ("valid", "ready")},
            "status": Out(protocol_layout(depth)),
        })

    def elaborate(self, platform):
        depth, digits = self._depth, self._digits
        m = Module()
        open_ = Signal(depth)    # started by a first pass, not yet emitted by last
        visited = Signal(depth)  # visited in the current pass
        open_count = Signal(range(depth + 1))
        visited_count = Signal(range(depth + 1))
        pass_open = Signal(range(depth + 1))  # open when the current pass began
        in_pass = Signal(name="in_pass")
        pass_first = Signal(name="pass_first")
        pass_last = Signal(name="pass_last")
        digit_next = Signal(range(digits + 1), name="digit_next") if digits else None
        # One tag's bit as a shift, not a per-bit multiplexer: a few lines of Verilog.
        tag_bit = Signal(depth)
        m.d.comb += tag_bit.eq(C(1, depth) << self.tag)

        is_open = (open_ & tag_bit).any()
        pixel = self.take & ~self.check if digits else self.take
        digit = self.take & self.check if digits else C(0, 1)
        first_of_pass = pixel & ~in_pass
        # what the pass began with: this beat's, if it is the pass's first vector
        p_first = Mux(in_pass, pass_first, self.first)
        p_open = Mux(in_pass, pass_open, open_count)
        # Saturates: a vector beyond ``depth`` in one pass repeats a tag, which is flagged.
        now_visited = Mux(visited_count == depth, depth, visited_count + pixel)

        # In the model's order: the first rule that fails in a beat gives the code.
        rules = []
        if digits:
            last_digit = digit_next == digits - 1
            rules.append((digit & ((self.digit != digit_next) | (self.end != last_digit))
                          | pixel & ((digit_next != 0) | self.end), ProtocolError.DIGITS))
        rules += [
            (pixel & in_pass & ((self.first != pass_first) | (self.last != pass_last)),
             ProtocolError.FLAGS_MIXED),
            (first_of_pass & self.first & (open_count != 0), ProtocolError.UNREAD),
            (pixel & ~self.first & ~is_open, ProtocolError.NOT_OPEN),
            (pixel & (visited & tag_bit).any(), ProtocolError.TAG_REPEATED),
            (self.take & self.end & ((now_visited == 0) | ~p_first & (now_visited != p_open)),
             ProtocolError.PASS_INCOMPLETE),
        ]
        with m.If(~self.status.error):
            for index, (broken, code) in enumerate(rules):
                with (m.If if index == 0 else m.Elif)(broken):
                    m.d.sync += [self.status.error.eq(1), self.status.code.eq(code)]

        with m.If(pixel):
            stays_open = (self.first | is_open) & ~self.last
            m.d.sync += [
                open_.eq(Mux(stays_open, open_ | tag_bit, open_ & ~tag_bit)),
                open_count.eq(open_count + stays_open - is_open),
                visited.eq(visited | tag_bit),
                visited_count.eq(now_visited),
                in_pass.eq(1),
            ]
            with m.If(~in_pass):
                m.d.sync += [pass_first.eq(self.first), pass_last.eq(self.last),
                             pass_open.eq(open_count)]
        if digits:
            with m.If(digit):
                m.d.sync += digit_next.eq(digit_next + 1)
        with m.If(self.take & self.end):  # after the bit updates above: the pass is over
            m.d.sync += [visited.eq(0), visited_count.eq(0), in_pass.eq(0)]
            if digits:
                m.d.sync += digit_next.eq(0)

        status = self.status
        m.d.comb += [
            status.open.eq(open_count),
            status.wait_pixels.eq(~self.pixels_valid & ((open_count != 0) | self.pixels_ready)),
            status.wait_weights.eq(self.pixels_valid & ~self.pixels_ready & ~self.weights_valid),
            status.wait_results.eq(self.results_valid & ~self.results_ready),
            Assert((visited_count <= depth) & (open_count <= depth),
                   "protocol checker: a count beyond the accumulators"),
        ]
        return m

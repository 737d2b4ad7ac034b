"""Cycle model of ``sense_top``: the whole accelerator behind its two streams.

The core's own model (:mod:`sense_models.cycle_model`) assumes every input stream always
valid. Behind the bus that no longer holds: everything arrives through one AXI4-Stream
slave, a word per cycle, so a pixel vector of three bus words arrives once every three
cycles; a weight tile waits behind the previous pass's commands; a result beat of raw
accumulators leaves in several words and stalls the core (its back-pressure stops the whole
pipeline). No closed formula covers those interactions, so this model steps the top cycle
by cycle, one state machine per block, each the transfer-level image of its RTL:

* the packet receiver (:class:`sense_hw.packet_rx.PacketReceiver`): a header word, then
  each beat's words; a finished beat waits in one buffer while the next beat's words
  (except its last) are already taken;
* the IFM feeder (:class:`sense_hw.feeder.IfmFeeder`): table, two IFM banks, pass commands,
  one vector per cycle in the schedule's issue order, checksum digits after each pass;
* the engine (:class:`sense_hw.core.SenseEngine`): double-buffered weight banks, the
  issue rule, the drain of ``abft="both"`` with its hold rule, ``rows + cols + 3`` cycles
  from a vector to its result, all stepping only while the core advances;
* the output stage's parameter FIFO (``SyncFIFOBuffered``, depth 4), its two-stage
  pipeline, and the result sender (``ceil(beat bytes / bus bytes)`` words per beat).

Steady traffic: the host offers a word every cycle and the output is always ready. The
count runs from the cycle the layer's first word is taken up to and including the cycle its
last result word is taken. What the blocks compute is not modelled (the golden model does
that), only when: the stream contents the timing depends on (flags, tags, counts) are read
from the packets themselves, and for feeder builds the issue order from the schedule.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from .packets import PacketType, packet_types, parse_header, result_wire

__all__ = ["TopTiming", "top_cycles", "job_cycles"]

#: The output stage's parameter FIFO depth (``sense_hw.top``), of which one is its
#: output register.
PARAM_FIFO_DEPTH = 4


@dataclasses.dataclass(frozen=True)
class TopTiming:
    """What :func:`top_cycles` measured."""
    cycles: int            # first word taken .. last result word taken, inclusive
    words_in: int          # bus words taken
    words_out: int         # bus words sent
    in_stall_cycles: int   # cycles the host offered a word that was not taken
    out_beats: int         # result beats sent


@dataclasses.dataclass
class _Packet:
    kind: PacketType
    words_per_beat: int
    beats: list            # per beat: a dict of the fields the timing needs
    flags: int


def _packets(config, packets):
    """Decode each packet's header and the per-beat fields the timing depends on."""
    wires = packet_types(config)
    bus_bytes = config.bus_width // 8
    table_rows = 0
    out = []
    for words in packets:
        words = np.asarray(words, dtype=np.uint8).reshape(-1, bus_bytes)
        code, flags, count = parse_header(words[0])
        kind = PacketType(code)
        wire = wires[kind]
        per_beat = wire.words(config.bus_width)
        payload = words[1:].reshape(-1, per_beat * bus_bytes)
        if kind == PacketType.TABLE:
            table_rows = count
            beats = [{"last": b == count - 1} for b in range(count)]
        elif kind == PacketType.IFM:
            total = count * table_rows
            end, final = bool(flags & 0b11), bool(flags & 0b01)
            beats = [{"last": b % table_rows == table_rows - 1,
                      "end": end and b == total - 1, "final": final and b == total - 1}
                     for b in range(total)]
        elif kind == PacketType.WEIGHTS:
            beats = [{}] * (count * config.rows)
        else:
            fields = wire.unpack(payload)
            scalars = {name: np.asarray(value).reshape(len(payload), -1)[:, 0]
                       for name, value in fields.items()
                       if np.asarray(value).size == len(payload)}
            beats = [{"check": 0, "first": 0, "last": 0, "end": 0, "tag": 0,
                      **{name: int(v[b]) for name, v in scalars.items()}}
                     for b in range(len(payload))]
        if len(payload) != len(beats):
            raise ValueError(f"a {kind.name} packet declares {len(beats)} beats but carries "
                             f"{len(payload)}")
        out.append(_Packet(kind, per_beat, beats, flags))
    return out


class _Receiver:
    """:class:`sense_hw.packet_rx.PacketReceiver` on well-formed packets."""

    def __init__(self, packets):
        self.packets = packets
        self.p = 0          # packet in progress
        self.beat = 0       # its next beat
        self.word = 0       # the next word's index within that beat
        self.header = True
        self.waiting = None  # (kind, fields) of the beat offered to the core

    @property
    def exhausted(self):
        return self.p == len(self.packets)

    def offered(self, kind):
        return self.waiting is not None and self.waiting[0] == kind

    def tready(self, taken):
        if self.exhausted or self.header:
            return True
        last_word = self.word == self.packets[self.p].words_per_beat - 1
        return not last_word or self.waiting is None or taken

    def step(self, taken):
        """One clock edge; ``taken``: the core took the waiting beat. Returns 1 if a word
        was taken (the host always offers one while packets remain)."""
        ready = self.tready(taken)
        if taken:
            self.waiting = None
        if self.exhausted or not ready:
            return 0
        packet = self.packets[self.p]
        if self.header:
            self.header, self.beat, self.word = False, 0, 0
            return 1
        if self.word < packet.words_per_beat - 1:
            self.word += 1
            return 1
        self.waiting = (packet.kind, packet.beats[self.beat])
        self.beat, self.word = self.beat + 1, 0
        if self.beat == len(packet.beats):
            self.p, self.header = self.p + 1, True
        return 1


class _ParamFifo:
    """``amaranth.lib.fifo.SyncFIFOBuffered``: an inner FIFO and an output register."""

    def __init__(self, depth):
        self.inner = collections.deque()
        self.inner_depth = depth - 1
        self.head = None  # the output register (r_rdy, r_data)

    @property
    def w_rdy(self):
        return len(self.inner) != self.inner_depth

    def step(self, w_data, r_en):
        inner_read = bool(self.inner) and (self.head is None or r_en)
        write = w_data is not None and self.w_rdy
        if inner_read:
            self.head = self.inner.popleft()
        elif r_en:
            self.head = None
        if write:
            self.inner.append(w_data)


class _OutputStage:
    """:class:`sense_hw.output_stage.OutputStage`: a loaded set, two registered stages."""

    def __init__(self):
        self.loaded = None      # [beats left, raw]
        self.s1 = None          # raw flag of the beat in stage 1
        self.out = None         # raw flag of the beat on ``out``

    def results_ready(self, out_ready):
        return self.loaded is not None and (self.out is None or out_ready)

    def params_ready(self, take):
        return self.loaded is None or (take and self.loaded[0] <= 1)

    def step(self, take, out_ready, params):
        advance = self.out is None or out_ready
        raw = self.loaded[1] if self.loaded is not None else False
        if take:
            self.loaded[0] -= 1
            if self.loaded[0] <= 0:
                self.loaded = None
        if params is not None:
            self.loaded = [max(1, params["beats"]), bool(params["raw"])]
        if advance:
            self.out = self.s1
            self.s1 = raw if take else None


class _Feeder:
    """:class:`sense_hw.feeder.IfmFeeder`, its vectors in the schedule's issue order."""

    def __init__(self, config, issue):
        self.digits = config.check_digits
        self.issue = list(issue)
        self.armed = self.table_busy = False
        self.full = [False, False]
        self.count = [0, 0]       # pixels of each bank's tile
        self.load_bank = 0
        self.load_pixel = self.load_tile = 0
        self.staged = None        # the bank a tile's end beat is in its second load stage for
        self.loading = False      # a beat is in its second load stage
        self.cmd = None           # (pass number, fields) of the command being issued
        self.next_pass = 0
        self.issue_bank = 0
        self.pos = 0              # vectors of the pass issued
        self.in_digits, self.digit = False, 0
        self.out = None           # the vector register (a dict), None when empty

    def table_ready(self):
        idle = (not any(self.full) and self.load_pixel == 0 and self.load_tile == 0
                and self.out is None and not self.loading)
        return self.table_busy or (idle and not self.armed)

    def ifm_ready(self):
        return not self.full[self.load_bank] and self.armed

    def _vectors(self):
        return self.issue[self.cmd[0]]

    def _can_pick(self):
        return (self.cmd is not None and self.full[self.issue_bank] and not self.in_digits
                and self.pos < len(self._vectors()[0]))

    def passes_ready(self, vectors_ready):
        if self.cmd is None:
            return True
        advance = self.out is None or vectors_ready
        if self.digits:
            return self.in_digits and advance and self.digit == self.digits - 1
        return self._can_pick() and advance and self.pos == len(self._vectors()[0]) - 1

    def step(self, vectors_ready, table, ifm, command):
        """One edge. ``table``/``ifm``/``command``: the beat taken on that stream, or None."""
        advance = self.out is None or vectors_ready
        take = self._can_pick() and advance
        loading_digits = self.in_digits and advance
        finished = loading_digits and self.digit == self.digits - 1
        if self.out is not None and vectors_ready and self.out["end"] and self.out["release"]:
            self.full[self.out["bank"]] = False
        if table is not None:
            self.table_busy, self.armed = not table["last"], table["last"]
        # A beat's second load stage writes its flags a cycle after it was taken: the tile
        # is full from then on.
        if self.staged is not None:
            self.full[self.staged] = True
        self.loading, self.staged = ifm is not None, None
        if ifm is not None:
            if ifm["last"] or ifm["end"]:
                self.load_pixel, self.load_tile = self.load_pixel + 1, 0
                self.count[self.load_bank] = self.load_pixel
                if ifm["end"]:
                    self.staged = self.load_bank
                    self.load_bank, self.load_pixel = 1 - self.load_bank, 0
                if ifm["final"]:
                    self.armed = False
            else:
                self.load_tile += 1
        new_out = self.out if not advance else None
        if take:
            tags, firsts, lasts = self._vectors()
            n, fields = self.cmd
            is_last = self.pos == len(tags) - 1
            self.pos += 1
            new_out = {"tag": int(tags[self.pos - 1]), "first": bool(firsts[self.pos - 1]),
                       "last": bool(lasts[self.pos - 1]), "check": False,
                       "end": is_last and not self.digits, "final": bool(fields["final"]),
                       "pixels": self.count[self.issue_bank], "bank": self.issue_bank,
                       "release": bool(fields["release"])}
            if is_last and self.digits:
                self.in_digits = True
            elif is_last:
                self._finish_pass(fields)
        if loading_digits:
            n, fields = self.cmd
            new_out = {"tag": 0, "first": False, "last": False, "check": True,
                       "end": self.digit == self.digits - 1, "final": bool(fields["final"]),
                       "pixels": self.count[self.issue_bank], "bank": self.issue_bank,
                       "release": bool(fields["release"])}
            self.digit += 1
            if finished:
                self.in_digits, self.digit = False, 0
                self._finish_pass(fields)
        if advance:
            self.out = new_out
        if command is not None:
            self.cmd = (self.next_pass, command)
            self.next_pass += 1

    def _finish_pass(self, fields):
        self.pos, self.cmd = 0, None
        if fields["release"]:
            self.issue_bank = 1 - self.issue_bank


class _Engine:
    """:class:`sense_hw.core.SenseEngine`: weight banks, issue, drain, result pipeline."""

    def __init__(self, config):
        self.rows, self.cols = config.rows, config.cols
        self.corrects, self.feeder = config.corrects, config.feeder
        self.load_bank = self.load_row = self.issue_bank = 0
        self.full = [False, False]
        self.drain = [0, 0]
        self.pipe = collections.deque([False] * config.latency)  # result emits in flight
        self.drain_left = self.drain_tag = self.last_tag = 0

    @property
    def emit(self):
        return self.pipe[-1]

    def weights_ready(self):
        return not self.full[self.load_bank] and self.drain[self.load_bank] == 0

    def _hold(self, pixel):
        if not self.corrects or self.drain_left == 0:
            return False
        if self.feeder:
            final_end = pixel["end"] and pixel["final"]
            ahead = not pixel["first"] or pixel["tag"] > self.drain_tag
            return final_end or (not pixel["check"] and ahead)
        return not pixel["first"] or (pixel["end"] and pixel["last"])

    def pixels_ready(self, pixel):
        return self.full[self.issue_bank] and not self._hold(pixel)

    def step(self, weight, pixel):
        """One advancing edge; ``weight``/``pixel``: whether (what) was taken."""
        draining = self.drain_left != 0
        for b in range(2):
            if self.drain[b]:
                self.drain[b] -= 1
        if weight:
            if self.load_row == self.rows - 1:
                self.full[self.load_bank] = True
                self.load_bank = 1 - self.load_bank
            self.load_row = (self.load_row + 1) % self.rows
        if self.corrects:
            emit_now = draining
            if draining:
                self.drain_left -= 1
                self.drain_tag += 1
        else:
            emit_now = pixel is not None and pixel["last"] and not pixel["check"]
        if pixel is not None:
            if pixel["end"]:
                self.full[self.issue_bank] = False
                self.drain[self.issue_bank] = self.cols - 1
                self.issue_bank = 1 - self.issue_bank
            if self.corrects and pixel["end"] and pixel["final" if self.feeder else "last"]:
                self.drain_left = pixel["pixels"] if self.feeder else self.last_tag + 1
                self.drain_tag = 0
            if self.corrects and not self.feeder and not pixel["check"]:
                self.last_tag = pixel["tag"]  # after its use above: a register
        self.pipe.appendleft(emit_now)
        self.pipe.pop()


def top_cycles(config, packets, *, issue=None, limit=None):
    """Cycles of ``sense_top`` running ``packets`` (a layer's input stream) under steady
    traffic; ``issue`` is the feeder schedule's per-pass ``(tags, firsts, lasts)`` (feeder
    builds only). ``limit`` (default: 100 cycles per input word and 10,000 more) stops a
    stream that would never finish with ``RuntimeError``."""
    if config.feeder and issue is None:
        raise ValueError("a feeder build's cycle model needs the schedule's issue order")
    decoded = _packets(config, packets)
    rx = _Receiver(decoded)
    fifo, stage = _ParamFifo(PARAM_FIFO_DEPTH), _OutputStage()
    feeder = _Feeder(config, issue) if config.feeder else None
    engine = _Engine(config)
    wires = {raw: result_wire(config, raw).words(config.bus_width) for raw in (False, True)}
    expected_beats = sum(b["beats"] for p in decoded if p.kind == PacketType.QUANT
                         for b in p.beats)
    words_in = sum(1 + len(p.beats) * p.words_per_beat for p in decoded)
    limit = limit if limit is not None else 100 * words_in + 10_000
    words_left = 0  # of the result beat being sent
    sent_beats = words_out = stalls = taken_in = 0
    cycle = 0
    while True:
        if cycle > limit:
            raise RuntimeError(f"the model of {config.name} did not finish in {limit} cycles: "
                               f"{taken_in} of {words_in} words taken, {sent_beats} of "
                               f"{expected_beats} result beats sent")
        # -- combinational, from the outputs back to the input -----------------------------
        sending = words_left != 0
        beat_ready = not sending or words_left == 1
        results_ready = stage.results_ready(beat_ready)
        advance = not engine.emit or results_ready
        res_take = engine.emit and results_ready
        w_offer = rx.offered(PacketType.WEIGHTS)
        weight = w_offer and advance and engine.weights_ready()
        if feeder is not None:
            pixel_in = feeder.out
        else:
            pixel_in = rx.waiting[1] if rx.offered(PacketType.PIXELS) else None
        pixel_take = (pixel_in is not None and advance and engine.pixels_ready(pixel_in))
        taken = weight or (feeder is None and pixel_take)
        table = ifm = command = None
        if feeder is not None:
            if rx.offered(PacketType.TABLE) and feeder.table_ready():
                table = rx.waiting[1]
            if rx.offered(PacketType.IFM) and feeder.ifm_ready():
                ifm = rx.waiting[1]
            if rx.offered(PacketType.PASSES) and feeder.passes_ready(pixel_take):
                command = rx.waiting[1]
            taken = taken or any(x is not None for x in (table, ifm, command))
        params_w = rx.waiting[1] if rx.offered(PacketType.QUANT) and fifo.w_rdy else None
        taken = taken or params_w is not None
        params_load = fifo.head if fifo.head is not None and stage.params_ready(res_take) \
            else None
        # -- the clock edge ----------------------------------------------------------------
        got = rx.step(taken)
        taken_in += got
        if not got and not rx.exhausted:
            stalls += 1
        if sending:
            words_left -= 1
            words_out += 1
            if words_left == 0:
                sent_beats += 1
                if sent_beats == expected_beats and rx.exhausted:
                    return TopTiming(cycle + 1, taken_in, words_out, stalls, sent_beats)
        if stage.out is not None and beat_ready:
            words_left = wires[stage.out]
        stage.step(res_take, beat_ready, params_load)
        fifo.step(params_w, params_load is not None)
        if feeder is not None:
            feeder.step(pixel_take, table, ifm, command)
        if advance:
            engine.step(weight, pixel_in if pixel_take else None)
        cycle += 1


def job_cycles(job):
    """:func:`top_cycles` of a :class:`sense_models.driver.LayerJob`."""
    issue = job.schedule.issue if job.config.feeder else None
    return top_cycles(job.config, job.packets, issue=issue).cycles

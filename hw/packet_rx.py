"""The packet receiver of ``sense_top``: one AXI4-Stream slave, demultiplexed to the core."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sense_models.packets import BUS_WIDTHS, PacketError, PacketType

__all__ = ["PacketReceiver"]

HEADER, PAYLOAD, DROP = 0, 1, 2


class PacketReceiver(wiring.Component):
    """Parses the host's packets (:mod:`sense_models.packets`) and feeds each core stream.

    Parameters
    ----------
    bus_width : int
        ``TDATA`` bits, one of :data:`sense_models.packets.BUS_WIDTHS`.
    targets : dict
        ``{PacketType: (name, WireFormat, payload layout)}``: the packet types this build
        takes, the output stream each one feeds and how a beat sits on the bus.
    item_beats : dict
        ``{PacketType: int}`` beats per item of the header's count (``rows`` for weight
        tiles; 1 where absent). ``IFM`` items are pixels of as many beats as the loaded
        table has rows.
    count_limits : dict
        ``{PacketType: int}`` the largest count a packet of that type may declare.

    Members
    -------
    tdata, tkeep, tvalid, tready, tlast : AXI4-Stream slave
        The host's packets. ``tready`` is low while ``enable`` is low.
    enable : In(1)
        Accept words (``CONTROL.run``).
    <name> : Out(stream.Signature(layout)), one per target
        The core's input streams. A beat leaves the cycle after its last word was taken
        and is held until accepted; while it waits, the next beat's words are still taken
        except its last one, so a one-word beat streams at one beat per cycle.
    error, error_code : Out
        Sticky: the first bad packet's :class:`~sense_models.packets.PacketError` code.
    clear : In(1)
        Clears ``error`` and ``error_code``.
    packet_done : Out(1)
        One-cycle pulse for every packet received whole and without error.
    table_loaded : Out(1)
        A permutation table has been received and the layer's final IFM packet has not.
    busy : Out(1)
        A packet is in progress or a beat waits for the core.
    """

    verilog_name = "packet_rx"

    def __init__(self, *, bus_width, targets, item_beats=None, count_limits=None):
        if bus_width not in BUS_WIDTHS:
            raise ValueError(f"bus_width must be one of {BUS_WIDTHS}, not {bus_width!r}")
        if not targets:
            raise ValueError("a receiver needs at least one packet type")
        self._bus_width = bus_width
        self._targets = {PacketType(k): v for k, v in targets.items()}
        self._item_beats = {PacketType(k): v for k, v in (item_beats or {}).items()}
        self._limits = {PacketType(k): v for k, v in (count_limits or {}).items()}
        members = {
            "tdata": In(bus_width), "tkeep": In(bus_width // 8), "tvalid": In(1),
            "tready": Out(1), "tlast": In(1),
            "enable": In(1), "clear": In(1),
            "error": Out(1), "error_code": Out(8), "packet_done": Out(1),
            "table_loaded": Out(1), "busy": Out(1),
        }
        for name, _, layout in self._targets.values():
            members[name] = Out(stream.Signature(layout))
        super().__init__(members)

    def _words(self, kind):
        return self._targets[kind][1].words(self._bus_width)

    def elaborate(self, platform):
        m = Module()
        width = self._bus_width
        kinds = list(self._targets)
        max_words = max(self._words(k) for k in kinds)

        # -- the word being offered ------------------------------------------------------------
        take = Signal()
        m.d.comb += take.eq(self.tvalid & self.tready)
        full_keep = self.tkeep == (1 << (width // 8)) - 1
        head_type = self.tdata[0:8]
        head_final = self.tdata[8]
        head_end = self.tdata[9] | self.tdata[8]
        head_count = self.tdata[32:64]

        kind = Signal(8, name="kind")               # the packet in progress
        final = Signal(name="ifm_final")
        tile_end = Signal(name="ifm_end")
        beats_left = Signal(40, name="beats_left")
        word = Signal(range(max(2, max_words)), name="word_index")
        words = [Signal(width, name=f"word{i}") for i in range(max_words - 1)]
        table_rows = Signal(range(max(2, self._limits.get(PacketType.TABLE, 1) + 1)),
                            name="table_rows")
        ifm_row = Signal.like(table_rows, name="ifm_row")  # table row of the next IFM beat

        # -- the beat waiting for the core -----------------------------------------------------
        beat = Signal(max_words * width, name="beat")
        beat_valid = Signal()
        beat_kind = Signal(8, name="beat_kind")
        derived = Signal(3, name="beat_derived")    # last, end, final (TABLE: last only)
        beat_taken = Signal()
        outputs = []
        for k in kinds:
            name, wire, layout = self._targets[k]
            port = getattr(self, name)
            here = beat_valid & (beat_kind == int(k))
            m.d.comb += port.valid.eq(here)
            with m.If(here & port.ready):
                m.d.comb += beat_taken.eq(1)
            m.d.comb += self._unpack(port.payload, wire, beat, derived)
            outputs.append((k, port))
        with m.If(beat_taken):
            m.d.sync += beat_valid.eq(0)

        words_now = Signal(range(max_words + 1), name="words_per_beat")
        m.d.comb += words_now.eq(1)
        for k in kinds:
            with m.If(kind == int(k)):
                m.d.comb += words_now.eq(self._words(k))
        last_word = Signal()
        m.d.comb += last_word.eq(word == words_now - 1)

        # -- errors ----------------------------------------------------------------------------
        code = Signal(8)
        raise_error = Signal()
        with m.If(self.clear):
            m.d.sync += [self.error.eq(0), self.error_code.eq(0)]
        with m.Elif(raise_error & ~self.error):
            m.d.sync += [self.error.eq(1), self.error_code.eq(code)]

        def fail(reason, then=None):
            """Flag ``reason``; drop up to TLAST (``then=None``) or go to state ``then``."""
            m.d.comb += [raise_error.eq(1), code.eq(reason)]
            if then is not None:
                m.d.sync += state.eq(then)
                return
            m.d.sync += state.eq(Mux(self.tlast, HEADER, DROP))

        # HEADER: the next word is a header; PAYLOAD: a packet's beats; DROP: up to TLAST.
        state = Signal(2, name="state")
        with m.Switch(state):
            with m.Case(HEADER):
                m.d.comb += self.tready.eq(self.enable)
                m.d.comb += self.busy.eq(beat_valid)
                with m.If(take):
                    known = Signal(name="known_type")
                    count_ok = Signal(name="count_ok")
                    items = Signal(40, name="items")
                    m.d.comb += items.eq(head_count)
                    for k in kinds:
                        with m.If(head_type == int(k)):
                            limit = self._limits.get(k)
                            m.d.comb += [known.eq(1), count_ok.eq(
                                (head_count != 0) if limit is None else
                                (head_count != 0) & (head_count <= limit))]
                            if k == PacketType.IFM:
                                m.d.comb += items.eq(head_count * table_rows)
                            else:
                                m.d.comb += items.eq(head_count * self._item_beats.get(k, 1))
                    ifm_early = (head_type == int(PacketType.IFM)) & ~self.table_loaded
                    with m.If(~full_keep):
                        fail(PacketError.BAD_KEEP)
                    with m.Elif(~known):
                        fail(PacketError.UNKNOWN_TYPE)
                    with m.Elif(ifm_early):
                        fail(PacketError.IFM_BEFORE_TABLE)
                    with m.Elif(~count_ok):
                        fail(PacketError.BAD_COUNT)
                    with m.Elif(self.tlast):
                        fail(PacketError.SHORT, HEADER)
                    with m.Else():
                        m.d.sync += [kind.eq(head_type), final.eq(head_final),
                                     tile_end.eq(head_end),
                                     beats_left.eq(items), word.eq(0), ifm_row.eq(0)]
                        if PacketType.TABLE in kinds:
                            with m.If(head_type == int(PacketType.TABLE)):
                                m.d.sync += table_rows.eq(head_count)
                        m.d.sync += state.eq(PAYLOAD)
            with m.Case(PAYLOAD):
                m.d.comb += [
                    self.busy.eq(1),
                    self.tready.eq(self.enable & (~last_word | ~beat_valid | beat_taken)),
                ]
                with m.If(take):
                    with m.If(~full_keep):
                        fail(PacketError.BAD_KEEP)
                    with m.Elif(~last_word):
                        for i, reg in enumerate(words):
                            with m.If(word == i):
                                m.d.sync += reg.eq(self.tdata)
                        m.d.sync += word.eq(word + 1)
                        with m.If(self.tlast):
                            fail(PacketError.SHORT, HEADER)
                    with m.Else():
                        packet_end = beats_left == 1
                        m.d.sync += [beat.eq(Cat(*words, self.tdata)), beat_valid.eq(1),
                                     beat_kind.eq(kind), beats_left.eq(beats_left - 1),
                                     word.eq(0)]
                        self._derive(m, kind, packet_end, final, tile_end, table_rows, ifm_row,
                                     derived)
                        with m.If(packet_end):
                            with m.If(self.tlast):
                                m.d.comb += self.packet_done.eq(1)
                                self._track_table(m, kind, final, kinds)
                                m.d.sync += state.eq(HEADER)
                            with m.Else():
                                fail(PacketError.LONG, DROP)
                        with m.Elif(self.tlast):
                            fail(PacketError.SHORT, HEADER)
                # Words beyond this beat's are don't-care: place the last word right after
                # the others so that Cat(words, tdata) holds the beat at bit 0.
                for k in kinds:
                    n = self._words(k)
                    if n < max_words:
                        with m.If(take & last_word & (kind == int(k))):
                            m.d.sync += beat.eq(Cat(*words[:n - 1], self.tdata))
            with m.Default():  # DROP
                m.d.comb += [self.tready.eq(self.enable), self.busy.eq(1)]
                with m.If(take & self.tlast):
                    m.d.sync += state.eq(HEADER)
        return m

    def _derive(self, m, kind, packet_end, final, tile_end, table_rows, ifm_row, derived):
        """The flags a TABLE or IFM beat does not carry: from the packet's position."""
        if PacketType.IFM in self._targets:
            row_last = ifm_row == table_rows - 1
            with m.If(kind == int(PacketType.IFM)):
                m.d.sync += [derived.eq(Cat(row_last, packet_end & tile_end, packet_end & final)),
                             ifm_row.eq(Mux(row_last, 0, ifm_row + 1))]
        if PacketType.TABLE in self._targets:
            with m.If(kind == int(PacketType.TABLE)):
                m.d.sync += derived.eq(Cat(packet_end, Const(0, 2)))

    def _track_table(self, m, kind, final, kinds):
        if PacketType.TABLE in kinds:
            with m.If(kind == int(PacketType.TABLE)):
                m.d.sync += self.table_loaded.eq(1)
            with m.If((kind == int(PacketType.IFM)) & final):
                m.d.sync += self.table_loaded.eq(0)

    @staticmethod
    def _unpack(payload, wire, beat, derived):
        """Wire each payload field to its bytes (or flag bit, or derived flag) of ``beat``."""
        statements = []
        names = ("last", "end", "final")
        for field in wire.core.fields:
            target = getattr(payload, field.name)
            if field.name not in wire.sent:
                statements.append(target.eq(derived[names.index(field.name)]))
            elif field.name in wire.flags:
                offset, bit = wire.flags[field.name]
                statements.append(target.eq(beat[8 * offset + bit]))
            else:
                offset, size = wire.placement[field.name]
                flat = Value.cast(target)
                for e in range(field.count):
                    start = 8 * (offset + e * size)
                    statements.append(flat[e * field.width:(e + 1) * field.width]
                                      .eq(beat[start:start + field.width]))
        return statements

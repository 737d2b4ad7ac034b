"""The IFM feeder: IFM buffer, channel-permutation table, zero-vector skipping."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .component import ConfigComponent
from sense_models.abft import DIGIT_BITS, checksum_width

from .layouts import ifm_layout, pass_layout, pixel_layout, table_layout
from .parity import parity_error, set_parity, with_parity

__all__ = ["IfmFeeder"]


class IfmFeeder(ConfigComponent):
    """Holds a pixel tile's IFM in the rearranged channel order and issues its non-zero vectors.

    The host loads the IFM in the original channel order; the permutation table, which the
    host loads between layers, says where each element goes (see :mod:`sense_models.feeder`
    for what the table holds and how the host computes it). The buffer has two banks: a
    pixel tile loads into one while the passes over the previous tile read the other.

    Parameters
    ----------
    config : ArrayConfig
        ``feeder_tiles``, ``acc_depth``, ``tile_reduction`` and ``ifm_width`` size it.

    Members
    -------
    table : In(stream.Signature(table_layout(config)))
        One table row per beat, row 0 first, ``last`` on the layer's last row. Accepted
        once the previous layer's IFM has all been taken and its passes are done (no pixel
        tile loaded or being read). Every layer loads one.
    ifm : In(stream.Signature(ifm_layout(config)))
        One source tile of one pixel per beat, one beat per cycle while a bank is free and
        a table is loaded; after a layer's ``final`` beat, the IFM waits for the next table,
        so a layer's IFM can never be taken with another layer's table.
    passes : In(stream.Signature(pass_layout(config)))
        One command per pass: the rearranged tile it reads and its ``final``, ``release``
        and ``dense`` flags.
    vectors : Out(stream.Signature(pixel_layout(config)))
        The issued pixel vectors, with the pixel's tag, per-pixel ``first``/``last``, the
        pass's ``end`` and, on ``end``, the pass's ``issued``/``skipped`` counts; with
        ``abft="both"`` also the pass command's ``final`` on every beat.
    error : Out(1)
        ``abft="both"`` only: a parity check of the feeder's stored state failed (a table
        entry as it is read, a buffer word as it is staged and as it is read, a pixel's zero
        flags or span while its pass issues). Held until a vector is taken, which happens in
        a cycle the engine advances, so the engine's control checks always see it.

    A pixel tile's passes start ``feeder_load_latency + 1`` (3) cycles after its last beat
    was accepted (its zero flags are written, then the first vector is read). Within a pass,
    one vector per cycle; skipped vectors take no cycle. A pass with nothing to issue sends
    pixel 0's (zero) vector as a placeholder, neither first nor last. With the pixel-side
    check, each pass ends with ``check_digits`` digit vectors of its checksum pixel, back to
    back with its last vector.

    With ``abft="both"`` every table entry, buffer word, pixel's zero flags and span is
    stored with a parity bit: these steer the data vectors and their checksum digits alike
    (the digits are summed from the vectors read), so the data checks cannot see a fault
    there. Fault-injection builds route them through fault sites of the classes
    ``feeder_table``, ``feeder_buffer`` and ``feeder_flags`` (:mod:`sense_hw.faults`).
    """

    verilog_name = "feeder"

    def members(self, config):
        members = {
            "table": In(stream.Signature(table_layout(config))),
            "ifm": In(stream.Signature(ifm_layout(config))),
            "passes": In(stream.Signature(pass_layout(config))),
            "vectors": Out(stream.Signature(pixel_layout(config))),
        }
        if config.corrects:
            members["error"] = Out(1)
        return members

    def source_lane(self, lane, entry):
        """The source lane whose element lane ``lane`` stores: the table's ``entry``."""
        return entry

    def pick(self, remaining):
        """``(any, pixel)``: the pass issues its live pixels lowest first."""
        return _lowest_set(remaining)

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        tiles, depth, lanes = cfg.feeder_tiles, cfg.acc_depth, cfg.tile_reduction
        faults, block = self._faults, self._name
        checked = cfg.corrects  # parity beside what the feeder stores
        stored = with_parity if checked else data.StructLayout
        checks = []  # the parity checks' hits

        full = [Signal(name=f"bank{b}_full") for b in range(2)]
        present = [Signal(depth, name=f"bank{b}_present") for b in range(2)]
        count = [Signal(range(depth + 1), name=f"bank{b}_pixels") for b in range(2)]
        # nonzero[b][p] bit t: rearranged tile t of pixel p in bank b holds a non-zero (checked:
        # the top bit is their parity); nonzero_seen: as the issue logic sees them
        nonzero = [[Signal(tiles + checked, name=f"bank{b}_nonzero_p{p}") for p in range(depth)]
                   for b in range(2)]
        nonzero_seen = [[faults.register(m, nonzero[b][p], kind="feeder_flags", block=block,
                                         name=f"bank{b}_nonzero_p{p}") for p in range(depth)]
                        for b in range(2)]
        out_valid = Signal()
        load_pixel = Signal(cfg.tag_width, name="load_pixel")
        load_tile = Signal(cfg.feeder_tile_width, name="load_tile")
        # a loaded beat in its second stage: what it is, and its elements (no reset needed)
        staged = Signal(data.StructLayout({"valid": 1, "bank": 1, "pixel": cfg.tag_width,
                                           "done": 1, "end": 1}), name="load_staged")
        staged_fields = {"value": data.ArrayLayout(signed(cfg.ifm_width), lanes),
                         "dest": data.ArrayLayout(unsigned(cfg.feeder_tile_width), lanes)}
        if checked:  # each element's parity, taken where the element is picked from the beat
            staged_fields["parity"] = unsigned(lanes)
        staged_data = Signal(data.StructLayout(staged_fields), name="load_staged_data",
                             reset_less=True)
        staged_values = [faults.register(m, staged_data.value[lane], kind="feeder_buffer",
                                         block=block, name=f"load_staged_value_l{lane}")
                         for lane in range(lanes)]

        # -- the table: a LUT RAM, a row per source tile, read at the tile being loaded ----------
        # Every layer loads its own table before its IFM is taken (``armed``), so it needs no
        # reset; the identity is only its initial content.
        entry_layout = stored({"lane": unsigned(cfg.lane_width),
                               "tile": unsigned(cfg.feeder_tile_width)})
        row_layout = data.ArrayLayout(entry_layout, lanes)
        m.submodules.table = table = Memory(
            shape=row_layout, depth=tiles,
            init=[[{"lane": lane, "tile": t,
                    **({"parity": _parity(lane) ^ _parity(t)} if checked else {})}
                   for lane in range(lanes)] for t in range(tiles)])
        table_in = table.write_port()
        table_out = table.read_port(domain="comb")
        table_row = Signal(cfg.feeder_tile_width, name="table_row")
        table_busy = Signal()
        armed = Signal()  # a layer's table is loaded and its IFM has not all been taken
        idle = Signal()
        m.d.comb += [
            idle.eq(~full[0] & ~full[1] & (load_pixel == 0) & (load_tile == 0) & ~out_valid
                    & ~staged.valid),
            self.table.ready.eq(table_busy | (idle & ~armed)),
        ]
        row = self.table.payload
        table_write = self.table.valid & self.table.ready
        m.d.comb += [table_in.addr.eq(table_row), table_in.en.eq(table_write),
                     table_out.addr.eq(load_tile)]
        for lane in range(lanes):
            m.d.comb += [table_in.data[lane].lane.eq(row.lane[lane]),
                         table_in.data[lane].tile.eq(row.tile[lane])]
            if checked:
                set_parity(m, table_in.data[lane])
        entries = [faults.wire(m, table_out.data[lane], kind="feeder_table", block=block,
                               name=f"table_entry_l{lane}") for lane in range(lanes)]
        with m.If(table_write):
            m.d.sync += [table_row.eq(Mux(row.last, 0, table_row + 1)), table_busy.eq(~row.last),
                         armed.eq(row.last)]

        # -- load, stage 1: each element through the crossbar to its lane and rearranged tile --
        # The beat's counters (tile, pixel, bank) move as it is accepted; everything it writes
        # (buffer, zero flags, spans, full) is written a cycle later from ``staged``, so the
        # table read and the crossbar end at a register instead of the flags' write enables.
        load_bank = Signal()
        loading = self.ifm.valid & self.ifm.ready
        m.d.comb += self.ifm.ready.eq(~Mux(load_bank, full[1], full[0]) & armed)
        source = [self.ifm.payload.data[e // cfg.row_span][e % cfg.row_span]
                  for e in range(lanes)]
        source += [0] * ((1 << cfg.lane_width) - lanes)  # every lane number selects something
        pixel_done = self.ifm.payload.last | self.ifm.payload.end
        m.d.sync += [staged.valid.eq(loading), staged.bank.eq(load_bank),
                     staged.pixel.eq(load_pixel), staged.done.eq(pixel_done),
                     staged.end.eq(self.ifm.payload.end)]
        for lane in range(lanes):
            element = Array(source)[self.source_lane(lane, entries[lane].lane)]
            m.d.sync += [staged_data.value[lane].eq(element),
                         staged_data.dest[lane].eq(entries[lane].tile)]
            if checked:
                m.d.sync += staged_data.parity[lane].eq(Value.cast(element).xor())
        if checked:  # a table entry is checked as a beat reads it
            checks.append(loading & Cat(parity_error(entry) for entry in entries).any())
        with m.If(loading):
            with m.If(pixel_done):
                m.d.sync += [load_tile.eq(0), load_pixel.eq(load_pixel + 1)]
                with m.If(self.ifm.payload.end):
                    m.d.sync += [load_bank.eq(~load_bank), load_pixel.eq(0)]
                with m.If(self.ifm.payload.final):
                    m.d.sync += armed.eq(0)
            with m.Else():
                m.d.sync += load_tile.eq(load_tile + 1)

        # -- load, stage 2: write the buffer, note the non-zeros ------------------------------
        hits = Signal(tiles, name="load_hits")  # rearranged tiles this beat makes non-zero
        seen = Signal(tiles, name="load_seen")  # ... and the pixel's earlier beats made
        memories, lane_hits = [], []
        word_layout = stored({"value": signed(cfg.ifm_width)}) if checked \
            else signed(cfg.ifm_width)
        for lane in range(lanes):
            value, dest = staged_values[lane], staged_data.dest[lane]
            lane_hits.append(Mux(value != 0, (Const(1, tiles) << dest)[:tiles], 0))
            memory = Memory(shape=word_layout, depth=2 * depth * tiles, init=[])
            m.submodules[f"ifm_lane{lane}"] = memory
            write = memory.write_port()
            m.d.comb += [write.en.eq(staged.valid),
                         write.addr.eq((staged.bank * depth + staged.pixel) * tiles + dest)]
            if checked:
                m.d.comb += [write.data.value.eq(value),
                             write.data.parity.eq(staged_data.parity[lane])]
            else:
                m.d.comb += write.data.eq(value)
            memories.append(memory)
        if checked:  # the staged elements are checked where the zero flags are made of them
            checks.append(staged.valid & Cat(
                Value.cast(value).xor() != staged_data.parity[lane]
                for lane, value in enumerate(staged_values)).any())
        pixel_flags = Signal(tiles, name="load_pixel_flags")  # the pixel's, with this beat
        m.d.comb += [hits.eq(_or_all(lane_hits)), pixel_flags.eq(seen | hits)]
        completes = staged.valid & staged.done
        pixel_write = Signal(depth, name="load_pixel_write")  # one-hot: the pixel completed
        m.d.comb += pixel_write.eq(Mux(completes, (Const(1, depth) << staged.pixel)[:depth], 0))
        for b in range(2):
            for p in range(depth):
                with m.If(pixel_write[p] & (staged.bank == b)):
                    m.d.sync += nonzero[b][p].eq(
                        Cat(pixel_flags, pixel_flags.xor()) if checked else pixel_flags)
        # The pixel's lowest and highest non-zero tile, read at the picked pixel to flag its
        # first and last vectors (instead of a row multiplexer over every pixel's flags).
        span_layout = stored({"low": unsigned(cfg.feeder_tile_width),
                              "high": unsigned(cfg.feeder_tile_width)})
        m.submodules.spans = spans = Memory(shape=span_layout, depth=2 * depth, init=[])
        span_in = spans.write_port()
        span_out = spans.read_port(domain="comb")
        _, low = _lowest_set(pixel_flags)
        _, high_reversed = _lowest_set(pixel_flags[::-1])
        m.d.comb += [span_in.en.eq(completes),
                     span_in.addr.eq(Cat(staged.pixel, staged.bank)),
                     span_in.data.low.eq(low), span_in.data.high.eq(tiles - 1 - high_reversed)]
        if checked:
            set_parity(m, span_in.data)
        span = faults.wire(m, span_out.data, kind="feeder_flags", block=block, name="span_read")
        with m.If(staged.valid):
            m.d.sync += seen.eq(Mux(staged.done, 0, pixel_flags))
        with m.If(completes):
            for b in range(2):
                with m.If(staged.bank == b):
                    m.d.sync += [present[b].eq(present[b] | pixel_write),
                                 count[b].eq(staged.pixel + 1)]
                    with m.If(staged.end):
                        m.d.sync += full[b].eq(1)

        # -- issue: the next live pixel of the pass, lowest first ------------------------------
        cmd = Signal.like(self.passes.payload, name="cmd")
        cmd_valid = Signal()
        issue_bank = Signal()
        done = Signal(depth, name="pass_done_pixels")
        pass_issued = Signal(range(depth + 1), name="pass_issued")
        live = Signal(depth, name="live")
        has_any = Signal(depth, name="has_nonzero")  # the pixel has a non-zero tile
        flag_errors = []
        for p in range(depth):
            flags = Signal(tiles, name=f"issue_nonzero_p{p}")
            seen_p = Mux(issue_bank, nonzero_seen[1][p], nonzero_seen[0][p])
            m.d.comb += [flags.eq(seen_p), has_any[p].eq(flags.any())]
            if checked:
                flag_errors.append(seen_p.xor())
            hit = cmd.dense | flags.bit_select(cmd.tile, 1)
            zero_in_final = cmd.final & ~cmd.dense & ~has_any[p]
            m.d.comb += live[p].eq(Mux(issue_bank, present[1][p], present[0][p])
                                   & (hit | zero_in_final))
        remaining = Signal(depth, name="remaining")
        m.d.comb += remaining.eq(live & ~done)
        pick = Signal(cfg.tag_width, name="pick")  # pixel 0 when none is left (placeholder)
        any_left, lowest = self.pick(remaining)
        m.d.comb += pick.eq(Mux(any_left, lowest, 0))
        placeholder = ~live.any()
        can_pick = Signal()
        is_last = Signal()
        m.d.comb += [
            can_pick.eq(cmd_valid & Mux(issue_bank, full[1], full[0])
                        & (any_left | (placeholder & (pass_issued == 0)))),
            is_last.eq((remaining & (remaining - 1)) == 0),
        ]
        m.d.comb += span_out.addr.eq(Cat(pick, issue_bank))
        # A pixel without non-zeros (issued only in the final pass) has no tile below or above.
        picked_any = has_any.bit_select(pick, 1)
        below = Mux(cmd.dense, cmd.tile != 0, picked_any & (span.low < cmd.tile))
        above = Mux(cmd.dense, cmd.tile != tiles - 1, picked_any & (span.high > cmd.tile))

        out = self.vectors.payload
        out_bank = Signal()
        out_release = Signal()
        advance = ~out_valid | self.vectors.ready
        if cfg.pixel_check:  # no pixel while the pass's checksum digits go out
            in_digits = Signal(name="in_digits")
            take = can_pick & ~in_digits & advance
        else:
            take = can_pick & advance
        m.d.comb += self.vectors.valid.eq(out_valid)
        reads = []
        words = []
        for lane, memory in enumerate(memories):
            read = memory.read_port()
            word = faults.wire(m, read.data, kind="feeder_buffer", block=block,
                               name=f"buffer_read_l{lane}")
            value = word.value if checked else word
            statements = [read.en.eq(advance),
                          read.addr.eq((issue_bank * depth + pick) * tiles + cmd.tile)]
            if not cfg.pixel_check:  # with the check, digit vectors share the output
                statements.append(
                    out.data[lane // cfg.row_span][lane % cfg.row_span].eq(value))
            m.d.comb += statements
            reads.append(value)
            words.append(word)
        if cfg.pixel_check:
            finished = self._checksum_digits(m, out, reads, in_digits, advance, pass_issued,
                                             Mux(issue_bank, count[1], count[0]), cmd, out_bank,
                                             out_release, issue_bank)
        with m.If(advance):
            m.d.sync += out_valid.eq(take | in_digits if cfg.pixel_check else take)
        with m.If(take):
            issued = pass_issued + 1
            m.d.sync += [
                out.tag.eq(pick),
                out.first.eq(~below & ~placeholder),
                out.last.eq((cmd.final | ~above) & ~placeholder),
                out.end.eq(is_last if not cfg.pixel_check else 0),
                out.issued.eq(issued),
                out.skipped.eq(Mux(issue_bank, count[1], count[0]) - issued),
                out_bank.eq(issue_bank),
                out_release.eq(cmd.release),
                done.eq(done | (Const(1, depth) << pick)[:depth]),
                pass_issued.eq(issued),
            ]
            if cfg.corrects:  # the engine starts draining on a final pass's end beat
                m.d.sync += out.final.eq(cmd.final)
            if cfg.pixel_check:
                m.d.sync += out.check.eq(0)
                with m.If(is_last):  # the checksum digits follow
                    m.d.sync += [done.eq(0), in_digits.eq(1)]
            else:
                with m.If(is_last):
                    m.d.sync += [done.eq(0), pass_issued.eq(0), cmd_valid.eq(0)]
                    with m.If(cmd.release):
                        m.d.sync += issue_bank.eq(~issue_bank)
        if cfg.pixel_check:
            with m.If(finished):
                m.d.sync += [pass_issued.eq(0), cmd_valid.eq(0)]
                with m.If(cmd.release):
                    m.d.sync += issue_bank.eq(~issue_bank)
            m.d.comb += self.passes.ready.eq(~cmd_valid | finished)
        else:
            m.d.comb += self.passes.ready.eq(~cmd_valid | (take & is_last))
        with m.If(self.passes.valid & self.passes.ready):
            m.d.sync += [cmd.eq(self.passes.payload), cmd_valid.eq(1)]

        if checked:
            self._check(m, checks + [
                cmd_valid & Cat(flag_errors).any(),  # the issuing bank's zero flags
                take & parity_error(span),  # the picked pixel's span
                out_valid & ~out.check & Cat(parity_error(w) for w in words).any()])

        # -- a bank is free once the vector ending its last pass has been taken ---------------
        with m.If(self.vectors.valid & self.vectors.ready & out.end & out_release):
            for b in range(2):
                with m.If(out_bank == b):
                    m.d.sync += [full[b].eq(0), present[b].eq(0)]
        return m


    def _check(self, m, hits):
        """``error`` from the parity checks' ``hits``: raised the cycle after a hit, held until
        a vector is taken (the engine advances in that cycle, so it has seen ``error``)."""
        hit = Signal(name="check_hit")
        m.d.comb += hit.eq(Cat(*hits).any())
        taken = self.vectors.valid & self.vectors.ready
        m.d.sync += self.error.eq(hit | (self.error & ~taken))

    def _checksum_digits(self, m, out, reads, in_digits, advance, pass_issued, pixels, cmd,
                         out_bank, out_release, issue_bank):
        """The pass's checksum pixel, as ``check_digits`` digit vectors after its last vector.

        The sum over the pass's vectors (skipped ones are zero, so the sum is the pixel
        tile's) builds up as the vectors are taken; the first digit vector already counts the
        last vector, taken in the same cycle. Returns "the pass's last digit is loaded".
        """
        cfg = self._config
        count = cfg.check_digits
        width = checksum_width(cfg.ifm_width, cfg.acc_depth)
        digit = Signal(range(max(2, count)), name="digit")
        taken = self.vectors.valid & self.vectors.ready & ~out.check
        finished = Signal(name="pass_finished")
        loading = in_digits & advance
        m.d.comb += finished.eq(loading & (digit == count - 1))
        with m.If(loading):
            m.d.sync += [out.tag.eq(0), out.first.eq(0), out.last.eq(0),
                         out.check.eq(1), out.digit.eq(digit), out.end.eq(digit == count - 1),
                         out.issued.eq(pass_issued), out.skipped.eq(pixels - pass_issued),
                         out_bank.eq(issue_bank), out_release.eq(cmd.release),
                         digit.eq(digit + 1)]
            if cfg.corrects:
                m.d.sync += out.final.eq(cmd.final)
        with m.If(finished):
            m.d.sync += [in_digits.eq(0), digit.eq(0)]
        for lane, data in enumerate(reads):
            total = Signal(signed(width), name=f"check_sum{lane}")
            now = Signal(signed(width), name=f"check_sum_now{lane}")
            held = Signal(signed(cfg.ifm_width), name=f"check_digit{lane}")
            field = out.data[lane // cfg.row_span][lane % cfg.row_span]
            m.d.comb += [now.eq(total + Mux(taken, field, 0)),
                         field.eq(Mux(out.check, held, data))]
            m.d.sync += total.eq(Mux(finished, 0, now))
            with m.If(loading):
                for k in range(count):
                    with m.If(digit == k):
                        m.d.sync += held.eq(now[DIGIT_BITS * k:DIGIT_BITS * (k + 1)]
                                            if k < count - 1 else now >> (DIGIT_BITS * k))
        return finished

def _parity(number):
    """The even-parity bit of a non-negative ``number``."""
    return bin(number).count("1") & 1


def _lowest_set(bits):
    """``(any, index)`` of the lowest set bit of ``bits``: a balanced tree, log depth."""
    if len(bits) == 1:
        return bits[0], Const(0, 1)
    half = 1 << ((len(bits) - 1).bit_length() - 1)
    low_any, low_index = _lowest_set(bits[:half])
    high_any, high_index = _lowest_set(bits[half:])
    width = (len(bits) - 1).bit_length()
    return low_any | high_any, Mux(low_any, low_index, high_index + half)[:width]


def _or_all(values):
    """Bitwise OR of ``values``, as a balanced tree."""
    while len(values) > 1:
        values = [values[i] | values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]

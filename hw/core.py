"""The accelerator core: weight loader, IFM skew, array, accumulators, result deskew."""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .accumulator import ColumnAccumulator
from .array import SystolicArray
from .component import ConfigComponent
from .abft import ColumnChecker
from .faults import FLIP, NO_FAULTS, FaultSites
from .feeder import IfmFeeder
from .hierarchy import place
from .layouts import (fault_layout, ifm_layout, pass_layout, pixel_layout, result_layout,
                      stats_layout, status_layout, table_layout, weight_layout)
from .parity import parity_error as _parity_error, set_parity as _set_parity, \
    with_parity as _with_parity
from .protocol import PixelProtocolChecker, protocol_layout

__all__ = ["SenseEngine", "SenseCore"]


def _delay(m, value, cycles, name, *, reset_less=True, faults=NO_FAULTS, kind=None):
    """``value`` delayed by ``cycles`` registers (a list: index ``k`` is ``k`` cycles late).

    Datapath delays carry no reset; only control (``reset_less=False``) needs one. With a
    fault site ``kind``, every register is a site and the taps are what its consumers see.
    """
    taps = [value]
    for k in range(1, cycles + 1):
        reg = Signal.like(value, name=f"{name}_d{k}", reset_less=reset_less)
        tap = reg if kind is None else faults.register(m, reg, kind=kind, block="engine",
                                                       name=f"{name}_d{k}")
        m.d.sync += reg.eq(taps[-1])
        taps.append(tap)
    return taps


def _stream_members(config):
    members = {
        "weights": In(stream.Signature(weight_layout(config))),
        "pixels": In(stream.Signature(pixel_layout(config))),
        "results": Out(stream.Signature(result_layout(config))),
    }
    if config.abft != "none":
        members["status"] = Out(status_layout(config))
    if config.feeder:
        members["stats"] = Out(stream.Signature(stats_layout(config)))
    return members


class SenseEngine(ConfigComponent):
    """The core's pipeline, stepping only when ``advance`` is high.

    See :class:`SenseCore`, which drives ``advance`` and ``cycle``; the members are the same
    plus those two.
    """

    verilog_name = "engine"

    def members(self, config):
        members = {**_stream_members(config), "advance": In(1)}
        if config.abft != "none":
            members["cycle"] = In(32)
            members["clear_status"] = In(1)  # applied in a cycle the engine advances
        if config.feeder and config.corrects:
            members["feeder_error"] = In(1)  # the feeder's own checks (IfmFeeder.error)
        return members

    def _control_registers(self):
        """The engine's control state: ``{name: (register, fault-site class)}``."""
        cfg = self._config
        regs = {"load_bank": (Signal(name="load_bank"), "bank_control"),
                "load_row": (Signal(range(cfg.rows), name="load_row"), "bank_control"),
                "issue_bank": (Signal(name="issue_bank"), "bank_control")}
        for b in range(2):
            regs[f"bank{b}_full"] = (Signal(name=f"bank{b}_full"), "bank_control")
            regs[f"bank{b}_drain"] = (Signal(range(cfg.cols), name=f"bank{b}_drain"),
                                      "bank_control")
        if cfg.corrects:
            regs["drain_left"] = (Signal(range(cfg.acc_depth + 1), name="drain_left"),
                                  "drain_sequencer")
            regs["drain_tag"] = (Signal(range(cfg.acc_depth), name="drain_tag"),
                                 "drain_sequencer")
            if not cfg.feeder:
                regs["last_tag"] = (Signal(range(cfg.acc_depth), name="last_tag"),
                                    "drain_sequencer")
        return regs

    def _control_step(self, m, state, regs, *, w_en, accept, pixel, final_end):
        """The next control state: ``regs`` take it, computed from ``state`` and the streams."""
        cfg = self._config
        rows, cols = cfg.rows, cfg.cols
        pass_done = accept & pixel.end
        with m.If(w_en):
            m.d.sync += regs["load_row"].eq(Mux(state["load_row"] == rows - 1, 0,
                                                state["load_row"] + 1))
            with m.If(state["load_row"] == rows - 1):
                m.d.sync += regs["load_bank"].eq(~state["load_bank"])
        with m.If(pass_done):
            m.d.sync += regs["issue_bank"].eq(~state["issue_bank"])
        for b in range(2):
            drain = state[f"bank{b}_drain"]
            with m.If(drain != 0):
                m.d.sync += regs[f"bank{b}_drain"].eq(drain - 1)
            with m.If(w_en & (state["load_bank"] == b) & (state["load_row"] == rows - 1)):
                m.d.sync += regs[f"bank{b}_full"].eq(1)
            with m.If(pass_done & (state["issue_bank"] == b)):
                m.d.sync += [regs[f"bank{b}_full"].eq(0), regs[f"bank{b}_drain"].eq(cols - 1)]
        if not cfg.corrects:
            return
        left = state["drain_left"]
        with m.If(left != 0):
            m.d.sync += [regs["drain_left"].eq(left - 1),
                         regs["drain_tag"].eq(state["drain_tag"] + 1)]
        if cfg.feeder:
            with m.If(accept & final_end):
                m.d.sync += [regs["drain_left"].eq(pixel.issued + pixel.skipped),
                             regs["drain_tag"].eq(0)]
        else:
            with m.If(accept & ~pixel.check):
                m.d.sync += regs["last_tag"].eq(pixel.tag)
            with m.If(accept & final_end):
                m.d.sync += [regs["drain_left"].eq(state["last_tag"] + 1),
                             regs["drain_tag"].eq(0)]

    def _shadow_check(self, m, site, state, **inputs):
        """A second copy of the control state, stepping on the same inputs: an upset or a
        stuck bit in either copy shows as a difference between the two."""
        twins, twin_state = {}, {}
        for name, (reg, _) in self._control_registers().items():
            twins[name] = Signal.like(reg, name=f"{name}_shadow")
            twin_state[name] = site(twins[name], "checker", f"{name}_shadow")
        self._control_step(m, twin_state, twins, **inputs)
        return Cat(*state.values()) != Cat(*twin_state.values())

    def _weights_ready(self, full, drain):
        """The loader takes a beat into a bank that is neither full nor still draining (its
        last pass's vectors still pass the columns that read it)."""
        return self.advance & ~full & (drain == 0)

    def _skew(self, row):
        """Cycles from acceptance until row ``row`` sees a vector (one register per row)."""
        return row + 1

    def _at_bottom(self, column):
        """Cycles from acceptance until column ``column``'s tile sum leaves the array."""
        return self._skew(self._config.rows - 1) + column + self._config.pe_latency

    def _deskew(self, column):
        """Cycles column ``column``'s result waits, so a pixel's columns leave together,
        then beside the kernel check's registered syndrome (``check_latency``)."""
        return self._config.cols - 1 - column + self._config.check_latency

    def _fixes(self, emit, located, syndrome):
        """The beat leaving is corrected: one column located, and its pixel-side syndrome is
        the beat's non-zero kernel syndrome."""
        return emit & (located.count == 1) & (syndrome == located.syndrome) & (syndrome != 0)

    def _corrected(self, value, syndrome):
        """The located column's value with the error the syndrome measured taken out."""
        return value - syndrome

    def elaborate(self, platform):
        cfg = self._config
        rows, cols, digits = cfg.rows, cfg.cols, cfg.check_digits
        m = Module()
        faults = self._faults

        def site(register, kind, name):
            return faults.register(m, register, kind=kind, block="engine", name=name)

        array = place(m, "array", SystolicArray(config=cfg, faults=faults, name="array"))

        # -- weight banks and drain -------------------------------------------------------------
        # A bank is free (``~full``, ``drain == 0``), then loaded one PE row per beat, then full
        # until the last vector of its pass is issued (the last pixel vector, or the last
        # checksum digit with the pixel-side check), then draining until that vector has passed
        # the last column, which frees it again. The state is in ``_control_step``; ``state``
        # is what its consumers see (a fault site's output in fault-injection builds).
        regs = self._control_registers()
        state = {name: site(reg, kind, name) for name, (reg, kind) in regs.items()}
        regs = {name: reg for name, (reg, _) in regs.items()}
        load_bank, load_row, issue_bank = state["load_bank"], state["load_row"], state["issue_bank"]
        pixel = self.pixels.payload
        accept = Signal()
        pass_done = Signal()  # the pass's last vector is issued this cycle
        m.d.comb += accept.eq(self.pixels.valid & self.pixels.ready)
        m.d.comb += [
            array.w_en.eq(self.weights.valid & self.weights.ready),
            array.w_row.eq(load_row),
            array.w_bank.eq(load_bank),
            array.w_data.eq(self.weights.payload),
        ]
        x_in = Signal.like(pixel.data, name="x_issue")
        m.d.comb += [pass_done.eq(accept & pixel.end), x_in.eq(Mux(accept, pixel.data, 0))]
        final_end = None
        if cfg.corrects:
            # The feeder's ``last`` is per pixel and its digits carry last=0, so its drain
            # starts on the end beat (last digit) of a pass whose command was ``final``.
            final_end = pixel.end & (pixel.final if cfg.feeder else pixel.last)
        self._control_step(m, state, regs, w_en=array.w_en, accept=accept, pixel=pixel,
                           final_end=final_end)

        # -- drain (abft="both"): a pixel tile's results stay in the accumulators until its
        # last pass has been checked, then leave one per cycle, corrected on the way out.
        # The drain runs beside the next tile's first pass, which never reads the
        # accumulators and writes each tag after the drain has read it.
        hold = 0
        control_hits = []  # abft="both": the control state's own checks
        if cfg.corrects:
            hold = Signal()
            drain_step = Signal(_with_parity({"valid": 1, "tag": range(cfg.acc_depth)}),
                                name="drain_step")
            m.d.comb += [drain_step.valid.eq(state["drain_left"] != 0),
                         drain_step.tag.eq(state["drain_tag"])]
            _set_parity(m, drain_step)
            if cfg.feeder:
                # The feeder drains the whole pixel tile (``issued + skipped``): the final pass
                # need not issue the highest pixel. Skipping lets issued tags run ahead of the
                # drain, so a data vector may go only if it writes an entry the drain has
                # already read (a ``first`` vector with a tag at most the drain's); any other
                # data vector (not first, placeholders included) needs the read port the drain
                # holds. Digit vectors never touch the accumulators: only the final end one
                # waits.
                ahead = ~pixel.first | (pixel.tag > drain_step.tag)
                m.d.comb += hold.eq(drain_step.valid & (final_end | (~pixel.check & ahead)))
            else:
                # Hold what would read the accumulators or start a second drain.
                m.d.comb += hold.eq(drain_step.valid & (~pixel.first | final_end))
            control_hits.append(self._shadow_check(m, site, state, w_en=array.w_en,
                                                   accept=accept, pixel=pixel,
                                                   final_end=final_end))

        for b in range(2):
            full, drain = state[f"bank{b}_full"], state[f"bank{b}_drain"]
            with m.If(load_bank == b):
                m.d.comb += self.weights.ready.eq(self._weights_ready(full, drain))
            with m.If(issue_bank == b):
                m.d.comb += self.pixels.ready.eq(self.advance & full & ~hold if cfg.corrects
                                                 else self.advance & full)

        # -- skew: row i sees the vector i + 1 cycles after acceptance --------------------------
        skew_hits = []
        for i in range(rows):
            x_taps = _delay(m, x_in[i], self._skew(i), f"x_row{i}", faults=faults,
                            kind="skew_register")
            bank_taps = _delay(m, issue_bank, self._skew(i), f"bank_row{i}", faults=faults,
                               kind="bank_control")
            m.d.comb += [array.x_in[i].eq(x_taps[-1]), array.bank_in[i].eq(bank_taps[-1])]
            if cfg.corrects:
                # The bank a row computes with, and a stuck bit in its skewed IFM values, steer
                # data, checksum digits and checksum column alike: the data checks can miss
                # them, so the bank has a second line and the values a parity line.
                twin = _delay(m, issue_bank, self._skew(i), f"bank_row{i}_shadow",
                              faults=faults, kind="checker")
                parity = _delay(m, x_in[i].as_value().xor(), self._skew(i),
                                f"x_row{i}_parity", faults=faults, kind="checker")
                skew_hits += [bank_taps[-1] != twin[-1],
                              x_taps[-1].as_value().xor() != parity[-1]]
            if cfg.feeder:
                issued = accept & ~pixel.check if cfg.pixel_check else accept  # not digits
                valid_taps = _delay(m, issued, self._skew(i), f"valid_row{i}", reset_less=False,
                                    faults=faults, kind="skew_register")
                m.d.comb += array.valid_in[i].eq(valid_taps[-1])

        if cfg.corrects:
            # The skew registers have no reset: until every one has been written since the
            # reset (``rows`` advancing cycles), what they hold means nothing.
            settled = Signal(range(rows + 1), name="skew_settled")
            with m.If(settled != rows):
                m.d.sync += settled.eq(settled + 1)
            control_hits.append((settled == rows) & Cat(*skew_hits).any())

        # -- metadata travels beside the wavefront: down the rows, then along the columns -------
        fields = {"valid": 1, "first": 1, "last": 1, "tag": range(cfg.acc_depth)}
        if cfg.pixel_check:
            fields.update({"check": 1, "digit": range(max(2, digits)), "last_digit": 1})
        if cfg.feeder:
            fields.update({"end": 1, "bank": 1, "issued": len(pixel.issued),
                           "skipped": len(pixel.skipped)})
        meta = Signal(_with_parity(fields) if cfg.corrects else data.StructLayout(fields),
                      name="meta")
        m.d.comb += [meta.valid.eq(accept), meta.first.eq(pixel.first),
                     meta.last.eq(pixel.last), meta.tag.eq(pixel.tag)]
        if cfg.feeder:
            m.d.comb += [meta.end.eq(pixel.end), meta.bank.eq(issue_bank),
                         meta.issued.eq(pixel.issued), meta.skipped.eq(pixel.skipped)]
        if cfg.pixel_check:
            m.d.comb += [meta.check.eq(pixel.check), meta.digit.eq(pixel.digit),
                         meta.last_digit.eq(pixel.check & pixel.end)]
        out_stage = cfg.latency
        meta_taps = _delay(m, meta, out_stage, "meta", reset_less=False, faults=faults,
                           kind="metadata")
        if cfg.corrects:
            _set_parity(m, meta)
            drain_taps = _delay(m, drain_step, out_stage, "drain", reset_less=False,
                                faults=faults, kind="drain_sequencer")
            # Every tap a consumer reads is checked: a flip anywhere in the delay lines
            # reaches one of them before, or when, it can steer anything.
            read = sorted({out_stage} | {self._at_bottom(j) - k for j in range(cols)
                                         for k in (0, 1)})
            control_hits += [_parity_error(taps[k]) for taps in (meta_taps, drain_taps)
                             for k in read]

        # -- accumulate per column, then deskew so a pixel's columns leave together -------------
        # (name, column whose timing it has, tile sum); the checksum column is in step with 0
        columns = [(f"acc_c{j}", j, array.psum_out[j]) for j in range(cols)]
        if cfg.kernel_check:
            columns.append(("acc_cs", 0, array.check_psum_out))
        results = []  # what leaves
        aligned = []  # a pixel's columns together, a cycle before they leave (kernel check)
        mismatches = []
        for name, j, psum in columns:
            acc = place(m, name, ColumnAccumulator(config=cfg, faults=self._faults, name=name))
            here = meta_taps[self._at_bottom(j)]
            data_vector = here.valid & ~here.check if cfg.pixel_check else here.valid
            m.d.comb += [
                acc.rd_tag.eq(meta_taps[self._at_bottom(j) - 1].tag),
                acc.valid.eq(data_vector),
                acc.tag.eq(here.tag),
                acc.first.eq(here.first),
                acc.last.eq(here.last),
                acc.psum.eq(psum),
            ]
            if cfg.corrects:  # every vector stores; the drain reads out
                reading = drain_taps[self._at_bottom(j) - 1]
                m.d.comb += [acc.last.eq(0), acc.drain.eq(drain_taps[self._at_bottom(j)].valid)]
                with m.If(reading.valid):
                    m.d.comb += acc.rd_tag.eq(reading.tag)
            taps = _delay(m, acc.result, self._deskew(j), f"result_{name[4:]}",
                          faults=faults, kind="deskew_register")
            results.append(taps[-1])
            aligned.append(taps[-1 - cfg.check_latency])
            if cfg.pixel_check and name != "acc_cs":
                checker = place(m, f"check_c{j}", ColumnChecker(config=cfg, faults=self._faults,
                                                                 name=f"check_c{j}"))
                m.d.comb += [checker.valid.eq(here.valid), checker.check.eq(here.check),
                             checker.digit.eq(here.digit),
                             checker.last_digit.eq(here.last_digit), checker.psum.eq(psum)]
                mismatches.append(checker)
        out = meta_taps[out_stage]
        emit = out.valid & out.last & ~out.check if cfg.pixel_check else out.valid & out.last
        tag = out.tag
        if cfg.corrects:
            emit, tag = drain_taps[out_stage].valid, drain_taps[out_stage].tag
        m.d.comb += [self.results.valid.eq(emit), self.results.payload.tag.eq(tag)]
        syndrome = None
        if cfg.kernel_check:
            # Registered, while the beat waits a cycle beside it: the sum over the columns
            # and the correction after it were one path, the slowest of abft builds.
            syndrome_reg = Signal(signed(cfg.acc_width), name="kernel_syndrome",
                                  reset_less=True)
            syndrome = faults.register(m, syndrome_reg, kind="checker", block="engine",
                                       name="kernel_syndrome")
            m.d.sync += syndrome_reg.eq(sum(aligned[:cols]) - aligned[cols])
        fix = Signal()
        if cfg.corrects:
            # The summary waits with the beat: the next tile's may replace it meanwhile.
            located = _delay(m, self._tile_summary(m, mismatches, drain_taps),
                             cfg.check_latency, "tile_located", faults=faults,
                             kind="checker")[-1]
            m.d.comb += fix.eq(self._fixes(emit, located, syndrome))
            fix = faults.wire(m, fix, kind="correction", block="engine", name="fix")
            # One subtractor: the located column's value, corrected, replaces it.
            fixed = Signal(signed(cfg.acc_width), name="fixed_value")
            located_value = Array(results[:cols])[located.column]
            m.d.comb += fixed.eq(self._corrected(located_value, syndrome))
            fixed = faults.wire(m, fixed, kind="correction", block="engine", name="fixed_value")
            for j in range(cols):
                m.d.comb += self.results.payload.value[j].eq(faults.wire(
                    m, Mux(fix & (located.column == j), fixed, results[j]),
                    kind="correction", block="engine", name=f"result_mux_c{j}"))
            # The beat as it leaves, checked again against the checksum column: the
            # correction and the output multiplexers sit after the kernel check. The check
            # runs a cycle later, on a copy, so it does not lengthen the outputs' path.
            left = Signal(data.ArrayLayout(signed(cfg.acc_width), cols + 1),
                          name="leaving_values", reset_less=True)
            left_checked = Signal(name="leaving_checked")
            m.d.sync += [left[j].eq(self.results.payload.value[j]) for j in range(cols)]
            m.d.sync += [left[cols].eq(results[cols]),
                         left_checked.eq(emit & (fix | (syndrome == 0)))]
            # The sum is registered before it is compared: in one cycle with the checks' OR
            # it limited abft='both' (make timing).
            leaving = Signal(signed(cfg.acc_width), name="output_syndrome", reset_less=True)
            leaving_checked = Signal(name="output_syndrome_checked")
            m.d.sync += [leaving.eq(sum(left[j] for j in range(cols)) - left[cols]),
                         leaving_checked.eq(left_checked)]
            control_hits.append(leaving_checked & (leaving != 0))
            if cfg.feeder:
                control_hits.append(self.feeder_error)
        else:
            for j in range(cols):
                m.d.comb += self.results.payload.value[j].eq(results[j])
        control_hit = Signal()
        if control_hits:  # registered: the checks' OR tree ends at a flip-flop, not in status
            m.d.sync += control_hit.eq(Cat(*control_hits).any())
        if cfg.abft != "none":
            self._status(m, mismatches, syndrome, emit, fix, control_hit)
        if cfg.feeder:  # before the check's stage: when the gated counts may restart
            self._pass_stats(m, array, meta_taps[out_stage - cfg.check_latency])
        return m

    def _pass_stats(self, m, array, out):
        """A pass's counters leave with its last vector, when all its multiplies are done.

        Gated multiplies are counted per weight bank. The pass using a bank again starts
        its first multiply at the earliest in the cycle its predecessor's count is read,
        so that count restarts from that cycle's gated multiplies. A multiply counts when its
        product is registered, ``pe_latency - 1`` cycles after the PE gated it, which keeps
        that rule whatever the PE's depth. The array's count comes two cycles after the
        gating already (a register in each PE and in each row).
        """
        gated = [Signal(32, name=f"gated_bank{b}") for b in range(2)]
        done = _delay(m, array.gated, self._config.pe_latency - 3, "gated_done")[-1]
        report = out.valid & out.end
        for b in range(2):
            with m.If(report & (out.bank == b)):
                m.d.sync += gated[b].eq(done[b])
            with m.Else():
                m.d.sync += gated[b].eq(gated[b] + done[b])
        m.d.comb += [self.stats.valid.eq(report),
                     self.stats.payload.issued.eq(out.issued),
                     self.stats.payload.skipped.eq(out.skipped),
                     self.stats.payload.gated.eq(Mux(out.bank, gated[1], gated[0]))]

    def _tile_summary(self, m, checkers, drain_taps):
        """The pixel-side mismatches of the pixel tile being drained: how many, where, what.

        Each column's mismatches are collected until the tile's drain reaches that column
        (which is exactly when its last pass's check completes), merged with what the columns
        to its left passed on, and handed right one cycle later, like the drain itself; so
        two tiles' drains in flight never mix. The last column's merge is the summary,
        complete before the tile's first result reaches the output.
        """
        cfg = self._config
        layout = data.StructLayout({"count": 2, "column": range(cfg.cols),
                                    "syndrome": signed(cfg.acc_width)})
        carried = Signal(layout, name="tile_carry_in")  # nothing left of column 0: zero
        for j, checker in enumerate(checkers):
            running = Signal(layout, name=f"tile_running_c{j}")
            now = Signal(layout, name=f"tile_now_c{j}")  # running, with this cycle's mismatch
            m.d.comb += now.eq(running)
            with m.If(checker.mismatch):
                m.d.comb += now.count.eq(Mux(running.count == 0, 1, 2))
                with m.If(running.count == 0):
                    m.d.comb += [now.column.eq(j), now.syndrome.eq(checker.syndrome)]
            m.d.sync += running.eq(now)
            merged = Signal(layout, name=f"tile_merged_c{j}")
            m.d.comb += merged.eq(carried)
            with m.If(now.count != 0):
                m.d.comb += merged.count.eq(
                    Mux(carried.count + now.count > 1, 2, carried.count + now.count))
                with m.If(carried.count == 0):
                    m.d.comb += [merged.column.eq(now.column), merged.syndrome.eq(now.syndrome)]
            carry = Signal(layout, name=f"tile_carry_c{j}")
            if j == cfg.cols - 1:
                summary = self._faults.register(m, carry, kind="checker", block="engine",
                                                name="tile_summary")
            step = drain_taps[self._at_bottom(j)]
            with m.If(step.valid & (step.tag == 0)):
                m.d.sync += [running.eq(0), carry.eq(merged)]
            carried = carry
        return summary

    def _status(self, m, checkers, syndrome, emit, fix, control_hit):
        """Sticky error flag, saturating counters and the first mismatch of each check."""
        cfg, status = self._config, self.status
        pixel_hit = Signal()
        kernel_hit = Signal()
        if cfg.pixel_check:
            checked = [self._checked_passes(m, checker, j) for j, checker in enumerate(checkers)]
            hits = Cat(c.mismatch for c in checkers)
            m.d.comb += pixel_hit.eq(hits.any())
            with m.If(pixel_hit):
                count = status.pixel_errors + sum(c.mismatch for c in checkers)
                m.d.sync += status.pixel_errors.eq(Mux(count > 0xFFFF, 0xFFFF, count))
                with m.If(status.pixel_errors == 0):
                    for j in reversed(range(cfg.cols)):
                        with m.If(checkers[j].mismatch):
                            m.d.sync += [status.pixel_column.eq(j),
                                         status.pixel_syndrome.eq(checkers[j].syndrome),
                                         status.pixel_pass.eq(checked[j] - 1)]
        if cfg.corrects:
            with m.If(fix & (status.corrected != 0xFFFF)):
                m.d.sync += status.corrected.eq(status.corrected + 1)
        if cfg.kernel_check:
            beats = Signal(32)
            with m.If(emit):
                m.d.sync += beats.eq(beats + 1)
            m.d.comb += kernel_hit.eq(emit & (syndrome != 0))
            with m.If(kernel_hit):
                m.d.sync += status.kernel_errors.eq(
                    Mux(status.kernel_errors == 0xFFFF, 0xFFFF, status.kernel_errors + 1))
                with m.If(status.kernel_errors == 0):
                    m.d.sync += [status.kernel_beat.eq(beats),
                                 status.kernel_syndrome.eq(syndrome)]
        if cfg.corrects:
            with m.If(control_hit & (status.control_errors != 0xFFFF)):
                m.d.sync += status.control_errors.eq(status.control_errors + 1)
        with m.If((pixel_hit | kernel_hit | control_hit) & ~status.error):
            m.d.sync += [status.error.eq(1), status.first_cycle.eq(self.cycle)]
        # Last, so it wins over anything flagged in the same cycle. The pass and beat numbers
        # of the first mismatches restart from the clear; what the correction holds about the
        # tile being checked is no status and stays.
        with m.If(self.clear_status):
            m.d.sync += status.eq(0)
            if cfg.pixel_check:
                m.d.sync += [count.eq(0) for count in checked]
            if cfg.kernel_check:
                m.d.sync += beats.eq(0)

    def _checked_passes(self, m, checker, j):
        """Passes column ``j``'s checker has completed so far (the pass being flagged)."""
        count = Signal(16, name=f"passes_checked_c{j}")
        with m.If(checker.valid & checker.last_digit):
            m.d.sync += count.eq(count + 1)
        return count


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
        One pixel's ``cols`` accumulated outputs per beat, ``tag`` the pixel within its pixel
        tile. Streamed builds: in issue order, ``config.latency`` cycles after its last pixel
        vector was accepted. With ``abft="both"`` (streamed or feeder) a pixel tile's results
        are held until the kernel tile's final pass has been checked, then leave in tag
        order ``0 .. pixels-1``, one per cycle, corrected. Feeder builds without it: as each
        pixel finishes (its last non-zero reduction tile, or the final pass), so in pass
        order, not tag order (:func:`sense_models.feeder.schedule_feeder` gives the order).
    table, ifm, passes : In(stream.Signature(...))
        Feeder builds only, replacing ``pixels``: see :class:`sense_hw.feeder.IfmFeeder`.
    stats : Out(stream.Signature(stats_layout(config)))
        Feeder builds only: one beat per pass, in pass order: vectors ``issued`` (a
        placeholder included, checksum digits not), ``skipped`` (``issued + skipped`` is the
        pixel tile's pixels) and ``gated`` multiplies. Through a 4-deep FIFO with its own
        back-pressure; the core stalls (results included) while the FIFO is full, so the
        host must drain it.
    status : Out(status_layout(config))
        ABFT builds only: sticky error flag, mismatch counts, the first mismatch of each
        check (see :func:`sense_models.formats.status_format` and ``docs/abft.md``).
    protocol : Out(protocol_layout(acc_depth))
        Streamed builds only: the check of the ``pixels`` stream's pass structure
        (:class:`sense_hw.protocol.PixelProtocolChecker`): a sticky ``error`` with the
        ``code`` of the first broken rule (:class:`sense_models.protocol.ProtocolError`),
        the accumulators ``open`` and what the core is ``waiting`` for. Cleared by reset.
    clear_status : In(1)
        ABFT builds only: a one-cycle pulse clears ``status`` (the sticky ``error``, both
        mismatch counts, both first mismatches with ``first_cycle``, and ``corrected``);
        ``pixel_pass`` and ``kernel_beat`` then count from the clear. It takes effect in
        the first cycle the pipeline advances from the pulse on (at once unless the outputs
        are stalled), so a pulse during back-pressure is not lost, and it wins over a
        mismatch flagged in that same cycle. Results and the correction of the pixel tile in
        flight are unaffected; a reset clears the status as well.
    fault : In(fault_layout(config))
        Fault-injection builds only: which site to fault, how and from when
        (:mod:`sense_hw.faults`).

    Throughput is one pixel vector per cycle (plus ``check_digits`` cycles per pass with the
    pixel-side check). Back-pressure on ``results`` stalls the whole
    pipeline (a common clock enable) while a result beat waits.
    """

    verilog_name = "core"

    def members(self, config):
        self._sites = None
        members = _stream_members(config)
        if config.feeder:
            del members["pixels"]
            members.update({
                "table": In(stream.Signature(table_layout(config))),
                "ifm": In(stream.Signature(ifm_layout(config))),
                "passes": In(stream.Signature(pass_layout(config))),
            })
        if config.abft != "none":
            members["clear_status"] = In(1)
        if config.faults:
            members["fault"] = In(fault_layout(config))
        if not config.feeder:
            members["protocol"] = Out(protocol_layout(config.acc_depth))
        return members

    @property
    def fault_sites(self):
        """The fault sites of a fault-injection build, numbered (complete after elaboration)."""
        return self._sites.sites if self._sites is not None else []

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        self._sites = None
        faults = None
        if cfg.abft != "none" or cfg.faults:
            cycle = Signal(32, name="cycle")  # cycles since reset, for fault timing and status
            m.d.sync += cycle.eq(cycle + 1)
        advance = Signal()
        if cfg.faults:
            flip_now, flip_done = Signal(), Signal()
            m.d.comb += flip_now.eq((self.fault.mode == FLIP) & (cycle >= self.fault.start)
                                    & ~flip_done)
            with m.If(flip_now & advance):
                m.d.sync += flip_done.eq(1)
            self._sites = faults = FaultSites(self.fault, cycle, flip_now)
        engine = SenseEngine(config=cfg, faults=faults, name="engine")
        if cfg.abft != "none":
            m.d.comb += [engine.cycle.eq(cycle), self.status.eq(engine.status)]
            # The engine's registers move only while it advances: a clear pulsed during a
            # stall waits here until the next advancing cycle.
            clear_pending = Signal()
            m.d.comb += engine.clear_status.eq(self.clear_status | clear_pending)
            with m.If(advance):
                m.d.sync += clear_pending.eq(0)
            with m.Elif(self.clear_status):
                m.d.sync += clear_pending.eq(1)
        place(m, "engine", engine, enable=engine.advance)
        if not cfg.feeder:
            m.d.comb += advance.eq(~self.results.valid | self.results.ready)
        m.d.comb += engine.advance.eq(advance)
        wiring.connect(m, wiring.flipped(self.weights), engine.weights)
        if cfg.feeder:
            # The feeder does not stop with the engine: its flips wait for an advancing cycle.
            feeder = place(m, "feeder", IfmFeeder(
                config=cfg, faults=faults and faults.stepping(advance), name="feeder"))
            if cfg.corrects:
                m.d.comb += engine.feeder_error.eq(feeder.error)
            for port in ("table", "ifm", "passes"):
                wiring.connect(m, wiring.flipped(getattr(self, port)), getattr(feeder, port))
            wiring.connect(m, feeder.vectors, engine.pixels)
            self._outputs(m, engine, advance)
        else:
            wiring.connect(m, wiring.flipped(self.pixels), engine.pixels)
            wiring.connect(m, engine.results, wiring.flipped(self.results))
            self._check_protocol(m)
        return m

    def _outputs(self, m, engine, advance):
        """Results and per-pass counters, each with its own back-pressure.

        The counters go through a small FIFO (one cycle later than the engine reports
        them), so a result beat and a counter beat can each wait on their own: the
        pipeline holds while a result waits or while the FIFO is full, and a result is
        offered only while the FIFO has room, so no beat is ever taken twice.
        """
        fifo = SyncFIFO(width=len(self.stats.payload.as_value()), depth=4)
        m.submodules.stats_fifo = fifo
        m.d.comb += [
            advance.eq(fifo.w_rdy & (~engine.results.valid | self.results.ready)),
            self.results.valid.eq(engine.results.valid & fifo.w_rdy),
            self.results.payload.eq(engine.results.payload),
            engine.results.ready.eq(self.results.ready),
            fifo.w_en.eq(engine.stats.valid & advance),
            fifo.w_data.eq(engine.stats.payload),
            engine.stats.ready.eq(fifo.w_rdy),
            self.stats.valid.eq(fifo.r_rdy),
            self.stats.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.stats.ready),
        ]

    def _check_protocol(self, m):
        """The ``pixels`` stream's pass structure, checked beside the engine (not in its
        path: every beat still goes through, so a broken sequence cannot stop the core)."""
        checker = place(m, "protocol_checker", PixelProtocolChecker(
            depth=self._config.acc_depth, digits=self._config.check_digits))
        beat = self.pixels.payload
        m.d.comb += [
            checker.take.eq(self.pixels.valid & self.pixels.ready),
            checker.tag.eq(beat.tag), checker.first.eq(beat.first),
            checker.last.eq(beat.last), checker.pass_end.eq(beat.end),
            self.protocol.eq(checker.status),
        ]
        if self._config.check_digits:
            m.d.comb += [checker.check.eq(beat.check), checker.digit.eq(beat.digit)]
        for stream_name in ("pixels", "weights", "results"):
            port = getattr(self, stream_name)
            m.d.comb += [getattr(checker, f"{stream_name}_valid").eq(port.valid),
                         getattr(checker, f"{stream_name}_ready").eq(port.ready)]

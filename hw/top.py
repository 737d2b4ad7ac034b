"""``sense_top``: the whole accelerator behind AXI4-Stream and AXI4-Lite, for a Zynq PL."""

from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from sense_models.config import ArrayConfig
from sense_models.packets import PacketType, packet_types
from sense_models.regmap import ID_VALUE, VERSION, register_map

from .axil import AxiLiteRegisters, AxiLiteSignature
from .core import SenseCore
from .hierarchy import place
from .layouts import (fault_layout, ifm_layout, pass_layout, pixel_layout, quant_layout,
                      table_layout, weight_layout)
from .output_stage import OutputStage
from .packet_rx import PacketReceiver
from .result_tx import ResultSender

__all__ = ["SenseTop", "AXIL_SIGNALS", "AXIS_SLAVE", "AXIS_MASTER"]

AXIS_SLAVE = ("tdata", "tkeep", "tvalid", "tready", "tlast")
AXIS_MASTER = AXIS_SLAVE
AXIL_SIGNALS = ("awaddr", "awprot", "awvalid", "awready", "wdata", "wstrb", "wvalid",
                "wready", "bresp", "bvalid", "bready", "araddr", "arprot", "arvalid",
                "arready", "rdata", "rresp", "rvalid", "rready")

AXIL_ADDR_WIDTH = 8

#: Packet type -> (core stream name, layout function).
_STREAMS = {
    PacketType.WEIGHTS: ("weights", weight_layout),
    PacketType.PIXELS: ("pixels", pixel_layout),
    PacketType.TABLE: ("table", table_layout),
    PacketType.IFM: ("ifm", ifm_layout),
    PacketType.PASSES: ("passes", pass_layout),
    PacketType.QUANT: ("quant", quant_layout),
}

#: 64-bit performance counters (register names in :func:`sense_models.regmap.register_map`).
COUNTERS = ("busy_cycles", "in_stall_cycles", "out_stall_cycles", "vectors_issued",
            "vectors_skipped", "gated_mults", "layers_done", "packets_in", "beats_out")


class SenseTop(wiring.Component):
    """The accelerator as one IP block: packets in, activations out, registers on the side.

    The host sends everything (weights, output-stage parameters, the permutation table, the
    IFM, pass commands) as packets (:mod:`sense_models.packets`) on ``s_axis``; results leave
    on ``m_axis``; ``s_axil`` holds the registers (:func:`sense_models.regmap.register_map`).
    One clock, ``clk``; ``rst`` is synchronous and active high (a ZCU102 design drives it
    from ``proc_sys_reset``'s ``peripheral_reset``).

    Parameters
    ----------
    config : ArrayConfig
        The core's generator parameters.
        ``config.bus_width`` is the ``TDATA`` width of both streams.

    Members
    -------
    s_axis_tdata, s_axis_tkeep, s_axis_tvalid, s_axis_tready, s_axis_tlast
        AXI4-Stream slave: the host's packets. Words are taken only while ``CONTROL.run``
        is set.
    m_axis_tdata, m_axis_tkeep, m_axis_tvalid, m_axis_tready, m_axis_tlast
        AXI4-Stream master: result beats; ``TLAST`` ends each output-stage parameter set.
    s_axil_awaddr ... s_axil_rready
        AXI4-Lite slave, 32-bit data, 8-bit addresses.
    fault
        Fault-injection builds only: the core's fault control (:mod:`sense_hw.faults`).

    ``COMMAND.soft_reset`` resets everything but the register file's ``CONTROL`` (the
    receiver, the core, the output stage, the sender, the status and the counters) in the
    cycle after the write; stop the DMA first: words in flight are dropped or misparsed.
    """

    def __init__(self, *, config):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"config must be an ArrayConfig, not {config!r}")
        bus_width = config.bus_width
        if config.tag_width > 16:
            raise ValueError(f"sense_top sends result tags in two bytes: acc_depth must be at "
                             f"most 65536, not {config.acc_depth}")
        self._config = config
        self._bus_width = bus_width
        self._regmap = register_map(config)
        members = {}
        for name in AXIS_SLAVE:
            flow = Out if name == "tready" else In
            members[f"s_axis_{name}"] = flow(bus_width if name == "tdata" else
                                             bus_width // 8 if name == "tkeep" else 1)
        for name in AXIS_MASTER:
            flow = In if name == "tready" else Out
            members[f"m_axis_{name}"] = flow(bus_width if name == "tdata" else
                                             bus_width // 8 if name == "tkeep" else 1)
        bus = AxiLiteSignature(addr_width=AXIL_ADDR_WIDTH).flip()
        for name in AXIL_SIGNALS:
            members[f"s_axil_{name}"] = bus.members[name]
        if config.faults:
            members["fault"] = In(fault_layout(config))
        super().__init__(members)

    @property
    def config(self):
        return self._config

    @property
    def bus_width(self):
        return self._bus_width

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        regs = place(m, "regs", AxiLiteRegisters(regmap=self._regmap,
                                                 addr_width=AXIL_ADDR_WIDTH))
        for name in AXIL_SIGNALS:
            ours, theirs = getattr(self, f"s_axil_{name}"), getattr(regs, name)
            if regs.signature.members[name].flow == In:
                m.d.comb += theirs.eq(ours)
            else:
                m.d.comb += ours.eq(theirs)
        soft = Signal(name="soft_reset")
        m.d.sync += soft.eq(regs.command.soft_reset)
        clear = regs.command.clear_status

        targets, item_beats, limits = {}, {PacketType.WEIGHTS: cfg.rows}, {}
        for kind, wire in packet_types(cfg).items():
            name, layout = _STREAMS[kind]
            targets[kind] = (name, wire, layout(cfg))
        if cfg.feeder:
            limits = {PacketType.TABLE: cfg.feeder_tiles, PacketType.IFM: cfg.acc_depth}
        rx = PacketReceiver(bus_width=self._bus_width, targets=targets, item_beats=item_beats,
                            count_limits=limits)
        core = SenseCore(config=cfg)
        params = SyncFIFOBuffered(width=quant_layout(cfg).size, depth=4)
        stage = OutputStage(cols=cfg.cols, acc_width=cfg.acc_width, out_width=cfg.ifm_width,
                            tag_width=cfg.tag_width)
        tx = ResultSender(bus_width=self._bus_width, cols=cfg.cols, acc_width=cfg.acc_width,
                          out_width=cfg.ifm_width, tag_width=cfg.tag_width)
        for name, block in (("rx", rx), ("core", core), ("stage", stage), ("tx", tx)):
            place(m, name, block, reset=soft)
        m.submodules.params = ResetInserter(soft)(params)  # a library FIFO: flattened here

        # -- host -> receiver -> core and output stage ----------------------------------------
        for name in ("tdata", "tkeep", "tvalid", "tlast"):
            m.d.comb += getattr(rx, name).eq(getattr(self, f"s_axis_{name}"))
        m.d.comb += [self.s_axis_tready.eq(rx.tready), rx.enable.eq(regs.control.run),
                     rx.clear.eq(clear)]
        for kind, (name, _, _) in targets.items():
            if kind != PacketType.QUANT:
                wiring.connect(m, getattr(rx, name), getattr(core, name))
        m.d.comb += [
            params.w_data.eq(rx.quant.payload), params.w_en.eq(rx.quant.valid),
            rx.quant.ready.eq(params.w_rdy),
            stage.params.payload.eq(params.r_data), stage.params.valid.eq(params.r_rdy),
            params.r_en.eq(stage.params.ready),
        ]
        wiring.connect(m, core.results, stage.results)
        wiring.connect(m, stage.out, tx.beats)
        for name in ("tdata", "tkeep", "tvalid", "tlast"):
            m.d.comb += getattr(self, f"m_axis_{name}").eq(getattr(tx, name))
        m.d.comb += tx.tready.eq(self.m_axis_tready)
        if cfg.faults:
            m.d.comb += core.fault.eq(self.fault)

        # -- registers -------------------------------------------------------------------------
        busy = Signal(name="busy")
        # A layer is in flight from its table (feeder builds) or its first parameter set on,
        # until its last result word has left.
        m.d.comb += busy.eq(rx.busy | rx.table_loaded | params.r_rdy | stage.busy | tx.busy)
        self._identity(m, regs)
        status = regs.status
        protocol_error = 0 if cfg.feeder else core.protocol.error
        m.d.comb += [status.busy.eq(busy), status.error.eq(rx.error | protocol_error),
                     status.error_code.eq(rx.error_code), status.table_loaded.eq(rx.table_loaded)]
        if not cfg.feeder:
            protocol = core.protocol
            m.d.comb += [getattr(regs.protocol, name).eq(getattr(protocol, name))
                         for name in ("error", "code", "open", "wait_weights", "wait_pixels",
                                      "wait_results")]
        if cfg.abft != "none":
            self._abft_status(m, regs, core, clear)
        events = {
            "busy_cycles": busy,
            "in_stall_cycles": busy & ~self.s_axis_tvalid,
            "out_stall_cycles": self.m_axis_tvalid & ~self.m_axis_tready,
            "layers_done": tx.final_done,
            "packets_in": rx.packet_done,
            "beats_out": tx.beat_done,
        }
        if cfg.feeder:
            stats = core.stats
            m.d.comb += stats.ready.eq(1)
            got = stats.valid
            events.update(vectors_issued=(got, stats.payload.issued),
                          vectors_skipped=(got, stats.payload.skipped),
                          gated_mults=(got, stats.payload.gated))
        else:
            events["vectors_issued"] = core.pixels.valid & core.pixels.ready
        for name in COUNTERS:
            counter = Signal(64, name=name)
            event = events.get(name)
            if event is not None:
                enable, amount = event if isinstance(event, tuple) else (event, 1)
                with m.If(enable):
                    m.d.sync += counter.eq(counter + amount)
            with m.If(soft | clear):
                m.d.sync += counter.eq(0)
            m.d.comb += getattr(regs, name).eq(counter)
        return m

    def _identity(self, m, regs):
        cfg = self._config
        major, minor, patch = VERSION
        m.d.comb += [
            regs.id.eq(ID_VALUE),
            regs.version.major.eq(major), regs.version.minor.eq(minor),
            regs.version.patch.eq(patch),
            regs.config0.rows.eq(cfg.rows), regs.config0.cols.eq(cfg.cols),
            regs.config0.group.eq(cfg.group), regs.config0.sparse.eq(cfg.sparse),
            regs.config0.feeder.eq(cfg.feeder), regs.config0.pixel_check.eq(cfg.pixel_check),
            regs.config0.kernel_check.eq(cfg.kernel_check), regs.config0.faults.eq(cfg.faults),
            regs.config1.ifm_width.eq(cfg.ifm_width),
            regs.config1.weight_width.eq(cfg.weight_width),
            regs.config1.acc_width.eq(cfg.acc_width),
            regs.config1.bus_bytes.eq(self._bus_width // 8),
            regs.config2.acc_depth.eq(cfg.acc_depth),
            regs.config2.feeder_tiles.eq(cfg.feeder_tiles if cfg.feeder else 0),
        ]

    def _abft_status(self, m, regs, core, clear):
        status = core.status
        m.d.comb += [
            core.clear_status.eq(clear),
            regs.status.abft_error.eq(status.error),
            regs.abft_counts.pixel_errors.eq(status.pixel_errors),
            regs.abft_counts.kernel_errors.eq(status.kernel_errors),
            regs.abft_pixel.pixel_pass.eq(status.pixel_pass),
            regs.abft_pixel.column.eq(status.pixel_column),
            regs.abft_pixel_syndrome.eq(status.pixel_syndrome),
            regs.abft_kernel_beat.eq(status.kernel_beat),
            regs.abft_kernel_syndrome.eq(status.kernel_syndrome),
            regs.abft_first_cycle.eq(status.first_cycle),
            regs.abft_corrected.corrected.eq(status.corrected),
        ]
        if self._config.corrects:
            m.d.comb += regs.abft_corrected.control_errors.eq(status.control_errors)

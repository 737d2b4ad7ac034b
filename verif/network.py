"""``make network``: the trained digits CNN through ``sense_top`` on Verilator.

Builds the whole accelerator (every feature on: sparse array, IFM feeder, both ABFT checks
with correction, the output stage, the AXI ports) and runs every test image through every
layer with the host driver's RTL back-end (:mod:`sense_verif.test_network`). Writes
``reports/network.json`` and prints it as a table.
"""

from __future__ import annotations

import argparse
import json
import sys

from sense_hw.generate import add_config_arguments, parse_config

from .report import console_table
from .runner import REPO, build, run_tests

REPORT = REPO / "reports" / "network.json"

#: The build ``make network`` runs: every feature, pixel tiles of 64 (many images each).
NETWORK_DEFAULTS = {"feeder": True, "abft": "both", "acc_depth": 64, "feeder_tiles": 16}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--images", type=int, help="only the first N test images")
    parser.add_argument("--batch", type=int, default=40, help="images per batch (default 40)")
    parser.add_argument("--report", default=str(REPORT), help="report file")
    parser.set_defaults(**NETWORK_DEFAULTS)
    args, config = parse_config(parser, argv)
    if args.images is not None and args.images < 1:
        parser.error(f"--images must be at least 1, not {args.images}")
    if args.batch < 1:
        parser.error(f"--batch must be at least 1, not {args.batch}")
    print(f"building sense_top for {config.name} ...", flush=True)
    directory = build(config, "axi")
    env = {"SENSE_REPORT": str(args.report), "SENSE_BATCH": str(args.batch)}
    if args.images:
        env["SENSE_IMAGES"] = str(args.images)
    tests, failures = run_tests(config, "axi", "sense_verif.test_network", directory=directory,
                                extra_env=env, results_name="network-results.xml")
    report = json.loads(open(args.report).read())
    print(summary(report))
    print(f"wrote {args.report}")
    return 1 if failures or not tests else 0


def summary(report):
    """The report as console tables."""
    layers = console_table(report["layers"], [
        ("layer", 8, lambda r: r["name"]),
        ("RTL cycles", 11, lambda r: str(r["rtl_cycles"])),
        ("model cycles", 13, lambda r: str(r["model_cycles"])),
        ("core alone", 11, lambda r: str(r["core_model_cycles"])),
        ("bytes in", 10, lambda r: str(r["bytes_in"])),
        ("bytes out", 10, lambda r: str(r["bytes_out"])),
    ])
    figures = [
        ("images", str(report["images"])),
        ("images bit-exact", str(report["images_bit_exact"])),
        ("accuracy (RTL)", f"{100 * report['accuracy_rtl']:.2f} %"),
        ("accuracy (golden)", f"{100 * report['accuracy_golden']:.2f} %"),
        ("cycles per image", f"{report['cycles_per_image']:.0f}"),
        ("images/s at 200 MHz", f"{report['images_per_s_200mhz']:.0f}"),
        ("bytes per image in / out", f"{report['bytes_per_image']['in']:.0f} / "
                                     f"{report['bytes_per_image']['out']:.0f}"),
        ("ABFT", "alarm" if report["abft"]["error"] else "no alarm"),
        ("wall time (simulation)", f"{report['wall_s']} s"),
    ]
    table = console_table(figures, [("figure", 26, lambda r: r[0]),
                                    ("value", 14, lambda r: r[1])])
    return layers + "\n\n" + table


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: real CNN layer shapes through RTL simulation (``make bench``).

Every ResNet-50 and VGG-16 layer shape of :mod:`sense_models.layers` runs on the sparse array
(default 8x8, G=4) and on the dense baseline of the same multiplier count built by the same
generator, through the ``sense_bench`` harness on Verilator. The pixel count of each layer
is cut to ``--pixels`` (default 64) so the whole run takes minutes; that does not change the
tiling of the reduction and kernel dimensions, only how many pixel vectors each pass streams.
Every run is checked bit-exact against the golden model and cycle-exact against the cycle
model. Writes ``reports/bench.json`` and prints the same as a table.

The sparse array's jobs run a second time on the plain C++ driver of the same harness
(:mod:`sense_verif.sim_speed`): the report's ``sim_speed`` section has both drivers'
cycles per second side by side, and any difference between their results or cycles fails
the bench (``--no-cpp`` skips it).

Then the IFM-sparsity part (:mod:`sense_verif.bench_ifm`): zero-vector skipping and channel
rearrangement on a feeder build, per digits-CNN layer and ResNet-50 shape, into the report's
``ifm_sparsity`` section. ``--part layers`` or ``--part ifm`` runs one part and keeps the
other's section of an existing report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sense_hw.generate import add_config_arguments, parse_config
from sense_models.cycle_model import ideal_cycles, tiling_cycles
from sense_models.tiling import tile_layer
from sense_models.layers import LAYERS

from . import bench_ifm
from .report import console_table
from .runner import REPO, build_harness, run_jobs
from .sim_speed import sim_speed

COLUMNS = ("layer", "rows", "cols", "group", "pixels", "reduction", "kernels", "rtl_cycles",
           "model_cycles", "utilization", "dense_rtl_cycles", "speedup_vs_dense",
           "sim_cycles_per_s")


def layer_jobs(layers, pixels, seed):
    return [{"name": layer.name, "pixels": min(pixels, layer.pixels),
             "reduction": layer.reduction, "kernels": layer.kernels, "seed": seed + n}
            for n, layer in enumerate(layers)]


def bench(config, layers, pixels, seed=2026, *, cpp=True):
    """Run ``layers`` on ``config`` and its dense baseline, and the sparse jobs again on the C++
    harness (``cpp``); returns ``(records, sim_speed section or None, failures)``."""
    jobs = layer_jobs(layers, pixels, seed)
    started = time.perf_counter()
    build_harness(config, jobs)
    built = time.perf_counter()
    sparse, sparse_failures = run_jobs(config, jobs, tag="bench")
    speed, speed_failures = None, 0
    if cpp:
        speed, speed_failures = sim_speed(config, jobs, sparse, cocotb_build_s=built - started,
                                          cocotb_run_wall_s=time.perf_counter() - built)
    dense, dense_failures = run_jobs(config.dense_baseline(), jobs, tag="bench")
    records = []
    for job, s, d in zip(jobs, sparse, dense):
        ideal = ideal_cycles(config, s["dense_macs"])
        full = tile_layer(config, LAYERS[job["name"]].pixels, job["reduction"], job["kernels"])
        full_cycles = tiling_cycles(config, full)
        records.append({
            "layer": job["name"], "rows": config.rows, "cols": config.cols,
            "group": config.group, "pixels": job["pixels"], "full_pixels":
                LAYERS[job["name"]].pixels, "reduction": job["reduction"],
                "kernels": job["kernels"], "rtl_cycles": s["cycles"],
            "model_cycles": s["model_cycles"], "ideal_cycles": ideal,
            "utilization": ideal / s["cycles"], "dense_rtl_cycles": d["cycles"],
            "dense_model_cycles": d["model_cycles"],
            "speedup_vs_dense": d["cycles"] / s["cycles"],
            "bit_exact": s["mismatches"] == 0 and d["mismatches"] == 0,
            "sim_cycles_per_s": s["sim_cycles_per_s"],
            "dense_sim_cycles_per_s": d["sim_cycles_per_s"],
            # The cycle model (equal to the RTL on every simulated run) at the full pixel count.
            "full_model_cycles": full_cycles,
            "full_utilization": ideal_cycles(config, full.dense_macs) / full_cycles,
        })
    return records, speed, sparse_failures + dense_failures + speed_failures


def table(records):
    return console_table(records, [
        ("layer", 24, lambda r: r["layer"]), ("P", 4, lambda r: f"{r['pixels']}"),
        ("T", 5, lambda r: f"{r['reduction']}"), ("K", 5, lambda r: f"{r['kernels']}"),
        ("rtl_cyc", 9, lambda r: f"{r['rtl_cycles']}"),
        ("model", 9, lambda r: f"{r['model_cycles']}"),
        ("util", 6, lambda r: f"{r['utilization']:.1%}"),
        ("dense_cyc", 10, lambda r: f"{r['dense_rtl_cycles']}"),
        ("speedup", 7, lambda r: f"{r['speedup_vs_dense']:.3f}x"),
        ("cyc/s", 8, lambda r: f"{r['sim_cycles_per_s']:.0f}")])


def speed_line(speed):
    return (f"simulator: C++ harness {speed['harness_cycles_per_s']:,.0f} cycles/s, cocotb "
            f"{speed['cocotb_cycles_per_s']:,.0f} cycles/s ({speed['speedup']:.1f}x) over "
            f"{speed['cycles']:,} cycles, results and cycles "
            f"{'identical' if speed['identical'] else 'DIFFERENT'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--pixels", type=int, default=64, help="pixels per layer (default 64)")
    parser.add_argument("--layers", nargs="*", choices=sorted(LAYERS), metavar="LAYER",
                        help="layer names (default: all)")
    parser.add_argument("--out", default=str(REPO / "reports" / "bench.json"))
    parser.add_argument("--part", choices=("all", "layers", "ifm"), default="all",
                        help="which part to run (default all)")
    parser.add_argument("--no-cpp", dest="cpp", action="store_false",
                        help="skip the C++ harness run (the report keeps no sim_speed)")
    args, config = parse_config(parser, argv)
    if not config.sparse:
        parser.error("the bench compares a sparse configuration with its dense baseline; "
                     "give a sparse configuration")
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.exists() else {}
    failures = 0
    if args.part != "layers":
        section, ifm_failures = bench_ifm.bench_ifm(config)
        failures += ifm_failures
        previous["ifm_sparsity"] = section
        print(bench_ifm.table(section["layers"]))
        if args.part == "ifm":
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(previous, indent=1) + "\n")
            print(f"updated {out}")
            return 1 if failures else 0
    layers = [LAYERS[name] for name in args.layers] if args.layers else list(LAYERS.values())
    started = time.perf_counter()
    records, speed, layer_failures = bench(config, layers, args.pixels, cpp=args.cpp)
    failures += layer_failures
    report = {
        "config": config.to_dict(),
        "dense_config": config.dense_baseline().to_dict(),
        "pixels_per_layer": args.pixels,
        "note": "pixel counts are cut to pixels_per_layer (full_pixels is the real layer's); "
                "reduction and kernel dimensions are the real ones",
        "command": "make bench" + (f" BENCH_ARGS='{' '.join(argv or sys.argv[1:])}'"
                                   if (argv or sys.argv[1:]) else ""),
        "wall_s": time.perf_counter() - started,
        "layers": records,
    }
    if speed is not None:
        report["sim_speed"] = speed
    if "ifm_sparsity" in previous:
        report["ifm_sparsity"] = previous["ifm_sparsity"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(records))
    if speed is not None:
        print(speed_line(speed))
    print(f"wrote {out} in {report['wall_s']:.0f} s")
    if failures or len(records) != len(layers):
        print("FAILED: a run was not bit-exact or not cycle-exact, or the two simulator "
              "paths disagree (see the log above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

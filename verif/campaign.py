"""Fault-injection campaign: ``python -m sense_verif.campaign`` (``make faults``).

For each ``abft`` option, builds the fault-injection variant of the configuration, injects
random single faults (a random site of every class, bit, stuck-at-0/stuck-at-1/one-cycle
flip and start cycle) while a layer with non-zero activations streams through, and runs
fault-free layers to look for false alarms. Writes ``reports/faults.json`` and prints a
table per option and site class. The target: no silent data corruption with
``abft=both``, no false alarm anywhere.

Runs go in chunks to every core or a dask scheduler, journaled so that an interrupted
campaign resumes (:mod:`sense_verif.campaign_runs`), on the C++ harness by default.

Feeder builds (``--feeder 1``, ``make faults FEEDER=1``) run in the feeder's own harness
(:mod:`sense_verif.feeder_harness`) on a layer of two pixel tiles whose pixels skip some
reduction tiles; ``--abft`` alone picks that option (``--options`` lists several). Their
report is merged into the output file under the key ``feeder_campaign`` (keyed by the
options run), leaving the streamed campaign's report as it was; a streamed run keeps an
existing ``feeder_campaign`` entry likewise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from sense_hw.faults import SITE_CLASSES
from sense_hw.generate import add_config_arguments, non_negative_int, parse_config
from sense_models.config import ABFT_OPTIONS

from .classify import OUTCOMES
from .report import faults_table
from .runner import REPO, build, build_harness

#: Fault runs per chunk: one harness process loads the layer once and runs them all.
CHUNK = 200
#: Where finished chunks are journaled (keyed by the campaign's parameters).
JOURNAL = REPO / "build" / "campaign-journal"


def campaign_job(config, seed):
    """The campaign's layer: two kernel tiles, three reduction tiles (one ragged), no zeros.

    On a feeder build: two pixel tiles (the second ragged), so that drains overlap the next
    tile's passes, and some pixels zero over whole reduction tiles, so that the feeder
    skips (the skipped vectors are not fed, so they hide no fault).
    """
    job = {"name": "campaign", "pixels": max(2, config.acc_depth - 4),
           "reduction": 2 * config.tile_reduction + config.row_span + 1,
           "kernels": 2 * config.cols - 1, "seed": seed, "zero_fraction": 0.0}
    if config.feeder:
        job.update(pixels=config.acc_depth + max(1, config.acc_depth // 2), zero_tiles=True)
    return job


def run_campaign(config, *, fault_runs, clean_runs, seed, engine="cpp", workers=None,
                 scheduler=None, chunk=CHUNK, journal_dir=None, label="faults", classes=None):
    """Records of every run on ``config`` (a fault-injection build), in chunks on
    ``workers`` processes or a dask ``scheduler``, journaled in ``journal_dir``
    (:mod:`sense_verif.campaign_runs`). ``classes``: draw the faults from the sites of these
    site classes only (default: every site).

    Returns ``(records, failures, sites, info)``. ``engine="cpp"`` runs on the C++ harness
    (the streamed or the feeder one); ``"cocotb"`` on the cocotb driver of the same harness
    (the same records).
    """
    from .campaign_runs import run_chunks
    if engine not in ("cpp", "cocotb"):
        raise ValueError(f"engine must be 'cpp' or 'cocotb', not {engine!r}")
    config = dataclasses.replace(config, faults=True)
    job = campaign_job(config, seed)
    binary = None
    if engine == "cpp":
        from .cpp_harness import build_cpp_harness
        build_ = build_cpp_harness(config, [job])
        directory, binary = build_.directory, build_.binary
    elif config.feeder:
        directory = _build_feeder_harness(config, [job])
    else:
        directory = build_harness(config, [job])
    manifest = json.loads((directory / "rtl" / "manifest.json").read_text())
    drawn = [s for s in manifest["fault_sites"] if classes is None or s["class"] in classes]
    if not drawn:
        raise ValueError(f"the build has no fault site of the classes {classes}")
    records, info = run_chunks(
        config, job, drawn, engine=engine, directory=directory, binary=binary,
        fault_runs=fault_runs, clean_runs=clean_runs, seed=seed, chunk=chunk,
        workers=workers or os.cpu_count(), scheduler=scheduler,
        journal_dir=journal_dir or JOURNAL, rtl_sha256=manifest["files"][0]["sha256"],
        label=label)
    return records, 0, manifest["fault_sites"], {"engine": engine, **info}


def _build_feeder_harness(config, jobs):
    """Build ``sense_feeder_bench`` around ``config``'s core, sized for ``jobs``."""
    from .feeder_harness import FEEDER_HARNESS, feeder_harness_parameters
    from .harness import harness_defines
    parameters = feeder_harness_parameters(config, jobs)
    variant = "feeder-bench-i{IFM_DEPTH}-w{WEIGHT_DEPTH}-r{RESULT_DEPTH}".format(**parameters)
    return build(config, "core", variant=variant, wrapper=FEEDER_HARNESS,
                 parameters=parameters, defines=harness_defines(config))


def summarize(records):
    """Outcome counts and detection latency per site class, and over all classes."""
    table = {}
    for kind in SITE_CLASSES + ("all",):
        rows = [r for r in records if r["class"] is not None and kind in (r["class"], "all")]
        latencies = [r["latency"] for r in rows if r["latency"] is not None]
        counts = Counter(r["outcome"] for r in rows)
        table[kind] = {"runs": len(rows), **{o: counts.get(o, 0) for o in OUTCOMES[:5]},
                       "latency_mean": statistics.fmean(latencies) if latencies else None,
                       "latency_max": max(latencies) if latencies else None,
                       # an alarm before the fault started: a false alarm in disguise
                       "early_alarms": sum(latency < 0 for latency in latencies)}
    clean = [r for r in records if r["class"] is None]
    table["fault_free"] = {"runs": len(clean),
                           "false_alarm": sum(r["outcome"] == "false_alarm" for r in clean),
                           "wrong_outputs": sum(not r["outputs_ok"] for r in clean),
                           "outputs": sum(r["outputs"] for r in clean)}
    return table


def merge_report(path, report, *, feeder):
    """What to write to ``path``: a streamed campaign's ``report`` replaces the top level but
    keeps the file's ``feeder_campaign``; a feeder one goes into ``feeder_campaign``, keyed
    by its options (``"both"``, ...), keeping everything else."""
    try:
        old = json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        old = {}
    if not feeder:
        return {**report, **({"feeder_campaign": old["feeder_campaign"]}
                             if "feeder_campaign" in old else {})}
    merged = dict(old)
    merged.setdefault("feeder_campaign", {})["+".join(report["results"])] = report
    return merged


def clean_runs_for(config, outputs, options):
    """Fault-free runs per option so that ``options`` options check at least ``outputs``
    output values together."""
    job = campaign_job(dataclasses.replace(config, faults=True), 0)
    per_run = job["pixels"] * job["kernels"]
    return max(1, -(-outputs // (per_run * options)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--runs", type=non_negative_int, default=10_000,
                        help="fault runs per option (default 10000)")
    parser.add_argument("--clean", type=non_negative_int, default=None,
                        help="fault-free runs per option (default: enough for --clean-outputs)")
    parser.add_argument("--clean-outputs", type=non_negative_int, default=1_000_000,
                        help="fault-free output values to check over all options "
                             "(default 1000000)")
    parser.add_argument("--options", nargs="*", choices=ABFT_OPTIONS, default=None,
                        help="abft options to run (default: --abft if given, else all)")
    parser.add_argument("--seed", type=non_negative_int, default=2026)
    parser.add_argument("--classes", nargs="+", choices=SITE_CLASSES, default=None,
                        help="draw the faults from the sites of these classes only "
                             "(default: every site)")
    parser.add_argument("--engine", choices=("cpp", "cocotb"), default="cpp",
                        help="simulator path (default cpp, the C++ harness)")
    parser.add_argument("--workers", type=non_negative_int, default=os.cpu_count(),
                        help=f"local harness processes (default: all cores, {os.cpu_count()})")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run the chunks on this dask.distributed scheduler "
                             "(tcp://host:8786) instead of local processes")
    parser.add_argument("--chunk", type=non_negative_int, default=CHUNK,
                        help=f"runs per harness process (default {CHUNK})")
    parser.add_argument("--journal", default=str(JOURNAL),
                        help="directory of the journals of finished runs (resume)")
    parser.add_argument("--out", default=str(REPO / "reports" / "faults.json"))
    args, config = parse_config(parser, argv)
    if args.options is None:
        args.options = [config.abft] if args.abft is not None else list(ABFT_OPTIONS)
    if not args.workers or not args.chunk:
        parser.error("--workers and --chunk must be positive")
    clean = args.clean if args.clean is not None else \
        clean_runs_for(config, args.clean_outputs, len(args.options))
    started = time.perf_counter()
    results, failed, site_counts, runs_info = {}, 0, {}, {}
    for option in args.options:
        option_config = dataclasses.replace(config, abft=option)
        option_started = time.perf_counter()
        records, failures, sites, info = run_campaign(
            option_config, fault_runs=args.runs, clean_runs=clean, seed=args.seed,
            engine=args.engine, workers=args.workers, scheduler=args.scheduler,
            chunk=args.chunk, journal_dir=args.journal, label=f"faults {option}",
            classes=args.classes)
        failed += failures or not records
        results[option] = summarize(records)
        site_counts[option] = dict(Counter(s["class"] for s in sites))
        wall = time.perf_counter() - option_started
        runs_info[option] = {**info, "wall_s": wall, "runs": len(records),
                             "runs_per_s": len(records) / wall if wall else None}
    fault_free_outputs = sum(t["fault_free"]["outputs"] for t in results.values())
    report = {"config": dataclasses.replace(config, faults=True).to_dict(),
              "fault_runs_per_option": args.runs, "fault_free_runs_per_option": clean,
              "seed": args.seed, "sites": site_counts, "classes": args.classes,
              "fault_free_outputs": fault_free_outputs,
              "false_alarms": sum(t["fault_free"]["false_alarm"] for t in results.values()),
              "results": results, "runs": runs_info,
              "engine": args.engine,
              "workers": args.scheduler or args.workers,
              "wall_s": time.perf_counter() - started,
              "command": "make faults" + (f" FAULT_ARGS='{' '.join(argv or sys.argv[1:])}'"
                                          if (argv or sys.argv[1:]) else "")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merge_report(out, report, feeder=config.feeder), indent=1) + "\n")
    print(faults_table(report))
    print(f"{fault_free_outputs:,} fault-free outputs checked, {report['false_alarms']} false "
          f"alarms")
    print(f"wrote {out} in {report['wall_s']:.0f} s")
    sdc = results.get("both", {}).get("all", {}).get("sdc", 0)
    false_alarms = sum(t["fault_free"]["false_alarm"] + t["all"]["early_alarms"]
                       for t in results.values())
    wrong = sum(t["fault_free"]["wrong_outputs"] for t in results.values())
    if failed or sdc or false_alarms or wrong:
        print(f"FAILED: {sdc} silent corruptions with abft=both, {false_alarms} false or early "
              f"alarms, {wrong} wrong fault-free runs, {failed} failed runs")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The two drivers of the ``sense_bench`` harness side by side (``make bench``'s ``sim_speed``).

The same jobs run on the cocotb driver (:func:`sense_verif.runner.run_jobs`, the regression's
path, ``--public-flat-rw``) and on the plain C++ driver
(:func:`sense_verif.cpp_harness.run_jobs_cpp`). Their records must agree on everything the
simulation decides (:data:`SAME`): a difference means one driver does not run the design
the way the other does, so it is an error, not a footnote.

Cycles per second count the cycles from ``start`` to ``done`` over the wall clock of that
stretch, summed over the jobs: the simulator's own speed, as each job record's
``sim_cycles_per_s`` does. Loading the stream memories, dumping results and the Python
checks are in the ``run_wall_s`` of each path.
"""

from __future__ import annotations

import time

__all__ = ["SAME", "path_differences", "sim_speed"]

#: Record fields both drivers must agree on, job by job.
SAME = ("cycles", "origin", "hung", "extra_beats", "status", "mismatches", "tags_ok",
        "results_sha256")


def path_differences(cocotb_records, cpp_records):
    """Every disagreement between the two drivers' records of the same jobs, as text."""
    if len(cocotb_records) != len(cpp_records):
        return [f"cocotb ran {len(cocotb_records)} jobs, the C++ harness {len(cpp_records)}"]
    problems = []
    for a, b in zip(cocotb_records, cpp_records):
        for key in SAME:
            if a.get(key) != b.get(key):
                problems.append(f"{a['name']}: {key} is {a.get(key)!r} under cocotb, "
                                f"{b.get(key)!r} on the C++ harness")
    return problems


def _speed(records):
    cycles = sum(r["cycles"] for r in records)
    wall = sum(r["wall_s"] for r in records)
    return cycles, wall, cycles / wall if wall else None


def sim_speed(config, jobs, cocotb_records, *, cocotb_build_s, cocotb_run_wall_s, tag="bench"):
    """Run ``jobs`` on the C++ harness and compare with their ``cocotb_records`` (already run,
    with the build and run wall seconds measured by the caller).

    Returns ``(section, failures)``: the report's ``sim_speed`` section and the number of
    failed checks (C++ jobs that fail :func:`~sense_verif.harness.job_failures`, and
    disagreements between the drivers, each printed).
    """
    from .cpp_harness import run_jobs_cpp
    started = time.perf_counter()
    cpp_records, failures, info = run_jobs_cpp(config, jobs, tag=tag)
    cpp_wall = time.perf_counter() - started
    differences = path_differences(cocotb_records, cpp_records)
    for problem in differences:
        print(f"sim_speed: {problem}")
    cycles, cpp_sim_wall, cpp_speed = _speed(cpp_records)
    cocotb_cycles, cocotb_sim_wall, cocotb_speed = _speed(cocotb_records)
    section = {
        "config": config.to_dict(), "jobs": len(jobs), "cycles": cycles,
        "cocotb_cycles": cocotb_cycles,
        "harness_cycles_per_s": cpp_speed, "cocotb_cycles_per_s": cocotb_speed,
        "speedup": cpp_speed / cocotb_speed if cpp_speed and cocotb_speed else None,
        "harness": {"sim_wall_s": cpp_sim_wall, "run_wall_s": cpp_wall,
                    "process_wall_s": info["run_wall_s"], "build_s": info["build_s"],
                    "build_cached": info["build_cached"]},
        "cocotb": {"sim_wall_s": cocotb_sim_wall, "run_wall_s": cocotb_run_wall_s,
                   "build_s": cocotb_build_s},
        "identical": not differences, "compared": list(SAME), "differences": differences,
        "note": "cycles/s: cycles from start to done over that stretch's wall clock, summed "
                "over the jobs; run_wall_s adds the Python job preparation, memory loads, "
                "dumps and checks; build_s of a cached build is that of the build that made it "
                "(the C++ harness) or the time to find it up to date (cocotb)",
    }
    return section, failures + len(differences)

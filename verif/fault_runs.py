"""What a fault-injection campaign runs and how it judges a run, for every driver.

The cocotb campaign test (:mod:`sense_verif.test_campaign`) and the C++ campaign
(:mod:`sense_verif.campaign_runs`) draw the same faults from the same seed and turn a run's
record into the same outcome record, so the two agree run for run.
"""

from __future__ import annotations

import numpy as np

from .classify import classify

__all__ = ["MODES", "outputs_ok", "clean_job", "draw_faults", "clean_record", "fault_record"]

MODES = {1: "stuck_at_0", 2: "stuck_at_1", 3: "flip"}


def outputs_ok(run):
    return run["mismatches"] == 0 and run["tags_ok"] and not run["extra_beats"]


def _alarm(run):
    return bool(run["status"] and run["status"]["error"])


def clean_job(job, n):
    """The ``n``-th fault-free run's job: the campaign's layer shape on new data."""
    return {**job, "seed": job["seed"] + 1 + n}


def draw_faults(seed, sites, cycles, count):
    """``count`` random single faults: ``(site, fault)`` pairs, a random site (of any class),
    bit, mode (stuck-at-0, stuck-at-1, one-cycle flip) and start cycle below ``cycles``
    (those of the fault-free reference run)."""
    rng = np.random.default_rng(seed)
    faults = []
    for _ in range(count):
        site = sites[int(rng.integers(len(sites)))]
        mode = int(rng.integers(1, 4))
        faults.append((site, {"site": site["site"], "bit": int(rng.integers(site["width"])),
                              "mode": mode, "start": int(rng.integers(cycles))}))
    return faults


def clean_record(run):
    """The record of a fault-free run: any alarm is a false alarm."""
    ok = outputs_ok(run)
    return {"site": None, "class": None, "mode": None, "outputs_ok": ok, "alarm": _alarm(run),
            "latency": None, "outputs": run["outputs"],
            "outcome": classify(fault_active=False, outputs_ok=ok, alarm=_alarm(run))}


def fault_record(site, fault, run):
    """The record of a run with ``fault`` at ``site``; ``latency`` counts from the cycle the
    fault starts to the first alarm (negative: an alarm before the fault, a false alarm)."""
    status, alarm, ok = run["status"], _alarm(run), outputs_ok(run)
    latency = status["first_cycle"] - (run["origin"] + fault["start"]) if alarm else None
    return {"site": site["site"], "class": site["class"], "block": site["block"],
            "signal": site["signal"], "bit": fault["bit"], "mode": MODES[fault["mode"]],
            "start": fault["start"], "outputs_ok": ok, "alarm": alarm,
            "wrong_outputs": run["mismatches"], "latency": latency,
            "outcome": classify(fault_active=True, outputs_ok=ok, alarm=alarm,
                                corrected=bool(status and status["corrected"]))}

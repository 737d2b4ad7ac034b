"""cocotb side of the fault-injection campaign (driven by ``sense_verif.campaign``).

Reads the campaign spec from ``SENSE_CAMPAIGN``: one layer job, the build's fault sites, the
number of fault runs and fault-free runs, and a seed. Every run streams the layer through the
``sense_bench`` harness with at most one fault, and is classified by
:func:`sense_verif.classify.classify`. Writes the records to ``SENSE_REPORT``.
"""

import json
import os
from pathlib import Path

import cocotb
import numpy as np

from .classify import classify
from .harness import BenchHarness, job_layer
from .tb_core import env_config

MODES = {1: "stuck_at_0", 2: "stuck_at_1", 3: "flip"}


def _outputs_ok(run):
    return run["mismatches"] == 0 and run["tags_ok"] and not run["extra_beats"]


@cocotb.test()
async def test_campaign(dut):
    config = env_config()
    spec = json.loads(Path(os.environ["SENSE_CAMPAIGN"]).read_text())
    if config.feeder:  # the feeder build's streams: its own harness and layers
        from .feeder_harness import FeederBenchHarness, feeder_job_layer
        harness = FeederBenchHarness(dut, config, workdir=Path.cwd())
        make_layer = feeder_job_layer
    else:
        harness = BenchHarness(dut, config, workdir=Path.cwd())
        make_layer = job_layer
    rng = np.random.default_rng(spec["seed"])
    job = spec["job"]
    records = []

    # Fault-free runs, each on new data: any alarm here is a false alarm.
    for n in range(spec["clean_runs"]):
        clean_job = {**job, "seed": job["seed"] + 1 + n}
        run = await harness.run(clean_job, fault=None)
        alarm = bool(run["status"] and run["status"]["error"])
        records.append({"site": None, "class": None, "mode": None, "outcome": classify(
            fault_active=False, outputs_ok=_outputs_ok(run), alarm=alarm),
            "outputs_ok": _outputs_ok(run), "alarm": alarm, "latency": None})

    layer = make_layer(job, config)
    reference = await harness.run(job, layer=layer, fault=None)
    assert _outputs_ok(reference), "the fault-free reference run is wrong"
    sites = spec["sites"]
    for n in range(spec["fault_runs"]):
        site = sites[int(rng.integers(len(sites)))]
        mode = int(rng.integers(1, 4))
        fault = {"site": site["site"], "bit": int(rng.integers(site["width"])), "mode": mode,
                 "start": int(rng.integers(reference["cycles"]))}
        run = await harness.run(job, layer=layer, fault=fault, reload=False)
        status = run["status"]
        alarm = bool(status and status["error"])
        latency = None
        if alarm:
            latency = status["first_cycle"] - (run["origin"] + fault["start"])
        records.append({
            "site": site["site"], "class": site["class"], "block": site["block"],
            "signal": site["signal"], "bit": fault["bit"], "mode": MODES[mode],
            "start": fault["start"], "outputs_ok": _outputs_ok(run), "alarm": alarm,
            "wrong_outputs": run["mismatches"], "latency": latency,
            "outcome": classify(fault_active=True, outputs_ok=_outputs_ok(run), alarm=alarm,
                                corrected=bool(status and status["corrected"])),
        })
    Path(os.environ["SENSE_REPORT"]).write_text(json.dumps(records))
    false_alarms = sum(r["outcome"] == "false_alarm" for r in records)
    assert not false_alarms, f"{false_alarms} fault-free runs raised an alarm"

"""cocotb side of the fault-injection campaign: one chunk of runs (``sense_verif.campaign_runs``).

Reads the chunk from ``SENSE_CAMPAIGN``: the campaign's layer job and a list of runs,
``["clean", n]`` (a fault-free run on new data), ``["reference"]`` (a fault-free run of the
layer, which the following faults reuse) or ``["fault", site, fault]``, as the C++ harness
runs them. The faults and the records are those of :mod:`sense_verif.fault_runs`. Works in
``SENSE_WORKDIR`` (the harness's memory files; chunks run side by side) and writes the
records of the clean and fault runs to ``SENSE_REPORT``.
"""

import json
import os
from pathlib import Path

import cocotb

from .fault_runs import clean_job, clean_record, fault_record, outputs_ok
from .harness import BenchHarness, job_layer
from .tb_core import env_config


@cocotb.test()
async def test_campaign(dut):
    config = env_config()
    spec = json.loads(Path(os.environ["SENSE_CAMPAIGN"]).read_text())
    workdir = Path(os.environ.get("SENSE_WORKDIR", Path.cwd()))
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # $readmemh/$writememh name their files relative to the process
    if config.feeder:  # the feeder build's streams: its own harness and layers
        from .feeder_harness import FeederBenchHarness, feeder_job_layer
        harness = FeederBenchHarness(dut, config, workdir=workdir)
        make_layer = feeder_job_layer
    else:
        harness = BenchHarness(dut, config, workdir=workdir)
        make_layer = job_layer
    job = spec["job"]
    layer = make_layer(job, config)
    records = []
    for entry in spec["specs"]:
        if entry[0] == "clean":
            run = await harness.run(clean_job(job, entry[1]), fault=None)
            records.append({**clean_record(run), "cycles": run["cycles"]})
        elif entry[0] == "reference":
            run = await harness.run(job, layer=layer, fault=None)
            assert outputs_ok(run) and not clean_record(run)["alarm"], \
                f"the fault-free reference run is wrong: {run}"
        else:
            site, fault = entry[1], entry[2]
            run = await harness.run(job, layer=layer, fault=fault, reload=False)
            records.append(fault_record(site, fault, run))
    Path(os.environ["SENSE_REPORT"]).write_text(json.dumps(records))

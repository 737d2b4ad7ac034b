"""cocotb test that runs a list of jobs through the ``sense_bench`` harness.

Used by ``make bench`` and the long random-traffic regression: every job must be bit-exact,
and steady-traffic jobs cycle-exact against the cycle model. Writes one record per job to
``SENSE_REPORT``.
"""

import json
import os
from pathlib import Path

import cocotb


from .harness import BenchHarness, job_failures, job_record, load_jobs
from .tb_core import env_config


@cocotb.test()
async def test_jobs(dut):
    config = env_config()
    harness = BenchHarness(dut, config, workdir=Path.cwd())
    records, failures = [], []
    for job in load_jobs():
        run = await harness.run(job)
        record = job_record(job, run)
        records.append(record)
        dut._log.info("%s: %d cycles (model %d), %d/%d outputs wrong, %.0f cycles/s",
                      job["name"], run["cycles"], run["model_cycles"], run["mismatches"],
                      run["outputs"], record["sim_cycles_per_s"] or 0)
        failures += job_failures(job, run)
    Path(os.environ["SENSE_REPORT"]).write_text(json.dumps(records, indent=1))
    assert not failures, "\n".join(failures)

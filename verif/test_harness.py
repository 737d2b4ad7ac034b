"""cocotb test that runs a list of jobs through the ``sense_bench`` harness.

Used by ``make bench`` and the long random-traffic regression: every job must be bit-exact,
and steady-traffic jobs cycle-exact against the cycle model. Writes one record per job to
``SENSE_REPORT``.
"""

import json
import os
from pathlib import Path

import cocotb


from .harness import BenchHarness, load_jobs
from .tb_core import env_config


@cocotb.test()
async def test_jobs(dut):
    config = env_config()
    harness = BenchHarness(dut, config, workdir=Path.cwd())
    records, failures = [], []
    for job in load_jobs():
        run = await harness.run(job)
        model = run["model_cycles"]
        steady = not job.get("source_stall") and not job.get("sink_stall")
        record = {**job, **run,
                  "sim_cycles_per_s": run["cycles"] / run["wall_s"] if run["wall_s"] else None}
        records.append(record)
        dut._log.info("%s: %d cycles (model %d), %d/%d outputs wrong, %.0f cycles/s",
                      job["name"], run["cycles"], model, run["mismatches"], run["outputs"],
                      record["sim_cycles_per_s"] or 0)
        if run["extra_beats"]:
            failures.append(f"{job['name']}: the core emitted more result beats than expected")
        if run["status"] and run["status"]["error"]:
            failures.append(f"{job['name']}: false ABFT alarm in a fault-free run: "
                            f"{run['status']}")
        if run["mismatches"] or not run["tags_ok"]:
            failures.append(f"{job['name']}: {run['mismatches']} outputs differ from the golden "
                            f"model (tags {'ok' if run['tags_ok'] else 'wrong'})")
        if steady and run["cycles"] != model:
            failures.append(f"{job['name']}: RTL {run['cycles']} cycles, model {model}")
    Path(os.environ["SENSE_REPORT"]).write_text(json.dumps(records, indent=1))
    assert not failures, "\n".join(failures)

"""cocotb test that runs the IFM-sparsity bench's layers through a feeder build.

Every run must be bit-exact (results and counters) and cycle-exact against the cycle model;
writes one record per run to ``SENSE_REPORT``.
"""

import json
import os
import pickle
from pathlib import Path

import cocotb
import numpy as np

from .tb_feeder import FeederTB


@cocotb.test()
async def test_bench_layers(dut):
    tb = FeederTB(dut)
    rng = np.random.default_rng(0)
    records = []
    for layer, mode, schedule in pickle.loads(Path(os.environ["SENSE_JOBS"]).read_bytes()):
        cycles, model = await tb.run_schedule(schedule, rng=rng)
        dut._log.info("%s %s: %d cycles (model %d)", layer, mode, cycles, model)
        assert cycles == model, f"{layer} {mode}: RTL {cycles} cycles, model {model}"
        records.append({"layer": layer, "mode": mode, "cycles": cycles})
        Path(os.environ["SENSE_REPORT"]).write_text(json.dumps(records, indent=1))

"""cocotb tests of a feeder build against the golden, counter and cycle models."""

import os

import cocotb

from sense_models.workloads import FEEDER_CASES, feeder_layer

from .tb_core import case_rng
from .tb_feeder import FeederTB
from .test_core import TRAFFIC


@cocotb.test()
@cocotb.parametrize(case=FEEDER_CASES, skipping=("on", "off"), traffic=tuple(TRAFFIC))
async def test_feeder_layer(dut, case, skipping, traffic):
    """Random layers of one activation pattern through the permutation table, back to back:
    bit-exact results and counters always, cycle-exact under steady traffic."""
    tb = FeederTB(dut)
    rng = case_rng("feeder", case, skipping, traffic)
    idle, backpressure = TRAFFIC[traffic]
    corrupt = os.environ.get("SENSE_CORRUPT_FIELD")
    for layer in range(int(os.environ.get("SENSE_LAYERS", "2"))):
        x, w, channels, kernel_area = feeder_layer(tb.config, rng, case)
        schedule = tb.schedule(x, w, channels, kernel_area, dense=skipping == "off")
        # Only the first layer starts from reset: the next one loads its table on the
        # state the first left behind.
        cycles, model = await tb.run_schedule(schedule, rng=rng, idle=idle,
                                              backpressure=backpressure, corrupt=corrupt,
                                              reset=layer == 0)
        dut._log.info("%s/%s/%s layer %d: X%s, kernel area %d, %d of %d vectors skipped, "
                      "%d RTL cycles, model %d", case, skipping, traffic, layer, x.shape,
                      kernel_area, schedule.stats["skipped"].sum(),
                      schedule.stats["skipped"].sum() + schedule.stats["issued"].sum(),
                      cycles, model)
        if traffic == "steady":
            assert cycles == model, f"RTL took {cycles} cycles, the cycle model predicts {model}"


@cocotb.test()
async def test_feeder_counters_held_back(dut):
    """The host reads the per-pass counters rarely (90 % back-pressure on them alone) while
    mostly-zero pixels make passes of one or two vectors: the counter FIFO fills, and the
    core must stall rather than lose a counter beat or a result."""
    tb = FeederTB(dut)
    rng = case_rng("feeder-counters-held")
    x, w, channels, kernel_area = feeder_layer(tb.config, rng, "single_nonzero")
    schedule = tb.schedule(x, w, channels, kernel_area)
    passes = len(schedule.stats["issued"])
    assert passes > 8, f"{passes} passes cannot fill the 4-deep counter FIFO"
    await tb.run_schedule(schedule, rng=rng, stats_backpressure=0.9,
                          corrupt=os.environ.get("SENSE_CORRUPT_FIELD"))

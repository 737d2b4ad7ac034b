"""cocotb tests of a feeder build against the golden, counter and cycle models."""

import dataclasses
import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge

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


#: Offsets added to a bank's gated-multiply count before a layer, in rounds of four
#: one-pass layers (the counter FIFO's depth, so each round fills every entry): alternating
#: bit patterns, then none, so every bit of the count and of each FIFO entry goes both ways.
GATED_OFFSETS = (0xAAAA_AAAA, 0x5555_5555, 0)


@cocotb.test()
async def test_gated_counts_carry(dut):
    """A pass's gated-multiply count is 32 bits wide but a test layer gates a few dozen
    multiplies: before each of twelve one-pass layers (back to back, no reset) a bit
    pattern is added to the count of the bank the next pass uses, through the simulator,
    and that pass must report the model's count plus the pattern (mod 2**32)."""
    tb = FeederTB(dut)
    rng = case_rng("feeder-gated-carry")
    await tb.reset()
    for layer in range(4 * len(GATED_OFFSETS)):
        offset = GATED_OFFSETS[layer // 4]
        schedule = tb.schedule(*feeder_layer(tb.config, rng, "one_tile"))
        assert len(schedule.stats["gated"]) == 1, "a one_tile layer has one pass"
        await FallingEdge(dut.clk)  # idle: the last layer's counts have all left
        count = getattr(dut.engine, f"gated_bank{int(dut.engine.issue_bank.value)}")
        count.value = (count.value.to_unsigned() + offset) % (1 << 32)
        gated = (np.asarray(schedule.stats["gated"], dtype=np.int64) + offset) % (1 << 32)
        await tb.run_schedule(dataclasses.replace(schedule,
                                                  stats={**schedule.stats, "gated": gated}),
                              rng=rng, reset=False,
                              corrupt=os.environ.get("SENSE_CORRUPT_FIELD"))

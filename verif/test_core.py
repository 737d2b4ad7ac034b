"""cocotb tests of the SenseCore against the golden and cycle models (run via the runner)."""

import os

import cocotb

from sense_models.workloads import SHAPE_CASES, random_layer

from .tb_core import CoreTB, case_rng

TRAFFIC = {
    # name: (idle probability on each source, back-pressure probability on results)
    "steady": (0.0, 0.0),
    "random": (0.3, 0.3),
}


@cocotb.test()
@cocotb.parametrize(case=SHAPE_CASES, traffic=tuple(TRAFFIC))
async def test_layer(dut, case, traffic):
    """A random layer of one shape case: bit-exact always, cycle-exact under steady traffic."""
    tb = CoreTB(dut)
    rng = case_rng("layer", case, traffic)
    idle, backpressure = TRAFFIC[traffic]
    corrupt = os.environ.get("SENSE_CORRUPT_EXPECTED") == "1"
    for layer in range(int(os.environ.get("SENSE_LAYERS", "3"))):
        x, w = random_layer(tb.config, rng, case)
        cycles, model = await tb.run_layer(x, w, rng=rng, idle=idle, backpressure=backpressure,
                                           corrupt=corrupt)
        dut._log.info("%s/%s layer %d: X%s W%s, %d RTL cycles, model %d", case, traffic, layer,
                      x.shape, w.shape, cycles, model)
        if traffic == "steady":
            assert cycles == model, f"RTL took {cycles} cycles, the cycle model predicts {model}"

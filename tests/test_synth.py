"""Synthesis smoke test: the generated Verilog goes through yosys's xcup flow (make synth)."""

import pytest

from sense_hw.synth import synthesize
from sense_models.config import ArrayConfig


@pytest.mark.parametrize("config", [
    ArrayConfig(rows=2, cols=2, group=4, acc_depth=4),
    ArrayConfig(rows=2, cols=2, group=4, acc_depth=4, abft="both", feeder=True,
                feeder_tiles=2),
], ids=lambda c: c.name)
def test_core_synthesizes_for_xcup(config, tmp_path):
    resources, cells, _ = synthesize(config, tmp_path)
    # yosys maps every int8 multiply to one DSP48E2: the array's, and the checksum
    # column's (a PE of row_span lanes per row)
    checksum = config.rows * config.row_span if config.kernel_check else 0
    assert resources["DSP"] == config.multipliers + checksum, cells
    assert resources["LUT"] > 0 and resources["FF"] > 0

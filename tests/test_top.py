"""``sense_top`` on Verilator through its AXI ports (cocotbext-axi), with the host driver."""

import dataclasses

import pytest

from sense_models.config import ArrayConfig
from sense_verif.runner import build, run_tests

pytestmark = pytest.mark.rtl

#: Small builds of the whole accelerator: every feature on, and the plain streamed core.
TOP_CONFIGS = [
    ArrayConfig(rows=4, cols=4, group=4, acc_depth=8, feeder=True, feeder_tiles=8,
                abft="both", bus_width=128),
    ArrayConfig(rows=4, cols=4, group=4, acc_depth=8, bus_width=64),
]
TOP_TESTS = 6


@pytest.mark.parametrize("config", TOP_CONFIGS, ids=lambda c: c.name)
def test_top(config):
    directory = build(config, "axi")
    assert run_tests(config, "axi", "sense_verif.test_top", directory=directory) \
        == (TOP_TESTS, 0)

"""``sense_top`` on Verilator through its AXI ports (cocotbext-axi), with the host driver."""

import pytest

from rtl_configs import TOP_CONFIGS
from sense_verif.runner import build, run_tests

pytestmark = pytest.mark.rtl

TOP_TESTS = 8
REGISTER_TESTS = 7


@pytest.mark.parametrize("config", TOP_CONFIGS, ids=lambda c: c.name)
def test_top(config):
    directory = build(config, "axi")
    assert run_tests(config, "axi", "sense_verif.test_top", directory=directory) \
        == (TOP_TESTS, 0)


@pytest.mark.parametrize("config", TOP_CONFIGS, ids=lambda c: c.name)
def test_top_registers(config):
    directory = build(config, "axi")
    assert run_tests(config, "axi", "sense_verif.test_top_registers", directory=directory,
                     results_name="registers.xml") == (REGISTER_TESTS, 0)


@pytest.mark.parametrize("config", TOP_CONFIGS, ids=lambda c: c.name)
def test_top_register_tests_fail_on_wrong_expectations(config):
    # Tests with nothing to check on a build pass: the malformed pixel packets need a
    # streamed build, the ABFT registers the pixel-side check, the corrections abft="both",
    # the gated counts a feeder.
    idle = config.feeder + (not config.pixel_check) + (not config.corrects) + (not config.feeder)
    directory = build(config, "axi")
    assert run_tests(config, "axi", "sense_verif.test_top_registers", directory=directory,
                     results_name="registers-corrupt.xml",
                     extra_env={"SENSE_CORRUPT_EXPECTED": "1"}) == (REGISTER_TESTS,
                                                                     REGISTER_TESTS - idle)

"""``sense_top`` on Verilator through its AXI ports (cocotbext-axi), with the host driver."""

import pytest

from rtl_configs import TOP_CONFIGS
from sense_verif.runner import build, run_tests

pytestmark = pytest.mark.rtl

TOP_TESTS = 8


@pytest.mark.parametrize("config", TOP_CONFIGS, ids=lambda c: c.name)
def test_top(config):
    directory = build(config, "axi")
    assert run_tests(config, "axi", "sense_verif.test_top", directory=directory) \
        == (TOP_TESTS, 0)

"""The core's protocol check on Verilator (sense_verif.test_protocol), streamed builds."""

import pytest

from sense_models.workloads import MALFORMED_CASES
from sense_verif.configs import PROTOCOL_CONFIGS
from sense_verif.runner import build, run_tests

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("config", PROTOCOL_CONFIGS, ids=lambda c: c.name)
def test_protocol(config):
    directory = build(config, "core")
    assert run_tests(config, "core", "sense_verif.test_protocol", directory=directory,
                     results_name="protocol.xml") == (len(MALFORMED_CASES) + 1, 0)


def test_protocol_test_fails_on_a_wrong_expected_code():
    config = PROTOCOL_CONFIGS[0]
    directory = build(config, "core")
    tests, failures = run_tests(config, "core", "sense_verif.test_protocol",
                                directory=directory, results_name="protocol-corrupt.xml",
                                extra_env={"SENSE_CORRUPT_EXPECTED": "1"})
    assert failures == len(MALFORMED_CASES) and tests == len(MALFORMED_CASES) + 1

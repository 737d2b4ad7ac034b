"""The generated Verilog on Verilator under cocotb, against the golden and cycle models."""

import pytest

from rtl_configs import (ABFT_FAULT_CONFIGS, CHECKSUM_CONFIGS, CORE_CONFIGS, FEEDER_CONFIGS,
                         PE_CONFIGS)
from sense_models.workloads import FEEDER_CASES, SHAPE_CASES
from sense_verif.mutants import mutant
from sense_verif.runner import build, run_tests
from sense_verif.test_core import TRAFFIC

pytestmark = pytest.mark.rtl

CORE_TESTS = len(SHAPE_CASES) * len(TRAFFIC)
FEEDER_TESTS = len(FEEDER_CASES) * 2 * len(TRAFFIC) + 2  # + counters held back, gated carry


@pytest.mark.parametrize("config", CORE_CONFIGS, ids=lambda c: c.name)
def test_core(config):
    directory = build(config, "core")
    assert run_tests(config, "core", "sense_verif.test_core", directory=directory) \
        == (CORE_TESTS, 0)


@pytest.mark.parametrize("config", FEEDER_CONFIGS, ids=lambda c: c.name)
def test_feeder(config):
    directory = build(config, "core")
    assert run_tests(config, "core", "sense_verif.test_feeder", directory=directory) \
        == (FEEDER_TESTS, 0)


@pytest.mark.parametrize("config", PE_CONFIGS, ids=lambda c: c.name)
def test_pe(config):
    directory = build(config, "pe")
    assert run_tests(config, "pe", "sense_verif.test_pe", directory=directory) == (2, 0)


@pytest.mark.parametrize("config", ABFT_FAULT_CONFIGS, ids=lambda c: c.name)
def test_abft_faults(config):
    directory = build(config, "core")
    assert run_tests(config, "core", "sense_verif.test_abft", directory=directory) == (4, 0)


@pytest.mark.parametrize("config", CHECKSUM_CONFIGS, ids=lambda c: c.name)
def test_checksum_inputs(config):
    directory = build(config, "core")
    assert run_tests(config, "core", "sense_verif.test_checksum_inputs", directory=directory,
                     results_name="checksums.xml") == (4, 0)


# -- the comparison can fail ------------------------------------------------------------------

@pytest.mark.parametrize("config", [c for c in CHECKSUM_CONFIGS if c.abft == "both"][:1],
                         ids=lambda c: c.name)
def test_checksum_test_fails_on_a_wrong_expectation(config):
    directory = build(config, "core")
    assert run_tests(config, "core", "sense_verif.test_checksum_inputs", directory=directory,
                     results_name="checksums-corrupt.xml",
                     extra_env={"SENSE_CORRUPT_EXPECTED": "1"}) == (4, 4)


def test_core_test_fails_on_a_corrupted_expected_value():
    config = CORE_CONFIGS[0]
    directory = build(config, "core")
    tests, failures = run_tests(config, "core", "sense_verif.test_core", directory=directory,
                                extra_env={"SENSE_CORRUPT_EXPECTED": "1", "SENSE_LAYERS": "1"},
                                results_name="results-corrupt.xml")
    assert (tests, failures) == (CORE_TESTS, CORE_TESTS)
    assert "differ from the golden model" in (directory / "results-corrupt.xml").read_text()


def test_core_test_fails_on_a_pe_without_index_selection():
    config = CORE_CONFIGS[0]
    directory = build(config, "core", variant="mutant-no_index", patch=mutant("no_index"))
    tests, failures = run_tests(config, "core", "sense_verif.test_core", directory=directory,
                                extra_env={"SENSE_LAYERS": "1"})
    assert (tests, failures) == (CORE_TESTS, CORE_TESTS)
    assert "differ from the golden model" in (directory / "results.xml").read_text()


@pytest.mark.parametrize("field", ["value", "tag", "issued", "skipped", "gated"])
def test_feeder_test_fails_on_a_corrupted_expectation(field):
    config = FEEDER_CONFIGS[0]
    directory = build(config, "core")
    xml = f"results-corrupt-{field}.xml"
    tests, failures = run_tests(config, "core", "sense_verif.test_feeder", directory=directory,
                                extra_env={"SENSE_CORRUPT_FIELD": field, "SENSE_LAYERS": "1"},
                                results_name=xml)
    assert (tests, failures) == (FEEDER_TESTS, FEEDER_TESTS)
    assert f"differ from the golden model in {field!r}" in (directory / xml).read_text()


def test_feeder_test_fails_on_a_feeder_that_ignores_the_table_lanes():
    config = FEEDER_CONFIGS[0]
    directory = build(config, "core", variant="mutant-keeps_lanes",
                      patch=mutant("feeder_keeps_lanes"))
    tests, failures = run_tests(config, "core", "sense_verif.test_feeder", directory=directory,
                                extra_env={"SENSE_LAYERS": "1"})
    assert tests == FEEDER_TESTS and failures >= FEEDER_TESTS // 2
    assert "differ from the golden model" in (directory / "results.xml").read_text()


def test_pe_test_fails_on_a_pe_without_index_selection():
    config = PE_CONFIGS[1]
    directory = build(config, "pe", variant="mutant-no_index", patch=mutant("no_index"))
    assert run_tests(config, "pe", "sense_verif.test_pe", directory=directory) == (2, 2)


def test_waves_write_an_fst_file():
    config = PE_CONFIGS[0]
    directory = build(config, "pe", waves=True)
    (directory / "dump.fst").unlink(missing_ok=True)
    assert run_tests(config, "pe", "sense_verif.test_pe", directory=directory,
                     waves=True) == (2, 0)
    assert (directory / "dump.fst").stat().st_size > 1000

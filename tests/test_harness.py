"""The self-running bench harness (what `make bench` uses) on a small configuration."""

import pytest

from rtl_configs import CORE_CONFIGS
from sense_verif.runner import run_jobs

pytestmark = pytest.mark.rtl

CONFIG = CORE_CONFIGS[0]


def test_harness_is_bit_and_cycle_exact_with_and_without_stalls():
    jobs = [
        {"name": "steady", "pixels": 300, "reduction": 150, "kernels": 11, "seed": 11},
        {"name": "stalls", "pixels": 50, "reduction": 70, "kernels": 9, "seed": 12,
         "source_stall": 0.4, "sink_stall": 0.4, "relu": False},
        {"name": "one_pixel", "pixels": 1, "reduction": 33, "kernels": 5, "seed": 13},
    ]
    records, failures = run_jobs(CONFIG, jobs, tag="smoke")
    assert failures == 0
    assert [r["mismatches"] for r in records] == [0, 0, 0]
    assert records[0]["cycles"] == records[0]["model_cycles"]
    assert records[1]["cycles"] > records[1]["model_cycles"]  # the stalls really stalled


def test_harness_comparison_can_fail():
    jobs = [{"name": "corrupt", "pixels": 20, "reduction": 40, "kernels": 4, "seed": 14,
             "corrupt_expected": True}]
    records, failures = run_jobs(CONFIG, jobs, tag="corrupt")
    assert failures == 1
    assert records[0]["mismatches"] == 1

"""The C++ driver of the bench harness agrees with the cocotb driver and the golden model."""

import pytest

from sense_models.config import ArrayConfig
from sense_verif.cpp_harness import run_jobs_cpp
from sense_verif.runner import run_jobs
from sense_verif.sim_speed import path_differences

pytestmark = pytest.mark.rtl

JOBS = [
    {"name": "steady", "pixels": 40, "reduction": 70, "kernels": 7, "seed": 21},
    {"name": "stalls", "pixels": 20, "reduction": 45, "kernels": 5, "seed": 22,
     "source_stall": 0.3, "sink_stall": 0.5, "relu": False},
    {"name": "one_pixel", "pixels": 1, "reduction": 17, "kernels": 3, "seed": 23},
]


@pytest.mark.parametrize("config", [
    ArrayConfig(rows=2, cols=2, group=16, acc_depth=4),
    ArrayConfig(rows=3, cols=3, group=4, acc_depth=16, abft="both"),
], ids=lambda c: c.name)
def test_cpp_harness_matches_cocotb_and_golden(config):
    cpp, cpp_failures, info = run_jobs_cpp(config, JOBS, tag="agree")
    cocotb, cocotb_failures = run_jobs(config, JOBS, tag="agree")
    assert cpp_failures == cocotb_failures == 0
    assert [r["mismatches"] for r in cpp] == [0, 0, 0]  # bit-exact with the golden model
    assert cpp[0]["cycles"] == cpp[0]["model_cycles"]
    assert cpp[1]["cycles"] > cpp[1]["model_cycles"]  # the stalls stalled on C++ too
    assert path_differences(cocotb, cpp) == []
    assert info["run_wall_s"] > 0


def test_cpp_harness_comparison_can_fail():
    config = ArrayConfig(rows=2, cols=2, group=16, acc_depth=4)
    jobs = [{**JOBS[0], "corrupt_expected": True}]
    records, failures, _ = run_jobs_cpp(config, jobs, tag="corrupt")
    assert failures == 1 and records[0]["mismatches"] == 1


def test_path_comparison_can_fail():
    record = {"name": "x", "cycles": 10, "origin": 3, "hung": False, "extra_beats": False,
              "status": None, "mismatches": 0, "tags_ok": True, "results_sha256": "ab"}
    assert path_differences([record], [dict(record)]) == []
    assert path_differences([record], [{**record, "results_sha256": "cd"}]) == [
        "x: results_sha256 is 'ab' under cocotb, 'cd' on the C++ harness"]
    assert path_differences([record], [{**record, "cycles": 11}])
    assert path_differences([record], [])

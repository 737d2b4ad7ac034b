"""The engine's skew, deskew, metadata, bank-control, drain and correction fault sites.

On Amaranth's simulator: each new class has sites, a covered one is detected, and the
output multiplexers (after both checks) corrupt silently, as docs/results.md reports.
"""

from collections import Counter

import numpy as np
import pytest
from amaranth_tb import fault_sites, run_core
from sense_hw.faults import STUCK_AT_1
from sense_models.config import ArrayConfig
from sense_models.tiling import results_to_matrix, schedule_layer
from sense_models.workloads import random_layer

BOTH = ArrayConfig(rows=2, cols=3, acc_depth=8, abft="both", faults=True)


def test_every_engine_class_has_its_sites():
    counts = Counter(s["class"] for s in fault_sites(BOTH))
    rows, cols = BOTH.rows, BOTH.cols
    assert counts["skew_register"] == rows * (rows + 1) // 2
    # the deskew triangle, the checksum column's, then the check's stage for every column
    assert counts["deskew_register"] == \
        cols * (cols - 1) // 2 + cols - 1 + (cols + 1) * BOTH.check_latency
    assert counts["metadata"] == BOTH.latency
    assert counts["bank_control"] == 7 + rows * (rows + 1) // 2
    assert counts["drain_sequencer"] == 3 + BOTH.latency
    assert counts["correction"] == 2 + cols


def _run(site_name, bit):
    site = next(s for s in fault_sites(BOTH) if f"{s['block']}.{s['signal']}" == site_name)
    x, w = random_layer(BOTH, np.random.default_rng(5), "ragged")
    x = np.where(x == 0, 1, x)  # zeros would hide faults
    s = schedule_layer(BOTH, x, w)
    fields, _, status = run_core(BOTH, s, fault={"site": site["site"], "bit": bit,
                                                  "mode": STUCK_AT_1, "start": 0})
    return results_to_matrix(s.tiling, fields["value"]), s.expected, status


@pytest.mark.parametrize("site_name", ["engine.x_row1_d2", "engine.result_c0_d2"])
def test_a_stuck_skew_or_deskew_register_is_detected(site_name):
    got, expected, status = _run(site_name, bit=3)
    assert np.any(got != expected)
    assert status["error"][0] == 1


@pytest.mark.parametrize("site_name, bit", [
    ("engine.result_mux_c1", 20),   # after both checks: the outputs are checked once more
    ("engine.meta_d5", 2),          # a tag in the metadata pipeline: its parity
    ("engine.drain_d3", 1),         # a drain step's tag: its parity
    ("engine.bank_row1_d1", 0),     # the bank a row computes with: its second copy
    ("engine.drain_tag", 0),        # drain sequencer state: its second copy
])
def test_a_stuck_control_bit_is_flagged_by_the_control_checks(site_name, bit):
    """The control state steers data and checksums alike, so the data checks cannot see a
    fault there; the control checks do (they counted 0 on every fault-free run above)."""
    _, _, status = _run(site_name, bit=bit)
    assert status["error"][0] == 1 and status["control_errors"][0] > 0

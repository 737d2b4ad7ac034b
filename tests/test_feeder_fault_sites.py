"""The IFM feeder's fault sites (buffers, permutation table, zero flags) and their parity.

On Amaranth's simulator: each class has its sites, and a stuck bit in each kind of feeder
state, which steers the data vectors and their checksum digits alike (the data checks stay
silent), is flagged by the feeder's parity checks through the control-error status.
"""

from collections import Counter

import numpy as np
import pytest
from amaranth_tb import fault_sites, run_feeder_core
from sense_hw.faults import FEEDER_SITE_CLASSES, STUCK_AT_0, STUCK_AT_1
from sense_models.config import ArrayConfig
from sense_models.feeder import pack_for_feeder, plan_feeder, schedule_feeder
from sense_models.workloads import feeder_layer

BOTH = ArrayConfig(rows=2, cols=3, group=4, acc_depth=4, feeder=True, feeder_tiles=4,
                   abft="both", faults=True)


def test_every_feeder_class_has_its_sites():
    counts = Counter(s["class"] for s in fault_sites(BOTH))
    lanes, depth = BOTH.tile_reduction, BOTH.acc_depth
    assert counts["feeder_table"] == lanes                # an entry per lane, as read
    assert counts["feeder_buffer"] == 2 * lanes           # a word per lane, staged and read
    assert counts["feeder_flags"] == 2 * depth + 1        # each pixel's flags, the span read
    streamed = ArrayConfig(**{**BOTH.to_dict(), "feeder": False})
    assert not {s["class"] for s in fault_sites(streamed)} & set(FEEDER_SITE_CLASSES)


@pytest.fixture(scope="module")
def layer():
    x, w, channels, kernel_area = feeder_layer(BOTH, np.random.default_rng(21), "no_zeros")
    x = np.where(x == 0, 1, x)  # every reduction tile of every pixel is live
    plan = plan_feeder(BOTH, channels, kernel_area, x.shape[1])
    return schedule_feeder(BOTH, x, pack_for_feeder(BOTH, w, plan), plan)


@pytest.fixture(scope="module")
def sites():
    return {f"{s['block']}.{s['signal']}": s for s in fault_sites(BOTH)}


def test_the_feeder_parity_checks_are_quiet_without_a_fault(layer):
    results, _, _, status = run_feeder_core(BOTH, layer)
    assert np.array_equal(results["value"], layer.results["value"])
    assert not status["error"][0] and status["control_errors"][0] == 0


@pytest.mark.parametrize("site_name, bit, mode", [
    ("feeder.table_entry_l2", 0, STUCK_AT_1),         # a source lane: channels swap
    ("feeder.load_staged_value_l1", 1, STUCK_AT_1),   # an element on its way to the buffer
    ("feeder.buffer_read_l3", 2, STUCK_AT_1),         # a buffer word as it is read
    ("feeder.bank0_nonzero_p1", 0, STUCK_AT_0),       # a live tile flagged zero: skipped
    ("feeder.span_read", 0, STUCK_AT_1),              # a pixel's lowest live tile: first flag
])
def test_a_stuck_feeder_bit_is_flagged_by_its_parity(layer, sites, site_name, bit, mode):
    """The data and its checksum digits are read from the same feeder state, so both data
    checks miss the corruption; the parity beside that state does not."""
    site = sites[site_name]
    results, _, _, status = run_feeder_core(
        BOTH, layer, fault={"site": site["site"], "bit": bit, "mode": mode, "start": 0})
    assert not np.array_equal(results["value"], layer.results["value"])
    assert status["pixel_errors"][0] == status["kernel_errors"][0] == 0
    assert status["error"][0] == 1 and status["control_errors"][0] > 0

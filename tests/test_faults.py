"""A smoke run of the fault-injection campaign (`make faults` runs thousands of faults)."""

import json

import pytest

from sense_models.config import ArrayConfig
from sense_hw.faults import FEEDER_SITE_CLASSES, SITE_CLASSES
from sense_verif.campaign import run_campaign, summarize

pytestmark = pytest.mark.rtl

CONFIG = ArrayConfig(rows=3, cols=3, group=4, acc_depth=16)


BOTH = ArrayConfig(**{**CONFIG.to_dict(), "abft": "both"})

def checked_sdc(records):
    """The silent corruptions: with both checks and the control checks, there must be none
    in any site class (the control state has its own checks: docs/abft.md)."""
    return [r for r in records if r["outcome"] == "sdc"]


def test_both_checks_leave_no_silent_corruption_and_raise_no_false_alarm(tmp_path):
    records, failures, sites, info = run_campaign(BOTH, fault_runs=150, clean_runs=4, seed=7,
                                                  workers=2, chunk=50, journal_dir=tmp_path)
    table = summarize(records)
    assert failures == 0 and info["engine"] == "cpp" and info["chunks"] == 4
    assert table["fault_free"] == {"runs": 4, "false_alarm": 0, "wrong_outputs": 0,
                                   "outputs": 4 * 12 * 5}
    assert table["all"]["runs"] == 150
    assert checked_sdc(records) == []
    assert table["all"]["detected"] + table["all"]["corrected"] > 0
    # every class but the feeder's has sites
    assert {s["class"] for s in sites} == set(SITE_CLASSES) - set(FEEDER_SITE_CLASSES)


def test_without_checkers_the_campaign_reports_silent_corruption(tmp_path):
    """The classification can fail: the same faults without ABFT corrupt silently."""
    records, failures, _, _ = run_campaign(CONFIG, fault_runs=40, clean_runs=1, seed=7,
                                           journal_dir=tmp_path)
    table = summarize(records)
    assert failures == 0
    assert table["all"]["sdc"] > 0
    assert table["all"]["detected"] == table["all"]["corrected"] == 0


#: The full configuration: sparse, the IFM feeder, both checks with in-core correction.
FEEDER_CONFIG = ArrayConfig(rows=3, cols=3, group=4, acc_depth=8, feeder=True, feeder_tiles=4,
                            abft="both")


def test_feeder_with_correction_leaves_no_silent_corruption_and_raises_no_false_alarm(tmp_path):
    records, failures, sites, info = run_campaign(FEEDER_CONFIG, fault_runs=150, clean_runs=4,
                                                  seed=7, chunk=80, journal_dir=tmp_path)
    table = summarize(records)
    assert failures == 0 and info["engine"] == "cpp" and info["chunks"] == 2
    assert table["fault_free"] == {"runs": 4, "false_alarm": 0, "wrong_outputs": 0,
                                   "outputs": 4 * 12 * 5}
    assert table["all"]["runs"] == 150 and table["all"]["early_alarms"] == 0
    assert checked_sdc(records) == []
    assert table["all"]["corrected"] > 0
    assert {s["class"] for s in sites} == set(SITE_CLASSES)  # every class has sites


def test_feeder_state_faults_are_all_caught_by_its_parity(tmp_path):
    """The feeder's buffers, table and zero flags steer data and checksum digits alike; with
    their parity, none of their faults corrupts silently, and each class is flagged."""
    records, failures, _, _ = run_campaign(FEEDER_CONFIG, fault_runs=300, clean_runs=1,
                                           seed=7, chunk=150, journal_dir=tmp_path,
                                           classes=FEEDER_SITE_CLASSES)
    table = summarize(records)
    assert failures == 0 and table["all"]["runs"] == 300 and table["all"]["early_alarms"] == 0
    assert checked_sdc(records) == []
    for kind in FEEDER_SITE_CLASSES:
        assert table[kind]["detected"] > 0, kind


def test_feeder_campaign_reports_silent_corruption_without_checkers(tmp_path):
    """The feeder harness's comparison can fail: the same faults without ABFT corrupt."""
    config = ArrayConfig(**{**FEEDER_CONFIG.to_dict(), "abft": "none"})
    records, failures, _, _ = run_campaign(config, fault_runs=40, clean_runs=1, seed=7,
                                           journal_dir=tmp_path)
    table = summarize(records)
    assert failures == 0 and table["fault_free"]["wrong_outputs"] == 0
    assert table["all"]["sdc"] > 0
    assert table["all"]["detected"] == table["all"]["corrected"] == 0


def test_feeder_state_faults_corrupt_silently_without_checkers(tmp_path):
    """The feeder's site classes can corrupt: without ABFT, each has silent corruptions."""
    config = ArrayConfig(**{**FEEDER_CONFIG.to_dict(), "abft": "none"})
    records, failures, _, _ = run_campaign(config, fault_runs=150, clean_runs=1, seed=7,
                                           journal_dir=tmp_path, classes=FEEDER_SITE_CLASSES)
    table = summarize(records)
    assert failures == 0
    for kind in FEEDER_SITE_CLASSES:
        assert table[kind]["sdc"] > 0, kind


def test_feeder_campaign_report_is_merged_under_its_own_key(tmp_path):
    from sense_verif.campaign import merge_report
    path = tmp_path / "faults.json"
    path.write_text('{"results": {"both": 1}, "seed": 3}')
    merged = merge_report(path, {"results": {"both": 2}}, feeder=True)
    assert merged == {"results": {"both": 1}, "seed": 3,
                      "feeder_campaign": {"both": {"results": {"both": 2}}}}
    path.write_text(__import__("json").dumps(merged))
    assert merge_report(path, {"results": {"none": 0}}, feeder=False) == {
        "results": {"none": 0}, "feeder_campaign": {"both": {"results": {"both": 2}}}}

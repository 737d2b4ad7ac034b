"""``make coverage``'s measurement on one small build: the figures are there, sane, and an
unexercised design shows as uncovered (so the measurement can fail)."""

import json

import pytest

from sense_models.config import ArrayConfig
from sense_verif import coverage

pytestmark = pytest.mark.rtl

CONFIG = ArrayConfig(rows=2, cols=2, group=4, acc_depth=4)


def _report(dats, tmp_path):
    counts = coverage.merge(dats)
    coverage.write_dat(counts, tmp_path / "merged.dat")
    assert coverage.read_dat(tmp_path / "merged.dat") == counts
    return json.loads(json.dumps(coverage.summarize(counts)))


def test_coverage_of_the_pe(tmp_path):
    # A run whose test filter matches nothing: the PE is built and simulated, never driven.
    idle, tests, _, _, _ = coverage.run_job(CONFIG, "pe", "sense_verif.test_pe",
                                            testcase="no_such_test", tag="idle")
    assert tests == 0
    dat, tests, failures, _, _ = coverage.run_job(CONFIG, "pe", "sense_verif.test_pe")
    assert (tests, failures) == (2, 0)

    report = _report([dat], tmp_path)
    assert {"line", "toggle", "modules"} <= report.keys()
    (name, pe), = report["modules"].items()
    assert name == "sense_pe"
    assert pe["line"] >= coverage.TARGETS["line"] and pe["toggle"] >= coverage.TARGETS["toggle"]
    assert pe["lines_hit"] <= pe["lines_total"] and pe["toggles_hit"] <= pe["toggles_total"]
    assert report["line"] == pe["line"] and report["toggle"] == pe["toggle"]
    # The SystemVerilog back-end leaves no time-zero sentinel blocks: nothing to exclude.
    assert report["excluded"] == {}

    unexercised = _report([idle], tmp_path)["modules"]["sense_pe"]
    assert unexercised["toggle"] == 0 and unexercised["line"] < 0.5
    assert len(unexercised["uncovered_lines"]) == \
        unexercised["lines_total"] - unexercised["lines_hit"] > 0
    assert all(entry.startswith("build/coverage/") and entry.split(":")[-1].isdigit()
               for entry in unexercised["uncovered_lines"])

    # Merging adds counts: the idle run adds points to nothing.
    both = _report([idle, dat], tmp_path)["modules"]["sense_pe"]
    assert {k: both[k] for k in ("lines_hit", "toggles_hit", "toggles_total")} == \
        {k: pe[k] for k in ("lines_hit", "toggles_hit", "toggles_total")}

    annotated = coverage.annotate(coverage.read_dat(idle), tmp_path / "annotated")
    assert any(line.startswith("%000000") for line in annotated[0].read_text().splitlines())

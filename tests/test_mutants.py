"""``make mutants`` in small: one mutant on a 2x2 build, the report's format and its sums."""

import dataclasses
import json

import pytest

from rtl_configs import CORE_CONFIGS
from sense_verif import mutation
from sense_verif.mutants import MUTANTS, SUITES

pytestmark = pytest.mark.rtl


def test_a_known_mutant_is_killed_and_the_design_passes(tmp_path, monkeypatch):
    tiny = CORE_CONFIGS[3]
    assert (tiny.rows, tiny.cols) == (2, 2)
    monkeypatch.setattr(mutation, "CACHE", tmp_path / "cache")
    monkeypatch.setitem(SUITES, "tiny", (tiny, "core", "sense_verif.test_core"))
    name = "acc_ignores_first"
    monkeypatch.setitem(MUTANTS, name, dataclasses.replace(MUTANTS[name], suites=("tiny",)))
    out = tmp_path / "mutants.json"
    # The unmutated design must pass the suite first (main raises otherwise).
    assert mutation.main(["--only", name, "--jobs", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    (record,) = report["mutants"]
    assert {"name", "block", "description", "status", "killed_by", "seconds"} <= set(record)
    assert record["status"] == "killed" and record["name"] == name
    assert record["killed_by"].startswith("tiny: sense_verif.test_core.test_layer/")
    assert (report["killed"], report["equivalent"], report["kill_ratio"]) == (1, 0, 1.0)
    assert report["suites"]["tiny"]["config"] == tiny.name
    # Resumable: a second run takes the finished mutant from the cache.
    assert mutation.main(["--only", name, "--jobs", "1", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["mutants"] == [record]


def test_the_ratio_leaves_out_equivalent_mutants():
    records = [{"status": s, "suites": []} for s in ("killed", "killed", "survived",
                                                     "equivalent")]
    report = mutation.summarize(records)
    assert (report["killed"], report["survived"], report["equivalent"]) == (2, 1, 1)
    assert report["kill_ratio"] == pytest.approx(2 / 3)


def test_every_mutant_names_its_block_bug_and_suites():
    assert len(MUTANTS) >= 30
    for entry in MUTANTS.values():
        assert entry.block and entry.description and entry.patches
        assert set(entry.suites) <= set(SUITES), entry.name
        for cls, attribute, _ in entry.patches:
            assert hasattr(cls, attribute), (entry.name, cls, attribute)


@pytest.mark.parametrize("argv, message", [
    (["--jobs", "3"], "--jobs must be 1 to 2"),
    (["--only", "no_such_mutant"], "unknown mutant no_such_mutant"),
])
def test_bad_arguments_are_named(argv, message, capsys):
    with pytest.raises(SystemExit):
        mutation.main(argv)
    assert message in capsys.readouterr().err

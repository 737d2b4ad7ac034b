"""The fault campaign on the C++ harness: the same records as on cocotb, in any chunking,
resumed from its journal, and on a dask.distributed cluster."""

import json

import pytest

from sense_models.config import ArrayConfig
from sense_verif.campaign import run_campaign
from sense_verif.campaign_runs import Journal, campaign_key, plan_chunks

pytestmark = pytest.mark.rtl

CONFIG = ArrayConfig(rows=3, cols=3, group=4, acc_depth=16, abft="both")
#: The feeder build's harness (four input streams, counters) on both drivers too.
FEEDER = ArrayConfig(rows=3, cols=3, group=4, acc_depth=8, feeder=True, feeder_tiles=4,
                     abft="both")
RUNS = {"fault_runs": 40, "clean_runs": 2, "seed": 11}


@pytest.fixture(scope="module")
def cocotb_records(tmp_path_factory):
    records, failures, _, info = run_campaign(CONFIG, engine="cocotb",
                                              journal_dir=tmp_path_factory.mktemp("cocotb"),
                                              **RUNS)
    assert failures == 0 and info["engine"] == "cocotb"
    return records


def test_cpp_campaign_equals_cocotb_campaign_in_any_chunking(cocotb_records, tmp_path):
    for chunk in (100, 15):
        records, failures, _, info = run_campaign(CONFIG, workers=2, chunk=chunk,
                                                  journal_dir=tmp_path / str(chunk), **RUNS)
        assert failures == 0 and info["chunks_resumed"] == 0
        assert records == cocotb_records
    assert {r["outcome"] for r in records} > {"masked", "clean"}  # faults did something


def test_feeder_campaign_on_cpp_equals_cocotb(tmp_path):
    cpp, _, _, info = run_campaign(FEEDER, chunk=15, journal_dir=tmp_path / "cpp", **RUNS)
    cocotb, failures, _, _ = run_campaign(FEEDER, engine="cocotb",
                                          journal_dir=tmp_path / "cocotb", **RUNS)
    assert failures == 0 and info["engine"] == "cpp" and info["chunks"] == 3
    assert cpp == cocotb
    assert any(r["outcome"] == "detected" for r in cpp)


def test_records_differ_when_the_faults_do(cocotb_records, tmp_path):
    """The equality above can fail: another seed draws other faults."""
    records, _, _, _ = run_campaign(CONFIG, chunk=100, journal_dir=tmp_path,
                                    **{**RUNS, "seed": 12})
    assert records != cocotb_records


def test_an_interrupted_campaign_resumes_without_rerunning_finished_chunks(tmp_path):
    first, _, _, info = run_campaign(CONFIG, chunk=10, journal_dir=tmp_path, **RUNS)
    assert info["chunks"] == 5 and info["chunks_resumed"] == 0
    (path,) = tmp_path.glob("*.jsonl")
    lines = path.read_text().splitlines()
    # Stopped while the last two chunks ran, one of them half-written.
    path.write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:40])
    again, _, _, info = run_campaign(CONFIG, chunk=10, journal_dir=tmp_path, **RUNS)
    assert info["chunks_resumed"] == 3 and again == first
    _, _, _, info = run_campaign(CONFIG, chunk=10, journal_dir=tmp_path, **RUNS)
    assert info["chunks_resumed"] == 5 and info["harness_wall_s"] == 0


def test_a_journal_of_other_parameters_is_refused(tmp_path):
    Journal(tmp_path, {"seed": 1}).path.rename(tmp_path / f"{campaign_key({'seed': 2})}.jsonl")
    with pytest.raises(RuntimeError, match="belongs to another campaign"):
        Journal(tmp_path, {"seed": 2})


def test_every_chunk_with_faults_starts_from_a_fault_free_reference():
    faults = [({"site": n}, {"start": n}) for n in range(5)]
    chunks = plan_chunks(3, faults, 4)
    assert [[spec[0] for spec in c] for c in chunks] == [
        ["clean", "clean", "clean", "reference", "fault"],
        ["reference", "fault", "fault", "fault", "fault"]]


def test_campaign_on_a_dask_local_cluster(cocotb_records, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        records, failures, _, info = run_campaign(CONFIG, chunk=15, journal_dir=tmp_path,
                                                  scheduler=cluster.scheduler_address, **RUNS)
    assert failures == 0 and info["chunks"] == 3
    assert records == cocotb_records

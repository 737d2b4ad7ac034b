"""ResNet-50 throughput by the cycle models (sense_models.throughput, make reference)."""

import json

import pytest

from sense_hw.reference import (REFERENCE, device_percent, main, reference_entry,
                                shape_candidates, timing_fmax)
from sense_models.config import ArrayConfig
from sense_models.layers import RESNET50_CONVS, ConvLayer
from sense_models.throughput import layer_bounds, network_throughput, rank_shapes

SMALL = ArrayConfig(rows=4, cols=4, group=4, abft="both", feeder=True, feeder_tiles=4,
                    acc_depth=16, bus_width=64)
CONVS = (ConvLayer("a.3x3", 8, 8, 3, 1, 6), ConvLayer("b.1x1", 16, 8, 1, 2, 4),
         ConvLayer("c.3x3", 8, 8, 3, 1, 6))


def test_resnet50_has_53_convolutions_of_4_1_gmac():
    assert len(RESNET50_CONVS) == 53
    assert len({c.name for c in RESNET50_CONVS}) == 53
    # torchvision's ResNet-50 v1.5: 4.09 GMAC in its convolutions at 224x224
    assert sum(c.pixels * c.reduction * c.kernels for c in RESNET50_CONVS) == 4_087_136_256
    assert sum(c.kernel == 3 for c in RESNET50_CONVS) == 16
    assert sum(c.name.endswith(".proj") for c in RESNET50_CONVS) == 4


def test_bounds_of_one_layer_hold_their_floors():
    import numpy as np
    bounds = layer_bounds(SMALL, CONVS[0], np.random.default_rng(1))
    assert bounds["bus_cycles"] >= bounds["compute_cycles"] > 0
    assert bounds["bus_cycles"] >= max(bounds["input_bus_cycles"], bounds["output_bus_cycles"])
    # a 3x3 layer lowered on the host sends at least nine times its feature map
    assert bounds["bytes_in"] >= 9 * 8 * 6 * 6 - 2 * 8 * (6 * 4)


def test_network_counts_repeated_shapes_and_converts_to_images_per_s():
    report = network_throughput(SMALL, CONVS, clocks_mhz=(200.0, 100.0))
    assert report["distinct_shapes"] == 2 and report["convolutions"] == 3
    first, _, third = report["layers"]
    assert third["compute_cycles"] == first["compute_cycles"] and third["layer"] == "c.3x3"
    assert report["compute_cycles"] == sum(layer["compute_cycles"] for layer in report["layers"])
    fast, slow = report["images_per_s"]["200MHz"], report["images_per_s"]["100MHz"]
    assert fast["compute_bound"] == pytest.approx(200e6 / report["compute_cycles"])
    assert slow["bus_bound"] == pytest.approx(fast["bus_bound"] / 2)
    assert fast["bus_bound"] <= fast["compute_bound"]


def test_shape_ranking_keeps_the_multiplier_count_and_sorts():
    config = ArrayConfig(**REFERENCE)
    candidates = shape_candidates(config)
    assert {c.multipliers for c in candidates} == {1024}
    assert (16, 32, 4) in {(c.rows, c.cols, c.group) for c in candidates}
    ranking = rank_shapes(candidates[:4], RESNET50_CONVS[:3])
    cycles = [row["cycles"] for row in ranking]
    assert cycles == sorted(cycles)


def test_device_percent_counts_memory_luts_and_bram18_as_half():
    resources = {"LUT": 27_308, "FF": 0, "DSP": 252, "BRAM36": 1, "BRAM18": 2}
    percent = device_percent(resources, {"RAM32M16": 10, "SRL16E": 20})  # 80 + 20 LUTs
    assert percent["LUT"] == pytest.approx(10) and percent["DSP"] == pytest.approx(10)
    assert percent["BRAM"] == pytest.approx(100 * 2 / 912)
    with pytest.raises(ValueError, match="RAM512X1S"):
        device_percent(resources, {"RAM512X1S": 1})


def _timing_report(path, fmax):
    builds = {"sparse": {"config": SMALL.to_dict() | {"abft": "none", "feeder": False},
                         "fmax_mhz": 60.0, "part": "ECP5"},
              "feeder_both": {"config": SMALL.to_dict(), "fmax_mhz": fmax, "part": "ECP5"}}
    path.write_text(json.dumps({"builds": builds}))
    return path


def test_reference_clock_is_the_timing_build_with_the_same_features(tmp_path):
    timing = _timing_report(tmp_path / "timing.json", 40.0)
    reference = ArrayConfig(**REFERENCE)
    fmax, source = timing_fmax(reference, timing)
    assert fmax == 40.0 and "builds.feeder_both" in source and "4x4" in source
    cycles = {"compute_cycles": 2_000_000, "bus_cycles": 4_000_000}
    entry = reference_entry(reference, cycles, None, timing)
    rates = entry["resnet50_images_per_s"]
    assert rates["200MHz"]["compute_bound"] == pytest.approx(100)
    assert rates["fmax"] == {"clock_mhz": 40.0, "compute_bound": pytest.approx(20),
                             "bus_bound": pytest.approx(10)}
    assert entry["resources"] is None and entry["fmax_mhz"] == 40.0
    # re-read when the report is written: a new make timing changes the clock
    _timing_report(timing, 50.0)
    assert reference_entry(reference, cycles, None, timing)["fmax_mhz"] == 50.0
    dense = ArrayConfig(**{**REFERENCE, "sparse": False})
    assert timing_fmax(dense, timing)[0] is None
    assert timing_fmax(reference, tmp_path / "none.json")[0] is None


def test_command_writes_the_report(tmp_path, capsys, monkeypatch):
    # ResNet-50's full-size layers take minutes on a 4x4 array: the command on small ones
    monkeypatch.setattr("sense_hw.reference.RESNET50_CONVS", CONVS)
    out = tmp_path / "reference.json"
    assert main(["--rows", "4", "--cols", "4", "--feeder_tiles", "4", "--acc_depth", "16",
                 "--bus_width", "64", "--convs", "2", "--clock", "150", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["convolutions"] == 2 and set(report["images_per_s"]) == {"200MHz", "150MHz"}
    assert report["reference"]["config"] == report["config"]
    assert set(report["reference"]["resnet50_images_per_s"]) >= {"200MHz"}
    assert report["config"]["rows"] == 4 and report["config"]["abft"] == "both"
    assert "images/s at 200MHz" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--convs", "0"], "--convs must be 1..53, not 0"),
    (["--seed", "-3"], "--seed must be a non-negative integer, not -3"),
    (["--group", "3"], "group must be one of"),
])
def test_command_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err

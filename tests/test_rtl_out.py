"""The committed RTL: in sync with the generator, deterministic, lint-clean."""

import json
import os
import subprocess
import sys

import pytest

from sense_hw.generate import module_name, write_rtl
from sense_models.config import ArrayConfig
from sense_verif.lint import lint
from sense_verif.runner import REPO

DEFAULT = ArrayConfig()
COMMITTED = REPO / "rtl_out" / DEFAULT.name


def test_committed_rtl_is_in_sync_with_the_generator(tmp_path):
    write_rtl(DEFAULT, tmp_path)
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == sorted(p.name for p in COMMITTED.iterdir())
    for name in generated:
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes(), (
            f"rtl_out/{DEFAULT.name}/{name} is stale: run `make verilog` and commit it")


def test_regeneration_is_byte_identical_across_processes(tmp_path):
    config = ArrayConfig(rows=2, cols=3, group=8)
    outputs = []
    for n, hashseed in enumerate(("1", "2")):
        out = tmp_path / str(n)
        subprocess.run([sys.executable, "-m", "sense_hw.generate", "--rows", "2", "--cols", "3",
                        "--group", "8", "--out", str(out), "--top", "core", "--top", "pe"],
                       check=True, env={**os.environ, "PYTHONHASHSEED": hashseed},
                       capture_output=True)
        outputs.append({p.name: p.read_bytes() for p in (out / config.name).iterdir()})
    assert outputs[0] == outputs[1]


def test_manifest_describes_ports_and_configuration():
    manifest = json.loads((COMMITTED / "manifest.json").read_text())
    assert manifest["config"] == {k: v for k, v in DEFAULT.to_dict().items()
                                  if k not in ("feeder_tiles", "bus_width")}
    assert manifest["top"] == "sense_core"
    ports = {p["name"]: p for p in manifest["files"][0]["ports"]}
    assert ports["pixels__payload"]["width"] == 8 * DEFAULT.tile_reduction + DEFAULT.tag_width + 3
    assert ports["results__payload"]["direction"] == "output"
    assert ports["results__ready"]["direction"] == "input"
    assert json.loads((COMMITTED / "config.json").read_text()) == DEFAULT.to_dict()


@pytest.mark.parametrize("config, top", [
    (ArrayConfig(rows=3, cols=2), "core"),
    (ArrayConfig(rows=2, cols=2, sparse=False), "core"),
    (ArrayConfig(group=16), "pe"),
    (ArrayConfig(rows=3, cols=2, abft="both", faults=True), "core"),
    (ArrayConfig(rows=2, cols=3, abft="pixel", sparse=False), "core"),
    (ArrayConfig(rows=2, cols=2, abft="kernel", faults=True, group=16), "core"),
    (ArrayConfig(rows=4, cols=4, acc_depth=8, feeder=True, feeder_tiles=8), "core"),
    (ArrayConfig(rows=3, cols=2, group=2, sparse=False, acc_depth=4, feeder=True,
                 feeder_tiles=4), "core"),
    (ArrayConfig(rows=2, cols=3, group=8, acc_depth=4, feeder=True, feeder_tiles=4,
                 abft="kernel", faults=True), "core"),
    (ArrayConfig(rows=3, cols=2, group=4, acc_depth=4, feeder=True, feeder_tiles=4,
                 abft="pixel"), "core"),
    (ArrayConfig(rows=3, cols=2, group=4, acc_depth=4, feeder=True, feeder_tiles=4,
                 abft="both", faults=True), "core"),
    (ArrayConfig(rows=4, cols=4, acc_depth=8, feeder=True, feeder_tiles=8, abft="both"),
     "axi"),
    (ArrayConfig(rows=3, cols=2, bus_width=64), "axi"),
])
def test_generated_verilog_is_lint_clean(tmp_path, config, top):
    write_rtl(config, tmp_path, (top,))
    assert lint(tmp_path / f"{module_name(top)}.v") == []


def test_committed_rtl_is_lint_clean():
    assert lint(COMMITTED / "sense_core.v") == []


def test_lint_reports_a_real_problem(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output b);\n  assign b = a & c;\nendmodule\n")
    assert lint(bad)


def test_cli_rejects_a_bad_configuration():
    result = subprocess.run([sys.executable, "-m", "sense_hw.generate", "--group", "3",
                             "--out", "/nonexistent"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "group must be one of (2, 4, 8, 16) (a power of two), not 3" in result.stderr

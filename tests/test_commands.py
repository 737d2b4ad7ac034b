"""Bad input at the commands (make variables, the Python CLIs' options and files) stops with
the reason, before anything is built."""

import os
import shutil
import subprocess
import time

import pytest

from sense_hw import cost, generate
from sense_models.config import ArrayConfig
from sense_verif import sim
from sense_verif.runner import REPO


def make(*args, cwd=REPO):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(["make", "--no-print-directory", "-f", str(REPO / "Makefile"),
                           "-C", str(cwd), *args], capture_output=True, text=True, env=env,
                          timeout=60)


@pytest.mark.parametrize("args, message", [
    (["verilog", "ROW=4"], "unknown variable ROW; the known ones are ABFT ACC_DEPTH"),
    (["sim", "ROWS=4", "SEEED=3"], "unknown variable SEEED;"),
    (["sim", "WAVES=2"], "WAVES=2 is not one of 0 1"),
    (["verilog", "FORCE=yes"], "FORCE=yes is not one of 0 1"),
])
def test_make_rejects_unknown_variables_and_values(args, message):
    result = make("-n", *args)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert result.stdout == ""


def test_a_misspelled_variable_builds_nothing(tmp_path):
    start = time.monotonic()
    result = make("verilog", "ROW=4", f"OUT={tmp_path}")
    assert result.returncode != 0 and "unknown variable ROW" in result.stderr
    assert list(tmp_path.iterdir()) == [] and time.monotonic() - start < 10


def test_make_passes_known_variables_on():
    assert make("-n", "install").returncode == 0
    assert make("-n", "test", "JOBS=2").stdout.split()[-2:] == ["-n", "2"]
    words = make("-n", "sim", "ROWS=4", "WAVES=1", "SEED=3", "FORCE=1").stdout.split()
    for option in ("--rows 4", "--waves", "--seed 3", "--force"):
        assert option in " ".join(words)
    assert "--waves" not in make("-n", "sim", "WAVES=0").stdout
    assert "--force" not in make("-n", "verilog", "FORCE=0").stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_lint_takes_only_committed_rtl(tmp_path):
    for name in ("tracked", "untracked"):
        (tmp_path / "rtl_out" / name).mkdir(parents=True)
        (tmp_path / "rtl_out" / name / "sense_core.v").write_text("module m; endmodule\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "rtl_out/tracked/sense_core.v"],
                   check=True)
    result = make("-n", "lint", cwd=tmp_path)
    assert "rtl_out/tracked/sense_core.v" in result.stdout
    assert "untracked" not in result.stdout


def cli_error(capsys, main, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("seed, message", [
    ("-1", "argument --seed: expected a non-negative integer, not -1"),
    ("x", "argument --seed: expected a non-negative integer, not 'x'"),
])
def test_sim_rejects_a_negative_seed_before_building(capsys, monkeypatch, seed, message):
    monkeypatch.setattr(sim, "build", lambda *a, **k: pytest.fail("built something"))
    assert message in cli_error(capsys, sim.main, ["--rows", "2", "--seed", seed])


@pytest.mark.parametrize("text, message", [
    ("not json", "is not JSON: Expecting value: line 1 column 1 (char 0)"),
    ("8", "holds a number (8), not a JSON object of configuration keys"),
    ("[8, 8]", "holds a list ([8, 8]), not a JSON object"),
    ('{"rows": 8, "colls": 8}', "unknown configuration keys ['colls']"),
])
def test_config_file_errors_at_the_command_line(capsys, tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    error = cli_error(capsys, generate.main, ["--config", str(path), "--out", str(tmp_path)])
    assert f"error: configuration file {path}" in error and message in error
    assert [p.name for p in tmp_path.iterdir()] == ["bad.json"]


@pytest.mark.parametrize("argv", [["--rows", "1000"], ["--acc_depth", "1048576"],
                                  ["--feeder", "1", "--feeder_tiles", "65536"]])
def test_huge_configurations_need_force(capsys, tmp_path, argv):
    error = cli_error(capsys, generate.main, argv + ["--out", str(tmp_path)])
    assert "lines of Verilog, over the 400,000" in error and "FORCE=1" in error
    assert list(tmp_path.iterdir()) == []


def test_the_cost_estimate_lets_the_usual_builds_through():
    for config in (ArrayConfig(), ArrayConfig(rows=32, cols=32), ArrayConfig(feeder=True),
                   ArrayConfig(rows=64, cols=64), ArrayConfig(acc_depth=16384),
                   ArrayConfig(abft="both", faults=True)):
        assert cost.needs_force(config) is None, config.name
    # a hierarchical 64x64 is one PE module; the flat fault build writes all 4096 PEs
    for config in (ArrayConfig(rows=256, cols=256), ArrayConfig(rows=64, cols=64, faults=True),
                   ArrayConfig(feeder=True, feeder_tiles=64)):
        assert cost.needs_force(config), config.name


def test_a_forced_build_reports_its_stages(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(cost, "FORCE_LINES", 100)  # make a 2x2 core count as huge
    argv = ["--rows", "2", "--cols", "2", "--acc_depth", "4", "--out", str(tmp_path)]
    assert "FORCE=1" in cli_error(capsys, generate.main, argv)
    assert generate.main(argv + ["--force"]) == 0
    out = capsys.readouterr().out
    for stage in ("sense_core: elaborate: ", "sense_core: convert to Verilog: ", "write "):
        assert stage in out, out
    assert (tmp_path / ArrayConfig(rows=2, cols=2, acc_depth=4).name / "sense_core.v").exists()

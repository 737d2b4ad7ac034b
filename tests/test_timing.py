"""``make timing``'s parsers and wrapper, on a stored nextpnr report and small netlists.

Placing and routing even a 2x2 core takes about 45 s (mostly nextpnr loading the ECP5
database), so the default suite checks the parsing on a report nextpnr wrote for a 2x2 build
(``tests/data/nextpnr_report_2x2.json``) and leaves the tools to ``make timing``.
"""

import copy
import json
from pathlib import Path

import pytest
from amaranth.back import verilog

from sense_hw.timing import (ShiftWrapper, _Netlist, fanouts, parse_ltp, parse_nextpnr_report,
                             placed_builds, register_name)
from sense_models.config import ArrayConfig

REPORT = json.loads((Path(__file__).parent / "data" / "nextpnr_report_2x2.json").read_text())

LTP = r"""
2. Executing LTP pass (find longest path).

Longest topological path in sense_core (length=3):
    0: \engine.pe.w_index [1]
    1: $abc$1$o5 (via $abc$1$lut5)
    2: $abc$1$i7 (via $dsp)
    3: $abc$1$i9 (via $carry)
"""


def test_nextpnr_report_fmax_matches_its_critical_path():
    entry = parse_nextpnr_report(REPORT)
    path = entry["critical_path"]
    assert entry["fmax_mhz"] > 0
    # nextpnr's Fmax is the inverse of the register-to-register path it reports
    assert path["delay_ns"] == pytest.approx(1000 / entry["fmax_mhz"], rel=1e-3)
    assert path["from"] == "core.engine.array.pe_r1_c0.w_index_b1"
    assert path["to"] == "core.engine.acc_c0.psum"
    assert path["logic_levels"] > 0 and path["nets"]
    assert path["delay_ns"] == pytest.approx(
        path["logic_ns"] + path["routing_ns"] + path["clk_to_q_ns"] + path["setup_ns"], abs=2e-3)


def test_nextpnr_report_skips_port_paths():
    report = copy.deepcopy(REPORT)
    report["critical_paths"].reverse()  # the <async> (pin) paths first
    assert parse_nextpnr_report(report) == parse_nextpnr_report(REPORT)


@pytest.mark.parametrize("damage", ["two_clocks", "no_register_path"])
def test_nextpnr_report_errors(damage):
    report = copy.deepcopy(REPORT)
    if damage == "two_clocks":
        report["fmax"]["other"] = {"achieved": 1.0, "constraint": 1}
    else:
        report["critical_paths"] = [p for p in report["critical_paths"]
                                    if "<async>" in (p["from"], p["to"])]
    with pytest.raises(ValueError):
        parse_nextpnr_report(report)


def test_register_name():
    assert register_name("core.acc.psum_TRELLIS_FF_Q_16") == "core.acc.psum"
    assert register_name("core.acc.psum_TRELLIS_FF_Q") == "core.acc.psum"
    assert register_name("core.pe.mult_MULT18X18D") == "core.pe.mult_MULT18X18D"


def test_parse_ltp():
    ltp = parse_ltp(LTP)
    assert ltp["length"] == 3 and ltp["loops"] == 0
    assert ltp["path"][0] == ("engine.pe.w_index", 1, None)
    assert ltp["path"][-1] == ("$abc$1$i9", 0, "$carry")
    assert parse_ltp("Warning: Detected loop at x\n" + LTP)["loops"] == 1
    with pytest.raises(ValueError):
        parse_ltp(LTP.replace("length=3", "length=4"))


def _netlist():
    """clk -> 3 flip-flops; `en` (through a LUT) on their enables; a carry cell whose sum
    feeds one of them while its carry-out is unused."""
    def cell(kind, inputs, outputs):
        connections = {**inputs, **outputs}
        return {"type": kind, "connections": connections,
                "port_directions": {**{p: "input" for p in inputs},
                                    **{p: "output" for p in outputs}}}
    cells = {f"ff{i}": cell("FDRE", {"C": [2], "CE": [4], "D": [10 + i]}, {"Q": [20 + i]})
             for i in range(3)}
    cells["lut"] = cell("LUT2", {"I0": [3], "I1": [20]}, {"O": [4]})
    cells["carry"] = cell("CARRY4", {"S": [21]}, {"O": [10], "CO": [30]})
    netnames = {"clk": {"bits": [2]}, "en": {"bits": [3]}, "$abc$en": {"bits": [4]},
                "q": {"bits": [20, 21, 22]}, "$sum": {"bits": [10]}, "$co": {"bits": [30]}}
    return _Netlist({"cells": cells, "netnames": netnames})


def test_fanouts():
    top = fanouts(_netlist(), count=2)
    assert top[0] == {"net": "$abc$en", "driver": "LUT2", "driver_inputs": ["en", "q[0]"],
                      "fanout": 3, "bits": 1, "loads": {"FDRE.CE": 3}}
    assert all(entry["net"] != "clk" for entry in top)  # clock pins are left out
    assert top[1]["fanout"] == 1


def test_storage_output_follows_the_carry_cell():
    netlist = _netlist()
    assert netlist.storage_output(30, "carry", ("FD",)) == "q[0]"
    assert netlist.storage_output(4, "lut", ("SRL",)) is None


def test_shift_wrapper_connects_every_port():
    ports = [{"name": "clk", "direction": "input", "width": 1},
             {"name": "rst", "direction": "input", "width": 1},
             {"name": "a__payload", "direction": "input", "width": 5},
             {"name": "a__valid", "direction": "input", "width": 1},
             {"name": "b", "direction": "output", "width": 3}]
    text = verilog.convert(ShiftWrapper(module="blk", ports=ports), name="wrap", emit_src=False)
    for port in ports:
        assert f".{port['name']}(" in text
    assert "blk core" in text
    with pytest.raises(ValueError, match="no outputs"):
        ShiftWrapper(module="blk", ports=ports[:4])
    with pytest.raises(ValueError, match="module"):
        ShiftWrapper(module="", ports=ports)


def test_placed_builds_turn_on_one_feature_each():
    builds = placed_builds(ArrayConfig(rows=4, cols=4, abft="both", faults=True))
    assert not builds["dense"].sparse and builds["sparse"].sparse
    assert builds["abft_kernel"].abft == "kernel" and not builds["abft_kernel"].feeder
    assert builds["feeder_both"].feeder and builds["feeder_both"].abft == "both"
    assert not any(b.faults for b in builds.values())
    assert len({b.name for b in builds.values()}) == len(builds)

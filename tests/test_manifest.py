"""manifest.json: ports, payload fields, hierarchy and configuration, checked against the RTL."""

import json
import re

import pytest

from sense_hw.generate import write_rtl
from sense_models.config import ArrayConfig
from sense_models.formats import pixel_format, result_format, weight_format
from sense_verif.runner import REPO

DEFAULT = ArrayConfig()
COMMITTED = REPO / "rtl_out" / DEFAULT.name


def _verilog_modules(text):
    """``{module: [(direction, width, port), ...]}`` from the port declarations, in order."""
    modules = {}
    for match in re.finditer(r"(?ms)^module (\S+?)\((.*?)\);(.*?)^endmodule", text):
        name, order, body = match.groups()
        widths = {port: (direction, int(msb) + 1 if msb else 1)
                  for direction, msb, port in re.findall(
                      r"^\s*(input|output)\s+(?:signed\s+)?(?:\[(\d+):0\]\s+)?(\S+)\s*;", body,
                      re.MULTILINE)}
        # a port named after a keyword (``end``) is an escaped identifier: ``\\end ``
        ports = [p.strip().lstrip("\\") for p in order.split(",")]
        widths = {port.lstrip("\\"): value for port, value in widths.items()}
        modules[name] = [(*widths[port], port) for port in ports]
    return modules


def _instances(text, module):
    body = re.search(rf"(?ms)^module {module}\(.*?^endmodule", text).group(0)
    return re.findall(r"^  (\S+) (\S+) \($", body, re.MULTILINE)


@pytest.fixture(scope="module")
def committed():
    manifest = json.loads((COMMITTED / "manifest.json").read_text())
    return manifest, (COMMITTED / manifest["files"][0]["file"]).read_text()


def test_every_module_and_port_is_the_verilogs(committed):
    manifest, text = committed
    modules = _verilog_modules(text)
    hierarchy = manifest["files"][0]["hierarchy"]
    assert sorted(hierarchy) == sorted(modules)
    for name, module in hierarchy.items():
        described = [(p["direction"], p["width"], p["name"]) for p in module["ports"]]
        assert described == modules[name], name
    assert manifest["files"][0]["ports"] == hierarchy[manifest["top"]]["ports"]


def test_hierarchy_lists_every_instance(committed):
    manifest, text = committed
    for name, module in manifest["files"][0]["hierarchy"].items():
        listed = [(i["module"], i["instance"]) for i in module["instances"]]
        assert sorted(listed) == sorted(_instances(text, name)), name
    # one module per distinct block: the 64 PEs are one module, instanced through rows
    counts = {}
    def walk(module, times):
        counts[module] = counts.get(module, 0) + times
        for inst in manifest["files"][0]["hierarchy"][module]["instances"]:
            walk(inst["module"], times)
    walk(manifest["top"], 1)
    assert counts[f"{DEFAULT.name}_pe"] == DEFAULT.rows * DEFAULT.cols
    assert counts[f"{DEFAULT.name}_accumulator"] == DEFAULT.cols


def test_payload_fields_sit_where_the_formats_put_them(committed):
    manifest, _ = committed
    ports = {p["name"]: p for p in manifest["files"][0]["ports"]}
    for port, fmt in (("pixels__payload", pixel_format(DEFAULT)),
                      ("weights__payload", weight_format(DEFAULT)),
                      ("results__payload", result_format(DEFAULT))):
        fields = {f["name"]: f for f in ports[port]["fields"]}
        assert list(fields) == [f.name for f in fmt.fields]
        for field in fmt.fields:
            assert fields[field.name]["lsb"] == fmt.offset(field.name), (port, field.name)
            assert fields[field.name]["width"] == field.bits, (port, field.name)
        assert ports[port]["interface"] == port.split("__")[0]
    data = {f["name"]: f for f in ports["pixels__payload"]["fields"]}["data"]
    assert (data["count"], data["element"]["count"]) == (DEFAULT.rows, DEFAULT.row_span)
    assert data["element"]["element"] == {"signed": True}


def test_clock_reset_and_performance_are_stated(committed):
    manifest, _ = committed
    assert manifest["reset"]["synchronous"] is True and manifest["reset"]["active"] == "high"
    assert manifest["clock"]["port"] == "clk" and manifest["clock"]["edge"] == "rising"
    performance = manifest["files"][0]["performance"]
    assert performance["latency_cycles"] == DEFAULT.rows + DEFAULT.cols + DEFAULT.pe_latency
    assert performance["throughput_vectors_per_cycle"] == 1
    assert "last" in performance["latency"]


@pytest.mark.parametrize("config, tops, absent", [
    (DEFAULT, ("core",), {"feeder_tiles", "bus_width"}),
    (ArrayConfig(rows=2, cols=2, acc_depth=4, feeder=True, feeder_tiles=4), ("core",),
     {"bus_width"}),
    (ArrayConfig(rows=2, cols=2, acc_depth=4, bus_width=64), ("axi",), {"feeder_tiles"}),
])
def test_only_the_configuration_that_applies(tmp_path, config, tops, absent):
    manifest = write_rtl(config, tmp_path, tops)
    assert set(manifest["config"]) == set(config.to_dict()) - absent
    assert json.loads((tmp_path / "config.json").read_text()) == config.to_dict()


def test_fault_builds_say_they_are_flat(tmp_path):
    config = ArrayConfig(rows=2, cols=2, acc_depth=4, abft="kernel", faults=True)
    manifest = write_rtl(config, tmp_path)
    assert manifest["files"][0]["hierarchy"].startswith("flat")
    assert manifest["fault_sites"]


def test_axi_top_modules_carry_the_configuration_prefix(tmp_path):
    config = ArrayConfig(rows=2, cols=2, acc_depth=4, bus_width=64)
    manifest = write_rtl(config, tmp_path, ("axi",))
    text = (tmp_path / "sense_top.v").read_text()
    modules = _verilog_modules(text)
    assert sorted(manifest["files"][0]["hierarchy"]) == sorted(modules)
    assert all(name == "sense_top" or name.startswith(config.name + "_") for name in modules)
    core = manifest["files"][0]["hierarchy"][f"{config.name}_core"]
    assert core["block"] == "SenseCore"

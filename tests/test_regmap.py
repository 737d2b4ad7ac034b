"""The register map: validation, the accelerator's map, the C header and the docs page."""

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sense_models.config import ArrayConfig
from sense_models.regmap import (ID_VALUE, Field, Register, RegisterMap, c_header,
                                 constant_values, document, markdown, register_map)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "registers.md"


def _reg(name="A", offset=0, access="ro", fields=None, **kw):
    fields = (Field("x", 0, 8, "x"),) if fields is None else fields
    return Register(name, offset, access, fields, "doc", **kw)


@pytest.mark.parametrize("registers, message", [
    ([_reg(offset=6)], r"register A: offset 0x6 is not aligned to 4 bytes"),
    ([_reg(offset=4, width=64, fields=(Field("c", 0, 64),))],
     r"register A: offset 0x4 is not aligned to 8 bytes"),
    ([_reg(offset=-4)], r"register A: offset must be .* not -4"),
    ([_reg("A", 0), _reg("B", 0)], r"register B: offset 0x0 overlaps register A"),
    ([_reg("A", 0, width=64, fields=(Field("c", 0, 64),)), _reg("B", 4)],
     r"register B: offset 0x4 overlaps register A \(0x0..0x7\)"),
    ([_reg("A", 0), _reg("a", 4)], r"register a: the name is used twice"),
    ([_reg(fields=(Field("x", 30, 4),))], r"register A: field x \[33:30\] lies outside"),
    ([_reg(fields=(Field("x", 0, 8), Field("y", 7, 2)))],
     r"register A: field y \[8:7\] overlaps field x \[7:0\]"),
    ([_reg(fields=(Field("x", 0, 8), Field("x", 8, 2)))], r"register A: field name 'x'"),
    ([_reg(fields=(Field("x", 0, 0),))], r"register A: field x width .* not 0"),
    ([_reg(fields=(Field("bad name", 0, 1),))], r"field name must be an identifier"),
    ([_reg(access="wo")], r"register A: access must be one of .* not 'wo'"),
    ([_reg(width=16)], r"register A: width must be 32 or 64, not 16"),
    ([_reg(access="rw", width=64, fields=(Field("c", 0, 64),))],
     r"register A: only ro registers may be 64 bits wide"),
    ([_reg(access="rw", reset=0x100)], r"register A: reset 0x100 sets bits outside"),
    ([_reg(access="ro", reset=1)], r"register A: only rw registers have a reset value"),
    ([_reg(fields=(Field("x", 0, 1, "two\nlines"),))], r"register A: field x's doc"),
    ([_reg(fields=())], r"register A: fields must be a non-empty tuple"),
    ([], r"at least one register"),
])
def test_map_validation_names_the_register_and_the_value(registers, message):
    with pytest.raises(ValueError, match=message):
        RegisterMap(registers)


def test_the_accelerator_map():
    regmap = register_map(ArrayConfig())
    offsets = {r.name: r.offset for r in regmap}
    assert offsets["ID"] == 0 and offsets["STATUS"] == 0x1C and offsets["ABFT_CORRECTED"] == 0x38
    assert offsets["BUSY_CYCLES"] == 0x40 and offsets["BEATS_OUT"] == 0x80
    assert regmap.size == 0x88 and regmap.addr_width == 8
    assert regmap["CONTROL"].access == "rw" and regmap["COMMAND"].access == "w1p"
    assert [r.name for r in regmap if r.width == 64] == [
        "BUSY_CYCLES", "IN_STALL_CYCLES", "OUT_STALL_CYCLES", "VECTORS_ISSUED",
        "VECTORS_SKIPPED", "GATED_MULTS", "LAYERS_DONE", "PACKETS_IN", "BEATS_OUT"]
    status = regmap["STATUS"]
    assert [(f.name, f.lsb, f.width) for f in status.fields] == [
        ("busy", 0, 1), ("error", 1, 1), ("abft_error", 2, 1), ("error_code", 8, 8),
        ("table_loaded", 16, 1)]
    assert regmap["ABFT_PIXEL"].field("pixel_pass").width == 16
    for register in regmap:
        for field in register.fields:
            assert field.doc and "\n" not in field.doc, (register.name, field.name)


def test_constant_values():
    config = ArrayConfig(rows=4, cols=16, group=8, abft="kernel", feeder=True, feeder_tiles=8)
    regmap = register_map(config)
    values = constant_values(config, bus_width=128)
    assert regmap["ID"].pack(values["ID"]) == ID_VALUE == int.from_bytes(b"SENS", "big")
    assert regmap["VERSION"].pack(values["VERSION"]) == 0x010000
    assert regmap["CONFIG0"].pack(values["CONFIG0"]) == 0x0B_08_10_04
    assert regmap["CONFIG1"].pack(values["CONFIG1"]) == 0x10_20_08_08
    assert regmap["CONFIG2"].pack(values["CONFIG2"]) == 0x0008_0100
    with pytest.raises(ValueError, match=r"CONFIG0.rows = 256 does not fit its 8-bit field"):
        register_map(ArrayConfig(rows=256))


def test_c_header():
    config = ArrayConfig()
    text = c_header(register_map(config), config, bus_width=64)
    assert text == c_header(register_map(config), config, bus_width=64)
    assert text.startswith("/*") and text.endswith("#endif /* SENSE_REGS_H */\n")
    defines = dict(re.findall(r"^#define (\w+) (\S+)", text, re.M))
    assert defines["SENSE_ID_OFFSET"] == "0x0000u"
    assert defines["SENSE_ID_VALUE"] == "0x53454E53u"
    assert defines["SENSE_STATUS_OFFSET"] == "0x001Cu"
    assert defines["SENSE_STATUS_ERROR_CODE_SHIFT"] == "8u"
    assert defines["SENSE_STATUS_ERROR_CODE_MASK"] == "0x0000FF00u"
    assert defines["SENSE_COMMAND_CLEAR_STATUS_MASK"] == "0x00000002u"
    assert defines["SENSE_BEATS_OUT_OFFSET"] == "0x0080u"
    assert defines["SENSE_BEATS_OUT_HI_OFFSET"] == "0x0084u"
    assert defines["SENSE_ABFT_PIXEL_PIXEL_PASS_MASK"] == "0x0000FFFFu"
    assert defines["SENSE_PARAM_ROWS"] == "8u" and defines["SENSE_PARAM_ABFT"] == '"none"'
    assert defines["SENSE_PARAM_BUS_BYTES"] == "8u"
    assert defines["SENSE_CONFIG1_VALUE"] == "0x08200808u"
    names = re.findall(r"^#define (\w+)", text, re.M)
    assert len(names) == len(set(names))
    # another configuration changes the constants, not the map
    other = dataclasses.replace(config, rows=4)
    diff = set(c_header(register_map(other), other).splitlines()) ^ set(text.splitlines())
    assert all("PARAM" in line or "CONFIG0_VALUE" in line or "Configuration" in line
               or "BUS_BYTES" in line or "CONFIG1_VALUE" in line for line in diff), diff


def test_c_header_rejects_clashing_macros():
    regmap = RegisterMap([_reg("A_B", 0, fields=(Field("c", 0, 1),)),
                          _reg("A", 4, fields=(Field("b_c", 0, 1),))])
    with pytest.raises(ValueError, match=r"the same C macros \['SENSE_A_B_C_MASK'"):
        c_header(regmap, ArrayConfig())


def test_markdown_table():
    regmap = register_map(ArrayConfig())
    text = markdown(regmap)
    lines = text.splitlines()
    assert lines[0] == "| offset | register | access | field | bits | description |"
    assert "| `0x14` | `CONTROL` | rw | | [31:0] | Run control. |" in lines
    assert "| | | | `run` | [0] | The input stream is accepted only while set. |" in lines
    assert "| | | | `error_code` | [15:8] | Code of the first packet error since the last " \
           "clear. |" in lines
    assert any(line.startswith("| `0x40` / `0x44` | `BUSY_CYCLES` | ro | | [63:0]")
               for line in lines)
    assert len(lines) == 2 + len(regmap) + sum(len(r.fields) for r in regmap)
    assert text == markdown(register_map(ArrayConfig(rows=2, abft="both")))


def test_committed_docs_are_the_generated_page():
    generated = subprocess.run([sys.executable, "-m", "sense_models.regmap", "--markdown"],
                               check=True, capture_output=True, text=True).stdout
    assert generated == document(register_map(ArrayConfig()))
    assert DOCS.read_text() == generated, (
        "docs/registers.md is stale: python -m sense_models.regmap --markdown "
        "> docs/registers.md")

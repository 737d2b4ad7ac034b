"""Synthesis for xcup (make synth, make reference --synth): the generated Verilog goes through
yosys, flat and hierarchically, and the two agree."""

import re

import pytest

from sense_hw.synth import (instance_counts, synthesize, synthesize_hierarchy,
                            zero_memory_init_from_files)
from sense_models.config import ArrayConfig


PLAIN = ArrayConfig(rows=2, cols=2, group=4, acc_depth=4)
FULL = ArrayConfig(rows=2, cols=2, group=4, acc_depth=4, abft="both", feeder=True,
                   feeder_tiles=2)


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """Flat synthesis of a configuration, once per module (the comparison reuses it)."""
    done = {}

    def synthesized(config):
        if config not in done:
            done[config] = synthesize(config, tmp_path_factory.mktemp(config.name))
        return done[config]
    return synthesized


@pytest.mark.parametrize("config", [PLAIN, FULL], ids=lambda c: c.name)
def test_core_synthesizes_for_xcup(config, flat):
    resources, cells, _ = flat(config)
    # yosys maps every int8 multiply to one DSP48E2: the array's, and the checksum
    # column's (a PE of row_span lanes per row)
    checksum = config.rows * config.row_span if config.kernel_check else 0
    assert resources["DSP"] == config.multipliers + checksum, cells
    assert resources["LUT"] > 0 and resources["FF"] > 0


def test_hierarchical_totals_are_close_to_the_flat_synthesis(flat, tmp_path):
    # make reference --synth synthesizes each distinct module once, without flattening (a
    # flat synthesis of the 1024-multiplier reference does not finish). Both must agree on
    # the multipliers and block RAMs; the hierarchical LUTs and FFs are an upper bound of
    # the flat ones, over them by what the module boundaries keep (constants and unread
    # outputs at ports: every PE's partial sum stays 32 bits wide). Measured: +19 % LUT,
    # +7 % FF on this 2x2 core with every feature; +18 % / +10 % on the 4x4 with the feeder
    # and abft=both (docs/results.md); the edges, where the constants are, are the larger
    # share of a small array.
    config = FULL
    reference, _, _ = flat(config)
    hierarchy = synthesize_hierarchy(config, tmp_path)
    prefix = re.sub(r"\W", "_", config.name) + "_"  # the modules' prefix (docs/rtl.md)
    modules = {name.removeprefix(prefix): module["instances"]
               for name, module in hierarchy["modules"].items()}
    assert modules == {"sense_core": 1, "engine": 1, "feeder": 1, "array": 1,
                       "pe_row": config.rows, "pe": config.rows * config.cols,
                       "checksum_pe": config.rows, "accumulator": config.cols + 1,
                       "column_checker": config.cols}
    totals = hierarchy["resources"]
    for kind in ("DSP", "BRAM18", "BRAM36"):
        assert totals[kind] == reference[kind], (kind, totals, reference)
    for kind in ("LUT", "FF"):
        assert reference[kind] <= totals[kind] <= 1.3 * reference[kind], \
            (kind, totals, reference)


def test_instance_counts_multiply_down_the_hierarchy():
    cells = {"top": {"row": 3, "FDRE": 1}, "row": {"pe": 4, "LUT2": 2}, "pe": {"DSP48E2": 1},
             "unused": {"LUT1": 1}}
    assert instance_counts(cells, "top") == {"top": 1, "row": 3, "pe": 12}


def test_zero_memory_initial_values_are_read_from_files(tmp_path):
    zero = "  initial begin\n    mem[0] = 8'h00;\n    mem[1] = 8'h00;\n  end\n"
    escaped = "  initial begin\n    \\a.b [0] = 32'd0;\n  end\n"
    other = "  initial begin\n    mem[0] = 8'h01;\n    mem[1] = 8'h00;\n  end\n"
    text = zero_memory_init_from_files("module m;\n" + zero + escaped + other + "endmodule\n",
                                       tmp_path)
    assert text == ('module m;\n  initial $readmemh("zeros_2.hex", mem);\n'
                    '  initial $readmemh("zeros_1.hex", \\a.b );\n' + other + "endmodule\n")
    assert (tmp_path / "zeros_2.hex").read_text() == "0\n0\n"

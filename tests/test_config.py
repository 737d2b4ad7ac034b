import numpy as np
import pytest

from sense_models.config import ArrayConfig


def test_defaults_and_derived_shapes():
    c = ArrayConfig()
    assert (c.rows, c.cols, c.group, c.acc_width) == (8, 8, 4, 32)
    assert c.mults_per_pe == 2 and c.multipliers == 128
    assert c.tile_reduction == 32 and c.index_width == 2
    d = c.dense_baseline()
    assert d.multipliers == c.multipliers and d.tile_reduction == 16 and d.index_width == 0


@pytest.mark.parametrize("kwargs, error, text", [
    ({"group": 3}, ValueError, "group must be one of (2, 4, 8, 16) (a power of two), not 3"),
    ({"group": 32}, ValueError, "not 32"),
    ({"rows": 0}, ValueError, "rows must be at least 1, not 0"),
    ({"cols": -2}, ValueError, "cols must be at least 1, not -2"),
    ({"rows": 2.0}, TypeError, "rows must be an integer, not 2.0"),
    ({"acc_width": 15}, ValueError, "acc_width 15 is too narrow"),
    ({"acc_depth": 12}, ValueError, "acc_depth must be a power of two, not 12"),
    ({"sparse": 1}, TypeError, "sparse must be a bool, not 1"),
    ({"faults": "yes"}, TypeError, "faults must be a bool, not 'yes'"),
    ({"abft": "all"}, ValueError, "abft must be one of ('none', 'pixel', 'kernel', 'both'), not 'all'"),
    ({"acc_width": 64}, ValueError, "acc_width must be at most 62"),
    ({"abft": "pixel", "ifm_width": 6, "weight_width": 6, "acc_width": 16}, ValueError,
     "ifm_width must be at least 8"),
    ({"feeder": 1}, TypeError, "feeder must be a bool, not 1"),
    ({"feeder_tiles": 12}, ValueError, "feeder_tiles must be a power of two, not 12"),
    ({"feeder_tiles": 0}, ValueError, "feeder_tiles must be at least 1, not 0"),
    ({"feeder": True, "abft": "both", "ifm_width": 6, "weight_width": 6, "acc_width": 16},
     ValueError, "ifm_width must be at least 8"),
])
def test_invalid_parameters_are_rejected_with_the_value(kwargs, error, text):
    with pytest.raises(error) as info:
        ArrayConfig(**kwargs)
    assert text in str(info.value)


@pytest.mark.parametrize("abft", ["none", "pixel", "kernel", "both"])
def test_the_feeder_takes_every_abft_option(abft):
    config = ArrayConfig(feeder=True, abft=abft)
    assert config.feeder and config.abft == abft


def test_round_trip_and_unknown_keys(tmp_path):
    c = ArrayConfig(rows=3, cols=5, group=8, sparse=False)
    assert ArrayConfig.from_dict(c.to_dict()) == c
    path = tmp_path / "c.json"
    path.write_text('{"rows": 3, "colums": 4}')
    with pytest.raises(ValueError, match=r"unknown configuration keys \['colums'\]"):
        ArrayConfig.from_json(path)


def test_name_is_stable_and_distinct():
    assert ArrayConfig().name == "sparse_r8c8g4_i8w8a32d256"
    assert ArrayConfig().dense_baseline().name != ArrayConfig().name


@pytest.mark.parametrize("block", ["sense_hw.pe.ProcessingElement", "sense_hw.array.SystolicArray",
                                   "sense_hw.accumulator.ColumnAccumulator",
                                   "sense_hw.core.SenseCore"])
def test_blocks_take_only_a_config(block):
    import importlib

    from amaranth.hdl import Fragment
    module, name = block.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    with pytest.raises(TypeError, match="config must be an ArrayConfig, not {'rows': 2}"):
        cls(config={"rows": 2})
    block = cls(config=ArrayConfig(rows=2, cols=2))
    assert block.config == ArrayConfig(rows=2, cols=2)
    Fragment.get(block, None)  # and it elaborates


@pytest.mark.parametrize("kwargs, text", [
    (dict(ifm_width=24, weight_width=24, acc_width=48),
     "ifm_width 24 + weight_width 24 = 48 bits per product is too wide for the int64 golden "
     "model: it sums 32767 products at most, and must sum 65536"),
    (dict(ifm_width=23, weight_width=24, acc_width=47), "may add up to at most 46 bits"),
    (dict(ifm_width=20, weight_width=20, acc_width=40, feeder=True, feeder_tiles=1 << 20),
     "must sum 33554432 (the longest reduction it checks)"),
    (dict(ifm_width=2, weight_width=44, acc_width=46, cols=1 << 19, abft="kernel"),
     "the kernel checksum weights (weight_width 44 + log2(cols 524288) = 63 bits) do not fit"),
    (dict(acc_width=63), "acc_width must be at most 62 (the golden models compute in int64), "
                         "not 63"),
])
def test_widths_the_models_cannot_check_are_rejected(kwargs, text):
    with pytest.raises(ValueError) as info:
        ArrayConfig(**kwargs)
    assert text in str(info.value)


def test_the_width_limit_is_the_golden_models_own():
    from sense_models.golden import matmul, max_reduction

    assert max_reduction(23, 23) == (1 << 17) - 1
    ArrayConfig(ifm_width=23, weight_width=23, acc_width=46)  # 65536 products fit
    x = np.zeros((1, max_reduction(30, 30) + 1), np.int64)
    with pytest.raises(ValueError, match="reduction length 8 could overflow"):
        matmul(x, np.zeros((8, 1), np.int64), ifm_width=30, weight_width=30, acc_width=62)
    assert matmul(x[:, :7], np.zeros((7, 1), np.int64), ifm_width=30, weight_width=30,
                  acc_width=62).shape == (1, 1)


@pytest.mark.parametrize("text, problem", [
    ('{"rows": 4,', "is not JSON: Expecting"),
    ("4", "holds a number (4), not a JSON object of configuration keys"),
    ("[4, 4]", "holds a list ([4, 4]), not a JSON object"),
    ('"rows=4"', "holds a string"),
    ('{"rows": 4, "colums": 4}', ": unknown configuration keys ['colums']"),
    ('{"rows": 4.5}', ": rows must be an integer, not 4.5"),
    ('{"abft": "all"}', ": abft must be one of"),
])
def test_config_file_errors_name_the_file_and_the_problem(tmp_path, text, problem):
    path = tmp_path / "my.json"
    path.write_text(text)
    with pytest.raises((TypeError, ValueError)) as info:
        ArrayConfig.from_json(path)
    assert str(info.value).startswith(f"configuration file {path}")
    assert problem in str(info.value)


def test_config_file_overrides_and_missing_file(tmp_path):
    path = tmp_path / "my.json"
    path.write_text('{"rows": 4, "group": 3}')
    assert ArrayConfig.from_json(path, group=8) == ArrayConfig(rows=4, group=8)
    with pytest.raises(ValueError, match="my.json with group=8, cols=0: cols must be at least 1, not 0"):
        ArrayConfig.from_json(path, group=8, cols=0)
    with pytest.raises(ValueError, match=f"configuration file {tmp_path / 'nope.json'}: cannot "
                                         f"read it \\(No such file or directory\\)"):
        ArrayConfig.from_json(tmp_path / "nope.json")

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

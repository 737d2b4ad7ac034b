"""The host-side bit packing and the RTL's layouts agree bit for bit."""

import numpy as np
import pytest

from sense_hw.layouts import pixel_layout, result_layout, weight_layout
from sense_models.config import ArrayConfig
from sense_models.formats import BusFormat, Field, pixel_format, result_format, weight_format

CONFIGS = [ArrayConfig(rows=3, cols=2, group=8, acc_depth=16),
           ArrayConfig(rows=2, cols=3, group=4, sparse=False, acc_width=20)]


def random_fields(fmt, rng, beats):
    out = {}
    for f in fmt.fields:
        lo, hi = (-(1 << (f.width - 1)), 1 << (f.width - 1)) if f.signed else (0, 1 << f.width)
        out[f.name] = rng.integers(lo, hi, (beats,) + f.shape)
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("fmt, layout", [(pixel_format, pixel_layout),
                                         (weight_format, weight_layout),
                                         (result_format, result_layout)])
def test_packing_matches_amaranth_layout(config, fmt, layout):
    bus, lay = fmt(config), layout(config)
    assert bus.width == lay.size
    rng = np.random.default_rng(1)
    fields = random_fields(bus, rng, 5)
    words = bus.pack(**fields)
    for n, word in enumerate(words):
        const = lay.const({name: values[n].tolist() for name, values in fields.items()})
        assert const.as_value().value == word
    back = bus.unpack(words)
    for name in fields:
        assert np.array_equal(back[name], fields[name])


def test_pack_rejects_out_of_range_and_missing_fields():
    bus = BusFormat((Field("a", 4, signed=True), Field("b", 2)))
    with pytest.raises(ValueError, match="field a beat 0 element 0 = 8 does not fit signed 4 bits"):
        bus.pack(a=[8], b=[0])
    with pytest.raises(ValueError, match="field b beat 1 element 0 = 4 does not fit unsigned 2"):
        bus.pack(a=[0, 0], b=[0, 4])
    with pytest.raises(ValueError, match="field a beat 0 element 0 = -9 does not fit signed 4"):
        bus.pack(a=[-9], b=[0])
    with pytest.raises(ValueError, match="pack needs exactly the fields"):
        bus.pack(a=[0])


def test_pack_rejects_floats_and_mis_shaped_arrays_instead_of_casting_them():
    bus = BusFormat((Field("v", 8, (2, 3), signed=True), Field("t", 4)))
    good = {"v": np.arange(12).reshape(2, 2, 3), "t": np.array([1, 2])}
    assert bus.unpack(bus.pack(**good))["v"].tolist() == good["v"].tolist()
    assert bus.pack(**{**good, "t": np.array([True, False])}) == bus.pack(**{**good, "t": [1, 0]})
    with pytest.raises(TypeError, match="field t must hold integers, not float64"):
        bus.pack(**{**good, "t": [1.0, 2.0]})  # 1.0 would have packed as 1
    with pytest.raises(TypeError, match="field v must hold integers, not float64"):
        bus.to_hex(**{**good, "v": good["v"] + 0.5})  # 0.5 would have been truncated
    with pytest.raises(ValueError, match=r"field v must have shape \(beats,\) \+ \(2, 3\), "
                                         r"not \(2, 3, 2\)"):
        bus.pack(**{**good, "v": good["v"].transpose(0, 2, 1)})  # same count, other order
    with pytest.raises(ValueError, match=r"not \(2, 6\)"):
        bus.pack(**{**good, "v": good["v"].reshape(2, 6)})
    with pytest.raises(ValueError, match=r"field t must have shape \(beats,\) \+ \(\), not \(\)"):
        bus.pack(**{**good, "t": 3})
    with pytest.raises(ValueError, match="field t has 3 beats, expected 2"):
        bus.pack(**{**good, "t": [1, 2, 3]})

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
    with pytest.raises(ValueError, match="field a does not fit 4 signed bits"):
        bus.pack(a=[8], b=[0])
    with pytest.raises(ValueError, match="field b does not fit 2 unsigned bits"):
        bus.pack(a=[0], b=[4])
    with pytest.raises(ValueError, match="pack needs exactly the fields"):
        bus.pack(a=[0])

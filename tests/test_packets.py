"""Packet formats of sense_top and the host driver's bus-independent part."""

import dataclasses

import numpy as np
import pytest

from sense_models.config import ArrayConfig
from sense_models.driver import CycleBackend, Driver, GoldenBackend, lower, plan_layer
from sense_models.network import DIGITS_CNN, QuantLayer, forward, load_network
from sense_models.packets import (PacketType, document, header, packet, packet_types,
                                  parse_header, result_wire)
from sense_models.sparsity import prune
from sense_verif.runner import REPO

FULL = ArrayConfig(rows=4, cols=4, acc_depth=8, feeder=True, feeder_tiles=8, abft="both")
STREAMED = ArrayConfig(rows=3, cols=2, abft="pixel", bus_width=64)


def test_docs_are_up_to_date():
    assert (REPO / "docs" / "packets.md").read_text() == document(), \
        "docs/packets.md is stale: python -m sense_models.packets > docs/packets.md"


def _random_columns(rng, wire, beats):
    columns = {}
    for name in wire.sent:
        field = wire.core[name]
        lo = -(1 << (field.width - 1)) if field.signed else 0
        hi = (1 << (field.width - 1)) if field.signed else (1 << field.width)
        columns[name] = rng.integers(lo, hi, (beats,) + field.shape)
    return columns


@pytest.mark.parametrize("config", [FULL, STREAMED], ids=lambda c: c.name)
def test_every_wire_format_round_trips(config):
    rng = np.random.default_rng(1)
    for kind, wire in packet_types(config).items():
        columns = _random_columns(rng, wire, 5)
        raw = wire.pack(columns)
        assert raw.shape == (5, wire.beat_bytes)
        back = wire.unpack(raw)
        for name in wire.sent:
            np.testing.assert_array_equal(back[name], columns[name], err_msg=f"{kind.name}.{name}")


def test_packet_layout_header_and_padding():
    wire = packet_types(FULL)[PacketType.WEIGHTS]
    columns = _random_columns(np.random.default_rng(2), wire, FULL.rows)
    words = packet(FULL, PacketType.WEIGHTS, columns, 1)
    per_beat = wire.words(FULL.bus_width)
    assert words.shape == (1 + FULL.rows * per_beat, FULL.bus_width // 8)
    assert parse_header(words[0]) == (int(PacketType.WEIGHTS), 0, 1)
    assert parse_header(header(PacketType.IFM, 7, 64, final=True)) == (int(PacketType.IFM), 3, 7)
    assert parse_header(header(PacketType.IFM, 7, 64, end=True)) == (int(PacketType.IFM), 2, 7)
    payload = words[1:].reshape(FULL.rows, -1)
    assert not payload[:, wire.beat_bytes:].any(), "padding bytes must be zero"


def test_packets_reject_bad_input():
    wire = packet_types(FULL)[PacketType.PASSES]
    good = _random_columns(np.random.default_rng(3), wire, 2)
    with pytest.raises(ValueError, match="does not fit unsigned 3 bits"):
        packet(FULL, PacketType.PASSES, {**good, "tile": [8, 0]}, 2)
    with pytest.raises(TypeError, match="field tile must hold integers, not float64"):
        packet(FULL, PacketType.PASSES, {**good, "tile": [0.5, 1.0]}, 2)
    with pytest.raises(TypeError, match="field tile must hold integers"):
        packet(FULL, PacketType.PASSES, {**good, "tile": [0.0, 1.0]}, 2)  # whole, still floats
    weights = packet_types(FULL)[PacketType.WEIGHTS]
    columns = _random_columns(np.random.default_rng(5), weights, 2)
    with pytest.raises(ValueError, match=r"field value must have shape \(beats,\) \+ \(4, 2\), "
                                         r"not \(2, 2, 4\)"):
        weights.pack({**columns, "value": columns["value"].transpose(0, 2, 1)})
    with pytest.raises(ValueError, match="field release has 3 beats, expected 2"):
        packet(FULL, PacketType.PASSES, {**good, "release": [0, 1, 0]}, 2)
    with pytest.raises(ValueError, match="missing fields"):
        packet(FULL, PacketType.PASSES, {"tile": [0, 1]}, 2)
    with pytest.raises(ValueError, match="takes no PIXELS packets"):
        packet(FULL, PacketType.PIXELS, good, 2)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        header(PacketType.PASSES, 1 << 32, 128)


def _result_stream(config, values, tag_bytes, value_type):
    """One raw result beat as output-stream bytes (values, then the tag), padded to words."""
    row = np.concatenate([values.astype(value_type).view(np.uint8).ravel(), tag_bytes])
    stream = np.zeros(result_wire(config, raw=True).words(config.bus_width)
                      * config.bus_width // 8, np.uint8)
    stream[:row.size] = row
    return stream


def test_62_bit_accumulators_cross_the_wire():
    """Fields of 57..62 bits take all 8 bytes of an int64: packed and read back exactly."""
    config = ArrayConfig(rows=2, cols=2, acc_depth=8, acc_width=62)
    wire = packet_types(config)[PacketType.QUANT]
    columns = _random_columns(np.random.default_rng(6), wire, 3)
    columns["bias"][0] = [-(1 << 61), (1 << 61) - 1]
    back = wire.unpack(wire.pack(columns))
    np.testing.assert_array_equal(back["bias"], columns["bias"])
    values = np.array([[-(1 << 61), (1 << 61) - 1]])
    stream = _result_stream(config, values, [3, 0], "<i8")
    got, tags = result_wire(config, raw=True).unpack(stream, config.bus_width)
    np.testing.assert_array_equal(got, values)
    assert tags.tolist() == [3]


def test_result_wire_unpacks_values_and_tags():
    wire = result_wire(FULL, raw=True)
    values = np.array([[-(1 << 31), 5, -1, (1 << 31) - 1]])
    stream = _result_stream(FULL, values, [7, 1], "<i4")
    got, tags = wire.unpack(stream, FULL.bus_width)
    np.testing.assert_array_equal(got, values)
    assert tags.tolist() == [263]
    with pytest.raises(ValueError, match="not whole result beats"):
        wire.unpack(stream[:-1], FULL.bus_width)


@pytest.mark.parametrize("config", [dataclasses.replace(FULL, feeder_tiles=16),
                                    ArrayConfig(rows=4, cols=4, acc_depth=16)],
                         ids=lambda c: c.name)
def test_driver_runs_the_network_on_the_models(config):
    layers, extra = load_network(DIGITS_CNN)
    images = extra["images"][:6]
    golden = np.stack([forward(layers, image) for image in images])
    for backend in (GoldenBackend(), CycleBackend()):
        driver = Driver(config, backend)
        np.testing.assert_array_equal(driver.run_network(layers, images), golden)
    assert all(result.model_cycles > 0 for _, result in driver.log)
    if config.feeder:  # layer2's 288-long reduction runs in parts of whole channels
        assert any(job.name.startswith("layer2[c") for job, _ in driver.log)


def test_driver_rejects_bad_layers_and_results():
    rng = np.random.default_rng(4)
    weights = rng.integers(-5, 6, (3, 2, 3, 3))
    dense = QuantLayer("dense", weights, np.zeros(3, np.int64), 2)
    images = rng.integers(0, 50, (2, 2, 5, 5))
    x, shape = lower(dense, images)
    assert shape == (2, 3, 3, 3) and x.shape == (18, 18)
    with pytest.raises(ValueError, match="exactly 2 of every 4|1/2|sparse"):
        plan_layer(FULL, dense, x)
    with pytest.raises(ValueError, match="takes 2 channels"):
        lower(dense, images[:, :1])
    with pytest.raises(ValueError, match="shape \\(N, C, H, W\\)"):
        lower(dense, images[0])
    sparse = QuantLayer("sparse", prune(weights.reshape(3, -1).T, 4).T.reshape(weights.shape),
                        np.zeros(3, np.int64), 2)
    job = plan_layer(FULL, sparse, x)
    with pytest.raises(ValueError, match="result beats"):
        job.assemble(np.zeros((1, FULL.cols)), np.zeros(1))
    values = np.zeros((job.result_beats, FULL.cols), np.int64)
    with pytest.raises(ValueError, match="not a permutation"):
        job.assemble(values, np.zeros(job.result_beats, np.int64))

"""The packets of ``sense_top``'s AXI4-Stream ports: written once here, used by RTL and host.

Everything the host sends travels on one AXI4-Stream slave as *packets*. A packet is one
header word followed by its payload words; ``TLAST`` marks the packet's last word. Every
word is a full bus word (all ``TKEEP`` bytes set), little-endian:

| bytes | field | meaning |
|---|---|---|
| 0 | type | `PacketType` |
| 1 | flags | `IFM` only: bit 0 `final` (the layer's last pixels), bit 1 `end` (the pixel tile's last pixels; a tile may span several packets) |
| 2..3 | (zero) | |
| 4..7 | count | how many items the packet holds (`ITEMS`: see each type below) |
| 8.. | (zero) | the rest of the header word |

The payload is the packet's *beats*, each beat one beat of a core stream, each beat padded to
whole bus words. Inside a beat every multi-bit field element is byte-aligned (its width
rounded up to whole bytes, little-endian, signed values sign-extended) in the order of the
core's :class:`~sense_models.formats.BusFormat`, and the one-bit fields follow, packed into
flag bytes (bit ``i`` of flag byte ``i // 8``). Fields the receiver derives from the packet
itself (:data:`DERIVED`) are not sent.

Results leave on one AXI4-Stream master, one result beat (a pixel's ``cols`` outputs) padded
to whole bus words: ``cols`` int8 activations (or, in raw mode, ``cols`` accumulator values
of ``acc_width`` rounded up to whole bytes), then the pixel's tag in two bytes. ``TLAST``
ends each output-stage parameter set (a kernel tile of a layer).
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from .config import BUS_WIDTHS
from .formats import (BusFormat, ifm_format, pass_format, pixel_format, quant_format,
                      table_format, weight_format)
from .intmath import wrap

__all__ = ["PacketType", "PacketError", "HEADER_BYTES", "BUS_WIDTHS", "ITEMS", "DERIVED",
           "WireFormat", "wire_format", "packet_types", "header", "packet", "parse_header",
           "ResultWire", "result_wire"]

HEADER_BYTES = 8
FLAG_FINAL = 1
FLAG_END = 2


class PacketType(enum.IntEnum):
    """What a packet carries (header byte 0). Codes never change meaning."""
    WEIGHTS = 1   #: weight tiles (core ``weights`` stream)
    PIXELS = 2    #: pixel vectors (core ``pixels`` stream; builds without the feeder)
    TABLE = 3     #: the feeder's permutation table (feeder builds)
    IFM = 4       #: a pixel tile's IFM in the original channel order (feeder builds)
    PASSES = 5    #: pass commands (feeder builds)
    QUANT = 6     #: output-stage parameter sets


class PacketError(enum.IntEnum):
    """Codes of the receiver's sticky error (``STATUS.error_code``; the first one is kept).

    A bad packet is dropped up to its ``TLAST``; nothing of it reaches the core, except
    for ``SHORT`` (the beats before the early ``TLAST`` have already gone; the partial beat
    is discarded) and ``LONG`` (the packet's declared beats went; the excess is dropped).
    """
    NONE = 0
    UNKNOWN_TYPE = 1      #: a type this build does not take
    BAD_COUNT = 2         #: count 0, or more items than the block holds
    SHORT = 3             #: TLAST before the declared payload ended
    LONG = 4              #: no TLAST on the declared payload's last word
    IFM_BEFORE_TABLE = 5  #: IFM with no permutation table loaded for its layer
    BAD_KEEP = 6          #: a word with TKEEP not all ones


#: What the header's count counts, per type, and the beats per item.
ITEMS = {
    PacketType.WEIGHTS: "weight tiles (rows beats each)",
    PacketType.PIXELS: "pixel vectors",
    PacketType.TABLE: "table rows (1 .. feeder_tiles)",
    PacketType.IFM: "pixels (1 .. acc_depth), one beat per table row each",
    PacketType.PASSES: "pass commands",
    PacketType.QUANT: "output-stage parameter sets",
}

#: Fields the receiver derives from the packet instead of receiving them.
DERIVED = {
    PacketType.TABLE: ("last",),               # the packet's last beat
    PacketType.IFM: ("last", "end", "final"),  # every table-rows beats; header flags
}


@dataclasses.dataclass(frozen=True)
class WireFormat:
    """A core beat laid out on the bus: byte-aligned fields, then packed one-bit flags.

    ``placement`` maps each sent field name to ``(byte offset, bytes per element)``; flags
    map to ``(byte offset, bit)``.
    """
    core: BusFormat
    sent: tuple
    placement: dict
    flags: dict
    beat_bytes: int

    def words(self, bus_width):
        """Bus words per beat."""
        return -(-self.beat_bytes // (bus_width // 8))

    def pack(self, columns):
        """Per-beat field arrays (the sent fields) -> ``(beats, beat_bytes)`` uint8."""
        missing = set(self.sent) - set(columns)
        if missing:
            raise ValueError(f"missing fields {sorted(missing)} for this packet")
        checked, beats = {}, None
        for name in self.sent:
            checked[name] = self.core[name].column(columns[name], beats)
            beats = len(checked[name])
        out = np.zeros((beats, self.beat_bytes), dtype=np.uint8)
        for name, values in checked.items():
            field = self.core[name]
            if name in self.flags:
                offset, bit = self.flags[name]
                out[:, offset] |= (values[:, 0].astype(np.uint8) << bit)
                continue
            offset, size = self.placement[name]
            # The low bytes of the two's complement: ``size`` may be all 8 of an int64.
            raw = values.astype("<i8").view(np.uint8)
            raw = raw.reshape(beats, field.count, 8)[:, :, :size]
            out[:, offset:offset + field.count * size] = raw.reshape(beats, -1)
        return out

    def unpack(self, raw):
        """``(beats, >= beat_bytes)`` uint8 -> per-beat field arrays of the sent fields."""
        raw = np.asarray(raw, dtype=np.uint8)
        out = {}
        for name in self.sent:
            field = self.core[name]
            if name in self.flags:
                offset, bit = self.flags[name]
                out[name] = ((raw[:, offset] >> bit) & 1).astype(np.int64)
                continue
            offset, size = self.placement[name]
            chunk = raw[:, offset:offset + field.count * size].reshape(len(raw), field.count, size)
            values = _signed_le(chunk) & ((1 << field.width) - 1)
            if field.signed:
                values = wrap(values, field.width)
            out[name] = values.reshape((len(raw),) + field.shape)
        return out


def _signed_le(chunk):
    """``(..., size)`` little-endian bytes (``size`` <= 8) -> sign-extended int64 ``(...)``."""
    full = np.zeros(chunk.shape[:-1] + (8,), dtype=np.uint8)
    size = chunk.shape[-1]
    full[..., :size] = chunk
    full[..., size:] = np.where(chunk[..., -1:] & 0x80, 0xFF, 0)
    return full.view("<i8")[..., 0]


def wire_format(core, derived=()):
    """The :class:`WireFormat` of ``core`` (a ``BusFormat``) without the ``derived`` fields."""
    sent = tuple(f.name for f in core.fields if f.name not in derived)
    placement, flags, offset = {}, {}, 0
    for field in core.fields:
        if field.name in derived or field.bits == 1:
            continue
        size = -(-field.width // 8)
        placement[field.name] = (offset, size)
        offset += size * field.count
    ones = [f.name for f in core.fields if f.name not in derived and f.bits == 1]
    for i, name in enumerate(ones):
        flags[name] = (offset + i // 8, i % 8)
    offset += -(-len(ones) // 8)
    return WireFormat(core, sent, placement, flags, max(offset, 1))


def packet_types(config):
    """``{PacketType: WireFormat}`` of the packets ``config``'s top takes."""
    types = {PacketType.WEIGHTS: wire_format(weight_format(config)),
             PacketType.QUANT: wire_format(quant_format(config))}
    if config.feeder:
        types[PacketType.TABLE] = wire_format(table_format(config), DERIVED[PacketType.TABLE])
        types[PacketType.IFM] = wire_format(ifm_format(config), DERIVED[PacketType.IFM])
        types[PacketType.PASSES] = wire_format(pass_format(config))
    else:
        types[PacketType.PIXELS] = wire_format(pixel_format(config))
    return types


def header(kind, count, bus_width, *, final=False, end=False):
    """The header word of a packet, as ``bus_width // 8`` bytes."""
    if not 0 <= count < 1 << 32:
        raise ValueError(f"a packet counts 0 .. 2**32-1 items, not {count}")
    word = np.zeros(bus_width // 8, dtype=np.uint8)
    word[0] = int(kind)
    word[1] = (FLAG_FINAL if final else 0) | (FLAG_END if end or final else 0)
    word[4:8] = np.frombuffer(int(count).to_bytes(4, "little"), dtype=np.uint8)
    return word


def packet(config, kind, columns, count, *, final=False, end=False):
    """One packet as a ``(words, bus_width // 8)`` uint8 array (``TLAST`` on the last word).

    ``columns`` are the per-beat arrays of the packet's sent fields; ``count`` is the
    header's item count (:data:`ITEMS`).
    """
    kind = PacketType(kind)
    bus_width = config.bus_width
    wire = packet_types(config).get(kind)
    if wire is None:
        raise ValueError(f"configuration {config.name} takes no {kind.name} packets")
    raw = wire.pack(columns)
    word_bytes = bus_width // 8
    words = wire.words(bus_width)
    payload = np.zeros((len(raw), words * word_bytes), dtype=np.uint8)
    payload[:, :wire.beat_bytes] = raw
    return np.concatenate([header(kind, count, bus_width, final=final, end=end)[None],
                           payload.reshape(-1, word_bytes)])


def parse_header(word):
    """``(type code, flags, count)`` of a header word (bytes)."""
    word = np.asarray(word, dtype=np.uint8)
    return int(word[0]), int(word[1]), int.from_bytes(word[4:8].tobytes(), "little")


@dataclasses.dataclass(frozen=True)
class ResultWire:
    """A result beat on the output stream: ``cols`` values, then the tag (two bytes)."""
    cols: int
    value_bytes: int
    tag_bytes: int = 2

    @property
    def beat_bytes(self):
        return self.cols * self.value_bytes + self.tag_bytes

    def words(self, bus_width):
        return -(-self.beat_bytes // (bus_width // 8))

    def unpack(self, stream_bytes, bus_width):
        """Output-stream bytes -> ``(values (beats, cols) int64, tags (beats,))``."""
        step = self.words(bus_width) * (bus_width // 8)
        data = np.asarray(stream_bytes, dtype=np.uint8)
        if data.size % step:
            raise ValueError(f"{data.size} output bytes are not whole result beats of {step}")
        beats = data.reshape(-1, step)
        size = self.value_bytes
        chunk = beats[:, :self.cols * size].reshape(len(beats), self.cols, size)
        values = _signed_le(chunk)
        tag_at = self.cols * size
        tags = beats[:, tag_at].astype(np.int64) | (beats[:, tag_at + 1].astype(np.int64) << 8)
        return values, tags


def result_wire(config, raw):
    """The :class:`ResultWire` of int8 results (``raw=False``) or raw accumulators."""
    width = config.acc_width if raw else config.ifm_width
    return ResultWire(config.cols, -(-width // 8))


def _document_configs():
    """The builds ``docs/packets.md`` lays out: the network build of ``make network`` (every
    feature on, 128-bit bus), and the same array without the feeder for ``PIXELS``."""
    from .config import ArrayConfig
    full = ArrayConfig(feeder=True, abft="both", acc_depth=64, feeder_tiles=16)
    return full, ArrayConfig(abft="both", acc_depth=64)


def markdown(config):
    """Byte layout of every packet type ``config``'s top takes, as markdown tables."""
    bus = config.bus_width
    lines = []
    for kind, wire in packet_types(config).items():
        lines += [f"### `{kind.name}` (type {int(kind)})", "",
                  f"Count: {ITEMS[kind]}. A beat is {wire.beat_bytes} bytes, "
                  f"{wire.words(bus)} word(s) of {bus // 8} bytes."
                  + (f" Not sent (derived by the receiver): "
                     f"{', '.join(f'`{n}`' for n in DERIVED[kind])}." if kind in DERIVED
                     else ""), "",
                  "| field | bytes | element | elements |", "|---|---|---|---|"]
        for field in wire.core.fields:
            if field.name not in wire.sent:
                continue
            kind_text = f"int{field.width}" if field.signed else f"uint{field.width}"
            if field.name in wire.flags:
                offset, bit = wire.flags[field.name]
                lines.append(f"| `{field.name}` | {offset} | flag, bit {bit} | 1 |")
                continue
            offset, size = wire.placement[field.name]
            shape = "x".join(str(s) for s in field.shape) or "1"
            end = offset + size * field.count - 1
            lines.append(f"| `{field.name}` | {offset}..{end} | {kind_text} in {size} byte(s) "
                         f"| {shape} |")
        lines.append("")
    return "\n".join(lines)


def result_markdown(config):
    bus = config.bus_width
    lines = ["| mode | values | tag | bytes per beat | words per beat |", "|---|---|---|---|---|"]
    for raw in (False, True):
        wire = result_wire(config, raw)
        lines.append(f"| {'raw' if raw else 'int8'} | {wire.cols} x {wire.value_bytes} byte(s)"
                     f" | 2 bytes | {wire.beat_bytes} | {wire.words(bus)} |")
    return "\n".join(lines) + "\n"


def document():
    """The whole ``docs/packets.md`` page."""
    full, streamed = _document_configs()
    sections = markdown(streamed).split("### ")
    pixel_section = "### " + next(s for s in sections if s.startswith("`PIXELS`"))
    return f"""\
# Packet formats of `sense_top`

Generated by `python -m sense_models.packets` from `models/packets.py`, which the packet
receiver (`sense_hw.packet_rx`), the result sender (`sense_hw.result_tx`) and the host driver
(`sense_models.driver`) all use; `tests/test_packets.py` checks this page is up to date.

{__doc__.split(chr(10), 2)[2].strip()}

## Header errors

The receiver's `STATUS.error` is sticky; `STATUS.error_code` keeps the first code until
`COMMAND.clear_status`:

| code | name | meaning |
|---|---|---|
{_error_rows()}

## Input packets of the network build `{full.name}`

{markdown(full)}
## `PIXELS` of a build without the feeder (`{streamed.name}`)

{pixel_section}
## Result beats (`{full.name}`)

{result_markdown(full)}"""


def _error_rows():
    rows = []
    for code, text in _ERROR_TEXT.items():
        rows.append(f"| {int(code)} | `{code.name}` | {text} |")
    return "\n".join(rows)


_ERROR_TEXT = {
    PacketError.UNKNOWN_TYPE: "a type this build does not take; dropped up to its TLAST",
    PacketError.BAD_COUNT: "count 0, or more items than the block holds (TABLE rows > "
                           "feeder_tiles, IFM pixels > acc_depth); dropped",
    PacketError.SHORT: "TLAST before the declared payload ended; the beats already complete "
                       "have reached the core, the partial one is discarded",
    PacketError.LONG: "no TLAST on the declared payload's last word; the declared beats "
                      "have reached the core, the rest is dropped",
    PacketError.IFM_BEFORE_TABLE: "IFM with no permutation table loaded for its layer; "
                                  "dropped",
    PacketError.BAD_KEEP: "a word with TKEEP not all ones; the packet is dropped from that "
                          "word on",
}


if __name__ == "__main__":
    import sys
    sys.stdout.write(document())

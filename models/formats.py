"""Bit-level formats of the core's stream payloads, shared by the RTL and the testbenches.

The hardware builds its ``data.StructLayout`` payloads from these descriptions
(:mod:`sense_hw.layouts`), and the host side packs and unpacks beats with the same ones, so
the two cannot disagree on a bit. Fields are laid out from bit 0 upwards in the order given;
a field with a shape is an array whose element ``[a][b]`` sits at flat position
``a * shape[1] + b`` (Amaranth's ``ArrayLayout`` order).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .intmath import to_unsigned, wrap

__all__ = ["Field", "BusFormat", "pixel_format", "weight_format", "result_format",
           "status_format", "fault_format", "ifm_format", "table_format", "pass_format",
           "stats_format", "quant_format"]


@dataclasses.dataclass(frozen=True)
class Field:
    """One payload field: ``shape`` elements of ``width`` bits each."""
    name: str
    width: int
    shape: tuple = ()
    signed: bool = False

    @property
    def count(self):
        return math.prod(self.shape)

    @property
    def bits(self):
        return self.width * self.count

    def column(self, values, beats=None):
        """``values`` for this field, checked, as an int64 array ``(beats, count)``.

        ``values`` must hold integers (or booleans) of shape ``(beats,) + shape`` that fit
        the field; floats, mis-shaped arrays and values out of range are errors, never cast
        or reshaped.
        """
        values = np.asarray(values)
        if values.size and not (np.issubdtype(values.dtype, np.integer)
                                or np.issubdtype(values.dtype, np.bool_)):
            raise TypeError(f"field {self.name} must hold integers, not {values.dtype}")
        n = values.shape[0] if values.ndim else None
        if n is None or (values.size and values.shape[1:] != self.shape):
            raise ValueError(f"field {self.name} must have shape (beats,) + {self.shape}, "
                             f"not {values.shape}")
        if beats is not None and n != beats:
            raise ValueError(f"field {self.name} has {n} beats, expected {beats}")
        values = values.astype(np.int64).reshape(n, self.count)
        lo = -(1 << (self.width - 1)) if self.signed else 0
        hi = (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1
        bad = np.argwhere((values < lo) | (values > hi))
        if bad.size:
            b, e = (int(i) for i in bad[0])
            raise ValueError(f"field {self.name} beat {b} element {e} = {int(values[b, e])} "
                             f"does not fit {'signed' if self.signed else 'unsigned'} "
                             f"{self.width} bits")
        return values


@dataclasses.dataclass(frozen=True)
class BusFormat:
    """An ordered set of fields packed into one integer per beat."""
    fields: tuple

    @property
    def width(self):
        return sum(f.bits for f in self.fields)

    def offset(self, name):
        position = 0
        for field in self.fields:
            if field.name == name:
                return position
            position += field.bits
        raise KeyError(name)

    def __getitem__(self, name):
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def pack(self, **columns):
        """Pack per-beat field arrays (leading axis = beat) into a list of Python ints."""
        raw = self.pack_bytes(**columns)
        return [int.from_bytes(row.tobytes(), "little") for row in raw]

    def to_hex(self, **columns):
        """Pack beats as ``$readmemh`` text: one big-endian hex word per line."""
        raw = self.pack_bytes(**columns)[:, ::-1]
        digits = (self.width + 3) // 4
        text = raw.tobytes().hex()
        step = 2 * raw.shape[1]
        return "".join(text[i + step - digits:i + step] + "\n" for i in range(0, len(text), step))

    def from_hex(self, text):
        """Unpack ``$writememh`` text into a dict of per-beat field arrays."""
        return self.unpack([int(line, 16) for line in text.split() if not line.startswith("//")])

    def pack_bytes(self, *, chunk=16384, **columns):
        """Pack per-beat field arrays into a ``(beats, bytes)`` little-endian uint8 array.

        Works through ``chunk`` beats at a time so that long streams stay small in memory.
        """
        beats = len(np.asarray(next(iter(columns.values())))) if columns else 0
        if beats > chunk:
            return np.concatenate([
                self._pack_bytes({k: np.asarray(v)[i:i + chunk] for k, v in columns.items()})
                for i in range(0, beats, chunk)])
        return self._pack_bytes(columns)

    def _pack_bytes(self, columns):
        names = {f.name for f in self.fields}
        if set(columns) != names:
            raise ValueError(f"pack needs exactly the fields {sorted(names)}, got {sorted(columns)}")
        beats = None
        planes = []
        for field in self.fields:
            values = field.column(columns[field.name], beats)
            beats = len(values)
            unsigned = to_unsigned(values, field.width)
            bits = (unsigned[:, :, None] >> np.arange(field.width)) & 1
            planes.append(bits.reshape(beats, field.bits).astype(np.uint8))
        bits = np.concatenate(planes, axis=1)
        return np.packbits(bits, axis=1, bitorder="little")

    def unpack(self, words):
        """Unpack a sequence of beat integers into a dict of per-beat field arrays."""
        nbytes = (self.width + 7) // 8
        raw = np.frombuffer(b"".join(int(w).to_bytes(nbytes, "little") for w in words),
                            dtype=np.uint8).reshape(len(words), nbytes)
        bits = np.unpackbits(raw, axis=1, bitorder="little")[:, :self.width].astype(np.int64)
        out = {}
        position = 0
        for field in self.fields:
            chunk = bits[:, position:position + field.bits].reshape(len(words), field.count,
                                                                    field.width)
            values = (chunk << np.arange(field.width)).sum(axis=2)
            if field.signed:
                values = wrap(values, field.width)
            out[field.name] = values.reshape((len(words),) + field.shape)
            position += field.bits
        return out


def pixel_format(config):
    """A pixel vector: one tile's IFM values of one pixel, ``[row][element]``, plus control.

    ``tag`` is the pixel's accumulator address; ``first`` marks the pass over the first
    reduction tile (the accumulator starts from zero), ``last`` the pass over the last one
    (the accumulator emits the result), ``end`` the last vector of a pass (the array
    switches to the other weight bank after it).

    With the pixel-side check, each pass ends with ``check_digits`` vectors flagged
    ``check``: digit ``digit`` of the pass's checksum pixel (see :mod:`sense_models.abft`);
    ``end`` then marks the last digit.

    In a feeder build this stream is internal (the feeder drives it): ``first`` and ``last``
    are then per pixel (its first and last issued vector of the kernel tile), and the
    pass's ``issued`` and ``skipped`` counts ride on its ``end`` beat. With ``abft="both"``
    every beat of a pass also carries the pass command's ``final`` (the kernel tile's last
    reduction tile): the drain of the held results starts on a ``final`` pass's ``end`` beat.
    """
    fields = [
        Field("data", config.ifm_width, (config.rows, config.row_span), signed=True),
        Field("tag", config.tag_width),
        Field("first", 1),
        Field("last", 1),
        Field("end", 1),
    ]
    if config.pixel_check:
        fields += [Field("check", 1), Field("digit", max(1, (config.check_digits - 1).bit_length()))]
    if config.feeder:  # the feeder's per-pass counts, valid with ``end``
        count = config.acc_depth.bit_length()
        fields += [Field("issued", count), Field("skipped", count)]
    if config.feeder and config.corrects:  # the pass's ``final`` (its command's), on every beat
        fields.append(Field("final", 1))
    return BusFormat(tuple(fields))


def weight_format(config):
    """One PE row of a weight tile: ``G/2`` (value, index) pairs for each column."""
    shape = (config.cols, config.mults_per_pe)
    fields = [Field("value", config.weight_width, shape, signed=True)]
    if config.sparse:
        fields.append(Field("index", config.index_width, shape))
    if config.kernel_check:
        # w_s of this row's group: dense over the group (the kernels' indices differ).
        fields.append(Field("checksum", config.checksum_weight_width, (config.row_span,),
                            signed=True))
    return BusFormat(tuple(fields))


def status_format(config):
    """The ABFT status the core exposes (see :mod:`sense_models.abft`); all counts saturate.

    ``error`` is sticky. ``pixel_*`` describe the first pixel-side mismatch (the pass counted
    from 0 since reset, the column and the syndrome), ``kernel_*`` the first kernel-side one
    (the result beat counted from 0, the syndrome); ``first_cycle`` is the cycle (counted
    from reset) in which the first mismatch was flagged; ``corrected`` counts the outputs
    corrected (``abft="both"``). With ``abft="both"``, ``control_errors`` counts the cycles in
    which a check of the control state failed (the weight-bank and drain state against a
    second copy, parity of the tag and drain pipelines, the outputs after correction against
    the checksum column); they set ``error`` too.
    """
    control = (Field("control_errors", 16),) if config.corrects else ()
    return BusFormat((
        Field("error", 1),
        Field("pixel_errors", 16),
        Field("kernel_errors", 16),
        Field("pixel_pass", 16),
        Field("pixel_column", max(1, (config.cols - 1).bit_length())),
        Field("pixel_syndrome", config.acc_width, signed=True),
        Field("kernel_beat", 32),
        Field("kernel_syndrome", config.acc_width, signed=True),
        Field("first_cycle", 32),
        Field("corrected", 16),
        *control,
    ))


def fault_format(config):
    """Run-time control of the fault-injection build's sites.

    ``mode`` 0 is off, 1 stuck-at-0, 2 stuck-at-1, 3 a one-cycle bit flip; the fault is
    active from cycle ``start`` (counted from reset) on, or only in it for a flip.
    """
    return BusFormat((
        Field("site", 16),
        Field("bit", max(1, (config.widest_fault_site - 1).bit_length())),
        Field("mode", 2),
        Field("start", 32),  # the last field: the bench harness offsets it
    ))


def result_format(config):
    """One pixel's accumulated outputs for the ``cols`` kernels of a kernel tile."""
    return BusFormat((
        Field("value", config.acc_width, (config.cols,), signed=True),
        Field("tag", config.tag_width),
    ))


def quant_format(config):
    """One parameter set of the output stage (see :mod:`sense_models.quant`).

    It applies to the next ``beats`` result beats (at least 1): per kernel ``bias`` (added
    with wrap-around in ``acc_width`` bits) and a layer-wide rounding right ``shift``, ReLU
    when ``relu``; ``raw`` passes the accumulators through unmodified instead; ``final``
    marks the layer's last set.
    """
    return BusFormat((
        Field("bias", config.acc_width, (config.cols,), signed=True),
        Field("shift", max(1, (config.acc_width - 1).bit_length())),
        Field("beats", 32),
        Field("relu", 1),
        Field("raw", 1),
        Field("final", 1),
    ))


# -- the IFM feeder's streams (feeder builds; see sense_models.feeder) -------------------------

def ifm_format(config):
    """One reduction tile of one pixel's IFM, in the original channel order.

    A pixel tile is loaded pixel by pixel, each pixel's tiles in order; ``last`` marks a
    pixel's last tile, ``end`` the pixel tile's last beat (always also ``last``), ``final``
    the layer's last beat: the IFM that follows waits until the next layer's table is loaded.
    """
    return BusFormat((
        Field("data", config.ifm_width, (config.rows, config.row_span), signed=True),
        Field("last", 1),
        Field("end", 1),
        Field("final", 1),
    ))


def table_format(config):
    """One row of the feeder's permutation table: where one source tile's elements go.

    Row ``t`` (beat ``t``) describes source reduction tile ``t``: destination lane ``l``
    takes the element in source lane ``lane[l]``, and that element belongs to rearranged
    tile ``tile[l]``. ``last`` marks the layer's last row.
    """
    lanes = (config.tile_reduction,)
    return BusFormat((
        Field("lane", config.lane_width, lanes),
        Field("tile", config.feeder_tile_width, lanes),
        Field("last", 1),
    ))


def pass_format(config):
    """One pass of a feeder build: which rearranged tile it reads.

    ``final`` marks the kernel tile's pass over the last reduction tile (pixels whose
    remaining tiles are all zero finish in it), ``release`` the pixel tile's last pass (its
    buffer bank is free after it), ``dense`` turns zero-vector skipping off for the pass.
    """
    return BusFormat((
        Field("tile", config.feeder_tile_width),
        Field("final", 1),
        Field("release", 1),
        Field("dense", 1),
    ))


def stats_format(config):
    """The counters of one pass: vectors issued and skipped, multiplies gated (zero IFM)."""
    count = config.acc_depth.bit_length()
    return BusFormat((
        Field("issued", count),
        Field("skipped", count),
        Field("gated", 32),
    ))

"""The host driver of ``sense_top``: runs a network layer after layer on a back-end.

A user hands the driver int8 layers (:class:`sense_models.network.QuantLayer`: weights,
bias, shift, ReLU, conv geometry) and a batch of input feature maps. For every layer the
driver lowers the convolution (:func:`sense_models.golden.im2col`, pixels of all images in
one matrix, so a pixel tile holds pixels of many images), packs the 1/2-sparse weights,
plans the feeder's channel order and table, schedules the passes and builds the packets
(:mod:`sense_models.packets`); a *back-end* executes the layer and returns its result
beats; the driver reassembles them into the next layer's int8 feature maps.

Back-ends (all with ``execute(job) -> LayerResult``, the RTL one awaitable):

* :class:`GoldenBackend`: NumPy, the golden model's answer;
* :class:`CycleBackend`: the same answer and the cycle model's counts: of ``sense_top``
  behind its bus (:mod:`sense_models.top_model`) and of the core alone with ideal streams;
* ``sense_verif.top_backend.RtlBackend``: the packets through ``sense_top`` on Verilator
  (cocotb), results parsed from the output stream.

Nothing here depends on cocotb.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect

import numpy as np

from .cycle_model import feeder_cycles, tiling_cycles
from .feeder import pack_for_feeder, plan_feeder, schedule_feeder
from .golden import im2col
from .intmath import check_range, wrap
from .packets import PacketType, packet, result_wire
from .quant import requantize
from .sparsity import check_half_sparse
from .tiling import schedule_layer
from .top_model import job_cycles

__all__ = ["LayerJob", "LayerResult", "Driver", "GoldenBackend", "CycleBackend",
           "lower", "plan_layer"]


@dataclasses.dataclass(eq=False)
class LayerJob:
    """One layer as the accelerator runs it.

    Attributes
    ----------
    config : ArrayConfig
    name : str
    packets : list of uint8 arrays ``(words, bus_bytes)``
        The input stream, in a deadlock-free order; ``TLAST`` on each one's last word.
    groups : list of (pixel range, kernel slice)
        The output packets in order: one per output-stage parameter set.
    raw : bool
        The layer's results leave as accumulators (``acc_width``) instead of int8.
    expected : int64 array (P, K)
        What the layer must return: int8 activations, or raw accumulators.
    schedule
        The feeder or streamed schedule (for the cycle model).
    out_shape : tuple
        ``(N, K, Ho, Wo)`` of the layer's output.
    """
    config: object
    name: str
    packets: list
    groups: list
    raw: bool
    expected: np.ndarray
    schedule: object
    out_shape: tuple

    @property
    def bytes_in(self):
        return int(sum(p.size for p in self.packets))

    @property
    def result_beats(self):
        return sum(len(pixels) for pixels, _ in self.groups)

    @property
    def bytes_out(self):
        wire = result_wire(self.config, self.raw)
        return self.result_beats * wire.words(self.config.bus_width) * self.config.bus_width // 8

    def assemble(self, values, tags):
        """Result beats (in output order) -> ``(P, K)``; checks count and tags."""
        values, tags = np.asarray(values), np.asarray(tags)
        if len(values) != self.result_beats:
            raise ValueError(f"layer {self.name}: got {len(values)} result beats, expected "
                             f"{self.result_beats}")
        y = np.zeros(self.expected.shape, dtype=np.int64)
        seen = np.zeros(self.expected.shape[0], dtype=np.int64)
        beat = 0
        kernels_total = self.expected.shape[1]
        for pixels, kernels in self.groups:
            n = len(pixels)
            got_tags = tags[beat:beat + n]
            if sorted(got_tags.tolist()) != list(range(n)):
                raise ValueError(f"layer {self.name}: result tags of pixels {pixels.start}.."
                                 f"{pixels.stop - 1} are not a permutation of 0..{n - 1}")
            width = min(kernels.stop, kernels_total) - kernels.start
            y[pixels.start + got_tags, kernels.start:kernels.start + width] = \
                values[beat:beat + n, :width]
            seen[pixels.start + got_tags] += 1
            beat += n
        return y


@dataclasses.dataclass
class LayerResult:
    """What a back-end returns for a job: the ``(P, K)`` output and, if known, cycles."""
    output: np.ndarray
    cycles: int | None = None
    model_cycles: int | None = None   # sense_top under steady traffic (the bus included)
    core_cycles: int | None = None    # the core alone, every stream always ready
    status: dict | None = None


def lower(layer, images):
    """``X`` (N*Ho*Wo, T) of a batch ``(N, C, H, W)`` and the output shape ``(N, K, Ho, Wo)``."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), not {images.shape}")
    k, c, kh, kw = layer.weights.shape
    if images.shape[1] != c:
        raise ValueError(f"layer {layer.name} takes {c} channels, the input has "
                         f"{images.shape[1]}")
    rows = [im2col(image, (kh, kw), stride=layer.stride, padding=layer.padding)
            for image in images]
    per_image = rows[0].shape[0]
    ho = (images.shape[2] + 2 * layer.padding - kh) // layer.stride + 1
    wo = per_image // ho
    return np.concatenate(rows).astype(np.int64), (len(images), k, ho, wo)


def _quant_columns(config, layer, kernels, beats, *, raw, final):
    bias = np.zeros(config.cols, dtype=np.int64)
    chunk = np.asarray(layer.bias, dtype=np.int64)[kernels]
    bias[:len(chunk)] = chunk
    return {"bias": bias[None], "shift": [layer.shift], "beats": [beats],
            "relu": [int(layer.relu)], "raw": [int(raw)], "final": [int(final)]}


def _chunks(pixels, parts):
    """``pixels`` (a range) cut into ``parts`` nearly equal non-empty ranges."""
    parts = max(1, min(parts, len(pixels)))
    edges = np.linspace(pixels.start, pixels.stop, parts + 1).round().astype(int)
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def plan_layer(config, layer, x, *, raw=False, channels=None, dense=False, name=None):
    """The :class:`LayerJob` of ``layer`` on the lowered input ``x`` (P, T).

    ``channels`` is the feeder's channel order (default: the identity, which keeps the
    network's pruning groups and so its exact arithmetic); ``dense`` turns skipping off.
    """
    check_range("X", x, config.ifm_width)
    w = np.asarray(layer.matrix, dtype=np.int64)
    k, c, kh, kw = layer.weights.shape
    if config.sparse:
        check_half_sparse(w, config.group)
    name = name or layer.name
    if config.feeder:
        order = tuple(range(c)) if channels is None else tuple(channels)
        plan = plan_feeder(config, order, kh * kw, w.shape[0])
        packed = pack_for_feeder(config, w, plan, prune_weights=False)
        schedule = schedule_feeder(config, x, packed, plan, dense=dense)
        packets, groups = _feeder_packets(config, layer, schedule, raw=raw)
    else:
        schedule = schedule_layer(config, x, w)
        packets, groups = _streamed_packets(config, layer, schedule, raw=raw)
    acc = schedule.expected
    if raw:
        expected = acc
    else:
        expected = requantize(acc, layer.bias, layer.shift, relu=layer.relu,
                              acc_width=config.acc_width, out_width=config.ifm_width)
    return LayerJob(config, name, packets, groups, raw, expected, schedule, None)


def _weights_packet(config, weights, n):
    rows = config.rows
    columns = {key: value[n * rows:(n + 1) * rows] for key, value in weights.items()}
    return packet(config, PacketType.WEIGHTS, columns, 1)


def _feeder_packets(config, layer, schedule, *, raw):
    """Packets of a feeder layer. Order: the table, the first two pixel tiles' IFM, then
    per pass its weights and command; the IFM of tile ``pt + 2`` goes in pieces between the
    passes of tile ``pt + 1`` (its bank is free once tile ``pt`` is done), so the loads
    overlap the passes instead of holding them up."""
    tiling = schedule.tiling
    n_tiles, per_tile = tiling.reduction_tiles, tiling.reduction_tiles * tiling.kernel_tiles
    cols = config.cols
    table = {"lane": schedule.plan.lanes, "tile": schedule.plan.tiles}
    packets = [packet(config, PacketType.TABLE, table, n_tiles)]
    last_tile = tiling.pixel_tiles - 1

    def ifm(pixels, pt, end):
        beats = slice(pixels.start * n_tiles, pixels.stop * n_tiles)
        return packet(config, PacketType.IFM, {"data": schedule.ifm["data"][beats]},
                      len(pixels), end=end, final=end and pt == last_tile)

    def ifm_pieces(pt, parts):
        pieces = _chunks(tiling.pixel_tile(pt), parts)
        return [ifm(p, pt, i == len(pieces) - 1) for i, p in enumerate(pieces)]

    for pt in range(min(2, tiling.pixel_tiles)):
        packets += ifm_pieces(pt, 1)
    groups = []
    for pt in range(tiling.pixel_tiles):
        later = ifm_pieces(pt + 1, per_tile) if 1 <= pt < last_tile else []
        for i in range(per_tile):
            n = pt * per_tile + i
            kt = i // n_tiles
            kernels = slice(kt * cols, (kt + 1) * cols)
            if i % n_tiles == 0:
                pixels = tiling.pixel_tile(pt)
                final = pt == last_tile and kt == tiling.kernel_tiles - 1
                packets.append(packet(config, PacketType.QUANT, _quant_columns(
                    config, layer, kernels, len(pixels), raw=raw, final=final), 1))
                groups.append((pixels, kernels))
            packets.append(_weights_packet(config, schedule.weights, n))
            command = {key: value[n:n + 1] for key, value in schedule.passes.items()}
            packets.append(packet(config, PacketType.PASSES, command, 1))
            if i < len(later):
                packets.append(later[i])
        packets += later[per_tile:]
    return packets, groups


def _streamed_packets(config, layer, schedule, *, raw):
    """Packets of a layer on a build without the feeder: per pass its weights and its
    pixel vectors (with the checksum digits), after its group's output parameters."""
    tiling = schedule.tiling
    cols, digits = config.cols, config.check_digits
    packets, groups, start = [], [], 0
    for n, (kt, pt, rt) in enumerate(tiling.passes):
        pixels = tiling.pixel_tile(pt)
        kernels = slice(kt * cols, (kt + 1) * cols)
        if rt == 0:
            final = n + tiling.reduction_tiles == len(tiling.passes)
            packets.append(packet(config, PacketType.QUANT, _quant_columns(
                config, layer, kernels, len(pixels), raw=raw, final=final), 1))
            groups.append((pixels, kernels))
        packets.append(_weights_packet(config, schedule.weights, n))
        beats = len(pixels) + digits
        vectors = {key: value[start:start + beats] for key, value in schedule.pixels.items()}
        packets.append(packet(config, PacketType.PIXELS, vectors, beats))
        start += beats
    return packets, groups


class GoldenBackend:
    """The golden model: returns what the layer must compute."""

    def execute(self, job):
        return LayerResult(job.expected.copy())


class CycleBackend(GoldenBackend):
    """The golden answer and the cycle models' counts: ``cycles`` (= ``model_cycles``) of
    ``sense_top`` under steady traffic, ``core_cycles`` of the core with ideal streams."""

    def execute(self, job):
        result = super().execute(job)
        config = job.config
        if config.feeder:
            result.core_cycles = feeder_cycles(config, job.schedule)
        else:
            result.core_cycles = tiling_cycles(config, job.schedule.tiling)
        result.model_cycles = result.cycles = job_cycles(job)
        return result


class Driver:
    """Runs layers and whole networks on a back-end.

    Parameters
    ----------
    config : ArrayConfig
        The accelerator's configuration (as ``sense_top`` reports it in its registers).
    backend
        An object with ``execute(job) -> LayerResult`` (or an awaitable of one).
    """

    def __init__(self, config, backend):
        self.config = config
        self.backend = backend
        self.log = []  # (job, result) of every layer run

    async def run_layer_async(self, layer, images, *, raw=False, channels=None):
        """``layer`` on a batch ``(N, C, H, W)``; returns ``(N, K, Ho, Wo)``.

        A layer whose reduction is longer than a feeder build holds runs in parts of whole
        channels (aligned to the sparsity groups), each in raw mode; the host adds the
        parts up (wrapping in ``acc_width`` like the accumulators) and finishes the output
        stage itself.
        """
        parts = self._channel_parts(layer)
        if len(parts) > 1:
            if channels is not None:
                raise ValueError(f"layer {layer.name} runs in {len(parts)} parts; a channel "
                                 f"order applies to single-part layers only")
            total = 0
            for c0, c1 in parts:
                part = dataclasses.replace(layer, name=f"{layer.name}[c{c0}:{c1}]",
                                           weights=layer.weights[:, c0:c1])
                total = total + await self.run_layer_async(part, np.asarray(images)[:, c0:c1],
                                                           raw=True)
            total = wrap(total, self.config.acc_width)
            if raw:
                return total
            return requantize(np.moveaxis(total, 1, -1), layer.bias, layer.shift,
                              relu=layer.relu, acc_width=self.config.acc_width,
                              out_width=self.config.ifm_width).transpose(0, 3, 1, 2)
        x, shape = lower(layer, images)
        job = plan_layer(self.config, layer, x, raw=raw, channels=channels)
        job.out_shape = shape
        result = self.backend.execute(job)
        if inspect.isawaitable(result):
            result = await result
        if result.output.shape != job.expected.shape:
            raise ValueError(f"layer {layer.name}: the back-end returned "
                             f"{result.output.shape}, expected {job.expected.shape}")
        self.log.append((job, result))
        n, k, ho, wo = shape
        return result.output.reshape(n, ho, wo, k).transpose(0, 3, 1, 2)

    def _channel_parts(self, layer):
        """``[(c0, c1)]``: the channel ranges that each fit the feeder (one part without)."""
        _, c, kh, kw = layer.weights.shape
        cfg = self.config
        area = kh * kw
        if not cfg.feeder or c * area <= cfg.feeder_tiles * cfg.tile_reduction:
            return [(0, c)]
        step = cfg.feeder_tiles * cfg.tile_reduction // area
        step -= step % (cfg.group // np.gcd(cfg.group, area))  # whole sparsity groups
        if step < 1:
            raise ValueError(f"layer {layer.name}: one channel of {area} elements does not "
                             f"fit the feeder ({cfg.feeder_tiles} tiles of "
                             f"{cfg.tile_reduction})")
        return [(c0, min(c0 + step, c)) for c0 in range(0, c, step)]

    async def run_network_async(self, layers, images):
        """Every layer in turn; the last one (the classifier) in raw mode, its bias added
        on the host as :func:`sense_models.network.forward` does. Returns the logits
        ``(N, classes)``."""
        x = np.asarray(images, dtype=np.int64)
        for n, layer in enumerate(layers):
            last = n == len(layers) - 1
            y = await self.run_layer_async(layer, x, raw=last)
            if last:
                return wrap(y.reshape(len(y), y.shape[1], -1)[:, :, 0]
                            + np.asarray(layer.bias, dtype=np.int64), 32)
            x = y
        raise ValueError("a network needs at least one layer")

    def run_network(self, layers, images):
        """:meth:`run_network_async` for a synchronous back-end."""
        return asyncio.run(self.run_network_async(layers, images))

    def run_layer(self, layer, images, **options):
        return asyncio.run(self.run_layer_async(layer, images, **options))

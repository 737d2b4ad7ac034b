"""Tiling of a lowered layer ``Y = X @ W`` onto a rows x cols array, and its stream contents.

A layer is a loop over kernel tiles (``cols`` kernels) x pixel tiles (``acc_depth`` pixels) x
reduction tiles (``tile_reduction`` elements), innermost last. Each step is a *pass*: one
weight tile is loaded and the pixel tile's vectors stream through it. The accumulators sum a
pixel's partial results over the reduction tiles of its kernel tile and emit them after the
last one. Ragged edges are padded with zeros: kernels up to a multiple of ``cols``, the
reduction up to a multiple of ``tile_reduction``; the last pixel tile is simply shorter.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .abft import digits, kernel_checksum
from .golden import matmul
from .intmath import check_range
from .sparsity import check_half_sparse, pack

__all__ = ["Tiling", "Schedule", "tile_layer", "array_weights", "weight_beats",
           "schedule_layer", "results_to_matrix"]


def _ceil_div(a, b):
    return -(-a // b)


@dataclasses.dataclass(frozen=True)
class Tiling:
    """How a ``(P, T, K)`` layer maps onto ``config``; ``passes`` lists them in issue order."""
    config: object
    pixels: int
    reduction: int
    kernels: int

    def __post_init__(self):
        for name in ("pixels", "reduction", "kernels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"a layer needs at least one of each dimension; {name} = {value!r}")

    @property
    def reduction_tiles(self):
        return _ceil_div(self.reduction, self.config.tile_reduction)

    @property
    def kernel_tiles(self):
        return _ceil_div(self.kernels, self.config.cols)

    @property
    def pixel_tiles(self):
        return _ceil_div(self.pixels, self.config.acc_depth)

    def pixel_tile(self, pt):
        """``range`` of the pixels of pixel tile ``pt``."""
        start = pt * self.config.acc_depth
        return range(start, min(start + self.config.acc_depth, self.pixels))

    @property
    def passes(self):
        """``(kernel_tile, pixel_tile, reduction_tile)`` of every pass, in issue order."""
        return [(kt, pt, rt) for kt in range(self.kernel_tiles)
                for pt in range(self.pixel_tiles) for rt in range(self.reduction_tiles)]

    @property
    def pass_pixels(self):
        """Pixel vectors issued by each pass."""
        return [len(self.pixel_tile(pt)) for _, pt, _ in self.passes]

    @property
    def dense_macs(self):
        """Multiply-accumulates of the dense (unpruned) layer."""
        return self.pixels * self.reduction * self.kernels


def tile_layer(config, pixels, reduction, kernels):
    return Tiling(config, pixels, reduction, kernels)


def array_weights(config, w):
    """Weights as the array stores them: ``(values, indices)`` of shape (row groups, K, G/2).

    Row group ``r`` is what one PE row covers in reduction order: ``G`` elements (sparse, as
    packed values and indices) or ``G/2`` (dense, ``indices`` is ``None``). ``W`` is padded
    with zero rows to whole tiles and zero kernels to whole kernel tiles first.
    """
    padded = _pad_weights(config, w)
    if config.sparse:
        packed = pack(padded, config.group, weight_width=config.weight_width)
        return packed.values, packed.indices
    check_range("W", padded, config.weight_width)
    m = config.mults_per_pe
    return padded.reshape(-1, m, padded.shape[1]).transpose(0, 2, 1).astype(np.int64), None


def _pad_weights(config, w):
    """``W`` with zero rows up to whole reduction tiles and zero kernels up to whole tiles."""
    w = np.asarray(w)
    t, k = w.shape
    return np.pad(w, ((0, -t % config.tile_reduction), (0, -k % config.cols)))


def weight_beats(config, wp, values, indices, passes):
    """The ``weights`` stream's field arrays: each pass's tile, ``rows`` beats per pass.

    ``wp`` is ``W`` padded to whole tiles (for the kernel checksum), ``values`` and
    ``indices`` its :func:`array_weights`; ``passes`` are ``(kernel_tile, _, reduction_tile)``
    in issue order.
    """
    rows, cols, tr = config.rows, config.cols, config.tile_reduction
    wv, wi, ws = [], [], []
    for kt, _, rt in passes:
        row_groups = slice(rt * rows, (rt + 1) * rows)
        kernels = slice(kt * cols, (kt + 1) * cols)
        wv.append(values[row_groups, kernels])
        if indices is not None:
            wi.append(indices[row_groups, kernels])
        if config.kernel_check:
            ws.append(kernel_checksum(wp[rt * tr:(rt + 1) * tr, kernels]).reshape(rows, -1))
    weights = {"value": np.concatenate(wv)}
    if indices is not None:
        weights["index"] = np.concatenate(wi)
    if config.kernel_check:
        weights["checksum"] = np.concatenate(ws)
    return weights


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Everything that crosses the core's streams for one layer, as per-beat field arrays.

    ``weights`` has ``rows`` beats per pass, ``pixels`` one beat per pixel of every pass
    (followed, with the pixel-side check, by the pass's checksum digit vectors), and
    ``results`` the expected result beats, in order.
    """
    tiling: Tiling
    weights: dict
    pixels: dict
    results: dict
    expected: np.ndarray


def schedule_layer(config, x, w):
    """The stream contents and the golden result of ``Y = X @ W`` on ``config``.

    ``W`` must satisfy the 1/2 sparsity rule when ``config.sparse`` (see
    :func:`sense_models.sparsity.check_half_sparse`).
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"cannot multiply X{x.shape} by W{w.shape}")
    if config.sparse:
        check_half_sparse(w, config.group)
    expected = matmul(x, w, acc_width=config.acc_width, ifm_width=config.ifm_width,
                      weight_width=config.weight_width)
    tiling = tile_layer(config, x.shape[0], x.shape[1], w.shape[1])
    wp = _pad_weights(config, w.astype(np.int64))
    values, indices = array_weights(config, wp)
    tr, rows, cols = config.tile_reduction, config.rows, config.cols
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, -x.shape[1] % tr)))
    yp = np.pad(expected, ((0, 0), (0, -w.shape[1] % cols)))

    pix, tags, first, last, end, check, digit, res_v, res_t = ([] for _ in range(9))
    n_digits = config.check_digits
    for kt, pt, rt in tiling.passes:
        kernels = slice(kt * cols, (kt + 1) * cols)
        pixels = tiling.pixel_tile(pt)
        n = len(pixels)
        data = xp[pixels.start:pixels.stop, rt * tr:(rt + 1) * tr]
        if n_digits:  # the pass's checksum pixel follows it as digit vectors
            data = np.concatenate([data, digits(data.sum(axis=0), n_digits,
                                                ifm_width=config.ifm_width)])
        beats = n + n_digits
        pix.append(data.reshape(beats, rows, -1))
        tags.append(np.arange(beats) % config.acc_depth)
        first.append(np.full(beats, rt == 0))
        last.append(np.full(beats, rt == tiling.reduction_tiles - 1))
        end.append(np.arange(beats) == beats - 1)
        check.append(np.arange(beats) >= n)
        digit.append(np.maximum(np.arange(beats) - n, 0))
        if rt == tiling.reduction_tiles - 1:
            res_v.append(yp[pixels.start:pixels.stop, kernels])
            res_t.append(np.arange(n))
    weights = weight_beats(config, wp, values, indices, tiling.passes)
    pixels = {"data": np.concatenate(pix), "tag": np.concatenate(tags),
              "first": np.concatenate(first).astype(np.int64),
              "last": np.concatenate(last).astype(np.int64),
              "end": np.concatenate(end).astype(np.int64)}
    if n_digits:
        pixels["check"] = np.concatenate(check).astype(np.int64)
        pixels["digit"] = np.concatenate(digit)
    results = {"value": np.concatenate(res_v), "tag": np.concatenate(res_t)}
    return Schedule(tiling, weights, pixels, results, expected)


def results_to_matrix(tiling, values):
    """Reassemble result beats (in issue order, shape (beats, cols)) into ``Y`` (P, K)."""
    cols = tiling.config.cols
    values = np.asarray(values)
    expected_beats = tiling.kernel_tiles * tiling.pixels
    if values.shape != (expected_beats, cols):
        raise ValueError(f"expected {expected_beats} result beats of {cols} values, "
                         f"got shape {values.shape}")
    y = values.reshape(tiling.kernel_tiles, tiling.pixels, cols).transpose(1, 0, 2)
    return y.reshape(tiling.pixels, -1)[:, :tiling.kernels]

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

__all__ = ["Tiling", "Schedule", "Pass", "tile_layer", "array_weights", "weight_beats",
           "issue_plan", "schedule_passes", "result_beats", "schedule_layer",
           "results_to_matrix"]


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


def issue_plan(nonzero, rt, final, *, dense=False):
    """What one pass issues: ``(pixels, first, last)`` arrays, in issue order.

    The one issue rule of both builds. ``nonzero`` (pixels, reduction tiles) flags the
    pixel tile's non-zero vectors; ``rt`` is the pass's reduction tile, ``final`` whether it
    is the last. A pixel's first issued vector starts its accumulator and its last one
    emits it. With ``dense`` (and on a build without the feeder, which streams every
    vector) every pixel is issued in every pass, in tag order. Skipping issues only the
    non-zero vectors; a pixel that is zero everywhere is issued once, in the final pass, so
    its (zero) result is still emitted; a pass with nothing to issue sends pixel 0's zero
    vector as a placeholder, neither first nor last.
    """
    eff = np.ones_like(nonzero) if dense else nonzero
    live = eff[:, rt] | (final & ~eff.any(axis=1))
    first = ~eff[:, :rt].any(axis=1)
    last = final | ~eff[:, rt + 1:].any(axis=1)
    pixels = np.flatnonzero(live)
    if not pixels.size:
        return np.array([0]), np.array([False]), np.array([False])
    return pixels, first[pixels], last[pixels]


@dataclasses.dataclass(frozen=True)
class Pass:
    """One pass of a schedule: its tiles, what it issues and which results it releases."""
    kernel_tile: int
    pixel_tile: int
    reduction_tile: int
    final: bool          # the kernel tile's last reduction tile
    pixels: range        # the pixel tile's pixels (global numbers)
    kernels: slice       # the kernel tile's columns of Y
    issued: np.ndarray   # pixel tags (within the tile) in issue order
    first: np.ndarray    # ... whose vector starts its accumulator
    last: np.ndarray     # ... whose vector completes it
    results: np.ndarray  # tags whose result beats leave after this pass, in order


def schedule_passes(config, tiling, order, nonzero=None, *, dense=True):
    """The passes of a layer in ``order`` (``(kernel_tile, pixel_tile, reduction_tile)``
    tuples) under one of two issue policies: ``dense`` issues every pixel in every pass
    (the streamed build, or a feeder build with skipping off); otherwise ``nonzero`` (P,
    reduction tiles) flags the vectors worth issuing and :func:`issue_plan` skips the rest.

    Results leave as each pixel completes its kernel tile, in issue order; with
    ``abft="both"`` the core holds a pixel tile's results until the kernel tile's final
    pass has been checked and then drains them in tag order ``0 .. pixels-1``.
    """
    if nonzero is None:
        if not dense:
            raise ValueError("skipping needs the non-zero flags of every vector")
        nonzero = np.ones((tiling.pixels, tiling.reduction_tiles), dtype=bool)
    cols = config.cols
    passes = []
    for kt, pt, rt in order:
        pixels = tiling.pixel_tile(pt)
        final = rt == tiling.reduction_tiles - 1
        who, first, last = issue_plan(nonzero[pixels.start:pixels.stop], rt, final,
                                      dense=dense)
        if config.corrects:
            done = np.arange(len(pixels)) if final else np.zeros(0, dtype=np.int64)
        else:
            done = who[last]
        passes.append(Pass(kt, pt, rt, final, pixels, slice(kt * cols, (kt + 1) * cols),
                           who, first, last, done))
    return passes


def result_beats(config, expected, passes):
    """The ``results`` stream's arrays (``value``, ``tag``) the ``passes`` release, from
    the golden ``expected`` (P, K) (kernels padded to whole tiles)."""
    yp = np.pad(expected, ((0, 0), (0, -expected.shape[1] % config.cols)))
    return {"value": np.concatenate([yp[p.pixels.start + p.results, p.kernels]
                                     for p in passes]),
            "tag": np.concatenate([p.results for p in passes])}


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
    """The stream contents and the golden result of ``Y = X @ W`` on a streamed build.

    ``W`` must satisfy the 1/2 sparsity rule when ``config.sparse`` (see
    :func:`sense_models.sparsity.check_half_sparse`). Every pass streams every pixel of its
    tile (the dense policy of :func:`schedule_passes`), kernel tiles outermost.
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
    tr, rows = config.tile_reduction, config.rows
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, -x.shape[1] % tr)))
    passes = schedule_passes(config, tiling, tiling.passes)

    stream = {key: [] for key in ("data", "tag", "first", "last", "end", "check", "digit")}
    n_digits = config.check_digits
    for p in passes:
        n = len(p.issued)
        data = xp[p.pixels.start + p.issued, p.reduction_tile * tr:(p.reduction_tile + 1) * tr]
        if n_digits:  # the pass's checksum pixel follows it as digit vectors
            data = np.concatenate([data, digits(data.sum(axis=0), n_digits,
                                                ifm_width=config.ifm_width)])
        beats = n + n_digits
        stream["data"].append(data.reshape(beats, rows, -1))
        stream["tag"].append(np.arange(beats) % config.acc_depth)
        stream["first"].append(np.concatenate([p.first, np.full(n_digits, p.first[0])]))
        stream["last"].append(np.concatenate([p.last, np.full(n_digits, p.last[0])]))
        stream["end"].append(np.arange(beats) == beats - 1)
        stream["check"].append(np.arange(beats) >= n)
        stream["digit"].append(np.maximum(np.arange(beats) - n, 0))
    keys = ("data", "tag", "first", "last", "end") + (("check", "digit") if n_digits else ())
    pixels = {key: np.concatenate(stream[key]).astype(np.int64) for key in keys}
    weights = weight_beats(config, wp, values, indices, tiling.passes)
    return Schedule(tiling, weights, pixels, result_beats(config, expected, passes), expected)


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

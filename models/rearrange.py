"""Channel rearrangement by activation sparsity, and the golden counts of what it buys.

Post-ReLU input channels differ a lot in density (some are dead). Ordering the channels by
measured density puts channels of similar density into the same reduction tiles, so whole
tiles of a pixel are zero more often: such pixel vectors need not be issued at all, and
zero operands gate multipliers. The weights follow the same order, so ``X' @ W' = X @ W``.

Reduction index of a lowered convolution: ``t = (c * kh + r) * kw + s``
(:func:`sense_models.golden.im2col`), so a channel permutation moves blocks of ``kh * kw``
consecutive reduction elements.
"""

from __future__ import annotations

import numpy as np

from .sparsity import operand_elements, pack

__all__ = ["check_permutation", "cluster_by_density", "reduction_order", "permute_layer",
           "zero_vectors", "zero_operands"]


def check_permutation(table, channels):
    """Raise ``ValueError`` unless ``table`` is a permutation of ``0 .. channels-1``."""
    table = np.asarray(table)
    if table.ndim != 1 or len(table) != channels:
        raise ValueError(f"a channel permutation of {channels} channels needs {channels} "
                         f"entries, not shape {table.shape}")
    if not np.issubdtype(table.dtype, np.integer):
        raise ValueError(f"a channel permutation holds integers, not {table.dtype}")
    counts = np.bincount(np.clip(table, 0, channels), minlength=channels + 1)
    missing = np.flatnonzero(counts[:channels] == 0)
    if missing.size or table.min() < 0 or table.max() >= channels:
        bad = [int(v) for v in table if v < 0 or v >= channels]
        twice = [int(v) for v in np.flatnonzero(counts[:channels] > 1)]
        raise ValueError(f"not a permutation of 0..{channels - 1}: missing {missing.tolist()}"
                         + (f", repeated {twice}" if twice else "")
                         + (f", out of range {bad}" if bad else ""))


def cluster_by_density(density):
    """The channel order that groups channels of similar density: densest first.

    Sorting is the exact answer for grouping a one-dimensional quantity into consecutive
    equal-size tiles; ties keep the original order, so the result is deterministic.
    Dead channels (density 0) end up together at the end.
    """
    density = np.asarray(density, dtype=float)
    return np.argsort(-density, kind="stable")


def reduction_order(table, kernel_area):
    """Reduction indices ``t`` in the order the channel permutation ``table`` gives."""
    table = np.asarray(table)
    check_permutation(table, len(table))
    return (table[:, None] * kernel_area + np.arange(kernel_area)).reshape(-1)


def permute_layer(x, w, table, kernel_area):
    """``X`` (P, T) and ``W`` (T, K) with the reduction in channel order ``table``."""
    order = reduction_order(table, kernel_area)
    if np.shape(x)[1] != len(order) or np.shape(w)[0] != len(order):
        raise ValueError(f"{len(table)} channels x {kernel_area} does not match X{np.shape(x)} "
                         f"and W{np.shape(w)}")
    return np.asarray(x)[:, order], np.asarray(w)[order]


def zero_vectors(x, tile_reduction):
    """Pixel vectors ``(pixel, reduction tile)`` that are zero over the whole tile.

    ``x`` (P, T) is padded to whole tiles; returns a boolean (P, tiles) array.
    """
    x = np.asarray(x)
    padded = np.pad(x, ((0, 0), (0, -x.shape[1] % tile_reduction)))
    return ~padded.reshape(x.shape[0], -1, tile_reduction).any(axis=2)


def zero_operands(x, w, group):
    """``(gated, total)`` multiplies of a 1/2-sparse layer: how many meet a zero IFM value.

    Each PE lane multiplies the IFM value its packed index selects
    (:func:`sense_models.sparsity.pack`, zero-filled slots included), once per pixel.
    """
    x = np.asarray(x)
    packed = pack(np.asarray(w), group)
    elements = operand_elements(packed.indices, group)
    operands = np.pad(x, ((0, 0), (0, packed.indices.shape[0] * group - x.shape[1])))[:, elements]
    return int(np.count_nonzero(operands == 0)), int(operands.size)

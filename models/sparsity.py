"""1/2 kernel weight sparsity: the magnitude pruner and the packed weight format.

A kernel is a column of ``W`` (shape ``(T, K)``). It is cut along ``t`` into groups of ``G``
consecutive elements (the last group is padded with zeros when ``G`` does not divide ``T``) and
every group keeps exactly ``G/2`` weights, stored as (value, index-within-group) pairs with the
indices in ascending order. A group with fewer than ``G/2`` non-zeros is filled with zero-valued
weights at the lowest free indices, so packing is deterministic and the round trip is exact.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .intmath import check_range

__all__ = ["PackedWeights", "prune", "pack", "unpack", "check_half_sparse", "pad_to_groups",
           "operand_elements"]


def _check_group(group):
    if isinstance(group, bool) or not isinstance(group, (int, np.integer)) \
            or group < 2 or group & (group - 1):
        raise ValueError(f"group must be a power of two of at least 2, not {group!r}")


def _check_matrix(w):
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"weights must be a (T, K) matrix, not shape {w.shape}")
    if not np.issubdtype(w.dtype, np.integer):
        raise TypeError(f"weights must be integers, not {w.dtype}")
    return w


def pad_to_groups(w, group):
    """Pad ``W`` (T, K) with zero rows so that ``G`` divides ``T``."""
    t = w.shape[0]
    return np.pad(w, ((0, -t % group), (0, 0)))


def prune(w, group):
    """Keep the ``G/2`` largest-magnitude weights of every group of every kernel.

    Ties keep the lower index. Returns a matrix of the same shape and dtype as ``w``.
    """
    _check_group(group)
    w = _check_matrix(w)
    t, k = w.shape
    grouped = pad_to_groups(w, group).reshape(-1, group, k)
    order = np.argsort(-np.abs(grouped.astype(np.int64)), axis=1, kind="stable")
    keep = np.zeros(grouped.shape, dtype=bool)
    np.put_along_axis(keep, order[:, :group // 2, :], True, axis=1)
    return np.where(keep, grouped, 0).reshape(-1, k)[:t].astype(w.dtype)


def check_half_sparse(w, group):
    """Raise ``ValueError`` naming the first kernel and group with more than ``G/2`` non-zeros."""
    _check_group(group)
    w = _check_matrix(w)
    grouped = pad_to_groups(w, group).reshape(-1, group, w.shape[1])
    counts = np.count_nonzero(grouped, axis=1)  # (groups, K)
    bad = np.argwhere(counts > group // 2)
    if bad.size:
        g, k = (int(i) for i in bad[np.lexsort((bad[:, 0], bad[:, 1]))][0])
        raise ValueError(
            f"kernel {k}, group {g} (t = {g * group}..{g * group + group - 1}) has "
            f"{int(counts[g, k])} non-zero weights; 1/2 sparsity with G={group} allows at most "
            f"{group // 2}. Prune the weights first (sense_models.sparsity.prune).")


@dataclasses.dataclass(frozen=True)
class PackedWeights:
    """Compressed 1/2-sparse weights.

    Attributes
    ----------
    values : int64 array (groups, K, G/2)
        Kept weights of each group of each kernel, in ascending index order.
    indices : int64 array (groups, K, G/2)
        Position of each kept weight within its group, ``0 .. G-1``, strictly ascending.
    group : int
        ``G``.
    length : int
        ``T``, the reduction length before padding to whole groups.
    """

    values: np.ndarray
    indices: np.ndarray
    group: int
    length: int

    @property
    def kernels(self):
        return self.values.shape[1]


def pack(w, group, *, weight_width=8):
    """Pack a 1/2-sparse ``W`` (T, K) into values and indices; see :class:`PackedWeights`."""
    w = _check_matrix(w)
    check_range("W", w, weight_width)
    check_half_sparse(w, group)
    t, k = w.shape
    grouped = pad_to_groups(w, group).reshape(-1, group, k).transpose(0, 2, 1)  # (groups, K, G)
    # Non-zeros first, then zeros, each in ascending index order; keep G/2 and re-sort by index.
    order = np.argsort(grouped == 0, axis=2, kind="stable")[:, :, :group // 2]
    indices = np.sort(order, axis=2)
    values = np.take_along_axis(grouped, indices, axis=2)
    return PackedWeights(values.astype(np.int64), indices.astype(np.int64), group, t)


def unpack(packed):
    """Expand :class:`PackedWeights` back to the dense ``W`` (T, K)."""
    groups, k, _ = packed.values.shape
    if not 0 < packed.length <= groups * packed.group:
        raise ValueError(f"length {packed.length} does not fit {groups} groups of {packed.group}")
    if np.any(np.diff(packed.indices, axis=2) <= 0) or np.any(packed.indices < 0) \
            or np.any(packed.indices >= packed.group):
        raise ValueError("packed indices must be strictly ascending within 0..G-1 in every group")
    dense = np.zeros((groups, k, packed.group), dtype=np.int64)
    np.put_along_axis(dense, packed.indices, packed.values, axis=2)
    return dense.transpose(0, 2, 1).reshape(-1, k)[:packed.length]


def operand_elements(indices, span):
    """The reduction element each multiplier reads, shape (groups, K, G/2).

    Group ``g`` covers elements ``g * span ..``; a lane reads the one its index selects
    (sparse: ``indices`` from :func:`pack`, ``span = G``; dense: the lane itself,
    ``span = G/2``).
    """
    indices = np.asarray(indices)
    return np.arange(indices.shape[0])[:, None, None] * span + indices

"""The IFM feeder of a ``feeder=True`` build: host-side planning, packing and golden behaviour.

The host loads a pixel tile's IFM into the core's buffer in the original channel order, one
source reduction tile of one pixel per beat. On the way in, the feeder moves every element
to its place in the rearranged order given by a channel permutation (the *table*), and
notes which rearranged tiles of the pixel hold a non-zero. Passes then read rearranged
tiles; a pixel vector that is zero over the pass's tile is not issued at all.

The buffer has one memory per lane (element position within a vector), so each beat can
write one element into every lane, each at its own address. A channel permutation is
realised by choosing, for every element, the destination lane within its rearranged tile
so that the elements of one source tile go to distinct lanes; such a choice always exists
(an edge colouring of a regular bipartite multigraph, source tiles x rearranged tiles, one
edge per element: König's theorem). Which tile an element lands in is what the
permutation decides, and what decides skipping; the lane within the tile only moves it
inside its pruning group, and the packer prunes in that final order.

Per kernel tile, each pixel's vectors go out in tile order over the tiles where it is
non-zero: its first issued vector starts its accumulator, its last one emits the result.
A pixel that is zero everywhere is issued once, in the final pass, so its (zero) result is
still emitted. A pass with nothing to issue sends pixel 0's zero vector as a placeholder
(neither first nor last), because every pass has to consume its weight tile.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from .golden import matmul
from .intmath import check_range
from .rearrange import check_permutation, reduction_order, zero_vectors
from .sparsity import check_half_sparse, operand_elements, prune
from .tiling import (Tiling, array_weights, issue_plan, result_beats, schedule_passes,
                     weight_beats)

__all__ = ["FEEDER_DEPTH", "feeder_build", "FeederPlan", "plan_feeder", "FeederWeights",
           "pack_for_feeder", "FeederSchedule", "schedule_feeder",
           "feeder_pass_order"]


#: Pixel-tile depth of the feeder build that the bench runs and the synthesis report
#: gives: the feeder's buffer and zero flags grow with ``acc_depth * feeder_tiles``.
FEEDER_DEPTH = 64


def feeder_build(config):
    """``config`` as a feeder build for the bench and the synthesis report: the feeder, no
    ABFT or fault sites, pixel tiles of at most :data:`FEEDER_DEPTH`."""
    return dataclasses.replace(config, feeder=True, abft="none", faults=False,
                               acc_depth=min(config.acc_depth, FEEDER_DEPTH))


@dataclasses.dataclass(frozen=True, eq=False)
class FeederPlan:
    """A channel permutation as the feeder realises it for one layer.

    Attributes
    ----------
    channels : tuple of int
        The channel permutation: rearranged channel ``i`` is original channel
        ``channels[i]``.
    kernel_area : int
        Reduction elements per channel (``kh * kw``).
    reduction : int
        ``T``, the layer's reduction length.
    order : int64 array (tiles * tile_reduction,)
        Source reduction element of every rearranged position (padding elements, beyond
        ``T``, are zero).
    lanes, tiles : int64 arrays (tiles, tile_reduction)
        The table the host loads: source tile ``t``'s element in lane ``lanes[t, l]`` goes
        to lane ``l`` of rearranged tile ``tiles[t, l]``.
    """
    channels: tuple
    kernel_area: int
    reduction: int
    order: np.ndarray
    lanes: np.ndarray
    tiles: np.ndarray

    @property
    def key(self):
        """What identifies the rearrangement (weights packed for it carry the same key)."""
        return (self.channels, self.kernel_area, self.reduction, self.tile_reduction)

    @property
    def tile_reduction(self):
        return self.lanes.shape[1]

    @property
    def reduction_tiles(self):
        return self.lanes.shape[0]


def plan_feeder(config, channels, kernel_area, reduction):
    """The :class:`FeederPlan` of channel permutation ``channels`` for a ``T = reduction`` layer.

    Raises ``ValueError`` if ``channels`` is not a permutation of the layer's channels or the
    layer needs more reduction tiles than the feeder holds.
    """
    if not config.feeder:
        raise ValueError(f"configuration {config.name} has no IFM feeder (feeder=False)")
    if kernel_area < 1 or reduction % kernel_area:
        raise ValueError(f"reduction {reduction} is not a whole number of channels of "
                         f"{kernel_area} elements")
    check_permutation(channels, reduction // kernel_area)
    tr = config.tile_reduction
    tiles = -(-reduction // tr)
    if tiles > config.feeder_tiles:
        raise ValueError(f"a reduction of {reduction} needs {tiles} tiles of {tr}; the feeder "
                         f"holds {config.feeder_tiles} (feeder_tiles)")
    wanted = np.concatenate([reduction_order(channels, kernel_area),
                             np.arange(reduction, tiles * tr)])
    position = np.empty_like(wanted)
    position[wanted] = np.arange(len(wanted))
    source = np.arange(len(wanted))
    lane = position % tr
    if len(set(zip(source // tr, lane))) != len(source):  # two elements of a beat collide
        lane = _edge_colours(source // tr, position // tr, tiles, tr)
    order = np.empty_like(wanted)
    order[(position // tr) * tr + lane] = source
    lanes = np.empty((tiles, tr), dtype=np.int64)
    dest = np.empty((tiles, tr), dtype=np.int64)
    lanes[source // tr, lane] = source % tr
    dest[source // tr, lane] = position // tr
    return FeederPlan(tuple(int(c) for c in channels), int(kernel_area), int(reduction),
                      order, lanes, dest)


def _edge_colours(left, right, nodes, degree):
    """Colour the edges ``(left[e], right[e])`` of a ``degree``-regular bipartite multigraph
    with ``degree`` colours so that no two edges at a node share one.

    Peels off one perfect matching per colour (Kuhn's augmenting paths; a regular bipartite
    multigraph always has one, and removing it leaves a regular one).
    """
    edges = {}
    for e, (u, v) in enumerate(zip(left, right)):
        edges.setdefault((int(u), int(v)), []).append(e)
    colour = np.empty(len(left), dtype=np.int64)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * nodes + 100))
    for c in range(degree):
        adjacent = [[] for _ in range(nodes)]
        for (u, v), ids in edges.items():
            if ids:
                adjacent[u].append(v)
        partner = [-1] * nodes  # right node -> left node

        def augment(u, seen):
            for v in adjacent[u]:
                if not seen[v]:
                    seen[v] = True
                    if partner[v] < 0 or augment(partner[v], seen):
                        partner[v] = u
                        return True
            return False

        for u in range(nodes):
            if not augment(u, [False] * nodes):
                raise AssertionError("a regular bipartite multigraph has a perfect matching")
        for v, u in enumerate(partner):
            colour[edges[(u, v)].pop()] = c
    return colour


@dataclasses.dataclass(frozen=True, eq=False)
class FeederWeights:
    """Weights ``W'`` in the rearranged reduction order of the plan with key ``plan_key``."""
    plan_key: tuple
    matrix: np.ndarray


def _check_plan(config, plan):
    """Raise ``ValueError`` unless ``plan`` was made for ``config``'s tiles and table."""
    if plan.tile_reduction != config.tile_reduction or \
            plan.reduction_tiles > config.feeder_tiles:
        raise ValueError(f"the plan is for {plan.reduction_tiles} tiles of "
                         f"{plan.tile_reduction}; {config.name} takes up to "
                         f"{config.feeder_tiles} tiles of {config.tile_reduction}: plan it "
                         f"for this configuration (plan_feeder)")


def pack_for_feeder(config, w, plan, *, prune_weights=True):
    """``W`` (T, K) rearranged by ``plan``, then pruned to 1/2 sparsity in that order.

    Pruning groups must follow the rearranged order: weights pruned in the original order no
    longer meet the 1/2 rule once rearranged. With ``prune_weights=False`` the rearranged
    weights must already meet it (``ValueError`` otherwise).
    """
    _check_plan(config, plan)
    w = np.asarray(w)
    if w.ndim != 2 or w.shape[0] != plan.reduction:
        raise ValueError(f"W{w.shape} does not have the plan's reduction of {plan.reduction}")
    check_range("W", w, config.weight_width)
    padded = np.pad(w, ((0, len(plan.order) - w.shape[0]), (0, 0)))[plan.order]
    if config.sparse:
        if prune_weights:
            padded = prune(padded, config.group)
        check_half_sparse(padded, config.group)
    return FeederWeights(plan.key, padded)


def feeder_pass_order(tiling):
    """``(kernel_tile, pixel_tile, reduction_tile)`` of every pass of a feeder build.

    The pixel tile is the outer loop: its IFM is loaded once and read by every kernel tile.
    """
    return [(kt, pt, rt) for pt in range(tiling.pixel_tiles)
            for kt in range(tiling.kernel_tiles) for rt in range(tiling.reduction_tiles)]


@dataclasses.dataclass(frozen=True)
class FeederSchedule:
    """Everything that crosses a feeder build's streams for one layer, and what it computes.

    ``table``, ``ifm``, ``passes``, ``weights`` and ``results`` are per-beat field arrays of
    their streams; ``stats`` the expected counters of every pass (``stats["issued"]`` is
    what the cycle model needs); ``groups`` the pixels of each pixel tile; ``issue`` the
    ``(tags, firsts, lasts)`` arrays of the vectors every pass issues, in issue order (the
    cycle models need them: they decide which vectors wait for a drain and which emit).
    """
    tiling: Tiling
    plan: FeederPlan
    table: dict
    ifm: dict
    passes: dict
    weights: dict
    results: dict
    stats: dict
    groups: list
    expected: np.ndarray
    issue: tuple = ()


def schedule_feeder(config, x, weights, plan, *, dense=False):
    """The stream contents, counters and golden result of ``Y = X @ W`` on a feeder build.

    ``x`` is the IFM (P, T) in the original channel order; ``weights`` come from
    :func:`pack_for_feeder` with the same ``plan`` (``ValueError`` otherwise: the core
    would compute with the weights in one order and the IFM in another). ``dense`` turns
    skipping off. The golden result is ``X' @ W'`` (both rearranged). The passes, what
    they issue and the results they release come from
    :func:`sense_models.tiling.schedule_passes` (pixel tiles outermost: a tile's IFM is
    loaded once for every kernel tile).
    """
    if not isinstance(weights, FeederWeights):
        raise TypeError(f"weights must come from pack_for_feeder, not {type(weights).__name__}")
    _check_plan(config, plan)
    if weights.plan_key != plan.key:
        raise ValueError(f"the weights were packed for channel order {list(weights.plan_key[0])}"
                         f" (kernel area {weights.plan_key[1]}, T={weights.plan_key[2]}, tiles "
                         f"of {weights.plan_key[3]}), but the table to load is for "
                         f"{list(plan.channels)} (kernel area {plan.kernel_area}, "
                         f"T={plan.reduction}, tiles of {plan.tile_reduction}); pack them for "
                         f"this plan")
    check_range("X", x, config.ifm_width)
    x = np.asarray(x).astype(np.int64)
    if x.ndim != 2 or x.shape[1] != plan.reduction:
        raise ValueError(f"X{x.shape} does not have the plan's reduction of {plan.reduction}")
    tr, rows, cols = config.tile_reduction, config.rows, config.cols
    wr = weights.matrix.astype(np.int64)
    xp = np.pad(x, ((0, 0), (0, len(plan.order) - x.shape[1])))
    xr = xp[:, plan.order]
    expected = matmul(xr, wr, acc_width=config.acc_width, ifm_width=config.ifm_width,
                      weight_width=config.weight_width)
    tiling = Tiling(config, x.shape[0], len(plan.order), wr.shape[1])
    n_tiles = tiling.reduction_tiles
    wk = np.pad(wr, ((0, 0), (0, -wr.shape[1] % cols)))  # to whole kernel tiles
    values, indices = array_weights(config, wr)
    lanes = indices if indices is not None else \
        np.broadcast_to(np.arange(config.mults_per_pe), values.shape)
    elements = operand_elements(lanes, config.row_span)  # what each multiplier reads
    order = feeder_pass_order(tiling)
    passes = schedule_passes(config, tiling, order, ~zero_vectors(xr, tr), dense=dense)

    ifm = {"data": [], "last": [], "end": [], "final": []}
    groups = []
    for pt in range(tiling.pixel_tiles):
        pixels = tiling.pixel_tile(pt)
        groups.append(len(pixels))
        block = xp[pixels.start:pixels.stop].reshape(len(pixels), n_tiles, rows, -1)
        ifm["data"].append(block.reshape(-1, rows, block.shape[-1]))
        ifm["last"].append(np.tile(np.arange(n_tiles) == n_tiles - 1, len(pixels)))
        ifm["end"].append(np.arange(len(pixels) * n_tiles) == len(pixels) * n_tiles - 1)
        ifm["final"].append(ifm["end"][-1] & (pt == tiling.pixel_tiles - 1))
    cmd = {"tile": [p.reduction_tile for p in passes], "final": [p.final for p in passes],
           "release": [p.final and p.kernel_tile == tiling.kernel_tiles - 1 for p in passes],
           "dense": [dense] * len(passes)}
    stats = {"issued": [], "skipped": [], "gated": []}
    for p in passes:
        row_groups = slice(p.reduction_tile * rows, (p.reduction_tile + 1) * rows)
        operands = xr[p.pixels.start + p.issued][:, elements[row_groups, p.kernels]]
        stats["issued"].append(len(p.issued))
        stats["skipped"].append(len(p.pixels) - len(p.issued))
        stats["gated"].append(int(np.count_nonzero(operands == 0)))
    table = {"lane": plan.lanes, "tile": plan.tiles,
             "last": (np.arange(n_tiles) == n_tiles - 1).astype(np.int64)}
    weights_stream = weight_beats(config, wk, values, indices, order)
    return FeederSchedule(
        tiling, plan, table,
        {k: np.concatenate(v).astype(np.int64) for k, v in ifm.items()},
        {k: np.asarray(v, dtype=np.int64) for k, v in cmd.items()},
        weights_stream,
        result_beats(config, expected, passes),
        {k: np.asarray(v, dtype=np.int64) for k, v in stats.items()},
        groups, expected, tuple((p.issued, p.first, p.last) for p in passes))

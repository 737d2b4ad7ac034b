"""Layer data for tests and benchmarks: shapes with edge cases and realistic activations."""

from __future__ import annotations

import numpy as np

from .sparsity import prune

__all__ = ["SHAPE_CASES", "case_shape", "random_activations", "random_weights", "random_layer"]

#: Edge cases of a layer ``(P, T, K)`` relative to an array configuration.
SHAPE_CASES = ("exact", "ragged", "few_pix", "one_pixel", "pix_tiles", "signed_ifm")


def case_shape(config, case):
    """``(pixels, reduction, kernels, relu)`` of a named edge case for ``config``."""
    tr, cols, rows, depth = config.tile_reduction, config.cols, config.rows, config.acc_depth
    shapes = {
        # Whole tiles in every dimension.
        "exact": (2 * rows + 3, 2 * tr, 2 * cols, True),
        # Reduction not a multiple of the tile, kernels not a multiple of cols.
        "ragged": (rows + 5, 2 * tr + 3, 2 * cols - 1, True),
        # Fewer pixels than rows: passes shorter than a weight load.
        "few_pix": (max(1, rows - 1), tr + 1, cols + 1, True),
        "one_pixel": (1, 2 * tr - 1, cols, True),
        # More pixels than the accumulator holds: several pixel tiles, the last one short.
        "pix_tiles": (2 * depth + 3, tr + 2, cols, True),
        # Full-range signed activations (a first layer fed by a signed input image).
        "signed_ifm": (rows + 2, tr + config.row_span, cols + 2, False),
    }
    try:
        return shapes[case]
    except KeyError:
        raise ValueError(f"unknown shape case {case!r}; choose one of {SHAPE_CASES}") from None


def random_activations(rng, pixels, reduction, *, relu=True, width=8, zero_fraction=None):
    """Activations ``X`` (P, T): post-ReLU ones have per-channel densities spread over 0..1.

    Real post-ReLU feature maps are mostly zeros and their density differs a lot between
    channels, so each reduction element draws its own density (some channels dead).
    """
    hi = (1 << (width - 1)) - 1
    if not relu:
        return rng.integers(-hi - 1, hi + 1, size=(pixels, reduction))
    if zero_fraction is None:
        density = rng.beta(0.7, 1.0, size=reduction)
        density[rng.random(reduction) < 0.1] = 0.0
    else:
        density = np.full(reduction, 1.0 - zero_fraction)
    magnitude = np.minimum(rng.exponential(hi / 4, size=(pixels, reduction)), hi).astype(np.int64)
    alive = rng.random((pixels, reduction)) < density
    return np.where(alive, np.maximum(magnitude, 1), 0)


def random_weights(rng, reduction, kernels, *, group=None, width=8):
    """Signed weights ``W`` (T, K), pruned to 1/2 sparsity in groups of ``group`` if given."""
    hi = (1 << (width - 1)) - 1
    w = rng.integers(-hi - 1, hi + 1, size=(reduction, kernels))
    return prune(w, group) if group else w


def random_layer(config, rng, case):
    """``(X, W)`` of a named edge case, pruned for ``config`` when it is sparse."""
    pixels, reduction, kernels, relu = case_shape(config, case)
    x = random_activations(rng, pixels, reduction, relu=relu, width=config.ifm_width)
    w = random_weights(rng, reduction, kernels, width=config.weight_width,
                       group=config.group if config.sparse else None)
    return x, w

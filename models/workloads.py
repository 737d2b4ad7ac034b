"""Layer data for tests and benchmarks: shapes with edge cases and realistic activations."""

from __future__ import annotations

import numpy as np

from .sparsity import prune

__all__ = ["SHAPE_CASES", "case_shape", "random_activations", "random_weights", "random_layer",
           "FEEDER_CASES", "channel_densities", "feeder_layer", "MALFORMED_CASES",
           "protocol_layer", "malformed_pixels"]

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


def channel_densities(rng, channels, *, dead=0.1):
    """Per-channel densities spread over 0..1, a fraction ``dead`` of the channels dead."""
    density = rng.beta(0.7, 1.0, size=channels)
    density[rng.random(channels) < dead] = 0.0
    return density


def random_activations(rng, pixels, reduction, *, relu=True, width=8, zero_fraction=None,
                       density=None):
    """Activations ``X`` (P, T): post-ReLU ones have per-channel densities spread over 0..1.

    Real post-ReLU feature maps are mostly zeros and their density differs a lot between
    channels, so each reduction element draws its own density (some channels dead), unless
    ``density`` gives one per element.
    """
    hi = (1 << (width - 1)) - 1
    if not relu:
        return rng.integers(-hi - 1, hi + 1, size=(pixels, reduction))
    if density is not None:
        density = np.asarray(density, dtype=float)
    elif zero_fraction is None:
        density = channel_densities(rng, reduction)
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


#: Activation patterns of the feeder tests (a random layer each; see :func:`feeder_layer`).
FEEDER_CASES = ("clustered", "random_perm", "zero_tiles", "no_zeros", "single_nonzero",
                "zero_pixels", "one_tile")


def feeder_layer(config, rng, case):
    """``(X, W, channels, kernel_area)`` of a feeder test case on ``config``.

    Layers span several reduction, kernel and pixel tiles, except ``one_tile``: one of each.

    ``channels`` is the permutation to load: the density clustering of
    :func:`sense_models.rearrange.cluster_by_density` where the case is about realistic
    data, a random one where it is about the table. ``W`` is not yet pruned (the packer
    prunes in the rearranged order).
    """
    from .rearrange import cluster_by_density
    if case not in FEEDER_CASES:
        raise ValueError(f"unknown feeder case {case!r}; choose one of {FEEDER_CASES}")
    tr = config.tile_reduction
    kernel_area = int(rng.choice([1, 4, 9]))
    most = config.feeder_tiles * tr // kernel_area
    channels = int(rng.integers(max(1, min(most, tr // kernel_area + 1)), most + 1))
    pixels = 2 * config.acc_depth + 3
    kernels = 2 * config.cols + 1
    if case == "one_tile":  # one reduction tile, one kernel tile, one short pixel tile
        kernel_area, channels = 1, int(rng.integers(1, tr + 1))
        pixels, kernels = int(rng.integers(1, config.acc_depth + 1)), config.cols
    reduction = channels * kernel_area
    density = channel_densities(rng, channels, dead=0.5 if case == "zero_tiles" else 0.2)
    x = random_activations(rng, pixels, reduction, width=config.ifm_width,
                           density=np.repeat(density, kernel_area))
    hi = (1 << (config.ifm_width - 1)) - 1
    if case == "no_zeros":
        x = rng.integers(1, hi + 1, size=x.shape) * rng.choice([-1, 1], size=x.shape)
    elif case == "single_nonzero":
        x = np.zeros_like(x)
        x[np.arange(pixels), rng.integers(0, reduction, pixels)] = rng.integers(1, hi + 1, pixels)
    elif case == "zero_pixels":
        x[rng.random(pixels) < 0.3] = 0
    w = random_weights(rng, reduction, kernels, width=config.weight_width)
    order = cluster_by_density((x != 0).reshape(pixels, channels, kernel_area).mean(axis=(0, 2)))
    if case in ("random_perm", "no_zeros"):
        order = rng.permutation(channels)
    return x, w, order, kernel_area


#: Flag sequences on the ``pixels`` stream that contradict the pass structure
#: (:mod:`sense_models.protocol`), each a change to a well-formed schedule's beats.
MALFORMED_CASES = ("first_never", "end_never", "tags_zero", "last_every_pass", "last_never",
                   "extra_end")


def protocol_layer(config, rng):
    """A layer on which every malformed case breaks a rule: two reduction tiles, two
    kernel tiles, pixel tiles of at least two pixels."""
    pixels = max(2, config.acc_depth // 2)
    x = random_activations(rng, pixels, 2 * config.tile_reduction, width=config.ifm_width)
    w = random_weights(rng, 2 * config.tile_reduction, 2 * config.cols,
                       group=config.group if config.sparse else None, width=config.weight_width)
    return x, w


def malformed_pixels(beats, case):
    """A copy of the ``pixels`` field arrays ``beats`` broken as ``case`` says."""
    if case not in MALFORMED_CASES:
        raise ValueError(f"unknown malformed case {case!r}; choose one of {MALFORMED_CASES}")
    out = {key: np.array(value, copy=True) for key, value in beats.items()}
    vectors = out["check"] == 0 if "check" in out else np.ones(len(out["tag"]), dtype=bool)
    if case == "first_never":
        out["first"][:] = 0
    elif case == "end_never":
        out["end"][:] = 0
    elif case == "tags_zero":
        out["tag"][:] = 0
    elif case == "last_every_pass":
        out["last"][vectors] = 1
    elif case == "last_never":
        out["last"][:] = 0
    else:  # extra_end: the first pass ends after its first vector
        out["end"][0] = 1
    return out

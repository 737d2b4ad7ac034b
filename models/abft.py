"""Algorithm-based fault tolerance: the checksum arithmetic of both checks, as pure functions.

Everything is exact modulo ``2**acc_width`` (the accumulators' wrap-around), because every
check is linear: sums of wrapped values wrap consistently, so a fault-free run has all
syndromes exactly zero.

*Pixel-side check* (per pass, per column, on the array's tile sums). The checksum pixel
``x_s = sum_p x_p`` of a pass is wider than the IFM operands, so it is streamed through the
array as ``n`` radix-2^7 digit vectors (``digits``): digits ``0 .. n-2`` are unsigned 7-bit,
the top digit is signed and carries the sign. Each column recombines the digit results by
shift-and-add (``recombine``) and compares with the sum of its own tile sums over the pass.

*Kernel-side check* (per pixel, on the accumulated outputs). The packer computes
``w_s = sum_k W[:, k]`` over the kernels of a kernel tile from the intended weights; a
checksum column computes ``w_s . x_p`` and the outputs of pixel ``p`` must sum to it.

Together the two syndromes locate a single wrong output ``(p, k)`` and give its error.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .intmath import wrap

__all__ = ["DIGIT_BITS", "checksum_width", "digit_count", "digits", "recombine",
           "kernel_checksum", "kernel_checksum_width", "pixel_syndromes", "kernel_syndromes",
           "Location", "locate", "correct"]

#: Bits per checksum digit: 7, so the unsigned digits fit a signed 8-bit IFM operand.
DIGIT_BITS = 7


def checksum_width(ifm_width, pixels):
    """Signed bits of ``sum_p x_p`` over at most ``pixels`` values of ``ifm_width`` bits."""
    return ifm_width + max(0, (pixels - 1).bit_length())


def digit_count(ifm_width, pixels):
    """Digit vectors needed for a checksum pixel of up to ``pixels`` pixels.

    ``n - 1`` unsigned 7-bit digits and one signed ``ifm_width``-bit top digit cover
    ``7 (n - 1) + ifm_width`` signed bits.
    """
    if ifm_width < DIGIT_BITS + 1:
        raise ValueError(f"checksum digits need ifm_width >= {DIGIT_BITS + 1}, not {ifm_width}")
    extra = checksum_width(ifm_width, pixels) - ifm_width
    return 1 + -(-extra // DIGIT_BITS)


def digits(x_sum, count, *, ifm_width=8):
    """Split checksum values (any shape) into ``count`` digits along a new leading axis."""
    x_sum = np.asarray(x_sum, dtype=np.int64)
    out = np.empty((count,) + x_sum.shape, dtype=np.int64)
    for k in range(count - 1):
        out[k] = (x_sum >> (DIGIT_BITS * k)) & ((1 << DIGIT_BITS) - 1)
    out[-1] = x_sum >> (DIGIT_BITS * (count - 1))
    if np.any(wrap(out[-1], ifm_width) != out[-1]):
        raise ValueError(f"checksum does not fit {count} digits")
    return out


def recombine(digit_sums, *, acc_width=32):
    """``sum_k digit_sums[k] << 7k`` wrapped to ``acc_width``: the shift-and-add at the bottom."""
    digit_sums = np.asarray(digit_sums, dtype=np.int64)
    total = np.zeros(digit_sums.shape[1:], dtype=np.int64)
    for k in range(digit_sums.shape[0]):
        total = wrap(total + wrap(digit_sums[k] << (DIGIT_BITS * k), acc_width), acc_width)
    return total


def kernel_checksum(w):
    """``w_s[t] = sum_k W[t, k]`` (exact) of the kernels ``W[:, k]`` given."""
    return np.asarray(w, dtype=np.int64).sum(axis=1)


def kernel_checksum_width(weight_width, kernels):
    """Signed bits of a sum of ``kernels`` weights of ``weight_width`` bits."""
    return weight_width + max(0, (kernels - 1).bit_length())


def pixel_syndromes(tile_sums, checksum_sums, *, acc_width=32):
    """Per column: ``sum_p tile_sums[p, j] - recombined checksum`` (0 when fault-free).

    ``tile_sums`` is (pixels, cols) of one pass; ``checksum_sums`` (digits, cols).
    """
    observed = wrap(np.asarray(tile_sums, dtype=np.int64).sum(axis=0), acc_width)
    return wrap(observed - recombine(checksum_sums, acc_width=acc_width), acc_width)


def kernel_syndromes(outputs, predicted, *, acc_width=32):
    """Per pixel: ``sum_k outputs[p, k] - predicted[p]`` (0 when fault-free)."""
    observed = wrap(np.asarray(outputs, dtype=np.int64).sum(axis=1), acc_width)
    return wrap(observed - np.asarray(predicted, dtype=np.int64), acc_width)


@dataclasses.dataclass(frozen=True)
class Location:
    pixel: int
    column: int
    error: int  # observed minus correct value of output (pixel, column)


def locate(pixel_syn, kernel_syn):
    """The single wrong output both syndromes agree on, or ``None``.

    Exactly one column and one pixel must be non-zero, with the same error value;
    anything else (several errors, or an error in a checker) cannot be located.
    """
    columns = np.flatnonzero(np.asarray(pixel_syn))
    pixels = np.flatnonzero(np.asarray(kernel_syn))
    if len(columns) != 1 or len(pixels) != 1:
        return None
    error = int(np.asarray(pixel_syn)[columns[0]])
    if error != int(np.asarray(kernel_syn)[pixels[0]]):
        return None
    return Location(int(pixels[0]), int(columns[0]), error)


def correct(outputs, location, *, acc_width=32):
    """``outputs`` with the located error subtracted (a copy)."""
    fixed = np.array(outputs, dtype=np.int64)
    if location is not None:
        fixed[location.pixel, location.column] = wrap(
            fixed[location.pixel, location.column] - location.error, acc_width)
    return fixed

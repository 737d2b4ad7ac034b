"""Golden models of the layer arithmetic: int8 matrix product and convolution.

Pure functions with the hardware's integer semantics: signed operands, products summed in
``acc_width`` bits with two's-complement wrap-around. Wrapping is a ring homomorphism, so
summing exactly in int64 and wrapping once is bit-identical to wrapping after every add.
"""

import numpy as np

from .intmath import check_range, wrap

__all__ = ["max_reduction", "matmul", "im2col", "conv2d", "conv_output_size", "pe_sum"]


def max_reduction(ifm_width, weight_width):
    """The longest reduction whose exact sum of products :func:`matmul` holds in int64."""
    return (1 << max(0, 63 - ifm_width - weight_width)) - 1


def matmul(x, w, *, acc_width=32, ifm_width=8, weight_width=8):
    """``Y[p, k] = sum_t X[p, t] * W[t, k]`` wrapped to ``acc_width`` bits.

    Parameters
    ----------
    x : array of shape (P, T)
        Pixels (rows of the lowered input feature map), signed ``ifm_width``-bit.
    w : array of shape (T, K)
        Weights, one kernel per column, signed ``weight_width``-bit.
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"cannot multiply X{x.shape} by W{w.shape}")
    check_range("X", x, ifm_width)
    check_range("W", w, weight_width)
    if x.shape[1] > max_reduction(ifm_width, weight_width):
        raise ValueError(f"reduction length {x.shape[1]} could overflow the int64 model")
    return wrap(x.astype(np.int64) @ w.astype(np.int64), acc_width)


def conv_output_size(size, kernel, stride, padding):
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"kernel {kernel} with stride {stride} and padding {padding} does not fit input {size}")
    return out


def im2col(ifm, kernel, *, stride=1, padding=0):
    """Lower an input feature map ``(C, H, W)`` to pixels ``X`` of shape ``(Ho*Wo, C*kh*kw)``.

    The reduction index is ``t = (c * kh + r) * kw + s`` (channel-major), which is how the
    weights of a ``(K, C, kh, kw)`` tensor flatten, so ``W = weights.reshape(K, -1).T``.
    """
    ifm = np.asarray(ifm)
    if ifm.ndim != 3:
        raise ValueError(f"ifm must have shape (C, H, W), not {ifm.shape}")
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    c, h, w = ifm.shape
    ho = conv_output_size(h, kh, stride, padding)
    wo = conv_output_size(w, kw, stride, padding)
    padded = np.pad(ifm, ((0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((ho, wo, c, kh, kw), dtype=ifm.dtype)
    for r in range(kh):
        for s in range(kw):
            cols[:, :, :, r, s] = padded[:, r:r + stride * ho:stride, s:s + stride * wo:stride] \
                .transpose(1, 2, 0)
    return cols.reshape(ho * wo, c * kh * kw)


def conv2d(ifm, weights, *, stride=1, padding=0, acc_width=32, ifm_width=8, weight_width=8):
    """Integer convolution: ``ifm (C, H, W)`` with ``weights (K, C, kh, kw)`` -> ``(K, Ho, Wo)``."""
    weights = np.asarray(weights)
    if weights.ndim != 4 or weights.shape[1] != np.shape(ifm)[0]:
        raise ValueError(
            f"weights must have shape (K, C, kh, kw) with C = {np.shape(ifm)[0]}, not {weights.shape}")
    k, _, kh, kw = weights.shape
    x = im2col(ifm, (kh, kw), stride=stride, padding=padding)
    y = matmul(x, weights.reshape(k, -1).T, acc_width=acc_width,
               ifm_width=ifm_width, weight_width=weight_width)
    h, w = np.shape(ifm)[1:]
    ho = conv_output_size(h, kh, stride, padding)
    wo = conv_output_size(w, kw, stride, padding)
    return y.T.reshape(k, ho, wo)


def pe_sum(x, psum, values, indices, *, acc_width=32):
    """One PE step: ``psum + sum_m values[m] * x[indices[m]]`` wrapped to ``acc_width``.

    ``indices`` is ``None`` for the dense PE, which takes ``x[m]`` in order.
    """
    x = np.asarray(x, dtype=np.int64)
    values = np.asarray(values, dtype=np.int64)
    picked = x[..., :values.shape[-1]] if indices is None else \
        np.take_along_axis(x, np.asarray(indices, dtype=np.int64), axis=-1)
    return wrap(np.asarray(psum, dtype=np.int64) + (picked * values).sum(axis=-1), acc_width)

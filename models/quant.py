"""The output stage: bias, ReLU, arithmetic right shift with rounding, saturation to int8.

It turns a layer's ``acc_width`` accumulators back into ``ifm_width`` activations so
layers chain. Pure integer semantics: the bias is added with wrap-around in ``acc_width``
bits, the shift rounds half up (``(y + 2**(shift-1)) >> shift``), and the result saturates.
"""

import numpy as np

from .intmath import check_range, wrap

__all__ = ["requantize"]


def requantize(acc, bias, shift, *, relu=True, acc_width=32, out_width=8):
    """``saturate(round((acc + bias) / 2**shift))``, ReLU first if ``relu``.

    ``acc`` has the output channel last (``(..., K)``); ``bias`` is per channel (``K``).
    """
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or shift < 0:
        raise ValueError(f"shift must be a non-negative integer, not {shift!r}")
    acc = np.asarray(acc, dtype=np.int64)
    bias = np.asarray(bias, dtype=np.int64)
    check_range("bias", bias, acc_width)
    y = wrap(acc + bias, acc_width)
    if relu:
        y = np.maximum(y, 0)
    if shift:
        y = (y + (1 << (shift - 1))) >> shift
    hi = (1 << (out_width - 1)) - 1
    return np.clip(y, -hi - 1, hi)

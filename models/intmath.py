"""Explicit two's-complement integer semantics shared by every golden model."""

import numpy as np

__all__ = ["wrap", "check_range", "to_unsigned"]


def wrap(values, width):
    """Wrap integers to signed ``width``-bit two's complement (what the hardware adders do)."""
    values = np.asarray(values, dtype=np.int64)
    mask = (1 << width) - 1
    half = 1 << (width - 1)
    return ((values + half) & mask) - half


def to_unsigned(values, width):
    """The ``width``-bit pattern of signed integers, as non-negative integers."""
    return np.asarray(values, dtype=np.int64) & ((1 << width) - 1)


def check_range(name, values, width):
    """Raise ``ValueError`` if any value does not fit signed ``width`` bits."""
    values = np.asarray(values)
    if values.size == 0:
        return
    if not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, not {values.dtype}")
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    bad = np.argwhere((values < lo) | (values > hi))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{name}{list(where)} = {int(values[where])} does not fit signed {width} bits "
            f"[{lo}, {hi}]")

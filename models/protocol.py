"""The pass structure of the core's ``pixels`` stream, and what breaks it.

A streamed build's host drives ``pixels`` (:func:`sense_models.formats.pixel_format`) with
flags that the engine trusts: ``first`` starts an accumulator from zero, ``last`` emits it,
``end`` switches weight banks. A sequence that contradicts the pass structure would give
wrong results without a word, so the core checks it (:class:`sense_hw.protocol.
PixelProtocolChecker`) against the rules written here, and this pure function is the
golden model of that checker.

The rules (``tiling.schedule_layer`` obeys all of them):

* a pass is the vectors up to and including an ``end`` beat, at least one pixel vector;
  all its pixel vectors carry the same ``first`` and ``last``;
* the pixel vectors of a pass carry the tags ``0, 1, 2, ...`` in order;
* a pass with ``first`` starts only when no accumulator is open (every earlier result has
  been emitted) and opens as many accumulators as it has vectors;
* a pass without ``first`` has exactly as many vectors as accumulators are open;
* a pass with ``last`` closes them all;
* with the pixel-side check, each pass ends with its ``check_digits`` digit vectors in
  order, ``end`` on the last one and on no pixel vector.

Because tags come in order, the open accumulators are always ``0 .. open - 1``: the checker
needs a few counters, not a flag per accumulator.

The first broken rule is reported as a :class:`ProtocolError` code; it stays until reset.
"""

from __future__ import annotations

import enum

import numpy as np

from .formats import BusFormat, Field

__all__ = ["ProtocolError", "check_pixel_stream", "protocol_format"]


class ProtocolError(enum.IntEnum):
    """The code of the first broken rule (``protocol.code``; 0 when none)."""
    NONE = 0
    NOT_OPEN = 1         # a vector without first for an accumulator no pass has opened
    UNREAD = 2           # a first pass while accumulators are still open (results unread)
    TAG_ORDER = 3        # the k-th vector of a pass does not carry tag k
    PASS_INCOMPLETE = 4  # a pass without first ended with fewer vectors than are open
    FLAGS_MIXED = 5      # first or last differ between the vectors of one pass
    DIGITS = 6           # checksum digits out of order, or end not on the last digit


def protocol_format(depth):
    """The core's ``protocol`` status port (streamed builds), ``depth`` accumulators.

    ``error`` is sticky until reset, ``code`` the first broken rule; ``open`` counts the
    accumulators a pass has started and no ``last`` has emitted; ``wait_weights``,
    ``wait_pixels``, ``wait_results`` say which stream the core waits for right now.
    """
    return BusFormat((
        Field("error", 1),
        Field("code", 3),
        Field("open", depth.bit_length()),
        Field("wait_weights", 1),
        Field("wait_pixels", 1),
        Field("wait_results", 1),
    ))


def check_pixel_stream(beats, *, depth, digits=0):
    """``(code, open accumulators)`` after the beats ``beats`` (a dict of equal-length arrays
    ``tag``, ``first``, ``last``, ``end`` and, with ``digits``, ``check`` and ``digit``).

    ``depth`` is the number of accumulators (``acc_depth``), ``digits`` the checksum digit
    vectors per pass (``check_digits``, 0 without the pixel-side check).
    """
    if depth < 1 or digits < 0:
        raise ValueError(f"depth must be at least 1 and digits non-negative, not {depth} "
                         f"and {digits}")
    n = len(beats["tag"])
    check = beats["check"] if digits else np.zeros(n, dtype=int)
    digit = beats["digit"] if digits else np.zeros(n, dtype=int)
    code = ProtocolError.NONE
    open_, index, digit_next = 0, 0, 0  # open accumulators; vectors and digits in the pass
    pass_first = pass_last = 0

    def flag(error):
        nonlocal code
        if code == ProtocolError.NONE:
            code = error

    for i in range(n):
        tag, first, last, end = (int(beats[k][i]) for k in ("tag", "first", "last", "end"))
        if check[i]:
            if int(digit[i]) != digit_next or bool(end) != (digit_next == digits - 1):
                flag(ProtocolError.DIGITS)
            digit_next += 1
        else:
            if not 0 <= tag < depth:
                raise ValueError(f"beat {i}: tag {tag} is outside 0..{depth - 1}")
            if index == 0:
                pass_first, pass_last = first, last
            if digit_next or (digits and end):
                flag(ProtocolError.DIGITS)
            if index and (first != pass_first or last != pass_last):
                flag(ProtocolError.FLAGS_MIXED)
            if first and index == 0 and open_:
                flag(ProtocolError.UNREAD)
            if not first and tag >= open_:
                flag(ProtocolError.NOT_OPEN)
            if tag != index:
                flag(ProtocolError.TAG_ORDER)
            index = min(index + 1, depth)
        if end:
            if index == 0 or not pass_first and index != open_:
                flag(ProtocolError.PASS_INCOMPLETE)
            if index and pass_last:  # (a pass without pixel vectors changes nothing)
                open_ = 0
            elif index and pass_first:
                open_ = index
            index, digit_next = 0, 0
    return code, open_

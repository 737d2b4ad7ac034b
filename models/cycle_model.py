"""Cycle model of the core: predicts the RTL's cycle count for a pass and for a whole layer.

It models the control of :class:`sense_hw.core.SenseCore` with every input stream always
valid and the result stream always ready (no back-pressure, no idle cycles):

* The weight loader writes one PE row per cycle into the free bank: a tile takes ``rows``
  cycles. A bank is free once the pass that used it has issued its last vector and that
  vector has passed the last column: from ``array_columns`` cycles later (``cols``, plus
  the kernel checksum column). The first tile loads at cycle 0.
* Pass ``n`` issues one pixel vector per cycle, from the cycle after its weight tile is
  complete and after pass ``n-1`` issued its last vector.
* With the pixel-side check, a pass issues ``check_digits`` checksum digit vectors after
  its last pixel vector, and its bank drains after the last digit.
* A result beat is valid ``latency`` cycles after its vector was issued
  (``rows + cols + 1``, one more with the kernel checksum column).

Cycles are counted from the first cycle the core may accept a beat up to and including the
cycle in which the last result beat is accepted.
"""

from __future__ import annotations

import dataclasses

__all__ = ["PassTiming", "pass_timings", "layer_cycles", "check_done_cycles", "ideal_cycles"]


@dataclasses.dataclass(frozen=True)
class PassTiming:
    load_start: int    # first weight beat of the pass's tile
    load_end: int      # last weight beat
    issue_start: int   # first pixel vector
    issue_end: int     # last vector: the last pixel vector or the last checksum digit


def pass_timings(config, pass_pixels):
    """Timing of each pass, given the number of pixel vectors each one issues."""
    if not len(pass_pixels):
        raise ValueError("a layer needs at least one pass")
    timings = []
    for n, pixels in enumerate(pass_pixels):
        if pixels < 1:
            raise ValueError(f"pass {n} issues {pixels} pixel vectors; a pass needs at least one")
        load_start = 0 if n == 0 else timings[-1].load_end + 1
        if n >= 2:
            load_start = max(load_start, timings[n - 2].issue_end + config.array_columns)
        load_end = load_start + config.rows - 1
        issue_start = load_end + 1 if n == 0 else max(load_end, timings[-1].issue_end) + 1
        issue_end = issue_start + pixels - 1 + config.check_digits
        timings.append(PassTiming(load_start, load_end, issue_start, issue_end))
    return timings


def layer_cycles(config, pass_pixels):
    """Cycles of a whole layer (or of a single pass, given one pass)."""
    timings = pass_timings(config, list(pass_pixels))
    return timings[-1].issue_end - config.check_digits + config.latency + 1


def check_done_cycles(config, pass_pixels):
    """Cycles until the last pass's checks have completed (the status is final)."""
    timings = pass_timings(config, list(pass_pixels))
    # The last digit reaches the last column's checker rows + cols cycles after its issue.
    return timings[-1].issue_end + config.latency + 2


def ideal_cycles(config, dense_macs):
    """Dense-equivalent MACs over twice the multiplier count (the sparse array's 2x)."""
    return dense_macs / (2 * config.multipliers)

"""Cycle model of the core: predicts the RTL's cycle count for a pass and for a whole layer.

It models the control of :class:`sense_hw.core.SenseCore` with every input stream always
valid and the result stream always ready (no back-pressure, no idle cycles):

* The weight loader writes one PE row per cycle into the free bank: a tile takes ``rows``
  cycles. A bank is free once the pass that used it has issued its last vector and that
  vector has passed the last column: from ``cols`` cycles later. The first tile loads at
  cycle 0.
* Pass ``n`` issues one pixel vector per cycle, from the cycle after its weight tile is
  complete and after pass ``n-1`` issued its last vector.
* With the pixel-side check, a pass issues ``check_digits`` checksum digit vectors after
  its last pixel vector, and its bank drains after the last digit.
* A result beat is valid ``latency = rows + cols + pe_latency`` (``pe_latency = 3``) cycles after its vector was issued.
* With both checks (``abft="both"``), a pixel tile's results are held in the accumulators
  until its last pass has been checked, then drained one per cycle from the cycle after
  the pass's last vector (result ``p`` is valid ``latency`` cycles after drain step ``p``),
  corrected on the way out. A drain runs beside the next tile's first pass; the core only
  holds back a vector that would need the accumulators' read port (a pass that is not a
  first one) or start another drain (the last vector of a final pass) until the drain is
  done.
* With the feeder and both checks, the drain starts after the end beat of a kernel tile's
  final pass and reads the whole pixel tile (its ``pixels`` tags). Skipping makes issued
  tags jump ahead of the drain, so the rule is per vector: a ``first`` vector with tag
  ``t`` waits until the drain has reached tag ``t`` (it may go in the cycle the drain reads
  ``t``); any other data vector (placeholders included) waits until the drain is done, and
  so does a final pass's end beat; the other checksum digits never wait.

Cycles are counted from the first cycle the core may accept a beat up to and including the
cycle in which the last result beat is accepted.
"""

from __future__ import annotations

import dataclasses

__all__ = ["PassTiming", "pass_timings", "layer_cycles", "tiling_cycles", "check_done_cycles",
           "ideal_cycles", "feeder_timings", "feeder_cycles"]


@dataclasses.dataclass(frozen=True)
class PassTiming:
    load_start: int    # first weight beat of the pass's tile
    load_end: int      # last weight beat
    issue_start: int   # first pixel vector
    issue_end: int     # last vector: the last pixel vector or the last checksum digit


def pass_timings(config, pass_pixels, firsts=None, finals=None, ready=None, issue=None,
                 drained=None):
    """Timing of each pass, given the number of pixel vectors each one issues.

    ``firsts`` and ``finals`` flag the passes over the first and the last reduction tile
    (needed with ``abft="both"``; by default every pass is both). ``ready(n, timings)``,
    if given, is the earliest cycle pass ``n`` may issue for reasons outside the engine
    (the feeder's buffer), given the timings of the passes before it.

    Feeder builds with ``abft="both"`` give ``issue``, the ``(tags, firsts)`` of every
    pass's vectors in issue order, and ``drained``, the pixels a final pass drains (its
    pixel tile's); ``firsts`` is then unused: the hold is decided per vector.
    """
    firsts = [True] * len(pass_pixels) if firsts is None else list(firsts)
    finals = [True] * len(pass_pixels) if finals is None else list(finals)
    if not len(pass_pixels):
        raise ValueError("a layer needs at least one pass")
    timings = []
    drain_end = -1  # last cycle of the running drain (abft="both")
    drained_last = 0  # ... which read this many tags
    for n, pixels in enumerate(pass_pixels):
        if pixels < 1:
            raise ValueError(f"pass {n} issues {pixels} pixel vectors; a pass needs at least one")
        load_start = 0 if n == 0 else timings[-1].load_end + 1
        if n >= 2:
            load_start = max(load_start, timings[n - 2].issue_end + config.cols)
        load_end = load_start + config.rows - 1
        issue_start = load_end + 1 if n == 0 else max(load_end, timings[-1].issue_end) + 1
        if config.corrects and not firsts[n] and issue is None:
            issue_start = max(issue_start, drain_end + 1)
        if ready is not None:
            issue_start = max(issue_start, ready(n, timings))
        if config.corrects and issue is not None:
            issue_end = _held_issue(issue_start, *issue[n][:2], config.check_digits, finals[n],
                                    drain_end - drained_last + 1, drain_end)
            if finals[n]:
                drain_end, drained_last = issue_end + drained[n], drained[n]
        else:
            issue_end = issue_start + pixels - 1 + config.check_digits
            if config.corrects and finals[n]:
                issue_end = max(issue_end, drain_end + 1)
                drain_end = issue_end + pixels
        timings.append(PassTiming(load_start, load_end, issue_start, issue_end))
    return timings


def _held_issue(start, tags, firsts, digits, final, drain_start, drain_end):
    """The end beat's cycle of a feeder pass with both checks, vector by vector.

    The drain reads tag ``k`` in cycle ``drain_start + k``, up to ``drain_end``.
    """
    assert len(tags) == len(firsts) >= 1 and digits >= 1  # both checks: digits follow
    cycle = start - 1
    for tag, first in zip(tags, firsts):
        cycle += 1
        if cycle <= drain_end:  # a drain is running
            cycle = max(cycle, drain_start + int(tag)) if first else drain_end + 1
    cycle += digits  # the digits never touch the accumulators ...
    return max(cycle, drain_end + 1) if final else cycle  # ... but the last starts a drain


def layer_cycles(config, pass_pixels, firsts=None, finals=None):
    """Cycles of a whole layer (or of a single pass, given one pass)."""
    pass_pixels = list(pass_pixels)
    timings = pass_timings(config, pass_pixels, firsts, finals)
    if config.corrects:  # the last result leaves with the last drain step
        return timings[-1].issue_end + pass_pixels[-1] + config.latency + 1
    return timings[-1].issue_end - config.check_digits + config.latency + 1


def _pass_flags(tiling):
    """``(pass_pixels, firsts, finals)`` of a :class:`sense_models.tiling.Tiling`."""
    passes = tiling.passes
    return (tiling.pass_pixels, [rt == 0 for _, _, rt in passes],
            [rt == tiling.reduction_tiles - 1 for _, _, rt in passes])


def tiling_cycles(config, tiling):
    """:func:`layer_cycles` of a :class:`sense_models.tiling.Tiling`."""
    return layer_cycles(config, *_pass_flags(tiling))


def check_done_cycles(config, tiling):
    """Cycles until the last pass's checks have completed (the status is final)."""
    timings = pass_timings(config, *_pass_flags(tiling))
    # The last digit reaches the last column's checker rows + cols cycles after its issue;
    # with correction the last drain step leaves pixels cycles later still.
    return timings[-1].issue_end + config.latency + 2 + \
        (tiling.pass_pixels[-1] if config.corrects else 0)


def ideal_cycles(config, dense_macs):
    """Dense-equivalent MACs over twice the multiplier count (the sparse array's 2x)."""
    return dense_macs / (2 * config.multipliers)


def feeder_timings(config, groups, reduction_tiles, kernel_tiles, issued, issue=None):
    """Pass timings of a feeder build (:mod:`sense_models.feeder`).

    ``groups`` are the pixels of each pixel tile, ``issued`` the vectors each pass issues,
    passes in the feeder's order (pixel tile outer); with ``abft="both"``, ``issue`` the
    ``(tags, firsts, ...)`` of each pass's vectors (:attr:`FeederSchedule.issue`). On top of the
    engine's rules:

    * The table (``reduction_tiles`` beats) loads first, from cycle 0; the IFM waits for it.
    * A pixel tile loads one beat (one tile of one pixel) per cycle into a free buffer bank;
      a bank is free from the cycle after the last vector of the last pass that read it
      was accepted. Loads follow each other back to back.
    * A pixel tile's passes issue from ``feeder_load_latency + 1`` cycles after its last
      beat was accepted (its zero flags are written, then the first vector is read).
    """
    per_group = reduction_tiles * kernel_tiles
    loads = []  # (first, last) load cycle of each pixel tile

    def ready(n, timings):
        group = n // per_group
        while len(loads) <= group:
            k = len(loads)
            start = reduction_tiles if k == 0 else loads[-1][1] + 1
            if k >= 2:  # its bank was read by pixel tile k - 2
                start = max(start, timings[(k - 1) * per_group - 1].issue_end + 1)
            loads.append((start, start + groups[k] * reduction_tiles - 1))
        return loads[group][1] + config.feeder_load_latency + 1

    if len(issued) != len(groups) * per_group:
        raise ValueError(f"{len(issued)} passes do not make {len(groups)} pixel tiles of "
                         f"{per_group} passes")
    if not config.corrects:
        return pass_timings(config, issued, ready=ready)
    if issue is None or len(issue) != len(issued):
        raise ValueError("with abft='both' the feeder's cycle model needs every pass's issued "
                         "tags and first flags (FeederSchedule.issue)")
    finals = [n % reduction_tiles == reduction_tiles - 1 for n in range(len(issued))]
    drained = [groups[n // per_group] for n in range(len(issued))]
    return pass_timings(config, issued, finals=finals, ready=ready, issue=issue,
                        drained=drained)


def feeder_cycles(config, schedule):
    """Cycles of a feeder :class:`sense_models.feeder.FeederSchedule`, up to and including
    the cycle the last pass's counters come out (they leave the pipeline before the kernel
    check's stage, then pass through a FIFO: one cycle after the last vector's result would
    without that stage); with ``abft="both"``, up to and including the cycle the last
    drained result is accepted (the drain outlasts the counters)."""
    tiling = schedule.tiling
    timings = feeder_timings(config, schedule.groups, tiling.reduction_tiles,
                             tiling.kernel_tiles, [int(n) for n in schedule.stats["issued"]],
                             schedule.issue if config.corrects else None)
    if config.corrects:  # the last drain ends after the counters: up to the last result
        return timings[-1].issue_end + schedule.groups[-1] + config.latency + 1
    return timings[-1].issue_end + config.latency - config.check_latency + 2

"""What generating a configuration's Verilog costs, before it is generated, and its progress.

Generation time and memory grow with the netlist the back-end writes, which is dominated by
three parts of a configuration: the PEs (``rows * cols``, each with ``G/2`` multipliers),
the accumulator memories (``cols * acc_depth`` entries) and the IFM feeder (its buffer of
``2 * acc_depth * feeder_tiles`` entries per lane and its per-pixel, per-tile flags). The
estimate is in lines of the flat Verilog ``amaranth.back.verilog`` writes; its coefficients
were fitted to the generator measured on 2026-12-01 (within 10 % of all of these; it
over-estimates the dense baseline by a third):

=================================  ==========  ========  =====================
configuration                      lines       seconds   memory
=================================  ==========  ========  =====================
8x8 default                        22,894      3         80 MB
16x16                              81,738      5-17      180 MB
32x32                              308,674     48        534 MB
8x8, ``acc_depth`` 16,384          151,918     18        145 MB
8x8 feeder, 16 tiles               347,594     25        214 MB
8x8 feeder, 64 tiles               1,236,458   80        481 MB
8x8 feeder, ``acc_depth`` 1,024    1,241,290   116       504 MB
=================================  ==========  ========  =====================

A configuration estimated above :data:`FORCE_LINES` (the 32x32 array and the 8x8 feeder
build with 16 tiles fit under it; anything markedly bigger takes minutes and gigabytes, and
a typo such as ``ROWS=1000`` would take hours) is generated only when asked for explicitly
(``--force``, ``make ... FORCE=1``), and its generation reports its stages as they go.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

__all__ = ["FORCE_LINES", "estimated_lines", "needs_force", "stage"]

#: Estimated Verilog lines above which generation needs ``--force``.
FORCE_LINES = 400_000


def estimated_lines(config):
    """Lines of Verilog the core of ``config`` is expected to take (see the module's table)."""
    pe = 190 + 55 * config.mults_per_pe
    lines = 1_650 + config.rows * config.cols * pe + config.cols * config.acc_depth
    if config.kernel_check:  # the checksum column: one dense PE of row_span lanes per row
        lines += config.rows * (190 + 55 * config.row_span)
    if config.pixel_check:
        lines += 150 * config.cols
    if config.feeder:
        lanes = config.tile_reduction
        cells = config.acc_depth * config.feeder_tiles
        lines += 2 * lanes * cells + 8 * cells + 700 * lanes
    return lines


def needs_force(config):
    """Why ``config`` needs ``--force`` (a sentence), or ``None``."""
    lines = estimated_lines(config)
    if lines <= FORCE_LINES:
        return None
    return (f"configuration {config.name} would take an estimated {lines:,} lines of Verilog, "
            f"over the {FORCE_LINES:,} a build may take without asking (the 32x32 array is "
            f"309,000 lines and takes about 50 s and 0.5 GB to generate; time and memory grow "
            f"with the lines): check the values, and to build it anyway give FORCE=1 (make) "
            f"or --force; it then reports its progress")


@contextmanager
def stage(what, *, enabled=True, out=None):
    """Print ``what`` when it starts and how long it took when it ends (when ``enabled``)."""
    if not enabled:
        yield
        return
    out = out or sys.stdout
    print(f"  {what} ...", file=out, flush=True)
    start = time.monotonic()
    yield
    print(f"  {what}: {time.monotonic() - start:.1f} s", file=out, flush=True)

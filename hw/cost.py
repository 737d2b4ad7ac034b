"""What generating a configuration's Verilog costs, before it is generated, and its progress.

Generation time and memory grow with the netlist the back-end writes. The generator writes one
Verilog module per distinct block (:mod:`sense_hw.hierarchy`), so the array's PEs cost one PE
module and one row module whatever their number; what still grows with the configuration is
the engine's skew and deskew registers (quadratic in ``rows`` and ``cols``), the accumulator
memory's initial values (``acc_depth`` lines, once), and the IFM feeder, one module whose
buffer (``2 * acc_depth * feeder_tiles`` entries per lane) and per-pixel, per-tile flags are
all written out. Fault-injection builds stay flat (one module per instance, as Amaranth
writes them) and cost what every build cost before. The estimate is in lines of Verilog; its
coefficients were fitted to the generator measured on 2026-12-02 (within 10 % of all of
these; seconds are CPU time, user + system, of ``python -m sense_hw.generate``):

=================================  ==========  ========  =====================
configuration                      lines       seconds   memory
=================================  ==========  ========  =====================
4x4                                1,703
8x8 default                        2,759       1.5       150 MB
16x16                              6,311
32x32                              19,175      6         150 MB
8x32 / 32x8                        8,241 / 13,089 (before the protocol checker, +302)
``abft="both"`` 4x4 / 16x16        2,651 / 9,623 (before the protocol checker, +302)
8x8, ``acc_depth`` 1,024 / 16,384  3,527 / 18,887
8x8 feeder, 16 tiles               319,711     about 60  160 MB
flat (fault build) 32x32           308,674     46        535 MB
flat (fault build) 8x8 feeder 64   1,236,458   80        481 MB
=================================  ==========  ========  =====================

A configuration estimated above :data:`FORCE_LINES` (the 8x8 feeder build with 16 tiles fits
under it; anything markedly bigger takes minutes and gigabytes, and a typo such as
``ROWS=1000`` would take hours) is generated only when asked for explicitly (``--force``,
``make ... FORCE=1``), and its generation reports its stages as they go.
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
    rows, cols = config.rows, config.cols
    if config.faults:  # flat: every PE and accumulator written out
        lines = 1_650 + rows * cols * (190 + 55 * config.mults_per_pe) \
            + cols * config.acc_depth
        if config.kernel_check:  # the checksum column: one dense PE of row_span lanes per row
            lines += rows * (190 + 55 * config.row_span)
        if config.pixel_check:
            lines += 150 * cols
    else:
        lines = 569 + 10 * rows * rows + 5 * cols * cols + 42 * (rows + cols) \
            + config.acc_depth + 12 * config.mults_per_pe
        if not config.feeder:  # the pixels stream's protocol checker
            lines += 302
        if config.pixel_check:
            lines += 200 + 50 * cols
        if config.kernel_check:
            lines += 200 + 30 * rows
        if config.corrects:  # the drain and the tile summary travel with the wavefront
            lines += 100 + 55 * (rows + cols)
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
            f"over the {FORCE_LINES:,} a build may take without asking (the 8x8 feeder build "
            f"with 16 tiles is 320,000 lines and takes about a minute and 0.2 GB to generate; "
            f"time and memory grow with the lines): check the values, and to build it anyway "
            f"give FORCE=1 (make) or --force; it then reports its progress")


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

"""The small configurations the default test suite builds on Verilator (one build dir each)."""

from sense_models.config import ArrayConfig

CORE_CONFIGS = [
    ArrayConfig(rows=4, cols=4, group=4, acc_depth=16),
    ArrayConfig(rows=3, cols=5, group=2, acc_depth=8),
    ArrayConfig(rows=2, cols=3, group=8, acc_width=24, acc_depth=8),
    ArrayConfig(rows=2, cols=2, group=16, acc_depth=4),
    ArrayConfig(rows=4, cols=4, group=4, sparse=False, acc_depth=16),
    ArrayConfig(rows=3, cols=3, group=4, acc_depth=16, abft="both"),
    ArrayConfig(rows=2, cols=3, group=2, acc_depth=8, abft="pixel", sparse=False),
    ArrayConfig(rows=3, cols=2, group=8, acc_depth=8, abft="kernel"),
]
PE_CONFIGS = [ArrayConfig(group=g) for g in (2, 4, 8, 16)] + [ArrayConfig(sparse=False)]

#: Feeder builds: the permutation table, skipping, gating and counters.
FEEDER_CONFIGS = [
    ArrayConfig(rows=4, cols=4, group=4, acc_depth=8, feeder=True, feeder_tiles=8),
    ArrayConfig(rows=3, cols=2, group=2, sparse=False, acc_depth=4, feeder=True, feeder_tiles=4),
    ArrayConfig(rows=2, cols=3, group=8, acc_depth=4, feeder=True, feeder_tiles=4,
                abft="kernel"),
    ArrayConfig(rows=3, cols=2, group=4, acc_depth=4, feeder=True, feeder_tiles=4,
                abft="pixel"),
    # The full configuration: sparse, the feeder, both checks with in-core correction.
    ArrayConfig(rows=4, cols=4, group=4, acc_depth=8, feeder=True, feeder_tiles=8,
                abft="both"),
]

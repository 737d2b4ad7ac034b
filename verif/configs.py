"""The small configurations the regression builds on Verilator, one build directory each.

The default test suite (``tests/test_rtl.py``, ``tests/test_top.py``) parametrizes over
them and ``make coverage`` runs the same ones instrumented (:mod:`sense_verif.coverage`),
so the coverage figures are those of the regression as it is.
"""

from sense_models.config import ArrayConfig

__all__ = ["CORE_CONFIGS", "PE_CONFIGS", "FEEDER_CONFIGS", "TOP_CONFIGS", "ABFT_FAULT_CONFIGS",
           "CHECKSUM_CONFIGS", "PROTOCOL_CONFIGS", "REGRESSION", "COVERAGE_ONLY"]

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

#: Small builds of the whole accelerator (``sense_top``): every feature on, and the plain
#: streamed core.
TOP_CONFIGS = [
    ArrayConfig(rows=4, cols=4, group=4, acc_depth=8, feeder=True, feeder_tiles=8,
                abft="both", bus_width=128),
    ArrayConfig(rows=4, cols=4, group=4, acc_depth=8, bus_width=64),
]

#: Fault-injection builds whose checks must detect, locate and correct injected faults (the
#: fault-free suites only show that they raise no false alarm).
ABFT_FAULT_CONFIGS = [
    ArrayConfig(rows=3, cols=3, group=4, acc_depth=16, abft="both", faults=True),
]

#: Builds with ABFT checks: a corrupted checksum from the host (the pixel side's digits on
#: streamed builds, the kernel side's checksum weights) or an upset of a column checker
#: must raise its side's alarm, reported where it happened.
CHECKSUM_CONFIGS = [c for c in CORE_CONFIGS + FEEDER_CONFIGS if c.abft != "none"]

#: The protocol check's error paths (malformed pixel streams): one streamed build per feature
#: set, plain, the pixel-side check's digits, both checks.
PROTOCOL_CONFIGS = [CORE_CONFIGS[0], CORE_CONFIGS[6], CORE_CONFIGS[5]]

#: ``(configs, top, cocotb module)``: the regression's suites, as the tests run them.
REGRESSION = [
    (CORE_CONFIGS, "core", "sense_verif.test_core"),
    (FEEDER_CONFIGS, "core", "sense_verif.test_feeder"),
    (PE_CONFIGS, "pe", "sense_verif.test_pe"),
    (TOP_CONFIGS, "axi", "sense_verif.test_top"),
    (TOP_CONFIGS, "axi", "sense_verif.test_top_registers"),
    (ABFT_FAULT_CONFIGS, "core", "sense_verif.test_abft"),
    (CHECKSUM_CONFIGS, "core", "sense_verif.test_checksum_inputs"),
    (PROTOCOL_CONFIGS, "core", "sense_verif.test_protocol"),
]

#: Suites only ``make coverage`` adds to :data:`REGRESSION` (``make test`` would grow by
#: minutes): the protocol check's error paths on every streamed core build, not only on
#: the three of :data:`PROTOCOL_CONFIGS`, and on the fault-injection build; every fault site
#: in every mode (:mod:`sense_verif.test_fault_sweep`).
COVERAGE_ONLY = [
    (CORE_CONFIGS, "core", "sense_verif.test_protocol"),
    (ABFT_FAULT_CONFIGS, "core", "sense_verif.test_fault_sweep"),
    (ABFT_FAULT_CONFIGS, "core", "sense_verif.test_protocol"),
]

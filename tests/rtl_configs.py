"""The small configurations the default test suite builds on Verilator (one build dir each);
they live in :mod:`sense_verif.configs`, which ``make coverage`` runs too."""

from sense_verif.configs import (ABFT_FAULT_CONFIGS, CHECKSUM_CONFIGS, CORE_CONFIGS,
                                 FEEDER_CONFIGS, PE_CONFIGS, TOP_CONFIGS)

__all__ = ["ABFT_FAULT_CONFIGS", "CHECKSUM_CONFIGS", "CORE_CONFIGS", "FEEDER_CONFIGS",
           "PE_CONFIGS", "TOP_CONFIGS"]

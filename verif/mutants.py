"""Deliberately broken blocks, to show that the testbenches catch a wrong design."""

from contextlib import contextmanager
from unittest import mock

from sense_hw.feeder import IfmFeeder
from sense_hw.pe import ProcessingElement

__all__ = ["NoIndexPE", "LaneKeepingFeeder", "mutant"]


class NoIndexPE(ProcessingElement):
    """A PE that drops its index selection: lane ``m`` always takes ``x_in[m]``."""

    def select(self, lane, index):
        return self.x_in[lane]


class LaneKeepingFeeder(IfmFeeder):
    """A feeder that ignores the table's lane column: every element stays in its lane."""

    def source_lane(self, lane, entry):
        return lane


#: name -> (where the generator looks the block up, the broken block)
MUTANTS = {
    "no_index": ("sense_hw.array.ProcessingElement", NoIndexPE),
    "no_index_top": ("sense_hw.generate.TOPS", {"pe": NoIndexPE}),
    "feeder_keeps_lanes": ("sense_hw.core.IfmFeeder", LaneKeepingFeeder),
}


@contextmanager
def mutant(name):
    """While active, the generator builds the named mutant instead of the real block."""
    target, replacement = MUTANTS[name]
    patcher = mock.patch.dict(target, replacement) if isinstance(replacement, dict) \
        else mock.patch(target, replacement)
    with patcher:
        yield

"""Deliberately broken blocks, to show that the testbenches catch a wrong design."""

from contextlib import contextmanager
from unittest import mock

from sense_hw.pe import ProcessingElement

__all__ = ["NoIndexPE", "mutant"]


class NoIndexPE(ProcessingElement):
    """A PE that drops its index selection: lane ``m`` always takes ``x_in[m]``."""

    def select(self, lane, index):
        return self.x_in[lane]


#: name -> (where the generator looks the block up, the broken block)
MUTANTS = {
    "no_index": ("sense_hw.array.ProcessingElement", NoIndexPE),
    "no_index_top": ("sense_hw.generate.TOPS", {"pe": NoIndexPE}),
}


@contextmanager
def mutant(name):
    """While active, the generator builds the named mutant instead of the real block."""
    target, replacement = MUTANTS[name]
    patcher = mock.patch.dict(target, replacement) if isinstance(replacement, dict) \
        else mock.patch(target, replacement)
    with patcher:
        yield

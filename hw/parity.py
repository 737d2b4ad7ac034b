"""Even parity beside a stored or travelling value: the control checks' building block."""

from amaranth.lib import data

__all__ = ["with_parity", "set_parity", "parity_error"]


def with_parity(fields):
    """A struct of ``fields`` and, last, a parity bit over them (see :func:`set_parity`)."""
    return data.StructLayout({**fields, "parity": 1})


def set_parity(m, value):
    """Even parity over a :func:`with_parity` struct: its ``parity`` bit makes it even."""
    m.d.comb += value.parity.eq(value.as_value()[:-1].xor())


def parity_error(value):
    """A :func:`with_parity` struct whose parity no longer holds: a bit changed on the way."""
    return value.as_value().xor()

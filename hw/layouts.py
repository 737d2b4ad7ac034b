"""Amaranth layouts of the stream payloads, built from :mod:`sense_models.formats`.

The host-side packer and the RTL share one description of every bit, so they cannot drift.
"""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from sense_models.formats import (fault_format, ifm_format, pass_format, pixel_format,
                                  quant_format, result_format, stats_format, status_format,
                                  table_format, weight_format)

__all__ = ["bus_layout", "pixel_layout", "weight_layout", "result_layout", "status_layout",
           "fault_layout", "ifm_layout", "table_layout", "pass_layout", "stats_layout",
           "quant_layout"]


def _field_shape(field):
    shape = signed(field.width) if field.signed else unsigned(field.width)
    for count in reversed(field.shape):
        shape = data.ArrayLayout(shape, count)
    return shape


def bus_layout(bus_format):
    """The ``StructLayout`` of a :class:`sense_models.formats.BusFormat` (same bit order)."""
    return data.StructLayout({field.name: _field_shape(field) for field in bus_format.fields})


def pixel_layout(config):
    return bus_layout(pixel_format(config))


def weight_layout(config):
    return bus_layout(weight_format(config))


def result_layout(config):
    return bus_layout(result_format(config))


def status_layout(config):
    return bus_layout(status_format(config))


def fault_layout(config):
    return bus_layout(fault_format(config))


def ifm_layout(config):
    return bus_layout(ifm_format(config))


def table_layout(config):
    return bus_layout(table_format(config))


def pass_layout(config):
    return bus_layout(pass_format(config))


def stats_layout(config):
    return bus_layout(stats_format(config))


def quant_layout(config):
    return bus_layout(quant_format(config))

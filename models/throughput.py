"""Whole-network throughput by the cycle models: ResNet-50 on a configuration, images/s.

Two bounds per convolution, both from the project's own models on the driver's real jobs
(:class:`sense_models.driver.Driver` with the :class:`~sense_models.driver.CycleBackend`):

* *compute-bound*: the core alone with every stream always ready
  (:func:`sense_models.cycle_model.feeder_cycles` or ``tiling_cycles``): what the array
  sustains when the host keeps up;
* *bus-bound*: ``sense_top`` behind its one AXI4-Stream slave
  (:mod:`sense_models.top_model`), the convolutions lowered on the host, so a 3x3 layer
  sends nine times its feature map (plus weights, table and commands) at ``bus_width`` bits
  a cycle. Each layer also gets the cycles its input and its output stream alone need at a
  bus word a cycle, and the side (compute, input bus, output bus) with the most.

Activations are synthetic (seeded): each input channel's density is drawn as in the
bench (:func:`sense_models.workloads.channel_densities`, mean 0.41, 10 % dead), weights are
random int8 pruned to 1/2; the cycles depend on the data only through the feeder's
zero-vector skipping. A layer whose reduction is longer than the feeder holds runs in parts
(the driver's raw mode), as it would on the board.

``rank_shapes`` compares array shapes of one multiplier count on the streamed schedule
(dense IFM, no data needed): the core's utilization over ResNet-50.
"""

from __future__ import annotations

import time

import numpy as np

from .cycle_model import ideal_cycles, tiling_cycles
from .driver import CycleBackend, Driver
from .layers import RESNET50_CONVS
from .network import QuantLayer
from .sparsity import prune
from .tiling import tile_layer
from .workloads import channel_densities, random_activations

__all__ = ["synthetic_layer", "layer_bounds", "network_throughput", "network_rate",
           "rank_shapes"]


def synthetic_layer(conv, rng, *, group):
    """A :class:`QuantLayer` of ``conv``'s shape and its input ``(1, C, H, W)``, synthetic."""
    size_in = conv.out_size * conv.stride
    density = np.repeat(channel_densities(rng, conv.in_channels), size_in * size_in)
    x = random_activations(rng, 1, conv.in_channels * size_in * size_in, density=density)
    w = rng.integers(-128, 128, size=(conv.reduction, conv.kernels))
    w = prune(w, group).T.reshape(conv.kernels, conv.in_channels, conv.kernel, conv.kernel)
    layer = QuantLayer(conv.name, w.astype(np.int64), np.zeros(conv.kernels, np.int64), 8,
                       stride=conv.stride, padding=conv.padding)
    return layer, x.reshape(1, conv.in_channels, size_in, size_in)


def layer_bounds(config, conv, rng):
    """The two bounds of one convolution: a dict of cycles and bytes (parts summed)."""
    layer, x = synthetic_layer(conv, rng, group=config.group)
    driver = Driver(config, CycleBackend())
    driver.run_layer(layer, x)
    compute = sum(result.core_cycles for _, result in driver.log)
    bus = sum(result.cycles for _, result in driver.log)
    bytes_in = sum(job.bytes_in for job, _ in driver.log)
    bytes_out = sum(job.bytes_out for job, _ in driver.log)
    dense_macs = conv.pixels * conv.reduction * conv.kernels
    word = config.bus_width // 8
    # What each stream alone needs at a word a cycle: the side that limits the layer.
    floors = {"compute": compute, "input bus": -(-bytes_in // word),
              "output bus": -(-bytes_out // word)}
    return {"layer": conv.name, "pixels": conv.pixels, "reduction": conv.reduction,
            "kernels": conv.kernels, "parts": len(driver.log), "dense_macs": dense_macs,
            "compute_cycles": compute, "bus_cycles": bus, "bytes_in": bytes_in,
            "bytes_out": bytes_out, "input_bus_cycles": floors["input bus"],
            "output_bus_cycles": floors["output bus"],
            "limited_by": max(floors, key=floors.get),
            "bus_limit": round(bus / compute, 3),
            "utilization": round(ideal_cycles(config, dense_macs) / compute, 4)}


def network_throughput(config, convs=RESNET50_CONVS, *, seed=2026, clocks_mhz=(200.0,),
                       progress=None):
    """Both bounds of every convolution of ``convs`` on ``config`` and the network's
    images/s at each clock of ``clocks_mhz``. Shapes that repeat are modelled once (on the
    first occurrence's data) and counted as often as they occur."""
    rng = np.random.default_rng(seed)
    by_shape, layers = {}, []
    started = time.perf_counter()
    for n, conv in enumerate(convs):
        shape = (conv.in_channels, conv.out_channels, conv.kernel, conv.stride, conv.out_size)
        if shape not in by_shape:
            by_shape[shape] = layer_bounds(config, conv, rng)
        layers.append({**by_shape[shape], "layer": conv.name})
        if progress:
            progress(n + 1, len(convs), conv.name)
    totals = {key: sum(layer[key] for layer in layers)
              for key in ("compute_cycles", "bus_cycles", "bytes_in", "bytes_out", "dense_macs")}
    images_per_s = {f"{mhz:g}MHz": network_rate(totals, mhz) for mhz in clocks_mhz}
    bus_limited = [{"layer": layer["layer"], "bus_limit": layer["bus_limit"],
                    "limited_by": layer["limited_by"]}
                   for layer in layers if layer["bus_limit"] > 1.05]
    return {"config": config.to_dict(), "config_name": config.name,
            "multipliers": config.multipliers, "convolutions": len(convs),
            "distinct_shapes": len(by_shape), "seed": seed, **totals,
            "utilization": ideal_cycles(config, totals["dense_macs"]) / totals["compute_cycles"],
            "images_per_s": images_per_s, "bus_limited_layers": bus_limited,
            "layers": layers, "wall_s": round(time.perf_counter() - started, 1)}


def network_rate(cycles, mhz):
    """Images/s at ``mhz`` of a network taking ``cycles["compute_cycles"]`` per image with
    every stream ready and ``cycles["bus_cycles"]`` behind the bus (a
    :func:`network_throughput` report will do)."""
    return {"compute_bound": mhz * 1e6 / cycles["compute_cycles"],
            "bus_bound": mhz * 1e6 / cycles["bus_cycles"]}


def rank_shapes(configs, convs=RESNET50_CONVS):
    """Each configuration's compute-bound ResNet-50 cycles and utilization on the streamed
    schedule (dense IFM, so no data): the array shapes ranked, best first."""
    rows = []
    for config in configs:
        cycles = sum(tiling_cycles(config, tile_layer(config, c.pixels, c.reduction, c.kernels))
                     for c in convs)
        macs = sum(c.pixels * c.reduction * c.kernels for c in convs)
        rows.append({"rows": config.rows, "cols": config.cols, "group": config.group,
                     "multipliers": config.multipliers, "cycles": cycles,
                     "utilization": round(ideal_cycles(config, macs) / cycles, 4)})
    return sorted(rows, key=lambda row: row["cycles"])

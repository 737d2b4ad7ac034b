"""IFM-sparsity benchmark: what zero-vector skipping and channel rearrangement buy.

Part of ``make bench`` (:mod:`sense_verif.bench`); alone:
``make bench BENCH_ARGS='--part ifm'``. For every layer of the trained digits CNN (its real
activations) and every ResNet-50 layer shape (synthetic activations with a realistic spread
of per-channel densities), on a feeder build of the bench's array:

* ``cycles_dense_ifm``: the feeder with skipping off (every pixel vector issued);
* ``cycles_skip``: skipping on, channels in their original order;
* ``cycles_skip_rearranged``: skipping on, channels ordered by the density clustering
  (:func:`sense_models.rearrange.cluster_by_density`), measured on calibration data, not on
  the data the bench runs;
* ``gated_fraction``: multiplies gated (zero IFM operand) over multiplies issued, per run.

Every layer whose reduction fits the feeder build (``feeder_tiles`` tiles) runs on the RTL
through cocotb on Verilator (bit-exact results and counters, cycles equal to the cycle
model); the others get the cycle model's figures (``"rtl": false``), which the tests check
against the RTL on random layers of every activation pattern.
"""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np

from sense_models.cycle_model import feeder_cycles, tiling_cycles
from sense_models.feeder import feeder_build, pack_for_feeder, plan_feeder, schedule_feeder
from sense_models.golden import im2col
from sense_models.layers import RESNET50
from sense_models.network import accuracy as network_accuracy
from sense_models.network import DIGITS_CNN, channel_density, forward, load_network
from sense_models.rearrange import cluster_by_density
from sense_models.tiling import tile_layer
from sense_models.workloads import channel_densities, random_activations, random_weights

from .report import console_table
from .runner import build, run_tests

__all__ = ["network_layers", "resnet_layers", "bench_ifm", "table"]

NETWORK = DIGITS_CNN
MODES = ("dense_ifm", "skip", "skip_rearranged")


def network_layers(*, pixels, calibration=180):
    """``(name, X, W, kernel_area, density)`` of each digits-CNN layer.

    The density the clustering uses is measured on the first ``calibration`` test images;
    ``X`` is lowered from the following images, ``pixels`` rows of it.
    """
    layers, extra = load_network(NETWORK)
    images = extra["images"]
    maps = [forward(layers, image, keep=True)[1] for image in images]
    out = []
    for n, layer in enumerate(layers):
        kernel = layer.weights.shape[2:]
        density = channel_density([m[n] for m in maps[:calibration]])
        rows = []
        for m in maps[calibration:]:
            rows.append(im2col(m[n], kernel, stride=layer.stride, padding=layer.padding))
            if sum(len(r) for r in rows) >= pixels:
                break
        x = np.concatenate(rows)[:pixels]
        out.append((f"digits.{layer.name}", x, layer.matrix, int(np.prod(kernel)), density))
    return out


def rearranged_accuracy(config, *, calibration=180):
    """int8 accuracy of the digits CNN with every layer re-pruned in its clustered order.

    What the packer does to the trained weights (no fine-tuning after it): each layer's
    ``W`` is rearranged by the clustering of its calibration densities, pruned to 1/2 in
    that order, and put back in the original order for the golden model.
    """
    layers, extra = load_network(NETWORK)
    images = extra["images"]
    maps = [forward(layers, image, keep=True)[1] for image in images[:calibration]]
    changed = []
    for n, layer in enumerate(layers):
        k, c, kh, kw = layer.weights.shape
        density = channel_density([m[n] for m in maps])
        plan = plan_feeder(config, cluster_by_density(density), kh * kw, c * kh * kw)
        rearranged = pack_for_feeder(config, layer.matrix, plan).matrix
        w = np.zeros((len(plan.order), k), dtype=np.int64)
        w[plan.order] = rearranged
        changed.append(dataclasses.replace(
            layer, weights=w[:c * kh * kw].T.reshape(k, c, kh, kw)))
    return network_accuracy(changed, images, extra["labels"])


def resnet_layers(*, pixels, seed=2026):
    """``(name, X, W, kernel_area, density)`` of each ResNet-50 shape, synthetic data
    (``pixels`` of them, or the layer's own count if smaller).

    Each input channel draws a density from Beta(0.7, 1) (mean 0.41), 10 % of them dead;
    the clustering sees the densities measured on a separate calibration draw.
    """
    rng = np.random.default_rng(seed)
    out = []
    for layer in RESNET50:
        area = layer.kernel * layer.kernel
        per_element = np.repeat(channel_densities(rng, layer.in_channels), area)
        count = min(pixels, layer.pixels)
        x = random_activations(rng, count, layer.reduction, density=per_element)
        calib = random_activations(rng, 4 * count, layer.reduction, density=per_element)
        density = (calib != 0).reshape(-1, layer.in_channels, area).mean(axis=(0, 2))
        w = random_weights(rng, layer.reduction, layer.kernels)
        out.append((layer.name, x, w, area, density))
    return out


def _schedules(config, x, w, kernel_area, density):
    """The three runs of one layer (their plans and packed weights differ)."""
    channels = x.shape[1] // kernel_area
    identity = plan_feeder(config, np.arange(channels), kernel_area, x.shape[1])
    clustered = plan_feeder(config, cluster_by_density(density), kernel_area, x.shape[1])
    plain = pack_for_feeder(config, w, identity)
    return {
        "dense_ifm": schedule_feeder(config, x, plain, identity, dense=True),
        "skip": schedule_feeder(config, x, plain, identity),
        "skip_rearranged": schedule_feeder(config, x, pack_for_feeder(config, w, clustered),
                                           clustered),
    }


def bench_ifm(config, *, pixels=256, resnet_pixels=64):
    """Run the IFM-sparsity bench; returns ``(report section, failures)``."""
    rtl_config = feeder_build(config)
    model_config = dataclasses.replace(rtl_config, feeder_tiles=256)
    layers = network_layers(pixels=pixels) + resnet_layers(pixels=resnet_pixels)
    records, jobs = [], []
    for name, x, w, area, density in layers:
        tiles = -(-x.shape[1] // rtl_config.tile_reduction)
        on_rtl = tiles <= rtl_config.feeder_tiles
        runs = _schedules(rtl_config if on_rtl else model_config, x, w, area, density)
        record = {"layer": name, "pixels": x.shape[0], "reduction": x.shape[1],
                  "kernels": w.shape[1], "kernel_area": area, "rtl": on_rtl,
                  "input_density": float(np.count_nonzero(x) / x.size),
                  "dead_channels": int(np.count_nonzero(density == 0)),
                  "channels": int(len(density)),
                  "cycles_stream": tiling_cycles(config, tile_layer(
                      config, x.shape[0], x.shape[1], w.shape[1]))}
        for mode, s in runs.items():
            issued, gated = s.stats["issued"].sum(), s.stats["gated"].sum()
            record[f"cycles_{mode}"] = feeder_cycles(rtl_config, s)
            record[f"skipped_fraction_{mode}"] = float(
                s.stats["skipped"].sum() / (issued + s.stats["skipped"].sum()))
            record[f"gated_fraction_{mode}"] = float(gated / (issued * config.multipliers))
        record["gated_fraction"] = record["gated_fraction_skip_rearranged"]
        record["rearranged_vs_skip"] = record["cycles_skip"] / record["cycles_skip_rearranged"]
        record["skip_rearranged_vs_dense_ifm"] = \
            record["cycles_dense_ifm"] / record["cycles_skip_rearranged"]
        records.append(record)
        if on_rtl:
            jobs += [(name, mode, s) for mode, s in runs.items()]
    failures = 0
    if jobs:
        failures = _run_rtl(rtl_config, jobs, records)
    return _section(records, rtl_config, pixels=pixels, resnet_pixels=resnet_pixels), failures


def _run_rtl(config, jobs, records):
    """Run ``jobs`` through cocotb; checks RTL cycles == model and records them."""
    directory = build(config, "core")
    jobs_file = directory / "ifm_jobs.pickle"
    report = directory / "ifm_report.json"
    jobs_file.write_bytes(pickle.dumps(jobs))
    report.unlink(missing_ok=True)
    _, failures = run_tests(config, "core", "sense_verif.test_bench_ifm", directory=directory,
                            results_name="ifm-results.xml",
                            extra_env={"SENSE_JOBS": str(jobs_file), "SENSE_REPORT": str(report)})
    measured = json.loads(report.read_text()) if report.exists() else []
    by_layer = {r["layer"]: r for r in records}
    for run in measured:
        record = by_layer[run["layer"]]
        record[f"rtl_cycles_{run['mode']}"] = run["cycles"]
        if run["cycles"] != record[f"cycles_{run['mode']}"]:
            failures += 1
    return failures + (len(jobs) - len(measured))


def table(records):
    return console_table(records, [
        ("layer", 24, lambda r: r["layer"]), ("T", 5, lambda r: f"{r['reduction']}"),
        ("dens", 5, lambda r: f"{r['input_density']:.2f}"),
        ("stream", 8, lambda r: f"{r['cycles_stream']}"),
        ("dense_ifm", 9, lambda r: f"{r['cycles_dense_ifm']}"),
        ("skip", 8, lambda r: f"{r['cycles_skip']}"),
        ("skip_rearr", 10, lambda r: f"{r['cycles_skip_rearranged']}"),
        ("rearr/skip", 10, lambda r: f"{r['rearranged_vs_skip']:.3f}x"),
        ("gated", 6, lambda r: f"{r['gated_fraction']:.1%}"),
        ("rtl", 4, lambda r: "yes" if r["rtl"] else "no")])


def _section(records, rtl_config, *, pixels, resnet_pixels):
    """The ``ifm_sparsity`` section of ``reports/bench.json``."""
    return {
        "config": rtl_config.to_dict(),
        "digits_int8_accuracy_rearranged": rearranged_accuracy(rtl_config),
        "pixels_digits": pixels, "pixels_resnet": resnet_pixels,
        "note": "digits layers: the trained network's real activations (clustering measured "
                "on the first 180 test images, runs on the following ones); resnet50 "
                "layers: synthetic activations, per-channel density Beta(0.7, 1) with 10 % "
                "dead channels; cycles_stream is the core without feeder (host streams the "
                "vectors); layers with rtl=true ran on Verilator (rtl_cycles_* equal to "
                "cycles_*), the others are the cycle model's",
        "layers": records,
    }

"""cocotb: the trained digits CNN, every layer, through ``sense_top`` (``make network``).

The host driver runs the test set in batches (a batch's pixels share pixel tiles) on the
RTL back-end; every layer's output is compared with the golden model as it arrives, the
logits with :func:`sense_models.network.forward`. The report goes to ``SENSE_REPORT``.
"""

import json
import os
import sys
import time

import cocotb
import numpy as np

from sense_models.driver import CycleBackend, Driver
from sense_models.network import DIGITS_CNN, forward, load_network

from .tb_top import RtlBackend, TopTB


def _progress(done, total, started, note=""):
    width = 30
    filled = width * done // total
    elapsed = time.monotonic() - started
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} images "
          f"{elapsed:5.0f} s {note}", end="" if done < total else "\n", file=sys.stderr,
          flush=True)


@cocotb.test()
async def test_network(dut):
    tb = TopTB(dut)
    await tb.reset()
    await tb.start()
    layers, extra = load_network(DIGITS_CNN)
    images, labels = extra["images"], extra["labels"]
    limit = int(os.environ.get("SENSE_IMAGES", len(images)))
    batch = int(os.environ.get("SENSE_BATCH", "40"))
    images, labels = images[:limit], labels[:limit]
    rtl = Driver(tb.config, RtlBackend(tb))
    model = Driver(tb.config, CycleBackend())
    started = time.monotonic()
    logits, golden = [], []
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        logits.append(await rtl.run_network_async(layers, chunk))
        model.run_network(layers, chunk)
        golden.append(np.stack([forward(layers, image) for image in chunk]))
        _progress(start + len(chunk), len(images), started)
    logits, golden = np.concatenate(logits), np.concatenate(golden)
    exact = int(np.all(logits == golden, axis=1).sum())
    status = await tb.fields("STATUS")
    abft = {"error": status["abft_error"], **(await tb.fields("ABFT_COUNTS")),
            "corrected": (await tb.fields("ABFT_CORRECTED"))["corrected"]}
    counters = await tb.counters()
    per_layer, mismatches = {}, []
    for (job, result), (_, predicted) in zip(rtl.log, model.log):
        entry = per_layer.setdefault(job.name, {"name": job.name, "rtl_cycles": 0,
                                                "model_cycles": 0, "core_model_cycles": 0,
                                                "bytes_in": 0, "bytes_out": 0, "batches": 0})
        entry["rtl_cycles"] += result.cycles
        entry["model_cycles"] += predicted.model_cycles
        entry["core_model_cycles"] += predicted.core_cycles
        if result.cycles != predicted.model_cycles:
            mismatches.append(f"{job.name}: RTL {result.cycles}, model "
                              f"{predicted.model_cycles}")
        entry["bytes_in"] += job.bytes_in
        entry["bytes_out"] += job.bytes_out
        entry["batches"] += 1
    n = len(images)
    cycles = sum(e["rtl_cycles"] for e in per_layer.values())
    report = {
        "config": tb.config.to_dict(),
        "config_name": tb.config.name,
        "images": n,
        "batch": batch,
        "images_bit_exact": exact,
        "accuracy_rtl": float(np.mean(np.argmax(logits, axis=1) == labels)),
        "accuracy_golden": float(np.mean(np.argmax(golden, axis=1) == labels)),
        "cycles": cycles,
        "cycles_per_image": cycles / n,
        "images_per_s_200mhz": 200e6 * n / cycles,
        "bytes_per_image": {
            "in": sum(e["bytes_in"] for e in per_layer.values()) / n,
            "out": sum(e["bytes_out"] for e in per_layer.values()) / n,
        },
        "layers": list(per_layer.values()),
        "cycle_model_exact": not mismatches,
        "abft": abft,
        "packet_error": status["error"],
        "counters": counters,
        "wall_s": round(time.monotonic() - started, 1),
    }
    with open(os.environ["SENSE_REPORT"], "w") as file:
        json.dump(report, file, indent=1)
    assert exact == n, f"{n - exact} of {n} images' logits differ from the golden model"
    assert not abft["error"] and not status["error"], f"alarm: {abft}, packet error " \
        f"{status['error']}"
    assert not mismatches, "the cycle model of sense_top is off: " + "; ".join(mismatches)

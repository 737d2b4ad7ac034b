"""Outcome of one fault-injection run, from what the run observed."""

from __future__ import annotations

import numpy as np

from sense_models.abft import correct, locate

__all__ = ["OUTCOMES", "classify", "host_correction"]

#: masked: outputs right, no alarm. benign_alarm: outputs right, alarm (e.g. a fault in a
#: checker). detected: outputs wrong, alarm. corrected: detected, and the located error
#: subtracted gives the right outputs. sdc: outputs wrong, no alarm (silent data corruption).
#: false_alarm: alarm in a run with no fault active.
OUTCOMES = ("masked", "benign_alarm", "detected", "corrected", "sdc", "false_alarm", "clean")


def host_correction(config, status, got, pixels):
    """``got`` corrected from the status's located single error, or ``None``.

    The core reports the first mismatch of each check: column and syndrome (pixel side),
    result beat and syndrome (kernel side). One mismatch of each, with equal syndromes,
    locates one wrong output: beat ``b`` is pixel ``b % P`` of kernel tile ``b // P``.
    """
    if status is None or status["pixel_errors"] != 1 or status["kernel_errors"] != 1:
        return None
    beat = status["kernel_beat"]
    kernel = (beat // pixels) * config.cols + status["pixel_column"]
    if kernel >= got.shape[1]:
        return None
    pixel_syn = np.zeros(got.shape[1], dtype=np.int64)
    pixel_syn[kernel] = status["pixel_syndrome"]
    kernel_syn = np.zeros(got.shape[0], dtype=np.int64)
    kernel_syn[beat % pixels] = status["kernel_syndrome"]
    location = locate(pixel_syn, kernel_syn)
    return None if location is None else correct(got, location, acc_width=config.acc_width)


def classify(*, fault_active, outputs_ok, alarm, corrected_ok=False):
    if not fault_active:
        return "false_alarm" if alarm else "clean"
    if outputs_ok:
        return "benign_alarm" if alarm else "masked"
    if not alarm:
        return "sdc"
    return "corrected" if corrected_ok else "detected"

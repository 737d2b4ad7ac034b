"""Outcome of one fault-injection run, from what the run observed."""

from __future__ import annotations

__all__ = ["OUTCOMES", "classify"]

#: masked: outputs right, no alarm. benign_alarm: outputs right, alarm, nothing corrected
#: (e.g. a fault in a checker). detected: outputs wrong, alarm. corrected: alarm, and the
#: core corrected the located error, so the outputs are right. sdc: outputs wrong, no alarm
#: (silent data corruption). false_alarm: alarm in a run with no fault active.
OUTCOMES = ("masked", "benign_alarm", "detected", "corrected", "sdc", "false_alarm", "clean")


def classify(*, fault_active, outputs_ok, alarm, corrected=False):
    """The outcome of a run; ``corrected``: the core reports a corrected output."""
    if not fault_active:
        return "false_alarm" if alarm else "clean"
    if outputs_ok:
        if not alarm:
            return "masked"
        return "corrected" if corrected else "benign_alarm"
    return "detected" if alarm else "sdc"

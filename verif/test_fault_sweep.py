"""cocotb sweep over every fault site of a fault-injection build with ``abft="both"``.

A random campaign (``make faults``) draws sites at random; this sweep takes each site of
the build's manifest once in every mode (stuck-at-0, stuck-at-1 from reset, and a one-cycle
flip at a start cycle that moves through the layer), with the bit moving over the site's
width. Every injector of the build is therefore used at least once (``make coverage``
runs it), and every run is judged: fault settings that name no site or start after the
run must change nothing; a fault at any site must leave the outputs exact or raise the
alarm, never corrupt them silently, and must not hang the core, except in the control
classes that pace the streams (:data:`MAY_HANG`), where a hang must come with the alarm.
The outcomes per class are counted in the log.
"""

import json
import os
from collections import Counter
from pathlib import Path

import cocotb
from cocotb.triggers import RisingEdge

from sense_models.formats import fault_format
from sense_models.workloads import random_layer

from .fault_runs import MODES
from .tb_core import CoreTB, case_rng
from .test_abft import faulted_run, status as abft_status

#: Site classes whose faults may stop the core: the weight-bank and drain state decide when
#: the streams are taken and the results leave, so a stuck bit there can stall them for
#: good. The control-state checks (a second copy of that state, parity on the drain line)
#: must have raised the alarm by then. Silent corruption is allowed nowhere: the control
#: checks cover the metadata, bank and drain state and the correction, and the parity line
#: beside each row's skewed IFM values catches the stuck skew bits that hit data, digits
#: and checksum column alike (this sweep found those silent before the parity lines).
MAY_HANG = ("bank_control", "drain_sequencer")

#: Flip start cycles, one per site in turn: from the first weights to the last results.
FLIP_STARTS = tuple(range(4, 60, 3))


def inactive(config, sites):
    """Fault settings that must do nothing: a site number past the last one, and a fault
    that starts after the run (every bit of the site, start and bit fields set once)."""
    fields = {f.name: f.width for f in fault_format(config).fields}
    last = (1 << fields["site"]) - 1
    assert last >= len(sites), "the site field has no unused number"
    return [{"site": last, "bit": (1 << fields["bit"]) - 1, "mode": 3, "start": 0},
            {"site": 0, "bit": 0, "mode": 2, "start": (1 << fields["start"]) - 1},
            {"site": 0, "bit": 0, "mode": 1, "start": 0x5555_5555 % (1 << fields["start"])}]


def sweep(sites):
    """``(site, fault)`` of every site in every mode, bits and flip starts spread out."""
    runs = []
    for n, site in enumerate(sites):
        for mode in MODES:
            bit = (7 * n + 3 * mode) % site["width"]
            start = FLIP_STARTS[(n + mode) % len(FLIP_STARTS)] if mode == 3 else 0
            runs.append((site, {"site": site["site"], "bit": bit, "mode": mode,
                                "start": start}))
    return runs


@cocotb.test()
async def test_every_site_in_every_mode(dut):
    tb = CoreTB(dut)
    cfg, rng = tb.config, case_rng("fault-sweep")
    assert cfg.faults and cfg.abft == "both", f"{cfg.name}: the sweep needs faults and both"
    x, w = random_layer(cfg, rng, "exact")
    sites = json.loads((Path.cwd() / "rtl" / "manifest.json").read_text())["fault_sites"]
    silent = os.environ.get("SENSE_CORRUPT_EXPECTED") == "1"  # an alarm that never rings
    outcomes, bad = Counter(), []
    for fault in inactive(cfg, sites):
        exact, status = await faulted_run(tb, x, w, fault, rng=rng)
        assert exact and not status["error"] and not silent, \
            f"an inactive fault setting {fault} changed the run: exact {exact}, {status}"
    for site, fault in sweep(sites):
        try:
            exact, status = await faulted_run(tb, x, w, fault, rng=rng)
            outcome = "exact" if exact else "wrong"
        except (AssertionError, TimeoutError) as error:  # tags, beat counts, a hang
            outcome = "hang" if isinstance(error, TimeoutError) else "wrong"
            status = abft_status(tb)
            await RisingEdge(tb.dut.clk)  # a check can fail in the read-only phase
        alarm = bool(status["error"]) and not silent
        outcomes[site["class"], outcome, alarm] += 1
        stopped = outcome == "hang" and not (site["class"] in MAY_HANG and alarm)
        if stopped or outcome == "wrong" and not alarm:
            bad.append(f"{site['block']}.{site['signal']} {MODES[fault['mode']]} bit "
                       f"{fault['bit']} from cycle {fault['start']}: {outcome}, "
                       f"alarm {alarm}")
    for (kind, outcome, alarm), count in sorted(outcomes.items()):
        dut._log.info("%-16s %-5s alarm=%d: %d", kind, outcome, alarm, count)
    assert not bad, f"{len(bad)} silent corruptions or hangs:\n  " + "\n  ".join(bad[:20])

"""Fast unit tests on Amaranth's own simulator: the core and the PE against the models."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from amaranth_tb import fault_sites, run_core, run_feeder_core
from sense_hw.pe import ProcessingElement
from sense_models.config import ArrayConfig
from sense_models.cycle_model import feeder_cycles, tiling_cycles
from sense_models.feeder import pack_for_feeder, plan_feeder, schedule_feeder
from sense_models.golden import pe_sum
from sense_models.tiling import results_to_matrix, schedule_layer
from sense_models.workloads import (FEEDER_CASES, feeder_layer, random_activations,
                                    random_layer, random_weights)


@pytest.mark.parametrize("config", [ArrayConfig(rows=2, cols=2, acc_depth=4),
                                    ArrayConfig(rows=2, cols=3, group=2, sparse=False,
                                                acc_depth=4)], ids=lambda c: c.name)
@pytest.mark.parametrize("case", ["ragged", "one_pixel", "pix_tiles"])
def test_core_matches_golden_and_cycle_model(config, case):
    rng = np.random.default_rng(3)
    x, w = random_layer(config, rng, case)
    s = schedule_layer(config, x, w)
    fields, cycles, _ = run_core(config, s)
    assert np.array_equal(fields["tag"], s.results["tag"])
    assert np.array_equal(results_to_matrix(s.tiling, fields["value"]), s.expected)
    assert cycles == tiling_cycles(config, s.tiling)


@pytest.mark.parametrize("config", [ArrayConfig(group=8), ArrayConfig(group=4, sparse=False)],
                         ids=lambda c: c.name)
def test_pe_step(config):
    dut = ProcessingElement(config=config)
    rng = np.random.default_rng(5)
    m = config.mults_per_pe

    async def testbench(ctx):
        weights = {}
        for bank in (0, 1):
            weights[bank] = (rng.integers(-128, 128, m), np.sort(rng.choice(config.group, m, False)))
            ctx.set(dut.w_en, 1)
            ctx.set(dut.w_bank, bank)
            ctx.set(dut.w_value, weights[bank][0].tolist())
            if config.sparse:
                ctx.set(dut.w_index, weights[bank][1].tolist())
            await ctx.tick()
        ctx.set(dut.w_en, 0)
        # The sum from above meets a vector pe_latency - 1 cycles after it entered x_in.
        lag = config.pe_latency - 1
        sent = []
        for step in range(20 + lag):
            x = rng.integers(-128, 128, config.row_span)
            psum, bank = int(rng.integers(-2**31, 2**31)), int(rng.integers(2))
            sent.append((x, psum, bank))
            ctx.set(dut.x_in, x.tolist())
            ctx.set(dut.bank_in, bank)
            if step >= lag:
                ctx.set(dut.psum_in, sent[step - lag][1])
            await ctx.tick()
            assert ctx.get(dut.bank_out) == bank
            if step >= lag:
                x, psum, bank = sent[step - lag]
                values, indices = weights[bank]
                assert ctx.get(dut.psum_out) == pe_sum(x, psum, values,
                                                       indices if config.sparse else None)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("abft", ["pixel", "kernel", "both"])
@pytest.mark.parametrize("sparse", [True, False])
def test_abft_builds_are_exact_and_quiet_without_faults(abft, sparse):
    config = ArrayConfig(rows=2, cols=3, acc_depth=8, abft=abft, sparse=sparse)
    rng = np.random.default_rng(11)
    for case in ("ragged", "one_pixel", "pix_tiles"):
        x, w = random_layer(config, rng, case)
        s = schedule_layer(config, x, w)
        fields, cycles, status = run_core(config, s)
        assert np.array_equal(results_to_matrix(s.tiling, fields["value"]), s.expected)
        assert cycles == tiling_cycles(config, s.tiling)
        assert status["error"][0] == 0, status


def _in_step(config, start):
    """An upset cycle chosen for one-cycle PEs, moved with the partial sums it is to hit."""
    return start + config.pe_latency - 1


def _fault_run(config, site_name, mode, start, bit=3, shape=None, stall=()):
    site = next(s for s in fault_sites(config) if f"{s['block']}.{s['signal']}" == site_name)
    rng = np.random.default_rng(5)
    if shape is None:
        x, w = random_layer(config, rng, "ragged")
    else:
        x = random_activations(rng, shape[0], shape[1], zero_fraction=0.0)
        w = random_weights(rng, shape[1], shape[2], group=config.group)
    x = np.where(x == 0, 1, x)  # zeros would hide faults
    s = schedule_layer(config, x, w)
    fields, _, status = run_core(config, s, fault={"site": site["site"], "bit": bit,
                                                    "mode": mode, "start": start}, stall=stall)
    got = results_to_matrix(s.tiling, fields["value"])
    return got, s.expected, {k: int(v[0]) for k, v in status.items()}


def test_a_stuck_multiplier_is_detected_by_both_checks():
    config = ArrayConfig(rows=2, cols=3, acc_depth=8, abft="both", faults=True)
    got, expected, status = _fault_run(config, "pe_r1_c2.product0", mode=2, start=0)
    assert np.any(got != expected)
    assert status["error"] and status["pixel_errors"] and status["kernel_errors"]
    assert status["pixel_column"] == 2


@pytest.mark.parametrize("start, pass_", [(20, 1), (32, 3), (50, 5)])
def test_a_psum_upset_is_located_and_corrected_in_the_core(start, pass_):
    """One wrong tile sum, in a middle or the final reduction tile: corrected."""
    config = ArrayConfig(rows=2, cols=3, acc_depth=8, abft="both", faults=True)
    got, expected, status = _fault_run(config, "pe_r0_c1.psum_reg", mode=3,
                                       start=_in_step(config, start), bit=12)
    assert np.array_equal(got, expected)
    assert status["pixel_errors"] == status["kernel_errors"] == status["corrected"] == 1
    assert (status["pixel_column"], status["pixel_pass"]) == (1, pass_)
    assert abs(status["pixel_syndrome"]) == abs(status["kernel_syndrome"]) == 1 << 12


def test_without_correction_the_same_upset_is_only_detected():
    config = ArrayConfig(rows=2, cols=3, acc_depth=8, abft="pixel", faults=True)
    got, expected, status = _fault_run(config, "pe_r0_c1.psum_reg", mode=3,
                                       start=_in_step(config, 20), bit=12)
    assert np.count_nonzero(got != expected) == 1
    assert status["error"] and status["pixel_errors"] == 1


def test_a_stuck_weight_is_invisible_to_the_pixel_check_alone():
    """The data and its checksum meet the same wrong weight: only the kernel side sees it."""
    for abft, seen in (("pixel", False), ("kernel", True)):
        config = ArrayConfig(rows=2, cols=3, acc_depth=8, abft=abft, faults=True)
        got, expected, status = _fault_run(config, "pe_r0_c0.w_value_b0", mode=2, start=0,
                                           bit=6)
        assert np.any(got != expected)
        assert bool(status["error"]) == seen


@pytest.mark.parametrize("start", [3, 9, 15])
def test_correction_with_drains_of_one_pixel_tiles_in_flight_together(start):
    """One-pixel tiles on a wide array: several tiles' drains cross the columns at once."""
    config = ArrayConfig(rows=1, cols=4, acc_depth=1, abft="both", faults=True)
    got, expected, status = _fault_run(config, "pe_r0_c0.psum_reg", mode=3,
                                       start=_in_step(config, start), bit=9, shape=(6, 3, 4))
    assert np.array_equal(got, expected)
    assert status["corrected"] == 1


def test_a_flip_during_a_stall_still_happens():
    """A flip whose cycle falls in a back-pressure stall takes effect when the core moves."""
    config = ArrayConfig(rows=2, cols=3, acc_depth=8, abft="pixel", faults=True)
    _, _, quiet = _fault_run(config, "pe_r0_c0.psum_reg", mode=3, start=10, bit=12)
    _, _, stalled = _fault_run(config, "pe_r0_c0.psum_reg", mode=3, start=10, bit=12,
                               stall=range(8, 14))
    assert quiet["error"] and stalled["error"]


FEEDER_CONFIG = ArrayConfig(rows=2, cols=2, group=4, acc_depth=4, feeder=True, feeder_tiles=4)


@pytest.mark.parametrize("config", [
    FEEDER_CONFIG,
    ArrayConfig(rows=1, cols=2, group=2, acc_depth=2, feeder=True, feeder_tiles=2),
], ids=lambda c: c.name)
@pytest.mark.parametrize("dense", [False, True], ids=["skip", "dense"])
@pytest.mark.parametrize("case", FEEDER_CASES)
def test_feeder_core_matches_golden_counters_and_cycle_model(case, dense, config):
    rng = np.random.default_rng(11)
    x, w, channels, kernel_area = feeder_layer(config, rng, case)
    plan = plan_feeder(config, channels, kernel_area, x.shape[1])
    s = schedule_feeder(config, x, pack_for_feeder(config, w, plan), plan, dense=dense)
    results, stats, cycles, _ = run_feeder_core(config, s)
    assert np.array_equal(results["tag"], s.results["tag"])
    assert np.array_equal(results["value"], s.results["value"])
    for counter in ("issued", "skipped", "gated"):
        assert np.array_equal(stats[counter], s.stats[counter]), counter
    assert cycles == feeder_cycles(config, s)


@pytest.mark.parametrize("case", ["random_perm", "single_nonzero", "zero_pixels"])
def test_feeder_core_under_random_traffic(case):
    """Sources idle and both output streams stall at random, independently."""
    rng = np.random.default_rng(12)
    x, w, channels, kernel_area = feeder_layer(FEEDER_CONFIG, rng, case)
    plan = plan_feeder(FEEDER_CONFIG, channels, kernel_area, x.shape[1])
    s = schedule_feeder(FEEDER_CONFIG, x, pack_for_feeder(FEEDER_CONFIG, w, plan), plan)
    for seed in range(4):
        results, stats, _, _ = run_feeder_core(FEEDER_CONFIG, s,
                                               rng=np.random.default_rng(seed))
        assert np.array_equal(results["tag"], s.results["tag"])
        assert np.array_equal(results["value"], s.results["value"])
        for counter in ("issued", "skipped", "gated"):
            assert np.array_equal(stats[counter], s.stats[counter]), (seed, counter)


@pytest.mark.parametrize("abft, site_name, counter", [
    ("kernel", "pe_r1_c2.product0", "kernel_errors"),
    ("pixel", "pe_r0_c1.psum_reg", "pixel_errors"),
])
def test_feeder_with_a_check_is_exact_quiet_and_detects_a_fault(abft, site_name, counter):
    """The checks with the feeder's skipping, placeholders and per-pixel first/last (the
    feeder generates the pixel-side checksum digits itself)."""
    config = ArrayConfig(rows=2, cols=3, group=4, acc_depth=4, feeder=True, feeder_tiles=4,
                         abft=abft, faults=True)
    site = next(s["site"] for s in fault_sites(config)
                if f"{s['block']}.{s['signal']}" == site_name)
    rng = np.random.default_rng(13)
    x, w, channels, kernel_area = feeder_layer(config, rng, "zero_pixels")
    plan = plan_feeder(config, channels, kernel_area, x.shape[1])
    s = schedule_feeder(config, x, pack_for_feeder(config, w, plan), plan)
    assert s.stats["skipped"].sum() > 0  # with skipping and per-pixel first/last at work
    results, stats, cycles, status = run_feeder_core(config, s)
    assert np.array_equal(results["value"], s.results["value"])
    assert np.array_equal(stats["gated"], s.stats["gated"])
    assert cycles == feeder_cycles(config, s) and not status["error"][0]
    results, _, _, status = run_feeder_core(
        config, s, fault={"site": site, "bit": 3, "mode": 2, "start": 0})  # stuck-at-1
    assert not np.array_equal(results["value"], s.results["value"])
    assert status["error"][0] and status[counter][0] > 0
def test_feeder_placeholder_is_pixel_0_of_the_tile():
    """A pass with nothing to issue sends pixel 0's zero vector, never a pixel that only a
    previous tile in the same bank had (its stale data would be gated differently)."""
    config = FEEDER_CONFIG  # 4-pixel tiles, 8-element reduction tiles
    x = np.zeros((11, 24), dtype=np.int64)
    x[3] = 5            # pixel 3 of tile 0, non-zero everywhere, stays in bank 0
    x[8:, 0] = [1, 2, 3]  # tile 2 (bank 0 again, 3 pixels): non-zero in reduction tile 0 only
    rng = np.random.default_rng(14)
    w = rng.integers(-9, 9, (24, 2))
    plan = plan_feeder(config, np.arange(24), 1, 24)
    s = schedule_feeder(config, x, pack_for_feeder(config, w, plan), plan)
    results, stats, _, _ = run_feeder_core(config, s)
    assert np.array_equal(results["value"], s.results["value"])
    assert np.array_equal(stats["gated"], s.stats["gated"])


def test_feeder_layers_back_to_back_each_with_its_own_table():
    """Three layers' streams offered all at once: each layer's IFM waits for its table, and
    a table waits until the layer before is done."""
    rng = np.random.default_rng(15)
    layers = []
    for case in ("random_perm", "zero_tiles", "clustered"):
        x, w, channels, kernel_area = feeder_layer(FEEDER_CONFIG, rng, case)
        plan = plan_feeder(FEEDER_CONFIG, channels, kernel_area, x.shape[1])
        layers.append(schedule_feeder(FEEDER_CONFIG, x, pack_for_feeder(FEEDER_CONFIG, w, plan),
                                      plan))
    results, stats, _, _ = run_feeder_core(FEEDER_CONFIG, layers)
    assert np.array_equal(results["value"], np.concatenate([s.results["value"] for s in layers]))
    for counter in ("issued", "skipped", "gated"):
        assert np.array_equal(stats[counter], np.concatenate([s.stats[counter] for s in layers]))

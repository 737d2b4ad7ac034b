"""cocotb test of one ProcessingElement against :func:`sense_models.golden.pe_sum`."""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from sense_models.formats import BusFormat, Field
from sense_models.golden import pe_sum

from .tb_core import case_rng, env_config


def _vector(width, count, signed=True):
    return BusFormat((Field("v", width, (count,), signed=signed),))


def pe_reference(config, stim):
    """Expected ``psum_out`` per cycle (weight writes take effect the next cycle).

    Cycles before both banks are written read unknown weights; their values are meaningless.
    """
    m = config.mults_per_pe
    values = np.zeros((2, m), dtype=np.int64)
    indices = np.zeros((2, m), dtype=np.int64)
    psum = np.empty(len(stim["psum"]), dtype=np.int64)
    for n in range(len(psum)):
        b = stim["bank"][n]
        psum[n] = pe_sum(stim["x"][n], stim["psum"][n], values[b],
                         indices[b] if config.sparse else None, acc_width=config.acc_width)
        if stim["w_en"][n]:
            values[stim["w_bank"][n]] = stim["w_value"][n]
            indices[stim["w_bank"][n]] = stim["w_index"][n]
    return psum


@cocotb.test()
@cocotb.parametrize(x_zeros=(0.0, 0.6))
async def test_pe_random(dut, x_zeros):
    """Random operands, banks, indices and weight writes; every output checked every cycle."""
    config = env_config()
    rng = case_rng("pe", x_zeros)
    n, span, m = 2000, config.row_span, config.mults_per_pe
    acc_hi = 1 << (config.acc_width - 1)
    x = rng.integers(-(1 << (config.ifm_width - 1)), 1 << (config.ifm_width - 1), (n, span))
    stim = {
        "x": np.where(rng.random((n, span)) < x_zeros, 0, x),
        "psum": rng.integers(-acc_hi, acc_hi, n, dtype=np.int64),
        "bank": rng.integers(0, 2, n),
        "w_en": rng.random(n) < 0.3,
        "w_bank": rng.integers(0, 2, n),
        "w_value": rng.integers(-(1 << (config.weight_width - 1)),
                                1 << (config.weight_width - 1), (n, m)),
        "w_index": rng.integers(0, config.group, (n, m)),
    }
    # The weight registers have no reset: load both banks first, check from cycle 2 on.
    stim["w_en"][:2] = True
    stim["w_bank"][:2] = [0, 1]
    expected = pe_reference(config, stim)
    x_words = _vector(config.ifm_width, span).pack(v=stim["x"])
    wv_words = _vector(config.weight_width, m).pack(v=stim["w_value"])
    if config.sparse:
        wi_words = _vector(config.index_width, m, signed=False).pack(v=stim["w_index"])

    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    # A vector's sum from above goes in ``lag`` cycles after the vector, its sum comes out
    # ``pe_latency`` cycles after it; x_out and bank_out follow one cycle after x_in.
    lag = config.pe_latency - 1
    got_psum, got_x, got_bank = [], [], []
    for c in range(n + lag + 1):
        await FallingEdge(dut.clk)
        if c:
            got_psum.append(dut.psum_out.value.to_signed())
            got_x.append(dut.x_out.value.to_unsigned())
            got_bank.append(int(dut.bank_out.value))
        if c == n + lag:
            break
        if lag <= c < n + lag:
            dut.psum_in.value = int(stim["psum"][c - lag])
        if c >= n:
            continue
        dut.x_in.value = x_words[c]
        dut.bank_in.value = int(stim["bank"][c])
        dut.w_en.value = int(stim["w_en"][c])
        dut.w_bank.value = int(stim["w_bank"][c])
        dut.w_value.value = wv_words[c]
        if config.sparse:
            dut.w_index.value = wi_words[c]
    got_psum, got_x, got_bank = got_psum[lag:], got_x[:n], got_bank[:n]
    wrong = 2 + np.flatnonzero(np.asarray(got_psum[2:]) != expected[2:])
    assert not wrong.size, (f"{wrong.size} of {n} psum_out values wrong, at cycles "
                            f"{wrong[:5].tolist()}; first {got_psum[wrong[0]]}, expected "
                            f"{expected[wrong[0]]}")
    assert got_x == x_words, "x_out does not forward x_in"
    assert got_bank == list(stim["bank"]), "bank_out does not forward bank_in"

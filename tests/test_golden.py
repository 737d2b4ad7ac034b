import numpy as np
import pytest

from sense_models.golden import conv2d, im2col, matmul, pe_sum
from sense_models.intmath import wrap


def direct_conv(ifm, weights, stride, padding):
    """Textbook loops: the independent reference for the im2col lowering."""
    k, c, kh, kw = weights.shape
    padded = np.pad(ifm.astype(np.int64), ((0, 0), (padding, padding), (padding, padding)))
    ho = (padded.shape[1] - kh) // stride + 1
    wo = (padded.shape[2] - kw) // stride + 1
    out = np.zeros((k, ho, wo), dtype=np.int64)
    for o in range(k):
        for y in range(ho):
            for x in range(wo):
                window = padded[:, y * stride:y * stride + kh, x * stride:x * stride + kw]
                out[o, y, x] = (window * weights[o]).sum()
    return out


@pytest.mark.parametrize("kernel, stride, padding, channels", [
    (1, 1, 0, 5), (3, 1, 1, 3), (3, 2, 1, 4), (5, 1, 2, 2), (7, 2, 3, 3), (3, 1, 0, 1),
])
def test_conv2d_matches_direct_loops(kernel, stride, padding, channels):
    rng = np.random.default_rng(kernel * 100 + stride * 10 + padding)
    ifm = rng.integers(-128, 128, (channels, 11, 9))
    weights = rng.integers(-128, 128, (6, channels, kernel, kernel))
    got = conv2d(ifm, weights, stride=stride, padding=padding)
    assert np.array_equal(got, direct_conv(ifm, weights, stride, padding))


def test_matmul_wraps_like_the_accumulator():
    x = np.full((1, 4), -128)
    w = np.full((4, 1), -128)  # 4 * 16384 = 65536 = 2**16 wraps to -2**16 in 17 bits
    assert matmul(x, w, acc_width=17)[0, 0] == -65536
    assert matmul(x, w, acc_width=32)[0, 0] == 65536
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (7, 300))
    w = rng.integers(-128, 128, (300, 5))
    stepwise = np.zeros((7, 5), dtype=np.int64)
    for t in range(300):  # wrapping after every add equals wrapping once
        stepwise = wrap(stepwise + np.outer(x[:, t], w[t]), 18)
    assert np.array_equal(matmul(x, w, acc_width=18), stepwise)


def test_operand_range_and_shape_errors():
    with pytest.raises(ValueError, match=r"X\[0, 1\] = 128 does not fit signed 8 bits"):
        matmul(np.array([[0, 128]]), np.zeros((2, 1), dtype=int))
    with pytest.raises(ValueError, match=r"cannot multiply X\(1, 2\) by W\(3, 1\)"):
        matmul(np.zeros((1, 2), dtype=int), np.zeros((3, 1), dtype=int))
    with pytest.raises(ValueError, match="does not fit input"):
        im2col(np.zeros((1, 2, 2), dtype=int), 5)


def test_pe_sum_sparse_and_dense():
    x = np.array([1, 2, 3, 4])
    assert pe_sum(x, 10, [5, -1], [1, 3]) == 10 + 10 - 4
    assert pe_sum(x, 0, [5, -1], None) == 5 - 2
    assert pe_sum(x, 2**31 - 1, [1, 0], [0, 1]) == -2**31

import numpy as np
import pytest

from sense_models.abft import (correct, digit_count, digits, kernel_checksum, kernel_syndromes,
                               locate, pixel_syndromes, recombine)
from sense_models.golden import matmul
from sense_models.intmath import wrap


@pytest.mark.parametrize("pixels", [1, 2, 16, 256, 4096])
def test_digits_round_trip_over_the_whole_range(pixels):
    n = digit_count(8, pixels)
    rng = np.random.default_rng(pixels)
    x = rng.integers(-128, 128, (pixels, 50))
    x[:, 0], x[:, 1] = -128, 127  # the extremes
    x_sum = x.sum(axis=0)
    d = digits(x_sum, n)
    assert d.min() >= -128 and d.max() <= 127  # every digit is a valid int8 IFM value
    assert np.all(d[:-1] >= 0)
    assert np.array_equal(recombine(d, acc_width=40), x_sum)


def test_digits_reject_a_sum_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit 2 digits"):
        digits(np.array([1 << 20]), 2)


@pytest.mark.parametrize("acc_width", [16, 20, 32])
def test_syndromes_are_zero_without_fault_even_when_sums_wrap(acc_width):
    rng = np.random.default_rng(acc_width)
    x = rng.integers(-128, 128, (30, 40))
    w = rng.integers(-128, 128, (40, 6))
    y = matmul(x, w, acc_width=acc_width)
    n = digit_count(8, 30)
    d = digits(x.sum(axis=0), n)
    checksum_sums = np.stack([matmul(dk[None, :], w, acc_width=acc_width)[0] for dk in d])
    assert not np.any(pixel_syndromes(y, checksum_sums, acc_width=acc_width))
    predicted = matmul(x, kernel_checksum(w)[:, None], acc_width=acc_width, weight_width=12)[:, 0]
    assert not np.any(kernel_syndromes(y, predicted, acc_width=acc_width))


def test_a_single_error_is_located_and_corrected():
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (12, 20))
    w = rng.integers(-128, 128, (20, 5))
    y = matmul(x, w)
    d = digits(x.sum(axis=0), digit_count(8, 12))
    checksum_sums = np.stack([matmul(dk[None, :], w)[0] for dk in d])
    predicted = matmul(x, kernel_checksum(w)[:, None], weight_width=12)[:, 0]
    bad = y.copy()
    bad[7, 3] = wrap(bad[7, 3] + 12345, 32)
    location = locate(pixel_syndromes(bad, checksum_sums), kernel_syndromes(bad, predicted))
    assert (location.pixel, location.column, location.error) == (7, 3, 12345)
    assert np.array_equal(correct(bad, location), y)
    bad[2, 1] += 1  # a second error cannot be located
    assert locate(pixel_syndromes(bad, checksum_sums), kernel_syndromes(bad, predicted)) is None

import numpy as np
import pytest

from sense_models.sparsity import check_half_sparse, pack, prune, unpack


@pytest.mark.parametrize("group", [2, 4, 8, 16])
@pytest.mark.parametrize("length", [1, 7, 16, 33])
def test_prune_keeps_exactly_half_of_every_group(group, length):
    rng = np.random.default_rng(group * 1000 + length)
    w = rng.integers(-128, 128, (length, 5))
    w[w == 0] = 1
    p = prune(w, group)
    padded = np.pad(p, ((0, -length % group), (0, 0))).reshape(-1, group, 5)
    full = np.pad(w, ((0, -length % group), (0, 0))).reshape(-1, group, 5)
    kept = np.count_nonzero(padded, axis=1)
    # exactly G/2 survive in every group (fewer only where the group holds padding)
    assert np.all(kept == np.minimum(group // 2, np.count_nonzero(full, axis=1)))
    # the survivors are the largest magnitudes
    for g in range(padded.shape[0]):
        for k in range(5):
            dropped = np.abs(full[g, :, k][padded[g, :, k] == 0])
            survived = np.abs(padded[g, :, k][padded[g, :, k] != 0])
            if dropped.size and survived.size:
                assert dropped.max() <= survived.min()
    assert np.array_equal(p[p != 0], w[p != 0])


@pytest.mark.parametrize("group", [2, 4, 8, 16])
def test_pack_unpack_round_trip(group):
    rng = np.random.default_rng(group)
    w = prune(rng.integers(-128, 128, (45, 6)), group)
    w[:group, 0] = 0  # a group with fewer than G/2 non-zeros
    packed = pack(w, group)
    assert packed.values.shape == (-(-45 // group), 6, group // 2)
    assert np.all(np.diff(packed.indices, axis=2) > 0)
    assert np.array_equal(unpack(packed), w)


def test_rule_breaking_weights_are_rejected_by_kernel_and_group():
    w = np.zeros((8, 3), dtype=int)
    w[4:7, 2] = [1, 2, 3]  # kernel 2, group 1 has three non-zeros
    with pytest.raises(ValueError, match=r"kernel 2, group 1 \(t = 4..7\) has 3 non-zero weights"):
        pack(w, 4)
    with pytest.raises(ValueError, match="kernel 2, group 1"):
        check_half_sparse(w, 4)


def test_bad_group_and_weights():
    with pytest.raises(ValueError, match="group must be a power of two of at least 2, not 3"):
        prune(np.zeros((4, 1), dtype=int), 3)
    with pytest.raises(TypeError, match="weights must be integers"):
        prune(np.zeros((4, 1)), 4)
    with pytest.raises(ValueError, match=r"W\[0, 0\] = 300 does not fit"):
        pack(np.array([[300], [0]]), 2)

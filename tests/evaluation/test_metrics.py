import numpy as np
import pytest

from keras_t2v.evaluation.metrics import frechet_distance, kernel_distance, precision_recall

RNG = np.random.default_rng(0)


def test_identical_sets_are_at_distance_zero():
    x = RNG.normal(size=(300, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    # The unbiased estimator drops only the within-set diagonals, so identical sets give ~0, not 0.
    assert abs(kernel_distance(x, x)) < 0.01 * kernel_distance(x, x + 3.0)


def test_fd_of_shifted_gaussians_is_the_squared_shift():
    a = RNG.normal(size=(4000, 4))
    b = RNG.normal(size=(4000, 4)) + np.array([2.0, 0, 0, 0])
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.1)


def test_disjoint_sets_are_far_apart_and_same_distribution_is_near():
    a, b = RNG.normal(size=(300, 8)), RNG.normal(size=(300, 8))
    far = RNG.normal(size=(300, 8)) + 5.0
    assert kernel_distance(a, far) > 100 * abs(kernel_distance(a, b))
    assert frechet_distance(a, far) > 100 * frechet_distance(a, b)


def test_precision_and_recall_on_constructed_manifolds():
    real = RNG.uniform(0, 1, size=(400, 2))
    inside = RNG.uniform(0.2, 0.8, size=(400, 2))  # a sub-region: precise, low recall
    p, r = precision_recall(real, inside)
    assert p > 0.95 and r < 0.7
    outside = RNG.uniform(5, 6, size=(400, 2))
    assert precision_recall(real, outside) == (0.0, 0.0)
    p, r = precision_recall(real, RNG.uniform(0, 1, size=(400, 2)))
    assert p > 0.9 and r > 0.9

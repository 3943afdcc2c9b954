"""train --check's finite differences come from numeric.central_difference: an
estimate with its own error bound, checked against exact derivatives; an entry
the difference cannot decide is never a pass."""

from __future__ import annotations

import numpy as np

from symderiv.train.gradcheck import ParameterCheck, _entry_differences


def test_entry_differences_are_within_their_bound_of_the_exact_gradient():
    theta = np.array([0.3, -1.7, 2.5, 1e-3])
    exact = np.cos(theta) * np.exp(np.sin(theta)) / theta.size  # d/dθ_i of mean(exp(sin θ))

    def loss() -> float:
        return float(np.mean(np.exp(np.sin(theta))))

    value, bound, conclusive = _entry_differences(theta.reshape(-1), np.arange(theta.size), loss)
    assert conclusive.all()
    assert np.all(np.abs(value - exact) <= bound)
    assert np.all(bound < 1e-8)  # small next to a wrong rule (off by the gradient's size)
    assert np.array_equal(theta, [0.3, -1.7, 2.5, 1e-3])  # restored exactly


def test_an_entry_whose_loss_is_not_finite_is_inconclusive_and_not_ok():
    theta = np.array([0.5, 1.0])

    def loss() -> float:
        return float("nan") if theta[1] != 1.0 else float(np.sum(theta**2))

    _, _, conclusive = _entry_differences(theta.reshape(-1), np.arange(2), loss)
    assert conclusive.tolist() == [True, False]
    check = ParameterCheck("W", (2,), 2, 2, 0.0, 1.0, failures=0, worst_index=(0,), worst_backward=1.0,
                           worst_finite_difference=1.0, inconclusive=1)
    assert not check.ok

"""Corpus of backward rules for check_backward: correct rules and planted bugs.

Every rule follows EDF's convention ``backward(x, y, gy) -> gx`` on numpy
arrays with a leading minibatch axis. Forwards are SymPy expressions of the
input symbols. Used by tests/test_check_backward*.py and by
benchmarks/gradcheck_comparison.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

# ---------------------------------------------------------------- forwards


def softmax_forward(xs):
    total = sum(sympy.exp(x) for x in xs)
    return [sympy.exp(x) / total for x in xs]


def log_softmax_forward(xs):
    lse = sympy.log(sum(sympy.exp(x) for x in xs))
    return [x - lse for x in xs]


def logsumexp_forward(xs):
    return sympy.log(sum(sympy.exp(x) for x in xs))


def sigmoid_forward(xs):
    return [1 / (1 + sympy.exp(-x)) for x in xs]


def tanh_forward(xs):
    return [sympy.tanh(x) for x in xs]


LAYER_NORM_EPS = sympy.Rational(1, 10**5)


def layer_norm_forward(xs):
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / n
    return [(x - mean) / sympy.sqrt(var + LAYER_NORM_EPS) for x in xs]


def l2_normalize_forward(xs):
    norm = sympy.sqrt(sum(x**2 for x in xs))
    return [x / norm for x in xs]


# A fixed soft target distribution for cross-entropy (sums to 1).
CE_TARGET = (sympy.Rational(1, 10), sympy.Rational(6, 10), sympy.Rational(2, 10), sympy.Rational(1, 10))
CE_TARGET_NP = np.array([float(t) for t in CE_TARGET])


def cross_entropy_forward(xs):
    total = sum(sympy.exp(x) for x in xs)
    return -sum(t * sympy.log(sympy.exp(x) / total) for t, x in zip(CE_TARGET, xs))


# ---------------------------------------------------------------- numpy helpers


def stable_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- correct rules


def softmax_backward(x, y, gy):
    # EDF's one-line rule: gx = y * (gy - y.gy)
    gvdot = np.sum(y * gy, axis=1, keepdims=True)
    return y * (gy - gvdot)


def softmax_backward_full_jacobian(x, y, gy):
    # Algebraically different form: J = diag(y) - y y^T, gx = J^T gy.
    jac = np.einsum("bi,ij->bij", y, np.eye(y.shape[1], dtype=y.dtype)) - np.einsum("bi,bj->bij", y, y)
    return np.einsum("bki,bk->bi", jac, gy)


def softmax_backward_from_x(x, y, gy):
    s = stable_softmax(x)
    return s * gy - s * np.sum(s * gy, axis=1, keepdims=True)


def log_softmax_backward(x, y, gy):
    return gy - np.exp(y) * np.sum(gy, axis=1, keepdims=True)


def logsumexp_backward(x, y, gy):
    return gy * np.exp(x - y)


def logsumexp_backward_from_x(x, y, gy):
    return gy * stable_softmax(x)


def sigmoid_backward(x, y, gy):
    return gy * y * (1 - y)


def sigmoid_backward_from_x(x, y, gy):
    # exp(-|x|) / (1 + exp(-|x|))^2 is symmetric and never overflows.
    e = np.exp(-np.abs(x))
    return gy * e / (1 + e) ** 2


def tanh_backward(x, y, gy):
    return gy * (1 - y**2)


def tanh_backward_from_x(x, y, gy):
    return gy / np.cosh(x) ** 2


def _layer_norm_sigma(x):
    var = np.var(x, axis=1, keepdims=True)
    return np.sqrt(var + float(LAYER_NORM_EPS))


def layer_norm_backward(x, y, gy):
    sigma = _layer_norm_sigma(x)
    mean_gy = np.mean(gy, axis=1, keepdims=True)
    mean_gy_y = np.mean(gy * y, axis=1, keepdims=True)
    return (gy - mean_gy - y * mean_gy_y) / sigma


def l2_normalize_backward(x, y, gy):
    norm = np.sqrt(np.sum(x * x, axis=1, keepdims=True))
    return (gy - y * np.sum(gy * y, axis=1, keepdims=True)) / norm


def cross_entropy_backward(x, y, gy):
    return gy * (stable_softmax(x) - CE_TARGET_NP.astype(x.dtype))


# ---------------------------------------------------------------- planted bugs


def softmax_bug_wrong_sign(x, y, gy):
    gvdot = np.sum(y * gy, axis=1, keepdims=True)
    return y * (gvdot - gy)


def softmax_bug_diagonal_only(x, y, gy):
    return gy * y * (1 - y)


def softmax_bug_scale_1e7(x, y, gy):
    return softmax_backward(x, y, gy) * (1 + 1e-7)


def softmax_bug_scale_1e4(x, y, gy):
    return softmax_backward(x, y, gy) * (1 + 1e-4)


def softmax_bug_wrong_axis(x, y, gy):
    gvdot = np.sum(y * gy, axis=0, keepdims=True)
    return y * (gy - gvdot)


def softmax_bug_missing_keepdims(x, y, gy):
    gvdot = np.sum(y * gy, axis=1)  # shape (batch,), broadcasts along the wrong axis
    return y * (gy - gvdot)


def softmax_bug_first_row_statistics(x, y, gy):
    gvdot = np.sum(y[0] * gy[0])
    return y * (gy - gvdot)


def softmax_bug_ignores_gy(x, y, gy):
    return y * (1 - y)


def log_softmax_bug_missing_term(x, y, gy):
    return gy.copy()


def log_softmax_bug_wrong_formula(x, y, gy):
    return gy - y * np.sum(gy, axis=1, keepdims=True)


def logsumexp_bug_wrong_axis(x, y, gy):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return gy * e / e.sum(axis=0, keepdims=True)


def sigmoid_bug_tanh_formula(x, y, gy):
    return gy * (1 - y**2)


def tanh_bug_wrong_sign(x, y, gy):
    return gy * (y**2 - 1)


def tanh_bug_scale_1e7(x, y, gy):
    return gy * (1 - y**2) * (1 + 1e-7)


def layer_norm_bug_missing_term(x, y, gy):
    sigma = _layer_norm_sigma(x)
    return (gy - np.mean(gy, axis=1, keepdims=True)) / sigma


def layer_norm_bug_first_row_statistics(x, y, gy):
    sigma = _layer_norm_sigma(x)[0]
    mean_gy = np.mean(gy, axis=1, keepdims=True)
    mean_gy_y = np.mean(gy * y, axis=1, keepdims=True)
    return (gy - mean_gy - y * mean_gy_y) / sigma


def l2_normalize_bug_missing_term(x, y, gy):
    return gy / np.sqrt(np.sum(x * x, axis=1, keepdims=True))


def cross_entropy_bug_ignores_gy(x, y, gy):
    return stable_softmax(x) - CE_TARGET_NP.astype(x.dtype)


def cross_entropy_bug_wrong_sign(x, y, gy):
    return gy * (CE_TARGET_NP.astype(x.dtype) - stable_softmax(x))


def softmax_float32_bug_scale_1e3(x, y, gy):
    return (softmax_backward(x, y, gy) * np.float32(1 + 1e-3)).astype(np.float32)


# ---------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    """One rule to check; ``bug`` is None for a correct rule, else its kind."""

    name: str
    forward: Callable
    backward: Callable
    n: int
    bug: str | None = None
    dtype: type = np.float64
    domain: tuple[float, float] = (-3.0, 3.0)


CORRECT = [
    Case("softmax (EDF y*(gy - y.gy))", softmax_forward, softmax_backward, 4),
    Case("softmax via full Jacobian", softmax_forward, softmax_backward_full_jacobian, 4),
    Case("softmax from x (stable)", softmax_forward, softmax_backward_from_x, 5),
    Case("softmax, inputs up to 1e3", softmax_forward, softmax_backward, 4, domain=(-1000.0, 1000.0)),
    Case("softmax float32", softmax_forward, softmax_backward, 4, dtype=np.float32),
    Case("log-softmax", log_softmax_forward, log_softmax_backward, 4),
    Case("log-softmax, inputs up to 1e3", log_softmax_forward, log_softmax_backward, 4, domain=(-1000.0, 1000.0)),
    Case("logsumexp exp(x - y)", logsumexp_forward, logsumexp_backward, 5),
    Case("logsumexp from x, inputs up to 1e3", logsumexp_forward, logsumexp_backward_from_x, 5, domain=(-1000.0, 1000.0)),
    Case("sigmoid y(1-y)", sigmoid_forward, sigmoid_backward, 4),
    Case("sigmoid y(1-y), inputs up to 40", sigmoid_forward, sigmoid_backward, 4, domain=(-40.0, 40.0)),
    Case("sigmoid from x", sigmoid_forward, sigmoid_backward_from_x, 4, domain=(-40.0, 40.0)),
    Case("sigmoid float32", sigmoid_forward, sigmoid_backward, 4, dtype=np.float32, domain=(-20.0, 20.0)),
    Case("tanh 1-y^2", tanh_forward, tanh_backward, 4),
    Case("tanh 1-y^2, inputs up to 20", tanh_forward, tanh_backward, 4, domain=(-20.0, 20.0)),
    Case("tanh 1/cosh^2", tanh_forward, tanh_backward_from_x, 4),
    Case("layer norm", layer_norm_forward, layer_norm_backward, 5),
    Case("layer norm float32", layer_norm_forward, layer_norm_backward, 5, dtype=np.float32),
    Case("x/||x||", l2_normalize_forward, l2_normalize_backward, 4),
    Case("x/||x||, inputs up to 1e3", l2_normalize_forward, l2_normalize_backward, 4, domain=(-1000.0, 1000.0)),
    Case("cross-entropy (soft target)", cross_entropy_forward, cross_entropy_backward, 4),
    Case("cross-entropy float32", cross_entropy_forward, cross_entropy_backward, 4, dtype=np.float32),
]

BUGS = [
    Case("softmax wrong sign", softmax_forward, softmax_bug_wrong_sign, 4, bug="wrong sign"),
    Case("softmax diagonal-only Jacobian", softmax_forward, softmax_bug_diagonal_only, 4, bug="diagonal-only Jacobian"),
    Case("softmax scale error 1e-7", softmax_forward, softmax_bug_scale_1e7, 4, bug="relative scale error 1e-7"),
    Case("softmax scale error 1e-4", softmax_forward, softmax_bug_scale_1e4, 4, bug="relative scale error 1e-4"),
    Case("softmax sum over batch axis", softmax_forward, softmax_bug_wrong_axis, 4, bug="reduction over the wrong axis"),
    Case("softmax missing keepdims", softmax_forward, softmax_bug_missing_keepdims, 4, bug="missing keepdims"),
    Case("softmax first row's y.gy for all rows", softmax_forward, softmax_bug_first_row_statistics, 4, bug="one row's statistics for the batch"),
    Case("softmax ignores gy", softmax_forward, softmax_bug_ignores_gy, 4, bug="ignores gy"),
    Case("log-softmax missing softmax term", log_softmax_forward, log_softmax_bug_missing_term, 4, bug="missing term"),
    Case("log-softmax y in place of exp(y)", log_softmax_forward, log_softmax_bug_wrong_formula, 4, bug="wrong formula"),
    Case("logsumexp softmax over batch axis", logsumexp_forward, logsumexp_bug_wrong_axis, 5, bug="reduction over the wrong axis"),
    Case("sigmoid with tanh's 1-y^2", sigmoid_forward, sigmoid_bug_tanh_formula, 4, bug="wrong formula"),
    Case("tanh wrong sign", tanh_forward, tanh_bug_wrong_sign, 4, bug="wrong sign"),
    Case("tanh scale error 1e-7", tanh_forward, tanh_bug_scale_1e7, 4, bug="relative scale error 1e-7"),
    Case("layer norm missing y*mean(gy*y)", layer_norm_forward, layer_norm_bug_missing_term, 5, bug="missing term"),
    Case("layer norm first row's sigma", layer_norm_forward, layer_norm_bug_first_row_statistics, 5, bug="one row's statistics for the batch"),
    Case("x/||x|| missing projection", l2_normalize_forward, l2_normalize_bug_missing_term, 4, bug="missing term"),
    Case("cross-entropy ignores gy", cross_entropy_forward, cross_entropy_bug_ignores_gy, 4, bug="ignores gy"),
    Case("cross-entropy wrong sign", cross_entropy_forward, cross_entropy_bug_wrong_sign, 4, bug="wrong sign"),
    Case("softmax float32 scale error 1e-3", softmax_forward, softmax_float32_bug_scale_1e3, 4, bug="relative scale error 1e-3 (float32)", dtype=np.float32),
]

"""Corpus of derivative rules for the checks: correct rules and planted bugs.

First order, one input (CORRECT, BUGS): EDF's convention ``backward(x, y,
gy) -> gx`` on numpy arrays with a leading minibatch axis; forwards are SymPy
expressions of the input symbols. Then three groups added with the named
inputs, second-order checks and special points: MULTI_INPUT (shared weights,
γ/β, soft targets, labels), SECOND_ORDER (double-backward rules
``(x, y, gy, x_dot, gy_dot) -> d/dt gx``, with the correct first-order rule
beside them) and SMALL_INTERVAL (rules wrong only at a kink, at 0, near a
pole, beyond float32's exp overflow or on |x| < 0.01). Used by
tests/backward_check/test_*.py and by benchmarks/gradcheck_comparison.py.
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
    """One rule to check; ``bug`` is None for a correct rule, else its kind.

    ``order`` 2: ``backward`` is a double-backward rule and ``first`` the
    correct backward it differentiates. ``inputs``: the named form (n None).
    """

    name: str
    forward: Callable
    backward: Callable
    n: int | None
    bug: str | None = None
    dtype: type = np.float64
    domain: tuple[float, float] = (-3.0, 3.0)
    inputs: dict | None = None
    order: int = 1
    first: Callable | None = None
    group: str = "one input"
    kind: str = "backward"  # "jvp": ``backward`` is a forward-mode rule jvp(x, y, x_dot) -> y_dot


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


# ================================================================ named inputs

from symderiv import labels as _labels  # noqa: E402
from symderiv import per_example as _per_example  # noqa: E402
from symderiv import shared as _shared  # noqa: E402


def affine_forward(x, W, b):
    return x * W + b


def affine_backward(x, W, b, y, gy):
    return {"x": gy @ W.T, "W": x.T @ gy, "b": gy.sum(axis=0)}


def affine_bug_batch_mean(x, W, b, y, gy):
    return {"x": gy @ W.T, "W": x.T @ gy / x.shape[0], "b": gy.sum(axis=0)}


def affine_bug_bias_from_first_row(x, W, b, y, gy):
    return {"x": gy @ W.T, "W": x.T @ gy, "b": gy[0] * x.shape[0]}


AFFINE_INPUTS = {"x": 3, "W": _shared(3, 2), "b": _shared(2)}


def scaled_layer_norm_forward(x, gamma, beta):
    n = len(x)
    mean = sum(x) / n
    var = sum((t - mean) ** 2 for t in x) / n
    return [gamma[i] * (x[i] - mean) / sympy.sqrt(var + LAYER_NORM_EPS) + beta[i] for i in range(n)]


def scaled_layer_norm_backward(x, gamma, beta, y, gy, gamma_rows=None):
    mean = x.mean(axis=1, keepdims=True)
    sigma = np.sqrt(x.var(axis=1, keepdims=True) + float(LAYER_NORM_EPS))
    xhat = (x - mean) / sigma
    g = gy * gamma
    gx = (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True)) / sigma
    ggamma = (gy * xhat)[:gamma_rows].sum(axis=0)
    return {"x": gx, "gamma": ggamma, "beta": gy.sum(axis=0)}


def scaled_layer_norm_bug_gamma_one_row(x, gamma, beta, y, gy):
    return scaled_layer_norm_backward(x, gamma, beta, y, gy, gamma_rows=1)


def scaled_layer_norm_bug_gamma_not_applied(x, gamma, beta, y, gy):
    grads = scaled_layer_norm_backward(x, np.ones_like(gamma), beta, y, gy)
    return dict(grads, gamma=scaled_layer_norm_backward(x, gamma, beta, y, gy)["gamma"])


LN_INPUTS = {"x": 4, "gamma": _shared(4), "beta": _shared(4)}


def soft_ce_forward(z, t):
    lse = sympy.log(sum(sympy.exp(v) for v in z))
    return -sum(t[i] * (z[i] - lse) for i in range(len(z)))


def stable_log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def soft_ce_backward(z, t, y, gy, normalised=False):
    # dt = -gy * log softmax(z), computed as such: log(p) of an underflowed
    # p is -inf where the true value is finite (z0 = 1000 on (-inf, inf))
    p = stable_softmax(z)
    mass = 1.0 if normalised else t.sum(axis=1, keepdims=True)
    return {"z": gy[:, None] * (mass * p - t), "t": -gy[:, None] * stable_log_softmax(z)}


def soft_ce_backward_log_of_softmax(z, t, y, gy):
    # the same with log(softmax(z)): wrong where p underflows (a real bug, not in the table)
    grads = soft_ce_backward(z, t, y, gy)
    with np.errstate(divide="ignore"):
        return dict(grads, t=-gy[:, None] * np.log(stable_softmax(z)))


def soft_ce_bug_assumes_normalised(z, t, y, gy):
    return soft_ce_backward(z, t, y, gy, normalised=True)


SOFT_CE_INPUTS = {"z": 4, "t": _per_example(4, domain=(0.0, 1.0))}


def hard_ce_forward(z, label):
    return sympy.log(sum(sympy.exp(v) for v in z)) - z[label]


def hard_ce_backward(z, label, y, gy, shift=0):
    p = stable_softmax(z)
    p[np.arange(len(label)), (label + shift) % z.shape[1]] -= 1
    return gy[:, None] * p


def hard_ce_bug_label_off_by_one(z, label, y, gy):
    return hard_ce_backward(z, label, y, gy, shift=1)


HARD_CE_INPUTS = {"z": 4, "label": _labels(4)}


def _named(name, forward, backward, inputs, bug=None, **kw):
    return Case(name, forward, backward, None, bug=bug, inputs=inputs, group="named inputs", **kw)


MULTI_INPUT = [
    _named("x @ W + b", affine_forward, affine_backward, AFFINE_INPUTS),
    _named("x @ W + b: W gradient averaged over the batch", affine_forward, affine_bug_batch_mean, AFFINE_INPUTS,
           bug="shared gradient averaged, not summed"),
    _named("x @ W + b: b gradient from the first row", affine_forward, affine_bug_bias_from_first_row,
           AFFINE_INPUTS, bug="one row's statistics for the batch"),
    _named("layer norm with gamma, beta", scaled_layer_norm_forward, scaled_layer_norm_backward, LN_INPUTS),
    _named("layer norm: dgamma from one row", scaled_layer_norm_forward, scaled_layer_norm_bug_gamma_one_row,
           LN_INPUTS, bug="shared gradient from one row"),
    _named("layer norm: dx without gamma", scaled_layer_norm_forward, scaled_layer_norm_bug_gamma_not_applied,
           LN_INPUTS, bug="missing factor"),
    _named("cross-entropy, logits and soft targets", soft_ce_forward, soft_ce_backward, SOFT_CE_INPUTS),
    _named("cross-entropy: assumes targets sum to 1", soft_ce_forward, soft_ce_bug_assumes_normalised,
           SOFT_CE_INPUTS, bug="wrong formula (unnormalised targets)"),
    _named("cross-entropy with integer labels", hard_ce_forward, hard_ce_backward, HARD_CE_INPUTS),
    _named("cross-entropy: label off by one", hard_ce_forward, hard_ce_bug_label_off_by_one, HARD_CE_INPUTS,
           bug="wrong label"),
]


# ================================================================ second order
# double_backward(x, y, gy, x_dot, gy_dot) = J^T gy_dot + sum_k gy_k H_k x_dot


def _softmax_curvature(y, gy, x_dot):
    y_dot = y * (x_dot - np.sum(y * x_dot, axis=1, keepdims=True))
    return y_dot * (gy - np.sum(y * gy, axis=1, keepdims=True)) - y * np.sum(y_dot * gy, axis=1, keepdims=True)


def softmax_double_backward(x, y, gy, x_dot, gy_dot):
    return softmax_backward(x, y, gy_dot) + _softmax_curvature(y, gy, x_dot)


def softmax_db_bug_first_term_only(x, y, gy, x_dot, gy_dot):
    y_dot = y * (x_dot - np.sum(y * x_dot, axis=1, keepdims=True))
    return softmax_backward(x, y, gy_dot) + y_dot * (gy - np.sum(y * gy, axis=1, keepdims=True))


def softmax_db_bug_naive(x, y, gy, x_dot, gy_dot):
    # PROBLEMS.md's naive rule: only each output's own second derivative
    naive = y * (1 - 2 * y) * (gy - np.sum(gy * y, axis=1, keepdims=True))
    return softmax_backward(x, y, gy_dot) + naive * x_dot


def softmax_db_bug_backward_not_differentiated(x, y, gy, x_dot, gy_dot):
    # what a framework returns when the backward ran outside autograd
    return softmax_backward(x, y, gy_dot)


def tanh_double_backward(x, y, gy, x_dot, gy_dot):
    return gy_dot * (1 - y**2) - 2 * gy * y * (1 - y**2) * x_dot


def tanh_db_bug_sign(x, y, gy, x_dot, gy_dot):
    return gy_dot * (1 - y**2) + 2 * gy * y * (1 - y**2) * x_dot


def tanh_db_bug_scale_1e6(x, y, gy, x_dot, gy_dot):
    return gy_dot * (1 - y**2) - 2 * gy * y * (1 - y**2) * x_dot * (1 + 1e-6)


def sigmoid_double_backward(x, y, gy, x_dot, gy_dot):
    return gy_dot * y * (1 - y) + gy * y * (1 - y) * (1 - 2 * y) * x_dot


def sigmoid_db_bug_float32_curvature(x, y, gy, x_dot, gy_dot):
    y32 = y.astype(np.float32)
    curvature = (y32 * (1 - y32) * (1 - 2 * y32)).astype(np.float64)
    return gy_dot * y * (1 - y) + gy * curvature * x_dot


def sigmoid_db_bug_near_zero(x, y, gy, x_dot, gy_dot):
    # drops the curvature on |x| < 0.01, "where it is small anyway"
    curvature = np.where(np.abs(x) < 0.01, 0.0, y * (1 - y) * (1 - 2 * y))
    return gy_dot * y * (1 - y) + gy * curvature * x_dot


def logsumexp_double_backward(x, y, gy, x_dot, gy_dot):
    p = stable_softmax(x)
    return gy_dot * p + gy * p * (x_dot - np.sum(p * x_dot, axis=1, keepdims=True))


def logsumexp_db_bug_diagonal_hessian(x, y, gy, x_dot, gy_dot):
    p = stable_softmax(x)
    return gy_dot * p + gy * p * (1 - p) * x_dot


def _second(name, forward, rule, n, first, bug=None, **kw):
    return Case(name, forward, rule, n, bug=bug, order=2, first=first, group="second order", **kw)


SECOND_ORDER = [
    _second("softmax double backward", softmax_forward, softmax_double_backward, 4, softmax_backward),
    _second("softmax: first term of the curvature only", softmax_forward, softmax_db_bug_first_term_only, 4,
            softmax_backward, bug="missing term"),
    _second("softmax: the naive second-order rule", softmax_forward, softmax_db_bug_naive, 4, softmax_backward,
            bug="naive rule (diagonal second derivatives)"),
    _second("softmax: backward not differentiated", softmax_forward, softmax_db_bug_backward_not_differentiated, 4,
            softmax_backward, bug="curvature dropped"),
    _second("tanh double backward", tanh_forward, tanh_double_backward, 3, tanh_backward),
    _second("tanh: curvature sign", tanh_forward, tanh_db_bug_sign, 3, tanh_backward, bug="wrong sign"),
    _second("tanh: curvature scale error 1e-6", tanh_forward, tanh_db_bug_scale_1e6, 3, tanh_backward,
            bug="relative scale error 1e-6"),
    _second("sigmoid double backward", sigmoid_forward, sigmoid_double_backward, 3, sigmoid_backward),
    _second("sigmoid: curvature in float32", sigmoid_forward, sigmoid_db_bug_float32_curvature, 3, sigmoid_backward,
            bug="float32 intermediate"),
    _second("sigmoid: curvature dropped on |x| < 0.01", sigmoid_forward, sigmoid_db_bug_near_zero, 3,
            sigmoid_backward, bug="wrong on a small interval"),
    _second("logsumexp double backward", logsumexp_forward, logsumexp_double_backward, 4, logsumexp_backward),
    _second("logsumexp: diagonal Hessian", logsumexp_forward, logsumexp_db_bug_diagonal_hessian, 4,
            logsumexp_backward, bug="diagonal-only Hessian"),
]


# ================================================================ small intervals


def relu_forward(xs):
    return [sympy.Max(0, x) for x in xs]


def relu_backward(x, y, gy):
    return gy * (x > 0)


def relu_bug_at_kink(x, y, gy):
    return gy * np.heaviside(x, 2.0)


def abs_forward(xs):
    return [sympy.Abs(x - 1) for x in xs]


def abs_backward(x, y, gy):
    return gy * np.sign(x - 1)


def abs_bug_shifted_kink(x, y, gy):
    return gy * np.sign(x - 1 + 1e-4)


def reciprocal_forward(xs):
    return [1 / (x - 1) for x in xs]


def reciprocal_backward(x, y, gy):
    return -gy / (x - 1) ** 2


def reciprocal_bug_epsilon(x, y, gy):
    return -gy / ((x - 1) ** 2 + 1e-18)


def hypot_forward(xs):
    return [sympy.sqrt(x**2 + 1) for x in xs]


def hypot_backward(x, y, gy):
    return gy * x / np.sqrt(x * x + 1)


def hypot_bug_at_zero(x, y, gy):
    with np.errstate(invalid="ignore"):
        return gy * x**2 / (x * np.sqrt(x * x + 1))


def softmax_shifted_from_x(x, y, gy):
    return softmax_backward_from_x(x, y, gy)


def softmax_bug_unshifted_exp(x, y, gy):
    with np.errstate(all="ignore"):
        e = np.exp(x)
        s = e / e.sum(axis=1, keepdims=True)
        return s * (gy - np.sum(s * gy, axis=1, keepdims=True))


def sigmoid_bug_near_zero(x, y, gy):
    # a "cheap" slope 1/4 on |x| < 0.01
    return gy * np.where(np.abs(x) < 0.01, 0.25, y * (1 - y))


EVERYWHERE = (-np.inf, np.inf)


def _small(name, forward, rule, n, bug=None, **kw):
    return Case(name, forward, rule, n, bug=bug, group="small interval", **kw)


SMALL_INTERVAL = [
    _small("relu (x > 0)", relu_forward, relu_backward, 3),
    _small("relu: slope 2 at x = 0", relu_forward, relu_bug_at_kink, 3, bug="wrong at a kink"),
    _small("|x - 1|", abs_forward, abs_backward, 2),
    _small("|x - 1|: kink shifted by 1e-4", abs_forward, abs_bug_shifted_kink, 2, bug="wrong next to a kink"),
    _small("1/(x - 1)", reciprocal_forward, reciprocal_backward, 2),
    _small("1/(x - 1): epsilon in the denominator", reciprocal_forward, reciprocal_bug_epsilon, 2,
           bug="wrong near a pole"),
    _small("sqrt(x^2 + 1)", hypot_forward, hypot_backward, 3),
    _small("sqrt(x^2 + 1): x^2/x", hypot_forward, hypot_bug_at_zero, 3, bug="wrong only at 0"),
    _small("softmax float32, any x", softmax_forward, softmax_shifted_from_x, 3, dtype=np.float32, domain=EVERYWHERE),
    _small("softmax float32, any x: unshifted exp", softmax_forward, softmax_bug_unshifted_exp, 3, dtype=np.float32,
           domain=EVERYWHERE, bug="overflow beyond float32's exp threshold"),
    _small("sigmoid: slope 1/4 on |x| < 0.01", sigmoid_forward, sigmoid_bug_near_zero, 3,
           bug="wrong on a small interval"),
]

# ================================================================ forward mode
# jvp(x, y, x_dot) -> y_dot = J x_dot


def tanh_jvp(x, y, x_dot):
    return (1 - y**2) * x_dot


def tanh_jvp_bug_scale_1e7(x, y, x_dot):
    return (1 - y**2) * x_dot * (1 + 1e-7)


def sigmoid_jvp(x, y, x_dot):
    return y * (1 - y) * x_dot


def sigmoid_jvp_bug_near_zero(x, y, x_dot):
    return np.where(np.abs(x) < 0.01, 0.25, y * (1 - y)) * x_dot


def softmax_jvp(x, y, x_dot):
    return y * (x_dot - np.sum(y * x_dot, axis=1, keepdims=True))


def softmax_jvp_bug_missing_term(x, y, x_dot):
    return y * x_dot


def softmax_jvp_bug_first_row(x, y, x_dot):
    return y * (x_dot - np.sum(y[:1] * x_dot[:1], axis=1, keepdims=True))


def _forward_mode(name, forward, rule, n, bug=None, **kw):
    return Case(name, forward, rule, n, bug=bug, group="forward mode", kind="jvp", **kw)


FORWARD_MODE = [
    _forward_mode("tanh JVP", tanh_forward, tanh_jvp, 4),
    _forward_mode("tanh JVP: scale error 1e-7", tanh_forward, tanh_jvp_bug_scale_1e7, 4,
                  bug="relative scale error 1e-7"),
    _forward_mode("sigmoid JVP", sigmoid_forward, sigmoid_jvp, 3),
    _forward_mode("sigmoid JVP: slope 1/4 on |x| < 0.01", sigmoid_forward, sigmoid_jvp_bug_near_zero, 3,
                  bug="wrong on a small interval"),
    _forward_mode("softmax JVP", softmax_forward, softmax_jvp, 4),
    _forward_mode("softmax JVP: missing y.x_dot term", softmax_forward, softmax_jvp_bug_missing_term, 4,
                  bug="missing term"),
    _forward_mode("softmax JVP: first row's y.x_dot", softmax_forward, softmax_jvp_bug_first_row, 4,
                  bug="one row's statistics for the batch"),
]

# ================================================================ Hessian-vector products
# hvp(x, y, x_dot) -> H x_dot for a scalar forward (per example: H is block diagonal);
# ``first`` is the correct gradient rule, gy * grad f


def cubes_forward(xs):
    return sum(x**3 for x in xs)


def cubes_backward(x, y, gy):
    return gy * 3 * x**2


def cubes_hvp(x, y, x_dot):
    return 6 * x * x_dot


def cubes_hvp_bug_scale_1e6(x, y, x_dot):
    return 6 * x * x_dot * (1 + 1e-6)


def log_cosh_forward(xs):
    return sum(sympy.log(sympy.cosh(x)) for x in xs)


def log_cosh_backward(x, y, gy):
    return gy * np.tanh(x)


def log_cosh_hvp(x, y, x_dot):
    return (1 - np.tanh(x) ** 2) * x_dot


def log_cosh_hvp_bug_near_zero(x, y, x_dot):
    # the curvature "is 1 near 0 anyway" on |x| < 0.01 (it is 1 - x^2 + ...)
    return np.where(np.abs(x) < 0.01, 0.999, 1 - np.tanh(x) ** 2) * x_dot


def logsumexp_scalar_backward(x, y, gy):
    return gy * stable_softmax(x)


def logsumexp_hvp(x, y, x_dot):
    p = stable_softmax(x)
    return p * (x_dot - np.sum(p * x_dot, axis=1, keepdims=True))


def logsumexp_hvp_bug_diagonal(x, y, x_dot):
    p = stable_softmax(x)
    return p * (1 - p) * x_dot


def _hvp(name, forward, rule, n, first, bug=None, **kw):
    return Case(name, forward, rule, n, bug=bug, order=2, first=first, group="Hessian-vector products", kind="hvp",
                **kw)


HESSIAN_VECTOR = [
    _hvp("sum of cubes HVP", cubes_forward, cubes_hvp, 3, cubes_backward),
    _hvp("sum of cubes HVP: scale error 1e-6", cubes_forward, cubes_hvp_bug_scale_1e6, 3, cubes_backward,
         bug="relative scale error 1e-6"),
    _hvp("log cosh HVP", log_cosh_forward, log_cosh_hvp, 3, log_cosh_backward),
    _hvp("log cosh HVP: curvature 0.999 on |x| < 0.01", log_cosh_forward, log_cosh_hvp_bug_near_zero, 3,
         log_cosh_backward, bug="wrong on a small interval"),
    _hvp("logsumexp HVP", logsumexp_forward, logsumexp_hvp, 4, logsumexp_scalar_backward),
    _hvp("logsumexp HVP: diagonal Hessian", logsumexp_forward, logsumexp_hvp_bug_diagonal, 4,
         logsumexp_scalar_backward, bug="diagonal-only Hessian"),
]


def hvp_as_double_backward(case: Case) -> Callable:
    """The double-backward rule an HVP case implies (for the tools that check
    double backward): d/dt backward = first(gy_dot) + gy * H x_dot."""

    def double_backward(x, y, gy, x_dot, gy_dot):
        return case.first(x, y, gy_dot) + gy * case.backward(x, y, x_dot)

    return double_backward


EXTENDED = MULTI_INPUT + SECOND_ORDER + SMALL_INTERVAL + FORWARD_MODE + HESSIAN_VECTOR

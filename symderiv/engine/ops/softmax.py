"""The softmax family, over rows of the last axis (one row per example):
softmax, log-softmax, the negative log-likelihood of integer labels, and the
fused cross-entropies (per example, and averaged over the batch: the training
loss) with their residual fast paths.

Every op here is stable for any finite input: softmax and log-softmax
subtract the row max first; nothing is clamped. Labels are integers and not
differentiable. nll is linear (:func:`~symderiv.engine.ops.builders.linear`);
the others state their rules in full. :func:`ops` returns them in the
registry's order.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from symderiv.engine.ops.builders import linear
from symderiv.engine.ops.core import Array, Op
from symderiv.engine.ops.kernels import BLAS_FLOATS, batch_rows, batch_sum, few_columns_many_rows, row_max, row_sum


def row_lists(matrix) -> list[list]:
    """The rows of a SymPy matrix as lists (one per example)."""
    return [list(matrix.row(i)) for i in range(matrix.rows)]


def rows_sample(rng):
    return (3.0 * rng.normal(size=(2, 3)),), {}


def labelled_sample(rng):
    return (3.0 * rng.normal(size=(2, 3)), rng.integers(0, 3, size=2)), {}


def picked(a, labels):
    """a[b, label_b] for every example b."""
    return a[batch_rows(a.shape[0]), labels]


# ---------------------------------------------------------------------------
# softmax: y = exp(x − max) / Σ exp(x − max)

def stable_softmax(x: Array) -> Array:
    e = x - row_max(x)  # no overflow for any finite input
    np.exp(e, out=e)
    e /= row_sum(e)
    return e


def softmax_vjp(g, out, inputs, needs):
    y = out
    return (y * (g - row_sum(y * g)),)  # EDF's rule: y ⊙ (∇y − y·∇y)


def softmax_jvp(tangents, out, inputs):
    t = tangents[0]
    return None if t is None else out * (t - row_sum(out * t))


def softmax_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
    if out_tangent is None:
        return (None,)
    y, ydot = out, out_tangent
    return (ydot * (g - row_sum(y * g)) - y * row_sum(ydot * g),)


def softmax_naive(d2, out, inputs, needs):
    # Σ_j δ²_j ∂²y_j/∂x_i² with ∂²y_j/∂x_i² = y_j(δ_ij − y_i)² − y_j y_i (1 − y_i)
    # simplifies to y_i (1 − 2 y_i)(δ²_i − Σ_j δ²_j y_j).
    y = out
    return (y * (1.0 - 2.0 * y) * (d2 - row_sum(d2 * y)),)


def softmax_meaning(sp, a):
    rows = []
    for row in row_lists(a):
        total = sum(sp.exp(t) for t in row)
        rows.append([sp.exp(t) / total for t in row])
    return sp.Matrix(rows)


# ---------------------------------------------------------------------------
# log-softmax: l = x − max − log Σ exp(x − max); its rules read y = exp(l)

def stable_log_softmax(x: Array) -> Array:
    shifted = x - row_max(x)
    return shifted - np.log(row_sum(np.exp(shifted)))


def log_softmax_vjp(g, out, inputs, needs):
    return (g - np.exp(out) * row_sum(g),)


def log_softmax_jvp(tangents, out, inputs):
    t = tangents[0]
    return None if t is None else t - row_sum(np.exp(out) * t)


def log_softmax_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
    t = tangents[0]
    if t is None:
        return (None,)
    y = np.exp(out)
    ydot = y * (t - row_sum(y * t))
    return (-ydot * row_sum(g),)


def log_softmax_naive(d2, out, inputs, needs):
    y = np.exp(out)  # ∂²l_j/∂x_i² = −y_i (1 − y_i) for every j
    return (-y * (1.0 - y) * row_sum(d2),)


def log_softmax_meaning(sp, a):
    rows = []
    for row in row_lists(a):
        lse = sp.log(sum(sp.exp(t) for t in row))
        rows.append([t - lse for t in row])
    return sp.Matrix(rows)


# ---------------------------------------------------------------------------
# nll: −logp[b, label_b], linear in logp

def nll_forward(logp, labels):
    return -picked(logp, labels)


def nll_vjp(g, out, inputs, needs):
    logp, labels = inputs
    grad = np.zeros_like(logp)
    grad[batch_rows(logp.shape[0]), labels] = -g
    return (grad, None)


def nll_meaning(sp, logp, labels):
    return sp.Matrix([[-logp[i, int(labels[i])]] for i in range(logp.rows)])


# ---------------------------------------------------------------------------
# the fused cross-entropy, nll(log_softmax(x), labels), backward softmax(x) − onehot
#
# It works on x.T, laid out (classes, batch), copied to a contiguous array when
# the class axis is short and the batch is not (class_major). numpy is slow on
# rows of 10 class scores: the row max, the broadcast x − max and the
# fancy-indexed label entries each cost 3-6 µs at 128 x 10, against 1-2 µs
# along 128-long batch rows; the copy costs 1.5 µs. The cotangent goes back as
# a transposed view, which BLAS takes as it is.
#
# The forward keeps exp(x − max) and its sums as the residual for the backward
# rule (Op.forward_residual / Op.vjp_residual), so a training step computes the
# softmax once. The plain vjp, given only x, recomputes them: recovering
# logsumexp(x) from the loss as out + x[label] instead would lose |out|·eps
# absolutely (an 11% error in y for a label logit 1e6 below the max in float32).

def class_major(x):
    """x.T: (classes, batch); contiguous when classes ≤ 32 and batch ≥ 16,
    in float32/float64 only: the class sums then run down the columns, which
    for float16 would add in float16 row by row (2-4x the rounding error of
    numpy's pairwise sum along the contiguous axis)."""
    x = np.asarray(x)
    if few_columns_many_rows(x.shape) and x.dtype in BLAS_FLOATS:
        return np.ascontiguousarray(x.T)
    return x.T


def exp_shifted(x):
    """The pieces of a stable softmax, class-major: x.T − max over the
    classes, exp of that, and its sum over the classes (one per example)."""
    x_t = class_major(x)
    shifted = x_t - x_t.max(axis=0)
    e = np.exp(shifted)
    return shifted, e, batch_sum(e)


def cross_entropy_with_residual(x, labels):
    shifted, e, total = exp_shifted(x)
    return np.log(total) - shifted[labels, batch_rows(shifted.shape[1])], (e, total)


def cross_entropy_forward(x, labels):
    return cross_entropy_with_residual(x, labels)[0]


def minus_onehot(y_t, labels):
    """y − onehot(labels) in place on the class-major softmax y_t, with
    y_label − 1 computed as −Σ_{k≠label} y_k: when y_label ≈ 1, subtracting 1
    would cancel away the digits of the small true gradient (relative error
    eps/(1 − y_label))."""
    rows = batch_rows(y_t.shape[1])
    y_t[labels, rows] = 0.0
    y_t[labels, rows] = -batch_sum(y_t)
    return y_t


def softmax_minus_onehot(x, labels):
    """(softmax(x), softmax(x) − onehot(labels)), both (batch, classes)."""
    _, e, total = exp_shifted(x)
    y_t = e / total
    return y_t.T, minus_onehot(y_t.copy(), labels).T


def cross_entropy_jvp(tangents, out, inputs):
    (x, labels), t = inputs, tangents[0]
    if t is None:
        return None
    y = stable_softmax(x)
    return (y * t).sum(axis=-1) - picked(t, labels)


def cross_entropy_meaning(sp, a, labels):
    return nll_meaning(sp, log_softmax_meaning(sp, a), labels)


# The batch mean of the cross-entropy, fused (a training step needs no
# separate mean node and no broadcast of its cotangent).

def batch_mean(per_example_values):
    return np.add.reduce(per_example_values) / per_example_values.dtype.type(per_example_values.shape[0])


def mean_cross_entropy_with_residual(x, labels):
    per_example_values, residual = cross_entropy_with_residual(x, labels)
    return batch_mean(per_example_values), residual


def mean_cross_entropy_forward(x, labels):
    return mean_cross_entropy_with_residual(x, labels)[0]


def mean_cross_entropy_jvp(tangents, out, inputs):
    per_example_tangent = cross_entropy_jvp(tangents, out, inputs)
    return None if per_example_tangent is None else batch_mean(per_example_tangent)


def mean_cross_entropy_meaning(sp, a, labels):
    losses = cross_entropy_meaning(sp, a, labels)
    return sp.Matrix([[sum(losses) / losses.rows]])


# Both cross-entropies' backward rules are written once for a cotangent
# `scale` (one factor per example) that multiplies row b of (softmax − onehot):
# g[b] for the per-example loss, g / batch for the batch mean.

def per_example(g, x):
    return np.asarray(g)


def batch_share(g, x):
    return np.asarray(g) / x.shape[0]


def curvature_term(scale, y, t):
    # derivative of (y − onehot)·scale along ẋ = t, the cotangent held fixed: scale · ẏ
    return (scale[..., None] * y) * (t - row_sum(y * t))


def cross_entropy_rules(scale: Callable) -> dict[str, Callable]:
    """vjp, vjp_residual, vjp_tangent, second_order_vjp and naive_vjp for a cotangent scale."""

    def vjp_residual(g, residual, inputs, needs):
        # (softmax(x) − onehot) · scale = exp(x − max) · (scale / Σexp), minus the label entries
        e, total = residual
        x, labels = inputs
        return (minus_onehot(e * (scale(g, x) / total), labels).T, None)

    def vjp(g, out, inputs, needs):
        _, e, total = exp_shifted(inputs[0])
        return vjp_residual(g, (e, total), inputs, needs)

    def vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        t = tangents[0]
        if t is None:
            return (None, None)
        x = inputs[0]
        return (curvature_term(scale(g, x), stable_softmax(x), t), None)

    def second_order_vjp(g, g_dot, out, out_tangent, inputs, tangents, needs):
        # one softmax for vjp(g), vjp(ġ) and vjp_tangent(g, ẋ)
        x, labels = inputs
        t = tangents[0]
        y, residual = softmax_minus_onehot(x, labels)
        second = None if t is None else curvature_term(scale(g, x), y, t)
        first = residual * scale(g, x)[..., None]
        if g_dot is not None:
            through_g_dot = residual * scale(g_dot, x)[..., None]
            second = through_g_dot if second is None else second + through_g_dot
        return (first, None), (second, None)

    def naive_vjp(d2, out, inputs, needs):
        x = inputs[0]
        y = stable_softmax(x)
        return (scale(d2, x)[..., None] * y * (1.0 - y), None)

    return {
        "vjp": vjp, "vjp_residual": vjp_residual, "vjp_tangent": vjp_tangent,
        "second_order_vjp": second_order_vjp, "naive_vjp": naive_vjp,
    }


def ops() -> list[Op]:
    return [
        Op(
            name="softmax", arity=1, forward=stable_softmax, vjp=softmax_vjp, jvp=softmax_jvp,
            vjp_tangent=softmax_vjp_tangent, naive_vjp=softmax_naive, sympy_meaning=softmax_meaning,
            doc="softmax over the last axis (row max subtracted first)", sample=rows_sample,
        ),
        Op(
            name="log_softmax", arity=1, forward=stable_log_softmax, vjp=log_softmax_vjp, jvp=log_softmax_jvp,
            vjp_tangent=log_softmax_vjp_tangent, naive_vjp=log_softmax_naive, sympy_meaning=log_softmax_meaning,
            doc="log-softmax over the last axis (row max subtracted first)", sample=rows_sample,
        ),
        linear(
            "nll", nll_forward, vjp=nll_vjp, arity=2, differentiable=(True, False), sympy_meaning=nll_meaning,
            doc="negative log-likelihood per example: -logp[b, label_b]; labels are integers",
            sample=labelled_sample,
        ),
        Op(
            name="cross_entropy", arity=2, forward=cross_entropy_forward, jvp=cross_entropy_jvp,
            forward_residual=cross_entropy_with_residual, **cross_entropy_rules(per_example),
            sympy_meaning=cross_entropy_meaning, differentiable=(True, False), sample=labelled_sample,
            doc="fused nll(log_softmax(x), labels) per example; backward is softmax(x) − onehot",
        ),
        Op(
            name="mean_cross_entropy", arity=2, forward=mean_cross_entropy_forward, jvp=mean_cross_entropy_jvp,
            forward_residual=mean_cross_entropy_with_residual, **cross_entropy_rules(batch_share),
            sympy_meaning=mean_cross_entropy_meaning, differentiable=(True, False), sample=labelled_sample,
            doc="fused mean(cross_entropy(x, labels)) over the batch, the training loss; "
            "backward is (softmax(x) − onehot) / batch",
        ),
    ]

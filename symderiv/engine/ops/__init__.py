"""The engine's primitive ops (being split by family into the modules of this package).

The public names of this package: :class:`Op`, :class:`Registry`,
:func:`build_registry`, :data:`REQUIRED_OPS`, :func:`core_ops`,
:func:`default_registry` and :func:`unbroadcast`. Nothing is registered as a
side effect of importing it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from symderiv.engine.ops import binary, elementwise, linalg, reductions
from symderiv.engine.ops.core import REQUIRED_OPS, Array, Cotangents, Op, Registry, build_registry
from symderiv.engine.ops.kernels import BLAS_FLOATS as _BLAS_FLOATS
from symderiv.engine.ops.kernels import batch_rows as _batch_rows
from symderiv.engine.ops.kernels import batch_sum as _batch_sum
from symderiv.engine.ops.kernels import few_columns_many_rows as _few_columns_many_rows
from symderiv.engine.ops.kernels import row_max as _row_max
from symderiv.engine.ops.kernels import row_sum as _row_sum
from symderiv.engine.ops.kernels import unbroadcast

__all__ = [
    "Array", "Cotangents", "Op", "REQUIRED_OPS", "Registry", "build_registry", "core_ops", "default_registry",
    "unbroadcast",
]


def _shape(value) -> tuple[int, ...]:
    return np.shape(value)


def _stable_softmax(x: Array) -> Array:
    e = x - _row_max(x)  # no overflow for any finite input
    np.exp(e, out=e)
    e /= _row_sum(e)
    return e


def _stable_log_softmax(x: Array) -> Array:
    shifted = x - _row_max(x)
    return shifted - np.log(_row_sum(np.exp(shifted)))



def _rows(sp, matrix):
    return [list(matrix.row(i)) for i in range(matrix.rows)]



# ---------------------------------------------------------------------------
# softmax family (rows of the last axis), all stable for any finite input

def _softmax_ops() -> list[Op]:
    def softmax_vjp(g, out, inputs, needs):
        y = out
        return (y * (g - _row_sum(y * g)),)  # EDF's rule: y ⊙ (∇y − y·∇y)

    def softmax_jvp(tangents, out, inputs):
        t = tangents[0]
        return None if t is None else out * (t - _row_sum(out * t))

    def softmax_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        if out_tangent is None:
            return (None,)
        y, ydot = out, out_tangent
        return (ydot * (g - _row_sum(y * g)) - y * _row_sum(ydot * g),)

    def softmax_naive(d2, out, inputs, needs):
        # Σ_j δ²_j ∂²y_j/∂x_i² with ∂²y_j/∂x_i² = y_j(δ_ij − y_i)² − y_j y_i (1 − y_i)
        # simplifies to y_i (1 − 2 y_i)(δ²_i − Σ_j δ²_j y_j).
        y = out
        return (y * (1.0 - 2.0 * y) * (d2 - _row_sum(d2 * y)),)

    def softmax_meaning(sp, a):
        rows = []
        for row in _rows(sp, a):
            total = sum(sp.exp(t) for t in row)
            rows.append([sp.exp(t) / total for t in row])
        return sp.Matrix(rows)

    def log_softmax_vjp(g, out, inputs, needs):
        return (g - np.exp(out) * _row_sum(g),)

    def log_softmax_jvp(tangents, out, inputs):
        t = tangents[0]
        return None if t is None else t - _row_sum(np.exp(out) * t)

    def log_softmax_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        t = tangents[0]
        if t is None:
            return (None,)
        y = np.exp(out)
        ydot = y * (t - _row_sum(y * t))
        return (-ydot * _row_sum(g),)

    def log_softmax_naive(d2, out, inputs, needs):
        y = np.exp(out)  # ∂²l_j/∂x_i² = −y_i (1 − y_i) for every j
        return (-y * (1.0 - y) * _row_sum(d2),)

    def log_softmax_meaning(sp, a):
        rows = []
        for row in _rows(sp, a):
            lse = sp.log(sum(sp.exp(t) for t in row))
            rows.append([t - lse for t in row])
        return sp.Matrix(rows)

    def picked(a, labels):
        return a[_batch_rows(a.shape[0]), labels]

    def nll_vjp(g, out, inputs, needs):
        logp, labels = inputs
        grad = np.zeros_like(logp)
        grad[_batch_rows(logp.shape[0]), labels] = -g
        return (grad, None)

    def nll_meaning(sp, logp, labels):
        return sp.Matrix([[-logp[i, int(labels[i])]] for i in range(logp.rows)])

    def none2(*args, **kwargs):
        return (None, None)

    def rows_sample(rng):
        return (3.0 * rng.normal(size=(2, 3)),), {}

    def labelled_sample(rng):
        return (3.0 * rng.normal(size=(2, 3)), rng.integers(0, 3, size=2)), {}

    # The fused cross-entropy works on x.T, laid out (classes, batch), copied
    # to a contiguous array when the class axis is short and the batch is not
    # (class_major). numpy is slow on rows of 10 class scores: the row max, the
    # broadcast x − max and the fancy-indexed label entries each cost 3-6 µs at
    # 128 x 10, against 1-2 µs along 128-long batch rows; the copy costs 1.5 µs.
    # The cotangent goes back as a transposed view, which BLAS takes as it is.

    def class_major(x):
        """x.T: (classes, batch); contiguous when classes ≤ 32 and batch ≥ 16,
        in float32/float64 only: the class sums then run down the columns, which
        for float16 would add in float16 row by row (2-4x the rounding error of
        numpy's pairwise sum along the contiguous axis)."""
        x = np.asarray(x)
        if _few_columns_many_rows(x.shape) and x.dtype in _BLAS_FLOATS:
            return np.ascontiguousarray(x.T)
        return x.T

    def exp_shifted(x):
        """The pieces of a stable softmax, class-major: x.T − max over the
        classes, exp of that, and its sum over the classes (one per example)."""
        x_t = class_major(x)
        shifted = x_t - x_t.max(axis=0)
        e = np.exp(shifted)
        return shifted, e, _batch_sum(e)

    # The forward keeps exp(x − max) and its sums as the residual for the
    # backward rule (Op.forward_residual / Op.vjp_residual), so a training
    # step computes the softmax once. The plain vjp, given only x, recomputes
    # them: recovering logsumexp(x) from the loss as out + x[label] instead
    # would lose |out|·eps absolutely (an 11% error in y for a label logit 1e6
    # below the max in float32).

    def cross_entropy_with_residual(x, labels):
        shifted, e, total = exp_shifted(x)
        return np.log(total) - shifted[labels, _batch_rows(shifted.shape[1])], (e, total)

    def cross_entropy_forward(x, labels):
        return cross_entropy_with_residual(x, labels)[0]

    def minus_onehot(y_t, labels):
        """y − onehot(labels) in place on the class-major softmax y_t, with
        y_label − 1 computed as −Σ_{k≠label} y_k: when y_label ≈ 1, subtracting 1
        would cancel away the digits of the small true gradient (relative error
        eps/(1 − y_label))."""
        rows = _batch_rows(y_t.shape[1])
        y_t[labels, rows] = 0.0
        y_t[labels, rows] = -_batch_sum(y_t)
        return y_t

    def softmax_minus_onehot(x, labels):
        """(softmax(x), softmax(x) − onehot(labels)), both (batch, classes)."""
        _, e, total = exp_shifted(x)
        y_t = e / total
        return y_t.T, minus_onehot(y_t.copy(), labels).T

    # The cross-entropy rules below are written once for a cotangent `scale`
    # (one factor per example) that multiplies row b of (softmax − onehot):
    # g[b] for the per-example loss, g / batch for the batch mean (fused, so a
    # training step needs no separate mean node and no broadcast of its cotangent).

    def per_example(g, x):
        return np.asarray(g)

    def batch_share(g, x):
        return np.asarray(g) / x.shape[0]

    def curvature_term(scale, y, t):
        # derivative of (y − onehot)·scale along ẋ = t, the cotangent held fixed: scale · ẏ
        return (scale[..., None] * y) * (t - _row_sum(y * t))

    def cross_entropy_rules(scale):
        """(vjp, vjp_residual, vjp_tangent, second_order_vjp, naive_vjp) for a cotangent scale."""

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
            return (curvature_term(scale(g, x), _stable_softmax(x), t), None)

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
            y = _stable_softmax(x)
            return (scale(d2, x)[..., None] * y * (1.0 - y), None)

        return vjp, vjp_residual, vjp_tangent, second_order_vjp, naive_vjp

    def cross_entropy_jvp(tangents, out, inputs):
        (x, labels), t = inputs, tangents[0]
        if t is None:
            return None
        y = _stable_softmax(x)
        return (y * t).sum(axis=-1) - picked(t, labels)

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

    def cross_entropy_meaning(sp, a, labels):
        return nll_meaning(sp, log_softmax_meaning(sp, a), labels)

    def mean_cross_entropy_meaning(sp, a, labels):
        losses = cross_entropy_meaning(sp, a, labels)
        return sp.Matrix([[sum(losses) / losses.rows]])

    ce_vjp, ce_vjp_residual, ce_vjp_tangent, ce_second_order_vjp, ce_naive = cross_entropy_rules(per_example)
    mce_vjp, mce_vjp_residual, mce_vjp_tangent, mce_second_order_vjp, mce_naive = cross_entropy_rules(batch_share)

    return [
        Op(
            name="softmax", arity=1, forward=_stable_softmax, vjp=softmax_vjp, jvp=softmax_jvp, vjp_tangent=softmax_vjp_tangent, naive_vjp=softmax_naive,
            sympy_meaning=softmax_meaning, doc="softmax over the last axis (row max subtracted first)", sample=rows_sample,
        ),
        Op(
            name="log_softmax", arity=1, forward=_stable_log_softmax, vjp=log_softmax_vjp, jvp=log_softmax_jvp,
            vjp_tangent=log_softmax_vjp_tangent, naive_vjp=log_softmax_naive, sympy_meaning=log_softmax_meaning,
            doc="log-softmax over the last axis (row max subtracted first)", sample=rows_sample,
        ),
        Op(
            name="nll", arity=2, forward=lambda logp, labels: -picked(logp, labels), vjp=nll_vjp,
            jvp=lambda t, out, inputs: None if t[0] is None else -picked(t[0], inputs[1]),
            vjp_tangent=none2, naive_vjp=none2, sympy_meaning=nll_meaning,
            doc="negative log-likelihood per example: -logp[b, label_b]; labels are integers",
            differentiable=(True, False), sample=labelled_sample,
        ),
        Op(
            name="cross_entropy", arity=2, forward=cross_entropy_forward, vjp=ce_vjp, jvp=cross_entropy_jvp,
            vjp_tangent=ce_vjp_tangent, naive_vjp=ce_naive, sympy_meaning=cross_entropy_meaning,
            doc="fused nll(log_softmax(x), labels) per example; backward is softmax(x) − onehot",
            differentiable=(True, False), sample=labelled_sample,
            second_order_vjp=ce_second_order_vjp,
            forward_residual=cross_entropy_with_residual, vjp_residual=ce_vjp_residual,
        ),
        Op(
            name="mean_cross_entropy", arity=2, forward=mean_cross_entropy_forward, vjp=mce_vjp, jvp=mean_cross_entropy_jvp,
            vjp_tangent=mce_vjp_tangent, naive_vjp=mce_naive, sympy_meaning=mean_cross_entropy_meaning,
            doc="fused mean(cross_entropy(x, labels)) over the batch, the training loss; "
            "backward is (softmax(x) − onehot) / batch",
            differentiable=(True, False), sample=labelled_sample,
            second_order_vjp=mce_second_order_vjp,
            forward_residual=mean_cross_entropy_with_residual, vjp_residual=mce_vjp_residual,
        ),
    ]



def core_ops() -> list[Op]:
    """Every primitive op, in a fixed order (declared in this module only)."""
    return [*elementwise.ops(), *binary.ops(), *linalg.ops(), *reductions.ops(), *_softmax_ops()]


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of :func:`core_ops`, built (and checked) on first use."""
    return build_registry(core_ops())

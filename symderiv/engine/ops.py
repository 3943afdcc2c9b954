"""Every primitive op of the engine, each declared once with everything it needs.

An :class:`Op` carries, side by side:

* ``forward(*inputs, **params)`` — the numpy value (leading axis = minibatch);
* ``vjp(g, out, inputs, needs, **params)`` — cotangents of the inputs, one per
  input (``None`` where ``needs`` is False or the input is not differentiable);
* ``jvp(tangents, out, inputs, **params)`` — the output tangent (forward mode);
* ``vjp_tangent(g, out, out_tangent, inputs, tangents, needs, **params)`` — what
  exact second order needs: the derivative of ``vjp`` along the input tangents
  with ``g`` held fixed. Forward-over-reverse then gives Hessian-vector
  products: d/dt vjp(g + t·ġ, x + t·ẋ) = vjp(ġ, x) + vjp_tangent(g, x, ẋ);
* ``naive_vjp(d2, out, inputs, needs, **params)`` — the *naive* second-order
  rule of PROBLEMS.md, per scalar edge u→v: Σ_v δ²_v · ∂²v/∂u²;
* ``sympy_meaning(sp, *inputs, **params)`` — what the op means, on SymPy
  matrices (rows = minibatch), used by the tests and by ``verify``;
* ``sample(rng) -> (inputs, params)`` — valid example inputs (inside the op's
  domain, away from kinks), on which ``verify`` checks the op against SymPy.

Optional speed-ups, each tested to equal what it replaces: ``second_order_vjp``
(first and second order sharing work), and ``forward_residual`` with
``vjp_residual`` (the backward rule reusing what the forward computed, as the
training step does for the fused cross-entropy's softmax).

``None`` stands for an exact zero throughout (no tangent, no contribution), so
linear ops cost nothing in second order.

Ops are plain data; :func:`build_registry` collects them explicitly and
:meth:`Registry.check_complete` rejects an op with a missing piece. Nothing
is registered as a side effect of importing this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

Array = np.ndarray
Cotangents = tuple  # tuple[Array | None, ...], one entry per input


@dataclass(frozen=True)
class Op:
    name: str
    arity: int
    forward: Callable[..., Array]
    vjp: Callable[..., Cotangents]
    jvp: Callable[..., Array | None]
    vjp_tangent: Callable[..., Cotangents]
    naive_vjp: Callable[..., Cotangents]
    sympy_meaning: Callable[..., Any]
    doc: str
    differentiable: tuple[bool, ...] = ()
    elementwise: bool = False
    sample: Callable[[np.random.Generator], tuple[tuple, dict]] | None = None
    # Optional speed-up for exact second order: (vjp(g), vjp(ġ) + vjp_tangent(g, ẋ))
    # computed together, sharing work; must equal that composition (tested).
    second_order_vjp: Callable[..., tuple[Cotangents, Cotangents]] | None = None
    # Optional pair, for a backward rule that reuses work of the forward (the
    # softmax of a fused cross-entropy): forward_residual(*inputs, **params)
    # returns (forward's value, residual), and vjp_residual(g, residual,
    # inputs, needs, **params) equals vjp(g, out, inputs, needs, **params)
    # (tested). SGDStep uses them; the residual lives only for one step.
    forward_residual: Callable[..., tuple[Array, Any]] | None = None
    vjp_residual: Callable[..., Cotangents] | None = None
    # What vjp reads besides g: its output (σ' = y(1 − y)) and/or its inputs
    # (x.T @ g). SGDStep frees a value as soon as no rule still to run reads
    # it and may hand a rule None for what it declares unread (tested). A vjp
    # swapped in with dataclasses.replace keeps these flags: set them to True
    # unless the new rule reads no more than the old one.
    vjp_reads_output: bool = True
    vjp_reads_inputs: bool = True

    def __post_init__(self) -> None:
        if not self.differentiable:
            object.__setattr__(self, "differentiable", (True,) * self.arity)


# ---------------------------------------------------------------------------
# small helpers shared by the op declarations

def unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``grad`` over the axes numpy broadcasting added or stretched to reach its shape."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _shape(value: Any) -> tuple[int, ...]:
    return np.shape(value)


def _add_opt(a: Array | None, b: Array | None) -> Array | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _is_blas_matrix(a: Any) -> bool:
    return type(a) is np.ndarray and a.ndim == 2 and a.dtype in _BLAS_FLOATS


def _few_columns_many_rows(shape: tuple[int, ...]) -> bool:
    """Where working on a contiguous copy of x.T pays (measured): numpy is slow
    along short rows, and the copy costs less than it saves when a matrix has
    at most 32 columns and at least 16 rows (class scores of a minibatch)."""
    return len(shape) == 2 and shape[1] <= 32 and shape[0] >= 16


def _row_sum(a: Array) -> Array:
    """a.sum(axis=-1, keepdims=True). For a float32/float64 matrix it is a @ ones,
    one BLAS matrix-vector product: numpy's reduction over a short last axis
    (class scores) costs 3x more (1.6 against 4.7 µs at 128 x 10)."""
    if _is_blas_matrix(a):
        return (a @ _ones(a.shape[1], a.dtype))[:, None]
    return a.sum(axis=-1, keepdims=True)


def _row_max(x: Array) -> Array:
    """x.max(axis=-1, keepdims=True). For a tall matrix with few columns (class
    scores) the max down the columns of a contiguous copy of x.T is 2-4x faster
    than numpy's reduction over the short last axis (4.4 against 8.3 µs at
    128 x 10); with more than 32 columns or fewer than 16 rows it is slower."""
    if type(x) is np.ndarray and _few_columns_many_rows(x.shape):
        return np.ascontiguousarray(x.T).max(axis=0)[:, None]
    return x.max(axis=-1, keepdims=True)


def _minus_weighted_mean(t: Array, y: Array) -> Array:
    """t − Σ_j y_j t_j along the last axis, for weights y that sum to 1 (a
    softmax). Computed about the entry where y is largest: when that y is ≈ 1
    the plain form subtracts two numbers of size |t| whose difference is
    ~(1 − y)|t|, losing its digits (found by check_jvp on log-softmax and
    cross-entropy at confident predictions); about that entry its own term
    vanishes exactly."""
    anchor = np.take_along_axis(t, np.argmax(y, axis=-1)[..., None], axis=-1)
    centred = t - anchor
    return centred - _row_sum(y * centred)


def _stable_softmax(x: Array) -> Array:
    e = x - _row_max(x)  # no overflow for any finite input
    np.exp(e, out=e)
    e /= _row_sum(e)
    return e


def _stable_log_softmax(x: Array) -> Array:
    shifted = x - _row_max(x)
    return shifted - np.log(_row_sum(np.exp(shifted)))


@lru_cache(maxsize=32)
def _ones(n: int, dtype: np.dtype) -> Array:
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


def _batch_sum(g: Array) -> Array:
    """g.sum(axis=0) for a (batch, m) cotangent: the bias gradient. As ones @ g
    it is one BLAS matrix-vector product, about 3x faster than numpy's
    reduction over the leading axis (same sequential-in-batch summation)."""
    if type(g) is np.ndarray and g.ndim == 2 and g.dtype.kind == "f" and g.dtype.itemsize >= 4:
        return _ones(g.shape[0], g.dtype) @ g
    return np.sum(g, axis=0)


@lru_cache(maxsize=32)
def _batch_rows(batch: int) -> Array:
    """0, 1, …, batch − 1 (read-only, shared): the row index of label picking."""
    rows = np.arange(batch)
    rows.flags.writeable = False
    return rows


def _rows(sp, matrix):
    return [list(matrix.row(i)) for i in range(matrix.rows)]


# ---------------------------------------------------------------------------
# elementwise unary ops: f, f' and f'' are all an op needs

def _unary(
    name: str,
    forward: Callable[..., Array],
    d1: Callable[..., Array],
    d2: Callable[..., Array] | None,
    sympy_scalar: Callable[..., Any],
    doc: str,
    sample: Callable[[np.random.Generator], tuple[tuple, dict]] | None = None,
    d1_is_fresh: bool = False,
    d1_reads_x: bool = True,
) -> Op:
    """d1(x, y, **params) = f'(x), d2(x, y, **params) = f''(x), where y = f(x);
    d2 is None for linear ops (f'' = 0). ``sample`` defaults to uniform on [-2, 2].
    ``d1_is_fresh``: d1 always returns a new array of the input's shape, which the
    backward rule may then scale in place (one temporary fewer per step).
    ``d1_reads_x``: d1 uses x only (its y may be None); False: y only (its x
    may be None). Either way the VJP reads one of input and output
    (Op.vjp_reads_inputs, Op.vjp_reads_output)."""

    if d1_is_fresh:
        def vjp(g, out, inputs, needs, **params):
            return (_times_fresh(d1(inputs[0], out, **params), g),)
    else:
        def vjp(g, out, inputs, needs, **params):
            return (g * d1(inputs[0], out, **params),)

    def jvp(tangents, out, inputs, **params):
        t = tangents[0]
        return None if t is None else t * d1(inputs[0], out, **params)

    def vjp_tangent(g, out, out_tangent, inputs, tangents, needs, **params):
        t = tangents[0]
        if t is None or d2 is None:
            return (None,)
        return (g * d2(inputs[0], out, **params) * t,)

    def naive_vjp(d2_out, out, inputs, needs, **params):
        if d2 is None:
            return (None,)
        return (d2_out * d2(inputs[0], out, **params),)

    def meaning(sp, a, **params):
        return a.applyfunc(lambda t: sympy_scalar(sp, t, **params))

    def second_order_vjp(g, g_dot, out, out_tangent, inputs, tangents, needs, **params):
        # f' once for g·f' and ġ·f'; plus g·f''·ẋ
        slope = d1(inputs[0], out, **params)
        t = tangents[0]
        second = None if g_dot is None else g_dot * slope
        if t is not None and d2 is not None:
            curvature = g * d2(inputs[0], out, **params) * t
            second = curvature if second is None else second + curvature
        return (g * slope,), (second,)

    return Op(
        name, 1, forward, vjp, jvp, vjp_tangent, naive_vjp, meaning, doc,
        elementwise=True, sample=sample or _uniform_sample(-2.0, 2.0), second_order_vjp=second_order_vjp,
        vjp_reads_inputs=d1_reads_x, vjp_reads_output=not d1_reads_x,
    )


def _uniform_sample(low: float, high: float, shape: tuple[int, ...] = (2, 3)):
    def sample(rng: np.random.Generator) -> tuple[tuple, dict]:
        return (rng.uniform(low, high, shape),), {}

    return sample


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.25, high: float = 2.0) -> Array:
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, shape)


def _times_fresh(fresh: Array, g: Array) -> Array:
    """``fresh * g``, written into ``fresh`` (a temporary the caller owns) when that
    changes neither the shape nor the dtype of the result."""
    if (
        isinstance(fresh, np.ndarray)
        and isinstance(g, np.ndarray)
        and g.shape == fresh.shape
        and g.dtype == fresh.dtype
    ):
        fresh *= g
        return fresh
    return fresh * g


def _sigmoid(x: Array) -> Array:
    # 1/(1 + exp(−x)), one buffer, in place. For very negative x, exp(−x)
    # overflows to inf and the quotient is 0: the true value is below the
    # smallest normal number there, and no warning is wanted for it. This form
    # keeps full relative accuracy in the left tail (the tanh form rounds
    # σ(x) to 0 from x ≈ −17 in float32) and is twice as fast as tanh.
    x = np.asarray(x)
    if x.ndim == 0 or x.dtype.kind != "f":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))
    out = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def _sigmoid_d1(x: Array, y: Array) -> Array:
    slope = np.subtract(1.0, y)  # σ' = σ(1 − σ), one buffer
    slope *= y
    return slope


def _tanh_d1(x: Array, y: Array) -> Array:
    slope = np.multiply(y, y)  # tanh' = 1 − y², one buffer
    np.subtract(1.0, slope, out=slope)
    return slope


def _unary_ops() -> list[Op]:
    return [
        _unary("neg", np.negative, lambda x, y: -1.0, None, lambda sp, t: -t, "-x", d1_reads_x=False),
        _unary("exp", np.exp, lambda x, y: y, lambda x, y: y, lambda sp, t: sp.exp(t), "exp(x)", d1_reads_x=False),
        _unary(
            "log", np.log, lambda x, y: 1.0 / x, lambda x, y: -1.0 / (x * x),
            lambda sp, t: sp.log(t), "natural log, x > 0", _uniform_sample(0.2, 3.0),
        ),
        _unary(
            "sqrt", np.sqrt, lambda x, y: 0.5 / y, lambda x, y: -0.25 / (x * y),
            lambda sp, t: sp.sqrt(t), "square root, x > 0 for derivatives", _uniform_sample(0.2, 3.0),
            d1_reads_x=False,
        ),
        _unary("sin", np.sin, lambda x, y: np.cos(x), lambda x, y: -y, lambda sp, t: sp.sin(t), "sin(x)"),
        _unary("cos", np.cos, lambda x, y: -np.sin(x), lambda x, y: -y, lambda sp, t: sp.cos(t), "cos(x)"),
        _unary(
            "tanh", np.tanh, _tanh_d1, lambda x, y: -2.0 * y * (1.0 - y * y),
            lambda sp, t: sp.tanh(t), "tanh(x)", d1_is_fresh=True, d1_reads_x=False,
        ),
        _unary(
            "sigmoid", _sigmoid, _sigmoid_d1,
            lambda x, y: y * (1.0 - y) * (1.0 - 2.0 * y),
            lambda sp, t: 1 / (1 + sp.exp(-t)), "logistic sigmoid 1/(1+exp(-x)), evaluated stably",
            d1_is_fresh=True, d1_reads_x=False,
        ),
        _unary(
            # y > 0 exactly where x > 0 (NaN: both false), so f' comes from y
            "relu", lambda x: np.maximum(x, 0), lambda x, y: (y > 0).astype(y.dtype),
            lambda x, y: np.zeros_like(x),
            lambda sp, t: sp.Max(0, t), "max(x, 0); derivative taken as 0 at x = 0",
            lambda rng: ((_away_from_zero(rng, (2, 3)),), {}), d1_reads_x=False,
        ),
        _unary(
            "pow", lambda x, p: np.power(x, p),
            lambda x, y, p: p * np.power(x, p - 1), lambda x, y, p: p * (p - 1) * np.power(x, p - 2),
            lambda sp, t, p: t ** sp.nsimplify(p), "x**p for a constant exponent p",
            lambda rng: ((rng.uniform(0.5, 2.0, (2, 3)),), {"p": float(rng.choice([2.0, 3.0, 0.5, -1.5]))}),
        ),
    ]


# ---------------------------------------------------------------------------
# elementwise binary ops (numpy broadcasting; cotangents are unbroadcast)

def _binary_ops() -> list[Op]:
    def add_vjp(g, out, inputs, needs):
        a, b = inputs
        return (unbroadcast(g, _shape(a)) if needs[0] else None, unbroadcast(g, _shape(b)) if needs[1] else None)

    def sub_vjp(g, out, inputs, needs):
        a, b = inputs
        return (unbroadcast(g, _shape(a)) if needs[0] else None, unbroadcast(-g, _shape(b)) if needs[1] else None)

    def mul_vjp(g, out, inputs, needs):
        a, b = inputs
        return (
            unbroadcast(g * b, _shape(a)) if needs[0] else None,
            unbroadcast(g * a, _shape(b)) if needs[1] else None,
        )

    def mul_jvp(tangents, out, inputs):
        (a, b), (ta, tb) = inputs, tangents
        return _add_opt(None if ta is None else ta * b, None if tb is None else a * tb)

    def mul_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        (a, b), (ta, tb) = inputs, tangents
        return (
            unbroadcast(g * tb, _shape(a)) if needs[0] and tb is not None else None,
            unbroadcast(g * ta, _shape(b)) if needs[1] and ta is not None else None,
        )

    def div_vjp(g, out, inputs, needs):
        a, b = inputs
        return (
            unbroadcast(g / b, _shape(a)) if needs[0] else None,
            unbroadcast(-g * out / b, _shape(b)) if needs[1] else None,
        )

    def div_jvp(tangents, out, inputs):
        (_, b), (ta, tb) = inputs, tangents
        return _add_opt(None if ta is None else ta / b, None if tb is None else -tb * out / b)

    def div_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        # d/dt (g/b) = -g·ḃ/b²;  d/dt (-g·a/b²) = -g·ȧ/b² + 2·g·a·ḃ/b³
        (a, b), (ta, tb) = inputs, tangents
        grad_a = None if tb is None or not needs[0] else unbroadcast(-g * tb / (b * b), _shape(a))
        grad_b = None
        if needs[1]:
            parts = _add_opt(
                None if ta is None else -g * ta / (b * b),
                None if tb is None else 2.0 * g * a * tb / (b * b * b),
            )
            grad_b = None if parts is None else unbroadcast(parts, _shape(b))
        return (grad_a, grad_b)

    def div_naive(d2, out, inputs, needs):
        a, b = inputs  # ∂²(a/b)/∂a² = 0, ∂²(a/b)/∂b² = 2a/b³
        return (None, unbroadcast(d2 * 2.0 * a / (b * b * b), _shape(b)) if needs[1] else None)

    def linear_tangent_none(*args, **kwargs):
        return (None, None)

    def broadcast_pair(rng):
        # b broadcasts along the batch axis, so the cotangent must be unbroadcast
        return (rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (3,))), {}

    def divisor_pair(rng):
        return (rng.uniform(-2, 2, (2, 3)), _away_from_zero(rng, (3,), 0.5, 2.0)), {}

    def elementwise_meaning(combine):
        def meaning(sp, a, b):
            a, b = _broadcast_sympy(sp, a, b)
            return sp.Matrix(a.rows, a.cols, lambda i, j: combine(a[i, j], b[i, j]))

        return meaning

    return [
        Op(
            "add", 2, np.add, add_vjp,
            lambda t, out, inputs: _add_opt(t[0], t[1]),
            linear_tangent_none, linear_tangent_none,
            elementwise_meaning(lambda p, q: p + q), "a + b (broadcasting)", elementwise=True,
            sample=broadcast_pair,
        ),
        Op(
            "sub", 2, np.subtract, sub_vjp,
            lambda t, out, inputs: _add_opt(t[0], None if t[1] is None else -t[1]),
            linear_tangent_none, linear_tangent_none,
            elementwise_meaning(lambda p, q: p - q), "a - b (broadcasting)", elementwise=True,
            sample=broadcast_pair,
        ),
        Op(
            "mul", 2, np.multiply, mul_vjp, mul_jvp, mul_vjp_tangent, linear_tangent_none,
            elementwise_meaning(lambda p, q: p * q), "a * b elementwise (broadcasting)", elementwise=True,
            sample=broadcast_pair,
        ),
        Op(
            "div", 2, np.divide, div_vjp, div_jvp, div_vjp_tangent, div_naive,
            elementwise_meaning(lambda p, q: p / q), "a / b elementwise (broadcasting)", elementwise=True,
            sample=divisor_pair,
        ),
    ]


def _broadcast_sympy(sp, a, b):
    """Broadcast two SymPy matrices like numpy does for 2-D arrays."""
    rows, cols = max(a.rows, b.rows), max(a.cols, b.cols)

    def stretch(m):
        if (m.rows, m.cols) == (rows, cols):
            return m
        return sp.Matrix(rows, cols, lambda i, j: m[i % m.rows, j % m.cols])

    return stretch(a), stretch(b)


# ---------------------------------------------------------------------------
# linear algebra: weight gradients are matmuls, never a broadcast outer
# product summed over the batch

def _linear_algebra_ops() -> list[Op]:
    def matmul_vjp(g, out, inputs, needs):
        a, b = inputs
        return (g @ b.T if needs[0] else None, a.T @ g if needs[1] else None)

    def matmul_jvp(tangents, out, inputs):
        (a, b), (ta, tb) = inputs, tangents
        return _add_opt(None if ta is None else ta @ b, None if tb is None else a @ tb)

    def matmul_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        ta, tb = tangents
        return (
            g @ tb.T if needs[0] and tb is not None else None,
            ta.T @ g if needs[1] and ta is not None else None,
        )

    def affine_forward(x, w, b):
        out = x @ w
        out += b
        return out

    def affine_vjp(g, out, inputs, needs):
        x, w, b = inputs
        return (
            g @ w.T if needs[0] else None,
            x.T @ g if needs[1] else None,
            _batch_sum(g) if needs[2] else None,
        )

    def affine_jvp(tangents, out, inputs):
        (x, w, _), (tx, tw, tb) = inputs, tangents
        result = _add_opt(None if tx is None else tx @ w, None if tw is None else x @ tw)
        return _add_opt(result, tb)

    def affine_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        tx, tw, _ = tangents
        return (
            g @ tw.T if needs[0] and tw is not None else None,
            tx.T @ g if needs[1] and tx is not None else None,
            None,
        )

    def affine_second_order_vjp(g, g_dot, out, out_tangent, inputs, tangents, needs):
        # vjp(g), and vjp(ġ) + vjp_tangent(g, ẋ) summed in one place
        x, w, _ = inputs
        tx, tw, _ = tangents
        first = affine_vjp(g, out, inputs, needs)
        gx = _add_opt(
            None if g_dot is None or not needs[0] else g_dot @ w.T,
            None if tw is None or not needs[0] else g @ tw.T,
        )
        gw = _add_opt(
            None if g_dot is None or not needs[1] else x.T @ g_dot,
            None if tx is None or not needs[1] else tx.T @ g,
        )
        gb = None if g_dot is None or not needs[2] else _batch_sum(g_dot)
        return first, (gx, gw, gb)

    def none3(*args, **kwargs):
        return (None, None, None)

    def none2(*args, **kwargs):
        return (None, None)

    return [
        Op(
            "matmul", 2, np.matmul, matmul_vjp, matmul_jvp, matmul_vjp_tangent, none2,
            lambda sp, a, b: a * b, "a @ b for a (batch, k), b (k, m)",
            sample=lambda rng: ((rng.normal(size=(2, 3)), rng.normal(size=(3, 4))), {}),
            vjp_reads_output=False,
        ),
        Op(
            "affine", 3, affine_forward, affine_vjp, affine_jvp, affine_vjp_tangent, none3,
            lambda sp, x, w, b: sp.Matrix(
                x.rows, w.cols, lambda i, j: (x * w)[i, j] + (b[j] if 1 in (b.rows, b.cols) else b[i, j])
            ),
            "x @ W + b for x (batch, k), W (k, m), b (m,)",
            sample=lambda rng: ((rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4,))), {}),
            second_order_vjp=affine_second_order_vjp, vjp_reads_output=False,
        ),
    ]


# ---------------------------------------------------------------------------
# reductions

def _reduction_ops() -> list[Op]:
    def expand_like(g, x, axis, keepdims):
        if axis is None:
            # a scalar cotangent (the batch-averaged loss): a filled array is much
            # cheaper to make than a broadcast view, and the same values
            g = np.asarray(g)
            return np.full(np.shape(x), g, dtype=g.dtype)
        if not keepdims:
            g = np.expand_dims(g, axis)
        return np.broadcast_to(g, np.shape(x))

    def mean_forward(x, axis=None, keepdims=False):
        if type(x) is np.ndarray and x.dtype.kind == "f" and x.dtype.itemsize >= 4:
            # np.mean's wrapper costs more than the arithmetic on a batch of losses;
            # same pairwise summation, same dtype
            total = np.add.reduce(x, axis=axis, keepdims=keepdims)
            return total / x.dtype.type(count(x, axis))
        return np.mean(x, axis=axis, keepdims=keepdims)

    def mean_vjp(g, out, inputs, needs, axis=None, keepdims=False):
        x = inputs[0]
        if axis is None:
            # the batch-averaged loss: every entry gets g / size (a filled array;
            # its dtype is g's, as for the general case)
            return (np.full(np.shape(x), g / np.size(x)),)
        return (expand_like(g / count(x, axis), x, axis, keepdims),)

    def count(x, axis):
        return np.size(x) if axis is None else np.shape(x)[axis]

    def none1(*args, **kwargs):
        return (None,)

    def reduction_sample(rng):
        axis = [None, 0, 1][int(rng.integers(0, 3))]
        return (rng.uniform(-2, 2, (2, 3)),), {"axis": axis, "keepdims": bool(rng.integers(0, 2))}

    def sum_meaning(sp, a, axis=None, keepdims=False):
        if axis is None:
            return sp.Matrix([[sum(a)]])
        if axis in (0, -2):
            return sp.Matrix([[sum(a.col(j)) for j in range(a.cols)]])
        return sp.Matrix([[sum(a.row(i))] for i in range(a.rows)])

    def mean_meaning(sp, a, axis=None, keepdims=False):
        n = a.rows * a.cols if axis is None else (a.rows if axis in (0, -2) else a.cols)
        return sum_meaning(sp, a, axis, keepdims) / n

    return [
        Op(
            "sum", 1, lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
            lambda g, out, inputs, needs, axis=None, keepdims=False: (expand_like(g, inputs[0], axis, keepdims),),
            lambda t, out, inputs, axis=None, keepdims=False: None if t[0] is None else np.sum(t[0], axis=axis, keepdims=keepdims),
            none1, none1, sum_meaning, "sum over `axis` (all axes by default)",
            sample=reduction_sample,
        ),
        Op(
            "mean", 1, mean_forward,
            mean_vjp,
            lambda t, out, inputs, axis=None, keepdims=False: None if t[0] is None else mean_forward(t[0], axis, keepdims),
            none1, none1, mean_meaning, "mean over `axis` (all axes by default); the batch-averaged loss",
            sample=reduction_sample,
        ),
    ]


# ---------------------------------------------------------------------------
# softmax family (rows of the last axis), all stable for any finite input

def _softmax_ops() -> list[Op]:
    def softmax_vjp(g, out, inputs, needs):
        y = out
        return (y * (g - _row_sum(y * g)),)  # EDF's rule: y ⊙ (∇y − y·∇y)

    def softmax_jvp(tangents, out, inputs):
        t = tangents[0]
        return None if t is None else out * _minus_weighted_mean(t, out)

    def softmax_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        if out_tangent is None:
            return (None,)
        y, ydot = out, out_tangent
        return (ydot * _minus_weighted_mean(g, y) - y * _row_sum(ydot * g),)

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
        return None if t is None else _minus_weighted_mean(t, np.exp(out))

    def log_softmax_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        t = tangents[0]
        if t is None:
            return (None,)
        y = np.exp(out)
        ydot = y * _minus_weighted_mean(t, y)
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
        return (scale[..., None] * y) * _minus_weighted_mean(t, y)

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
        # Σ_i y_i t_i − t_label written as Σ_i y_i (t_i − t_label): since Σ y = 1
        # the label's term vanishes exactly, where subtracting t_label from a sum
        # with y_label ≈ 1 cancelled away every digit of the small true value
        # (found by check_jvp; the VJP has the same fix in minus_onehot).
        return (y * (t - picked(t, labels)[..., None])).sum(axis=-1)

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
            "softmax", 1, _stable_softmax, softmax_vjp, softmax_jvp, softmax_vjp_tangent, softmax_naive,
            softmax_meaning, "softmax over the last axis (row max subtracted first)", sample=rows_sample,
        ),
        Op(
            "log_softmax", 1, _stable_log_softmax, log_softmax_vjp, log_softmax_jvp,
            log_softmax_vjp_tangent, log_softmax_naive, log_softmax_meaning,
            "log-softmax over the last axis (row max subtracted first)", sample=rows_sample,
        ),
        Op(
            "nll", 2, lambda logp, labels: -picked(logp, labels), nll_vjp,
            lambda t, out, inputs: None if t[0] is None else -picked(t[0], inputs[1]),
            none2, none2, nll_meaning,
            "negative log-likelihood per example: -logp[b, label_b]; labels are integers",
            differentiable=(True, False), sample=labelled_sample,
        ),
        Op(
            "cross_entropy", 2, cross_entropy_forward, ce_vjp, cross_entropy_jvp,
            ce_vjp_tangent, ce_naive, cross_entropy_meaning,
            "fused nll(log_softmax(x), labels) per example; backward is softmax(x) − onehot",
            differentiable=(True, False), sample=labelled_sample,
            second_order_vjp=ce_second_order_vjp,
            forward_residual=cross_entropy_with_residual, vjp_residual=ce_vjp_residual,
        ),
        Op(
            "mean_cross_entropy", 2, mean_cross_entropy_forward, mce_vjp, mean_cross_entropy_jvp,
            mce_vjp_tangent, mce_naive, mean_cross_entropy_meaning,
            "fused mean(cross_entropy(x, labels)) over the batch, the training loss; "
            "backward is (softmax(x) − onehot) / batch",
            differentiable=(True, False), sample=labelled_sample,
            second_order_vjp=mce_second_order_vjp,
            forward_residual=mean_cross_entropy_with_residual, vjp_residual=mce_vjp_residual,
        ),
    ]


# ---------------------------------------------------------------------------
# the registry

#: The ops the engine promises (issue: core). check_complete() insists on them.
REQUIRED_OPS = (
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "sin", "cos", "tanh",
    "sigmoid", "relu", "matmul", "affine", "sum", "mean", "softmax", "log_softmax", "nll",
)

_OP_FIELDS = ("forward", "vjp", "jvp", "vjp_tangent", "naive_vjp", "sympy_meaning", "sample")


@dataclass(frozen=True)
class Registry:
    ops: Mapping[str, Op] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Op:
        try:
            return self.ops[name]
        except KeyError:
            known = ", ".join(sorted(self.ops))
            raise KeyError(f"unknown op {name!r}; known ops: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.ops

    def __iter__(self):
        return iter(self.ops.values())

    def __len__(self) -> int:
        return len(self.ops)

    def check_complete(self, required: Sequence[str] = REQUIRED_OPS) -> None:
        """Raise ValueError naming every missing op and every op with a missing piece."""
        problems = [f"missing op {name!r}" for name in required if name not in self.ops]
        for op in self.ops.values():
            for field_name in _OP_FIELDS:
                if not callable(getattr(op, field_name, None)):
                    problems.append(f"op {op.name!r} has no {field_name}")
            if len(op.differentiable) != op.arity:
                problems.append(f"op {op.name!r}: differentiable has {len(op.differentiable)} entries for arity {op.arity}")
            if not op.doc:
                problems.append(f"op {op.name!r} is undocumented")
            if (op.forward_residual is None) != (op.vjp_residual is None):
                problems.append(f"op {op.name!r} has only one of forward_residual and vjp_residual")
        if problems:
            raise ValueError("incomplete op registry: " + "; ".join(problems))


def build_registry(ops: Iterable[Op]) -> Registry:
    """Collect ops into a registry, rejecting duplicate names, and check it."""
    table: dict[str, Op] = {}
    for op in ops:
        if op.name in table:
            raise ValueError(f"duplicate op name {op.name!r}")
        table[op.name] = op
    registry = Registry(table)
    registry.check_complete()
    return registry


def core_ops() -> list[Op]:
    """Every primitive op, in a fixed order (declared in this module only)."""
    return [*_unary_ops(), *_binary_ops(), *_linear_algebra_ops(), *_reduction_ops(), *_softmax_ops()]


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of :func:`core_ops`, built (and checked) on first use."""
    return build_registry(core_ops())

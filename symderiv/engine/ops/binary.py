"""Elementwise binary ops with numpy broadcasting; every cotangent is summed
back to its input's shape (:func:`~symderiv.engine.ops.kernels.unbroadcast`).

add and sub are linear (:func:`~symderiv.engine.ops.builders.linear`), mul is
bilinear (:func:`~symderiv.engine.ops.builders.bilinear`); div states its
rules in full. :func:`ops` returns them in the registry's order.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from symderiv.engine.ops.builders import away_from_zero, bilinear, linear
from symderiv.engine.ops.core import Op
from symderiv.engine.ops.kernels import add_optional, unbroadcast


def add_vjp(g, out, inputs, needs):
    a, b = inputs
    return (unbroadcast(g, np.shape(a)) if needs[0] else None, unbroadcast(g, np.shape(b)) if needs[1] else None)


def sub_vjp(g, out, inputs, needs):
    a, b = inputs
    return (unbroadcast(g, np.shape(a)) if needs[0] else None, unbroadcast(-g, np.shape(b)) if needs[1] else None)


def div_vjp(g, out, inputs, needs):
    a, b = inputs
    return (
        unbroadcast(g / b, np.shape(a)) if needs[0] else None,
        unbroadcast(-g * out / b, np.shape(b)) if needs[1] else None,
    )


def div_jvp(tangents, out, inputs):
    (_, b), (ta, tb) = inputs, tangents
    return add_optional(None if ta is None else ta / b, None if tb is None else -tb * out / b)


def div_vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
    # d/dt (g/b) = -g·ḃ/b²;  d/dt (-g·a/b²) = -g·ȧ/b² + 2·g·a·ḃ/b³
    (a, b), (ta, tb) = inputs, tangents
    grad_a = None if tb is None or not needs[0] else unbroadcast(-g * tb / (b * b), np.shape(a))
    grad_b = None
    if needs[1]:
        parts = add_optional(
            None if ta is None else -g * ta / (b * b),
            None if tb is None else 2.0 * g * a * tb / (b * b * b),
        )
        grad_b = None if parts is None else unbroadcast(parts, np.shape(b))
    return (grad_a, grad_b)


def div_naive(d2, out, inputs, needs):
    a, b = inputs  # ∂²(a/b)/∂a² = 0, ∂²(a/b)/∂b² = 2a/b³
    return (None, unbroadcast(d2 * 2.0 * a / (b * b * b), np.shape(b)) if needs[1] else None)


def broadcast_sympy(sp, a, b):
    """Broadcast two SymPy matrices like numpy does for 2-D arrays."""
    rows, cols = max(a.rows, b.rows), max(a.cols, b.cols)

    def stretch(m):
        if (m.rows, m.cols) == (rows, cols):
            return m
        return sp.Matrix(rows, cols, lambda i, j: m[i % m.rows, j % m.cols])

    return stretch(a), stretch(b)


def elementwise_meaning(combine: Callable) -> Callable:
    """The SymPy meaning of ``combine`` applied entry by entry, broadcasting."""
    def meaning(sp, a, b):
        a, b = broadcast_sympy(sp, a, b)
        return sp.Matrix(a.rows, a.cols, lambda i, j: combine(a[i, j], b[i, j]))

    return meaning


def broadcast_pair(rng):
    # b broadcasts along the batch axis, so the cotangent must be unbroadcast
    return (rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (3,))), {}


def divisor_pair(rng):
    return (rng.uniform(-2, 2, (2, 3)), away_from_zero(rng, (3,), 0.5, 2.0)), {}


def ops() -> list[Op]:
    return [
        linear(
            "add", np.add, vjp=add_vjp, jvp=lambda t, out, inputs: add_optional(t[0], t[1]), arity=2,
            sympy_meaning=elementwise_meaning(lambda p, q: p + q), doc="a + b (broadcasting)",
            elementwise=True, sample=broadcast_pair,
        ),
        linear(
            "sub", np.subtract, vjp=sub_vjp, arity=2,
            jvp=lambda t, out, inputs: add_optional(t[0], None if t[1] is None else -t[1]),
            sympy_meaning=elementwise_meaning(lambda p, q: p - q), doc="a - b (broadcasting)",
            elementwise=True, sample=broadcast_pair,
        ),
        bilinear(
            "mul", np.multiply,
            left=lambda g, a, b: unbroadcast(g * b, np.shape(a)), right=lambda g, a, b: unbroadcast(g * a, np.shape(b)),
            sympy_meaning=elementwise_meaning(lambda p, q: p * q), doc="a * b elementwise (broadcasting)",
            elementwise=True, sample=broadcast_pair,
        ),
        Op(
            name="div", arity=2, forward=np.divide, vjp=div_vjp, jvp=div_jvp, vjp_tangent=div_vjp_tangent,
            naive_vjp=div_naive, sympy_meaning=elementwise_meaning(lambda p, q: p / q),
            doc="a / b elementwise (broadcasting)", elementwise=True, sample=divisor_pair,
        ),
    ]

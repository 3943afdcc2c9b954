"""Elementwise unary ops: each is f with its f′ and f″ (:func:`~symderiv.engine.ops.builders.unary`).

``d1(x, y, **params)`` and ``d2(x, y, **params)`` get the input x and the
output y = f(x); a slope that reads only y (``slope_reads="output"``) lets the
training step free x early. :func:`ops` returns them in the registry's order.
"""

from __future__ import annotations

import numpy as np

from symderiv.engine.ops.builders import away_from_zero, unary, uniform_sample
from symderiv.engine.ops.core import Array, Op


def sigmoid(x: Array) -> Array:
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


def sigmoid_slope(x: Array, y: Array) -> Array:
    slope = np.subtract(1.0, y)  # σ' = σ(1 − σ), one buffer
    slope *= y
    return slope


def tanh_slope(x: Array, y: Array) -> Array:
    slope = np.multiply(y, y)  # tanh' = 1 − y², one buffer
    np.subtract(1.0, slope, out=slope)
    return slope


def ops() -> list[Op]:
    positive = uniform_sample(0.2, 3.0)
    return [
        unary(
            "neg", np.negative, d1=lambda x, y: -1.0, d2=None, slope_reads="output",
            scalar_meaning=lambda sp, t: -t, doc="-x",
        ),
        unary(
            "exp", np.exp, d1=lambda x, y: y, d2=lambda x, y: y, slope_reads="output",
            scalar_meaning=lambda sp, t: sp.exp(t), doc="exp(x)",
        ),
        unary(
            "log", np.log, d1=lambda x, y: 1.0 / x, d2=lambda x, y: -1.0 / (x * x),
            scalar_meaning=lambda sp, t: sp.log(t), doc="natural log, x > 0", sample=positive,
        ),
        unary(
            "sqrt", np.sqrt, d1=lambda x, y: 0.5 / y, d2=lambda x, y: -0.25 / (x * y), slope_reads="output",
            scalar_meaning=lambda sp, t: sp.sqrt(t), doc="square root, x > 0 for derivatives", sample=positive,
        ),
        unary(
            "sin", np.sin, d1=lambda x, y: np.cos(x), d2=lambda x, y: -y,
            scalar_meaning=lambda sp, t: sp.sin(t), doc="sin(x)",
        ),
        unary(
            "cos", np.cos, d1=lambda x, y: -np.sin(x), d2=lambda x, y: -y,
            scalar_meaning=lambda sp, t: sp.cos(t), doc="cos(x)",
        ),
        unary(
            "tanh", np.tanh, d1=tanh_slope, d2=lambda x, y: -2.0 * y * (1.0 - y * y),
            slope_reads="output", slope_is_fresh=True,
            scalar_meaning=lambda sp, t: sp.tanh(t), doc="tanh(x)",
        ),
        unary(
            "sigmoid", sigmoid, d1=sigmoid_slope, d2=lambda x, y: y * (1.0 - y) * (1.0 - 2.0 * y),
            slope_reads="output", slope_is_fresh=True,
            scalar_meaning=lambda sp, t: 1 / (1 + sp.exp(-t)), doc="logistic sigmoid 1/(1+exp(-x)), evaluated stably",
        ),
        unary(
            # y > 0 exactly where x > 0 (NaN: both false), so f' comes from y
            "relu", lambda x: np.maximum(x, 0), d1=lambda x, y: (y > 0).astype(y.dtype),
            d2=lambda x, y: np.zeros_like(x), slope_reads="output",
            scalar_meaning=lambda sp, t: sp.Max(0, t), doc="max(x, 0); derivative taken as 0 at x = 0",
            sample=lambda rng: ((away_from_zero(rng, (2, 3)),), {}),
        ),
        unary(
            "pow", lambda x, p: np.power(x, p),
            d1=lambda x, y, p: p * np.power(x, p - 1), d2=lambda x, y, p: p * (p - 1) * np.power(x, p - 2),
            scalar_meaning=lambda sp, t, p: t ** sp.nsimplify(p), doc="x**p for a constant exponent p",
            sample=lambda rng: ((rng.uniform(0.5, 2.0, (2, 3)),), {"p": float(rng.choice([2.0, 3.0, 0.5, -1.5]))}),
        ),
    ]

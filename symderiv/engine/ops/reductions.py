"""Reductions: sum and mean over an axis (all axes by default), both linear
(:func:`~symderiv.engine.ops.builders.linear`): the VJP spreads the cotangent
back over the reduced axis, and their second order is zero.

Params: ``axis`` (None, or one axis) and ``keepdims``, as numpy's. :func:`ops`
returns them in the registry's order.
"""

from __future__ import annotations

import numpy as np

from symderiv.engine.ops.builders import linear
from symderiv.engine.ops.core import Op


def count(x, axis):
    """How many entries each result of a reduction over ``axis`` adds up."""
    return np.size(x) if axis is None else np.shape(x)[axis]


def spread(g, x, axis, keepdims):
    """The cotangent g of a sum over ``axis``, repeated back to x's shape."""
    if axis is None:
        # a scalar cotangent (the batch-averaged loss): a filled array is much
        # cheaper to make than a broadcast view, and the same values
        g = np.asarray(g)
        return np.full(np.shape(x), g, dtype=g.dtype)
    if not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x))


def sum_forward(x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=keepdims)


def sum_vjp(g, out, inputs, needs, axis=None, keepdims=False):
    return (spread(g, inputs[0], axis, keepdims),)


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
    return (spread(g / count(x, axis), x, axis, keepdims),)


def sum_meaning(sp, a, axis=None, keepdims=False):
    if axis is None:
        return sp.Matrix([[sum(a)]])
    if axis in (0, -2):
        return sp.Matrix([[sum(a.col(j)) for j in range(a.cols)]])
    return sp.Matrix([[sum(a.row(i))] for i in range(a.rows)])


def mean_meaning(sp, a, axis=None, keepdims=False):
    n = a.rows * a.cols if axis is None else (a.rows if axis in (0, -2) else a.cols)
    return sum_meaning(sp, a, axis, keepdims) / n


def reduction_sample(rng):
    axis = [None, 0, 1][int(rng.integers(0, 3))]
    return (rng.uniform(-2, 2, (2, 3)),), {"axis": axis, "keepdims": bool(rng.integers(0, 2))}


def ops() -> list[Op]:
    return [
        linear(
            "sum", sum_forward, vjp=sum_vjp, sympy_meaning=sum_meaning,
            doc="sum over `axis` (all axes by default)", sample=reduction_sample,
        ),
        linear(
            "mean", mean_forward, vjp=mean_vjp, sympy_meaning=mean_meaning,
            doc="mean over `axis` (all axes by default); the batch-averaged loss", sample=reduction_sample,
        ),
    ]

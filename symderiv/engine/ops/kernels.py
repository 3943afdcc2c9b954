"""numpy helpers shared by the op families.

Contract: each helper returns what its one-line numpy equivalent (named in its
docstring) returns, the same shape and dtype, to rounding: the fast paths
only reorder a summation (tested against numpy and a 40-digit reference in
tests/engine/test_layouts.py). The thresholds where a fast path pays were
measured on minibatches of class scores (128 x 10, float32 and float64).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

Array = np.ndarray

#: dtypes BLAS multiplies (a matrix-vector product with ones is a BLAS sum)
BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


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


def add_optional(a: Array | None, b: Array | None) -> Array | None:
    """a + b, where None is an exact zero (so None + None is None)."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def is_blas_matrix(a: Any) -> bool:
    return type(a) is np.ndarray and a.ndim == 2 and a.dtype in BLAS_FLOATS


def few_columns_many_rows(shape: tuple[int, ...]) -> bool:
    """Where working on a contiguous copy of x.T pays (measured): numpy is slow
    along short rows, and the copy costs less than it saves when a matrix has
    at most 32 columns and at least 16 rows (class scores of a minibatch)."""
    return len(shape) == 2 and shape[1] <= 32 and shape[0] >= 16


@lru_cache(maxsize=32)
def ones(n: int, dtype: np.dtype) -> Array:
    """n ones (read-only, shared): the vector of a BLAS sum."""
    vector = np.ones(n, dtype=dtype)
    vector.flags.writeable = False
    return vector


def row_sum(a: Array) -> Array:
    """a.sum(axis=-1, keepdims=True). For a float32/float64 matrix it is a @ ones,
    one BLAS matrix-vector product: numpy's reduction over a short last axis
    (class scores) costs 3x more (1.6 against 4.7 µs at 128 x 10)."""
    if is_blas_matrix(a):
        return (a @ ones(a.shape[1], a.dtype))[:, None]
    return a.sum(axis=-1, keepdims=True)


def row_max(x: Array) -> Array:
    """x.max(axis=-1, keepdims=True). For a tall matrix with few columns (class
    scores) the max down the columns of a contiguous copy of x.T is 2-4x faster
    than numpy's reduction over the short last axis (4.4 against 8.3 µs at
    128 x 10); with more than 32 columns or fewer than 16 rows it is slower."""
    if type(x) is np.ndarray and few_columns_many_rows(x.shape):
        return np.ascontiguousarray(x.T).max(axis=0)[:, None]
    return x.max(axis=-1, keepdims=True)


def minus_weighted_mean(t: Array, y: Array) -> Array:
    """t − Σ_j y_j t_j along the last axis, for weights y that sum to 1 (a
    softmax). Computed about the entry where y is largest: when that y is ≈ 1
    the plain form subtracts two numbers of size |t| whose difference is
    ~(1 − y)|t|, losing its digits (found by check_jvp on log-softmax and
    cross-entropy at confident predictions); about that entry its own term
    vanishes exactly."""
    anchor = np.take_along_axis(t, np.argmax(y, axis=-1)[..., None], axis=-1)
    centred = t - anchor
    return centred - row_sum(y * centred)


def batch_sum(g: Array) -> Array:
    """g.sum(axis=0) for a (batch, m) cotangent: the bias gradient. As ones @ g
    it is one BLAS matrix-vector product, about 3x faster than numpy's
    reduction over the leading axis (same sequential-in-batch summation)."""
    if type(g) is np.ndarray and g.ndim == 2 and g.dtype.kind == "f" and g.dtype.itemsize >= 4:
        return ones(g.shape[0], g.dtype) @ g
    return np.sum(g, axis=0)


@lru_cache(maxsize=32)
def batch_rows(batch: int) -> Array:
    """0, 1, …, batch − 1 (read-only, shared): the row index of label picking."""
    rows = np.arange(batch)
    rows.flags.writeable = False
    return rows


def times_fresh(fresh: Array, g: Array) -> Array:
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

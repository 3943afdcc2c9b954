"""Linear algebra: matmul and affine (x @ W + b), both bilinear in (x, W)
(:func:`~symderiv.engine.ops.builders.bilinear`), affine with its bias.

Weight gradients are matmuls (x.T @ g), never a broadcast outer product
summed over the batch; the bias gradient is one BLAS product with ones
(:func:`~symderiv.engine.ops.kernels.batch_sum`). :func:`ops` returns them in
the registry's order.
"""

from __future__ import annotations

import numpy as np

from symderiv.engine.ops.builders import bilinear
from symderiv.engine.ops.core import Op
from symderiv.engine.ops.kernels import batch_sum


def input_cotangent(g, x, w):
    """∂⟨g, x @ w⟩/∂x"""
    return g @ w.T


def weight_cotangent(g, x, w):
    """∂⟨g, x @ w⟩/∂w"""
    return x.T @ g


def affine_forward(x, w, b):
    out = x @ w
    out += b
    return out


def affine_meaning(sp, x, w, b):
    product = x * w
    return sp.Matrix(x.rows, w.cols, lambda i, j: product[i, j] + (b[j] if 1 in (b.rows, b.cols) else b[i, j]))


def ops() -> list[Op]:
    return [
        bilinear(
            "matmul", np.matmul, left=input_cotangent, right=weight_cotangent,
            sympy_meaning=lambda sp, a, b: a * b, doc="a @ b for a (batch, k), b (k, m)",
            sample=lambda rng: ((rng.normal(size=(2, 3)), rng.normal(size=(3, 4))), {}),
        ),
        bilinear(
            "affine", np.matmul, forward=affine_forward, bias=batch_sum,
            left=input_cotangent, right=weight_cotangent,
            sympy_meaning=affine_meaning, doc="x @ W + b for x (batch, k), W (k, m), b (m,)",
            sample=lambda rng: ((rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4,))), {}),
        ),
    ]

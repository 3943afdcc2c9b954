"""Problem 2, numerically: the engine's softmax backward vs Jᵀu from the symbolic Jacobian.

The reference is SymPy's Jacobian (see :mod:`symderiv.problems.softmax`), lambdified
in terms of e_k = exp(x_k) and w = 1/Z. Each entry is homogeneous of degree 0
in e (checked exactly in the ring: every monomial has as many e's as w's), so
it may be evaluated at e_k = exp(x_k − max x) without changing its value:
exact for inputs like ±1000 or −745, where exp(x) itself overflows or
underflows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symderiv.errors import InputError
from symderiv.numeric.tolerance import tolerance

MAX_N = 64


@dataclass(frozen=True)
class SoftmaxComparison:
    x: np.ndarray  # (batch, n)
    upstream: np.ndarray  # ∇y, (batch, n)
    engine_grad: np.ndarray  # engine backward
    rule_grad: np.ndarray  # y ⊙ (∇y − y·∇y) in numpy
    jacobian_vjp: np.ndarray  # Jᵀ∇y from the symbolic Jacobian
    max_abs_error: float  # engine vs Jacobian
    max_scaled_error: float  # in units of the tolerance
    proof_ok: bool  # the fixed-n symbolic proof

    @property
    def identity_holds(self) -> bool:
        return self.proof_ok and self.max_scaled_error <= 1.0 and bool(np.all(np.isfinite(self.engine_grad)))


def _homogeneous_of_degree_zero(n: int) -> bool:
    from symderiv.problems.softmax import softmax_ring

    ring = softmax_ring(n)
    for row in ring.jacobian:
        for entry in row:
            for monomial in entry.monoms():
                if sum(monomial[:n]) != monomial[n]:  # e-degree must equal w-degree
                    return False
    return True


def jacobian_function(n: int):
    """Vectorised J(e, w) for the softmax of size n: returns (batch, n, n), J[b, j, i] = ∂y_j/∂x_i."""
    import sympy as sp

    from symderiv.problems.softmax import softmax_ring

    ring = softmax_ring(n)
    if not _homogeneous_of_degree_zero(n):
        raise AssertionError("softmax Jacobian is not homogeneous of degree 0; shifting would be invalid")
    symbols = ring.expr_symbols[: n + 1]  # e_1..e_n, w
    entries = [[entry.as_expr(*ring.expr_symbols) for entry in row] for row in ring.jacobian]
    compiled = sp.lambdify(list(symbols), sp.Matrix(entries), modules="numpy")

    def evaluate(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        w = 1.0 / e.sum(axis=1)
        columns = [e[:, k] for k in range(n)] + [w]
        result = np.asarray(compiled(*columns), dtype=np.float64)  # (n, n, batch) or (n, n)
        if result.ndim == 2:
            result = np.broadcast_to(result[:, :, None], (n, n, x.shape[0]))
        return np.moveaxis(result, -1, 0)

    return evaluate


def engine_softmax_backward(x: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    from symderiv.engine.graph import Graph

    graph = Graph()
    x_node = graph.input("x")
    y_node = graph.apply("softmax", x_node)
    evaluation = graph.forward({x_node: x}, [y_node])
    return graph.backward(evaluation, y_node, wrt=[x_node], seed=upstream)[x_node]


def compare_softmax(x: np.ndarray, upstream: np.ndarray) -> SoftmaxComparison:
    """Compare on a minibatch: x and upstream of shape (batch, n)."""
    from symderiv.problems.softmax import prove_softmax_identity

    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    upstream = np.atleast_2d(np.asarray(upstream, dtype=np.float64))
    if x.shape != upstream.shape:
        raise InputError(f"input and gradient differ in shape: {x.shape} vs {upstream.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(upstream))):
        raise InputError("inputs and gradients must be finite numbers")
    n = x.shape[1]
    if not 1 <= n <= MAX_N:
        raise InputError(f"softmax size n = {n} is outside 1..{MAX_N}")
    proof = prove_softmax_identity(n, jacobian=n <= 32)
    J = jacobian_function(n)(x)  # (batch, j, i)
    jacobian_vjp = np.einsum("bji,bj->bi", J, upstream)
    engine_grad = engine_softmax_backward(x, upstream)
    y = np.exp(x - x.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    rule_grad = y * (upstream - (y * upstream).sum(axis=1, keepdims=True))
    scale = np.einsum("bji,bj->bi", np.abs(J), np.abs(upstream)) + np.abs(y * upstream)
    error = np.abs(engine_grad - jacobian_vjp)
    allowed = tolerance(scale) + tolerance(np.abs(upstream).max(axis=1, keepdims=True) * np.finfo(float).eps)
    return SoftmaxComparison(
        x=x,
        upstream=upstream,
        engine_grad=engine_grad,
        rule_grad=rule_grad,
        jacobian_vjp=jacobian_vjp,
        max_abs_error=float(error.max()),
        max_scaled_error=float((error / allowed).max()),
        proof_ok=proof.ok,
    )

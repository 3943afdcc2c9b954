"""Problem 2, exactly: the softmax Jacobian and the backward rule Jᵀu = y ⊙ (u − y·u).

The fixed-n proofs exploit structure instead of calling ``simplify``: they run
in the one softmax ring of :mod:`symderiv.algebra.softmax_ring`. With
e_k = exp(x_k) and w = 1/Z, Z = Σ_k e_k, every quantity of the backward rule
(y_j = e_j·w, J, Jᵀu, gvdot) is a polynomial in Q[e_1..e_n, w, u_1..u_n], and
differentiation by x_i is the chain rule

    ∂p/∂x_i = ∂p/∂e_i · de_i/dx_i + ∂p/∂Z · ∂Z/∂x_i = e_i·(∂p/∂e_i − w²·∂p/∂w),

using de_i/dx_i = e_i and ∂Z/∂x_i = e_i (both asked of SymPy) and ∂/∂Z = −w²·∂/∂w.
Equality of polynomials is exact, so "proved" is a proof for that n. For
n = 1..32 this takes well under a second in total, against tens of seconds for
``simplify`` or ``cancel`` on the explicit quotients.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # sympy is imported lazily; these names are for type hints only
    import sympy

    from symderiv.algebra.softmax_ring import SoftmaxRing


@dataclass(frozen=True)
class SoftmaxSymbols:
    """The symbols of a softmax of size n: inputs x_i, upstream gradient u_i (∇y),
    e_i standing for exp(x_i), and Z for Σ_k exp(x_k)."""

    n: int
    xs: tuple
    us: tuple
    es: tuple
    Z: "sympy.Symbol"


@lru_cache(maxsize=64)
def softmax_symbols(n: int) -> SoftmaxSymbols:
    import sympy as sp

    if n < 1:
        raise ValueError("softmax needs n >= 1")
    xs = tuple(sp.Symbol(f"x_{i}") for i in range(1, n + 1))
    us = tuple(sp.Symbol(f"u_{i}") for i in range(1, n + 1))
    es = tuple(sp.Symbol(f"e_{i}", positive=True) for i in range(1, n + 1))
    return SoftmaxSymbols(n, xs, us, es, _Z_symbol())


def softmax_outputs(n: int) -> list:
    """y_j = exp(x_j) / Σ_k exp(x_k), as explicit SymPy quotients."""
    import sympy as sp

    s = softmax_symbols(n)
    Z = sp.Add(*[sp.exp(x) for x in s.xs])
    return [sp.exp(x) / Z for x in s.xs]


def softmax_jacobian(n: int) -> "sympy.Matrix":
    """J[j, i] = ∂y_j/∂x_i as SymPy expressions in exp(x_k) and Z = Σ_k exp(x_k).

    Built from the exact ring computation of :func:`softmax_ring`; for display
    (n is small there)."""
    import sympy as sp

    s = softmax_symbols(n)
    ring = softmax_ring(n)
    back = {e: sp.exp(x) for e, x in zip(ring.expr_symbols[:n], s.xs)}
    back[s.Z] = sp.Add(*[sp.exp(x) for x in s.xs])
    jacobian = ring.jacobian
    return sp.Matrix(n, n, lambda j, i: ring.to_expr(jacobian[j][i], s.Z).xreplace(back))


def _Z_symbol():
    import sympy as sp

    return sp.Symbol("Z", positive=True)


@lru_cache(maxsize=1)
def _check_calculus_facts() -> None:
    """The two facts the ring's chain rule uses, asked of SymPy for generic symbols:
    d exp(t)/dt = exp(t), and ∂(exp(t) + r)/∂t = exp(t) when r does not depend on t
    (so ∂Z/∂x_i = exp(x_i) for Z = exp(x_i) + Σ_{k≠i} exp(x_k))."""
    import sympy as sp

    t = sp.Symbol("t")
    rest = sp.Function("r")(sp.Symbol("s"))
    if sp.diff(sp.exp(t), t) != sp.exp(t) or sp.diff(sp.exp(t) + rest, t) != sp.exp(t):
        raise AssertionError("SymPy disagrees with d exp(t)/dt = exp(t)")


@lru_cache(maxsize=64)
def softmax_ring(n: int) -> "SoftmaxRing":
    """The softmax ring of :mod:`symderiv.algebra.softmax_ring` for size n, with the upstream
    gradient u_1..u_n as further generators.

    The two calculus facts its chain rule uses are taken from SymPy itself,
    not assumed: d exp(x_i)/dx_i = exp(x_i) and ∂(Σ_k exp(x_k))/∂x_i = exp(x_i)."""
    from symderiv.algebra.softmax_ring import SoftmaxRing

    s = softmax_symbols(n)
    _check_calculus_facts()
    return SoftmaxRing(s.xs, (), s.us)


@dataclass(frozen=True)
class SoftmaxIdentityProof:
    """Outcome of the fixed-n proofs: entries of J, J = diag(y) − y yᵀ, J symmetric,
    and the VJP identity Jᵀu = y ⊙ (u − y·u)."""

    n: int
    jacobian_matches_diag_minus_outer: bool
    jacobian_symmetric: bool
    vjp_identity_holds: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return self.jacobian_matches_diag_minus_outer and self.jacobian_symmetric and self.vjp_identity_holds

    def _repr_html_(self) -> str:  # Jupyter; the renderer is imported only when a notebook asks
        from symderiv.render.notebook import softmax_html

        return softmax_html(self)

    def _repr_latex_(self) -> str:
        from symderiv.render.notebook import softmax_latex

        return softmax_latex(self)


def prove_softmax_identity(n: int, *, jacobian: bool = True) -> SoftmaxIdentityProof:
    """Prove, for this n, Jᵀu = y ⊙ (u − y·u) and (with ``jacobian``) J = diag(y) − y yᵀ
    entrywise and Jᵀ = J.

    Jᵀu is computed as the gradient of the scalar u·y (u held constant), which is
    its definition: (Jᵀu)_i = Σ_k u_k ∂y_k/∂x_i = ∂(Σ_k u_k y_k)/∂x_i."""
    import sympy.polys.rings  # noqa: F401 - import cost is not proof time

    start = time.perf_counter()
    R = softmax_ring(n)
    y, u, zero = R.y, R.gens(softmax_symbols(n).us), R.ring.zero
    u_dot_y = sum((u_k * y_k for u_k, y_k in zip(u, y)), zero)
    holds = all(R.d_dx(u_dot_y, i) == y[i] * (u[i] - u_dot_y) for i in range(n))
    matches = symmetric = True
    if jacobian:
        J = R.jacobian
        matches = all(
            J[j][i] == (y[i] if i == j else zero) - y[i] * y[j] for j in range(n) for i in range(n)
        )
        symmetric = all(J[j][i] == J[i][j] for j in range(n) for i in range(j + 1, n))
    return SoftmaxIdentityProof(n, matches, symmetric, holds, time.perf_counter() - start)

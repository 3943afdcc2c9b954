"""Problem 2, exactly: the softmax Jacobian and the backward rule Jᵀu = y ⊙ (u − y·u).

The fixed-n proofs exploit structure instead of calling ``simplify``. With
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
    back = {e: sp.exp(x) for e, x in zip(s.es, s.xs)}
    back[s.Z] = sp.Add(*[sp.exp(x) for x in s.xs])
    jacobian = ring.jacobian
    return sp.Matrix(n, n, lambda j, i: ring.to_expr(jacobian[j][i]).xreplace(back))


@dataclass(frozen=True)
class SoftmaxRing:
    """Softmax of size n in the polynomial ring Q[e_1..e_n, w, u_1..u_n].

    e_k stands for exp(x_k) and w for 1/Z. Every quantity of the softmax
    backward rule is a polynomial there, so equality is equality of ring
    elements: exact and fast (no ``simplify``, no ``cancel``).
    """

    n: int
    ring: object
    e: tuple
    w: object
    u: tuple
    y: tuple  # y_j = e_j * w
    expr_symbols: tuple  # the SymPy symbols matching (e..., w, u...)

    @property
    def jacobian(self) -> tuple:
        """jacobian[j][i] = ∂y_j/∂x_i (n² ring elements, computed on each access)."""
        return tuple(tuple(self.d_dx(self.y[j], i) for i in range(self.n)) for j in range(self.n))

    def d_dx(self, poly, i: int):
        """∂/∂x_i by the chain rule through e_i = exp(x_i) and Z = Σ e_k:
        ∂p/∂x_i = ∂p/∂e_i · de_i/dx_i + ∂p/∂Z · ∂Z/∂x_i, where de_i/dx_i = e_i and
        ∂Z/∂x_i = e_i (both checked with SymPy in :func:`softmax_ring`) and
        ∂p/∂Z = −w² ∂p/∂w because w = 1/Z."""
        # generators are addressed by position: (e_1..e_n, w, u_1..u_n)
        return self.e[i] * (poly.diff(i) - self.w**2 * poly.diff(self.n))

    def to_expr(self, poly):
        return poly.as_expr(*self.expr_symbols).xreplace({self.expr_symbols[self.n]: 1 / _Z_symbol()})


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
def softmax_ring(n: int) -> SoftmaxRing:
    """Build the ring model of softmax(n) and its Jacobian.

    The two calculus facts the chain rule needs are taken from SymPy itself,
    not assumed: d exp(x_i)/dx_i = exp(x_i) and ∂(Σ_k exp(x_k))/∂x_i = exp(x_i)."""
    import sympy as sp
    from sympy.polys.domains import QQ
    from sympy.polys.rings import ring

    s = softmax_symbols(n)
    _check_calculus_facts()
    w_symbol = sp.Symbol("w", positive=True)
    expr_symbols = (*s.es, w_symbol, *s.us)
    R, *gens = ring(expr_symbols, QQ)
    e, w, u = tuple(gens[:n]), gens[n], tuple(gens[n + 1 :])
    y = tuple(e_j * w for e_j in e)
    return SoftmaxRing(n, R, e, w, u, y, expr_symbols)


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
    y, u, zero = R.y, R.u, R.ring.zero
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

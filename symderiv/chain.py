"""Problem 1, exactly: ℓ = f(y, z) with y = g(x), z = h(x).

Everything here is computed by SymPy and *proved* by exact algebra:

* dℓ/dx from SymPy's own differentiation of the composite f(g(x), h(x)),
* backprop's quantities δ_y = f_y, δ_z = f_z, δ_x = g'·δ_y + h'·δ_z,
* d²ℓ/dx² from SymPy, and the same brought to the five canonical terms
  f_yy·g'² + 2·f_yz·g'·h' + f_zz·h'² + f_y·g'' + f_z·h'',
* the naive second-order rule f_yy·g'' + f_zz·h'' and the difference exact − naive.

g, h and f may each be abstract (undefined SymPy functions) or concrete
expressions (g, h in x; the loss in y, z). Partials of f are SymPy's
``Derivative(f(g(x), h(x)), g(x))`` objects, i.e. taken at (y, z) = (g(x), h(x));
:func:`at_yz` rewrites them as ∂f/∂y etc. for display.

Two expressions are "proved" equal when ``expand`` of their difference is 0:
both sides are polynomials in the same derivative atoms, so this is a
structural proof, not a numeric one. When ``expand`` cannot decide (concrete
functions whose difference needs an identity such as sin² + cos² = 1) the
verdict falls back to a bounded ``simplify`` and, failing that, to
``"not proved"``; the numeric side (:mod:`symderiv.chain_compare`) then
decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy

    from symderiv.chain_compare import ChainNumbers


@dataclass(frozen=True)
class Term:
    """One summand of a displayed formula, in canonical order."""

    label: str  # e.g. "f_yy·g'²"
    expr: "sympy.Expr"


@dataclass(frozen=True)
class ChainDerivation:
    """The symbolic side of Problem 1 for one choice of (g, h, f)."""

    x: "sympy.Symbol"
    y: "sympy.Symbol"
    z: "sympy.Symbol"
    g: "sympy.Expr"  # g(x), abstract or concrete
    h: "sympy.Expr"
    loss: "sympy.Expr"  # f(y, z), abstract or concrete
    abstract: tuple[str, ...]  # names of the abstract functions among g, h, f
    ell: "sympy.Expr"  # f(g(x), h(x))
    first: "sympy.Expr"  # SymPy's dℓ/dx
    delta_y: "sympy.Expr"  # f_y at (g, h)
    delta_z: "sympy.Expr"
    delta_x: "sympy.Expr"  # g'·δ_y + h'·δ_z
    first_verdict: str  # "proved" | "not proved"
    second: "sympy.Expr"  # SymPy's raw d²ℓ/dx²
    second_terms: tuple[Term, ...]  # the five canonical terms
    second_verdict: str
    naive_terms: tuple[Term, ...]  # f_yy·g'', f_zz·h''
    difference_terms: tuple[Term, ...]  # exact − naive, grouped by atom

    @property
    def second_canonical(self) -> "sympy.Expr":
        import sympy as sp

        return sp.Add(*[t.expr for t in self.second_terms])

    @property
    def naive(self) -> "sympy.Expr":
        import sympy as sp

        return sp.Add(*[t.expr for t in self.naive_terms])

    @property
    def difference(self) -> "sympy.Expr":
        import sympy as sp

        return sp.Add(*[t.expr for t in self.difference_terms])

    @property
    def is_concrete(self) -> bool:
        return not self.abstract

    def _repr_html_(self) -> str:  # Jupyter; the renderer is imported only when a notebook asks
        from symderiv.render.notebook import chain_html

        return chain_html(self)

    def _repr_latex_(self) -> str:
        from symderiv.render.notebook import chain_latex

        return chain_latex(self)


def chain_symbols() -> tuple["sympy.Symbol", "sympy.Symbol", "sympy.Symbol"]:
    """The plain symbols x, y, z used throughout (no assumptions)."""
    import sympy as sp

    return sp.Symbol("x"), sp.Symbol("y"), sp.Symbol("z")


#: Exact proofs are attempted only below this size (SymPy operation count),
#: and never on high powers of sums: ``expand`` of a large concrete derivative
#: ((x+1)**64 products, deep towers) can take minutes, and a verifier must not
#: hang. Otherwise the verdict is "skipped" and the numeric witnesses decide.
MAX_EXPAND_OPS = 2000
MAX_EXPANDED_POWER = 8
MAX_SIMPLIFY_OPS = 120

PROVED = "proved"
NOT_PROVED = "not proved by bounded algebra"
SKIPPED = "skipped (too large for an exact proof)"


def _cheap_to_expand(expr: "sympy.Expr") -> bool:
    import sympy as sp

    if sp.count_ops(expr) > MAX_EXPAND_OPS:
        return False
    return not any(
        isinstance(node, sp.Pow) and isinstance(node.base, sp.Add)
        and node.exp.is_Integer and abs(node.exp) > MAX_EXPANDED_POWER
        for node in sp.preorder_traversal(expr)
    )


def prove_equal(lhs: "sympy.Expr", rhs: "sympy.Expr") -> str:
    """PROVED if lhs − rhs is exactly 0; otherwise NOT_PROVED (the bounded algebra
    could not show it, which proves nothing either way) or SKIPPED (too large to
    try). Never a guess: only PROVED is a claim."""
    import sympy as sp

    difference = lhs - rhs
    if difference == 0:
        return PROVED
    if not _cheap_to_expand(difference):
        return SKIPPED
    expanded = sp.expand(difference)
    if expanded == 0:
        return PROVED
    # Concrete functions may need an identity expand does not apply (sin² + cos² = 1).
    if sp.count_ops(expanded) <= MAX_SIMPLIFY_OPS and sp.simplify(expanded) == 0:
        return PROVED
    return NOT_PROVED


def derive_chain(
    g: "sympy.Expr | None" = None,
    h: "sympy.Expr | None" = None,
    loss: "sympy.Expr | None" = None,
) -> ChainDerivation:
    """Derive Problem 1 for the given functions (None = abstract g(x), h(x), f(y, z))."""
    import sympy as sp

    x, y, z = chain_symbols()
    abstract = tuple(
        name for name, given in (("g", g), ("h", h), ("f", loss)) if given is None
    )
    G = sp.Function("g")(x) if g is None else g
    H = sp.Function("h")(x) if h is None else h
    F = sp.Function("f")(y, z) if loss is None else loss

    at_gh = {y: G, z: H}

    def partial(*variables):
        """∂^k f/∂variables at (y, z) = (g(x), h(x)), via SymPy's Subs."""
        return sp.Subs(sp.Derivative(F, *variables), (y, z), (G, H)).doit()

    ell = F.subs(at_gh) if loss is not None else sp.Function("f")(G, H)
    first = sp.diff(ell, x)
    f_y, f_z = partial(y), partial(z)
    f_yy, f_yz, f_zz = partial(y, y), partial(y, z), partial(z, z)
    g1, g2 = sp.diff(G, x), sp.diff(G, x, 2)
    h1, h2 = sp.diff(H, x), sp.diff(H, x, 2)

    # Backprop on x -> {y, z} -> l: delta_l = 1, the loss node hands f_y, f_z to
    # y and z, and x collects the sum over its two children.
    delta_y, delta_z = f_y, f_z
    delta_x = g1 * delta_y + h1 * delta_z

    second = sp.diff(ell, x, 2)
    second_terms = (
        Term("f_yy·g'²", f_yy * g1**2),
        Term("2·f_yz·g'·h'", 2 * f_yz * g1 * h1),
        Term("f_zz·h'²", f_zz * h1**2),
        Term("f_y·g''", f_y * g2),
        Term("f_z·h''", f_z * h2),
    )
    naive_terms = (Term("f_yy·g''", f_yy * g2), Term("f_zz·h''", f_zz * h2))
    difference_terms = (
        Term("f_yy·(g'² − g'')", f_yy * (g1**2 - g2)),
        Term("2·f_yz·g'·h'", 2 * f_yz * g1 * h1),
        Term("f_zz·(h'² − h'')", f_zz * (h1**2 - h2)),
        Term("f_y·g''", f_y * g2),
        Term("f_z·h''", f_z * h2),
    )
    return ChainDerivation(
        x=x,
        y=y,
        z=z,
        g=G,
        h=H,
        loss=F,
        abstract=abstract,
        ell=ell,
        first=first,
        delta_y=delta_y,
        delta_z=delta_z,
        delta_x=delta_x,
        first_verdict=prove_equal(first, delta_x),
        second=second,
        second_terms=second_terms,
        second_verdict=prove_equal(second, sp.Add(*[t.expr for t in second_terms])),
        naive_terms=naive_terms,
        difference_terms=difference_terms,
    )


def at_yz(derivation: ChainDerivation, expr: "sympy.Expr") -> "sympy.Expr":
    """For display: write f's partials at (g(x), h(x)) as partials of f(y, z)
    (∂f/∂y instead of SymPy's ∂f(g(x), h(x))/∂g(x)); "taken at (g(x), h(x))"
    is then said once, in words."""
    import sympy as sp

    if "f" not in derivation.abstract:
        return expr
    y, z = derivation.y, derivation.z
    back = {derivation.g: y, derivation.h: z}
    f_at_gh = sp.Function("f")(derivation.g, derivation.h)

    def to_yz(node):
        if isinstance(node, sp.Derivative) and node.expr == f_at_gh:
            return sp.Derivative(derivation.loss, *[(back[v], k) for v, k in node.variable_count])
        return node

    replaced = expr.replace(lambda node: isinstance(node, sp.Derivative) and node.expr == f_at_gh, to_yz)
    return replaced.xreplace({f_at_gh: derivation.loss})


def compare_chain_at(g: "sympy.Expr", h: "sympy.Expr", loss: "sympy.Expr", x: float) -> "ChainNumbers":
    """Numbers at one point: SymPy vs the engine (4-node graph) vs finite differences.
    See :mod:`symderiv.chain_compare`."""
    from symderiv.chain_compare import compare_chain_at as _compare

    return _compare(g, h, loss, x)

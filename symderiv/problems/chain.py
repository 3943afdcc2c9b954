"""Problem 1, exactly: ℓ = f(y, z) with y = g(x), z = h(x).

Everything here is computed by SymPy and *proved* by exact algebra:

* dℓ/dx from SymPy's own differentiation of the composite f(g(x), h(x)),
* backprop's quantities δ_y = f_y, δ_z = f_z, δ_x = g'·δ_y + h'·δ_z,
* d²ℓ/dx² from SymPy, and the same brought to the five canonical terms
  f_yy·g'² + 2·f_yz·g'·h' + f_zz·h'² + f_y·g'' + f_z·h'',
* the naive second-order rule f_yy·g'' + f_zz·h'' and the difference exact − naive.

g, h and f may each be abstract (undefined SymPy functions) or concrete
expressions (g, h in x; the loss in y, z). The partials of an abstract f
taken at (y, z) = (g(x), h(x)) are the undefined functions f_y, f_z, f_yy,
f_yz, f_zz applied to that point (``f_y(2*x, h(x))`` when g = 2x), the
project's notation; SymPy's own chain rule produced them (see
:func:`_abstract_loss`).

Two expressions are "proved" equal when ``expand`` of their difference is 0:
both sides are polynomials in the same derivative atoms, so this is a
structural proof, not a numeric one. When ``expand`` cannot decide (concrete
functions whose difference needs an identity such as sin² + cos² = 1) the
verdict falls back to a bounded ``simplify`` and, failing that, to
``"not proved"``; the numeric side (:mod:`symderiv.problems.chain_numbers`) then
decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy



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

    def display_lines(self) -> list[tuple[str, str, str, str]]:
        """(label, lhs LaTeX, rhs LaTeX, verdict or "") for the identities a display shows:
        the loss, backprop's first derivative, the five-term second derivative, the
        naive rule and exact − naive; f's partials written as partials of f(y, z)."""
        import sympy as sp

        from symderiv.printing.latex import latex as latex_of

        def latex(expr) -> str:
            return latex_of(at_yz(self, expr))

        second = latex(sp.Derivative(sp.Symbol(r"\ell"), (self.x, 2)))
        return [
            ("loss", r"\ell", latex_of(self.ell), ""),
            ("backprop's first derivative", latex(sp.Derivative(sp.Symbol(r"\ell"), self.x)),
             latex(self.delta_x), self.first_verdict),
            ("second derivative, five terms", second, latex(self.second_canonical), self.second_verdict),
            ("naive second-order backprop", r"\text{naive}", latex(self.naive), ""),
            ("exact − naive", second + r" - \text{naive}", latex(self.difference), ""),
        ]

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


#: Exact proofs are the one graded zero test of symderiv.algebra.zero, bounded by
#: work estimated before anything is expanded and by its CPU-time budget. Beyond
#: any bound the verdict is "skipped (…)" with the bound named, and the numeric
#: witnesses decide.
PROVED = "proved"
NOT_PROVED = "not proved by bounded algebra"
SKIPPED = "skipped (too large for an exact proof)"


def _skipped(reason: str) -> str:
    return f"skipped (too large for an exact proof: {reason})"


def prove_equal(lhs: "sympy.Expr", rhs: "sympy.Expr") -> str:
    """PROVED if lhs − rhs is exactly 0; otherwise NOT_PROVED (the bounded algebra
    could not show it, which proves nothing either way) or "skipped (…)" (too
    large to try, the bound named). Never a guess: only PROVED is a claim."""
    from symderiv.algebra.zero import Zero, zero_test

    test = zero_test(lhs - rhs)
    if test.status == Zero.PROVED:
        return PROVED
    if test.status == Zero.TOO_LARGE:
        return _skipped(test.reason)
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

    if loss is None:
        ell, first, second, partial = _abstract_loss(x, G, H)
    else:
        ell = F.xreplace({y: G, z: H})
        first, second = sp.diff(ell, x), sp.diff(ell, x, 2)

        def partial(*variables):
            """∂^k f/∂variables at (y, z) = (g(x), h(x))."""
            return sp.diff(F, *variables).xreplace({y: G, z: H})

    f_y, f_z = partial(y), partial(z)
    f_yy, f_yz, f_zz = partial(y, y), partial(y, z), partial(z, z)
    g1, g2 = sp.diff(G, x), sp.diff(G, x, 2)
    h1, h2 = sp.diff(H, x), sp.diff(H, x, 2)
    _require_defined(sp, {"ℓ = f(g(x), h(x))": ell, "dℓ/dx": first, "d²ℓ/dx²": second,
                          "f_y": f_y, "f_z": f_z, "f_yy": f_yy, "f_yz": f_yz, "f_zz": f_zz})

    # Backprop on x -> {y, z} -> l: delta_l = 1, the loss node hands f_y, f_z to
    # y and z, and x collects the sum over its two children.
    delta_y, delta_z = f_y, f_z
    delta_x = g1 * delta_y + h1 * delta_z

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


def _require_defined(sp, quantities: dict) -> None:
    """InputError when putting g and h into f leaves a quantity undefined or
    complex for every x (--h 'log(1)' --loss '1/z' is 1/0; --g '-E' --loss
    'log(y)' is log(-e) = 1 + i*pi; --g 'log(0.5)' --loss 'y**(1/3)' holds
    (-1)**(1/3))."""
    from symderiv.errors import InputError

    for label, expr in quantities.items():
        if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise InputError(
                f"{label} is undefined for every x once g and h are put into f (a division by zero or a pole)"
            )
        if any(node.is_number and node.is_extended_real is False for node in sp.preorder_traversal(expr)):
            raise InputError(
                f"{label} is not real for any x once g and h are put into f "
                "(a logarithm or root of a negative constant)"
            )


def partial_name(counts: dict[str, int]) -> str:
    """'f_yz' for ∂²f/∂y∂z: the project's subscript notation for f's partials."""
    return "f_" + "y" * counts.get("y", 0) + "z" * counts.get("z", 0)


def _abstract_loss(x, G, H):
    """ℓ, dℓ/dx, d²ℓ/dx² and the partials of an abstract f at (G, H).

    SymPy differentiates f(g(x), h(x)) for undefined g, h (its own chain rule),
    and each partial ∂^k f/∂y^a∂z^b it produces is renamed to the undefined
    function f_{y^a z^b} applied to the point, the project's notation; then
    concrete g or h (and their derivatives) are put in. Differentiating
    f(2x, h(x)) directly would give SymPy's Subs(…, _xi_1, 2x) forms, which
    print as f__xi_1 and which bounded algebra cannot match with f_y."""
    import sympy as sp

    u, v = sp.Function("g")(x), sp.Function("h")(x)
    f_uv = sp.Function("f")(u, v)
    names = {u: "y", v: "z"}

    def canonical(expr):
        def rename(node):
            counts = {names[variable]: count for variable, count in node.variable_count}
            return sp.Function(partial_name(counts))(u, v)

        return expr.replace(lambda node: isinstance(node, sp.Derivative) and node.expr == f_uv, rename)

    put_in = {
        sp.Derivative(u, (x, 2)): sp.diff(G, x, 2), sp.Derivative(u, x): sp.diff(G, x), u: G,
        sp.Derivative(v, (x, 2)): sp.diff(H, x, 2), sp.Derivative(v, x): sp.diff(H, x), v: H,
    }

    def at_point(expr):
        return canonical(expr).xreplace(put_in)

    def partial(*variables):
        counts = {"y": 0, "z": 0}
        for variable in variables:
            counts[str(variable)] += 1
        return sp.Function(partial_name(counts))(G, H)

    return at_point(f_uv), at_point(sp.diff(f_uv, x)), at_point(sp.diff(f_uv, x, 2)), partial


def at_yz(derivation: ChainDerivation, expr: "sympy.Expr") -> "sympy.Expr":
    """For display: the partials of an abstract f are already written f_y(…),
    f_yz(…) (see :func:`derive_chain`); the printer drops their arguments
    where they are the default point (g(x), h(x))."""
    return expr

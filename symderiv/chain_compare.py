"""Problem 1, numerically: SymPy vs the engine vs finite differences, at many points at once.

The engine runs two graphs of the same ℓ(x) = f(g(x), h(x)):

* the **4-node graph** x → {y = g(x), z = h(x)} → ℓ = f(y, z) of function nodes
  (local derivatives by SymPy) — the graph of PROBLEMS.md;
* the **fine-grained graph**, every primitive op its own node (the compiler).

First and exact second derivatives must agree on both; the naive rule gives
f_yy·g'' + f_zz·h'' on the 4-node graph and something else again on the
fine-grained one (the graph-cut dependence). All points run as one minibatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from symderiv.errors import InputError
from symderiv.numeric import Agreement, agree, central_difference, lambdify_vectorised, rounding_scale

if TYPE_CHECKING:
    import sympy

    from symderiv.chain import ChainDerivation


@dataclass(frozen=True)
class ChainComparison:
    """Arrays over the points x, and the verdicts."""

    x: np.ndarray
    first_sympy: np.ndarray
    first_engine: np.ndarray  # 4-node graph
    first_engine_fine: np.ndarray  # fine-grained graph
    first_finite_difference: np.ndarray
    second_sympy: np.ndarray
    second_engine_exact: np.ndarray  # HVP on the 4-node graph
    second_engine_exact_fine: np.ndarray
    second_finite_difference: np.ndarray
    second_engine_naive: np.ndarray  # naive rule, 4-node graph
    second_engine_naive_fine: np.ndarray  # naive rule, fine-grained graph
    naive_formula: np.ndarray  # f_yy·g'' + f_zz·h'' from SymPy
    first: Agreement  # engine (both graphs) vs SymPy
    first_fd: Agreement  # finite differences vs SymPy, within their own error bound
    second: Agreement  # exact second order (both graphs) vs SymPy
    second_fd: Agreement
    naive_rule: Agreement  # engine's naive rule vs the naive formula
    naive_vs_exact_differs_at: int  # points where naive ≠ exact beyond tolerance
    naive_cut_differs_at: int  # points where 4-node and fine-grained naive values differ

    @property
    def first_order_matches(self) -> bool:
        return self.first.ok and self.first_fd.ok

    @property
    def second_order_matches(self) -> bool:
        return self.second.ok and self.second_fd.ok

    @property
    def naive_second_order_matches(self) -> bool:
        """True only if the naive rule equals the exact second derivative at every point."""
        return self.naive_vs_exact_differs_at == 0


@dataclass(frozen=True)
class ChainNumbers:
    """One point's numbers (the CLI's ``--at X --json`` object)."""

    x: float
    first_sympy: float
    first_engine: float
    first_finite_difference: float
    second_sympy: float
    second_engine_exact: float
    second_engine_naive: float
    second_engine_naive_fine_grained: float
    naive_formula: float
    first_order_matches: bool
    second_order_matches: bool
    naive_second_order_matches: bool
    naive_depends_on_graph_cut: bool


def _engine_graphs(derivation: "ChainDerivation"):
    from symderiv.engine.compile import compile_expression
    from symderiv.engine.function_op import function_op
    from symderiv.engine.graph import Graph

    x_sym, y_sym, z_sym = derivation.x, derivation.y, derivation.z
    coarse = Graph()
    x = coarse.input("x")
    y = coarse.apply(function_op(derivation.g, [x_sym], "g"), x, name="y")
    z = coarse.apply(function_op(derivation.h, [x_sym], "h"), x, name="z")
    loss = coarse.apply(function_op(derivation.loss, [y_sym, z_sym], "f"), y, z, name="loss")

    fine = Graph()
    fx = fine.input("x")
    fy = compile_expression(fine, derivation.g, {x_sym: fx})
    fz = compile_expression(fine, derivation.h, {x_sym: fx})
    floss = compile_expression(fine, derivation.loss, {y_sym: fy, z_sym: fz})
    return (coarse, x, loss), (fine, fx, floss)


def _run_engine(graph, x_node, loss_node, xs: np.ndarray):
    with np.errstate(all="ignore"):
        evaluation = graph.forward({x_node: xs}, [loss_node])
        first = graph.backward(evaluation, loss_node, wrt=[x_node])[x_node]
        second = graph.hessian_vector_product({x_node: xs}, loss_node, {x_node: np.ones_like(xs)}, wrt=[x_node])
        naive = graph.naive_second_order(evaluation, loss_node, wrt=[x_node])[x_node]
    return evaluation[loss_node], first, second.hvp[x_node], naive


def check_domain(derivation: "ChainDerivation", xs: np.ndarray, what: str = "--at") -> None:
    """InputError naming the first point where g, h, ℓ or a derivative is not finite."""
    x = derivation.x
    quantities = [
        ("g", derivation.g),
        ("h", derivation.h),
        ("the loss", derivation.ell),
        ("dℓ/dx", derivation.first),
        ("d²ℓ/dx²", derivation.second_canonical),
    ]
    for label, expr in quantities:
        values = lambdify_vectorised(expr, [x])(xs)
        bad = ~np.isfinite(values)
        if bad.any():
            point = xs[np.flatnonzero(bad)[0]]
            raise InputError(f"{what}: {label} is not finite at x = {point:g} (outside its domain?)")


def _require_finite_graph_values(xs: np.ndarray, *runs) -> None:
    """SymPy may simplify ℓ (y/z with y = z = x becomes 1) while the graph computes
    it as written (0/0 at x = 0): such a point is outside the domain of ℓ as given."""
    for run in runs:
        value, first, second, _ = run
        bad = ~(np.isfinite(value) & np.isfinite(first) & np.isfinite(second))
        if bad.any():
            point = xs[np.flatnonzero(bad)[0]]
            raise InputError(
                f"--at: the loss as written is undefined at x = {point:g} "
                "(its graph computes a non-finite value there, e.g. 0/0)"
            )


def compare_chain(derivation: "ChainDerivation", xs: np.ndarray) -> ChainComparison:
    """Run every witness at the points ``xs`` (concrete g, h, f only)."""
    import sympy as sp

    if derivation.abstract:
        raise InputError(
            "numbers need concrete functions: give --g, --h and --loss (abstract: "
            + ", ".join(derivation.abstract) + ")"
        )
    xs = np.asarray(xs, dtype=np.float64).ravel()
    x = derivation.x
    check_domain(derivation, xs)

    def values(expr):
        return lambdify_vectorised(expr, [x])(xs)

    def magnitude(terms):
        # rounding error bound of evaluating the sum term by term (see numeric.rounding_scale)
        return sum(rounding_scale(t.expr, [x], [xs]) for t in terms)

    first_sympy = values(derivation.first)
    second_sympy = values(derivation.second_canonical)
    naive_formula = values(derivation.naive)
    first_scale = rounding_scale(derivation.g.diff(x) * derivation.delta_y, [x], [xs]) + rounding_scale(
        derivation.h.diff(x) * derivation.delta_z, [x], [xs]
    )
    second_scale = magnitude(derivation.second_terms)
    naive_scale = magnitude(derivation.naive_terms)

    (coarse, cx, closs), (fine, fx, floss) = _engine_graphs(derivation)
    coarse_run = _run_engine(coarse, cx, closs, xs)
    fine_run = _run_engine(fine, fx, floss, xs)
    _require_finite_graph_values(xs, coarse_run, fine_run)
    _, first_engine, second_exact, naive_engine = coarse_run
    _, first_fine, second_fine, naive_fine = fine_run

    ell = lambdify_vectorised(derivation.ell, [x])
    third = values(sp.diff(derivation.ell, x, 3))
    fourth = values(sp.diff(derivation.ell, x, 4))
    # rounding error of evaluating ℓ itself (cancellation inside ℓ included)
    ell_scale = rounding_scale(derivation.ell, [x], [xs])
    fd1 = central_difference(ell, xs, 1, value_scale=ell_scale, next_derivative=third)
    fd2 = central_difference(ell, xs, 2, value_scale=ell_scale, next_derivative=fourth)

    points = xs[:, None]
    first_exact = (derivation.first, [x], points)
    second_exact_expr = (derivation.second_canonical, [x], points)
    first = _worst(
        agree(first_engine, first_sympy, first_scale, exact=first_exact),
        agree(first_fine, first_sympy, first_scale, exact=first_exact),
    )
    second = _worst(
        agree(second_exact, second_sympy, second_scale, exact=second_exact_expr),
        agree(second_fine, second_sympy, second_scale, exact=second_exact_expr),
    )
    naive_rule = agree(naive_engine, naive_formula, naive_scale, exact=(derivation.naive, [x], points))
    first_fd = _within(fd1, first_sympy)
    second_fd = _within(fd2, second_sympy)

    both_scale = second_scale + naive_scale
    differs = ~(np.abs(naive_formula - second_sympy) <= _tol(both_scale))
    cut_scale = naive_scale + np.abs(naive_fine)
    cut_differs = ~(np.abs(naive_fine - naive_engine) <= _tol(cut_scale))
    return ChainComparison(
        x=xs,
        first_sympy=first_sympy,
        first_engine=first_engine,
        first_engine_fine=first_fine,
        first_finite_difference=fd1.value,
        second_sympy=second_sympy,
        second_engine_exact=second_exact,
        second_engine_exact_fine=second_fine,
        second_finite_difference=fd2.value,
        second_engine_naive=naive_engine,
        second_engine_naive_fine=naive_fine,
        naive_formula=naive_formula,
        first=first,
        first_fd=first_fd,
        second=second,
        second_fd=second_fd,
        naive_rule=naive_rule,
        naive_vs_exact_differs_at=int(differs.sum()),
        naive_cut_differs_at=int(cut_differs.sum()),
    )


def _tol(scale: np.ndarray) -> np.ndarray:
    from symderiv.numeric import tolerance

    return tolerance(scale)


def _worst(a: Agreement, b: Agreement) -> Agreement:
    return a if a.max_scaled_error >= b.max_scaled_error else b


def _within(fd, exact: np.ndarray) -> Agreement:
    """Finite differences against the exact values, at the points where they are
    conclusive (see numeric.central_difference); the others are counted."""
    error = np.abs(fd.value - exact)
    used = fd.conclusive
    scaled = error[used] / np.maximum(fd.error_bound[used], np.finfo(float).tiny)
    return Agreement(
        max_error=float(np.max(error[used])) if used.any() else 0.0,
        max_scaled_error=float(np.max(scaled)) if used.any() else 0.0,
        points=int(used.sum()),
        settled_in_high_precision=0,
        inconclusive=int((~used).sum()),
    )


def compare_chain_at(g: "sympy.Expr", h: "sympy.Expr", loss: "sympy.Expr", x: float) -> ChainNumbers:
    """All numbers at one point x."""
    from symderiv.chain import derive_chain

    comparison = compare_chain(derive_chain(g, h, loss), np.array([float(x)]))
    return ChainNumbers(
        x=float(x),
        first_sympy=float(comparison.first_sympy[0]),
        first_engine=float(comparison.first_engine[0]),
        first_finite_difference=float(comparison.first_finite_difference[0]),
        second_sympy=float(comparison.second_sympy[0]),
        second_engine_exact=float(comparison.second_engine_exact[0]),
        second_engine_naive=float(comparison.second_engine_naive[0]),
        second_engine_naive_fine_grained=float(comparison.second_engine_naive_fine[0]),
        naive_formula=float(comparison.naive_formula[0]),
        first_order_matches=comparison.first_order_matches,
        second_order_matches=comparison.second_order_matches,
        naive_second_order_matches=comparison.naive_second_order_matches,
        naive_depends_on_graph_cut=comparison.naive_cut_differs_at > 0,
    )


WITNESS_DOMAIN = (-1.5, 1.5)


def random_witness(derivation: "ChainDerivation", count: int = 64, seed: int = 0) -> ChainComparison | None:
    """The numeric comparison at ``count`` random points of ``WITNESS_DOMAIN``
    where ℓ and its derivatives are finite; None if there are no such points.
    Used when exact algebra could not settle a concrete case."""
    x = derivation.x
    xs = np.random.default_rng(seed).uniform(*WITNESS_DOMAIN, size=4 * count)
    finite = np.ones_like(xs, dtype=bool)
    for expr in (derivation.ell, derivation.first, derivation.second_canonical):
        finite &= np.isfinite(lambdify_vectorised(expr, [x])(xs))
    xs = xs[finite][:count]
    if xs.size == 0:
        return None
    try:
        return compare_chain(derivation, xs)
    except InputError:  # undefined as written at some point (0/0): no witness
        return None

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

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from symderiv.budget import BudgetExceeded, cpu_time_limit
from symderiv.errors import InputError
from symderiv.numeric.compare import Agreement, agree
from symderiv.numeric.differences import central_difference, high_precision_derivative
from symderiv.numeric.precision import decide_equal
from symderiv.numeric.evaluate import lambdify_vectorised
from symderiv.numeric.rounding import rounding_scale
from symderiv.numeric.tolerance import SAMPLED_IDENTITY_TOLERANCE

if TYPE_CHECKING:
    import sympy

    from symderiv.problems.chain import ChainDerivation


@dataclass(frozen=True)
class ChainComparison:
    """Arrays over the points x, and the verdicts.

    ``first``, ``second``, ``naive_rule`` and ``naive_rule_fine`` compare the
    engine with the exact value under the rounding model of the computation
    as it ran (:mod:`symderiv.numeric.rounding`); ``first_fd``/``second_fd`` are the
    finite-difference witness. ``naive_equals_exact`` and
    ``naive_depends_on_cut`` are facts about the mathematics, decided from
    the exact expressions in high precision (None: undecided)."""

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
    naive_formula_fine: np.ndarray  # what the naive rule gives on the fine-grained graph, exactly
    first: Agreement  # engine (both graphs) vs SymPy
    first_fd: Agreement  # finite differences vs SymPy, within their own error bound
    second: Agreement  # exact second order (both graphs) vs SymPy
    second_fd: Agreement
    naive_rule: Agreement  # engine's naive rule (4-node graph) vs the naive formula
    naive_rule_fine: Agreement  # engine's naive rule (fine-grained graph) vs its exact value
    naive_equals_exact: bool | None  # naive formula = exact second derivative at every point
    naive_depends_on_cut: bool | None  # 4-node and fine-grained naive values differ at some point

    @property
    def first_order_matches(self) -> bool:
        """No conclusive disagreement in the first derivative."""
        return self.first.ok and self.first_fd.ok

    @property
    def second_order_matches(self) -> bool:
        return self.second.ok and self.second_fd.ok

    @property
    def naive_second_order_matches(self) -> bool | None:
        """True only if the naive rule equals the exact second derivative at every point."""
        return self.naive_equals_exact

    @property
    def disagreements(self) -> list[str]:
        """The witnesses that conclusively disagree (each is a failed check)."""
        named = [
            ("engine vs SymPy, dℓ/dx", self.first), ("finite differences vs SymPy, dℓ/dx", self.first_fd),
            ("engine vs SymPy, d²ℓ/dx²", self.second),
            ("finite differences vs SymPy, d²ℓ/dx²", self.second_fd),
            ("engine's naive rule vs f_yy·g'' + f_zz·h''", self.naive_rule),
            ("engine's fine-grained naive rule vs its formula", self.naive_rule_fine),
        ]
        return [name for name, agreement in named if not agreement.ok]

    @property
    def deciding_witnesses(self) -> list[str]:
        """The witnesses that decided at one point at least."""
        named = [
            ("engine vs SymPy (rounding model, mpmath for close calls)", self.first.decided and self.second.decided),
            ("finite differences", self.first_fd.decided or self.second_fd.decided),
        ]
        return [name for name, decided in named if decided]


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
    naive_second_order_matches: bool | None
    naive_depends_on_graph_cut: bool | None


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

    first_sympy = values(derivation.first)
    second_sympy = values(derivation.second_canonical)
    naive_formula = values(derivation.naive)
    fine_naive_terms = fine_grained_naive_terms(derivation)
    naive_fine_exact = sp.Add(*fine_naive_terms)
    naive_formula_fine = values(naive_fine_exact)

    (coarse, cx, closs), (fine, fx, floss) = _engine_graphs(derivation)
    coarse_run = _run_engine(coarse, cx, closs, xs)
    fine_run = _run_engine(fine, fx, floss, xs)
    _require_finite_graph_values(xs, coarse_run, fine_run)
    _, first_engine, second_exact, naive_engine = coarse_run
    _, first_fine, second_fine, naive_fine = fine_run

    scales = _rounding_scales(derivation, xs, fine_naive_terms)
    points = xs[:, None]
    first_exact = (derivation.first, [x], points)
    second_exact_expr = (derivation.second_canonical, [x], points)
    first = _worst(
        agree(first_engine, first_sympy, scales["first_coarse"], exact=first_exact),
        agree(first_fine, first_sympy, scales["first_fine"], exact=first_exact),
    )
    second = _worst(
        agree(second_exact, second_sympy, scales["second_coarse"], exact=second_exact_expr),
        agree(second_fine, second_sympy, scales["second_fine"], exact=second_exact_expr),
    )
    naive_rule = agree(naive_engine, naive_formula, scales["naive_coarse"], exact=(derivation.naive, [x], points))
    naive_rule_fine = agree(naive_fine, naive_formula_fine, scales["naive_fine"], exact=(naive_fine_exact, [x], points))

    try:
        with cpu_time_limit(FD_CPU_SECONDS):
            fd1, fd2 = _finite_differences(derivation, xs)
            first_fd = _within(fd1, first_sympy, derivation.ell, x, xs, 1)
            second_fd = _within(fd2, second_sympy, derivation.ell, x, xs, 2)
    except BudgetExceeded:  # a witness out of time decides nothing
        fd1 = fd2 = _no_estimate(xs)
        first_fd = second_fd = Agreement(0.0, 0.0, int(xs.size), 0, int(xs.size))

    naive_equals_exact = _decide(
        derivation.naive, derivation.second_canonical, x, points,
        (naive_formula, second_sympy, scales["naive_reference"] + scales["second_reference"]),
    )
    cut_equal = _decide(
        derivation.naive, naive_fine_exact, x, points,
        (naive_formula, naive_formula_fine, scales["naive_reference"] + scales["naive_fine"]),
    )
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
        naive_formula_fine=naive_formula_fine,
        first=first,
        first_fd=first_fd,
        second=second,
        second_fd=second_fd,
        naive_rule=naive_rule,
        naive_rule_fine=naive_rule_fine,
        naive_equals_exact=naive_equals_exact,
        naive_depends_on_cut=None if cut_equal is None else not cut_equal,
    )


def _finite_differences(derivation: "ChainDerivation", xs: np.ndarray):
    """Central differences of ℓ (order 1 and 2) with their error bounds."""
    import sympy as sp

    x = derivation.x
    ell = lambdify_vectorised(derivation.ell, [x])
    third = lambdify_vectorised(sp.diff(derivation.ell, x, 3), [x])(xs)
    fourth = lambdify_vectorised(sp.diff(derivation.ell, x, 4), [x])(xs)

    def ell_scale(at: np.ndarray) -> np.ndarray:
        # rounding error of evaluating ℓ itself, where it is evaluated (cancellation inside ℓ included)
        return rounding_scale(derivation.ell, [x], [at])

    return (
        central_difference(ell, xs, 1, value_scale=ell_scale, next_derivative=third),
        central_difference(ell, xs, 2, value_scale=ell_scale, next_derivative=fourth),
    )


#: CPU seconds for the finite-difference witness (SymPy's third and fourth
#: derivatives of a large composite can be slow) and for each exact fact
#: decided in mpmath; out of time, they decide nothing
FD_CPU_SECONDS = 3.0
DECIDE_CPU_SECONDS = 2.0


def _no_estimate(xs: np.ndarray):
    from symderiv.numeric.differences import FiniteDifference

    nan = np.full(xs.shape, np.nan)
    return FiniteDifference(nan, nan, nan, np.zeros(xs.shape, dtype=bool))


def _decide(lhs, rhs, x, points, floats) -> bool | None:
    """An exact fact at every point (see numeric.decide_equal); None when
    undecided, also when out of its CPU budget."""
    try:
        with cpu_time_limit(DECIDE_CPU_SECONDS):
            return _all_points(decide_equal(lhs, rhs, [x], points, floats=floats))
    except BudgetExceeded:
        return None


def _all_points(verdicts: list[bool | None]) -> bool | None:
    """True if equal at every point, False if some point conclusively differs,
    None if no point differs but some could not be decided."""
    if any(v is False for v in verdicts):
        return False
    return None if any(v is None for v in verdicts) else True


def _rounding_scales(derivation: "ChainDerivation", xs: np.ndarray, fine_naive_terms) -> dict[str, np.ndarray]:
    """The rounding scale of every compared quantity, from the computations as
    they ran: the SymPy reference as lambdified, the 4-node graph's function
    nodes (their SymPy partials as lambdified) and the fine-grained graph's
    primitive ops. Each comparison allows the sum of its two sides' scales."""
    from symderiv.numeric.rounding import Jet, jet_of, node_jet
    from symderiv.numeric.rounding import rounding_scale as scale

    x, y, z = derivation.x, derivation.y, derivation.z
    shape = xs.shape
    with np.errstate(all="ignore"):
        variable = Jet.variable(xs)
        inputs = {y: jet_of(derivation.g, {x: variable}, shape), z: jet_of(derivation.h, {x: variable}, shape)}
        fine = jet_of(derivation.loss, inputs, shape)
        g4, h4 = node_jet(derivation.g, [x], [variable]), node_jet(derivation.h, [x], [variable])
        coarse = node_jet(derivation.loss, [y, z], [g4, h4])
        naive_coarse = _naive_coarse_scale(derivation, g4, h4)
        reference_first = scale(derivation.first, [x], [xs])
        reference_second = sum(scale(t.expr, [x], [xs]) for t in derivation.second_terms)
        reference_naive = sum(scale(t.expr, [x], [xs]) for t in derivation.naive_terms)
        reference_naive_fine = sum((scale(t, [x], [xs]) for t in fine_naive_terms), np.zeros(shape))
    return {
        "first_coarse": coarse.m1 + reference_first,
        "first_fine": fine.m1 + reference_first,
        "second_coarse": coarse.m2 + reference_second,
        "second_fine": fine.m2 + reference_second,
        "naive_coarse": naive_coarse + reference_naive,
        # the engine sums the same products the exact terms are made of
        "naive_fine": 2 * reference_naive_fine,
        "naive_reference": reference_naive,
        "second_reference": reference_second,
    }


def _naive_coarse_scale(derivation: "ChainDerivation", g4, h4) -> np.ndarray:
    """Scale of f_yy·g'' + f_zz·h'' as the 4-node graph computes it: f's second
    partials evaluated at the computed (y, z), times the function nodes' g'', h''."""
    import sympy as sp

    from symderiv.numeric.rounding import scale_of

    y, z = derivation.y, derivation.z
    shape = np.shape(g4.v0)
    point = {y: (g4.v0, g4.m0), z: (h4.v0, h4.m0)}
    total = np.zeros(shape)
    for variable, jet in ((y, g4), (z, h4)):
        value, magnitude = scale_of(sp.diff(derivation.loss, variable, 2), point, shape)
        total = total + magnitude * np.abs(jet.v2) + np.abs(value) * jet.m2
    return total


def fine_grained_naive_terms(derivation: "ChainDerivation") -> list:
    """The naive rule on the fine-grained graph, exactly, as a list of terms.

    δ²_ℓ = 1 and δ²_u = Σ_v δ²_v·∂²v/∂u² over the primitive ops that the
    compiler (:mod:`symderiv.engine.compile`) lays out: sums, products and
    negation are linear in each input (∂² = 0, nothing flows), a constant power
    passes p(p−1)a^(p−2), a unary function its f'', tan = sin/cos passes the
    divisor's 2·sin/cos³ through cos, and a**b = exp(b·log a) stops at its
    product. The rule is linear in δ², so each path is pushed on its own."""
    import sympy as sp

    x, y, z = derivation.x, derivation.y, derivation.z
    feeds = {y: derivation.g, z: derivation.h}
    terms: list = []
    stack: list = [(derivation.loss, [sp.Integer(1)], True)]
    while stack:
        expr, incoming, in_loss = stack.pop()
        if in_loss and expr in feeds:
            stack.append((feeds[expr], incoming, False))
            continue
        if expr == x and not in_loss:
            terms.extend(incoming)
            continue
        if expr.is_Number or not expr.free_symbols:
            continue
        for child, second in _naive_local(sp, expr):
            stack.append((child, [t * second for t in incoming], in_loss))
    # second derivatives taken inside the loss are in y, z: evaluate them at (g, h)
    return [t.xreplace(feeds) for t in terms]


def _naive_local(sp, expr) -> list:
    """(input, ∂²node/∂input²) for the inputs a node passes a nonzero δ² to."""
    from symderiv.numeric.elementary import by_sympy_class

    if isinstance(expr, (sp.Add, sp.Mul)):
        return []
    if isinstance(expr, sp.Pow):
        base, p = expr.args
        if not p.is_Number or p in (0, 1):
            return []
        return [(base, p * (p - 1) * base ** (p - 2))]
    if isinstance(expr, sp.tan):
        (a,) = expr.args
        return [(a, -2 * sp.sin(a) / sp.cos(a) ** 2)]
    if type(expr) in by_sympy_class():
        (a,) = expr.args
        t = sp.Dummy("t")
        return [(a, sp.diff(type(expr)(t), t, 2).xreplace({t: a}))]
    raise ValueError(f"no naive rule for {type(expr).__name__}")


def _worst(a: Agreement, b: Agreement) -> Agreement:
    worse = a if a.max_scaled_error >= b.max_scaled_error else b
    # a comparison decides if either graph's comparison did
    return replace(worse, inconclusive=min(a.inconclusive, b.inconclusive))


def _within(fd, exact: np.ndarray, ell, x, xs: np.ndarray, order: int) -> Agreement:
    """Finite differences against the exact values, at the points where they are
    conclusive (see numeric.central_difference); the others are counted. A
    point where they disagree is re-decided by mpmath's own numerical
    derivative at HIGH_PRECISION_DIGITS: if that agrees with the exact value
    (to SAMPLED_IDENTITY_TOLERANCE: a float64 value against an accurate one,
    with no rounding model), the float estimate was wrong (its bound too
    optimistic) and the point is inconclusive, not a disagreement."""
    with np.errstate(invalid="ignore"):
        error = np.abs(fd.value - exact)
    used = fd.conclusive.copy()
    failing = used & ~(error <= fd.error_bound)
    settled = 0
    if failing.any():
        rows = np.flatnonzero(failing)
        careful = high_precision_derivative(ell, x, xs[rows], order)
        settled = len(rows)
        with np.errstate(invalid="ignore"):
            apart = np.abs(careful - exact[rows])
            confirmed = apart > SAMPLED_IDENTITY_TOLERANCE * np.maximum(np.abs(exact[rows]), np.abs(careful))
        used[rows[~confirmed]] = False
    scaled = error[used] / np.maximum(fd.error_bound[used], np.finfo(float).tiny)
    return Agreement(
        max_error=float(np.max(error[used])) if used.any() else 0.0,
        max_scaled_error=float(np.max(scaled)) if used.any() else 0.0,
        points=int(xs.size),
        settled_in_high_precision=settled,
        inconclusive=int((~used).sum()),
    )


def compare_chain_at(g: "sympy.Expr", h: "sympy.Expr", loss: "sympy.Expr", x: float) -> ChainNumbers:
    """All numbers at one point x."""
    from symderiv.problems.chain import derive_chain

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
        naive_depends_on_graph_cut=comparison.naive_depends_on_cut,
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
    # and where the graphs, which compute ℓ as written, are finite too (y/z with y = z = x at 0)
    for graph, x_node, loss_node in _engine_graphs(derivation):
        value, first, second, _ = _run_engine(graph, x_node, loss_node, xs)
        finite &= np.isfinite(value) & np.isfinite(first) & np.isfinite(second)
    xs = xs[finite][:count]
    if xs.size == 0:
        return None
    try:
        return compare_chain(derivation, xs)
    except InputError:  # a derivative not finite at some point after all: no witness
        return None


@dataclass(frozen=True)
class ChainVerdict:
    """What ``symderiv chain`` concludes, and which witness decided it.

    ``status`` is "ok" (proved, or a witness conclusively agrees and none
    disagrees), "failed" (a witness conclusively disagrees: exit 1) or
    "undecided" (nothing could decide: no proof and no conclusive witness).
    A skipped or unfound proof, or a witness that cannot decide, is never a
    failure on its own."""

    status: str
    decided_by: tuple[str, ...]
    reason: str = ""


EXACT_ALGEBRA = "exact algebra (SymPy)"


def chain_verdict(derivation: "ChainDerivation", numbers: ChainComparison | None) -> ChainVerdict:
    """Combine the exact proof and the numeric witnesses (``numbers``: at --at, or
    the random witness, or None) into one verdict."""
    from symderiv.problems.chain import PROVED

    proved = derivation.first_verdict == PROVED and derivation.second_verdict == PROVED
    if numbers is not None and numbers.disagreements:
        return ChainVerdict("failed", tuple(numbers.disagreements))
    witnesses = tuple(numbers.deciding_witnesses) if numbers is not None else ()
    if proved:
        return ChainVerdict("ok", (EXACT_ALGEBRA,) + witnesses)
    if witnesses:
        return ChainVerdict("ok", witnesses)
    if derivation.abstract:
        reason = (
            f"exact algebra: {derivation.first_verdict} / {derivation.second_verdict}, and abstract "
            f"functions ({', '.join(derivation.abstract)}) have no numeric witness"
        )
    elif numbers is None:
        low, high = WITNESS_DOMAIN
        reason = (
            f"exact algebra: {derivation.first_verdict} / {derivation.second_verdict}, and no point of "
            f"[{low:g}, {high:g}] has ℓ and its derivatives finite (give a point with --at)"
        )
    else:
        reason = "no witness could decide at the points tried (rounding scale not finite)"
    return ChainVerdict("undecided", (), reason)

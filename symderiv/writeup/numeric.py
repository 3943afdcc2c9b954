"""Numeric witnesses: fix sizes/indices, write sums out, evaluate vectorised.

`holds` means: both sides agree at every sampled point, where each sample has
its own random instantiation of every abstract function (the witness layer's
family, :func:`symderiv.algebra.instantiation.generic_templates`, with float64
coefficients drawn per sample: a polynomial plus sine and exponential terms, so
no linear ODE with constant coefficients of order <= 8 is satisfied by the
whole family) and its own random point. Symbolic sizes ``n`` are replaced by 1, 2, 3, 4, 7 and 12 and
free indices by values in range that respect the case condition.

Sums follow the reader's convention: a sum over an empty range is 0 and a
product over one is 1 (SymPy's signed convention, where the sum from 5 to 1
is minus the sum from 2 to 4, is never used for a counterexample); sizes for
which some range would run backwards by more than one are not sampled.

`false` needs a counterexample a person can check: simple functions (x^2,
g*h, ...) at a simple rational point, confirmed with 50-digit arithmetic
(:mod:`symderiv.writeup.counterexamples`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

from symderiv.writeup.indices import entry_name

SAMPLES_PER_CONFIGURATION = 64
SIZES = (1, 2, 3, 4, 7, 12)
FREE_INDEX_VALUES = (1, 2, 3, 4, 5)  # indices when no size is symbolic
MAX_SUM_TERMS = 2000


class TooManyTerms(ValueError):
    """Writing the sums out at this configuration would exceed MAX_SUM_TERMS."""


@dataclass(frozen=True)
class Configuration:
    """Concrete sizes and index values, e.g. {n: 3, i: 1, j: 2}."""

    values: tuple  # ((symbol, int), ...)

    def mapping(self) -> dict:
        import sympy as sp

        return {symbol: sp.Integer(value) for symbol, value in self.values}


@dataclass(frozen=True)
class NumericOutcome:
    agree: bool
    samples: int  # points compared (finite on both sides)
    configurations: tuple
    mismatch_configuration: Configuration | None = None
    undefined: bool = False


def expand_sums(expr, max_terms: int = MAX_SUM_TERMS):
    """Write out sums and products whose limits are integers, with an empty range giving 0 (or 1).

    Limits may depend on outer summation variables (``\\sum_i \\sum_{j=i+2}^{n}``); they
    are evaluated outermost first. Raises ValueError beyond ``max_terms`` terms.
    """
    import sympy as sp

    budget = [max_terms]

    def visit(node):
        if isinstance(node, (sp.Sum, sp.Product)):
            return over(node.function, list(node.limits), isinstance(node, sp.Sum))
        if not node.args:
            return node
        return node.func(*[visit(a) for a in node.args])

    def over(body, limits, is_sum):
        if not limits:
            return visit(body)
        variable, lower, upper = limits[-1]  # SymPy lists the innermost range first
        lower, upper = visit(lower), visit(upper)
        if not (lower.is_Integer and upper.is_Integer):
            raise ValueError("a summation limit is not an integer")
        values = range(int(lower), int(upper) + 1)
        budget[0] -= len(values)
        if budget[0] < 0:
            raise TooManyTerms(f"more than {max_terms} terms in sums or products")
        terms = []
        for value in values:
            k = sp.Integer(value)
            inner = [(v, a.xreplace({variable: k}), b.xreplace({variable: k})) for v, a, b in limits[:-1]]
            terms.append(over(body.xreplace({variable: k}), inner, is_sum))
        return sp.Add(*terms) if is_sum else sp.Mul(*terms)

    return visit(expr)


def configurations(exprs, index_conditions, rng) -> list[Configuration]:
    """Sizes (symbols in summation limits) and free indices, respecting ``i = j``/``i != j``."""
    import sympy as sp

    sizes = set()
    ranges = []
    for expr in exprs:
        for summation in expr.atoms(sp.Sum, sp.Product):
            for _, lower, upper in summation.limits:
                sizes |= {s for s in (lower.free_symbols | upper.free_symbols) if not s.is_integer}
                ranges.append((lower, upper))
        # a Kronecker-delta sum that collapsed leaves its range as a condition (i <= n)
        for piecewise in expr.atoms(sp.Piecewise):
            for _, condition in piecewise.args:
                sizes |= {s for s in condition.free_symbols if not s.is_integer}
    indices = set()
    for expr in exprs:
        indices |= {s for s in expr.free_symbols if s.is_integer}
    for _, a, b in index_conditions:
        indices |= {s for s in (a.free_symbols | b.free_symbols) if s.is_integer}
    sizes = sorted(sizes, key=str)
    indices = sorted(indices, key=str)
    if not sizes and not indices:
        return [Configuration(())]
    found = []
    if not sizes:
        assignments = list(itertools.product(FREE_INDEX_VALUES, repeat=len(indices)))
        if len(assignments) > 12:
            chosen = rng.choice(len(assignments), size=12, replace=False)
            assignments = [assignments[int(k)] for k in sorted(chosen)]
        for assignment in assignments:
            values = dict(zip(indices, assignment))
            if _conditions_hold(index_conditions, values) and _ranges_admissible(ranges, values):
                found.append(Configuration(tuple(sorted(values.items(), key=lambda kv: str(kv[0])))))
        return found
    # Every size equal, then (with several sizes: m and n) rotations so that each size is
    # sometimes larger and sometimes smaller than the others.
    size_rows = [[size] * len(sizes) for size in SIZES]
    if len(sizes) > 1:
        size_rows += [[SIZES[(row + shift * k) % len(SIZES)] for k in range(len(sizes))]
                      for shift in (1, len(SIZES) - 1) for row in range(len(SIZES))]
    for row in size_rows:
        attempts = 0
        picked = 0
        while picked < 2 and attempts < 40:
            attempts += 1
            values = dict(zip(sizes, row))
            # free indices lie in 1..n (the documented convention), or 1..smallest size without n
            top = next((v for s, v in values.items() if s.name == "n"), min(row))
            for index in indices:
                values[index] = int(rng.integers(1, top + 1))
            if not _conditions_hold(index_conditions, values) or not _ranges_admissible(ranges, values):
                continue
            configuration = Configuration(tuple(sorted(values.items(), key=lambda kv: str(kv[0]))))
            if configuration not in found:
                found.append(configuration)
            picked += 1
    return found


def _ranges_admissible(ranges, values) -> bool:
    """No range runs backwards by more than one (upper < lower - 1): there the symbolic closed
    forms (n - 4 terms in a sum from 5 to n) and the empty-sum convention disagree."""
    import sympy as sp

    mapping = {s: sp.Integer(v) for s, v in values.items()}
    for lower, upper in ranges:
        count = (upper - lower + 1).xreplace(mapping)
        if count.is_Integer and count < 0:
            return False
    return True


def _conditions_hold(conditions, values) -> bool:
    import sympy as sp

    mapping = {symbol: sp.Integer(value) for symbol, value in values.items()}
    for kind, a, b in conditions:
        left, right = sp.sympify(a).xreplace(mapping), sp.sympify(b).xreplace(mapping)
        if not (left.is_Integer and right.is_Integer):
            continue
        holds = {"eq": left == right, "ne": left != right, "lt": left < right, "le": left <= right,
                 "gt": left > right, "ge": left >= right}[kind]
        if not holds:
            return False
    return True


MAX_CONCRETE_NODES = 6000
MAX_COMPARE_NODES = 3000  # larger sizes are skipped once this much has been written out


def _node_count(expr) -> int:
    import sympy as sp

    return sum(1 for _ in sp.preorder_traversal(expr))


def _too_large(expr, limit: int = MAX_CONCRETE_NODES) -> bool:
    """More than ``limit`` nodes in the expression tree (counted with an early exit)."""
    import sympy as sp

    for count, _ in enumerate(sp.preorder_traversal(expr)):
        if count > limit:
            return True
    return False


def concretize(expr, configuration: Configuration):
    """Substitute sizes and indices, expand sums, turn x[2] into a plain symbol.

    Raises TooManyTerms when the written-out expression exceeds MAX_CONCRETE_NODES nodes (nested
    sums at n = 12 under a derivative): that size is skipped, the smaller ones are compared.
    Results are cached: the comparison, the counterexample search and the probes write out the
    same sides at the same sizes."""
    return _concretize_cached(expr, configuration)


@lru_cache(maxsize=512)
def _concretize_cached(expr, configuration: Configuration):
    import sympy as sp

    expr = expr.xreplace(configuration.mapping())
    expr = expand_sums(expr)
    if _too_large(expr):
        raise TooManyTerms(f"more than {MAX_CONCRETE_NODES} nodes once sums are written out")
    expr = expr.doit()
    replacements = {}
    for indexed in expr.atoms(sp.Indexed):
        if all(i.is_Integer for i in indexed.indices):
            label = entry_name(str(indexed.base), indexed.indices)  # x_{1,2}; y^{(1)} in a sample family
            replacements[indexed] = sp.Symbol(label, real=True)
        else:
            raise ValueError("index left symbolic")
    return expr.xreplace(replacements)


def sample_points(count: int, rng):
    """Half the samples in (0.2, 1.8), half in (-1.8, 1.8): logs stay defined, signs still vary."""
    import numpy as np

    positive = rng.uniform(0.2, 1.8, size=count)
    mixed = rng.uniform(-1.8, 1.8, size=count)
    return np.where(np.arange(count) % 2 == 0, positive, mixed)


def _restricted(concrete, restrictions, templates, configuration):
    """Concrete pairs with the equality facts solved in, plus the concrete inequalities; None if unsolvable."""
    if restrictions is None or not (restrictions.equalities or restrictions.inequalities):
        return concrete, []
    from symderiv.algebra.instantiation import instantiate

    equalities, inequalities = restrictions.concrete(lambda e: instantiate(e, templates),
                                                     lambda e: concretize(e, configuration))
    solution = restrictions.solve(equalities)
    if solution is None:
        return None
    if solution:
        concrete = [(l.xreplace(solution), r.xreplace(solution)) for l, r in concrete]
        inequalities = [(a.xreplace(solution), rel, b.xreplace(solution)) for a, rel, b in inequalities]
    return concrete, inequalities


HIGH_PRECISION_RECHECKS = 3


def lambdify_arguments(count: int) -> list:
    """Plain symbols with safe names for lambdify: Dummy arguments make lambdify re-substitute
    every argument through the whole expression (quadratic in its size)."""
    import sympy as sp

    return [sp.Symbol(f"_v{k}", real=True) for k in range(count)]


def differs_at_high_precision(left, right, arguments, values, indices) -> bool:
    """Do the sides differ (relative HIGH_PRECISION_SIDES_APART) at any of the samples ``indices``,
    each side evaluated with HIGH_PRECISION_DIGITS?"""
    import mpmath
    import sympy as sp

    from symderiv.numeric.precision import HIGH_PRECISION_DIGITS, HIGH_PRECISION_SIDES_APART

    function = sp.lambdify(arguments, [left, right], modules="mpmath")
    with mpmath.workdps(HIGH_PRECISION_DIGITS):
        for index in indices:
            point = [mpmath.mpf(float(column[index])) for column in values]
            try:
                a, b = function(*point)
                a, b = mpmath.mpmathify(a), mpmath.mpmathify(b)
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                return True  # cannot tell: treated as a difference, which the counterexample search re-checks
            if abs(a - b) > mpmath.mpf(HIGH_PRECISION_SIDES_APART) * (1 + abs(a) + abs(b)):
                return True
    return False


def compare(pairs, templates, coefficients, configuration_list, rng, restrictions=None) -> NumericOutcome:
    """Evaluate every (lhs, rhs) pair vectorised over samples (points x coefficient draws).

    With ``restrictions`` (:class:`~symderiv.writeup.conditions.StepRestrictions`), equality
    facts are solved for one variable and substituted, and samples where an inequality
    fails are dropped, so only points where every restriction holds are compared.
    """
    import numpy as np
    import sympy as sp

    from symderiv.algebra.instantiation import instantiate
    from symderiv.numeric.tolerance import SAMPLED_IDENTITY_TOLERANCE, is_real, sampled_difference
    from symderiv.writeup.conditions import inequality_mask

    instantiated = [(instantiate(l, templates), instantiate(r, templates)) for l, r in pairs]
    total = 0
    compared = []
    work = 0  # nodes written out so far: a deterministic bound on the effort, whatever the machine's load
    for configuration in configuration_list:
        if work > MAX_COMPARE_NODES and len(compared) >= 2:
            break
        try:
            concrete = [(concretize(l, configuration), concretize(r, configuration)) for l, r in instantiated]
            work += sum(_node_count(l) + _node_count(r) for l, r in concrete)
            restricted = _restricted(concrete, restrictions, templates, configuration)
        except TooManyTerms:
            continue  # a size too large to write out (nested sums at n = 12); the others are compared
        if restricted is None:
            continue  # an equality fact that cannot be solved here: no sample is known to satisfy it
        concrete, inequalities = restricted
        compared.append(configuration)
        symbols = set().union(*[l.free_symbols | r.free_symbols for l, r in concrete])
        for a, _, b in inequalities:
            symbols |= a.free_symbols | b.free_symbols
        variables = sorted(symbols - set(coefficients), key=str)
        arguments = list(variables) + list(coefficients)
        dummies = lambdify_arguments(len(arguments))
        renaming = dict(zip(arguments, dummies))
        values = [sample_points(SAMPLES_PER_CONFIGURATION, rng) for _ in variables]
        values += [rng.uniform(-1.0, 1.0, size=SAMPLES_PER_CONFIGURATION) for _ in coefficients]
        admissible = inequality_mask(inequalities, arguments, values, SAMPLES_PER_CONFIGURATION)
        for lhs, rhs in concrete:
            if lhs.has(sp.Sum, sp.Product, sp.Derivative, sp.Subs) or rhs.has(sp.Sum, sp.Product, sp.Derivative, sp.Subs):
                raise ValueError("unevaluated sum or derivative left after instantiation")
            function = sp.lambdify(dummies, [lhs.xreplace(renaming), rhs.xreplace(renaming)], modules="numpy")
            with np.errstate(all="ignore"):
                left, right = function(*values)
            left = np.broadcast_to(np.asarray(left, dtype=complex), (SAMPLES_PER_CONFIGURATION,))
            right = np.broadcast_to(np.asarray(right, dtype=complex), (SAMPLES_PER_CONFIGURATION,))
            finite = is_real(left) & is_real(right) & admissible
            mismatch = finite & (sampled_difference(left, right) > SAMPLED_IDENTITY_TOLERANCE)
            if mismatch.any():
                # float64 cancellation can fake a mismatch: a few of them are re-evaluated at 50 digits.
                suspects = np.flatnonzero(mismatch)[:HIGH_PRECISION_RECHECKS]
                if differs_at_high_precision(lhs.xreplace(renaming), rhs.xreplace(renaming), dummies, values, suspects):
                    return NumericOutcome(False, total, tuple(configuration_list), configuration)
                finite &= ~mismatch  # inconclusive in float64; equal at 50 digits where re-checked
            total += int(finite.sum())
    if not compared:
        if restrictions is not None and restrictions.equalities:
            return NumericOutcome(True, 0, (), undefined=True)
        raise TooManyTerms(f"more than {MAX_SUM_TERMS} terms in sums at every sampled size")
    return NumericOutcome(True, total, tuple(compared), undefined=total == 0)

"""Counterexamples a person can check by hand, and only where every restriction of the step holds.

Contract: every function here returns either nothing or a point (plus simple
instantiations of the abstract functions) at which the two sides differ,
confirmed in exact rational arithmetic or with 50-digit arithmetic, and at
which every condition, fact and assumption of the step holds (checked by
substituting the point back, :func:`symderiv.writeup.conditions.holds_exactly`).
Variables fixed by an equality fact (``\\sum_k t_k = 1`` solved for one ``t``) are
reported with their values. Sums are written out with the reader's convention
(an empty sum is 0), never SymPy's signed one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from symderiv.numeric.precision import HIGH_PRECISION_DIGITS, HIGH_PRECISION_STABLE, HIGH_PRECISION_ZERO
from symderiv.numeric.tolerance import SAMPLED_CLEAR_DIFFERENCE, SAMPLED_IDENTITY_TOLERANCE, sampled_difference
from symderiv.writeup import numeric
from symderiv.writeup.conditions import StepRestrictions, holds_exactly
from symderiv.writeup.printing import to_latex
from symderiv.writeup.report import Counterexample

SIMPLE_VALUES = ("1/2", "1", "3/2", "2", "1/3", "2/3", "3", "-1/2", "-1")
RATIONAL_RANDOM_POINTS = 200


@dataclass
class Search:
    """What every search needs: the declarations (for display), the random stream, the step's restrictions."""

    context: object
    rng: object
    restrictions: StepRestrictions

    @property
    def unrestricted(self) -> bool:
        return not (self.restrictions.equalities or self.restrictions.inequalities)

    _configuration_values: tuple = ()

    def concrete(self, pairs, templates, configuration):
        """(concrete pairs, solved {variable: value}, concrete equalities, concrete inequalities) or None."""
        import sympy as sp

        self._configuration_values = configuration.values
        instantiate = lambda e: numeric.instantiate(e, templates)  # noqa: E731
        concretize = lambda e: numeric.concretize(e, configuration)  # noqa: E731
        try:
            concrete = [(concretize(instantiate(l)), concretize(instantiate(r))) for l, r in pairs]
            equalities, inequalities = self.restrictions.concrete(instantiate, concretize)
        except numeric.TooManyTerms:
            return None
        solution = StepRestrictions.solve(equalities)
        if solution is None:
            return None
        if solution:
            concrete = [(l.xreplace(solution), r.xreplace(solution)) for l, r in concrete]
            inequalities = [(a.xreplace(solution), rel, b.xreplace(solution)) for a, rel, b in inequalities]
        # A derivative through a kink (Heaviside(0) = 1/2 is SymPy's convention) is not evaluated at the kink.
        inequalities = inequalities + [(argument, "ne", sp.Integer(0)) for argument in _kink_arguments(concrete)]
        return concrete, solution, equalities, inequalities

    def admissible(self, point, solution, equalities, inequalities) -> dict | None:
        """The full point (with solved variables) when every restriction holds there, else None."""
        full = dict(point)
        for variable, value in solution.items():
            full[variable] = value.xreplace(point)
        names = [str(variable) for variable in full] + [str(symbol) for symbol, _ in self._configuration_values]
        if len(set(names)) != len(names):
            return None  # two quantities printed alike (a size q and an index q): not checkable by hand
        return full if holds_exactly(inequalities, equalities, full) else None

    def shown_restrictions(self) -> tuple:
        return tuple(r.shown() for r in self.restrictions.items if r.kind in ("index", "equal", "inequality"))


def _kink_arguments(pairs) -> list:
    import sympy as sp

    found = []
    for left, right in pairs:
        for side in (left, right):
            for node in side.atoms(sp.Heaviside, sp.DiracDelta, sp.sign):
                found.append(node.args[0])
    return found


def rational_counterexample(pairs, search: Search):
    """(Counterexample, lhs - rhs) when some pair differs by a nonzero rational function, else None.

    Applies only to differences built from rational numbers and plain variables (x, or x_1
    with a numeric index), and only to steps without real conditions or facts; abstract
    functions, sums, deltas, symbolic indices, radicals and transcendental functions are left
    to the other methods. The point is found by exact evaluation: a nonzero polynomial does
    not vanish on a whole grid of more values per variable than its degree, and random
    integer points are tried after the simple grid.
    """
    import sympy as sp

    if not search.unrestricted:
        return None
    for lhs, rhs in pairs:
        difference = lhs - rhs
        if not (plain_rational(lhs) and plain_rational(rhs)):
            continue
        # variables of both sides: x^2 + x - x^2 still needs a value for x to evaluate the sides
        sides = sp.Tuple(lhs, rhs)
        labels = {indexed.base.label for indexed in sides.atoms(sp.Indexed)}
        variables = sorted(sides.atoms(sp.Indexed) | (sides.atoms(sp.Symbol) - labels), key=str)
        numerator, _ = sp.fraction(sp.cancel(sp.together(difference)))
        if numerator == 0:
            continue
        values = [sp.Rational(v) for v in SIMPLE_VALUES]
        grid = itertools.islice(itertools.product(values, repeat=len(variables)), 400)
        randoms = (tuple(sp.Integer(int(v)) for v in search.rng.integers(-60, 61, len(variables)))
                   for _ in range(RATIONAL_RANDOM_POINTS))
        for point_values in itertools.chain(grid, randoms):
            point = dict(zip(variables, point_values))
            lval, rval = lhs.xreplace(point), rhs.xreplace(point)
            if not (lval.is_Rational and rval.is_Rational) or lval == rval:
                continue
            found = describe((_plain_names(point), lval, rval), {}, numeric.Configuration(()), search, exact=True)
            return found, difference
    return None


def simplified_rational_counterexample(pairs, simplified, search: Search):
    """A point where the simplified difference is nonzero and both sides are finite and real."""
    import sympy as sp

    if not search.unrestricted:
        return None
    for (lhs, rhs), difference in zip(pairs, simplified):
        if difference == 0 or not plain_rational(difference):
            continue
        sides = sp.Tuple(lhs, rhs)
        labels = {indexed.base.label for indexed in sides.atoms(sp.Indexed)}
        variables = sorted(sides.atoms(sp.Indexed) | (sides.free_symbols - labels), key=str)
        if not all(isinstance(v, sp.Indexed) and all(i.is_Integer for i in v.indices)
                   or (isinstance(v, sp.Symbol) and not v.is_integer) for v in variables):
            continue
        values = [sp.Rational(v) for v in SIMPLE_VALUES]
        for point_values in itertools.islice(itertools.product(values, repeat=len(variables)), 200):
            point = dict(zip(variables, point_values))
            gap = difference.xreplace(point)
            if not gap.is_Rational or gap == 0:
                continue
            digits = HIGH_PRECISION_DIGITS
            lval, rval = sp.N(lhs.xreplace(point), digits), sp.N(rhs.xreplace(point), digits)
            if not (lval.is_number and rval.is_number and lval.is_real and rval.is_real) \
                    or lval.has(sp.zoo, sp.nan, sp.oo) or rval.has(sp.zoo, sp.nan, sp.oo):
                continue
            # Confirm that the sides themselves differ by that amount (evalf raises its working
            # precision until the gap has 50 correct digits), so a rewrite valid only
            # generically can never produce the counterexample on its own.
            measured = sp.N((lhs - rhs).xreplace(point), digits, maxn=4 * digits)
            if not measured.is_number or abs(measured - gap) > abs(gap) * sp.Float(HIGH_PRECISION_STABLE):
                continue
            return describe((_plain_names(point), lval, rval), {}, numeric.Configuration(()), search), difference
    return None


def _plain_names(point: dict) -> dict:
    """x[1] is shown as x_{1}, as in the numeric counterexamples."""
    import sympy as sp

    return {sp.Symbol(f"{v.base}_{{{','.join(map(str, v.indices))}}}", real=True)
            if isinstance(v, sp.Indexed) else v: value for v, value in point.items()}


def plain_rational(expr) -> bool:
    import sympy as sp

    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Indexed):
            if not all(i.is_Integer for i in node.indices):
                return False
        elif isinstance(node, sp.Symbol):
            if node.is_integer:
                return False
        elif isinstance(node, sp.Pow):
            if not node.exp.is_Integer:
                return False
        elif isinstance(node, sp.Number):
            if not node.is_Rational:
                return False
        elif not isinstance(node, (sp.Add, sp.Mul, sp.IndexedBase, sp.Tuple)):
            return False
    return True


def counterexample(pairs, functions, configuration_list, search: Search, generic, coefficients):
    import sympy as sp

    candidates = [numeric.simple_templates(functions, choice) for choice in numeric.simple_choices(functions)]
    # Fallback: the generic family with small rational coefficients (only when there are functions to draw).
    for _ in range(3 if functions else 0):
        draw = {c: sp.Rational(int(search.rng.integers(-4, 5)), 4) for c in coefficients}
        candidates.append({f: sp.Lambda(t.variables, t.expr.xreplace(draw)) for f, t in generic.items()})
    for templates in candidates:
        for configuration in configuration_list:
            found = search_point(pairs, templates, configuration, search)
            if found is not None:
                return describe(found, templates, configuration, search)
    return None


def high_precision_probe(pairs, functions, configuration_list, search: Search, generic, coefficients):
    import sympy as sp

    candidates = [numeric.simple_templates(functions, choice) for choice in numeric.simple_choices(functions, limit=2)]
    if functions:
        draw = {c: sp.Rational(int(search.rng.integers(-4, 5)), 4) for c in coefficients}
        candidates.append({f: sp.Lambda(t.variables, t.expr.xreplace(draw)) for f, t in generic.items()})
    values = [sp.Rational(v) for v in SIMPLE_VALUES]
    probed = 0
    for templates in candidates:
        for configuration in configuration_list[:2]:
            concrete = search.concrete(pairs, templates, configuration)
            if concrete is None:
                continue
            concrete_pairs, solution, equalities, inequalities = concrete
            for left, right in concrete_pairs:
                variables = sorted(left.free_symbols | right.free_symbols, key=str)
                for _ in range(2):
                    point = {v: values[int(search.rng.integers(0, len(values)))] for v in variables}
                    full = search.admissible(point, solution, equalities, inequalities)
                    if full is None:
                        continue
                    state, lval, rval = evaluate_exactly(left, right, point)
                    if state == "differ":
                        return describe((full, lval, rval), templates, configuration, search), probed
                    probed += state == "equal"
    return None, probed


def search_point(pairs, templates, configuration, search: Search):
    """A simple rational point where some pair differs, confirmed at 50 digits, where the restrictions hold."""
    import numpy as np
    import sympy as sp

    concrete_step = search.concrete(pairs, templates, configuration)
    if concrete_step is None:
        return None
    concrete, solution, equalities, inequalities = concrete_step
    variables = sorted(set().union(*[l.free_symbols | r.free_symbols for l, r in concrete]), key=str)
    values = [sp.Rational(v) for v in SIMPLE_VALUES]
    if variables:
        grid = list(itertools.islice(itertools.product(values, repeat=len(variables)), 400))
        if len(grid) < 400:
            points = grid
        else:
            points = grid[:50] + [tuple(values[int(k)] for k in search.rng.integers(0, len(values), len(variables)))
                                  for _ in range(150)]
    else:
        points = [()]
    dummies = numeric.lambdify_arguments(len(variables))
    renaming = dict(zip(variables, dummies))
    columns = [np.array([float(p[k]) for p in points]) for k in range(len(variables))]
    for left, right in concrete:
        if left.has(sp.Derivative, sp.Subs, sp.Sum) or right.has(sp.Derivative, sp.Subs, sp.Sum):
            continue
        function = sp.lambdify(dummies, [left.xreplace(renaming), right.xreplace(renaming)], modules="numpy")
        with np.errstate(all="ignore"):
            lvals, rvals = function(*columns)
        lvals = np.broadcast_to(np.asarray(lvals, dtype=complex), (len(points),))
        rvals = np.broadcast_to(np.asarray(rvals, dtype=complex), (len(points),))
        gap = sampled_difference(lvals, rvals)
        gap = np.where(np.isfinite(lvals) & np.isfinite(rvals) & np.isfinite(gap), gap, -1.0)
        # The first clearly differing point in grid order is the simplest one to check by hand.
        clear = np.flatnonzero(gap > SAMPLED_CLEAR_DIFFERENCE)
        for index in list(clear[:12]) + list(np.argsort(-gap)[:2]):
            if gap[index] <= SAMPLED_IDENTITY_TOLERANCE:
                break
            point = dict(zip(variables, points[index]))
            full = search.admissible(point, solution, equalities, inequalities)
            if full is None:
                continue
            state, lval, rval = evaluate_exactly(left, right, point)
            if state == "differ":
                return full, lval, rval
    return None


def evaluate_exactly(left, right, point):
    """("differ" | "equal" | "undefined", lhs, rhs) at ``point``: exact substitution, then 50 digits (mpmath)."""
    import sympy as sp

    digits = HIGH_PRECISION_DIGITS
    lval = sp.N(left.xreplace(point), digits)
    rval = sp.N(right.xreplace(point), digits)
    if not (lval.is_number and rval.is_number) or lval.has(sp.zoo, sp.nan, sp.oo) or rval.has(sp.zoo, sp.nan, sp.oo):
        return "undefined", lval, rval
    if not (lval.is_real and rval.is_real):
        return "undefined", lval, rval
    # The difference is evaluated as one expression (evalf raises its working precision
    # through cancellation), so a relative difference of 1e-30 is seen; true identities
    # come out below 1e-50 relative, far under HIGH_PRECISION_ZERO (1e-40).
    gap = sp.N((left - right).xreplace(point), digits, maxn=3 * digits)
    if not gap.is_number or gap.has(sp.zoo, sp.nan, sp.oo):
        gap = lval - rval
    if abs(gap) > sp.Float(HIGH_PRECISION_ZERO, digits) * (1 + abs(lval) + abs(rval)):
        return "differ", lval, rval
    return "equal", lval, rval


def describe(found, templates, configuration, search: Search, exact: bool = False) -> Counterexample:
    import sympy as sp

    point, lval, rval = found
    context = search.context
    functions = []
    for func, template in sorted(templates.items(), key=lambda kv: str(kv[0])):
        name = func.__name__
        declared = context.function_args.get(name)
        parameters = tuple(declared) if declared and len(declared) == len(template.variables) else template.variables
        body = template.expr.xreplace(dict(zip(template.variables, parameters)))
        functions.append((name, f"{to_latex(sp.Function(name)(*parameters))} = {to_latex(body)}"))
    shown = [(to_latex(symbol), str(value)) for symbol, value in configuration.values]
    shown += [(symbol.name if "{" in symbol.name else to_latex(symbol), to_latex(value)) for symbol, value in
              sorted(point.items(), key=lambda kv: str(kv[0]))]
    left_text, right_text = numbers(lval, rval)
    return Counterexample(tuple(functions), tuple(shown), left_text, right_text, HIGH_PRECISION_DIGITS, exact,
                          search.shown_restrictions())


def numbers(lval, rval) -> tuple[str, str]:
    """Both values with 15 significant digits, or more (up to HIGH_PRECISION_DIGITS) until they visibly differ."""
    from fractions import Fraction

    for digits in range(15, HIGH_PRECISION_DIGITS + 1, 5):
        left, right = number(lval, digits), number(rval, digits)
        if Fraction(left) != Fraction(right):  # "1" and "1.00000000000000" do not differ visibly
            break
    if digits > 15:  # 0.5 vs 0.5000000000000000000000000000005 reads better without padding zeros
        left, right = (_strip_zeros(text) for text in (left, right))
    return left, right


def _strip_zeros(text: str) -> str:
    mantissa, _, exponent = text.partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0")
        if mantissa.endswith("."):
            mantissa += "0"
    return mantissa + ("e" + exponent if exponent else "")


def number(value, digits: int = 15) -> str:
    """``digits`` significant digits; a high-precision float below HIGH_PRECISION_ZERO is zero up to rounding
    and shown as 0."""
    import sympy as sp

    if value.is_Rational:
        if value == 0:
            return "0"
        if value.is_Integer and abs(value) < 10**15:
            return str(value)
    elif abs(value) < sp.Float(HIGH_PRECISION_ZERO):
        return "0"
    return str(sp.Float(value, digits))

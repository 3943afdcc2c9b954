"""The witness layer: exact points where two expressions differ, and their confirmation.

Contract: a counterexample is only ever reported after the two sides were
seen to differ at the point exactly — :func:`rational_counterexample`: exact
rational arithmetic — or at :data:`symderiv.numeric.precision.HIGH_PRECISION_DIGITS`
(50) digits — :func:`evaluate_exactly`: exact substitution of a rational point,
then the difference evaluated as one expression (evalf raises its working
precision through cancellation), so a relative difference of 1e-30 is seen
while true identities stay below the 1e-40 threshold.

:func:`rational_counterexample` is the one exact search, used by the proof
checker and by ``symderiv check``: given two sides whose difference is a
rational function of plain variables, it finds a rational point where that
difference is a nonzero rational number, inside every stated interval and
where the caller's conditions hold, and returns the
:class:`~symderiv.algebra.verdict.Counterexample`. It never fails to find one
for a nonzero polynomial difference of degree ≤ 12 in ≤ 4 variables (a
complete grid of d + 1 values per variable), and never reports a point where
the difference is zero or undefined. Points are simple rationals
(``SIMPLE_VALUES`` first) so a person can check them by hand.

The concrete functions that stand in for abstract ones are
:mod:`symderiv.algebra.instantiation`. SymPy is imported lazily.
"""

from __future__ import annotations

import itertools
from typing import Callable

#: simple rational values tried first (a person checks them by hand)
SIMPLE_VALUES = ("1/2", "1", "3/2", "2", "1/3", "2/3", "3", "-1/2", "-1")
#: points of the simple grid tried before the complete grid and the random points
SIMPLE_GRID_POINTS = 400
#: the complete grid is searched for a polynomial (numerator times denominator) up to this size
COMPLETE_GRID_VARIABLES, COMPLETE_GRID_DEGREE = 4, 12
#: random integer points are drawn from [-RANDOM_INTEGER_BOUND, RANDOM_INTEGER_BOUND]
RANDOM_INTEGER_BOUND = 60


def evaluate_exactly(left, right, point):
    """("differ" | "equal" | "undefined", lhs, rhs) at ``point``: exact substitution, then 50 digits (mpmath)."""
    import sympy as sp

    from symderiv.numeric.precision import HIGH_PRECISION_DIGITS, HIGH_PRECISION_ZERO

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


def rational_counterexample(*, lhs, rhs, difference=None, intervals: dict | None = None,
                            admissible: Callable | None = None, rng=None, random_points: int = 0,
                            require_values: bool = True, name: Callable | None = None, value: Callable = str,
                            sides: Callable | None = None, restrictions: tuple = ()):
    """A :class:`~symderiv.algebra.verdict.Counterexample` at a rational point where ``difference``
    (default ``lhs - rhs``) is a nonzero rational number, or None.

    Applies when the difference is built from rational numbers and plain variables (non-integer
    symbols, ``x[1]`` with numeric indices) and does not cancel to 0; otherwise None. When
    ``difference`` is an exact rewriting of ``lhs - rhs`` (what a zero test left), the sides'
    own values confirm it at the point: exactly when they are rational, else at 50 digits.

    Points, in order: the grid of ``SIMPLE_VALUES`` (its first ``SIMPLE_GRID_POINTS``); for a
    polynomial numerator times denominator of degree d ≤ 12 in ≤ 4 variables, the complete grid
    of d + 1 values per variable, where a nonzero polynomial cannot vanish everywhere; then
    ``random_points`` integer points from the numpy generator ``rng``. ``intervals``: {variable:
    (low, high)}, open intervals every value lies in. ``admissible(point)``: the full point to
    report (with any variables it fixes) where every condition of the caller holds, else None.

    The sides' values are exact rationals, or 50-digit numbers; ``require_values=False`` accepts
    a point where they have none (an unknown function f(x) remains, or a pole the difference
    does not have): the values are then NaN and ``exact_difference`` alone is the witness.
    ``name``/``value`` print a variable (default :func:`plain_name`) and its value;
    ``sides(lhs_value, rhs_value)`` the two values (default :func:`numbers`); ``restrictions``
    are the conditions checked at the point, as the caller shows them.
    """
    import sympy as sp

    from symderiv.algebra.zero import is_plain_rational

    difference = lhs - rhs if difference is None else difference
    if difference == 0 or not is_plain_rational(difference):
        return None
    variables = _plain_variables(sp.Tuple(lhs, rhs, difference))
    if variables is None:
        return None
    numerator, denominator = sp.fraction(sp.cancel(sp.together(difference)))
    if numerator == 0:
        return None
    intervals = {v: (sp.Rational(str(low)), sp.Rational(str(high))) for v, (low, high) in (intervals or {}).items()}
    exact_sides = is_plain_rational(lhs) and is_plain_rational(rhs)
    fallback = None
    for index, point in enumerate(_candidates(variables, numerator * denominator, intervals, rng, random_points)):
        if fallback is not None and index >= SIMPLE_GRID_POINTS:
            break  # the difference is witnessed already; past the simple grid no point has values either
        gap = difference.xreplace(point)
        if not gap.is_Rational or gap == 0:
            continue
        full = point if admissible is None else admissible(point)
        if full is None:
            continue
        values = _side_values(lhs, rhs, point, gap, exact_sides)
        if values is not None:
            return _example(full, gap, values, name, value, sides, restrictions)
        if not require_values and fallback is None:
            fallback = (full, gap)
            if _never_valued(lhs, rhs, point):
                break
    if fallback is None:
        return None
    return _example(fallback[0], fallback[1], None, name, value, sides, restrictions)


def _plain_variables(expressions) -> list | None:
    """The variables of ``expressions`` (sorted as printed), or None when one is not plain: an
    integer symbol (a size or an index) or an indexed object with a symbolic index."""
    import sympy as sp

    labels = {indexed.base.label for indexed in expressions.atoms(sp.Indexed)}
    found = expressions.atoms(sp.Indexed) | (expressions.free_symbols - labels)
    for variable in found:
        if isinstance(variable, sp.Indexed):
            if not all(i.is_Integer for i in variable.indices):
                return None
        elif not isinstance(variable, sp.Symbol) or variable.is_integer:
            return None
    return sorted(found, key=plain_name)


def plain_name(variable) -> str:
    """x[1] is printed x_{1}, as in the numeric counterexamples; a symbol by its name."""
    import sympy as sp

    if isinstance(variable, sp.Indexed):
        return f"{variable.base}_{{{','.join(map(str, variable.indices))}}}"
    return str(variable)


def _candidates(variables: list, polynomial, intervals: dict, rng, random_points: int):
    """Points to try, as {variable: Rational}: the simple grid, the complete grid, random integers."""
    import sympy as sp

    simple = [_simple_values(intervals.get(v)) for v in variables]
    for values in itertools.islice(itertools.product(*simple), SIMPLE_GRID_POINTS):
        yield dict(zip(variables, values))
    involved = [v for v in variables if polynomial.has(v)]
    if involved and len(involved) <= COMPLETE_GRID_VARIABLES and polynomial.is_polynomial(*involved):
        degree = sp.Poly(polynomial, *involved).total_degree()
        if degree <= COMPLETE_GRID_DEGREE:
            others = {v: values[0] for v, values in zip(variables, simple) if v not in involved and values}
            grids = [_spread_values(degree + 1, intervals.get(v)) for v in involved]
            for values in itertools.product(*grids):
                yield {**others, **dict(zip(involved, values))}
    for _ in range(random_points if rng is not None else 0):
        point = dict(zip(variables, (sp.Integer(int(v)) for v in
                                     rng.integers(-RANDOM_INTEGER_BOUND, RANDOM_INTEGER_BOUND + 1, len(variables)))))
        if all(_inside(value, intervals.get(v)) for v, value in point.items()):
            yield point


def _inside(value, interval) -> bool:
    return interval is None or interval[0] < value < interval[1]


def _simple_values(interval) -> list:
    """``SIMPLE_VALUES`` inside the open interval (five evenly spaced values when none is)."""
    import sympy as sp

    values = [sp.Rational(v) for v in SIMPLE_VALUES if _inside(sp.Rational(v), interval)]
    return values or _spread_values(5, interval)


def _spread_values(count: int, interval) -> list:
    """``count`` distinct rationals: 1 … count, or evenly spaced strictly inside the interval."""
    import sympy as sp

    if interval is None:
        return [sp.Integer(k) for k in range(1, count + 1)]
    low, high = interval
    return [low + (high - low) * sp.Rational(k, count + 1) for k in range(1, count + 1)]


def _side_values(lhs, rhs, point: dict, gap, exact_sides: bool):
    """(lhs value, rhs value, exact) at ``point`` when both are finite real numbers whose difference
    is ``gap`` (exactly, or to 50 digits), else None."""
    import sympy as sp

    from symderiv.numeric.precision import HIGH_PRECISION_DIGITS, HIGH_PRECISION_STABLE

    if exact_sides:
        lval, rval = lhs.xreplace(point), rhs.xreplace(point)
        if lval.is_Rational and rval.is_Rational and lval - rval == gap:
            return lval, rval, True
        return None
    digits = HIGH_PRECISION_DIGITS
    try:
        lval, rval = sp.N(lhs.xreplace(point), digits), sp.N(rhs.xreplace(point), digits)
        if not (lval.is_number and rval.is_number and lval.is_real and rval.is_real) \
                or lval.has(sp.zoo, sp.nan, sp.oo) or rval.has(sp.zoo, sp.nan, sp.oo):
            return None
        # the sides themselves differ by the gap (evalf raises its working precision until the
        # difference has 50 correct digits): a rewrite valid only generically proves nothing here
        measured = sp.N((lhs - rhs).xreplace(point), digits, maxn=4 * digits)
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
        return None
    if not measured.is_number or abs(measured - gap) > abs(gap) * sp.Float(HIGH_PRECISION_STABLE):
        return None
    return lval, rval, False


def _never_valued(lhs, rhs, point: dict) -> bool:
    """Once every variable has a value something unknown remains (f(1/2)): no point gives values."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    at = sp.Tuple(lhs, rhs).xreplace(point)
    return bool(at.free_symbols) or at.has(AppliedUndef, sp.Derivative, sp.Subs)


def _example(full: dict, gap, values, name: Callable, value: Callable, sides: Callable | None, restrictions):
    from symderiv.algebra.verdict import Counterexample
    from symderiv.numeric.precision import HIGH_PRECISION_DIGITS

    shown = tuple(((name or plain_name)(v), value(full[v])) for v in sorted(full, key=plain_name))
    if values is None:
        return Counterexample(point=shown, exact=True, precision_digits=HIGH_PRECISION_DIGITS, exact_difference=str(gap),
                              restrictions=tuple(restrictions))
    lval, rval, exact = values
    left, right = (sides or numbers)(lval, rval)
    return Counterexample(point=shown, lhs_value=left, rhs_value=right, exact=exact,
                          precision_digits=HIGH_PRECISION_DIGITS, exact_difference=str(gap),
                          restrictions=tuple(restrictions))


def numbers(lval, rval) -> tuple[str, str]:
    """Both values with 15 significant digits, or more (up to HIGH_PRECISION_DIGITS) until they visibly differ."""
    from fractions import Fraction

    from symderiv.numeric.precision import HIGH_PRECISION_DIGITS

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

    from symderiv.numeric.precision import HIGH_PRECISION_ZERO

    if value.is_Rational:
        if value == 0:
            return "0"
        if value.is_Integer and abs(value) < 10**15:
            return str(value)
    elif abs(value) < sp.Float(HIGH_PRECISION_ZERO):
        return "0"
    return str(sp.Float(value, digits))

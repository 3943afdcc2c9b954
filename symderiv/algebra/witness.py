"""The witness layer: exact points where two expressions differ, and their confirmation.

Contract: a counterexample is only ever reported after :func:`evaluate_exactly`
said "differ" — exact substitution of a rational point, then evaluation at
:data:`symderiv.numeric.precision.HIGH_PRECISION_DIGITS` (50) digits with the difference evaluated as one
expression (evalf raises its working precision through cancellation), so a
relative difference of 1e-30 is seen while true identities stay below the
1e-40 threshold. :func:`polynomial_nonzero_point` finds, exactly and in finite
time, a point where a nonzero polynomial does not vanish. Points are simple
rationals (``SIMPLE_VALUES``, or small positive integers) so a person can check
them by hand.

SymPy is imported lazily.
"""

from __future__ import annotations

import itertools

#: simple rational values tried first (a person checks them by hand)
SIMPLE_VALUES = ("1/2", "1", "3/2", "2", "1/3", "2/3", "3", "-1/2", "-1")


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


def polynomial_nonzero_point(difference, max_symbols: int = 4, max_degree: int = 12) -> dict | None:
    """A point of positive integers where the polynomial ``difference`` is nonzero, or None when it
    is not a polynomial in at most ``max_symbols`` plain symbols of degree at most ``max_degree``.

    Exact and finite: a nonzero polynomial of total degree d does not vanish on the whole grid
    {1..d+1}^k, so the first grid point with a nonzero value is found by exact evaluation."""
    import sympy as sp

    from symderiv.algebra.zero import is_plain_rational

    if difference == 0 or not is_plain_rational(difference) or difference.has(sp.Indexed):
        return None
    symbols = sorted(difference.free_symbols, key=str)
    if not symbols or len(symbols) > max_symbols or not difference.is_polynomial(*symbols):
        return None
    degree = sp.Poly(difference, *symbols).total_degree()
    if degree > max_degree:
        return None
    for values in itertools.product(range(1, degree + 2), repeat=len(symbols)):
        point = dict(zip(symbols, map(sp.Integer, values)))
        if difference.xreplace(point) != 0:
            return point
    return None  # unreachable for a nonzero polynomial

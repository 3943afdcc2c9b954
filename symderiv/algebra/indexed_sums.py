"""One range-aware normal form of indexed sums (symbolic n).

Contract: :func:`normalize_sums` splits sums over +, pulls out factors free of
the summation variable and resolves Kronecker deltas; a delta collapses a sum
only where the index is *known* to lie in the range: a summation variable of
an enclosing sum in that sum's range, a free index in the range the caller
states (``ranges``) or, without one, in 1..n (the documented writeup
convention; the assumption is recorded in ``assumed`` for the reason text).
Otherwise the collapsed term keeps its range as a condition,
``Piecewise((a_i, (2 <= i) & (i <= n)), (0, True))``, which numeric sampling
evaluates at every index. :func:`canonical_sums` renames bound variables to
depth-numbered dummies, so equal sums compare equal and act as atoms of the
zero test.

SymPy is imported lazily.
"""

from __future__ import annotations


def canonical_sums(expr):
    """Rename bound summation variables to depth-numbered dummies so equal sums compare equal."""
    import sympy as sp

    def rename(node, depth):
        if isinstance(node, (sp.Sum, sp.Product)):
            # An inner range may end at an outer variable (sum over i, then j = 1..i): rename
            # the variables in the limits too, not only in the body.
            renaming = {variable: sp.Symbol(f"_k{depth + offset}", integer=True)
                        for offset, (variable, _, _) in enumerate(node.limits)}
            body = node.function.xreplace(renaming)
            limits = [(renaming[variable], lower.xreplace(renaming), upper.xreplace(renaming))
                      for variable, lower, upper in node.limits]
            body = rename(body, depth + len(node.limits))
            return node.func(body, *limits)
        if not node.args:
            return node
        return node.func(*[rename(a, depth) for a in node.args])

    return rename(expr, 0)


FREE_INDEX_SIZE = "n"


def _index_in_range(index, lower, upper, enclosing: dict, assumed: set | None, ranges: dict | None):
    """True / False when it is known whether ``lower <= index <= upper``; None when it depends."""
    import sympy as sp

    def at_least(a, b):  # a >= b, structurally
        gap = sp.expand(a - b)
        return bool(gap.is_Integer and gap >= 0)

    if index.is_Integer:
        if lower.is_Integer and index < lower:
            return False
        if upper.is_Integer and index > upper:
            return False
        if lower.is_Integer and upper.is_Integer:
            return True
        # sizes are at least 1, so an index of 1 lies in 1..n
        if at_least(index, lower) and index <= 1 and at_least(upper, sp.Symbol(FREE_INDEX_SIZE, real=True)):
            return True
        return None
    known = enclosing.get(index) or (ranges or {}).get(index)
    if known is not None:
        outer_lower, outer_upper = known
        if at_least(outer_lower, lower) and at_least(upper, outer_upper):
            return True
        return None
    if isinstance(index, sp.Symbol) and index.is_integer:
        size = sp.Symbol(FREE_INDEX_SIZE, real=True)
        if lower.is_Integer and lower <= 1 and at_least(upper, size):
            if assumed is not None:
                assumed.add(f"1 <= {index} <= {FREE_INDEX_SIZE}")
            return True
    return None


def normalize_sums(expr, assumed: set | None = None, ranges: dict | None = None):
    """Split sums over +, pull out factors free of the summation variable, resolve deltas.

    ``ranges``: {free index: (low, high)} stated by the caller (a proof's ``1 <= i <= n``);
    without one, a free integer index is taken to lie in 1..n (the writeup convention), and
    ``assumed`` collects such assumptions (``1 <= i <= n``) for the reason text.
    """
    import sympy as sp

    def transform(node, enclosing):
        if not node.args:
            return node
        if isinstance(node, sp.Sum):
            # SymPy flattens nested sums into one Sum with several limits (innermost first).
            limits = list(node.limits)
            visible = dict(enclosing)
            visible.update({v: (a, b) for v, a, b in limits})
            result = transform(node.function, visible)
            for position, (variable, lower, upper) in enumerate(limits):
                outer = dict(enclosing)
                outer.update({v: (a, b) for v, a, b in limits[position + 1:]})
                result = collapse(variable, lower, upper, result, outer)
            return result
        if isinstance(node, sp.Product):
            return node
        return node.func(*[transform(a, enclosing) for a in node.args])

    def collapse(variable, lower, upper, body, enclosing):
        body = sp.expand(body)
        total = sp.Integer(0)
        for term in sp.Add.make_args(body):
            constant, dependent = term.as_independent(variable, as_Add=False)
            delta = next((f for f in sp.Mul.make_args(dependent) if isinstance(f, sp.KroneckerDelta) and variable in f.free_symbols), None)
            if delta is not None:
                other = delta.args[1] if delta.args[0] == variable else delta.args[0]
                if variable not in other.free_symbols:
                    rest = sp.Mul(*[f for f in sp.Mul.make_args(dependent) if f is not delta])
                    inside = _index_in_range(other, lower, upper, enclosing, assumed, ranges)
                    if inside is False:
                        continue
                    collapsed = constant * rest.xreplace({variable: other})
                    if inside is None:
                        condition = sp.And(sp.Le(lower, other), sp.Le(other, upper))
                        if condition is sp.false:
                            continue
                        if condition is not sp.true:
                            collapsed = sp.Piecewise((collapsed, condition), (0, True))
                    total += collapsed
                    continue
            if dependent == 1:
                total += constant * (upper - lower + 1)
            else:
                total += constant * sp.Sum(dependent, (variable, lower, upper))
        return total

    return transform(expr, {})

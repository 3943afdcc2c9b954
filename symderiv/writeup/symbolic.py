"""Resolved expressions made ready for the zero test: sums written out or normalised, Kronecker deltas
collapsed; and the difference shown in the writer's names. Whether a difference is zero is decided by
the one zero test, :func:`symderiv.algebra.zero.zero_test`.

Sums are put in the one range-aware normal form of :mod:`symderiv.algebra.indexed_sums`
(a free index is taken to lie in 1..n, the documented convention, and the reason of a
proof that used it says so).
"""

from __future__ import annotations

from symderiv.algebra.indexed_sums import canonical_sums, normalize_sums


def apply_index_conditions(expr, conditions):
    """``i = j``: replace j by i; ``i != j``: the Kronecker delta of i, j is 0."""
    import sympy as sp

    for kind, a, b in conditions:
        if kind == "eq":
            if isinstance(b, sp.Symbol):
                expr = expr.xreplace({b: a})
            elif isinstance(a, sp.Symbol):
                expr = expr.xreplace({a: b})
        else:
            expr = expr.xreplace({sp.KroneckerDelta(a, b): sp.Integer(0), sp.KroneckerDelta(b, a): sp.Integer(0)})
    return expr


def expand_concrete_sums(expr):
    """Sums with numeric limits are written out (an empty range is 0); symbolic ones are left alone."""
    import sympy as sp

    from symderiv.writeup.latex_parser import Unsupported
    from symderiv.writeup.numeric import expand_sums

    def write_out(e):
        try:
            return expand_sums(e)
        except ValueError as exc:
            # A long range of a low-degree polynomial in the summation variable has a closed form
            # (Faulhaber) that agrees with the reader's convention when the range is not backwards;
            # anything else (2^k, x^k, products) could build numbers with 10^15 digits.
            if isinstance(e, sp.Sum) and len(e.limits) == 1:
                variable, lower, upper = e.limits[0]
                body = e.function
                if (upper >= lower - 1 and not body.has(sp.Sum, sp.Product) and body.is_polynomial(variable)
                        and sp.degree(body, variable) <= 10):
                    return e.doit()
            raise Unsupported(f"cannot write out a sum: {exc}") from None

    return expr.replace(
        lambda e: isinstance(e, (sp.Sum, sp.Product)) and all(a.is_Integer and b.is_Integer for _, a, b in e.limits),
        write_out,
    )


def prepare(expr, conditions, assumed: set | None = None):
    expr = expand_concrete_sums(expr)
    expr = canonical_sums(expr)
    expr = apply_index_conditions(expr, conditions)
    expr = normalize_sums(expr, assumed)
    expr = canonical_sums(expr)
    return expr


def simplest_difference(difference, rewrites=()):
    """lhs - rhs in a readable form: factored, and in the writer's concrete functions when possible.

    ``rewrites`` are (kernel, solution, placeholder, shown): e.g. for the logistic
    sigma(u) the kernel exp(-(w x + b)) is replaced by (1 - S)/S, and S is shown as
    sigma(u), so the difference reads like the writeup instead of a pile of exponentials.
    """
    import sympy as sp

    from symderiv.algebra.zero import SIMPLIFY_MAX_OPS

    for kernel, solution, placeholder, shown in rewrites:
        candidate = sp.factor(sp.cancel(difference.subs(kernel, solution)))
        if not candidate.has(sp.exp) or candidate.count_ops() < difference.count_ops():
            difference = candidate.xreplace({placeholder: shown})
    candidate = sp.expand(difference)
    if sp.count_ops(candidate) <= SIMPLIFY_MAX_OPS:  # the zero test's bound on simplify, for display too
        try:
            candidate = sp.factor(sp.cancel(candidate))
        except (sp.PolynomialError, NotImplementedError, ValueError, TypeError):
            pass
    return candidate


def concrete_function_rewrites(context, surface_exprs, resolver):
    """Rewrites for ``simplest_difference``: one per application of a one-exponential concrete function."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    rewrites = []
    for expr in surface_exprs:
        for application in expr.atoms(AppliedUndef):
            body = context.concrete_functions.get(application.func.__name__)
            if body is None or len(body.variables) != 1:
                continue
            kernels = list(body.expr.atoms(sp.exp))
            if len(kernels) != 1:
                continue
            placeholder = sp.Dummy("S")
            marker = sp.Dummy("k", positive=True)
            solutions = sp.solve(sp.Eq(body.expr.xreplace({kernels[0]: marker}), placeholder), marker)
            if len(solutions) != 1 or solutions[0].has(body.variables[0]):
                continue
            argument = resolver.full(application.args[0])
            kernel = kernels[0].xreplace({body.variables[0]: argument})
            rewrites.append((kernel, solutions[0], placeholder, application))
    return rewrites


def in_writer_names(expr, context, resolver):
    """For display: g(x) -> g and d g(x)/dx -> g' for declared dependencies such as ``g = g(x)``."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    applications = {}
    for symbol, definition in context.definitions.items():
        if isinstance(definition, AppliedUndef) and definition.func.__name__ in context.function_args:
            applied = resolver.full(symbol)
            if isinstance(applied, AppliedUndef) and not any(a.atoms(AppliedUndef) for a in applied.args):
                applications[applied] = symbol
    expr = _readable_summation_letters(expr)
    # Subs(d sigma(t)/dt, t, u) with a plain symbol u reads better as d sigma(u)/du.
    expr = expr.replace(
        lambda e: isinstance(e, sp.Subs) and all(isinstance(p, sp.Symbol) for p in e.point)
        and len(set(e.point)) == len(e.point)
        and all(v == p or p not in e.expr.free_symbols for v, p in zip(e.variables, e.point)),
        lambda e: e.expr.xreplace(dict(zip(e.variables, e.point))),
    )
    if not applications:
        return expr
    primes = {}
    for derivative in expr.atoms(sp.Derivative):
        target = applications.get(derivative.expr)
        if target is None or len(derivative.expr.args) != 1 or set(derivative.variables) != {derivative.expr.args[0]}:
            continue
        primes[derivative] = sp.Symbol(target.name + "'" * len(derivative.variables))
    return expr.xreplace(primes).subs(applications)


def _readable_summation_letters(expr):
    """Canonical summation dummies (_k0, _k1) become letters not otherwise used (k, m, p, ...)."""
    import sympy as sp

    dummies = sorted({s for s in expr.atoms(sp.Symbol) if s.name.startswith("_k")}, key=lambda s: s.name)
    if not dummies:
        return expr
    taken = {s.name for s in expr.free_symbols} | {str(i.base) for i in expr.atoms(sp.Indexed)}
    letters = [c for c in ("k", "m", "p", "q", "r", "s", "l") if c not in taken]
    renaming = {d: sp.Symbol(letter, integer=True) for d, letter in zip(dummies, letters)}
    return expr.xreplace(renaming)


def fold_definitions(expr, context, resolver):
    """For display: write resolved definitions back as the writer's names.

    A defined sum (``Z = \\sum_k \\exp(x_k)``) becomes Z again, and an indexed
    definition with one exponential (``y_j = \\exp(x_j)/Z``) turns ``exp(x_i)``
    back into ``y_i Z``; then sums are tidied (constants pulled out).
    """
    import sympy as sp

    for symbol in list(context.definitions):
        body = resolver.full(symbol)
        if isinstance(body, (sp.Sum, sp.Product)):
            expr = expr.replace(lambda e, body=body: _same_bound_expression(e, body), lambda e, symbol=symbol: symbol)
        elif isinstance(body, sp.Add) and body.is_polynomial() and not body.has(sp.Indexed):
            expr = expr.subs(body, symbol)  # u = w x + b: show u
    for name, (indices, template) in context.indexed_definitions.items():
        if len(indices) != 1:
            continue
        index = indices[0]
        kernels = [k for k in template.atoms(sp.exp) if index in k.free_symbols]
        if len(kernels) != 1:
            continue
        marker = sp.Dummy("m")
        placeholder = sp.IndexedBase(name, real=True)[index]
        solutions = sp.solve(sp.Eq(template.xreplace({kernels[0]: marker}), placeholder), marker)
        if len(solutions) != 1:
            continue
        wild = sp.Wild("w")
        expr = expr.replace(kernels[0].xreplace({index: wild}), solutions[0].xreplace({index: wild}))
    return normalize_sums(expr)


def _same_bound_expression(candidate, target) -> bool:
    """Equal up to the names of the summation variables."""
    if type(candidate) is not type(target) or len(candidate.limits) != len(target.limits):
        return False
    renaming = {}
    for (v1, a1, b1), (v2, a2, b2) in zip(candidate.limits, target.limits):
        if a1 != a2 or b1 != b2:
            return False
        renaming[v1] = v2
    return candidate.function.xreplace(renaming) == target.function

"""Decide one reading of one step: proved / holds / false (with a checked counterexample) / unchecked.

Order of work (the caller bounds the CPU time): substitute declarations and
evaluate derivatives, apply the step's restrictions (index conditions,
equality facts the proof may use), try a cheap exact proof (expand), decide a
rational difference exactly, then a vectorised numeric comparison on samples
where every restriction holds; a mismatch becomes a counterexample with
simple functions and a simple point, confirmed at 50 digits and substituted
back into every restriction before ``false`` is returned; agreement is
followed by costlier exact rewrites (proved), or reported as ``holds``.

A step whose derivative passes through a kink (ReLU, max, min, |x|, sign) is
never *proved*: SymPy's derivative there is a convention (Heaviside(0) = 1/2),
so agreement is reported as ``holds`` away from the kink.
"""

from __future__ import annotations

from dataclasses import dataclass

from symderiv.numeric.precision import HIGH_PRECISION_DIGITS
from symderiv.writeup import numeric, symbolic
from symderiv.writeup.conditions import StepRestrictions
from symderiv.writeup.counterexamples import (Search, counterexample, high_precision_probe, rational_counterexample,
                                              simplified_rational_counterexample)
from symderiv.writeup.latex_parser import Unsupported
from symderiv.writeup.report import FALSE, HOLDS, PROVED, UNCHECKED
from symderiv.writeup.resolve import Resolver


@dataclass
class Outcome:
    verdict: str
    reason: str
    counterexample: object = None
    difference: object = None  # lhs - rhs (SymPy) for display
    kind: str = ""  # reason category


def judge(lhs_surface, rhs_surface, context, restrictions: StepRestrictions, rng) -> Outcome:
    import sympy as sp

    resolver = Resolver(context)
    lhs = resolver.full(lhs_surface)
    rhs = resolver.full(rhs_surface)
    check_degrees(lhs, rhs)
    for side in (lhs, rhs):
        if side.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise Unsupported("a side is infinite or undefined (a division by zero or log of 0?)", kind="undefined")
    both = bare_and_applied(lhs, rhs)
    if both:
        name = sorted(both)[0]
        raise Unsupported(f"{name} is used both as a function {name}(...) and as a variable; "
                          f"declare it with --let to say which", kind="function or variable")
    kinked = resolver.kinked or any(side.has(sp.Heaviside, sp.DiracDelta) for side in (lhs, rhs))
    restrictions = _without_identities(_resolved(restrictions, resolver).relevant([lhs, rhs]), context)
    pairs = _pairs(lhs, rhs)
    assumed: set = set()
    index_conditions = restrictions.index_tuples()
    prepared = [(restrictions.rewrite(symbolic.prepare(l, index_conditions, assumed)),
                 restrictions.rewrite(symbolic.prepare(r, index_conditions, assumed))) for l, r in pairs]
    assumption = f" (assuming {', '.join(sorted(assumed))})" if assumed else ""
    search = Search(context, rng, restrictions)
    outcome = _decide_prepared(prepared, search, restrictions, rng, assumption)
    if kinked and outcome.verdict == PROVED:
        return Outcome(HOLDS, "equal wherever the derivative exists; not proved, because a derivative passes "
                       "through a kink (ReLU, max, min, |x| or sign) where it is not defined", kind="kink")
    return outcome


def _decide_prepared(prepared, search: Search, restrictions: StepRestrictions, rng, assumption: str) -> Outcome:
    if all(symbolic.quick_zero(l - r) for l, r in prepared):
        return Outcome(PROVED, "exact: the difference expands to 0" + assumption + _using(restrictions), kind="proved")
    # A nonzero rational function of plain variables is not identically zero, however small
    # its coefficients (x versus x + 10^{-30} x): decide it exactly, with an exact counterexample.
    exact = rational_counterexample(prepared, search)
    if exact is not None:
        return Outcome(FALSE, "exact: lhs - rhs is a nonzero rational function; counterexample in exact rational "
                       "arithmetic", exact[0], exact[1], "false")
    positive = restrictions.positive_symbols()
    if all(symbolic.rational_zero((l - r).xreplace(positive)) for l, r in prepared):
        return Outcome(PROVED, "exact: the difference simplifies to 0" + assumption + _using(restrictions),
                       kind="proved")
    functions = numeric.abstract_functions([e for pair in prepared for e in pair])
    templates, coefficients = numeric.generic_templates(functions)
    index_conditions = restrictions.index_tuples()
    # sizes and indices of the facts count too: \sum_{k=1}^{n} t_k = 1 needs a value of n
    restricted = [side for r in restrictions.equalities + restrictions.inequalities for side in (r.lhs, r.rhs)]
    configuration_list = numeric.configurations([e for pair in prepared for e in pair] + restricted,
                                                index_conditions, rng)
    if not configuration_list:
        raise Unsupported("no index values satisfy the condition", kind="condition")
    outcome = numeric.compare(prepared, templates, coefficients, configuration_list, rng, restrictions)
    if not outcome.agree:
        found = counterexample(prepared, functions, configuration_list, search, templates, coefficients)
        if found is None:
            return Outcome(UNCHECKED, "float64 evaluation disagrees but no counterexample was confirmed at "
                           f"{HIGH_PRECISION_DIGITS} digits where every condition holds", kind="no counterexample")
        worst = next((l - r for l, r in prepared if not symbolic.quick_zero(l - r)), None)
        return Outcome(FALSE, f"counterexample verified at {HIGH_PRECISION_DIGITS} digits", found, worst, "false")
    if outcome.undefined:
        if restrictions.equalities:
            listed = "; ".join(r.shown() for r in restrictions.equalities)
            return Outcome(UNCHECKED, f"cannot sample where {listed} holds (it is solved for no variable), and no "
                           "exact proof used it", kind="condition")
        why = "no sample satisfies the conditions" if restrictions.inequalities \
            else "both sides are undefined (or complex) at every sampled point"
        return Outcome(UNCHECKED, why, kind="undefined")
    simplified = [symbolic.thorough_difference((l - r).xreplace(positive)) for l, r in prepared]
    if all(d == 0 for d in simplified):
        return Outcome(PROVED, "exact: the difference simplifies to 0" + assumption + _using(restrictions),
                       kind="proved")
    # sin^2 + cos^2 versus 1 + 10^{-45}: the difference simplifies to a nonzero rational
    # function, which decides the step even where 50 digits cannot show it.
    decided = simplified_rational_counterexample(prepared, simplified, search) if not positive else None
    if decided is not None:
        return Outcome(FALSE, "exact: lhs - rhs simplifies to a nonzero rational function", decided[0], decided[1],
                       "false")
    # float64 agreement cannot see a relative difference below its tolerance; probe a few
    # points with 50-digit arithmetic before saying "holds".
    found, probed = high_precision_probe(prepared, functions, configuration_list, search, templates, coefficients)
    if found is not None:
        worst = next((l - r for l, r in prepared if not symbolic.quick_zero(l - r)), None)
        return Outcome(FALSE, f"counterexample verified at {HIGH_PRECISION_DIGITS} digits (below float64 resolution)", found,
                       worst, "false")
    return Outcome(HOLDS, holds_reason(outcome, functions, probed) + _using(restrictions), kind="holds")


def _using(restrictions: StepRestrictions) -> str:
    used = [r.shown() for r in restrictions.items if r.kind in ("equal", "inequality", "index")]
    return f" [under {'; '.join(used)}]" if used else ""


def _resolved(restrictions: StepRestrictions, resolver: Resolver) -> StepRestrictions:
    from symderiv.writeup.conditions import Restriction

    items = []
    for restriction in restrictions.items:
        if restriction.lhs is None or restriction.kind == "index":
            items.append(restriction)
            continue
        items.append(Restriction(restriction.text, restriction.origin, restriction.kind, restriction.relation,
                                 resolver.full(restriction.lhs), resolver.full(restriction.rhs), restriction.reason))
    return StepRestrictions(items)


def _without_identities(restrictions: StepRestrictions, context) -> StepRestrictions:
    """An equality fact that the declarations already make an identity restricts nothing: drop it
    (solving it for a variable at every sampled size would only cost time)."""
    cache = context.__dict__.setdefault("_identity_cache", {})
    kept = []
    for restriction in restrictions.items:
        if restriction.kind == "equal":
            difference = restriction.lhs - restriction.rhs
            if difference not in cache:
                cache[difference] = _identically_zero(difference)
            if cache[difference]:
                continue
        kept.append(restriction)
    return StepRestrictions(kept)


def _identically_zero(difference) -> bool:
    """Exact: zero with every sum replaced by an independent symbol (so zero whatever the sums are)."""
    import sympy as sp

    if symbolic.quick_zero(difference):
        return True
    opaque = difference.xreplace({s: sp.Dummy("S", real=True) for s in difference.atoms(sp.Sum, sp.Product)})
    return symbolic.thorough_difference(opaque) == 0


def check_degrees(*exprs) -> None:
    """(x+1)^{60} raised to 60 is (x+1)^{3600} after SymPy combines powers: refuse before expanding."""
    import sympy as sp

    from symderiv.writeup.meaning import MAX_NUMERIC_EXPONENT

    for expr in exprs:
        entries = list(expr) if getattr(expr, "is_Matrix", False) else [expr]
        for entry in entries:
            for power in entry.atoms(sp.Pow):
                exponent = power.exp
                if exponent.is_Number and abs(exponent) > MAX_NUMERIC_EXPONENT and not power.base.is_Symbol:
                    raise Unsupported(f"power with exponent {exponent} (limit {MAX_NUMERIC_EXPONENT}) after "
                                      "combining powers", kind="too large")


def holds_reason(outcome, functions, probed: int = 0) -> str:
    parts = [f"equal at {outcome.samples} random points"]
    if probed:
        parts[0] += f" (and at {probed} rational point{'s' if probed > 1 else ''} with {HIGH_PRECISION_DIGITS}-digit arithmetic)"
    if functions:
        parts.append("each with its own random instantiation of " + ", ".join(sorted(f.__name__ for f in functions)))
    sizes = [f"{symbol} = {value}" for symbol, value in sorted(
        {(symbol, value) for configuration in outcome.configurations
         for symbol, value in configuration.values if not symbol.is_integer}, key=lambda sv: (str(sv[0]), sv[1]))]
    if sizes:
        parts.append("for " + ", ".join(sizes))
    return "; ".join(parts) + " (no exact proof found)"


def _pairs(lhs, rhs):
    lhs_matrix = getattr(lhs, "is_Matrix", False)
    rhs_matrix = getattr(rhs, "is_Matrix", False)
    if lhs_matrix != rhs_matrix:
        raise Unsupported("one side is a matrix and the other is not", kind="matrix")
    if lhs_matrix:
        if lhs.shape != rhs.shape:
            raise Unsupported(f"matrix shapes differ: {lhs.shape} vs {rhs.shape}", kind="matrix")
        return list(zip(list(lhs), list(rhs)))
    return [(lhs, rhs)]


def bare_and_applied(*exprs) -> set:
    """Names used both as a function ``h(...)`` and as a plain variable ``h``."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    applied, bare = set(), set()
    for expr in exprs:
        if not isinstance(expr, sp.Basic):
            continue
        applied |= {a.func.__name__ for a in expr.atoms(AppliedUndef)}
        bare |= {s.name for s in expr.free_symbols if isinstance(s, sp.Symbol) and not s.is_integer}
    return applied & bare


def invert_for_inequality(outcome: Outcome) -> Outcome:
    if outcome.verdict == PROVED:
        return Outcome(FALSE, "the two sides are identically equal", kind="false")
    if outcome.verdict == HOLDS:
        return Outcome(FALSE, "the two sides agree numerically everywhere sampled (" + outcome.reason + ")",
                       kind="false")
    if outcome.verdict == FALSE:
        return Outcome(PROVED, "the sides differ at a verified point", kind="proved")
    return Outcome(outcome.verdict, outcome.reason, kind=outcome.kind)

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

from symderiv.algebra.decide import Sampled, decide, inverted
from symderiv.algebra.instantiation import abstract_functions, generic_templates
from symderiv.algebra.verdict import StepVerdict
from symderiv.algebra.zero import Grade, zero_test
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
    if outcome.verdict == HOLDS:
        beyond = beyond_kinks(prepared, restrictions)
        if beyond is not None:
            return Outcome(UNCHECKED, f"equal at every sampled point, but not at {beyond} (on the other side of a "
                           "kink of ReLU, max, min, |.| or sign): not equal everywhere", kind="kink")
    if kinked and outcome.verdict == PROVED:
        return Outcome(HOLDS, "equal wherever the derivative exists; not proved, because a derivative passes "
                       "through a kink (ReLU, max, min, |x| or sign) where it is not defined", kind="kink")
    return outcome


def _decide_prepared(prepared, search: Search, restrictions: StepRestrictions, rng, assumption: str) -> Outcome:
    setting = _WriteupSetting(prepared, search, restrictions, rng, assumption)
    decided = decide("=", setting)
    difference = setting.difference if decided.verdict == FALSE else None
    return Outcome(decided.verdict, decided.reason, decided.counterexample, difference, decided.reason_kind)


class _WriteupSetting:
    """A step of a writeup, as :func:`symderiv.algebra.decide.decide` sees it: its prepared (lhs, rhs)
    pairs, samples drawn where every restriction holds, and the counterexample searches of
    :mod:`symderiv.writeup.counterexamples` (each confirmed, with every restriction checked)."""

    def __init__(self, prepared, search: Search, restrictions: StepRestrictions, rng, assumption: str):
        self.prepared, self.search, self.restrictions, self.rng = prepared, search, restrictions, rng
        self.assumption = assumption
        self.positive = restrictions.positive_symbols()
        self.difference = None  # lhs - rhs of a false step, for display
        self._remainders: list = []
        self._compared = None

    def zero(self, grade: Grade) -> bool:
        if grade == Grade.EXPAND:
            return all(zero_test(l - r, up_to=grade).proved for l, r in self.prepared)
        tests = [zero_test((l - r).xreplace(self.positive), up_to=grade) for l, r in self.prepared]
        self._remainders = [test.remainder for test in tests]
        return all(test.proved for test in tests)

    def exact_counterexample(self):
        exact = rational_counterexample(self.prepared, self.search)
        if exact is None:
            return None
        example, self.difference = exact
        return example

    def sample(self) -> Sampled:
        functions = abstract_functions([e for pair in self.prepared for e in pair])
        templates, coefficients = generic_templates(functions)
        # sizes and indices of the facts count too: \sum_{k=1}^{n} t_k = 1 needs a value of n
        restricted = [side for r in self.restrictions.equalities + self.restrictions.inequalities
                      for side in (r.lhs, r.rhs)]
        configuration_list = numeric.configurations([e for pair in self.prepared for e in pair] + restricted,
                                                    self.restrictions.index_tuples(), self.rng)
        if not configuration_list:
            raise Unsupported("no index values satisfy the condition", kind="condition")
        self._compared = (functions, templates, coefficients, configuration_list)
        outcome = numeric.compare(self.prepared, templates, coefficients, configuration_list, self.rng,
                                  self.restrictions)
        return Sampled(0 if outcome.undefined else max(outcome.samples, 1), outcome.agree, detail=outcome)

    def counterexample(self, sampled: Sampled):
        functions, templates, coefficients, configuration_list = self._compared
        found = counterexample(self.prepared, functions, configuration_list, self.search, templates, coefficients)
        self.difference = _first_difference(self.prepared)
        return found

    def remainder_counterexample(self):
        if self.positive:
            return None
        decided = simplified_rational_counterexample(self.prepared, self._remainders, self.search)
        if decided is None:
            return None
        example, self.difference = decided
        return example

    def probe(self):
        functions, templates, coefficients, configuration_list = self._compared
        found, probed = high_precision_probe(self.prepared, functions, configuration_list, self.search, templates,
                                             coefficients)
        self.difference = _first_difference(self.prepared)
        return found, probed

    def qualifier(self, exact: bool) -> str:
        return (self.assumption if exact else "") + _using(self.restrictions)

    def undefined_reason(self) -> tuple[str, str]:
        if self.restrictions.equalities:
            listed = "; ".join(r.shown() for r in self.restrictions.equalities)
            return (f"cannot sample where {listed} holds (it is solved for no variable), and no exact proof used it",
                    "condition")
        if self.restrictions.inequalities:
            return "no sample satisfies the conditions", "undefined"
        return "both sides are undefined (or complex) at every sampled point", "undefined"

    def holds_reason(self, sampled: Sampled, probed: int) -> str:
        return holds_reason(sampled.detail, self._compared[0], probed)


def _first_difference(prepared):
    """lhs - rhs of the first pair not shown equal by expansion (for display)."""
    return next((l - r for l, r in prepared if not zero_test(l - r, up_to=Grade.EXPAND).proved), None)


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

    if zero_test(difference, up_to=Grade.EXPAND).proved:
        return True
    opaque = difference.xreplace({s: sp.Dummy("S", real=True) for s in difference.atoms(sp.Sum, sp.Product)})
    return zero_test(opaque).proved


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
    """``lhs \\neq rhs`` from the outcome of ``lhs = rhs`` (the rule of :func:`symderiv.algebra.decide.inverted`)."""
    equal = StepVerdict(relation="=", verdict=outcome.verdict, reason=outcome.reason, reason_kind=outcome.kind,
                        counterexample=outcome.counterexample)
    decided = inverted(equal)
    return Outcome(decided.verdict, decided.reason, kind=decided.reason_kind)


NEQ_MEANING = ("a \\neq b is read as \"a and b are never equal\" (for every value of its variables, under the "
               "step's conditions)")


def differs_everywhere(lhs_surface, rhs_surface, context, outcome: Outcome) -> Outcome:
    """``a \\neq b`` whose sides differ somewhere: proved only if they differ for *every* value.

    Decided exactly when ``lhs - rhs`` is a nonzero number, or a rational function of one real
    variable whose numerator has no real root (then it never vanishes); a real root is a point where
    the sides are equal: the step is unchecked with that point. Anything else is unchecked."""
    import sympy as sp

    resolver = Resolver(context)
    difference = sp.together(resolver.full(lhs_surface) - resolver.full(rhs_surface))
    if difference.is_number:
        if difference.is_zero is False:
            return Outcome(PROVED, "the sides differ (their difference is a nonzero number)", kind="proved")
        return Outcome(UNCHECKED, "the sides are not proved to differ", kind="inequality")
    variables = sorted(difference.free_symbols, key=str)
    numerator, _ = sp.fraction(difference)
    if len(variables) == 1 and numerator.is_polynomial(variables[0]):
        variable = variables[0]
        polynomial = sp.Poly(numerator, variable)
        if polynomial.degree() <= 12:
            roots = sp.real_roots(polynomial)
            if not roots:
                return Outcome(PROVED, f"the sides differ for every real {sp.latex(variable)} (their difference "
                               "never vanishes)", kind="proved")
            return Outcome(UNCHECKED, f"the sides differ somewhere but are equal at {sp.latex(variable)} = "
                           f"{sp.latex(roots[0])}: true only if \\neq means 'not identically equal'",
                           kind="inequality")
    return Outcome(UNCHECKED, outcome.reason + "; whether they differ for every value is not decided "
                   "(\\neq is read as 'never equal')", kind="inequality")


KINK_OFFSETS = ("1/2", "2", "-1/2", "-2", "1/1000", "-1/1000")


def beyond_kinks(prepared, restrictions: StepRestrictions) -> str | None:
    """A point on either side of a kink (ReLU, max, min, |.|, sign, a step) where the sides differ.

    Random samples lie in a fixed range, so ``ReLU(x - 2) = 0`` agrees at all of them. Each kink
    ``g(v) = 0`` linear in one variable ``v`` (the others at fixed simple values) is located exactly and
    the difference is evaluated at 50 digits on both sides of it, at points where every restriction
    holds. Returns the point as LaTeX, or None."""
    import itertools

    import sympy as sp
    from sympy.core.function import AppliedUndef

    for lhs, rhs in prepared:
        difference = lhs - rhs
        if difference.has(AppliedUndef, sp.Sum, sp.Product, sp.Derivative, sp.Indexed):
            continue
        kinks = [atom.args[0] for atom in difference.atoms(sp.Heaviside, sp.Abs, sp.sign, sp.DiracDelta)]
        kinks += [a - b for atom in difference.atoms(sp.Max, sp.Min) for a, b in itertools.combinations(atom.args, 2)]
        symbols = sorted(difference.free_symbols, key=str)
        if not kinks or not symbols or len(symbols) > 6 or any(s.is_integer for s in symbols):
            continue
        base = {symbol: sp.Rational(3 + 2 * k, 10) for k, symbol in enumerate(symbols)}
        for kink, variable in itertools.product(kinks[:20], symbols):
            others = {s: base[s] for s in symbols if s != variable}
            equation = sp.expand(kink.xreplace(others))
            if not equation.has(variable) or not equation.is_polynomial(variable) \
                    or sp.degree(equation, variable) != 1:
                continue
            root = sp.solve(equation, variable)
            if len(root) != 1 or not root[0].is_Rational:
                continue
            for offset in KINK_OFFSETS:
                point = dict(others)
                point[variable] = root[0] + sp.Rational(offset)
                if _differs_at(difference, point, restrictions):
                    return ", ".join(f"{sp.latex(s)} = {sp.latex(point[s])}" for s in symbols)
    return None


def _differs_at(difference, point: dict, restrictions: StepRestrictions) -> bool:
    import sympy as sp

    for restriction in restrictions.items:
        if restriction.kind in ("index", "unread", "quantifier") or restriction.lhs is None:
            continue
        gap = sp.N((restriction.lhs - restriction.rhs).xreplace(point), 50)
        if not gap.is_real:
            return False
        holds = {"eq": abs(gap) < 1e-40, "ne": abs(gap) > 1e-40, "lt": gap < 0, "le": gap <= 0, "gt": gap > 0,
                 "ge": gap >= 0}.get(restriction.relation, False)
        if not holds:
            return False
    value = sp.N(difference.xreplace(point), 50)
    return bool(value.is_real and abs(value) > sp.Float("1e-30"))

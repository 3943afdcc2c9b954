"""Counterexamples a person can check by hand, and only where every restriction of the step holds.

Contract: every function here returns either nothing or a point (plus simple
instantiations of the abstract functions) at which the two sides differ,
confirmed in exact rational arithmetic or with 50-digit arithmetic, and at
which every condition, fact and assumption of the step holds (checked by
substituting the point back, :func:`symderiv.writeup.conditions.holds_exactly`).
The functions, the exact rational search and the 50-digit confirmation are the
witness layer's (:mod:`symderiv.algebra.instantiation`,
:func:`symderiv.algebra.witness.rational_counterexample`,
:func:`symderiv.algebra.witness.evaluate_exactly`), the same as the proof
checker's; this module adds the step's restrictions and sizes, and LaTeX.
Variables fixed by an equality fact (``\\sum_k t_k = 1`` solved for one ``t``) are
reported with their values. Sums are written out with the reader's convention
(an empty sum is 0), never SymPy's signed one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from symderiv.numeric.precision import HIGH_PRECISION_DIGITS
from symderiv.numeric.tolerance import SAMPLED_CLEAR_DIFFERENCE, SAMPLED_IDENTITY_TOLERANCE, sampled_difference
from symderiv.writeup import numeric
from symderiv.writeup.conditions import StepRestrictions, holds_exactly
from symderiv.writeup.printing import to_latex
from symderiv.algebra import instantiation, witness
from symderiv.algebra.verdict import Counterexample
from symderiv.algebra.witness import SIMPLE_VALUES, evaluate_exactly, numbers, plain_name
from symderiv.algebra.zero import is_plain_rational

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
        instantiated = lambda e: instantiation.instantiate(e, templates)  # noqa: E731
        concretize = lambda e: numeric.concretize(e, configuration)  # noqa: E731
        try:
            concrete = [(concretize(instantiated(l)), concretize(instantiated(r))) for l, r in pairs]
            equalities, inequalities = self.restrictions.concrete(instantiated, concretize)
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

    Applies only to sides built from rational numbers and plain variables (x, or x_1 with a
    numeric index), and only to steps without real conditions or facts; abstract functions,
    sums, deltas, symbolic indices, radicals and transcendental functions are left to the other
    methods. The point is the witness layer's exact search, random integer points after the
    simple grid."""
    if not search.unrestricted:
        return None
    for lhs, rhs in pairs:
        if not (is_plain_rational(lhs) and is_plain_rational(rhs)):
            continue
        found = witness.rational_counterexample(lhs=lhs, rhs=rhs, rng=search.rng, random_points=RATIONAL_RANDOM_POINTS,
                                              **_shown(search))
        if found is not None:
            return found, lhs - rhs
    return None


def simplified_rational_counterexample(pairs, simplified, search: Search):
    """A point where the simplified difference is nonzero and both sides are finite and real: the
    sides' own values confirm the difference there (a rewrite valid only generically proves
    nothing), so the step is false however small the difference."""
    if not search.unrestricted:
        return None
    for (lhs, rhs), difference in zip(pairs, simplified):
        if difference == 0 or not is_plain_rational(difference):
            continue
        found = witness.rational_counterexample(lhs=lhs, rhs=rhs, difference=difference, **_shown(search))
        if found is not None:
            return found, difference
    return None


def _shown(search: Search) -> dict:
    """How a writeup prints an exact counterexample: names and values in LaTeX (x[1] as x_{1})."""
    import sympy as sp

    def name(variable) -> str:
        return plain_name(variable) if isinstance(variable, sp.Indexed) or "{" in str(variable) else to_latex(variable)

    return {"name": name, "value": to_latex, "restrictions": search.shown_restrictions()}


def counterexample(pairs, functions, configuration_list, search: Search, generic, coefficients):
    # simple functions first, then members of the generic family with small rational coefficients
    for templates in instantiation.candidate_templates(functions, search.rng, family=(generic, coefficients)):
        for configuration in configuration_list:
            found = search_point(pairs, templates, configuration, search)
            if found is not None:
                return describe(found, templates, configuration, search)
    return None


def high_precision_probe(pairs, functions, configuration_list, search: Search, generic, coefficients):
    import sympy as sp

    candidates = instantiation.candidate_templates(functions, search.rng, simple=2, drawn=1, family=(generic, coefficients))
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


def describe(found, templates, configuration, search: Search) -> Counterexample:
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
    return Counterexample(functions=tuple(functions), point=tuple(shown), lhs_value=left_text, rhs_value=right_text,
                          precision_digits=HIGH_PRECISION_DIGITS, restrictions=search.shown_restrictions())

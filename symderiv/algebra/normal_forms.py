"""Exact normal forms used by the proof checker.

Each normal form turns an expression into a rational function of independent
atoms, so that "step == previous step" becomes "the difference cancels to 0",
a decidable test (the rational grade of :func:`symderiv.algebra.zero.zero_test`:
``expand`` / ``cancel``) rather than a blind ``simplify``.

- ``jets``: undefined functions and their derivatives become *jet atoms*,
  ``f_{(1,0)}(g(x), h(x))`` for ``∂f/∂y`` taken at ``(g(x), h(x))``. Mixed
  partials are stored by multi-index, so ``f_yz = f_zy`` (f is C²).
- ``softmax``: the ring of :mod:`symderiv.algebra.softmax_ring` first; outside
  it, ``exp(x_k) -> e_k`` and ``Σ_k exp(x_k) -> Z`` (an atom), and
  ``∂/∂x_i`` acts on that form by ``D_i G = e_i (∂G/∂e_i + ∂G/∂Z) + ∂G/∂x_i``,
  which is the chain rule without ever differentiating the n-term sum.
- ``indexed``: symbolic n. Derivatives of indexed sums are taken by SymPy
  (``∂x_k/∂x_i = δ_ki``); then the range-aware normal form of
  :mod:`symderiv.algebra.indexed_sums` (``Σ_k δ_ki a_k = a_i`` only for an
  index i known to lie in range), and the remaining sums are atoms.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import sympy as sp
from sympy.core.function import AppliedUndef, UndefinedFunction

from symderiv.algebra.softmax_ring import NotPolynomial, SoftmaxRing


def _entries(expr) -> list:
    if isinstance(expr, sp.MatrixBase):
        return list(expr)
    return [expr]


# --------------------------------------------------------------------- jets


@lru_cache(maxsize=None)
def _jet_function(name: str, counts: tuple[int, ...]) -> UndefinedFunction:
    label = "".join(str(c) for c in counts)
    return sp.Function(f"{name}__jet{label}")


def _is_jet(expr) -> bool:
    return isinstance(expr, AppliedUndef) and "__jet" in expr.func.__name__


def _jet_of_derivative(derivative: sp.Derivative):
    applied = derivative.expr
    args = applied.args
    counts = [0] * len(args)
    for variable, count in derivative.variable_count:
        slots = [j for j, arg in enumerate(args) if arg == variable]
        if len(slots) != 1:
            return None
        if any(variable in arg.free_symbols for j, arg in enumerate(args) if j != slots[0]):
            return None
        counts[slots[0]] += int(count)
    return _jet_function(applied.func.__name__, tuple(counts))(*args)


def jet_normal_form(expr):
    """Undefined functions and their partial derivatives -> independent jet atoms."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(jet_normal_form)
    evaluated = expr.doit()
    return _jets(evaluated)


def _jets(expr):
    if not isinstance(expr, sp.Basic) or expr.is_Atom:
        return expr
    if _is_jet(expr):
        return expr
    if isinstance(expr, sp.Derivative) and isinstance(expr.expr, AppliedUndef):
        jet = _jet_of_derivative(expr)
        if jet is not None:
            return jet.func(*[_jets(a) for a in jet.args])
        return expr
    if isinstance(expr, AppliedUndef):
        zeros = (0,) * len(expr.args)
        return _jet_function(expr.func.__name__, zeros)(*[_jets(a) for a in expr.args])
    if isinstance(expr, sp.Subs):
        inner = _jets(expr.expr)
        return _jets(inner.xreplace(dict(zip(expr.variables, expr.point))))
    new_args = [_jets(a) for a in expr.args]
    if all(n is o for n, o in zip(new_args, expr.args)):
        return expr
    return expr.func(*new_args)


# ------------------------------------------------------------------ softmax


class SoftmaxForm:
    """The ``e_k / Z`` normal form for a fixed list of softmax inputs ``xs``."""

    def __init__(self, xs: Sequence[sp.Symbol], definitions=()):
        self.xs = tuple(xs)
        self._definitions = {name: meaning for name, meaning in definitions if isinstance(name, sp.Symbol)}
        n = len(self.xs)
        self.es = sp.symbols(f"e_1:{n + 1}", positive=True) if n > 1 else (sp.Symbol("e_1", positive=True),)
        self.Z = sp.Symbol("Z", positive=True)
        self._exp_to_e = {sp.exp(v): e for v, e in zip(self.xs, self.es)}
        self._x_index = {v: j for j, v in enumerate(self.xs)}
        self._cache: dict = {}

    def __call__(self, expr):
        if isinstance(expr, sp.MatrixBase):
            return expr.applyfunc(self)
        return self._convert(expr)

    def _convert(self, expr):
        if not isinstance(expr, sp.Basic) or (expr.is_Atom and not expr.is_Symbol):
            return expr
        cached = self._cache.get(expr)
        if cached is not None:
            return cached
        result = self._convert_uncached(expr)
        self._cache[expr] = result
        return result

    def _convert_uncached(self, expr):
        e = self._exp_to_e.get(expr)
        if e is not None:
            return e
        if expr.is_Symbol:
            meaning = self._definitions.get(expr)
            return expr if meaning is None else self._convert(meaning)
        if isinstance(expr, sp.exp):
            # exp(2·x_1 − x_2 + c) -> e_1²·e_2⁻¹·exp(c): SymPy merges exp(x_1)² into exp(2·x_1)
            factors, rest = [], []
            for term in sp.Add.make_args(sp.expand(expr.args[0])):
                coefficient, atom = term.as_coeff_Mul()
                if atom in self._x_index and coefficient.is_Integer:
                    factors.append(self.es[self._x_index[atom]] ** coefficient)
                else:
                    rest.append(term)
            if factors:
                return sp.Mul(*factors) * sp.exp(self._convert(sp.Add(*rest)))
        if isinstance(expr, sp.Add):
            terms = list(expr.args)
            exps = [t for t in terms if t in self._exp_to_e]
            if len(exps) == len(self.xs) and len(set(exps)) == len(self.xs):
                rest = [self._convert(t) for t in terms if t not in self._exp_to_e]
                return sp.Add(self.Z, *rest)
            return sp.Add(*[self._convert(t) for t in terms])
        if isinstance(expr, sp.Derivative):
            inner = self._convert(expr.expr)
            for variable, count in expr.variable_count:
                for _ in range(int(count)):
                    inner = self.derivative(inner, variable)
            return inner
        if isinstance(expr, sp.Subs):
            return self._convert(expr.doit())
        new_args = [self._convert(a) for a in expr.args]
        return expr.func(*new_args)

    def derivative(self, form, variable):
        """∂/∂x_i of an expression already in e/Z form (chain rule through e_k and Z)."""
        j = self._x_index.get(variable)
        if j is None:
            return sp.diff(form, variable)
        e_j = self.es[j]
        return e_j * (sp.diff(form, e_j) + sp.diff(form, self.Z)) + sp.diff(form, variable)

    def to_exponentials(self, form):
        """Back substitution ``Z = Σ e_k`` (used only when the atom test is inconclusive)."""
        return form.xreplace({self.Z: sp.Add(*self.es)})


def softmax_entries_equal(left, right, ring: SoftmaxRing | None, form: SoftmaxForm) -> bool:
    """One entry: the ring when both sides fit in it, else the e/Z expression form."""
    if ring is not None:
        try:
            if ring(left) == ring(right):
                return True
        except NotPolynomial:
            pass
    from symderiv.algebra.zero import Grade, zero_test

    difference = form(right) - form(left)
    if zero_test(difference, up_to=Grade.RATIONAL).proved:
        return True
    # Z as an independent atom is a stronger claim; fall back to Z = Σ e_k.
    return zero_test(form.to_exponentials(difference), up_to=Grade.RATIONAL).proved


# ------------------------------------------------------------------ indexed


def indexed_normal_form(expr, ranges: dict | None = None):
    """Symbolic-n normal form: derivatives evaluated, sums in the range-aware canonical form of
    :mod:`symderiv.algebra.indexed_sums` (``ranges``: the free indices' stated ranges)."""
    from symderiv.algebra.indexed_sums import canonical_sums, normalize_sums

    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda entry: indexed_normal_form(entry, ranges))
    with_derivatives = expr.replace(lambda e: isinstance(e, sp.Derivative), lambda e: e.doit(deep=False))
    return canonical_sums(normalize_sums(canonical_sums(with_derivatives), ranges=ranges))

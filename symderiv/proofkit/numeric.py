"""The numeric witness of the proof checker: every step evaluated at random points.

Abstract functions are instantiated by the witness layer
(:func:`symderiv.algebra.instantiation.drawn_templates`: a polynomial plus sin
and exp terms with small rational coefficients), so the witness exercises
SymPy's differentiation of *concrete* expressions — a different code path from
the jet normal form that gives the exact proof. First derivatives with respect
to a sampled variable are taken by the complex step
``Im F(x + i·h·e_v) / h`` (exact to rounding for analytic F; no subtractive
cancellation), which keeps large Jacobians (softmax, n = 32) cheap: each
function is lambdified once and evaluated in every direction. Evaluation is
vectorised: one numpy operation per expression node over all points.

Comparisons use the scaled error ``|a − b| / (1 + max(|a|, |b|))`` against
:data:`symderiv.numeric.tolerance.SAMPLED_IDENTITY_TOLERANCE`
(2**-30 ≈ 9.3e-10, with its reason there); a value counts as real where its
imaginary part is rounding (:func:`symderiv.numeric.tolerance.is_real`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy as sp

from symderiv.numeric.differences import central_difference, complex_step_derivative, complex_step_point
from symderiv.numeric.tolerance import is_real, sampled_difference

DEFAULT_DOMAIN = (-1.5, 1.5)


def atoms_of(expr, kind) -> set:
    """expr.atoms(kind), entry by entry for a matrix; empty for a non-SymPy value."""
    if isinstance(expr, sp.MatrixBase):
        out = set()
        for entry in expr:
            out |= entry.atoms(kind)
        return out
    return expr.atoms(kind) if isinstance(expr, sp.Basic) else set()


def free_symbols(expr) -> set[sp.Symbol]:
    if isinstance(expr, sp.MatrixBase):
        out: set = set()
        for entry in expr:
            out |= entry.free_symbols
        return out
    return set(expr.free_symbols) if isinstance(expr, sp.Basic) else set()


_UNARY = {
    sp.exp: np.exp,
    sp.log: np.log,
    sp.sin: np.sin,
    sp.cos: np.cos,
    sp.tan: np.tan,
    sp.tanh: np.tanh,
    sp.sinh: np.sinh,
    sp.cosh: np.cosh,
    sp.atan: np.arctan,
}


class _Environment:
    """Values of the sampled symbols (one array per symbol) and a memo of evaluated nodes."""

    def __init__(self, values: dict, definitions: dict):
        self.values = values
        self.definitions = definitions
        self.memo: dict = {}


class Evaluator:
    """Vectorised numeric values of (instantiated) step expressions at all sample points at once.

    Each node of the expression tree is one numpy operation over every point
    (memoised, so shared subexpressions such as Σ_k exp(x_k) are computed once);
    node kinds outside the table are compiled with ``lambdify``. Symbols with a
    definition are evaluated from it. A first derivative with respect to a
    sampled variable is the complex step of its argument: the whole
    environment (definitions included) is re-evaluated with that variable
    moved by ``i·COMPLEX_STEP``, so ∂y_k/∂x_i costs one pass, never a symbolic
    derivative of an n-term sum.
    """

    def __init__(
        self,
        sample: dict[sp.Symbol, np.ndarray],
        definitions: Sequence[tuple[sp.Symbol, sp.Expr]] = (),
        bound_variables: bool = True,
    ):
        self.sample = sample
        self.bound_variables = bound_variables  # whether expressions may contain Subs
        self.symbols = tuple(sorted(sample, key=lambda s: s.name))
        self.points = len(next(iter(sample.values()))) if sample else 1
        self.definitions = dict(definitions)
        self._base = _Environment({s: np.asarray(v, dtype=complex) for s, v in sample.items()}, self.definitions)
        self._perturbed: dict = {}
        self._safe_cache: dict = {}

    def values(self, expr) -> np.ndarray:
        """Shape (entries, points), complex; non-finite or complex results stay visible."""
        entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
        out = np.empty((len(entries), self.points), dtype=complex)
        with np.errstate(all="ignore"):
            for j, entry in enumerate(entries):
                entry = sp.sympify(entry)
                if self.bound_variables and entry.has(sp.Subs):
                    # a Subs binds its variables: evaluate it before sampling anything
                    entry = entry.replace(lambda e: isinstance(e, sp.Subs), lambda e: e.doit())
                out[j] = np.broadcast_to(self._eval(entry, self._base), (self.points,))
        # memory stays bounded by one step's nodes (points can be 10⁵)
        self._base.memo.clear()
        self._perturbed.clear()
        return out

    def _perturbed_environment(self, variable) -> _Environment:
        environment = self._perturbed.get(variable)
        if environment is None:
            values = dict(self._base.values)
            values[variable] = complex_step_point(values[variable])
            environment = _Environment(values, self.definitions)
            self._perturbed.clear()  # keep one direction at a time: bounded memory
            self._perturbed[variable] = environment
        return environment

    def _eval(self, expr, env: _Environment):
        cached = env.memo.get(expr)
        if cached is not None:
            return cached
        value = self._eval_node(expr, env)
        env.memo[expr] = value
        return value

    def _eval_node(self, expr, env: _Environment):
        if expr.is_Symbol:
            if expr in env.values:
                return env.values[expr]
            meaning = env.definitions.get(expr)
            if meaning is not None:
                return self._eval(meaning, env)
            raise ValueError(f"no value for symbol {expr}")
        if expr.is_Number or expr.is_NumberSymbol:
            return complex(expr)
        if isinstance(expr, sp.Add):
            total = 0
            for arg in expr.args:
                total = total + self._eval(arg, env)
            return total
        if isinstance(expr, sp.Mul):
            product = 1
            for arg in expr.args:
                product = product * self._eval(arg, env)
            return product
        if isinstance(expr, sp.Pow):
            base = self._eval(expr.base, env)
            exponent = expr.exp
            if exponent.is_Integer:
                return base ** int(exponent)
            if exponent == sp.S.Half:
                return np.sqrt(base)
            return base ** self._eval(exponent, env)
        function = _UNARY.get(expr.func)
        if function is not None:
            return function(self._eval(expr.args[0], env))
        if isinstance(expr, sp.Derivative):
            return self._derivative(expr, env)
        if isinstance(expr, sp.UnevaluatedExpr):
            return self._eval(expr.args[0], env)
        return self._fallback(expr, env)

    def _derivative(self, derivative: sp.Derivative, env: _Environment):
        if len(derivative.variable_count) == 1 and env is self._base:
            variable, count = derivative.variable_count[0]
            if variable in self.sample and self._complex_step_safe(derivative.expr):
                inner = derivative.expr
                if count > 1:
                    inner = sp.diff(self._unfold(inner), variable, int(count) - 1)
                shifted = self._eval(inner, self._perturbed_environment(variable))
                return complex_step_derivative(shifted)
        evaluated = self._unfold(derivative).doit()
        if not evaluated.has(sp.Derivative):
            return self._eval(evaluated, env)
        # SymPy left a derivative it cannot take (e.g. of Abs for a complex symbol)
        return self._central_difference(derivative, env)

    def _central_difference(self, derivative: sp.Derivative, env: _Environment):
        """First derivative by :func:`~symderiv.numeric.differences.central_difference`
        (no higher derivative is known here: its bound comes from a half step);
        NaN where the estimate is inconclusive, so the point decides nothing."""
        if len(derivative.variable_count) != 1 or derivative.variable_count[0][1] != 1:
            return np.full(self.points, np.nan + 0j)
        variable = derivative.variable_count[0][0]
        if variable not in env.values or derivative.expr.has(sp.Derivative):
            return np.full(self.points, np.nan + 0j)
        point = np.broadcast_to(env.values[variable], (self.points,))
        evaluated: dict[bytes, np.ndarray] = {}  # the stencil's values serve as its rounding scale too

        def at(real_part):
            key = np.asarray(real_part, dtype=np.float64).tobytes()
            if key not in evaluated:
                shifted = dict(env.values)
                shifted[variable] = real_part + 1j * point.imag
                evaluated[key] = np.broadcast_to(
                    self._eval(derivative.expr, _Environment(shifted, env.definitions)), (self.points,))
            return evaluated[key]

        estimate = central_difference(at, point.real, 1, value_scale=lambda real_part: np.abs(at(real_part)))
        return np.where(estimate.conclusive, estimate.value, np.nan + 0j)

    def _complex_step_safe(self, expr) -> bool:
        """The complex step needs an analytic expression: only + · ^ and the table's functions."""
        cached = self._safe_cache.get(expr)
        if cached is None:
            unfolded = self._unfold(expr)
            cached = not unfolded.has(sp.Derivative, sp.Subs) and all(
                type(f) in _UNARY for f in unfolded.atoms(sp.Function)
            )
            self._safe_cache[expr] = cached
        return cached

    def _unfold(self, expr):
        if not self.definitions:
            return expr
        for _ in range(10):
            replaced = expr.xreplace(self.definitions)
            if replaced == expr:
                break
            expr = replaced
        return expr

    def _fallback(self, expr, env: _Environment):
        symbols = sorted(expr.free_symbols, key=lambda s: s.name)
        function = sp.lambdify(symbols, expr, modules="numpy", docstring_limit=0)
        return np.asarray(function(*[self._eval(s, env) for s in symbols]), dtype=complex)


def valid_points(values: np.ndarray) -> np.ndarray:
    """Per point: every entry finite and real (else the point lies outside the domain)."""
    return is_real(values).all(axis=0)


def scaled_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a − b| / (1 + max(|a|, |b|)); non-finite or complex values count as infinite error."""
    error = sampled_difference(a, b)
    return np.where(is_real(a) & is_real(b), error, np.inf)

"""One softmax ring: Problem 2's fixed-n proofs and the proof checker's softmax normal form.

Contract: with e_k = exp(x_k), W = 1/Z for Z = Σ_k exp(x_k) and L = log Z,
every quantity of the softmax backward rule (y_j = e_j W, the Jacobian, Jᵀu,
log-softmax) is a polynomial in Z[e_1..e_n, W, other symbols, L], and
differentiation by x_i is the chain rule

    D_i p = e_i ∂p/∂e_i − e_i W² ∂p/∂W + e_i W ∂p/∂L + ∂p/∂x_i

(de_i/dx_i = e_i, ∂Z/∂x_i = e_i, ∂W/∂Z = −W², ∂L/∂Z = W). W ↦ 1/Σ e_k is a
ring homomorphism, so equality of ring elements is equality as functions:
exact, and fast with sparse polynomials (n = 32 well under a second; no
``simplify``, no ``cancel``). Expressions outside the ring raise
:class:`NotPolynomial`, and the caller falls back to the zero test.
"""

from __future__ import annotations

from functools import cached_property
from typing import Sequence

import sympy as sp


class NotPolynomial(Exception):
    """The expression is outside the ring (a log of something else, another quotient)."""


class SoftmaxRing:
    """Fast path of the softmax form: a polynomial ring in e_k, W = 1/Z and the other symbols.

    ``Z = Σ e_k`` is itself a polynomial; its negative powers are powers of
    W. Equality in this ring implies equality as functions (W ↦ 1/Σ e_k is a
    ring homomorphism), and sparse-polynomial arithmetic makes n = 32 cheap.
    ``∂/∂x_i`` acts as ``D_i p = e_i ∂p/∂e_i − e_i W² ∂p/∂W + ∂p/∂x_i``.
    Expressions outside the ring (logs, other quotients) raise NotPolynomial.
    """

    def __init__(self, xs: Sequence[sp.Symbol], definitions, other_symbols: Sequence[sp.Symbol]):
        from sympy.polys.domains import ZZ
        from sympy.polys.rings import ring

        self.xs = tuple(xs)
        n = len(self.xs)
        es = [sp.Symbol(f"e_{k + 1}") for k in range(n)]
        W = sp.Symbol("W")
        L = sp.Symbol("L")  # log Z, with D_i L = e_i W (log-softmax)
        others = [s for s in sorted(set(other_symbols), key=lambda s: s.name) if s not in set(es) | {W, L}]
        self.ring, *gens = ring(es + [W] + others + [L], ZZ)  # integer coefficients: fast; others fall back
        self.L = gens[-1]
        gens = gens[:-1]
        self.e = gens[:n]
        self.W = gens[n]
        self.gen_of = {symbol: gen for symbol, gen in zip(others, gens[n + 1 :])}
        self._gen_index = {symbol: n + 1 + j for j, symbol in enumerate(others)}
        self.Z = sum(self.e, self.ring.zero)
        self.n = n
        #: the SymPy symbols of the generators, in order: e_1..e_n, W, the other symbols, L
        self.expr_symbols = (*es, W, *others, L)
        self._x_index = {v: j for j, v in enumerate(self.xs)}
        self._definitions = {name: meaning for name, meaning in definitions if isinstance(name, sp.Symbol)}
        self._cache: dict = {}

    @cached_property
    def _exp_sum(self):
        """Σ_k exp(x_k) as SymPy writes it (built on first use: Problem 2's proofs never need it)."""
        return sp.Add(*[sp.exp(v) for v in self.xs])

    def __call__(self, expr):
        cached = self._cache.get(expr)
        if cached is None:
            cached = self._convert(expr)
            self._cache[expr] = cached
        return cached

    def _convert(self, expr):
        R = self.ring
        if expr.is_Integer:
            return R(int(expr))
        if expr.is_Rational:
            raise NotPolynomial(expr)
        if expr.is_Symbol:
            meaning = self._definitions.get(expr)
            if meaning is not None:
                return self(meaning)
            gen = self.gen_of.get(expr)
            if gen is None:
                raise NotPolynomial(expr)
            return gen
        if isinstance(expr, sp.Add):
            if expr == self._exp_sum:
                return self.Z
            total = R.zero
            for arg in expr.args:
                total += self(arg)
            return total
        if isinstance(expr, sp.Mul):
            product = R.one
            for arg in expr.args:
                product *= self(arg)
            return product
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
            power = int(expr.exp)
            if power >= 0:
                return self(expr.base) ** power
            if expr.base == self._exp_sum:
                return self.W ** (-power)
            raise NotPolynomial(expr)
        if isinstance(expr, sp.log):
            return self._log(expr.args[0])
        if isinstance(expr, sp.exp):
            product = R.one
            for term in sp.Add.make_args(sp.expand(expr.args[0])):
                coefficient, atom = term.as_coeff_Mul()
                if atom in self._x_index and coefficient.is_Integer and coefficient >= 0:
                    product *= self.e[self._x_index[atom]] ** int(coefficient)
                elif atom in self._x_index and coefficient.is_Integer and len(self.xs) == 1:
                    raise NotPolynomial(expr)
                else:
                    raise NotPolynomial(expr)
            return product
        if isinstance(expr, sp.Derivative):
            value = self(expr.expr)
            for variable, count in expr.variable_count:
                for _ in range(int(count)):
                    value = self.derivative(value, variable)
            return value
        raise NotPolynomial(expr)

    def _log(self, argument):
        """log of a product of exp(·), Z and their powers, as ring elements (x_k and L = log Z)."""
        if argument == self._exp_sum:
            return self.L
        if isinstance(argument, sp.exp):
            return self(argument.args[0])
        if isinstance(argument, sp.Pow) and argument.exp.is_Integer:
            return int(argument.exp) * self._log(argument.base)
        if isinstance(argument, sp.Mul):
            total = self.ring.zero
            for factor in argument.args:
                total += self._log(factor)
            return total
        if argument == 1:
            return self.ring.zero
        raise NotPolynomial(sp.log(argument))

    def derivative(self, p, variable):
        j = self._x_index.get(variable)
        result = self.ring.zero
        gen_index = self._gen_index.get(variable)
        if gen_index is not None:
            result += self._diff(p, gen_index)
        if j is None:
            if gen_index is None and not variable.is_Symbol:
                raise NotPolynomial(variable)
            return result
        e_j = self.e[j]
        W_index = len(self.e)
        L_index = self.ring.ngens - 1
        return (
            result
            + e_j * self._diff(p, j)
            - e_j * self.W**2 * self._diff(p, W_index)
            + e_j * self.W * self._diff(p, L_index)
        )

    def _diff(self, p, i: int):
        """∂p/∂(generator i), by exponent arithmetic (PolyElement.diff looks the generator up slowly)."""
        out = self.ring.zero
        for monomial, coefficient in p.iterterms():
            power = monomial[i]
            if power:
                lowered = monomial[:i] + (power - 1,) + monomial[i + 1 :]
                out[lowered] = coefficient * power
        return out

    def gens(self, symbols) -> tuple:
        """The generators standing for these (other) symbols."""
        return tuple(self.gen_of[symbol] for symbol in symbols)

    @property
    def y(self) -> tuple:
        """y_j = e_j W = exp(x_j) / Σ_k exp(x_k)."""
        return tuple(e_j * self.W for e_j in self.e)

    def d_dx(self, poly, i: int):
        """∂/∂x_i (0-based i) of a ring element."""
        return self.derivative(poly, self.xs[i])

    @property
    def jacobian(self) -> tuple:
        """jacobian[j][i] = ∂y_j/∂x_i (n² ring elements, computed on each access)."""
        return tuple(tuple(self.d_dx(y_j, i) for i in range(self.n)) for y_j in self.y)

    def to_expr(self, poly, Z):
        """A ring element as a SymPy expression in the e_k symbols, with W written 1/``Z``."""
        return poly.as_expr(*self.expr_symbols).xreplace({self.expr_symbols[self.n]: 1 / Z})

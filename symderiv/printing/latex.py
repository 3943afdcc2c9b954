"""LaTeX for derivations as a careful person writes them, via SymPy's printer machinery.

Differences from ``sympy.latex`` (each a ``_print_<Class>`` method or a printer hook):

- ∂f/∂y taken at (g(x), h(x)), i.e. ``Subs(Derivative(f(y, z), y), (y, z), (g(x), h(x)))``,
  prints in the subscript notation of PROBLEMS.md: ``f_{y}``, ``f_{yz}``;
- derivatives of one-variable functions print with primes: ``g'(x)``, ``g''(x)``;
  ``d/dx`` of ℓ(x) prints ``\\frac{d\\ell}{dx}``; derivatives of symbols with
  respect to other symbols use ∂;
- sums are printed in canonical term order: second-order partials of f first
  (f_yy, f_yz, f_zz), then first-order ones (f_y, f_z), each with its
  coefficient, then g′ before h′ — the five-term form reads as in the notes;
- inverse functions print as ``\\arcsin``, ``\\operatorname{arsinh}`` (the
  spellings of :mod:`symderiv.numeric.elementary`, which the LaTeX reader reads);
- parentheses are ``\\left( … \\right)`` only around tall content (fractions,
  sums, matrices); everything else gets plain ``( … )``.
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter

_TALL = re.compile(r"\\frac|\\sum|\\begin|\\left|\\prod|\\int|\\dfrac|\^\{\\left")

_DEFAULT_SYMBOL_NAMES = {
    "gvdot": r"\mathit{gvdot}",
    "ell": r"\ell",
}


def _is_partial_at_point(expr) -> bool:
    """Subs(Derivative(F(v1, v2, …), …), (v1, v2, …), point) with F undefined."""
    if not isinstance(expr, sp.Subs):
        return False
    inner = expr.expr
    return (
        isinstance(inner, sp.Derivative)
        and isinstance(inner.expr, AppliedUndef)
        and all(isinstance(a, sp.Symbol) for a in inner.expr.args)
        and set(expr.variables) == set(inner.expr.args)
    )


def _partial_key(factor) -> tuple | None:
    """Sort key of an f-partial: higher order first, then y before z."""
    base = factor.base if isinstance(factor, sp.Pow) else factor
    if not _is_partial_at_point(base):
        return None
    inner = base.expr
    args = inner.expr.args
    counts = [0] * len(args)
    for variable, count in inner.variable_count:
        counts[args.index(variable)] += int(count)
    return (-sum(counts), tuple(-c for c in counts))


class DerivationLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the notation of the derivations (see module doc)."""

    printmethod = "_symderiv_latex"

    def __init__(self, settings: dict | None = None):
        settings = dict(settings or {})
        # \arcsin, \operatorname{arsinh}: the spellings of symderiv.numeric.elementary (SymPy's default is \operatorname{asin})
        settings.setdefault("inv_trig_style", "full")
        names = dict(_DEFAULT_SYMBOL_NAMES)
        names_given = settings.pop("symbol_names", {}) or {}
        self._extra_names = {str(k): v for k, v in names_given.items()}
        super().__init__(settings)
        self._names = names
        # functions whose derivatives print as d/dx (the loss ℓ) rather than with primes
        self._leibniz = {"ell"}

    def doprint(self, expr):
        # one last pass: SymPy's own methods (log, sin, matrices, …) bracket everything tall
        return self._relax(super().doprint(expr))

    # -- symbols -----------------------------------------------------------
    def _print_Symbol(self, expr, style="plain"):
        name = expr.name
        if name in self._extra_names:
            return self._extra_names[name]
        if name in self._names:
            return self._names[name]
        match = re.fullmatch(r"delta2_(\w+)", name)
        if match:
            return r"\delta^{2}_{%s}" % self._print(sp.Symbol(match.group(1)))
        return super()._print_Symbol(expr, style=style)

    # -- parentheses ---------------------------------------------------------
    def _paren(self, content: str) -> str:
        if _TALL.search(content):
            return r"\left(%s\right)" % content
        return "(%s)" % content

    def parenthesize(self, item, level, is_neg=False, strict=False):
        from sympy.printing.precedence import precedence_traditional

        if self._is_atomic_derivative(item):
            return self._print(item)
        prec_val = precedence_traditional(item)
        if is_neg and strict:
            return self._paren(self._print(item))
        if (prec_val < level) or ((not strict) and prec_val <= level):
            return self._paren(self._print(item))
        return self._print(item)

    def _uses_primes(self, expr) -> bool:
        if not (isinstance(expr, sp.Derivative) and len(expr.variable_count) == 1):
            return False
        inner = expr.expr
        return (
            isinstance(inner, AppliedUndef)
            and len(inner.args) == 1
            and inner.args[0] == expr.variable_count[0][0]
            and inner.func.__name__ not in self._leibniz
        )

    def _is_atomic_derivative(self, item) -> bool:
        """g'(x) and f_y read as single symbols: never parenthesised as factors."""
        return self._uses_primes(item) or _is_partial_at_point(item)

    def _print_Function(self, expr, exp=None):
        func = expr.func.__name__
        if isinstance(expr, AppliedUndef) or hasattr(self, "_print_" + func) is False:
            name = self._print(sp.Symbol(func)) if isinstance(expr, AppliedUndef) else None
            if name is not None:
                args = ", ".join(self._print(a) for a in expr.args)
                text = "%s%s" % (name, self._paren(args))
                return text if exp is None else "%s^{%s}" % (text, exp)
        text = super()._print_Function(expr, exp=exp)
        return self._relax(text)

    def _relax(self, text: str) -> str:
        """Turn SymPy's ``\\left(a \\right)`` into ``(a)`` where the content is flat."""

        def replace(match):
            inner = match.group(1)
            return match.group(0) if _TALL.search(inner) else "(%s)" % inner.rstrip()

        previous = None
        while previous != text:
            previous = text
            text = re.sub(r"\\left\(((?:(?!\\left\(|\\right\)).)*)\\right\)", replace, text)
        return text

    def _print_exp(self, expr, exp=None):
        text = "e^{%s}" % self._print(expr.args[0])
        return text if exp is None else r"\left(%s\right)^{%s}" % (text, exp)

    # -- derivatives ---------------------------------------------------------
    def _print_Subs(self, subs):
        if _is_partial_at_point(subs):
            inner = subs.expr
            name = self._print(sp.Symbol(inner.expr.func.__name__))
            letters = []
            for variable, count in inner.variable_count:
                letters.extend([self._print(variable)] * int(count))
            # kept in the order of differentiation: f_zy stays f_zy (a proof step may swap it)
            return "%s_{%s}" % (name, "".join(letters))
        expr, old, new = subs.args
        if not (expr.free_symbols & set(old)):
            return self._print(expr)  # nothing to substitute
        body = self._print(expr)
        where = ", ".join("%s=%s" % (self._print(o), self._print(n)) for o, n in zip(old, new))
        return r"\left. %s \right|_{%s}" % (body, where)

    def _print_Derivative(self, expr):
        variables = expr.variable_count
        inner = expr.expr
        total = sum(int(c) for _, c in variables)
        if self._uses_primes(expr):
            (variable, count), = variables
            name = self._print(sp.Symbol(inner.func.__name__))
            primes = "'" * int(count) if count <= 3 else "^{(%d)}" % int(count)
            return "%s%s(%s)" % (name, primes, self._print(variable))
        ordinary = len(variables) == 1 and len(inner.free_symbols - {variables[0][0]}) == 0 and not inner.atoms(sp.Indexed)
        d = "d" if ordinary else r"\partial"
        denominator = " ".join(
            "%s %s" % (d, self._print(v)) if int(c) == 1 else "%s %s^{%d}" % (d, self._print(v), int(c))
            for v, c in variables
        )
        numerator_d = d if total == 1 else "%s^{%d}" % (d, total)
        if isinstance(inner, AppliedUndef) and all(isinstance(a, sp.Symbol) for a in inner.args):
            name = self._print(sp.Symbol(inner.func.__name__))
            return r"\frac{%s %s}{%s}" % (numerator_d, name, denominator)
        if isinstance(inner, (sp.Symbol, sp.Indexed)):
            return r"\frac{%s %s}{%s}" % (numerator_d, self._print(inner), denominator)
        body = self._print(inner)
        if isinstance(inner, (sp.Add, sp.Mul)) or (isinstance(inner, sp.Pow) and inner.exp.is_negative):
            body = r"\left(%s\right)" % body if _TALL.search(body) else "(%s)" % body
        return r"\frac{%s}{%s} %s" % (numerator_d, denominator, body)

    def _print_KroneckerDelta(self, expr, exp=None):
        i, j = (self._print(a) for a in expr.args)
        text = r"\delta_{%s%s}" % (i, j) if len(i) == 1 and len(j) == 1 else r"\delta_{%s,%s}" % (i, j)
        return text if exp is None else "%s^{%s}" % (text, exp)

    def _print_Indexed(self, expr):
        base = self._print(expr.base)
        indices = ",".join(self._print(i) for i in expr.indices)
        return "%s_{%s}" % (base, indices)

    # -- canonical term order ------------------------------------------------
    def _print_Add(self, expr, order=None):
        return self._join_terms(self._ordered_add_terms(expr, order=order))

    def ordered_terms(self, expr) -> list[tuple[str, str]]:
        """Top-level terms of a sum as (sign, LaTeX) in print order, for line breaking."""
        if not isinstance(expr, sp.Add):
            return [("", self._print(expr))]
        text_terms = []
        for term in self._ordered_add_terms(expr):
            negative = term.could_extract_minus_sign()
            body = -term if negative else term
            text = self._print(body)
            if isinstance(body, sp.Add):
                text = self._paren(text)
            text_terms.append(("-" if negative else "+", text))
        return text_terms

    def _ordered_add_terms(self, expr, order=None) -> list:
        terms = list(expr.args)
        keyed = [(self._term_key(t), t) for t in terms]
        if not any(k is not None for k, _ in keyed):
            ordered = self._as_ordered_terms(expr, order=order)
            if len(ordered) > 1 and ordered[0].could_extract_minus_sign():
                first_positive = next((t for t in ordered if not t.could_extract_minus_sign()), None)
                if first_positive is not None:
                    ordered.remove(first_positive)
                    ordered.insert(0, first_positive)
            return ordered
        default_order = {t: position for position, t in enumerate(self._as_ordered_terms(expr, order=order))}
        keyed.sort(key=lambda kt: (0, kt[0], default_order[kt[1]]) if kt[0] is not None else (1, (), default_order[kt[1]]))
        return [t for _, t in keyed]

    def _join_terms(self, terms) -> str:
        pieces = []
        for position, term in enumerate(terms):
            negative = term.could_extract_minus_sign()
            text = self._print(-term if negative else term)
            if isinstance(-term if negative else term, sp.Add):
                text = self._paren(text)
            if position == 0:
                pieces.append(("- " if negative else "") + text)
            else:
                pieces.append(" %s %s" % ("-" if negative else "+", text))
        return "".join(pieces)

    def _term_key(self, term) -> tuple | None:
        keys = [_partial_key(f) for f in sp.Mul.make_args(term)]
        keys = [k for k in keys if k is not None]
        return min(keys) if keys else None

    def _print_Mul(self, expr):
        factors = list(sp.Mul.make_args(expr))
        if any(isinstance(f, sp.Pow) and f.exp.is_negative for f in factors) or any(
            isinstance(f, sp.Rational) and not f.is_Integer for f in factors
        ):
            return self._relax(super()._print_Mul(expr))
        coefficient, rest = expr.as_coeff_Mul()
        rest_factors = list(sp.Mul.make_args(rest))
        sympy_order = {f: position for position, f in enumerate(rest.as_ordered_factors())}

        def factor_key(f):
            # f-partials first, then plain factors, then derivatives, sums and bracketed sums last
            key = _partial_key(f)
            if key is not None:
                return (0, key, 0)
            if isinstance(f, (sp.Add, sp.Sum)) or (isinstance(f, sp.Pow) and isinstance(f.base, sp.Add)):
                return (3, (), sympy_order.get(f, 0))
            if isinstance(f, sp.Derivative) and not self._uses_primes(f):
                atomic = isinstance(f.expr, (sp.Symbol, sp.Indexed)) or (
                    isinstance(f.expr, AppliedUndef) and all(isinstance(a, sp.Symbol) for a in f.expr.args)
                )
                # ∂y/∂x reads as one symbol; an operator d/dx(…) goes last so it needs no brackets
                return (2, (), sympy_order.get(f, 0)) if atomic else (4, (), sympy_order.get(f, 0))
            return (1, (), sympy_order.get(f, 0))

        rest_factors.sort(key=factor_key)  # SymPy's order within a group
        from sympy.printing.precedence import PRECEDENCE

        texts = []
        for position, f in enumerate(rest_factors):
            last = position == len(rest_factors) - 1
            if isinstance(f, sp.UnevaluatedExpr) and not isinstance(f.args[0], sp.Add):
                texts.append(self._print(f.args[0]))  # a factor kept apart on purpose: joined by \cdot
            elif isinstance(f, sp.Derivative) and (last or isinstance(f.expr, (sp.Symbol, sp.Indexed, AppliedUndef))):
                texts.append(self._print(f))  # a fraction, or an operator at the end: no brackets needed
            elif isinstance(f, sp.Sum) and last:
                texts.append(self._print(f))
            else:
                texts.append(self.parenthesize(f, PRECEDENCE["Mul"], strict=False))
        separator = r" \cdot " if any(isinstance(f, sp.UnevaluatedExpr) for f in rest_factors) else " "
        body = separator.join(texts)
        if coefficient == 1:
            return body
        if coefficient == -1:
            return "- " + body
        return "%s %s" % (self._print(coefficient), body)

    def _print_Pow(self, expr):
        base = expr.base
        if isinstance(base, sp.Derivative) and isinstance(base.expr, AppliedUndef) and len(base.expr.args) == 1:
            if expr.exp.is_Integer and expr.exp > 0:
                return r"%s^{%s}" % (self._print(base), self._print(expr.exp))
        if _is_partial_at_point(base) and expr.exp.is_Integer and expr.exp > 0:
            return r"%s^{%s}" % (self._print(base), self._print(expr.exp))
        return self._relax(super()._print_Pow(expr))

    def _print_MatrixBase(self, expr):
        return self._relax(super()._print_MatrixBase(expr))


def latex_terms(expr: Any, **settings) -> list[tuple[str, str]]:
    """The top-level terms of ``expr`` as (sign, LaTeX), in the order ``latex`` prints them."""
    return DerivationLatexPrinter(settings).ordered_terms(expr)


def latex(expr: Any, **settings) -> str:
    """LaTeX of ``expr`` in the derivations' notation (see DerivationLatexPrinter)."""
    return DerivationLatexPrinter(settings).doprint(expr)

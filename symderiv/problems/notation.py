"""Shared notation for proof files: the objects of Problems 1 and 2 as SymPy values.

Problem 1: ``y = g(x)``, ``z = h(x)``, ``ℓ = f(y, z)`` with undefined g, h, f.
Partial derivatives of f are kept honest as ``Subs(Derivative(f(y, z), y), (y, z),
(g(x), h(x)))`` — "∂f/∂y taken at (g(x), h(x))" — which the LaTeX printer shows
as ``f_y``.

Problem 2: softmax inputs ``x_1..x_n``, outputs ``y_k`` defined as
``exp(x_k) / Σ_m exp(x_m)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sympy as sp

x, y, z = sp.symbols("x y z")
g = sp.Function("g")
h = sp.Function("h")
f = sp.Function("f")
ell = sp.Function("ell")

gx = g(x)
hx = h(x)
ell_x = ell(x)
#: the definition ℓ(x) = f(g(x), h(x)), for ``Proof.definitions``
ELL_DEFINITION = (ell_x, f(gx, hx))


def partial(function: sp.Function, *variables: sp.Symbol, at: Sequence[sp.Expr] = (gx, hx), arguments=(y, z)) -> sp.Expr:
    """∂^k function / ∂variables, taken at the point ``at`` (default (g(x), h(x)))."""
    derivative = sp.Derivative(function(*arguments), *variables)
    return sp.Subs(derivative, tuple(arguments), tuple(at))


def as_partials(expr: sp.Expr, function: sp.Function = None, arguments=(y, z)) -> sp.Expr:
    """Rewrite SymPy's ``Derivative(f(g(x), h(x)), g(x))`` as ``f_y`` at (g(x), h(x)) (a Subs)."""
    function = f if function is None else function

    def is_raw(e):
        return (
            isinstance(e, sp.Derivative)
            and isinstance(e.expr, sp.core.function.AppliedUndef)
            and e.expr.func == function
            and len(e.expr.args) == len(arguments)
        )

    def rewrite(e):
        point = e.expr.args
        slot = dict(zip(point, arguments))
        variables = [(slot[v], c) for v, c in e.variable_count]
        return sp.Subs(sp.Derivative(function(*arguments), *variables), tuple(arguments), tuple(point))

    return expr.replace(is_raw, rewrite)


def d(expr: sp.Expr, order: int = 1, variable: sp.Symbol = x) -> sp.Expr:
    """Unevaluated d^order expr / d variable^order (printed with primes for g, h)."""
    return sp.Derivative(expr, (variable, order))


f_y = partial(f, y)
f_z = partial(f, z)
f_yy = partial(f, y, y)
f_yz = partial(f, y, z)
f_zz = partial(f, z, z)
g1, g2 = d(gx), d(gx, 2)
h1, h2 = d(hx), d(hx, 2)

EXACT_SECOND_DERIVATIVE = f_yy * g1**2 + 2 * f_yz * g1 * h1 + f_zz * h1**2 + f_y * g2 + f_z * h2
NAIVE_SECOND_ORDER = f_yy * g2 + f_zz * h2


# ------------------------------------------------------------------ graphs


@dataclass(frozen=True)
class Node:
    """A computed node: ``name = expr`` where expr uses its input nodes' symbols."""

    name: sp.Symbol
    expr: sp.Expr


def naive_second_order(nodes: Sequence[Node], source: sp.Symbol) -> sp.Expr:
    """Naive second-order backprop on a graph (PROBLEMS.md): δ²_ℓ = 1, δ²_u = Σ_v δ²_v ∂²v/∂u².

    ``nodes`` in topological order; the last is the loss. Returns δ²_source as an
    expression in ``source`` (node values substituted back by forward evaluation).
    """
    values: dict[sp.Symbol, sp.Expr] = {source: source}
    for node in nodes:
        values[node.name] = node.expr.xreplace(values)
    delta2: dict[sp.Symbol, sp.Expr] = {nodes[-1].name: sp.Integer(1)}
    for node in reversed(nodes):
        incoming = delta2.get(node.name, sp.Integer(0))
        for parent in node.expr.free_symbols:
            local = sp.diff(node.expr, parent, 2).xreplace(values)
            delta2[parent] = delta2.get(parent, sp.Integer(0)) + incoming * local
    return delta2.get(source, sp.Integer(0))


def forward_value(nodes: Sequence[Node], source: sp.Symbol) -> sp.Expr:
    """The loss as a function of the source (composition of the nodes)."""
    values: dict[sp.Symbol, sp.Expr] = {source: source}
    for node in nodes:
        values[node.name] = node.expr.xreplace(values)
    return values[nodes[-1].name]


# ------------------------------------------------------------------ softmax


def softmax_symbols(n: int):
    """(xs, ys, us) for a fixed n, plus the definitions y_k = exp(x_k)/Σ exp(x_m)."""
    xs = sp.symbols(f"x_1:{n + 1}") if n > 1 else (sp.Symbol("x_1"),)
    ys = sp.symbols(f"y_1:{n + 1}") if n > 1 else (sp.Symbol("y_1"),)
    us = sp.symbols(f"u_1:{n + 1}") if n > 1 else (sp.Symbol("u_1"),)
    total = sp.Add(*[sp.exp(v) for v in xs])
    definitions = tuple((yk, sp.exp(xk) / total) for yk, xk in zip(ys, xs))
    return xs, ys, us, definitions

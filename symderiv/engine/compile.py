"""Compile a SymPy expression into a graph of primitive engine ops.

So any expression also runs through fine-grained backprop: sin(x)·x² becomes
mul(sin(x), pow(x, 2)), each a node with its own local derivatives. Shared
subexpressions become one shared node (the result is a DAG). The walk is
iterative, so deep expressions cannot hit the recursion limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from symderiv.engine.graph import Graph, Node

if TYPE_CHECKING:
    import sympy


class CompileError(ValueError):
    """The expression uses something the engine has no op for."""


_UNARY_FUNCTIONS = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tanh": "tanh"}


def compile_expression(graph: Graph, expr: "sympy.Expr", bindings: Mapping["sympy.Symbol", Node]) -> Node:
    """Add nodes computing ``expr`` to ``graph``; each free symbol must be bound to a node."""
    import sympy as sp

    missing = expr.free_symbols - set(bindings)
    if missing:
        raise CompileError(f"unbound symbols: {', '.join(sorted(map(str, missing)))}")
    built: dict[sympy.Basic, Node] = {}
    stack: list[tuple[sympy.Basic, bool]] = [(expr, False)]
    while stack:
        current, children_done = stack.pop()
        if current in built:
            continue
        if current.is_Symbol:
            built[current] = bindings[current]
            continue
        if current.is_Number or current in (sp.pi, sp.E):
            if not current.is_real:
                raise CompileError(f"non-real constant {current}")
            built[current] = graph.constant(float(current), name=str(current))
            continue
        operands = _operands(current)
        if not children_done:
            stack.append((current, True))
            stack.extend((arg, False) for arg in operands if arg not in built)
            continue
        built[current] = _emit(graph, current, [built[arg] for arg in operands])
    return built[expr]


def _operands(expr: "sympy.Basic") -> tuple:
    import sympy as sp

    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        if exponent.is_Number:
            return (base,)
        return (base, exponent)
    if isinstance(expr, sp.tan):
        return expr.args
    if isinstance(expr, sp.Mul) and expr.args[0] == -1:
        return (sp.Mul(*expr.args[1:]),)
    return expr.args


def _emit(graph: Graph, expr: "sympy.Basic", inputs: list[Node]) -> Node:
    import sympy as sp

    if isinstance(expr, sp.Add):
        node = inputs[0]
        for other in inputs[1:]:
            node = graph.apply("add", node, other)
        return node
    if isinstance(expr, sp.Mul):
        if expr.args[0] == -1:
            return graph.apply("neg", inputs[0])
        node = inputs[0]
        for other in inputs[1:]:
            node = graph.apply("mul", node, other)
        return node
    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        if exponent.is_Number:
            if exponent == sp.Rational(1, 2):
                return graph.apply("sqrt", inputs[0])
            if not exponent.is_real:
                raise CompileError(f"non-real exponent in {expr}")
            return graph.apply("pow", inputs[0], p=float(exponent))
        # a**b = exp(b·log(a)), defined for a > 0
        return graph.apply("exp", graph.apply("mul", inputs[1], graph.apply("log", inputs[0])))
    if isinstance(expr, sp.tan):
        return graph.apply("div", graph.apply("sin", inputs[0]), graph.apply("cos", inputs[0]))
    name = type(expr).__name__
    if name in _UNARY_FUNCTIONS and len(inputs) == 1:
        return graph.apply(_UNARY_FUNCTIONS[name], inputs[0])
    raise CompileError(f"no engine op for {name} (in {expr})")

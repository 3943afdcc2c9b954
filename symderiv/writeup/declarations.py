"""Declarations (``--let`` and ``% symderiv: let …`` / ``<!-- symderiv: let … -->``).

Forms (each ``LHS = RHS`` in LaTeX):
- ``g = g(x)``: g is an abstract function of x; the name g stands for g(x).
- ``\\ell = \\ell(g, h)`` or ``\\ell = f(y, z)``: a function of other names, so
  ``\\partial \\ell/\\partial g`` is a partial derivative and ``f_y`` its subscript form.
- ``Z = \\sum_{k=1}^n \\exp(x_k)``, ``u = w x + b``: definitions, substituted.
- ``y_j = \\exp(x_j)/Z``: an indexed definition (j is a placeholder index).
- ``\\sigma(t) = \\frac{1}{1 + \\exp(-t)}``: a concrete function.
"""

from __future__ import annotations

from symderiv.writeup.latex_parser import Unsupported, parse_side
from symderiv.writeup.meaning import Context, Converter, NameRef, ParenValue, real_symbol


def split_declaration(text: str) -> tuple[str, str]:
    from symderiv.writeup.extract import _RELATION, _split

    parts = _split(text, _RELATION)
    if len(parts) != 2 or parts[1][2] not in ("=", ":=", "\\coloneqq", "\\equiv"):
        raise Unsupported("expected one 'NAME = EXPRESSION'")
    return parts[0][1].strip(), parts[1][1].strip()


def add_declaration(context: Context, text: str) -> None:
    """Parse one declaration into ``context``; raises :class:`Unsupported` with the reason."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    left_text, right_text = split_declaration(text)
    converter = Converter(context, declaring=True)
    before = set(context.used_names)
    left_tree = parse_side(left_text)
    items = [converter._item(child) for child in (left_tree.children if left_tree.data == "juxt" else [left_tree])]
    if len(items) == 2 and isinstance(items[0], NameRef) and isinstance(items[1], ParenValue):
        name = items[0].name
        parameters = items[1].items
        if not all(isinstance(p, sp.Symbol) for p in parameters) or len(set(parameters)) != len(parameters):
            raise Unsupported("function parameters must be distinct plain names")
        body = converter.expression(parse_side(right_text))
        context.concrete_functions[name] = sp.Lambda(tuple(parameters), body)
        context.function_args.pop(name, None)
        context.declared_names.update(context.used_names - before)
        context.declared_names.add(name)
        return
    if len(items) != 1 or not isinstance(items[0], NameRef) or items[0].primes or items[0].power is not None:
        raise Unsupported("the left side must be a name, an indexed name y_j, or a function f(t)")
    reference = items[0]
    value = converter.expression(parse_side(right_text))
    if reference.subscript is not None:
        target = converter._name_expr(reference)
        if not isinstance(target, sp.Indexed) or not all(isinstance(i, sp.Symbol) for i in target.indices):
            raise Unsupported("an indexed definition needs letter indices, like y_j")
        context.indexed_definitions[reference.name] = (tuple(target.indices), value)
    else:
        symbol = real_symbol(reference.name)
        if isinstance(value, AppliedUndef) and value.func.__name__ not in context.concrete_functions:
            context.function_args[value.func.__name__] = tuple(value.args)
            if value.func.__name__ != reference.name:
                context.plain_names.add(reference.name)
        else:
            context.plain_names.add(reference.name)
        context.definitions[symbol] = value
    context.declared_names.update(context.used_names - before)
    context.declared_names.add(reference.name)


__all__ = ["add_declaration", "split_declaration"]

"""Declarations (``--let`` and ``% symderiv: let …`` / ``<!-- symderiv: let … -->``).

Forms (each ``LHS = RHS`` in LaTeX, or ``LHS: KEYWORD``):
- ``g = g(x)``: g is an abstract function of x; the name g stands for g(x).
- ``\\ell = \\ell(g, h)`` or ``\\ell = f(y, z)``: a function of other names, so
  ``\\partial \\ell/\\partial g`` is a partial derivative and ``f_y`` its subscript form.
- ``Z = \\sum_{k=1}^n \\exp(x_k)``, ``u = w x + b``: definitions, substituted.
- ``y_j = \\exp(x_j)/Z``: an indexed definition (j is a placeholder index).
- ``\\sigma(t) = \\frac{1}{1 + \\exp(-t)}``: a concrete function.
- ``x^{n}: power``: every superscript on x is an exponent.
- ``W: m x n``, ``x: n``, ``W \\in \\mathbb{R}^{m \\times n}``: W is a matrix, x a column vector
  (see :mod:`matrices`); ``layout: numerator`` for derivatives by vectors and matrices.
- ``v: independent``: v is an independent variable: its derivative by any other variable is 0
  (without it, ``\\partial v/\\partial u`` of an undeclared v is unchecked).
- ``A: scalar``: the capital A is a number, never a matrix (see :mod:`capitals`).
- ``z^{l}: index``: superscripts on z are labels: ``z^{l}``, ``z^{l+1}`` are
  separate names (each may carry subscripts, ``z^{l}_j``).
- ``index: p, q``: a superscript made of these letters is an index on any name
  (``E^p``, ``o^{p}_k``); see :mod:`symderiv.writeup.indices` for the superscripts
  read as indices without a declaration.

Every declaration records where each name's meaning came from in
``context.origins`` (name -> (kind, source)).
"""

from __future__ import annotations

import re

from symderiv.writeup.capitals import scalar_declaration
from symderiv.writeup.indices import index_letters_declaration
from symderiv.writeup.latex_parser import Unsupported, parse_side, parse_side_tracked
from symderiv.writeup.matrices import layout_declaration, shape_declaration
from symderiv.writeup.matrix_steps import matrix_declaration
from symderiv.writeup.meaning import Context, Converter, NameRef, ParenValue, real_symbol
from symderiv.writeup.resolve import INDEPENDENT
from symderiv.writeup.shapes import name_of, unwrap

_INDEPENDENT_FORM = re.compile(r"^\s*(.+?)\s*:\s*independent\s*$", re.S)
_NOTATION_FORM = re.compile(r"^(?P<lhs>.+?)\s*:\s*(?P<keyword>power|exponent|index|label)\s*$", re.S)


def split_declaration(text: str) -> tuple[str, str]:
    from symderiv.writeup.extract import _RELATION, _split

    parts = _split(text, _RELATION)
    if len(parts) != 2 or parts[1][2] not in ("=", ":=", "\\coloneqq", "\\equiv"):
        raise Unsupported("expected 'NAME = EXPRESSION', 'f(t) = EXPRESSION', 'W: m x n', 'x^{n}: power' or "
                          "'z^{l}: index'")
    return parts[0][1].strip(), parts[1][1].strip()


def notation_declaration(text: str) -> tuple[str, str] | None:
    """``x^{n}: power`` -> ("x", "power"); ``z^{l}: index`` -> ("z", "index"); None for other forms."""
    match = _NOTATION_FORM.match(text.strip())
    if not match:
        return None
    tree = unwrap(parse_side(match.group("lhs")))
    if not (hasattr(tree, "data") and tree.data == "item") or not any(
            getattr(s, "data", None) == "sup_script" for s in tree.children[1:]):
        raise Unsupported("write the name with a superscript, as in 'x^{n}: power' or 'z^{l}: index'")
    name = name_of(tree.children[0])
    if name is None or name.startswith("@"):
        raise Unsupported("the left side must be a name with a superscript")
    keyword = match.group("keyword")
    return name, "power" if keyword in ("power", "exponent") else "index"


def add_declaration(context: Context, text: str, source: str = "--let") -> None:
    """Parse one declaration into ``context``; raises :class:`Unsupported` with the reason."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    letters = index_letters_declaration(text)
    if letters is not None:
        context.index_letters |= letters
        for letter in letters:
            context.origins.setdefault(f"index {letter}", ("a superscript index letter", source))
        return
    layout = layout_declaration(text)
    if layout is not None:
        context.layout = layout
        context.origins["layout"] = (f"{layout} layout", source)
        return
    scalar = scalar_declaration(text)
    if scalar is not None:
        context.origins[scalar] = ("scalar", source)
        return
    independent = _INDEPENDENT_FORM.match(text)
    if independent:
        name = name_of(unwrap(parse_side(independent.group(1))))
        if name is None or name.startswith("@"):
            raise Unsupported("write a name before ': independent', as in 'v: independent'")
        context.origins[name] = (INDEPENDENT, source)
        return
    shape = shape_declaration(text)
    if shape is not None:
        name, (rows, cols) = shape
        context.shapes[name] = (rows, cols)
        context.origins[name] = (f"{rows} x {cols} matrix", source)
        return
    notation_form = notation_declaration(text)
    if notation_form is not None:
        name, keyword = notation_form
        target = context.notation.declared_powers if keyword == "power" else context.notation.declared_indexed
        target.add(name)
        context.origins[name] = ("superscripts are powers" if keyword == "power" else "an indexed family", source)
        return
    left_text, right_text = split_declaration(text)
    if matrix_declaration(context, left_text, right_text, source):
        return
    context.start_step()
    left = parse_side_tracked(left_text)
    superscripted = _superscripted_name(left.tree)
    if superscripted is not None:
        # \sigma^2_k = ...: the superscript is part of the name being defined (read as a label everywhere).
        context.notation.declared_indexed.add(superscripted)
        context.origins.setdefault(superscripted, ("an indexed family", source))
    converter = Converter(context, declaring=True, tracked=left.tracked)
    before = set(context.used_names)
    left_tree = left.tree
    items = [converter._item(child) for child in (left_tree.children if left_tree.data == "juxt" else [left_tree])]
    if len(items) == 2 and isinstance(items[0], NameRef) and isinstance(items[1], ParenValue):
        name = items[0].name
        parameters = items[1].items
        if not all(isinstance(p, sp.Symbol) for p in parameters) or len(set(parameters)) != len(parameters):
            raise Unsupported("function parameters must be distinct plain names")
        body = _right_side(context, right_text)
        context.concrete_functions[name] = sp.Lambda(tuple(parameters), body)
        context.function_args.pop(name, None)
        context.declared_names.update(context.used_names - before)
        context.declared_names.add(name)
        context.origins[name] = ("concrete function", source)
        return
    if len(items) != 1 or not isinstance(items[0], NameRef) or items[0].primes or items[0].power is not None:
        raise Unsupported("the left side must be a name, an indexed name y_j, or a function f(t)")
    reference = items[0]
    value = _right_side(context, right_text)
    if reference.subscript is not None:
        target = converter._name_expr(reference)
        if not isinstance(target, sp.Indexed) or not all(isinstance(i, sp.Symbol) for i in target.indices):
            raise Unsupported("an indexed definition needs letter indices, like y_j")
        context.indexed_definitions[reference.name] = (tuple(target.indices), value)
        context.origins[reference.name] = ("indexed definition", source)
    else:
        symbol = real_symbol(reference.name)
        if isinstance(value, AppliedUndef) and value.func.__name__ not in context.concrete_functions:
            context.function_args[value.func.__name__] = tuple(value.args)
            if value.func.__name__ != reference.name:
                context.plain_names.add(reference.name)
            kind = "function of " + ", ".join(str(a) for a in value.args)
        else:
            context.plain_names.add(reference.name)
            kind = "definition"
        context.definitions[symbol] = value
        context.origins[reference.name] = (kind, source)
    context.declared_names.update(context.used_names - before)
    context.declared_names.add(reference.name)


def _superscripted_name(tree):
    item = unwrap(tree)
    if not (hasattr(item, "data") and item.data == "item"):
        return None
    if not any(getattr(script, "data", None) == "sup_script" for script in item.children[1:]):
        return None
    name = name_of(item.children[0])
    return None if name is None or name.startswith("@") else name


def _right_side(context: Context, right_text: str):
    right = parse_side_tracked(right_text)
    return Converter(context, declaring=True, tracked=right.tracked).expression(right.tree)


__all__ = ["add_declaration", "notation_declaration", "split_declaration"]

"""Shapes of the parse tree the reader and the evidence gatherer share (no meaning decided here).

Contract: pure functions of lark trees (and, for names and source text, of a
converter that knows positions): the name of a base (``letter``, ``command``,
``decorated``), runs of adjacent letters, product segments split at ``\\cdot``,
``\\times`` and ``/``, the shape of a superscript (transpose, bracketed index,
layer letter, number, letters), Kronecker-delta subscripts. No SymPy at import
time.
"""

from __future__ import annotations

from symderiv.writeup import notation
from symderiv.writeup.latex_parser import Unsupported
from symderiv.writeup.notation import GREEK


def ends_with_bare_bigop(tree) -> bool:
    """Does the product end with a \\sum or \\prod that has no operand (``\\sum_k - a_k``)?"""
    last = product_segments(tree)[-1][1] if hasattr(tree, "data") else None
    items = list(last.children) if last is not None and last.data == "juxt" else [last]
    item = items[-1] if items else None
    return hasattr(item, "data") and item.data == "item" and hasattr(item.children[0], "data") \
        and item.children[0].data == "command" and str(item.children[0].children[0]) in ("\\sum", "\\prod")


def product_segments(tree) -> list:
    """``a \\cdot b / c d`` -> [(None, a), ('*', b), ('/', c d)] (juxt trees)."""
    if tree.data == "mul_explicit":
        return product_segments(tree.children[0]) + [("*", tree.children[-1])]
    if tree.data == "div":
        return product_segments(tree.children[0]) + [("/", tree.children[1])]
    return [(None, tree)]


def letter_run(items, position) -> list:
    """Adjacent single-letter items starting at ``position`` (``sigmoid`` typed without spaces).

    Only the last letter may carry scripts (``relu'``, ``sech^2``)."""
    run = []
    for item in items[position:]:
        if not (hasattr(item, "data") and item.data == "item" and item.children[0].data == "letter"):
            break
        if run and getattr(run[-1].meta, "end_pos", None) != getattr(item.meta, "start_pos", None):
            break
        if run and len(run[-1].children) > 1:
            break
        run.append(item)
    return run


def name_of(tree, converter=None):
    """The name of a letter/command/decorated base; ``@word:...`` for a word; None otherwise."""
    if not hasattr(tree, "data"):
        return None
    if tree.data == "letter":
        return str(tree.children[0])
    if tree.data == "command":
        name = str(tree.children[0]).lstrip("\\")
        return "@macro:" + name if len(name) == 1 else name  # \b is not the letter b
    if tree.data == "decorated":
        found = notation.decoration(str(tree.children[0]))
        if found.kind == "letter":
            if found.name in ("e", "d") and str(tree.children[0]).lstrip("\\").startswith(("mathrm", "text")):
                return "\\mathrm{e}" if found.name == "e" else "\\mathrm{d}"
            return found.name
        if found.kind == "word":
            return "@word:" + found.name
        if found.kind == "symbol":
            return found.name
        position = converter.position(tree) if converter is not None else None
        if found.kind == "prose":
            raise Unsupported(f"text '{found.name}' inside an expression", position, "text in math")
        if found.kind == "empty":
            raise Unsupported("an empty decoration", position, "cannot parse")
        raise Unsupported(f"{str(tree.children[0])}: {found.style} is not read yet", position, "not read yet")
    return None


def decorated_letter(name: str):
    found = notation.decoration(name) if name.startswith("\\") else None
    if found is None or found.kind != "symbol" or found.base_letter is None:
        return None
    return found.base_letter


def decorated_label(token: str):
    found = notation.decoration(token)
    if found.kind in ("letter", "word"):
        return found.name
    raise Unsupported(f"{token} in a subscript is not read", kind="not read yet")


def unwrap(tree):
    while hasattr(tree, "data") and tree.data in ("juxt", "item") and len(tree.children) == 1:
        tree = tree.children[0]
    return tree


def latex_name(name: str) -> str:
    if name.startswith("\\") or any(mark in name for mark in "^_{"):  # \mathbf{x}, z^{l}, J_{MCE}: already LaTeX
        return name
    cut = min([name.index(mark) for mark in "^_" if mark in name] + [len(name)])
    base, rest = name[:cut], name[cut:]  # delta^{(l)} -> \delta^{(l)}; L^{(i)} stays
    return (f"\\{base}" if len(base) > 1 else base) + rest


def is_plain_name(expr) -> bool:
    import sympy as sp

    return isinstance(expr, (sp.Symbol, sp.Indexed)) and not getattr(expr, "is_integer", False)


def juxt_items(tree) -> list:
    if tree.data == "juxt":
        return list(tree.children)
    return [tree]


def superscript_shape(tree, converter) -> str:
    """"transpose" | "bracketed" | "layer" | "numeric" | "symbolic" for a superscript tree."""
    inner = tree
    while hasattr(inner, "data") and inner.data in ("juxt", "item") and len(inner.children) == 1:
        inner = inner.children[0]
    text = converter.source_text(tree)
    if notation.is_transpose_mark(text) or (hasattr(inner, "data") and inner.data == "decorated"
                                              and notation.is_transpose_mark(str(inner.children[0]))):
        return "transpose"
    if hasattr(inner, "data") and inner.data == "command" and str(inner.children[0]) in ("\\top", "\\intercal"):
        return "transpose"
    if hasattr(inner, "data") and inner.data == "item" and inner.children[0].data == "paren" \
            and len(inner.children) == 1:
        return "bracketed"
    if hasattr(inner, "data") and inner.data == "paren":
        return "bracketed"
    letters = tree_letters(tree, converter)
    if not letters:
        return "numeric"
    if letters <= notation.LAYER_LETTERS:
        return "layer"
    return "symbolic"


def tree_letters(tree, converter=None) -> set:
    """Letter and Greek names in a subtree (not macros like \\frac)."""
    found = set()
    if not hasattr(tree, "data"):
        return found
    if tree.data == "letter":
        return {str(tree.children[0])}
    if tree.data == "command":
        name = str(tree.children[0]).lstrip("\\")
        return {name} if name in GREEK else set()
    if tree.data == "decorated":
        return {str(tree.children[0])}
    for child in tree.children:
        found |= tree_letters(child, converter)
    return found


def kronecker_shape(subscript) -> bool:
    """Two indices: ``\\delta_{ij}``, ``\\delta_{i,j}``, ``\\delta_{1k}``."""
    return subscript.data in ("juxt", "index_list", "number") or kronecker_pair(subscript) is not None


def kronecker_pair(tree):
    """``\\delta_{1k}``, ``\\delta_{5k}``, ``\\delta_{12}``: two one-character indices (digits or letters)."""
    import sympy as sp

    def single(node):
        while hasattr(node, "data") and node.data == "item" and len(node.children) == 1:
            node = node.children[0]
        if not hasattr(node, "data"):
            return None
        if node.data == "letter":
            return sp.Symbol(str(node.children[0]), integer=True)
        if node.data == "number" and len(str(node.children[0])) == 1:
            return sp.Integer(str(node.children[0]))
        return None

    while tree.data in ("juxt", "item") and len(tree.children) == 1:
        tree = tree.children[0]
        if not hasattr(tree, "data"):
            return None
    if tree.data == "number" and len(str(tree.children[0])) == 2 and str(tree.children[0]).isdigit():
        digits = str(tree.children[0])
        return sp.Integer(digits[0]), sp.Integer(digits[1])
    if tree.data == "juxt" and len(tree.children) == 2:
        pair = tuple(single(child) for child in tree.children)
        if all(p is not None for p in pair):
            return pair
    return None


def subscript_letters(tree):
    """Letters of a subscript made only of letters (``ij``, ``yz``), else None."""
    if tree.data == "letter":
        return [str(tree.children[0])]
    if tree.data == "command" and str(tree.children[0]).lstrip("\\") in GREEK:
        return [str(tree.children[0]).lstrip("\\")]
    if tree.data == "juxt":
        letters = []
        for item in tree.children:
            if item.data != "item" or len(item.children) != 1:
                return None
            name = name_of(item.children[0])
            if name is None or (len(name) > 1 and name not in GREEK):
                return None
            letters.append(name)
        return letters
    if tree.data == "item" and len(tree.children) == 1:
        return subscript_letters(tree.children[0])
    return None

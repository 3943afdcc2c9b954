"""Evidence about a document's notation, read off the parse trees before any step is converted.

Contract: :func:`document_notation` looks at every parsed side of every step
and returns a :class:`~symderiv.writeup.meaning.Notation`:

- *indexed families*: a base written with a bracketed superscript
  (``x^{(i)}``), a layer letter (``a^{l}``, ``a^{L-1}``), or a letter superscript
  together with a subscript (``z^l_j``). On such a base no superscript is read
  as a power (``a^2`` could be layer 2);
- *matrix-like names*: transposed somewhere (``W^T``, ``(W)^\\top``), bold
  (``\\mathbf{W}``, ``\\boldsymbol{x}``), or said to lie in
  ``\\mathbb{R}^{m \\times n}``/``\\mathbb{R}^n``;
- *standalone letters*: letters written on their own somewhere, so that
  ``abc`` may be read as a product a·b·c;
- *bare names*: names used somewhere without a bracket after them (evidence
  that ``w(1 - w)`` is a product).

:func:`step_letters` gives the per-step sets the reader needs (letters used
outside superscripts, plain letters, bare names). Nothing here decides a
verdict; it only feeds the reader's certainty rules.
"""

from __future__ import annotations

import re

from symderiv.writeup import notation
from symderiv.writeup.indices import item_scripts, summed_superscripts, written_with_subscript
from symderiv.writeup.latex_parser import Unsupported
from symderiv.writeup.meaning import Notation
from symderiv.writeup.shapes import letter_run, name_of, superscript_shape, unwrap

_MEMBERSHIP = re.compile(r"\\mathbb\{R\}\s*\^")


class _Shapes:
    """Converter stand-in for the tree helpers (source text of a subtree from its tracked side)."""

    def __init__(self, tracked):
        self.tracked = tracked

    def source_text(self, node) -> str:
        meta = getattr(node, "meta", None)
        if self.tracked is None or meta is None or getattr(meta, "empty", True):
            return ""
        return "".join(self.tracked.text[meta.start_pos:meta.end_pos].split())

    def position(self, node):  # noqa: ARG002 - the tree helpers accept a converter
        return None


def _safe_name(tree):
    try:
        name = name_of(tree)
    except Unsupported:
        return None
    if name is None or name.startswith("@"):
        return None
    return name


def _items(tree):
    """Every ``item`` subtree with the juxtaposed list it belongs to and whether it is inside a superscript."""
    stack = [(tree, None, False)]
    while stack:
        node, siblings, in_superscript = stack.pop()
        if not hasattr(node, "data"):
            continue
        if node.data == "juxt":
            children = list(node.children)
            for child in children:
                stack.append((child, children, in_superscript))
            continue
        if node.data == "item":
            yield node, siblings or [node], in_superscript
        for child in node.children:
            if hasattr(child, "data"):
                stack.append((child, siblings if node.data == "item" else None,
                              in_superscript or child.data == "sup_script"))


def _followed_by_bracket(item, siblings) -> bool:
    try:
        position = next(k for k, sibling in enumerate(siblings) if sibling is item)
    except StopIteration:
        return False
    following = siblings[position + 1] if position + 1 < len(siblings) else None
    return following is not None and hasattr(following, "data") and following.data == "item" \
        and following.children[0].data == "paren"


def step_letters(sides) -> tuple[set, set, set]:
    """(letters outside superscripts, undecorated letters, names used bare) of one step's parsed sides."""
    outside, plain, bare = set(), set(), set()
    for side in sides:
        if side is None:
            continue
        for item, siblings, in_superscript in _items(side.tree):
            base = item.children[0]
            name = _safe_name(base)
            if name is None:
                continue
            if not in_superscript:
                outside.add(name)
                if base.data in ("letter", "command"):
                    plain.add(name)
                if not _followed_by_bracket(item, siblings):
                    bare.add(name)
        for letter in _subscript_letters_anywhere(side.tree):
            outside.add(letter)
    return outside, plain, bare


def _subscript_letters_anywhere(tree) -> set:
    """Letters inside subscripts and summation limits (index letters are quantities too)."""
    found = set()
    stack = [(tree, False)]
    while stack:
        node, in_subscript = stack.pop()
        if not hasattr(node, "data"):
            if in_subscript and getattr(node, "type", None) == "LETTER":
                found.add(str(node))
            continue
        if node.data == "sup_script":
            continue
        for child in node.children:
            stack.append((child, in_subscript or node.data in ("sub_script", "limit")))
    return found


def document_notation(parsed_steps, declared_powers=(), declared_indexed=(), named_words=()) -> Notation:
    """``parsed_steps``: (line, relation, lhs ParsedSide | None, rhs ParsedSide | None, rhs text)."""
    found = Notation(declared_powers=set(declared_powers), declared_indexed=set(declared_indexed),
                     named_words=set(named_words))
    for line, relation, lhs, rhs, rhs_text in parsed_steps:
        for side in (lhs, rhs):
            if side is not None:
                _side_evidence(side, line, found)
        if relation == "\\in" and lhs is not None and _MEMBERSHIP.search(rhs_text or "") \
                and not re.search(r"\\mathbb\{R\}\s*\^\s*\{?\s*1\s*\}?\s*$", rhs_text):
            for item, _, _ in _items(lhs.tree):
                name = _safe_name(item.children[0])
                if name is not None:
                    found.matrix_like.setdefault(name, f"in \\mathbb{{R}}^{{...}} at line {line}")
    for name in list(found.index_families):
        if name in found.declared_indexed or name in found.declared_powers:
            del found.index_families[name]
    return found


def _side_evidence(side, line: int, found: Notation) -> None:
    shapes = _Shapes(side.tracked)
    found.summed_families |= summed_superscripts(side.tree, shapes)
    found.subscript_letters |= _subscript_letters_anywhere(side.tree)
    for item, siblings, in_superscript in _items(side.tree):
        base = item.children[0]
        name = _safe_name(base)
        subscript, superscript = item_scripts(item)
        if name is not None and not in_superscript:
            if not _followed_by_bracket(item, siblings):
                found.bare_names.add(name)
            else:
                found.applied_names.add(name)
            if base.data == "letter" and len(letter_run(siblings, _index_of(siblings, item))) <= 1 \
                    and not _after_letter(siblings, item):
                found.standalone_letters.add(name)
            style = notation.decoration(str(base.children[0])).style if base.data == "decorated" else None
            if style in ("bold", "vec"):
                found.matrix_like.setdefault(name, f"{'bold' if style == 'bold' else 'with an arrow'} at line {line}")
        if superscript is None:
            continue
        written_index = written_with_subscript(item, shapes) if name is not None else None
        if written_index is not None:
            found.indexed_superscripts.setdefault(name, {}).setdefault(written_index, set()).add(line)
        shape = superscript_shape(superscript, shapes)
        written = shapes.source_text(item)
        if shape == "transpose":
            for target in _transposed_names(base):
                found.matrix_like.setdefault(target, f"transposed at line {line}")
        elif name is not None and name != "e" and (
                shape in ("bracketed", "layer") or (shape == "symbolic" and subscript is not None)):
            found.index_families.setdefault(name, f"{written} at line {line}")


def _index_of(siblings, item) -> int:
    return next(k for k, sibling in enumerate(siblings) if sibling is item)


def _after_letter(siblings, item) -> bool:
    """Is ``item`` the tail of a run of adjacent letters (the ``b`` of ``ab``)?"""
    position = _index_of(siblings, item)
    if position == 0:
        return False
    before = siblings[position - 1]
    return hasattr(before, "data") and before.data == "item" and before.children[0].data == "letter" \
        and len(before.children) == 1 and getattr(before.meta, "end_pos", None) == getattr(item.meta, "start_pos", -1)


def _transposed_names(base) -> set:
    """The name under a transpose: W in W^T, w in (w^{l+1})^T."""
    name = _safe_name(base)
    if name is not None:
        return {name}
    inner = unwrap(base.children[0]) if base.data == "paren" and base.children else None
    if inner is not None and hasattr(inner, "data") and inner.data == "item":
        inner_name = _safe_name(inner.children[0])
        return {inner_name} if inner_name else set()
    return set()

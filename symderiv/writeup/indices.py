"""Superscript indices on names: when ``z^l_j``, ``x^{(i)}``, ``W^{(2)}`` name a member of a family.

Contract: a superscript on a name is read as an *index* (never a power) only
when that is certain; :func:`superscript_index` then says which name it
makes, and returns None when it is not certain (the reader keeps its other
rules: a power when the step uses the letters as quantities, else unchecked
with the reason). Certain means one of:

- a bracketed index, ``x^{(i)}``, ``W^{(2)}``, ``a^{(l+1)}``, ``x^{(p,2)}``,
  ``a^{[l]}``, on a name that is not a function (``f^{(n)}(x)`` is a
  derivative order and stays unread);
- a layer letter, ``a^l``, ``a^{L}``, ``w^{l+1}``, ``a^{L-1}`` (letters ``l``,
  ``L``, ``\\ell`` and numbers), unless the step uses that letter as a quantity
  (``x^L`` beside a loss ``L``) or the name is a function;
- any superscript made of letters the user declares as indices
  (``--let "index: p, q"``), or the same name and superscript written with a
  subscript on at least two lines of the document (``o^p_k`` and ``o^p_j``
  make ``o^p`` an index) when the letters are not used as quantities in the
  document.

The name made is a *label*: the name with its superscript as written
(spaces dropped), ``z^{l}``, ``z^{l+1}``, ``x^{(i)}``; ``z^{l}`` and
``z^{l+1}`` are different symbols, and a subscript indexes the label
(``z^{l}_j`` is component j of ``z^{l}``). A power of an indexed name is
written with brackets, ``(a^l)^2``. A family whose bracketed superscript is
summed over somewhere in the document (``\\sum_{i=1}^n y^{(i)}``) is read as
a real index instead: ``y^{(i)}`` is entry i of the family ``y^{(\\cdot)}``,
so a sum binds it and ``y^{(1)}`` is one of its terms (see
:class:`FamilyIndex`). A label whose letters a sum binds is refused
(:func:`check_not_bound`), never read as a constant of the sum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from symderiv.writeup.latex_parser import Unsupported
from symderiv.writeup.notation import GREEK
from symderiv.writeup.shapes import latex_name, superscript_shape, tree_letters, unwrap

_INDEX_LETTERS_FORM = re.compile(r"^\s*ind(?:ex|ices)\s*:\s*(?P<letters>.+?)\s*$", re.S)
_LETTER = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+)$")
_LAYER = re.compile(r"^(?:l|L|\\ell)(?:[+-][0-9]+)?$")
_LABEL = re.compile(r"^(?P<base>.+?)\^\{(?P<index>.*)\}$", re.S)


@dataclass(frozen=True)
class FamilyIndex:
    """``y^{(i)}`` in a summed family: the base ``y^{(\\cdot)}`` and the index expressions (i,)."""

    base: str
    indices: tuple


FAMILY_MARK = "^{(\\cdot)}"


def entry_name(base: str, indices) -> str:
    r"""The written name of one entry: ``y^{(\cdot)}`` at (1,) is ``y^{(1)}``, at (i, j) ``y^{(i)}_{j}``;
    other bases ``x`` at (1, 2) are ``x_{1,2}``."""
    shown = [str(index) for index in indices]
    if base.endswith(FAMILY_MARK) and shown:
        name = f"{base[:-len(FAMILY_MARK)]}^{{({shown[0]})}}"
        return name + (f"_{{{','.join(shown[1:])}}}" if len(shown) > 1 else "")
    return f"{base}_{{{','.join(shown)}}}"


def index_letters_declaration(text: str) -> set | None:
    """``index: p, q`` (or ``indices: p q``) -> {"p", "q"}; None for other forms."""
    match = _INDEX_LETTERS_FORM.match(text)
    if not match:
        return None
    letters = [part for part in re.split(r"[\s,]+", match.group("letters")) if part]
    if not letters or not all(_LETTER.match(letter) for letter in letters):
        raise Unsupported("write the index letters after 'index:', as in 'index: p, q'")
    names = {letter.lstrip("\\") for letter in letters}
    unknown = {name for name in names if len(name) > 1 and name not in GREEK}
    if unknown:
        raise Unsupported(f"not a letter: {', '.join(sorted(unknown))}")
    return names


def label_of(name: str, written: str) -> str:
    return f"{latex_name(name)}^{{{written}}}"


def superscript_index(converter, name: str, superscript, node=None):
    """A label (str) or a :class:`FamilyIndex` when the superscript on ``name`` is certainly an index;
    None when it is not certain."""
    context = converter.context
    notes = context.notation
    if name in ("e", "\\mathrm{e}") or _a_function(context, name):
        return None
    shape = superscript_shape(superscript, converter)
    written = converter.source_text(superscript) or "?"
    letters = tree_letters(superscript, converter)
    if shape == "bracketed":
        if not _plain_index(superscript):
            return None
        if name in notes.summed_families:
            if "," in written:  # x^{(p,2)}: sample p of layer 2; a sum over p is not read (check_not_bound)
                context.index_labels[label_of(name, written)] = letters
                return label_of(name, written)
            return _family_index(converter, name, superscript, node)
    elif shape == "layer":  # l, L, \ell, l+1, L-1; not 2l (a power of x^l?)
        if letters & context.step_letters or not _LAYER.match(written):
            return None
    elif shape == "symbolic":
        declared = letters <= context.index_letters
        seen = len(notes.indexed_superscripts.get(name, {}).get(written, ())) >= 2 \
            and not letters & (context.step_letters | notes.standalone_letters)
        if not (declared or seen):
            return None
    else:
        return None
    label = label_of(name, written)
    if name in notes.matrix_like:  # W^{(1)} is a matrix when W is one
        notes.matrix_like.setdefault(label, notes.matrix_like[name])
    context.index_labels[label] = letters
    return label


def _a_function(context, name: str) -> bool:
    """Declared, primed or defined as a function, or a conventional function letter (f, g, h, σ, ℓ) that the
    document applies somewhere: h^{(t)} in an RNN that never writes h(...) is a hidden state, not a derivative."""
    if name in context.function_args or name in context.concrete_functions or name in context.primed_names:
        return True
    return context.is_function(name) and name in context.notation.applied_names


def _plain_index(superscript) -> bool:
    """``(i)``, ``(2)``, ``(l+1)``, ``(p,2)``, ``(n_l)``: letters, numbers, sums of them; not ``(x^2)``."""
    inner = unwrap(superscript)
    if hasattr(inner, "data") and inner.data == "item":
        inner = inner.children[0]
    stack = [inner]
    while stack:
        node = stack.pop()
        if not hasattr(node, "data"):
            continue
        if node.data in ("sup_script", "frac", "sqrt", "matrix", "abs", "norm", "evalbar", "decorated", "prime"):
            return False
        if node.data == "command" and str(node.children[0]).lstrip("\\") not in GREEK:
            return False
        stack.extend(node.children)
    return True


def _family_index(converter, name: str, superscript, node):
    """``y^{(i)}`` in a family that a sum runs over: entry i of ``y^{(\\cdot)}``."""
    notes = converter.context.notation
    if name in notes.matrix_like:
        converter.fail(node, f"{latex_name(name)} is used as a matrix or vector ({notes.matrix_like[name]}) and "
                       "summed over its superscript index: not read yet", "superscript index")
    inner = unwrap(superscript)
    if hasattr(inner, "data") and inner.data == "item":
        inner = inner.children[0]
    parts = [child for child in inner.children if hasattr(child, "data")]
    indices = tuple(converter._index_expr(part) for part in parts)
    return FamilyIndex(latex_name(name) + FAMILY_MARK, indices)


def entangled_family(reading, resolve):
    """The family of a derivative taken with respect to an entry ``h^{(t)}`` of a sample family whose other
    entries (``h^{(t-1)}``, or ``y^{(i)}`` under a sum) the differentiated expression also uses: whether entries
    depend on each other (a recurrence over t) or not (independent samples) is not read, so such a derivative
    decides nothing. ``resolve`` expands an expression through the declarations and definitions."""
    import sympy as sp

    for side in (reading.lhs, reading.rhs):
        if not isinstance(side, sp.Basic):
            continue
        for derivative in side.atoms(sp.Derivative):
            for variable, _ in derivative.variable_count:
                base = getattr(variable, "base", None)
                if base is None or not str(base).endswith(FAMILY_MARK):
                    continue
                try:
                    inner = resolve(derivative.expr)
                except Exception:  # noqa: BLE001 - not expandable: the step is unchecked for that reason elsewhere
                    continue
                if any(entry.base == base and entry.indices[0] != variable.indices[0]
                       for entry in inner.atoms(sp.Indexed)):
                    return str(base)
    return None


def check_not_bound(context, body, letter: str, kind: str) -> None:
    """Refuse ``\\sum_l a^{l}``: a label whose superscript letters a sum binds would be a constant of it."""
    import sympy as sp

    if not context.index_labels:
        return
    names = {getattr(atom, "name", None) for atom in body.free_symbols} | \
        {str(base) for base in body.atoms(sp.IndexedBase)}
    for label, letters in context.index_labels.items():
        if letter in letters and label in names:
            raise Unsupported(f"\\{kind} over {letter}, which is the superscript index of {label}: a sum over a "
                              "superscript index is read only for bracketed sample indices, x^{(i)}",
                              kind="superscript index")


def defined_sibling(names, context):
    """(used label, defined label) when a step uses ``a^{l}``, which nothing defines, while another member
    of its family, ``a^{L}``, is defined: the step may rely on the same rule for every layer."""
    defined = {getattr(key, "name", str(key)) for key in list(context.definitions) + list(context.versions)}
    defined |= set(context.indexed_definitions)
    for other in context.parsed_steps:  # a^L_j = \sigma(z^L_j) stated as a fact: a^{L} is given a meaning too
        lhs = getattr(getattr(other, "reading", None), "lhs", None)
        base = getattr(lhs, "base", lhs)
        if base is not None and "^" in str(getattr(base, "name", base)):
            defined.add(str(getattr(base, "name", base)))
    for name in sorted(names):
        if name not in context.index_labels or name in defined:
            continue
        base = _LABEL.match(name).group("base")
        for other in sorted(defined):
            match = _LABEL.match(other)
            if match and match.group("base") == base and other != name:
                return name, other
    return None


_INDEX_PARTS = re.compile(r"^(?P<open>[(\[]?)(?P<letter>[a-zA-Z]|\\ell)?(?P<offset>[+-]?[0-9]+)?(?P<close>[)\]]?)$")


def _index_parts(index: str):
    match = _INDEX_PARTS.match(index)
    if not match or not (match.group("letter") or match.group("offset")):
        return None
    offset = int(match.group("offset") or 0)
    return match.group("open"), match.group("letter"), offset, match.group("close")


def _written(open_, letter, offset: int, close) -> str:
    if letter is None:
        return f"{open_}{offset}{close}"
    return f"{open_}{letter}{f'{offset:+d}' if offset else ''}{close}"


def shifted_rules(used: str, defined: str, context) -> list | None:
    r"""The definition of ``defined`` (``z^{l+1}_k = \sum_j w^{l+1}_{kj} a^l_j + …``) rewritten for ``used``
    (``z^{l}``): every label of the same index letter moves by the same offset (``a^{l}`` -> ``a^{l-1}``).
    Returns [(kind, key, value)] to add to the context, or None when the superscripts are not letter±number."""
    import sympy as sp

    from symderiv.writeup.meaning import indexed_base, real_symbol

    used_match, defined_match = _LABEL.match(used), _LABEL.match(defined)
    source, target = _index_parts(defined_match.group("index")), _index_parts(used_match.group("index"))
    if source is None or target is None or source[0] != target[0]:
        return None

    def moved(name: str):
        match = _LABEL.match(name)
        parts = _index_parts(match.group("index")) if match else None
        if parts is None or parts[1] != source[1] or parts[0] != source[0]:
            return None
        return f"{match.group('base')}^{{{_written(parts[0], target[1], parts[2] - source[2] + target[2], parts[3])}}}"

    def rewrite(expr):
        mapping = {}
        for atom in expr.atoms(sp.Symbol):
            new = moved(atom.name)
            if new is not None:
                mapping[atom] = real_symbol(new)
        for base in expr.atoms(sp.IndexedBase):
            new = moved(str(base))
            if new is not None:
                mapping[base] = indexed_base(new)
        return expr.xreplace(mapping)

    if defined in context.indexed_definitions:
        indices, template = context.indexed_definitions[defined]
        return [("indexed", used, (indices, rewrite(template)))]
    symbol = real_symbol(defined)
    if symbol in context.definitions:
        return [("symbol", real_symbol(used), rewrite(context.definitions[symbol]))]
    return None


def summed_superscripts(tree, shapes) -> set:
    """Names whose bracketed superscript holds a letter a \\sum or \\prod of the same side binds."""
    bound, written = set(), []
    stack = [tree]
    while stack:
        node = stack.pop()
        if not hasattr(node, "data"):
            continue
        if node.data == "item" and hasattr(node.children[0], "data"):
            base = node.children[0]
            for script in node.children[1:]:
                if base.data == "command" and str(base.children[0]) in ("\\sum", "\\prod") \
                        and script.data == "sub_script":
                    bound |= _bound_letter(script.children[0])
                elif script.data == "sup_script" and superscript_shape(script.children[0], shapes) == "bracketed":
                    written.append((base, tree_letters(script.children[0])))
        stack.extend(node.children)
    from symderiv.writeup.shapes import name_of

    found = set()
    for base, letters in written:
        try:
            name = name_of(base)
        except Unsupported:
            continue
        if name is not None and not name.startswith("@") and letters & bound:
            found.add(name)
    return found


def _bound_letter(subscript) -> set:
    if subscript.data == "limit":
        return {str(subscript.children[0])}
    single = unwrap(subscript)
    if hasattr(single, "data") and single.data == "letter":
        return {str(single.children[0])}
    if hasattr(single, "data") and single.data == "command":
        return {str(single.children[0]).lstrip("\\")}
    return set()


def item_scripts(item):
    """(subscript, superscript) trees of a parsed item (``z^l_j``), each None when it has none."""
    subscript = superscript = None
    for script in item.children[1:]:
        if script.data == "sub_script":
            subscript = script.children[0]
        elif script.data == "sup_script":
            superscript = script.children[0]
    return subscript, superscript


def written_with_subscript(item, shapes):
    """(name, written superscript) for an item with both a letter superscript and a subscript, else None."""
    subscript, superscript = item_scripts(item)
    if subscript is None or superscript is None or superscript_shape(superscript, shapes) != "symbolic":
        return None
    return shapes.source_text(superscript) or None


__all__ = ["FAMILY_MARK", "FamilyIndex", "check_not_bound", "defined_sibling", "entangled_family", "entry_name", "index_letters_declaration", "label_of",
           "shifted_rules", "summed_superscripts", "superscript_index", "written_with_subscript"]

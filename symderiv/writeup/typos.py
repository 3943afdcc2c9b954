"""Typo hints: a name written once, one keystroke away from a name the document declares or uses.

Contract: :func:`suspected_typo` returns a :class:`Typo` for a step whose
verdict is not already a proof when the step uses a name that

- nothing gives a meaning (no ``--let``, no in-file definition, not a
  function, not a summation or superscript index),
- appears in no other step of the document (a name used twice is notation,
  not a slip), and
- is *one edit* from a known name: one a declaration or definition (``--let``
  or in the file) gives a meaning to or uses (g and h in ``\\ell = g^2 + h``). For single letters one edit is a visually confusable
  letter (``q``/``g``, ``u``/``v``, ``v``/``w``, ``n``/``h``, ...) or the other
  case (``x``/``X``), the same for the letter of a decorated name
  (``\\mathbf{u}``/``\\mathbf{v}``); for longer names (``\\alpha``) a
  Damerau-Levenshtein distance of 1. Letters the document uses as indices
  (in a subscript or a sum's range) are never suspected.

The step is then unchecked (kind "typo") with ``q is not declared — did you
mean g?``; :func:`with_reading` gives the reading with the suggestion put in,
which the caller judges and reports as a hint, never as the step's verdict.
A proved or numerically holding step keeps its verdict: it holds whatever the
name means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from symderiv.writeup.shapes import latex_name

_VISUAL = [("q", "g"), ("u", "v"), ("v", "w"), ("n", "h"), ("n", "m"), ("i", "j"), ("c", "e"), ("a", "o"), ("v", "y"),
           ("b", "d"), ("p", "q"), ("r", "n"), ("l", "t")]
_DECORATED = re.compile(r"^\\([a-zA-Z]+)\{(.+)\}$")
_NEVER_SUSPECT = {"n", "e", "pi", "d"}


@dataclass(frozen=True)
class Typo:
    name: str  # the undeclared name as read (q, \alpha)
    candidates: tuple  # the known names it may stand for, best first

    def message(self) -> str:
        shown = " or ".join(latex_name(c) for c in self.candidates)
        return f"{latex_name(self.name)} is not declared — did you mean {shown}?"


def one_edit(written: str, known: str) -> bool:
    """Is ``written`` one slip away from ``known``? Letters: a confusable letter or the other case;
    decorated names (``\\mathbf{y}``): the same decoration of such letters; words and Greek names: one
    character changed, added, dropped or two swapped."""
    if written == known:
        return False
    decorated_written, decorated_known = _DECORATED.match(written), _DECORATED.match(known)
    if decorated_written or decorated_known:
        return bool(decorated_written and decorated_known) \
            and decorated_written.group(1) == decorated_known.group(1) \
            and one_edit(decorated_written.group(2), decorated_known.group(2))
    if len(written) == 1 and len(known) == 1:
        if written.lower() == known.lower():
            return True
        return tuple(sorted((written, known))) in {tuple(sorted(pair)) for pair in _VISUAL}
    if len(written) < 2 or len(known) < 2:
        return False
    return _damerau_one(written, known)


def _damerau_one(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        differences = [k for k in range(len(a)) if a[k] != b[k]]
        if len(differences) == 1:
            return True
        return len(differences) == 2 and differences[1] == differences[0] + 1 \
            and a[differences[0]] == b[differences[1]] and a[differences[1]] == b[differences[0]]
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    return any(longer[:k] + longer[k + 1:] == shorter for k in range(len(longer)))


def suspected_typo(item, context, step_names_of) -> Typo | None:
    """The typo of ``item``'s step, if any. ``step_names_of(other)`` gives the names another step uses."""
    import sympy as sp

    reading = item.reading
    if reading is None:
        return None
    counts: dict = {}
    for other in context.parsed_steps:
        if other is item:
            continue
        for name in step_names_of(other):
            counts[name] = counts.get(name, 0) + 1
    declared = set(context.declared_names) | set(context.let_names) | set(context.function_args) \
        | set(context.concrete_functions) | set(context.indexed_definitions) \
        | {getattr(key, "name", "") for key in context.definitions if isinstance(key, sp.Symbol)}
    plain, indexed = _mentioned_by_definitions(context)
    plain |= {name for name in declared if name not in context.indexed_definitions}
    indexed |= set(context.indexed_definitions)
    sides = [side for side in (reading.lhs, reading.rhs) if isinstance(side, sp.Basic)]
    used_indexed = {str(base) for side in sides for base in side.atoms(sp.IndexedBase)}
    bound = {str(letter) for letter in reading.bound_letters} | context.notation.subscript_letters
    for name in sorted(reading.names):
        if name in declared or name in counts or name in bound or name in _NEVER_SUSPECT or "^" in name \
                or name.startswith("\\nabla") or context.is_function(name):
            continue
        known = indexed if name in used_indexed else plain  # y_j is not a slip for a scalar v
        candidates = tuple(sorted(other for other in known if one_edit(name, other)))
        if candidates:
            return Typo(name, candidates)
    return None


def _mentioned_by_definitions(context) -> tuple:
    """(plain names, indexed names) the declarations and definitions use (g and h in ``\\ell = g^2 + h``)."""
    import sympy as sp

    bodies = list(context.definitions.values()) + [body for _, body in context.indexed_definitions.values()]
    bodies += list(context.concrete_functions.values())
    plain = {str(argument) for arguments in context.function_args.values() for argument in arguments}
    plain |= {getattr(key, "name", "") for key in context.definitions if isinstance(key, sp.Symbol)}
    indexed = set()
    for body in bodies:
        if isinstance(body, sp.Basic):
            plain |= {atom.name for atom in body.atoms(sp.Symbol) if not atom.is_integer}
            indexed |= {str(base) for base in body.atoms(sp.IndexedBase)}
    return {name for name in plain if name}, indexed


def with_reading(lhs, rhs, typo: Typo, candidate: str):
    """Both sides with ``typo.name`` replaced by ``candidate`` (a plain name or an indexed family)."""
    import sympy as sp

    from symderiv.writeup.meaning import indexed_base, real_symbol

    mapping = {real_symbol(typo.name): real_symbol(candidate), indexed_base(typo.name): indexed_base(candidate),
               sp.Function(typo.name): sp.Function(candidate)}

    def replace(side):
        if not isinstance(side, sp.Basic):
            return side
        side = side.xreplace({k: v for k, v in mapping.items() if not isinstance(k, sp.FunctionClass)})
        return side.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef) and e.func.__name__ == typo.name,
                            lambda e: sp.Function(candidate)(*e.args))

    return replace(lhs), replace(rhs)


__all__ = ["Typo", "one_edit", "suspected_typo", "with_reading"]

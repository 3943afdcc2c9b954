"""Capital letters that may be matrices: ``(A + B)^2 = A^2 + 2AB + B^2``, ``A^{-1} A = I``.

Contract of :func:`capital_reading`: a single capital letter that nothing declares or defines
(no ``--let "A: n x n"``, ``--let "A: scalar"``, no definition in the file) and that a step
multiplies by another factor holding a capital (``A B``, ``L N x^2``, ``(A + B)^2``) or inverts
with a written ``^{-1}`` may be a matrix, and matrices do not commute. Reading it as a number
would prove ``AB = BA`` and refute ``A^{-1}A = I``. So such a step is decided again with those
letters as non-commuting symbols:

- the difference of the sides expands to 0 without commuting them: the step holds for numbers
  and for matrices alike, and the verdict read with numbers stands (it is then proved);
- otherwise the step is ``unchecked`` with the reason and the declarations that would decide
  it; never false (a wrong line read with numbers may be right for matrices, and the reverse).

A letter used as a size or a limit of a sum (``\\sum_{i=1}^{N}``), inside a logarithm or in an
exponent is a number, not a matrix; a division written as a fraction (``\\frac{C}{N}``) is not an
inverse, and a denominator is not a factor of a product.
"""

from __future__ import annotations

import re

from symderiv.writeup.judge import Outcome
from symderiv.writeup.report import FALSE, HOLDS, PROVED, UNCHECKED

_CAPITAL = re.compile(r"[A-Z]")
_WRITTEN_INVERSE = re.compile(r"(?<![A-Za-z\\])([A-Z])\s*\^\s*\{\s*-\s*1\s*\}|(?<![A-Za-z\\])([A-Z])\s*\^\s*-\s*1")
_SCALAR_FORM = re.compile(r"^\s*([A-Za-z])\s*:\s*(?:scalar|number)\s*$")


def scalar_declaration(text: str) -> str | None:
    """``A: scalar`` (or ``A: number``) -> "A"; None for other forms."""
    match = _SCALAR_FORM.match(text)
    return match.group(1) if match else None


def ambiguous_capitals(lhs, rhs, source: str, context) -> list[str]:
    """The names of the step's capitals that may be matrices (see the module docstring), sorted."""
    import sympy as sp

    sides = (lhs, rhs)
    candidates = {s for side in sides for s in side.free_symbols
                  if isinstance(s, sp.Symbol) and _CAPITAL.fullmatch(s.name) and s.name not in context.origins}
    for side in sides:
        for total in side.atoms(sp.Sum, sp.Product):
            for limit in total.limits:
                candidates -= {s for bound in limit[1:] for s in getattr(bound, "free_symbols", ())}
        # \log C, e^{f + \log C}, x^{N}: a number
        candidates -= {s for node in side.atoms(sp.log) for s in node.free_symbols}
        candidates -= {s for node in side.atoms(sp.Pow) for s in node.exp.free_symbols}
    # A^{-1} A is 1 once read: the inverse is seen in the source
    found = {a or b for a, b in _WRITTEN_INVERSE.findall(source)} - set(context.origins)
    for side in sides:
        for node in sp.preorder_traversal(side):
            found |= {s.name for s in _multiplied_capitals(node, candidates)}
    return sorted(found)


def _multiplied_capitals(node, candidates: set) -> set:
    import sympy as sp

    if isinstance(node, sp.Mul):
        holding = [f for f in node.args if not _is_division(f) and f.free_symbols & candidates]
        if len(holding) >= 2:
            return {s for f in holding for s in f.free_symbols & candidates}
    if isinstance(node, sp.Pow) and isinstance(node.base, sp.Add) and node.exp.is_Integer and node.exp >= 2:
        inside = node.base.free_symbols & candidates
        if len(inside) >= 2:
            return inside
    return set()


def _is_division(factor) -> bool:
    """A denominator (``\\frac{C e^f}{C \\sum_j e^{f_j}}``): the fraction's own business, not a product."""
    return factor.is_Pow and factor.exp.is_number and factor.exp.is_negative


def holds_without_commuting(read_again, capitals: list[str]) -> bool:
    """Does the step, read again with ``capitals`` as non-commuting symbols, expand to 0?

    ``read_again()`` returns the two sides read under :data:`meaning.NONCOMMUTING_NAMES`."""
    import sympy as sp

    from symderiv.writeup import meaning

    meaning.NONCOMMUTING_NAMES.update(capitals)
    try:
        sides = read_again()
        if sides is None:
            return False
        return sp.expand((sides[0] - sides[1]).doit()) == 0
    except Exception:  # a construct SymPy cannot take with non-commuting symbols: not shown
        return False
    finally:
        meaning.NONCOMMUTING_NAMES.clear()


def capital_reading(outcome: Outcome, lhs, rhs, source: str, context, read_again) -> Outcome:
    """The outcome once capitals that may be matrices are taken into account (module docstring)."""
    if outcome.verdict not in (PROVED, HOLDS, FALSE):
        return outcome
    capitals = ambiguous_capitals(lhs, rhs, source, context)
    if not capitals:
        return outcome
    if outcome.verdict in (PROVED, HOLDS) and holds_without_commuting(read_again, capitals):
        return outcome
    names = ", ".join(capitals)
    as_numbers = {PROVED: "true", HOLDS: "true (numerically)", FALSE: "false"}[outcome.verdict]
    return Outcome(UNCHECKED, f"{names} may be {'a matrix' if len(capitals) == 1 else 'matrices'} (matrices do not "
                   f"commute): {as_numbers} if read as numbers, not decided as matrices; declare "
                   f"--let \"{capitals[0]}: n x n\" or --let \"{capitals[0]}: scalar\"", kind="declaration needed")

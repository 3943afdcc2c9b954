"""Conditions and facts that restrict a step: what the proof may use and the counterexample must respect.

Contract:

- A condition (a ``cases`` row, ``\\quad i = j`` beside a display, "if $x > 0$"
  in the sentence, the negation of the other rows for ``otherwise``) or a fact
  (``since $\\sum_i y_i = 1$``, ``--assume``) is parsed by the project's reader
  into a :class:`Restriction`: an index relation (``i = j``, ``i \\neq j``,
  ``i < j``), a real equality, or a real inequality. A condition that cannot be
  read is kept as ``unread`` with its reason: it never makes a step false.
- :class:`StepRestrictions` applies them to one step. Index relations fix
  which index values are sampled and let ``i = j`` be substituted in the
  proof. An equality whose side is a name (``x = 0``) or a sum
  (``\\sum_k y_k = 1``) is a rewrite the proof may use; after sizes and indices
  are fixed, every equality that still involves the step is solved for one
  variable that appears linearly, and that variable is substituted, so samples
  and counterexamples lie where the fact holds (the solved variable's value is
  reported with the counterexample). An inequality filters samples and
  candidate points; ``x > 0`` on a plain name also lets the proof treat x as
  positive. :meth:`StepRestrictions.holds_at` evaluates every restriction at a
  candidate counterexample (exactly or at 50 digits): a point that violates
  one is never reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from symderiv.writeup.latex_parser import Unsupported, parse_side_tracked

_RELATIONS = {"=": "eq", "\\neq": "ne", "\\ne": "ne", "<": "lt", "\\lt": "lt", ">": "gt", "\\gt": "gt",
              "\\le": "le", "\\leq": "le", "\\leqslant": "le", "\\ge": "ge", "\\geq": "ge", "\\geqslant": "ge"}
_NEGATED = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "gt": "le", "le": "gt"}
_SHOWN = {"eq": "=", "ne": "\\neq", "lt": "<", "le": "\\leq", "gt": ">", "ge": "\\geq"}


@dataclass
class Restriction:
    text: str
    origin: str  # case | beside | sentence | otherwise | since | because | using | --assume
    kind: str  # index | equal | inequality | unread | quantifier
    relation: str = "eq"  # eq ne lt le gt ge
    lhs: object = None
    rhs: object = None
    reason: str = ""

    def shown(self) -> str:
        if self.kind in ("unread", "quantifier") or self.lhs is None:
            return self.text
        if self.origin == "otherwise":
            from symderiv.writeup.extract import negated_text

            return negated_text(self.text) or f"not ({self.text})"
        return self.text

    def as_tuple(self):
        """The index form the numeric configurations use: (relation, lhs, rhs)."""
        return (self.relation, self.lhs, self.rhs)


def parse_restrictions(text: str, origin: str, converter_factory, negate: bool = False) -> list[Restriction]:
    """``0 < x < 1`` -> two restrictions; an unreadable text -> one ``unread`` restriction."""
    from symderiv.writeup.extract import _RELATION, _split

    parts = _split(text, _RELATION)
    if len(parts) < 2:
        return [Restriction(text, origin, "quantifier", reason="no relation: nothing is restricted")]
    found = []
    try:
        sides = [_convert(piece.strip(), converter_factory) for _, piece, _ in parts]
    except Unsupported as exc:
        return [Restriction(text, origin, "unread", reason=str(exc))]
    if negate and len(parts) > 2:
        return [Restriction(text, origin, "unread", reason="the negation of a chained condition is not read")]
    for k in range(1, len(parts)):
        relation = _RELATIONS.get(parts[k][2])
        if relation is None:
            return [Restriction(text, origin, "unread", reason=f"relation {parts[k][2]} in a condition is not read")]
        if negate:
            relation = _NEGATED[relation]
        left, right = sides[k - 1], sides[k]
        integer_only = all(s.is_integer for s in left.free_symbols | right.free_symbols)
        kind = "index" if integer_only and (left.free_symbols or right.free_symbols) else (
            "equal" if relation == "eq" else "inequality")
        if kind == "inequality" and relation == "ne" and not integer_only:
            kind = "inequality"
        found.append(Restriction(text, origin, kind, relation, left, right))
    return found


def _convert(text: str, converter_factory):
    if not text:
        raise Unsupported("an empty side in a condition")
    side = parse_side_tracked(text)
    return converter_factory(side.tracked).expression(side.tree)


@dataclass
class StepRestrictions:
    """The restrictions of one step, after declarations are substituted (see the module docstring)."""

    items: list = field(default_factory=list)

    @property
    def index(self) -> list:
        return [r for r in self.items if r.kind == "index"]

    @property
    def unread(self) -> list:
        return [r for r in self.items if r.kind == "unread"]

    @property
    def equalities(self) -> list:
        return [r for r in self.items if r.kind == "equal"]

    @property
    def inequalities(self) -> list:
        return [r for r in self.items if r.kind == "inequality"]

    def index_tuples(self) -> list:
        return [r.as_tuple() for r in self.index]

    def relevant(self, exprs) -> "StepRestrictions":
        """Only facts about the step's own quantities (a fact about y says nothing about a step without y)."""
        import sympy as sp

        names = set()
        for expr in exprs:
            names |= _names(expr)
        kept = []
        for restriction in self.items:
            if restriction.origin in ("case", "beside", "sentence", "otherwise") or restriction.lhs is None:
                kept.append(restriction)
                continue
            if _names(sp.Tuple(restriction.lhs, restriction.rhs)) & names:
                kept.append(restriction)
        return StepRestrictions(kept)

    def rewrite(self, expr):
        """The proof's use of equalities: a name or a sum on one side is replaced by the other side."""
        import sympy as sp

        from symderiv.writeup.symbolic import canonical_sums

        for restriction in self.equalities:
            for target, value in ((restriction.lhs, restriction.rhs), (restriction.rhs, restriction.lhs)):
                if isinstance(target, (sp.Symbol, sp.Indexed)) and not target.is_integer:
                    expr = expr.xreplace({target: value})
                    break
                if isinstance(target, (sp.Sum, sp.Product)):
                    expr = expr.xreplace({canonical_sums(target): canonical_sums(value)})
                    break
            else:
                # sigma'(u) = sigma(u)(1 - sigma(u)): an occurrence of one side, as it stands, is replaced
                if getattr(restriction.lhs, "free_symbols", None) and not restriction.lhs.is_number:
                    expr = expr.xreplace({restriction.lhs: restriction.rhs})
        return expr

    def positive_symbols(self) -> dict:
        """x > 0 (x >= 0 is not enough for log) on a plain name: {x: positive dummy}; x < 0: negative."""
        import sympy as sp

        found = {}
        for restriction in self.inequalities:
            left, right, relation = restriction.lhs, restriction.rhs, restriction.relation
            if right == 0 and isinstance(left, sp.Symbol) and relation in ("gt", "lt"):
                found[left] = sp.Dummy(left.name, positive=relation == "gt", negative=relation == "lt")
            elif left == 0 and isinstance(right, sp.Symbol) and relation in ("gt", "lt"):
                found[right] = sp.Dummy(right.name, positive=relation == "lt", negative=relation == "gt")
        return found

    # -- numeric use ---------------------------------------------------------------------------
    def concrete(self, instantiate, concretize):
        """Concrete equalities and inequalities at one configuration (``instantiate``/``concretize`` as for sides)."""
        equalities = [(concretize(instantiate(r.lhs)), concretize(instantiate(r.rhs))) for r in self.equalities]
        inequalities = [(concretize(instantiate(r.lhs)), r.relation, concretize(instantiate(r.rhs)))
                        for r in self.inequalities]
        return equalities, inequalities

    @staticmethod
    def solve(equalities) -> dict | None:
        """{variable: value} making every concrete equality hold, solving each for a variable that appears
        linearly; None when one cannot be solved (and does not hold identically)."""
        import sympy as sp

        solution: dict = {}
        for left, right in equalities:
            difference = sp.expand((left - right).xreplace(solution))
            if difference == 0:
                continue
            for variable in sorted(difference.free_symbols, key=lambda s: str(s), reverse=True):
                if variable in solution:
                    continue
                coefficient = difference.coeff(variable, 1)
                rest = sp.expand(difference - coefficient * variable)
                if coefficient != 0 and not coefficient.has(variable) and not rest.has(variable) \
                        and coefficient.is_number:
                    value = -rest / coefficient
                    solution = {k: v.xreplace({variable: value}) for k, v in solution.items()}
                    solution[variable] = value
                    break
            else:
                return None  # no variable appears linearly: the samples cannot be made to satisfy it
        return solution


def holds_exactly(concrete_inequalities, concrete_equalities, point) -> bool:
    """Every restriction at a rational point: exact where possible, else 50 digits."""
    import sympy as sp

    from symderiv.numeric.precision import HIGH_PRECISION_DIGITS, HIGH_PRECISION_ZERO

    for left, right in concrete_equalities:
        gap = sp.N((left - right).xreplace(point), HIGH_PRECISION_DIGITS)
        if not gap.is_number or abs(gap) > sp.Float(HIGH_PRECISION_ZERO):
            return False
    for left, relation, right in concrete_inequalities:
        a = sp.N(left.xreplace(point), HIGH_PRECISION_DIGITS)
        b = sp.N(right.xreplace(point), HIGH_PRECISION_DIGITS)
        if not (a.is_number and b.is_number and a.is_real and b.is_real):
            return False
        if not {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b, "ne": a != b, "eq": a == b}[relation]:
            return False
    return True


def inequality_mask(concrete_inequalities, variables, columns, count: int):
    """Boolean mask of the samples (columns of values for ``variables``) where every inequality holds."""
    import numpy as np
    import sympy as sp

    from symderiv.writeup.numeric import lambdify_arguments

    mask = np.ones(count, dtype=bool)
    if not concrete_inequalities:
        return mask
    dummies = lambdify_arguments(len(variables))
    renaming = dict(zip(variables, dummies))
    for left, relation, right in concrete_inequalities:
        function = sp.lambdify(dummies, [left.xreplace(renaming), right.xreplace(renaming)], modules="numpy")
        with np.errstate(all="ignore"):
            a, b = function(*columns)
        a = np.broadcast_to(np.asarray(a, dtype=float), (count,))
        b = np.broadcast_to(np.asarray(b, dtype=float), (count,))
        mask &= {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b, "ne": a != b, "eq": a == b}[relation]
    return mask


def _names(expr) -> set:
    """Names of the quantities in ``expr``; a size that only bounds sums (n) is not a quantity."""
    import sympy as sp

    found = set()
    limits = set()
    for total in getattr(expr, "atoms", lambda *a: set())(sp.Sum, sp.Product):
        for _, lower, upper in total.limits:
            limits |= lower.free_symbols | upper.free_symbols
    for symbol in getattr(expr, "free_symbols", set()) - limits:
        if isinstance(symbol, sp.Indexed):
            found.add(str(symbol.base))
        elif not symbol.is_integer:
            found.add(symbol.name)
    for indexed in getattr(expr, "atoms", lambda *a: set())(sp.Indexed):
        found.add(str(indexed.base))
    return found


__all__ = ["Restriction", "StepRestrictions", "parse_restrictions", "holds_exactly", "inequality_mask"]

"""The form of a proof and of its result: Step, Proof, proof_family, and the result dataclasses.

See symderiv.proofkit for how proofs are checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from symderiv.algebra.verdict import Counterexample, StepVerdict, Verdict
from symderiv.errors import InputError

__all__ = ["Counterexample", "Proof", "ProofResult", "Step", "StepResult", "proof_family"]

RELATIONS = ("=", "!=", "start")
METHODS = ("jets", "softmax", "indexed")


@dataclass(frozen=True)
class Step:
    """One line of a derivation: an expression and why it follows from the line before.

    ``relation`` says what is claimed about this step and the previous one:
    ``"="`` equal, ``"!="`` different, ``"start"`` nothing (a new chain begins;
    ``why`` then introduces it).
    """

    expr: Any
    why: str
    relation: str = "="


@dataclass(frozen=True)
class Proof:
    """A claim and its derivation(s), declared as data.

    name: identifier used by ``symderiv verify --proof NAME``.
    title, claim: human-readable statement (claim in one sentence).
    steps: the chains; the first step of each chain has ``relation="start"``
        (the very first step may use any relation: it is treated as a start).
    definitions: ``(name, meaning)`` pairs unfolded before checking. ``name``
        may be a Symbol, an applied function ``ell(x)`` (meaning is an
        expression in its arguments) or an IndexedBase (meaning is a
        ``Lambda`` of the index).
    method: exact normal form, one of ``jets`` (default; abstract functions and
        ordinary algebra), ``softmax`` (fixed n; needs ``softmax_inputs``),
        ``indexed`` (symbolic n with IndexedBase/Sum/KroneckerDelta; needs
        ``size_symbol`` and ``free_indices``).
    domain: ``(symbol, low, high)`` sampling ranges (default (-1.5, 1.5)).
    for_each_n / sizes: a family of proofs, one per fixed n; ``steps`` is then
        the instance shown in writeups (``display_n``).
    problem: section of the writeup this belongs to ("P1", "P2" or "extra").
    expected_ok: False for a proof written to demonstrate that a claim fails.
    """

    name: str
    title: str
    claim: str
    steps: tuple[Step, ...]
    definitions: tuple[tuple[Any, Any], ...] = ()
    method: str = "jets"
    domain: tuple[tuple[Any, float, float], ...] = ()
    softmax_inputs: tuple[Any, ...] = ()
    size_symbol: Any = None
    free_indices: tuple[Any, ...] = ()
    for_each_n: Callable[[int], "Proof"] | None = None
    sizes: tuple[int, ...] = ()
    display_n: int | None = None
    problem: str = "extra"
    expected_ok: bool = True
    notes: str = ""
    source: str = field(default="", compare=False)


def proof_family(build: Callable[[int], Proof], sizes: Sequence[int], display_n: int | None = None) -> Proof:
    """One proof checked for every n in ``sizes``; ``build(display_n)`` is the instance writeups show."""
    from dataclasses import replace

    sizes = tuple(int(n) for n in sizes)
    if not sizes:
        raise InputError("proof_family needs at least one size")
    shown_n = sizes[0] if display_n is None else display_n
    shown = build(shown_n)
    claim = f"For every n = {min(sizes)}..{max(sizes)}: {shown.claim}"
    return replace(shown, for_each_n=build, sizes=sizes, display_n=shown_n, claim=claim)


@dataclass(frozen=True, kw_only=True)
class StepResult(StepVerdict):
    """A proof step's verdict: ``index`` (1-based position in ``Proof.steps``) and its justification.

    ``verdict`` is proved, holds, false or unchecked (no point to test, exact argument out of
    budget); ``exact``: the exact normal-form argument settled the claim; ``max_error``: for
    ``=`` the max scaled error, for ``!=`` the max scaled difference found."""

    index: int
    justification: str

    def describe(self) -> str:
        text = f"step {self.index} ({self.justification}): {self.verdict}"
        if self.counterexample is not None and self.verdict == Verdict.FALSE:
            text += f"; counterexample {self.counterexample.describe()}"
        return text


@dataclass(frozen=True)
class ProofResult:
    name: str
    title: str
    ok: bool
    expected_ok: bool
    steps: tuple[StepResult, ...]
    points: int
    max_error: float  # over the '=' claims
    seconds: float
    summary: str
    proof: Any = field(default=None, repr=False, compare=False)  # the Proof checked, for displays

    @property
    def as_expected(self) -> bool:
        return self.ok == self.expected_ok

    def _repr_html_(self) -> str:  # Jupyter; the renderer is imported only when a notebook asks
        from symderiv.render.notebook import proof_result_html

        return proof_result_html(self)

    def _repr_latex_(self) -> str:
        from symderiv.render.notebook import proof_result_latex

        return proof_result_latex(self)

"""Machine-checked step-by-step proofs: the form of a proof, the checker, the loader.

A proof is data: a title, the claim in words, and a chain of steps, each an
expression plus a short justification. Consecutive steps are claimed equal
(``relation="="``) or, to demonstrate a claimed inequality, different
(``relation="!="``); a step with ``relation="start"`` begins a new chain in the
same proof (for example a special case). Symbols introduced for readability
(``δ_y``, ``gvdot``, ``y_k``) are given meaning by ``definitions``, which the
checker unfolds before comparing.

The checker proves each claim twice:

1. exactly, by bringing both sides to a normal form in which equality is a
   rational-function identity (``symderiv.algebra.normal_forms``: jets for
   abstract functions, the ``e_k / Z`` form for softmax at fixed n, canonical
   indexed sums with Kronecker deltas for symbolic n);
2. numerically, at random points with abstract functions replaced by random
   concrete ones (``symderiv.proofkit.numeric``; the functions and the exact
   counterexample search are the witness layer's,
   ``symderiv.algebra.instantiation`` and ``symderiv.algebra.witness``).

Verdicts per step: ``proved`` (both witnesses agree with the claim),
``holds`` (numerically true at every point, the exact normal form was
inconclusive), ``false`` (a concrete counterexample, reported with the
variable values and the instantiated functions).

Built-in proofs live in the package ``symderiv.proofs`` (folder
symderiv/proofs/). A user's proof file is a Python module defining
``PROOF = Proof(...)``; see the proofs page of the docs.
"""

from __future__ import annotations

from symderiv.proofkit.checker import check_proof, unfold_definitions
from symderiv.proofkit.loading import BUILTIN_PROOFS, builtin_names, load_proof_file, load_proofs
from symderiv.proofkit.types import (
    METHODS,
    RELATIONS,
    Counterexample,
    Proof,
    ProofResult,
    Step,
    StepResult,
    proof_family,
)

__all__ = [
    "BUILTIN_PROOFS",
    "METHODS",
    "RELATIONS",
    "Counterexample",
    "Proof",
    "ProofResult",
    "Step",
    "StepResult",
    "builtin_names",
    "check_proof",
    "load_proof_file",
    "load_proofs",
    "proof_family",
    "unfold_definitions",
]

"""The course's problems, exactly and numerically (a domain package).

- :mod:`~symderiv.problems.chain`: Problem 1 — a scalar reaching the loss along two
  paths; backprop's first derivative proved, the second derivative's five terms,
  and the naive second-order rule that misses them (SymPy).
- :mod:`~symderiv.problems.chain_numbers`: Problem 1 in numbers — SymPy against the
  engine (4-node and fine-grained graphs) against finite differences, within the
  rounding model, close calls settled in high precision.
- :mod:`~symderiv.problems.softmax`: Problem 2 — the softmax Jacobian and the EDF
  backward rule proved for each fixed n in a polynomial ring.
- :mod:`~symderiv.problems.softmax_numbers`: Problem 2 in numbers.
- :mod:`~symderiv.problems.notation`: the symbols and helpers the built-in proofs and
  the LaTeX writeup use for Problems 1 and 2.

Stands on the engine and the foundations (numeric, algebra, printing); knows
nothing of the other domains or of the commands.
"""

"""The exact foundation: expressions from user text, exact normal forms, and the exact core.

Contract: every verdict of every command (``chain``, ``softmax``, ``verify``,
``latex``, ``check``) is decided here, the same way:

- :mod:`~symderiv.algebra.verdict`: the vocabulary — ``Verdict`` (proved,
  holds, false, unchecked), one ``Counterexample``, ``StepVerdict``.
- :mod:`~symderiv.algebra.zero`: the one graded zero test (structural, bounded
  expand, rational, exp/log rewrites, bounded simplify) under one CPU budget;
  it answers proved zero / nonzero / unknown / too large, never a guess.
- :mod:`~symderiv.algebra.decide`: the one decision of a claimed relation
  between two exact expressions, given a setting (normal form, sampler,
  conditions, counterexample searches). Proved only by an exact argument;
  false only with a counterexample found exactly or confirmed at 50 digits.
- the witness layer, shared by the proof checker and ``check``:
  :mod:`~symderiv.algebra.instantiation` (the one family of concrete functions
  for abstract ones, consistent with their derivatives) and
  :mod:`~symderiv.algebra.witness` (the one exact rational counterexample
  search, and the 50-digit confirmation of a point).
- :mod:`~symderiv.algebra.expressions`: the bounded recursive-descent parser of the
  command line's expression language (never ``eval``/``sympify``).
- :mod:`~symderiv.algebra.normal_forms`: normal forms in which equality is a
  rational-function identity (jets for abstract functions, the softmax ring,
  canonical indexed sums).

Knows nothing above :mod:`symderiv.numeric`, :mod:`symderiv.budget` and
:mod:`symderiv.errors`.
"""

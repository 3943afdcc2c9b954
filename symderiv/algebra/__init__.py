"""The exact foundation: expressions from user text and exact normal forms.

- :mod:`~symderiv.algebra.expressions`: the bounded recursive-descent parser of the
  command line's expression language (never ``eval``/``sympify``).
- :mod:`~symderiv.algebra.normal_forms`: normal forms in which equality is a
  rational-function identity (jets for abstract functions, the softmax ring,
  canonical indexed sums).

Knows nothing above :mod:`symderiv.numeric`, :mod:`symderiv.budget` and
:mod:`symderiv.errors`.
"""

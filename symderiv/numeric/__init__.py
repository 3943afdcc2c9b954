"""The numeric foundation: how symderiv evaluates, compares and bounds floats.

- :mod:`~symderiv.numeric.evaluate`: SymPy expressions to vectorised numpy (and mpmath) functions;
- :mod:`~symderiv.numeric.tolerance`: every float tolerance, named, with its reason (``64 · eps · M``, ...);
- :mod:`~symderiv.numeric.rounding`: the scale M of a computation as it is evaluated;
- :mod:`~symderiv.numeric.precision`: close calls settled at ``HIGH_PRECISION_DIGITS`` (50) digits;
- :mod:`~symderiv.numeric.differences`: central finite differences with error bounds (and the
  other numerical derivatives, each for a stated reason);
- :mod:`~symderiv.numeric.elementary`: the one table of elementary functions users may write.

Nothing here imports above :mod:`symderiv.budget` and :mod:`symderiv.errors`.
"""

"""The numeric foundation: how symderiv evaluates, compares and bounds floats.

- :mod:`~symderiv.numeric.evaluate`: SymPy expressions to vectorised numpy (and mpmath) functions;
- :mod:`~symderiv.numeric.tolerance`: when two float results agree (``ULPS · eps · M``);
- :mod:`~symderiv.numeric.rounding`: the scale M of a computation as it is evaluated;
- :mod:`~symderiv.numeric.precision`: close calls settled at ``MP_DPS`` digits;
- :mod:`~symderiv.numeric.differences`: central finite differences with error bounds;
- :mod:`~symderiv.numeric.elementary`: the one table of elementary functions users may write.

Nothing here imports above :mod:`symderiv.budget` and :mod:`symderiv.errors`.
"""

"""check_backward: verify anyone's backward (and second-order) rule against exact derivatives.

The public entry points live in :mod:`~symderiv.backward_check.api`
(``check_backward``, ``check_jvp``, ``check_double_backward``, ``check_hvp`` and
their ``assert_*`` forms; also reachable as ``symderiv.check_backward`` etc.).
Inside: :mod:`~.inputs` (named inputs and their shapes), :mod:`~.reference` (the
exact reference from SymPy, settled in mpmath at adaptive precision), :mod:`~.tolerance` (the
tolerance model), :mod:`~.points` (random, special and adaptive points),
:mod:`~.kinds` (first and second order), :mod:`~.rule` (calling the rule under
test), :mod:`~.core` (the check loop),
:mod:`~.result` (the result dataclasses).

Stands on the foundations only.
"""

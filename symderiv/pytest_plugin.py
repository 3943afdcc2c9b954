"""pytest plugin (``pytest11`` entry point): the ``check_backward`` fixture.

Loaded by every pytest run in an environment where symderiv is installed, so
this module imports only pytest at top level; SymPy and numpy load the first
time a test actually uses the fixture.

Usage, with no imports in the test module::

    def test_my_softmax_backward(check_backward):
        result = check_backward(forward, backward, n=4)

The fixture behaves like :func:`symderiv.assert_backward`: it takes the same
arguments as :func:`symderiv.check_backward`, raises ``AssertionError`` with
the full report (counterexample row, expected vs got, tolerance) when the
rule is wrong, and returns the :class:`symderiv.BackwardCheck` result when it
is right, so a test can inspect ``result.max_rel_error`` further.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest


@pytest.fixture
def check_backward() -> Callable[..., Any]:
    """Return :func:`symderiv.assert_backward` (fails the test on a wrong rule)."""
    from symderiv.backward_check_api import assert_backward

    return assert_backward

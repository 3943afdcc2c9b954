"""pytest plugin (``pytest11`` entry point): the ``check_backward`` fixture and its
second-order siblings ``check_jvp``, ``check_double_backward`` and ``check_hvp``.

Loaded by every pytest run in an environment where symderiv is installed, so
this module imports only pytest at top level; SymPy and numpy load the first
time a test actually uses the fixture.

Usage, with no imports in the test module::

    def test_my_softmax_backward(check_backward):
        result = check_backward(forward, backward, n=4)

Each fixture behaves like :func:`symderiv.assert_backward` (``assert_jvp``,
``assert_double_backward``, ``assert_hvp``): it takes the same
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
    from symderiv.backward_check.api import assert_backward

    return assert_backward


@pytest.fixture
def check_jvp() -> Callable[..., Any]:
    """Return :func:`symderiv.assert_jvp` (fails the test on a wrong forward-mode rule)."""
    from symderiv.backward_check.api import assert_jvp

    return assert_jvp


@pytest.fixture
def check_double_backward() -> Callable[..., Any]:
    """Return :func:`symderiv.assert_double_backward` (fails the test on a wrong double backward)."""
    from symderiv.backward_check.api import assert_double_backward

    return assert_double_backward


@pytest.fixture
def check_hvp() -> Callable[..., Any]:
    """Return :func:`symderiv.assert_hvp` (fails the test on a wrong Hessian-vector product)."""
    from symderiv.backward_check.api import assert_hvp

    return assert_hvp

"""Public home of check_backward / assert_backward / BackwardCheck.

The implementation lives in :mod:`symderiv.backward_check_api`. This module
shares its name with the function ``check_backward``, and importing a
submodule makes Python set ``symderiv.check_backward`` to the *module*; so
that ``from symderiv import check_backward`` still gives something you can
call like the function, the module object itself is made callable and
forwards the call. (Cleaner: point ``symderiv.__init__._LAZY`` at
``symderiv.backward_check_api`` and drop this shim.)
"""

from __future__ import annotations

import sys
import types
from typing import Any

from symderiv.backward_check_api import (
    BackwardCheck,
    Counterexample,
    assert_backward,
    check_backward,
)

__all__ = ["BackwardCheck", "Counterexample", "assert_backward", "check_backward"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> BackwardCheck:
        return check_backward(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

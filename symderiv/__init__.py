"""symderiv: check the mathematics of backpropagation exactly (SymPy) and numerically (numpy).

The package imports nothing heavy at import time: ``import symderiv`` and
``symderiv --help`` never load SymPy. Public names are resolved lazily.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# name -> module that defines it; resolved on first attribute access (PEP 562)
_LAZY = {
    "check_backward": "symderiv.backward_check.api",
    "assert_backward": "symderiv.backward_check.api",
    "BackwardCheck": "symderiv.backward_check.api",
    "check_jvp": "symderiv.backward_check.api",
    "assert_jvp": "symderiv.backward_check.api",
    "check_double_backward": "symderiv.backward_check.api",
    "assert_double_backward": "symderiv.backward_check.api",
    "check_hvp": "symderiv.backward_check.api",
    "assert_hvp": "symderiv.backward_check.api",
    "per_example": "symderiv.backward_check.inputs",
    "shared": "symderiv.backward_check.inputs",
    "labels": "symderiv.backward_check.inputs",
    "Graph": "symderiv.engine.graph",
    "check_writeup": "symderiv.writeup.api",
    "CheckReport": "symderiv.writeup.report",
    "default_registry": "symderiv.engine.ops",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'symderiv' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)

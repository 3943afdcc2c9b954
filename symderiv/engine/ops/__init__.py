"""The engine's primitive ops, one module per family, collected explicitly.

* :mod:`~symderiv.engine.ops.core` — what an op is (:class:`Op`, keyword-only,
  whose docstring is the contract every rule keeps), :class:`Registry`,
  :func:`build_registry` and the completeness check;
* :mod:`~symderiv.engine.ops.builders` — rule builders by kind: ``unary``
  (from f′ and f″), ``linear`` (second order free), ``bilinear`` (tangent rule
  from the VJP);
* :mod:`~symderiv.engine.ops.kernels` — the numpy fast paths the families share;
* the families, each a module with an ``ops()`` list:
  :mod:`~symderiv.engine.ops.elementwise` (neg, exp, log, sqrt, sin, cos, tanh,
  sigmoid, relu, pow), :mod:`~symderiv.engine.ops.binary` (add, sub, mul, div),
  :mod:`~symderiv.engine.ops.linalg` (matmul, affine),
  :mod:`~symderiv.engine.ops.reductions` (sum, mean) and
  :mod:`~symderiv.engine.ops.softmax` (softmax, log_softmax, nll,
  cross_entropy, mean_cross_entropy).

:func:`core_ops` lists every op in a fixed order (the order of ``verify``'s
rows); :func:`default_registry` builds and checks their registry on first
use. Importing this package registers nothing.
"""

from __future__ import annotations

from functools import lru_cache

from symderiv.engine.ops import binary, elementwise, linalg, reductions, softmax
from symderiv.engine.ops.builders import bilinear, linear, unary
from symderiv.engine.ops.core import REQUIRED_OPS, Array, Cotangents, Op, Registry, build_registry
from symderiv.engine.ops.kernels import unbroadcast

__all__ = [
    "Array", "Cotangents", "Op", "REQUIRED_OPS", "Registry", "bilinear", "build_registry", "core_ops",
    "default_registry", "linear", "unary", "unbroadcast",
]

#: the family modules, in the registry's order
FAMILIES = (elementwise, binary, linalg, reductions, softmax)


def core_ops() -> list[Op]:
    """Every primitive op, family by family, in a fixed order (fresh objects each call)."""
    return [op for family in FAMILIES for op in family.ops()]


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of :func:`core_ops`, built (and checked) on first use."""
    return build_registry(core_ops())

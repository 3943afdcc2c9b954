"""What an engine op is (:class:`Op`) and how ops are collected (:class:`Registry`).

An op is plain data: every rule it needs, side by side, as keyword fields.
The shapes of the rules, with ``inputs`` the tuple of input arrays (leading
axis = minibatch), ``out`` the op's value, ``params`` the op's keyword
parameters (a reduction's ``axis``, ``pow``'s ``p``) and ``needs[i]`` True
where input i's cotangent is wanted:

* ``forward(*inputs, **params) -> out``, the numpy value;
* ``vjp(g, out, inputs, needs, **params) -> cotangents``, one per input, each
  shaped like its input (broadcasting undone), ``None`` where ``needs`` is
  False or the input is not differentiable;
* ``jvp(tangents, out, inputs, **params) -> out_tangent`` (forward mode; a
  tangent is ``None`` for "zero");
* ``vjp_tangent(g, out, out_tangent, inputs, tangents, needs, **params)``, what
  exact second order needs: the derivative of ``vjp`` along the input
  tangents with ``g`` held fixed. Forward-over-reverse then gives
  Hessian-vector products: d/dt vjp(g + t·ġ, x + t·ẋ) = vjp(ġ, x) + vjp_tangent(g, x, ẋ);
* ``naive_vjp(d2, out, inputs, needs, **params)``, the *naive* second-order
  rule per scalar edge u→v: Σ_v δ²_v · ∂²v/∂u² (kept to show what it misses);
* ``sympy_meaning(sp, *inputs, **params)``, what the op means, on SymPy
  matrices (rows = minibatch); ``verify`` and the tests hold every rule above
  to it (:mod:`symderiv.engine.op_checks`);
* ``sample(rng) -> (inputs, params)``, valid example inputs (inside the op's
  domain, away from kinks) on which the op is checked against SymPy.

``None`` stands for an exact zero throughout (no tangent, no contribution), so
linear ops cost nothing in second order.

Optional speed-ups, each must equal what it replaces (tested for every op
that declares one):

* ``second_order_vjp(g, ġ, out, out_tangent, inputs, tangents, needs, **params)
  -> (vjp(g), vjp(ġ) + vjp_tangent(g, ẋ))``, both computed together, sharing
  work (ġ may be ``None``);
* ``forward_residual(*inputs, **params) -> (out, residual)`` with
  ``vjp_residual(g, residual, inputs, needs, **params)`` equal to ``vjp``: the
  backward rule reuses what the forward computed (the fused cross-entropy's
  softmax). SGDStep uses the pair; a residual lives for one step only.

What ``vjp`` reads besides ``g``, declared so SGDStep can free a value as soon
as no rule still to run reads it (it may then hand the rule ``None`` for what
it declares unread; tested): ``vjp_reads_output`` (σ' = y(1 − y)) and
``vjp_reads_inputs`` (x.T @ g, or only an input's shape). A ``vjp`` swapped in
with ``dataclasses.replace`` keeps these flags: set them to True unless the
new rule reads no more than the old one.

Ops are built by the rule builders of :mod:`symderiv.engine.ops.builders`
where their kind allows, collected explicitly by :func:`build_registry`, and
:meth:`Registry.check_complete` rejects an op with a missing piece. Nothing is
registered as a side effect of importing a module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

Array = np.ndarray
Cotangents = tuple  # tuple[Array | None, ...], one entry per input
Sampler = Callable[[np.random.Generator], tuple[tuple, dict]]


@dataclass(frozen=True, kw_only=True)
class Op:
    """One primitive op with all its rules (the module docstring states each
    rule's contract). Keyword-only: an op names every piece it gives."""

    name: str
    arity: int
    forward: Callable[..., Array]
    vjp: Callable[..., Cotangents]
    jvp: Callable[..., Array | None]
    vjp_tangent: Callable[..., Cotangents]
    naive_vjp: Callable[..., Cotangents]
    sympy_meaning: Callable[..., Any]
    doc: str
    #: per input: does it have a derivative (False for integer labels); default all True
    differentiable: tuple[bool, ...] = ()
    elementwise: bool = False
    sample: Sampler | None = None
    second_order_vjp: Callable[..., tuple[Cotangents, Cotangents]] | None = None
    forward_residual: Callable[..., tuple[Array, Any]] | None = None
    vjp_residual: Callable[..., Cotangents] | None = None
    vjp_reads_output: bool = True
    vjp_reads_inputs: bool = True

    def __post_init__(self) -> None:
        if not self.differentiable:
            object.__setattr__(self, "differentiable", (True,) * self.arity)


#: The ops the engine promises (issue: core). check_complete() insists on them.
REQUIRED_OPS = (
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "sin", "cos", "tanh",
    "sigmoid", "relu", "matmul", "affine", "sum", "mean", "softmax", "log_softmax", "nll",
)

_OP_FIELDS = ("forward", "vjp", "jvp", "vjp_tangent", "naive_vjp", "sympy_meaning", "sample")


@dataclass(frozen=True)
class Registry:
    """Ops by name; built by :func:`build_registry`, which checks it."""

    ops: Mapping[str, Op] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Op:
        try:
            return self.ops[name]
        except KeyError:
            known = ", ".join(sorted(self.ops))
            raise KeyError(f"unknown op {name!r}; known ops: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.ops

    def __iter__(self):
        return iter(self.ops.values())

    def __len__(self) -> int:
        return len(self.ops)

    def check_complete(self, required: Sequence[str] = REQUIRED_OPS) -> None:
        """Raise ValueError naming every missing op and every op with a missing piece."""
        problems = [f"missing op {name!r}" for name in required if name not in self.ops]
        for op in self.ops.values():
            for field_name in _OP_FIELDS:
                if not callable(getattr(op, field_name, None)):
                    problems.append(f"op {op.name!r} has no {field_name}")
            if len(op.differentiable) != op.arity:
                problems.append(
                    f"op {op.name!r}: differentiable has {len(op.differentiable)} entries for arity {op.arity}"
                )
            if not op.doc:
                problems.append(f"op {op.name!r} is undocumented")
            if (op.forward_residual is None) != (op.vjp_residual is None):
                problems.append(f"op {op.name!r} has only one of forward_residual and vjp_residual")
        if problems:
            raise ValueError("incomplete op registry: " + "; ".join(problems))


def build_registry(ops: Iterable[Op]) -> Registry:
    """Collect ops into a registry, rejecting duplicate names, and check it."""
    table: dict[str, Op] = {}
    for op in ops:
        if op.name in table:
            raise ValueError(f"duplicate op name {op.name!r}")
        table[op.name] = op
    registry = Registry(table)
    registry.check_complete()
    return registry

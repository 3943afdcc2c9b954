"""Adapters: check a real framework's op directly (PyTorch, JAX), first and second order.

Contract: :func:`symderiv.adapters.torch.torch_rules` and
:func:`symderiv.adapters.jax.jax_rules` turn an op of that framework (a
callable on batch-first arrays: a ``torch.autograd.Function``'s ``apply``, a
``jax.custom_vjp``/``custom_jvp`` function, or any composition) into the
rules ``check_backward``, ``check_jvp``, ``check_double_backward`` and
``check_hvp`` call, so the framework's *own* derivative rules are what is
checked against SymPy. :func:`check_op` runs all of them. The frameworks are
optional extras (``pip install 'symderiv[torch]'`` / ``'symderiv[jax]'``);
importing an adapter without its framework raises ImportError saying so.
Where a framework cannot run a transformation on an op at all (JAX's forward
mode on a ``custom_vjp`` function, PyTorch's on a ``Function`` without
``jvp``), the adapter's rule raises :class:`NotApplicable` and
:func:`check_op` reports that check as *not applicable* (not a failure);
called directly, the check fails with the reason, as for any rule that
raises. This module imports neither framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = ["FrameworkRules", "NotApplicable", "NotApplicableCheck", "OpCheck", "check_op"]


class NotApplicable(Exception):
    """The framework cannot run this transformation on the op (raised by an adapter's rule)."""


@dataclass(frozen=True, repr=False)
class NotApplicableCheck:
    """A check :func:`check_op` could not run on the op, and why; it does not fail the op."""

    kind: str
    reason: str
    ok: bool = True

    def __bool__(self) -> bool:
        return True

    def report(self) -> str:
        return f"{self.kind} check: not applicable ({self.reason})"

    __repr__ = report
    __str__ = report


def differentiable_names(inputs: Mapping[str, Any] | None, arrays: Mapping[str, Any]) -> list[str]:
    """The inputs a rule differentiates: the declared ones (named form), else
    every floating-point array (the classic form's x)."""
    if inputs is not None:
        from symderiv.backward_check.inputs import build_layout

        return build_layout(None, inputs).differentiable_names()
    import numpy as np

    return [k for k, v in arrays.items() if np.asarray(v).dtype.kind == "f"]


@dataclass(frozen=True)
class FrameworkRules:
    """The four rules of one framework op, in check_backward's numpy convention.

    Each accepts the classic positional call (``backward(x, y, gy)``) and the
    named call (``backward(x=..., W=..., y=..., gy=...)``).
    """

    framework: str
    backward: Callable[..., Any]
    jvp: Callable[..., Any]
    double_backward: Callable[..., Any]
    hvp: Callable[..., Any]


@dataclass(frozen=True, repr=False)
class OpCheck:
    """The results of :func:`check_op`, by check; true when all passed."""

    framework: str
    results: Mapping[str, Any]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    def __bool__(self) -> bool:
        return self.ok

    def report(self) -> str:
        head = f"{self.framework} op: {'ok' if self.ok else 'FAILED'}"
        return "\n".join([head] + [f"[{name}]\n{result.report()}" for name, result in self.results.items()])

    __repr__ = report
    __str__ = report


def check_op(
    forward: Callable[..., Any],
    rules: FrameworkRules,
    n: int | None = None,
    *,
    inputs: Mapping[str, Any] | None = None,
    checks: tuple[str, ...] = ("backward", "jvp", "double_backward"),
    **options: Any,
) -> OpCheck:
    """Run the chosen checks (``"backward"``, ``"jvp"``, ``"double_backward"``,
    ``"hvp"``) of one framework op against the SymPy ``forward``. A check
    the framework cannot run on the op (its rule raised :class:`NotApplicable`)
    is reported as a :class:`NotApplicableCheck`."""
    from symderiv.backward_check import api

    known = {"backward": api.check_backward, "jvp": api.check_jvp,
             "double_backward": api.check_double_backward, "hvp": api.check_hvp}
    results = {}
    for name in checks:
        if name not in known:
            from symderiv.errors import InputError

            raise InputError(f"unknown check {name!r}; choose from {', '.join(known)}")
        refused: list[str] = []
        result = known[name](forward, _noting_refusal(getattr(rules, name), refused), n, inputs=inputs, **options)
        results[name] = NotApplicableCheck(name, refused[0]) if refused and not result.ok else result
    return OpCheck(rules.framework, results)


def _noting_refusal(rule: Callable[..., Any], refused: list[str]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return rule(*args, **kwargs)
        except NotApplicable as exc:
            refused.append(str(exc))
            raise

    return run


def split_call(args: tuple, kwargs: dict, kind: str) -> tuple[dict, dict, bool]:
    """(inputs by name, directions by name, classic?) from a rule call.

    Classic calls are positional: ``(x, y, gy)``, ``(x, y, x_dot)`` or
    ``(x, y, gy, x_dot, gy_dot)``; named calls pass the inputs by name and
    ``y``, ``gy``, ``gy_dot``, ``tangents``.
    """
    if args:
        positions = {"backward": ("y", "gy"), "jvp": ("y", "x_dot"), "hvp": ("y", "x_dot"),
                     "double_backward": ("y", "gy", "x_dot", "gy_dot")}[kind]
        named = dict(zip(positions, args[1:]))
        directions = {k: v for k, v in named.items() if k != "y"}
        if "x_dot" in directions:
            directions["tangents"] = {"x": directions.pop("x_dot")}
        return {"x": args[0]}, directions, True
    kwargs = dict(kwargs)
    kwargs.pop("y", None)
    directions = {k: kwargs.pop(k) for k in ("gy", "gy_dot", "tangents") if k in kwargs}
    return kwargs, directions, False

"""PyTorch adapter: check an ``autograd.Function`` (or any torch op) against SymPy.

Contract: ``torch_rules(fn, inputs=None)`` returns the
:class:`~symderiv.adapters.FrameworkRules` of ``fn``, a callable on torch
tensors with a leading batch axis: ``fn(x)`` in the classic form (one input
x of shape (batch, n)), ``fn(**tensors)`` in the named form (pass the same
``inputs`` as to the check, so that inputs declared not differentiable get
no gradient). What each rule runs, all through PyTorch's own autograd:

- ``backward``: ``torch.autograd.grad(y, inputs, gy)`` (the Function's
  ``backward``);
- ``jvp``: forward-mode AD (``torch.autograd.forward_ad``, the Function's
  ``jvp``; a Function without one raises
  :class:`~symderiv.adapters.NotApplicable`, reported by ``check_op`` as not
  applicable), or with ``jvp_mode="double_backward"`` the double-backward trick
  ``d/du <J^T u, ẋ>`` (needs only a differentiable ``backward``);
- ``double_backward``: reverse over reverse, as ``gradgradcheck`` does:
  the gradient of ``<backward(gy), ẋ>`` with respect to the inputs (equal to
  the exact ``Σ_k gy_k ∇²y_k ẋ`` by the symmetry of the Hessian), plus
  ``backward(ġy)``;
- ``hvp``: the gradient of ``<∇ Σ y, ẋ>`` (scalar per-example outputs).

Arrays keep their dtype (float16/32/64 tensors); integer inputs (labels)
are passed as int64 tensors and never differentiated.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised where torch is absent
    raise ImportError("symderiv.adapters.torch needs PyTorch: pip install 'symderiv[torch]'") from exc

from symderiv.adapters import FrameworkRules, NotApplicable, differentiable_names, split_call

__all__ = ["torch_rules"]


def _tensors(arrays: Mapping[str, np.ndarray], diff: list[str]) -> dict[str, "torch.Tensor"]:
    return {k: torch.tensor(np.asarray(v), requires_grad=k in diff) for k, v in arrays.items()}


def _numpy(t: "torch.Tensor | None", like: "torch.Tensor") -> np.ndarray:
    return (torch.zeros_like(like) if t is None else t).detach().numpy()


def _result(values: dict[str, np.ndarray], classic: bool) -> Any:
    return values["x"] if classic else values


def torch_rules(fn: Callable[..., Any], inputs: Mapping[str, Any] | None = None, *,
                jvp_mode: str = "forward") -> FrameworkRules:
    """The backward, jvp, double_backward and hvp rules of a torch op."""
    if jvp_mode not in ("forward", "double_backward"):
        raise ValueError("jvp_mode must be 'forward' or 'double_backward'")

    def prepare(args, kwargs, kind):
        arrays, directions, classic = split_call(args, kwargs, kind)
        diff = differentiable_names(None if classic else inputs, arrays)
        tensors = _tensors(arrays, diff)
        y = fn(tensors["x"]) if classic else fn(**tensors)
        y_shape = (args[1] if classic else kwargs["y"]).shape
        return tensors, diff, directions, classic, y, y_shape

    def seed(values: np.ndarray, y: "torch.Tensor") -> "torch.Tensor":
        return torch.tensor(np.asarray(values)).reshape(y.shape).to(y.dtype)

    def backward(*args, **kwargs):
        tensors, diff, dirs, classic, y, _ = prepare(args, kwargs, "backward")
        leaves = [tensors[k] for k in diff]
        grads = torch.autograd.grad(y, leaves, seed(dirs["gy"], y), allow_unused=True)
        return _result({k: _numpy(g, tensors[k]) for k, g in zip(diff, grads)}, classic)

    def jvp(*args, **kwargs):
        arrays, dirs, classic = split_call(args, kwargs, "jvp")
        diff = differentiable_names(None if classic else inputs, arrays)
        y_shape = (args[1] if classic else kwargs["y"]).shape
        tangents = dirs["tangents"]
        if jvp_mode == "forward":
            import torch.autograd.forward_ad as fwad

            with fwad.dual_level():
                duals = {k: (fwad.make_dual(torch.tensor(np.asarray(v)), torch.tensor(np.asarray(tangents[k])))
                             if k in diff else torch.tensor(np.asarray(v))) for k, v in arrays.items()}
                try:
                    out = fn(duals["x"]) if classic else fn(**duals)
                except NotImplementedError as exc:
                    if "jvp" in str(exc):
                        raise NotApplicable(
                            "the autograd.Function has no jvp for forward mode (torch_rules(..., "
                            "jvp_mode='double_backward') checks J x_dot through its backward)"
                        ) from None
                    raise
                tangent = fwad.unpack_dual(out).tangent
                result = torch.zeros_like(out) if tangent is None else tangent
                return result.detach().numpy().reshape(y_shape)
        tensors = _tensors(arrays, diff)
        y = fn(tensors["x"]) if classic else fn(**tensors)
        u = torch.zeros_like(y, requires_grad=True)
        leaves = [tensors[k] for k in diff]
        grads = torch.autograd.grad(y, leaves, u, create_graph=True, allow_unused=True)
        pairs = [(g, torch.tensor(np.asarray(tangents[k]))) for g, k in zip(grads, diff) if g is not None]
        (jt,) = torch.autograd.grad([g for g, _ in pairs], [u], [t for _, t in pairs], allow_unused=True)
        return _numpy(jt, y).reshape(y_shape)

    def double_backward(*args, **kwargs):
        tensors, diff, dirs, classic, y, _ = prepare(args, kwargs, "double_backward")
        leaves = [tensors[k] for k in diff]
        through_gy_dot = torch.autograd.grad(y, leaves, seed(dirs["gy_dot"], y), retain_graph=True, allow_unused=True)
        grads = torch.autograd.grad(y, leaves, seed(dirs["gy"], y), create_graph=True, allow_unused=True)
        pairs = [(g, torch.tensor(np.asarray(dirs["tangents"][k]))) for g, k in zip(grads, diff)]
        used = [(g, t) for g, t in pairs if g is not None and g.requires_grad]
        curvature = (torch.autograd.grad([g for g, _ in used], leaves, [t for _, t in used], allow_unused=True)
                     if used else [None] * len(leaves))
        values = {k: _numpy(c, tensors[k]) + _numpy(d, tensors[k]) for k, c, d in zip(diff, curvature, through_gy_dot)}
        return _result(values, classic)

    def hvp(*args, **kwargs):
        tensors, diff, dirs, classic, y, _ = prepare(args, kwargs, "hvp")
        leaves = [tensors[k] for k in diff]
        grads = torch.autograd.grad(y.sum(), leaves, create_graph=True, allow_unused=True)
        used = [(g, torch.tensor(np.asarray(dirs["tangents"][k]))) for g, k in zip(grads, diff)
                if g is not None and g.requires_grad]
        products = (torch.autograd.grad([g for g, _ in used], leaves, [t for _, t in used], allow_unused=True)
                    if used else [None] * len(leaves))
        return _result({k: _numpy(p, tensors[k]) for k, p in zip(diff, products)}, classic)

    return FrameworkRules("torch", backward, jvp, double_backward, hvp)

"""JAX adapter: check ``jax.custom_vjp`` / ``jax.custom_jvp`` functions against SymPy.

Contract: ``jax_rules(fn, inputs=None)`` returns the
:class:`~symderiv.adapters.FrameworkRules` of ``fn``, a function of JAX
arrays with a leading batch axis: ``fn(x)`` in the classic form,
``fn(**arrays)`` in the named form (pass the check's ``inputs`` so that
inputs declared not differentiable are held fixed). Each rule runs JAX's own
transformations, so a function's custom rules are what is checked:

- ``backward``: ``jax.vjp`` (a ``custom_vjp``'s ``bwd``);
- ``jvp``: ``jax.jvp`` (a ``custom_jvp``'s rule; JAX refuses forward mode on
  a ``custom_vjp`` function: the rule raises
  :class:`~symderiv.adapters.NotApplicable`, which ``check_op`` reports as not
  applicable and a direct ``check_jvp`` as a failed check);
- ``double_backward``: reverse over reverse, as PyTorch's ``gradgradcheck``
  (JAX has no forward mode through a ``custom_vjp``): the gradient of
  ``<backward(gy), ẋ>`` (equal to ``Σ_k gy_k ∇²y_k ẋ`` by the symmetry of the
  Hessian) plus ``backward(ġy)``;
- ``hvp``: ``jax.jvp`` of ``jax.grad`` of Σ y.

float64 checks run inside ``jax.enable_x64(True)`` (JAX computes in float32
by default); the result must come back in the dtype of the inputs.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - exercised where jax is absent
    raise ImportError("symderiv.adapters.jax needs JAX: pip install 'symderiv[jax]'") from exc

from symderiv.adapters import FrameworkRules, NotApplicable, differentiable_names, split_call

__all__ = ["jax_rules"]


def _numpy(value: Any, like: np.ndarray) -> np.ndarray:
    out = np.asarray(value)
    if out.dtype != np.asarray(like).dtype:
        raise TypeError(f"JAX returned {out.dtype} for {np.asarray(like).dtype} inputs")
    return out


def jax_rules(fn: Callable[..., Any], inputs: Mapping[str, Any] | None = None) -> FrameworkRules:
    """The backward, jvp, double_backward and hvp rules of a JAX function.

    Each transformation is compiled once per shape (``jax.jit``): a check
    calls the rule on a few dozen batches of a handful of sizes.
    """

    def call(diff: tuple, classic: bool, primals: tuple, fixed: dict) -> Any:
        named = dict(zip(diff, primals), **fixed)
        return fn(named["x"]) if classic else fn(**named)

    def pullback(diff, classic, primals, fixed, g):
        out, pull = jax.vjp(lambda *p: call(diff, classic, p, fixed), *primals)
        return pull(g.reshape(out.shape))

    def forward_tangent(diff, classic, primals, fixed, tangents):
        return jax.jvp(lambda *p: call(diff, classic, p, fixed), primals, tangents)[1]

    def double(diff, classic, primals, fixed, gy, gy_dot, tangents):
        # reverse over reverse: the gradient of <backward(gy), ẋ> plus backward(ġy)
        _, pull_twice = jax.vjp(lambda *p: pullback(diff, classic, p, fixed, gy), *primals)
        curvature = pull_twice(tuple(t.astype(p.dtype) for t, p in zip(tangents, primals)))
        through_gy_dot = pullback(diff, classic, primals, fixed, gy_dot)
        return tuple(c + d for c, d in zip(curvature, through_gy_dot))

    def hessian_vector(diff, classic, primals, fixed, tangents):
        gradient = jax.grad(lambda *p: jnp.sum(call(diff, classic, p, fixed)), argnums=tuple(range(len(primals))))
        return jax.jvp(gradient, primals, tangents)[1]

    static = (0, 1)
    compiled = {name: jax.jit(f, static_argnums=static) for name, f in
                (("backward", pullback), ("jvp", forward_tangent), ("double_backward", double), ("hvp", hessian_vector))}

    def rule(kind: str):
        def run(*args, **kwargs):
            arrays, dirs, classic = split_call(args, kwargs, kind)
            diff = tuple(differentiable_names(None if classic else inputs, arrays))
            y_shape = (args[1] if classic else kwargs["y"]).shape
            with jax.enable_x64(np.asarray(arrays[diff[0]]).dtype == np.float64):
                primals = tuple(jnp.asarray(arrays[k]) for k in diff)
                fixed = {k: jnp.asarray(v) for k, v in arrays.items() if k not in diff}
                tangents = tuple(jnp.asarray(dirs["tangents"][k]) for k in diff) if "tangents" in dirs else ()
                if kind == "backward":
                    values = compiled[kind](diff, classic, primals, fixed, jnp.asarray(dirs["gy"]))
                elif kind == "jvp":
                    try:
                        tangent = compiled[kind](diff, classic, primals, fixed, tangents)
                    except TypeError as exc:
                        if "custom_vjp" in str(exc):
                            raise NotApplicable("JAX has no forward mode through a custom_vjp function") from None
                        raise
                    return np.asarray(tangent).reshape(y_shape)
                elif kind == "double_backward":
                    out_shape = jax.eval_shape(lambda *p: call(diff, classic, p, fixed), *primals).shape
                    gy, gy_dot = (jnp.asarray(dirs[k]).reshape(out_shape) for k in ("gy", "gy_dot"))
                    values = compiled[kind](diff, classic, primals, fixed, gy, gy_dot, tangents)
                else:
                    values = compiled[kind](diff, classic, primals, fixed, tangents)
                named = {k: _numpy(v, arrays[k]) for k, v in zip(diff, values)}
            return named["x"] if classic else named

        return run

    return FrameworkRules("jax", rule("backward"), rule("jvp"), rule("double_backward"), rule("hvp"))

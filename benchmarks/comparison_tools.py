"""The gradient checkers compared with symderiv, each run on one corpus case.

Contract: every checker takes a corpus case (tests/backward_check/corpus.py) and
returns a :class:`Verdict` (passed or not, and a short detail). The rule
under test is always the case's numpy rule; the forward is the case's SymPy
forward lambdified to float64 numpy (evaluated per label value). What each
checker is:

- ``torch_check``: ``torch.autograd.gradcheck`` (first-order cases) or
  ``gradgradcheck`` (second-order cases) run for real on a
  ``torch.autograd.Function`` whose forward and backward call the numpy
  forward and rule, and whose backward's backward calls the double-backward
  rule (H·ġ from the rule, J·ġ from the correct first-order rule). Defaults:
  eps = 1e-6, atol = 1e-5, rtol = 1e-3, float64, a batch of 3.
- ``fd_gradcheck`` / ``fd_gradgradcheck``: the same algorithm re-implemented
  in numpy (central differences of the forward, or of the backward for
  second order; the analytical Jacobian from unit cotangents), used when
  PyTorch is not installed and for the tight-tolerance and one-example variants.
- ``jax_check``: ``jax.test_util.check_grads(f, args, order, modes=("rev",))``
  run for real on a ``jax.custom_vjp`` op whose forward and backward are
  ``pure_callback`` s of the numpy forward and rule (and whose backward has a
  custom VJP calling the double-backward rule): order 1 for first-order
  cases, 2 for second-order ones. Forward mode cannot pass through a
  ``custom_vjp``, so ``"fwd"`` is not run on a hand-written VJP rule.
- ``fd_check_grads``: a numpy port of check_grads' reverse-mode test (one
  random tangent, central difference with eps = 1e-4, inner products with a
  random cotangent, atol = rtol = 1e-5), used when JAX is not installed.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from symderiv.backward_check.core import prepare
from symderiv.backward_check.inputs import build_layout
from symderiv.backward_check.points import sampling_box
from symderiv.backward_check.reference import evaluate_numpy

FD_EPS = 1e-6
FD_RTOL = 1e-3
FD_ATOL = 1e-5
FD_BATCH = 3
FD_TIGHT_RTOL = 1e-6
FD_TIGHT_ATOL = 1e-8
JAX_EPS = 1e-4
JAX_TOL = 1e-5


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class NumpyCase:
    """A case's forward and rules on named float64 arrays with a batch axis."""

    def __init__(self, case: Any):
        self.case = case
        self.layout = build_layout(case.n, case.inputs)
        self.setup = prepare("backward", case.forward, case.backward, self.layout, np.dtype(np.float64),
                             tuple(case.domain), 10.0)
        self.names = list(self.layout.names)
        self.diff = self.layout.differentiable_names()
        self.m = self.setup.m

    def sample(self, rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        arrays = {}
        for name, spec in zip(self.layout.names, self.layout.specs):
            if spec.is_label:
                arrays[name] = rng.integers(0, spec.classes, batch)
                continue
            low, high = sampling_box(*(spec.domain or self.case.domain))
            shape = spec.shape if spec.shared else (batch, *spec.shape)
            arrays[name] = rng.uniform(low, high, shape)
        return arrays

    def _rows(self, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        batch = next(len(arrays[n]) for n, s in zip(self.layout.names, self.layout.specs) if not s.shared)
        v = np.empty((batch, self.layout.n))
        for name in self.layout.real_names():
            sl, spec = self.layout.symbol_slice(name), self.layout.spec(name)
            v[:, sl] = np.broadcast_to(np.reshape(arrays[name], (1 if spec.shared else batch, -1)), (batch, spec.size))
        labels = [np.asarray(arrays[n]) for n in self.layout.label_names()]
        return v, np.stack(labels, axis=1) if labels else np.zeros((batch, 0), dtype=np.int64)

    def forward(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        v, label_rows = self._rows(arrays)
        y = np.empty((v.shape[0], self.m))
        combos = [tuple(int(c) for c in row) for row in label_rows] if label_rows.shape[1] else [()] * len(v)
        for combo in dict.fromkeys(combos):
            rows = [i for i, c in enumerate(combos) if c == combo]
            y[rows] = evaluate_numpy(self.setup.refs[combo], v[rows]).y
        return y

    def _call(self, rule: Callable, arrays: dict, y: np.ndarray, **directions: Any) -> dict[str, np.ndarray]:
        if self.layout.legacy:
            order = [directions[k] for k in ("gy", "x_dot", "gy_dot") if k in directions]
            return {"x": np.asarray(rule(arrays["x"], y, *order), dtype=np.float64)}
        kwargs = dict(arrays, y=y.reshape((len(y), *self.setup.out_shape)))
        for key, value in directions.items():
            if key == "x_dot":
                kwargs["tangents"] = value
            else:
                kwargs[key] = value.reshape(kwargs["y"].shape)
        result = rule(**kwargs)
        if not isinstance(result, dict):
            result = dict(zip(self.diff, result)) if isinstance(result, (tuple, list)) else {self.diff[0]: result}
        return {k: np.asarray(result[k], dtype=np.float64) for k in self.diff}

    def backward(self, rule: Callable, arrays: dict, gy: np.ndarray) -> dict[str, np.ndarray]:
        return self._call(rule, arrays, self.forward(arrays), gy=gy)

    def double_backward(self, arrays: dict, gy: np.ndarray, tangents: dict, gy_dot: np.ndarray) -> dict[str, np.ndarray]:
        x_dot = tangents["x"] if self.layout.legacy else tangents
        rule = self.case.backward
        if getattr(self.case, "kind", "backward") == "hvp":  # the double backward an HVP rule implies
            from tests.backward_check.corpus import hvp_as_double_backward

            rule = hvp_as_double_backward(self.case)
        return self._call(rule, arrays, self.forward(arrays), gy=gy, x_dot=x_dot, gy_dot=gy_dot)

    def hvp(self, arrays: dict, x_dot: np.ndarray) -> np.ndarray:
        """The case's HVP rule (classic form): hvp(x, y, x_dot) -> H x_dot."""
        return np.asarray(self.case.backward(arrays["x"], self.forward(arrays), x_dot), dtype=np.float64)

    def jvp(self, arrays: dict, x_dot: np.ndarray) -> np.ndarray:
        """The case's forward-mode rule (classic form): jvp(x, y, x_dot) -> y_dot."""
        return np.asarray(self.case.backward(arrays["x"], self.forward(arrays), x_dot), dtype=np.float64)

    def first_rule(self) -> Callable:
        return self.case.first if self.case.order == 2 else self.case.backward

    def jvp_from_rule(self, arrays: dict, tangents: dict) -> np.ndarray:
        """J·t from the correct first-order rule and unit cotangents (as gradcheck builds J)."""
        y = self.forward(arrays)
        out = np.zeros(y.size)
        for index in range(y.size):
            unit = np.zeros(y.size)
            unit[index] = 1.0
            grads = self.backward(self.first_rule(), arrays, unit.reshape(y.shape))
            out[index] = sum(float(np.sum(grads[k] * tangents[k])) for k in self.diff)
        return out.reshape(y.shape)


# -- re-implementations (numpy) ---------------------------------------------------------------


def _flat(arrays: dict, names: list[str]) -> np.ndarray:
    return np.concatenate([np.ravel(arrays[k]) for k in names])


def _unflat(vector: np.ndarray, like: dict, names: list[str]) -> dict:
    out, start = dict(like), 0
    for k in names:
        size = np.size(like[k])
        out[k] = vector[start:start + size].reshape(np.shape(like[k]))
        start += size
    return out


def _excess(analytical: np.ndarray, numerical: np.ndarray, atol: float, rtol: float) -> float:
    with np.errstate(all="ignore"):
        excess = np.abs(analytical - numerical) / (atol + rtol * np.abs(numerical))
    return float(np.nan_to_num(excess, nan=np.inf).max())


def fd_gradcheck(case: Any, batch: int = FD_BATCH, rtol: float = FD_RTOL, atol: float = FD_ATOL, seed: int = 0) -> tuple[bool, str]:
    """gradcheck's slow mode in numpy: (passed, worst excess or what the rule raised)."""
    nc = NumpyCase(case)
    arrays = nc.sample(np.random.default_rng(seed), batch)
    point = _flat(arrays, nc.diff)
    y = nc.forward(arrays)
    numerical = np.empty((y.size, point.size))
    with np.errstate(all="ignore"):
        for index in range(point.size):
            step = np.zeros(point.size)
            step[index] = FD_EPS
            up, down = nc.forward(_unflat(point + step, arrays, nc.diff)), nc.forward(_unflat(point - step, arrays, nc.diff))
            numerical[:, index] = ((up - down) / (2 * FD_EPS)).ravel()
    analytical = np.empty_like(numerical)
    try:
        if getattr(case, "kind", "backward") == "jvp":  # forward mode: J column by column
            for index in range(point.size):
                analytical[:, index] = nc.jvp(arrays, np.eye(point.size)[index].reshape(arrays["x"].shape)).ravel()
        else:
            for index in range(y.size):
                unit = np.zeros(y.size)
                unit[index] = 1.0
                analytical[index] = _flat(nc.backward(nc.first_rule(), arrays, unit.reshape(y.shape)), nc.diff)
    except Exception as exc:  # noqa: BLE001 - a crash is a (loud) catch
        return False, f"rule raised {type(exc).__name__}"
    worst = _excess(analytical, numerical, atol, rtol)
    return worst <= 1.0, f"{worst:.3g}"


def fd_gradgradcheck(case: Any, batch: int = FD_BATCH, rtol: float = FD_RTOL, atol: float = FD_ATOL, seed: int = 0) -> tuple[bool, str]:
    """gradgradcheck's slow mode in numpy: the Jacobian of (inputs, gy) -> backward
    by central differences against the double-backward rule's transpose."""
    nc = NumpyCase(case)
    rng = np.random.default_rng(seed)
    arrays = nc.sample(rng, batch)
    gy = rng.standard_normal(nc.forward(arrays).shape)
    point = np.concatenate([_flat(arrays, nc.diff), gy.ravel()])
    n_in = point.size - gy.size

    def backward_at(p: np.ndarray) -> np.ndarray:
        return _flat(nc.backward(nc.first_rule(), _unflat(p[:n_in], arrays, nc.diff), p[n_in:].reshape(gy.shape)), nc.diff)

    out_size = backward_at(point).size
    numerical = np.empty((out_size, point.size))
    with np.errstate(all="ignore"):
        for index in range(point.size):
            step = np.zeros(point.size)
            step[index] = FD_EPS
            numerical[:, index] = (backward_at(point + step) - backward_at(point - step)) / (2 * FD_EPS)
    analytical = np.empty_like(numerical)
    try:
        for index in range(out_size):
            unit = _unflat(np.eye(out_size)[index], arrays, nc.diff)
            curvature = nc.double_backward(arrays, gy, {k: unit[k] for k in nc.diff}, np.zeros_like(gy))
            analytical[index, :n_in] = _flat(curvature, nc.diff)
            analytical[index, n_in:] = nc.jvp_from_rule(arrays, {k: unit[k] for k in nc.diff}).ravel()
    except Exception as exc:  # noqa: BLE001
        return False, f"double backward raised {type(exc).__name__}"
    worst = _excess(analytical, numerical, atol, rtol)
    return worst <= 1.0, f"{worst:.3g}"


def fd_check_grads(case: Any, batch: int = FD_BATCH, seed: int = 0) -> tuple[bool, str]:
    """check_grads(order, modes=("rev",)) in numpy: one random direction, inner
    products; order 2 also checks the VJP of p -> backward(p, gy = f(p))."""
    nc = NumpyCase(case)
    arrays = nc.sample(np.random.default_rng(seed), batch)
    draw = np.random.RandomState(0)

    def first(p):
        return nc.forward(_unflat(p, arrays, nc.diff)).ravel()

    def first_vjp(p, u):
        return _flat(nc.backward(nc.first_rule(), _unflat(p, arrays, nc.diff), u.reshape(-1, nc.m)), nc.diff)

    def second(p):
        local = _unflat(p, arrays, nc.diff)
        return _flat(nc.backward(nc.first_rule(), local, nc.forward(local)), nc.diff)

    def second_vjp(p, u):
        local = _unflat(p, arrays, nc.diff)
        y = nc.forward(local)
        tangents = {k: v for k, v in _unflat(u, arrays, nc.diff).items() if k in nc.diff}
        curvature = _flat(nc.double_backward(local, y, tangents, np.zeros_like(y)), nc.diff)
        return curvature + _flat(nc.backward(nc.first_rule(), local, nc.jvp_from_rule(local, tangents)), nc.diff)

    p = _flat(arrays, nc.diff)
    if getattr(case, "kind", "backward") == "jvp":  # check_grads(modes=("fwd",)): one tangent, elementwise
        v = draw.randn(p.size)
        with np.errstate(all="ignore"):
            numerical = (first(p + JAX_EPS * v) - first(p - JAX_EPS * v)) * (0.5 / JAX_EPS)
        try:
            tangent_out = nc.jvp(arrays, v.reshape(arrays["x"].shape)).ravel()
        except Exception as exc:  # noqa: BLE001
            return False, f"rule raised {type(exc).__name__}"
        worst = _excess(tangent_out, numerical, JAX_TOL, JAX_TOL)
        return worst <= 1.0, f"{worst:.3g}"
    worst = 0.0
    for f, vjp in [(first, first_vjp)] + ([(second, second_vjp)] if case.order == 2 else []):
        try:
            v = draw.randn(p.size)
            with np.errstate(all="ignore"):
                numerical = (f(p + JAX_EPS * v) - f(p - JAX_EPS * v)) * (0.5 / JAX_EPS)
            u = draw.randn(numerical.size)
            ip, expected = float(np.dot(v, vjp(p, u))), float(np.dot(numerical, u))
        except Exception as exc:  # noqa: BLE001
            return False, f"rule raised {type(exc).__name__}"
        excess = abs(ip - expected) / (JAX_TOL + JAX_TOL * abs(expected)) if np.isfinite(ip) else np.inf
        worst = max(worst, float(excess))
    return worst <= 1.0, f"{worst:.3g}"


# -- the real tools -------------------------------------------------------------------------------


def torch_check(case: Any, batch: int = FD_BATCH, seed: int = 0) -> tuple[bool, str]:
    """torch.autograd.gradcheck (order 1) or gradgradcheck (order 2), for real."""
    import torch

    nc = NumpyCase(case)
    rng = np.random.default_rng(seed)
    arrays = nc.sample(rng, batch)
    names = nc.names

    def to_numpy(tensors):
        return {k: t.detach().numpy() for k, t in zip(names, tensors)}

    class BackwardOp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, g, *tensors):
            ctx.save_for_backward(g, *tensors)
            grads = nc.backward(nc.first_rule(), to_numpy(tensors), g.detach().numpy())
            return tuple(torch.tensor(grads[k]) for k in nc.diff)

        @staticmethod
        def backward(ctx, *ggs):
            g, *tensors = ctx.saved_tensors
            local = to_numpy(tensors)
            tangents = {k: gg.detach().numpy() for k, gg in zip(nc.diff, ggs)}
            y = nc.forward(local)
            curvature = nc.double_backward(local, g.detach().numpy(), tangents, np.zeros_like(y))
            jt = nc.jvp_from_rule(local, tangents)
            per_input = [torch.tensor(curvature[k]) if k in nc.diff else None for k in names]
            return (torch.tensor(jt), *per_input)

    class Op(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *tensors):
            ctx.save_for_backward(*tensors)
            return torch.tensor(nc.forward(to_numpy(tensors)))

        @staticmethod
        def backward(ctx, g):
            tensors = ctx.saved_tensors
            grads = dict(zip(nc.diff, BackwardOp.apply(g, *tensors)))
            return tuple(grads.get(k) for k in names)

    class ForwardModeOp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_forward(x)
            return torch.tensor(nc.forward({"x": x.detach().numpy()}))

        @staticmethod
        def jvp(ctx, x_dot):
            (x,) = ctx.saved_tensors
            return torch.tensor(nc.jvp({"x": x.detach().numpy()}, x_dot.detach().numpy()))

    tensors = tuple(torch.tensor(arrays[k], requires_grad=k in nc.diff) for k in names)
    try:
        if getattr(case, "kind", "backward") == "jvp":
            ok = torch.autograd.gradcheck(ForwardModeOp.apply, tensors, raise_exception=False, check_forward_ad=True,
                                          check_backward_ad=False, check_undefined_grad=False,
                                          check_batched_grad=False)
            return bool(ok), "gradcheck, forward AD"
        if case.order == 1:
            ok = torch.autograd.gradcheck(Op.apply, tensors, raise_exception=False)
        else:
            ok = torch.autograd.gradgradcheck(Op.apply, tensors, raise_exception=False)
    except Exception as exc:  # noqa: BLE001 - a rule that raises is a (loud) catch
        return False, f"raised {type(exc).__name__}"
    return bool(ok), "gradcheck" if case.order == 1 else "gradgradcheck"


def jax_check(case: Any, batch: int = FD_BATCH, seed: int = 0) -> tuple[bool, str]:
    """jax.test_util.check_grads(op, args, order, modes=("rev",)), for real."""
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    nc = NumpyCase(case)
    arrays = nc.sample(np.random.default_rng(seed), batch)
    fixed = {k: v for k, v in arrays.items() if k not in nc.diff}
    with jax.enable_x64(True):
        y_spec = jax.ShapeDtypeStruct(nc.forward(arrays).shape, jnp.float64)
        in_specs = tuple(jax.ShapeDtypeStruct(np.shape(arrays[k]), jnp.float64) for k in nc.diff)

        def named(values):
            return dict(fixed, **{k: np.asarray(v, dtype=np.float64) for k, v in zip(nc.diff, values)})

        def np_backward(g, *values):
            grads = nc.backward(nc.first_rule(), named(values), np.asarray(g))
            return tuple(grads[k] for k in nc.diff)

        def np_double(g, gg, *values):
            local = named(values)
            tangents = dict(zip(nc.diff, (np.asarray(t) for t in gg)))
            y = nc.forward(local)
            curvature = nc.double_backward(local, np.asarray(g), tangents, np.zeros_like(y))
            return (nc.jvp_from_rule(local, tangents), *(curvature[k] for k in nc.diff))

        @jax.custom_vjp
        def backward_op(g, *values):
            return jax.pure_callback(np_backward, in_specs, g, *values)

        def backward_fwd(g, *values):
            return backward_op(g, *values), (g, values)

        def backward_bwd(res, ggs):
            g, values = res
            return jax.pure_callback(np_double, (y_spec, *in_specs), g, ggs, *values)

        backward_op.defvjp(backward_fwd, backward_bwd)

        if getattr(case, "kind", "backward") == "jvp":
            @jax.custom_jvp
            def fwd_op(x):
                return jax.pure_callback(lambda v: nc.forward({"x": np.asarray(v)}), y_spec, x)

            @fwd_op.defjvp
            def fwd_op_jvp(primals, tangents):
                (x,), (x_dot,) = primals, tangents
                out = jax.pure_callback(lambda v, t: nc.jvp({"x": np.asarray(v)}, np.asarray(t)), y_spec, x, x_dot)
                return fwd_op(x), out

            try:
                check_grads(fwd_op, (jnp.asarray(arrays["x"]),), order=1, modes=("fwd",))
            except AssertionError:
                return False, "check_grads failed"
            except Exception as exc:  # noqa: BLE001 - the rule raised inside the callback
                return False, f"raised {type(exc).__name__}"
            return True, "check_grads"

        if getattr(case, "kind", "backward") == "hvp":
            passed, detail = _jax_hvp_forward_mode(nc, arrays, y_spec, in_specs[0])
            if not passed:
                return passed, detail

        @jax.custom_vjp
        def op(*values):
            return jax.pure_callback(lambda *v: nc.forward(named(v)), y_spec, *values)

        op.defvjp(lambda *values: (op(*values), values), lambda values, g: backward_op(g, *values))
        args = tuple(jnp.asarray(arrays[k]) for k in nc.diff)
        try:
            check_grads(op, args, order=case.order, modes=("rev",))
        except AssertionError:
            return False, "check_grads failed" + (" (rev)" if getattr(case, "kind", "") == "hvp" else "")
        except Exception as exc:  # noqa: BLE001 - the rule raised inside the callback
            return False, f"raised {type(exc).__name__}"
    return True, "check_grads" + (" (fwd, rev)" if getattr(case, "kind", "") == "hvp" else "")


def _jax_hvp_forward_mode(nc: NumpyCase, arrays: dict, y_spec: Any, x_spec: Any) -> tuple[bool, str]:
    """check_grads(order=2, modes=("fwd",)) on a custom_jvp op whose tangent is
    ∇f·ẋ, with ∇f itself a custom_jvp op whose tangent is the HVP rule's Hẋ
    (forward over forward reaches the rule). Call inside enable_x64."""
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    def gradient(v):
        x = np.asarray(v)
        return nc.backward(nc.first_rule(), {"x": x}, np.ones((len(x), 1)))["x"]

    @jax.custom_jvp
    def grad_op(x):
        return jax.pure_callback(gradient, x_spec, x)

    @grad_op.defjvp
    def grad_op_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return grad_op(x), jax.pure_callback(lambda v, t: nc.hvp({"x": np.asarray(v)}, np.asarray(t)), x_spec, x, x_dot)

    @jax.custom_jvp
    def op(x):
        return jax.pure_callback(lambda v: nc.forward({"x": np.asarray(v)}), y_spec, x)

    @op.defjvp
    def op_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return op(x), jnp.sum(grad_op(x) * x_dot, axis=1, keepdims=True)

    try:
        check_grads(op, (jnp.asarray(arrays["x"]),), order=2, modes=("fwd",))
    except AssertionError:
        return False, "check_grads failed (fwd)"
    except Exception as exc:  # noqa: BLE001 - the rule raised inside the callback
        return False, f"raised {type(exc).__name__}"
    return True, "check_grads (fwd)"

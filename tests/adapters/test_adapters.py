"""The PyTorch and JAX adapters: framework ops checked directly, first and second order.

Skipped with the reason when the framework is not installed (CI installs
both: see .ci/run).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from symderiv import check_backward, check_double_backward, check_hvp, check_jvp, labels, shared
from symderiv.adapters import check_op

# PyTorch's forward-mode AD warns about its own use of torch.jit.script
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def softmax(xs):
    total = sum(sympy.exp(x) for x in xs)
    return [sympy.exp(x) / total for x in xs]


def logsumexp(xs):
    return sympy.log(sum(sympy.exp(x) for x in xs))


def affine(x, W, b):
    return x * W + b


AFFINE = {"x": 3, "W": shared(3, 2), "b": shared(2)}


def test_adapters_package_imports_no_framework():
    import subprocess
    import sys

    code = "import sys, symderiv.adapters; print('torch' in sys.modules, 'jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- PyTorch ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'symderiv[torch]')")


def _softmax_function(torch, *, differentiable_backward=True, diagonal_only=False, with_jvp=True):
    class Softmax(torch.autograd.Function):
        @staticmethod
        def forward(x):
            e = torch.exp(x - x.max(dim=1, keepdim=True).values)
            return e / e.sum(dim=1, keepdim=True)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)
            ctx.y = output  # for jvp (forward mode runs no backward)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            if diagonal_only:
                return g * y * (1 - y)
            if not differentiable_backward:  # computed outside autograd: first order right, second order lost
                y_np, g_np = y.detach().numpy(), g.detach().numpy()
                return torch.tensor(y_np * (g_np - (y_np * g_np).sum(axis=1, keepdims=True)))
            return y * (g - (y * g).sum(dim=1, keepdim=True))

        @staticmethod
        def jvp(ctx, t):
            y = ctx.y
            return y * (t - (y * t).sum(dim=1, keepdim=True))

    if not with_jvp:  # the base class's jvp raises, as it does for a Function that never defines one
        del Softmax.jvp
    return Softmax


def test_torch_autograd_function_first_and_second_order(torch):
    from symderiv.adapters.torch import torch_rules

    rules = torch_rules(_softmax_function(torch).apply)
    result = check_op(softmax, rules, 4)
    assert result.ok, result.report()
    assert set(result.results) == {"backward", "jvp", "double_backward"}
    assert check_jvp(softmax, torch_rules(_softmax_function(torch).apply, jvp_mode="double_backward").jvp, 4).ok


def test_torch_function_without_jvp_is_not_applicable_in_check_op(torch):
    from symderiv.adapters import NotApplicableCheck
    from symderiv.adapters.torch import torch_rules

    Softmax = _softmax_function(torch, with_jvp=False)

    result = check_op(softmax, torch_rules(Softmax.apply), 4)
    assert result.ok, result.report()
    assert isinstance(result.results["jvp"], NotApplicableCheck)
    assert "jvp_mode='double_backward'" in result.results["jvp"].reason
    assert check_op(softmax, torch_rules(Softmax.apply, jvp_mode="double_backward"), 4).ok


def _cross_entropy_forward(z, label):
    return sympy.log(sum(sympy.exp(v) for v in z)) - z[label]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_cross_entropy_passes_at_confident_predictions(torch, dtype):
    # p - onehot loses one rounding of p at the label (review 16, M4); a 1e-4
    # error on top of it is still caught
    from symderiv.adapters.torch import torch_rules

    inputs = {"z": 4, "label": labels(4)}
    rules = torch_rules(lambda z, label: torch.nn.functional.cross_entropy(z, label, reduction="none"), inputs)
    off = torch_rules(lambda z, label: torch.nn.functional.cross_entropy(z * (1 + 1e-4), label, reduction="none") / (1 + 1e-4), inputs)
    for seed in range(3):
        for domain in ((-10.0, 10.0), (-30.0, 30.0)):
            result = check_backward(_cross_entropy_forward, rules.backward, inputs=inputs, domain=domain, dtype=dtype, seed=seed)
            assert result.ok, result.report()
    assert not check_backward(_cross_entropy_forward, off.backward, inputs=inputs, domain=(-30.0, 30.0), dtype=dtype).ok


def test_torch_diagonal_only_backward_fails_first_order(torch):
    from symderiv.adapters.torch import torch_rules

    rules = torch_rules(_softmax_function(torch, diagonal_only=True).apply)
    assert not check_backward(softmax, rules.backward, 4).ok


def test_torch_backward_outside_autograd_passes_first_order_and_fails_second(torch):
    from symderiv.adapters.torch import torch_rules

    rules = torch_rules(_softmax_function(torch, differentiable_backward=False).apply)
    assert check_backward(softmax, rules.backward, 4).ok
    result = check_double_backward(softmax, rules.double_backward, 4)
    assert not result.ok, result.report()
    assert result.counterexample is not None


def test_torch_builtin_ops_with_shared_weights_and_labels(torch):
    from symderiv.adapters.torch import torch_rules

    rules = torch_rules(lambda x, W, b: x @ W + b, AFFINE)
    assert check_op(affine, rules, inputs=AFFINE).ok

    def cross_entropy(z, label):
        return sympy.log(sum(sympy.exp(v) for v in z)) - z[label]

    inputs = {"z": 4, "label": labels(4)}
    rules = torch_rules(lambda z, label: torch.nn.functional.cross_entropy(z, label, reduction="none"), inputs)
    assert check_op(cross_entropy, rules, inputs=inputs, checks=("backward", "double_backward", "hvp")).ok
    assert check_op(logsumexp, torch_rules(lambda x: torch.logsumexp(x, dim=1)), 3, dtype=np.float32).ok


# -- JAX -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jax():
    return pytest.importorskip("jax", reason="JAX is not installed (pip install 'symderiv[jax]')")


def _custom_vjp_softmax(jax, drop_gvdot=False):
    import jax.numpy as jnp

    @jax.custom_vjp
    def softmax_op(x):
        e = jnp.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def fwd(x):
        y = softmax_op(x)
        return y, y

    def bwd(y, g):
        if drop_gvdot:
            return (y * g,)
        return (y * (g - (y * g).sum(axis=1, keepdims=True)),)

    softmax_op.defvjp(fwd, bwd)
    return softmax_op


def test_jax_custom_vjp_first_and_second_order(jax):
    from symderiv.adapters.jax import jax_rules

    rules = jax_rules(_custom_vjp_softmax(jax))
    result = check_op(softmax, rules, 4, checks=("backward", "double_backward"))
    assert result.ok, result.report()
    # JAX has no forward mode for a custom_vjp function: check_op's default
    # checks report the jvp as not applicable; a direct check_jvp fails, with the reason
    from symderiv.adapters import NotApplicableCheck

    default = check_op(softmax, rules, 4)
    assert default.ok, default.report()
    assert isinstance(default.results["jvp"], NotApplicableCheck)
    assert "not applicable (JAX has no forward mode through a custom_vjp function)" in default.report()
    jvp = check_jvp(softmax, rules.jvp, 4)
    assert not jvp.ok and "jvp raised NotApplicable" in jvp.reason
    assert check_backward(softmax, rules.backward, 4, dtype=np.float32).ok


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jax_log_softmax_nll_passes_at_confident_predictions(jax, dtype):
    import jax.numpy as jnp

    from symderiv.adapters.jax import jax_rules

    inputs = {"z": 4, "label": labels(4)}

    def nll(z, label):
        return -jnp.take_along_axis(jax.nn.log_softmax(z, axis=-1), label[:, None], axis=-1)[:, 0]

    rules = jax_rules(nll, inputs)
    for seed in range(3):
        for domain in ((-10.0, 10.0), (-30.0, 30.0)):
            result = check_backward(_cross_entropy_forward, rules.backward, inputs=inputs, domain=domain, dtype=dtype, seed=seed)
            assert result.ok, result.report()


def test_jax_custom_vjp_bug_is_caught(jax):
    from symderiv.adapters.jax import jax_rules

    rules = jax_rules(_custom_vjp_softmax(jax, drop_gvdot=True))
    assert not check_backward(softmax, rules.backward, 4).ok


def test_jax_custom_jvp_and_a_wrong_one(jax):
    import jax.numpy as jnp

    from symderiv.adapters.jax import jax_rules

    def make(scale):
        @jax.custom_jvp
        def lse(x):
            m = x.max(axis=1, keepdims=True)
            return (m + jnp.log(jnp.exp(x - m).sum(axis=1, keepdims=True)))[:, 0]

        @lse.defjvp
        def lse_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            p = jnp.exp(x - lse(x)[:, None])
            return lse(x), scale * (p * t).sum(axis=1)

        return lse

    good = check_op(logsumexp, jax_rules(make(1.0)), 3, checks=("backward", "jvp", "double_backward", "hvp"))
    assert good.ok, good.report()
    assert not check_jvp(logsumexp, jax_rules(make(1.0 + 1e-9)).jvp, 3).ok


def test_jax_named_inputs_with_shared_weights(jax):
    from symderiv.adapters.jax import jax_rules

    rules = jax_rules(lambda x, W, b: x @ W + b, AFFINE)
    assert check_op(affine, rules, inputs=AFFINE).ok

    def loss(x, W, b):
        h = [sympy.tanh(v) for v in (x * W + b)]
        return sympy.log(sum(sympy.exp(t) for t in h))

    import jax.numpy as jnp

    rules = jax_rules(lambda x, W, b: jax.nn.logsumexp(jnp.tanh(x @ W + b), axis=1), AFFINE)
    assert check_hvp(loss, rules.hvp, inputs=AFFINE).ok

"""check_backward with named inputs: per-example, shared (weights) and labels.

Every counterexample is re-derived here by hand-written numpy formulas (the
textbook gradients), independent of the SymPy reference.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy

from symderiv import check_backward, labels, per_example, shared
from symderiv.errors import InputError

# -- affine: x @ W + b -----------------------------------------------------------------


def affine(x, W, b):
    return x * W + b  # (1, 3) (3, 2) + (1, 2): one example's row


def affine_backward(x, W, b, y, gy):
    return {"x": gy @ W.T, "W": x.T @ gy, "b": gy.sum(axis=0)}


AFFINE = {"x": 3, "W": shared(3, 2), "b": shared(2)}


def test_affine_with_shared_weight_and_bias_passes():
    result = check_backward(affine, affine_backward, inputs=AFFINE)
    assert result.ok, result.report()
    assert result.inputs == "x: per example (3,); W: shared (3, 2); b: shared (2,)"
    assert result.n == 3 + 6 + 2 and result.m == 2


def test_tuple_and_full_tuple_returns_are_accepted():
    def as_tuple(x, W, b, y, gy):
        return gy @ W.T, x.T @ gy, gy.sum(axis=0)

    assert check_backward(affine, as_tuple, inputs=AFFINE).ok


def _independent_affine_gradients(c):
    x = np.array(c.inputs["x"], dtype=float).reshape(-1, 3)
    gy = np.array(c.gy).reshape(x.shape[0], 2)
    W = np.array(c.inputs["W"])
    return {"x": gy @ W.T, "W": x.T @ gy, "b": gy.sum(axis=0)}


def test_batch_averaged_weight_gradient_fails_with_the_whole_batch_as_counterexample():
    def mean_over_batch(x, W, b, y, gy):
        return {"x": gy @ W.T, "W": x.T @ gy / x.shape[0], "b": gy.sum(axis=0)}

    result = check_backward(affine, mean_over_batch, inputs=AFFINE)
    assert not result.ok
    c = result.counterexample
    assert c.input == "W" and c.row is None and c.batch_size > 1  # one example alone is right
    assert "the gradient of W differs" in result.reason
    expected = _independent_affine_gradients(c)["W"].ravel()
    np.testing.assert_allclose(c.expected, expected, rtol=1e-13)
    np.testing.assert_allclose(c.got, expected / c.batch_size, rtol=1e-13)


def test_transposed_weight_gradient_fails_on_one_example():
    def reshaped(x, W, b, y, gy):
        return {"x": gy @ W.T, "W": (gy.T @ x).reshape(W.shape), "b": gy.sum(axis=0)}

    result = check_backward(affine, reshaped, inputs=AFFINE)
    assert not result.ok
    c = result.counterexample
    assert c.input == "W" and c.batch_size == 1  # shrunk to one example
    np.testing.assert_allclose(c.expected, _independent_affine_gradients(c)["W"].ravel(), rtol=1e-13)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (lambda x, W, b, y, gy: {"x": gy @ W.T, "W": x.T @ gy}, "returned None for input b"),
        (lambda x, W, b, y, gy: {"x": gy @ W.T, "W": x.T @ gy, "b": gy}, "returned shape (5, 2) for input b, expected (2,)"),
        (lambda x, W, b, y, gy: {"x": gy @ W.T, "W": x.T @ gy, "b": gy.sum(0), "c": 1.0}, "'c', which is not a differentiable input"),
        (lambda x, W, b, y, gy: gy @ W.T, "must return a dict by input name or a tuple of 3 cotangents"),
    ],
)
def test_incomplete_or_misshapen_cotangents_are_failed_checks(rule, reason):
    result = check_backward(affine, rule, inputs=AFFINE)
    assert not result.ok and reason in result.reason


# -- layer norm with scale γ and shift β --------------------------------------------------

LN_EPS = sympy.Rational(1, 10**5)


def layer_norm(x, gamma, beta):
    n = len(x)
    mean = sum(x) / n
    var = sum((t - mean) ** 2 for t in x) / n
    return [gamma[i] * (x[i] - mean) / sympy.sqrt(var + LN_EPS) + beta[i] for i in range(n)]


def layer_norm_backward(x, gamma, beta, y, gy, ddof=0):
    mean = x.mean(axis=1, keepdims=True)
    sigma = np.sqrt(x.var(axis=1, keepdims=True, ddof=ddof) + float(LN_EPS))
    xhat = (x - mean) / sigma
    g = gy * gamma
    gx = (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True)) / sigma
    return {"x": gx, "gamma": (gy * xhat).sum(axis=0), "beta": gy.sum(axis=0)}


LN = {"x": 4, "gamma": shared(4), "beta": shared(4)}


def test_layer_norm_with_gamma_and_beta_passes_in_float64_and_float32():
    assert check_backward(layer_norm, layer_norm_backward, inputs=LN).ok
    result = check_backward(layer_norm, layer_norm_backward, inputs=LN, dtype=np.float32)
    assert result.ok, result.report()


def test_layer_norm_bugs_in_each_input_are_caught():
    def bessel(*args):
        return layer_norm_backward(*args, ddof=1)

    def gamma_from_first_example(x, gamma, beta, y, gy):
        grads = layer_norm_backward(x, gamma, beta, y, gy)
        xhat = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + float(LN_EPS))
        grads["gamma"] = gy[0] * xhat[0]  # forgets to sum over the batch
        return grads

    assert not check_backward(layer_norm, bessel, inputs=LN).ok
    result = check_backward(layer_norm, gamma_from_first_example, inputs=LN)
    assert not result.ok and result.counterexample.input == "gamma"


def test_a_shared_gradient_summed_in_float32_over_a_large_batch_passes():
    # The tolerance of a shared input grows with the batch (one rounding per
    # example in the sum); a float32 loop over 1024 examples is within it.
    def sequential_sum(x, W, b, y, gy):
        gw = np.zeros(W.shape, dtype=np.float32)
        for row in range(x.shape[0]):
            gw += np.outer(x[row], gy[row])
        return {"x": gy @ W.T, "W": gw, "b": gy.sum(axis=0)}

    result = check_backward(affine, sequential_sum, inputs=AFFINE, dtype=np.float32, batch=1024, points=2,
                            special_points=False, adaptive=False)
    assert result.ok, result.report()

    def scaled(x, W, b, y, gy):
        grads = sequential_sum(x, W, b, y, gy)
        grads["W"] = grads["W"] * np.float32(1 + 1e-3)
        return grads

    assert not check_backward(affine, scaled, inputs=AFFINE, dtype=np.float32, batch=1024, points=2).ok


# -- cross-entropy: logits and soft targets, or integer labels --------------------------------


def soft_cross_entropy(z, t):
    lse = sympy.log(sum(sympy.exp(v) for v in z))
    return -sum(t[i] * (z[i] - lse) for i in range(len(z)))


def stable_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def soft_cross_entropy_backward(z, t, y, gy):
    log_p = np.log(stable_softmax(z))
    return {"z": gy[:, None] * (t.sum(axis=1, keepdims=True) * stable_softmax(z) - t), "t": -gy[:, None] * log_p}


def test_cross_entropy_gradients_for_logits_and_soft_targets():
    inputs = {"z": 4, "t": per_example(4, domain=(0.0, 1.0))}
    assert check_backward(soft_cross_entropy, soft_cross_entropy_backward, inputs=inputs).ok

    def assumes_normalised_targets(z, t, y, gy):
        grads = soft_cross_entropy_backward(z, t, y, gy)
        grads["z"] = gy[:, None] * (stable_softmax(z) - t)
        return grads

    result = check_backward(soft_cross_entropy, assumes_normalised_targets, inputs=inputs)
    assert not result.ok and result.counterexample.input == "z"
    c = result.counterexample
    z, t = np.array(c.inputs["z"]), np.array(c.inputs["t"])
    expected = c.gy[0] * (t.sum() * stable_softmax(z[None])[0] - t)
    np.testing.assert_allclose(c.expected, expected, rtol=1e-12)


def hard_cross_entropy(z, label):
    return sympy.log(sum(sympy.exp(v) for v in z)) - z[label]


def test_integer_labels_are_not_differentiated_and_an_off_by_one_label_is_caught():
    def rule(z, label, y, gy, shift=0):
        p = stable_softmax(z)
        p[np.arange(len(label)), (label + shift) % z.shape[1]] -= 1
        return gy[:, None] * p

    inputs = {"z": 4, "label": labels(4)}
    assert check_backward(hard_cross_entropy, rule, inputs=inputs).ok
    assert check_backward(hard_cross_entropy, lambda **a: (rule(**a), None), inputs=inputs).ok
    result = check_backward(hard_cross_entropy, lambda **a: rule(**a, shift=1), inputs=inputs)
    assert not result.ok
    c = result.counterexample
    assert isinstance(c.inputs["label"], int)
    p = stable_softmax(np.array([c.inputs["z"]]))[0]
    p[c.inputs["label"]] -= 1
    np.testing.assert_allclose(c.expected, c.gy[0] * p, rtol=1e-12, atol=1e-15)


def test_a_real_input_held_fixed_gets_no_cotangent():
    def masked(x, mask):
        return [x[i] * mask[i] for i in range(3)]

    inputs = {"x": 3, "mask": per_example(3, differentiable=False)}
    assert check_backward(masked, lambda x, mask, y, gy: gy * mask, inputs=inputs).ok
    result = check_backward(masked, lambda x, mask, y, gy: {"x": gy * mask, "mask": gy * x}, inputs=inputs)
    assert not result.ok and "'mask', which is not a differentiable input" in result.reason


# -- attention: per-example matrices Q, K, V ------------------------------------------------------


def attention(Q, K, V):
    scores = Q * K.T / sympy.sqrt(2)
    rows = []
    for i in range(scores.rows):
        total = sum(sympy.exp(s) for s in scores.row(i))
        rows.append([sympy.exp(s) / total for s in scores.row(i)])
    return sympy.Matrix(rows) * V


def attention_backward(Q, K, V, y, gy, drop_gvdot=False):
    scale = 1 / np.sqrt(2)
    s = Q @ np.swapaxes(K, 1, 2) * scale
    p = np.exp(s - s.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    gp = gy @ np.swapaxes(V, 1, 2)
    gs = p * (gp - (0 if drop_gvdot else (gp * p).sum(axis=2, keepdims=True)))
    return {"Q": gs @ K * scale, "K": np.swapaxes(gs, 1, 2) @ Q * scale, "V": np.swapaxes(p, 1, 2) @ gy}


def test_attention_matrices_per_example():
    inputs = {"Q": (2, 2), "K": (2, 2), "V": (2, 2)}
    result = check_backward(attention, attention_backward, inputs=inputs)
    assert result.ok, result.report()
    assert result.m == 4  # the output is a 2 x 2 matrix per example
    wrong = check_backward(attention, lambda **a: attention_backward(**a, drop_gvdot=True), inputs=inputs)
    assert not wrong.ok and wrong.counterexample.input in ("Q", "K")


# -- the declaration itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n=3, inputs={"x": 3}), "either n"),
        (dict(), "either n"),
        (dict(inputs={}), "non-empty dict"),
        (dict(inputs={"y": 3}), "input name 'y' is reserved"),
        (dict(inputs={"2x": 3}), "Python identifiers"),
        (dict(inputs={"x": (2, 2, 2)}), "at most 2 axes"),
        (dict(inputs={"x": (0,)}), "positive integers"),
        (dict(inputs={"x": "3"}), "expected an int, a shape tuple"),
        (dict(inputs={"x": 100}), "at most 64 are supported"),
        (dict(inputs={"label": labels(3)}), "no real input"),
        (dict(inputs={"x": per_example(2, differentiable=False)}), "no input is differentiable"),
        (dict(inputs={"x": per_example(2, domain=(1.0, 0.0))}), "domain of x must have low < high"),
    ],
)
def test_bad_declarations_raise_input_error(kwargs, message):
    with pytest.raises(InputError, match=re.escape(message)):
        check_backward(lambda **a: 0, lambda **a: None, **kwargs)


def test_bad_label_count_raises_input_error():
    with pytest.raises(InputError, match="classes must be between 1 and 64"):
        labels(0)


def test_forward_errors_name_the_named_call():
    with pytest.raises(InputError, match=re.escape("forward(**inputs) raised KeyError")):
        check_backward(lambda x: {}["k"], lambda x, y, gy: gy, inputs={"x": 2})

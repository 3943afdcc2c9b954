"""check_backward never crashes on a misbehaving rule; bad arguments raise InputError."""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symderiv
from tests.backward_check.corpus import softmax_backward, softmax_forward, stable_softmax
from symderiv.backward_check.api import BackwardCheck, assert_backward, check_backward
from symderiv.errors import InputError


def _raises(x, y, gy):
    raise RuntimeError("boom\nsecond line")


def _wrong_shape(x, y, gy):
    return softmax_backward(x, y, gy)[:, :-1]


def _transposed(x, y, gy):
    return softmax_backward(x, y, gy).T


def _returns_none(x, y, gy):
    return None


def _returns_nan(x, y, gy):
    gx = softmax_backward(x, y, gy)
    gx[1, 2] = np.nan
    return gx


def _returns_inf(x, y, gy):
    with np.errstate(divide="ignore"):
        return softmax_backward(x, y, gy) / 0.0


def _modifies_gy(x, y, gy):
    gy -= np.sum(y * gy, axis=1, keepdims=True)
    return y * gy


def _modifies_y(x, y, gy):
    gx = softmax_backward(x, y, gy)
    y *= 2
    return gx


def _returns_complex(x, y, gy):
    return softmax_backward(x, y, gy) + 0j


def _returns_strings(x, y, gy):
    return np.full(x.shape, "a")


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (_raises, "backward raised RuntimeError: boom"),
        (_wrong_shape, "returned shape (3, 3), expected (3, 4)"),
        (_transposed, "returned shape (4, 3), expected (3, 4)"),
        (_returns_none, "returned None"),
        (_returns_nan, "non-finite value (nan) at row 1, coordinate 2"),
        (_returns_inf, "non-finite value"),
        (_modifies_gy, "modified its argument gy in place"),
        (_modifies_y, "modified its argument y in place"),
        (_returns_complex, "dtype complex128"),
        (_returns_strings, "dtype <U1"),
    ],
)
def test_misbehaving_rule_is_a_failed_check_not_an_exception(rule, reason):
    result = check_backward(softmax_forward, rule, 4)
    assert not result.ok
    assert reason in result.reason
    assert "second line" not in result.reason
    assert result.max_abs_error == float("inf")
    assert "FAILED" in repr(result)


def test_list_result_with_right_values_is_accepted():
    result = check_backward(softmax_forward, lambda x, y, gy: softmax_backward(x, y, gy).tolist(), 4)
    assert result.ok, result.report()


def test_backward_sees_distinct_batch_sizes_and_the_forward_output_in_dtype():
    seen = []

    def spy(x, y, gy):
        seen.append((x.shape, y.shape, gy.shape, x.dtype, y.dtype, gy.dtype))
        # y is symderiv's forward output at this x, rounded to the dtype.
        np.testing.assert_allclose(y, stable_softmax(x.astype(np.float64)), rtol=2e-7)
        return softmax_backward(x, y, gy)

    # random batches only: special points and the adaptive search add batches of their own
    result = check_backward(softmax_forward, spy, 4, dtype=np.float32, special_points=False, adaptive=False)
    assert result.ok
    sizes = [shape[0][0] for shape in seen]
    assert len(set(sizes)) == len(sizes) == 3
    assert 4 not in sizes and 1 not in sizes
    assert result.batch_sizes == tuple(sizes)
    for x_shape, y_shape, gy_shape, *dtypes in seen:
        assert x_shape[1] == y_shape[1] == gy_shape[1] == 4
        assert all(dtype == np.float32 for dtype in dtypes)


def test_default_batch_sizes_avoid_n_and_m():
    def scalar_forward(xs):
        return sum(x**2 for x in xs)

    result = check_backward(scalar_forward, lambda x, y, gy: 2 * x * gy, 3)
    assert result.ok
    assert 3 not in result.batch_sizes and 1 not in result.batch_sizes
    assert len(set(result.batch_sizes)) == len(result.batch_sizes)


def test_explicit_batch_and_points():
    result = check_backward(softmax_forward, softmax_backward, 4, batch=[2, 9], points=5)
    assert result.batch_sizes == (2, 9, 2, 9, 2)
    assert result.random_rows == 24


def test_report_and_assert_backward():
    def wrong(x, y, gy):
        return gy * y * (1 - y)

    result = check_backward(softmax_forward, wrong, 4)
    text = repr(result)
    assert text.startswith("BackwardCheck: FAILED")
    for piece in ("counterexample", "expected", "got", "gy", "tolerance", "u = 2.22e-16"):
        assert piece in text
    with pytest.raises(AssertionError, match="counterexample"):
        assert_backward(softmax_forward, wrong, 4)
    passed = assert_backward(softmax_forward, softmax_backward, 4)
    assert isinstance(passed, BackwardCheck) and passed.ok and bool(passed)
    assert repr(passed).startswith("BackwardCheck: ok")


def test_package_level_names():
    result = symderiv.check_backward(softmax_forward, softmax_backward, 4)
    assert result.ok
    assert symderiv.assert_backward(softmax_forward, softmax_backward, 4).ok
    assert symderiv.BackwardCheck is BackwardCheck


def test_same_seed_same_result_different_seed_different_points():
    a = check_backward(softmax_forward, softmax_backward, 4, seed=3)
    b = check_backward(softmax_forward, softmax_backward, 4, seed=3)
    c = check_backward(softmax_forward, softmax_backward, 4, seed=4)
    assert a.max_abs_error == b.max_abs_error
    assert a.max_abs_error != c.max_abs_error


def _ok_rule(x, y, gy):
    return softmax_backward(x, y, gy)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n=0), "n must be between 1 and 32"),
        (dict(n=1000), "n must be between 1 and 32"),
        (dict(n=2.5), "n must be an integer"),
        (dict(n=4, dtype=np.int32), "dtype int32 is not supported"),
        (dict(n=4, dtype="no-such-type"), "not a numpy dtype"),
        (dict(n=4, domain=(3.0, -3.0)), "low < high"),
        (dict(n=4, domain=(float("nan"), 1.0)), "finite"),
        (dict(n=4, domain=5), "pair"),
        (dict(n=4, dtype=np.float32, domain=(-1e39, 1.0)), "exceeds the range of float32"),
        (dict(n=4, batch=0), "batch size must be between 1"),
        (dict(n=4, batch=[]), "batch must not be empty"),
        (dict(n=4, points=0), "points must be between 1"),
        (dict(n=4, seed=-1), "seed must be between 0"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs, message):
    with pytest.raises(InputError, match=re.escape(message)):
        check_backward(softmax_forward, _ok_rule, **kwargs)


@pytest.mark.parametrize(
    ("forward", "message"),
    [
        (lambda xs: "exp(x0)", "forward output 0 is a str"),
        (lambda xs: [xs[0], None], "forward output 1 is a NoneType"),
        (lambda xs: xs[0] + sympy.Symbol("w"), "uses symbols other than the inputs: w"),
        (lambda xs: 1 / 0, "forward(xs) raised ZeroDivisionError"),
        (lambda xs: [], "returned no expressions"),
    ],
)
def test_bad_forward_raises_input_error(forward, message):
    with pytest.raises(InputError, match=re.escape(message)):
        check_backward(forward, _ok_rule, 4)


def test_forward_outside_float_range_or_undefined_is_input_error():
    with pytest.raises(InputError, match="not representable in float64"):
        check_backward(lambda xs: [sympy.exp(x) for x in xs], lambda x, y, gy: gy * y, 2, domain=(700.0, 800.0))
    with pytest.raises(InputError, match="not real|undefined"):
        check_backward(lambda xs: [sympy.sqrt(x) for x in xs], lambda x, y, gy: gy / (2 * y), 2, domain=(-2.0, -1.0))
    with pytest.raises(InputError, match="not callable|must be callable"):
        check_backward(softmax_forward, "not a function", 4)


def test_constant_and_numeric_outputs_are_accepted():
    def forward(xs):
        return [xs[0] * xs[1], 3, 0.5]

    def rule(x, y, gy):
        return np.stack([gy[:, 0] * x[:, 1], gy[:, 0] * x[:, 0]], axis=1)

    assert check_backward(forward, rule, 2).ok


@settings(max_examples=12, deadline=None)
@given(n=st.integers(min_value=2, max_value=6), seed=st.integers(min_value=0, max_value=2**32), scale=st.sampled_from([1e-8, -1e-8, 1e-3]))
def test_property_softmax_rule_passes_and_any_scaled_copy_fails(n, seed, scale):
    assert check_backward(softmax_forward, softmax_backward, n, seed=seed).ok

    def scaled(x, y, gy):
        return softmax_backward(x, y, gy) * (1 + scale)

    assert not check_backward(softmax_forward, scaled, n, seed=seed).ok


def test_a_rule_that_exits_is_a_failed_check_and_a_huge_domain_is_bad_input():
    import sys as _sys

    from symderiv.errors import InputError

    def exits(x, y, gy):
        _sys.exit(3)

    result = check_backward(softmax_forward, exits, 3)
    assert not result.ok and "SystemExit" in result.reason
    with pytest.raises(InputError):
        check_backward(softmax_forward, softmax_backward, 3, domain=(-1e308, 1e308))

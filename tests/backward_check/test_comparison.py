"""The finite-difference baseline of benchmarks/gradcheck_comparison.py behaves as docs/check-backward.md says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.backward_check.corpus import BUGS, CORRECT

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "gradcheck_comparison.py"


@pytest.fixture(scope="module")
def comparison():
    spec = importlib.util.spec_from_file_location("gradcheck_comparison", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _case(cases, name):
    return next(c for c in cases if c.name == name)


def test_fd_baseline_passes_correct_rules_and_catches_gross_bugs(comparison):
    for case in CORRECT:
        if case.domain == (-3.0, 3.0):
            assert comparison.fd_gradcheck(case)[0], case.name
    for name in ("softmax wrong sign", "softmax diagonal-only Jacobian", "layer norm missing y*mean(gy*y)"):
        assert not comparison.fd_gradcheck(_case(BUGS, name))[0], name


def test_fd_baseline_misses_small_scale_errors_that_check_backward_catches(comparison):
    for name in ("softmax scale error 1e-7", "softmax scale error 1e-4", "tanh scale error 1e-7"):
        assert comparison.fd_gradcheck(_case(BUGS, name))[0], name
    # At tight tolerances 1e-4 is caught, 1e-7 still is not.
    tight = dict(rtol=comparison.FD_TIGHT_RTOL, atol=comparison.FD_TIGHT_ATOL)
    assert not comparison.fd_gradcheck(_case(BUGS, "softmax scale error 1e-4"), **tight)[0]
    assert comparison.fd_gradcheck(_case(BUGS, "softmax scale error 1e-7"), **tight)[0]


def test_fd_baseline_on_a_single_example_misses_batch_axis_bugs(comparison):
    for name in ("softmax first row's y.gy for all rows", "softmax missing keepdims", "layer norm first row's sigma"):
        assert comparison.fd_gradcheck(_case(BUGS, name), batch=1)[0], name


# -- the comparison with the real tools (a representative subset in CI; the whole table under -m slow)

from tests.backward_check.corpus import EXTENDED  # noqa: E402

SUBSET = {
    "tanh: curvature scale error 1e-6": {"torch": True, "jax": True, "symderiv": False},
    "x @ W + b: W gradient averaged over the batch": {"torch": False, "torch_one": True, "symderiv": False},
    "relu: slope 2 at x = 0": {"torch": True, "jax": True, "symderiv": False},
    "softmax double backward": {"torch": True, "jax": True, "symderiv": True},
    # forward mode: gradcheck(check_forward_ad=True) and check_grads(modes=("fwd",))
    "sigmoid JVP: slope 1/4 on |x| < 0.01": {"torch": True, "jax": True, "symderiv": False},
    "softmax JVP: missing y.x_dot term": {"torch": False, "jax": False, "symderiv": False},
    # Hessian-vector products: gradgradcheck, and check_grads(order=2) fwd then rev
    "sum of cubes HVP: scale error 1e-6": {"torch": True, "jax": True, "symderiv": False},
    "logsumexp HVP: diagonal Hessian": {"torch": False, "jax": False, "symderiv": False},
}


@pytest.mark.parametrize("name", sorted(SUBSET))
def test_subset_of_the_comparison_with_the_real_tools(comparison, name):
    case = _case(EXTENDED, name)
    expected = SUBSET[name]
    assert comparison.symderiv_verdict(case)[0] == expected["symderiv"]
    assert comparison.fd_check_grads(case)[0] == expected.get("jax", expected["torch"])
    if "torch_one" in expected:
        assert comparison.fd_gradcheck(case, batch=1)[0] == expected["torch_one"]
    if comparison.available("torch"):
        assert comparison.torch_check(case)[0] == expected["torch"]
    if comparison.available("jax") and "jax" in expected:
        assert comparison.jax_check(case)[0] == expected["jax"]


@pytest.mark.slow
def test_the_whole_comparison_table(comparison, capsys):
    assert comparison.main([]) == 0
    out = capsys.readouterr().out
    assert "symderiv 0" in out.splitlines()[-3]  # no planted bug missed
    assert out.splitlines()[-2].endswith("symderiv 0")  # no false alarm

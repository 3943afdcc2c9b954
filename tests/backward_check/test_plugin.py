"""The pytest11 plugin: a ``check_backward`` fixture, cheap to load."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_plugin_module_does_not_import_sympy_or_numpy():
    code = "import sys, symderiv.pytest_plugin; print('sympy' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_fixture_passes_right_rules_and_fails_wrong_ones(tmp_path):
    (tmp_path / "test_user_ops.py").write_text(
        textwrap.dedent(
            """
            import sympy

            def softmax(xs):
                total = sum(sympy.exp(x) for x in xs)
                return [sympy.exp(x) / total for x in xs]

            def test_right_rule(check_backward):
                result = check_backward(softmax, lambda x, y, gy: y * (gy - (y * gy).sum(axis=1, keepdims=True)), 4)
                assert result.ok and result.max_rel_error < 1e-12

            def test_diagonal_only_rule(check_backward):
                check_backward(softmax, lambda x, y, gy: gy * y * (1 - y), 4)

            def test_right_jvp(check_jvp):
                check_jvp(softmax, lambda x, y, t: y * (t - (y * t).sum(axis=1, keepdims=True)), 4)

            def test_right_hvp(check_hvp):
                check_hvp(lambda xs: sum(x**3 for x in xs), lambda x, y, v: 6 * x * v, 3)

            def test_naive_double_backward(check_double_backward):
                # the naive rule: only the diagonal of each Hessian
                def naive(x, y, gy, x_dot, gy_dot):
                    first = y * (gy_dot - (y * gy_dot).sum(axis=1, keepdims=True))
                    d2 = y * (1 - 2 * y) * (gy - (gy * y).sum(axis=1, keepdims=True))
                    return first + d2 * x_dot

                check_double_backward(softmax, naive, 4)
            """
        )
    )
    # The entry point is installed with the package: no -p flag, no conftest.
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "2 failed, 3 passed" in out.stdout
    assert "BackwardCheck: FAILED" in out.stdout
    assert "double_backward check: FAILED" in out.stdout
    assert "counterexample" in out.stdout

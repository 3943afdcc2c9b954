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
    assert "1 failed, 1 passed" in out.stdout
    assert "BackwardCheck: FAILED" in out.stdout
    assert "counterexample" in out.stdout

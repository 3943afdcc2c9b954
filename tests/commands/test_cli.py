"""The CLI through its entry point: outputs, exit codes, and hostile input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from symderiv.cli import main
from tests.support import cpu_bound


def run_cli(*args: str, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "symderiv", *args], capture_output=True, text=True, timeout=timeout
    )


def test_help_does_not_import_sympy_or_numpy():
    code = (
        "import sys, contextlib, io\n"
        "from symderiv.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "print(sorted(m for m in ('sympy', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_chain_json_at_a_point(capsys):
    code = main(["chain", "--g", "sin(x)", "--h", "x**2", "--loss", "y*z + exp(y)", "--at", "0.5", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("sympy", "engine", "finite_difference"):
        assert key in payload["first"]
    for key in ("sympy", "engine_exact", "engine_naive", "naive_formula"):
        assert key in payload["second"]
    assert payload["first_order_matches"] is True
    assert payload["naive_second_order_matches"] is False
    assert payload["second"]["engine_naive"] == pytest.approx(payload["second"]["naive_formula"], rel=1e-12)
    assert payload["second"]["engine_exact"] == pytest.approx(payload["second"]["sympy"], rel=1e-12)


def test_chain_abstract_prints_the_five_terms(capsys):
    assert main(["chain"]) == 0
    out = capsys.readouterr().out
    assert "f_yy·g'² + 2·f_yz·g'·h' + f_zz·h'² + f_y·g'' + f_z·h''" in out
    assert "δ_x = dℓ/dx: proved" in out


def test_softmax_json_with_negative_lists():
    result = run_cli("softmax", "--at", "-1000,2,3", "--grad", "-1,0,1", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["identity_holds"] is True
    assert payload["max_abs_error"] < 1e-15
    # independent reference: y = softmax(x) by hand at these inputs, ∇x = y ⊙ (u − y·u)
    import numpy as np

    x, u = np.array([-1000.0, 2.0, 3.0]), np.array([-1.0, 0.0, 1.0])
    y = np.exp(x - 3.0) / np.exp(x - 3.0).sum()
    expected = y * (u - y @ u)
    np.testing.assert_allclose(payload["engine_grad"], expected, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(payload["jacobian_vjp"], expected, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("inputs", ["1000,-1000,-745", "745,744,-1e4"])
def test_softmax_is_finite_at_extreme_inputs(capsys, inputs):
    assert main(["softmax", "--at", inputs, "--grad", "1,2,3", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert all(isinstance(v, float) for v in payload["engine_grad"])
    assert payload["identity_holds"]


def test_verify_json_lists_every_check_and_passes():
    result = run_cli("verify", "--points", "50", "--json", timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    payload = json.loads(result.stdout)
    names = [c["name"] for c in payload["checks"]]
    assert any(name.startswith("op softmax") for name in names)
    assert any("refuted" == c["verdict"] for c in payload["checks"])
    assert all(set(c) >= {"name", "verdict", "max_error"} for c in payload["checks"])


HOSTILE = [
    ["chain", "--g", "x**9**9**9", "--h", "x", "--loss", "y"],
    ["chain", "--g", "factorial(10**9)"],
    ["chain", "--g", "sin(cos(exp(exp(exp(exp(1))))))"],
    ["chain", "--g", "__import__('os').system('echo pwned')"],
    ["chain", "--loss", "x*y"],
    ["chain", "--g", "log(x)", "--h", "x", "--loss", "y+z", "--at", "-1"],
    ["chain", "--g", "x", "--h", "x", "--loss", "y", "--at", "nan"],
    ["chain", "--g", "x", "--h", "x", "--loss", "y", "--at", "abc"],
    ["chain", "--g", "x", "--at", "1"],
    ["chain", "--g", "(" * 500 + "x" + ")" * 500],
    ["softmax", "--at", "1,2", "--grad", "1"],
    ["softmax", "--at", "1,inf", "--grad", "1,2"],
    ["softmax", "--at", "1,,2", "--grad", "1,2,3"],
    ["softmax", "--at", "1,2"],
    ["softmax", "--n", "0"],
    ["softmax", "--n", "10000000"],
    ["verify", "--points", "-5"],
    ["nonsense"],
    ["chain", "--bogus"],
]


@pytest.mark.parametrize("argv", HOSTILE, ids=lambda argv: " ".join(argv)[:50])
def test_hostile_input_exits_2_with_one_line(argv):
    with cpu_bound(20.0):  # the whole process, interpreter start included
        result = run_cli(*argv)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symderiv: error: "), result.stderr
    assert "Traceback" not in result.stderr and "pwned" not in result.stdout


def test_console_script_entry_point():
    import shutil

    script = shutil.which("symderiv")
    if script is None:
        pytest.skip("console script not on PATH (package not installed)")
    result = subprocess.run([script, "softmax", "--n", "2", "--json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert json.loads(result.stdout)["identity_holds"] is True
    bad = subprocess.run([script, "chain", "--g", "import os"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_chain_too_large_for_exact_algebra_is_checked_numerically(capsys):
    # the degree of g is 512: expanding the second derivative would generate ~1e9 terms
    code = main(["chain", "--g", "(((x+1)**8+1)**8+1)**8", "--h", "x", "--loss", "y*z", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert payload["symbolic"]["second_verdict"].startswith("skipped (too large for an exact proof: expanding")
    assert payload["numeric_witness"]["points"] == 64
    assert payload["numeric_witness"]["second_order_matches"] is True
    assert payload["verdict"]["status"] == "ok" and payload["verdict"]["decided_by"][0].startswith("engine vs SymPy")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["chain", "--g", "x", "--h", "x", "--loss", "y/z", "--at", "0"], "undefined at x = 0"),
        (["chain", "--g", "x", "--h", "x", "--loss", "y", "--at", "1_000"], "is not a number"),
    ],
)
def test_points_where_the_graph_is_undefined_or_malformed_numbers(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_expression_values_may_start_with_a_minus(capsys):
    assert main(["chain", "--g", "x", "--h", "x", "--loss", "-log(y)*z", "--at", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    # ℓ = -log(x)·x: dℓ/dx = -log(x) - 1
    assert payload["first"]["sympy"] == pytest.approx(-np.log(2.0) - 1.0, rel=1e-15)


def test_finite_differences_near_a_singularity_use_a_small_step(capsys):
    assert main(["chain", "--g", "log(x)", "--h", "x", "--loss", "y+z", "--at", "1e-5", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["first"]["finite_difference"] == pytest.approx(1e5 + 1, rel=1e-6)
    assert payload["second"]["finite_difference"] == pytest.approx(-1e10, rel=1e-5)

"""Issue 17: every reproduction of the reliability report, as a test.

Values are checked against independent references (mpmath at 50 digits from
SymPy's exact derivative), never only "it runs".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import mpmath
import pytest
import sympy as sp

from symderiv.cli import main
from symderiv.algebra.expressions import parse_expression

x, y, z = sp.symbols("x y z")


def chain_json(capsys, *argv):
    code = main(["chain", *argv, "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else None), captured.err


def reference(g, h, loss, at, order):
    """d^order ℓ/dx^order at ``at`` from SymPy's exact derivative, evaluated in mpmath at 50 digits."""
    ell = parse_expression(loss, ["y", "z"]).xreplace(
        {y: parse_expression(g, ["x"]), z: parse_expression(h, ["x"])}
    )
    function = sp.lambdify([x], sp.diff(ell, x, order), modules="mpmath")
    with mpmath.workdps(50):
        return float(function(mpmath.mpf(at)))


# -- internal errors when the composite does not depend on x -------------------


@pytest.mark.parametrize(
    "g, h, loss",
    [("x", "1", "z"), ("x", "x/x", "z"), ("x - x", "x", "y"), ("tan(x/x)", "1", "y*z"), ("x - x", "1", "y*z")],
)
def test_constant_compositions_have_zero_derivatives(capsys, g, h, loss):
    code, payload, err = chain_json(capsys, "--g", g, "--h", h, "--loss", loss, "--at=1.3")
    assert code == 0, err
    for key in ("sympy", "engine", "engine_fine_grained"):
        assert payload["first"][key] == reference(g, h, loss, 1.3, 1) == 0.0
    assert payload["second"]["engine_exact"] == payload["second"]["engine_exact_fine_grained"] == 0.0


# -- false alarms of the rounding model ---------------------------------------


@pytest.mark.parametrize(
    "g, h, loss, at",
    [
        ("1/x", "x", "tan(y)", "0.01"),  # no rule for tan: treated as a constant
        ("1/x", "x", "sin(y)/cos(y)", "0.01"),
        ("x", "(x - tan(x))", "(2.5 - z)", "-1.7771549485892285e-06"),  # graph computes 1 − sec², SymPy tan²
        ("x", ".5", "tan(sqrt(y))", "2.501257384015018"),  # near a pole
    ],
)
def test_no_false_alarm_where_every_reference_agrees(capsys, g, h, loss, at):
    code, payload, err = chain_json(capsys, "--g", g, "--h", h, "--loss", loss, f"--at={at}")
    assert code == 0, err
    exact = reference(g, h, loss, float(at), 1)
    assert payload["first"]["sympy"] == pytest.approx(exact, rel=1e-12)
    assert payload["first"]["engine"] == pytest.approx(exact, rel=1e-9)
    assert payload["first_order_matches"] and payload["second_order_matches"]


def test_yes_no_lines_follow_the_numbers_they_stand_beside(capsys):
    args = ["--g", "(0.3 - 4)", "--h", "(log(4) + (x)**(-2))", "--loss", "(log(z) + tanh(z))"]
    code, payload, _ = chain_json(capsys, *args, "--at=-1.1390647670358801e-06")
    assert code == 0
    exact = reference("(0.3 - 4)", "(log(4) + (x)**(-2))", "(log(z) + tanh(z))", -1.1390647670358801e-06, 2)
    assert payload["second"]["sympy"] == pytest.approx(exact, rel=1e-12)  # 1.54e12
    assert payload["second"]["naive_formula"] == pytest.approx(-6.0, rel=1e-9)
    assert payload["second"]["engine_naive_fine_grained"] == 0.0
    assert payload["naive_second_order_matches"] is False
    assert payload["naive_depends_on_graph_cut"] is True
    main(["chain", *args, "--at=-1.1390647670358801e-06"])
    out = capsys.readouterr().out
    assert "naive rule = exact second derivative: no" in out
    assert "naive value depends on how ℓ is cut into nodes: yes" in out


# -- inconclusive is not failed ------------------------------------------------


@pytest.mark.parametrize("argv", [["--g", "x"], ["--h", "x"], ["--g", "x", "--h", "x"], ["--g", "2*x"]])
def test_abstract_identities_are_proved_not_failed(capsys, argv):
    assert main(["chain", *argv]) == 0
    out = capsys.readouterr().out
    assert "δ_x = dℓ/dx: proved" in out and "equals SymPy's d²ℓ/dx²: proved" in out
    assert "Verdict: checked; decided by exact algebra" in out


def test_a_proof_too_large_to_try_is_undecided_not_failed(capsys):
    # (x+1)**64 with abstract h and f: SymPy's product form of d²ℓ/dx² is matched
    # by distributing products alone (no multinomial expansion)
    assert main(["chain", "--g", "(x+1)**64"]) == 0
    assert "proved" in capsys.readouterr().out


def test_finite_differences_underflow_is_inconclusive(capsys):
    code, payload, _ = chain_json(capsys, "--g", "x", "--h", "x", "--loss", "y*z", "--at", "1e-300")
    assert code == 0
    assert payload["first"]["engine"] == payload["first"]["sympy"] == 2e-300
    assert payload["finite_difference_conclusive"]["first"] is False


def test_exactly_zero_values_with_no_finite_tolerance_do_not_fail(capsys):
    # tanh(100) = 1 in float64: every value is 0 (exactly 1e-87 or so)
    code, payload, _ = chain_json(capsys, "--g", "sqrt(tanh(x))", "--h", "7", "--loss", "sqrt(cos(y))", "--at", "100")
    assert code == 0
    assert abs(payload["first"]["engine"] - reference("sqrt(tanh(x))", "7", "sqrt(cos(y))", 100, 1)) < 1e-80


def test_no_finite_witness_point_is_undecided_with_the_reason(capsys):
    # ℓ = log(g(x)) is real nowhere on [-1.5, 1.5], and the ninth power keeps the second-order
    # identity out of the exact algebra's reach (log(x**(1/3) - x - E) itself is proved exactly)
    code = main(["chain", "--g", "(x**(1/3) - x - E)**9", "--h", "tanh(x)", "--loss", "log(y)"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "no point of [-1.5, 1.5]" in err and "--at" in err


# -- more internal errors ------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--g", "tan(pi/2)*x", "--h", "x", "--loss", "y"], "undefined or not real at column 1"),
        (["--g", "1e-5000*x", "--h", "x", "--loss", "y"], "smaller than 1e-100"),
        (["--g", "1e999999999*x"], "outside 1e-100..1e+100"),
        (["--g", "(1e-100)**64*x"], "too long to hold exactly"),
    ],
)
def test_hostile_constants_are_bad_input(capsys, argv, message):
    assert main(["chain", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_huge_integer_constants_evaluate(capsys):
    # log(10**30) reached numpy as a Python int (an object array: TypeError, exit 3)
    code, payload, err = chain_json(capsys, "--g", "x", "--h", "log(1e30)*x", "--loss", "y*z", "--at", "1")
    assert code == 0, err
    assert payload["first"]["engine"] == pytest.approx(2 * float(mpmath.log(mpmath.mpf(10) ** 30)), rel=1e-14)


def test_a_periodic_function_of_a_huge_constant_is_bad_input(capsys):
    # cos(6.4e25): floats there are 8.6e9 apart, more than a period; was a TypeError (exit 3)
    assert main(["chain", "--g", "x", "--h", "cos((4/1e-8)**3)", "--loss", "y*z", "--at", "1"]) == 2
    assert "has no float value" in capsys.readouterr().err


# -- resource bounds ------------------------------------------------------------


def test_a_degree_512_polynomial_is_not_expanded_and_memory_stays_bounded():
    code = textwrap.dedent(
        """
        import resource, sys
        from symderiv.cli import main
        sys.argv = ["symderiv", "chain", "--g", "(((x+1)**8+1)**8+1)**8", "--h", "x**2", "--loss", "y*z + exp(y)"]
        status = main()
        # VmHWM is this process's own peak: Linux's ru_maxrss also counts the forked copy of the
        # parent before exec (a pytest process that has loaded torch and JAX is ~1 GB)
        try:
            peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
        except OSError:
            peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("STATUS", status, peak_kb)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    status, max_rss_kb = result.stdout.split("STATUS")[-1].split()
    assert status == "0", result.stderr
    assert "skipped (too large for an exact proof" in result.stdout
    assert int(max_rss_kb) < 1_000_000  # well under 1 GB (it grew past 9 GB before)


def test_cpu_and_memory_bounds_are_named_when_exceeded(monkeypatch, capsys):
    from symderiv.budget import BudgetExceeded
    from symderiv.commands import chain

    def spend(args):
        raise BudgetExceeded("CPU time", 15)

    monkeypatch.setattr(chain, "run", spend)
    assert main(["chain"]) == 2
    assert "CPU-time bound of 15 s for 'chain' was exceeded" in capsys.readouterr().err

    def allocate(args):
        raise MemoryError

    monkeypatch.setattr(chain, "run", allocate)
    assert main(["chain"]) == 2
    assert "memory bound" in capsys.readouterr().err


def test_the_cli_process_caps_its_address_space():
    code = (
        "import resource, sys\nfrom symderiv.cli import main\n"
        "sys.argv = ['symderiv', 'softmax', '--n', '2']\nmain()\n"
        "print('CAP', resource.getrlimit(resource.RLIMIT_AS)[0])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    cap = int(result.stdout.split("CAP")[-1])
    assert 2**30 <= cap <= 2 * 2**30


def test_chain_latex_of_long_expressions_finishes(capsys):
    argv = [
        "chain", "--latex", "--g", "sin(x)*exp(x)/(1+x**2)+tanh(x)**3",
        "--h", "log(1+x**2)*cos(x)+sqrt(1+x**4)", "--loss", "exp(y*z)/(1+y**2)+tanh(y-z)*log(1+z**2)",
    ]
    assert main(argv) == 0
    assert r"\begin{align*}" in capsys.readouterr().out


# -- notation ------------------------------------------------------------------


def test_one_concrete_one_abstract_function_prints_the_projects_notation(capsys):
    assert main(["chain", "--g", "2*x"]) == 0
    out = capsys.readouterr().out
    assert "Subs" not in out and "_xi" not in out and "f__" not in out
    assert "δ_y = f_y = f_y(2*x, h(x))" in out
    assert "f_yy·g'²     = 4*f_yy(2*x, h(x))" in out


# -- files ---------------------------------------------------------------------


def test_latex_output_is_never_overwritten_silently_nor_half_written(capsys, tmp_path):
    target = tmp_path / "out.tex"
    assert main(["latex", "sigmoid-derivative", "--points", "10", "-o", str(target)]) == 0
    first = target.read_text()
    assert main(["latex", "sigmoid-derivative", "--points", "10", "-o", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err and target.read_text() == first
    assert main(["latex", "sigmoid-derivative", "--points", "10", "--seed", "3", "-o", str(target), "--force"]) == 0
    assert main(["latex", "nope", "-o", str(tmp_path / "new.tex")]) == 2
    assert not (tmp_path / "new.tex").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.tex"]  # no temporary file left behind


def test_a_symlink_at_the_output_is_refused_then_replaced_not_followed(capsys, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "link.tex"
    link.symlink_to(victim)
    assert main(["latex", "sigmoid-derivative", "--points", "10", "-o", str(link)]) == 2
    assert "symbolic link already exists" in capsys.readouterr().err
    assert main(["latex", "sigmoid-derivative", "--points", "10", "-o", str(link), "--force"]) == 0
    assert victim.read_text() == "keep me" and not link.is_symlink() and r"\documentclass" in link.read_text()


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
@pytest.mark.parametrize("name", ["a%b.tex", "a~b.tex", "a\\b.tex", "a'b\".tex", "a\\input{x}.tex"])
def test_tex_in_the_output_file_name_is_never_read_by_tex(capsys, tmp_path, name):
    target = tmp_path / name
    assert main(["latex", "sigmoid-derivative", "--points", "10", "--pdf", "-o", str(target)]) == 0
    assert target.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [name, target.with_suffix(".pdf").name, target.with_suffix(".log").name]
    )


def test_a_proof_in_an_unknown_section_is_shown_not_dropped(capsys, tmp_path):
    proof = tmp_path / "p3.py"
    proof.write_text(
        textwrap.dedent(
            """
            import sympy as sp
            from symderiv.proofkit import Proof, Step
            x = sp.Symbol("x")
            PROOF = Proof(name="p3-square", title="Square rule", claim="d/dx x^2 = 2x", problem="P3",
                          steps=(Step(sp.Derivative(x**2, x), "start", "start"), Step(2 * x, "power rule")))
            """
        )
    )
    assert main(["latex", str(proof), "--points", "10"]) == 0
    assert "Square rule" in capsys.readouterr().out


def test_plot_path_problems_are_found_before_training(capsys, tmp_path):
    existing = tmp_path / "curves.png"
    existing.write_bytes(b"not mine")
    assert main(["train", "--epochs", "1", "--plot", str(existing)]) == 2
    assert "already exists" in capsys.readouterr().err and existing.read_bytes() == b"not mine"
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["train", "--epochs", "1", "--plot", str(blocker / "c.png")]) == 2


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_plot_into_an_unwritable_directory_fails_before_training(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["train", "--epochs", "1", "--plot", str(locked / "c.png")]) == 2
    assert "not writable" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["softmax", "--n", "١٠"], ["train", "--lr", "1_0"], ["train", "--epochs", "١"], ["latex", "--points", "1_0"],
        ["verify", "--seed", "٣"], ["chain", "--g", "x", "--h", "x", "--loss", "y", "--at", "١"],
    ],
)
def test_numbers_on_the_command_line_are_plain_ascii_decimals(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors leave through SystemExit
        code = exit_.code
    assert code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_an_idx_decompression_bomb_is_refused_before_allocating(tmp_path):
    import gzip
    import resource
    import struct

    from symderiv.errors import InputError
    from symderiv.train.idx import read_idx

    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb") as stream:
        stream.write(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2_700_000, 28, 28))
        stream.write(b"\0" * (64 * 2**20))  # 64 MiB of zeros: ~64 KB compressed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match="MiB of memory once loaded"):
        read_idx(bomb)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB


def test_python_warnings_never_reach_stderr(monkeypatch, capsys):
    import warnings

    import numpy as np

    from symderiv.commands import chain

    def noisy(args):
        np.asarray(np.array([1 + 2j]), dtype=np.float64)  # numpy's ComplexWarning
        warnings.warn("something internal", RuntimeWarning)
        return 0

    monkeypatch.setattr(chain, "run", noisy)
    assert main(["chain"]) == 0
    assert capsys.readouterr().err == ""


def test_a_composite_that_is_complex_for_every_x_is_bad_input(capsys):
    # log(-e) = 1 + iπ: was a TypeError (exit 3) in the fuzz
    argv = ["chain", "--g", "-E", "--h", "(1 / x)", "--loss", "((y / 4) * -log(y))", "--at=1.993851665116539"]
    assert main(argv) == 2
    assert "not real for any x" in capsys.readouterr().err


def test_a_finite_difference_witness_out_of_time_decides_nothing(monkeypatch, capsys):
    from symderiv.problems import chain_numbers as chain_compare
    from symderiv.budget import BudgetExceeded

    def out_of_time(*args):  # as when FD_CPU_SECONDS runs out
        raise BudgetExceeded("CPU time", chain_compare.FD_CPU_SECONDS)

    monkeypatch.setattr(chain_compare, "_finite_differences", out_of_time)
    code, payload, _ = chain_json(capsys, "--g", "sin(x)", "--h", "x**2", "--loss", "y*z", "--at", "0.5")
    assert code == 0
    assert payload["finite_difference_conclusive"] == {"first": False, "second": False}
    assert payload["verdict"]["decided_by"] == ["exact algebra (SymPy)", "engine vs SymPy (rounding model, mpmath for close calls)"]


def test_a_constant_that_is_complex_after_substitution_is_bad_input(capsys):
    # (log 0.5)^(1/3) = (-1)^(1/3)·(log 2)^(1/3): complex, with no I written (was exit 3)
    assert main(["chain", "--g", "log(0.5)", "--h", "x", "--loss", "(y)**(1/3)", "--at=0.0"]) == 2
    assert "not real for any x" in capsys.readouterr().err


def test_a_budget_expiry_is_not_swallowed_by_library_exception_handlers():
    from symderiv.budget import BudgetExceeded

    assert not issubclass(BudgetExceeded, Exception)


@pytest.mark.parametrize("argv", [["softmax", "--n", "--"], ["softmax", "--n=--"], ["chain", "--at=--"]])
def test_a_bare_double_dash_is_not_an_option_value(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2 and capsys.readouterr().err.count("\n") == 1

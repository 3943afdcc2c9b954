"""What every command prints as a verdict, as data: the record behind the same-verdicts test.

Each ``*_verdicts`` function recomputes one command's verdicts on the inputs
the test suite and the README use; :func:`record` gathers them into the JSON
committed beside this module (``verdicts.json``). Only verdicts and the kinds
of their reasons are recorded, never timings, errors or printed values, so a
change of wording or speed does not count, a change of decision does.

``python -m tests.golden.verdicts`` prints the record; ``--write`` replaces
``verdicts.json`` (after a verdict change that is wanted: say why in the
commit). ``--compare`` lists the differences from the committed record.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from functools import lru_cache
from pathlib import Path

from tests.support import EXAMPLES, WRITEUPS

RECORD = Path(__file__).with_name("verdicts.json")

#: (--g, --h, --loss, --at): the cases of tests/problems, tests/commands and the README; None = not given
CHAIN_CASES = (
    (None, None, None, None),
    ("x", None, None, None),
    (None, "x", None, None),
    ("x", "x", None, None),
    ("2*x", None, None, None),
    ("(x+1)**64", None, None, None),
    ("sin(x)", "x**2", "y*z + exp(y)", None),
    ("sin(x)", "x**2", "y*z + exp(y)", "0.5"),
    ("sin(x)", "x**2", "y*z", None),
    ("x**2", "x**3", "y**2 + y*z", None),
    ("log(1 + x**2)", "x*sin(x)", "y*z + exp(y)", None),
    ("tanh(x)", "sqrt(1 + x**2)", "log(1 + y**2 + z**2)", None),
    ("exp(x/2)", "1/(2 + x)", "(y - z)**2/2", None),
    ("cos(2*x)", "exp(-x)", "sin(y)*exp(z)", None),
    ("x**3 - x", "cos(x)", "tanh(y - z)*y", None),
    ("sigmoid(2*x)", "tanh(x/2)", "y**2*z", None),
    ("log(x)", "x", "y+z", "-1"),
    ("log(x)", "x", "y+z", "1e-5"),
    ("x", "x", "-log(y)*z", "2"),
    ("x", "x", "y/z", "0"),
    ("x", "1", "z", "1.3"),
    ("x - x", "x", "y", "1.3"),
    ("1/x", "x", "tan(y)", "0.01"),
    ("(0.3 - 4)", "(log(4) + (x)**(-2))", "(log(z) + tanh(z))", "-1.1390647670358801e-06"),
    ("sqrt(tanh(x))", "7", "sqrt(cos(y))", "100"),
    ("x**(1/3) - x - E", "tanh(x)", "log(y)", None),
    ("(x**(1/3) - x - E)**9", "tanh(x)", "log(y)", None),
    ("(((x+1)**8+1)**8+1)**8", "x", "y*z", None),
    ("-E", "(1 / x)", "((y / 4) * -log(y))", "1.993851665116539"),
)

#: chain --latex: the abstract case and the concrete ones of tests/document and the README
CHAIN_LATEX_CASES = (
    (None, None, None),
    ("x", None, None),
    ("x**2", "x**3", "y**2 + y*z"),
    ("sin(x)", "x**2", "y*z + exp(y)"),
)

SOFTMAX_SIZES = tuple(range(1, 9))

#: the sample writeup's suggested declarations (its first paragraph; tests/writeup/test_files.py)
SAMPLE_LETS = (
    r"\sigma(t) = \frac{1}{1 + \exp(-t)}", "u = w x + b", r"s = \sigma(u)",
    r"Z = \sum_{k=1}^n \exp(x_k)", r"y_i = \exp(x_i)/Z",
)


def _argv(g, h, loss, at=None) -> list[str]:
    argv = []
    for flag, value in (("--g", g), ("--h", h), ("--loss", loss)):
        if value is not None:
            argv += [flag, value]
    if at is not None:
        argv.append(f"--at={at}")
    return argv


def case_key(*parts) -> str:
    return " ".join(_argv(*parts)) or "(abstract)"


def _run_cli(argv: list[str]) -> tuple[int, str]:
    from symderiv.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue()


def _proof_kind(verdict: str) -> str:
    """chain's exact verdict without the bound it names ("skipped (…: 2000 operations)" -> "skipped")."""
    return verdict.split(" (")[0]


def chain_verdicts(cases=CHAIN_CASES) -> dict:
    found = {}
    for case in cases:
        code, out = _run_cli(["chain", *_argv(*case), "--json"])
        entry: dict = {"exit": code}
        if out.strip():
            payload = json.loads(out)
            entry["first"] = _proof_kind(payload["symbolic"]["first_verdict"])
            entry["second"] = _proof_kind(payload["symbolic"]["second_verdict"])
            entry["status"] = payload["verdict"]["status"]
            entry["decided_by"] = payload["verdict"]["decided_by"]
        found[case_key(*case)] = entry
    return found


def _steps(result) -> list:
    return [[s.index, s.relation, str(s.verdict), bool(s.exact), s.counterexample is not None] for s in result.steps]


def chain_latex_verdicts(cases=CHAIN_LATEX_CASES) -> dict:
    """The proofs ``chain --latex`` checks (:func:`symderiv.latex_document.chain_fragment`)."""
    from symderiv.algebra.expressions import parse_expression
    from symderiv.latex_document import chain_proof
    from symderiv.proofkit import check_proof

    found = {}
    for g, h, loss in cases:
        parsed = [None if text is None else parse_expression(text, variables)
                  for text, variables in ((g, ["x"]), (h, ["x"]), (loss, ["y", "z"]))]
        found[case_key(g, h, loss)] = _steps(check_proof(chain_proof(*parsed), points=64))
    return found


def softmax_verdicts(sizes=SOFTMAX_SIZES) -> dict:
    found = {}
    for n in sizes:
        code, out = _run_cli(["softmax", "--n", str(n), "--json"])
        proof = json.loads(out)["proof"]
        found[f"n={n}"] = {"exit": code, **{k: v for k, v in proof.items() if k != "seconds"}}
    return found


def softmax_latex_verdicts(sizes=SOFTMAX_SIZES) -> dict:
    """The proofs ``softmax --latex`` checks (:func:`symderiv.latex_document.softmax_fragment`),
    the symbolic-n one included."""
    import importlib

    from symderiv.proofkit import check_proof

    jacobian = importlib.import_module("symderiv.proofs.p2_softmax_jacobian").jacobian_proof
    vjp = importlib.import_module("symderiv.proofs.p2_softmax_vjp_fixed_n").vjp_proof
    symbolic = importlib.import_module("symderiv.proofs.p2_softmax_vjp_symbolic_n").PROOF
    found = {}
    for n in sizes:
        if n <= 4:
            found[f"jacobian n={n}"] = _steps(check_proof(jacobian(n), points=64))
        found[f"vjp n={n}"] = _steps(check_proof(vjp(n), points=64))
    found["symbolic n"] = _steps(check_proof(symbolic, points=64))
    return found


@lru_cache(maxsize=None)
def builtin_results(points: int = 200, seed: int = 0) -> dict:
    """Every built-in proof checked once, as ``verify`` and ``latex`` check them (by default)."""
    from symderiv.proofkit import load_proofs
    from symderiv.proofkit.checker import check_proof

    return {proof.name: check_proof(proof, points=points, seed=seed) for proof in load_proofs(None)}


@contextlib.contextmanager
def _reusing_builtin_results():
    """``verify`` and ``latex`` check the same built-in proofs with the same points and seed:
    hand them the results computed once (the proofs are what is compared, not the caching)."""
    import symderiv.proofkit as proofkit

    original = proofkit.check_proof

    def check_proof(proof, points=200, seed=0):
        cached = builtin_results(points, seed).get(proof.name) if (points, seed) == (200, 0) else None
        return cached if cached is not None else original(proof, points=points, seed=seed)

    proofkit.check_proof = check_proof
    try:
        yield
    finally:
        proofkit.check_proof = original


def verify_verdicts() -> list:
    from symderiv.verification import run_verification

    with _reusing_builtin_results():
        report = run_verification()
    return [[check.name, check.verdict, check.ok] for check in report.checks]


def latex_verdicts() -> dict:
    """Each built-in proof's step verdicts, as ``symderiv latex`` marks them (same points and seed)."""
    from symderiv.latex_document import build_document

    with _reusing_builtin_results():
        writeup = build_document(numbers=False)
    return {result.name: {"ok": result.ok, "steps": _steps(result)} for result in writeup.results}


# --- check -------------------------------------------------------------------------------------

def check_files() -> list[Path]:
    """Every writeup the tests use: tests/writeups (with real/ and real/variants/) and examples/*.md."""
    found = [p for p in sorted(WRITEUPS.rglob("*")) if p.suffix in (".md", ".tex") and p.name != "README.md"]
    return found + sorted(EXAMPLES.glob("*.md"))


def check_key(path: Path, lets: str) -> str:
    return f"{path.relative_to(WRITEUPS.parent.parent).as_posix()} [{lets}]"


@lru_cache(maxsize=None)
def check_report(path: Path, lets: str = "header"):
    """The report of ``check`` on ``path``: with the header's ``let:`` lines ("header"), without
    them ("none"), or with the sample's suggested declarations ("sample"); ``assume:`` lines always.

    Cached for the session: the corpus tests and the same-verdicts test read the same reports."""
    from symderiv.writeup.corpus import is_latex_path, read_header
    from symderiv.writeup.verdicts import check_text

    text = path.read_text(encoding="utf-8")
    latex = is_latex_path(path)
    header = read_header(text, latex)
    chosen = {"header": header.lets, "none": [], "sample": list(SAMPLE_LETS)}[lets]
    return check_text(text, latex, list(chosen), str(path), assume=header.assumes)


def header_has_lets(path: Path) -> bool:
    from symderiv.writeup.corpus import is_latex_path, read_header

    return bool(read_header(path.read_text(encoding="utf-8"), is_latex_path(path)).lets)


def check_runs(files=None) -> list[tuple[Path, str]]:
    """(file, lets) for every run: each file with its header's lets, again without them where it
    has some, and the sample writeup with its suggested declarations."""
    runs = []
    for path in check_files() if files is None else files:
        runs.append((path, "header"))
        if header_has_lets(path):
            runs.append((path, "none"))
        if path.name == "writeup-sample.md":
            runs.append((path, "sample"))
    return runs


def step_verdicts(report) -> list:
    return [[s.line, s.relation, s.verdict, s.reason_kind, s.counterexample is not None] for s in report.equations]


def check_verdicts(runs=None) -> dict:
    return {check_key(path, lets): step_verdicts(check_report(path, lets))
            for path, lets in (check_runs() if runs is None else runs)}


def record() -> dict:
    return {
        "verify": verify_verdicts(),
        "latex": latex_verdicts(),
        "chain": chain_verdicts(),
        "chain --latex": chain_latex_verdicts(),
        "softmax": softmax_verdicts(),
        "softmax --latex": softmax_latex_verdicts(),
        "check": check_verdicts(),
    }


def committed() -> dict:
    return json.loads(RECORD.read_text(encoding="utf-8"))


def differences(expected, found, where: str = "") -> list[str]:
    """Human-readable differences between two records (a key missing on one side counts)."""
    if isinstance(expected, dict) and isinstance(found, dict):
        lines = []
        for key in sorted(set(expected) | set(found), key=str):
            if key not in found:
                lines.append(f"{where}/{key}: missing (recorded {json.dumps(expected[key])[:200]})")
            elif key not in expected:
                lines.append(f"{where}/{key}: new (now {json.dumps(found[key])[:200]})")
            else:
                lines += differences(expected[key], found[key], f"{where}/{key}")
        return lines
    if expected != found:
        return [f"{where}: recorded {json.dumps(expected)}, now {json.dumps(found)}"]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"replace {RECORD.name}")
    parser.add_argument("--compare", action="store_true", help=f"list the differences from {RECORD.name}")
    args = parser.parse_args()
    found = record()
    text = json.dumps(found, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if args.write:
        RECORD.write_text(text, encoding="utf-8")
        print(f"wrote {RECORD}")
    elif args.compare:
        lines = differences(committed(), found)
        print("\n".join(lines) if lines else "same verdicts")
        return 1 if lines else 0
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

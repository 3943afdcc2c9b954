"""Fuzz every command-line option, and the reader of ``symderiv check`` (issue 17, item 4).

Random values for every option of every command (random text, other scripts'
digits, huge and tiny numbers, leading minus signs, empty strings, NUL), and
random bytes and random LaTeX as ``check`` input. Asserted: the outcome is an
exit code 0, 1 or 2, never 3; nothing but one line on stderr for exit 2; no
traceback. Time and memory stay bounded: each run is under a CPU-time budget
(lowered here so that a valid random choice of a long command stops early,
which is itself the bound's exit 2), and the CLI's own input limits.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symderiv.cli import main

FUZZ_CPU_SECONDS = 1.5
#: examples per command in CI (the long-running commands mostly stop at their
#: CPU budget, so each of their examples costs up to FUZZ_CPU_SECONDS)
EXAMPLES = {"chain": 20, "softmax": 40, "check": 40, "train": 8, "latex": 5, "verify": 5}

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "", "-", "--", "0", "-1", "1e999999999", "1e-5000", "nan", "inf", "-inf", "1_0", "١٠", "٣", "0x10",
        "9" * 400, "x" * 2000, "\x00", "a\x00b", "(", ")", "x**9**9**9", "exp(exp(exp(exp(1))))", "tan(pi/2)",
        "__import__('os')", "$(touch /tmp/pwned)", "../../etc/passwd", "/dev/zero", "\u202egnp.x", "1,2,3",  # hostile input
        "-1000,2,3", "64", "65", "2", "sigmoid", "relu", "digits", "mnist", "a%b.tex", "out.tex", "c.png",
    ]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**40), 10**40).map(str),
)

OPTIONS = {
    "chain": ["--g", "--h", "--loss", "--at", "--json", "--latex"],
    "softmax": ["--n", "--at", "--grad", "--json", "--latex"],
    "verify": ["--points", "--seed", "--proof", "--json"],
    "latex": ["-o", "--pdf", "--points", "--seed", "--force", ""],
    "check": ["--let", "--json", "--step-timeout", "--time-budget", "--latex", ""],
    "train": ["--dataset", "--data", "--hidden", "--activation", "--lr", "--batch", "--epochs", "--seed", "--check",
              "--plot", "--force", "--json"],
}
FLAGS = {"--json", "--latex", "--pdf", "--force", "--check"}


@st.composite
def command_lines(draw, command: str) -> list[str]:
    argv = [command]
    for option in draw(st.lists(st.sampled_from(OPTIONS[command]), max_size=4)):
        if option in FLAGS:
            argv.append(option)
        elif option == "":  # a positional argument
            argv.append(draw(HOSTILE))
        else:
            argv += [option, draw(HOSTILE)]
    if command == "check" and len(argv) == 1:
        argv.append(draw(HOSTILE))
    return argv


def run_bounded(monkeypatch, argv: list[str]) -> int:
    import importlib

    from symderiv.cli import COMMANDS

    module = importlib.import_module(f"symderiv.commands.{COMMANDS[argv[0]][0]}")
    monkeypatch.setattr(module, "CPU_LIMIT_S", FUZZ_CPU_SECONDS, raising=False)
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse's own errors
        return int(exit_.code)


def assert_clean(code: int, err: str, argv) -> None:
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code == 2:
        assert err.count("\n") == 1, (argv, err)


def fuzz_options(command, tmp_path, monkeypatch, capsys, examples, derandomize=True):
    monkeypatch.chdir(tmp_path)  # whatever a random -o or --plot writes lands here

    @settings(max_examples=examples, deadline=None, derandomize=derandomize,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(command_lines(command))
    def run(argv):
        code = run_bounded(monkeypatch, argv)
        assert_clean(code, capsys.readouterr().err, argv)

    run()


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_every_option_takes_hostile_values_cleanly(command, tmp_path, monkeypatch, capsys):
    fuzz_options(command, tmp_path, monkeypatch, capsys, EXAMPLES[command])


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_every_option_takes_hostile_values_cleanly_at_length(command, tmp_path, monkeypatch, capsys):
    fuzz_options(command, tmp_path, monkeypatch, capsys, 20 * EXAMPLES[command], derandomize=False)


LATEX_TOKENS = [
    "$$", "$", r"\frac{", "}", "{", r"\partial", "x", "y", "z", "=", "+", "-", "^", "_", "2", "n", "k",
    r"\sum_{k=1}^n", r"\exp(", r"\log", "(", ")", r"\sigma", r"\b{x}", r"\left(", r"\right)", r"\\", "&",
    r"\begin{align}", r"\end{align}", r"\ell", r"\sqrt{", r"\cdot", "'", r"\delta_", r"\mathrm{d}", "\n",
    r"\text{if }", r"\begin{cases}", r"\end{cases}", r"\neq", ":=", r"\,", "é", "\u202e", r"\def\a{", r"\input{",
]

RANDOM_LATEX = st.lists(st.sampled_from(LATEX_TOKENS), max_size=40).map("".join)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300), RANDOM_LATEX.map(lambda t: f"$$ {t} $$".encode()),
                 RANDOM_LATEX.map(lambda t: t.encode())))
def test_check_reads_random_bytes_and_latex_cleanly(tmp_path_factory, capsys, content):
    path = tmp_path_factory.mktemp("fuzz") / "writeup.md"
    path.write_bytes(content)
    try:
        code = main(["check", str(path), "--step-timeout", "1", "--time-budget", "5"])
    except SystemExit as exit_:
        code = int(exit_.code)
    assert_clean(code, capsys.readouterr().err, content)

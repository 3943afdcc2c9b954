"""The project's own expression parser: correct trees, and hostile input rejected fast."""

import builtins

import pytest
import sympy as sp

from symderiv.errors import InputError
from symderiv.algebra.expressions import parse_expression
from tests.support import cpu_bound

x, y, z = sp.symbols("x y z")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sin(x)*x**2", sp.sin(x) * x**2),
        ("-x**2", -(x**2)),
        ("2**-1*x", x / 2),
        ("x^2^3", x**8),  # right-associative
        ("(x+1)/(x-1)", (x + 1) / (x - 1)),
        ("sigmoid(x)", 1 / (1 + sp.exp(-x))),
        ("ln(x) + log(x)", 2 * sp.log(x)),
        ("0.5*x + 1e-3", x / 2 + sp.Rational(1, 1000)),
        ("exp(exp(x))", sp.exp(sp.exp(x))),
        ("pi*E", sp.pi * sp.E),
        ("  tanh( x )  ", sp.tanh(x)),
    ],
)
def test_parses_to_the_expected_sympy_expression(text, expected):
    assert sp.simplify(parse_expression(text, ["x"]) - expected) == 0


def test_two_variable_context():
    assert parse_expression("y*z + exp(y)", ["y", "z"]) == y * z + sp.exp(y)


def test_never_uses_eval_or_sympify(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/sympify called on user text")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(sp, "sympify", forbidden)
    assert parse_expression("x**2 + sin(x)", ["x"]) == x**2 + sp.sin(x)


HOSTILE = [
    ("x**9**9**9", "exponent is too large"),
    ("factorial(10**9)", "unknown function 'factorial'"),
    ("sin(cos(exp(exp(exp(exp(1))))))", "overflows"),
    ("exp(exp(exp(exp(x))))", "nested more than"),
    ("__import__('os').system('true')", "unexpected character"),
    ("().__class__", "unexpected character"),
    ("()", "expected a number"),
    ("y", "unknown variable 'y'"),
    ("2x", "expected an operator"),
    ("x+", "found end of input"),
    ("(((x", "expected ')'"),
    ("1/0", "division by zero"),
    ("x**1000", "exponent 1000"),
    ("(" * 100 + "x" + ")" * 100, "nesting deeper"),
    ("-" * 100 + "x", "nesting deeper"),
    ("x" * 5000, "longer than"),
    ("9" * 40, "more than 30 digits"),
    ("log(x, 2)", "exactly one argument"),
    ("sin", "needs an argument"),
    ("", "empty expression"),
    ("x\x00", "NUL"),
    ("x ; y", "unexpected character ';'"),
    ("x+" * 490 + "x", "more than 256"),
    ("1+" * 490 + "1", "more than 256"),
]


@pytest.mark.parametrize("text, message", HOSTILE)
def test_hostile_input_is_one_clear_error_and_fast(text, message):
    with cpu_bound(1.0), pytest.raises(InputError) as info:
        parse_expression(text, ["x"], "--g")
    text_of_error = str(info.value)
    assert message in text_of_error
    assert text_of_error.startswith("--g: ")
    assert "\n" not in text_of_error


def test_error_names_the_column():
    with pytest.raises(InputError, match="at column 5"):
        parse_expression("x + bogus(x)", ["x"])

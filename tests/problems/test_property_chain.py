"""Property-based, differential tests of ``chain`` (issue 17, item 4).

Random grammar-generated (g, h, f) and points (tests/problems/grammar.py), compared
with independent references: SymPy's exact derivative evaluated in 50-digit
mpmath, and JAX autodiff where JAX is installed. Asserted:

* no internal error: every input is a result or a one-line bad-input error;
* no false alarm: a "no" (engine ≠ SymPy) is true — the engine really is
  farther from the 50-digit value than the tolerance it was given;
* no false "yes": the engine really is within that tolerance of the 50-digit
  value (so the float reference it was compared with was not itself wrong);
* JAX autodiff, an independent reverse-mode engine, agrees with the engine
  to within both of their rounding scales.

Small sizes run in CI; ``-m slow`` runs the large ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.problems.grammar import jax_derivatives, mp_derivatives, points, triples
from hypothesis import HealthCheck, given, settings

from symderiv.problems.chain import derive_chain
from symderiv.problems.chain_numbers import _rounding_scales, compare_chain, fine_grained_naive_terms
from symderiv.cli import main
from symderiv.errors import InputError
from symderiv.algebra.expressions import parse_expression
from symderiv.numeric.tolerance import tolerance

SLACK = 1.0 + 1e-9


def _derive(g_text, h_text, loss_text):
    try:
        return derive_chain(
            parse_expression(g_text, ["x"], "--g"),
            parse_expression(h_text, ["x"], "--h"),
            parse_expression(loss_text, ["y", "z"], "--loss"),
        )
    except InputError:
        return None


def check_against_references(g_text, h_text, loss_text, at):
    derivation = _derive(g_text, h_text, loss_text)
    if derivation is None:
        return "refused"
    xs = np.array([at])
    try:
        comparison = compare_chain(derivation, xs)
    except InputError:
        return "outside the domain"
    reference = mp_derivatives(derivation.ell, derivation.x, at)
    if reference is None:  # float64 found values where the exact ones are not finite reals
        return "no reference"
    scales = _rounding_scales(derivation, xs, fine_grained_naive_terms(derivation))
    checks = [
        ("first", comparison.first, reference[0],
         (comparison.first_engine, scales["first_coarse"]), (comparison.first_engine_fine, scales["first_fine"])),
        ("second", comparison.second, reference[1],
         (comparison.second_engine_exact, scales["second_coarse"]),
         (comparison.second_engine_exact_fine, scales["second_fine"])),
    ]
    for name, agreement, exact, *engines in checks:
        within = []
        for value, scale in engines:
            allowed = float(tolerance(scale)[0])
            if np.isfinite(allowed):
                within.append(abs(float(value[0]) - exact) <= allowed * SLACK)
        if agreement.ok and agreement.decided:
            assert all(within), f"false yes ({name}): {g_text} | {h_text} | {loss_text} at {at!r}, exact {exact!r}"
        if not agreement.ok:
            assert not all(within), f"false alarm ({name}): {g_text} | {h_text} | {loss_text} at {at!r}"
    jax_values = jax_derivatives(derivation.ell, derivation.x, at)
    if jax_values is not None and all(np.isfinite(jax_values)):
        for jax_value, engine, scale, exact in (
            (jax_values[0], comparison.first_engine_fine, scales["first_fine"], reference[0]),
            (jax_values[1], comparison.second_engine_exact_fine, scales["second_fine"], reference[1]),
        ):
            # both are reverse mode over primitives: each within its rounding of the exact value
            allowed = float(tolerance(scale)[0])
            if np.isfinite(allowed) and abs(jax_value - exact) <= allowed:
                assert abs(float(engine[0]) - jax_value) <= 2 * allowed * SLACK
    return "compared"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples(max_leaves=3), points())
def test_chain_agrees_with_high_precision_references(triple, at):
    check_against_references(*triple, at)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(triples(max_leaves=3), points())
def test_chain_cli_never_fails_internally(capsys, triple, at):
    g_text, h_text, loss_text = triple
    code = main(["chain", "--g", g_text, "--h", h_text, "--loss", loss_text, f"--at={at!r}"])
    err = capsys.readouterr().err
    assert code in (0, 2), (triple, at, err)  # the engine is right: 1 would be a false alarm
    assert "Traceback" not in err and "internal error" not in err
    assert err.count("\n") == (1 if code == 2 else 0)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples(max_leaves=8), points())
def test_chain_agrees_with_references_on_larger_expressions(triple, at):
    check_against_references(*triple, at)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(triples(max_leaves=8))
def test_chain_without_a_point_never_fails_internally(capsys, triple):
    g_text, h_text, loss_text = triple
    code = main(["chain", "--g", g_text, "--h", h_text, "--loss", loss_text])
    err = capsys.readouterr().err
    assert code in (0, 2), (triple, err)
    assert "Traceback" not in err and "internal error" not in err


JAX_CASES = [
    ("sin(x)", "x**2", "y*z + exp(y)", 0.5),
    ("x", "(x - tan(x))", "(2.5 - z)", -1.7771549485892285e-06),
    ("1/x", "x", "tan(y)", 0.01),
    ("sigmoid(x)", "log(1 + x**2)", "tanh(y - z)*sqrt(1 + z**2)", 1.3),
]


@pytest.mark.parametrize("g, h, loss, at", JAX_CASES)
def test_engine_agrees_with_jax_autodiff(g, h, loss, at):
    pytest.importorskip("jax")
    derivation = _derive(g, h, loss)
    xs = np.array([at])
    comparison = compare_chain(derivation, xs)
    scales = _rounding_scales(derivation, xs, fine_grained_naive_terms(derivation))
    jax_first, jax_second = jax_derivatives(derivation.ell, derivation.x, at)
    reference = mp_derivatives(derivation.ell, derivation.x, at)
    for engine, jax_value, exact, scale in (
        (comparison.first_engine_fine, jax_first, reference[0], scales["first_fine"]),
        (comparison.second_engine_exact_fine, jax_second, reference[1], scales["second_fine"]),
    ):
        allowed = float(tolerance(scale)[0])
        assert abs(jax_value - exact) <= allowed  # JAX, too, is within the rounding model
        assert abs(float(engine[0]) - jax_value) <= 2 * allowed
